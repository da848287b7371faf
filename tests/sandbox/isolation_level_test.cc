// The isolation levels: the choice from a probe (pure logic, every level),
// the probe on this machine, and RUN at each level this host can give
// (chroot needs real root; the relaxed parts are forced, as a container
// would refuse them).
#include "sandbox/isolation_level.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "sandbox/error.h"
#include "sandbox/isolation_probe.h"
#include "sandbox/overlay.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

using testing::IsolationScope;
using testing::StepRootfs;

IsolationProbe Everything() {
  IsolationProbe p;
  p.root = false;
  p.userns = p.userns_range = p.has_range = true;
  p.mountns = p.tmpfs = p.bind = p.overlay = p.proc = true;
  p.utsns = p.sethostname = p.ipcns = p.pidns = p.netns = true;
  p.no_new_privs = p.seccomp = true;
  return p;
}

// Docker's default profile as root: no namespace, the default capabilities.
IsolationProbe DockerRoot() {
  IsolationProbe p;
  p.root = true;
  p.no_new_privs = p.seccomp = p.chroot = p.mknod = p.chown = p.setuid = true;
  p.refused = {"user namespace: Operation not permitted", "mount namespace: Operation not permitted"};
  return p;
}

TEST(IsolationChoiceTest, EverythingAllowedIsFull) {
  Isolation iso = ChooseIsolation(Everything(), std::nullopt);
  EXPECT_EQ(iso.Name(), "full");
  EXPECT_TRUE(iso.userns);
  EXPECT_TRUE(iso.use_range);
  EXPECT_TRUE(iso.mounts);
  EXPECT_FALSE(iso.relaxed.any());
  EXPECT_NE(iso.Describe().find("fresh /proc"), std::string::npos) << iso.Describe();
}

TEST(IsolationChoiceTest, PodmanRefusalsAreRelaxedAndNamed) {
  IsolationProbe p = Everything();
  p.proc = false;         // masked /proc
  p.sethostname = false;  // refused in the new UTS namespace
  p.userns_range = false; // setuid newuidmap fails there
  Isolation iso = ChooseIsolation(p, std::nullopt);
  EXPECT_EQ(iso.Name(), "relaxed");
  EXPECT_TRUE(iso.relaxed.proc_bind);
  EXPECT_TRUE(iso.relaxed.keep_hostname);
  EXPECT_FALSE(iso.relaxed.no_pidns);
  EXPECT_FALSE(iso.use_range);
  const std::string d = iso.Describe();
  EXPECT_NE(d.find("/proc is the container's"), std::string::npos) << d;
  EXPECT_NE(d.find("sethostname refused"), std::string::npos) << d;
  EXPECT_NE(d.find("single id mapped"), std::string::npos) << d;
}

TEST(IsolationChoiceTest, NoPidNamespaceIsNamed) {
  IsolationProbe p = Everything();
  p.pidns = p.proc = false;
  Isolation iso = ChooseIsolation(p, std::nullopt);
  EXPECT_EQ(iso.Name(), "relaxed");
  EXPECT_TRUE(iso.relaxed.no_pidns);
  EXPECT_TRUE(iso.relaxed.proc_bind);
  EXPECT_NE(iso.Describe().find("no pid namespace"), std::string::npos);
}

TEST(IsolationChoiceTest, RootInPodmanMakesAUserNamespace) {
  IsolationProbe p = Everything();
  p.root = true;
  p.root_needs_userns = true;
  Isolation iso = ChooseIsolation(p, std::nullopt);
  EXPECT_EQ(iso.Name(), "full");
  EXPECT_TRUE(iso.userns);
  EXPECT_TRUE(iso.use_range);
}

TEST(IsolationChoiceTest, RootOnTheHostMakesNoUserNamespace) {
  IsolationProbe p = Everything();
  p.root = true;
  EXPECT_FALSE(ChooseIsolation(p, std::nullopt).userns);
}

TEST(IsolationChoiceTest, DockerRootIsChroot) {
  Isolation iso = ChooseIsolation(DockerRoot(), std::nullopt);
  EXPECT_EQ(iso.Name(), "chroot");
  EXPECT_FALSE(iso.userns);
  EXPECT_FALSE(iso.mounts);
  EXPECT_TRUE(iso.mknod);
  EXPECT_NE(iso.Describe().find("NOT protected"), std::string::npos);
}

TEST(IsolationChoiceTest, DockerRootWithoutChrootIsNone) {
  IsolationProbe p = DockerRoot();
  p.chroot = false;
  Isolation iso = ChooseIsolation(p, std::nullopt);
  EXPECT_EQ(iso.Name(), "none");
  EXPECT_NE(iso.run_refusal.find("mount namespace"), std::string::npos) << iso.run_refusal;
}

TEST(IsolationChoiceTest, NonRootWithoutUserNamespaceIsNoneWithTheSettingToChange) {
  IsolationProbe p;
  p.no_new_privs = p.seccomp = true;
  p.refused = {"user namespace: Operation not permitted"};
  Isolation iso = ChooseIsolation(p, std::nullopt);
  EXPECT_EQ(iso.Name(), "none");
  EXPECT_FALSE(iso.mounts);
  EXPECT_NE(iso.run_refusal.find("RUN needs a user namespace"), std::string::npos) << iso.run_refusal;
  EXPECT_NE(iso.run_refusal.find("user namespace: Operation not permitted"), std::string::npos);
  EXPECT_NE(iso.run_refusal.find("seccompProfile: Unconfined"), std::string::npos);
  EXPECT_NE(iso.run_refusal.find("runAsUser: 0"), std::string::npos);
}

TEST(IsolationChoiceTest, ForcedLevelThatCannotBeHadIsAPreciseError) {
  IsolationProbe p = Everything();
  p.proc = false;
  p.refused = {"fresh /proc mount: Operation not permitted"};
  try {
    ChooseIsolation(p, IsolationLevel::kFull);
    FAIL() << "full was given where /proc is refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("isolation full is not possible here"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fresh /proc mount: Operation not permitted"), std::string::npos);
  }
  EXPECT_THROW(ChooseIsolation(Everything(), IsolationLevel::kChroot), Error);  // not root
  EXPECT_THROW(ChooseIsolation(DockerRoot(), IsolationLevel::kRelaxed), Error);
  EXPECT_EQ(ChooseIsolation(Everything(), IsolationLevel::kNone).Name(), "none");
  EXPECT_EQ(ChooseIsolation(DockerRoot(), IsolationLevel::kChroot).Name(), "chroot");
}

TEST(IsolationChoiceTest, ParseAndSerialize) {
  EXPECT_EQ(ParseIsolationLevel("", "--isolation"), std::nullopt);
  EXPECT_EQ(ParseIsolationLevel("auto", "--isolation"), std::nullopt);
  EXPECT_EQ(ParseIsolationLevel("chroot", "--isolation"), IsolationLevel::kChroot);
  try {
    ParseIsolationLevel("strict", "KILN_ISOLATION");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "KILN_ISOLATION strict: expected auto, full, relaxed, chroot or none");
  }
  IsolationProbe p = Everything();
  p.proc = p.netns = false;
  Isolation iso = ChooseIsolation(p, std::nullopt);
  Isolation back = Isolation::Deserialize(iso.Serialize());
  EXPECT_EQ(back.Serialize(), iso.Serialize());
  EXPECT_TRUE(back.relaxed.proc_bind);
  EXPECT_TRUE(back.relaxed.no_netns);
  Isolation none = Isolation::Deserialize(ChooseIsolation(IsolationProbe{}, std::nullopt).Serialize());
  EXPECT_NE(none.run_refusal.find("RUN needs"), std::string::npos);
  EXPECT_THROW(Isolation::Deserialize("full:1"), Error);
}

TEST(IsolationProbeTest, ThisMachineGivesTheFullSandbox) {
  // The tests run in the build namespace (main_test.cc): as root, or as
  // namespace-root of a user namespace; either can make every part.
  IsolationProbe p = ProbeIsolation();
  EXPECT_TRUE(p.root) << p.Summary();
  EXPECT_TRUE(p.mountns && p.tmpfs && p.bind && p.proc && p.pidns && p.sethostname && p.netns) << p.Summary();
  EXPECT_TRUE(p.seccomp && p.no_new_privs) << p.Summary();
  EXPECT_TRUE(p.refused.empty() || p.refused.size() <= 3) << p.Summary();
  EXPECT_EQ(ChooseIsolation(p, std::nullopt).Name(), "full") << p.Summary();
}

TEST(IsolationRunTest, NoneRefusesRunBeforeAnythingRuns) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  IsolationProbe nothing;
  IsolationScope scope(ChooseIsolation(nothing, std::nullopt));
  RunSpec spec = fs.Spec({"sh", "-c", "touch /ran"});
  try {
    sandbox::Run(spec);
    FAIL() << "RUN ran at isolation none";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RUN needs a user namespace"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/ran"));
}

TEST(IsolationRunTest, RelaxedKeepsHostNameBindsProcAndSharesPidNamespace) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  Isolation iso = ChooseIsolation(Everything(), std::nullopt);
  iso.level = IsolationLevel::kRelaxed;
  iso.relaxed.proc_bind = iso.relaxed.keep_hostname = iso.relaxed.no_pidns = true;
  IsolationScope scope(iso);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  RunResult r;
  std::string out = fs.Sh("hostname; echo pid=$$; grep -c ' /proc proc ro,' /proc/mounts; "
                          "sleep 987 & echo started", &r);
  EXPECT_TRUE(r.ok()) << out;
  EXPECT_NE(out.find(std::string(host) + "\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("pid=1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n1\n"), std::string::npos) << "/proc not a read-only bind: " << out;
  // The background sleep died with the step.
  EXPECT_EQ(::system("pgrep -x -f 'sleep 987' >/dev/null"), 256) << "a process of the step outlived it";
}

TEST(IsolationRunTest, ChrootRunsInThePlainDirectoryAndLeavesNothingBehind) {
  KILN_REQUIRE_BASE();
  if (CurrentNamespace().rootless) GTEST_SKIP() << "the chroot level is for real root (this run is rootless)";
  StepRootfs fs;
  IsolationScope scope(ChooseIsolation(DockerRoot(), std::nullopt));
  RunResult r;
  testing::WriteText(fs.merged() + "/etc/hostname", "image-hostname\n");
  std::string out = fs.Sh("echo pid=$$; echo hi >/dev/null && echo devnull-ok; cat /etc/hostname; "
                          "grep -c localhost /etc/hosts; test -f /etc/resolv.conf && echo resolv-ok; "
                          "head -c 4 /dev/urandom | wc -c; chroot / true || echo chroot-refused; "
                          "id -u; echo made >/made; sleep 987 & echo started", &r);
  EXPECT_TRUE(r.ok()) << out;
  EXPECT_EQ(out.find("pid=1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("devnull-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("\n4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("chroot-refused"), std::string::npos) << "CAP_SYS_CHROOT kept: " << out;
  EXPECT_EQ(::system("pgrep -x -f 'sleep 987' >/dev/null"), 256) << "a process of the step outlived it";
  EXPECT_EQ(testing::ReadText(fs.merged() + "/made"), "made\n");
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_NE(out.find(std::string(host) + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("resolv-ok"), std::string::npos) << out;
  // The /etc files were for the run only: the image's own is back, the others gone.
  EXPECT_EQ(testing::ReadText(fs.merged() + "/etc/hostname"), "image-hostname\n");
  EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/etc/hosts"));
  EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/etc/.kiln-saved-hostname"));
  // The device nodes were for the run only.
  EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/dev/null"));
  EXPECT_FALSE(std::filesystem::exists(fs.merged() + "/dev/urandom"));
}

TEST(IsolationRunTest, WithoutPidNamespaceATimeoutStillKillsTheWholeStep) {
  KILN_REQUIRE_BASE();
  Isolation relaxed = ChooseIsolation(Everything(), std::nullopt);
  relaxed.level = IsolationLevel::kRelaxed;
  relaxed.relaxed.no_pidns = relaxed.relaxed.proc_bind = true;
  std::vector<Isolation> levels = {relaxed};
  if (!CurrentNamespace().rootless) levels.push_back(ChooseIsolation(DockerRoot(), std::nullopt));
  for (const Isolation& iso : levels) {
    StepRootfs fs;
    IsolationScope scope(iso);
    RunSpec spec = fs.Spec({"sh", "-c", "sleep 988 & sleep 988"});
    spec.timeout = std::chrono::seconds(1);
    RunResult r = sandbox::Run(spec);
    EXPECT_TRUE(r.timed_out) << iso.Name() << ": " << r.describe();
    EXPECT_EQ(::system("pgrep -x -f 'sleep 988' >/dev/null"), 256) << iso.Name() << ": a process outlived the step";
  }
}

TEST(IsolationRunTest, ChrootRefusesMountsAndNetworkNoneByName) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  IsolationScope scope(ChooseIsolation(DockerRoot(), std::nullopt));
  RunSpec spec = fs.Spec({"true"});
  spec.network = Network::kNone;
  EXPECT_THROW(
      try { sandbox::Run(spec); } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--network=none needs a network namespace"), std::string::npos);
        throw;
      },
      Error);
  spec.network = Network::kHost;
  spec.mounts.push_back(Mount{Mount::Type::kTmpfs, {}, "/tmp", false, 0, 01777});
  EXPECT_THROW(sandbox::Run(spec), Error);
}

TEST(IsolationOverlayTest, WithoutMountsTheCopyFallbackAndLinksNeedNoMount) {
  KILN_REQUIRE_BASE();
  IsolationScope scope(ChooseIsolation(DockerRoot(), std::nullopt));
  const std::string top = testing::MakeTempDir("kiln-sbx-nomount");
  for (const char* d : {"upper", "work", "merged", "view"}) std::filesystem::create_directory(top + "/" + d);
  {
    OverlayMount step({testing::BaseRootfs::Path()}, top + "/upper", top + "/work", top + "/merged");
    EXPECT_TRUE(step.copied());
    testing::WriteText(top + "/merged/new.txt", "new\n");
    std::filesystem::remove(top + "/merged/bin/true");
    step.Finish();
  }
  EXPECT_EQ(testing::ReadText(top + "/upper/new.txt"), "new\n");
  struct stat st {};
  ASSERT_EQ(::lstat((top + "/upper/bin/true").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the removal is a whiteout";
  {
    OverlayMount view({testing::BaseRootfs::Path()}, {}, {}, top + "/view");
    EXPECT_TRUE(std::filesystem::exists(top + "/view/bin/busybox"));
    EXPECT_TRUE(std::filesystem::is_symlink(top + "/view"));
  }
  EXPECT_FALSE(std::filesystem::exists(top + "/view"));
  std::filesystem::remove_all(top);
}

}  // namespace
}  // namespace kiln::sandbox
