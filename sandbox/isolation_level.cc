#include "sandbox/isolation_level.h"

#include <unistd.h>

#include "sandbox/error.h"

namespace kiln::sandbox {
namespace {

Isolation g_current;

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

std::string RefusedText(const IsolationProbe& p) {
  return p.refused.empty() ? std::string("nothing refused") : Join(p.refused, "; ");
}

// What RUN lacks here, and the container or pod setting that grants it.
std::string RunRefusal(const IsolationProbe& p) {
  std::string what;
  if (!p.root && !p.userns) {
    what = "RUN needs a user namespace, and this machine refuses one";
  } else if (!p.mountns) {
    what = "RUN needs a mount namespace, and this machine refuses one";
  } else if (!p.seccomp || !p.no_new_privs) {
    what = "RUN needs no_new_privs and a seccomp filter, and this machine refuses them";
  } else {
    what = "RUN needs a namespace or chroot(2), and this machine refuses both";
  }
  return what + " (" + RefusedText(p) +
         "). To allow RUN: run kiln as root in the container (docker/podman: --user 0; Kubernetes: "
         "runAsUser: 0 with the default capabilities, which keeps CAP_SYS_CHROOT), or allow user namespaces "
         "(docker/podman: --security-opt seccomp=unconfined; Kubernetes: seccompProfile: Unconfined; the "
         "sysctl user.max_user_namespaces > 0)";
}

bool FullParts(const IsolationProbe& p) {
  return p.proc && p.utsns && p.sethostname && p.ipcns && p.pidns && p.netns;
}

bool RelaxedBase(const IsolationProbe& p) {
  return (p.root || p.userns) && p.mountns && p.bind && p.tmpfs && p.seccomp && p.no_new_privs;
}

bool ChrootBase(const IsolationProbe& p) { return p.root && p.chroot && p.seccomp && p.no_new_privs; }

Isolation Namespaced(const IsolationProbe& p, IsolationLevel level) {
  Isolation iso;
  iso.level = level;
  iso.userns = !p.root || p.root_needs_userns;
  iso.use_range = p.root || p.userns_range;
  iso.mounts = true;
  if (level == IsolationLevel::kRelaxed) {
    iso.relaxed.proc_bind = !p.proc;
    iso.relaxed.keep_hostname = !p.utsns || !p.sethostname;
    iso.relaxed.no_pidns = !p.pidns;
    iso.relaxed.no_ipcns = !p.ipcns;
    iso.relaxed.no_netns = !p.netns;
  }
  return iso;
}

Isolation Chroot(const IsolationProbe& p) {
  Isolation iso;
  iso.level = IsolationLevel::kChroot;
  iso.userns = false;
  iso.use_range = true;
  iso.mounts = false;
  iso.mknod = p.mknod;
  return iso;
}

Isolation None(const IsolationProbe& p) {
  Isolation iso;
  iso.level = IsolationLevel::kNone;
  iso.userns = false;
  iso.use_range = true;
  iso.mounts = false;
  iso.run_refusal = RunRefusal(p);
  return iso;
}

}  // namespace

std::string Isolation::Name() const {
  switch (level) {
    case IsolationLevel::kFull: return "full";
    case IsolationLevel::kRelaxed: return "relaxed";
    case IsolationLevel::kChroot: return "chroot";
    case IsolationLevel::kNone: return "none";
  }
  return "?";
}

std::string Isolation::Describe() const {
  const std::string ids = !userns ? "" : use_range ? ", id range mapped" : ", single id mapped";
  switch (level) {
    case IsolationLevel::kFull:
      return std::string("isolation full: RUN in ") + (userns ? "a user namespace and its own " : "its own ") +
             "mount, pid, ipc, uts (and for --network=none network) namespaces with a fresh /proc, seccomp filter, "
             "docker's capability set and no_new_privs" + ids;
    case IsolationLevel::kRelaxed: {
      std::vector<std::string> parts;
      if (relaxed.proc_bind) parts.push_back("/proc is the container's, read-only (a fresh /proc is refused: masked /proc)");
      if (relaxed.keep_hostname) parts.push_back("the host name is the container's (sethostname refused)");
      if (relaxed.no_pidns) parts.push_back("RUN sees kiln's processes and may leave some behind (no pid namespace)");
      if (relaxed.no_ipcns) parts.push_back("RUN shares the container's IPC (no IPC namespace)");
      if (relaxed.no_netns) parts.push_back("RUN --network=none is refused (no network namespace)");
      if (parts.empty()) parts.push_back("nothing (forced)");
      return "isolation relaxed: the full sandbox" + ids + ", except: " + Join(parts, "; ");
    }
    case IsolationLevel::kChroot:
      return std::string("isolation chroot: RUN chroot(2)ed into the step's root with kiln's seccomp filter, "
                         "no_new_privs and docker's capabilities less CAP_SYS_CHROOT; NOT protected: RUN shares "
                         "the container's processes, network, IPC and host name, has no /proc, ") +
             (mknod ? "gets /dev nodes by mknod" : "has no /dev nodes (CAP_MKNOD refused)") +
             ", and its root is the container's root";
    case IsolationLevel::kNone:
      return "isolation none: builds without RUN only (no namespace, chroot or capability to run a step with); "
             "no step runs code";
  }
  return "";
}

std::string Isolation::Serialize() const {
  std::string bits;
  for (bool b : {userns, use_range, mounts, mknod, relaxed.proc_bind, relaxed.keep_hostname, relaxed.no_pidns,
                 relaxed.no_ipcns, relaxed.no_netns})
    bits += b ? '1' : '0';
  return Name() + ":" + bits + ":" + run_refusal;
}

Isolation Isolation::Deserialize(const std::string& text) {
  Isolation iso;
  const size_t c1 = text.find(':');
  const size_t c2 = c1 == std::string::npos ? c1 : text.find(':', c1 + 1);
  auto level = c1 == std::string::npos ? std::nullopt : ParseIsolationLevel(text.substr(0, c1), "isolation marker");
  const std::string bits = c2 == std::string::npos ? "" : text.substr(c1 + 1, c2 - c1 - 1);
  if (!level || bits.size() != 9 || bits.find_first_not_of("01") != std::string::npos)
    throw Error("inconsistent isolation marker \"" + text + "\"");
  iso.level = *level;
  bool* fields[] = {&iso.userns, &iso.use_range, &iso.mounts, &iso.mknod, &iso.relaxed.proc_bind,
                    &iso.relaxed.keep_hostname, &iso.relaxed.no_pidns, &iso.relaxed.no_ipcns, &iso.relaxed.no_netns};
  for (size_t i = 0; i < bits.size(); ++i) *fields[i] = bits[i] == '1';
  iso.run_refusal = text.substr(c2 + 1);
  return iso;
}

std::optional<IsolationLevel> ParseIsolationLevel(const std::string& text, const std::string& source) {
  if (text.empty() || text == "auto") return std::nullopt;
  if (text == "full") return IsolationLevel::kFull;
  if (text == "relaxed") return IsolationLevel::kRelaxed;
  if (text == "chroot") return IsolationLevel::kChroot;
  if (text == "none") return IsolationLevel::kNone;
  throw Error(source + " " + text + ": expected auto, full, relaxed, chroot or none");
}

Isolation ChooseIsolation(const IsolationProbe& p, std::optional<IsolationLevel> forced) {
  if (!forced) {
    if (RelaxedBase(p)) return Namespaced(p, FullParts(p) ? IsolationLevel::kFull : IsolationLevel::kRelaxed);
    if (ChrootBase(p)) return Chroot(p);
    return None(p);
  }
  const std::string refused = RefusedText(p);
  switch (*forced) {
    case IsolationLevel::kFull:
      if (!RelaxedBase(p) || !FullParts(p))
        throw Error("isolation full is not possible here: " + refused +
                    " (--isolation auto picks the strongest level this machine allows)");
      return Namespaced(p, IsolationLevel::kFull);
    case IsolationLevel::kRelaxed:
      if (!RelaxedBase(p))
        throw Error("isolation relaxed is not possible here: it needs a mount namespace (as root, or in a user "
                    "namespace), bind and tmpfs mounts, seccomp and no_new_privs, and this machine refused: " +
                    refused);
      return Namespaced(p, IsolationLevel::kRelaxed);
    case IsolationLevel::kChroot:
      if (!ChrootBase(p))
        throw Error(std::string("isolation chroot is not possible here: it needs root with CAP_SYS_CHROOT, seccomp "
                                "and no_new_privs") +
                    (p.root ? "" : ", and kiln runs as uid " + std::to_string(::getuid())) + "; refused: " + refused);
      return Chroot(p);
    case IsolationLevel::kNone: {
      Isolation iso = None(p);
      iso.run_refusal = "RUN is off: isolation none was asked for (--isolation none or KILN_ISOLATION=none)";
      return iso;
    }
  }
  return None(p);
}

const Isolation& CurrentIsolation() { return g_current; }
void SetCurrentIsolation(const Isolation& isolation) { g_current = isolation; }

}  // namespace kiln::sandbox
