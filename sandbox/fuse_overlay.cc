#include "sandbox/fuse_overlay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>
#include <utility>

#include "sandbox/error.h"
#include "sandbox/subprocess.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

constexpr const char* kProgram = "fuse-overlayfs";

// fuse-overlayfs splits its options at ',' and layer lists at ':'.
std::string OptionPath(const fs::path& p, const char* role) {
  const std::string s = p.string();
  if (s.find_first_of(",:") != std::string::npos)
    throw Error("fuse-overlayfs cannot take the " + std::string(role) + " " + s + " (it has a ',' or ':')");
  return s;
}

dev_t DeviceOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw Error("fuse-overlayfs: stat " + p.string() + ": " + sys::ErrnoText(errno));
  return st.st_dev;
}

}  // namespace

std::optional<std::string> FuseOverlayUnavailable() {
  if (!FindInPath(kProgram)) return std::string(kProgram) + " is not installed";
  UniqueFd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fuse.valid()) return "/dev/fuse: " + sys::ErrnoText(errno);
  return std::nullopt;
}

FuseOverlayProcess::FuseOverlayProcess(const std::vector<fs::path>& lowers, const fs::path& upper,
                                       const fs::path& work, const fs::path& target)
    : target_(target) {
  if (!FindInPath(kProgram)) throw Error(std::string(kProgram) + " is not installed");
  std::string options = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) options += (i ? ":" : "") + OptionPath(lowers[i], "lower dir");
  if (!upper.empty())
    options += ",upperdir=" + OptionPath(upper, "upper dir") + ",workdir=" + OptionPath(work, "work dir");
  // Steps run as USER too, not only as the namespace root that mounts;
  // fuse-overlayfs itself turns on the kernel's permission checks.
  options += ",allow_other";
  std::vector<std::string> args = {kProgram, "-f", "-o", options, OptionPath(target, "mount point")};

  UniqueFd output(::memfd_create("fuse-overlayfs-output", MFD_CLOEXEC));
  if (!output.valid()) throw Error("fuse-overlayfs: memfd_create: " + sys::ErrnoText(errno));
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) throw Error("fuse-overlayfs: opening /dev/null: " + sys::ErrnoText(errno));
  const dev_t below = DeviceOf(target);
  process_.emplace(SpawnOptions{.argv = args,
                                .fds = {{0, null.get()}, {1, output.get()}, {2, output.get()}},
                                .die_with_parent = true});
  output_fd_ = output.Release();
  // Mounted once the mount point is on another device; the daemon exiting
  // first means it failed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    if (const auto status = process_->WaitFor(std::chrono::milliseconds(0))) {
      const std::string out = Output();
      Stop();
      throw Error("fuse-overlayfs could not mount " + target.string() + " (" +
                  DescribeWaitStatus(*status) + "): " + out);
    }
    if (DeviceOf(target) != below) return;
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string out = Output();
      Stop();
      throw Error("fuse-overlayfs did not mount " + target.string() + " within 20 s: " + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string FuseOverlayProcess::Output() const {
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(output_fd_, buf, sizeof buf, off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  // fuse-overlayfs warns about mount options it ignores; not worth showing.
  std::string shown;
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string_view line(out.data() + start, end - start);
    if (!line.empty() && !line.starts_with("unknown argument ignored"))
      shown += std::string(shown.empty() ? "" : "; ") + std::string(line);
    start = end + 1;
  }
  return shown.empty() ? "no output" : shown;
}

void FuseOverlayProcess::Unmount() {
  if (!process_ || !process_->running()) return;
  if (::umount2(target_.c_str(), MNT_DETACH) != 0)
    throw Error("unmounting the fuse-overlayfs mount " + target_.string() + ": " + sys::ErrnoText(errno));
  const auto status = process_->WaitFor(std::chrono::seconds(30));
  if (!status) {
    process_.reset();  // SIGKILL and reap
    throw Error("fuse-overlayfs did not exit within 30 s of unmounting " + target_.string() +
                "; the step's changes may be incomplete");
  }
  if (!ExitedZero(*status)) {
    throw Error("fuse-overlayfs serving " + target_.string() + " failed (" + DescribeWaitStatus(*status) +
                "): " + Output());
  }
}

FuseOverlayProcess::~FuseOverlayProcess() { Stop(); }

void FuseOverlayProcess::Stop() {
  if (process_ && process_->running()) ::umount2(target_.c_str(), MNT_DETACH);
  process_.reset();  // SIGKILL and reap
  if (output_fd_ >= 0) ::close(std::exchange(output_fd_, -1));
}

}  // namespace kiln::sandbox
