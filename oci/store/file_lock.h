// An advisory lock on a file (flock(2)), held for the object's lifetime. For
// state that upper layers keep beside the store (e.g. the builder's cache
// mount directories) and that concurrent kiln processes share.
#pragma once

#include <filesystem>
#include <optional>

#include "sandbox/file_io.h"

namespace kiln::oci {

class FileLock {
 public:
  // Blocks until held. `file` is created (0600) if missing. Throws oci::Error.
  FileLock(const std::filesystem::path& file, bool exclusive);
  // Exclusive without waiting: nullopt when someone else holds the lock.
  static std::optional<FileLock> TryExclusive(const std::filesystem::path& file);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;
  ~FileLock() = default;  // closing the fd releases the lock

 private:
  explicit FileLock(sandbox::UniqueFd fd) : fd_(std::move(fd)) {}
  sandbox::UniqueFd fd_;
};

}  // namespace kiln::oci
