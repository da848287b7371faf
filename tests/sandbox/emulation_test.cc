// Emulated RUN: an arm64 busybox root runs under qemu-user through
// binfmt_misc in every isolation level this machine gives (full, relaxed,
// and chroot as real root), as root and, through
// tests/integration/sandbox_rootless_test.sh, as users with and without a
// subordinate range.
//
// A handler without flag F is tested with one registered for the test only
// (KILN_TEST_BINFMT_HANDLER, or registered here as real root): its magic
// matches only an arm64 ELF with "KILN" in the identification padding, so
// it never takes a binary from Debian's qemu-aarch64 (PF) entry, which stays
// enabled for the tests that run alongside.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/binfmt.h"
#include "sandbox/binfmt_interpreter.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/isolation_level.h"
#include "sandbox/run.h"
#include "sandbox/userns.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

using testing::IsolationScope;
using testing::StepRootfs;

constexpr const char* kBinfmt = "/proc/sys/fs/binfmt_misc";
constexpr const char* kInterpreter = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return Trim(out);
}

// Debian's arm64 busybox-static: KILN_ARM64_BUSYBOX, or fetched as the
// integration tests do (lib.sh kt_arm64_busybox: apt-get download, cached).
const std::string& Arm64Busybox() {
  static const std::string path = [] {
    if (const char* p = std::getenv("KILN_ARM64_BUSYBOX")) return std::string(p);
    return Capture("bash -c 'source \"$0/tests/integration/lib.sh\" && kt_arm64_busybox' '" + testing::SourceDir() +
                   "' 2>/dev/null");
  }();
  return path;
}

// Two roots made once: arm64 busybox, and the same with the busybox marked
// for the test handler.
struct Arm64Roots {
  std::string top, plain, marked;
  Arm64Roots() {
    if (Arm64Busybox().empty() || ::access(Arm64Busybox().c_str(), R_OK) != 0) return;
    top = testing::MakeTempDir("kiln-sbx-arm64");
    ::chmod(top.c_str(), 0755);
    const std::string bb = top + "/busybox-marked";
    {
      std::ifstream in(Arm64Busybox(), std::ios::binary);
      std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (elf.size() < 20) return;
      elf.replace(9, 4, "KILN");  // e_ident padding: ignored by the kernel and by qemu
      std::ofstream(bb, std::ios::binary) << elf;
      ::chmod(bb.c_str(), 0755);
    }
    const std::string script = "'" + testing::SourceDir() + "/scripts/make-busybox-rootfs.sh'";
    if (std::system(("BUSYBOX='" + Arm64Busybox() + "' bash " + script + " '" + top + "/plain' >/dev/null").c_str()) == 0)
      plain = top + "/plain";
    if (std::system(("BUSYBOX='" + bb + "' bash " + script + " '" + top + "/marked' >/dev/null").c_str()) == 0)
      marked = top + "/marked";
  }
  ~Arm64Roots() {
    std::error_code ec;
    if (!top.empty()) std::filesystem::remove_all(top, ec);
  }
  static const Arm64Roots& Get() {
    static Arm64Roots roots;
    return roots;
  }
};

// The registration of the test handler (tests/integration/sandbox_rootless_test.sh
// writes the same line).
std::string RegisterLine(const std::string& name) {
  return ":" + name +
         ":M::\\x7fELF\\x02\\x01\\x01\\x00\\x00KILN\\x00\\x00\\x00\\x02\\x00\\xb7\\x00"
         ":\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:" +
         std::string(kInterpreter) + ":P";
}

// The binfmt_misc entry without flag F for marked binaries: the one the
// integration script registered, or one registered here (real root) and
// removed at exit.
class TestHandler {
 public:
  static const TestHandler& Get() {
    static TestHandler h;
    return h;
  }
  ~TestHandler() {
    if (registered_) std::ofstream(std::string(kBinfmt) + "/" + name) << "-1";
  }
  std::string name, error;  // error: why there is none

 private:
  TestHandler() {
    if (const char* n = std::getenv("KILN_TEST_BINFMT_HANDLER")) {
      name = n;
    } else if (::geteuid() == 0 && !CurrentNamespace().rootless) {
      // Entries a killed run left (they match only marked binaries, but pile up).
      for (const auto& e : ListDirNames(kBinfmt)) {
        if (e.rfind("kiln-test-", 0) != 0) continue;
        const long pid = std::atol(e.c_str() + 10);
        if (pid > 0 && ProcessIsGone(static_cast<pid_t>(pid))) std::ofstream(std::string(kBinfmt) + "/" + e) << "-1";
      }
      name = "kiln-test-" + std::to_string(::getpid());
      std::ofstream reg(std::string(kBinfmt) + "/register");
      reg << RegisterLine(name);
      reg.close();
      registered_ = !reg.fail();
      if (!registered_) error = "registering " + name + " in " + kBinfmt + "/register failed";
    } else {
      error = "KILN_TEST_BINFMT_HANDLER is not set (rootless runs: the integration script registers it as root)";
      return;
    }
    const std::string entry = testing::ReadText(std::string(kBinfmt) + "/" + name);
    if (entry.rfind("enabled", 0) != 0 || entry.find("flags: P\n") == std::string::npos)
      error = "the test handler " + name + " is not an enabled entry with flags P: [" + entry + "]";
  }
  bool registered_ = false;
};

// The levels this machine gives: full (what the build namespace has),
// relaxed with every relaxation a container may force, and chroot as real
// root (Docker's default profile as root).
std::vector<Isolation> Levels() {
  std::vector<Isolation> levels = {CurrentIsolation()};
  Isolation relaxed = CurrentIsolation();
  relaxed.level = IsolationLevel::kRelaxed;
  relaxed.relaxed.proc_bind = relaxed.relaxed.keep_hostname = relaxed.relaxed.no_pidns = true;
  relaxed.relaxed.no_ipcns = true;
  levels.push_back(relaxed);
  if (!CurrentNamespace().rootless) {
    IsolationProbe docker_root;
    docker_root.root = true;
    docker_root.no_new_privs = docker_root.seccomp = docker_root.chroot = docker_root.mknod = true;
    docker_root.chown = docker_root.setuid = true;
    docker_root.refused = {"user namespace: Operation not permitted", "mount namespace: Operation not permitted"};
    levels.push_back(ChooseIsolation(docker_root, std::nullopt));
  }
  return levels;
}

RunResult RunIn(const StepRootfs& fs, std::vector<std::string> argv, const std::optional<Emulation>& emulation,
                std::string* out, uint32_t uid = 0) {
  RunSpec spec = fs.Spec(std::move(argv));
  spec.uid = spec.gid = uid;
  spec.emulation = emulation;
  out->clear();
  spec.on_output = [out](std::string_view line) { *out += std::string(line) + "\n"; };
  return sandbox::Run(spec);
}

class EmulationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Arm64Roots::Get().plain.empty() || Arm64Roots::Get().marked.empty())
      GTEST_FAIL() << "no arm64 busybox root: KILN_ARM64_BUSYBOX unset and lib.sh kt_arm64_busybox failed "
                      "(dpkg --add-architecture arm64 && apt-get update; scripts/setup.sh --test does it)";
  }
};

TEST_F(EmulationTest, Arm64RunsInEveryLevelThroughDebiansHandler) {
  Emulation emu;
  try {
    emu = EmulationFor("aarch64");
  } catch (const Error& e) {
    GTEST_FAIL() << "scripts/setup.sh --test registers Debian's handlers: " << e.what();
  }
  ASSERT_FALSE(emu.native);
  EXPECT_TRUE(emu.fix_binary) << emu.handler << " (Debian registers qemu-aarch64 with flags PF)";
  for (const Isolation& iso : Levels()) {
    IsolationScope scope(iso);
    StepRootfs fs(Arm64Roots::Get().plain);
    std::string out;
    RunResult r = RunIn(fs, {"uname", "-m"}, emu, &out);
    EXPECT_TRUE(r.ok()) << iso.Name() << ": " << r.describe() << " " << out;
    EXPECT_EQ(out, "aarch64\n") << iso.Name();
    // What qemu does on the host under kiln's seccomp filter and capabilities:
    // file listing, ids, a child shell, /proc where the level has one, writes.
    const bool proc = iso.level != IsolationLevel::kChroot;
    r = RunIn(fs,
              {"sh", "-c",
               std::string("ls -l / >/dev/null && echo ls-ok; id -u; sh -c 'echo $((6 * 7))'; ") +
                   (proc ? "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -d '\\t'; " : "") +
                   "echo made >/made; cat /made"},
              emu, &out);
    EXPECT_TRUE(r.ok()) << iso.Name() << ": " << r.describe() << " " << out;
    EXPECT_EQ(out, std::string("ls-ok\n0\n42\n") + (proc ? "NoNewPrivs:1\nSeccomp:2\n" : "") + "made\n")
        << iso.Name();
    if (CurrentNamespace().CanOwn(1000, 1000)) {
      r = RunIn(fs, {"sh", "-c", "id -u; touch /tmp/u && stat -c %u /tmp/u"}, emu, &out, 1000);
      EXPECT_TRUE(r.ok()) << iso.Name() << ": " << r.describe() << " " << out;
      EXPECT_EQ(out, "1000\n1000\n") << iso.Name();
    }
  }
}

TEST_F(EmulationTest, HandlerWithoutFixBinaryFindsItsInterpreterInTheRootAndLeavesNothing) {
  const TestHandler& handler = TestHandler::Get();
  ASSERT_TRUE(handler.error.empty()) << handler.error;
  const Emulation emu{false, handler.name, kInterpreter, false};
  const std::string interp_rel = std::string(kInterpreter).substr(1);
  for (const Isolation& iso : Levels()) {
    IsolationScope scope(iso);
    {
      StepRootfs fs(Arm64Roots::Get().marked);
      std::string out;
      // Without kiln's help the kernel finds no interpreter in the root.
      RunResult r = RunIn(fs, {"uname", "-m"}, std::nullopt, &out);
      EXPECT_FALSE(r.ok()) << iso.Name() << ": ran without the interpreter in the root: " << out;
      r = RunIn(fs, {"sh", "-c", "uname -m; test -x " + std::string(kInterpreter) + " && echo visible"}, emu, &out);
      EXPECT_TRUE(r.ok()) << iso.Name() << ": " << r.describe() << " " << out;
      EXPECT_EQ(out, "aarch64\nvisible\n") << iso.Name();
      // Gone after the run, with the directories made for it: nothing for the layer.
      EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/usr/libexec")) << iso.Name();
      EXPECT_FALSE(std::filesystem::exists(fs.upper() + "/usr/libexec")) << iso.Name();
    }
    {
      // An image with a file of its own at that path gets it back.
      StepRootfs fs(Arm64Roots::Get().marked);
      std::filesystem::create_directories(fs.merged() + "/usr/libexec/qemu-binfmt");
      testing::WriteText(fs.merged() + "/" + interp_rel, "the image's own\n");
      std::string out;
      RunResult r = RunIn(fs, {"uname", "-m"}, emu, &out);
      EXPECT_TRUE(r.ok()) << iso.Name() << ": " << r.describe() << " " << out;
      EXPECT_EQ(out, "aarch64\n") << iso.Name();
      EXPECT_EQ(testing::ReadText(fs.merged() + "/" + interp_rel), "the image's own\n") << iso.Name();
      EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/usr/libexec/qemu-binfmt/.kiln-saved-aarch64-binfmt-P"))
          << iso.Name();
    }
  }
}

TEST_F(EmulationTest, AMissingInterpreterIsAPreciseError) {
  StepRootfs fs(Arm64Roots::Get().marked);
  std::string out;
  const Emulation emu{false, "kiln-test-missing", "/nonexistent/qemu-aarch64", false};
  try {
    RunIn(fs, {"uname", "-m"}, emu, &out);
    FAIL() << "ran with a missing interpreter";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the interpreter /nonexistent/qemu-aarch64 of the binfmt_misc handler "
                                         "kiln-test-missing is not a file on this host"),
              std::string::npos)
        << e.what();
  }
}

TEST(BinfmtInterpreterTest, OnlyAStaticInterpreterCanServeInsideTheRoot) {
  EXPECT_EQ(HostInterpreter(Emulation{false, "qemu-aarch64", kInterpreter, true}),
            std::filesystem::canonical(kInterpreter));
  try {
    HostInterpreter(Emulation{false, "kiln-test-dynamic", "/bin/true", false});
    FAIL() << "a dynamically linked interpreter was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is dynamically linked (it needs /"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::sandbox
