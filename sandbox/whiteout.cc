#include "sandbox/whiteout.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "sandbox/error.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {

void MakeWhiteout(const std::filesystem::path& path) {
  // The kernel lets anyone create this one device (it is overlayfs's), in a
  // user namespace too.
  if (::mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
    throw Error("creating the whiteout " + path.string() + ": " + sys::ErrnoText(errno));
}

}  // namespace kiln::sandbox
