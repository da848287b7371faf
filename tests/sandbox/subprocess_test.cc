#include "sandbox/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/unique_fd.h"

namespace kiln::sandbox {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("pipe");
    r.Reset(fds[0]);
    w.Reset(fds[1]);
  }
};

TEST(Subprocess, RunCapturedFeedsStdinAndReturnsStdoutAndStatus) {
  CaptureOptions in;
  in.input = "hello\nworld";
  auto run = RunCaptured({"cat"}, in);
  EXPECT_TRUE(ExitedZero(run.status));
  EXPECT_EQ(run.output, "hello\nworld");

  run = RunCaptured({"sh", "-c", "echo out; echo err >&2; exit 3"}, CaptureOptions{.merge_stderr = true});
  EXPECT_EQ(DescribeWaitStatus(run.status), "exit status 3");
  EXPECT_EQ(run.output, "out\nerr\n");
}

TEST(Subprocess, RunCapturedKillsAChildPastItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(RunCaptured({"sleep", "30"}, CaptureOptions{.timeout = 200ms}), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Subprocess, DescribesASignalDeath) {
  Subprocess child(SpawnOptions{.argv = {"sleep", "30"}});
  child.Signal(SIGKILL);
  EXPECT_EQ(DescribeWaitStatus(child.Wait()), "killed by SIGKILL");
}

// The child's fd numbers may be the parent's numbers of other sources: a
// naive dup2 in order would clobber the second source with the first.
TEST(Subprocess, FdMappingsThatCrossEachOtherArriveIntact) {
  Pipe a, b;
  const int a_num = a.w.get(), b_num = b.w.get();
  Subprocess child(SpawnOptions{
      .argv = {"sh", "-c", "echo to-a >&" + std::to_string(b_num) + "; echo to-b >&" + std::to_string(a_num)},
      .fds = {{b_num, a.w.get()}, {a_num, b.w.get()}}});
  a.w.Reset();
  b.w.Reset();
  EXPECT_EQ(ReadAll(a.r.get()), "to-a\n");
  EXPECT_EQ(ReadAll(b.r.get()), "to-b\n");
  EXPECT_TRUE(ExitedZero(child.Wait()));
}

TEST(Subprocess, UnlistedDescriptorsAreClosedInTheChild) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // not close-on-exec on purpose
  UniqueFd r(fds[0]), w(fds[1]);
  for (bool fork_path : {false, true}) {
    auto run = RunCaptured({"sh", "-c", "[ -e /proc/$$/fd/" + std::to_string(w.get()) + " ] && echo leaked || echo closed"});
    EXPECT_EQ(run.output, "closed\n");
    Pipe out;
    Subprocess child(SpawnOptions{
        .argv = {"sh", "-c", "[ -e /proc/$$/fd/" + std::to_string(w.get()) + " ] && echo leaked || echo closed"},
        .fds = {{1, out.w.get()}},
        .die_with_parent = fork_path});
    out.w.Reset();
    EXPECT_EQ(ReadAll(out.r.get()), "closed\n") << (fork_path ? "fork+exec" : "posix_spawn");
    child.Wait();
  }
}

TEST(Subprocess, TheEnvironmentIsReplacedWhenGiven) {
  Pipe out;
  Subprocess child(SpawnOptions{.argv = {"sh", "-c", "echo \"$KILN_T:${HOME-unset}\""},
                                .env = std::vector<std::string>{"KILN_T=yes"},
                                .fds = {{1, out.w.get()}}});
  out.w.Reset();
  EXPECT_EQ(ReadAll(out.r.get()), "yes:unset\n");
  child.Wait();
}

TEST(Subprocess, DroppingARunningChildKillsAndReapsIt) {
  pid_t pid;
  {
    Subprocess child(SpawnOptions{.argv = {"sleep", "30"}});
    pid = child.pid();
    EXPECT_FALSE(child.WaitFor(50ms));
  }
  // Reaped, not a zombie: the pid is gone.
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_EQ(errno, ESRCH);
}

TEST(Subprocess, AProgramThatCannotStartIsAnErrorOnBothPaths) {
  char dir[] = "/tmp/kiln-subprocess-XXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  const std::string bad = std::string(dir) + "/not-a-program";
  std::ofstream(bad) << "\x01\x02 not an executable format";
  ::chmod(bad.c_str(), 0755);
  for (bool fork_path : {false, true}) {
    try {
      Subprocess child(SpawnOptions{.argv = {bad}, .die_with_parent = fork_path});
      ADD_FAILURE() << "started " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
    EXPECT_THROW(Subprocess(SpawnOptions{.argv = {"kiln-no-such-program"}, .die_with_parent = fork_path}), Error);
  }
  ::unlink(bad.c_str());
  ::rmdir(dir);
}

TEST(Subprocess, FindInPathSearchesPathAndTakesPathsAsTheyAre) {
  EXPECT_TRUE(FindInPath("sh"));
  EXPECT_EQ(FindInPath("/bin/sh"), std::filesystem::path("/bin/sh"));
  EXPECT_FALSE(FindInPath("kiln-no-such-program"));
  EXPECT_FALSE(FindInPath(""));
}

}  // namespace
}  // namespace kiln::sandbox
