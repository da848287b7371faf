#include "oci/store/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "oci/error.h"

namespace kiln::oci {

namespace {

sandbox::UniqueFd OpenLockFile(const std::filesystem::path& file) {
  sandbox::UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) ThrowErrno("open lock file " + file.string());
  return fd;
}

}  // namespace

FileLock::FileLock(const std::filesystem::path& file, bool exclusive) : fd_(OpenLockFile(file)) {
  while (::flock(fd_.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) ThrowErrno("flock " + file.string());
  }
}

std::optional<FileLock> FileLock::TryExclusive(const std::filesystem::path& file) {
  sandbox::UniqueFd fd = OpenLockFile(file);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::nullopt;
    if (errno != EINTR) ThrowErrno("flock " + file.string());
  }
  return FileLock(std::move(fd));
}

}  // namespace kiln::oci
