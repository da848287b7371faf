// The interpreter of a binfmt_misc handler without flag F, inside a RUN
// step's root. Without F the kernel opens the interpreter by path each time
// a foreign binary is executed, resolving the path in the executing
// process's root: a step under emulation must find it at the same path
// inside its root. With F (Debian's qemu-user-static registers PF) the
// kernel opened it at registration and none of this is needed.
//
// Where the level has mounts it is a read-only bind of the host's file (the
// mount point a stub like every other, removed after the run); at the chroot
// level a copy, removed after the run. Neither reaches a layer.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "sandbox/binfmt.h"
#include "sandbox/rootfs_setup.h"
#include "sandbox/run.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

// Whether the step needs the interpreter inside its root: emulated, and the
// handler lacks flag F.
bool NeedsInterpreterInRoot(const RunSpec& spec);

// The host's interpreter file (symlinks followed: Debian's
// /usr/libexec/qemu-binfmt/aarch64-binfmt-P points to
// /usr/bin/qemu-aarch64-static). Throws sandbox::Error naming the handler
// when it is missing or not a regular file.
std::filesystem::path HostInterpreter(const Emulation& emulation);

// For the levels with mounts: the read-only bind to add to the step's mounts.
Mount InterpreterBind(const Emulation& emulation);

// For the chroot level (no mounts): a copy of the interpreter at its path in
// the step's root for the run. Not a hard link: the step runs as real root
// there and could write the host's interpreter through one. Missing parent
// directories are made through `stubs` (and removed with them); a file the
// image has at the path is set aside and put back, with the directory's
// times.
class InterpreterCopy {
 public:
  InterpreterCopy(const std::filesystem::path& rootfs, const Emulation& emulation, MountStubs& stubs);
  ~InterpreterCopy() { Remove(); }
  InterpreterCopy(const InterpreterCopy&) = delete;
  InterpreterCopy& operator=(const InterpreterCopy&) = delete;
  // Before the stubs' RemoveAll, so that directories made for it are empty.
  void Remove();

 private:
  UniqueFd dir_;
  std::string name_, saved_;
  struct timespec times_[2] {};
};

}  // namespace kiln::sandbox
