#include "sandbox/user_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sstream>

#include "sandbox/error.h"
#include "sandbox/root_path.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::optional<uint32_t> ParseId(const std::string& s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t v = std::stoull(s);
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) parts.push_back(cur);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

// Reads /`rel` of the rootfs without leaving it (symlinks resolve inside).
// A missing file reads as empty, like docker.
std::string ReadInRoot(const std::filesystem::path& rootfs, const char* rel) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) throw Error("opening the rootfs " + rootfs.string() + ": " + sys::ErrnoText(errno));
  UniqueFd fd = OpenInRoot(root.get(), rel, O_RDONLY);
  if (!fd.valid()) {
    if (errno == ENOENT) return "";
    throw Error("reading /" + std::string(rel) + " in " + rootfs.string() + ": " + sys::ErrnoText(errno));
  }
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  if (n < 0) throw Error("reading /" + std::string(rel) + " in " + rootfs.string() + ": " + sys::ErrnoText(errno));
  return text;
}

std::vector<PasswdEntry> ReadPasswd(const std::filesystem::path& rootfs) {
  std::vector<PasswdEntry> entries;
  std::istringstream in(ReadInRoot(rootfs, "etc/passwd"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 7) continue;
    auto uid = ParseId(f[2]), gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    entries.push_back({f[0], *uid, *gid, f[5]});
  }
  return entries;
}

std::vector<GroupEntry> ReadGroups(const std::filesystem::path& rootfs) {
  std::vector<GroupEntry> entries;
  std::istringstream in(ReadInRoot(rootfs, "etc/group"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 4) continue;
    auto gid = ParseId(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    for (auto& m : Split(f[3], ',')) {
      if (!m.empty()) g.members.push_back(m);
    }
    entries.push_back(std::move(g));
  }
  return entries;
}

uint32_t LookupGroup(const std::vector<GroupEntry>& groups, const std::string& spec) {
  for (const auto& g : groups) {
    if (g.name == spec) return g.gid;
  }
  if (auto id = ParseId(spec)) return *id;
  throw Error("unable to find group " + spec + ": no matching entries in group file");
}

}  // namespace

ResolvedUser ResolveUser(const std::filesystem::path& rootfs, const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const auto passwd = ReadPasswd(rootfs);
  ResolvedUser out;
  const PasswdEntry* entry = nullptr;
  for (const auto& p : passwd) {
    if (p.name == user) { entry = &p; break; }
  }
  auto numeric = ParseId(user);
  if (!entry && numeric) {
    for (const auto& p : passwd) {
      if (p.uid == *numeric) { entry = &p; break; }
    }
  }
  if (entry) {
    out.uid = numeric && entry->name != user ? *numeric : entry->uid;
    out.gid = entry->gid;
    out.home = entry->home.empty() ? "/" : entry->home;
  } else if (numeric) {
    out.uid = *numeric;
  } else if (user.empty()) {
    out.uid = 0;
  } else {
    throw Error("unable to find user " + user + ": no matching entries in passwd file");
  }
  const auto groups = ReadGroups(rootfs);
  if (colon != std::string::npos) {
    out.gid = LookupGroup(groups, spec.substr(colon + 1));
  } else if (entry) {
    // Supplementary groups only in the implicit form, as runc does: the
    // groups listing the user plus the group of its primary gid, in file order.
    for (const auto& g : groups) {
      const bool member = g.gid == entry->gid ||
                          std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end();
      if (member && std::find(out.groups.begin(), out.groups.end(), g.gid) == out.groups.end()) {
        out.groups.push_back(g.gid);
      }
    }
  }
  return out;
}

ResolvedUser ResolveChown(const std::filesystem::path& rootfs, const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  // Like moby: without a group, the user part is looked up as the group.
  const std::string group = colon == std::string::npos ? user : spec.substr(colon + 1);
  ResolvedUser out;
  if (auto id = ParseId(user)) {
    out.uid = *id;
  } else {
    bool found = false;
    for (const auto& p : ReadPasswd(rootfs)) {
      if (p.name == user) {
        out.uid = p.uid;
        out.home = p.home.empty() ? "/" : p.home;
        found = true;
        break;
      }
    }
    if (!found) throw Error("unable to find user " + user + ": no matching entries in passwd file");
  }
  out.gid = LookupGroup(ReadGroups(rootfs), group);
  return out;
}

}  // namespace kiln::sandbox
