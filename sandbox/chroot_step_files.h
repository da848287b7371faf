// What the chroot isolation level puts into a step's root for the run, where
// the other levels mount it: device nodes in /dev and the step's /etc/hosts,
// /etc/resolv.conf and /etc/hostname. Both are taken out again after the
// run, with the directories' times, so none of it lands in the layer.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

// The chroot level's /dev: device nodes made by mknod in the step's root
// for the run and removed after it, with /dev's times put back, so none of
// it lands in the layer. Nodes the image already has are left alone.
class DeviceNodes {
 public:
  DeviceNodes(const std::filesystem::path& rootfs, bool allowed);
  ~DeviceNodes() { Remove(); }
  DeviceNodes(const DeviceNodes&) = delete;
  DeviceNodes& operator=(const DeviceNodes&) = delete;
  void Remove();

 private:
  UniqueFd dev_;
  struct timespec times_[2] {};
  std::vector<const char*> made_;
};

// The chroot level's /etc/hosts, /etc/resolv.conf and /etc/hostname: what
// the other levels bind-mount over the image's files is put in their place
// for the run, and the image's own (or nothing) put back after it, with
// /etc's times, so none of it lands in the layer. A change the command made
// to one of them is lost, as it is on the bind mount of the other levels.
class EtcFiles {
 public:
  EtcFiles(const std::filesystem::path& rootfs, const std::string& resolv_conf);
  ~EtcFiles() { Restore(); }
  EtcFiles(const EtcFiles&) = delete;
  EtcFiles& operator=(const EtcFiles&) = delete;
  void Restore();

 private:
  UniqueFd etc_;
  struct timespec times_[2] {};
  std::vector<std::pair<std::string, std::string>> swapped_;  // name, where the image's file waits ("": none)
};

}  // namespace kiln::sandbox
