// The RUN seccomp filter, in the spirit of moby's default profile
// (profiles/seccomp/default.json): everything a build step needs is allowed;
// what needs capabilities outside docker's default set, or reaches the
// kernel's global state, fails with EPERM. Differences from moby: a
// deny-list rather than an allow-list (so new harmless syscalls keep
// working), only the native architecture is allowed (moby also allows the
// 32-bit ABIs; other ABIs here kill the process), and personality(2)
// allows only combinations of PER_LINUX32 (0x8) and UNAME26 (0x20000), i.e.
// 0, 0x8, 0x20000, 0x20008 as moby does (moby also allows the 0xffffffff
// query), and mknod of block and character devices is denied (moby allows
// it and relies on the devices cgroup, which kiln does not have).
#pragma once

#include <string>
#include <vector>

namespace kiln::sandbox {

// Syscalls denied outright with EPERM (names; those unknown on this
// architecture are skipped).
const std::vector<std::string>& DeniedSyscalls();

// Loads the filter into the calling thread (inherited across fork/execve).
// Needs no_new_privs or CAP_SYS_ADMIN. Throws sandbox::Error.
// `notify_chown`: the chown family goes to a supervisor instead
// (sandbox/chown_emulation.h); returns its listener fd, else -1.
int LoadSeccompFilter(bool notify_chown = false);

}  // namespace kiln::sandbox
