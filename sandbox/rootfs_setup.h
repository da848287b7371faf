// The mounts of one RUN sandbox, made by its init (pid 1) in the sandbox's
// private mount namespace, then pivot_root into the rootfs.
//
// Mount points that the image lacks (/proc, /dev, /sys, /etc/hosts,
// /etc/resolv.conf, /etc/hostname, RunSpec::mounts targets) are created as
// empty stubs before the run and removed after it when still empty (what
// BuildKit's mount-stub cleaner does), and the parent directory's times are
// restored, so they do not land in the step's diff (a parent that came from
// a lower layer stays copied up in the upper dir, with unchanged metadata:
// the differ should skip directories whose metadata equals the lower's). /etc/hosts, /etc/resolv.conf and /etc/hostname are bind mounts of
// files written on the sandbox's /dev tmpfs and unlinked there at once, so
// nothing of them is left on disk either.
#pragma once

#include <time.h>

#include <string>
#include <vector>

#include "sandbox/run.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

// Empty mount points created in a rootfs for one run.
class MountStubs {
 public:
  explicit MountStubs(const std::filesystem::path& rootfs);
  ~MountStubs() { RemoveAll(); }
  MountStubs(const MountStubs&) = delete;
  MountStubs& operator=(const MountStubs&) = delete;

  // Makes `rel` (and missing parents) exist inside the rootfs, resolving
  // symlinks inside it. Returns false when it cannot exist (e.g. a dangling
  // symlink) and `optional`; throws sandbox::Error otherwise.
  bool Ensure(const std::string& rel, bool is_dir, bool optional);
  // Removes what Ensure created, deepest first, if still empty.
  void RemoveAll();

 private:
  struct Times {
    std::string dir;
    struct timespec atime, mtime;
  };
  UniqueFd root_;
  std::vector<std::string> created_;
  std::vector<Times> parents_;  // times of dirs we created stubs in, restored after
};

// The stubs a spec needs (relative paths and whether each is a directory).
struct StubRequest {
  std::string rel;
  bool is_dir;
  bool optional;
};
std::vector<StubRequest> StubsFor(const RunSpec& spec);

// In the sandbox's init, before any process of the command exists: mounts
// everything below spec.rootfs and pivot_roots into it. `resolv_conf` is the
// text for /etc/resolv.conf. With `proc_bind` (isolation relaxed, where a
// masked /proc refuses a fresh one) /proc is the container's, read-only.
// Throws sandbox::Error.
void SetupRootfs(const RunSpec& spec, const std::string& resolv_conf, bool proc_bind = false);

}  // namespace kiln::sandbox
