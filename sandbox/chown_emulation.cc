#include "sandbox/chown_emulation.h"

#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "sandbox/owner_record.h"
#include "sandbox/error.h"
#include "sandbox/root_path.h"
#include "sandbox/id_map.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

namespace {

std::string ReadSmallFile(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

uint64_t MappedCount(const char* map) {
  uint64_t n = 0;
  for (const auto& m : ParseIdMap(ReadSmallFile(map))) n += m.count;
  return n;
}

// What the supervisor knows of the sandbox: whether init's /proc is its
// own pid namespace's (the full level) or the container's, bound in (the
// relaxed level, a masked /proc), where a notification's pid, which is in
// init's namespace, names another process or none; init's root, which is
// the step's; and whether any process has called chroot(2) (watched), until
// which every process' root is init's.
struct Supervisor {
  bool own_ns = true;
  UniqueFd root;
  bool chrooted = false;
};

bool ProcIsOwnNamespace() {
  char self[32] = {};
  const ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
  return n > 0 && std::string(self, static_cast<size_t>(n)) == std::to_string(::getpid());
}

// The traced process' /proc/PID directory (O_PATH), or an errno value. In
// the container's /proc the process is found by a pidfd, whose fdinfo
// gives its pid as that /proc numbers it.
int OpenProcDir(const Supervisor& sup, const seccomp_notif& req, UniqueFd& out) {
  auto pid = static_cast<pid_t>(req.pid);
  if (!sup.own_ns) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd.valid()) return errno;
    const std::string info = ReadSmallFile(("/proc/self/fdinfo/" + std::to_string(pidfd.get())).c_str());
    const auto at = info.find("\nPid:\t");
    if (at == std::string::npos) return ESRCH;
    pid = static_cast<pid_t>(std::strtol(info.c_str() + at + 6, nullptr, 10));
    if (pid <= 0) return ESRCH;  // not visible in this /proc
  }
  out = UniqueFd(::open(("/proc/" + std::to_string(pid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  return out.valid() ? 0 : errno;
}

// Reads or writes `len` bytes at `addr` in the caller's memory (no fd to
// open: this runs for every stat of the sandbox). Where process_vm_readv
// and process_vm_writev are refused (Docker's default seccomp profile
// allows them only with CAP_SYS_PTRACE), through /proc/PID/mem, which needs
// the same ptrace access but none of those syscalls. Returns the bytes
// moved, or -1 and errno.
std::atomic<bool> g_vm_refused{false};

ssize_t PeekPoke(const Supervisor& sup, const seccomp_notif& req, uint64_t addr, void* buf, size_t len, bool write) {
  if (!g_vm_refused.load(std::memory_order_relaxed)) {
    const auto pid = static_cast<pid_t>(req.pid);
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    const ssize_t n = write ? ::process_vm_writev(pid, &local, 1, &remote, 1, 0)
                            : ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n >= 0 || (errno != EPERM && errno != ENOSYS)) return n;
    g_vm_refused.store(true, std::memory_order_relaxed);
  }
  UniqueFd proc;
  if (int err = OpenProcDir(sup, req, proc)) {
    errno = err;
    return -1;
  }
  UniqueFd mem(::openat(proc.get(), "mem", (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC));
  if (!mem.valid()) return -1;
  return write ? ::pwrite(mem.get(), buf, len, static_cast<off_t>(addr))
               : ::pread(mem.get(), buf, len, static_cast<off_t>(addr));
}

// A NUL-terminated string at `addr` in `pid`'s memory, read page by page
// (a path may end just before an unmapped page). ENAMETOOLONG past PATH_MAX.
int ReadPath(const Supervisor& sup, const seccomp_notif& req, uint64_t addr, std::string& out) {
  out.clear();
  constexpr uint64_t kPage = 4096;
  char buf[kPage];
  while (out.size() < PATH_MAX) {
    const size_t want = kPage - (addr % kPage);
    const ssize_t n = PeekPoke(sup, req, addr, buf, want, false);
    if (n < 0 && errno != EFAULT && errno != EIO) return errno;  // not the caller's bad address: say why
    if (n <= 0) return EFAULT;
    if (const void* nul = std::memchr(buf, '\0', static_cast<size_t>(n))) {
      out.append(buf, static_cast<const char*>(nul) - buf);
      return 0;
    }
    out.append(buf, static_cast<size_t>(n));
    addr += static_cast<uint64_t>(n);
  }
  return ENAMETOOLONG;
}

struct OwnMaps {
  std::vector<IdMapping> uid, gid;
};

bool Mapped(const std::vector<IdMapping>& map, uint32_t id) {
  for (const auto& m : map)
    if (id >= m.inside && id - m.inside < m.count) return true;
  return false;
}

std::mutex g_tried_mu;
std::set<std::pair<int, uint32_t>> g_tried;  // (0 uid / 1 gid, id)

// A setuid-family call: true when every id it names is mapped (or -1).
// Unmapped ones are remembered.
bool SetIdsMapped(const seccomp_notif& req, const OwnMaps& maps) {
  const int nr = req.data.nr;
  const bool uids = nr == SCMP_SYS(setuid) || nr == SCMP_SYS(setfsuid) || nr == SCMP_SYS(setreuid) ||
                    nr == SCMP_SYS(setresuid);
  const int kind = uids ? 0 : 1;
  int count = 1;
  if (nr == SCMP_SYS(setreuid) || nr == SCMP_SYS(setregid)) count = 2;
  if (nr == SCMP_SYS(setresuid) || nr == SCMP_SYS(setresgid)) count = 3;
  bool all = true;
  for (int i = 0; i < count; ++i) {
    const auto id = static_cast<uint32_t>(req.data.args[i]);
    if (id == 0xFFFFFFFF || Mapped(kind == 0 ? maps.uid : maps.gid, id)) continue;
    all = false;
    std::lock_guard lock(g_tried_mu);
    g_tried.emplace(kind, id);
  }
  return all;
}

// setgroups: the unmapped gids of its list are remembered (without a range
// the kernel refuses setgroups altogether).
void NoteGroups(const Supervisor& sup, const seccomp_notif& req, const OwnMaps& maps) {
  const auto n = static_cast<int>(req.data.args[0]);
  if (n <= 0 || n > 65536) return;
  std::vector<uint32_t> gids(static_cast<size_t>(n));
  const size_t bytes = gids.size() * sizeof(uint32_t);
  if (PeekPoke(sup, req, req.data.args[1], gids.data(), bytes, false) != static_cast<ssize_t>(bytes)) return;
  std::lock_guard lock(g_tried_mu);
  for (uint32_t g : gids)
    if (!Mapped(maps.gid, g)) g_tried.emplace(1, g);
}

std::string ReadLinkAt(int dir, const char* name) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlinkat(dir, name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The file a call names, as the caller's kernel would find it: `path`
// from the caller's root (absolute), cwd (dirfd AT_FDCWD) or fd `dirfd`;
// an empty path is the fd or cwd itself when `empty_ok`. Paths are resolved
// with openat2 in the caller's root (RESOLVE_IN_ROOT, no magic links): a
// symlink or ".." never leads out of it, whatever the step put there. A
// relative path is joined to the directory's path in that root.
// Returns 0 or an errno value; `at` is an O_PATH fd.
int Resolve(const Supervisor& sup, const seccomp_notif& req, int dirfd, const std::string& path, bool follow,
            bool empty_ok, UniqueFd& at) {
  if (path.empty() && !empty_ok) return ENOENT;
  const uint64_t flags = O_PATH | (follow ? 0 : O_NOFOLLOW);
  if (!path.empty() && path[0] == '/' && !sup.chrooted) {
    at = OpenInRoot(sup.root.get(), path, int(flags));
    return at.valid() ? 0 : errno;
  }
  UniqueFd proc;
  if (int err = OpenProcDir(sup, req, proc)) return err;
  const std::string base = dirfd == AT_FDCWD ? "cwd" : "fd/" + std::to_string(dirfd);
  if (path.empty()) {
    // The caller's own open file or cwd: the magic link is its very object.
    at = UniqueFd(::openat(proc.get(), base.c_str(), O_PATH | O_CLOEXEC));
    return at.valid() ? 0 : errno;
  }
  UniqueFd own_root;
  std::string root_path = "/";
  if (sup.chrooted) {
    own_root = UniqueFd(::openat(proc.get(), "root", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!own_root.valid()) return errno;
    root_path = ReadLinkAt(proc.get(), "root");  // a path from init's root
    if (root_path.empty()) return ENOENT;
  }
  std::string in_root = path;
  if (path[0] != '/') {
    std::string dir = ReadLinkAt(proc.get(), base.c_str());  // a path from init's root
    if (dir.empty()) return ENOENT;
    if (dir[0] != '/') return ENOTDIR;  // a pipe, a socket
    if (root_path != "/") {
      if (dir != root_path && dir.compare(0, root_path.size() + 1, root_path + "/") != 0) return ENOENT;
      dir.erase(0, root_path.size());
    }
    in_root = dir + "/" + path;
  }
  at = OpenInRoot(own_root.valid() ? own_root.get() : sup.root.get(), in_root, int(flags));
  return at.valid() ? 0 : errno;
}

// The chown the notification asks for; returns 0 or an errno value.
int Emulate(const Supervisor& sup, int notify_fd, const seccomp_notif& req) {
  const int nr = req.data.nr;
  std::string path;
  int dirfd = AT_FDCWD;
  bool follow = true, empty_ok = false;
  uint32_t uid, gid;
  if (nr == SCMP_SYS(fchown)) {
    dirfd = static_cast<int>(req.data.args[0]);
    empty_ok = true;
    uid = static_cast<uint32_t>(req.data.args[1]);
    gid = static_cast<uint32_t>(req.data.args[2]);
  } else if (nr == SCMP_SYS(fchownat)) {
    dirfd = static_cast<int>(req.data.args[0]);
    if (int err = ReadPath(sup, req, req.data.args[1], path)) return err;
    uid = static_cast<uint32_t>(req.data.args[2]);
    gid = static_cast<uint32_t>(req.data.args[3]);
    const auto flags = static_cast<int>(req.data.args[4]);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return EINVAL;
    follow = !(flags & AT_SYMLINK_NOFOLLOW);
    empty_ok = flags & AT_EMPTY_PATH;
  } else {  // chown, lchown
    if (int err = ReadPath(sup, req, req.data.args[0], path)) return err;
    uid = static_cast<uint32_t>(req.data.args[1]);
    gid = static_cast<uint32_t>(req.data.args[2]);
    follow = nr == SCMP_SYS(chown);
  }
  UniqueFd at;
  if (int err = Resolve(sup, req, dirfd, path, follow, empty_ok, at)) return err;
  // What was read, and the process found by its pid, are the caller's only
  // while it still waits.
  if (seccomp_notify_id_valid(notify_fd, req.id) != 0) return ENOENT;
  struct stat st {};
  if (::fstat(at.get(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    // No record possible: a real chown, which fails for unmapped ids.
    if (::fchownat(at.get(), "", uid, gid, AT_EMPTY_PATH) != 0) return errno;
    return 0;
  }
  UniqueFd fd(::open(at.ProcPath().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return errno;
  return sandbox::ChownRecording(fd.get(), uid, gid);
}

bool IsStat(int nr) {
  return nr == SCMP_SYS(stat) || nr == SCMP_SYS(lstat) || nr == SCMP_SYS(fstat) || nr == SCMP_SYS(newfstatat) ||
         nr == SCMP_SYS(statx);
}

// A first look for an owner record, by the kernel's own path walk from
// init (whose root is the step's) or through the caller's /proc entries,
// one syscall: most files have none, and the kernel then answers the stat.
// Only a hint: the answer comes from the file Resolve finds. True where no
// such look is cheap (the container's /proc).
bool MayHaveRecord(const Supervisor& sup, const seccomp_notif& req, int dirfd, const std::string& path, bool follow) {
  std::string where;
  if (!path.empty() && path[0] == '/' && !sup.chrooted) {
    where = path;
  } else if (sup.own_ns) {
    const std::string proc = "/proc/" + std::to_string(req.pid) + "/";
    if (!path.empty() && path[0] == '/') where = proc + "root" + path;
    else if (dirfd == AT_FDCWD) where = proc + "cwd" + (path.empty() ? "" : "/" + path);
    else where = proc + "fd/" + std::to_string(dirfd) + (path.empty() ? "" : "/" + path);
  } else {
    return true;
  }
  char value[64];
  const ssize_t n = follow || path.empty() ? ::getxattr(where.c_str(), sandbox::kOwnerXattr, value, sizeof value)
                                           : ::lgetxattr(where.c_str(), sandbox::kOwnerXattr, value, sizeof value);
  return n >= 0 || errno == ERANGE;
}

// A stat-family call: when the file it names carries an owner record, the
// answer is made here with the recorded owner (so that a tool which reads
// an owner and chowns a new file to it, as shadow's useradd does with
// /etc/gshadow, keeps the recorded one) and true is returned; otherwise
// (no record, or anything unusual) false: the kernel answers the call.
bool AnswerStat(const Supervisor& sup, int notify_fd, const seccomp_notif& req) {
  const int nr = req.data.nr;
  std::string path;
  int dirfd = AT_FDCWD, flags = 0;
  bool empty_ok = false;
  uint64_t buf = 0;
  if (nr == SCMP_SYS(fstat)) {
    dirfd = static_cast<int>(req.data.args[0]);
    empty_ok = true;
    buf = req.data.args[1];
  } else if (nr == SCMP_SYS(stat) || nr == SCMP_SYS(lstat)) {
    if (ReadPath(sup, req, req.data.args[0], path) != 0) return false;
    if (nr == SCMP_SYS(lstat)) flags = AT_SYMLINK_NOFOLLOW;
    buf = req.data.args[1];
  } else {  // newfstatat(dirfd, path, buf, flags), statx(dirfd, path, flags, mask, buf)
    dirfd = static_cast<int>(req.data.args[0]);
    if (ReadPath(sup, req, req.data.args[1], path) != 0) return false;
    flags = static_cast<int>(nr == SCMP_SYS(statx) ? req.data.args[2] : req.data.args[3]);
    empty_ok = flags & AT_EMPTY_PATH;
    buf = nr == SCMP_SYS(statx) ? req.data.args[4] : req.data.args[2];
  }
  // Most files have no record: the kernel answers for them.
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  if (path.empty() && !empty_ok) return false;
  if (!MayHaveRecord(sup, req, dirfd, path, follow)) return false;
  UniqueFd at;
  if (Resolve(sup, req, dirfd, path, follow, empty_ok, at) != 0) return false;
  char value[64];
  const ssize_t n = ::getxattr(at.ProcPath().c_str(), sandbox::kOwnerXattr, value, sizeof value);
  if (n < 0) return false;
  struct stat st {};
  if (::fstat(at.get(), &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) return false;
  sandbox::Owner owner;
  try {
    owner = sandbox::OwnerOf(std::string(value, static_cast<size_t>(n)), st, path);
  } catch (const std::exception&) {
    return false;
  }
  std::string out;
  if (nr == SCMP_SYS(statx)) {
    struct statx sx {};
    const auto mask = static_cast<unsigned>(req.data.args[3]);
    if (::statx(at.get(), "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, &sx) != 0) return false;
    sx.stx_uid = owner.uid;
    sx.stx_gid = owner.gid;
    out.assign(reinterpret_cast<const char*>(&sx), sizeof sx);
  } else {
    st.st_uid = owner.uid;
    st.st_gid = owner.gid;
    out.assign(reinterpret_cast<const char*>(&st), sizeof st);
  }
  if (seccomp_notify_id_valid(notify_fd, req.id) != 0) return false;
  return PeekPoke(sup, req, buf, out.data(), out.size(), true) == static_cast<ssize_t>(out.size());
}

}  // namespace

bool ChownNeedsEmulation() {
  return MappedCount("/proc/self/uid_map") == 1 || MappedCount("/proc/self/gid_map") == 1;
}

const std::vector<std::string>& EmulatedChownSyscalls() {
  static const std::vector<std::string> names = {"chown",    "lchown",   "fchown",    "fchownat",  "setuid",
                                                  "setgid",   "setreuid", "setregid",  "setresuid", "setresgid",
                                                  "setfsuid", "setfsgid", "setgroups", "stat",     "lstat",
                                                  "fstat",    "newfstatat", "statx",
                                                  "chroot"};
  return names;
}

std::string UnmappedIdsTried() {
  std::lock_guard lock(g_tried_mu);
  std::string out;
  for (const auto& [kind, id] : g_tried) out += (out.empty() ? "" : ", ") + std::string(kind == 0 ? "uid " : "gid ") + std::to_string(id);
  return out;
}

void ServeChownNotifications(int notify_fd) {
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  if (seccomp_notify_alloc(&req, &resp) != 0) return;
  const OwnMaps maps{ParseIdMap(ReadSmallFile("/proc/self/uid_map")), ParseIdMap(ReadSmallFile("/proc/self/gid_map"))};
  Supervisor sup;
  sup.own_ns = ProcIsOwnNamespace();
  sup.root = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  const auto is_chown = [](int nr) {
    return nr == SCMP_SYS(chown) || nr == SCMP_SYS(lchown) || nr == SCMP_SYS(fchown) || nr == SCMP_SYS(fchownat);
  };
  for (;;) {
    pollfd p{notify_fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) break;  // no process left under the filter
    std::memset(req, 0, sizeof *req);
    if (seccomp_notify_receive(notify_fd, req) != 0) continue;  // the caller died meanwhile
    std::memset(resp, 0, sizeof *resp);
    resp->id = req->id;
    if (is_chown(req->data.nr)) {
      resp->error = -Emulate(sup, notify_fd, *req);
    } else if (IsStat(req->data.nr)) {
      if (!AnswerStat(sup, notify_fd, *req)) resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (req->data.nr == SCMP_SYS(chroot)) {
      sup.chrooted = true;  // before the call goes on: from now on each caller's root is looked up
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (req->data.nr == SCMP_SYS(setgroups)) {
      NoteGroups(sup, *req, maps);
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (SetIdsMapped(*req, maps) || req->data.nr == SCMP_SYS(setfsuid) || req->data.nr == SCMP_SYS(setfsgid)) {
      // Only watched: the kernel does the call (and checks it) itself.
      // setfs[ug]id never fail: they answer the old id, unchanged.
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
      resp->error = -EINVAL;  // what the kernel answers for an unmapped id
    }
    seccomp_notify_respond(notify_fd, resp);  // fails only if the caller died meanwhile
  }
  seccomp_notify_free(req, resp);
}

void SendFd(int sock, int fd) {
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) throw Error("passing the chown emulation's seccomp listener to init: " + sys::ErrnoText(errno));
  }
}

int ReceiveFd(int sock) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

}  // namespace kiln::sandbox
