// Escape attempts from inside RUN: each test fails if the attempt succeeds.
// The probes busybox lacks (keyctl, bpf, ...) come from probe.c, compiled
// statically at test time (skipped with the reason when gcc -static fails).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/owner_record.h"
#include "sandbox/run.h"
#include "sandbox/userns.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

using testing::StepRootfs;

struct ProbeDir {
  std::string path = testing::MakeTempDir("kiln-sbx-probe");
  ~ProbeDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::string& ProbeBinary() {
  static ProbeDir dir;
  static std::string path = [] {
    std::string out = dir.path + "/probe";
    std::string cmd = "gcc -static -O1 -o '" + out + "' '" + testing::SourceDir() +
                      "/tests/sandbox/probe.c' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return out;
  }();
  return path;
}

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KILN_REQUIRE_BASE();
    fs_.emplace();
    canary_dir_ = testing::MakeTempDir("kiln-sbx-canary");
    canary_ = canary_dir_ + "/secret";
    testing::WriteText(canary_, "CANARY-CONTENT\n");
    ::chmod(canary_.c_str(), 0600);
  }
  void TearDown() override {
    fs_.reset();
    if (!canary_dir_.empty()) std::filesystem::remove_all(canary_dir_);
  }
  // Runs the probe inside; true when it reported DENIED.
  bool ProbeDenied(const std::string& what, const std::string& arg = "", std::string* out_text = nullptr) {
    if (ProbeBinary().empty()) return true;
    std::filesystem::copy_file(ProbeBinary(), fs_->merged() + "/probe",
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod((fs_->merged() + "/probe").c_str(), 0755);
    RunSpec spec = fs_->Spec({"/probe", what, arg});
    std::string out;
    spec.on_output = [&](std::string_view l) { out += std::string(l) + "\n"; };
    RunResult r = sandbox::Run(spec);
    if (out_text) *out_text = out;
    EXPECT_TRUE(r.ok() || r.exit_code == 1) << what << ": " << r.describe() << " " << out;
    return r.ok() && out.rfind("DENIED", 0) == 0;
  }
  void RequireProbe() {
    if (ProbeBinary().empty()) GTEST_SKIP() << "cannot compile the static probe (gcc -static / libc6-dev missing)";
  }
  std::optional<StepRootfs> fs_;
  std::string canary_dir_, canary_;
};

TEST_F(IsolationTest, CannotReadTheInvokingUsersFiles) {
  RunResult r;
  std::string out = fs_->Sh("cat " + canary_ + "; cat /proc/1/root" + canary_ + "; cat /proc/1/cwd" + canary_ +
                            "; readlink /proc/1/exe && echo EXE-VISIBLE; cat /proc/1/environ && echo ENV-VISIBLE; true", &r);
  EXPECT_EQ(out.find("CANARY"), std::string::npos) << out;
  EXPECT_EQ(out.find("EXE-VISIBLE"), std::string::npos) << out;
  EXPECT_EQ(out.find("ENV-VISIBLE"), std::string::npos) << out;
}

TEST_F(IsolationTest, ChrootBreakoutFails) {
  RequireProbe();
  std::string out;
  EXPECT_TRUE(ProbeDenied("chroot_escape", canary_, &out)) << out;
}

TEST_F(IsolationTest, SeesAndSignalsNoHostProcess) {
  RunResult r;
  std::string out = fs_->Sh("ls -d /proc/[0-9]* | wc -l; kill -0 " + std::to_string(::getppid()) +
                            " 2>/dev/null && echo SIGNALLED; kill -0 " + std::to_string(::getpid()) +
                            " 2>/dev/null && echo SIGNALLED; true", &r);
  EXPECT_TRUE(r.ok());
  // init, sh, ls (and wc): nothing of the host.
  EXPECT_LE(std::stoi(out), 4) << out;
  EXPECT_EQ(out.find("SIGNALLED"), std::string::npos) << out;
}

TEST_F(IsolationTest, CannotMount) {
  RunResult r;
  std::string out = fs_->Sh("mount -t tmpfs none /tmp && echo MOUNTED; mount --bind /bin /tmp && echo MOUNTED; true", &r);
  EXPECT_EQ(out.find("MOUNTED"), std::string::npos) << out;
  RequireProbe();
  EXPECT_TRUE(ProbeDenied("mount"));
}

TEST_F(IsolationTest, CannotCreateNamespaces) {
  RunResult r;
  std::string out = fs_->Sh("unshare -U true && echo USERNS; unshare -m true && echo MNTNS; true", &r);
  EXPECT_EQ(out.find("USERNS"), std::string::npos) << out;
  EXPECT_EQ(out.find("MNTNS"), std::string::npos) << out;
  RequireProbe();
  EXPECT_TRUE(ProbeDenied("unshare_user"));
  EXPECT_TRUE(ProbeDenied("unshare_mnt"));
  EXPECT_TRUE(ProbeDenied("clone_user"));
}

TEST_F(IsolationTest, KernelInterfacesAreDenied) {
  RequireProbe();
  for (const char* what : {"keyctl", "add_key", "bpf", "perf", "ptrace", "module", "reboot", "mknod_block",
                           "io_uring", "settime"}) {
    std::string out;
    EXPECT_TRUE(ProbeDenied(what, "", &out)) << what << ": " << out;
  }
}

TEST_F(IsolationTest, CannotWriteProcSys) {
  RunResult r;
  std::string out = fs_->Sh("echo 1 > /proc/sys/kernel/ns_last_pid && echo WROTE; "
                            "echo x > /proc/sys/kernel/hostname && echo WROTE; "
                            "echo h > /proc/sysrq-trigger && echo WROTE; cat /proc/kcore | head -c 1 | wc -c; true", &r);
  EXPECT_EQ(out.find("WROTE"), std::string::npos) << out;
  EXPECT_NE(out.find("0\n"), std::string::npos) << "/proc/kcore is masked: " << out;
}

TEST_F(IsolationTest, SetuidBinaryGainsNothing) {
  RequireProbe();
  if (!CurrentNamespace().CanOwn(1000, 1000)) GTEST_SKIP() << "uid 1000 is not mapped (no subordinate id range)";
  std::filesystem::copy_file(ProbeBinary(), fs_->merged() + "/suid-probe");
  ASSERT_EQ(::chown((fs_->merged() + "/suid-probe").c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod((fs_->merged() + "/suid-probe").c_str(), 04755), 0);
  RunResult r;
  std::string out = fs_->Sh("/suid-probe euid", &r, 1000);
  EXPECT_TRUE(r.ok()) << r.describe() << out;
  EXPECT_EQ(out, "1000\n");
}

TEST_F(IsolationTest, CapabilitiesNoNewPrivsSeccompAndFds) {
  RunResult r;
  std::string out = fs_->Sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
                            "ls /proc/self/fd | tr '\\n' ' '", &r);
  EXPECT_TRUE(r.ok()) << out;
  // docker's 14 default capabilities.
  EXPECT_NE(out.find("CapBnd:\t00000000a80425fb"), std::string::npos) << out;
  EXPECT_NE(out.find("CapEff:\t00000000a80425fb"), std::string::npos) << out;
  EXPECT_NE(out.find("CapInh:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapAmb:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
  // stdin/out/err and ls's own directory fd: nothing inherited.
  EXPECT_NE(out.find("\n0 1 2 3 "), std::string::npos) << out;
  if (CurrentNamespace().CanOwn(1000, 1000)) {
    std::string user = fs_->Sh("grep -E '^CapEff:' /proc/self/status; id -u", &r, 1000);
    EXPECT_EQ(user, "CapEff:\t0000000000000000\n1000\n");
  }
}

TEST_F(IsolationTest, FileLimitIsRaisedUpToTheHardLimit) {
  struct rlimit rl {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : std::min<rlim_t>(1048576, rl.rlim_max);
  RunResult r;
  std::string out = fs_->Sh("ulimit -n; ulimit -H -n", &r);
  EXPECT_EQ(out, std::to_string(want) + "\n" + std::to_string(want) + "\n");
}

TEST_F(IsolationTest, NetworkNoneHasOnlyLoopbackUp) {
  RunSpec spec = fs_->Spec({"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip link show lo | head -1"});
  spec.network = Network::kNone;
  std::string out;
  spec.on_output = [&](std::string_view l) { out += std::string(l) + "\n"; };
  RunResult r = sandbox::Run(spec);
  EXPECT_TRUE(r.ok()) << r.describe() << out;
  EXPECT_EQ(out.rfind("lo\n", 0), 0u) << out;
  EXPECT_NE(out.find("UP"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
}

TEST_F(IsolationTest, ChownKeepsTheOwnerOrFailsClearly) {
  RunResult r;
  std::string out = fs_->Sh("touch /f && chown 1234:2345 /f", &r);
  struct stat st {};
  if (CurrentNamespace().CanOwn(1234, 2345)) {
    EXPECT_TRUE(r.ok()) << out;
    ASSERT_EQ(::lstat((fs_->upper() + "/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 2345u);
  } else {
    // A single mapping: emulated (sandbox/chown_emulation.h), root's on
    // disk and the owner recorded for the layer writer.
    EXPECT_TRUE(r.ok()) << out;
    const std::string f = fs_->upper() + "/f";
    ASSERT_EQ(::lstat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(sandbox::OwnerOf(f, st), (sandbox::Owner{1234, 2345}));
    // Inside RUN, stat (newfstatat, statx) shows the recorded owner.
    out = fs_->Sh("stat -c %u:%g /f; ls -n /f | awk '{print $3\":\"$4}'", &r);
    EXPECT_EQ(out, "1234:2345\n1234:2345\n");
    // fchownat on a directory; a symlink cannot be recorded: EINVAL as before.
    out = fs_->Sh("mkdir /d && chown 5:6 /d && ln -s f /l && chown -h 5:5 /l", &r);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(out.find("Invalid argument"), std::string::npos) << out;
    ASSERT_EQ(::lstat((fs_->upper() + "/d").c_str(), &st), 0);
    EXPECT_EQ(sandbox::OwnerOf(fs_->upper() + "/d", st), (sandbox::Owner{5, 6}));
    // Back to a mapped owner: the record goes.
    fs_->Sh("chown 0:0 /f", &r);
    EXPECT_TRUE(r.ok());
    char v[16];
    EXPECT_LT(::lgetxattr(f.c_str(), sandbox::kOwnerXattr, v, sizeof v), 0);
  }
}

}  // namespace
}  // namespace kiln::sandbox
