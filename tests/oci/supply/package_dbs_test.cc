#include "oci/supply/package_dbs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "oci/error.h"
#include "oci/supply/rpm_ndb.h"
#include "tests/oci/supply/rpmdb_test_util.h"

namespace kiln::oci {
namespace {

const char* kDpkg = R"(Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
Source: tzdata (2024a-0+deb12u1)

Package: epochy
Status: install ok installed
Architecture: amd64
Version: 1:2.3.4-5
)";

TEST(PackageDbs, Dpkg) {
  auto pkgs = ParseDpkgStatus(kDpkg, "/var/lib/dpkg/status");
  ASSERT_EQ(pkgs.size(), 3u);  // config-files only package skipped
  EXPECT_EQ(pkgs[0].name, "libc6");
  EXPECT_EQ(pkgs[0].version, "2.36-9+deb12u4");
  EXPECT_EQ(pkgs[0].arch, "amd64");
  EXPECT_EQ(pkgs[0].source, "glibc");
  EXPECT_EQ(pkgs[1].source, "tzdata");
  OsRelease os = ParseOsRelease("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
  EXPECT_EQ(os.id, "debian");
  EXPECT_EQ(os.version_id, "12");
  FillIdentifiers(pkgs[0], os);
  EXPECT_EQ(pkgs[0].purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
  EXPECT_EQ(pkgs[0].cpe, "cpe:2.3:a:libc6:libc6:2.36:*:*:*:*:*:*:*");
  FillIdentifiers(pkgs[2], os);
  EXPECT_EQ(pkgs[2].purl, "pkg:deb/debian/epochy@1%3A2.3.4-5?arch=amd64&distro=debian-12");
  EXPECT_EQ(pkgs[2].cpe, "cpe:2.3:a:epochy:epochy:2.3.4:*:*:*:*:*:*:*");
}

TEST(PackageDbs, RealDpkgStatusOfThisMachine) {
  std::ifstream in("/var/lib/dpkg/status");
  if (!in) GTEST_SKIP() << "no /var/lib/dpkg/status on this host";
  std::stringstream ss;
  ss << in.rdbuf();
  auto pkgs = ParseDpkgStatus(ss.str(), "/var/lib/dpkg/status");
  EXPECT_GT(pkgs.size(), 50u);
  bool libc = false;
  for (const auto& p : pkgs) libc |= p.name == "libc6";
  EXPECT_TRUE(libc);
}

TEST(PackageDbs, DebCopyrightDep5) {
  const char* dep5 =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
      "Upstream-Name: zlib\n\nFiles: *\nCopyright: 1995-2013 Jean-loup Gailly\nLicense: Zlib\n\n"
      "Files: debian/*\nLicense: GPL-2+\n";
  EXPECT_EQ(DebCopyrightLicense(dep5), "Zlib");
  EXPECT_EQ(DebCopyrightLicense("This package was debianized by someone.\nLicense: whatever\n"), "");
}

TEST(PackageDbs, Apk) {
  const char* db =
      "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nL:MIT\no:musl\nm:Timo <timo@alpinelinux.org>\n\n"
      "C:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\n";
  auto pkgs = ParseApkInstalled(db, "/lib/apk/db/installed");
  ASSERT_EQ(pkgs.size(), 2u);
  EXPECT_EQ(pkgs[1].name, "busybox");
  EXPECT_EQ(pkgs[1].license, "GPL-2.0-only");
  OsRelease os{"alpine", "3.19.1", "Alpine Linux v3.19", ""};
  FillIdentifiers(pkgs[0], os);
  EXPECT_EQ(pkgs[0].purl, "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1");
  EXPECT_EQ(pkgs[0].cpe, "cpe:2.3:a:musl:musl:1.2.4:*:*:*:*:*:*:*");
}

TEST(PackageDbs, PythonAndNpm) {
  auto py = ParsePythonMetadata(
      "Metadata-Version: 2.1\nName: Flask_Login\nVersion: 0.6.3\nLicense: MIT\nAuthor: Matthew Frazier\n\n"
      "Name: not-this\nLong description body\n",
      "/usr/lib/python3/site-packages/Flask_Login-0.6.3.dist-info/METADATA");
  ASSERT_TRUE(py);
  EXPECT_EQ(py->name, "Flask_Login");
  EXPECT_EQ(py->license, "MIT");
  FillIdentifiers(*py, {});
  EXPECT_EQ(py->purl, "pkg:pypi/flask-login@0.6.3");
  auto cls = ParsePythonMetadata("Name: x\nVersion: 1\nClassifier: Programming Language :: Python\n"
                                 "Classifier: License :: OSI Approved :: BSD License\n", "m");
  ASSERT_TRUE(cls);
  EXPECT_EQ(cls->license, "BSD License");

  auto npm = ParsePackageJson(R"({"name":"@babel/core","version":"7.24.0","license":"MIT","author":{"name":"The Babel Team"}})", "p");
  ASSERT_TRUE(npm);
  FillIdentifiers(*npm, {});
  EXPECT_EQ(npm->purl, "pkg:npm/%40babel/core@7.24.0");
  EXPECT_EQ(npm->supplier, "The Babel Team");
  EXPECT_FALSE(ParsePackageJson("{not json", "p"));
  EXPECT_FALSE(ParsePackageJson(R"({"name":"x"})", "p"));
}

// A hand-assembled Go >= 1.18 build-info blob: 32-byte header, then
// varint-prefixed version and module info framed by 16-byte sentinels.
std::string GoBlob() {
  std::string mod = "path\texample.com/cmd/app\nmod\texample.com/app\tv1.2.3\th1:x=\n"
                    "dep\tgithub.com/spf13/cobra\tv1.8.0\th1:y=\n"
                    "dep\tgolang.org/x/sys\tv0.1.0\th1:z=\n=>\tgolang.org/x/sys\tv0.2.0\th1:w=\n"
                    "build\t-compiler=gc\n";
  std::string framed = std::string(16, '\x30') + mod + std::string(16, '\x31');
  framed[framed.size() - 17] = '\n';
  std::string header = std::string(kGoBuildInfoMagic) + std::string(1, '\x08') + std::string(1, '\x02') + std::string(16, '\0');
  std::string version = "go1.21.5";
  std::string out = std::string(48, 'E') + header;
  out += static_cast<char>(version.size());
  out += version;
  // varint of framed.size() (> 127 needs two bytes)
  size_t n = framed.size();
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  return out + framed + "trailer";
}

TEST(PackageDbs, GoBuildInfoSynthetic) {
  auto info = ParseGoBuildInfo(GoBlob());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->go_version, "go1.21.5");
  EXPECT_EQ(info->main_path, "example.com/app");
  EXPECT_EQ(info->main_version, "v1.2.3");
  ASSERT_EQ(info->deps.size(), 2u);
  EXPECT_EQ(info->deps[1].path, "golang.org/x/sys");
  EXPECT_EQ(info->deps[1].version, "v0.2.0");  // replacement applied
  Package p{"golang", "github.com/spf13/cobra", "v1.8.0", "", "", "", "", "/app", "", ""};
  FillIdentifiers(p, {});
  EXPECT_EQ(p.purl, "pkg:golang/github.com/spf13/cobra@v1.8.0");
  EXPECT_EQ(p.cpe, "cpe:2.3:a:spf13:cobra:1.8.0:*:*:*:*:*:*:*");
  EXPECT_FALSE(ParseGoBuildInfo("no blob here"));
}

const Package* FindPackage(const std::vector<Package>& pkgs, const std::string& name) {
  for (const auto& p : pkgs)
    if (p.name == name) return &p;
  return nullptr;
}

// The packages of tests/data/rpmdb/rpmdb.sqlite (see expected-qa.txt there).
void ExpectFixturePackages(std::vector<Package> pkgs, const std::string& location) {
  ASSERT_EQ(pkgs.size(), 6u);
  const Package* a = FindPackage(pkgs, "kiln-fixture-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, "rpm");
  EXPECT_EQ(a->version, "2:1.2.3-4.fx");
  EXPECT_EQ(a->arch, "noarch");
  EXPECT_EQ(a->license, "MIT");
  EXPECT_EQ(a->supplier, "Kiln Fixtures");
  EXPECT_EQ(a->source, "kiln-fixture-a-1.2.3-4.fx.src.rpm");
  EXPECT_EQ(a->location, location);
  const Package* b = FindPackage(pkgs, "kiln-fixture-b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->version, "0.9-1");  // no epoch
  EXPECT_EQ(b->license, "Apache-2.0 OR GPL-2.0-or-later");
  EXPECT_EQ(b->supplier, "");
  const Package* c = FindPackage(pkgs, "kiln-fixture-c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->version, "0:3.0-0.rc1");  // an explicit epoch 0 is kept
  EXPECT_EQ(c->arch, "x86_64");
  const Package* e = FindPackage(pkgs, "kiln-fixture-e");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->version, "1.0~beta-2");

  OsRelease fedora = ParseOsRelease("NAME=\"Fedora Linux\"\nVERSION_ID=39\nID=fedora\n");
  for (auto& p : pkgs) FillIdentifiers(p, fedora);
  a = FindPackage(pkgs, "kiln-fixture-a");
  EXPECT_EQ(a->purl, "pkg:rpm/fedora/kiln-fixture-a@1.2.3-4.fx?arch=noarch&distro=fedora-39&epoch=2");
  EXPECT_EQ(a->cpe, "cpe:2.3:a:kiln-fixture-a:kiln-fixture-a:1.2.3:*:*:*:*:*:*:*");
  c = FindPackage(pkgs, "kiln-fixture-c");
  EXPECT_EQ(c->purl, "pkg:rpm/fedora/kiln-fixture-c@3.0-0.rc1?arch=x86_64&distro=fedora-39&epoch=0");
  EXPECT_EQ(c->cpe, "cpe:2.3:a:kiln-fixture-c:kiln-fixture-c:3.0:*:*:*:*:*:*:*");
  e = FindPackage(pkgs, "kiln-fixture-e");
  EXPECT_EQ(e->purl, "pkg:rpm/fedora/kiln-fixture-e@1.0~beta-2?arch=noarch&distro=fedora-39");
  Package bare = *FindPackage(pkgs, "kiln-fixture-b");
  FillIdentifiers(bare, {});  // no os-release: no namespace, no distro
  EXPECT_EQ(bare.purl, "pkg:rpm/kiln-fixture-b@0.9-1?arch=noarch");
  EXPECT_EQ(bare.cpe, "cpe:2.3:a:kiln-fixture-b:kiln-fixture-b:0.9:*:*:*:*:*:*:*");
}

TEST(PackageDbs, RpmSqliteRealFixture) {
  ExpectFixturePackages(ParseRpmSqlite(testing::RpmdbSqliteFixture(), "/var/lib/rpm/rpmdb.sqlite"),
                        "/var/lib/rpm/rpmdb.sqlite");
}

// A cut anywhere is an Error naming the file. Flipped bytes are often
// errors too, but not always: the format has no checksums, so a smaller cell
// count or a changed string goes unnoticed. Neither may crash or hang.
TEST(PackageDbs, RpmSqliteDamagedFixture) {
  const std::string good = testing::RpmdbSqliteFixture();
  for (size_t cut = 0; cut < good.size(); cut += 997) {
    try {
      ParseRpmSqlite(good.substr(0, cut), "/r");
      ADD_FAILURE() << "no error for a cut at " << cut;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/r"), std::string::npos) << e.what();
    }
  }
  uint32_t seed = 99;
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    std::string d = good;
    seed = seed * 1103515245 + 12345;
    // Mostly the first bytes of pages (b-tree headers, cell pointers).
    size_t page = (seed >> 8) % (good.size() / 4096), off = (seed >> 4) % 4 ? (seed >> 12) % 32 : (seed >> 12) % 4096;
    d[page * 4096 + off] ^= static_cast<char>(1 + (seed >> 20) % 255);
    try {
      ParseRpmSqlite(d, "/r");
    } catch (const Error& e) {
      if (++errors <= 3) std::cout << "  e.g. " << e.what() << "\n";
    }
  }
  EXPECT_GT(errors, 5);  // most pages belong to rpm's index tables, which are not read
}

TEST(PackageDbs, RpmNdbLaidOutFromFixtureHeaders) {
  auto blobs = testing::RpmdbFixtureBlobs();
  std::string ndb = testing::MakeNdbPackages(blobs);
  auto read = ReadRpmNdbPackages(ndb, "/p");
  ASSERT_EQ(read.size(), blobs.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].pkgidx, i + 1);  // package-index order
    EXPECT_EQ(read[i].blob, blobs[i].second);
  }
  ExpectFixturePackages(ParseRpmNdb(ndb, "/usr/lib/sysimage/rpm/Packages.db"), "/usr/lib/sysimage/rpm/Packages.db");

  auto error_of = [](const std::string& d) -> std::string {
    try {
      ParseRpmNdb(d, "/p");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  std::string d = ndb;
  d[0] = 'X';
  EXPECT_EQ(error_of(d), "/p: ndb: not an rpm ndb package file (no \"RpmP\" magic)");
  d = ndb;
  d[4] = 1;
  EXPECT_EQ(error_of(d), "/p: ndb: unsupported version 1");
  d = ndb;
  testing::PutLe32(d, 12, 1000);
  EXPECT_EQ(error_of(d), "/p: ndb: 1000 slot pages do not fit in " + std::to_string(ndb.size()) + " bytes");
  d = ndb;
  d.replace(64, 4, "Slop");
  EXPECT_EQ(error_of(d), "/p: ndb: slot at offset 64 has no \"Slot\" magic");
  d = ndb;
  testing::PutLe32(d, 48 + 8, 3);  // into the slot page
  EXPECT_EQ(error_of(d), "/p: ndb: slot at offset 48 (package 6, blocks 3+" +
                             std::to_string((16 + blobs[5].second.size() + 12 + 15) / 16) +
                             ") points outside the blob area");
  d = ndb;
  d[4096 + 20] ^= 1;  // a byte of the first blob's header data
  EXPECT_EQ(error_of(d), "/p: ndb: blob of package 6 at offset 4096: checksum mismatch");
  d = ndb;
  testing::PutLe32(d, 64 + 4, 6);  // package 5's slot claims to be 6
  EXPECT_NE(error_of(d).find("belongs to package 5"), std::string::npos) << error_of(d);
  d = ndb;
  d.replace(64, 16, ndb.substr(48, 16));  // two slots for package 6's blob
  EXPECT_EQ(error_of(d), "/p: ndb: package 6 has two slots");
  d = ndb;
  testing::PutLe32(d, 4096 + 12, 5);  // length field
  EXPECT_NE(error_of(d).find("length 5 does not match"), std::string::npos) << error_of(d);
  for (size_t cut = 0; cut < ndb.size(); cut += 16) {
    std::string err = error_of(ndb.substr(0, cut));
    EXPECT_NE(err, "no error") << "cut at " << cut;
  }
  // Free slots only: an empty database.
  d = ndb.substr(0, 4096);
  for (size_t at = 32; at < 4096; at += 16) testing::PutLe32(d, at + 8, 0);
  EXPECT_TRUE(ParseRpmNdb(d, "/p").empty());
}

// Debian's docker-registry is a real Go binary (Go 1.19).
TEST(PackageDbs, GoBuildInfoRealBinary) {
  const char* bin = "/usr/bin/docker-registry";
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << bin << " not installed";
  std::ifstream in(bin, std::ios::binary);
  std::string data(std::filesystem::file_size(bin), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  auto info = ParseGoBuildInfo(data);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->go_version.starts_with("go1.")) << info->go_version;
  EXPECT_FALSE(info->main_path.empty());
}

}  // namespace
}  // namespace kiln::oci
