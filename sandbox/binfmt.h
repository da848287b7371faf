// Foreign-architecture binaries: whether the kernel runs them, through a
// binfmt_misc handler (Debian's qemu-user-static registers one per
// architecture), checked before a build runs anything.
#pragma once

#include <filesystem>
#include <string>

namespace kiln::sandbox {

struct Emulation {
  bool native = false;       // the host runs these binaries itself: nothing else applies
  std::string handler;       // "qemu-aarch64": the binfmt_misc entry that runs them
  std::string interpreter;   // "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
  // Flag F (fix-binary): the kernel opened the interpreter at registration, so
  // it works inside any root and user namespace. Without it the interpreter
  // must be visible at the same path inside the step's root.
  bool fix_binary = false;
};

// How binaries for `machine` (uname -m spelling: "aarch64", "armv7l",
// "s390x") run here. Throws sandbox::Error, naming the package to install and
// the command that registers the handler, when no enabled handler matches.
// `binfmt_dir`: for tests.
Emulation EmulationFor(const std::string& machine,
                       const std::filesystem::path& binfmt_dir = "/proc/sys/fs/binfmt_misc");

}  // namespace kiln::sandbox
