#include "sandbox/seccomp_filter.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "sandbox/chown_emulation.h"
#include "sandbox/error.h"
#include "sandbox/syscalls.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace kiln::sandbox {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};

void Check(int rc, const std::string& what) {
  if (rc < 0) throw Error("building the seccomp filter (" + what + "): " + sys::ErrnoText(-rc));
}

}  // namespace

const std::vector<std::string>& DeniedSyscalls() {
  static const std::vector<std::string> names = {
      // Kernel keyring: not namespaced.
      "add_key", "keyctl", "request_key",
      // Tracing, profiling and kernel programs.
      "bpf", "perf_event_open", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
      "pidfd_getfd", "lookup_dcookie", "userfaultfd", "fanotify_init",
      // Modules and kernel replacement.
      "init_module", "finit_module", "delete_module", "create_module", "query_module",
      "get_kernel_syms", "kexec_load", "kexec_file_load",
      // Mounts and namespaces (the sandbox's own are set up before the filter).
      "mount", "umount", "umount2", "pivot_root", "move_mount", "fsopen", "fsconfig", "fsmount",
      "fspick", "open_tree", "mount_setattr", "setns",
      // Host-global state.
      "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "settimeofday", "stime",
      "clock_settime", "clock_adjtime", "adjtimex", "syslog", "sethostname", "setdomainname",
      "vhangup", "nfsservctl", "_sysctl", "sysfs", "uselib", "ustat",
      // File handles bypass path permission checks.
      "open_by_handle_at",
      // Raw port I/O and legacy modes.
      "iopl", "ioperm", "vm86", "vm86old",
      // io_uring bypasses this filter for the operations it performs.
      "io_uring_setup", "io_uring_enter", "io_uring_register",
  };
  return names;
}

int LoadSeccompFilter(bool notify_chown) {
  std::unique_ptr<void, CtxDeleter> holder(seccomp_init(SCMP_ACT_ALLOW));
  auto ctx = static_cast<scmp_filter_ctx>(holder.get());
  if (!ctx) throw Error("seccomp_init failed");
  // seccomp_init already restricts the filter to the native architecture:
  // syscalls of another ABI (int 0x80, x32) kill the process.
  Check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "bad-arch action");
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (const auto& name : DeniedSyscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;
    Check(seccomp_rule_add(ctx, eperm, nr, 0), name);
  }
  // clone3 passes its flags in memory, out of the filter's reach: ENOSYS
  // makes glibc fall back to clone(2), whose flags we can check.
  Check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
  const uint64_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
                               CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};
  for (uint64_t flag : ns_flags) {
    Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "unshare");
    // In clone(2), 0x80 is part of the exit signal, not CLONE_NEWTIME.
    if (flag == CLONE_NEWTIME) continue;
    Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "clone");
  }
  // Device nodes: docker lets CAP_MKNOD create them and relies on the
  // devices cgroup to stop their use; without that cgroup (rootless, or a
  // host that gives none) a block node would be raw disk access for real
  // root. So no block or character nodes at all (rootless kernels refuse
  // them anyway); fifos, sockets and regular files stay allowed.
  for (unsigned type : {unsigned{S_IFBLK}, unsigned{S_IFCHR}}) {
    Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(mknod), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, type)), "mknod");
    Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(mknodat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, type)), "mknodat");
  }
  // personality: only PER_LINUX32 (0x8) and UNAME26 (0x20000) may be set.
  // libseccomp cannot express "not in a set" in one rule, so deny each
  // other bit.
  for (int bit = 0; bit < 32; ++bit) {
    uint64_t mask = uint64_t{1} << bit;
    if (mask == 0x8 || mask == 0x20000) continue;
    Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, mask, mask)),
          "personality");
  }
  if (notify_chown) {
    for (const auto& name : EmulatedChownSyscalls())
      Check(seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, seccomp_syscall_resolve_name(name.c_str()), 0), name);
  }
  Check(seccomp_load(ctx), "load");
  if (!notify_chown) return -1;
  const int fd = seccomp_notify_fd(ctx);
  if (fd < 0) throw Error("the seccomp filter gave no listener fd for the chown emulation: " + sys::ErrnoText(-fd));
  return fd;
}

}  // namespace kiln::sandbox
