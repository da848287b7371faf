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
  // with userxattr (falls back to fuse-overlayfs when the kernel refuses,
  // then to copying the lowers into upper, each fallback said once).
  OverlayMount(const std::vector<std::filesystem::path>& lowers,
               const std::filesystem::path& upper, const std::filesystem::path& work,
               const std::filesystem::path& target);
  ~OverlayMount();  // lazy unmount
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;
  OverlayMount(OverlayMount&&) noexcept;

  const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_;
  bool mounted_ = false;
};

}  // namespace kiln::sandbox
