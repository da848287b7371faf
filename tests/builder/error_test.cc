// builder::Error: what, where, why and what to do in one message, and the
// parts kept for callers.
#include "builder/error.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "builder/registry_cache.h"

namespace kiln::builder {
namespace {

TEST(BuilderError, MessageReadsWhatWhereWhyToDo) {
  EXPECT_STREQ(Error({"build context", "/src", "not a directory", "pass a directory"}).what(),
               "build context /src: not a directory; pass a directory");
  EXPECT_STREQ(Error({"stdin", "", "empty"}).what(), "stdin: empty");
  EXPECT_STREQ(Error({"file not found in build context"}).what(), "file not found in build context");
  const Error e({"secret", "npm", "is required but was not given", "pass --secret id=npm,src=FILE"});
  EXPECT_EQ(e.context().where, "npm");
  EXPECT_EQ(e.context().to_do, "pass --secret id=npm,src=FILE");
}

TEST(BuilderError, ThrowErrnoSaysWhy) {
  errno = ENOENT;
  try {
    ThrowErrno("open", "/x", "create it");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "open /x: No such file or directory; create it");
  }
}

TEST(BuilderError, CacheSpecSaysWhatToWrite) {
  try {
    ParseRegistryCacheSpec("type=local");
    FAIL() << "type=local accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().why, "only type=registry is supported");
    EXPECT_NE(std::string(e.what()).find("; use type=registry,ref=REFERENCE"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::builder
