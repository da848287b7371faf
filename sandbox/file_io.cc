#include "sandbox/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "sandbox/error.h"

namespace kiln::sandbox {
void ThrowErrno(const std::string& what) { throw Error(what + ": " + std::strerror(errno)); }

std::string ReadAll(int fd, const std::string& what) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(what);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool TryWriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void WriteAll(int fd, std::string_view data, const std::string& what) {
  if (!TryWriteAll(fd, data)) ThrowErrno(what + ": write");
}

void CopyData(int in, int out, const std::string& what, std::atomic<bool>* range_unsupported) {
  bool first = true;
  while (!(range_unsupported && range_unsupported->load(std::memory_order_relaxed))) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0) return;
    if (n > 0) {
      first = false;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) ThrowErrno(what);
    // A filesystem without copy_file_range: plain reads and writes.
    if (range_unsupported && first) range_unsupported->store(true, std::memory_order_relaxed);
    break;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno(what + ": read");
    if (n == 0) return;
    WriteAll(out, std::string_view(buf, static_cast<size_t>(n)), what);
  }
}

size_t PreadFull(int fd, void* buf, size_t size, off_t offset) {
  char* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, p + got, size - got, offset + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string ReadFileToString(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) ThrowErrno("read " + path.string() + ": open");
  return ReadAll(fd.get(), "read " + path.string());
}

std::vector<std::string> ListDirNames(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) ThrowErrno("list " + dir.string());
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void FsyncDir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) ThrowErrno("fsync dir " + dir.string() + ": open");
  if (::fsync(fd.get()) != 0) ThrowErrno("fsync dir " + dir.string());
}

void WriteFileAtomic(const std::filesystem::path& path, std::string_view data) {
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto tmp = dir / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(rng() & 0xffffffff));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) ThrowErrno("write " + path.string() + ": create " + tmp.string());
  try {
    WriteAll(fd.get(), data, "write " + tmp.string());
    if (::fsync(fd.get()) != 0) ThrowErrno("write " + tmp.string() + ": fsync");
    fd.Reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno("write " + path.string() + ": rename");
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  FsyncDir(dir);
}

UniqueFd MemFdWith(const char* name, std::string_view data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) ThrowErrno(std::string("memfd_create for the ") + name);
  WriteAll(fd.get(), data, std::string("writing the ") + name);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) ThrowErrno(std::string("lseek on the ") + name);
  return fd;
}

bool ProcessIsGone(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  // A zombie will never write again; it lingers until its new parent reaps
  // it, which some init processes do lazily (seconds after a kill -9).
  std::string stat;
  try {
    stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  } catch (const Error&) {
    return false;  // cannot tell: keep what it may own
  }
  // "pid (comm) S ...": the state follows the last ')'.
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

int RemoveStaleAtomicTemps(const std::filesystem::path& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    // WriteFileAtomic's names: "." + name + ".tmp-" + pid + "-" + number.
    const std::string name = e.path().filename().string();
    const size_t tag = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || tag == std::string::npos || tag == 0) continue;
    const std::string rest = name.substr(tag + 5);
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size() ||
        rest.find_first_not_of("0123456789-") != std::string::npos || rest.find('-', dash + 1) != std::string::npos)
      continue;
    if (dash > 9) continue;  // not a pid
    if (!ProcessIsGone(static_cast<pid_t>(std::stol(rest.substr(0, dash))))) continue;
    if (::unlink(e.path().c_str()) == 0) removed++;
    else if (errno != ENOENT) ThrowErrno("remove stale temp file " + e.path().string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw Error("list " + dir.string() + " for stale temp files: " + ec.message());
  return removed;
}

}  // namespace kiln::sandbox
