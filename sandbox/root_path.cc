#include "sandbox/root_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cerrno>
#include <deque>
#include <vector>

#include "sandbox/error.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS

std::vector<std::string> PathComponents(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string JoinComponents(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

}  // namespace

UniqueFd OpenInRoot(int root_fd, std::string_view path, int flags, uint64_t extra_resolve, mode_t mode) {
  const std::string p = path.empty() ? "." : std::string(path);
  for (;;) {
    int fd = sys::OpenInRoot(root_fd, p.c_str(), static_cast<uint64_t>(flags), mode, extra_resolve);
    if (fd >= 0) return UniqueFd(fd);
    // EAGAIN: a concurrent rename raced the lookup (RESOLVE_IN_ROOT's check).
    if (errno != EAGAIN && errno != EINTR) return UniqueFd();
  }
}

fs::path ResolveInRoot(const fs::path& rootfs, const std::string& path, bool follow_last) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) ThrowErrno("opening the root " + rootfs.string() + " to resolve " + path);
  std::deque<std::string> todo;
  for (auto& c : PathComponents(path)) todo.push_back(std::move(c));
  // `cur` holds no symlinks: each component was checked as it was added, so
  // ".." may drop the last one as plain text.
  std::vector<std::string> cur;
  size_t missing = 0;  // trailing components of `cur` that do not exist
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!cur.empty()) cur.pop_back();
      if (missing > 0) --missing;
      continue;
    }
    cur.push_back(std::move(c));
    if (missing > 0) {
      ++missing;  // nothing exists below a missing directory
      continue;
    }
    if (todo.empty() && !follow_last) break;
    UniqueFd at = OpenInRoot(root.get(), JoinComponents(cur), O_PATH | O_NOFOLLOW);
    if (!at.valid()) {
      if (errno == ENOENT || errno == ENOTDIR) {
        missing = 1;
        continue;
      }
      ThrowErrno("resolving " + path + " inside " + rootfs.string() + " at /" + JoinComponents(cur));
    }
    struct stat st {};
    if (::fstat(at.get(), &st) != 0) ThrowErrno("stat of /" + JoinComponents(cur) + " inside " + rootfs.string());
    if (!S_ISLNK(st.st_mode)) continue;
    if (++links > kMaxLinks)
      throw Error("resolving " + path + " inside " + rootfs.string() + ": too many levels of symbolic links");
    std::string target(PATH_MAX, '\0');  // not st_size: /proc's links report 0
    ssize_t n = ::readlinkat(at.get(), "", target.data(), target.size());
    if (n < 0) ThrowErrno("readlink of /" + JoinComponents(cur) + " inside " + rootfs.string());
    target.resize(static_cast<size_t>(n));
    cur.pop_back();
    if (!target.empty() && target[0] == '/') cur.clear();
    auto parts = PathComponents(target);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_front(std::move(*it));
  }
  fs::path out = rootfs;
  for (const auto& c : cur) out /= c;
  return out;
}

}  // namespace kiln::sandbox
