#include "sandbox/owner_record.h"

#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/error.h"

namespace kiln::sandbox {

namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

std::string Ids(uint32_t uid, uint32_t gid) { return std::to_string(uid) + ":" + std::to_string(gid); }

const char* FileKind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device node";
  if (S_ISFIFO(mode)) return "a fifo";
  return "a special file";
}

[[noreturn]] void CannotRecord(const std::string& path, uint32_t uid, uint32_t gid, const std::string& why) {
  throw Error("cannot give " + path + " the owner " + Ids(uid, gid) +
              ": the id is not mapped in the build's user namespace (no subordinate id range), and " + why +
              "; add a range (/etc/subuid and /etc/subgid, e.g. usermod --add-subuids 100000-165535 "
              "--add-subgids 100000-165535 USER)");
}

// A stale record goes once the real owner is right. ENODATA: there was
// none; EPERM/ENOTSUP: this file or filesystem cannot have one.
bool NoRecordErrno(int e) { return e == ENODATA || e == EPERM || e == ENOTSUP; }

constexpr uint32_t kNoChange = 0xFFFFFFFF;

// The ids that stand for root on disk: the caller's own. Inside the build's
// user namespace (or as real root) they are 0:0 and nothing is translated;
// an unprivileged kiln with no user namespace at all (a default pod) owns
// every file it writes, and those files are root's in the image.
const Owner& Me() {
  static const Owner me{static_cast<uint32_t>(::geteuid()), static_cast<uint32_t>(::getegid())};
  return me;
}

// An image id as it is kept on disk, or nullopt when only a record can keep
// it: the caller's own id already means root there.
std::optional<uint32_t> DiskId(uint32_t image, uint32_t self) {
  if (image == 0) return self;
  if (image == self) return std::nullopt;
  return image;
}

// The image's view of an on-disk owner.
Owner ImageOwner(const struct stat& st) {
  return {st.st_uid == Me().uid ? 0 : static_cast<uint32_t>(st.st_uid),
          st.st_gid == Me().gid ? 0 : static_cast<uint32_t>(st.st_gid)};
}

// Where chown cannot give the owner: EINVAL, an id the namespace does not
// map; EPERM, no CAP_CHOWN (no user namespace at all). Both are recorded.
bool MustRecord(int e) { return e == EINVAL || e == EPERM; }

}  // namespace

std::string EncodeOwner(const Owner& owner) {
  std::string out;
  if (owner.uid != 0) {
    out.push_back(0x08);  // field 1, varint
    PutVarint(out, owner.uid);
  }
  if (owner.gid != 0) {
    out.push_back(0x10);  // field 2, varint
    PutVarint(out, owner.gid);
  }
  return out;
}

std::optional<Owner> DecodeOwner(std::string_view in) {
  Owner owner;
  while (!in.empty()) {
    uint64_t key = 0;
    if (!GetVarint(in, key)) return std::nullopt;
    const uint64_t field = key >> 3, wire = key & 7;
    uint64_t v = 0;
    switch (wire) {
      case 0:
        if (!GetVarint(in, v)) return std::nullopt;
        if (field == 1 || field == 2) {
          if (v > 0xFFFFFFFFull) return std::nullopt;
          (field == 1 ? owner.uid : owner.gid) = static_cast<uint32_t>(v);
        }
        break;
      case 1:
      case 5: {
        const size_t n = wire == 1 ? 8 : 4;
        if (field == 1 || field == 2 || in.size() < n) return std::nullopt;
        in.remove_prefix(n);
        break;
      }
      case 2:
        if (field == 1 || field == 2 || !GetVarint(in, v) || v > in.size()) return std::nullopt;
        in.remove_prefix(static_cast<size_t>(v));
        break;
      default:
        return std::nullopt;
    }
  }
  return owner;
}

Owner OwnerOf(const std::optional<std::string>& value, const struct stat& st, const std::string& path) {
  Owner owner = ImageOwner(st);
  if (!value) return owner;
  auto rec = DecodeOwner(*value);
  if (!rec) throw Error(path + ": malformed " + kOwnerXattr + " xattr (not a Resource{uid, gid} message)");
  if (rec->uid != kNoChange) owner.uid = rec->uid;
  if (rec->gid != kNoChange) owner.gid = rec->gid;
  return owner;
}

Owner OwnerOf(const std::string& path, const struct stat& st) {
  char buf[64];
  ssize_t n = ::lgetxattr(path.c_str(), kOwnerXattr, buf, sizeof buf);
  if (n < 0) {
    if (NoRecordErrno(errno)) return OwnerOf(std::nullopt, st, path);
    ThrowErrno("read " + std::string(kOwnerXattr) + " of " + path);
  }
  return OwnerOf(std::string(buf, static_cast<size_t>(n)), st, path);
}

namespace {

void SetOwnerImpl(const std::string& path, uint32_t uid, uint32_t gid, const std::string& shown, bool fresh) {
  const std::string& name = shown.empty() ? path : shown;
  const auto du = DiskId(uid, Me().uid), dg = DiskId(gid, Me().gid);
  if (du && dg) {
    if (::lchown(path.c_str(), *du, *dg) == 0) {
      if (!fresh && ::lremovexattr(path.c_str(), kOwnerXattr) != 0 && !NoRecordErrno(errno))
        ThrowErrno("remove " + std::string(kOwnerXattr) + " of " + name);
      return;
    }
    if (!MustRecord(errno)) ThrowErrno("chown " + name + " to " + Ids(uid, gid));
  }
  // Root's on disk (also clears setuid bits as a real chown would).
  if (::lchown(path.c_str(), Me().uid, Me().gid) != 0) ThrowErrno("chown " + name + " to 0:0");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) ThrowErrno("stat " + name);
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    CannotRecord(name, uid, gid, std::string("it is ") + FileKind(st.st_mode) + ", which cannot carry the " +
                                     kOwnerXattr + " xattr that would record it");
  const std::string value = EncodeOwner({uid, gid});
  if (::lsetxattr(path.c_str(), kOwnerXattr, value.data(), value.size(), 0) != 0) {
    if (errno == ENOTSUP)
      CannotRecord(name, uid, gid, "its filesystem has no user xattrs to record it in (put the store on ext4, xfs or btrfs)");
    ThrowErrno("set " + std::string(kOwnerXattr) + " of " + name);
  }
}

}  // namespace

void SetOwner(const std::string& path, uint32_t uid, uint32_t gid, const std::string& shown) {
  SetOwnerImpl(path, uid, gid, shown, /*fresh=*/false);
}

void SetOwnerOfNew(const std::string& path, uint32_t uid, uint32_t gid) {
  SetOwnerImpl(path, uid, gid, {}, /*fresh=*/true);
}

void SetOwnerFd(int fd, uint32_t uid, uint32_t gid, const std::string& path) {
  const auto du = DiskId(uid, Me().uid), dg = DiskId(gid, Me().gid);
  if (du && dg) {
    if (::fchown(fd, *du, *dg) == 0) {
      if (::fremovexattr(fd, kOwnerXattr) != 0 && !NoRecordErrno(errno))
        ThrowErrno("remove " + std::string(kOwnerXattr) + " of " + path);
      return;
    }
    if (!MustRecord(errno)) ThrowErrno("chown " + path + " to " + Ids(uid, gid));
  }
  if (::fchown(fd, Me().uid, Me().gid) != 0) ThrowErrno("chown " + path + " to 0:0");
  const std::string value = EncodeOwner({uid, gid});
  if (::fsetxattr(fd, kOwnerXattr, value.data(), value.size(), 0) != 0) {
    if (errno == ENOTSUP)
      CannotRecord(path, uid, gid, "its filesystem has no user xattrs to record it in (put the store on ext4, xfs or btrfs)");
    if (errno == EPERM) CannotRecord(path, uid, gid, "it cannot carry the " + std::string(kOwnerXattr) + " xattr");
    ThrowErrno("set " + std::string(kOwnerXattr) + " of " + path);
  }
}

int ChownRecording(int fd, uint32_t uid, uint32_t gid) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  char buf[64];
  const ssize_t n = ::fgetxattr(fd, kOwnerXattr, buf, sizeof buf);
  if (n < 0 && !NoRecordErrno(errno)) return errno;
  Owner now{st.st_uid, st.st_gid};
  if (n >= 0) {
    auto rec = DecodeOwner(std::string_view(buf, static_cast<size_t>(n)));
    if (!rec) return EBADMSG;
    if (rec->uid != kNoChange) now.uid = rec->uid;
    if (rec->gid != kNoChange) now.gid = rec->gid;
  }
  const Owner want{uid == kNoChange ? now.uid : uid, gid == kNoChange ? now.gid : gid};
  if (::fchown(fd, want.uid, want.gid) == 0) {
    if (n >= 0 && ::fremovexattr(fd, kOwnerXattr) != 0 && !NoRecordErrno(errno)) return errno;
    return 0;
  }
  if (errno != EINVAL) return errno;
  if (::fchown(fd, 0, 0) != 0) return errno;  // clears setuid bits as the real chown would
  const std::string value = EncodeOwner(want);
  if (::fsetxattr(fd, kOwnerXattr, value.data(), value.size(), 0) != 0) return errno == EPERM ? ENOTSUP : errno;
  return 0;
}

}  // namespace kiln::sandbox
