// Entering the build's user namespace.
//
// A non-root user gets one long-lived user + mount namespace for the whole
// kiln process (like `buildah unshare`): layer extraction, RUN and
// snapshotting all happen as namespace-root there, so ownership survives.
// With a range in /etc/subuid and /etc/subgid the full range is mapped with
// newuidmap/newgidmap; without one, only the user's own id (mapped to 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/isolation_level.h"

namespace kiln::sandbox {

struct IdMapping {
  uint32_t inside = 0, outside = 0, count = 0;
};

struct NamespaceState {
  bool rootless = false;       // invoked by a non-root user
  bool full_range = false;     // a subordinate id range is mapped
  std::vector<IdMapping> uid_map, gid_map;
  uint32_t host_uid = 0, host_gid = 0;  // the invoking user
  // True when `id` (inside) can own files: mapped in both maps.
  bool CanOwn(uint32_t uid, uint32_t gid) const;
};

// Call early in main() for every command that touches the store. For a
// non-root caller outside a namespace this re-executes /proc/self/exe in a
// new user namespace and never returns (exits with the child's status, or
// re-raises its fatal signal). In the re-executed process, and for real root,
// it unshares a private mount namespace (so every mount kiln makes vanishes
// with it, even after kill -9) and returns what is mapped. Prints, once per
// process tree, what a single mapping means when there is no subuid range.
// Throws sandbox::Error naming the sysctl/AppArmor setting when the kernel
// forbids unprivileged user namespaces.
//
// With an `isolation` (ChooseIsolation), it follows that choice: the chroot
// and none levels enter no namespace at all (nothing is mounted then), a
// user namespace maps the subordinate range only where the probe could, and
// root that may not unshare a mount namespace by itself (podman's default)
// gets a user namespace with every id mapped to itself. The choice travels
// to the re-executed process, which makes it CurrentIsolation(). Without
// one: the full level as before (kiln store).
NamespaceState EnterBuildNamespace(int argc, char** argv, const Isolation* isolation = nullptr);

// The isolation chosen by the process that re-executed this one into the
// build's user namespace, or nullopt in the process kiln was started as.
std::optional<Isolation> InheritedIsolation();

// The state of the current process (after EnterBuildNamespace).
const NamespaceState& CurrentNamespace();

// Reasons user namespaces are unavailable, or nullopt when they work.
std::optional<std::string> ProbeUserNamespaces();

}  // namespace kiln::sandbox
