// Readers for package databases found in image filesystems (all parse
// in-memory text; the SBOM cataloguer streams the files out of the layers):
//   dpkg   /var/lib/dpkg/status, /var/lib/dpkg/status.d/* (distroless)
//   apk    /lib/apk/db/installed
//   Python *.dist-info/METADATA, *.egg-info/PKG-INFO (core metadata, RFC 822)
//   npm    node_modules/**/package.json
//   Go     build info embedded in binaries ("\xff Go buildinf:", Go >= 1.18
//          inline format; older pointer-based blobs give the marker only)
//   rpm    rpmdb.sqlite (rpm >= 4.16: Fedora 33+, RHEL 9, ...) and ndb
//          Packages.db (SUSE) under /var/lib/rpm or /usr/lib/sysimage/rpm,
//          read with libsqlite3 (sqlite_db.h) and our own ndb and header
//          readers (rpm_ndb.h, rpm_header.h). The BerkeleyDB "Packages" of older distributions
//          (RHEL <= 8, CentOS 7) is not read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

struct Package {
  std::string type;       // purl type: "deb", "apk", "rpm", "pypi", "npm", "golang"
  std::string name, version;
  std::string arch;       // deb/apk/rpm architecture, empty otherwise
  std::string license;    // as declared (SPDX expression when the source says so)
  std::string supplier;   // maintainer/author (rpm: Vendor, else Packager), free text
  std::string source;     // source package (deb Source, apk origin, rpm source rpm file name)
  std::string location;   // "/var/lib/dpkg/status", "/usr/bin/app", ...
  std::string purl, cpe;  // filled by FillIdentifiers
};

struct OsRelease {
  std::string id, version_id, pretty_name, version_codename;
  bool empty() const { return id.empty(); }
};

OsRelease ParseOsRelease(std::string_view text);

std::vector<Package> ParseDpkgStatus(std::string_view text, const std::string& location);
std::vector<Package> ParseApkInstalled(std::string_view text, const std::string& location);
std::optional<Package> ParsePythonMetadata(std::string_view text, const std::string& location);
std::optional<Package> ParsePackageJson(std::string_view text, const std::string& location);
// Installed packages of an rpm database file; version "[EPOCH:]VERSION-RELEASE".
// Unlike the text formats these throw Error ("<location>: ..." naming page,
// blob or field) on a damaged file: an SBOM silently missing every RPM of an
// image would be worse than no SBOM.
std::vector<Package> ParseRpmSqlite(std::string_view db, const std::string& location);
std::vector<Package> ParseRpmNdb(std::string_view db, const std::string& location);

// License of a Debian copyright file in machine-readable (DEP-5) format: the
// "License:" of the "Files: *" paragraph; empty for free-form files.
std::string DebCopyrightLicense(std::string_view text);

struct GoBuildInfo {
  std::string go_version;                 // "go1.21.5"
  std::string main_path, main_version;    // module of the main package
  struct Dep { std::string path, version; };
  std::vector<Dep> deps;                  // replacements applied
};
// Looks for the build-info blob in (a prefix of) an executable. nullopt if
// absent or in the pre-1.18 pointer format.
std::optional<GoBuildInfo> ParseGoBuildInfo(std::string_view binary);
inline constexpr std::string_view kGoBuildInfoMagic = "\xff Go buildinf:";

// purl (https://github.com/package-url/purl-spec) and CPE 2.3 for a package,
// given the image's OS (deb/apk/rpm purls carry distro=ID-VERSION_ID).
void FillIdentifiers(Package& p, const OsRelease& os);
std::string PurlEncode(std::string_view s);

}  // namespace kiln::oci
