// ExtractLayer against a corpus of hostile archives made here with libarchive.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using namespace ocitest;

class Extract : public ::testing::Test {
 protected:
  void SetUp() override {
    outside_ = dir_ / "outside";
    target_ = dir_ / "target";
    fs::create_directories(outside_);
    fs::create_directories(target_);
    WriteText(outside_ / "secret", "original");
  }
  // Extracts; returns the error text ("" when it succeeded).
  std::string Run(const std::vector<T>& entries, ExtractOptions opts = {}) {
    auto blob = dir_ / ("layer" + std::to_string(n_++) + ".tar.gz");
    MakeTar(blob, entries);
    opts.warn = [this](const std::string& w) { warnings_.push_back(w); };
    try {
      ExtractLayer(blob, target_, opts);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  // Nothing outside the target changed.
  void ExpectOutsideUntouched() {
    EXPECT_EQ(ReadText(outside_ / "secret"), "original");
    EXPECT_EQ(fs::hard_link_count(outside_ / "secret"), 1u);
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(outside_)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"secret"});
    std::vector<std::string> top;
    for (auto& e : fs::directory_iterator(dir_.path())) top.push_back(e.path().filename());
    for (auto& n : top) EXPECT_TRUE(n == "outside" || n == "target" || n.starts_with("layer")) << n;
  }
  ScratchDir dir_;
  fs::path outside_, target_;
  std::vector<std::string> warnings_;
  int n_ = 0;
};

TEST_F(Extract, Benign) {
  T setuid = F("bin/su", "x", 04755);
  T owned = F("home/u/f", "data");
  owned.uid = 1000;
  owned.gid = 1001;
  EXPECT_EQ(Run({D("bin"), setuid, D("home"), D("home/u", 0700), owned, L("bin/sh", "/bin/busybox"), H("bin/su2", "bin/su"),
                 D("ro", 0555), F("ro/f", "r")}),
            "");
  struct stat st {};
  ASSERT_EQ(::lstat((target_ / "bin" / "su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtime, 1000);
  EXPECT_EQ(st.st_nlink, 2u);
  if (geteuid() == 0) {
    ASSERT_EQ(::lstat((target_ / "home" / "u" / "f").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
  }
  ASSERT_EQ(::lstat((target_ / "home" / "u").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_mtime, 1000);
  ASSERT_EQ(::lstat((target_ / "ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(fs::read_symlink(target_ / "bin" / "sh"), "/bin/busybox");  // symlinks untouched
}

// 1
TEST_F(Extract, DotDotRejected) {
  EXPECT_NE(Run({F("../outside/secret", "pwned")}).find("..\" component"), std::string::npos);
  ExpectOutsideUntouched();
}
// 2
TEST_F(Extract, DotDotInsideRejected) {
  EXPECT_NE(Run({D("a"), F("a/../../outside/secret", "pwned")}), "");
  ExpectOutsideUntouched();
}
// 3
TEST_F(Extract, AbsoluteNameStaysInside) {
  EXPECT_EQ(Run({F((outside_ / "secret").string(), "inside")}), "");
  EXPECT_EQ(ReadText(target_ / fs::path(outside_.string().substr(1)) / "secret"), "inside");
  ExpectOutsideUntouched();
}
// 4
TEST_F(Extract, AbsoluteSymlinkThenWriteThrough) {
  Run({L("evil", outside_.string()), F("evil/secret", "pwned"), F("evil/new", "pwned")});
  ExpectOutsideUntouched();
}
// 5
TEST_F(Extract, RelativeSymlinkEscapeThenWriteThrough) {
  Run({D("a"), L("a/up", "../../outside"), F("a/up/secret", "pwned")});
  ExpectOutsideUntouched();
}
// 6
TEST_F(Extract, SymlinkToRootThenWriteThrough) {
  std::string err = Run({L("root", "/"), F("root/planted", "in")});
  EXPECT_EQ(err, "");
  EXPECT_EQ(ReadText(target_ / "planted"), "in");  // "/" means the target's root
  ExpectOutsideUntouched();
}
// 7
TEST_F(Extract, FileReplacesPlantedSymlink) {
  EXPECT_EQ(Run({L("link", (outside_ / "secret").string()), F("link", "replaced")}), "");
  EXPECT_FALSE(fs::is_symlink(target_ / "link"));
  EXPECT_EQ(ReadText(target_ / "link"), "replaced");
  ExpectOutsideUntouched();
}
// 8
TEST_F(Extract, HardlinkToAbsoluteOutside) {
  EXPECT_NE(Run({H("hl", (outside_ / "secret").string())}), "");
  ExpectOutsideUntouched();
}
// 9
TEST_F(Extract, HardlinkThroughSymlinkedDir) {
  Run({L("d", outside_.string()), H("hl", "d/secret")});
  ExpectOutsideUntouched();
}
// 10
TEST_F(Extract, HardlinkDotDot) {
  EXPECT_NE(Run({H("hl", "../outside/secret")}), "");
  ExpectOutsideUntouched();
}
// 11
TEST_F(Extract, SymlinkReplacedByDirectory) {
  EXPECT_EQ(Run({L("s", outside_.string()), D("s"), F("s/f", "inside")}), "");
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(target_ / "s")));
  EXPECT_EQ(ReadText(target_ / "s" / "f"), "inside");
  ExpectOutsideUntouched();
}
// 12
TEST_F(Extract, DirectoryReplacedBySymlinkThenWrite) {
  Run({D("d"), F("d/a", "a"), L("d", outside_.string()), F("d/secret", "pwned")});
  ExpectOutsideUntouched();
}
// 13
TEST_F(Extract, LongNames) {
  std::string comp(300, 'x');
  EXPECT_NE(Run({F("a/" + comp, "too long")}), "");
  std::string deep;
  // append() rather than operator+: GCC 12 -O2 warns falsely (array-bounds) on the latter.
  for (int i = 0; i < 30; ++i) deep.append(200, 'd').append("/");
  Run({F(deep + "f", "deep")});
  std::string ok;
  ok.append(120, 'a').append("/").append(200, 'b');
  EXPECT_EQ(Run({F(ok, "fine")}), "");
  EXPECT_EQ(ReadText(target_ / ok), "fine");
  ExpectOutsideUntouched();
}
// 14
TEST_F(Extract, WhiteoutThroughSymlinkFlatten) {
  ExtractOptions o;
  o.overlay_form = false;
  Run({L("evil", outside_.string()), F("evil/.wh.secret", "")}, o);
  Run({L("evil2", "../outside"), F("evil2/.wh..wh..opq", "")}, o);
  ExpectOutsideUntouched();
}
// 15
TEST_F(Extract, WhiteoutDotDot) {
  EXPECT_NE(Run({F(".wh..", "")}), "");
  EXPECT_NE(Run({F("../.wh.outside", "")}), "");
  ExtractOptions o;
  o.overlay_form = false;
  EXPECT_NE(Run({F("a/.wh..", "")}, o), "");
  ExpectOutsideUntouched();
}
// 16
TEST_F(Extract, SymlinkChainEscape) {
  Run({L("a", "b"), L("b", "/../../../" + outside_.string()), F("a/secret", "pwned"), F("a/x", "pwned")});
  ExpectOutsideUntouched();
}
// 16b: /proc/self/root is a magic link to the real root; inside the target
// it is only a path (sandbox::OpenInRoot refuses magic links).
TEST_F(Extract, ProcSelfRootSymlinkThenWriteThrough) {
  std::vector<T> entries;
  std::string dir = "proc/self/root";
  for (const auto& c : fs::path("proc/self/root") / outside_.relative_path()) {
    dir = entries.empty() ? c.string() : dir + "/" + c.string();
    entries.push_back(D(dir));
  }
  entries.push_back(L("p", "/proc/self/root" + outside_.string()));
  entries.push_back(F("p/secret", "pwned"));
  entries.push_back(F("p/new", "pwned"));
  EXPECT_EQ(Run(entries), "");
  EXPECT_EQ(ReadText(target_ / "proc/self/root" / outside_.relative_path() / "new"), "pwned");
  ExpectOutsideUntouched();
}
// 17
TEST_F(Extract, HardlinkToPlantedSymlinkThenOverwrite) {
  EXPECT_EQ(Run({L("s", (outside_ / "secret").string()), H("h", "s"), F("h", "overwritten")}), "");
  EXPECT_EQ(ReadText(target_ / "h"), "overwritten");
  EXPECT_TRUE(fs::is_symlink(target_ / "s"));
  ExpectOutsideUntouched();
}
// 18
TEST_F(Extract, DevicesSkippedWithWarning) {
  T dev{"dev/null", S_IFCHR | 0666};
  dev.rdev_major = 1;
  dev.rdev_minor = 3;
  T fifo{"run/fifo", S_IFIFO | 0600};
  EXPECT_EQ(Run({dev, fifo}), "");
  EXPECT_FALSE(fs::exists(fs::symlink_status(target_ / "dev" / "null")));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("dev/null"), std::string::npos);
  EXPECT_TRUE(fs::is_fifo(target_ / "run" / "fifo"));
}
// 19
TEST_F(Extract, OverlayXattrsFromArchiveDropped) {
  T d = D("d");
  d.xattrs = {{"user.overlay.redirect", "/etc"}, {"trusted.overlay.opaque", "y"}};
  EXPECT_EQ(Run({d}), "");
  char buf[16];
  EXPECT_LT(::lgetxattr((target_ / "d").c_str(), "user.overlay.redirect", buf, sizeof buf), 0);
  EXPECT_LT(::lgetxattr((target_ / "d").c_str(), "trusted.overlay.opaque", buf, sizeof buf), 0);
}
// 20
TEST_F(Extract, HardlinkToDirectoryRejected) {
  EXPECT_NE(Run({D("d"), H("h", "d")}), "");
}
// 21
TEST_F(Extract, DotEntriesAndSlashes) {
  EXPECT_EQ(Run({D("./"), D("./a//b/"), F("./a//b/./c", "c")}), "");
  EXPECT_EQ(ReadText(target_ / "a" / "b" / "c"), "c");
}

TEST_F(Extract, WhiteoutsOverlayForm) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod of whiteouts needs root or a user namespace";
  if (::setxattr(target_.c_str(), "user.kiln.probe", "1", 1, 0) != 0) GTEST_SKIP() << "no user xattrs on /tmp";
  EXPECT_EQ(Run({D("etc"), F("etc/.wh.gone", ""), D("opq"), F("opq/.wh..wh..opq", ""), F("opq/kept", "k")}), "");
  struct stat st {};
  ASSERT_EQ(::lstat((target_ / "etc" / "gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(target_ / "etc" / ".wh.gone"));
  char v[4] = {};
  EXPECT_EQ(::getxattr((target_ / "opq").c_str(), "user.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(fs::exists(target_ / "opq" / ".wh..wh..opq"));
}

TEST_F(Extract, WhiteoutsFlattened) {
  WriteText(target_ / "etc" / "gone", "lower");
  WriteText(target_ / "opq" / "lower", "lower");
  fs::create_directories(target_ / "opq" / "lowerdir" / "sub");
  ExtractOptions o;
  o.overlay_form = false;
  EXPECT_EQ(Run({D("etc"), F("etc/.wh.gone", ""), D("opq"), F("opq/a-new", "n"), F("opq/.wh..wh..opq", ""), F("opq/z", "z")}, o), "");
  EXPECT_FALSE(fs::exists(target_ / "etc" / "gone"));
  EXPECT_FALSE(fs::exists(target_ / "opq" / "lower"));
  EXPECT_FALSE(fs::exists(target_ / "opq" / "lowerdir"));
  EXPECT_TRUE(fs::exists(target_ / "opq" / "a-new"));  // same layer, before the marker
  EXPECT_TRUE(fs::exists(target_ / "opq" / "z"));
}

TEST_F(Extract, ZstdAndPlainDetected) {
  auto z = dir_ / "layer-z.tar.zst";
  MakeTar(z, {F("z", "zstd")}, Z::kZstd);
  ExtractLayer(z, target_, {});
  auto p = dir_ / "layer-p.tar";
  MakeTar(p, {F("p", "plain")}, Z::kNone);
  ExtractLayer(p, target_, {});
  EXPECT_EQ(ReadText(target_ / "z"), "zstd");
  EXPECT_EQ(ReadText(target_ / "p"), "plain");
  auto junk = dir_ / "layer-junk";
  WriteText(junk, "this is not a tar");
  EXPECT_THROW(ExtractLayer(junk, target_, {}), Error);
}

// Unmapped ids (a namespace with only root mapped) are recorded, not
// refused: tests/oci/owner_record_test.cc.

TEST(ExtractRoundTrip, WriteThenExtractPreservesTree) {
  ScratchDir dir;
  Store s(dir / "store");
  auto t = dir / "tree";
  WriteText(t / "bin" / "tool", std::string(70000, 't'));
  ::chmod((t / "bin" / "tool").c_str(), 02755);
  fs::create_hard_link(t / "bin" / "tool", t / "bin" / "alias");
  fs::create_symlink("tool", t / "bin" / "ln");
  fs::create_directories(t / "empty");
  Layer l = WriteLayer(s, t, {});
  ExtractLayer(s.BlobPath(l.blob.digest), dir / "out", {});
  EXPECT_EQ(ReadText(dir / "out" / "bin" / "tool"), std::string(70000, 't'));
  EXPECT_EQ(fs::status(dir / "out" / "bin" / "tool").permissions(), fs::status(t / "bin" / "tool").permissions());
  struct stat a {}, b {};
  ::lstat((dir / "out" / "bin" / "tool").c_str(), &a);
  ::lstat((dir / "out" / "bin" / "alias").c_str(), &b);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 02755u);
  EXPECT_EQ(fs::read_symlink(dir / "out" / "bin" / "ln"), "tool");
  EXPECT_TRUE(fs::is_directory(dir / "out" / "empty"));
  // Writing the extracted tree again gives the same layer.
  Layer again = WriteLayer(s, dir / "out", {});
  EXPECT_EQ(again.diff_id, l.diff_id);
}

}  // namespace
}  // namespace kiln::oci
