// Thin wrappers for the system calls glibc 2.36 has no wrapper for. This is
// the only file that calls raw syscall(); each wrapper returns what the
// kernel returns (-1 with errno set on failure).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace kiln::sandbox::sys {

int PivotRoot(const char* new_root, const char* put_old);
int CloseRange(unsigned first, unsigned last, unsigned flags);
// openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS (+ extra resolve flags):
// absolute symlinks and ".." stay inside `root_fd`. Callers use
// sandbox::OpenInRoot (root_path.h), which retries EAGAIN and owns the fd.
int OpenInRoot(int root_fd, const char* path, uint64_t flags, uint64_t mode = 0,
               uint64_t extra_resolve = 0);
int FsOpen(const char* fs_name, unsigned flags);
int FsConfig(int fs_fd, unsigned cmd, const char* key, const void* value, int aux);
int FsMount(int fs_fd, unsigned flags, unsigned attr_flags);
int MoveMount(int from_dfd, const char* from_path, int to_dfd, const char* to_path,
              unsigned flags);
// mount_setattr(2) setting `attr_set` recursively below `path`.
int MountSetAttrRecursive(const char* path, uint64_t attr_set);

// "strerror(errno)" for messages.
std::string ErrnoText(int err);

}  // namespace kiln::sandbox::sys
