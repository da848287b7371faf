#include "sandbox/whiteout.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "sandbox/error.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {

void MakeWhiteout(const std::filesystem::path& path) {
  // The kernel lets anyone create this one device (it is overlayfs's), in a
  // user namespace too.
  if (::mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)) == 0) return;
  const int err = errno;
  struct statfs fs {};
  // overlayfs refuses to make its own whiteouts: a store on a container's root filesystem.
  const bool on_overlay = ::statfs(path.parent_path().c_str(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
  throw Error("creating the whiteout " + path.string() + ": " + sys::ErrnoText(err) +
              (on_overlay ? " (the store is on overlayfs, which refuses whiteout devices: in a container, put "
                            "KILN_ROOT on a volume)"
                          : ""));
}

}  // namespace kiln::sandbox
