#include "oci/package_dbs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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
