// SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/) for an image SBOM.
// Layout: the document DESCRIBES the image package (primaryPackagePurpose
// CONTAINER); the image CONTAINS the OS package and every catalogued
// package. SPDXIDs and documentNamespace derive from content (no randomness).
#pragma once

#include <string>

#include "oci/supply/sbom.h"

namespace kiln::oci {

std::string ToSpdxJson(const Sbom& sbom, const SbomDocOptions& opts);

// A declared licence as a valid SPDX expression (common aliases such as
// "GPL-2+" or "Apache 2.0" mapped), or empty when it is not one.
std::string NormalizeSpdxLicense(const std::string& declared);

// "SPDXRef-" + [A-Za-z0-9.-] only.
std::string SpdxId(const std::string& kind, const std::string& name, const std::string& discriminator);

}  // namespace kiln::oci
