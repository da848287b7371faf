#include "builder/push.h"

#include "oci/supply/referrers.h"
#include "oci/registry/remote_referrers.h"

namespace kiln::builder {

PushSummary PushWithReferrers(oci::RegistryClient& client, const oci::Store& store, const oci::Descriptor& manifest,
                              const oci::Reference& ref, const std::function<void(const std::string&)>& note) {
  PushSummary s;
  s.digest = client.Push(store, manifest, ref, &s.stats);
  const oci::Index local = oci::FindLocalReferrers(store, manifest.digest);
  if (local.manifests.empty()) return s;
  const oci::ReferrersPush r = oci::PushReferrers(client, store, ref, manifest, local.manifests, &s.stats);
  s.referrers = r.artifacts;
  if (r.already_listed) {
    if (note) note("referrers of " + manifest.digest.str() + ": all " + std::to_string(local.manifests.size()) +
                   " already listed by " + ref.registry + "/" + ref.repository);
    return s;
  }
  if (note) {
    std::string line = "pushed " + std::to_string(r.artifacts) + " referrer(s) of " + manifest.digest.str() + " to " +
                       ref.registry + "/" + ref.repository;
    if (r.registry_indexed) {
      line += " (indexed by the registry's referrers API)";
    } else {
      line += " (fallback index " + oci::ReferrersTag(manifest.digest) + ", " + std::to_string(r.kept) +
              " other entr" + (r.kept == 1 ? "y" : "ies") + " kept)";
    }
    note(line);
  }
  return s;
}

std::string RepositoryName(const std::string& name) {
  std::string s = oci::Reference::Parse(name).familiar();
  if (auto at = s.find('@'); at != std::string::npos) s.resize(at);
  const auto colon = s.rfind(':');
  const auto slash = s.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) s.resize(colon);
  return s;
}

}  // namespace kiln::builder
