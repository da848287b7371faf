// The copy fallback must give the same result as overlayfs: the same steps
// run on both, and the trees the two diffs produce over the same lowers are
// compared entry by entry.
#include "sandbox/copy_snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "sandbox/error.h"
#include "sandbox/fuse_overlay.h"
#include "sandbox/overlay.h"
#include "sandbox/whiteout.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

namespace fs = std::filesystem;

// path type mode uid gid content-or-link, one line per entry, sorted.
std::string Tree(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) ADD_FAILURE() << "lstat " << it->path();
    std::string line = fs::relative(it->path(), root).string() + " " + std::to_string(st.st_mode) + " " +
                       std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    if (S_ISREG(st.st_mode)) line += " " + testing::ReadText(it->path());
    if (S_ISLNK(st.st_mode)) line += " -> " + fs::read_symlink(it->path()).string();
    if (S_ISCHR(st.st_mode)) line += " chr " + std::to_string(st.st_rdev);
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

using testing::SnapshotterEnv;

class CopySnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("kiln-sbx-copy");
    // Bottom layer.
    for (const char* d : {"l2/d", "l2/t/x/y", "l2/o"}) fs::create_directories(dir_ + "/" + d);
    testing::WriteText(dir_ + "/l2/d/a", "a");
    testing::WriteText(dir_ + "/l2/d/b", "b");
    testing::WriteText(dir_ + "/l2/keep", "keep");
    testing::WriteText(dir_ + "/l2/keep2", "keep2");
    testing::WriteText(dir_ + "/l2/gone", "gone");
    testing::WriteText(dir_ + "/l2/t/x/y/z", "z");
    testing::WriteText(dir_ + "/l2/o/hidden", "hidden");
    fs::create_symlink("keep", dir_ + "/l2/ln");
    ::chmod((dir_ + "/l2/keep2").c_str(), 04755);
    // Top layer: deletes d/b (whiteout), makes o opaque, adds o/vis.
    fs::create_directories(dir_ + "/l1/d");
    fs::create_directories(dir_ + "/l1/o");
    ASSERT_EQ(::mknod((dir_ + "/l1/d/b").c_str(), S_IFCHR, makedev(0, 0)), 0);
    ASSERT_EQ(::setxattr((dir_ + "/l1/o").c_str(), "user.overlay.opaque", "y", 1, 0), 0);
    testing::WriteText(dir_ + "/l1/o/vis", "vis");
    lowers_ = {dir_ + "/l1", dir_ + "/l2"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `step` on a mount of the lowers with the given snapshotter and
  // returns the upper dir it leaves.
  std::string RunStep(const char* snapshotter, const std::function<void(const std::string&)>& step) {
    const std::string top = dir_ + "/" + snapshotter;
    for (const char* d : {"upper", "work", "merged"}) fs::create_directories(top + "/" + d);
    SnapshotterEnv env(snapshotter);
    OverlayMount m(lowers_, top + "/upper", top + "/work", top + "/merged");
    EXPECT_EQ(m.copied(), std::string(snapshotter) == "copy");
    step(top + "/merged");
    m.Finish();
    return top + "/upper";
  }

  // The tree an image shows with `upper` on top of the lowers.
  std::string Applied(const std::string& upper) {
    const std::string view = upper + "-view";
    fs::create_directories(view);
    SnapshotterEnv env("overlay");
    std::vector<fs::path> layers = {upper};
    layers.insert(layers.end(), lowers_.begin(), lowers_.end());
    OverlayMount m(layers, fs::path(), fs::path(), view);
    return Tree(view);
  }

  std::string dir_;
  std::vector<fs::path> lowers_;
};

TEST_F(CopySnapshotTest, CopyShowsTheMergedLowers) {
  const std::string target = dir_ + "/target";
  fs::create_directories(target);
  CopyMergedLowers(lowers_, target);
  EXPECT_FALSE(fs::exists(target + "/d/b")) << "whiteout hides it";
  EXPECT_FALSE(fs::exists(target + "/o/hidden")) << "opaque dir hides it";
  EXPECT_EQ(testing::ReadText(target + "/o/vis"), "vis");
  EXPECT_EQ(fs::read_symlink(target + "/ln"), "keep");
  struct stat st {};
  ASSERT_EQ(::lstat((target + "/keep2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u) << "setuid survives the chown";
  EXPECT_EQ(Tree(target), [&] {
    const std::string view = dir_ + "/native-view";
    fs::create_directories(view);
    SnapshotterEnv env("overlay");
    OverlayMount m(lowers_, fs::path(), fs::path(), view);
    return Tree(view);
  }());
}

TEST_F(CopySnapshotTest, DiffMatchesOverlayfs) {
  auto step = [](const std::string& root) {
    testing::WriteText(root + "/new", "n");
    testing::WriteText(root + "/d/a", "A2");
    fs::remove(root + "/gone");
    ::chmod((root + "/keep2").c_str(), 0600);
    fs::remove_all(root + "/t");
    fs::remove(root + "/ln");
    fs::create_symlink("other", root + "/ln");
    fs::remove_all(root + "/o");
    fs::create_directories(root + "/o");
    testing::WriteText(root + "/o/fresh", "f");
    fs::create_directories(root + "/deep/er/est");
    testing::WriteText(root + "/deep/er/est/f", "deep");
  };
  const std::string native = RunStep("overlay", step);
  const std::string copy = RunStep("copy", step);
  EXPECT_EQ(Applied(copy), Applied(native));
  EXPECT_EQ(Tree(copy), Tree(native)) << "the same diff, entry for entry";
  if (!FuseOverlayUnavailable()) {
    const std::string fuse = RunStep("fuse-overlayfs", step);
    EXPECT_EQ(Applied(fuse), Applied(native));
    EXPECT_EQ(Tree(fuse), Tree(native)) << "fuse-overlayfs' marks rewritten into overlayfs' form";
    char v = 0;
    EXPECT_EQ(::lgetxattr((fuse + "/o").c_str(), "user.overlay.opaque", &v, 1), 1);
    EXPECT_EQ(::lgetxattr((fuse + "/o").c_str(), "user.fuseoverlayfs.opaque", &v, 1), -1);
  }

  // Only what changed is in the diff; removals are 0/0 whiteouts.
  EXPECT_FALSE(fs::exists(copy + "/keep"));
  EXPECT_FALSE(fs::exists(copy + "/d/b"));
  EXPECT_EQ(testing::ReadText(copy + "/d/a"), "A2");
  struct stat st {};
  ASSERT_EQ(::lstat((copy + "/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  ASSERT_EQ(::lstat((copy + "/t").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "a removed directory is one whiteout";
  EXPECT_FALSE(fs::exists(copy + "/o/hidden"));
}

// A directory overlayfs copied up only to hold a file that is gone again,
// with its mtime put back (a mount stub's parent), is not a change.
TEST_F(CopySnapshotTest, OverlayfsCopyUpsWithoutChangeArePruned) {
  for (const char* snapshotter : {"overlay", "copy", "fuse-overlayfs"}) {
    if (snapshotter == std::string("fuse-overlayfs") && FuseOverlayUnavailable()) continue;
    const std::string upper = RunStep(snapshotter, [](const std::string& root) {
      struct stat st {};
      ASSERT_EQ(::stat((root + "/d").c_str(), &st), 0);
      testing::WriteText(root + "/d/stub", "");
      fs::remove(root + "/d/stub");
      const struct timespec times[2] = {st.st_atim, st.st_mtim};
      ASSERT_EQ(::utimensat(AT_FDCWD, (root + "/d").c_str(), times, 0), 0);
    });
    EXPECT_TRUE(fs::is_empty(upper)) << snapshotter << ":\n" << Tree(upper);
  }
}

// The owner record of a single-id build (user.rootlesscontainers) and other
// xattrs: kept by the copy of the lowers, and a step that only sets one (RUN
// chown to an unmapped id, emulated) changes the file and the directory as
// overlayfs' copy-up does; neither is pruned as unchanged.
TEST_F(CopySnapshotTest, XattrsAreCopiedAndAnXattrOnlyChangeIsKept) {
  ASSERT_EQ(::lsetxattr((dir_ + "/l2/keep").c_str(), "user.rootlesscontainers", "\x08\x05", 2, 0), 0);
  const std::string target = dir_ + "/target";
  fs::create_directories(target);
  CopyMergedLowers(lowers_, target);
  char v[8] = {};
  EXPECT_EQ(::lgetxattr((target + "/keep").c_str(), "user.rootlesscontainers", v, sizeof v), 2);
  EXPECT_EQ(::lgetxattr((target + "/o").c_str(), "user.overlay.opaque", v, sizeof v), -1) << "overlayfs' mark stays";
  for (const char* snapshotter : {"overlay", "copy"}) {
    const std::string upper = RunStep(snapshotter, [](const std::string& root) {
      ASSERT_EQ(::lsetxattr((root + "/d").c_str(), "user.rootlesscontainers", "\x08\x07", 2, 0), 0);
      ASSERT_EQ(::lsetxattr((root + "/keep2").c_str(), "user.rootlesscontainers", "\x10\x07", 2, 0), 0);
    });
    std::memset(v, 0, sizeof v);
    EXPECT_EQ(::lgetxattr((upper + "/d").c_str(), "user.rootlesscontainers", v, sizeof v), 2) << snapshotter;
    EXPECT_EQ(std::string(v, 2), "\x08\x07") << snapshotter;
    EXPECT_EQ(::lgetxattr((upper + "/keep2").c_str(), "user.rootlesscontainers", v, sizeof v), 2) << snapshotter;
    EXPECT_FALSE(fs::exists(upper + "/keep")) << snapshotter << ": an unchanged file with a record is no change";
  }
}

// The kernel refuses a 501st lower dir: by default kiln then takes
// fuse-overlayfs where it can, else copies, and says so once; with
// KILN_SNAPSHOTTER=overlay the refusal is the error.
TEST_F(CopySnapshotTest, FallsBackToACopyWhenOverlayfsRefuses) {
  std::vector<fs::path> many;
  for (int i = 0; i < 501; ++i) {
    const std::string d = dir_ + "/many/" + std::to_string(i);
    fs::create_directories(d);
    testing::WriteText(d + "/f" + std::to_string(i), std::to_string(i));
    many.insert(many.begin(), d);
  }
  for (const char* d : {"u", "w", "m"}) fs::create_directories(dir_ + "/" + d);
  {
    SnapshotterEnv env("overlay");
    EXPECT_THROW(OverlayMount(many, dir_ + "/u", dir_ + "/w", dir_ + "/m"), sandbox::Error);
  }
  ::testing::internal::CaptureStderr();
  OverlayMount m(many, dir_ + "/u", dir_ + "/w", dir_ + "/m");
  const std::string note = ::testing::internal::GetCapturedStderr();
  const auto no_fuse = FuseOverlayUnavailable();
  EXPECT_EQ(m.copied(), no_fuse.has_value());
  EXPECT_NE(note.find("overlayfs refused"), std::string::npos) << note;
  EXPECT_NE(note.find(no_fuse ? "full copy" : "using fuse-overlayfs"), std::string::npos) << note;
  EXPECT_EQ(testing::ReadText(dir_ + "/m/f0"), "0");
  EXPECT_EQ(testing::ReadText(dir_ + "/m/f500"), "500");
  testing::WriteText(dir_ + "/m/new", "n");
  m.Finish();
  EXPECT_EQ(testing::ReadText(dir_ + "/u/new"), "n");
}

TEST_F(CopySnapshotTest, AnUnchangedStepLeavesAnEmptyDiff) {
  const std::string copy = RunStep("copy", [](const std::string& root) { (void)testing::ReadText(root + "/keep"); });
  EXPECT_TRUE(fs::is_empty(copy));
}

TEST_F(CopySnapshotTest, FuseOverlayfsNeedsItsProgramAndDevFuse) {
  if (auto why = FuseOverlayUnavailable()) {
    SnapshotterEnv env("fuse-overlayfs");
    for (const char* d : {"u", "w", "m"}) fs::create_directories(dir_ + "/" + d);
    try {
      OverlayMount m(lowers_, dir_ + "/u", dir_ + "/w", dir_ + "/m");
      ADD_FAILURE() << "mounted without " << *why;
    } catch (const sandbox::Error& e) {
      EXPECT_NE(std::string(e.what()).find(*why), std::string::npos) << e.what();
    }
    GTEST_SKIP() << "fuse-overlayfs unusable here: " << *why;
  }
  // A lower dir fuse-overlayfs would misread is refused before it runs.
  fs::create_directories(dir_ + "/a:b");
  for (const char* d : {"u", "w", "m"}) fs::create_directories(dir_ + "/" + d);
  EXPECT_THROW(FuseOverlayProcess({dir_ + "/a:b"}, dir_ + "/u", dir_ + "/w", dir_ + "/m"), sandbox::Error);
  // The daemon's own complaint reaches the error: a work dir that is missing.
  try {
    FuseOverlayProcess p(lowers_, dir_ + "/u", dir_ + "/missing-work", dir_ + "/m");
    ADD_FAILURE() << "mounted without a work dir";
  } catch (const sandbox::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fuse-overlayfs could not mount"), std::string::npos) << e.what();
  }
}

// Its marks where mknod or xattrs are refused: ".wh.NAME" files for
// whiteouts, ".wh..wh..opq" for an opaque directory.
TEST_F(CopySnapshotTest, FuseOverlayfsMarkFilesBecomeOverlayForm) {
  const std::string u = dir_ + "/fuse-upper";
  fs::create_directories(u + "/o");
  fs::create_directories(u + "/d");
  testing::WriteText(u + "/.wh.keep", "");
  testing::WriteText(u + "/d/.wh.a", "");
  testing::WriteText(u + "/o/.wh..wh..opq", "");
  testing::WriteText(u + "/o/new", "n");
  testing::WriteText(u + "/.whale", "a file a step made");
  // Marks that hide nothing: a new directory marked opaque, the whiteout of
  // a stub only this step had.
  fs::create_directories(u + "/fresh");
  testing::WriteText(u + "/fresh/.wh..wh..opq", "");
  ASSERT_EQ(::setxattr((u + "/fresh").c_str(), "user.fuseoverlayfs.opaque", "y", 1, 0), 0);
  MakeWhiteout(u + "/stub");
  ASSERT_EQ(::setxattr((u + "/o/new").c_str(), "user.fuseoverlayfs.origin", "x", 1, 0), 0);
  ASSERT_EQ(::setxattr((u + "/o/new").c_str(), "user.mine", "kept", 4, 0), 0);
  NormalizeFuseOverlayUpper(lowers_, u);
  EXPECT_EQ(::lgetxattr((u + "/o/new").c_str(), "user.fuseoverlayfs.origin", nullptr, 0), -1);
  EXPECT_EQ(::lgetxattr((u + "/o/new").c_str(), "user.mine", nullptr, 0), 4) << "a step's own xattrs stay";
  EXPECT_EQ(Tree(u + "/fresh"), "");
  EXPECT_EQ(::lgetxattr((u + "/fresh").c_str(), "user.overlay.opaque", nullptr, 0), -1);
  EXPECT_EQ(::lgetxattr((u + "/fresh").c_str(), "user.fuseoverlayfs.opaque", nullptr, 0), -1);
  EXPECT_FALSE(fs::exists(fs::symlink_status(u + "/stub")));
  struct stat st {};
  for (const char* w : {"/keep", "/d/a"}) {
    ASSERT_EQ(::lstat((u + w).c_str(), &st), 0) << w;
    EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) << w;
  }
  EXPECT_FALSE(fs::exists(u + "/.wh.keep"));
  EXPECT_FALSE(fs::exists(u + "/o/.wh..wh..opq"));
  EXPECT_TRUE(fs::exists(u + "/.whale"));
  char v = 0;
  EXPECT_EQ(::lgetxattr((u + "/o").c_str(), "user.overlay.opaque", &v, 1), 1);
  const std::string view = dir_ + "/fuse-view";
  fs::create_directories(view);
  std::vector<fs::path> layers = {u};
  layers.insert(layers.end(), lowers_.begin(), lowers_.end());
  SnapshotterEnv env("overlay");
  OverlayMount m(layers, fs::path(), fs::path(), view);
  EXPECT_FALSE(fs::exists(view + "/keep"));
  EXPECT_FALSE(fs::exists(view + "/d/a"));
  EXPECT_TRUE(fs::exists(view + "/d/b") == false && fs::exists(view + "/o/new"));
  EXPECT_FALSE(fs::exists(view + "/o/vis")) << "o is opaque";
}

TEST_F(CopySnapshotTest, AnUnknownSnapshotterIsAnError) {
  SnapshotterEnv env("vfs");
  for (const char* d : {"u", "w", "m"}) fs::create_directories(dir_ + "/" + d);
  EXPECT_THROW(OverlayMount(lowers_, dir_ + "/u", dir_ + "/w", dir_ + "/m"), sandbox::Error);
}

}  // namespace
}  // namespace kiln::sandbox
