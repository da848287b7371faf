#include "sandbox/working_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "sandbox/copy_snapshot.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/syscalls.h"
#include "sandbox/whiteout.h"

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

using Id = std::pair<dev_t, ino_t>;

// A root kept between steps: valid for the step whose lowers have `key`.
struct Kept {
  std::vector<Id> key;
  fs::path dir;
  TreeIndex index;
};

std::mutex g_mu;
fs::path g_keep_dir;
std::vector<Kept> g_kept;
unsigned g_seq = 0;
// Stages built side by side each keep one; more means a stage branched.
constexpr size_t kMaxKept = 4;

[[noreturn]] void Fail(const std::string& what, const fs::path& path) {
  throw Error("working root: " + what + " " + path.string() + ": " + sys::ErrnoText(errno));
}

std::string Join(const std::string& rel, const std::string& name) { return rel.empty() ? name : rel + "/" + name; }

TreeIndex::Entry Stat(const fs::path& p) {
  TreeIndex::Entry e;
  if (::lstat(p.c_str(), &e.st) != 0) Fail("lstat", p);
  if (S_ISDIR(e.st.st_mode)) {
    // inode numbers come back: with the birth time a directory made again is told apart.
    struct statx stx {};
    if (::statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME))
      e.btime = static_cast<int64_t>(stx.stx_btime.tv_sec) * 1000000000 + stx.stx_btime.tv_nsec;
  }
  if (S_ISLNK(e.st.st_mode)) {
    std::error_code ec;
    e.link = fs::read_symlink(p, ec).string();
    if (ec) Fail("readlink", p);
  }
  e.xattrs = KeptXattrs(p);  // mostly one llistxattr that finds none
  return e;
}

Id IdOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

std::vector<Id> KeyOf(const std::vector<fs::path>& lowers) {
  std::vector<Id> key;
  for (const auto& l : lowers) key.push_back(IdOf(l));
  return key;
}

void Merge(TreeIndex& into, TreeIndex&& part) {
  for (auto& [k, v] : part.entries) into.entries.emplace(k, std::move(v));
  for (auto& [k, v] : part.children) into.children.emplace(k, std::move(v));
}

// Runs `work(name, part)` for each top-level name on a few threads, each
// filling its own index part; merges the parts into `into`.
template <typename Work>
void ForEachTopLevel(const std::vector<std::string>& names, TreeIndex& into, Work work) {
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  std::vector<TreeIndex> parts(threads);
  std::vector<std::exception_ptr> errors(threads);
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (size_t i = next++; i < names.size(); i = next++) work(names[i], parts[t]);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (auto& p : parts) Merge(into, std::move(p));
}

void ScanInto(const fs::path& root, const std::string& rel, TreeIndex& idx) {
  TreeIndex::Entry e = Stat(root / rel);
  const bool dir = S_ISDIR(e.st.st_mode);
  idx.entries.emplace(rel, std::move(e));
  if (!dir) return;
  auto names = ListDirNames(root / rel);
  for (const auto& n : names) ScanInto(root, Join(rel, n), idx);
  idx.children.emplace(rel, std::move(names));
}

bool SameMeta(const struct stat& a, const struct stat& b) {
  return a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         (S_ISDIR(a.st_mode) || a.st_size == b.st_size);
}

void MakeUpperDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !fs::is_directory(dir)) throw Error("working root: mkdir " + dir.string() + ": " + ec.message());
}

// One diff: the old index, the upper dir, and the hard links seen so far.
class Differ {
 public:
  Differ(const fs::path& root, const TreeIndex& before, const fs::path& upper)
      : root_(root), before_(before), upper_(upper) {}

  TreeIndex Run() {
    TreeIndex now;
    now.entries.emplace("", Stat(root_));
    const auto names = ListDirNames(root_);
    ForEachTopLevel(names, now, [&](const std::string& name, TreeIndex& part) { Entry(name, part); });
    Whiteouts("", names);
    now.children.emplace("", names);
    return now;
  }

 private:
  // Returns true when anything went into the upper dir for `rel`.
  bool Entry(const std::string& rel, TreeIndex& now) {
    const fs::path m = root_ / rel, u = upper_ / rel;
    TreeIndex::Entry e = Stat(m);
    const struct stat st = e.st;
    auto it = before_.entries.find(rel);
    const TreeIndex::Entry* was = it == before_.entries.end() ? nullptr : &it->second;
    const bool both_dirs = was && S_ISDIR(st.st_mode) && S_ISDIR(was->st.st_mode);
    const bool made_again =
        both_dirs && (st.st_ino != was->st.st_ino || (e.btime >= 0 && was->btime >= 0 && e.btime != was->btime));
    const bool same_xattrs = was && e.xattrs == was->xattrs;
    if (both_dirs && !made_again) {
      now.entries.emplace(rel, std::move(e));
      const auto names = ListDirNames(m);
      bool changed = false;
      for (const auto& n : names) changed |= Entry(Join(rel, n), now);
      changed |= Whiteouts(rel, names);
      now.children.emplace(rel, names);
      if (changed || !SameMeta(st, was->st) || !same_xattrs) {
        MakeUpperDir(u);
        CopyAttrs(m, u, st);
        return true;
      }
      return false;
    }
    if (was && !S_ISDIR(st.st_mode) && SameMeta(st, was->st) && e.link == was->link && same_xattrs) {
      now.entries.emplace(rel, std::move(e));
      return false;
    }
    MakeUpperDir(u.parent_path());
    Copy(rel, std::move(e), now);
    if (made_again) MarkOpaque(rel);
    return true;
  }

  // A whiteout for each entry of `rel` that the step removed.
  bool Whiteouts(const std::string& rel, const std::vector<std::string>& names) {
    auto it = before_.children.find(rel);
    if (it == before_.children.end()) return false;
    bool changed = false;
    for (const auto& n : it->second) {
      if (std::binary_search(names.begin(), names.end(), n)) continue;
      MakeUpperDir(upper_ / rel);
      MakeWhiteout(upper_ / Join(rel, n));
      changed = true;
    }
    return changed;
  }

  // Overlayfs' mark for a directory that replaced an old one; where user
  // xattrs are refused, a whiteout for each old entry it lacks.
  void MarkOpaque(const std::string& rel) {
    const fs::path u = upper_ / rel;
    if (::lsetxattr(u.c_str(), "user.overlay.opaque", "y", 1, 0) == 0) return;
    if (errno != ENOTSUP && errno != EPERM) Fail("mark opaque", u);
    auto it = before_.children.find(rel);
    if (it == before_.children.end()) return;
    for (const auto& n : it->second)
      if (::access((u / n).c_str(), F_OK) != 0) MakeWhiteout(u / n);
  }

  // Copies `rel` (and all below it) into the upper dir.
  void Copy(const std::string& rel, TreeIndex::Entry e, TreeIndex& now) {
    const fs::path from = root_ / rel, to = upper_ / rel;
    const struct stat st = e.st;
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(to.c_str(), 0700) != 0) Fail("mkdir", to);
      now.entries.emplace(rel, std::move(e));
      auto names = ListDirNames(from);
      for (const auto& n : names) Copy(Join(rel, n), Stat(from / n), now);
      now.children.emplace(rel, std::move(names));
      CopyAttrs(from, to, st);  // times after the children are in
      return;
    }
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        std::unique_lock lock(links_mu_);
        auto [it, first] = links_.emplace(Id{st.st_dev, st.st_ino}, to);
        if (!first) {
          if (::link(it->second.c_str(), to.c_str()) != 0) Fail("link", to);
          now.entries.emplace(rel, std::move(e));
          return;
        }
      }
      CopyContent(from, to);
    } else if (S_ISLNK(st.st_mode)) {
      if (::symlink(e.link.c_str(), to.c_str()) != 0) Fail("symlink", to);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      now.entries.emplace(rel, std::move(e));
      return;  // device nodes are left out, as the copy fallback leaves them out
    } else if (::mknod(to.c_str(), st.st_mode & (S_IFMT | 07777), 0) != 0) {  // fifo, socket
      Fail("mknod", to);
    }
    CopyAttrs(from, to, st);
    now.entries.emplace(rel, std::move(e));
  }

  const fs::path& root_;
  const TreeIndex& before_;
  const fs::path& upper_;
  std::mutex links_mu_;
  std::map<Id, fs::path> links_;
};

}  // namespace

TreeIndex ScanTree(const fs::path& root) {
  TreeIndex idx;
  idx.entries.emplace("", Stat(root));
  auto names = ListDirNames(root);
  ForEachTopLevel(names, idx, [&](const std::string& name, TreeIndex& part) { ScanInto(root, name, part); });
  idx.children.emplace("", std::move(names));
  return idx;
}

TreeIndex CopyDiffToUpper(const fs::path& root, const TreeIndex& before, const fs::path& upper) {
  return Differ(root, before, upper).Run();
}

WorkingRoot::WorkingRoot(const std::vector<fs::path>& lowers, const fs::path& target)
    : lowers_(lowers), target_(target) {
  const std::vector<Id> key = KeyOf(lowers);
  {
    std::lock_guard lock(g_mu);
    for (auto it = g_kept.begin(); it != g_kept.end(); ++it) {
      if (it->key != key) continue;
      // rename(2) replaces the empty target directory.
      if (::rename(it->dir.c_str(), target.c_str()) != 0) Fail("taking over the kept root " + it->dir.string() + " at", target);
      index_ = std::move(it->index);
      g_kept.erase(it);
      reused_ = true;
      return;
    }
  }
  CopyMergedLowers(lowers, target);
  index_ = ScanTree(target);
}

WorkingRoot::~WorkingRoot() = default;

void WorkingRoot::Finish(const fs::path& upper, bool keep) {
  TreeIndex now = CopyDiffToUpper(target_, index_, upper);
  std::unique_lock lock(g_mu);
  if (!keep || g_keep_dir.empty()) return;
  // The next step's lowers: this step's layer (the upper dir, renamed into
  // the store, keeps its inode) on these lowers; or these lowers when the
  // step changed nothing and made no layer.
  std::vector<Id> key = KeyOf(lowers_);
  if (!fs::is_empty(upper)) key.insert(key.begin(), IdOf(upper));
  const fs::path dir = g_keep_dir / ("root-" + std::to_string(g_seq++));
  if (::rename(target_.c_str(), dir.c_str()) != 0) Fail("keeping the working root as", dir);
  g_kept.push_back({std::move(key), dir, std::move(now)});
  std::vector<fs::path> drop;
  while (g_kept.size() > kMaxKept) {
    drop.push_back(g_kept.front().dir);
    g_kept.erase(g_kept.begin());
  }
  lock.unlock();
  for (const auto& d : drop) {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
}

void WorkingRoot::SetKeepDirectory(const fs::path& dir) {
  std::lock_guard lock(g_mu);
  g_keep_dir = dir;
  if (dir.empty()) g_kept.clear();  // the directory goes with the builder's temp dir
}

}  // namespace kiln::sandbox
