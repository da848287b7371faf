// The cancel flag. A signal sets it for the rest of the process, so each
// test that raises one runs in a child (EXPECT_EXIT) and leaves the other
// tests of this binary uncancelled.
#include "builder/signals.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::signals_test {
namespace {

TEST(Signals, NothingPendingWithoutASignal) {
  EXPECT_EQ(PendingSignal(), 0);
  EXPECT_NO_THROW(ThrowIfCancelled());
}

// Exits 0 only when `sig`, raised under a guard, is caught (the process
// survives) and turns into Cancelled carrying that signal and its name.
[[noreturn]] void RaiseUnderGuard(int sig, const char* name) {
  {
    SignalGuard guard;
    ::raise(sig);
    if (PendingSignal() != sig) std::_Exit(2);
    try {
      ThrowIfCancelled();
      std::_Exit(3);
    } catch (const Cancelled& c) {
      if (c.signal() != sig) std::_Exit(4);
      if (std::strstr(c.what(), name) == nullptr) std::_Exit(5);
    }
  }
  std::_Exit(0);
}

TEST(SignalsDeathTest, SigintCancels) {
  EXPECT_EXIT(RaiseUnderGuard(SIGINT, "SIGINT"), ::testing::ExitedWithCode(0), "");
}

TEST(SignalsDeathTest, SigtermCancels) {
  EXPECT_EXIT(RaiseUnderGuard(SIGTERM, "SIGTERM"), ::testing::ExitedWithCode(0), "");
}

TEST(SignalsDeathTest, GuardRestoresTheOldHandler) {
  // After the guard is gone, SIGTERM has its default action again.
  EXPECT_EXIT(
      {
        { SignalGuard guard; }
        ::raise(SIGTERM);
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

}  // namespace
}  // namespace kiln::builder::signals_test
