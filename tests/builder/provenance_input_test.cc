#include "builder/provenance_input.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kiln::builder {
namespace {

BuildFacts Facts() {
  BuildFacts f;
  f.image_name = "127.0.0.1:5000/app:1";
  f.manifest = oci::Sha256Of("manifest");
  f.dockerfile_path = "Dockerfile";
  f.dockerfile_text = "FROM debian\nCOPY . /src\n";
  f.images = {{"127.0.0.1:5000/debian:12", "pkg:docker/127.0.0.1:5000/debian@12?platform=linux%2Famd64",
               oci::Sha256Of("debian")},
              {"oci:/layouts/bb:latest", "oci-layout:/layouts/bb?tag=latest", oci::Sha256Of("busybox")}};
  f.context_digest = oci::Sha256Of("context");
  f.context_files = 7;
  f.started = 1700000000;
  f.finished = 1700000060;
  return f;
}

nlohmann::json Statement(const BuildOptions& opts, const BuildFacts& f) {
  return nlohmann::json::parse(oci::ProvenanceStatement(MakeProvenanceInput(opts, f)));
}

TEST(ProvenanceInput, BasesContextDockerfileArgsAndVersion) {
  BuildOptions opts;
  opts.build_args = {{"VERSION", "1.2"}, {"GITHUB_TOKEN", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
                     {"DB_PASSWORD", "hunter2hunter2"}};
  opts.target = "release";
  const BuildFacts f = Facts();
  const std::string text = oci::ProvenanceStatement(MakeProvenanceInput(opts, f));
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["subject"][0]["name"], "127.0.0.1:5000/app:1");
  EXPECT_EQ(j["subject"][0]["digest"]["sha256"], f.manifest.hex);
  const auto& bd = j["predicate"]["buildDefinition"];
  const auto& deps = bd["resolvedDependencies"];
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[0]["uri"], "pkg:docker/127.0.0.1:5000/debian@12?platform=linux%2Famd64");
  EXPECT_EQ(deps[0]["name"], "127.0.0.1:5000/debian:12");
  EXPECT_EQ(deps[0]["digest"]["sha256"], oci::Sha256Of("debian").hex);
  EXPECT_EQ(deps[1]["digest"]["sha256"], oci::Sha256Of("busybox").hex);
  EXPECT_EQ(deps[2]["name"], "context");
  EXPECT_EQ(deps[2]["digest"]["sha256"], oci::Sha256Of("context").hex);
  EXPECT_EQ(deps[2]["annotations"]["files"], "7");
  EXPECT_EQ(deps[3]["name"], "dockerfile");
  EXPECT_EQ(deps[3]["digest"]["sha256"], oci::Sha256Of(f.dockerfile_text).hex);
  EXPECT_EQ(bd["externalParameters"]["build-args"], (nlohmann::json{{"VERSION", "1.2"}}));
  EXPECT_EQ(bd["externalParameters"]["redacted-build-args"], (nlohmann::json{"DB_PASSWORD", "GITHUB_TOKEN"}));
  EXPECT_EQ(bd["externalParameters"]["target"], "release");
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("ghp_"), std::string::npos);
  const auto& rd = j["predicate"]["runDetails"];
  EXPECT_FALSE(rd["builder"]["version"]["kiln"].get<std::string>().empty());
  EXPECT_EQ(rd["metadata"]["invocationId"], f.manifest.str());
}

TEST(ProvenanceInput, TimesFromSourceDateEpochWhenReproducible) {
  BuildOptions opts;
  opts.source_date_epoch = 1600000000;
  BuildFacts f = Facts();
  const auto a = Statement(opts, f);
  EXPECT_EQ(a["predicate"]["runDetails"]["metadata"]["startedOn"], "2020-09-13T12:26:40Z");
  EXPECT_EQ(a["predicate"]["runDetails"]["metadata"]["finishedOn"], "2020-09-13T12:26:40Z");
  // Another run at another time: the same bytes.
  f.started += 3600;
  f.finished += 7200;
  EXPECT_EQ(oci::ProvenanceStatement(MakeProvenanceInput(opts, f)),
            oci::ProvenanceStatement(MakeProvenanceInput(opts, Facts())));

  opts.source_date_epoch.reset();  // --timestamp now: the real times
  const auto b = Statement(opts, Facts());
  EXPECT_EQ(b["predicate"]["runDetails"]["metadata"]["startedOn"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(b["predicate"]["runDetails"]["metadata"]["finishedOn"], "2023-11-14T22:14:20Z");
}

}  // namespace
}  // namespace kiln::builder
