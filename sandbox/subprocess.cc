#include "sandbox/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

extern char** environ;

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

constexpr size_t kCaptureLimit = 1 << 20;

// NULL-terminated char* views of strings that outlive the spawn.
std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The child's fds come from copies above every target, so a dup2 onto 0..N
// cannot clobber a source that happens to be one of those numbers.
std::vector<std::pair<int, UniqueFd>> RaisedSources(const std::vector<std::pair<int, int>>& fds, int floor) {
  std::vector<std::pair<int, UniqueFd>> raised;
  for (const auto& [child, parent] : fds) {
    UniqueFd high(::fcntl(parent, F_DUPFD_CLOEXEC, floor));
    if (!high.valid()) ThrowErrno("duplicating descriptor " + std::to_string(parent) + " for a child process");
    raised.emplace_back(child, std::move(high));
  }
  return raised;
}

// fork+exec for what posix_spawn cannot set (PR_SET_PDEATHSIG). Reports an
// exec failure through a close-on-exec pipe; returns the pid or throws.
pid_t ForkExec(const std::string& program, char* const* argv, char* const* envp,
               const std::vector<std::pair<int, UniqueFd>>& fds, int first_closed, bool default_signals) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) ThrowErrno("pipe for starting " + program);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  // Above every target too, so the dup2 loop cannot overwrite it.
  err_w = UniqueFd(::fcntl(err_w.get(), F_DUPFD_CLOEXEC, first_closed));
  if (!err_w.valid()) ThrowErrno("pipe for starting " + program);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) ThrowErrno("fork for " + program);
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    int err = 0;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (default_signals) {
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
    }
    for (const auto& [child, source] : fds) {
      if (::dup2(source.get(), child) < 0) err = errno;
    }
    if (err == 0) {
      // Everything else above the targets goes, but the error pipe (CLOEXEC).
      sys::CloseRange(static_cast<unsigned>(first_closed), static_cast<unsigned>(err_w.get()) - 1, 0);
      sys::CloseRange(static_cast<unsigned>(err_w.get()) + 1, ~0U, 0);
      ::execve(program.c_str(), argv, envp);
      err = errno;
    }
    (void)!::write(err_w.get(), &err, sizeof err);
    ::_exit(127);
  }
  err_w.Reset();
  int err = 0;
  ssize_t n;
  while ((n = ::read(err_r.get(), &err, sizeof err)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw Error("starting " + program + ": " + sys::ErrnoText(err));
  }
  return pid;
}

pid_t PosixSpawn(const std::string& program, char* const* argv, char* const* envp,
            const std::vector<std::pair<int, UniqueFd>>& fds, int first_closed, bool default_signals) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (const auto& [child, source] : fds) posix_spawn_file_actions_adddup2(&actions, source.get(), child);
  posix_spawn_file_actions_addclosefrom_np(&actions, first_closed);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (default_signals) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) throw Error("starting " + program + ": " + sys::ErrnoText(err));
  return pid;
}

}  // namespace

std::optional<fs::path> FindInPath(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string_view::npos) {
    if (::access(std::string(name).c_str(), X_OK) == 0) return fs::path(name);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    if (end > start) {
      fs::path p = fs::path(dirs.substr(start, end - start)) / name;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return "killed by " + (abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(WTERMSIG(status)));
  }
  return "wait status " + std::to_string(status);
}

Subprocess::Subprocess(const SpawnOptions& options) : kill_signal_(options.kill_signal) {
  if (options.argv.empty()) throw Error("starting a child process: empty argv");
  const auto program = FindInPath(options.argv[0]);
  if (!program) throw Error("starting " + options.argv[0] + ": not found in PATH or not executable");
  std::vector<std::string> args = options.argv;
  std::vector<std::string> env_strings;
  if (options.env) env_strings = *options.env;
  std::vector<char*> argv = CStrings(args);
  std::vector<char*> envp = CStrings(env_strings);
  char* const* env = options.env ? envp.data() : environ;
  int first_closed = 3;
  for (const auto& fd : options.fds) first_closed = std::max(first_closed, fd.first + 1);
  const auto sources = RaisedSources(options.fds, first_closed);
  pid_ = options.die_with_parent
             ? ForkExec(program->string(), argv.data(), env, sources, first_closed, options.default_signals)
             : PosixSpawn(program->string(), argv.data(), env, sources, first_closed, options.default_signals);
}

Subprocess::~Subprocess() { KillAndReap(); }

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), kill_signal_(other.kill_signal_), status_(std::move(other.status_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    kill_signal_ = other.kill_signal_;
    status_ = std::move(other.status_);
  }
  return *this;
}

void Subprocess::KillAndReap() {
  if (!running()) return;
  ::kill(pid_, kill_signal_);
  Wait();
}

int Subprocess::Wait() {
  if (status_) return *status_;
  if (pid_ <= 0) throw Error("waiting for a child process that was never started");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) ThrowErrno("waiting for child process " + std::to_string(pid_));
  }
  status_ = status;
  return status;
}

std::optional<int> Subprocess::WaitFor(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) return status_ = status;
    if (r < 0 && errno != EINTR) ThrowErrno("waiting for child process " + std::to_string(pid_));
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(5));
  }
}

void Subprocess::Signal(int sig) const {
  if (running()) ::kill(pid_, sig);
}

CapturedRun RunCaptured(const std::vector<std::string>& argv, const CaptureOptions& options) {
  const std::string name = argv.empty() ? "" : argv[0];
  UniqueFd in = MemFdWith("child-stdin", options.input);
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) ThrowErrno("pipe for the output of " + name);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  SpawnOptions spawn{.argv = argv};
  spawn.fds = {{0, in.get()}, {1, out_w.get()}};
  UniqueFd null;
  if (options.merge_stderr) {
    spawn.fds.push_back({2, out_w.get()});
  } else if (options.discard_stderr) {
    null.Reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (!null.valid()) ThrowErrno("opening /dev/null");
    spawn.fds.push_back({2, null.get()});
  }
  Subprocess child(spawn);
  out_w.Reset();
  in.Reset();
  CapturedRun result;
  const auto deadline = options.timeout ? std::optional(std::chrono::steady_clock::now() + *options.timeout)
                                        : std::nullopt;
  char buf[65536];
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline -
                                                                              std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        child.Signal(SIGKILL);
        throw Error(name + " did not finish within " + std::to_string(options.timeout->count()) + " ms");
      }
      wait_ms = static_cast<int>(left.count()) + 1;
    }
    struct pollfd p = {out_r.get(), POLLIN, 0};
    int n = ::poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("poll on the output of " + name);
    if (n == 0) continue;
    ssize_t r = ::read(out_r.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (result.output.size() < kCaptureLimit) result.output.append(buf, static_cast<size_t>(r));
  }
  result.status = child.Wait();
  return result;
}

}  // namespace kiln::sandbox
