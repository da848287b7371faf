// ExtractLayer: a layer blob -> a directory, never writing outside it.
//
// Every path is resolved with sandbox::OpenInRoot (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) relative to an fd of the target, so ".." and
// symlinks (absolute or relative, planted by earlier entries) resolve inside the target the way
// they would inside the container. The last component is always handled with
// *at() calls on the parent fd without following it (O_NOFOLLOW,
// AT_SYMLINK_NOFOLLOW, unlink-then-create), so a planted symlink is replaced,
// never written through.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "sandbox/root_path.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_internal.h"
#include "oci/layer/layer_read.h"
#include "oci/layer/layer_stream.h"
#include "sandbox/owner_record.h"

namespace kiln::oci {

namespace {

std::string Errno() { return std::strerror(errno); }

void RemoveAtRecursive(int dirfd, const std::string& name, const std::string& what) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw Error(what + ": stat " + name + ": " + Errno());
  }
  if (S_ISDIR(st.st_mode)) {
    sandbox::UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) throw Error(what + ": open " + name + ": " + Errno());
    std::vector<std::string> children;
    {
      DIR* d = ::fdopendir(::dup(fd.get()));
      if (!d) throw Error(what + ": opendir " + name + ": " + Errno());
      while (dirent* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") children.push_back(n);
      }
      ::closedir(d);
    }
    for (auto& c : children) RemoveAtRecursive(fd.get(), c, what);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) throw Error(what + ": rmdir " + name + ": " + Errno());
  } else if (::unlinkat(dirfd, name.c_str(), 0) != 0) {
    throw Error(what + ": unlink " + name + ": " + Errno());
  }
}

struct DeferredDir {
  std::string path;
  mode_t mode;
  int64_t mtime;
};

class Extractor {
 public:
  Extractor(const std::filesystem::path& target, const ExtractOptions& opts) : opts_(opts) {
    std::error_code ec;
    std::filesystem::create_directories(target, ec);
    if (ec) throw Error("extract: create " + target.string() + ": " + ec.message());
    root_ = sandbox::UniqueFd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_.valid()) ThrowErrno("extract: open " + target.string());
  }

  void Entry(archive* a, archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    name_ = raw ? raw : "";
    std::string path = NormalizeTarPath(name_);
    if (path.empty()) return;  // the root itself ("./"): the target is ours
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);

    if (base.starts_with(kWhiteoutPrefix)) {
      Whiteout(dir, base);
      return;
    }
    sandbox::UniqueFd parent = OpenDir(dir, /*create=*/true);
    // This layer's entries and their parents survive a later opaque marker.
    for (size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1)) written_.insert(path.substr(0, p));
    written_.insert(path);

    if (const char* link = archive_entry_hardlink(e)) {
      HardLink(parent.get(), base, NormalizeTarPath(link));
      return;
    }
    mode_t type = archive_entry_filetype(e);
    uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    mode_t perm = archive_entry_perm(e) & 07777;
    int64_t mtime = archive_entry_mtime(e);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};

    if (type == AE_IFDIR) {
      struct stat st {};
      bool exists = ::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (exists && !S_ISDIR(st.st_mode)) {
        Replace(parent.get(), base);
        exists = false;
      }
      if (!exists && ::mkdirat(parent.get(), base.c_str(), 0700) != 0) Fail("mkdir");
      sandbox::UniqueFd fd(::openat(parent.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) Fail("open dir");
      if (opts_.keep_owners) sandbox::SetOwnerFd(fd.get(), uid, gid, Where());
      SetXattrs(e, fd.get(), parent.get(), base);
      // Mode and mtime last: adding children changes the mtime, and a
      // read-only mode would stop us adding them.
      dirs_.push_back({path, perm, mtime});
      return;
    }
    Replace(parent.get(), base);
    if (type == AE_IFREG) {
      sandbox::UniqueFd fd(::openat(parent.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd.valid()) Fail("create");
      WriteData(a, fd.get(), archive_entry_size(e));
      if (opts_.keep_owners) sandbox::SetOwnerFd(fd.get(), uid, gid, Where());
      if (::fchmod(fd.get(), perm) != 0) Fail("chmod");  // after chown, which clears setuid
      SetXattrs(e, fd.get(), parent.get(), base);
      if (::futimens(fd.get(), ts) != 0) Fail("utimens");
      return;
    }
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      if (::symlinkat(target ? target : "", parent.get(), base.c_str()) != 0) Fail("symlink");
      if (opts_.keep_owners) sandbox::SetOwner(AtPath(parent.get(), base), uid, gid, Where());
      SetXattrs(e, -1, parent.get(), base);
      if (::utimensat(parent.get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) Fail("utimens");
      return;
    }
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
      if (type != AE_IFIFO && opts_.skip_devices) {
        written_.erase(path);
        if (opts_.warn) opts_.warn("extract: skipping device node " + path + " (cannot be created unprivileged)");
        return;
      }
      dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (::mknodat(parent.get(), base.c_str(), type | 0600, dev) != 0) Fail("mknod");
      if (opts_.keep_owners) sandbox::SetOwner(AtPath(parent.get(), base), uid, gid, Where());
      if (::fchmodat(parent.get(), base.c_str(), perm, 0) != 0) Fail("chmod");
      if (::utimensat(parent.get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) Fail("utimens");
      return;
    }
    throw Error("extract: " + name_ + ": unsupported entry type " + std::to_string(type));
  }

  void Finish() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      name_ = it->path;
      sandbox::UniqueFd fd = Resolve(it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
      if (!fd.valid()) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;  // replaced by a later entry
        Fail("reopen dir");
      }
      if (::fchmod(fd.get(), it->mode) != 0) Fail("chmod");
      struct timespec ts[2] = {{it->mtime, 0}, {it->mtime, 0}};
      if (::futimens(fd.get(), ts) != 0) Fail("utimens");
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& op) {
    throw Error("extract: entry \"" + name_ + "\": " + op + ": " + Errno());
  }

  sandbox::UniqueFd Resolve(const std::string& path, int flags, uint64_t extra_resolve = 0) {
    return sandbox::OpenInRoot(root_.get(), path, flags, extra_resolve);
  }

  // Opens directory `dir` (relative to the root, symlinks resolved inside
  // the root), creating missing components when asked.
  sandbox::UniqueFd OpenDir(const std::string& dir, bool create) {
    sandbox::UniqueFd cur = Resolve("", O_PATH | O_DIRECTORY);
    if (!cur.valid()) Fail("open root");
    std::string prefix;
    size_t i = 0;
    while (i < dir.size()) {
      size_t j = dir.find('/', i);
      if (j == std::string::npos) j = dir.size();
      std::string comp = dir.substr(i, j - i);
      prefix += (prefix.empty() ? "" : "/") + comp;
      sandbox::UniqueFd next = Resolve(prefix, O_PATH | O_DIRECTORY);
      if (!next.valid() && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) Fail("mkdir parent " + prefix);
        next = Resolve(prefix, O_PATH | O_DIRECTORY);
      }
      if (!next.valid()) {
        if (!create && errno == ENOENT) return sandbox::UniqueFd();
        Fail("open parent " + prefix);
      }
      cur = std::move(next);
      i = j + 1;
    }
    return cur;
  }

  // Whatever is at parent/base goes (without following it), so the new
  // entry is created fresh.
  void Replace(int parent, const std::string& base) { RemoveAtRecursive(parent, base, "extract: entry \"" + name_ + "\""); }

  // Owners: sandbox/owner_record.h (a chown, or a record where the id is not
  // mapped). Its errors name the file as "entry NAME".
  std::string Where() const { return "entry \"" + name_ + "\""; }
  // The not-followed path of parent/base, for calls that take no fd.
  static std::string AtPath(int parent, const std::string& base) {
    return "/proc/self/fd/" + std::to_string(parent) + "/" + base;
  }

  void WriteData(archive* a, int fd, int64_t size) {
    const void* buf = nullptr;
    size_t len = 0;
    la_int64_t off = 0;
    for (;;) {
      int r = archive_read_data_block(a, &buf, &len, &off);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) throw Error("extract: entry \"" + name_ + "\": read data: " + ArchiveError(a));
      const char* p = static_cast<const char*>(buf);
      while (len > 0) {
        ssize_t n = ::pwrite(fd, p, len, off);
        if (n < 0) {
          if (errno == EINTR) continue;
          Fail("write");
        }
        p += n;
        off += n;
        len -= static_cast<size_t>(n);
      }
    }
    // Sparse files may end in a hole.
    if (::ftruncate(fd, size) != 0) Fail("truncate");
  }

  void SetXattrs(archive_entry* e, int fd, int parent, const std::string& base) {
    const char* xname = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
      std::string n = xname ? xname : "";
      // overlayfs' own xattrs from an archive could redirect or hide
      // lower layers: never honoured.
      if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.")) {
        if (opts_.warn) opts_.warn("extract: " + name_ + ": dropping overlay xattr " + n);
        continue;
      }
      // kiln's own owner record: the header's ids are the owner; a record
      // from the archive would override them when the layer is written.
      if (n == sandbox::kOwnerXattr) {
        if (opts_.warn) opts_.warn("extract: " + name_ + ": dropping " + n + " (the tar header gives the owner)");
        continue;
      }
      int rc;
      if (fd >= 0) {
        rc = ::fsetxattr(fd, n.c_str(), value, size, 0);
      } else {
        // Symlink: lsetxattr through the parent's fd path never follows the last component.
        std::string p = "/proc/self/fd/" + std::to_string(parent) + "/" + base;
        rc = ::lsetxattr(p.c_str(), n.c_str(), value, size, 0);
      }
      if (rc != 0) {
        if ((errno == EPERM || errno == ENOTSUP) && !n.starts_with("security.capability")) {
          if (opts_.warn) opts_.warn("extract: " + name_ + ": cannot set xattr " + n + ": " + Errno());
          continue;
        }
        Fail("setxattr " + n);
      }
    }
  }

  void HardLink(int parent, const std::string& base, const std::string& target) {
    if (target.empty()) throw Error("extract: entry \"" + name_ + "\": hardlink to the root");
    auto slash = target.rfind('/');
    std::string tdir = slash == std::string::npos ? "" : target.substr(0, slash);
    std::string tbase = slash == std::string::npos ? target : target.substr(slash + 1);
    sandbox::UniqueFd tparent = OpenDir(tdir, false);
    if (!tparent.valid()) throw Error("extract: entry \"" + name_ + "\": hardlink target " + target + " does not exist");
    struct stat st {};
    if (::fstatat(tparent.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      throw Error("extract: entry \"" + name_ + "\": hardlink target " + target + ": " + Errno());
    if (S_ISDIR(st.st_mode)) throw Error("extract: entry \"" + name_ + "\": hardlink to directory " + target);
    if (tbase == base) {
      struct stat self {};
      if (::fstatat(parent, base.c_str(), &self, AT_SYMLINK_NOFOLLOW) == 0 && self.st_dev == st.st_dev &&
          self.st_ino == st.st_ino)
        return;  // link to itself
    }
    Replace(parent, base);
    // flags 0: a symlink target is linked as the symlink, never followed.
    if (::linkat(tparent.get(), tbase.c_str(), parent, base.c_str(), 0) != 0) Fail("link to " + target);
  }

  void Whiteout(const std::string& dir, const std::string& base) {
    if (base == kOpaqueWhiteout) {
      sandbox::UniqueFd parent = OpenDir(dir, true);
      if (opts_.overlay_form) {
        sandbox::UniqueFd fd = Resolve(dir, O_RDONLY | O_DIRECTORY);
        if (!fd.valid()) Fail("open opaque dir");
        if (::fsetxattr(fd.get(), "user.overlay.opaque", "y", 1, 0) != 0) Fail("set user.overlay.opaque");
        return;
      }
      // Flattening: drop everything in the dir that lower layers put there.
      sandbox::UniqueFd fd = Resolve(dir, O_RDONLY | O_DIRECTORY);
      if (!fd.valid()) Fail("open opaque dir");
      std::vector<std::string> children;
      DIR* d = ::fdopendir(::dup(fd.get()));
      if (!d) Fail("opendir");
      while (dirent* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        if (!written_.count(dir.empty() ? n : dir + "/" + n)) children.push_back(n);
      }
      ::closedir(d);
      for (auto& c : children) RemoveAtRecursive(fd.get(), c, "extract: entry \"" + name_ + "\"");
      return;
    }
    std::string victim = base.substr(std::strlen(kWhiteoutPrefix));
    if (victim.empty() || victim == "." || victim == "..")
      throw Error("extract: entry \"" + name_ + "\": malformed whiteout");
    if (opts_.overlay_form) {
      sandbox::UniqueFd parent = OpenDir(dir, true);
      Replace(parent.get(), victim);
      if (::mknodat(parent.get(), victim.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        Fail("mknod whiteout " + victim);
      return;
    }
    sandbox::UniqueFd parent = OpenDir(dir, false);
    if (!parent.valid()) return;  // nothing below to hide
    Replace(parent.get(), victim);
  }

  const ExtractOptions& opts_;
  sandbox::UniqueFd root_;
  std::string name_;  // current entry, for messages
  std::set<std::string> written_;
  std::vector<DeferredDir> dirs_;
};

}  // namespace

Digest ExtractLayer(const std::filesystem::path& blob, const std::filesystem::path& target, const ExtractOptions& opts) {
  LayerStream* stream = nullptr;
  ArchiveReadPtr a = OpenLayerBlob(blob, &stream);
  Extractor x(target, opts);
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw Error("extract " + blob.string() + ": " + ArchiveError(a.get()));
    try {
      x.Entry(a.get(), e);
    } catch (const std::runtime_error& err) {
      throw Error(std::string(err.what()) + " (layer " + blob.string() + ")");
    }
  }
  x.Finish();
  return stream->Finish();
}

}  // namespace kiln::oci
