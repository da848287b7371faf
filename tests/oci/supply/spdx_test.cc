#include "oci/supply/spdx.h"

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include <set>

#include "tests/oci/supply/sbom_fixture.h"

namespace kiln::oci {
namespace {

Sbom FixtureSbom(const std::filesystem::path& dir) {
  Sbom sbom = CatalogLayers(testing::SbomImageLayers(dir));
  sbom.image.name = "localhost:5000/team/app:1.0";
  sbom.image.manifest_digest = "sha256:" + std::string(64, 'a');
  return sbom;
}

TEST(Spdx, RequiredFieldsOf23) {
  testing::TempDir tmp;
  Sbom sbom = FixtureSbom(tmp.path());
  SbomDocOptions opts{"2024-01-02T03:04:05Z", "0.1.0"};
  auto doc = nlohmann::json::parse(ToSpdxJson(sbom, opts));
  EXPECT_EQ(doc["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(doc["dataLicense"], "CC0-1.0");
  EXPECT_EQ(doc["SPDXID"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(doc["name"], "localhost:5000/team/app:1.0");
  EXPECT_TRUE(doc["documentNamespace"].get<std::string>().starts_with("https://"));
  EXPECT_EQ(doc["creationInfo"]["created"], "2024-01-02T03:04:05Z");
  EXPECT_FALSE(doc["creationInfo"]["creators"].empty());
  // SPDXRef-[A-Za-z0-9.-]+, checked by hand (std::regex trips GCC 12 under ASan).
  auto valid_id = [](const std::string& id) {
    if (id.rfind("SPDXRef-", 0) != 0 || id.size() == 8) return false;
    for (char c : id.substr(8))
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
    return true;
  };
  std::set<std::string> ids;
  std::set<std::string> purls;
  for (const auto& p : doc["packages"]) {
    for (const char* f : {"SPDXID", "name", "downloadLocation", "licenseConcluded", "licenseDeclared", "copyrightText"})
      EXPECT_TRUE(p.contains(f)) << f << " in " << p.dump();
    std::string id = p["SPDXID"];
    EXPECT_TRUE(valid_id(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    if (p.contains("externalRefs"))
      for (const auto& r : p["externalRefs"])
        if (r["referenceType"] == "purl") purls.insert(r["referenceLocator"]);
  }
  EXPECT_TRUE(purls.count("pkg:pypi/requests@2.31.0"));
  EXPECT_TRUE(purls.count("pkg:oci/app@sha256%3A" + std::string(64, 'a') + "?arch=amd64&repository_url=localhost%3A5000%2Fteam%2Fapp"));
  // Every relationship names known elements; the image is described.
  ids.insert("SPDXRef-DOCUMENT");
  bool describes = false;
  for (const auto& r : doc["relationships"]) {
    EXPECT_TRUE(ids.count(r["spdxElementId"])) << r.dump();
    EXPECT_TRUE(ids.count(r["relatedSpdxElement"])) << r.dump();
    describes |= r["relationshipType"] == "DESCRIBES";
  }
  EXPECT_TRUE(describes);
  EXPECT_EQ(doc["packages"].size(), doc["relationships"].size());  // image + OS + packages
}

TEST(Spdx, DeterministicAndLicenses) {
  testing::TempDir a, b;
  SbomDocOptions opts{"2024-01-02T03:04:05Z", "0.1.0"};
  EXPECT_EQ(ToSpdxJson(FixtureSbom(a.path()), opts), ToSpdxJson(FixtureSbom(b.path()), opts));
  EXPECT_EQ(NormalizeSpdxLicense("GPL-2+ or Artistic-2.0"), "GPL-2.0-or-later OR Artistic-2.0");
  EXPECT_EQ(NormalizeSpdxLicense("Apache 2.0"), "Apache-2.0");
  EXPECT_EQ(NormalizeSpdxLicense("(MIT OR Apache-2.0) AND BSD-3-Clause"), "(MIT OR Apache-2.0) AND BSD-3-Clause");
  EXPECT_EQ(NormalizeSpdxLicense("Some custom licence"), "");
}

}  // namespace
}  // namespace kiln::oci
