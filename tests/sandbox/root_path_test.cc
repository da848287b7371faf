#include "sandbox/root_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "sandbox/error.h"
#include "tests/test_util/scratch_dir.h"

namespace kiln::sandbox {
namespace {

namespace fs = std::filesystem;

class RootPath : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "root";
    outside_ = dir_ / "outside";
    fs::create_directories(root_ / "usr/bin");
    fs::create_directories(root_ / "etc");
    fs::create_directories(outside_);
    std::ofstream(outside_ / "secret") << "host";
    std::ofstream(root_ / "etc/secret") << "image";
    fs::create_symlink("usr/bin", root_ / "bin");
    fs::create_symlink(outside_, root_ / "abs");                    // absolute: restarts at the root
    fs::create_symlink("../../outside", root_ / "etc/rel");          // relative: ".." stops at the root
    fs::create_symlink("/proc/self/root" + outside_.string(), root_ / "magic");
    fs::create_symlink("/", root_ / "slash");
    fs::create_symlink("loop2", root_ / "loop1");
    fs::create_symlink("loop1", root_ / "loop2");
    fs::create_symlink("/nowhere/yet", root_ / "dangling");
  }
  testutil::ScratchDir scratch_{"kiln-rootpath"};
  const fs::path dir_ = scratch_.path();
  fs::path root_, outside_;
};

TEST_F(RootPath, SymlinksResolveInsideTheRoot) {
  EXPECT_EQ(ResolveInRoot(root_, "/bin/sh", true), root_ / "usr/bin/sh");
  EXPECT_EQ(ResolveInRoot(root_, "/abs/secret", true), root_ / outside_.relative_path() / "secret");
  EXPECT_EQ(ResolveInRoot(root_, "/etc/rel/secret", true), root_ / "outside/secret");
  EXPECT_EQ(ResolveInRoot(root_, "/magic/secret", true), root_ / "proc/self/root" / outside_.relative_path() / "secret");
  EXPECT_EQ(ResolveInRoot(root_, "/slash/etc/secret", true), root_ / "etc/secret");
  EXPECT_EQ(ResolveInRoot(root_, "/../../../etc/secret", true), root_ / "etc/secret");
}

TEST_F(RootPath, TheLastComponentIsFollowedOnlyWhenAsked) {
  EXPECT_EQ(ResolveInRoot(root_, "/bin", false), root_ / "bin");
  EXPECT_EQ(ResolveInRoot(root_, "/bin", true), root_ / "usr/bin");
  EXPECT_EQ(ResolveInRoot(root_, "/bin/", false), root_ / "bin");
}

TEST_F(RootPath, MissingComponentsAreKeptAndDotDotDropsThem) {
  EXPECT_EQ(ResolveInRoot(root_, "/new/dir/file", true), root_ / "new/dir/file");
  EXPECT_EQ(ResolveInRoot(root_, "/new/../bin/x", true), root_ / "usr/bin/x");
  EXPECT_EQ(ResolveInRoot(root_, "/dangling/x", true), root_ / "nowhere/yet/x");
  EXPECT_EQ(ResolveInRoot(root_, "/etc/secret/below", true), root_ / "etc/secret/below");
}

TEST_F(RootPath, ALinkLoopIsAnError) {
  EXPECT_THROW(ResolveInRoot(root_, "/loop1/x", true), Error);
}

TEST_F(RootPath, OpenInRootNeverLeavesTheRoot) {
  UniqueFd root(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root.valid());
  for (const char* escape : {"abs/secret", "etc/rel/secret", "magic/secret", "../outside/secret"}) {
    UniqueFd fd = OpenInRoot(root.get(), escape, O_RDONLY);
    EXPECT_FALSE(fd.valid()) << escape << " opened the host's file";
  }
  UniqueFd inside = OpenInRoot(root.get(), "slash/etc/secret", O_RDONLY);
  ASSERT_TRUE(inside.valid());
  char buf[16] = {};
  EXPECT_EQ(::read(inside.get(), buf, sizeof buf), 5);
  EXPECT_STREQ(buf, "image");
}

// /proc/self/root is a magic link: the kernel would jump to the process's
// real root through it. Inside a root it is refused, and the resolver
// treats its target as a path inside the root.
TEST_F(RootPath, RealMagicLinksAreRefused) {
  UniqueFd proc_self(::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(proc_self.valid());
  UniqueFd fd = OpenInRoot(proc_self.get(), "root/etc/passwd", O_RDONLY);
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(errno, ELOOP);
  EXPECT_EQ(ResolveInRoot("/proc/self", "/root/etc/passwd", true), fs::path("/proc/self/etc/passwd"));
}

}  // namespace
}  // namespace kiln::sandbox
