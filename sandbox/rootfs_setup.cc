#include "sandbox/rootfs_setup.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sandbox/error.h"
#include "sandbox/root_path.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {
namespace {

std::string Rel(const std::string& abs) {
  size_t i = abs.find_first_not_of('/');
  return i == std::string::npos ? "." : abs.substr(i);
}

UniqueFd OpenIn(int root, const std::string& rel, int flags, const std::string& why) {
  UniqueFd fd = OpenInRoot(root, rel, flags);
  if (!fd.valid()) throw Error("opening /" + rel + " in the rootfs for " + why + ": " + sys::ErrnoText(errno));
  return fd;
}

void DoMount(const std::string& source, const std::string& target, const char* type, unsigned long flags,
             const char* data, const std::string& what) {
  if (::mount(source.c_str(), target.c_str(), type, flags, data) != 0) {
    throw Error("mounting " + what + ": " + sys::ErrnoText(errno));
  }
}

void MakeReadOnly(const std::string& path, const std::string& what) {
  if (sys::MountSetAttrRecursive(path.c_str(), MOUNT_ATTR_RDONLY) != 0) {
    throw Error("making " + what + " read-only: " + sys::ErrnoText(errno));
  }
}

void WriteFileAt(int dir, const std::string& name, const std::string& text) {
  UniqueFd fd(::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw Error("writing /dev/" + name + " in the sandbox: " + sys::ErrnoText(errno));
  }
}

void SetupDev(int root, uint64_t shm_size) {
  {
    UniqueFd stub = OpenIn(root, "dev", O_PATH | O_DIRECTORY, "/dev");
    DoMount("tmpfs", stub.ProcPath(), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
            "the /dev tmpfs");
  }
  UniqueFd dev = OpenIn(root, "dev", O_PATH | O_DIRECTORY, "/dev");
  const std::string dev_path = dev.ProcPath();
  // mknod is not allowed in a user namespace: bind the host's nodes instead.
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    UniqueFd f(::openat(dev.get(), node, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666));
    if (!f.valid()) throw Error(std::string("creating /dev/") + node + ": " + sys::ErrnoText(errno));
    DoMount(std::string("/dev/") + node, dev_path + "/" + node, nullptr, MS_BIND, nullptr,
            std::string("/dev/") + node);
  }
  if (::mkdirat(dev.get(), "pts", 0755) != 0) throw Error("mkdir /dev/pts: " + sys::ErrnoText(errno));
  // gid=5 (tty) is not mapped without a subordinate range: then without it.
  if (::mount("devpts", (dev_path + "/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0) {
    DoMount("devpts", dev_path + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
            "/dev/pts");
  }
  if (::mkdirat(dev.get(), "shm", 01777) != 0) throw Error("mkdir /dev/shm: " + sys::ErrnoText(errno));
  const std::string shm_opts = "mode=1777,size=" + (shm_size ? std::to_string(shm_size) : std::string("65536k"));
  DoMount("shm", dev_path + "/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts.c_str(), "/dev/shm");
  const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                       {"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
  for (const auto& [to, name] : links) {
    if (::symlinkat(to, dev.get(), name) != 0) {
      throw Error(std::string("symlink /dev/") + name + ": " + sys::ErrnoText(errno));
    }
  }
}

void SetupSys(int root) {
  UniqueFd stub = OpenIn(root, "sys", O_PATH | O_DIRECTORY, "/sys");
  const std::string path = stub.ProcPath();
  const unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (::mount("sysfs", path.c_str(), "sysfs", flags, nullptr) == 0) return;
  // A fresh sysfs needs a network namespace of our own (Network::kNone);
  // with the host network, a read-only view of the host's, like rootless
  // podman.
  DoMount("/sys", path, nullptr, MS_BIND | MS_REC, nullptr, "/sys (bind of the host's)");
  UniqueFd mounted = OpenIn(root, "sys", O_PATH | O_DIRECTORY, "/sys");
  MakeReadOnly(mounted.ProcPath(), "/sys");
}

void SetupEtcFiles(int root, const RunSpec& spec, const std::string& resolv_conf) {
  UniqueFd dev = OpenIn(root, "dev", O_PATH | O_DIRECTORY, "/etc files");
  const char* kDir = ".kiln-etc";
  if (::mkdirat(dev.get(), kDir, 0755) != 0) throw Error("mkdir /dev/.kiln-etc: " + sys::ErrnoText(errno));
  UniqueFd dir(::openat(dev.get(), kDir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string hosts = "127.0.0.1\tlocalhost " + spec.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& [name, ip] : spec.extra_hosts) hosts += ip + "\t" + name + "\n";
  const std::pair<std::string, std::string> files[] = {
      {"hosts", hosts},
      {"resolv.conf", resolv_conf},
      {"hostname", spec.hostname + "\n"}};
  for (const auto& [name, text] : files) {
    WriteFileAt(dir.get(), name, text);
    if (UniqueFd t = OpenInRoot(root, "etc/" + name, O_PATH); t.valid()) {
      DoMount(dir.ProcPath() + "/" + name, t.ProcPath(), nullptr, MS_BIND, nullptr, "/etc/" + name);
    }
    // The bind mount keeps the file alive; unlinking it keeps /dev clean.
    ::unlinkat(dir.get(), name.c_str(), 0);
  }
  ::unlinkat(dev.get(), kDir, AT_REMOVEDIR);
}

void SetupSpecMounts(int root, const RunSpec& spec) {
  for (const auto& m : spec.mounts) {
    const std::string rel = Rel(m.target);
    UniqueFd t = OpenIn(root, rel, O_PATH, "a mount");
    if (m.type == Mount::Type::kBind) {
      DoMount(m.source.string(), t.ProcPath(), nullptr, MS_BIND | MS_REC, nullptr,
              m.source.string() + " on " + m.target);
      if (m.readonly) {
        UniqueFd mounted = OpenIn(root, rel, O_PATH, "a mount");
        MakeReadOnly(mounted.ProcPath(), m.target);
      }
    } else {
      char data[64];
      std::snprintf(data, sizeof(data), "mode=%o", m.mode);
      std::string opts = data;
      if (m.tmpfs_size > 0) opts += ",size=" + std::to_string(m.tmpfs_size);
      DoMount("tmpfs", t.ProcPath(), "tmpfs", MS_NOSUID | MS_NODEV | (m.readonly ? MS_RDONLY : 0),
              opts.c_str(), "tmpfs on " + m.target);
    }
  }
}

// Like docker's masked and read-only /proc paths.
void MaskProc() {
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                           "/proc/latency_stats", "/proc/timer_stats", "/proc/acpi", "/proc/scsi",
                           "/proc/asound", "/sys/firmware", "/sys/devices/virtual/powercap"}) {
    struct stat st {};
    if (::lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      DoMount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", path);
    } else {
      DoMount("/dev/null", path, nullptr, MS_BIND, nullptr, std::string("/dev/null over ") + path);
    }
  }
  for (const char* path : {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
    struct stat st {};
    if (::lstat(path, &st) != 0) continue;
    DoMount(path, path, nullptr, MS_BIND | MS_REC, nullptr, path);
    MakeReadOnly(path, path);
  }
}

}  // namespace

MountStubs::MountStubs(const std::filesystem::path& rootfs)
    : root_(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
  if (!root_.valid()) throw Error("opening the rootfs " + rootfs.string() + ": " + sys::ErrnoText(errno));
}

bool MountStubs::Ensure(const std::string& rel, bool is_dir, bool optional) {
  std::string prefix;
  size_t pos = 0;
  while (pos < rel.size()) {
    size_t slash = rel.find('/', pos);
    std::string comp = rel.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? rel.size() : slash + 1;
    if (comp.empty() || comp == ".") continue;
    const bool last = pos >= rel.size();
    const std::string path = prefix.empty() ? comp : prefix + "/" + comp;
    const bool exists = OpenInRoot(root_.get(), path, O_PATH).valid();
    if (!exists && errno == ENOENT) {
      const std::string parent_rel = prefix.empty() ? "." : prefix;
      UniqueFd parent = OpenInRoot(root_.get(), parent_rel.c_str(), O_PATH | O_DIRECTORY);
      int rc = -1;
      struct stat pst {};
      if (parent.valid() && ::fstatat(parent.get(), "", &pst, AT_EMPTY_PATH) == 0) {
        parents_.push_back({parent_rel, pst.st_atim, pst.st_mtim});
        if (last && !is_dir) {
          UniqueFd f(::openat(parent.get(), comp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
          rc = f.valid() ? 0 : -1;
        } else {
          rc = ::mkdirat(parent.get(), comp.c_str(), 0755);
        }
      }
      if (rc != 0) {
        if (optional) return false;
        throw Error("creating the mount point /" + path + " in the rootfs: " + sys::ErrnoText(errno));
      }
      created_.push_back(path);
    } else if (!exists) {
      if (optional) return false;
      throw Error("resolving the mount point /" + path + " in the rootfs: " + sys::ErrnoText(errno));
    }
    prefix = path;
  }
  return true;
}

void MountStubs::RemoveAll() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    const std::string& path = *it;
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "." : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    UniqueFd dir = OpenInRoot(root_.get(), parent.c_str(), O_PATH | O_DIRECTORY);
    if (!dir.valid()) continue;
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // Only what is still an empty stub: the command may have filled it.
    if (S_ISDIR(st.st_mode)) {
      ::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR);  // fails (and keeps it) when not empty
    } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
      ::unlinkat(dir.get(), name.c_str(), 0);
    }
  }
  created_.clear();
  for (auto it = parents_.rbegin(); it != parents_.rend(); ++it) {
    UniqueFd dir = OpenInRoot(root_.get(), it->dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (!dir.valid()) continue;
    const struct timespec times[2] = {it->atime, it->mtime};
    ::futimens(dir.get(), times);
  }
  parents_.clear();
}

std::vector<StubRequest> StubsFor(const RunSpec& spec) {
  std::vector<StubRequest> stubs = {{"proc", true, false},
                                    {"dev", true, false},
                                    {"sys", true, false},
                                    {"etc/hosts", false, true},
                                    {"etc/resolv.conf", false, true},
                                    {"etc/hostname", false, true}};
  for (const auto& m : spec.mounts) {
    bool is_dir = m.type == Mount::Type::kTmpfs || std::filesystem::is_directory(m.source);
    stubs.push_back({Rel(m.target), is_dir, false});
  }
  return stubs;
}

void SetupRootfs(const RunSpec& spec, const std::string& resolv_conf, bool proc_bind) {
  const std::string rootfs = spec.rootfs.string();
  // pivot_root needs the new root to be a mount point of its own.
  DoMount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr, "the rootfs onto itself");
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) throw Error("opening the rootfs " + rootfs + ": " + sys::ErrnoText(errno));
  {
    UniqueFd proc = OpenIn(root.get(), "proc", O_PATH | O_DIRECTORY, "/proc");
    if (proc_bind) {
      DoMount("/proc", proc.ProcPath(), nullptr, MS_BIND | MS_REC, nullptr, "/proc (bind of the container's)");
      UniqueFd mounted = OpenIn(root.get(), "proc", O_PATH | O_DIRECTORY, "/proc");
      MakeReadOnly(mounted.ProcPath(), "/proc");
    } else {
      DoMount("proc", proc.ProcPath(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, "/proc");
    }
  }
  SetupDev(root.get(), spec.shm_size);
  SetupSys(root.get());
  SetupEtcFiles(root.get(), spec, resolv_conf);
  SetupSpecMounts(root.get(), spec);
  if (::fchdir(root.get()) != 0) throw Error("chdir into the rootfs: " + sys::ErrnoText(errno));
  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves no path to the host's filesystem.
  if (sys::PivotRoot(".", ".") != 0) throw Error("pivot_root into " + rootfs + ": " + sys::ErrnoText(errno));
  if (::umount2(".", MNT_DETACH) != 0) throw Error("detaching the old root: " + sys::ErrnoText(errno));
  if (::chdir("/") != 0) throw Error("chdir /: " + sys::ErrnoText(errno));
  MaskProc();
}

}  // namespace kiln::sandbox
