// Step roots without mounts (isolation chroot and none) that cost what a
// step changed, not what the image holds. The copy fallback
// (sandbox/copy_snapshot.h) copies every lower into a fresh root for each
// step and then compares the whole root with the lowers; here a stage keeps
// one working root from step to step: the root a step leaves is kept, with
// an index of every entry's metadata, and the next step whose lowers are
// that step's layer on the same lowers takes it over. A step's changes are
// found by one stat scan of the root against the index (top-level
// directories scanned in parallel) and copied into the upper dir in overlay
// form, exactly as MoveDiffToUpper would have moved them.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kiln::sandbox {

// Every entry below a root: relative path ("a/b") -> its lstat, its xattrs
// and, for a symlink, its target. "" is the root itself. The xattrs are
// kept because a step may change nothing else (setcap, setfattr, an
// emulated chown's owner record) and the stat fields would not show it;
// ctime would, but kiln's own step files (sandbox/chroot_step_files.h)
// move it too.
struct TreeIndex {
  struct Entry {
    struct stat st {};
    std::string link;
    std::vector<std::pair<std::string, std::string>> xattrs;  // sorted, as KeptXattrs gives them
    int64_t btime = -1;  // a directory's birth time (ns), -1 where unknown
  };
  std::unordered_map<std::string, Entry> entries;
  std::unordered_map<std::string, std::vector<std::string>> children;  // dir -> names
};

// Scans `root` (top-level directories in parallel).
TreeIndex ScanTree(const std::filesystem::path& root);

// Copies what differs in `root` from `before` into the empty or absent
// `upper`: new and changed entries (type, mode, owner, size, mtime, link
// target, xattrs; a directory made again is copied whole and marked opaque), the
// directories above them, and a whiteout for each entry that is gone. Files
// that are hard links of each other stay so. `root` is left as it is.
// Returns the index of `root` now.
TreeIndex CopyDiffToUpper(const std::filesystem::path& root, const TreeIndex& before,
                          const std::filesystem::path& upper);

class WorkingRoot {
 public:
  // Makes `target` hold the merged view of `lowers`: a kept root when one
  // matches, else a full copy (CopyMergedLowers). `target` must be an
  // empty directory.
  WorkingRoot(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& target);
  ~WorkingRoot();
  WorkingRoot(const WorkingRoot&) = delete;
  WorkingRoot& operator=(const WorkingRoot&) = delete;

  // Writes the step's changes into `upper`. With `keep`, the root is kept
  // for the step after this one (whose lowers are `upper`'s layer on these
  // lowers); else it stays where it is, for the caller to remove.
  void Finish(const std::filesystem::path& upper, bool keep);

  bool reused() const { return reused_; }

  // Where roots wait between steps: a directory the builder owns for the
  // length of the build. Unset (tests), no root is kept. Clearing it drops
  // every kept root.
  static void SetKeepDirectory(const std::filesystem::path& dir);

 private:
  std::vector<std::filesystem::path> lowers_;
  std::filesystem::path target_;
  TreeIndex index_;
  bool reused_ = false;
};

}  // namespace kiln::sandbox
