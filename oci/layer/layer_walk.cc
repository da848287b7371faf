#include "oci/layer/layer_walk.h"

#include <dirent.h>
#include <sys/xattr.h>

#include <algorithm>
#include <map>
#include <memory>

#include "oci/error.h"
#include "oci/layer/layer_internal.h"
#include "sandbox/owner_record.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {

bool IsOpaque(const std::string& path) {
  char v[8];
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::lgetxattr(path.c_str(), name, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

class SortedWalk {
 public:
  SortedWalk(const fs::path& dir, const std::function<void(const WalkEntry&)>& fn)
      : prefix_(dir.string() + "/"), fn_(fn) {}
  void Run() { Level("", nullptr); }

 private:
  struct Item {
    std::string key;
    bool descend;
    bool operator<(const Item& o) const { return key < o.key; }
  };
  // `opaque`: the directory's stat when it is opaque, else null.
  void Level(const std::string& rel_dir, const struct stat* opaque) {
    const std::string host = rel_dir.empty() ? prefix_ : prefix_ + rel_dir + "/";
    std::vector<Item> items;
    {
      std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(host.c_str()), ::closedir);
      if (!d) ThrowErrno("write layer: walk " + host);
      for (;;) {
        errno = 0;
        const dirent* de = ::readdir(d.get());
        if (!de) {
          if (errno != 0) ThrowErrno("write layer: walk " + host);
          break;
        }
        const std::string_view name = de->d_name;
        if (name == "." || name == "..") continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
          struct stat st {};
          if (::lstat((host + de->d_name).c_str(), &st) != 0) ThrowErrno("write layer: lstat " + host + de->d_name);
          is_dir = S_ISDIR(st.st_mode);
        }
        items.push_back({std::string(name), false});
        if (is_dir) items.push_back({std::string(name) + "/", true});
      }
    }
    if (opaque) items.push_back({kOpaqueWhiteout, false});
    std::sort(items.begin(), items.end());
    WalkEntry e;
    for (const Item& it : items) {
      const std::string_view name = it.descend ? std::string_view(it.key).substr(0, it.key.size() - 1) : it.key;
      const std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
      if (it.descend) {
        auto mark = opaque_dirs_.find(rel);
        if (mark == opaque_dirs_.end()) {
          Level(rel, nullptr);
        } else {
          const struct stat st = mark->second;
          opaque_dirs_.erase(mark);
          Level(rel, &st);
        }
        continue;
      }
      e.rel = rel;
      if (opaque && it.key == kOpaqueWhiteout) {
        e.opaque_marker = true;
        e.st = *opaque;  // the marker carries its directory's times
      } else {
        e.opaque_marker = false;
        const std::string full = prefix_ + rel;
        if (::lstat(full.c_str(), &e.st) != 0) ThrowErrno("write layer: lstat " + full);
        if (S_ISDIR(e.st.st_mode) && IsOpaque(full)) opaque_dirs_.emplace(rel, e.st);
      }
      fn_(e);
    }
  }
  const std::string prefix_;
  const std::function<void(const WalkEntry&)>& fn_;
  std::map<std::string, struct stat> opaque_dirs_;  // met, not yet descended into
};

}  // namespace

void WalkSorted(const fs::path& dir, const std::function<void(const WalkEntry&)>& fn) { SortedWalk(dir, fn).Run(); }

std::vector<std::pair<std::string, std::string>> LayerXattrs(const std::string& path,
                                                             std::optional<std::string>& owner_record) {
  std::vector<std::pair<std::string, std::string>> out;
  owner_record.reset();
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    ThrowErrno("write layer: llistxattr " + path);
  }
  if (n == 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) ThrowErrno("write layer: llistxattr " + path);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty() || name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")) continue;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0) ThrowErrno("write layer: lgetxattr " + path + " " + name);
    std::string value(static_cast<size_t>(vn), '\0');
    vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0) ThrowErrno("write layer: lgetxattr " + path + " " + name);
    value.resize(static_cast<size_t>(vn));
    if (name == sandbox::kOwnerXattr) {
      owner_record = std::move(value);
      continue;
    }
    out.emplace_back(name, value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kiln::oci
