#include "oci/registry/remote_referrers.h"

#include <algorithm>

#include "oci/error.h"
#include "oci/supply/referrers.h"
#include "oci/registry/registry_session.h"

namespace kiln::oci {
namespace {

std::string Annotation(const Descriptor& d, const std::string& key) {
  auto it = d.annotations.find(key);
  return it == d.annotations.end() ? std::string() : it->second;
}

Reference Repo(const Reference& r) {
  Reference out = r;
  out.tag.clear();
  out.digest.clear();
  return out;
}

std::string Where(const Reference& repo) { return repo.registry + "/" + repo.repository; }

}  // namespace

Index FindLocalReferrers(const Store& store, const Digest& subject) {
  const std::string suffix = ":" + ReferrersTag(subject);
  Index out;
  for (const auto& [name, desc] : store.ListTags()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const Index idx = ParseIndex(store.ReadBlob(desc.digest));
    for (const auto& d : idx.manifests) {
      const bool seen = std::any_of(out.manifests.begin(), out.manifests.end(),
                                    [&](const Descriptor& o) { return o.digest == d.digest; });
      if (!seen) out.manifests.push_back(d);
    }
  }
  return out;
}

Index MergeReferrersIndex(Index existing, const std::vector<Descriptor>& added) {
  std::erase_if(existing.manifests, [&](const Descriptor& e) {
    const std::string ename = Annotation(e, "kiln.artifact.name");
    return std::any_of(added.begin(), added.end(), [&](const Descriptor& a) {
      if (a.digest == e.digest) return true;
      return !ename.empty() && a.artifact_type == e.artifact_type && Annotation(a, "kiln.artifact.name") == ename;
    });
  });
  for (const auto& a : added) existing.manifests.push_back(a);
  existing.media_type = media::kOciIndex;
  return existing;
}

ReferrersPush PushReferrers(RegistryClient& client, const Store& store, const Reference& image_ref,
                            const Descriptor& subject, const std::vector<Descriptor>& artifacts,
                            TransferStats* stats) {
  const Reference repo = Repo(image_ref);
  const std::string what = "push referrers of " + subject.digest.str() + " to " + Where(repo);
  ReferrersPush result;
  if (artifacts.empty()) return result;
  bool all_indexed = true;
  std::vector<Descriptor> listed;
  try {
    // Re-push: an artifact is listed only after its manifest was accepted, so
    // a listing that holds them all leaves nothing to send.
    const Index have = client.Referrers(repo, subject.digest);
    const bool all_listed = std::all_of(artifacts.begin(), artifacts.end(), [&](const Descriptor& a) {
      return std::any_of(have.manifests.begin(), have.manifests.end(),
                         [&](const Descriptor& h) { return h.digest == a.digest; });
    });
    if (all_listed) {
      result.already_listed = true;
      return result;
    }
    for (const auto& a : artifacts) {
      const std::string body = store.ReadBlob(a.digest, /*verify=*/true);
      const Manifest m = ParseManifest(body);
      if (!m.subject || m.subject->digest != subject.digest)
        throw Error("artifact " + a.digest.str() + " does not have " + subject.digest.str() + " as its subject");
      client.PushBlob(store, repo, m.config, stats);
      for (const auto& l : m.layers) client.PushBlob(store, repo, l, stats);
      Reference by_digest = repo;
      by_digest.digest = a.digest.str();
      const std::string indexed = client.PutManifest(by_digest, body, m.media_type);
      all_indexed = all_indexed && indexed == subject.digest.str();
      // The listing entry carries what a referrers response would.
      Descriptor entry = a;
      entry.media_type = m.media_type;
      entry.size = static_cast<int64_t>(body.size());
      entry.artifact_type = !m.artifact_type.empty() ? m.artifact_type : m.config.media_type;
      entry.annotations = m.annotations;
      entry.platform.reset();
      listed.push_back(std::move(entry));
      result.artifacts++;
    }
    if (all_indexed) {
      result.registry_indexed = true;
      return result;
    }
    Reference tag = repo;
    tag.tag = ReferrersTag(subject.digest);
    Index existing;
    try {
      existing = ParseIndex(client.GetManifest(tag, nullptr));
    } catch (const RegistryHttpError& e) {
      if (e.status() != 404) throw;
    }
    Index merged = MergeReferrersIndex(std::move(existing), listed);
    result.kept = static_cast<int>(merged.manifests.size() - listed.size());
    const std::string body = ToJson(merged);
    client.PutManifest(tag, body, media::kOciIndex);
    Descriptor d;
    d.media_type = media::kOciIndex;
    d.digest = Sha256Of(body);
    d.size = static_cast<int64_t>(body.size());
    result.fallback_index = d;
    return result;
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

std::optional<Descriptor> PickReferrer(const Index& listing, const std::string& artifact_type) {
  std::optional<Descriptor> best;
  for (const auto& d : listing.manifests) {
    if (d.artifact_type != artifact_type) continue;
    const std::string created = Annotation(d, "org.opencontainers.image.created");
    if (!best) {
      best = d;
      continue;
    }
    const std::string best_created = Annotation(*best, "org.opencontainers.image.created");
    if (std::tie(created, d.digest.hex) > std::tie(best_created, best->digest.hex)) best = d;
  }
  return best;
}

std::string FetchArtifactDocument(RegistryClient& client, Store& store, const Reference& image_ref,
                                  const Descriptor& artifact, const Digest& subject) {
  Reference ref = Repo(image_ref);
  ref.digest = artifact.digest.str();
  const std::string what = "fetch artifact " + ref.str();
  // Pull verifies the manifest against its digest and every blob against its own.
  const Descriptor got = client.Pull(ref, store, Platform{});
  const Manifest m = ParseManifest(store.ReadBlob(got.digest));
  if (!m.subject || m.subject->digest != subject)
    throw Error(what + ": its subject is " + (m.subject ? m.subject->digest.str() : std::string("missing")) +
                ", not " + subject.str());
  if (m.layers.size() != 1)
    throw Error(what + ": expected one document layer, found " + std::to_string(m.layers.size()));
  return store.ReadBlob(m.layers.front().digest, /*verify=*/true);
}

}  // namespace kiln::oci
