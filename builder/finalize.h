// The post-build supply-chain step over the target image, run before it is
// tagged or exported: strip setuid/setgid bits (a fix-up layer), scan every
// layer for secrets (the build fails on findings not allowed), and with
// --sbom attach SPDX + CycloneDX SBOMs and SLSA provenance as OCI 1.1
// referrers in the store.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "builder/base_image.h"
#include "builder/build_options.h"
#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::builder {

struct FinalizeInput {
  oci::Descriptor manifest;       // the built image
  std::string created;            // RFC 3339 (SOURCE_DATE_EPOCH or now)
  int64_t started = 0;            // wall clock (unix seconds), for provenance
  std::string dockerfile_path;    // as displayed
  std::string dockerfile_text;
  std::vector<UsedImage> images;  // every image the build used, for provenance
  oci::Digest context_digest;     // of the context files read, for provenance
  int64_t context_files = -1;
};

struct FinalizeResult {
  oci::Descriptor manifest;       // unchanged when nothing was stripped
  oci::Digest config_digest;
  int64_t size = 0;               // config + layers + manifest bytes
};

// Throws std::runtime_error when secrets are found and not allowed (after
// printing each finding to `log`).
FinalizeResult FinalizeImage(oci::Store& store, const BuildOptions& opts, const FinalizeInput& in, std::ostream& log);

}  // namespace kiln::builder
