// CycloneDX 1.5 JSON (https://cyclonedx.org/docs/1.5/json/) for an image
// SBOM: metadata.component is the container image; components are the OS
// and the catalogued packages. serialNumber is a UUID derived from the
// content (name-based, RFC 4122 version 5 layout over SHA-256) so output is
// deterministic.
#pragma once

#include <string>

#include "oci/supply/sbom.h"

namespace kiln::oci {

std::string ToCycloneDxJson(const Sbom& sbom, const SbomDocOptions& opts);

// "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" from a seed.
std::string DeterministicUuid(const std::string& seed);

}  // namespace kiln::oci
