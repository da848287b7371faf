#include "oci/layer/tree_digest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "oci/error.h"
#include "sandbox/file_io.h"

namespace kiln::oci {

namespace {

class TreeHasher {
 public:
  explicit TreeHasher(std::filesystem::path root) : root_(std::move(root)), buf_(1 << 17) {}

  Digest Run() {
    sandbox::UniqueFd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) ThrowErrno("tree digest: open " + root_.string());
    Dir(fd.get(), "");
    return hash_.Final();
  }

 private:
  void Dir(int dirfd, const std::string& prefix) {
    std::vector<std::string> names;
    DIR* d = ::fdopendir(::dup(dirfd));
    if (!d) ThrowErrno("tree digest: opendir " + Where(prefix));
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) Entry(dirfd, n, prefix.empty() ? n : prefix + "/" + n);
  }

  void Entry(int dirfd, const std::string& name, const std::string& path) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) ThrowErrno("tree digest: stat " + Where(path));
    std::string rec = path;
    rec.push_back('\0');
    rec += std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " + std::to_string(st.st_gid);
    sandbox::UniqueFd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      fd = sandbox::UniqueFd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)));
      if (!fd.valid()) ThrowErrno("tree digest: open " + Where(path));
    }
    if (S_ISREG(st.st_mode)) {
      rec += " " + std::to_string(st.st_size) + " " + Content(fd.get(), path).hex;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) ThrowErrno("tree digest: readlink " + Where(path));
      target.resize(static_cast<size_t>(n));
      rec += " -> " + target;
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      rec += " dev " + std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
    }
    rec += Xattrs(fd.valid() ? fd.get() : -1, dirfd, name, path);
    rec.push_back('\n');
    hash_.Update(rec);
    if (S_ISDIR(st.st_mode)) Dir(fd.get(), path);
  }

  Digest Content(int fd, const std::string& path) {
    Sha256 h;
    for (;;) {
      ssize_t n = ::read(fd, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("tree digest: read " + Where(path));
      if (n == 0) break;
      h.Update(buf_.data(), static_cast<size_t>(n));
    }
    return h.Final();
  }

  // Sorted "name=hex(value)" pairs. Symlinks and devices have no fd of
  // their own: reached through the parent's /proc/self/fd path, never
  // following the last component.
  std::string Xattrs(int fd, int dirfd, const std::string& name, const std::string& path) {
    const std::string via = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
    auto list = [&](char* out, size_t size) {
      return fd >= 0 ? ::flistxattr(fd, out, size) : ::llistxattr(via.c_str(), out, size);
    };
    auto get = [&](const char* key, void* out, size_t size) {
      return fd >= 0 ? ::fgetxattr(fd, key, out, size) : ::lgetxattr(via.c_str(), key, out, size);
    };
    ssize_t len = list(nullptr, 0);
    if (len < 0) {
      if (errno == ENOTSUP) return "";
      ThrowErrno("tree digest: list xattrs of " + Where(path));
    }
    std::string names(static_cast<size_t>(len), '\0');
    len = list(names.data(), names.size());
    if (len < 0) ThrowErrno("tree digest: list xattrs of " + Where(path));
    names.resize(static_cast<size_t>(len));
    std::vector<std::string> keys;
    for (size_t i = 0; i < names.size();) {
      size_t end = names.find('\0', i);
      if (end == std::string::npos) end = names.size();
      if (end > i) keys.push_back(names.substr(i, end - i));
      i = end + 1;
    }
    std::sort(keys.begin(), keys.end());
    std::string out;
    static const char* kHex = "0123456789abcdef";
    for (const auto& k : keys) {
      ssize_t vlen = get(k.c_str(), nullptr, 0);
      if (vlen < 0) ThrowErrno("tree digest: xattr " + k + " of " + Where(path));
      std::string v(static_cast<size_t>(vlen), '\0');
      vlen = get(k.c_str(), v.data(), v.size());
      if (vlen < 0) ThrowErrno("tree digest: xattr " + k + " of " + Where(path));
      v.resize(static_cast<size_t>(vlen));
      out += " " + k + "=";
      for (unsigned char c : v) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
    return out;
  }

  std::string Where(const std::string& path) const { return (root_ / path).string(); }

  std::filesystem::path root_;
  std::vector<char> buf_;
  Sha256 hash_;
};

}  // namespace

Digest TreeDigest(const std::filesystem::path& dir) { return TreeHasher(dir).Run(); }

}  // namespace kiln::oci
