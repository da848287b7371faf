#include "builder/layer_lineage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "oci/store/store.h"
#include "tests/builder/store_fixture.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::layer_lineage_test {
namespace {

namespace fs = std::filesystem;

class LineageTest : public StoreFixture {
 protected:
  static ImageState Parent(std::vector<std::string> layers) {
    ImageState s;
    for (const auto& l : layers) s.config.diff_ids.push_back(oci::Sha256Of(l));
    return s;
  }
};

TEST_F(LineageTest, KeyIsThePositionNotTheInputs) {
  ImageState p = Parent({"a", "b"});
  const oci::Digest k = LineageKey("COPY . /src", p);
  // Same instruction on the same layers: same position, whatever else the
  // parent state holds (its digest is a cache key that inputs change).
  ImageState other_inputs = p;
  other_inputs.digest = oci::Sha256Of("another cache key");
  other_inputs.config.config.env = {"X=1"};
  EXPECT_EQ(LineageKey("COPY . /src", other_inputs), k);
  EXPECT_NE(LineageKey("COPY . /app", p), k);
  EXPECT_NE(LineageKey("COPY . /src", Parent({"a"})), k);
  EXPECT_NE(LineageKey("COPY . /src", Parent({"b", "a"})), k);
  EXPECT_NE(LineageKey("COPY . /src", Parent({"a", "b", "c"})), k);
}

TEST_F(LineageTest, RecordThenLastRoundTrips) {
  LayerLineage lineage(*store_);
  const oci::Digest key = LineageKey("RUN make", Parent({"a"}));
  EXPECT_FALSE(lineage.Last(key).has_value()) << "nothing recorded yet";
  const oci::Digest blob = oci::Sha256Of("blob"), diff = oci::Sha256Of("diff");
  lineage.Record(key, blob, diff);
  auto last = lineage.Last(key);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->blob, blob);
  ASSERT_TRUE(last->diff_id.has_value());
  EXPECT_EQ(*last->diff_id, diff);
  // The file format the header documents: two digests on two lines.
  std::ifstream f(dir_ / "store/cache/lineage" / key.hex);
  std::string l1, l2;
  std::getline(f, l1);
  std::getline(f, l2);
  EXPECT_EQ(l1, blob.str());
  EXPECT_EQ(l2, diff.str());
  // A later record replaces it.
  const oci::Digest blob2 = oci::Sha256Of("blob2");
  lineage.Record(key, blob2, diff);
  EXPECT_EQ(lineage.Last(key)->blob, blob2);
}

TEST_F(LineageTest, OldRecordWithoutDiffIdAndDamagedRecord) {
  LayerLineage lineage(*store_);
  fs::create_directories(dir_ / "store/cache/lineage");
  const oci::Digest old_key = oci::Sha256Of("old"), bad_key = oci::Sha256Of("bad");
  std::ofstream(dir_ / "store/cache/lineage" / old_key.hex) << oci::Sha256Of("b").str() << "\n";
  std::ofstream(dir_ / "store/cache/lineage" / bad_key.hex) << "not a digest\n";
  auto old = lineage.Last(old_key);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->blob, oci::Sha256Of("b"));
  EXPECT_FALSE(old->diff_id.has_value());
  EXPECT_FALSE(lineage.Last(bad_key).has_value()) << "a damaged record is no hint";
}

}  // namespace
}  // namespace kiln::builder::layer_lineage_test
