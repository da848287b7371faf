#include "builder/process_args.h"

namespace kiln::builder {

namespace {
int g_argc = 0;
char** g_argv = nullptr;
}  // namespace

void SetProcessArgs(int argc, char** argv) {
  g_argc = argc;
  g_argv = argv;
}
int ProcessArgc() { return g_argc; }
char** ProcessArgv() { return g_argv; }

}  // namespace kiln::builder
