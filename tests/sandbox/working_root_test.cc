// Working roots (no mounts): the diff found by the index scan equals what
// the copy fallback's MoveDiffToUpper gives for the same changes, and a
// kept root is taken over by the next step instead of a new copy.
#include "sandbox/working_root.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <functional>
#include <sstream>
#include <string>

#include "sandbox/copy_snapshot.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {
namespace fs = std::filesystem;

// One line per entry: path, type+mode, owner, size, mtime, link target or
// content and link count, the opaque mark; sorted.
std::string Listing(const fs::path& top) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(top); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path p = it->path();
    struct stat st {};
    ::lstat(p.c_str(), &st);
    std::ostringstream l;
    l << p.lexically_relative(top).string() << " " << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":"
      << st.st_gid << " " << (S_ISDIR(st.st_mode) ? 0 : st.st_size);
    if (!S_ISCHR(st.st_mode)) l << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;  // a whiteout's is its making
    if (S_ISLNK(st.st_mode)) l << " -> " << fs::read_symlink(p).string();
    if (S_ISREG(st.st_mode)) l << " [" << testing::ReadText(p) << "]";
    if (S_ISREG(st.st_mode)) l << " links=" << st.st_nlink;
    char v = 0;
    if (::lgetxattr(p.c_str(), "user.overlay.opaque", &v, 1) == 1) l << " opaque";
    lines.push_back(l.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& s : lines) out += s + "\n";
  return out;
}

void Write(const fs::path& p, const std::string& text) { testing::WriteText(p, text); }

// A lower dir with a bit of everything.
void MakeLower(const fs::path& l) {
  fs::create_directories(l / "etc/conf.d");
  fs::create_directories(l / "var/lib/gone");
  fs::create_directories(l / "again/sub");
  Write(l / "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  Write(l / "etc/conf.d/a", "a\n");
  Write(l / "var/lib/gone/x", "x\n");
  Write(l / "again/sub/old", "old\n");
  Write(l / "keep", "keep\n");
  fs::create_symlink("keep", l / "link");
  struct timespec t[2] = {{1000, 0}, {1000, 0}};
  for (auto it = fs::recursive_directory_iterator(l); it != fs::recursive_directory_iterator(); ++it)
    ::utimensat(AT_FDCWD, it->path().c_str(), t, AT_SYMLINK_NOFOLLOW);
}

// What a RUN might do to a root.
void Change(const fs::path& r) {
  Write(r / "etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
  Write(r / "etc/new", "new\n");
  fs::remove_all(r / "var/lib/gone");
  fs::remove_all(r / "again");
  fs::create_directories(r / "again");
  Write(r / "again/fresh", "fresh\n");
  fs::remove(r / "link");
  fs::create_symlink("etc/new", r / "link");
  fs::create_directories(r / "opt/app/bin");
  Write(r / "opt/app/bin/tool", "#!/bin/sh\n");
  fs::create_hard_link(r / "opt/app/bin/tool", r / "opt/app/bin/tool2");
  ::chmod((r / "keep").c_str(), 0600);
  struct timespec t[2] = {{2000, 0}, {2000, 0}};
  for (auto it = fs::recursive_directory_iterator(r); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    if (st.st_mtim.tv_sec != 1000) ::utimensat(AT_FDCWD, it->path().c_str(), t, AT_SYMLINK_NOFOLLOW);
  }
}

struct Dirs {
  std::string top = testing::MakeTempDir("kiln-sbx-working");
  ~Dirs() {
    WorkingRoot::SetKeepDirectory({});
    std::error_code ec;
    fs::remove_all(top, ec);
  }
  fs::path operator/(const std::string& s) const { return fs::path(top) / s; }
};

TEST(WorkingRootTest, DiffEqualsTheCopyFallbacks) {
  Dirs d;
  MakeLower(d / "lower");
  // The copy fallback's way.
  fs::create_directory(d / "copy");
  CopiedDirs copied = CopyMergedLowers({d / "lower"}, d / "copy");
  Change(d / "copy");
  fs::create_directory(d / "upper-copy");
  MoveDiffToUpper({d / "lower"}, d / "copy", d / "upper-copy", copied);
  // The working root's.
  fs::create_directory(d / "root");
  WorkingRoot root({d / "lower"}, d / "root");
  EXPECT_FALSE(root.reused());
  Change(d / "root");
  fs::create_directory(d / "upper");
  root.Finish(d / "upper", false);
  EXPECT_EQ(Listing(d / "upper"), Listing(d / "upper-copy"));
  EXPECT_NE(Listing(d / "upper").find("again "), std::string::npos);
  // The root itself is left as the step made it.
  EXPECT_EQ(testing::ReadText(d / "root/etc/new"), "new\n");
}

TEST(WorkingRootTest, TheNextStepTakesTheKeptRootOver) {
  Dirs d;
  MakeLower(d / "lower");
  fs::create_directory(d / "keep");
  WorkingRoot::SetKeepDirectory(d / "keep");
  fs::create_directory(d / "root1");
  {
    WorkingRoot root({d / "lower"}, d / "root1");
    Change(d / "root1");
    fs::create_directory(d / "upper1");
    root.Finish(d / "upper1", true);
  }
  EXPECT_FALSE(fs::exists(d / "root1")) << "the root was not kept";
  // The builder renames the upper dir into the store: the same inode.
  fs::rename(d / "upper1", d / "layer1");
  fs::create_directory(d / "root2");
  WorkingRoot next({d / "layer1", d / "lower"}, d / "root2");
  EXPECT_TRUE(next.reused());
  EXPECT_EQ(testing::ReadText(d / "root2/etc/new"), "new\n");
  EXPECT_FALSE(fs::exists(d / "root2/var/lib/gone"));
  // A second step: only its own change lands in its upper dir.
  Write(d / "root2/etc/second", "2\n");
  fs::create_directory(d / "upper2");
  next.Finish(d / "upper2", false);
  EXPECT_EQ(testing::ReadText(d / "upper2/etc/second"), "2\n");
  EXPECT_FALSE(fs::exists(d / "upper2/etc/new"));
  EXPECT_FALSE(fs::exists(d / "upper2/opt"));
  // Other lowers get a copy of their own.
  fs::create_directory(d / "root3");
  WorkingRoot other({d / "lower"}, d / "root3");
  EXPECT_FALSE(other.reused());
}

std::string Xattr(const fs::path& p, const char* name) {
  char v[64] = {};
  const ssize_t n = ::lgetxattr(p.c_str(), name, v, sizeof v);
  return n < 0 ? "(none)" : std::string(v, static_cast<size_t>(n));
}

// setcap or setfattr on an unchanged file changes no stat field the scan
// compares (only ctime): the xattrs must show it.
TEST(WorkingRootTest, AnXattrOnlyChangeReachesTheUpperDir) {
  Dirs d;
  MakeLower(d / "lower");
  fs::create_directory(d / "keep");
  WorkingRoot::SetKeepDirectory(d / "keep");
  fs::create_directory(d / "root1");
  {
    WorkingRoot root({d / "lower"}, d / "root1");
    ASSERT_EQ(::lsetxattr((d / "root1/keep").c_str(), "user.x", "1", 1, 0), 0) << "user xattrs refused here";
    ASSERT_EQ(::lsetxattr((d / "root1/etc/conf.d").c_str(), "user.d", "2", 1, 0), 0);
    fs::create_directory(d / "upper1");
    root.Finish(d / "upper1", true);
  }
  EXPECT_EQ(Xattr(d / "upper1/keep", "user.x"), "1");
  EXPECT_EQ(testing::ReadText(d / "upper1/keep"), "keep\n");
  EXPECT_EQ(Xattr(d / "upper1/etc/conf.d", "user.d"), "2");
  EXPECT_FALSE(fs::exists(d / "upper1/etc/passwd"));
  EXPECT_FALSE(fs::exists(d / "upper1/etc/conf.d/a"));
  EXPECT_FALSE(fs::exists(d / "upper1/var"));
  // The kept index has the xattrs: the next step finds only its own change,
  // here the removal of one.
  fs::rename(d / "upper1", d / "layer1");
  fs::create_directory(d / "root2");
  WorkingRoot next({d / "layer1", d / "lower"}, d / "root2");
  ASSERT_TRUE(next.reused());
  ASSERT_EQ(::lremovexattr((d / "root2/keep").c_str(), "user.x"), 0);
  fs::create_directory(d / "upper2");
  next.Finish(d / "upper2", false);
  EXPECT_EQ(Xattr(d / "upper2/keep", "user.x"), "(none)");
  EXPECT_TRUE(fs::exists(d / "upper2/keep"));
  EXPECT_FALSE(fs::exists(d / "upper2/etc"));
}

}  // namespace
}  // namespace kiln::sandbox
