#include "builder/cli.h"
#include "builder/process_args.h"
#include "sandbox/run.h"

int main(int argc, char** argv) {
  // The sandbox re-executes this binary as its helper; that must win over
  // everything else (no CLI parsing, no threads).
  if (kiln::sandbox::MaybeRunHelper(argc, argv)) return 0;
  kiln::builder::SetProcessArgs(argc, argv);
  return kiln::builder::RunCli(argc, argv);
}
