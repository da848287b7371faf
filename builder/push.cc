#include "builder/push.h"

#include "oci/image_index.h"
#include "oci/supply/referrers.h"
#include "oci/registry/remote_referrers.h"

namespace kiln::builder {

namespace {

// Pushes the referrers the store holds for `subject` (already in the registry).
void PushSubjectReferrers(oci::RegistryClient& client, const oci::Store& store, const oci::Descriptor& subject,
                          const oci::Reference& ref, PushSummary& s, const std::function<void(const std::string&)>& note) {
  const oci::Index local = oci::FindLocalReferrers(store, subject.digest);
  if (local.manifests.empty()) return;
  const oci::ReferrersPush r = oci::PushReferrers(client, store, ref, subject, local.manifests, &s.stats);
  s.referrers += r.artifacts;
  if (r.already_listed) {
    if (note) note("referrers of " + subject.digest.str() + ": all " + std::to_string(local.manifests.size()) +
                   " already listed by " + ref.registry + "/" + ref.repository);
    return;
  }
  if (note) {
    std::string line = "pushed " + std::to_string(r.artifacts) + " referrer(s) of " + subject.digest.str() + " to " +
                       ref.registry + "/" + ref.repository;
    if (r.registry_indexed) {
      line += " (indexed by the registry's referrers API)";
    } else {
      line += " (fallback index " + oci::ReferrersTag(subject.digest) + ", " + std::to_string(r.kept) +
              " other entr" + (r.kept == 1 ? "y" : "ies") + " kept)";
    }
    note(line);
  }
}

}  // namespace

PushSummary PushWithReferrers(oci::RegistryClient& client, const oci::Store& store, const oci::Descriptor& manifest,
                              const oci::Reference& ref, const std::function<void(const std::string&)>& note) {
  PushSummary s;
  // An index goes up with every manifest it lists (RegistryClient::Push), and
  // each platform's SBOM and provenance refer to that platform's manifest.
  s.digest = client.Push(store, manifest, ref, &s.stats);
  PushSubjectReferrers(client, store, manifest, ref, s, note);
  if (oci::IsIndex(store, manifest))
    for (const oci::Descriptor& child : oci::IndexManifests(store, manifest))
      if (store.HasBlob(child.digest)) PushSubjectReferrers(client, store, child, ref, s, note);
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
