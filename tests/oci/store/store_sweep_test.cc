// Store::SweepStaleTemp and sandbox::RemoveStaleAtomicTemps: what a kill -9 leaves
// behind (kill_store_test.sh found WriteFileAtomic's temp files beside
// index.json, layers/<hex>.done and cache files in half of its rounds).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "sandbox/file_io.h"
#include "oci/store/store.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using ocitest::ScratchDir;

// The pid of a process that has exited (and been reaped).
pid_t DeadPid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

std::string TempOf(const std::string& name, pid_t pid) {
  return "." + name + ".tmp-" + std::to_string(pid) + "-12345";
}

TEST(RemoveStaleAtomicTemps, RemovesOnlyDeadProcessesTempFiles) {
  ScratchDir dir;
  const pid_t dead = DeadPid();
  for (const std::string& n : {TempOf("index.json", dead), TempOf("a.json", ::getpid()), std::string("index.json"),
                               std::string(".x.tmp-abc-1"), std::string(".y.tmp-") + std::to_string(dead),
                               std::string("z.tmp-") + std::to_string(dead) + "-1"}) {
    ocitest::WriteText(dir / n, "x");
  }
  EXPECT_EQ(sandbox::RemoveStaleAtomicTemps(dir.path()), 1);
  EXPECT_FALSE(fs::exists(dir / TempOf("index.json", dead)));
  EXPECT_TRUE(fs::exists(dir / TempOf("a.json", ::getpid())));  // its writer still runs
  EXPECT_TRUE(fs::exists(dir / "index.json"));
  EXPECT_TRUE(fs::exists(dir / ".x.tmp-abc-1"));
  EXPECT_TRUE(fs::exists(dir / (".y.tmp-" + std::to_string(dead))));
  EXPECT_TRUE(fs::exists(dir / ("z.tmp-" + std::to_string(dead) + "-1")));
  EXPECT_EQ(sandbox::RemoveStaleAtomicTemps(dir / "missing"), 0);
}

TEST(ProcessIsGone, DeadAndZombieProcessesAreGone) {
  EXPECT_FALSE(sandbox::ProcessIsGone(::getpid()));
  EXPECT_TRUE(sandbox::ProcessIsGone(DeadPid()));
  // A killed build's helper stays a zombie until init reaps it: it owns nothing.
  pid_t zombie = ::fork();
  if (zombie == 0) ::_exit(0);
  for (int i = 0; i < 500 && !sandbox::ProcessIsGone(zombie); i++) ::usleep(10000);
  EXPECT_TRUE(sandbox::ProcessIsGone(zombie));
  int status = 0;
  ::waitpid(zombie, &status, 0);
}

TEST(Store, SweepStaleTempRemovesKilledWritersTempFiles) {
  ScratchDir dir;
  Store s(dir.path());
  const pid_t dead = DeadPid();
  const fs::path layer = dir / "layers" / std::string(64, 'a');
  fs::create_directories(layer);
  fs::create_directories(dir / "cache" / "steps");
  const std::vector<fs::path> stale = {dir / TempOf("index.json", dead),
                                       dir / "layers" / TempOf(std::string(64, 'a') + ".done", dead),
                                       dir / "cache" / "steps" / TempOf(std::string(64, 'b') + ".json", dead)};
  for (const auto& p : stale) ocitest::WriteText(p, "partial");
  // Inside an unpacked layer a file of that name is the image's own.
  const fs::path image_file = layer / TempOf("etc", dead);
  ocitest::WriteText(image_file, "the image's");
  s.SweepStaleTemp();
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_TRUE(fs::exists(image_file));
  EXPECT_TRUE(fs::exists(dir / "index.json"));
}

}  // namespace
}  // namespace kiln::oci
