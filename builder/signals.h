// SIGINT/SIGTERM during a build: the handler kills every running sandbox
// (sandbox::KillAll is async-signal-safe) and raises a flag; the build
// notices it between steps (Cancelled()), unwinds with RAII (mounts,
// temp dirs, child processes) and exits 130/143 without leaving anything
// half-written in the store.
#pragma once

#include <stdexcept>

namespace kiln::builder {

class Cancelled : public std::runtime_error {
 public:
  explicit Cancelled(int sig);
  int signal() const { return sig_; }

 private:
  int sig_;
};

// Installs the handlers for the lifetime of the guard (restores the old ones).
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
};

// 0, or the signal that asked us to stop.
int PendingSignal();
// Throws Cancelled when a signal arrived.
void ThrowIfCancelled();

}  // namespace kiln::builder
