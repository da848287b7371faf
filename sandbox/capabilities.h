// Docker's default capability set for RUN, applied with libcap.
#pragma once

#include <sys/capability.h>

#include <vector>

namespace kiln::sandbox {

// CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
// SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
const std::vector<cap_value_t>& DefaultCapabilities();

// Drops every other capability (and `also_drop`) from the bounding set and
// clears the ambient set. Call before changing uid. Throws sandbox::Error.
void RestrictBoundingSet(const std::vector<cap_value_t>& also_drop = {});

// After setuid: effective+permitted = the default set less `also_drop` for
// uid 0, as far as the process still has them (a container may have given
// kiln fewer), empty for any other uid (like docker); inheritable always
// empty. Throws.
void ApplyCapabilities(bool is_root, const std::vector<cap_value_t>& also_drop = {});

}  // namespace kiln::sandbox
