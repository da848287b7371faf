#include "oci/cyclonedx.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "tests/oci/sbom_fixture.h"

namespace kiln::oci {
namespace {

TEST(CycloneDx, RequiredFieldsOf15) {
  testing::TempDir tmp;
  Sbom sbom = CatalogLayers(testing::SbomImageLayers(tmp.path()));
  sbom.image.name = "app:1";
  sbom.image.manifest_digest = "sha256:" + std::string(64, 'b');
  SbomDocOptions opts{"2024-01-02T03:04:05Z", "0.1.0"};
  std::string text = ToCycloneDxJson(sbom, opts);
  EXPECT_EQ(text, ToCycloneDxJson(sbom, opts));
  auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["bomFormat"], "CycloneDX");
  EXPECT_EQ(doc["specVersion"], "1.5");
  EXPECT_TRUE(std::regex_match(doc["serialNumber"].get<std::string>(),
                               std::regex("urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << doc["serialNumber"];
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["metadata"]["timestamp"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(doc["metadata"]["component"]["type"], "container");
  std::set<std::string> refs;
  bool requests = false, os = false;
  for (const auto& c : doc["components"]) {
    for (const char* f : {"type", "name", "version", "bom-ref"}) EXPECT_TRUE(c.contains(f)) << f << c.dump();
    EXPECT_TRUE(refs.insert(c["bom-ref"]).second) << "duplicate bom-ref " << c["bom-ref"];
    if (c["type"] == "library") {
      EXPECT_TRUE(c.contains("purl")) << c.dump();
    }
    if (c["name"] == "requests") {
      requests = true;
      EXPECT_EQ(c["licenses"][0]["license"]["id"], "Apache-2.0");
    }
    os |= c["type"] == "operating-system";
  }
  EXPECT_TRUE(requests);
  EXPECT_TRUE(os);
  for (const auto& d : doc["dependencies"][0]["dependsOn"]) EXPECT_TRUE(refs.count(d)) << d;
}

}  // namespace
}  // namespace kiln::oci
