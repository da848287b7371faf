// GC with multi-platform images: a tag that names an index keeps every
// manifest it lists, their configs, layers and unpacked layer dirs.
#include <gtest/gtest.h>

#include "oci/image_index.h"
#include "oci/store/store.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

using ocitest::ScratchDir;

struct Img {
  Descriptor manifest, config, layer;
  Digest diff_id;
};

Img ArchImage(const Store& s, const std::string& arch) {
  Img i;
  i.layer = s.PutBlob("layer-" + arch, media::kOciLayerGzip);
  ImageConfig c;
  c.architecture = arch;
  i.diff_id = Sha256Of("diff-" + arch);
  c.diff_ids = {i.diff_id};
  i.config = s.PutBlob(ToJson(c), media::kOciConfig);
  Manifest m;
  m.config = i.config;
  m.layers = {i.layer};
  i.manifest = s.PutBlob(ToJson(m), media::kOciManifest);
  return i;
}

TEST(StoreGc, IndexTagKeepsEveryPlatform) {
  ScratchDir dir;
  Store s(dir / "s");
  const Img amd = ArchImage(s, "amd64"), arm = ArchImage(s, "arm64"), loose = ArchImage(s, "s390x");
  // An unpacked layer dir for the arm64 image: kept too (named by its config's diff_id).
  std::filesystem::create_directories(dir / "s" / "tmp" / "unpacked");
  s.AdoptLayerDir(dir / "s" / "tmp" / "unpacked", arm.diff_id);
  const Descriptor idx = PutIndex(s, {amd.manifest, arm.manifest}, IndexFormat::kOci);
  s.SetTag("app:multi", idx);

  const Store::PruneReport r = s.Prune({});
  for (const Img* i : {&amd, &arm}) {
    for (const Descriptor* d : {&i->manifest, &i->config, &i->layer}) EXPECT_TRUE(s.HasBlob(d->digest)) << d->digest.str();
  }
  EXPECT_TRUE(s.HasBlob(idx.digest));
  EXPECT_TRUE(s.HasLayerDir(arm.diff_id));
  // What no tag reaches goes.
  EXPECT_FALSE(s.HasBlob(loose.manifest.digest));
  EXPECT_FALSE(s.HasBlob(loose.layer.digest));
  EXPECT_EQ(r.blobs_removed, 3);
  EXPECT_TRUE(s.Fsck(false).orphaned.empty());

  // Untagged, the index and everything under it is garbage.
  s.RemoveTag("app:multi");
  s.Prune({});
  EXPECT_FALSE(s.HasBlob(idx.digest));
  EXPECT_FALSE(s.HasBlob(arm.layer.digest));
  EXPECT_FALSE(s.HasLayerDir(arm.diff_id));
}

TEST(StoreGc, ReachableThroughAnIndex) {
  ScratchDir dir;
  Store s(dir / "s");
  const Img amd = ArchImage(s, "amd64"), arm = ArchImage(s, "arm64");
  const Descriptor idx = PutIndex(s, {amd.manifest, arm.manifest}, IndexFormat::kOci);
  const std::vector<Digest> r = s.Reachable(idx);
  for (const Img* i : {&amd, &arm})
    for (const Digest& d : {i->manifest.digest, i->config.digest, i->layer.digest, i->diff_id})
      EXPECT_NE(std::find(r.begin(), r.end(), d), r.end()) << d.str();
}

}  // namespace
}  // namespace kiln::oci
