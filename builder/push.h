// Pushing an image from the store together with the referrers the store
// holds for it (SBOMs and provenance attached by `kiln build --sbom`), so
// they travel with the image: `kiln build --push`, `-o type=registry` and
// `kiln push` all go through here.
#pragma once

#include <functional>
#include <string>

#include "oci/image.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"

namespace kiln::builder {

struct PushSummary {
  oci::Digest digest;
  oci::TransferStats stats;
  int referrers = 0;  // artifacts pushed with it
};

// `manifest` may be an index: every manifest it lists goes up first, each
// with its own referrers, then the index under the tag.
// `note` gets one line per referrer step ("3 referrers ... (fallback tag
// sha256-...)").
PushSummary PushWithReferrers(oci::RegistryClient& client, const oci::Store& store, const oci::Descriptor& manifest,
                              const oci::Reference& ref, const std::function<void(const std::string&)>& note);

// The repository as cosign names it in a signature's payload:
// "localhost:5000/app" for "localhost:5000/app:1", "busybox" for "busybox:latest".
std::string RepositoryName(const std::string& image_name);

}  // namespace kiln::builder
