#include "sandbox/userns.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sandbox/error.h"
#include "sandbox/id_map.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

// Set in the re-executed process: "HOST_UID:HOST_GID:FULL_RANGE(0|1)".
constexpr const char* kMarkerEnv = "_KILN_BUILD_USERNS";
// Set with it: Isolation::Serialize() of the level chosen before the re-exec.
constexpr const char* kIsolationEnv = "_KILN_ISOLATION";

NamespaceState g_state;
bool g_entered = false;
std::atomic<pid_t> g_child{0};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Covered(const std::vector<IdMapping>& map, uint32_t id) {
  for (const auto& m : map) {
    if (id >= m.inside && static_cast<uint64_t>(id) < static_cast<uint64_t>(m.inside) + m.count) return true;
  }
  return false;
}

void ReadOwnMaps(NamespaceState& state) {
  state.uid_map = ParseIdMap(ReadFile("/proc/self/uid_map"));
  state.gid_map = ParseIdMap(ReadFile("/proc/self/gid_map"));
}

void MakePrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) {
    throw Error("unsharing the build's mount namespace: " + sys::ErrnoText(errno));
  }
  // Nothing we mount may propagate back to the host's namespace.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    throw Error("making / private in the build's mount namespace: " + sys::ErrnoText(errno));
  }
}

void ForwardSignal(int sig) {
  pid_t child = g_child.load();
  if (child > 0) ::kill(child, sig);
}

void ReadFull(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("user namespace child exited before it was set up");
    p += n;
    len -= static_cast<size_t>(n);
  }
}

[[noreturn]] void ReexecInUserNamespace(char** argv, uint32_t uid, uint32_t gid, const Isolation* isolation) {
  std::string name;
  if (passwd* pw = ::getpwuid(uid)) name = pw->pw_name;
  auto uranges = ReadSubIdRanges("/etc/subuid", name, uid);
  // /etc/subgid is keyed by user name or uid too, not by gid.
  auto granges = ReadSubIdRanges("/etc/subgid", name, uid);
  bool full = !uranges.empty() && !granges.empty();
  const bool range_refused = full && isolation && !isolation->use_range;
  if (range_refused) {
    full = false;
    std::fprintf(stderr,
                 "kiln: the subordinate id range of %s could not be mapped here (newuidmap/newgidmap refused: a\n"
                 "setuid or file-capability helper gains nothing under no_new_privs or in some containers), so\n"
                 "only your own id is mapped (to root) in the build's user namespace.\n",
                 name.empty() ? std::to_string(uid).c_str() : name.c_str());
  }
  if (!full && !range_refused && uid != 0) {
    std::fprintf(stderr,
                 "kiln: no subordinate id range for %s in /etc/subuid and /etc/subgid, so only your own id is\n"
                 "mapped (to root) in the build's user namespace. Other owners (base layers, COPY --chown,\n"
                 "WORKDIR, chown in RUN) are recorded in the user.rootlesscontainers xattr and kept in the\n"
                 "image, but a RUN step cannot run as another user (USER, apt's _apt sandbox).\n"
                 "To add a range: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s\n",
                 name.empty() ? std::to_string(uid).c_str() : name.c_str(),
                 name.empty() ? std::to_string(uid).c_str() : name.c_str());
  }
  auto uid_map = BuildMappings(uid, full ? uranges : std::vector<SubIdRange>{});
  auto gid_map = BuildMappings(gid, full ? granges : std::vector<SubIdRange>{});
  if (uid == 0) {
    // Root without CAP_SYS_ADMIN (podman's default): every id of its own
    // namespace mapped to itself, so ownership is as without the namespace.
    uid_map = ParseIdMap(ReadFile("/proc/self/uid_map"));
    gid_map = ParseIdMap(ReadFile("/proc/self/gid_map"));
    full = true;
  }

  int to_parent[2], to_child[2];
  if (::pipe2(to_parent, O_CLOEXEC) != 0 || ::pipe2(to_child, O_CLOEXEC) != 0) {
    throw Error("pipe for the user namespace child: " + sys::ErrnoText(errno));
  }
  UniqueFd parent_r(to_parent[0]), parent_w(to_parent[1]), child_r(to_child[0]), child_w(to_child[1]);
  std::string marker = std::to_string(uid) + ":" + std::to_string(gid) + ":" + (full ? "1" : "0");
  const std::string isolation_text = isolation ? isolation->Serialize() : "";
  pid_t parent_pid = ::getpid();
  // fork, not sandbox::Subprocess: the child must unshare(CLONE_NEWUSER)
  // between fork and exec and wait there for its id maps.
  pid_t pid = ::fork();
  if (pid < 0) throw Error("fork for the user namespace child: " + sys::ErrnoText(errno));
  if (pid == 0) {
    // Single-threaded after fork, so unshare(CLONE_NEWUSER) is allowed here
    // even when the caller has threads. Only async-signal-safe calls follow.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent_pid) ::_exit(1);
    int err = 0;
    if (::unshare(CLONE_NEWUSER) != 0) err = errno;
    (void)!::write(to_parent[1], &err, sizeof(err));
    if (err != 0) ::_exit(1);
    char go = 0;
    if (::read(to_child[0], &go, 1) != 1 || go != 'g') ::_exit(1);
    ::setenv(kMarkerEnv, marker.c_str(), 1);
    if (!isolation_text.empty()) ::setenv(kIsolationEnv, isolation_text.c_str(), 1);
    ::execv("/proc/self/exe", argv);
    ::_exit(127);
  }
  g_child = pid;
  parent_w.Reset();
  child_r.Reset();
  auto fail = [&](const std::string& what) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw Error(what);
  };
  int err = 0;
  try {
    ReadFull(parent_r.get(), &err, sizeof(err));
  } catch (const Error& e) {
    fail(e.what());
  }
  if (err != 0) {
    std::string why = "creating the build's user namespace: " + sys::ErrnoText(err);
    if (auto reason = ProbeUserNamespaces()) why += " (" + *reason + ")";
    fail(why);
  }
  try {
    WriteIdMaps(pid, uid_map, gid_map);
  } catch (const Error& e) {
    fail(e.what());
  }
  struct sigaction sa {};
  sa.sa_handler = ForwardSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
  (void)!::write(child_w.get(), "g", 1);
  child_w.Reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("waiting for the user namespace child: " + sys::ErrnoText(errno));
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    ::_exit(128 + sig);
  }
  std::fflush(nullptr);
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

}  // namespace

bool NamespaceState::CanOwn(uint32_t uid, uint32_t gid) const {
  return Covered(uid_map, uid) && Covered(gid_map, gid);
}

std::optional<std::string> ProbeUserNamespaces() {
  auto value = [](const char* path) {
    std::string v = ReadFile(path);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
  };
  std::string reasons;
  auto add = [&](const std::string& r) { reasons += (reasons.empty() ? "" : "; ") + r; };
  if (value("/proc/sys/kernel/unprivileged_userns_clone") == "0") {
    add("the sysctl kernel.unprivileged_userns_clone=0 forbids unprivileged user namespaces "
        "(sysctl -w kernel.unprivileged_userns_clone=1)");
  }
  if (value("/proc/sys/user/max_user_namespaces") == "0") {
    add("the sysctl user.max_user_namespaces=0 forbids user namespaces (sysctl -w user.max_user_namespaces=15000)");
  }
  if (value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1") {
    add("AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 restricts unprivileged user namespaces "
        "(sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for kiln with 'userns,')");
  }
  if (!reasons.empty()) return reasons;
  return std::nullopt;
}

std::optional<Isolation> InheritedIsolation() {
  const char* text = std::getenv(kIsolationEnv);
  if (text == nullptr || std::getenv(kMarkerEnv) == nullptr) return std::nullopt;
  return Isolation::Deserialize(text);
}

NamespaceState EnterBuildNamespace(int /*argc*/, char** argv, const Isolation* isolation) {
  NamespaceState state;
  if (isolation) SetCurrentIsolation(*isolation);
  if (isolation && !isolation->userns && !isolation->mounts) {
    // chroot and none: no namespace at all; files are owned as the caller owns them.
    state.rootless = ::geteuid() != 0;
    state.full_range = !state.rootless;
    state.host_uid = ::geteuid();
    state.host_gid = ::getegid();
    ReadOwnMaps(state);
    g_state = state;
    g_entered = true;
    return state;
  }
  const char* marker = std::getenv(kMarkerEnv);
  if (marker == nullptr && isolation && isolation->userns && ::geteuid() == 0) {
    ReexecInUserNamespace(argv, 0, 0, isolation);
  }
  if (marker != nullptr) {
    unsigned uid = 0, gid = 0;
    int full = 0;
    if (std::sscanf(marker, "%u:%u:%d", &uid, &gid, &full) != 3 || ::geteuid() != 0) {
      throw Error(std::string("inconsistent build namespace marker ") + kMarkerEnv + "=" + marker);
    }
    state.rootless = uid != 0;
    state.full_range = full == 1;
    state.host_uid = uid;
    state.host_gid = gid;
  } else if (::geteuid() == 0) {
    state.rootless = false;
    state.full_range = true;
  } else {
    ReexecInUserNamespace(argv, ::geteuid(), ::getegid(), isolation);
  }
  MakePrivateMountNamespace();
  ReadOwnMaps(state);
  g_state = state;
  g_entered = true;
  return state;
}

const NamespaceState& CurrentNamespace() {
  if (!g_entered) {
    g_state.rootless = ::getenv(kMarkerEnv) != nullptr || ::geteuid() != 0;
    ReadOwnMaps(g_state);
    g_state.full_range = g_state.uid_map.size() > 1 || (!g_state.uid_map.empty() && g_state.uid_map[0].count > 1);
    g_entered = true;
  }
  return g_state;
}

}  // namespace kiln::sandbox
