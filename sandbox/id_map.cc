#include "sandbox/id_map.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "sandbox/error.h"
#include "sandbox/subprocess.h"
#include "sandbox/syscalls.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

bool ParseU32(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

void WriteProcFile(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw Error("writing \"" + text.substr(0, text.find('\n')) + "\" to " + path + ": " +
                sys::ErrnoText(errno));
  }
}

void RunMapHelper(const char* helper, pid_t pid, const std::vector<IdMapping>& map) {
  std::vector<std::string> args = {helper, std::to_string(pid)};
  for (const auto& m : map) {
    args.push_back(std::to_string(m.inside));
    args.push_back(std::to_string(m.outside));
    args.push_back(std::to_string(m.count));
  }
  if (!FindInPath(helper)) {
    throw Error(std::string(helper) + " is not installed, and mapping the subordinate id range needs it "
                "(install the uidmap package)");
  }
  const int status = Subprocess(SpawnOptions{.argv = args}).Wait();
  if (!ExitedZero(status)) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    throw Error(std::string(helper) + " failed with " + DescribeWaitStatus(status) + " (" + cmd +
                "); check the ranges in /etc/subuid and /etc/subgid and that " + helper +
                " is setuid root or has CAP_SETUID/CAP_SETGID file capabilities");
  }
}

std::string MapText(const std::vector<IdMapping>& map) {
  std::string text;
  for (const auto& m : map) {
    text += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " +
            std::to_string(m.count) + "\n";
  }
  return text;
}

}  // namespace

std::vector<SubIdRange> ReadSubIdRanges(const std::filesystem::path& file, const std::string& name,
                                        uint32_t id) {
  std::vector<SubIdRange> ranges;
  std::ifstream in(file);
  std::string line;
  const std::string id_text = std::to_string(id);
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto c1 = line.find(':');
    auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string owner = line.substr(0, c1);
    if (owner != name && owner != id_text) continue;
    SubIdRange r;
    if (!ParseU32(line.substr(c1 + 1, c2 - c1 - 1), r.start) || !ParseU32(line.substr(c2 + 1), r.count) ||
        r.count == 0) {
      continue;
    }
    ranges.push_back(r);
  }
  return ranges;
}

std::vector<IdMapping> BuildMappings(uint32_t own_id, const std::vector<SubIdRange>& ranges) {
  std::vector<IdMapping> map = {{0, own_id, 1}};
  uint32_t next = 1;
  for (const auto& r : ranges) {
    map.push_back({next, r.start, r.count});
    next += r.count;
  }
  return map;
}

std::vector<IdMapping> ParseIdMap(const std::string& text) {
  std::vector<IdMapping> map;
  std::istringstream in(text);
  IdMapping m;
  while (in >> m.inside >> m.outside >> m.count) map.push_back(m);
  return map;
}

void WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uid_map,
                 const std::vector<IdMapping>& gid_map) {
  const std::string proc = "/proc/" + std::to_string(pid);
  if (uid_map.size() > 1) {
    RunMapHelper("newuidmap", pid, uid_map);
  } else {
    WriteProcFile(proc + "/uid_map", MapText(uid_map));
  }
  if (gid_map.size() > 1) {
    RunMapHelper("newgidmap", pid, gid_map);
  } else {
    // The kernel wants setgroups denied before an unprivileged process maps
    // its own gid; root mapping its whole range (podman) keeps setgroups.
    if (gid_map.empty() || gid_map[0].count == 1) WriteProcFile(proc + "/setgroups", "deny");
    WriteProcFile(proc + "/gid_map", MapText(gid_map));
  }
}

}  // namespace kiln::sandbox
