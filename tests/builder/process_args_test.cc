#include "builder/process_args.h"

#include <gtest/gtest.h>

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::process_args_test {
namespace {

TEST(ProcessArgs, KeepsWhatMainGave) {
  // Re-executing kiln needs the very argv main() received, not a copy.
  char a0[] = "kiln", a1[] = "build", a2[] = ".";
  char* argv[] = {a0, a1, a2, nullptr};
  const int old_argc = ProcessArgc();
  char** const old_argv = ProcessArgv();
  SetProcessArgs(3, argv);
  EXPECT_EQ(ProcessArgc(), 3);
  EXPECT_EQ(ProcessArgv(), argv);
  EXPECT_STREQ(ProcessArgv()[1], "build");
  SetProcessArgs(old_argc, old_argv);
}

}  // namespace
}  // namespace kiln::builder::process_args_test
