// RUN --mount set-up for FsStepRunner (definitions in run_mounts.cc): what a
// step's bind, cache, tmpfs, secret and ssh mounts hold until its command
// has finished. Included only by fs_runner.cc and run_mounts.cc.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "builder/fs_runner.h"
#include "oci/store/file_lock.h"
#include "oci/store/store.h"
#include "sandbox/overlay.h"

namespace kiln::builder {

// What a RUN step's mounts hold on to until the command has finished: the
// overlays and temp dirs behind bind/secret mounts, and the cache locks.
struct FsStepRunner::MountResources {
  std::vector<oci::Store::TempDir> dirs;
  std::vector<std::unique_ptr<sandbox::OverlayMount>> overlays;
  // Cache lock files to take before the run, with exclusive or shared.
  std::map<std::filesystem::path, bool> cache_locks;
  std::vector<oci::FileLock> locks;
  std::set<std::string> private_dirs;  // cache instances this step holds privately
  // Blocking locks in path order, so two steps never wait on each other.
  void LockCaches() {
    for (const auto& [file, exclusive] : cache_locks) locks.emplace_back(file, exclusive);
  }
};

}  // namespace kiln::builder
