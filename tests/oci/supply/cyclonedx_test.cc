#include "oci/supply/cyclonedx.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "tests/oci/supply/sbom_fixture.h"

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
  // urn:uuid:xxxxxxxx-xxxx-5xxx-[89ab]xxx-xxxxxxxxxxxx (a name-based UUID v5).
  // Checked by hand: std::regex trips GCC 12's maybe-uninitialized under ASan.
  const std::string serial = doc["serialNumber"].get<std::string>();
  ASSERT_EQ(serial.size(), 45u) << serial;
  EXPECT_EQ(serial.substr(0, 9), "urn:uuid:");
  const std::string uuid = serial.substr(9);
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) EXPECT_EQ(uuid[i], '-') << serial;
    else EXPECT_NE(std::string("0123456789abcdef").find(uuid[i]), std::string::npos) << serial;
  }
  EXPECT_EQ(uuid[14], '5') << serial;
  EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << serial;
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
