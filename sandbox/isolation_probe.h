// What this machine lets kiln do, found by trying (once per build) rather
// than guessed from the environment: a container's seccomp profile,
// capability set, masked /proc and missing id ranges each refuse a different
// part of the sandbox, and only an attempt tells them apart.
//
// Two throw-away child processes try everything and report: one inside the
// namespace kiln would build in (a new user namespace, or for root the
// initial one when it may unshare there), one with no namespace at all (the
// chroot level's parts: chroot, mknod, seccomp, no_new_privs).
#pragma once

#include <string>
#include <vector>

namespace kiln::sandbox {

struct IsolationProbe {
  bool root = false;            // euid 0 where kiln was started
  // User namespaces.
  bool userns = false;          // a new user namespace with the own id mapped
  bool userns_range = false;    // ... with the subordinate range mapped by newuidmap/newgidmap
  bool has_range = false;       // /etc/subuid and /etc/subgid have a range for the user
  bool root_needs_userns = false;  // root that cannot unshare a mount namespace without one (podman)
  // Inside the namespace kiln would build in.
  bool mountns = false, tmpfs = false, bind = false, overlay = false;
  bool proc = false;            // a fresh /proc in a new pid namespace (refused when /proc is masked)
  bool utsns = false, sethostname = false, ipcns = false, pidns = false, netns = false;
  // With no namespace at all.
  bool no_new_privs = false, seccomp = false;
  bool chroot = false;          // chroot(2) into a directory (CAP_SYS_CHROOT)
  bool mknod = false;           // a character device node (CAP_MKNOD, not refused by the devices cgroup)
  bool chown = false;           // chown to another id (CAP_CHOWN)
  bool setuid = false;          // CAP_SETUID and CAP_SETGID in the effective set
  // "what: why" for each attempt that failed, in probe order.
  std::vector<std::string> refused;

  // One line: "userns=yes range=no mountns=yes ..." for messages and tests.
  std::string Summary() const;
};

// Runs the probe. Never throws for a refusal (that is a result); throws
// sandbox::Error when it cannot even fork or make its scratch directory.
// Call it before EnterBuildNamespace, in the process kiln was started as.
IsolationProbe ProbeIsolation();

}  // namespace kiln::sandbox
