// Overlay mounts in the build's mount namespace. The upper directory of a
// step's mount is the step's diff; lower directories are unpacked layers.
#pragma once

#include <filesystem>
#include <vector>

namespace kiln::sandbox {

class OverlayMount {
 public:
  // `lowers` top-most first. With an empty `upper` the mount is read-only
  // (a single lower dir is then bind-mounted read-only instead). An empty
  // `lowers` with an upper gives a plain bind of `upper`. Uses native overlay
  // with userxattr (as real root without it if the kernel refuses
  // userxattr). Lower, upper and work dirs are passed as fds with the new
  // mount API (fsconfig "lowerdir+", one per layer), so neither path length
  // nor a page-sized option string limits the number of layers; the kernel's
  // own limit is 500 lower layers. No fuse-overlayfs or copy fallback: when
  // the kernel refuses, sandbox::Error says why.
  OverlayMount(const std::vector<std::filesystem::path>& lowers,
               const std::filesystem::path& upper, const std::filesystem::path& work,
               const std::filesystem::path& target);
  ~OverlayMount();  // lazy unmount
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;
  OverlayMount(OverlayMount&&) noexcept;

  const std::filesystem::path& target() const { return target_; }
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
  std::filesystem::path target_;
  bool mounted_ = false;
  bool userxattr_ = true;
};

}  // namespace kiln::sandbox
