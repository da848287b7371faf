// The copy fallback of OverlayMount, for kernels or filesystems where
// overlayfs cannot be mounted in the user namespace. A step's root is a full
// copy of the merged lower dirs; when the step is done, the difference between
// that copy and the lowers is moved into the upper dir in overlay form (0/0
// character-device whiteouts), so the layer writer reads it exactly as it
// reads an overlay upper dir. Slow for big images: every step copies the
// whole root.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kiln::sandbox {

// Copies the merged view of `lowers` (top-most first, overlay form: 0/0
// whiteouts hide lower entries, an opaque directory hides the lower ones)
// into the empty directory `target`, with modes, owners and times.
// Device nodes cannot be made in a user namespace and are left out.
//
// Returns the identities (inode and birth time) of the directories it made,
// so that the diff can tell a directory the step removed and made again
// (overlayfs records that as an opaque directory) from one it only changed.
struct CopiedDirs {
  std::set<std::pair<ino_t, int64_t>> ids;
  bool known = true;  // false where the filesystem has no birth times
};
CopiedDirs CopyMergedLowers(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& target);

// Moves what differs in `merged` from the merged `lowers` into `upper`:
// new and changed entries (type, mode, owner, size, mtime, link target),
// the directories above them, and a whiteout for each entry that is gone.
// A directory made again is moved whole and marked opaque, as overlayfs
// does. `merged` is consumed (entries are renamed out of it).
void MoveDiffToUpper(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& merged,
                     const std::filesystem::path& upper, const CopiedDirs& copied);

// Removes from an overlayfs upper dir the directories overlayfs copied up
// without a change that stays (same owner, mode and mtime as below, nothing
// inside): the parent of a mount stub, for one. The layer then holds only
// real changes, as a layer from the copy fallback does.
void PruneUnchangedDirs(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper);

// Gives `to` the owner, mode and times of `st` (symlinks: owner and times)
// and the xattrs of `from` (whose lstat `st` is): file capabilities, the
// owner record of a single-id build (sandbox/owner_record.h), and the rest;
// overlayfs' and fuse-overlayfs' own marks stay behind.
void CopyAttrs(const std::filesystem::path& from, const std::filesystem::path& to, const struct stat& st);
// The xattrs of `p` (not followed) but overlayfs' and fuse-overlayfs' own
// marks, sorted by name: what CopyAttrs copies.
std::vector<std::pair<std::string, std::string>> KeptXattrs(const std::filesystem::path& p);
// Copies a regular file's bytes into the new file `to` (copy_file_range, so
// a reflink where the filesystem makes one).
void CopyContent(const std::filesystem::path& from, const std::filesystem::path& to);

// Rewrites the upper dir of a fuse-overlayfs mount (sandbox/fuse_overlay.h)
// into overlayfs' form: its opaque marks (an xattr of its own, marker files)
// become "user.overlay.opaque" (or whiteouts where xattrs are refused), its
// ".wh.NAME" files become whiteout devices.
void NormalizeFuseOverlayUpper(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper);

}  // namespace kiln::sandbox
