#include "oci/supply/referrers.h"

#include <algorithm>

#include "oci/error.h"

namespace kiln::oci {

std::string ReferrersTag(const Digest& subject) { return subject.algorithm + "-" + subject.hex; }
std::string SignatureTag(const Digest& subject) { return ReferrersTag(subject) + ".sig"; }
std::string AttestationTag(const Digest& subject) { return ReferrersTag(subject) + ".att"; }

Descriptor PutEmptyConfig(const Store& store) { return store.PutBlob(kEmptyJson, media::kOciEmpty); }

Manifest ArtifactManifest(const std::string& artifact_type, const Descriptor& empty_config,
                          const Descriptor& document, const Descriptor& subject,
                          const std::map<std::string, std::string>& annotations) {
  Manifest m;
  m.media_type = media::kOciManifest;
  m.artifact_type = artifact_type;
  m.config = empty_config;
  m.config.media_type = media::kOciEmpty;
  m.layers = {document};
  Descriptor s;
  s.media_type = subject.media_type.empty() ? media::kOciManifest : subject.media_type;
  s.digest = subject.digest;
  s.size = subject.size;
  m.subject = s;
  m.annotations = annotations;
  return m;
}

Index LocalReferrers(const Store& store, const std::string& repo, const Digest& subject) {
  auto d = store.ResolveTag(repo + ":" + ReferrersTag(subject));
  if (!d) return Index{};
  return ParseIndex(store.ReadBlob(d->digest));
}

Descriptor AttachArtifact(Store& store, const std::string& repo, const Descriptor& subject,
                          std::string_view document, const std::string& document_media_type,
                          const std::string& artifact_type, const std::string& created,
                          std::map<std::string, std::string> annotations) {
  if (repo.empty()) throw Error("attach " + artifact_type + ": no repository to tag the referrers index in");
  if (subject.digest.empty()) throw Error("attach " + artifact_type + ": subject has no digest");
  if (!created.empty()) annotations["org.opencontainers.image.created"] = created;
  Descriptor doc = store.PutBlob(document, document_media_type);
  Manifest m = ArtifactManifest(artifact_type, PutEmptyConfig(store), doc, subject, annotations);
  Descriptor md = store.PutBlob(ToJson(m), media::kOciManifest);
  md.artifact_type = artifact_type;
  md.annotations = annotations;

  Index index = LocalReferrers(store, repo, subject.digest);
  auto name_of = [](const Descriptor& d) {
    auto it = d.annotations.find("kiln.artifact.name");
    return it == d.annotations.end() ? std::string() : it->second;
  };
  std::string name = annotations.count("kiln.artifact.name") ? annotations["kiln.artifact.name"] : "";
  std::erase_if(index.manifests, [&](const Descriptor& d) {
    return d.digest == md.digest || (d.artifact_type == artifact_type && name_of(d) == name);
  });
  index.manifests.push_back(md);
  std::sort(index.manifests.begin(), index.manifests.end(), [](const Descriptor& a, const Descriptor& b) {
    return std::tie(a.artifact_type, a.digest) < std::tie(b.artifact_type, b.digest);
  });
  Descriptor id = store.PutBlob(ToJson(index), media::kOciIndex);
  store.SetTag(repo + ":" + ReferrersTag(subject.digest), id);
  return md;
}

}  // namespace kiln::oci
