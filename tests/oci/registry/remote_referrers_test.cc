// Pushing an image's referrers to a registry and finding them again: against
// Debian's docker-registry (no referrers API: the sha256-<hex> fallback
// index), and a scripted registry that has the API (answers OCI-Subject).
#include "oci/registry/remote_referrers.h"

#include <gtest/gtest.h>

#include <atomic>

#include "oci/error.h"
#include "oci/supply/referrers.h"
#include "tests/oci/registry/registry_fixture.h"

namespace kiln::oci {
namespace {

using kiln::testing::ScriptedServer;

Descriptor SmallImage(Store& store, const std::string& seed) {
  Manifest m;
  ImageConfig cfg;
  Descriptor l = store.PutBlob("layer " + seed, media::kOciLayerGzip);
  m.layers.push_back(l);
  cfg.diff_ids.push_back(l.digest);
  cfg.config.labels["seed"] = seed;
  m.config = store.PutBlob(ToJson(cfg), media::kOciConfig);
  return store.PutBlob(ToJson(m), media::kOciManifest);
}

Descriptor Entry(const std::string& hex_char, const std::string& type, const std::string& name) {
  Descriptor d;
  d.media_type = media::kOciManifest;
  d.digest = Digest{"sha256", std::string(64, hex_char[0])};
  d.size = 10;
  d.artifact_type = type;
  if (!name.empty()) d.annotations["kiln.artifact.name"] = name;
  return d;
}

TEST(MergeReferrersIndex, KeepsForeignEntriesAndReplacesOlderKilnOnes) {
  Index existing;
  existing.manifests = {Entry("a", "application/vnd.dev.cosign.artifact.sig.v1+json", ""),
                        Entry("b", "application/spdx+json", "sbom"),
                        Entry("c", "application/vnd.in-toto+json", "provenance")};
  // A newer SBOM replaces b; c is pushed again (same digest): listed once.
  const Index merged = MergeReferrersIndex(existing, {Entry("d", "application/spdx+json", "sbom"),
                                                      Entry("c", "application/vnd.in-toto+json", "provenance")});
  ASSERT_EQ(merged.manifests.size(), 3u);
  EXPECT_EQ(merged.manifests[0].digest.hex[0], 'a');
  EXPECT_EQ(merged.manifests[1].digest.hex[0], 'd');
  EXPECT_EQ(merged.manifests[2].digest.hex[0], 'c');
  EXPECT_EQ(merged.media_type, media::kOciIndex);
  // An SBOM of another tool (no kiln name) is not replaced by kiln's.
  Index other;
  other.manifests = {Entry("e", "application/spdx+json", "")};
  EXPECT_EQ(MergeReferrersIndex(other, {Entry("d", "application/spdx+json", "sbom")}).manifests.size(), 2u);
}

TEST(PickReferrer, NewestOfTheType) {
  Index listing;
  Descriptor old_one = Entry("1", "application/spdx+json", "sbom");
  old_one.annotations["org.opencontainers.image.created"] = "2024-01-01T00:00:00Z";
  Descriptor new_one = Entry("2", "application/spdx+json", "sbom");
  new_one.annotations["org.opencontainers.image.created"] = "2024-05-01T00:00:00Z";
  listing.manifests = {new_one, old_one, Entry("3", "application/vnd.in-toto+json", "")};
  EXPECT_EQ(PickReferrer(listing, "application/spdx+json")->digest, new_one.digest);
  EXPECT_FALSE(PickReferrer(listing, "application/vnd.cyclonedx+json"));
}

class RemoteReferrersTest : public kiln::testing::RegistryFixture {};
class LocalReferrersTest : public kiln::testing::TempDirFixture {};

TEST_F(LocalReferrersTest, FindLocalReferrersAcrossRepositories) {
  Store store(dir_ / "s");
  const Descriptor image = SmallImage(store, "local");
  AttachArtifact(store, "app", image, "{\"a\":1}", "application/spdx+json", "application/spdx+json", "",
                 {{"kiln.artifact.name", "sbom"}});
  AttachArtifact(store, "other/name", image, "{}", "application/vnd.in-toto+json", "application/vnd.in-toto+json",
                 "", {{"kiln.artifact.name", "provenance"}});
  EXPECT_EQ(FindLocalReferrers(store, image.digest).manifests.size(), 2u);
  EXPECT_TRUE(FindLocalReferrers(store, SmallImage(store, "none").digest).manifests.empty());
}

TEST_F(RemoteReferrersTest, FallbackIndexIsMergedOnDistribution) {
  auto& reg = StartRegistry();
  Store store(dir_ / "s");
  const Descriptor image = SmallImage(store, "pushed");
  RegistryClient client;
  const auto ref = Reference::Parse(reg.host() + "/kiln/app:1");
  client.Push(store, image, ref);
  EXPECT_EQ(client.ResolveManifest(ref, Platform::Host()).digest, image.digest);

  // Another tool already listed a referrer in the fallback index.
  const Descriptor foreign =
      AttachArtifact(store, "x", image, "sig", "application/octet-stream", "application/vnd.example.sig", "",
                     {{"example", "yes"}});
  PushReferrers(client, store, ref, image, {foreign});
  ASSERT_EQ(client.Referrers(ref, image.digest).manifests.size(), 1u);

  const std::string created = "2024-01-01T00:00:00Z";
  const Descriptor spdx = AttachArtifact(store, "kiln/app", image, "{\"spdxVersion\":\"SPDX-2.3\"}",
                                         "application/spdx+json", "application/spdx+json", created,
                                         {{"kiln.artifact.name", "sbom"}});
  const Descriptor prov = AttachArtifact(store, "kiln/app", image, "{\"_type\":\"x\"}", "application/vnd.in-toto+json",
                                         "application/vnd.in-toto+json", created, {{"kiln.artifact.name", "provenance"}});
  const Index local = LocalReferrers(store, "kiln/app", image.digest);
  ASSERT_EQ(local.manifests.size(), 2u);
  ReferrersPush r = PushReferrers(client, store, ref, image, local.manifests);
  EXPECT_EQ(r.artifacts, 2);
  EXPECT_FALSE(r.registry_indexed);  // distribution 2.8 has no referrers API
  ASSERT_TRUE(r.fallback_index);
  EXPECT_EQ(r.kept, 1);

  Index remote = client.Referrers(ref, image.digest);
  ASSERT_EQ(remote.manifests.size(), 3u);
  EXPECT_EQ(remote.manifests[0].digest, foreign.digest);
  EXPECT_EQ(remote.manifests[0].annotations.at("example"), "yes");
  auto found = PickReferrer(remote, "application/spdx+json");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->digest, spdx.digest);
  EXPECT_EQ(found->annotations.at("org.opencontainers.image.created"), created);
  EXPECT_EQ(PickReferrer(remote, "application/vnd.in-toto+json")->digest, prov.digest);

  // Found again by someone with an empty store.
  Store fresh(dir_ / "fresh");
  RegistryClient other;
  EXPECT_EQ(FetchArtifactDocument(other, fresh, ref, *found, image.digest), "{\"spdxVersion\":\"SPDX-2.3\"}");
  // An artifact listed under the wrong subject is refused.
  const Descriptor elsewhere = SmallImage(store, "elsewhere");
  try {
    FetchArtifactDocument(other, fresh, ref, *found, elsewhere.digest);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its subject is " + image.digest.str()), std::string::npos) << e.what();
  }

  // Pushing again sends nothing (the listing has them all: one GET, no PUT);
  // a newer SBOM replaces the old one in place.
  const int puts = reg.CountRequests("PUT");
  EXPECT_TRUE(PushReferrers(client, store, ref, image, local.manifests).already_listed);
  EXPECT_EQ(reg.CountRequests("PUT"), puts);
  EXPECT_EQ(client.Referrers(ref, image.digest).manifests.size(), 3u);
  const Descriptor spdx2 = AttachArtifact(store, "kiln/app", image, "{\"spdxVersion\":\"SPDX-2.3\",\"n\":2}",
                                          "application/spdx+json", "application/spdx+json", "2024-02-01T00:00:00Z",
                                          {{"kiln.artifact.name", "sbom"}});
  PushReferrers(client, store, ref, image, {spdx2});
  remote = client.Referrers(ref, image.digest);
  ASSERT_EQ(remote.manifests.size(), 3u);
  EXPECT_EQ(PickReferrer(remote, "application/spdx+json")->digest, spdx2.digest);
  EXPECT_EQ(remote.manifests[0].digest, foreign.digest);
}

TEST_F(RemoteReferrersTest, RefusesAnArtifactOfAnotherImage) {
  auto& reg = StartRegistry();
  Store store(dir_ / "s");
  const Descriptor image = SmallImage(store, "a");
  const Descriptor other = SmallImage(store, "b");
  const Descriptor art = AttachArtifact(store, "r", other, "{}", "application/spdx+json", "application/spdx+json", "");
  RegistryClient client;
  try {
    PushReferrers(client, store, Reference::Parse(reg.host() + "/r:1"), image, {art});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not have " + image.digest.str() + " as its subject"),
              std::string::npos)
        << e.what();
  }
}

// A registry with the referrers API indexes the artifact itself (OCI-Subject
// in the PUT response): no fallback tag is read or written.
TEST_F(LocalReferrersTest, NoFallbackTagWhenTheRegistryIndexes) {
  {
    Store store(dir_ / "s");
    const Descriptor image = SmallImage(store, "api");
    const Descriptor art =
        AttachArtifact(store, "r", image, "{}", "application/spdx+json", "application/spdx+json", "");
    std::atomic<int> tag_requests{0};
    ScriptedServer server([&](const std::string& head, const std::string&) {
      if (head.starts_with("GET /v2/ ")) return ScriptedServer::Response(200, "OK", "{}");
      if (head.starts_with("HEAD /v2/r/blobs/")) return ScriptedServer::Response(200, "OK", "");
      if (head.starts_with("GET /v2/r/referrers/"))  // the API is there, nothing listed yet
        return ScriptedServer::Response(200, "OK", R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})");
      if (head.find("/manifests/sha256-") != std::string::npos) tag_requests++;
      if (head.starts_with("PUT /v2/r/manifests/sha256:"))
        return ScriptedServer::Response(201, "Created", "", {"OCI-Subject: " + image.digest.str()});
      return ScriptedServer::Response(404, "Not Found", "");
    });
    RegistryClient client;
    const ReferrersPush r = PushReferrers(client, store, Reference::Parse(server.host() + "/r:1"), image, {art});
    EXPECT_TRUE(r.registry_indexed);
    EXPECT_FALSE(r.fallback_index);
    EXPECT_EQ(tag_requests, 0);
  }
}

}  // namespace
}  // namespace kiln::oci
