// Overlay mounts in the build's mount namespace. The upper directory of a
// step's mount is the step's diff; lower directories are unpacked layers.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "sandbox/copy_snapshot.h"
#include "sandbox/fuse_overlay.h"
#include "sandbox/working_root.h"

namespace kiln::sandbox {

// Throws sandbox::Error for a KILN_SNAPSHOTTER other than auto, overlay,
// fuse-overlayfs or copy: a build checks it before its first step, not when a
// mount needs it.
void CheckSnapshotterSetting();

class OverlayMount {
 public:
  // `lowers` top-most first. With an empty `upper` the mount is read-only
  // (a single lower dir is then bind-mounted read-only instead). An empty
  // `lowers` with an upper gives a plain bind of `upper`. Uses native overlay
  // with userxattr (as real root without it if the kernel refuses
  // userxattr). Lower, upper and work dirs are passed as fds with the new
  // mount API (fsconfig "lowerdir+", one per layer), so neither path length
  // nor a page-sized option string limits the number of layers; the kernel's
  // own limit is 500 lower layers.
  //
  // Where the kernel refuses overlayfs (before 5.11, or an upper filesystem
  // it does not support), fuse-overlayfs serves the mount when it can
  // (sandbox/fuse_overlay.h; Finish() rewrites its upper dir into overlayfs'
  // form), else the target is a full copy of the merged lowers
  // (sandbox/copy_snapshot.h) and Finish() computes the diff into `upper`;
  // the choice is announced once on stderr. KILN_SNAPSHOTTER=overlay makes
  // the refusal an error; =fuse-overlayfs and =copy always take that way.
  //
  // Where the build may not mount (CurrentIsolation().mounts is false), a
  // view of one directory is a symlink to it at `target`, a step's root a
  // WorkingRoot (sandbox/working_root.h: kept from the step before, or a
  // copy), and a read-only view of several lowers a copy.
  OverlayMount(const std::vector<std::filesystem::path>& lowers,
               const std::filesystem::path& upper, const std::filesystem::path& work,
               const std::filesystem::path& target);
  ~OverlayMount();  // lazy unmount; no diff
  // Unmounts; with the copy fallback, moves the step's changes into `upper`;
  // with overlayfs, drops directories it copied up for nothing (see
  // PruneUnchangedDirs). Call it before reading `upper`, only when the step
  // succeeded. `on_upper`, when given, runs once the upper dir holds the
  // step's changes and before directories copied up for nothing are
  // dropped: what it adds to a copied-up directory keeps that directory.
  void Finish(const std::function<void()>& on_upper = {});
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;
  OverlayMount(OverlayMount&&) noexcept;

  const std::filesystem::path& target() const { return target_; }
  bool copied() const { return copied_; }
  // True when mounted with userxattr: whiteouts are 0/0 character devices
  // and opaque directories carry "user.overlay.opaque"="y" in the upper dir
  // (without it, as real root: "trusted.overlay.opaque").
  bool userxattr() const { return userxattr_; }
  // The opaque-directory xattr name of this mount's upper dir.
  const char* opaque_xattr() const { return userxattr_ ? "user.overlay.opaque" : "trusted.overlay.opaque"; }

 private:
  static bool CurrentUidIsRealRoot();
  void MountNative(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper,
                   const std::filesystem::path& work, bool userxattr);
  void MountCopy(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper);
  std::filesystem::path target_;
  bool mounted_ = false;
  bool userxattr_ = true;
  bool copied_ = false;  // the copy fallback
  bool linked_ = false;  // no mounts: target_ is a symlink to the one source
  std::vector<std::filesystem::path> lowers_;
  std::filesystem::path upper_;
  CopiedDirs copied_dirs_;
  std::unique_ptr<FuseOverlayProcess> fuse_;  // the fuse-overlayfs way
  std::unique_ptr<WorkingRoot> working_;      // no mounts: a kept working root or a copy
};

}  // namespace kiln::sandbox
