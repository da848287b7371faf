#include "sandbox/init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <thread>
#include <nlohmann/json.hpp>
#include <sys/sysmacros.h>

#include "sandbox/binfmt_interpreter.h"
#include "sandbox/capabilities.h"
#include "sandbox/chroot_step_files.h"
#include "sandbox/chown_emulation.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/isolation_level.h"
#include "sandbox/rootfs_setup.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

constexpr int kSpecFd = 3;
constexpr int kStatusFd = 4;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

volatile sig_atomic_t g_target = 0;  // pid that signals go to (helper: init; init: command)
volatile sig_atomic_t g_killed = 0;
// Without a pid namespace of its own, init leads a process group that the
// command and its children share: killing it kills them too.
volatile sig_atomic_t g_kill_group = 0;

void KillTarget(int) {
  g_killed = 1;
  if (g_target > 0) {
    if (g_kill_group) ::kill(-static_cast<pid_t>(g_target), SIGKILL);
    ::kill(static_cast<pid_t>(g_target), SIGKILL);
  }
}

void ForwardToTarget(int sig) {
  if (g_target > 0) ::kill(static_cast<pid_t>(g_target), sig);
}

void SetHandlers(void (*handler)(int), std::initializer_list<int> sigs) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  for (int sig : sigs) ::sigaction(sig, &sa, nullptr);
}

void BlockAll(sigset_t* old) {
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, old);
}

void ResetSignals(const sigset_t& mask) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
}

void LoopbackUp() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) throw Error("socket for bringing up lo: " + sys::ErrnoText(errno));
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throw Error("SIOCGIFFLAGS lo: " + sys::ErrnoText(errno));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throw Error("bringing up lo: " + sys::ErrnoText(errno));
}

void MkdirAll(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos + 1);
    cur = path.substr(0, slash);
    pos = slash == std::string::npos ? path.size() : slash;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      throw Error("creating the working directory " + path + ": " + sys::ErrnoText(errno));
    }
  }
}

void SetLimit(int resource, rlim_t want) {
  struct rlimit rl {};
  if (::getrlimit(resource, &rl) != 0) return;
  rlim_t value = want == RLIM_INFINITY ? rl.rlim_max : std::min(want, rl.rlim_max);
  rl.rlim_cur = rl.rlim_max = value;
  if (::setrlimit(resource, &rl) != 0) throw Error("setrlimit: " + sys::ErrnoText(errno));
}

bool SetgroupsAllowed() {
  UniqueFd fd(::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return true;
  return ReadAll(fd.get()).rfind("deny", 0) != 0;
}

// Whether RUN gets a pid namespace of its own (then its init is pid 1).
bool OwnPidNamespace(const Isolation& iso) {
  return iso.level != IsolationLevel::kChroot && !iso.relaxed.no_pidns;
}

// The chroot level's RUN may not chroot(2) again: with CAP_SYS_CHROOT, a
// second chroot and "cd .." leave the step's root.
std::vector<cap_value_t> CapabilitiesToDrop(const Isolation& iso) {
  if (iso.level == IsolationLevel::kChroot) return {CAP_SYS_CHROOT};
  return {};
}

// Init without a pid namespace is not pid 1: when the command ends, the
// processes it left are killed here: those of the step's session (init
// leads it) and init's children (it is their subreaper, so an orphan becomes
// its child). `proc` is the container's /proc, opened before any chroot.
void KillLeftovers(pid_t cmd, int proc) {
  ::kill(-cmd, SIGKILL);
  for (;;) {
    if (proc >= 0) {
      int fd = ::openat(proc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      DIR* dir = fd >= 0 ? ::fdopendir(fd) : nullptr;
      const pid_t self = ::getpid();
      while (dir) {
        dirent* e = ::readdir(dir);
        if (e == nullptr) break;
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        std::string stat_path = std::string(e->d_name) + "/stat";
        UniqueFd sf(::openat(proc, stat_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!sf.valid()) continue;
        char buf[512] = {};
        ssize_t n = ::read(sf.get(), buf, sizeof(buf) - 1);
        if (n <= 0) continue;
        const char* paren = std::strrchr(buf, ')');
        int ppid = 0, pgrp = 0, session = 0;
        char state = 0;
        // The step's session (init leads it) and init's adopted children.
        if (paren && std::sscanf(paren + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) == 4 &&
            pid != self && (ppid == self || session == self)) {
          ::kill(static_cast<pid_t>(pid), SIGKILL);
        }
      }
      if (dir) ::closedir(dir);
    }
    int status = 0;
    pid_t got = ::waitpid(-1, &status, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;  // ECHILD: none left
  }
}

// The command's process: drops everything and execs. Never returns.
// `chown_sock` >= 0: the chown family is emulated; the filter's listener
// goes to init through it.
[[noreturn]] void RunCommand(const RunSpec& spec, const Isolation& iso, int err_fd, int chown_sock) {
  try {
    // Without a pid namespace, init made the session (and the group that dies with the step).
    if (OwnPidNamespace(iso)) ::setsid();
    if (sys::CloseRange(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) throw Error("close_range: " + sys::ErrnoText(errno));
    SetLimit(RLIMIT_NOFILE, 1048576);
    SetLimit(RLIMIT_NPROC, RLIM_INFINITY);
    for (const auto& r : spec.rlimits) {
      // --ulimit: an unprivileged namespace cannot raise a hard limit.
      struct rlimit rl {rlim_t(r.soft), rlim_t(r.hard)};
      if (::setrlimit(r.resource, &rl) != 0)
        throw Error("--ulimit (resource " + std::to_string(r.resource) + ", soft " + std::to_string(r.soft) +
                    ", hard " + std::to_string(r.hard) + "): " + sys::ErrnoText(errno) +
                    (errno == EPERM ? " (above the hard limit kiln runs with; raise it in the caller's shell, "
                                      "e.g. ulimit -H)"
                                    : ""));
    }
    if (::chdir(spec.cwd.c_str()) != 0) throw Error("chdir " + spec.cwd + ": " + sys::ErrnoText(errno));
    RestrictBoundingSet(CapabilitiesToDrop(iso));
    std::vector<gid_t> groups(spec.groups.begin(), spec.groups.end());
    if (SetgroupsAllowed()) {
      if (::setgroups(groups.size(), groups.data()) != 0) {
        throw Error("setting supplementary groups: " + sys::ErrnoText(errno));
      }
    } else if (std::any_of(groups.begin(), groups.end(), [&](gid_t g) { return g != spec.gid; })) {
      // Only the primary group alone may go unset: it is the effective gid anyway.
      throw Error("cannot set supplementary groups: the build's user namespace denies setgroups "
                  "(no subordinate gid range in /etc/subgid)");
    }
    if (::setresgid(spec.gid, spec.gid, spec.gid) != 0) {
      throw Error("setting gid " + std::to_string(spec.gid) + ": " + sys::ErrnoText(errno) +
                  (errno == EINVAL ? " (the gid is not mapped in the build's user namespace: add a "
                                     "subordinate gid range in /etc/subgid)"
                                   : ""));
    }
    if (::setresuid(spec.uid, spec.uid, spec.uid) != 0) {
      throw Error("setting uid " + std::to_string(spec.uid) + ": " + sys::ErrnoText(errno) +
                  (errno == EINVAL ? " (the uid is not mapped in the build's user namespace: add a "
                                     "subordinate uid range in /etc/subuid)"
                                   : ""));
    }
    ApplyCapabilities(spec.uid == 0, CapabilitiesToDrop(iso));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw Error("no_new_privs: " + sys::ErrnoText(errno));
    const int listener = LoadSeccompFilter(chown_sock >= 0);
    if (listener >= 0) {
      SendFd(chown_sock, listener);
      ::close(listener);
      ::close(chown_sock);
    }
  } catch (const std::exception& e) {
    TryWriteAll(err_fd, e.what());
    ::_exit(125);
  }
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = spec.env;
  std::vector<char*> envp;
  std::string path = kDefaultPath;
  for (auto& e : env) {
    envp.push_back(e.data());
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  envp.push_back(nullptr);
  const std::string& name = spec.argv[0];
  int err = ENOENT;
  if (name.find('/') != std::string::npos) {
    ::execve(name.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    size_t pos = 0;
    bool eacces = false;
    while (pos <= path.size()) {
      size_t colon = path.find(':', pos);
      std::string dir = path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      pos = colon == std::string::npos ? path.size() + 1 : colon + 1;
      std::string full = (dir.empty() ? "." : dir) + "/" + name;
      ::execve(full.c_str(), argv.data(), envp.data());
      if (errno == EACCES) eacces = true;
      else if (errno != ENOENT && errno != ENOTDIR) { err = errno; break; }
    }
    if (eacces && err == ENOENT) err = EACCES;
  }
  std::string msg = "kiln: exec: \"" + name + "\": " +
                    (err == ENOENT && name.find('/') == std::string::npos ? std::string("executable file not found in $PATH")
                                                                          : sys::ErrnoText(err)) + "\n";
  TryWriteAll(2, msg);
  ::_exit(err == ENOENT ? 127 : 126);
}

// pid 1 of the sandbox (with a pid namespace; else the leader of the
// step's session and the subreaper of its processes). Never returns.
[[noreturn]] void InitMain(const RunSpec& spec, const Isolation& iso, const std::string& resolv_conf, int status_fd,
                           const sigset_t& orig_mask) {
  auto fail = [&](const std::string& msg) {
    TryWriteAll(status_fd, "E" + msg);
    ::_exit(1);
  };
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Not dumpable: the command cannot reach init's /proc/1/{exe,fd,mem}
  // (init is a copy of the kiln binary with full capabilities).
  ::prctl(PR_SET_DUMPABLE, 0);
  ResetSignals(orig_mask);
  BlockAll(nullptr);
  int err_pipe[2];
  int chown_sock[2] = {-1, -1};
  pid_t cmd = -1;
  const bool own_pidns = OwnPidNamespace(iso);
  int proc_fd = -1;
  try {
    if (!own_pidns) {
      ::setsid();
      if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) throw Error("PR_SET_CHILD_SUBREAPER: " + sys::ErrnoText(errno));
      proc_fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (iso.level == IsolationLevel::kChroot) {
      // No mount namespace to be had: the step's root is a plain directory.
      if (::chroot(spec.rootfs.c_str()) != 0) {
        throw Error("chroot into " + spec.rootfs.string() + ": " + sys::ErrnoText(errno));
      }
      if (::chdir("/") != 0) throw Error("chdir / in the step's root: " + sys::ErrnoText(errno));
    } else {
      // A mount namespace of init's own: its mounts and pivot_root do not
      // touch the helper, and vanish when the sandbox's last process exits.
      if (::unshare(CLONE_NEWNS) != 0) throw Error("unsharing the RUN mount namespace: " + sys::ErrnoText(errno));
      if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        throw Error("making the RUN mount namespace private: " + sys::ErrnoText(errno));
      }
      SetupRootfs(spec, resolv_conf, iso.relaxed.proc_bind);
    }
    MkdirAll(spec.cwd);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw Error("pipe: " + sys::ErrnoText(errno));
    if (ChownNeedsEmulation() && ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chown_sock) != 0)
      throw Error("socketpair for the chown emulation: " + sys::ErrnoText(errno));
    cmd = ::fork();
    if (cmd < 0) throw Error("fork of the command: " + sys::ErrnoText(errno));
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (cmd == 0) {
    ::close(err_pipe[0]);
    ::close(status_fd);
    ResetSignals(orig_mask);
    if (proc_fd >= 0) ::close(proc_fd);
    if (chown_sock[0] >= 0) ::close(chown_sock[0]);
    RunCommand(spec, iso, err_pipe[1], chown_sock[1]);
  }
  ::close(err_pipe[1]);
  if (chown_sock[0] >= 0) {
    // Signals stay blocked on this thread (init's are still all blocked
    // here); it dies with init.
    ::close(chown_sock[1]);
    std::thread([sock = chown_sock[0]] {
      const int listener = ReceiveFd(sock);
      ::close(sock);
      if (listener >= 0) ServeChownNotifications(listener);
    }).detach();
  }
  g_target = cmd;
  // pid 1 gets only the signals it handles: pass them on to the command.
  SetHandlers(ForwardToTarget, {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH});
  ::sigprocmask(SIG_SETMASK, &orig_mask, nullptr);
  std::string setup_error = ReadAll(err_pipe[0]);
  ::close(err_pipe[0]);
  if (!setup_error.empty()) {
    ::kill(cmd, SIGKILL);
    fail(setup_error);
  }
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) fail("waiting for the command: " + sys::ErrnoText(errno));
    if (pid == cmd) {
      const std::string tried = chown_sock[0] >= 0 ? UnmappedIdsTried() : "";
      std::string report = "S" + std::to_string(status) + (tried.empty() ? "" : "\n" + tried);
      if (!own_pidns) {
        // Leftovers die before the step counts as done; the status is sent after.
        KillLeftovers(cmd, proc_fd);
        TryWriteAll(status_fd, report);
        ::_exit(0);
      }
      TryWriteAll(status_fd, report);
      // Exiting as pid 1 kills every other process in the namespace.
      ::_exit(0);
    }
  }
}

}  // namespace

int HelperMain(int argc, char** argv) {
  auto report = [](const nlohmann::json& j) { TryWriteAll(kStatusFd, j.dump()); };
  try {
    if (argc < 3) throw Error("usage: __kiln-sandbox-init PARENT_PID");
    // SIGTERM when the caller dies (even by kill -9): we then kill the
    // sandbox and still remove the mount stubs.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != static_cast<pid_t>(std::atoll(argv[2]))) return 1;
    const std::string spec_text = ReadAll(kSpecFd);
    RunSpec spec = SpecFromJson(spec_text);
    ::close(kSpecFd);
    Isolation iso;
    try {
      iso = Isolation::Deserialize(nlohmann::json::parse(spec_text).at("isolation").get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("malformed sandbox spec: ") + e.what());
    }
    const bool chroot = iso.level == IsolationLevel::kChroot;
    g_kill_group = OwnPidNamespace(iso) ? 0 : 1;
    if (spec.argv.empty()) throw Error("empty command");
    std::string resolv_conf = "nameserver 127.0.0.1\n";
    if (spec.network == Network::kHost) {
      UniqueFd fd(::open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC));
      resolv_conf = fd.valid() ? ReadAll(fd.get()) : "";
    }
    sigset_t orig;
    BlockAll(&orig);
    SetHandlers(KillTarget, {SIGTERM, SIGINT, SIGHUP});
    MountStubs stubs(spec.rootfs);
    std::optional<DeviceNodes> nodes;
    std::optional<EtcFiles> etc_files;
    std::optional<InterpreterCopy> interpreter;
    if (chroot) {
      etc_files.emplace(spec.rootfs, resolv_conf);
      // Nothing can be mounted: /dev gets nodes of its own, /proc and /sys stay as the image has them.
      if (iso.mknod) stubs.Ensure("dev", true, false);
      nodes.emplace(spec.rootfs, iso.mknod);
      if (NeedsInterpreterInRoot(spec)) interpreter.emplace(spec.rootfs, *spec.emulation, stubs);
    } else {
      if (NeedsInterpreterInRoot(spec)) spec.mounts.push_back(InterpreterBind(*spec.emulation));
      for (const auto& s : StubsFor(spec)) stubs.Ensure(s.rel, s.is_dir, s.optional);
      int flags = 0;
      if (OwnPidNamespace(iso)) flags |= CLONE_NEWPID;
      if (!iso.relaxed.no_ipcns) flags |= CLONE_NEWIPC;
      if (!iso.relaxed.keep_hostname) flags |= CLONE_NEWUTS;
      if (spec.network == Network::kNone) flags |= CLONE_NEWNET;
      if (flags != 0 && ::unshare(flags) != 0) throw Error("unsharing the RUN namespaces: " + sys::ErrnoText(errno));
      if (!iso.relaxed.keep_hostname && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
        throw Error("sethostname: " + sys::ErrnoText(errno) +
                    " (isolation relaxed keeps the host name where the container refuses this)");
      }
      if (spec.network == Network::kNone) LoopbackUp();
    }
    int init_pipe[2];
    if (::pipe2(init_pipe, O_CLOEXEC) != 0) throw Error("pipe: " + sys::ErrnoText(errno));
    pid_t init = ::fork();
    if (init < 0) throw Error("fork of the sandbox init: " + sys::ErrnoText(errno));
    if (init == 0) {
      ::close(init_pipe[0]);
      ::close(kStatusFd);
      InitMain(spec, iso, resolv_conf, init_pipe[1], orig);
    }
    ::close(init_pipe[1]);
    g_target = init;
    ::sigprocmask(SIG_SETMASK, &orig, nullptr);
    if (g_killed) ::kill(init, SIGKILL);  // a signal that came before g_target was set
    int status = 0;
    while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    std::string msg = ReadAll(init_pipe[0]);
    ::close(init_pipe[0]);
    if (nodes) nodes->Remove();
    if (etc_files) etc_files->Restore();
    if (interpreter) interpreter->Remove();
    stubs.RemoveAll();
    if (!msg.empty() && msg[0] == 'E') {
      report({{"error", msg.substr(1)}});
    } else if (!msg.empty() && msg[0] == 'S') {
      // "S<wait status>[\n<unmapped ids the command tried>]"
      nlohmann::json j = {{"status", std::atoi(msg.c_str() + 1)}};
      if (auto nl = msg.find('\n'); nl != std::string::npos) j["unmapped"] = msg.substr(nl + 1);
      report(j);
    } else if (g_killed) {
      report({{"killed", true}});
    } else {
      report({{"error", "the sandbox init died (wait status " + std::to_string(status) + ")"}});
    }
  } catch (const std::exception& e) {
    report({{"error", e.what()}});
  }
  return 0;
}

bool MaybeRunHelper(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kHelperArg) != 0) return false;
  ::_exit(HelperMain(argc, argv));
}

}  // namespace kiln::sandbox
