/* Runs a command the way a container runtime would leave it, to test kiln's
 * isolation levels on the host (isolation_levels_test.sh compiles it).
 *
 *   container_sim [--seccomp docker] [--caps docker|none] [--nnp] [--mask-proc]
 *                 [--user UID:GID] -- CMD ARGS...
 *
 * --seccomp docker  what Docker's default profile does without CAP_SYS_ADMIN
 *                   (Kubernetes' RuntimeDefault follows it): unshare, setns,
 *                   mount and the new mount API, pivot_root, sethostname and
 *                   clone with namespace flags fail with EPERM; clone3 fails
 *                   with ENOSYS, so libc falls back to clone. Without
 *                   CAP_SYS_PTRACE (not in Docker's default set) ptrace,
 *                   process_vm_readv/writev, kcmp, pidfd_getfd and
 *                   process_madvise fail with EPERM (measured with dockerd
 *                   20.10.24: pidfd_open is allowed).
 * --seccomp docker-sys-admin  the same profile for a container given
 *                   CAP_SYS_ADMIN: namespaces and mounts allowed, the
 *                   ptrace family still refused.
 * --caps docker     root keeps only Docker's default capability set; none:
 *                   no capability at all (Kubernetes "restricted").
 * --nnp             no_new_privs (--security-opt no-new-privileges).
 * --mask-proc       podman's masked /proc: files over /proc/kcore etc. in a
 *                   private mount namespace, so a fresh /proc is refused in a
 *                   user namespace.
 * --user UID:GID    then runs as that user (no supplementary groups).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "container_sim: %s: %s\n", what, strerror(errno));
  exit(125);
}

static void docker_seccomp(int sys_admin) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) die("seccomp_init");
  const char* no_ptrace[] = {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
                             "process_madvise", NULL};
  for (int i = 0; no_ptrace[i]; i++) {
    int nr = seccomp_syscall_resolve_name(no_ptrace[i]);
    if (nr == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0) die(no_ptrace[i]);
  }
  if (sys_admin) {
    if (seccomp_load(ctx) != 0) die("seccomp_load");
    seccomp_release(ctx);
    return;
  }
  const char* denied[] = {"unshare",  "setns",     "mount",      "umount2",       "pivot_root", "sethostname",
                          "setdomainname", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
                          "open_tree", "mount_setattr", NULL};
  for (int i = 0; denied[i]; i++) {
    int nr = seccomp_syscall_resolve_name(denied[i]);
    if (nr == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0) die(denied[i]);
  }
  /* clone with any namespace flag: EPERM (one rule per flag: a masked
   * comparison matches "flag set"). */
  const unsigned long flags[] = {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                                 CLONE_NEWNET, CLONE_NEWCGROUP};
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i])) != 0)
      die("seccomp clone rule");
  }
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0) die("seccomp clone3 rule");
  if (seccomp_load(ctx) != 0) die("seccomp_load");
  seccomp_release(ctx);
}

static const cap_value_t kDocker[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                                      CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                                      CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                                      CAP_KILL,    CAP_AUDIT_WRITE};

/* The bounding set first (that needs CAP_SETPCAP), the process's own sets
 * after the user is switched (that needs CAP_SETUID/SETGID). */
static void drop_bounding(int keep_docker) {
  const int n = keep_docker ? (int)(sizeof(kDocker) / sizeof(kDocker[0])) : 0;
  for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
    int keep = 0;
    for (int i = 0; i < n; i++) keep |= kDocker[i] == c;
    if (!keep && cap_drop_bound(c) != 0 && errno != EINVAL) die("cap_drop_bound");
  }
}

static void set_caps(int keep_docker) {
  const int n = keep_docker ? (int)(sizeof(kDocker) / sizeof(kDocker[0])) : 0;
  cap_t caps = cap_init();
  if (n > 0 && geteuid() == 0) {
    cap_set_flag(caps, CAP_EFFECTIVE, n, kDocker, CAP_SET);
    cap_set_flag(caps, CAP_PERMITTED, n, kDocker, CAP_SET);
    cap_set_flag(caps, CAP_INHERITABLE, n, kDocker, CAP_SET);
  }
  if (cap_set_proc(caps) != 0) die("cap_set_proc");
  cap_free(caps);
}

/* A container's mount namespace has its own /proc only: another proc mount
 * of the host (a debootstrap chroot's) is fully visible and would let the
 * kernel allow a fresh /proc after all. */
static void unmount_other_procs(void) {
  FILE* f = fopen("/proc/self/mountinfo", "r");
  if (!f) die("/proc/self/mountinfo");
  char line[4096], points[64][1024];
  int n = 0;
  while (n < 64 && fgets(line, sizeof(line), f)) {
    char point[1024];
    const char* dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1) continue;
    if (strncmp(dash + 3, "proc ", 5) == 0 && strcmp(point, "/proc") != 0) snprintf(points[n++], 1024, "%s", point);
  }
  fclose(f);
  for (int i = n - 1; i >= 0; i--) umount2(points[i], MNT_DETACH);
}

static void mask_proc(void) {
  if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS)");
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("making / private");
  unmount_other_procs();
  const char* files[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", NULL};
  for (int i = 0; files[i]; i++)
    if (access(files[i], F_OK) == 0 && mount("/dev/null", files[i], NULL, MS_BIND, NULL) != 0) die(files[i]);
  if (access("/proc/scsi", F_OK) == 0 && mount("tmpfs", "/proc/scsi", "tmpfs", MS_RDONLY, NULL) != 0)
    die("/proc/scsi");
}

int main(int argc, char** argv) {
  int seccomp = 0, caps = -1, nnp = 0, maskproc = 0, i = 1;
  uid_t uid = 0;
  gid_t gid = 0;
  int set_user = 0;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--seccomp") == 0 && i + 1 < argc && strcmp(argv[i + 1], "docker") == 0) {
      seccomp = 1, i++;
    } else if (strcmp(argv[i], "--seccomp") == 0 && i + 1 < argc && strcmp(argv[i + 1], "docker-sys-admin") == 0) {
      seccomp = 2, i++;
    } else if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc) {
      caps = strcmp(argv[++i], "docker") == 0 ? 1 : 0;
    } else if (strcmp(argv[i], "--nnp") == 0) {
      nnp = 1;
    } else if (strcmp(argv[i], "--mask-proc") == 0) {
      maskproc = 1;
    } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc &&
               sscanf(argv[i + 1], "%u:%u", &uid, &gid) == 2) {
      set_user = 1, i++;
    } else {
      fprintf(stderr, "container_sim: unknown option %s\n", argv[i]);
      return 125;
    }
  }
  if (i + 1 >= argc) {
    fprintf(stderr, "usage: container_sim [options] -- CMD ARGS...\n");
    return 125;
  }
  if (maskproc) mask_proc();
  if (seccomp) docker_seccomp(seccomp == 2);  /* loaded as root: no no_new_privs needed */
  if (caps >= 0) drop_bounding(caps);
  if (set_user) {
    if (setgroups(0, NULL) != 0) die("setgroups");
    if (setresgid(gid, gid, gid) != 0) die("setresgid");
    if (setresuid(uid, uid, uid) != 0) die("setresuid");
  }
  if (caps >= 0) set_caps(caps);
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  execvp(argv[i + 1], argv + i + 1);
  die(argv[i + 1]);
  return 127;
}
