#include "sandbox/copy_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"
#include "sandbox/whiteout.h"

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void SnapshotFail(const std::string& what, const fs::path& path) {
  throw Error("copy snapshot: " + what + " " + path.string() + ": " + sys::ErrnoText(errno));
}

bool IsOverlayWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }
bool IsDeviceNode(const struct stat& st) { return S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode); }

bool IsOpaqueLowerDir(const fs::path& dir) {
  for (const char* name : {"user.overlay.opaque", "trusted.overlay.opaque"}) {
    char v = 0;
    if (::lgetxattr(dir.c_str(), name, &v, 1) == 1 && v == 'y') return true;
  }
  return false;
}

struct stat LstatOrFail(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) SnapshotFail("lstat", p);
  return st;
}

// What one name in a directory of the merged lowers is: the top-most entry,
// and for a directory the same directory in each lower below it that still
// shows through (down to and including an opaque one).
struct LowerEntry {
  fs::path path;
  struct stat st {};
  bool whiteout = false;
  std::vector<fs::path> dirs;  // top-most first; only for directories
};

std::map<std::string, LowerEntry> MergedLevel(const std::vector<fs::path>& dirs) {
  std::map<std::string, LowerEntry> out;
  std::set<std::string> closed;  // nothing further down shows through
  for (const auto& dir : dirs) {
    for (const auto& name : ListDirNames(dir)) {
      if (closed.count(name)) continue;
      const fs::path p = dir / name;
      const struct stat st = LstatOrFail(p);
      auto it = out.find(name);
      if (it == out.end()) {
        LowerEntry e{p, st, false, {}};
        if (IsOverlayWhiteout(st)) {
          e.whiteout = true;
          closed.insert(name);
        } else if (S_ISDIR(st.st_mode)) {
          e.dirs.push_back(p);
          if (IsOpaqueLowerDir(p)) closed.insert(name);
        } else {
          closed.insert(name);
        }
        out.emplace(name, std::move(e));
      } else if (S_ISDIR(st.st_mode)) {
        it->second.dirs.push_back(p);
        if (IsOpaqueLowerDir(p)) closed.insert(name);
      } else {
        closed.insert(name);  // a file under a directory is hidden by it
      }
    }
  }
  return out;
}

}  // namespace

namespace {

bool IsOverlayMark(const std::string& name) {
  return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") ||
         name.starts_with("user.fuseoverlayfs.");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> KeptXattrs(const fs::path& p) {
  std::vector<std::pair<std::string, std::string>> out;
  ssize_t n = ::llistxattr(p.c_str(), nullptr, 0);
  if (n < 0 && errno == ENOTSUP) return out;
  if (n < 0) SnapshotFail("list the xattrs of", p);
  if (n == 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(p.c_str(), names.data(), names.size());
  if (n < 0) SnapshotFail("list the xattrs of", p);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty() || IsOverlayMark(name)) continue;
    std::string value(256, '\0');
    ssize_t vn;
    while ((vn = ::lgetxattr(p.c_str(), name.c_str(), value.data(), value.size())) < 0 && errno == ERANGE)
      value.resize(value.size() * 4);
    if (vn < 0) SnapshotFail("read the xattr " + name + " of", p);
    value.resize(static_cast<size_t>(vn));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

void CopyXattrs(const fs::path& from, const fs::path& to) {
  for (const auto& [name, value] : KeptXattrs(from))
    if (::lsetxattr(to.c_str(), name.c_str(), value.data(), value.size(), 0) != 0)
      SnapshotFail("set the xattr " + name + " of", to);
}

}  // namespace

void CopyAttrs(const fs::path& from, const fs::path& p, const struct stat& st) {
  if (::lchown(p.c_str(), st.st_uid, st.st_gid) != 0) SnapshotFail("chown", p);
  // After chown, which clears setuid/setgid bits and file capabilities.
  if (!S_ISLNK(st.st_mode) && ::chmod(p.c_str(), st.st_mode & 07777) != 0) SnapshotFail("chmod", p);
  CopyXattrs(from, p);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) SnapshotFail("set times of", p);
}

void CopyContent(const fs::path& from, const fs::path& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) SnapshotFail("open", from);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) SnapshotFail("create", to);
  CopyData(in.get(), out.get(), "copy snapshot: copying " + from.string() + " to " + to.string());
}

namespace {

// (inode, birth time in ns); birth time -1 where the filesystem has none.
std::pair<ino_t, int64_t> DirIdentity(const fs::path& p) {
  struct statx stx {};
  if (::statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) != 0) SnapshotFail("statx", p);
  const int64_t btime = (stx.stx_mask & STATX_BTIME)
                            ? static_cast<int64_t>(stx.stx_btime.tv_sec) * 1000000000 + stx.stx_btime.tv_nsec
                            : -1;
  return {static_cast<ino_t>(stx.stx_ino), btime};
}

void CopyLevel(const std::vector<fs::path>& dirs, const fs::path& target, CopiedDirs& copied) {
  for (const auto& [name, e] : MergedLevel(dirs)) {
    if (e.whiteout || IsDeviceNode(e.st)) continue;
    const fs::path to = target / name;
    if (S_ISDIR(e.st.st_mode)) {
      if (::mkdir(to.c_str(), 0700) != 0) SnapshotFail("mkdir", to);
      const auto id = DirIdentity(to);
      if (id.second < 0) copied.known = false;
      copied.ids.insert(id);
      CopyLevel(e.dirs, to, copied);
    } else if (S_ISREG(e.st.st_mode)) {
      CopyContent(e.path, to);
    } else if (S_ISLNK(e.st.st_mode)) {
      const fs::path link = fs::read_symlink(e.path);
      if (::symlink(link.c_str(), to.c_str()) != 0) SnapshotFail("symlink", to);
    } else if (::mknod(to.c_str(), e.st.st_mode & (S_IFMT | 07777), 0) != 0) {  // fifo, socket
      SnapshotFail("mknod", to);
    }
    CopyAttrs(e.path, to, e.st);  // a directory's times after its children are in
  }
}

bool SameMeta(const struct stat& a, const struct stat& b) {
  return a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         (S_ISDIR(a.st_mode) || a.st_size == b.st_size);
}

// Same metadata, xattrs included: a chown that only recorded an owner
// (sandbox/owner_record.h) or a setcap changes nothing else.
bool SameMetaAndXattrs(const fs::path& a, const struct stat& sa, const fs::path& b, const struct stat& sb) {
  return SameMeta(sa, sb) && KeptXattrs(a) == KeptXattrs(b);
}

void MakeUpperDir(const fs::path& upper) {
  std::error_code ec;
  fs::create_directories(upper, ec);
  if (ec) throw Error("copy snapshot: mkdir " + upper.string() + ": " + ec.message());
}

// A directory that replaced a lower one of the same name: opaque, so that
// nothing below shows through, as overlayfs marks it; where user xattrs are
// refused, a whiteout for each lower entry it does not have instead.
void MarkReplacedDir(const std::vector<fs::path>& was_dirs, const fs::path& u) {
  if (::lsetxattr(u.c_str(), "user.overlay.opaque", "y", 1, 0) == 0) return;
  if (errno != ENOTSUP && errno != EPERM) SnapshotFail("mark opaque", u);
  for (const auto& [name, e] : MergedLevel(was_dirs)) {
    if (e.whiteout || IsDeviceNode(e.st) || ::access((u / name).c_str(), F_OK) == 0) continue;
    MakeWhiteout(u / name);
  }
}

// Returns true when anything went into `upper`.
bool DiffLevel(const std::vector<fs::path>& dirs, const fs::path& merged, const fs::path& upper,
               const CopiedDirs& copied) {
  const auto lower = MergedLevel(dirs);
  const auto now = ListDirNames(merged);
  bool changed = false;
  for (const auto& name : now) {
    const fs::path m = merged / name, u = upper / name;
    const struct stat st = LstatOrFail(m);
    auto it = lower.find(name);
    const LowerEntry* was = it == lower.end() || it->second.whiteout ? nullptr : &it->second;
    const bool made_again = was && S_ISDIR(st.st_mode) && S_ISDIR(was->st.st_mode) && copied.known &&
                            !copied.ids.count(DirIdentity(m));
    if (was && S_ISDIR(st.st_mode) && S_ISDIR(was->st.st_mode) && !made_again) {
      if (DiffLevel(was->dirs, m, u, copied) || !SameMetaAndXattrs(m, st, was->path, was->st)) {
        MakeUpperDir(u);
        CopyAttrs(m, u, st);
        changed = true;
      }
      continue;
    }
    if (was && !S_ISDIR(st.st_mode) && SameMetaAndXattrs(m, st, was->path, was->st) &&
        (!S_ISLNK(st.st_mode) || fs::read_symlink(m) == fs::read_symlink(was->path)))
      continue;
    MakeUpperDir(upper);
    if (::rename(m.c_str(), u.c_str()) != 0) SnapshotFail("move into the diff", m);
    if (made_again) MarkReplacedDir(was->dirs, u);
    changed = true;
  }
  for (const auto& [name, e] : lower) {
    if (e.whiteout || IsDeviceNode(e.st) || std::binary_search(now.begin(), now.end(), name)) continue;
    MakeUpperDir(upper);
    MakeWhiteout(upper / name);
    changed = true;
  }
  return changed;
}

// Returns true when `upper` is left empty.
bool PruneLevel(const std::vector<fs::path>& dirs, const fs::path& upper) {
  const auto names = ListDirNames(upper);
  std::optional<std::map<std::string, LowerEntry>> lower;  // listed only when needed
  size_t removed = 0;
  for (const auto& name : names) {
    const fs::path u = upper / name;
    const struct stat st = LstatOrFail(u);
    if (!S_ISDIR(st.st_mode) || IsOpaqueLowerDir(u)) continue;
    if (!lower) lower = MergedLevel(dirs);
    auto it = lower->find(name);
    if (it == lower->end() || it->second.whiteout || !S_ISDIR(it->second.st.st_mode)) continue;
    if (PruneLevel(it->second.dirs, u) && SameMetaAndXattrs(u, st, it->second.path, it->second.st)) {
      if (::rmdir(u.c_str()) != 0) SnapshotFail("rmdir", u);
      ++removed;
    }
  }
  return removed == names.size();
}

// fuse-overlayfs' marks, in one directory of its upper dir: an opaque
// directory has the xattr "user.fuseoverlayfs.opaque", a ".wh..wh..opq" file
// and a ".wh..opq" whiteout device; where mknod is refused, a whiteout is a
// ".wh.NAME" file. Unlike overlayfs it also marks every new directory opaque
// and leaves a whiteout for an entry that only this step had (a mount stub):
// marks that hide nothing are dropped, so the layer is what overlayfs gives.
// `dirs` are the lower dirs showing through at `upper`; `over_lower` says
// whether any lower entry has this path.
// Removes fuse-overlayfs' bookkeeping xattrs ("user.fuseoverlayfs.*": the
// opaque mark, the origin of a copied-up file) from `path`; true when the
// opaque mark was among them.
bool RemoveFuseXattrs(const fs::path& path) {
  constexpr std::string_view kPrefix = "user.fuseoverlayfs.";
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return false;  // none, or a filesystem without xattrs
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) SnapshotFail("list the xattrs of", path);
  names.resize(static_cast<size_t>(n));
  bool opaque = false;
  for (size_t pos = 0; pos < names.size();) {
    const std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (!name.starts_with(kPrefix)) continue;
    char v = 0;
    if (name == "user.fuseoverlayfs.opaque" && ::lgetxattr(path.c_str(), name.c_str(), &v, 1) == 1 && v == 'y')
      opaque = true;
    if (::lremovexattr(path.c_str(), name.c_str()) != 0) SnapshotFail("remove " + name + " of", path);
  }
  return opaque;
}

void NormalizeFuseLevel(const std::vector<fs::path>& dirs, const fs::path& upper, bool over_lower) {
  bool opaque = RemoveFuseXattrs(upper);
  const auto names = ListDirNames(upper);
  auto has = [&names](const char* n) { return std::binary_search(names.begin(), names.end(), n); };
  opaque = opaque || has(".wh..wh..opq") || has(".wh..opq");
  // Below an opaque directory nothing shows through.
  const auto lower = opaque ? std::map<std::string, LowerEntry>{} : MergedLevel(dirs);
  auto shows = [&](const std::string& name) {
    auto it = lower.find(name);
    return it != lower.end() && !it->second.whiteout ? &it->second : nullptr;
  };
  for (const auto& name : names) {
    const fs::path p = upper / name;
    const struct stat st = LstatOrFail(p);
    if (name == ".wh..wh..opq" || name == ".wh..opq") {
      // the mark itself
    } else if (name.starts_with(".wh.") && S_ISREG(st.st_mode)) {
      const std::string hidden = name.substr(4);
      if (shows(hidden) && ::access((upper / hidden).c_str(), F_OK) != 0) MakeWhiteout(upper / hidden);
    } else if (!(IsOverlayWhiteout(st) && !shows(name))) {
      // An entry, or a whiteout that hides something; directories are
      // cleaned as they are visited.
      if (!S_ISDIR(st.st_mode) && !IsOverlayWhiteout(st)) RemoveFuseXattrs(p);
      continue;
    }
    if (::unlink(p.c_str()) != 0) SnapshotFail("remove", p);
  }
  if (opaque && over_lower) MarkReplacedDir(dirs, upper);
  for (const auto& name : ListDirNames(upper)) {
    const fs::path u = upper / name;
    if (!S_ISDIR(LstatOrFail(u).st_mode)) continue;
    const LowerEntry* below = shows(name);
    const bool below_is_dir = below && S_ISDIR(below->st.st_mode);
    NormalizeFuseLevel(below_is_dir ? below->dirs : std::vector<fs::path>{}, u, below != nullptr);
  }
}

}  // namespace

CopiedDirs CopyMergedLowers(const std::vector<fs::path>& lowers, const fs::path& target) {
  CopiedDirs copied;
  CopyLevel(lowers, target, copied);
  return copied;
}

void MoveDiffToUpper(const std::vector<fs::path>& lowers, const fs::path& merged, const fs::path& upper,
                     const CopiedDirs& copied) {
  DiffLevel(lowers, merged, upper, copied);
}

void PruneUnchangedDirs(const std::vector<fs::path>& lowers, const fs::path& upper) { PruneLevel(lowers, upper); }

void NormalizeFuseOverlayUpper(const std::vector<fs::path>& lowers, const fs::path& upper) {
  NormalizeFuseLevel(lowers, upper, true);
}

}  // namespace kiln::sandbox
