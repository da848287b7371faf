#include "oci/store/file_lock.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "oci/error.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;

TEST(FileLock, TryExclusiveFailsWhileHeldAndSucceedsAfter) {
  char tmpl[] = "/tmp/kiln-lock-XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  const fs::path file = dir / "x.lock";
  {
    FileLock held(file, true);
    EXPECT_TRUE(fs::exists(file));
    // flock locks belong to open file descriptions: a second open in the
    // same process conflicts too (parallel stages of one build).
    EXPECT_FALSE(FileLock::TryExclusive(file).has_value());
  }
  auto again = FileLock::TryExclusive(file);
  EXPECT_TRUE(again.has_value());
  fs::remove_all(dir);
}

TEST(FileLock, SharedHoldersDoNotExcludeEachOther) {
  char tmpl[] = "/tmp/kiln-lock-XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  {
    FileLock a(dir / "s.lock", false);
    FileLock b(dir / "s.lock", false);
    EXPECT_FALSE(FileLock::TryExclusive(dir / "s.lock").has_value());
  }
  fs::remove_all(dir);
}

TEST(FileLock, UnopenableFileThrows) {
  EXPECT_THROW(FileLock("/nonexistent-dir-kiln/x.lock", true), Error);
}

}  // namespace
}  // namespace kiln::oci
