// Software bill of materials of an image: what the cataloguer found in the
// final filesystem (layers streamed, whiteouts applied) plus the image's own
// identity. Serialised by spdx.h (SPDX 2.3 JSON) and cyclonedx.h
// (CycloneDX 1.5 JSON); both are deterministic: packages sorted, ids derived
// from content, times taken from SbomDocOptions.
#pragma once

#include <string>
#include <vector>

#include "oci/layer/image_fs.h"
#include "oci/supply/package_dbs.h"

namespace kiln::oci {

struct SbomImage {
  std::string name;             // reference as the user named it ("localhost:5000/app:1"), may be empty
  std::string manifest_digest;  // "sha256:..."
  std::string config_digest;
  std::string architecture = "amd64", os = "linux";
};

struct Sbom {
  SbomImage image;
  OsRelease os;
  std::vector<Package> packages;  // sorted by (type, name, version, location), identifiers filled
};

enum class SbomFormat { kSpdxJson, kCycloneDxJson };
SbomFormat ParseSbomFormat(const std::string& s);  // "spdx"/"spdx-json", "cyclonedx"/"cyclonedx-json"
const char* SbomMediaType(SbomFormat f);          // application/spdx+json, application/vnd.cyclonedx+json

struct SbomDocOptions {
  std::string created = "1970-01-01T00:00:00Z";  // RFC 3339; pass SOURCE_DATE_EPOCH or the build time
  std::string tool_version = "0.1.0";            // kiln's version
};

// Streams the layers once. Executables are searched for Go build info
// (first `max_binary_bytes` of each ELF file).
struct CatalogOptions {
  int64_t max_binary_bytes = 256ll << 20;
  bool go_binaries = true;
  bool deb_copyright_licenses = true;
};
Sbom CatalogLayers(const std::vector<LayerBlob>& layers, const CatalogOptions& opts = {});

// Dispatches to ToSpdxJson / ToCycloneDxJson.
std::string SerializeSbom(const Sbom& sbom, SbomFormat format, const SbomDocOptions& opts);

}  // namespace kiln::oci
