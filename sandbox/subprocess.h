// The one way kiln starts another program: argv, environment, the child's
// file descriptors, and an owned handle that kills and reaps a child still
// running when it is dropped (RAII, so no error path leaves a zombie or an
// orphan). Credential helpers, newuidmap/newgidmap, fuse-overlayfs, shellcheck
// and the RUN sandbox helper all start here.
//
// Not here, on purpose: children that must do work between fork and exec
// (userns.cc unshares CLONE_NEWUSER and waits for its id maps; init.cc and
// isolation_probe.cc run inside namespaces they create), which posix_spawn
// cannot express.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::sandbox {

// The first executable `name` in $PATH (default /usr/local/bin:/usr/bin:/bin),
// or nullopt. A name with a '/' is returned as is when it is executable.
std::optional<std::filesystem::path> FindInPath(std::string_view name);

// "exit status 3" or "killed by SIGKILL", for a waitpid(2) status.
std::string DescribeWaitStatus(int status);

// True when a waitpid(2) status is a normal exit with code 0.
inline bool ExitedZero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

struct SpawnOptions {
  // argv[0] names the program: a path, or a name looked up with FindInPath.
  std::vector<std::string> argv{};
  // The child's environment; nullopt passes kiln's own.
  std::optional<std::vector<std::string>> env{};
  // The child's descriptors as {child fd, parent fd}. 0, 1 and 2 not listed
  // are inherited; every other descriptor of the child is closed.
  std::vector<std::pair<int, int>> fds{};
  // An empty signal mask and default dispositions, for a child that manages
  // signals itself (kiln blocks some on its threads).
  bool default_signals = false;
  // PR_SET_PDEATHSIG(SIGKILL): the child does not outlive kiln (daemons).
  bool die_with_parent = false;
  // Sent by the destructor to a child still running. SIGTERM lets a helper
  // clean up (the sandbox helper removes its mounts), then it is waited for.
  int kill_signal = SIGKILL;
};

// A running child process, owned.
class Subprocess {
 public:
  // Started on return (the exec succeeded). Throws sandbox::Error naming the
  // program and why it could not start ("not found in PATH", exec errno).
  explicit Subprocess(const SpawnOptions& options);
  ~Subprocess();  // a child still running gets kill_signal and is reaped
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  // Blocks until the child exits; its waitpid(2) status (also on later calls).
  int Wait();
  // The status once the child has exited, or nullopt if it still runs after
  // `timeout` (zero: just look).
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);
  // Sends `sig` to a child still running; a no-op once it has been reaped.
  void Signal(int sig) const;

 private:
  void KillAndReap();
  pid_t pid_ = -1;
  int kill_signal_ = SIGKILL;
  std::optional<int> status_;
};

struct CapturedRun {
  int status = 0;      // waitpid(2) status
  std::string output{};  // stdout (and stderr when merged), at most 1 MiB kept
};

struct CaptureOptions {
  std::string input{};         // the child's stdin (a memfd: no pipe deadlock)
  bool merge_stderr = false;   // stderr into output; otherwise inherited
  bool discard_stderr = false;  // stderr to /dev/null
  std::optional<std::chrono::milliseconds> timeout{};  // then SIGKILL and Error
};

// Runs argv to completion and returns its status and output. Throws
// sandbox::Error when it cannot start or outlives the timeout.
CapturedRun RunCaptured(const std::vector<std::string>& argv, const CaptureOptions& options = {});

}  // namespace kiln::sandbox
