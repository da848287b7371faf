#include "sandbox/binfmt.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <filesystem>
#include <fstream>

#include "sandbox/error.h"

namespace kiln::sandbox {
namespace {

namespace fs = std::filesystem;

// A binfmt_misc directory as the kernel shows it, with Debian's aarch64 entry.
struct FakeBinfmt {
  fs::path dir;
  FakeBinfmt() {
    char tmpl[] = "/tmp/kiln-binfmt-XXXXXX";
    dir = ::mkdtemp(tmpl);
    Write("status", "enabled\n");
    Write("register", "");
  }
  ~FakeBinfmt() { fs::remove_all(dir); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; }
  void Aarch64(bool enabled, const std::string& flags) {
    Write("qemu-aarch64", std::string(enabled ? "enabled\n" : "disabled\n") +
                              "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: " + flags +
                              "\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n"
                              "mask ffffffffffffff00fffffffffffffffffeffffff\n");
  }
};

std::string Host() {
  struct utsname u {};
  ::uname(&u);
  return u.machine;
}

TEST(Binfmt, HostMachineIsNative) { EXPECT_TRUE(EmulationFor(Host(), "/nonexistent").native); }

TEST(Binfmt, FindsDebiansHandlerAndItsFlags) {
  if (Host() == "aarch64") GTEST_SKIP() << "aarch64 is native here";
  FakeBinfmt b;
  b.Aarch64(true, "PF");
  const Emulation e = EmulationFor("aarch64", b.dir);
  EXPECT_FALSE(e.native);
  EXPECT_EQ(e.handler, "qemu-aarch64");
  EXPECT_EQ(e.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
  EXPECT_TRUE(e.fix_binary);
  b.Aarch64(true, "P");
  EXPECT_FALSE(EmulationFor("aarch64", b.dir).fix_binary);
}

std::string ErrorOf(const std::string& machine, const fs::path& dir) {
  try {
    EmulationFor(machine, dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Binfmt, MissingOrDisabledHandlersSayWhatToRun) {
  if (Host() == "aarch64") GTEST_SKIP() << "aarch64 is native here";
  FakeBinfmt b;
  EXPECT_NE(ErrorOf("aarch64", b.dir).find("apt-get install qemu-user-static binfmt-support && update-binfmts "
                                           "--enable qemu-aarch64"),
            std::string::npos);
  b.Aarch64(false, "PF");
  EXPECT_NE(ErrorOf("aarch64", b.dir).find("update-binfmts --enable qemu-aarch64"), std::string::npos);
  EXPECT_NE(ErrorOf("s390x", b.dir).find("no handler"), std::string::npos);  // aarch64's entry is not s390x's
  EXPECT_NE(ErrorOf("aarch64", "/nonexistent").find("mount -t binfmt_misc"), std::string::npos);
  b.Write("status", "disabled\n");
  EXPECT_NE(ErrorOf("aarch64", b.dir).find("disabled"), std::string::npos);
}

TEST(Binfmt, ThisMachinesHandlersWhenRegistered) {
  // setup.sh --test registers Debian's handlers: the real entry must be found.
  if (Host() != "x86_64" || !fs::exists("/proc/sys/fs/binfmt_misc/qemu-aarch64")) GTEST_SKIP();
  const Emulation e = EmulationFor("aarch64");
  EXPECT_EQ(e.handler, "qemu-aarch64");
  EXPECT_TRUE(e.fix_binary);
}

}  // namespace
}  // namespace kiln::sandbox
