// CatalogLayers (declared in sbom.h): finds package databases in the final
// filesystem of an image.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "oci/supply/cyclonedx.h"
#include "oci/error.h"
#include "oci/supply/sbom.h"
#include "oci/supply/spdx.h"

namespace kiln::oci {

namespace {

// node_modules/NAME/package.json or node_modules/@scope/NAME/package.json.
bool IsNpmManifest(const std::string& path) {
  if (!path.ends_with("/package.json")) return false;
  size_t nm = path.rfind("node_modules/");
  if (nm == std::string::npos) return false;
  std::string rest = path.substr(nm + 13, path.size() - nm - 13 - 13);
  size_t slashes = std::count(rest.begin(), rest.end(), '/');
  return rest.starts_with("@") ? slashes == 1 : slashes == 0;
}

// Streams an executable looking for the Go build-info blob; keeps only a
// window so large binaries are not held in memory.
std::optional<GoBuildInfo> FindGoBuildInfo(const ReadFn& read, int64_t limit) {
  std::string buf;
  int64_t total = 0;
  char chunk[1 << 16];
  long n;
  size_t found = std::string::npos;
  while (total < limit && (n = read(chunk, sizeof chunk)) > 0) {
    total += n;
    size_t from = buf.size() >= kGoBuildInfoMagic.size() ? buf.size() - kGoBuildInfoMagic.size() : 0;
    buf.append(chunk, static_cast<size_t>(n));
    if (found == std::string::npos) {
      found = buf.find(kGoBuildInfoMagic, from);
      if (found == std::string::npos) {
        buf.erase(0, buf.size() - std::min(buf.size(), kGoBuildInfoMagic.size()));
        continue;
      }
      buf.erase(0, found);
      found = 0;
    }
    if (buf.size() >= (1u << 20)) break;  // module info fits well within 1 MiB
  }
  if (found == std::string::npos) return std::nullopt;
  return ParseGoBuildInfo(buf);
}

// rpm's database: /var/lib/rpm, or /usr/lib/sysimage/rpm where distributions
// moved it (Fedora 36+, openSUSE; /var/lib/rpm is then a symlink, which the
// cataloguer does not follow, so each database is read once); sqlite (Fedora
// 33+, RHEL 9) or ndb (SUSE). The BerkeleyDB "Packages" file of RHEL <= 8
// has no reader and is not matched here.
bool IsRpmSqlite(const std::string& path) {
  return path == "var/lib/rpm/rpmdb.sqlite" || path == "usr/lib/sysimage/rpm/rpmdb.sqlite";
}
bool IsRpmNdb(const std::string& path) {
  return path == "var/lib/rpm/Packages.db" || path == "usr/lib/sysimage/rpm/Packages.db";
}

}  // namespace

Sbom CatalogLayers(const std::vector<LayerBlob>& layers, const CatalogOptions& opts) {
  Sbom sbom;
  std::vector<Package> pkgs;
  std::map<std::string, std::string> deb_licenses;  // package -> DEP-5 licence
  std::string os_release_etc, os_release_usr;
  ForEachFinalEntry(layers, [&](const TarEntry& e, const ReadFn& read, size_t) {
    if (!S_ISREG(e.mode) || e.hardlink || e.size <= 0) return;
    const std::string& path = e.path;
    std::string loc = "/" + path;
    constexpr size_t kText = 64 << 20;
    if (path == "var/lib/dpkg/status" || (path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums"))) {
      auto v = ParseDpkgStatus(ReadAll(read, kText), loc);
      pkgs.insert(pkgs.end(), v.begin(), v.end());
    } else if (path == "lib/apk/db/installed") {
      auto v = ParseApkInstalled(ReadAll(read, kText), loc);
      pkgs.insert(pkgs.end(), v.begin(), v.end());
    } else if (IsRpmSqlite(path) || IsRpmNdb(path)) {
      // Read whole (the b-tree is walked from page 1). Each installed
      // package adds a header blob of tens of KB, so thousands of packages
      // stay well under the cap; a bigger file is refused, not read in part.
      constexpr int64_t kRpmDb = 256ll << 20;
      if (e.size > kRpmDb)
        throw Error("SBOM: " + loc + " is " + std::to_string(e.size) + " bytes, over the " +
                    std::to_string(kRpmDb >> 20) + " MiB limit for rpm databases");
      std::string db = ReadAll(read, static_cast<size_t>(e.size));
      auto v = IsRpmSqlite(path) ? ParseRpmSqlite(db, loc) : ParseRpmNdb(db, loc);
      pkgs.insert(pkgs.end(), v.begin(), v.end());
    } else if ((path.ends_with("/METADATA") && path.find(".dist-info/") != std::string::npos) ||
               (path.ends_with("/PKG-INFO") && path.find(".egg-info/") != std::string::npos)) {
      if (auto p = ParsePythonMetadata(ReadAll(read, 1 << 20), loc)) pkgs.push_back(*p);
    } else if (IsNpmManifest(path)) {
      if (auto p = ParsePackageJson(ReadAll(read, 4 << 20), loc)) pkgs.push_back(*p);
    } else if (opts.deb_copyright_licenses && path.starts_with("usr/share/doc/") && path.ends_with("/copyright") &&
               std::count(path.begin(), path.end(), '/') == 4) {
      std::string lic = DebCopyrightLicense(ReadAll(read, 1 << 20));
      if (!lic.empty()) deb_licenses[path.substr(14, path.size() - 14 - 10)] = lic;
    } else if (path == "etc/os-release") {
      os_release_etc = ReadAll(read, 64 << 10);
    } else if (path == "usr/lib/os-release") {
      os_release_usr = ReadAll(read, 64 << 10);
    } else if (opts.go_binaries && (e.mode & 0111) && e.size > 64) {
      char magic[4];
      long n = read(magic, 4);
      if (n != 4 || std::string_view(magic, 4) != "\x7f" "ELF") return;
      auto info = FindGoBuildInfo(read, opts.max_binary_bytes);
      if (!info) return;
      if (!info->main_path.empty())
        pkgs.push_back({"golang", info->main_path, info->main_version, "", "", "", "", loc, "", ""});
      for (const auto& d : info->deps) pkgs.push_back({"golang", d.path, d.version, "", "", "", "", loc, "", ""});
      pkgs.push_back({"golang", "stdlib", info->go_version, "", "BSD-3-Clause", "", "", loc, "", ""});
    }
  });
  sbom.os = ParseOsRelease(!os_release_etc.empty() ? os_release_etc : os_release_usr);
  for (auto& p : pkgs) {
    if (p.type == "deb" && p.license.empty()) {
      auto it = deb_licenses.find(p.name);
      if (it != deb_licenses.end()) p.license = it->second;
    }
    if (p.type == "golang" && p.name == "stdlib" && p.version.starts_with("go")) p.version = "v" + p.version.substr(2);
    FillIdentifiers(p, sbom.os);
  }
  auto key = [](const Package& p) { return std::tie(p.type, p.name, p.version, p.location, p.arch); };
  std::sort(pkgs.begin(), pkgs.end(), [&](const Package& a, const Package& b) { return key(a) < key(b); });
  pkgs.erase(std::unique(pkgs.begin(), pkgs.end(), [&](const Package& a, const Package& b) { return key(a) == key(b); }),
             pkgs.end());
  sbom.packages = std::move(pkgs);
  return sbom;
}

SbomFormat ParseSbomFormat(const std::string& s) {
  if (s == "spdx" || s == "spdx-json" || s == "spdx+json") return SbomFormat::kSpdxJson;
  if (s == "cyclonedx" || s == "cyclonedx-json" || s == "cdx") return SbomFormat::kCycloneDxJson;
  throw Error("unknown SBOM format \"" + s + "\" (want spdx-json or cyclonedx-json)");
}

const char* SbomMediaType(SbomFormat f) {
  return f == SbomFormat::kSpdxJson ? "application/spdx+json" : "application/vnd.cyclonedx+json";
}

std::string SerializeSbom(const Sbom& sbom, SbomFormat format, const SbomDocOptions& opts) {
  return format == SbomFormat::kSpdxJson ? ToSpdxJson(sbom, opts) : ToCycloneDxJson(sbom, opts);
}

}  // namespace kiln::oci
