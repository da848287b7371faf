// Docker's default capability set for RUN, applied with libcap.
#pragma once

#include <sys/capability.h>

#include <vector>

namespace kiln::sandbox {

// CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
// SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
const std::vector<cap_value_t>& DefaultCapabilities();

// Drops every other capability from the bounding set and clears the
// ambient set. Call before changing uid. Throws sandbox::Error.
void RestrictBoundingSet();

// After setuid: effective+permitted = the default set for uid 0, empty for
// any other uid (like docker); inheritable always empty. Throws.
void ApplyCapabilities(bool is_root);

}  // namespace kiln::sandbox
