// LayerCache: a layer whose content is not the diff_id its image claims is
// refused and keeps nothing, and the layer dirs stay keyed by the diff_id
// kiln computed, so a forged image cannot poison (or borrow) another image's
// unpacked layer.
#include "builder/layer_cache.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "tests/builder/store_fixture.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

class Cache : public StoreFixture {
 protected:
  void SetUp() override {
    genuine_ = Layer("genuine", "#!genuine busybox");
    poisoned_ = Layer("poisoned", "#!poisoned");
  }

  oci::Layer Layer(const std::string& name, const std::string& sh) {
    const fs::path tree = dir_ / name;
    fs::create_directories(tree / "bin");
    std::ofstream(tree / "bin" / "sh") << sh;
    return oci::WriteLayer(*store_, tree, {});
  }
  static std::string Read(const fs::path& p) {
    std::stringstream ss;
    ss << std::ifstream(p).rdbuf();
    return ss.str();
  }
  // The poisoned blob under the genuine layer's diff_id, as a forged config says.
  std::string EnsureForged(LayerCache& cache) {
    try {
      cache.Ensure(poisoned_.blob, genuine_.diff_id);
    } catch (const oci::Error& e) {
      return e.what();
    }
    return "";
  }
  void ExpectNamesBothDigests(const std::string& err) {
    EXPECT_NE(err.find(poisoned_.blob.digest.str()), std::string::npos) << err;
    EXPECT_NE(err.find(poisoned_.diff_id.str()), std::string::npos) << err;
    EXPECT_NE(err.find(genuine_.diff_id.str()), std::string::npos) << err;
  }
  bool TmpIsEmpty() const { return fs::is_empty(store_->root() / "tmp"); }

  oci::Layer genuine_, poisoned_;
};

TEST_F(Cache, ForgedDiffIdFirstIsRefusedAndTheGenuineImageIsUnaffected) {
  LayerCache cache(*store_);
  const std::string err = EnsureForged(cache);
  ExpectNamesBothDigests(err);
  EXPECT_FALSE(store_->HasLayerDir(genuine_.diff_id));
  EXPECT_FALSE(store_->HasLayerDir(poisoned_.diff_id));
  EXPECT_FALSE(store_->RecordedDiffId(poisoned_.blob.digest));
  EXPECT_TRUE(TmpIsEmpty());
  // A later, unrelated user of the genuine image (another process: a fresh cache).
  LayerCache later(*store_);
  const fs::path dir = later.Ensure(genuine_.blob, genuine_.diff_id);
  EXPECT_EQ(dir, store_->LayerDir(genuine_.diff_id));
  EXPECT_EQ(Read(dir / "bin" / "sh"), "#!genuine busybox");
}

TEST_F(Cache, ForgedDiffIdAfterTheGenuineOneIsRefusedToo) {
  // The genuine layer is unpacked (its blob's diff_id recorded); the forged
  // image must not borrow its dir either.
  LayerCache cache(*store_);
  cache.Ensure(genuine_.blob, genuine_.diff_id);
  ExpectNamesBothDigests(EnsureForged(cache));
  // Also when nothing was recorded (a store from before diff_ids were): the
  // blob is hashed once.
  fs::remove_all(store_->root() / "diff-ids");
  LayerCache fresh(*store_);
  ExpectNamesBothDigests(EnsureForged(fresh));
  EXPECT_EQ(Read(store_->LayerDir(genuine_.diff_id) / "bin" / "sh"), "#!genuine busybox");
}

TEST_F(Cache, TheImageIsNamedInTheError) {
  LayerCache cache(*store_);
  ImageState st;
  st.layers = {poisoned_.blob};
  st.config.diff_ids = {genuine_.diff_id};
  cache.NameImage(st, "evil/busybox:latest");
  try {
    cache.Lowers(st);
    FAIL() << "accepted a forged layer";
  } catch (const oci::Error& e) {
    EXPECT_NE(std::string(e.what()).find("evil/busybox:latest (layer 1 of 1)"), std::string::npos) << e.what();
  }
}

TEST_F(Cache, UnpackedDirIsRecordedForFsck) {
  LayerCache cache(*store_);
  EXPECT_FALSE(store_->RecordedDiffId(genuine_.blob.digest));  // as after a pull
  cache.Ensure(genuine_.blob, genuine_.diff_id);
  EXPECT_EQ(store_->RecordedDiffId(genuine_.blob.digest), genuine_.diff_id);
  EXPECT_TRUE(store_->LayerTreeDigest(genuine_.diff_id));
  EXPECT_TRUE(store_->Fsck(false, {}, true).corrupt_layers.empty());
}

}  // namespace
}  // namespace kiln::builder
