#include "oci/image_index.h"

#include <nlohmann/json.hpp>

#include "oci/error.h"

namespace kiln::oci {

namespace {

const char* IndexMediaType(IndexFormat f) { return f == IndexFormat::kOci ? media::kOciIndex : media::kDockerManifestList; }

}  // namespace

std::string MakeIndexJson(const std::vector<Descriptor>& manifests, IndexFormat format,
                          const std::map<std::string, std::string>& annotations) {
  const bool docker = format == IndexFormat::kDocker;
  const std::string kind = docker ? "Docker manifest list" : "OCI image index";
  if (manifests.empty()) throw Error(kind + ": no manifests to list");
  if (docker && !annotations.empty())
    throw Error(kind + ": a manifest list has no annotations (" + annotations.begin()->first +
                "); use the OCI format for index annotations");
  const char* want_type = docker ? media::kDockerManifest : media::kOciManifest;
  Index idx;
  idx.media_type = IndexMediaType(format);
  idx.annotations = annotations;
  std::vector<Platform> seen;
  for (const Descriptor& m : manifests) {
    const std::string entry = kind + ": manifest " + m.digest.str();
    if (m.media_type != want_type)
      throw Error(entry + " is " + (m.media_type.empty() ? std::string("of no media type") : m.media_type) +
                  ", not " + want_type + (docker ? " (convert it with --format docker first)" : ""));
    if (!m.platform) throw Error(entry + " has no platform");
    const Platform p = Normalize(*m.platform);
    for (const Platform& s : seen)
      if (s == p) throw Error(entry + ": platform " + p.str() + " is listed twice");
    seen.push_back(p);
    Descriptor d;
    d.media_type = m.media_type;
    d.digest = m.digest;
    d.size = m.size;
    d.platform = m.platform;
    if (!docker) {
      d.annotations = m.annotations;
      d.annotations.erase(media::kRefNameAnnotation);
    }
    idx.manifests.push_back(std::move(d));
  }
  return ToJson(idx);
}

Descriptor PutIndex(const Store& store, std::vector<Descriptor> manifests, IndexFormat format,
                    const std::map<std::string, std::string>& annotations) {
  for (Descriptor& m : manifests) {
    if (!store.HasBlob(m.digest))
      throw Error("index: manifest " + m.digest.str() + " is not in the store " + store.root().string());
    if (m.platform) continue;
    const ImageConfig c = ParseImageConfig(store.ReadBlob(ParseManifest(store.ReadBlob(m.digest)).config.digest));
    m.platform = Platform{c.os, c.architecture, c.variant};
  }
  return store.PutBlob(MakeIndexJson(manifests, format, annotations), IndexMediaType(format));
}

bool IsIndex(const Store& store, const Descriptor& desc) {
  if (media::IsIndexMediaType(desc.media_type)) return true;
  if (!desc.media_type.empty()) return false;
  const auto j = nlohmann::json::parse(store.ReadBlob(desc.digest), nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("manifests");
}

std::vector<Descriptor> IndexManifests(const Store& store, const Descriptor& desc) {
  if (!IsIndex(store, desc)) throw Error(desc.digest.str() + " is an image manifest, not an index");
  return ParseIndex(store.ReadBlob(desc.digest)).manifests;
}

Descriptor ResolveImage(const Store& store, const Descriptor& desc, const Platform& platform, const std::string& what) {
  if (!IsIndex(store, desc)) return desc;
  const Index idx = ParseIndex(store.ReadBlob(desc.digest));
  Descriptor chosen = ChooseManifest(idx, platform, what + " (index " + desc.digest.str() + ")");
  if (!store.HasBlob(chosen.digest))
    throw Error(what + ": the " + platform.str() + " manifest " + chosen.digest.str() + " of index " +
                desc.digest.str() + " is not in the store (pull it with --platform " + platform.str() + ")");
  if (IsIndex(store, chosen)) throw Error(what + ": index " + desc.digest.str() + " points at another index");
  return chosen;
}

std::vector<Descriptor> SignedSubjects(const Descriptor& top, const std::string& top_body) {
  std::vector<Descriptor> out = {top};
  if (!media::IsIndexMediaType(top.media_type)) return out;
  for (const Descriptor& m : ParseIndex(top_body).manifests)
    if (!(m.platform && m.platform->os == "unknown")) out.push_back(m);
  return out;
}

std::string DescribeSubject(const Descriptor& d) {
  if (media::IsIndexMediaType(d.media_type)) return "index " + d.digest.str();
  return "manifest " + d.digest.str() + (d.platform ? " (" + d.platform->str() + ")" : "");
}

}  // namespace kiln::oci
