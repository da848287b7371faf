// fuse-overlayfs, OverlayMount's second choice where the kernel refuses
// overlayfs in the user namespace (before 5.11, or an upper filesystem it
// does not take): a FUSE daemon gives the same merged view from user space,
// much cheaper than a full copy of the root for every step. It needs the
// fuse-overlayfs program and a /dev/fuse the user may open (0666 on a stock
// Debian; some hosts make it root-only).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/subprocess.h"

namespace kiln::sandbox {

// Why fuse-overlayfs cannot be used here, or nullopt when it can.
std::optional<std::string> FuseOverlayUnavailable();

// A fuse-overlayfs daemon serving one mount; our child, so that it dies with
// kiln (PR_SET_PDEATHSIG) and its exit tells when all it wrote is on disk.
class FuseOverlayProcess {
 public:
  // Mounted on return. `lowers` top-most first; an empty `upper` gives a
  // read-only mount. Throws sandbox::Error with what the daemon printed.
  FuseOverlayProcess(const std::vector<std::filesystem::path>& lowers, const std::filesystem::path& upper,
                     const std::filesystem::path& work, const std::filesystem::path& target);
  ~FuseOverlayProcess();  // detaches the mount, kills and reaps the daemon
  FuseOverlayProcess(const FuseOverlayProcess&) = delete;
  FuseOverlayProcess& operator=(const FuseOverlayProcess&) = delete;

  // Unmounts and waits for the daemon to exit: the upper dir is then complete.
  void Unmount();

 private:
  void Stop();  // detach, kill, reap, close (destructor and failed constructor)
  std::string Output() const;  // what the daemon wrote to stdout/stderr
  std::filesystem::path target_;
  std::optional<Subprocess> process_;  // the daemon
  int output_fd_ = -1;  // memfd holding the daemon's output
};

}  // namespace kiln::sandbox
