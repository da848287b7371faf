#include "sandbox/overlay.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "sandbox/copy_snapshot.h"
#include "sandbox/error.h"
#include "sandbox/fuse_overlay.h"
#include "sandbox/isolation_level.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

UniqueFd OpenDir(const std::filesystem::path& dir, const char* role) {
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) throw Error(std::string("overlay ") + role + " " + dir.string() + ": " + sys::ErrnoText(errno));
  return fd;
}

// The kernel's explanation of a failed fsconfig, when it left one.
std::string KernelLog(int fs_fd) {
  std::string log;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fs_fd, buf, sizeof(buf) - 1)) > 0) {
    std::string line(buf, static_cast<size_t>(n));
    // Messages come as "e TEXT" (error), "w TEXT", "i TEXT".
    if (line.size() > 2 && line[1] == ' ') line.erase(0, 2);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    log += (log.empty() ? "" : "; ") + line;
  }
  return log;
}

void Bind(const std::filesystem::path& source, const std::filesystem::path& target, bool readonly) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw Error("bind mounting " + source.string() + " on " + target.string() + ": " + sys::ErrnoText(errno));
  }
  if (readonly && sys::MountSetAttrRecursive(target.c_str(), MOUNT_ATTR_RDONLY) != 0) {
    int err = errno;
    ::umount2(target.c_str(), MNT_DETACH);
    throw Error("making " + target.string() + " read-only: " + sys::ErrnoText(err));
  }
}

// Without a mount namespace (isolation chroot and none) the "mount" is the
// source itself, reached through a symlink at the target: only kiln's own
// code reads these views, so read-only needs no enforcing.
void LinkInstead(const std::filesystem::path& source, const std::filesystem::path& target) {
  if (::rmdir(target.c_str()) != 0 && errno != ENOENT) {
    throw Error("replacing " + target.string() + " with a link to " + source.string() + ": " + sys::ErrnoText(errno));
  }
  if (::symlink(source.c_str(), target.c_str()) != 0) {
    throw Error("linking " + target.string() + " to " + source.string() + ": " + sys::ErrnoText(errno));
  }
}

enum class Snapshotter { kAuto, kOverlay, kFuse, kCopy };

Snapshotter ChosenSnapshotter() {
  const char* env = std::getenv("KILN_SNAPSHOTTER");
  const std::string v = env ? env : "";
  if (v.empty() || v == "auto") return Snapshotter::kAuto;
  if (v == "overlay") return Snapshotter::kOverlay;
  if (v == "fuse-overlayfs") return Snapshotter::kFuse;
  if (v == "copy") return Snapshotter::kCopy;
  throw Error("KILN_SNAPSHOTTER=" + v + ": expected auto, overlay, fuse-overlayfs or copy");
}

}  // namespace

void CheckSnapshotterSetting() { (void)ChosenSnapshotter(); }

OverlayMount::OverlayMount(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper,
                           const std::filesystem::path& work, const std::filesystem::path& target)
    : target_(target), lowers_(lowers), upper_(upper) {
  if (lowers.empty() && upper.empty()) throw Error("overlay on " + target.string() + ": no layers");
  if (!CurrentIsolation().mounts) {
    const Snapshotter chosen = ChosenSnapshotter();
    if (chosen == Snapshotter::kOverlay || chosen == Snapshotter::kFuse)
      throw Error(std::string("KILN_SNAPSHOTTER=") + std::getenv("KILN_SNAPSHOTTER") + " needs mounts, and isolation " +
                  CurrentIsolation().Name() + " has no mount namespace (KILN_SNAPSHOTTER=copy or auto works)");
    if (lowers.empty()) {
      LinkInstead(upper, target);
      linked_ = true;
    } else if (upper.empty() && lowers.size() == 1) {
      LinkInstead(lowers[0], target);
      linked_ = true;
    } else if (upper.empty()) {
      copied_dirs_ = CopyMergedLowers(lowers, target_);
      copied_ = true;
    } else {
      working_ = std::make_unique<WorkingRoot>(lowers, target_);
      copied_ = true;
    }
    mounted_ = true;
    return;
  }
  if (lowers.empty()) {
    Bind(upper, target, false);
  } else if (upper.empty() && lowers.size() == 1) {
    Bind(lowers[0], target, true);
  } else if (ChosenSnapshotter() == Snapshotter::kCopy) {
    MountCopy(lowers, upper);
  } else if (ChosenSnapshotter() == Snapshotter::kFuse) {
    if (auto why = FuseOverlayUnavailable()) throw Error("KILN_SNAPSHOTTER=fuse-overlayfs: " + *why);
    fuse_ = std::make_unique<FuseOverlayProcess>(lowers, upper, work, target);
  } else {
    try {
      try {
        MountNative(lowers, upper, work, true);
      } catch (const Error&) {
        // Real root on a kernel refusing userxattr: trusted.* xattrs then.
        if (!CurrentUidIsRealRoot()) throw;
        MountNative(lowers, upper, work, false);
      }
    } catch (const Error& e) {
      if (ChosenSnapshotter() == Snapshotter::kOverlay) throw;
      for (const auto& l : lowers)  // not overlay's fault: say what is missing
        if (::access(l.c_str(), F_OK) != 0) throw;
      static const std::optional<std::string> no_fuse = FuseOverlayUnavailable();
      static std::once_flag note;
      std::call_once(note, [&] {
        if (!no_fuse)
          std::fprintf(stderr, "kiln: overlayfs refused (%s); using fuse-overlayfs instead "
                       "(KILN_SNAPSHOTTER=overlay makes this an error)\n", e.what());
        else
          std::fprintf(stderr,
                       "kiln: overlayfs refused (%s), and %s; every step works on a full copy of its root "
                       "instead, which is slower (KILN_SNAPSHOTTER=overlay makes this an error)\n",
                       e.what(), no_fuse->c_str());
      });
      if (!no_fuse) fuse_ = std::make_unique<FuseOverlayProcess>(lowers, upper, work, target);
      else MountCopy(lowers, upper);
    }
  }
  mounted_ = true;
}

void OverlayMount::MountCopy(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper) {
  copied_dirs_ = CopyMergedLowers(lowers, target_);
  // A mount point, as pivot_root wants; read-only when there is no upper.
  Bind(target_, target_, upper.empty());
  copied_ = true;
}

void OverlayMount::Finish(const std::function<void()>& on_upper) {
  if (!mounted_) return;
  mounted_ = false;
  if (fuse_) {
    fuse_->Unmount();
    fuse_.reset();
    if (upper_.empty()) return;
    NormalizeFuseOverlayUpper(lowers_, upper_);
    if (on_upper) on_upper();
    PruneUnchangedDirs(lowers_, upper_);
    return;
  }
  if (working_) {
    // What on_upper adds to the upper dir is not in the working root: then it is not kept.
    working_->Finish(upper_, !on_upper);
    working_.reset();
    if (on_upper) on_upper();
    return;
  }
  if (linked_) {
    if (::unlink(target_.c_str()) != 0) throw Error("removing the link " + target_.string() + ": " + sys::ErrnoText(errno));
    linked_ = false;
    if (!upper_.empty() && on_upper) on_upper();
    return;
  }
  if (CurrentIsolation().mounts && ::umount2(target_.c_str(), MNT_DETACH) != 0)
    throw Error("unmounting " + target_.string() + ": " + sys::ErrnoText(errno));
  if (upper_.empty()) return;
  if (copied_) {
    MoveDiffToUpper(lowers_, target_, upper_, copied_dirs_);
    if (on_upper) on_upper();
  } else {
    if (on_upper) on_upper();
    PruneUnchangedDirs(lowers_, upper_);
  }
}

bool OverlayMount::CurrentUidIsRealRoot() {
  // uid_map "0 0 4294967295" is the initial user namespace.
  UniqueFd fd(::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC));
  char buf[128] = {};
  if (!fd.valid() || ::read(fd.get(), buf, sizeof(buf) - 1) <= 0) return false;
  unsigned inside = 1, outside = 1;
  unsigned long count = 0;
  return std::sscanf(buf, "%u %u %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
         count == 4294967295UL && ::geteuid() == 0;
}

void OverlayMount::MountNative(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper,
                               const std::filesystem::path& work, bool userxattr) {
  UniqueFd fs(sys::FsOpen("overlay", FSOPEN_CLOEXEC));
  if (!fs.valid()) throw Error("fsopen(overlay): " + sys::ErrnoText(errno));
  auto config = [&](unsigned cmd, const char* key, const std::string* value, const std::string& what) {
    if (sys::FsConfig(fs.get(), cmd, key, value ? value->c_str() : nullptr, 0) != 0) {
      int err = errno;
      std::string log = KernelLog(fs.get());
      throw Error("overlay mount on " + target_.string() + ": " + what + ": " + sys::ErrnoText(err) +
                  (log.empty() ? "" : " (" + log + ")"));
    }
  };
  // The kernel resolves each path as it is configured, so the fds may be
  // closed right after.
  for (const auto& lower : lowers) {
    UniqueFd fd = OpenDir(lower, "lower dir");
    std::string path = fd.ProcPath();
    config(FSCONFIG_SET_STRING, "lowerdir+", &path, "lower dir " + lower.string());
  }
  if (!upper.empty()) {
    UniqueFd up = OpenDir(upper, "upper dir"), wk = OpenDir(work, "work dir");
    std::string up_path = up.ProcPath(), wk_path = wk.ProcPath();
    config(FSCONFIG_SET_STRING, "upperdir", &up_path, "upper dir " + upper.string());
    config(FSCONFIG_SET_STRING, "workdir", &wk_path, "work dir " + work.string());
  }
  // Without userxattr, removing a lower directory in a user namespace fails
  // with EIO (design notes).
  if (userxattr) config(FSCONFIG_SET_FLAG, "userxattr", nullptr, "userxattr");
  config(FSCONFIG_CMD_CREATE, nullptr, nullptr, "create");
  UniqueFd mnt(sys::FsMount(fs.get(), FSMOUNT_CLOEXEC, upper.empty() ? MOUNT_ATTR_RDONLY : 0));
  if (!mnt.valid()) throw Error("fsmount(overlay) for " + target_.string() + ": " + sys::ErrnoText(errno));
  if (sys::MoveMount(mnt.get(), "", AT_FDCWD, target_.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    throw Error("moving the overlay mount to " + target_.string() + ": " + sys::ErrnoText(errno));
  }
  userxattr_ = userxattr;
}

OverlayMount::~OverlayMount() {
  if (linked_) ::unlink(target_.c_str());
  else if (mounted_ && !fuse_ && CurrentIsolation().mounts) ::umount2(target_.c_str(), MNT_DETACH);
}

OverlayMount::OverlayMount(OverlayMount&& other) noexcept
    : target_(std::move(other.target_)),
      mounted_(std::exchange(other.mounted_, false)),
      userxattr_(other.userxattr_),
      copied_(other.copied_),
      linked_(std::exchange(other.linked_, false)),
      lowers_(std::move(other.lowers_)),
      upper_(std::move(other.upper_)),
      copied_dirs_(std::move(other.copied_dirs_)),
      fuse_(std::move(other.fuse_)),
      working_(std::move(other.working_)) {}

}  // namespace kiln::sandbox
