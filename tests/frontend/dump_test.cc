// Every BuildKit parser fixture: the dump must match `result` byte for byte,
// and every negative fixture must be rejected.
#include <filesystem>

#include <gtest/gtest.h>

#include "frontend/ast.h"
#include "frontend/error.h"
#include "frontend/text_util.h"
#include "tests/frontend/corpus_util.h"

namespace kiln::frontend {
namespace {

namespace fs = std::filesystem;
using testing::CorpusDir;
using testing::ReadFileOrDie;


TEST(Dump, AllPositiveFixturesMatchByteForByte) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(testing::BuildkitParserDir() + "/testfiles")) {
    const std::string dir = entry.path().string();
    SCOPED_TRACE(dir);
    std::string input = ReadFileOrDie(dir + "/Dockerfile");
    std::string expected = ReadFileOrDie(dir + "/result");
    ParseResult result;
    ASSERT_NO_THROW(result = Parse(input, dir + "/Dockerfile"));
    // Upstream compares dump + "\n"; our Dump already ends every line in '\n'.
    EXPECT_EQ(Dump(result), expected);
    ++cases;
  }
  EXPECT_EQ(cases, 33);
}

TEST(Dump, AllNegativeFixturesThrow) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(testing::BuildkitParserDir() + "/testfiles-negative")) {
    SCOPED_TRACE(entry.path().string());
    std::string input = ReadFileOrDie(entry.path().string() + "/Dockerfile");
    EXPECT_THROW(Parse(input), Error);
    ++cases;
  }
  EXPECT_EQ(cases, 4);
}

TEST(Dump, GoQuoting) {
  EXPECT_EQ(GoQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), R"("\a\b\f\n\r\t\v")");
  EXPECT_EQ(GoQuote(std::string("\x01\x7f", 2)), R"("\x01\x7f")");
  EXPECT_EQ(GoQuote(std::string("\0", 1)), R"("\x00")");
  EXPECT_EQ(GoQuote("\xff"), R"("\xff")");
  EXPECT_EQ(GoQuote("\u2665 \u00e0"), "\"\u2665 \u00e0\"");
  EXPECT_EQ(GoQuote("\u00a0"), R"("\u00a0")");
  EXPECT_EQ(GoQuote("\u200b"), R"("\u200b")");
  EXPECT_EQ(GoQuote("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
}

TEST(Dump, OnbuildFlagsAndUnknown) {
  ParseResult r = Parse("FROM a\nONBUILD RUN echo test\nCOPY --from=x -- a b\nfoo bar\nCMD []\n");
  EXPECT_EQ(Dump(r),
            "(from \"a\")\n(onbuild (run \"echo test\"))\n(copy [\"--from=x\"] \"a\" \"b\")\n(foo \"\")\n(cmd)\n");
}

}  // namespace
}  // namespace kiln::frontend
