// Exact ownership where the ids cannot be mapped (a user namespace with only
// the caller's own id, no /etc/subuid range): the file stays owned by
// namespace root on disk and its intended owner is recorded in the
// `user.rootlesscontainers` xattr, the rootless-containers convention umoci
// uses (the protobuf message Resource{uint32 uid = 1; uint32 gid = 2;}).
// The layer writer turns the record into the tar header's ids, so the layer
// is the one a build with a subordinate range makes.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::sandbox {

inline constexpr const char* kOwnerXattr = "user.rootlesscontainers";

struct Owner {
  uint32_t uid = 0, gid = 0;
  bool operator==(const Owner&) const = default;
};

// The xattr value: two varint fields, a zero one left out (proto3).
std::string EncodeOwner(const Owner& owner);
// nullopt when `value` is not a well-formed Resource message. Unknown
// fields are skipped, as protobuf readers do; 0xFFFFFFFF ("no change" in
// the convention) is returned as is.
std::optional<Owner> DecodeOwner(std::string_view value);

// The owner a file stands for: its record when it has one (a field of
// 0xFFFFFFFF keeps the on-disk id), else the on-disk owner in `st`.
// `path` is not followed. Throws sandbox::Error on a malformed record.
Owner OwnerOf(const std::string& path, const struct stat& st);
// Same, `value` being the record already read (nullopt: none).
Owner OwnerOf(const std::optional<std::string>& value, const struct stat& st, const std::string& path);

// Gives `path` (not followed) the owner uid:gid: a plain lchown when both
// ids are mapped in this user namespace (and any stale record goes);
// otherwise (EINVAL) namespace root owns it and the record says who.
// Throws sandbox::Error naming the file when the record cannot be kept (a
// symlink or special file cannot carry a user xattr; a filesystem without
// user xattrs); `shown` names the file there (default: `path`).
void SetOwner(const std::string& path, uint32_t uid, uint32_t gid, const std::string& shown = {});
// Same for a file the caller has just created: it carries no record, so none
// is removed (a COPY of 20,000 files made 20,000 failing lremovexattr calls).
void SetOwnerOfNew(const std::string& path, uint32_t uid, uint32_t gid);
// Same on an open file (not O_PATH); `path` only names it in errors.
void SetOwnerFd(int fd, uint32_t uid, uint32_t gid, const std::string& path);

// chown(2) on an open file (not O_PATH), recording where the ids are not
// mapped, for code that answers for a syscall (RUN's chown emulation):
// 0xFFFFFFFF keeps that id as it stands (the record's, else the file's).
// Returns 0 or an errno value: a failed chown's own, EBADMSG for a
// malformed record, ENOTSUP when the file cannot carry a record.
int ChownRecording(int fd, uint32_t uid, uint32_t gid);

}  // namespace kiln::sandbox
