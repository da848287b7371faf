#include "builder/signals.h"

#include <signal.h>

#include <atomic>
#include <string>

#include "sandbox/run.h"

namespace kiln::builder {

namespace {
std::atomic<int> g_signal{0};
struct sigaction g_old_int, g_old_term;

void OnSignal(int sig) {
  g_signal.store(sig);
  sandbox::KillAll();
}
}  // namespace

Cancelled::Cancelled(int sig)
    : std::runtime_error(std::string("build cancelled (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")"),
      sig_(sig) {}

SignalGuard::SignalGuard() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

SignalGuard::~SignalGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int PendingSignal() { return g_signal.load(); }

void ThrowIfCancelled() {
  if (int s = g_signal.load()) throw Cancelled(s);
}

}  // namespace kiln::builder
