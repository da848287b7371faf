// The sandbox test binary's main: it doubles as the sandbox helper
// (MaybeRunHelper) and runs every test inside the build namespace, as the
// builder does, so the same tests exercise root and rootless setups (the
// integration script runs this binary as kiln-ranged and kiln-single).
#include <gtest/gtest.h>

#include <cstdio>

#include "sandbox/error.h"
#include "sandbox/run.h"
#include "sandbox/userns.h"

int main(int argc, char** argv) {
  if (kiln::sandbox::MaybeRunHelper(argc, argv)) return 0;
  // Before InitGoogleTest: the re-exec needs the untouched argv.
  try {
    kiln::sandbox::EnterBuildNamespace(argc, argv);
  } catch (const kiln::sandbox::Error& e) {
    std::fprintf(stderr, "sandbox_tests: cannot enter the build namespace: %s\n", e.what());
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
