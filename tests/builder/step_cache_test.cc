#include "builder/step_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "oci/store/store.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

class TempRoot {
 public:
  TempRoot() {
    char tmpl[] = "/tmp/kiln-stepcache-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempRoot() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(CacheKeyBuilder, DelimitsFields) {
  auto a = CacheKeyBuilder().Add("x", "ab").Add("y", "c").Finish();
  auto b = CacheKeyBuilder().Add("x", "a").Add("y", "bc").Finish();
  auto c = CacheKeyBuilder().Add("xa", "b").Add("y", "c").Finish();
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a, CacheKeyBuilder().Add("x", "ab").Add("y", "c").Finish());
  EXPECT_EQ(a.algorithm, "sha256");
  EXPECT_EQ(a.hex.size(), 64u);
}

TEST(CacheKeyBuilder, OrderMatters) {
  EXPECT_NE(CacheKeyBuilder().Add("a", "1").Add("b", "2").Finish(),
            CacheKeyBuilder().Add("b", "2").Add("a", "1").Finish());
}

TEST(StepCache, PutThenLookupRoundTrips) {
  TempRoot root;
  oci::Store store(root.path());
  StepCache cache(store);
  const auto layer = store.PutBlob("layer-bytes", oci::media::kOciLayerGzip);
  ImageState st;
  st.config.config.env = {"A=1"};
  st.config.diff_ids.push_back(oci::Sha256Of("uncompressed"));
  st.layers.push_back(layer);
  oci::History h;
  h.created_by = "RUN x # buildkit";
  st.config.history.push_back(h);
  const auto key = CacheKeyBuilder().Add("k", "v").Finish();
  EXPECT_FALSE(cache.Lookup(key).has_value());
  cache.Put(key, st, "RUN x");
  auto hit = cache.Lookup(key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->digest, key);
  EXPECT_EQ(hit->config.config.env, st.config.config.env);
  ASSERT_EQ(hit->layers.size(), 1u);
  EXPECT_EQ(hit->layers[0].digest, layer.digest);
  EXPECT_EQ(hit->config.history.at(0).created_by, "RUN x # buildkit");
  // The on-disk entry is where the header says.
  EXPECT_TRUE(fs::exists(root.path() / "cache/steps" / (key.hex + ".json")));
  auto roots = cache.Roots();
  EXPECT_NE(std::find(roots.begin(), roots.end(), layer.digest), roots.end());
}

TEST(StepCache, MissingLayerBlobIsAMiss) {
  TempRoot root;
  oci::Store store(root.path());
  StepCache cache(store);
  ImageState st;
  oci::Descriptor gone;
  gone.media_type = oci::media::kOciLayerGzip;
  gone.digest = oci::Sha256Of("never stored");
  gone.size = 3;
  st.layers.push_back(gone);
  st.config.diff_ids.push_back(oci::Sha256Of("x"));
  const auto key = CacheKeyBuilder().Add("k", "gone").Finish();
  cache.Put(key, st, "COPY");
  EXPECT_FALSE(cache.Lookup(key).has_value());
}

TEST(StepCache, DamagedEntryIsAMiss) {
  TempRoot root;
  oci::Store store(root.path());
  StepCache cache(store);
  const auto key = CacheKeyBuilder().Add("k", "bad").Finish();
  std::ofstream(root.path() / "cache/steps" / (key.hex + ".json")) << "{not json";
  EXPECT_FALSE(cache.Lookup(key).has_value());
}

}  // namespace
}  // namespace kiln::builder
