#include "sandbox/syscalls.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace kiln::sandbox::sys {

int PivotRoot(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

int CloseRange(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

int OpenInRoot(int root_fd, const char* path, uint64_t flags, uint64_t mode,
               uint64_t extra_resolve) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof(how)));
}

int FsOpen(const char* fs_name, unsigned flags) {
  return static_cast<int>(::syscall(SYS_fsopen, fs_name, flags));
}

int FsConfig(int fs_fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fs_fd, cmd, key, value, aux));
}

int FsMount(int fs_fd, unsigned flags, unsigned attr_flags) {
  return static_cast<int>(::syscall(SYS_fsmount, fs_fd, flags, attr_flags));
}

int MoveMount(int from_dfd, const char* from_path, int to_dfd, const char* to_path,
              unsigned flags) {
  return static_cast<int>(
      ::syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags));
}

int MountSetAttrRecursive(const char* path, uint64_t attr_set) {
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  return static_cast<int>(::syscall(SYS_mount_setattr, AT_FDCWD, path,
                                    AT_RECURSIVE, &attr, sizeof(attr)));
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace kiln::sandbox::sys
