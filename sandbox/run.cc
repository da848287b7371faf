#include "sandbox/run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/init.h"
#include "sandbox/isolation_level.h"
#include "sandbox/subprocess.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

constexpr size_t kTailLines = 20;
constexpr int kKillGraceMs = 5000;
// A cancelled build (SIGINT/SIGTERM to kiln) gives a step less time, and the
// output loop looks for a cancellation at least this often: the signal may
// have been handled on another thread, leaving this one in poll().
constexpr int kCancelGraceMs = 2000;
constexpr int kCancelPollMs = 100;

// Helpers currently running, for KillAll() from a signal handler.
std::array<std::atomic<pid_t>, 64> g_helpers{};
// Bumped by KillAll(): a Run() that started before and registered its
// helper after the bump kills it itself.
std::atomic<unsigned> g_kill_generation{0};
// Set for good by KillAll(): a Run() that begins after it (the signal came
// between the builder's last check and this step) does not start at all.
std::atomic<bool> g_cancelled{false};

class HelperSlot {
 public:
  explicit HelperSlot(pid_t pid) {
    for (auto& slot : g_helpers) {
      pid_t empty = 0;
      if (slot.compare_exchange_strong(empty, pid)) {
        slot_ = &slot;
        return;
      }
    }
  }
  ~HelperSlot() {
    if (slot_) slot_->store(0);
  }
  HelperSlot(const HelperSlot&) = delete;
  HelperSlot& operator=(const HelperSlot&) = delete;

 private:
  std::atomic<pid_t>* slot_ = nullptr;
};

void NoteLimitsOnce(const RunSpec& spec) {
  if (!spec.memory_bytes && !spec.cpus) return;
  static std::once_flag once;
  std::call_once(once, [] {
    std::fprintf(stderr,
                 "kiln: note: memory/cpu limits are not applied: they need a delegated (writable) cgroup v2 "
                 "hierarchy, which this host does not give kiln\n");
  });
}

class LineSplitter {
 public:
  LineSplitter(const RunSpec& spec, RunResult& result) : spec_(spec), result_(result) {}
  void Feed(const char* data, size_t n) {
    partial_.append(data, n);
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
      Emit(std::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }
  void Flush() {
    if (!partial_.empty()) Emit(partial_);
    partial_.clear();
  }

 private:
  void Emit(std::string_view line) {
    if (spec_.on_output) spec_.on_output(line);
    result_.tail.emplace_back(line);
    if (result_.tail.size() > kTailLines) result_.tail.erase(result_.tail.begin());
  }
  const RunSpec& spec_;
  RunResult& result_;
  std::string partial_;
};

}  // namespace

std::string RunResult::describe() const {
  std::string what;
  if (timed_out) {
    what = "timed out after " + std::to_string(timeout_seconds) + "s";
  } else if (signal != 0) {
    const char* abbrev = sigabbrev_np(signal);
    what = std::string("killed by ") + (abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal));
  } else {
    what = "exit code " + std::to_string(exit_code);
  }
  if (!unmapped_ids.empty())
    what += " (the step tried to switch to " + unmapped_ids +
            ", which the build's user namespace does not map: running as another user needs a subordinate id "
            "range in /etc/subuid and /etc/subgid)";
  return what;
}

void KillAll() {
  g_cancelled.store(true);
  g_kill_generation.fetch_add(1);
  for (auto& slot : g_helpers) {
    pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, SIGTERM);
  }
}

void ClearKillAll() { g_cancelled.store(false); }

RunResult Run(const RunSpec& spec) {
  if (spec.argv.empty()) throw Error("Run: empty command");
  if (!std::filesystem::is_directory(spec.rootfs)) {
    throw Error("Run: the rootfs " + spec.rootfs.string() + " is not a directory");
  }
  for (const auto& m : spec.mounts) {
    if (m.target.empty() || m.target[0] != '/') throw Error("Run: mount target must be absolute: " + m.target);
  }
  const Isolation& iso = CurrentIsolation();
  if (iso.level == IsolationLevel::kNone) throw Error(iso.run_refusal);
  if (!iso.mounts && !spec.mounts.empty()) {
    throw Error("RUN --mount needs a mount namespace, and isolation " + iso.Name() +
                " has none (it needs root with CAP_SYS_ADMIN, or user namespaces allowed)");
  }
  if (spec.network == Network::kNone && (iso.relaxed.no_netns || iso.level == IsolationLevel::kChroot)) {
    throw Error("RUN --network=none needs a network namespace, and isolation " + iso.Name() +
                " has none here (the container refuses unshare(CLONE_NEWNET))");
  }
  NoteLimitsOnce(spec);
  const unsigned generation = g_kill_generation.load();
  if (g_cancelled.load()) {  // checked after loading the generation, so no KillAll() slips between
    RunResult killed;
    killed.signal = SIGKILL;
    return killed;
  }
  UniqueFd spec_fd = MemFdWith("kiln-spec", SpecToJson(spec));
  UniqueFd stdin_fd;
  if (spec.stdin_data.empty()) {
    stdin_fd.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!stdin_fd.valid()) throw Error("opening /dev/null: " + sys::ErrnoText(errno));
  } else {
    stdin_fd = MemFdWith("kiln-stdin", spec.stdin_data);
  }
  int out_pipe[2], status_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw Error("pipe: " + sys::ErrnoText(errno));
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) throw Error("pipe: " + sys::ErrnoText(errno));
  UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);

  // If anything below throws (on_output included), the sandbox must not
  // outlive Run(): SIGTERM makes the helper kill it and remove its stubs.
  Subprocess helper(SpawnOptions{
      .argv = {"/proc/self/exe", kHelperArg, std::to_string(::getpid())},
      .fds = {{0, stdin_fd.get()}, {1, out_w.get()}, {2, out_w.get()}, {3, spec_fd.get()}, {4, status_w.get()}},
      .default_signals = true,
      .kill_signal = SIGTERM});
  HelperSlot slot(helper.pid());
  if (g_kill_generation.load() != generation) helper.Signal(SIGTERM);
  out_w.Reset();
  status_w.Reset();
  spec_fd.Reset();
  stdin_fd.Reset();

  RunResult result;
  LineSplitter lines(spec, result);
  std::string status_text;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (spec.timeout) deadline = start + *spec.timeout;
  std::optional<Clock::time_point> kill_deadline;
  bool out_open = true, status_open = true;
  bool cancel_seen = false;
  char buf[65536];
  while (out_open || status_open) {
    int wait_ms = -1;
    auto now = Clock::now();
    if (!cancel_seen && g_kill_generation.load() != generation) {
      // KillAll() sent SIGTERM; if the helper does not end the step in time,
      // SIGKILL below ends it (a stuck helper must not hold the build).
      cancel_seen = true;
      helper.Signal(SIGTERM);
      const auto cancel_deadline = now + std::chrono::milliseconds(kCancelGraceMs);
      if (!kill_deadline || cancel_deadline < *kill_deadline) kill_deadline = cancel_deadline;
    }
    if (deadline && !result.timed_out) {
      if (now >= *deadline) {
        result.timed_out = true;
        result.timeout_seconds = static_cast<int>(spec.timeout->count());
        helper.Signal(SIGTERM);
        kill_deadline = now + std::chrono::milliseconds(kKillGraceMs);
      } else {
        wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now).count()) + 1;
      }
    }
    if (kill_deadline) {
      if (now >= *kill_deadline) {
        helper.Signal(SIGKILL);  // the helper is stuck: its init dies with it (PDEATHSIG)
        kill_deadline.reset();
      } else {
        wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*kill_deadline - now).count()) + 1;
      }
    }
    if (!cancel_seen) wait_ms = wait_ms < 0 ? kCancelPollMs : std::min(wait_ms, kCancelPollMs);
    struct pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {status_open ? status_r.get() : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("poll on the sandbox output: " + sys::ErrnoText(errno));
    }
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(out_r.get(), buf, sizeof(buf));
      if (r > 0) lines.Feed(buf, static_cast<size_t>(r));
      else if (r == 0 || errno != EINTR) out_open = false;
    }
    if (status_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(status_r.get(), buf, sizeof(buf));
      if (r > 0) status_text.append(buf, static_cast<size_t>(r));
      else if (r == 0 || errno != EINTR) status_open = false;
    }
  }
  lines.Flush();
  const int helper_status = helper.Wait();
  nlohmann::json status;
  try {
    status = nlohmann::json::parse(status_text);
  } catch (const nlohmann::json::exception&) {
    if (result.timed_out || g_kill_generation.load() != generation) {
      result.signal = SIGKILL;  // killed before it could report
      return result;
    }
    throw Error("the sandbox helper died without a report (" + DescribeWaitStatus(helper_status) +
                ", output: " + (result.tail.empty() ? "" : result.tail.back()) + ")");
  }
  if (status.contains("error")) throw Error("setting up the RUN sandbox: " + status["error"].get<std::string>());
  if (status.contains("status")) {
    int w = status["status"].get<int>();
    if (WIFEXITED(w)) result.exit_code = WEXITSTATUS(w);
    if (WIFSIGNALED(w)) result.signal = WTERMSIG(w);
    if (status.contains("unmapped")) result.unmapped_ids = status["unmapped"].get<std::string>();
  } else {
    result.signal = SIGKILL;
  }
  return result;
}

}  // namespace kiln::sandbox
