// The isolation levels of a build, strongest first, and the choice of one
// from what the probe (sandbox/isolation_probe.h) found.
//
//   full     today's sandbox: user, mount, pid, ipc, uts (and net) namespaces,
//            a fresh /proc, seccomp, docker's capability set, no_new_privs.
//   relaxed  the same, with each part the container refuses dropped and
//            named (a masked /proc, a refused sethostname, no pid/ipc/net
//            namespace).
//   chroot   root where no namespace can be made (docker's and Kubernetes'
//            default seccomp profile): RUN runs chroot(2)ed into the step's
//            root, a plain directory, with fewer capabilities than docker's
//            set (no CAP_SYS_CHROOT), kiln's seccomp filter, no_new_privs.
//            Snapshots need no mount.
//   none     nothing allowed: builds without RUN work; a RUN fails before
//            anything runs, naming what is missing.
//
// The builder picks one (auto, --isolation, KILN_ISOLATION) before it enters
// the build namespace; the sandbox then reads CurrentIsolation().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sandbox/isolation_probe.h"

namespace kiln::sandbox {

enum class IsolationLevel { kFull, kRelaxed, kChroot, kNone };

// The parts of the full sandbox a relaxed level goes without.
struct Relaxations {
  bool proc_bind = false;     // the container's /proc bound read-only instead of a fresh one
  bool keep_hostname = false; // the host name stays the container's
  bool no_pidns = false;      // RUN shares kiln's pid namespace
  bool no_ipcns = false;      // RUN shares kiln's IPC namespace
  bool no_netns = false;      // RUN --network=none cannot be given
  bool any() const { return proc_bind || keep_hostname || no_pidns || no_ipcns || no_netns; }
};

struct Isolation {
  IsolationLevel level = IsolationLevel::kFull;
  Relaxations relaxed;
  bool userns = true;          // the build runs in a user namespace of its own
  bool use_range = true;       // ... with the subordinate range mapped (false: single id)
  bool mounts = true;          // the build may mount (it has a mount namespace)
  bool mknod = false;          // chroot: device nodes may be made
  // Why RUN cannot run at the none level: what is missing and the setting that grants it.
  std::string run_refusal;

  // "full", "relaxed", "chroot", "none".
  std::string Name() const;
  // The one line kiln prints at the start of a build: the level, what it
  // protects and what not.
  std::string Describe() const;
  // For the environment of the re-executed build process, and back.
  std::string Serialize() const;
  static Isolation Deserialize(const std::string& text);  // throws sandbox::Error
};

// "auto", "full", "relaxed", "chroot", "none"; throws sandbox::Error naming
// the accepted values (`source` is "--isolation" or "KILN_ISOLATION").
std::optional<IsolationLevel> ParseIsolationLevel(const std::string& text, const std::string& source);

// The strongest level the probe allows, or the `forced` one; a forced level
// the machine cannot give throws sandbox::Error saying what was refused.
Isolation ChooseIsolation(const IsolationProbe& probe, std::optional<IsolationLevel> forced);

// What the build runs with (set by EnterBuildNamespace; full until then).
const Isolation& CurrentIsolation();
void SetCurrentIsolation(const Isolation& isolation);

}  // namespace kiln::sandbox
