#include "oci/supply/package_dbs.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>

#include "oci/error.h"
#include "oci/supply/rpm_header.h"
#include "oci/supply/rpm_ndb.h"
#include "oci/supply/sqlite_db.h"
#include "oci/text_util.h"

namespace kiln::oci {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// RFC 822-style paragraphs (dpkg status, DEP-5 copyright, Python metadata
// headers): field -> value, continuation lines folded with '\n'. Field
// names are compared case-insensitively (stored lower-case).
using Paragraph = std::map<std::string, std::string>;

std::vector<Paragraph> Paragraphs(std::string_view text, bool stop_at_first_blank = false) {
  std::vector<Paragraph> out(1);
  std::string last;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) {
      if (stop_at_first_blank && !out.back().empty()) break;
      if (!out.back().empty()) out.emplace_back();
      last.clear();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t')) {
      if (!last.empty()) out.back()[last] += "\n" + std::string(Trim(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    last = AsciiLower(Trim(line.substr(0, colon)));
    auto& slot = out.back()[last];
    std::string value(Trim(line.substr(colon + 1)));
    slot = slot.empty() ? value : slot + "\n" + value;  // repeated fields (Classifier)
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

std::string Get(const Paragraph& p, const std::string& k) {
  auto it = p.find(k);
  return it == p.end() ? std::string() : it->second;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// CPE 2.3 formatted-string escaping of a component.
std::string CpeEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') out += c;
    else {
      out += '\\';
      out += c;
    }
  }
  return out;
}

}  // namespace

OsRelease ParseOsRelease(std::string_view text) {
  OsRelease os;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = Trim(text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || line.starts_with("#")) continue;
    std::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    if (k == "ID") os.id = v;
    else if (k == "VERSION_ID") os.version_id = v;
    else if (k == "PRETTY_NAME") os.pretty_name = v;
    else if (k == "VERSION_CODENAME") os.version_codename = v;
  }
  return os;
}

std::vector<Package> ParseDpkgStatus(std::string_view text, const std::string& location) {
  std::vector<Package> out;
  for (const auto& p : Paragraphs(text)) {
    std::string name = Get(p, "package"), version = Get(p, "version");
    if (name.empty() || version.empty()) continue;
    // Only installed packages ("deinstall ok config-files" leave conffiles only).
    std::string status = Get(p, "status");
    if (!status.empty() && !status.ends_with(" installed")) continue;
    Package pkg{"deb", name, version, Get(p, "architecture"), "", FirstLine(Get(p, "maintainer")), "", location, "", ""};
    std::string source = Get(p, "source");
    pkg.source = source.substr(0, source.find(' '));  // "src (1.2-3)"
    out.push_back(std::move(pkg));
  }
  return out;
}

std::vector<Package> ParseApkInstalled(std::string_view text, const std::string& location) {
  std::vector<Package> out;
  Package cur{"apk", "", "", "", "", "", "", location, "", ""};
  auto flush = [&] {
    if (!cur.name.empty() && !cur.version.empty()) out.push_back(cur);
    cur = Package{"apk", "", "", "", "", "", "", location, "", ""};
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    if (line.empty()) {
      flush();
      continue;
    }
    if (line.size() < 2 || line[1] != ':') continue;
    std::string v(line.substr(2));
    switch (line[0]) {
      case 'P': cur.name = v; break;
      case 'V': cur.version = v; break;
      case 'A': cur.arch = v; break;
      case 'L': cur.license = v; break;
      case 'o': cur.source = v; break;
      case 'm': cur.supplier = v; break;
      default: break;
    }
  }
  flush();
  return out;
}

std::optional<Package> ParsePythonMetadata(std::string_view text, const std::string& location) {
  auto ps = Paragraphs(text, /*stop_at_first_blank=*/true);  // the body is the long description
  if (ps.empty()) return std::nullopt;
  const auto& p = ps.front();
  std::string name = Get(p, "name"), version = Get(p, "version");
  if (name.empty() || version.empty()) return std::nullopt;
  Package pkg{"pypi", name, version, "", "", FirstLine(Get(p, "author")), "", location, "", ""};
  pkg.license = Get(p, "license-expression");
  if (pkg.license.empty()) {
    std::string lic = FirstLine(Get(p, "license"));
    if (lic.size() <= 64 && lic != "UNKNOWN") pkg.license = lic;  // else it is the whole licence text
  }
  if (pkg.license.empty()) {
    // "Classifier: License :: OSI Approved :: MIT License"
    std::string cls = Get(p, "classifier");
    size_t at = cls.find("License :: OSI Approved :: ");
    if (at != std::string::npos) {
      std::string l = cls.substr(at + 27);
      pkg.license = l.substr(0, l.find('\n'));
    }
  }
  return pkg;
}

std::optional<Package> ParsePackageJson(std::string_view text, const std::string& location) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("name") || !j.contains("version") || !j["name"].is_string() ||
      !j["version"].is_string())
    return std::nullopt;
  Package pkg{"npm", j["name"].get<std::string>(), j["version"].get<std::string>(), "", "", "", "", location, "", ""};
  if (j.contains("license")) {
    const auto& l = j["license"];
    if (l.is_string()) pkg.license = l.get<std::string>();
    else if (l.is_object() && l.contains("type") && l["type"].is_string()) pkg.license = l["type"].get<std::string>();
  }
  if (j.contains("author")) {
    const auto& a = j["author"];
    if (a.is_string()) pkg.supplier = a.get<std::string>();
    else if (a.is_object() && a.contains("name") && a["name"].is_string()) pkg.supplier = a["name"].get<std::string>();
  }
  return pkg;
}

std::string DebCopyrightLicense(std::string_view text) {
  auto ps = Paragraphs(text);
  if (ps.empty() || Get(ps.front(), "format").find("copyright-format") == std::string::npos) return {};
  for (const auto& p : ps)
    if (Trim(FirstLine(Get(p, "files"))) == "*") return std::string(Trim(FirstLine(Get(p, "license"))));
  return {};
}

namespace {

// rpm adds a "gpg-pubkey" pseudo-package per imported signing key (version =
// key id, no arch, licence "pubkey"): not installed software, left out as
// most readers of the rpm database do.
void AddRpmPackage(std::vector<Package>& out, std::string_view blob, const std::string& location,
                   const std::string& what) {
  RpmHeaderInfo h = ParseRpmHeader(blob, what);
  if (h.name == "gpg-pubkey" && h.arch.empty()) return;
  // "[EPOCH:]VERSION-RELEASE", the EVR form of dnf and syft; an
  // explicit epoch 0 is kept (it is in the header, unlike a missing epoch).
  std::string version = (h.epoch ? std::to_string(*h.epoch) + ":" : "") + h.version + "-" + h.release;
  out.push_back({"rpm", h.name, version, h.arch, h.license, h.vendor.empty() ? h.packager : h.vendor, h.source_rpm,
                 location, "", ""});
}

}  // namespace

std::vector<Package> ParseRpmSqlite(std::string_view db, const std::string& location) {
  // rpm's sqlite backend: CREATE TABLE Packages (hnum INTEGER PRIMARY KEY
  // AUTOINCREMENT, blob BLOB NOT NULL); the other tables are indexes.
  SqliteDb sql(db, location);
  std::vector<Package> out;
  sql.ForEachRow("Packages", [&](int64_t hnum, const std::vector<SqliteValue>& cols) {
    std::string what = location + " package " + std::to_string(hnum);
    if (cols.size() < 2 || cols[1].type != SqliteValue::Type::kBlob)
      throw Error(what + ": the Packages row has no header blob in its second column");
    AddRpmPackage(out, cols[1].bytes, location, what);
  });
  return out;
}

std::vector<Package> ParseRpmNdb(std::string_view db, const std::string& location) {
  std::vector<Package> out;
  for (const auto& b : ReadRpmNdbPackages(db, location))
    AddRpmPackage(out, b.blob, location, location + " package " + std::to_string(b.pkgidx));
  return out;
}

namespace {

bool ReadUvarint(std::string_view data, size_t& pos, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && pos < data.size(); shift += 7) {
    auto b = static_cast<unsigned char>(data[pos++]);
    out |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace

std::optional<GoBuildInfo> ParseGoBuildInfo(std::string_view bin) {
  // A stray copy of the magic (e.g. in the Go linker's own strings) does not
  // have a valid pointer size after it; try the next one.
  size_t at = bin.find(kGoBuildInfoMagic);
  while (at != std::string_view::npos && at + 32 <= bin.size() && bin[at + 14] != 4 && bin[at + 14] != 8)
    at = bin.find(kGoBuildInfoMagic, at + 1);
  if (at == std::string_view::npos || bin.size() < at + 32) return std::nullopt;
  auto flags = static_cast<unsigned char>(bin[at + 15]);
  if (!(flags & 0x2)) return std::nullopt;  // pre-1.18: pointers into the data segment
  size_t pos = at + 32;
  uint64_t n = 0;
  if (!ReadUvarint(bin, pos, n) || n > bin.size() - pos) return std::nullopt;
  GoBuildInfo info;
  info.go_version = std::string(bin.substr(pos, n));
  pos += n;
  if (!ReadUvarint(bin, pos, n) || n > bin.size() - pos) return std::nullopt;
  std::string_view mod = bin.substr(pos, n);
  // Module info is framed by 16-byte sentinels.
  if (mod.size() >= 33 && mod[mod.size() - 17] == '\n') mod = mod.substr(16, mod.size() - 32);
  size_t p = 0;
  while (p < mod.size()) {
    size_t eol = mod.find('\n', p);
    std::string_view line = mod.substr(p, eol == std::string_view::npos ? std::string_view::npos : eol - p);
    p = eol == std::string_view::npos ? mod.size() : eol + 1;
    std::vector<std::string> f;
    for (size_t s = 0;;) {
      size_t t = line.find('\t', s);
      f.emplace_back(line.substr(s, t == std::string_view::npos ? std::string_view::npos : t - s));
      if (t == std::string_view::npos) break;
      s = t + 1;
    }
    if (f[0] == "mod" && f.size() >= 3) {
      info.main_path = f[1];
      info.main_version = f[2];
    } else if (f[0] == "dep" && f.size() >= 3) {
      info.deps.push_back({f[1], f[2]});
    } else if (f[0] == "=>" && f.size() >= 3 && !info.deps.empty()) {
      info.deps.back() = {f[1], f[2]};  // replacement of the previous dep
    } else if (f[0] == "path" && f.size() >= 2 && info.main_path.empty()) {
      info.main_path = f[1];
    }
  }
  return info;
}

std::string PurlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '-' || c == '_' || c == '~') out += c;
    else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

void FillIdentifiers(Package& p, const OsRelease& os) {
  std::string distro = os.id.empty() ? "" : os.id + (os.version_id.empty() ? "" : "-" + os.version_id);
  std::string vendor = AsciiLower(p.name), product = AsciiLower(p.name), version = p.version;
  if (p.type == "rpm") {
    // pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&distro=fedora-25&epoch=1:
    // the epoch is a qualifier, not part of the version (purl-spec
    // PURL-TYPES.rst); qualifiers sorted by key as the canonical form wants.
    // No namespace without an os-release: the vendor is not guessable.
    std::string epoch, vr = p.version;
    if (auto c = vr.find(':'); c != std::string::npos) {  // rpm versions cannot contain ':'
      epoch = vr.substr(0, c);
      vr = vr.substr(c + 1);
    }
    p.purl = "pkg:rpm/" + (os.id.empty() ? "" : PurlEncode(os.id) + "/") + PurlEncode(p.name) + "@" + PurlEncode(vr);
    std::string q;
    if (!p.arch.empty()) q += "arch=" + PurlEncode(p.arch);
    if (!distro.empty()) q += std::string(q.empty() ? "" : "&") + "distro=" + PurlEncode(distro);
    if (!epoch.empty()) q += std::string(q.empty() ? "" : "&") + "epoch=" + PurlEncode(epoch);
    if (!q.empty()) p.purl += "?" + q;
    // CPEs use the upstream version: no epoch, no release.
    version = vr.substr(0, vr.rfind('-'));
  } else if (p.type == "deb" || p.type == "apk") {
    std::string ns = p.type == "deb" ? (os.id.empty() ? "debian" : os.id) : (os.id.empty() ? "alpine" : os.id);
    p.purl = "pkg:" + p.type + "/" + PurlEncode(ns) + "/" + PurlEncode(p.name) + "@" + PurlEncode(p.version);
    std::string q;
    if (!p.arch.empty()) q += "arch=" + PurlEncode(p.arch);
    if (!distro.empty()) q += std::string(q.empty() ? "" : "&") + "distro=" + PurlEncode(distro);
    if (!q.empty()) p.purl += "?" + q;
    // CPEs use the upstream version: no epoch, no Debian revision.
    if (auto c = version.find(':'); c != std::string::npos) version = version.substr(c + 1);
    if (auto d = version.rfind('-'); d != std::string::npos && p.type == "deb") version = version.substr(0, d);
    if (auto r = version.rfind("-r"); r != std::string::npos && p.type == "apk") version = version.substr(0, r);
  } else if (p.type == "pypi") {
    std::string n = AsciiLower(p.name);
    std::replace(n.begin(), n.end(), '_', '-');
    p.purl = "pkg:pypi/" + PurlEncode(n) + "@" + PurlEncode(p.version);
  } else if (p.type == "npm") {
    std::string n = p.name;
    if (n.starts_with("@") && n.find('/') != std::string::npos) {
      auto slash = n.find('/');
      p.purl = "pkg:npm/" + PurlEncode(n.substr(0, slash)) + "/" + PurlEncode(n.substr(slash + 1));
      vendor = AsciiLower(n.substr(1, slash - 1));
      product = AsciiLower(n.substr(slash + 1));
    } else {
      p.purl = "pkg:npm/" + PurlEncode(n);
    }
    p.purl += "@" + PurlEncode(p.version);
  } else if (p.type == "golang") {
    // Namespace segments stay separate: pkg:golang/github.com/a/b@v1.
    std::string path;
    size_t s = 0;
    while (true) {
      size_t t = p.name.find('/', s);
      path += (s ? "/" : "") + PurlEncode(p.name.substr(s, t == std::string::npos ? std::string::npos : t - s));
      if (t == std::string::npos) break;
      s = t + 1;
    }
    p.purl = "pkg:golang/" + path + "@" + PurlEncode(p.version);
    if (p.name.starts_with("github.com/") && std::count(p.name.begin(), p.name.end(), '/') >= 2) {
      size_t a = p.name.find('/') + 1, b = p.name.find('/', a);
      vendor = AsciiLower(p.name.substr(a, b - a));
      size_t c = p.name.find('/', b + 1);
      product = AsciiLower(p.name.substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1));
    } else {
      return;  // no derivable vendor/product
    }
    if (version.starts_with("v")) version.erase(0, 1);
    if (version.find("(devel)") != std::string::npos) return;
  }
  if (version.empty()) return;
  p.cpe = "cpe:2.3:a:" + CpeEscape(vendor) + ":" + CpeEscape(product) + ":" + CpeEscape(version) + ":*:*:*:*:*:*:*";
}

}  // namespace kiln::oci
