// What the build knows about how it made an image, turned into the
// provenance statement's input (oci/provenance.h): base images by the
// manifest digest actually used, the digest of the context files the build
// read, the Dockerfile's digest, build args (secret-looking values are
// dropped by oci::ProvenanceStatement), kiln's version and the times.
// Reproducible builds (SOURCE_DATE_EPOCH, kiln's default) record that time
// as start and end, so two builds of the same input give the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "builder/base_image.h"
#include "builder/build_options.h"
#include "oci/digest.h"
#include "oci/supply/provenance.h"

namespace kiln::builder {

struct BuildFacts {
  std::string image_name;           // first -t name, normalised ("" when untagged)
  oci::Digest manifest;             // the final image manifest
  std::string dockerfile_path = "Dockerfile";  // as displayed
  std::string dockerfile_text;
  std::vector<UsedImage> images;    // BaseImageResolver::Used()
  oci::Digest context_digest;       // BuildContext::ReadDigest()
  int64_t context_files = -1;
  int64_t started = 0, finished = 0;  // wall clock, unix seconds
};

oci::ProvenanceInput MakeProvenanceInput(const BuildOptions& opts, const BuildFacts& facts);

}  // namespace kiln::builder
