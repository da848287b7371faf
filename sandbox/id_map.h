// Subordinate id ranges (/etc/subuid, /etc/subgid) and writing a child's
// uid_map/gid_map: newuidmap/newgidmap for a range, a direct write for the
// single own-id mapping an unprivileged process may set itself.
//
// /etc/subuid format, one range a line: "NAME_OR_UID:START:COUNT"
// ("#" comments and blank lines ignored).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/userns.h"

namespace kiln::sandbox {

struct SubIdRange {
  uint32_t start = 0, count = 0;
};

// Ranges of `file` belonging to user `name` or numeric `id`, in file order.
// A missing file gives no ranges.
std::vector<SubIdRange> ReadSubIdRanges(const std::filesystem::path& file,
                                        const std::string& name, uint32_t id);

// 0 -> own_id, then 1.. -> each range in order.
std::vector<IdMapping> BuildMappings(uint32_t own_id, const std::vector<SubIdRange>& ranges);

// Parses /proc/PID/uid_map text ("inside outside count" lines).
std::vector<IdMapping> ParseIdMap(const std::string& text);

// Writes the maps of `pid` (a process that just unshared CLONE_NEWUSER).
// Mappings beyond the caller's own id go through the setuid helpers
// newuidmap/newgidmap; a single own-id mapping is written directly (with
// setgroups "deny", as the kernel requires). Throws sandbox::Error.
void WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uid_map,
                 const std::vector<IdMapping>& gid_map);

}  // namespace kiln::sandbox
