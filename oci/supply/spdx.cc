#include "oci/supply/spdx.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "oci/digest.h"

namespace kiln::oci {

namespace {

const std::set<std::string>& KnownIds() {
  static const std::set<std::string> kIds = {
      "0BSD", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "Artistic-1.0", "Artistic-2.0",
      "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause", "BSL-1.0", "BlueOak-1.0.0", "CC-BY-4.0",
      "CC-BY-SA-4.0", "CC0-1.0", "EPL-1.0", "EPL-2.0", "GFDL-1.2-or-later", "GFDL-1.3-or-later", "GPL-1.0-or-later",
      "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC", "LGPL-2.0-only",
      "LGPL-2.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "MIT",
      "MIT-0", "MPL-1.1", "MPL-2.0", "OpenSSL", "PSF-2.0", "Python-2.0", "Ruby", "Unicode-DFS-2016", "Unlicense",
      "WTFPL", "X11", "Zlib", "curl", "Artistic-1.0-Perl", "GCC-exception-3.1", "Classpath-exception-2.0",
      "LLVM-exception", "OpenSSL-standalone", "Autoconf-exception-3.0", "Bison-exception-2.2", "Libtool-exception",
      "FSFAP", "FSFUL", "FSFULLR", "bzip2-1.0.6", "Sleepycat", "PostgreSQL", "OFL-1.1", "HPND", "NTP", "Vim"};
  return kIds;
}

std::string Alias(std::string t) {
  static const std::map<std::string, std::string> kAlias = {
      {"GPL-2", "GPL-2.0-only"},       {"GPL-2+", "GPL-2.0-or-later"},   {"GPL-3", "GPL-3.0-only"},
      {"GPL-3+", "GPL-3.0-or-later"},  {"GPL-1+", "GPL-1.0-or-later"},   {"LGPL-2", "LGPL-2.0-only"},
      {"LGPL-2+", "LGPL-2.0-or-later"}, {"LGPL-2.1", "LGPL-2.1-only"},  {"LGPL-2.1+", "LGPL-2.1-or-later"},
      {"LGPL-3", "LGPL-3.0-only"},     {"LGPL-3+", "LGPL-3.0-or-later"}, {"GPL-2.0", "GPL-2.0-only"},
      {"GPL-3.0", "GPL-3.0-only"},     {"GPL-2.0+", "GPL-2.0-or-later"}, {"GPL-3.0+", "GPL-3.0-or-later"},
      {"Apache-2", "Apache-2.0"},      {"Apache 2.0", "Apache-2.0"},     {"MIT License", "MIT"},
      {"Expat", "MIT"},                {"BSD-3-clause", "BSD-3-Clause"}, {"BSD-2-clause", "BSD-2-Clause"},
      {"public-domain", ""},           {"MPL-2", "MPL-2.0"},             {"Apache Software License", "Apache-2.0"},
      {"BSD License", ""},             {"ZLIB", "Zlib"},                 {"PSF", "PSF-2.0"},
      {"GPL-2.0-or-later", "GPL-2.0-or-later"}};
  auto it = kAlias.find(t);
  return it != kAlias.end() ? it->second : t;
}

}  // namespace

std::string NormalizeSpdxLicense(const std::string& declared) {
  if (declared.empty()) return {};
  if (auto whole = Alias(declared); whole != declared) return whole;
  // Tokenise "A or B", "(A OR B) AND C", DEP-5's "GPL-2+ or Artistic".
  std::string out;
  std::string tok;
  auto flush = [&]() -> bool {
    if (tok.empty()) return true;
    std::string up = tok;
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string piece;
    if (up == "AND" || up == "OR" || up == "WITH") piece = up;
    else if (up == "AND/OR") piece = "OR";
    else {
      piece = Alias(tok);
      if (piece.empty() || !KnownIds().count(piece)) return false;
    }
    if (!out.empty() && out.back() != '(') out += ' ';
    out += piece;
    tok.clear();
    return true;
  };
  for (char c : declared) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!flush()) return {};
    } else if (c == '(' || c == ')') {
      if (!flush()) return {};
      if (c == '(' && !out.empty() && out.back() != '(') out += ' ';
      out += c;
    } else {
      tok += c;
    }
  }
  if (!flush()) return {};
  return out;
}

std::string SpdxId(const std::string& kind, const std::string& name, const std::string& discriminator) {
  std::string id = "SPDXRef-" + kind + "-";
  for (char c : name) id += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-';
  if (!discriminator.empty()) id += "-" + Sha256Of(discriminator).hex.substr(0, 12);
  return id;
}

std::string ToSpdxJson(const Sbom& sbom, const SbomDocOptions& opts) {
  using nlohmann::json;
  std::string image_name = sbom.image.name.empty() ? sbom.image.manifest_digest : sbom.image.name;
  json doc;
  doc["spdxVersion"] = "SPDX-2.3";
  doc["dataLicense"] = "CC0-1.0";
  doc["SPDXID"] = "SPDXRef-DOCUMENT";
  doc["name"] = image_name.empty() ? "image" : image_name;
  // Unique per image content, stable across runs.
  std::string ns_seed = sbom.image.manifest_digest + "|" + sbom.image.name + "|" + opts.created;
  doc["documentNamespace"] = "https://kiln.invalid/spdx/" + Sha256Of(ns_seed).hex;
  doc["creationInfo"] = {{"created", opts.created},
                         {"creators", json::array({"Tool: kiln-" + opts.tool_version, "Organization: kiln"})}};

  json packages = json::array(), rels = json::array();
  std::string image_id = "SPDXRef-Image";
  json image = {{"SPDXID", image_id},
                {"name", image_name.empty() ? "image" : image_name},
                {"downloadLocation", "NOASSERTION"},
                {"filesAnalyzed", false},
                {"licenseConcluded", "NOASSERTION"},
                {"licenseDeclared", "NOASSERTION"},
                {"copyrightText", "NOASSERTION"},
                {"primaryPackagePurpose", "CONTAINER"}};
  if (!sbom.image.manifest_digest.empty()) {
    image["versionInfo"] = sbom.image.manifest_digest;
    auto colon = sbom.image.manifest_digest.find(':');
    if (colon != std::string::npos)
      image["checksums"] = json::array({{{"algorithm", "SHA256"}, {"checksumValue", sbom.image.manifest_digest.substr(colon + 1)}}});
    std::string repo = sbom.image.name.substr(0, sbom.image.name.find_first_of("@"));
    size_t last_slash = repo.rfind('/'), last_colon = repo.rfind(':');
    if (last_colon != std::string::npos && (last_slash == std::string::npos || last_colon > last_slash)) repo.resize(last_colon);
    std::string short_name = repo.substr(repo.rfind('/') == std::string::npos ? 0 : repo.rfind('/') + 1);
    if (!short_name.empty()) {
      std::string purl = "pkg:oci/" + PurlEncode(short_name) + "@" + PurlEncode(sbom.image.manifest_digest) +
                         "?arch=" + PurlEncode(sbom.image.architecture) + "&repository_url=" + PurlEncode(repo);
      image["externalRefs"] = json::array({{{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"}, {"referenceLocator", purl}}});
    }
  }
  packages.push_back(image);
  doc["documentDescribes"] = json::array({image_id});
  rels.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"}, {"relationshipType", "DESCRIBES"}, {"relatedSpdxElement", image_id}});

  if (!sbom.os.empty()) {
    std::string os_id = SpdxId("OperatingSystem", sbom.os.id, "");
    json os = {{"SPDXID", os_id},
               {"name", sbom.os.id},
               {"versionInfo", sbom.os.version_id},
               {"downloadLocation", "NOASSERTION"},
               {"filesAnalyzed", false},
               {"licenseConcluded", "NOASSERTION"},
               {"licenseDeclared", "NOASSERTION"},
               {"copyrightText", "NOASSERTION"},
               {"primaryPackagePurpose", "OPERATING-SYSTEM"},
               {"description", sbom.os.pretty_name}};
    packages.push_back(os);
    rels.push_back({{"spdxElementId", image_id}, {"relationshipType", "CONTAINS"}, {"relatedSpdxElement", os_id}});
  }

  std::set<std::string> used;
  for (const auto& p : sbom.packages) {
    std::string id = SpdxId("Package-" + p.type, p.name, p.purl + "|" + p.location);
    for (int n = 2; used.count(id); ++n) id = SpdxId("Package-" + p.type, p.name, p.purl + "|" + p.location + "|" + std::to_string(n));
    used.insert(id);
    std::string lic = NormalizeSpdxLicense(p.license);
    json j = {{"SPDXID", id},
              {"name", p.name},
              {"versionInfo", p.version},
              {"downloadLocation", "NOASSERTION"},
              {"filesAnalyzed", false},
              {"licenseConcluded", "NOASSERTION"},
              {"licenseDeclared", lic.empty() ? "NOASSERTION" : lic},
              {"copyrightText", "NOASSERTION"},
              {"primaryPackagePurpose", "LIBRARY"},
              {"sourceInfo", "found in " + p.location}};
    if (lic.empty() && !p.license.empty()) j["licenseComments"] = "declared licence (not an SPDX expression): " + p.license;
    // SPDX wants "Organization: name (email)".
    std::string supplier = p.supplier;
    for (char& c : supplier) c = c == '<' ? '(' : c == '>' ? ')' : c;
    j["supplier"] = supplier.empty() ? "NOASSERTION" : "Organization: " + supplier;
    json refs = json::array();
    if (!p.purl.empty()) refs.push_back({{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"}, {"referenceLocator", p.purl}});
    if (!p.cpe.empty()) refs.push_back({{"referenceCategory", "SECURITY"}, {"referenceType", "cpe23Type"}, {"referenceLocator", p.cpe}});
    if (!refs.empty()) j["externalRefs"] = refs;
    packages.push_back(j);
    rels.push_back({{"spdxElementId", image_id}, {"relationshipType", "CONTAINS"}, {"relatedSpdxElement", id}});
  }
  doc["packages"] = packages;
  doc["relationships"] = rels;
  return doc.dump(2) + "\n";
}

}  // namespace kiln::oci
