#include "oci/supply/provenance.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/error.h"

namespace kiln::oci {
namespace {

TEST(Provenance, InTotoStatementWithSlsaV1Predicate) {
  ProvenanceInput in;
  in.image_name = "localhost:5000/app:1";
  in.image_manifest = Sha256Of("manifest");
  in.dockerfile_digest = Sha256Of("FROM debian\n");
  in.build_args = {{"VERSION", "1.2"}, {"NPM_TOKEN", "abc"}, {"URL", "https://u:s3cr3tpw@host/x"}};
  in.target = "release";
  in.platforms = {"linux/amd64"};
  in.base_images = {{"pkg:docker/debian@12?platform=linux%2Famd64", Sha256Of("base"), "debian:12"}};
  in.context_digest = Sha256Of("ctx");
  in.kiln_version = "0.1.0";
  in.invocation_id = "b1d-123";
  in.started_on = "2024-01-01T00:00:00Z";
  in.finished_on = "2024-01-01T00:01:00Z";
  std::string text = ProvenanceStatement(in);
  EXPECT_EQ(text, ProvenanceStatement(in));
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(j["predicateType"], "https://slsa.dev/provenance/v1");
  ASSERT_EQ(j["subject"].size(), 1u);
  EXPECT_EQ(j["subject"][0]["digest"]["sha256"], in.image_manifest.hex);
  const auto& bd = j["predicate"]["buildDefinition"];
  EXPECT_FALSE(bd["buildType"].get<std::string>().empty());
  const auto& ext = bd["externalParameters"];
  EXPECT_EQ(ext["build-args"], (nlohmann::json{{"VERSION", "1.2"}}));
  EXPECT_EQ(ext["redacted-build-args"], (nlohmann::json{"NPM_TOKEN", "URL"}));
  EXPECT_EQ(text.find("s3cr3tpw"), std::string::npos);
  EXPECT_EQ(ext["target"], "release");
  EXPECT_EQ(ext["dockerfile"], "Dockerfile");
  ASSERT_EQ(bd["resolvedDependencies"].size(), 3u);
  EXPECT_EQ(bd["resolvedDependencies"][0]["digest"]["sha256"], Sha256Of("base").hex);
  EXPECT_EQ(bd["resolvedDependencies"][0]["name"], "debian:12");
  EXPECT_EQ(bd["resolvedDependencies"][1]["name"], "context");
  EXPECT_FALSE(bd["resolvedDependencies"][1].contains("annotations"));  // file count unknown
  const auto& rd = j["predicate"]["runDetails"];
  EXPECT_EQ(rd["builder"]["version"]["kiln"], "0.1.0");
  EXPECT_EQ(rd["metadata"]["invocationId"], "b1d-123");
  EXPECT_EQ(rd["metadata"]["startedOn"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(rd["metadata"]["finishedOn"], "2024-01-01T00:01:00Z");
}

TEST(Provenance, RecordsTheIsolationLevel) {
  ProvenanceInput in;
  in.image_manifest = Sha256Of("m");
  auto params = [&] { return nlohmann::json::parse(ProvenanceStatement(in))["predicate"]["buildDefinition"]["internalParameters"]; };
  EXPECT_FALSE(params().contains("isolation"));
  in.isolation = "chroot";
  EXPECT_EQ(params()["isolation"], "chroot");
  EXPECT_EQ(params()["rootless"], true);
}

TEST(Provenance, RequiresSubjectAndBaseDigests) {
  ProvenanceInput in;
  EXPECT_THROW(ProvenanceStatement(in), Error);
  in.image_manifest = Sha256Of("m");
  in.base_images = {{"pkg:docker/debian@12", Digest{}, ""}};
  EXPECT_THROW(ProvenanceStatement(in), Error);
}

}  // namespace
}  // namespace kiln::oci
