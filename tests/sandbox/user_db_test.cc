#include "sandbox/user_db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "sandbox/error.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

namespace fs = std::filesystem;

class UserDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = testing::MakeTempDir("kiln-sbx-userdb");
    root_ = top_ + "/rootfs";
    fs::create_directories(root_ + "/etc");
    testing::WriteText(root_ + "/etc/passwd",
                       "root:x:0:0:root:/root:/bin/sh\n"
                       "# comment\n"
                       "app:x:1000:1001:app:/home/app:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    testing::WriteText(root_ + "/etc/group",
                       "root:x:0:\n"
                       "app:x:1001:\n"
                       "staff:x:50:app,other\n"
                       "docker:x:999:app\n"
                       "nogroup:x:65534:\n");
  }
  void TearDown() override { fs::remove_all(top_); }
  std::string top_, root_;
};

TEST_F(UserDbTest, NameGivesPrimaryAndSupplementaryGroups) {
  ResolvedUser u = ResolveUser(root_, "app");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1001u);
  EXPECT_EQ(u.home, "/home/app");
  EXPECT_EQ(u.groups, (std::vector<uint32_t>{1001, 50, 999}));  // as buildah/runc: `id` shows groups=1001(app),...
}

TEST_F(UserDbTest, ExplicitGroupHasNoSupplementaryGroups) {
  ResolvedUser u = ResolveUser(root_, "app:staff");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 50u);
  EXPECT_TRUE(u.groups.empty());
  EXPECT_EQ(ResolveUser(root_, "app:4242").gid, 4242u);
}

TEST_F(UserDbTest, NumericUsers) {
  ResolvedUser known = ResolveUser(root_, "1000");
  EXPECT_EQ(known.uid, 1000u);
  EXPECT_EQ(known.gid, 1001u);
  ResolvedUser unknown = ResolveUser(root_, "4321");
  EXPECT_EQ(unknown.uid, 4321u);
  EXPECT_EQ(unknown.gid, 0u);
  EXPECT_EQ(unknown.home, "/");
  ResolvedUser both = ResolveUser(root_, "4321:4322");
  EXPECT_EQ(both.gid, 4322u);
}

TEST_F(UserDbTest, UnknownNamesAreErrorsLikeDocker) {
  try {
    ResolveUser(root_, "ghost");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unable to find user ghost: no matching entries in passwd file");
  }
  EXPECT_THROW(ResolveUser(root_, "app:ghosts"), Error);
}

TEST_F(UserDbTest, ChownUsesTheUserPartAsGroup) {
  ResolvedUser a = ResolveChown(root_, "app");
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_EQ(a.gid, 1001u);  // the group named "app"
  ResolvedUser n = ResolveChown(root_, "55");
  EXPECT_EQ(n.uid, 55u);
  EXPECT_EQ(n.gid, 55u);
  ResolvedUser g = ResolveChown(root_, "app:staff");
  EXPECT_EQ(g.gid, 50u);
  EXPECT_TRUE(g.groups.empty());
  EXPECT_THROW(ResolveChown(root_, "nobody"), Error);  // no group named nobody
}

TEST_F(UserDbTest, SymlinksCannotLeaveTheRootfs) {
  // An image whose /etc/passwd points at the host's: resolved inside.
  fs::remove(root_ + "/etc/passwd");
  fs::create_directories(top_ + "/host/etc");
  testing::WriteText(top_ + "/host/etc/passwd", "evil:x:0:0::/:/bin/sh\n");
  fs::create_symlink(top_ + "/host/etc/passwd", root_ + "/etc/passwd");
  EXPECT_THROW(ResolveUser(root_, "evil"), Error);
  fs::remove(root_ + "/etc/passwd");
  fs::create_symlink("../../host/etc/passwd", root_ + "/etc/passwd");
  EXPECT_THROW(ResolveUser(root_, "evil"), Error);
  // Inside-the-root absolute links work.
  fs::remove(root_ + "/etc/passwd");
  fs::create_directories(root_ + "/usr/etc");
  testing::WriteText(root_ + "/usr/etc/passwd", "inside:x:7:8::/:/bin/sh\n");
  fs::create_symlink("/usr/etc/passwd", root_ + "/etc/passwd");
  EXPECT_EQ(ResolveUser(root_, "inside").uid, 7u);
}

TEST_F(UserDbTest, MissingFilesAllowNumericIds) {
  fs::remove(root_ + "/etc/passwd");
  fs::remove(root_ + "/etc/group");
  EXPECT_EQ(ResolveUser(root_, "12:34").gid, 34u);
  EXPECT_THROW(ResolveUser(root_, "root"), Error);  // names need the file, as in docker
}

}  // namespace
}  // namespace kiln::sandbox
