// `kiln build -`: stdin is a tar (plain or compressed) holding the context,
// or else the Dockerfile itself with an empty context.
#include "builder/stdin_context.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "oci/store/store.h"
#include "tests/oci/supply/supply_test_util.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::stdin_context_test {
namespace {

namespace fs = std::filesystem;
using oci::testing::Dir;
using oci::testing::File;
using oci::testing::WriteTar;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class StdinContextTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::make_unique<oci::Store>(tmp_.path() / "store"); }
  void TearDown() override { std::cin.rdbuf(saved_); }
  // Makes `bytes` what std::cin reads.
  void Feed(std::string bytes) {
    input_.str(std::move(bytes));
    std::cin.rdbuf(&input_);
    std::cin.clear();
  }
  std::string Tar(bool gzip) {
    const fs::path t = tmp_.path() / (gzip ? "ctx.tar.gz" : "ctx.tar");
    WriteTar(t, {File("Dockerfile", "FROM scratch\n"), Dir("sub"), File("sub/Other.df", "FROM busybox\n"),
                 File("app.txt", "hello")},
             gzip);
    return Slurp(t);
  }

  oci::testing::TempDir tmp_;
  std::unique_ptr<oci::Store> store_;
  std::stringbuf input_;
  std::streambuf* saved_ = std::cin.rdbuf();
};

TEST_F(StdinContextTest, PlainTarIsTheContext) {
  Feed(Tar(false));
  StdinContext c = ReadStdinContext(*store_, "");
  EXPECT_EQ(Slurp(fs::path(c.context_dir) / "app.txt"), "hello");
  EXPECT_EQ(Slurp(fs::path(c.context_dir) / "Dockerfile"), "FROM scratch\n");
  EXPECT_EQ(c.dockerfile, "") << "the caller's default -f applies inside the context";
  EXPECT_FALSE(fs::exists(c.dir.path() / "stdin")) << "the archive is removed once extracted";
}

TEST_F(StdinContextTest, GzipTarIsDetectedAndDashFNamesAFileInside) {
  Feed(Tar(true));
  StdinContext c = ReadStdinContext(*store_, "sub/Other.df");
  EXPECT_EQ(c.dockerfile, (fs::path(c.context_dir) / "sub/Other.df").string());
  EXPECT_EQ(Slurp(c.dockerfile), "FROM busybox\n");
}

TEST_F(StdinContextTest, AnythingElseIsTheDockerfileWithAnEmptyContext) {
  Feed("FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n");
  StdinContext c = ReadStdinContext(*store_, "");
  ASSERT_FALSE(c.dockerfile.empty());
  EXPECT_EQ(Slurp(c.dockerfile), "FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n");
  EXPECT_TRUE(fs::is_empty(c.context_dir));
}

TEST_F(StdinContextTest, TempDirGoesWithTheObject) {
  fs::path dir;
  {
    Feed(Tar(false));
    StdinContext c = ReadStdinContext(*store_, "");
    dir = c.dir.path();
    EXPECT_TRUE(fs::exists(dir));
  }
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(StdinContextTest, RefusesWhatCannotWork) {
  Feed("FROM scratch\n");
  EXPECT_THROW(ReadStdinContext(*store_, "-"), std::runtime_error) << "context and -f both from stdin";
  Feed("FROM scratch\n");
  try {
    ReadStdinContext(*store_, "Dockerfile.other");
    ADD_FAILURE() << "a Dockerfile on stdin with -f accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("-f Dockerfile.other cannot be used"), std::string::npos) << e.what();
  }
  Feed("");
  try {
    ReadStdinContext(*store_, "");
    ADD_FAILURE() << "empty stdin accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "build context from stdin: stdin is empty; pipe a tar archive or a Dockerfile into kiln build -");
  }
}

}  // namespace
}  // namespace kiln::builder::stdin_context_test
