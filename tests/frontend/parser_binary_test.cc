// Binary data given as a Dockerfile (`kiln build -f -` fed the wrong file)
// is refused at its first NUL byte with its location, before anything is
// built from it.
#include <gtest/gtest.h>

#include <string>

#include "frontend/ast.h"
#include "frontend/error.h"

namespace kiln::frontend {
namespace {

TEST(ParserBinary, NulIsRefusedWithItsLocation) {
  static const char kBytes[] = "FROM scratch\nRUN x\nab\0\x01\xff\xfe";
  const std::string text(kBytes, sizeof kBytes - 1);
  try {
    Parse(text, "-");
    FAIL() << "binary data parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 3);
    EXPECT_EQ(e.where().column, 3);
    EXPECT_EQ(std::string(e.what()).rfind("-:3:3: NUL byte", 0), 0u) << e.what();
  }
}

TEST(ParserBinary, NulOnTheFirstLine) {
  try {
    Parse(std::string("\0FROM", 5), "Dockerfile");
    FAIL() << "binary data parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 1);
    EXPECT_EQ(e.where().column, 1);
  }
}

TEST(ParserBinary, TextWithoutNulStillParses) {
  EXPECT_NO_THROW(Parse("FROM scratch\nLABEL a=\"\xc3\xa9\"\n", "Dockerfile"));
}

}  // namespace
}  // namespace kiln::frontend
