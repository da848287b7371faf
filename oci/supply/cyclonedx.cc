#include "oci/supply/cyclonedx.h"

#include <nlohmann/json.hpp>

#include <set>

#include "oci/digest.h"
#include "oci/supply/spdx.h"

namespace kiln::oci {

std::string DeterministicUuid(const std::string& seed) {
  std::string h = Sha256Of(seed).hex.substr(0, 32);
  h[12] = '5';  // version
  static const char* kVariant = "89ab";
  h[16] = kVariant[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string ToCycloneDxJson(const Sbom& sbom, const SbomDocOptions& opts) {
  using nlohmann::json;
  std::string image_name = sbom.image.name.empty() ? sbom.image.manifest_digest : sbom.image.name;
  if (image_name.empty()) image_name = "image";
  json doc;
  doc["bomFormat"] = "CycloneDX";
  doc["specVersion"] = "1.5";
  doc["serialNumber"] = "urn:uuid:" + DeterministicUuid(sbom.image.manifest_digest + "|" + sbom.image.name + "|" + opts.created);
  doc["version"] = 1;
  json image = {{"type", "container"}, {"name", image_name}, {"bom-ref", "image"}};
  if (!sbom.image.manifest_digest.empty()) {
    image["version"] = sbom.image.manifest_digest;
    auto colon = sbom.image.manifest_digest.find(':');
    if (colon != std::string::npos)
      image["hashes"] = json::array({{{"alg", "SHA-256"}, {"content", sbom.image.manifest_digest.substr(colon + 1)}}});
  }
  doc["metadata"] = {{"timestamp", opts.created},
                     {"tools", {{"components", json::array({{{"type", "application"}, {"name", "kiln"}, {"version", opts.tool_version}}})}}},
                     {"component", image}};

  json components = json::array();
  json image_deps = json::array();
  if (!sbom.os.empty()) {
    json os = {{"type", "operating-system"}, {"name", sbom.os.id}, {"version", sbom.os.version_id}, {"bom-ref", "os:" + sbom.os.id}};
    if (!sbom.os.pretty_name.empty()) os["description"] = sbom.os.pretty_name;
    components.push_back(os);
    image_deps.push_back("os:" + sbom.os.id);
  }
  std::set<std::string> refs;
  for (const auto& p : sbom.packages) {
    // bom-ref must be unique; the same purl can sit in two places.
    std::string ref = (p.purl.empty() ? p.type + ":" + p.name + "@" + p.version : p.purl);
    if (refs.count(ref)) ref += "#" + Sha256Of(p.location).hex.substr(0, 12);
    for (int n = 2; refs.count(ref); ++n) ref += "-" + std::to_string(n);
    refs.insert(ref);
    json c = {{"type", "library"}, {"name", p.name}, {"version", p.version}, {"bom-ref", ref}};
    if (!p.purl.empty()) c["purl"] = p.purl;
    if (!p.cpe.empty()) c["cpe"] = p.cpe;
    if (!p.license.empty()) {
      std::string lic = NormalizeSpdxLicense(p.license);
      if (lic.empty()) c["licenses"] = json::array({{{"license", {{"name", p.license}}}}});
      else if (lic.find(' ') == std::string::npos && lic.find('(') == std::string::npos) c["licenses"] = json::array({{{"license", {{"id", lic}}}}});
      else c["licenses"] = json::array({{{"expression", lic}}});
    }
    if (!p.supplier.empty()) c["publisher"] = p.supplier;
    json props = json::array({{{"name", "kiln:package:type"}, {"value", p.type}}, {{"name", "kiln:location"}, {"value", p.location}}});
    if (!p.arch.empty()) props.push_back({{"name", "kiln:arch"}, {"value", p.arch}});
    if (!p.source.empty()) props.push_back({{"name", "kiln:source"}, {"value", p.source}});
    c["properties"] = props;
    components.push_back(c);
    image_deps.push_back(ref);
  }
  doc["components"] = components;
  doc["dependencies"] = json::array({{{"ref", "image"}, {"dependsOn", image_deps}}});
  return doc.dump(2) + "\n";
}

}  // namespace kiln::oci
