// Running one RUN step in a fresh sandbox: new mount, pid, ipc, uts (and
// optionally net) namespaces inside the build's user namespace, pivot_root
// into an already-mounted rootfs, fresh /proc, minimal /dev, hosts/resolv.conf/
// hostname like docker, seccomp filter, docker's default capability set,
// no_new_privs, closed fds, rlimits. A tiny init is pid 1; the command is its
// child; when the command ends every process in the namespace dies.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/binfmt.h"

namespace kiln::sandbox {

enum class Network { kHost, kNone };

struct Mount {
  enum class Type { kBind, kTmpfs } type = Type::kBind;
  std::filesystem::path source;  // host path (bind)
  std::string target;            // absolute path inside the rootfs
  bool readonly = true;
  uint64_t tmpfs_size = 0;       // bytes, 0 = kernel default
  unsigned mode = 0755;
};

struct RunSpec {
  std::filesystem::path rootfs;      // mounted merged view (sandbox::OverlayMount)
  std::vector<std::string> argv;     // argv[0] looked up in the image's PATH from env
  std::vector<std::string> env;      // exactly what the process sees, "K=V"
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;
  std::string hostname = "kiln";
  Network network = Network::kHost;
  std::vector<Mount> mounts;         // --mount=type=bind|cache|tmpfs|secret
  std::optional<std::chrono::seconds> timeout;
  std::optional<uint64_t> memory_bytes;  // cgroup v2 when delegated, else a note
  std::optional<double> cpus;
  std::string stdin_data;            // heredoc fed to the command, if any
  // docker build's --add-host, --ulimit and --shm-size.
  std::vector<std::pair<std::string, std::string>> extra_hosts;  // (name, ip) appended to /etc/hosts
  struct Rlimit {
    int resource;                    // RLIMIT_*
    uint64_t soft, hard;             // RLIM_INFINITY for unlimited
  };
  std::vector<Rlimit> rlimits;       // set on the command (never above the hard limit it inherits)
  uint64_t shm_size = 0;             // bytes for /dev/shm, 0 = 64 MiB (docker's default)
  // The step's binaries are another architecture's (sandbox::EmulationFor):
  // a handler without flag F gets its interpreter made visible inside the
  // root for the run (sandbox/binfmt_interpreter.h).
  std::optional<Emulation> emulation;
  // Called with each complete line of output (stdout and stderr merged in order).
  std::function<void(std::string_view line)> on_output;
};

struct RunResult {
  int exit_code = 0;        // valid when signal == 0
  int signal = 0;           // the command died of this signal
  bool timed_out = false;
  int timeout_seconds = 0;  // the limit that was hit, when timed_out
  std::vector<std::string> tail;  // last lines of output, for error reports
  // Ids the command tried to switch to that the namespace does not map
  // ("uid 42, gid 65534"; sandbox/chown_emulation.h), named by describe().
  std::string unmapped_ids;
  bool ok() const { return signal == 0 && exit_code == 0 && !timed_out; }
  // "exit code 2", "killed by SIGKILL", "timed out after 10s", and the
  // unmapped ids the command tried to switch to, with the missing range.
  std::string describe() const;
};

// Throws sandbox::Error when the sandbox cannot be set up (not when the
// command fails: that is a RunResult).
RunResult Run(const RunSpec& spec);

// Kills every running sandbox of this process, and makes every later Run()
// return at once as killed (SIGINT/SIGTERM handlers of the builder call this,
// then unwind: the process is shutting down). Async-signal-safe.
void KillAll();
// Undoes KillAll()'s effect on later Run()s, for a process that goes on
// after a cancellation (tests).
void ClearKillAll();

// Run() starts each sandbox as a freshly executed copy of the running binary,
// `/proc/self/exe __kiln-sandbox-init PARENT_PID` (so the caller may have
// threads: namespaces, mounts and seccomp are set up in a new single-threaded
// process). Every main() that may call Run() must call this first thing:
// it returns false for an ordinary invocation and never returns for the
// helper. The spec travels as JSON over fd 3, the status back over fd 4.
bool MaybeRunHelper(int argc, char** argv);

}  // namespace kiln::sandbox
