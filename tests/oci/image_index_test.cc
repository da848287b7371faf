// The index builder: canonical bytes, OCI vs Docker forms, what it refuses,
// and the reading side (IsIndex, ResolveImage).
#include "oci/image_index.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/docker_manifest.h"
#include "oci/error.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

using ocitest::ScratchDir;

// A small image for `arch` (fake layer bytes: the index never reads them).
Descriptor ArchImage(const Store& s, const std::string& arch, const std::string& variant = "") {
  auto layer = s.PutBlob("layer-" + arch, media::kOciLayerGzip);
  ImageConfig c;
  c.architecture = arch;
  c.variant = variant;
  c.diff_ids = {Sha256Of("diff-" + arch)};
  Manifest m;
  m.config = s.PutBlob(ToJson(c), media::kOciConfig);
  m.layers = {layer};
  return s.PutBlob(ToJson(m), media::kOciManifest);
}

Descriptor WithPlatform(Descriptor d, const std::string& spec) {
  d.platform = Platform::Parse(spec);
  return d;
}

TEST(ImageIndex, SameInputSameBytesOrderKept) {
  ScratchDir dir;
  Store s(dir / "s");
  const auto amd = WithPlatform(ArchImage(s, "amd64"), "linux/amd64");
  const auto arm = WithPlatform(ArchImage(s, "arm64", "v8"), "linux/arm64");
  const std::string a = MakeIndexJson({amd, arm}, IndexFormat::kOci);
  EXPECT_EQ(a, MakeIndexJson({amd, arm}, IndexFormat::kOci));
  // Canonical: sorted keys, no spaces, exactly what the spec fields say.
  EXPECT_EQ(a, nlohmann::json::parse(a).dump());
  const Index idx = ParseIndex(a);
  EXPECT_EQ(idx.media_type, media::kOciIndex);
  ASSERT_EQ(idx.manifests.size(), 2u);
  EXPECT_EQ(idx.manifests[0].digest, amd.digest);
  EXPECT_EQ(idx.manifests[1].digest, arm.digest);
  EXPECT_EQ(idx.manifests[1].platform->str(), "linux/arm64");
  EXPECT_EQ(idx.manifests[0].size, amd.size);
  // Order is the caller's: the other order is another index.
  EXPECT_NE(a, MakeIndexJson({arm, amd}, IndexFormat::kOci));
  // The stored index has the digest of those bytes, and a store tag can name it.
  const Descriptor put = PutIndex(s, {amd, arm}, IndexFormat::kOci);
  EXPECT_EQ(put.digest, Sha256Of(a));
  EXPECT_EQ(put.media_type, media::kOciIndex);
  s.SetTag("app:1", put);
  EXPECT_EQ(s.ResolveTag("app:1")->digest, put.digest);
  EXPECT_TRUE(IsIndex(s, *s.ResolveTag("app:1")));
}

TEST(ImageIndex, RefNameDroppedAnnotationsKept) {
  ScratchDir dir;
  Store s(dir / "s");
  auto amd = WithPlatform(ArchImage(s, "amd64"), "linux/amd64");
  amd.annotations[media::kRefNameAnnotation] = "app:1";
  amd.annotations["org.opencontainers.image.title"] = "x";
  const Index idx = ParseIndex(MakeIndexJson({amd}, IndexFormat::kOci, {{"org.opencontainers.image.created", "now"}}));
  EXPECT_FALSE(idx.manifests[0].annotations.count(media::kRefNameAnnotation));
  EXPECT_EQ(idx.manifests[0].annotations.at("org.opencontainers.image.title"), "x");
  EXPECT_EQ(idx.annotations.at("org.opencontainers.image.created"), "now");
}

TEST(ImageIndex, DockerManifestList) {
  ScratchDir dir;
  Store s(dir / "s");
  const auto amd = ConvertToDockerManifest(s, ArchImage(s, "amd64"));
  const auto arm = ConvertToDockerManifest(s, ArchImage(s, "arm64", "v8"));
  // Platforms from each image's config.
  const Descriptor list = PutIndex(s, {amd, arm}, IndexFormat::kDocker);
  EXPECT_EQ(list.media_type, media::kDockerManifestList);
  const auto j = nlohmann::json::parse(s.ReadBlob(list.digest));
  EXPECT_EQ(j["mediaType"], media::kDockerManifestList);
  EXPECT_EQ(j["schemaVersion"], 2);
  ASSERT_EQ(j["manifests"].size(), 2u);
  EXPECT_EQ(j["manifests"][0]["mediaType"], media::kDockerManifest);
  EXPECT_EQ(j["manifests"][0]["platform"]["architecture"], "amd64");
  EXPECT_EQ(j["manifests"][1]["platform"]["architecture"], "arm64");
  EXPECT_EQ(j["manifests"][1]["platform"]["variant"], "v8");
  // Same manifests in OCI form make another index: the formats do not mix.
  EXPECT_THROW(MakeIndexJson({WithPlatform(amd, "linux/amd64")}, IndexFormat::kOci), Error);
  const auto oci_amd = WithPlatform(ArchImage(s, "amd64"), "linux/amd64");
  try {
    MakeIndexJson({oci_amd}, IndexFormat::kDocker);
    FAIL() << "an OCI manifest in a Docker manifest list";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--format docker"), std::string::npos) << e.what();
  }
  // A manifest list has no annotations.
  EXPECT_THROW(MakeIndexJson({WithPlatform(amd, "linux/amd64")}, IndexFormat::kDocker, {{"k", "v"}}), Error);
}

TEST(ImageIndex, RefusesWhatIsNotAnIndexOfImages) {
  ScratchDir dir;
  Store s(dir / "s");
  const auto amd = ArchImage(s, "amd64");
  EXPECT_THROW(MakeIndexJson({}, IndexFormat::kOci), Error);
  EXPECT_THROW(MakeIndexJson({amd}, IndexFormat::kOci), Error);  // no platform
  try {
    MakeIndexJson({WithPlatform(amd, "linux/amd64"), WithPlatform(ArchImage(s, "x"), "x86_64")}, IndexFormat::kOci);
    FAIL() << "two manifests for linux/amd64";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linux/amd64 is listed twice"), std::string::npos) << e.what();
  }
  Descriptor absent = WithPlatform(amd, "linux/arm64");
  absent.digest = Sha256Of("not stored");
  EXPECT_THROW(PutIndex(s, {absent}, IndexFormat::kOci), Error);
}

TEST(ImageIndex, ResolveImageChoosesByPlatform) {
  ScratchDir dir;
  Store s(dir / "s");
  const auto amd = ArchImage(s, "amd64");
  const auto arm = ArchImage(s, "arm64", "v8");
  const Descriptor idx = PutIndex(s, {amd, arm}, IndexFormat::kOci);
  EXPECT_EQ(ResolveImage(s, idx, Platform::Parse("linux/arm64"), "t").digest, arm.digest);
  EXPECT_EQ(ResolveImage(s, idx, Platform::Parse("linux/amd64"), "t").digest, amd.digest);
  EXPECT_EQ(ResolveImage(s, amd, Platform::Parse("linux/arm64"), "t").digest, amd.digest);  // an image is itself
  try {
    ResolveImage(s, idx, Platform::Parse("linux/s390x"), "base image app");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("available: linux/amd64, linux/arm64/v8"), std::string::npos) << e.what();
  }
  // A descriptor from a digest alone (no media type) is told by its content.
  Descriptor bare;
  bare.digest = idx.digest;
  EXPECT_TRUE(IsIndex(s, bare));
  bare.digest = amd.digest;
  EXPECT_FALSE(IsIndex(s, bare));
  EXPECT_EQ(IndexManifests(s, idx).size(), 2u);
  EXPECT_THROW(IndexManifests(s, amd), Error);
}

}  // namespace
}  // namespace kiln::oci
