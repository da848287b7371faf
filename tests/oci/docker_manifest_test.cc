#include "oci/docker_manifest.h"

#include <gtest/gtest.h>

#include "oci/error.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

using ocitest::ScratchDir;

Descriptor PutOciImage(const Store& s, const char* layer_type) {
  Manifest m;
  m.config = s.PutBlob(ToJson(ImageConfig{}), media::kOciConfig);
  m.layers = {s.PutBlob("layer", layer_type)};
  m.annotations = {{"org.opencontainers.image.title", "t"}};
  return s.PutBlob(ToJson(m), media::kOciManifest);
}

TEST(DockerManifest, SameBlobsUnderDockerMediaTypes) {
  ScratchDir dir;
  Store s(dir.path());
  const Descriptor oci = PutOciImage(s, media::kOciLayerGzip);
  const Descriptor docker = ConvertToDockerManifest(s, oci);
  EXPECT_EQ(docker.media_type, media::kDockerManifest);
  EXPECT_NE(docker.digest, oci.digest);
  const Manifest o = ParseManifest(s.ReadBlob(oci.digest));
  const Manifest d = ParseManifest(s.ReadBlob(docker.digest));
  EXPECT_EQ(d.media_type, media::kDockerManifest);
  EXPECT_EQ(d.config.media_type, media::kDockerConfig);
  EXPECT_EQ(d.config.digest, o.config.digest);  // the image ID does not change
  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_EQ(d.layers[0].media_type, media::kDockerLayerGzip);
  EXPECT_EQ(d.layers[0].digest, o.layers[0].digest);
  EXPECT_TRUE(d.annotations.empty());  // schema 2 has none
  // Converting again is a no-op; the result is deterministic.
  EXPECT_EQ(ConvertToDockerManifest(s, docker).digest, docker.digest);
  EXPECT_EQ(ConvertToDockerManifest(s, oci).digest, docker.digest);
}

TEST(DockerManifest, ZstdLayersAreRefused) {
  ScratchDir dir;
  Store s(dir.path());
  try {
    ConvertToDockerManifest(s, PutOciImage(s, media::kOciLayerZstd));
    FAIL() << "zstd converted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot describe"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::oci
