#include "builder/context.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util/scratch_dir.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = dir_ / "ctx";
    fs::create_directories(ctx_ / "src/sub");
    fs::create_directories(ctx_ / "node_modules/pkg");
    Write("a.txt", "alpha");
    Write("b.log", "bravo");
    Write("src/main.c", "int main(){}");
    Write("src/sub/x.h", "x");
    Write("node_modules/pkg/index.js", "js");
    fs::create_symlink("a.txt", ctx_ / "link");
  }
  void Write(const std::string& rel, const std::string& data) { std::ofstream(ctx_ / rel) << data; }

  testutil::ScratchDir scratch_{"kiln-context"};
  const fs::path dir_ = scratch_.path();
  fs::path ctx_;
};

std::vector<std::string> Paths(const std::vector<const ContextEntry*>& v) {
  std::vector<std::string> out;
  for (auto* e : v) out.push_back(e->path);
  return out;
}

TEST_F(ContextTest, WalkHonoursDockerignore) {
  BuildContext ctx(ctx_, frontend::IgnoreMatcher({"node_modules", "*.log"}), nullptr);
  std::vector<std::string> all;
  for (const auto& e : ctx.Entries()) all.push_back(e.path);
  EXPECT_EQ(all, (std::vector<std::string>{"a.txt", "link", "src", "src/main.c", "src/sub", "src/sub/x.h"}));
  EXPECT_TRUE(ctx.Find("link")->is_symlink());
  EXPECT_EQ(ctx.LinkTarget(*ctx.Find("link")), "a.txt");
  EXPECT_EQ(ctx.LinkTarget(*ctx.Find("a.txt")), "");
}

TEST_F(ContextTest, HiddenIsTheTopmostIgnoredPaths) {
  fs::create_directories(ctx_ / "build/out");
  fs::create_directories(ctx_ / "gone/deep");
  Write("build/keep", "k");
  Write("build/drop", "d");
  Write("build/out/x", "x");
  Write("gone/deep/y", "y");
  // "build" holds a re-included file, so it stays and its other children are
  // hidden; "gone" could hold one but does not, so it is hidden whole.
  BuildContext ctx(ctx_, frontend::IgnoreMatcher({"build/", "!build/keep", "gone", "!gone/keep", "node_modules", "*.log"}),
                   nullptr);
  EXPECT_EQ(ctx.Hidden(), (std::vector<std::string>{"b.log", "build/drop", "build/out", "gone", "node_modules"}));
  EXPECT_NE(ctx.Find("build/keep"), nullptr);
  BuildContext all(ctx_, frontend::IgnoreMatcher(), nullptr);
  EXPECT_TRUE(all.Hidden().empty());
}

TEST_F(ContextTest, MatchPlainWildcardAndMissing) {
  BuildContext ctx(ctx_, frontend::IgnoreMatcher(), nullptr);
  EXPECT_EQ(Paths(ctx.Match("./src/")), std::vector<std::string>{"src"});
  EXPECT_EQ(Paths(ctx.Match("*.txt")), std::vector<std::string>{"a.txt"});
  EXPECT_EQ(Paths(ctx.Match("src/*")), (std::vector<std::string>{"src/main.c", "src/sub"}));
  EXPECT_EQ(Paths(ctx.Match(".")), std::vector<std::string>{""});
  try {
    ctx.Match("missing.txt");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file not found in build context"), std::string::npos);
  }
  EXPECT_THROW(ctx.Match("*.none"), std::runtime_error);
}

TEST_F(ContextTest, IgnoredFileIsNotInContext) {
  BuildContext ctx(ctx_, frontend::IgnoreMatcher({"b.log"}), nullptr);
  EXPECT_THROW(ctx.Match("b.log"), std::runtime_error);
}

TEST_F(ContextTest, GoMatchStarDoesNotCrossSlash) {
  EXPECT_TRUE(PathMatch("src/*.c", "src/main.c"));
  EXPECT_FALSE(PathMatch("*.c", "src/main.c"));
  EXPECT_TRUE(PathMatch("src/[^x]*", "src/main.c"));
  EXPECT_TRUE(PathMatch("a?txt", "a.txt"));
}

TEST_F(ContextTest, SourcesDigestFollowsContentModeAndExcludes) {
  BuildContext ctx1(ctx_, frontend::IgnoreMatcher(), nullptr);
  const auto d1 = ctx1.SourcesDigest(ctx1.Match("src"), {});
  const auto d1x = ctx1.SourcesDigest(ctx1.Match("src"), {"src/sub"});
  EXPECT_NE(d1, d1x);
  Write("src/sub/x.h", "changed");
  BuildContext ctx2(ctx_, frontend::IgnoreMatcher(), nullptr);
  EXPECT_NE(d1, ctx2.SourcesDigest(ctx2.Match("src"), {}));
  // The excluded file changing does not change the digest.
  EXPECT_EQ(d1x, ctx2.SourcesDigest(ctx2.Match("src"), {"src/sub"}));
  ::chmod((ctx_ / "src/main.c").c_str(), 0700);
  BuildContext ctx3(ctx_, frontend::IgnoreMatcher(), nullptr);
  EXPECT_NE(ctx2.SourcesDigest(ctx2.Match("src"), {}), ctx3.SourcesDigest(ctx3.Match("src"), {}));
}

TEST_F(ContextTest, StatCachePersistsAndAvoidsRereading) {
  const fs::path cache_file = dir_ / "statcache.json";
  oci::Digest first;
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    first = ctx.SourcesDigest(ctx.Match("."), {});
    EXPECT_EQ(sc.hits(), 0);
    EXPECT_GT(sc.misses(), 0);
    sc.Save();
  }
  ASSERT_TRUE(fs::exists(cache_file));
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    EXPECT_EQ(ctx.SourcesDigest(ctx.Match("."), {}), first);
    EXPECT_EQ(sc.misses(), 0);  // metadata only: nothing was read
    EXPECT_GT(sc.hits(), 0);
  }
  // A changed file (new size, mtime, ctime) is read again, others are not.
  Write("a.txt", "alpha2");
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    EXPECT_NE(ctx.SourcesDigest(ctx.Match("."), {}), first);
    EXPECT_EQ(sc.misses(), 1);
  }
}

// Names with spaces survive the line format; a name with a newline is not
// remembered (hashed every time); a damaged file is an empty cache.
TEST_F(ContextTest, StatCacheFileFormat) {
  const fs::path cache_file = dir_ / "sc.stat";
  Write("with space.txt", "s");
  Write("new\nline.txt", "n");
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    ctx.SourcesDigest(ctx.Match("."), {});
    sc.Save();
  }
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    ctx.FileDigest(*ctx.Find("with space.txt"));
    ctx.FileDigest(*ctx.Find("new\nline.txt"));
    EXPECT_EQ(sc.hits(), 1);
    EXPECT_EQ(sc.misses(), 1);
  }
  std::string text;
  {
    std::ifstream in(cache_file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(text.starts_with("kiln-stat-cache 3\n")) << text;
  const size_t trailer = text.rfind("end ");
  ASSERT_NE(trailer, std::string::npos) << text;
  size_t n_entries = 0;
  {
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), nullptr);
    n_entries = ctx.Entries().size();
  }
  EXPECT_EQ(text.substr(trailer), "end 6 " + std::to_string(n_entries) + "\n") << "lines, then the context's entries";
  EXPECT_EQ(StatCache(cache_file).EntriesHint(), n_entries);
  // Cut anywhere, even between lines (the trailer gone), or out of order:
  // nothing is trusted.
  std::string swapped = text;
  const size_t first = swapped.find('\n') + 1, second = swapped.find('\n', first) + 1,
               third = swapped.find('\n', second) + 1;
  swapped = swapped.substr(0, first) + swapped.substr(second, third - second) + swapped.substr(first, second - first) +
            swapped.substr(third);
  for (const std::string& damaged : {text.substr(0, text.size() - 1), text.substr(0, text.size() / 2),
                                     text.substr(0, 25), text.substr(0, trailer), swapped}) {
    std::ofstream(cache_file, std::ios::trunc) << damaged;
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    ctx.FileDigest(*ctx.Find("with space.txt"));
    EXPECT_EQ(sc.hits(), 0) << damaged;
  }
}

TEST_F(ContextTest, StatCacheTrustsMetadataNotContent) {
  // Same size and restored mtime but a different inode (replaced by rename):
  // the ino/ctime check must catch it.
  const fs::path cache_file = dir_ / "sc.json";
  struct stat st {};
  ::stat((ctx_ / "a.txt").c_str(), &st);
  oci::Digest before;
  {
    StatCache sc(cache_file);
    BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
    before = ctx.FileDigest(*ctx.Find("a.txt"));
    sc.Save();
  }
  std::ofstream(ctx_ / "new.tmp") << "ALPHA";
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, (ctx_ / "new.tmp").c_str(), ts, 0);
  fs::rename(ctx_ / "new.tmp", ctx_ / "a.txt");
  StatCache sc(cache_file);
  BuildContext ctx(ctx_, frontend::IgnoreMatcher(), &sc);
  EXPECT_NE(ctx.FileDigest(*ctx.Find("a.txt")), before);
}

// The provenance's context digest covers exactly what COPY/ADD read (after
// .dockerignore and --exclude), in any order, and changes with their content.
TEST_F(ContextTest, ReadDigestCoversWhatWasRead) {
  auto read = [&](const std::vector<std::string>& sources, size_t* n) {
    BuildContext ctx(ctx_, frontend::IgnoreMatcher({"*.log"}), nullptr);
    for (const auto& s : sources) ctx.SourcesDigest(ctx.Match(s), {"src/sub"});
    return ctx.ReadDigest(n);
  };
  size_t n = 0;
  const oci::Digest none = read({}, &n);
  EXPECT_EQ(n, 0u);
  const oci::Digest both = read({"a.txt", "src"}, &n);
  EXPECT_EQ(n, 3u);  // a.txt, src, src/main.c (src/sub excluded)
  EXPECT_NE(both, none);
  EXPECT_EQ(read({"src", "a.txt", "a.txt"}, nullptr), both);  // order and repeats do not matter
  EXPECT_NE(read({"a.txt"}, nullptr), both);
  // Ignored and unread files do not count.
  Write("b.log", "changed");
  Write("node_modules/pkg/index.js", "changed");
  EXPECT_EQ(read({"a.txt", "src"}, nullptr), both);
  Write("src/main.c", "int main(){return 1;}");
  EXPECT_NE(read({"a.txt", "src"}, nullptr), both);
}

}  // namespace
}  // namespace kiln::builder
