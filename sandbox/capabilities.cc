#include "sandbox/capabilities.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

#include "sandbox/error.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {

const std::vector<cap_value_t>& DefaultCapabilities() {
  static const std::vector<cap_value_t> caps = {
      CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER,           CAP_MKNOD,
      CAP_NET_RAW, CAP_SETGID,      CAP_SETUID, CAP_SETFCAP,          CAP_SETPCAP,
      CAP_NET_BIND_SERVICE,         CAP_SYS_CHROOT, CAP_KILL,          CAP_AUDIT_WRITE};
  return caps;
}

void RestrictBoundingSet(const std::vector<cap_value_t>& also_drop) {
  const auto& keep = DefaultCapabilities();
  for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
    if (std::find(keep.begin(), keep.end(), cap) != keep.end() &&
        std::find(also_drop.begin(), also_drop.end(), cap) == also_drop.end())
      continue;
    if (cap_get_bound(cap) == 0) continue;  // gone already (a container dropped it)
    if (cap_drop_bound(cap) != 0) {
      throw Error("dropping capability " + std::to_string(cap) + " from the bounding set: " +
                  sys::ErrnoText(errno));
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    throw Error("clearing the ambient capabilities: " + sys::ErrnoText(errno));
  }
}

void ApplyCapabilities(bool is_root, const std::vector<cap_value_t>& also_drop) {
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> caps(cap_init(), cap_free);
  if (!caps) throw Error("cap_init: " + sys::ErrnoText(errno));
  if (is_root) {
    std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> have(cap_get_proc(), cap_free);
    if (!have) throw Error("cap_get_proc: " + sys::ErrnoText(errno));
    std::vector<cap_value_t> list;
    for (cap_value_t cap : DefaultCapabilities()) {
      cap_flag_value_t v = CAP_CLEAR;
      if (std::find(also_drop.begin(), also_drop.end(), cap) != also_drop.end()) continue;
      if (cap_get_flag(have.get(), cap, CAP_PERMITTED, &v) == 0 && v == CAP_SET) list.push_back(cap);
    }
    for (cap_flag_t flag : {CAP_EFFECTIVE, CAP_PERMITTED}) {
      if (cap_set_flag(caps.get(), flag, static_cast<int>(list.size()), list.data(), CAP_SET) != 0) {
        throw Error("cap_set_flag: " + sys::ErrnoText(errno));
      }
    }
  }
  if (cap_set_proc(caps.get()) != 0) {
    throw Error("setting the RUN capabilities: " + sys::ErrnoText(errno));
  }
}

}  // namespace kiln::sandbox
