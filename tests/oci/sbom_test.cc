#include "oci/sbom.h"

#include <gtest/gtest.h>

#include <map>

#include "oci/error.h"

#include "tests/oci/sbom_fixture.h"

namespace kiln::oci {
namespace {

TEST(Sbom, CataloguesFinalFilesystem) {
  testing::TempDir tmp;
  Sbom sbom = CatalogLayers(testing::SbomImageLayers(tmp.path()));
  EXPECT_EQ(sbom.os.id, "debian");
  EXPECT_EQ(sbom.os.version_id, "12");
  std::map<std::string, const Package*> by_name;
  for (const auto& p : sbom.packages) by_name[p.type + ":" + p.name] = &p;
  for (const char* want : {"deb:base-files", "deb:zlib1g", "pypi:requests", "npm:left-pad", "npm:@types/node",
                           "golang:example.com/app", "golang:github.com/google/uuid", "golang:stdlib"})
    EXPECT_TRUE(by_name.count(want)) << want;
  for (const char* gone : {"deb:curl", "pypi:old", "npm:not-a-package", "npm:my-app"})
    EXPECT_FALSE(by_name.count(gone)) << gone << " should not be catalogued";
  ASSERT_TRUE(by_name.count("deb:zlib1g"));
  EXPECT_EQ(by_name["deb:zlib1g"]->license, "Zlib");  // from the DEP-5 copyright file
  EXPECT_EQ(by_name["deb:zlib1g"]->purl, "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12");
  EXPECT_EQ(by_name["golang:stdlib"]->version, "v1.22.1");
  EXPECT_EQ(by_name["golang:github.com/google/uuid"]->location, "/usr/local/bin/app");
  EXPECT_TRUE(std::is_sorted(sbom.packages.begin(), sbom.packages.end(), [](const Package& a, const Package& b) {
    return std::tie(a.type, a.name) < std::tie(b.type, b.name);
  }));
}

TEST(Sbom, FormatsByName) {
  EXPECT_EQ(ParseSbomFormat("spdx-json"), SbomFormat::kSpdxJson);
  EXPECT_EQ(ParseSbomFormat("cyclonedx"), SbomFormat::kCycloneDxJson);
  EXPECT_THROW(ParseSbomFormat("xml"), Error);
  EXPECT_STREQ(SbomMediaType(SbomFormat::kSpdxJson), "application/spdx+json");
  EXPECT_STREQ(SbomMediaType(SbomFormat::kCycloneDxJson), "application/vnd.cyclonedx+json");
}

}  // namespace
}  // namespace kiln::oci
