// Small file helpers for oci/: an owning fd and atomic file writes
// (temp file in the same dir, fsync, rename, fsync dir) so a crash never
// leaves a half-written index.json or blob under its final name.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace kiln::oci {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void Reset();

 private:
  int fd_ = -1;
};

// Writes all of `size` bytes, retrying on EINTR/short writes; throws oci::Error.
void WriteAll(int fd, const void* data, size_t size, const std::string& what);
// pread(2) of `size` bytes at `offset`, retrying on EINTR/short reads: the
// number read, less than `size` only at end of file or on an error.
size_t PreadFull(int fd, void* buf, size_t size, off_t offset);
// Reads a whole (small) file; throws oci::Error naming the path.
std::string ReadFileToString(const std::filesystem::path& path);
// Atomically replaces `path` with `data`.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view data);
// fsync(2) of a directory so a rename inside it is durable.
void FsyncDir(const std::filesystem::path& dir);
// Removes the temp files that WriteFileAtomic leaves in `dir` when its
// process is killed between creating one and the rename (".NAME.tmp-PID-N"
// whose PID no longer runs). Returns how many it removed.
int RemoveStaleAtomicTemps(const std::filesystem::path& dir);
// True when no process `pid` exists (kill(pid, 0) fails with ESRCH) or it
// is a zombie.
bool ProcessIsGone(pid_t pid);

}  // namespace kiln::oci
