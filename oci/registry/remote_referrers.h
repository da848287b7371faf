// Referrers (SBOMs, provenance: OCI 1.1 artifacts whose `subject` is an
// image manifest) on a registry: pushing the store's artifacts of an image
// and finding them again.
//
// Push: each artifact manifest goes up by digest. A registry with the
// referrers API answers the PUT with an OCI-Subject header and indexes it
// itself; for one without (Debian's docker-registry, distribution 2.8) the
// client keeps the fallback index tagged "sha256-<hex>" (distribution-spec
// 1.1, "referrers tag schema"): read it, merge, write it back. Merging keeps
// every entry other tools put there, so a push never loses a foreign
// signature or attestation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"

namespace kiln::oci {

// Every referrer of `subject` the store holds: the union of the fallback
// indexes "<any repo>:sha256-<hex>" (kiln build tags them under the first -t
// name, which need not be the name pushed to).
Index FindLocalReferrers(const Store& store, const Digest& subject);

// `existing` with `added` merged in: entries with the digest of an added one
// and earlier kiln artifacts of the same kind (same artifactType and
// kiln.artifact.name annotation) are replaced; all other entries are kept in
// their order; added ones follow.
Index MergeReferrersIndex(Index existing, const std::vector<Descriptor>& added);

struct ReferrersPush {
  int artifacts = 0;           // artifact manifests pushed
  bool already_listed = false;  // the registry listed them all already: nothing was sent
  bool registry_indexed = false;  // every PUT came back with OCI-Subject: no fallback tag needed
  std::optional<Descriptor> fallback_index;  // the "sha256-<hex>" index written, if any
  int kept = 0;                // entries of an existing fallback index that were kept
};

// Pushes `artifacts` (descriptors of artifact manifests in the store, as
// listed in a referrers index) and their blobs to `repo` (tag/digest
// ignored). Each must name `subject` as its subject.
ReferrersPush PushReferrers(RegistryClient& client, const Store& store, const Reference& repo,
                            const Descriptor& subject, const std::vector<Descriptor>& artifacts,
                            TransferStats* stats = nullptr);

// The newest referrer of `subject` with this artifactType in `listing` (by
// the org.opencontainers.image.created annotation, then digest), if any.
std::optional<Descriptor> PickReferrer(const Index& listing, const std::string& artifact_type);

// Fetches an artifact manifest (by digest) and its blobs from `repo` into the
// store, checks that its subject is `subject`, and returns its single
// document (the first layer), digest-verified.
std::string FetchArtifactDocument(RegistryClient& client, Store& store, const Reference& repo,
                                  const Descriptor& artifact, const Digest& subject);

}  // namespace kiln::oci
