#include "sandbox/isolation_probe.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandbox/error.h"
#include "sandbox/id_map.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

// One slot per attempt: 0 worked, an errno when refused, kNotTried.
enum Item { kUserNs, kMountNs, kTmpfs, kOverlay, kBind, kUtsNs, kHostname, kIpcNs, kNetNs, kPidNs, kProc,
            kNnp, kMknod, kChown, kSeccomp, kChroot, kItems };
constexpr int kNotTried = -1;
constexpr const char* kItemNames[kItems] = {
    "user namespace", "mount namespace", "tmpfs mount", "overlay mount (userxattr)", "bind mount",
    "UTS namespace", "sethostname", "IPC namespace", "network namespace", "pid namespace", "fresh /proc mount",
    "no_new_privs", "mknod of a character device", "chown to another id", "seccomp filter", "chroot"};

struct Results {
  int err[kItems];
};

// Deletes the probe's scratch directory (its mounts died with the child's namespace).
struct Scratch {
  std::string path;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln-probe-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw Error("making the isolation probe's scratch directory " + tmpl + ": " + sys::ErrnoText(errno) +
                  " (set TMPDIR to a writable directory)");
    }
    path = tmpl;
    for (const char* d : {"/l", "/u", "/w", "/m", "/p"}) ::mkdir((path + d).c_str(), 0755);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

int Try(int rc) { return rc == 0 ? 0 : errno; }

void WriteResults(int fd, const Results& r) { (void)!::write(fd, &r, sizeof(r)); }

// In the namespace kiln would build in: mounts, the RUN namespaces, /proc.
// Only system calls after fork (the caller may have threads).
[[noreturn]] void NamespaceChild(const std::string& dir, bool userns, int out_fd, int go_fd) {
  Results r;
  for (int& e : r.err) e = kNotTried;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (userns) {
    r.err[kUserNs] = Try(::unshare(CLONE_NEWUSER));
    int ready = r.err[kUserNs];
    (void)!::write(out_fd, &ready, sizeof(ready));
    if (r.err[kUserNs] != 0) ::_exit(0);
    char go = 0;
    if (::read(go_fd, &go, 1) != 1 || go != 'g') ::_exit(1);
  }
  const std::string l = dir + "/l", u = dir + "/u", w = dir + "/w", m = dir + "/m", p = dir + "/p";
  const std::string overlay_opts = "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w + ",userxattr";
  r.err[kMountNs] = Try(::unshare(CLONE_NEWNS));
  if (r.err[kMountNs] == 0 && ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) r.err[kMountNs] = errno;
  if (r.err[kMountNs] == 0) {
    r.err[kTmpfs] = Try(::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755"));
    if (r.err[kTmpfs] == 0) {
      for (const std::string* d : {&l, &u, &w, &m, &p}) ::mkdir(d->c_str(), 0755);
      r.err[kOverlay] = Try(::mount("overlay", m.c_str(), "overlay", 0, overlay_opts.c_str()));
      if (r.err[kOverlay] == 0) ::umount2(m.c_str(), MNT_DETACH);
    }
    r.err[kBind] = Try(::mount(l.c_str(), m.c_str(), nullptr, MS_BIND, nullptr));
    if (r.err[kBind] == 0) ::umount2(m.c_str(), MNT_DETACH);
  }
  r.err[kUtsNs] = Try(::unshare(CLONE_NEWUTS));
  if (r.err[kUtsNs] == 0) r.err[kHostname] = Try(::sethostname("kiln-probe", 10));
  r.err[kIpcNs] = Try(::unshare(CLONE_NEWIPC));
  r.err[kNetNs] = Try(::unshare(CLONE_NEWNET));
  r.err[kPidNs] = Try(::unshare(CLONE_NEWPID));
  if (r.err[kPidNs] == 0 && r.err[kMountNs] == 0) {
    // The first child is pid 1 of the new namespace: only it can mount its /proc.
    pid_t child = ::fork();
    if (child == 0) {
      int err = Try(::mount("proc", p.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
      ::_exit(err > 255 ? 255 : err);
    }
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, 0) == child && WIFEXITED(status)) r.err[kProc] = WEXITSTATUS(status);
    else r.err[kProc] = ECHILD;
  }
  WriteResults(out_fd, r);
  ::_exit(0);
}

// With no namespace at all: what the chroot level is made of.
// The chroot level's parts (chroot, mknod, chown) only matter for root.
[[noreturn]] void PlainChild(const std::string& dir, bool root, int out_fd) {
  Results r;
  for (int& e : r.err) e = kNotTried;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string node = dir + "/p/null", file = dir + "/p/owned";
  if (root) r.err[kMknod] = Try(::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)));
  if (r.err[kMknod] == 0) {
    // The devices cgroup may allow making a node but not opening it.
    int fd = ::open(node.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) r.err[kMknod] = errno;
    else ::close(fd);
    ::unlink(node.c_str());
  }
  if (root) {
    int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    r.err[kChown] = fd < 0 ? errno : Try(::fchown(fd, 1, 1));
    if (fd >= 0) ::close(fd);
    ::unlink(file.c_str());
  }
  r.err[kNnp] = Try(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  try {
    LoadSeccompFilter();
    r.err[kSeccomp] = 0;
  } catch (const Error&) {
    r.err[kSeccomp] = errno != 0 ? errno : EPERM;
  }
  // Last: kiln's own filter is loaded now, as it is for the chroot level's RUN.
  if (root) r.err[kChroot] = Try(::chroot(dir.c_str()));
  WriteResults(out_fd, r);
  ::_exit(0);
}

bool ReadFull(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string ReadText(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Maps {
  std::vector<IdMapping> uid, gid;
};

// Runs NamespaceChild; `maps` are tried in order until one is written.
// Returns the results and the index of the maps that worked (-1: none).
Results RunNamespaceChild(const std::string& dir, bool userns, const std::vector<Maps>& maps, int* used,
                          std::vector<std::string>* map_errors) {
  int out[2], go[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) throw Error("isolation probe: pipe: " + sys::ErrnoText(errno));
  UniqueFd out_r(out[0]), out_w(out[1]), go_r(go[0]), go_w(go[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw Error("isolation probe: fork: " + sys::ErrnoText(errno));
  if (pid == 0) NamespaceChild(dir, userns, out[1], go[0]);
  out_w.Reset();
  go_r.Reset();
  Results r;
  for (int& e : r.err) e = kNotTried;
  *used = -1;
  bool ok = true;
  if (userns) {
    int ready = 0;
    ok = ReadFull(out_r.get(), &ready, sizeof(ready));
    r.err[kUserNs] = ok ? ready : ECHILD;
    if (ok && ready == 0) {
      for (size_t i = 0; i < maps.size() && *used < 0; ++i) {
        try {
          WriteIdMaps(pid, maps[i].uid, maps[i].gid);
          *used = static_cast<int>(i);
        } catch (const Error& e) {
          map_errors->push_back(e.what());
        }
      }
      if (*used >= 0) (void)!::write(go_w.get(), "g", 1);
    }
    go_w.Reset();
    ok = ok && ready == 0 && *used >= 0;
  }
  if (ok) {
    Results child;
    if (ReadFull(out_r.get(), &child, sizeof(child))) {
      int userns_err = r.err[kUserNs];
      r = child;
      r.err[kUserNs] = userns_err;
    }
  }
  if (!ok) ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return r;
}

Results RunPlainChild(const std::string& dir, bool root) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw Error("isolation probe: pipe: " + sys::ErrnoText(errno));
  UniqueFd out_r(out[0]), out_w(out[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw Error("isolation probe: fork: " + sys::ErrnoText(errno));
  if (pid == 0) PlainChild(dir, root, out[1]);
  out_w.Reset();
  Results r;
  for (int& e : r.err) e = kNotTried;
  if (!ReadFull(out_r.get(), &r, sizeof(r))) r.err[kSeccomp] = ECHILD;
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return r;
}

bool HasEffective(std::initializer_list<cap_value_t> caps) {
  cap_t c = cap_get_proc();
  if (c == nullptr) return false;
  bool all = true;
  for (cap_value_t cap : caps) {
    cap_flag_value_t v = CAP_CLEAR;
    if (cap_get_flag(c, cap, CAP_EFFECTIVE, &v) != 0 || v != CAP_SET) all = false;
  }
  cap_free(c);
  return all;
}

}  // namespace

std::string IsolationProbe::Summary() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::string s;
  auto add = [&](const char* name, bool v) { s += (s.empty() ? "" : " ") + std::string(name) + "=" + yn(v); };
  add("root", root);
  add("userns", userns);
  add("range", userns_range);
  add("root-needs-userns", root_needs_userns);
  add("mountns", mountns);
  add("tmpfs", tmpfs);
  add("bind", bind);
  add("overlay", overlay);
  add("proc", proc);
  add("utsns", utsns);
  add("sethostname", sethostname);
  add("ipcns", ipcns);
  add("pidns", pidns);
  add("netns", netns);
  add("nnp", no_new_privs);
  add("seccomp", seccomp);
  add("chroot", chroot);
  add("mknod", mknod);
  add("chown", chown);
  add("setuid", setuid);
  return s;
}

IsolationProbe ProbeIsolation() {
  IsolationProbe p;
  Scratch scratch;
  p.root = ::geteuid() == 0;
  Results ns;
  std::vector<std::string> map_errors;
  int used = -1;
  if (p.root) {
    ns = RunNamespaceChild(scratch.path, false, {}, &used, &map_errors);
    if (ns.err[kMountNs] != 0) {
      // Root without CAP_SYS_ADMIN (podman's default): a user namespace
      // gives it one, with every id of the container mapped to itself.
      Maps identity{ParseIdMap(ReadText("/proc/self/uid_map")), ParseIdMap(ReadText("/proc/self/gid_map"))};
      Results in_userns = RunNamespaceChild(scratch.path, true, {identity}, &used, &map_errors);
      p.userns = used == 0;
      p.userns_range = p.userns;
      if (p.userns && in_userns.err[kMountNs] == 0) {
        ns = in_userns;
        p.root_needs_userns = true;
      } else {
        ns.err[kUserNs] = in_userns.err[kUserNs];
      }
    }
  } else {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    std::string name;
    if (passwd* pw = ::getpwuid(uid)) name = pw->pw_name;
    auto uranges = ReadSubIdRanges("/etc/subuid", name, uid);
    auto granges = ReadSubIdRanges("/etc/subgid", name, uid);
    p.has_range = !uranges.empty() && !granges.empty();
    std::vector<Maps> maps;
    if (p.has_range) maps.push_back({BuildMappings(uid, uranges), BuildMappings(gid, granges)});
    maps.push_back({BuildMappings(uid, {}), BuildMappings(gid, {})});
    ns = RunNamespaceChild(scratch.path, true, maps, &used, &map_errors);
    p.userns = used >= 0;
    p.userns_range = p.has_range && used == 0;
  }
  Results plain = RunPlainChild(scratch.path, p.root);
  auto ok = [](const Results& r, Item i) { return r.err[i] == 0; };
  p.mountns = (p.root || p.userns) && ok(ns, kMountNs);
  p.tmpfs = p.mountns && ok(ns, kTmpfs);
  p.bind = p.mountns && ok(ns, kBind);
  p.overlay = p.mountns && ok(ns, kOverlay);
  p.utsns = ok(ns, kUtsNs);
  p.sethostname = ok(ns, kHostname);
  p.ipcns = ok(ns, kIpcNs);
  p.netns = ok(ns, kNetNs);
  p.pidns = ok(ns, kPidNs);
  p.proc = ok(ns, kProc);
  p.no_new_privs = ok(plain, kNnp);
  p.seccomp = ok(plain, kSeccomp);
  p.chroot = ok(plain, kChroot);
  p.mknod = ok(plain, kMknod);
  p.chown = ok(plain, kChown);
  p.setuid = HasEffective({CAP_SETUID, CAP_SETGID});
  for (const auto& e : map_errors) p.refused.push_back("id mapping: " + e);
  for (int i = 0; i < kItems; ++i) {
    const Results& r = (i >= kNnp) ? plain : ns;
    if (r.err[i] > 0) p.refused.push_back(std::string(kItemNames[i]) + ": " + sys::ErrnoText(r.err[i]));
  }
  return p;
}

}  // namespace kiln::sandbox
