#include "sandbox/run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/error.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

using testing::StepRootfs;

TEST(RunTest, ExitCodeAndMergedOutputInOrder) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunResult r;
  std::string out = fs.Sh("echo a; echo b >&2; echo c; exit 3", &r);
  EXPECT_EQ(out, "a\nb\nc\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.describe(), "exit code 3");
  ASSERT_EQ(r.tail.size(), 3u);
  EXPECT_EQ(r.tail.back(), "c");
}

TEST(RunTest, DeathBySignalIsReported) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunResult r;
  fs.Sh("kill -TERM $$", &r);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.describe(), "killed by SIGTERM");
}

TEST(RunTest, EnvironmentIsExactlyTheSpec) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"env"});
  spec.env = {"PATH=/bin", "A=1", "B=two words"};
  std::string out;
  spec.on_output = [&](std::string_view l) { out += std::string(l) + "\n"; };
  EXPECT_TRUE(sandbox::Run(spec).ok());
  EXPECT_EQ(out, "PATH=/bin\nA=1\nB=two words\n");
}

TEST(RunTest, CommandNotFoundIs127) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"no-such-command"});
  std::string out;
  spec.on_output = [&](std::string_view l) { out += std::string(l); };
  RunResult r = sandbox::Run(spec);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(out.find("executable file not found in $PATH"), std::string::npos) << out;
}

TEST(RunTest, StdinCwdHostnameAndEtcFiles) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"sh", "-c", "cat; pwd; hostname; cat /etc/hostname; grep -c kiln-test /etc/hosts; cat /etc/resolv.conf | head -1"});
  spec.stdin_data = "from stdin\n";
  spec.cwd = "/work/dir";
  spec.hostname = "kiln-test";
  spec.network = Network::kNone;
  std::string out;
  spec.on_output = [&](std::string_view l) { out += std::string(l) + "\n"; };
  RunResult r = sandbox::Run(spec);
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << out;
  EXPECT_EQ(out, "from stdin\n/work/dir\nkiln-test\nkiln-test\n1\nnameserver 127.0.0.1\n");
}

TEST(RunTest, NoMountStubsOrEtcFilesLeftInTheDiff) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunResult r;
  fs.Sh("test -d /proc/self && test -c /dev/null && test -e /etc/hosts", &r);
  EXPECT_TRUE(r.ok()) << r.describe();
  for (const char* p : {"proc", "dev", "sys", "etc/hosts", "etc/resolv.conf", "etc/hostname"}) {
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(fs.upper()) / p)) << p;
  }
  struct stat lower_st {}, upper_st {};
  ASSERT_EQ(::stat((testing::BaseRootfs::Path() + "/etc").c_str(), &lower_st), 0);
  if (::stat((fs.upper() + "/etc").c_str(), &upper_st) == 0) {
    EXPECT_EQ(upper_st.st_mtim.tv_sec, lower_st.st_mtim.tv_sec) << "copied-up /etc keeps its mtime";
  }
}

TEST(RunTest, BindAndTmpfsMounts) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  std::string src = testing::MakeTempDir("kiln-sbx-src");
  testing::WriteText(src + "/file", "hello\n");
  RunSpec spec = fs.Spec({"sh", "-c", "cat /mnt/src/file; touch /mnt/src/new 2>/dev/null && echo WROTE; "
                                      "echo x > /cache/y && cat /cache/y; touch /rw/z && echo RW"});
  std::string rw = testing::MakeTempDir("kiln-sbx-rw");
  spec.mounts.push_back({Mount::Type::kBind, src, "/mnt/src", true, 0, 0755});
  spec.mounts.push_back({Mount::Type::kTmpfs, "", "/cache", false, 1 << 20, 0755});
  spec.mounts.push_back({Mount::Type::kBind, rw, "/rw", false, 0, 0755});
  std::string out;
  spec.on_output = [&](std::string_view l) { out += std::string(l) + "\n"; };
  RunResult r = sandbox::Run(spec);
  EXPECT_TRUE(r.ok()) << r.describe() << out;
  EXPECT_EQ(out, "hello\nx\nRW\n");
  EXPECT_TRUE(std::filesystem::exists(rw + "/z"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(fs.upper()) / "mnt"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(fs.upper()) / "cache"));
  std::filesystem::remove_all(src);
  std::filesystem::remove_all(rw);
}

TEST(RunTest, TimeoutKillsAHungStep) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"sh", "-c", "sleep 100 & sleep 100"});
  spec.timeout = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  RunResult r = sandbox::Run(spec);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.describe(), "timed out after 1s");
  EXPECT_LT(took, std::chrono::seconds(6));
}

TEST(RunTest, KillAllStopsRunningSandboxes) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"sleep", "100"});
  std::thread killer([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    KillAll();
  });
  auto start = std::chrono::steady_clock::now();
  RunResult r = sandbox::Run(spec);
  killer.join();
  ClearKillAll();
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
}

// Ctrl-C between the builder's last check and the next step's Run(): the step
// must not start (build_cancel_test.sh hit this window).
TEST(RunTest, RunAfterKillAllDoesNotStart) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"sh", "-c", "echo started"});
  std::vector<std::string> out;
  spec.on_output = [&](std::string_view l) { out.emplace_back(l); };
  KillAll();
  RunResult r = sandbox::Run(spec);
  ClearKillAll();
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sandbox::Run(fs.Spec({"true"})).exit_code, 0);  // cleared
}

TEST(RunTest, AThrowingOutputCallbackLeavesNoSandboxBehind) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"sh", "-c", "echo first; exec sleep 100"});
  spec.on_output = [](std::string_view) { throw std::runtime_error("consumer failed"); };
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(sandbox::Run(spec), std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(fs.upper()) / "proc")) << "stubs removed";
}

TEST(RunTest, SetupErrorThrows) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  RunSpec spec = fs.Spec({"true"});
  spec.mounts.push_back({Mount::Type::kBind, "/nonexistent-kiln-source", "/x", true, 0, 0755});
  EXPECT_THROW(sandbox::Run(spec), Error);
}

// Processes whose argv contains `needle` (NUL-separated cmdline).
std::vector<pid_t> ProcessesWith(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = testing::ReadText(e.path() / "cmdline");
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

TEST(RunTest, KillDashNineOfTheCallerLeavesNothingBehind) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  const std::string token = "4242" + std::to_string(::getpid());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      sandbox::Run(fs.Spec({"sh", "-c", "sleep " + token + " & sleep " + token}));
    } catch (...) {
    }
    ::_exit(0);
  }
  const std::string sleeper = std::string("sleep\0", 6) + token;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ProcessesWith(sleeper).size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(ProcessesWith(sleeper).size(), 2u) << "the sandbox never started";
  const std::string helper = std::string("__kiln-sandbox-init\0", 20) + std::to_string(child);
  EXPECT_EQ(ProcessesWith(helper).size(), 2u) << "the helper and the sandbox's init (a fork of it)";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((!ProcessesWith(sleeper).empty() || !ProcessesWith(helper).empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ProcessesWith(sleeper).empty()) << "sandboxed processes survived";
  EXPECT_TRUE(ProcessesWith(helper).empty()) << "the helper survived";
  for (const char* p : {"proc", "dev", "sys", "etc/hosts"}) {
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(fs.upper()) / p)) << p << " stub left";
  }
  EXPECT_EQ(testing::ReadText("/proc/self/mountinfo").find(fs.merged() + "/"), std::string::npos);
}

TEST(RunTest, PerRunOverhead) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  constexpr int kRuns = 20;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(sandbox::Run(fs.Spec({"true"})).ok());
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRuns;
  std::printf("[ METRIC ] per-RUN overhead: %.1f ms (mean of %d Run of `true`)\n", ms, kRuns);
}

}  // namespace
}  // namespace kiln::sandbox

namespace kiln::sandbox {
namespace {

// Run only by tests/integration/sandbox_rootless_test.sh (with
// --gtest_also_run_disabled_tests): a long RUN that the script interrupts
// with SIGTERM sent to the outer (pre-namespace) process.
TEST(RunTest, DISABLED_LongRunForSignalForwarding) {
  KILN_REQUIRE_BASE();
  StepRootfs fs;
  std::printf("LONG-RUN-STARTED\n");
  std::fflush(stdout);
  sandbox::Run(fs.Spec({"sleep", "60"}));
}

}  // namespace
}  // namespace kiln::sandbox
