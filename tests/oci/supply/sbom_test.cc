#include "oci/supply/sbom.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "oci/error.h"
#include "oci/supply/rpm_header.h"

#include "tests/oci/supply/rpmdb_test_util.h"
#include "tests/oci/supply/sbom_fixture.h"

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

// A Fedora-like image: rpmdb.sqlite in the old place, a leftover BerkeleyDB
// "Packages" (not read), and an ndb Packages.db under /usr/lib/sysimage.
TEST(Sbom, CataloguesRpmDatabasesIntoBothFormats) {
  testing::TempDir tmp;
  const std::string sqlite = testing::RpmdbSqliteFixture();
  std::vector<std::pair<uint32_t, std::string>> only_b;
  for (const auto& hb : testing::RpmdbFixtureBlobs())
    if (ParseRpmHeader(hb.second, "").name == "kiln-fixture-b") only_b.push_back(hb);
  ASSERT_EQ(only_b.size(), 1u);
  testing::WriteTar(tmp.path() / "base.tar.gz",
                    {testing::File("etc/os-release", "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=39\n"),
                     testing::File("var/lib/rpm/rpmdb.sqlite", sqlite),
                     testing::File("var/lib/rpm/Packages", std::string(8192, '\x61')),
                     testing::File("usr/lib/sysimage/rpm/Packages.db",
                                   testing::MakeNdbPackages(only_b))});
  Sbom sbom = CatalogLayers({{tmp.path() / "base.tar.gz", "sha256:base"}});
  std::map<std::string, const Package*> by_key;
  for (const auto& p : sbom.packages) by_key[p.location + " " + p.name] = &p;
  ASSERT_EQ(sbom.packages.size(), 7u);
  ASSERT_TRUE(by_key.count("/var/lib/rpm/rpmdb.sqlite kiln-fixture-a"));
  const Package& a = *by_key["/var/lib/rpm/rpmdb.sqlite kiln-fixture-a"];
  EXPECT_EQ(a.type, "rpm");
  EXPECT_EQ(a.version, "2:1.2.3-4.fx");
  EXPECT_EQ(a.purl, "pkg:rpm/fedora/kiln-fixture-a@1.2.3-4.fx?arch=noarch&distro=fedora-39&epoch=2");
  EXPECT_TRUE(by_key.count("/usr/lib/sysimage/rpm/Packages.db kiln-fixture-b"));

  auto spdx = nlohmann::json::parse(SerializeSbom(sbom, SbomFormat::kSpdxJson, {}));
  bool found = false;
  for (const auto& p : spdx["packages"])
    if (p["name"] == "kiln-fixture-a") {
      found = true;
      EXPECT_EQ(p["versionInfo"], "2:1.2.3-4.fx");
      EXPECT_EQ(p["licenseDeclared"], "MIT");
      EXPECT_EQ(p["supplier"], "Organization: Kiln Fixtures");
      EXPECT_EQ(p["externalRefs"][0]["referenceLocator"], a.purl);
      EXPECT_TRUE(p["SPDXID"].get<std::string>().starts_with("SPDXRef-Package-rpm-kiln-fixture-a-"));
    }
  EXPECT_TRUE(found);
  auto cdx = nlohmann::json::parse(SerializeSbom(sbom, SbomFormat::kCycloneDxJson, {}));
  found = false;
  for (const auto& c : cdx["components"])
    if (c.value("purl", "") == a.purl) {
      found = true;
      EXPECT_EQ(c["licenses"][0]["license"]["id"], "MIT");
      EXPECT_EQ(c["properties"][0]["value"], "rpm");
    }
  EXPECT_TRUE(found);
}

TEST(Sbom, DamagedRpmDatabaseIsAnError) {
  testing::TempDir tmp;
  testing::WriteTar(tmp.path() / "l.tar.gz",
                    {testing::File("usr/lib/sysimage/rpm/rpmdb.sqlite", testing::RpmdbSqliteFixture().substr(0, 50000))});
  try {
    CatalogLayers({{tmp.path() / "l.tar.gz", "sha256:l"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite: truncated"), std::string::npos)
        << e.what();
  }
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
