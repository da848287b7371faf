// COPY/ADD semantics as docker/BuildKit apply them: where each source lands
// (PlanCopy, pure path rules) and writing the files into a mounted rootfs as
// namespace-root (CopyInto), resolving the destination's symlinks inside the
// rootfs so an image's absolute links never lead out to the host.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::builder {

struct CopySource {
  std::filesystem::path host_path;  // absolute path of the source on the host
  std::string rel;                  // path relative to its root (context or stage), "" = root
  bool is_dir = false;
};

struct CopyTarget {
  CopySource source;
  std::string dest;       // absolute path inside the rootfs
  bool contents = false;  // a directory: copy its contents into dest
};

// `dest` as written (relative to `workdir` unless absolute); `source_args` is
// how many sources the instruction named (several need a dest ending in '/').
// `dest_is_dir` tells whether an absolute in-rootfs path is an existing dir.
// Throws builder::Error with docker's messages.
std::vector<CopyTarget> PlanCopy(const std::vector<CopySource>& sources, const std::string& dest,
                                 const std::string& workdir, size_t source_args, bool parents,
                                 const std::function<bool(const std::string&)>& dest_is_dir);

// The tree this COPY made the last time it ran on the same parent
// (builder/layer_lineage.h). A file that would come out identical to the one
// that tree holds at the same path (type, size, mtime, owner, mode, no
// xattrs, same bytes), where the rootfs has nothing yet, is not written:
// it is listed here, and LinkEarlierFiles hard-links the earlier file into
// the upper dir once the rootfs is unmounted. Layer trees are never written
// to after they are made (lowers are read-only to overlayfs), so sharing
// their inodes is safe, and a rebuild after a one-file change creates no
// inode and writes no data for the other files.
// Only for a COPY with one target (within one target each path is written
// once) on an overlay, native or fuse: there every directory the copy made
// or touched is in the upper dir when it is unmounted (copy.cc touches the
// one directory it would not), so the links have a place to go.
//
// The tree may also be a donor: the tree an earlier COPY of this build made
// from the same build-context files (a multi-stage build that copies the
// context into two stages). Its files are not at the same paths: a file
// `donor_from_top + q` of the context sits in it at `donor_to_top_rel + q`.
struct EarlierFiles {
  std::filesystem::path tree;
  std::string donor_from_top, donor_to_top_rel;  // empty: the tree is the step's own last one
  // Set by CopyInto for its target: its source (a host path) and its
  // destination below the rootfs, with which owner and --chmod.
  std::string from_top, to_top_rel;
  uint32_t uid = 0, gid = 0;
  std::optional<mode_t> chmod;
  struct DirTimes {
    std::string rel;
    struct timespec atime, mtime;
  };
  std::mutex mu;
  // Paths below the target ("" or "/a/b"): from_top + p goes to to_top_rel + p.
  std::vector<std::string> pending;
  std::vector<DirTimes> dir_times;   // what the copy set, set again after linking into them
  size_t linked = 0, copied = 0;     // what LinkEarlierFiles did
  // Set by CopyInto: where from_top's files sit in `tree` (to_top_rel, or
  // the donor's place for them).
  std::string tree_top_rel;
  std::string Rel(const std::string& p) const;      // to_top_rel + p, below the rootfs
  std::string TreeRel(const std::string& p) const;  // tree_top_rel + p, below `tree`
};

struct CopyAttrs {
  uint32_t uid = 0, gid = 0;           // --chown, default 0:0
  std::optional<mode_t> chmod;         // --chmod
  // Whether to copy a path below the source root (relative to that root);
  // empty = everything. .dockerignore and --exclude arrive here.
  std::function<bool(const std::string& rel)> include;
  EarlierFiles* earlier = nullptr;     // optional, see above
};

// Whether host path `path` is `top` or below it ('/'-separated; a trailing
// '/' on either is allowed).
bool IsAtOrBelow(std::string_view path, std::string_view top);

// mkdir -p inside the rootfs; created directories are 0755 root:root.
// Missing directories are created 0755 and owned by uid:gid (COPY --chown owns
// the directories it creates, as BuildKit does).
std::filesystem::path MkdirAllInRoot(const std::filesystem::path& rootfs, const std::string& path,
                                     uid_t uid = 0, gid_t gid = 0);

// Copies one planned target into the rootfs.
void CopyInto(const std::filesystem::path& rootfs, const CopyTarget& target, const CopyAttrs& attrs);

// Links each file CopyInto left for the earlier tree into `upper` (the
// unmounted rootfs' upper dir: same paths); where linking fails (the earlier
// tree was pruned meanwhile, too many links) the source is copied instead.
// Then gives the directories the copy set times on those times again.
// Throws builder::Error when a copy fails.
void LinkEarlierFiles(const std::filesystem::path& upper, EarlierFiles& earlier);

// Writes a heredoc/inline file into the rootfs (parents created).
void WriteFileInRoot(const std::filesystem::path& rootfs, const std::string& dest,
                     const std::string& content, const CopyAttrs& attrs, mode_t mode = 0644);

// True when libarchive recognises `file` as a (possibly compressed) tar.
bool IsTarArchive(const std::filesystem::path& file);

// Parses --chmod ("755", "0644"); throws builder::Error on anything else.
mode_t ParseChmod(const std::string& text);

}  // namespace kiln::builder
