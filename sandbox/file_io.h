// Whole-file and whole-buffer I/O on descriptors and paths, written once for
// every folder: reads and writes that retry EINTR and short counts, and
// atomic replacement (temp file in the same dir, fsync, rename, fsync dir) so
// a crash never leaves a half-written index.json or blob under its final name.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

// Reads `fd` to end of file; throws Error("<what>: ...") on a read error.
std::string ReadAll(int fd, const std::string& what = "read");
// Writes all of `data`; throws Error("<what>: ...").
void WriteAll(int fd, std::string_view data, const std::string& what);
inline void WriteAll(int fd, const void* data, size_t size, const std::string& what) {
  WriteAll(fd, std::string_view(static_cast<const char*>(data), size), what);
}
// The same where nothing can be done about a failure (reporting an error on
// a status pipe whose reader is gone): false instead of an exception.
bool TryWriteAll(int fd, std::string_view data);
// Copies `in` from its offset to end of file into `out` (copy_file_range,
// which clones where the filesystem can; plain reads and writes where it
// has none); throws Error("<what>: ..."). `range_unsupported`, shared by
// the copies of one tree: set when copy_file_range failed between the two
// filesystems, so later files go straight to reads and writes instead of
// failing the same way again (20,000 failing calls for a 20,000-file COPY).
void CopyData(int in, int out, const std::string& what, std::atomic<bool>* range_unsupported = nullptr);
// pread(2) of `size` bytes at `offset`, retrying on EINTR/short reads: the
// number read, less than `size` only at end of file or on an error.
size_t PreadFull(int fd, void* buf, size_t size, off_t offset);
// Reads a whole file; throws Error naming the path.
std::string ReadFileToString(const std::filesystem::path& path);
// Atomically replaces `path` with `data`.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view data);
// The names in a directory, sorted, without "." and ".."; throws Error.
std::vector<std::string> ListDirNames(const std::filesystem::path& dir);
// fsync(2) of a directory so a rename inside it is durable.
void FsyncDir(const std::filesystem::path& dir);
// Removes the temp files that WriteFileAtomic leaves in `dir` when its
// process is killed between creating one and the rename (".NAME.tmp-PID-N"
// whose PID no longer runs). Returns how many it removed.
int RemoveStaleAtomicTemps(const std::filesystem::path& dir);
// An anonymous memory file (memfd) holding `data`, positioned at its start:
// a child's stdin or a spec handed over a descriptor. `name` shows in
// /proc/PID/fd and in errors.
UniqueFd MemFdWith(const char* name, std::string_view data);
// True when no process `pid` exists (kill(pid, 0) fails with ESRCH) or it
// is a zombie.
bool ProcessIsGone(pid_t pid);

}  // namespace kiln::sandbox
