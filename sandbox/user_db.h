// USER and --chown resolution against an image's /etc/passwd and /etc/group,
// read inside the rootfs without following links out of it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kiln::sandbox {

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups from /etc/group
  std::string home = "/";
};

// "name", "uid", "name:group", "uid:gid" ... as docker resolves them. A
// numeric uid not in passwd is fine (gid = uid's group or 0); an unknown name
// throws sandbox::Error("unable to find user NAME: no matching entries in passwd file").
ResolvedUser ResolveUser(const std::filesystem::path& rootfs, const std::string& spec);

// --chown: "uid", "name", "uid:gid", "name:group" (no supplementary groups).
ResolvedUser ResolveChown(const std::filesystem::path& rootfs, const std::string& spec);

}  // namespace kiln::sandbox
