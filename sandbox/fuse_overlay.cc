#include "sandbox/fuse_overlay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <utility>

#include "sandbox/error.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

extern char** environ;

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

constexpr const char* kProgram = "fuse-overlayfs";

std::optional<fs::path> FindProgram() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path p = fs::path(dirs.substr(start, end - start)) / kProgram;
    if (end > start && ::access(p.c_str(), X_OK) == 0) return p;
    start = end + 1;
  }
  return std::nullopt;
}

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
  if (!FindProgram()) return std::string(kProgram) + " is not installed";
  UniqueFd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fuse.valid()) return "/dev/fuse: " + sys::ErrnoText(errno);
  return std::nullopt;
}

FuseOverlayProcess::FuseOverlayProcess(const std::vector<fs::path>& lowers, const fs::path& upper,
                                       const fs::path& work, const fs::path& target)
    : target_(target) {
  const auto program = FindProgram();
  if (!program) throw Error(std::string(kProgram) + " is not installed");
  std::string options = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) options += (i ? ":" : "") + OptionPath(lowers[i], "lower dir");
  if (!upper.empty())
    options += ",upperdir=" + OptionPath(upper, "upper dir") + ",workdir=" + OptionPath(work, "work dir");
  // Steps run as USER too, not only as the namespace root that mounts;
  // fuse-overlayfs itself turns on the kernel's permission checks.
  options += ",allow_other";
  std::vector<std::string> args = {kProgram, "-f", "-o", options, OptionPath(target, "mount point")};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  UniqueFd output(::memfd_create("fuse-overlayfs-output", MFD_CLOEXEC));
  if (!output.valid()) throw Error("fuse-overlayfs: memfd_create: " + sys::ErrnoText(errno));
  const dev_t below = DeviceOf(target);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw Error("fuse-overlayfs: fork: " + sys::ErrnoText(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(output.get(), 1) < 0 || ::dup2(output.get(), 2) < 0) ::_exit(127);
    sys::CloseRange(3, ~0U, 0);
    ::execve(program->c_str(), argv.data(), environ);
    ::_exit(127);
  }
  pid_ = pid;
  output_fd_ = output.Release();
  // Mounted once the mount point is on another device; the daemon exiting
  // first means it failed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int status = 0;
    if (Reap(0, &status)) {
      const std::string out = Output();
      Stop();
      throw Error("fuse-overlayfs could not mount " + target.string() + " (exit " +
                  std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + "): " + out);
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

bool FuseOverlayProcess::Reap(int timeout_ms, int* status) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t r = ::waitpid(pid_, status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;  // not ours any more; nothing to wait for
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
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
  if (pid_ < 0) return;
  if (::umount2(target_.c_str(), MNT_DETACH) != 0)
    throw Error("unmounting the fuse-overlayfs mount " + target_.string() + ": " + sys::ErrnoText(errno));
  int status = 0;
  if (!Reap(30000, &status)) {
    ::kill(pid_, SIGKILL);
    Reap(5000, &status);
    throw Error("fuse-overlayfs did not exit within 30 s of unmounting " + target_.string() +
                "; the step's changes may be incomplete");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error("fuse-overlayfs serving " + target_.string() + " failed (status " + std::to_string(status) +
                "): " + Output());
  }
}

FuseOverlayProcess::~FuseOverlayProcess() { Stop(); }

void FuseOverlayProcess::Stop() {
  if (pid_ >= 0) {
    ::umount2(target_.c_str(), MNT_DETACH);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (output_fd_ >= 0) ::close(std::exchange(output_fd_, -1));
}

}  // namespace kiln::sandbox
