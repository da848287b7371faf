// OCI 1.1 artifacts attached to an image (SBOMs, provenance) and the tag
// names of the referrers fallback and of cosign signatures.
//
// An artifact manifest: mediaType image manifest, artifactType (e.g.
// application/spdx+json), config = the empty descriptor
// (application/vnd.oci.empty.v1+json, "{}"), one layer = the document,
// subject = the image manifest, annotation org.opencontainers.image.created.
// The referrers fallback (distribution-spec 1.1) is an image index tagged
// "sha256-<hex>" in the image's repository listing every referrer with its
// artifactType and annotations; AttachArtifact keeps it up to date in the
// Store under "<repo>:sha256-<hex>" so the push can upload it as is.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::oci {

inline constexpr std::string_view kEmptyJson = "{}";

std::string ReferrersTag(const Digest& subject);  // "sha256-<hex>"
std::string SignatureTag(const Digest& subject);  // "sha256-<hex>.sig" (cosign)
std::string AttestationTag(const Digest& subject);  // "sha256-<hex>.att" (cosign)

// Stores "{}" as a blob and returns its descriptor (size 2, digest sha256:44136fa3...).
Descriptor PutEmptyConfig(const Store& store);

// Builds (does not store) the artifact manifest.
Manifest ArtifactManifest(const std::string& artifact_type, const Descriptor& empty_config,
                          const Descriptor& document, const Descriptor& subject,
                          const std::map<std::string, std::string>& annotations);

// Stores the document and its artifact manifest, adds it to the fallback
// index "<repo>:sha256-<hex>" (replacing an older referrer of the same
// artifactType with the same kiln.artifact.name annotation, if any).
// `created` is RFC 3339. Returns the artifact manifest's descriptor.
Descriptor AttachArtifact(Store& store, const std::string& repo, const Descriptor& subject,
                          std::string_view document, const std::string& document_media_type,
                          const std::string& artifact_type, const std::string& created,
                          std::map<std::string, std::string> annotations = {});

// The fallback index of `subject` in the store (empty index when none).
Index LocalReferrers(const Store& store, const std::string& repo, const Digest& subject);

}  // namespace kiln::oci
