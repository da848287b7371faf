#include "builder/finalize_memo.h"

#include <gtest/gtest.h>

#include <fstream>

#include "builder/step_cache.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

class FinalizeMemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-memo-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FinalizeMemoTest, PutThenGetAndMisses) {
  oci::Store store(dir_ / "store");
  const FinalizeMemo memo(store);
  const oci::Digest a = CacheKeyBuilder().Add("pass", "x").Finish();
  const oci::Digest b = CacheKeyBuilder().Add("pass", "y").Finish();
  EXPECT_FALSE(memo.Get(a));
  memo.Put(a, {{"clean", true}});
  ASSERT_TRUE(memo.Get(a));
  EXPECT_TRUE(memo.Get(a)->value("clean", false));
  EXPECT_FALSE(memo.Get(b)) << "another key";
  // A damaged entry is a miss, not an error.
  std::ofstream(store.Path("cache/finalize") / (b.hex + ".json")) << "{not json";
  EXPECT_FALSE(memo.Get(b));
}

}  // namespace
}  // namespace kiln::builder
