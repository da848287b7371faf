#include "sandbox/overlay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>

#include "sandbox/error.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

namespace fs = std::filesystem;

bool IsMounted(const std::string& path) {
  return testing::ReadText("/proc/self/mountinfo").find(" " + path + " ") != std::string::npos;
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("kiln-sbx-ovl");
    for (const char* d : {"l1", "l2", "upper", "work", "merged"}) fs::create_directories(dir_ + "/" + d);
    fs::create_directories(dir_ + "/l2/shared/sub");
    testing::WriteText(dir_ + "/l2/shared/sub/a", "bottom");
    testing::WriteText(dir_ + "/l2/over", "bottom");
    testing::WriteText(dir_ + "/l1/over", "top");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(OverlayTest, StacksLayersAndWritesGoToUpper) {
  {
    OverlayMount m({dir_ + "/l1", dir_ + "/l2"}, dir_ + "/upper", dir_ + "/work", dir_ + "/merged");
    EXPECT_TRUE(IsMounted(dir_ + "/merged"));
    EXPECT_EQ(testing::ReadText(dir_ + "/merged/over"), "top");
    EXPECT_EQ(testing::ReadText(dir_ + "/merged/shared/sub/a"), "bottom");
    testing::WriteText(dir_ + "/merged/new", "x");
    EXPECT_TRUE(fs::exists(dir_ + "/upper/new"));
    EXPECT_TRUE(m.userxattr() || ::geteuid() == 0);
  }
  EXPECT_FALSE(IsMounted(dir_ + "/merged")) << "the destructor unmounts";
}

TEST_F(OverlayTest, RemovingALowerDirectoryLeavesAWhiteout) {
  OverlayMount m({dir_ + "/l1", dir_ + "/l2"}, dir_ + "/upper", dir_ + "/work", dir_ + "/merged");
  // Without userxattr this fails with EIO in a user namespace.
  std::error_code ec;
  fs::remove_all(dir_ + "/merged/shared", ec);
  ASSERT_FALSE(ec) << ec.message();
  struct stat st {};
  ASSERT_EQ(::lstat((dir_ + "/upper/shared").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  // An opaque directory: recreate it.
  fs::create_directory(dir_ + "/merged/shared");
  char value[8] = {};
  ssize_t n = ::lgetxattr((dir_ + "/upper/shared").c_str(), m.opaque_xattr(), value, sizeof(value));
  EXPECT_EQ(n, 1) << m.opaque_xattr();
  EXPECT_EQ(value[0], 'y');
}

TEST_F(OverlayTest, ReadOnlyViews) {
  {
    OverlayMount m({dir_ + "/l1", dir_ + "/l2"}, "", "", dir_ + "/merged");
    EXPECT_EQ(testing::ReadText(dir_ + "/merged/over"), "top");
    EXPECT_NE(::open((dir_ + "/merged/x").c_str(), O_CREAT | O_WRONLY, 0644), 0);
    EXPECT_EQ(errno, EROFS);
  }
  {
    OverlayMount m({dir_ + "/l2"}, "", "", dir_ + "/merged");
    EXPECT_EQ(testing::ReadText(dir_ + "/merged/over"), "bottom");
    EXPECT_EQ(::mkdir((dir_ + "/merged/d").c_str(), 0755), -1);
    EXPECT_EQ(errno, EROFS);
  }
}

TEST_F(OverlayTest, UpperOnlyIsABind) {
  testing::WriteText(dir_ + "/upper/u", "u");
  OverlayMount m({}, dir_ + "/upper", "", dir_ + "/merged");
  EXPECT_EQ(testing::ReadText(dir_ + "/merged/u"), "u");
  OverlayMount moved(std::move(m));
  EXPECT_EQ(moved.target(), dir_ + "/merged");
}

TEST_F(OverlayTest, MissingLowerIsAnErrorWithContext) {
  try {
    OverlayMount m({dir_ + "/nope", dir_ + "/l2"}, dir_ + "/upper", dir_ + "/work", dir_ + "/merged");
    FAIL() << "mounted a missing lower";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_ + "/nope"), std::string::npos) << e.what();
  }
}

// Many layers with long paths: the lowerdir option string would exceed a
// page; fds with "lowerdir+" do not. Prints the most layers that mounted.
TEST_F(OverlayTest, ManyLayersWithLongPaths) {
  const std::string long_name(200, 'x');
  const int kLayers = 501;
  std::vector<fs::path> lowers;
  for (int i = 0; i < kLayers; ++i) {
    std::string d = dir_ + "/layers/" + long_name + "/" + std::to_string(i);
    fs::create_directories(d);
    testing::WriteText(d + "/f" + std::to_string(i), std::to_string(i));
    lowers.insert(lowers.begin(), d);  // top-most first
  }
  int most = 0;
  testing::SnapshotterEnv overlay_only("overlay");  // no copy fallback: the kernel's limit is the point
  for (int n : {100, 200, 300, 400, 500, 501}) {
    std::vector<fs::path> sub(lowers.end() - n, lowers.end());
    try {
      auto start = std::chrono::steady_clock::now();
      OverlayMount m(sub, dir_ + "/upper", dir_ + "/work", dir_ + "/merged");
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      EXPECT_EQ(testing::ReadText(dir_ + "/merged/f0"), "0");
      std::printf("[ METRIC ] overlay with %d lower layers (lowerdir string would be %zu bytes): mounted in %.1f ms\n",
                  n, static_cast<size_t>(n) * (sub[0].string().size() + 1), ms);
      most = n;
    } catch (const Error& e) {
      std::printf("[ METRIC ] overlay with %d lower layers refused: %s\n", n, e.what());
      break;
    }
  }
  EXPECT_GE(most, 400);
}

}  // namespace
}  // namespace kiln::sandbox
