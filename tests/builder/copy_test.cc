#include "builder/copy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandbox/root_path.h"
#include "tests/test_util/scratch_dir.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Dests(const std::vector<CopyTarget>& v) {
  std::vector<std::string> out;
  for (const auto& t : v) out.push_back(t.dest + (t.contents ? " (contents)" : ""));
  return out;
}

auto NoDirs = [](const std::string&) { return false; };

TEST(PlanCopy, FileToFileAndToDirectory) {
  std::vector<CopySource> one{{"/ctx/a.txt", "a.txt", false}};
  EXPECT_EQ(Dests(PlanCopy(one, "/x", "/", 1, false, NoDirs)), std::vector<std::string>{"/x"});
  EXPECT_EQ(Dests(PlanCopy(one, "/x/", "/", 1, false, NoDirs)), std::vector<std::string>{"/x/a.txt"});
  // An existing directory as destination receives the file.
  auto isdir = [](const std::string& p) { return p == "/etc"; };
  EXPECT_EQ(Dests(PlanCopy(one, "/etc", "/", 1, false, isdir)), std::vector<std::string>{"/etc/a.txt"});
}

TEST(PlanCopy, RelativeDestJoinsWorkdir) {
  std::vector<CopySource> one{{"/ctx/a.txt", "a.txt", false}};
  EXPECT_EQ(Dests(PlanCopy(one, "b.txt", "/app", 1, false, NoDirs)), std::vector<std::string>{"/app/b.txt"});
  EXPECT_EQ(Dests(PlanCopy(one, ".", "/app", 1, false, NoDirs)), std::vector<std::string>{"/app/a.txt"});
  EXPECT_EQ(Dests(PlanCopy(one, "sub/", "/app", 1, false, NoDirs)), std::vector<std::string>{"/app/sub/a.txt"});
}

TEST(PlanCopy, DirectoryContentsAreCopiedNotTheDirectory) {
  std::vector<CopySource> dir{{"/ctx/src", "src", true}};
  EXPECT_EQ(Dests(PlanCopy(dir, "/app", "/", 1, false, NoDirs)), std::vector<std::string>{"/app (contents)"});
  EXPECT_EQ(Dests(PlanCopy(dir, "/app/", "/", 1, false, NoDirs)), std::vector<std::string>{"/app (contents)"});
}

TEST(PlanCopy, SeveralSourcesNeedSlash) {
  std::vector<CopySource> two{{"/ctx/a", "a", false}, {"/ctx/b", "b", false}};
  EXPECT_THROW(PlanCopy(two, "/x", "/", 2, false, NoDirs), std::runtime_error);
  EXPECT_EQ(Dests(PlanCopy(two, "/x/", "/", 2, false, NoDirs)), (std::vector<std::string>{"/x/a", "/x/b"}));
  // One wildcard source matching two files: dest is a directory.
  EXPECT_EQ(Dests(PlanCopy(two, "/x", "/", 1, false, NoDirs)), (std::vector<std::string>{"/x/a", "/x/b"}));
}

TEST(PlanCopy, ParentsKeepsTheSourcePath) {
  std::vector<CopySource> s{{"/ctx/a/b/c.txt", "a/b/c.txt", false}, {"/ctx/d", "d", true}};
  EXPECT_EQ(Dests(PlanCopy(s, "/out/", "/", 2, true, NoDirs)),
            (std::vector<std::string>{"/out/a/b/c.txt", "/out/d (contents)"}));
}

TEST(IsAtOrBelow, WholeComponentsOnly) {
  EXPECT_TRUE(IsAtOrBelow("/ctx", "/ctx"));
  EXPECT_TRUE(IsAtOrBelow("/ctx/", "/ctx"));
  EXPECT_TRUE(IsAtOrBelow("/ctx/src/a", "/ctx/"));
  EXPECT_TRUE(IsAtOrBelow("/ctx", "/"));
  EXPECT_FALSE(IsAtOrBelow("/ctx2/a", "/ctx"));
  EXPECT_FALSE(IsAtOrBelow("/ct", "/ctx"));
}

TEST(ParseChmod, OctalOnly) {
  EXPECT_EQ(ParseChmod("755"), mode_t(0755));
  EXPECT_EQ(ParseChmod("0644"), mode_t(0644));
  EXPECT_THROW(ParseChmod("u+x"), std::runtime_error);
  EXPECT_THROW(ParseChmod("999"), std::runtime_error);
}

class CopyFs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "rootfs";
    src_ = dir_ / "src";
    fs::create_directories(root_ / "usr/bin");
    fs::create_symlink("usr/bin", root_ / "bin");
    fs::create_symlink("/", root_ / "escape");  // absolute: must stay inside
    fs::create_directories(src_ / "d/e");
    std::ofstream(src_ / "f.sh") << "#!/bin/sh\n";
    ::chmod((src_ / "f.sh").c_str(), 0750);
    std::ofstream(src_ / "d/e/g.txt") << "g";
    std::ofstream(src_ / "d/skip.txt") << "s";
    fs::create_symlink("e/g.txt", src_ / "d/link");
  }
  CopyAttrs Me() {
    CopyAttrs a;
    a.uid = ::getuid();
    a.gid = ::getgid();
    return a;
  }
  testutil::ScratchDir scratch_{"kiln-copy"};
  const fs::path dir_ = scratch_.path();
  fs::path root_, src_;
};

TEST_F(CopyFs, ResolveInRootClampsAbsoluteLinks) {
  EXPECT_EQ(sandbox::ResolveInRoot(root_, "/bin/x", true), root_ / "usr/bin/x");
  EXPECT_EQ(sandbox::ResolveInRoot(root_, "/escape/etc/passwd", true), root_ / "etc/passwd");
  EXPECT_EQ(sandbox::ResolveInRoot(root_, "/../../etc", true), root_ / "etc");
  EXPECT_EQ(sandbox::ResolveInRoot(root_, "/bin", false), root_ / "bin");
}

// COPY and heredoc files land inside the root whatever links the image
// planted: absolute, "..", and /proc/self/root (a magic link on the host).
TEST_F(CopyFs, WritesThroughEscapingLinksStayInsideTheRoot) {
  const fs::path outside = dir_ / "outside";
  fs::create_directories(outside);
  fs::create_symlink(outside, root_ / "abs");
  fs::create_directories(root_ / "a");
  fs::create_symlink("../../../outside", root_ / "a/up");
  fs::create_symlink("/proc/self/root" + outside.string(), root_ / "magic");
  // The links' targets as the image has them (a dangling link's missing
  // parents are not created, as before).
  for (const fs::path& in : {root_ / outside.relative_path(), root_ / "outside",
                             root_ / "proc/self/root" / outside.relative_path()})
    fs::create_directories(in);
  for (const std::string link : {"abs", "a/up", "magic"}) {
    WriteFileInRoot(root_, "/" + link + "/heredoc", "x", Me(), 0644);
    CopyInto(root_, CopyTarget{CopySource{src_ / "f.sh", "f.sh", false}, "/" + link + "/f.sh", false}, Me());
  }
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_TRUE(fs::exists(root_ / outside.relative_path() / "heredoc"));
  EXPECT_TRUE(fs::exists(root_ / "outside/f.sh"));
  EXPECT_TRUE(fs::exists(root_ / "proc/self/root" / outside.relative_path() / "f.sh"));
}

TEST_F(CopyFs, CopiesFileKeepingModeThroughSymlinkedDir) {
  CopyInto(root_, CopyTarget{{src_ / "f.sh", "f.sh", false}, "/bin/tool", false}, Me());
  struct stat st {};
  ASSERT_EQ(::lstat((root_ / "usr/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_TRUE(fs::is_symlink(root_ / "bin"));  // the link was followed, not replaced
}

TEST_F(CopyFs, DirectoryContentsWithFilterSymlinksAndChmod) {
  CopyAttrs a = Me();
  a.chmod = 0600;
  a.include = [](const std::string& rel) { return rel != "d/skip.txt"; };
  CopyInto(root_, CopyTarget{{src_ / "d", "d", true}, "/opt/new/dir", true}, a);
  EXPECT_TRUE(fs::exists(root_ / "opt/new/dir/e/g.txt"));
  EXPECT_FALSE(fs::exists(root_ / "opt/new/dir/skip.txt"));
  EXPECT_FALSE(fs::exists(root_ / "opt/new/dir/d"));
  EXPECT_TRUE(fs::is_symlink(root_ / "opt/new/dir/link"));
  EXPECT_EQ(fs::read_symlink(root_ / "opt/new/dir/link"), "e/g.txt");
  struct stat st {};
  ::stat((root_ / "opt/new/dir/e/g.txt").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Missing parents are 0755.
  ::stat((root_ / "opt").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

// A directory of many files. tests/integration/copy_syscalls_test.sh runs
// it under strace with the source on another filesystem
// (KILN_COPY_TEST_SRC) and counts the system calls that fail per file.
TEST_F(CopyFs, CopiesADirectoryOfManyFiles) {
  fs::path src = src_;
  if (const char* other = std::getenv("KILN_COPY_TEST_SRC")) src = other;
  fs::create_directories(src / "many");
  for (int i = 0; i < 200; ++i) std::ofstream(src / "many" / ("f" + std::to_string(i))) << "data " << i;
  CopyInto(root_, CopyTarget{{src / "many", "many", true}, "/many", true}, Me());
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(root_ / "many" / ("f" + std::to_string(i)));
    std::string got;
    std::getline(in, got);
    EXPECT_EQ(got, "data " + std::to_string(i));
  }
}

// A rebuild's COPY links the files its last tree holds unchanged and copies
// the rest; what comes out is what a plain copy gives. (The rootfs here is a
// plain directory, its own upper dir.)
TEST_F(CopyFs, LinksFilesTheEarlierTreeHoldsUnchanged) {
  const CopyTarget t{{src_ / "d", "d", true}, "/app", true};
  const fs::path earlier_root = dir_ / "earlier";
  fs::create_directories(earlier_root);
  CopyInto(earlier_root, t, Me());
  std::ofstream(src_ / "d/skip.txt") << "t";  // same size, new bytes
  std::ofstream(src_ / "d/e/new.txt") << "new";
  auto stat_of = [](const fs::path& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st;
  };
  {
    // The same mtime as the earlier copy, so only the bytes tell them apart.
    const struct stat st = stat_of(earlier_root / "app/skip.txt");
    const struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::utimensat(AT_FDCWD, (src_ / "d/skip.txt").c_str(), ts, 0);
  }

  EarlierFiles earlier;
  earlier.tree = earlier_root;
  CopyAttrs a = Me();
  a.earlier = &earlier;
  CopyInto(root_, t, a);
  EXPECT_FALSE(fs::exists(root_ / "app/e/g.txt"));  // left for the link
  ASSERT_EQ(earlier.pending.size(), 1u);
  EXPECT_EQ(earlier.pending[0], "/e/g.txt");  // below the target, /app
  LinkEarlierFiles(root_, earlier);
  EXPECT_EQ(earlier.linked, 1u);
  EXPECT_EQ(stat_of(root_ / "app/e/g.txt").st_ino, stat_of(earlier_root / "app/e/g.txt").st_ino);
  EXPECT_NE(stat_of(root_ / "app/skip.txt").st_ino, stat_of(earlier_root / "app/skip.txt").st_ino);
  std::ifstream in(root_ / "app/skip.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "t");
  EXPECT_TRUE(fs::exists(root_ / "app/e/new.txt"));
  // The directory linked into keeps the times the copy gave it.
  EXPECT_EQ(stat_of(root_ / "app/e").st_mtim.tv_nsec, stat_of(src_ / "d/e").st_mtim.tv_nsec);
  EXPECT_EQ(stat_of(root_ / "app/e").st_mtim.tv_sec, stat_of(src_ / "d/e").st_mtim.tv_sec);

  // A different --chmod: nothing is left for linking.
  fs::remove_all(root_ / "app");
  EarlierFiles other;
  other.tree = earlier_root;
  a.earlier = &other;
  a.chmod = 0600;
  CopyInto(root_, t, a);
  EXPECT_TRUE(other.pending.empty());

  // The earlier tree pruned between the two phases: the source is copied,
  // with the owner, mode and times a copy gives it.
  fs::remove_all(root_ / "app");
  EarlierFiles gone;
  gone.tree = earlier_root;
  a.earlier = &gone;
  a.chmod.reset();
  ::chmod((src_ / "d/e/g.txt").c_str(), 0640);
  ::chmod((earlier_root / "app/e/g.txt").c_str(), 0640);
  CopyInto(root_, t, a);
  ASSERT_EQ(gone.pending.size(), 1u);
  fs::remove_all(earlier_root);
  LinkEarlierFiles(root_, gone);
  EXPECT_EQ(gone.copied, 1u);
  const struct stat got = stat_of(root_ / "app/e/g.txt"), want = stat_of(src_ / "d/e/g.txt");
  EXPECT_EQ(got.st_size, 1);
  EXPECT_EQ(got.st_mode & 07777, 0640u);
  EXPECT_EQ(got.st_mtim.tv_nsec, want.st_mtim.tv_nsec);
  EXPECT_EQ(got.st_mtim.tv_sec, want.st_mtim.tv_sec);
}

// A donor: an earlier COPY of the whole source tree to /ctx; a later COPY of
// its subdirectory d to /app links d's files from where the donor put them.
// A COPY of files the donor did not copy links nothing.
TEST_F(CopyFs, LinksFromADonorThatCopiedTheSameFilesElsewhere) {
  const fs::path donor_root = dir_ / "donor";
  fs::create_directories(donor_root);
  CopyInto(donor_root, CopyTarget{{src_, "", true}, "/ctx", true}, Me());
  auto ino = [](const fs::path& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st.st_ino;
  };

  EarlierFiles earlier;
  earlier.tree = donor_root;
  earlier.donor_from_top = src_.string();
  earlier.donor_to_top_rel = "ctx";
  CopyAttrs a = Me();
  a.earlier = &earlier;
  CopyInto(root_, CopyTarget{{src_ / "d", "d", true}, "/app", true}, a);
  EXPECT_EQ(earlier.TreeRel("/e/g.txt"), "ctx/d/e/g.txt");
  ASSERT_EQ(earlier.pending.size(), 2u);  // e/g.txt and skip.txt; the symlink is copied
  LinkEarlierFiles(root_, earlier);
  EXPECT_EQ(earlier.linked, 2u);
  EXPECT_EQ(ino(root_ / "app/e/g.txt"), ino(donor_root / "ctx/d/e/g.txt"));
  EXPECT_EQ(ino(root_ / "app/skip.txt"), ino(donor_root / "ctx/d/skip.txt"));

  const fs::path elsewhere = dir_ / "elsewhere";
  fs::create_directories(elsewhere / "d/e");
  std::ofstream(elsewhere / "d/e/g.txt") << "g";
  EarlierFiles other;
  other.tree = donor_root;
  other.donor_from_top = src_.string();
  other.donor_to_top_rel = "ctx";
  a.earlier = &other;
  CopyInto(root_, CopyTarget{{elsewhere / "d", "d", true}, "/other", true}, a);
  EXPECT_TRUE(other.pending.empty());
  EXPECT_TRUE(fs::exists(root_ / "other/e/g.txt"));
}

TEST_F(CopyFs, WriteFileInRootForHeredocs) {
  WriteFileInRoot(root_, "/etc/motd", "hello\n", Me());
  std::ifstream in(root_ / "etc/motd");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "hello\n");
}

TEST_F(CopyFs, TarDetection) {
  EXPECT_FALSE(IsTarArchive(src_ / "f.sh"));
  if (::system(("tar -C " + src_.string() + " -czf " + (dir_ / "x.tgz").string() + " d").c_str()) != 0)
    GTEST_SKIP() << "tar not available";
  EXPECT_TRUE(IsTarArchive(dir_ / "x.tgz"));
}

}  // namespace
}  // namespace kiln::builder
