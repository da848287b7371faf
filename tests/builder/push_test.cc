// Pushing a multi-platform index with its referrers (builder/push.h) to
// Debian's docker-registry: every manifest, each one's SBOM, then the index
// under the tag; a second push sends nothing.
#include "builder/push.h"

#include <gtest/gtest.h>

#include "oci/docker_manifest.h"
#include "oci/image_index.h"
#include "oci/registry/remote_referrers.h"
#include "oci/supply/referrers.h"
#include "tests/oci/registry/registry_fixture.h"

namespace kiln::builder {
namespace {

class PushIndexTest : public kiln::testing::RegistryFixture {};

oci::Descriptor ArchImage(oci::Store& store, const std::string& arch) {
  oci::Manifest m;
  oci::ImageConfig cfg;
  cfg.architecture = arch;
  const oci::Descriptor l = store.PutBlob("layer " + arch, oci::media::kOciLayerGzip);
  m.layers.push_back(l);
  cfg.diff_ids.push_back(l.digest);
  m.config = store.PutBlob(oci::ToJson(cfg), oci::media::kOciConfig);
  return store.PutBlob(oci::ToJson(m), oci::media::kOciManifest);
}

TEST_F(PushIndexTest, EveryManifestWithItsReferrersThenTheIndex) {
  auto& reg = StartRegistry();
  oci::Store store(dir_ / "s");
  const oci::Descriptor amd = ArchImage(store, "amd64"), arm = ArchImage(store, "arm64");
  const oci::Descriptor idx = oci::PutIndex(store, {amd, arm}, oci::IndexFormat::kOci);
  for (const auto* m : {&amd, &arm})
    oci::AttachArtifact(store, "kiln/app", *m, "{\"spdxVersion\":\"SPDX-2.3\",\"for\":\"" + m->digest.hex + "\"}",
                        "application/spdx+json", "application/spdx+json", "2024-01-01T00:00:00Z",
                        {{"kiln.artifact.name", "sbom"}});
  oci::RegistryClient client;
  const auto ref = oci::Reference::Parse(reg.host() + "/kiln/app:multi");
  std::vector<std::string> notes;
  const PushSummary s = PushWithReferrers(client, store, idx, ref, [&](const std::string& n) { notes.push_back(n); });
  EXPECT_EQ(s.digest, idx.digest);
  EXPECT_EQ(s.referrers, 2);  // one SBOM per platform manifest

  // The tag names the index, byte for byte; each manifest is there by digest.
  oci::Descriptor got;
  EXPECT_EQ(client.GetManifest(ref, &got), store.ReadBlob(idx.digest));
  EXPECT_EQ(got.media_type, oci::media::kOciIndex);
  for (const auto* m : {&amd, &arm}) {
    oci::Reference by_digest = ref;
    by_digest.tag.clear();
    by_digest.digest = m->digest.str();
    EXPECT_TRUE(client.HeadManifest(by_digest)) << m->digest.str();
    const oci::Index referrers = client.Referrers(ref, m->digest);
    ASSERT_EQ(referrers.manifests.size(), 1u) << m->digest.str();
    EXPECT_EQ(referrers.manifests[0].artifact_type, "application/spdx+json");
  }
  EXPECT_EQ(client.ResolveManifest(ref, oci::Platform::Parse("linux/arm64")).digest, arm.digest);

  // Again: everything is there, nothing is uploaded.
  const int puts = reg.CountRequests("PUT");
  const PushSummary again = PushWithReferrers(client, store, idx, ref, {});
  EXPECT_EQ(again.stats.blobs_uploaded, 0);
  EXPECT_EQ(reg.CountRequests("PUT"), puts);

  // Pulled whole into another store: the same index and manifests.
  oci::Store fresh(dir_ / "fresh");
  const oci::Descriptor pulled = client.PullAllPlatforms(ref, fresh);
  EXPECT_EQ(pulled.digest, idx.digest);
  EXPECT_TRUE(oci::IsIndex(fresh, pulled));
  for (const auto* m : {&amd, &arm}) EXPECT_TRUE(fresh.HasBlob(m->digest)) << m->digest.str();
  EXPECT_EQ(oci::ResolveImage(fresh, pulled, oci::Platform::Parse("linux/arm64"), "t").digest, arm.digest);
}

TEST_F(PushIndexTest, DockerManifestListOfDockerManifests) {
  auto& reg = StartRegistry();
  oci::Store store(dir_ / "s");
  const oci::Descriptor amd = oci::ConvertToDockerManifest(store, ArchImage(store, "amd64"));
  const oci::Descriptor arm = oci::ConvertToDockerManifest(store, ArchImage(store, "arm64"));
  const oci::Descriptor list = oci::PutIndex(store, {amd, arm}, oci::IndexFormat::kDocker);
  oci::RegistryClient client;
  const auto ref = oci::Reference::Parse(reg.host() + "/kiln/docker:multi");
  EXPECT_EQ(PushWithReferrers(client, store, list, ref, {}).digest, list.digest);
  oci::Descriptor got;
  EXPECT_EQ(client.GetManifest(ref, &got), store.ReadBlob(list.digest));
  EXPECT_EQ(got.media_type, oci::media::kDockerManifestList);
  oci::Descriptor child;
  oci::Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = arm.digest.str();
  client.GetManifest(by_digest, &child);
  EXPECT_EQ(child.media_type, oci::media::kDockerManifest);
}

}  // namespace
}  // namespace kiln::builder
