// Helpers shared by the store's .cc files; not part of the public contract.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "sandbox/file_io.h"
#include "oci/image.h"

namespace kiln::oci {

// flock(2) held for the guard's lifetime on `file` (created if missing).
class FlockGuard {
 public:
  FlockGuard(const std::filesystem::path& file, bool exclusive);
  ~FlockGuard();
  FlockGuard(const FlockGuard&) = delete;
  FlockGuard& operator=(const FlockGuard&) = delete;

 private:
  sandbox::UniqueFd fd_;
};

// "<prefix>.<pid>.<random>": the pid lets SweepStaleTemp find dead owners.
std::string TempName(std::string_view prefix);
Index ReadStoreIndex(const std::filesystem::path& root);
// remove_all that also copes with read-only directories; throws oci::Error.
void RemoveTree(const std::filesystem::path& p);

}  // namespace kiln::oci
