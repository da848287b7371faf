#include "sandbox/chroot_step_files.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/root_path.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {

DeviceNodes::DeviceNodes(const std::filesystem::path& rootfs, bool allowed) {
  if (!allowed) return;
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.valid()) dev_ = OpenInRoot(root.get(), "dev", O_RDONLY | O_DIRECTORY);
  if (!dev_.valid()) throw Error("opening /dev in the step's root: " + sys::ErrnoText(errno));
  struct stat st {};
  if (::fstat(dev_.get(), &st) != 0) throw Error("stat /dev in the step's root: " + sys::ErrnoText(errno));
  times_[0] = st.st_atim;
  times_[1] = st.st_mtim;
  const std::pair<const char*, dev_t> nodes[] = {{"null", makedev(1, 3)},    {"zero", makedev(1, 5)},
                                                 {"full", makedev(1, 7)},    {"random", makedev(1, 8)},
                                                 {"urandom", makedev(1, 9)}, {"tty", makedev(5, 0)}};
  for (const auto& [name, dev] : nodes) {
    if (::mknodat(dev_.get(), name, S_IFCHR | 0666, dev) == 0) {
      ::fchmodat(dev_.get(), name, 0666, 0);  // past the umask
      made_.push_back(name);
    } else if (errno != EEXIST) {
      throw Error(std::string("mknod /dev/") + name + " in the step's root: " + sys::ErrnoText(errno));
    }
  }
}

void DeviceNodes::Remove() {
  if (!dev_.valid()) return;
  for (const char* name : made_) ::unlinkat(dev_.get(), name, 0);
  made_.clear();
  ::futimens(dev_.get(), times_);
  dev_.Reset();
}

EtcFiles::EtcFiles(const std::filesystem::path& rootfs, const std::string& resolv_conf) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.valid()) etc_ = OpenInRoot(root.get(), "etc", O_RDONLY | O_DIRECTORY);
  if (!etc_.valid()) return;  // an image without /etc gets none
  struct stat st {};
  if (::fstat(etc_.get(), &st) != 0) throw Error("stat /etc in the step's root: " + sys::ErrnoText(errno));
  times_[0] = st.st_atim;
  times_[1] = st.st_mtim;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::pair<std::string, std::string> files[] = {
      {"hosts", std::string("127.0.0.1\tlocalhost ") + host + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
      {"resolv.conf", resolv_conf},
      {"hostname", std::string(host) + "\n"}};
  for (const auto& [name, text] : files) {
    struct stat fst {};
    const bool exists = ::fstatat(etc_.get(), name.c_str(), &fst, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !S_ISREG(fst.st_mode)) continue;  // a symlink or directory of the image's: left alone
    const std::string saved = ".kiln-saved-" + name;
    if (exists && ::renameat(etc_.get(), name.c_str(), etc_.get(), saved.c_str()) != 0)
      throw Error("setting /etc/" + name + " aside: " + sys::ErrnoText(errno));
    swapped_.push_back({name, exists ? saved : ""});
    UniqueFd fd(::openat(etc_.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
    if (!fd.valid()) throw Error("writing /etc/" + name + " in the step's root: " + sys::ErrnoText(errno));
    WriteAll(fd.get(), text, "writing /etc/" + name + " in the step's root");
  }
}

void EtcFiles::Restore() {
  if (!etc_.valid()) return;
  for (const auto& [name, saved] : swapped_) {
    ::unlinkat(etc_.get(), name.c_str(), 0);
    if (!saved.empty()) ::renameat(etc_.get(), saved.c_str(), etc_.get(), name.c_str());
  }
  swapped_.clear();
  ::futimens(etc_.get(), times_);
  etc_.Reset();
}

}  // namespace kiln::sandbox
