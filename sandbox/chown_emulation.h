// RUN's chown family where only namespace root is mapped (a user with no
// /etc/subuid range): the sandbox's seccomp filter hands chown, lchown,
// fchown and fchownat to a supervisor thread in the sandbox's init (seccomp
// user notification), which gives the file the owner as a build with a
// range would: a real chown where the ids are mapped, else namespace root
// on disk and the owner recorded in user.rootlesscontainers
// (sandbox/owner_record.h), which the layer writer puts in the tar header.
// The stat family is routed there too: a file with a record is stat'ed
// with its recorded owner (tools that copy an owner by reading it, such as
// shadow's useradd rewriting /etc/gshadow, keep it); the kernel answers for
// every other file.
// The supervisor reads the caller's paths with process_vm_readv, or through
// /proc/PID/mem where a seccomp profile refuses it (Docker's default does,
// without CAP_SYS_PTRACE), and finds a process of the container's /proc
// with pidfd_open (Docker's default allows it).
// Symlinks, fifos and device nodes cannot carry the record: chown of one to
// an unmapped id fails with EINVAL, as it did before. Switching to another
// user (su, apt's _apt, setpriv) cannot be emulated: it fails, and the step's
// error names the ids and the missing range.
#pragma once

#include <string>
#include <vector>

namespace kiln::sandbox {

// True when this process' user namespace maps a single uid or gid.
bool ChownNeedsEmulation();

// The syscalls routed to the supervisor: the chown family, and the setuid
// family (setgroups too), which is only watched: a switch to an id the namespace maps goes
// on in the kernel; one to an unmapped id fails with EINVAL as the kernel
// would fail it, and is remembered for the step's error message. chroot is
// watched too: until a process calls it, every root is init's, the step's.
const std::vector<std::string>& EmulatedChownSyscalls();

// "uid 42, gid 65534": the unmapped ids a command of this sandbox tried to
// switch to (empty: none), for the message of a step that failed.
std::string UnmappedIdsTried();

// Answers the seccomp notifications of `notify_fd` until no process is
// left under its filter. Each chown is done as the caller would have it
// done (its paths resolved in its root, from its cwd and fds, with openat2:
// never out of that root); the caller gets the result as the syscall's.
void ServeChownNotifications(int notify_fd);

// Passing the listener fd from the command (which made the filter) to init.
// Throws sandbox::Error.
void SendFd(int sock, int fd);
// -1 when the other end closed without sending one.
int ReceiveFd(int sock);

}  // namespace kiln::sandbox
