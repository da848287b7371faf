/* Escape probe for the sandbox isolation tests (isolation_test.cc compiles it
 * statically at test time: busybox has no keyctl, bpf, ...).
 * Usage: probe NAME [ARG]. Prints "DENIED <errno text>" and exits 0 when the
 * attempt failed, "ESCAPED" and exits 1 when it succeeded; "euid" prints the
 * effective uid. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int result(long rc) {
  if (rc < 0) {
    printf("DENIED %s\n", strerror(errno));
    return 0;
  }
  printf("ESCAPED\n");
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* what = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  if (!strcmp(what, "euid")) { printf("%d\n", (int)geteuid()); return 0; }
  if (!strcmp(what, "keyctl")) return result(syscall(SYS_keyctl, 1 /*JOIN_SESSION_KEYRING*/, 0));
  if (!strcmp(what, "add_key")) return result(syscall(SYS_add_key, "user", "kiln", "v", 1, -3));
  if (!strcmp(what, "bpf")) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY; attr.key_size = 4; attr.value_size = 4; attr.max_entries = 1;
    return result(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
  }
  if (!strcmp(what, "perf")) {
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof(pa));
    pa.size = sizeof(pa); pa.type = PERF_TYPE_SOFTWARE; pa.config = PERF_COUNT_SW_CPU_CLOCK;
    return result(syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0));
  }
  if (!strcmp(what, "unshare_user")) return result(unshare(CLONE_NEWUSER));
  if (!strcmp(what, "unshare_mnt")) return result(unshare(CLONE_NEWNS));
  if (!strcmp(what, "clone_user")) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, 0, 0);
    return result(pid);
  }
  if (!strcmp(what, "mount")) return result(mount("none", "/tmp", "tmpfs", 0, 0));
  if (!strcmp(what, "ptrace")) return result(ptrace(PTRACE_ATTACH, 1, 0, 0));
  if (!strcmp(what, "sysctl")) {
    int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
    if (fd < 0) return result(-1);
    return result(write(fd, "x", 1));
  }
  if (!strcmp(what, "module")) {
    int fd = open("/bin/busybox", O_RDONLY);
    return result(syscall(SYS_finit_module, fd, "", 0));
  }
  if (!strcmp(what, "reboot")) return result(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, 0));
  if (!strcmp(what, "mknod_block")) return result(mknod("/tmp/kiln-sda", S_IFBLK | 0600, makedev(8, 0)));
  if (!strcmp(what, "kill_host")) return result(kill(atoi(arg), 0));
  if (!strcmp(what, "chroot_escape")) {
    /* The classic breakout: chroot into a subdir, walk up past it. */
    mkdir("/tmp/kiln-jail", 0755);
    if (chroot("/tmp/kiln-jail") == 0) {
      for (int i = 0; i < 64; i++) chdir("..");
      chroot(".");
    }
    return result(open(arg, O_RDONLY));
  }
  if (!strcmp(what, "read")) return result(open(arg, O_RDONLY));
  if (!strcmp(what, "io_uring")) return result(syscall(SYS_io_uring_setup, 1, calloc(1, 256)));
  if (!strcmp(what, "settime")) { struct timespec ts = {0, 0}; return result(clock_settime(CLOCK_REALTIME, &ts)); }
  fprintf(stderr, "unknown probe %s\n", what);
  return 2;
}
