#include "oci/image.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/error.h"

namespace kiln::oci {
namespace {

ImageConfig SampleConfig() {
  ImageConfig c;
  c.created = Rfc3339(0);
  c.config.user = "app";
  c.config.env = {"PATH=/usr/bin", "A=b"};
  c.config.cmd = std::vector<std::string>{"sh", "-c", "echo hi"};
  c.config.entrypoint = std::vector<std::string>{};
  c.config.exposed_ports = {"80/tcp", "53/udp"};
  c.config.volumes = {"/data"};
  c.config.working_dir = "/app";
  c.config.labels = {{"z", "1"}, {"a", "2"}};
  c.config.stop_signal = "SIGTERM";
  c.config.healthcheck = Healthcheck{{"CMD", "true"}, 30000000000, 5000000000, 0, 0, 3};
  c.config.shell = {"/bin/bash", "-c"};
  c.config.on_build = {"RUN echo child"};
  c.diff_ids = {Sha256Of("layer1"), Sha256Of("layer2")};
  c.history = {{Rfc3339(0), "ADD x /", "", "", false}, {Rfc3339(0), "ENV A=b", "", "", true}};
  return c;
}

TEST(Image, ConfigRoundTripIsCanonical) {
  ImageConfig c = SampleConfig();
  std::string j = ToJson(c);
  // Canonical: sorted keys, compact.
  EXPECT_EQ(j.find("\": "), std::string::npos);
  EXPECT_EQ(j.find(", "), std::string::npos);
  EXPECT_LT(j.find("\"architecture\""), j.find("\"config\""));
  EXPECT_LT(j.find("\"config\""), j.find("\"created\""));
  ImageConfig back = ParseImageConfig(j);
  EXPECT_EQ(ToJson(back), j);
  EXPECT_EQ(back.config.healthcheck->retries, 3);
  EXPECT_EQ(back.config.healthcheck->interval, 30000000000);
  EXPECT_EQ(back.config.shell, c.config.shell);
  EXPECT_EQ(back.config.on_build, c.config.on_build);
  ASSERT_TRUE(back.config.entrypoint.has_value());
  EXPECT_TRUE(back.config.entrypoint->empty());
  EXPECT_EQ(back.diff_ids, c.diff_ids);
  ASSERT_EQ(back.history.size(), 2u);
  EXPECT_TRUE(back.history[1].empty_layer);
  auto js = nlohmann::json::parse(j);
  EXPECT_EQ(js["rootfs"]["type"], "layers");
  EXPECT_TRUE(js["config"]["ExposedPorts"]["80/tcp"].is_object());
}

TEST(Image, DockerConfigWithNullsAndUnknownFields) {
  std::string docker = R"({"architecture":"amd64","os":"linux","container":"abc","docker_version":"24",
    "config":{"Cmd":null,"Entrypoint":["/x"],"Env":null,"Labels":null,"ExposedPorts":{"8080/tcp":{}},
    "Healthcheck":{"Test":["CMD-SHELL","curl x"],"Interval":1000,"Retries":2},"OnBuild":null,"Hostname":""},
    "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
    "history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) CMD","empty_layer":true}]})";
  ImageConfig c = ParseImageConfig(docker);
  EXPECT_FALSE(c.config.cmd.has_value());
  EXPECT_EQ(*c.config.entrypoint, std::vector<std::string>{"/x"});
  EXPECT_EQ(c.config.exposed_ports.count("8080/tcp"), 1u);
  EXPECT_EQ(c.config.healthcheck->test[0], "CMD-SHELL");
  EXPECT_EQ(c.diff_ids.size(), 1u);
  EXPECT_TRUE(c.history[0].empty_layer);
}

TEST(Image, ManifestOciAndDocker) {
  Manifest m;
  m.config = {media::kOciConfig, Sha256Of("c"), 1, {}, std::nullopt, ""};
  m.layers.push_back({media::kOciLayerGzip, Sha256Of("l"), 10, {{"k", "v"}}, std::nullopt, ""});
  m.annotations["org.opencontainers.image.created"] = "now";
  std::string j = ToJson(m);
  EXPECT_NE(j.find("\"schemaVersion\":2"), std::string::npos);
  Manifest back = ParseManifest(j);
  EXPECT_EQ(ToJson(back), j);
  EXPECT_EQ(back.layers[0].annotations.at("k"), "v");

  std::string docker = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,
      "digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,
      "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]})";
  Manifest dm = ParseManifest(docker);
  EXPECT_EQ(dm.media_type, media::kDockerManifest);
  EXPECT_EQ(dm.config.size, 7023);
  EXPECT_EQ(dm.layers[0].media_type, media::kDockerLayerGzip);
}

TEST(Image, IndexAndPlatform) {
  Index x;
  Descriptor d{media::kOciManifest, Sha256Of("m"), 5, {}, Platform{"linux", "arm64", "v8"}, ""};
  x.manifests.push_back(d);
  std::string j = ToJson(x);
  Index back = ParseIndex(j);
  EXPECT_EQ(back.manifests[0].platform->str(), "linux/arm64/v8");
  EXPECT_EQ(ToJson(back), j);
  EXPECT_THROW(ParseManifest(j), Error);  // an index is not a manifest
  EXPECT_FALSE(Platform::Host().architecture.empty());
}

TEST(Image, MalformedThrows) {
  EXPECT_THROW(ParseImageConfig("{"), Error);
  EXPECT_THROW(ParseImageConfig("[]"), Error);
  EXPECT_THROW(ParseManifest(R"({"schemaVersion":2,"config":{"digest":"nope"}})"), Error);
  EXPECT_THROW(ParseManifest(R"({"schemaVersion":1})"), Error);
  EXPECT_THROW(ParseIndex(R"({"schemaVersion":2})"), Error);
  EXPECT_THROW(ParseImageConfig(R"({"config":{"Env":"x"}})"), Error);
}

TEST(Image, Rfc3339) {
  EXPECT_EQ(Rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(1700000000), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace kiln::oci
