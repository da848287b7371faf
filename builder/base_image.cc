#include "builder/base_image.h"

#include <tuple>

#include "builder/named_context.h"
#include "builder/stage_executor.h"
#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/store/layout.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"

namespace kiln::builder {

ImageState StateFromManifest(const oci::Store& store, const oci::Descriptor& manifest) {
  const oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
  ImageState st;
  st.config = oci::ParseImageConfig(store.ReadBlob(m.config.digest));
  st.layers = m.layers;
  for (auto& l : st.layers) {
    // The same bytes under their OCI name, so the manifest we write is pure OCI.
    if (l.media_type == oci::media::kDockerLayerGzip) l.media_type = oci::media::kOciLayerGzip;
    l.annotations.clear();
  }
  if (st.layers.size() != st.config.diff_ids.size())
    throw oci::Error("image " + manifest.digest.str() + ": " + std::to_string(st.layers.size()) +
                     " layers but " + std::to_string(st.config.diff_ids.size()) + " diff_ids");
  st.digest = BaseStateDigest("image", manifest.digest.str());
  return st;
}

std::string NormalizeTag(const std::string& ref) { return oci::Reference::Parse(ref).familiar(); }

BaseImageResolver::BaseImageResolver(oci::Store& store, BaseImageOptions opts)
    : store_(store), opts_(std::move(opts)) {}

const ImageState& BaseImageResolver::Resolve(const std::string& name) {
  std::lock_guard lock(mu_);  // one resolution at a time: pulls of one image are not duplicated
  auto it = done_.find(name);
  if (it != done_.end()) return *it->second;
  UsedImage used;
  used.name = name;
  auto st = std::make_shared<ImageState>(Load(name, used));
  done_[name] = st;
  used_[name] = used;
  return *st;
}

std::vector<UsedImage> BaseImageResolver::Used() const {
  std::lock_guard lock(mu_);
  std::vector<UsedImage> out;
  for (const auto& [name, u] : used_) out.push_back(u);
  return out;
}

namespace {

// A purl for an image by name (as BuildKit writes it in provenance):
// pkg:docker/<name>@<tag or digest>?platform=<os>%2F<arch>.
std::string DockerPurl(const oci::Reference& ref, const oci::Platform& p) {
  std::string name = ref.familiar();
  std::string version = ref.digest.empty() ? ref.tag : ref.digest;
  if (auto at = name.find('@'); at != std::string::npos) name.resize(at);
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (!ref.tag.empty() && colon != std::string::npos && (slash == std::string::npos || colon > slash)) name.resize(colon);
  std::string platform = p.os + "%2F" + p.architecture;
  if (!p.variant.empty()) platform += "%2F" + p.variant;
  return "pkg:docker/" + name + (version.empty() ? "" : "@" + version) + "?platform=" + platform;
}

}  // namespace

std::optional<oci::Descriptor> BaseImageResolver::LocalImage(const std::string& tag) const {
  std::optional<oci::Descriptor> d = store_.ResolveTag(tag);
  if (!d) return std::nullopt;
  if (oci::media::IsIndexMediaType(d->media_type)) {
    const oci::Index index = oci::ParseIndex(store_.ReadBlob(d->digest));
    oci::Descriptor chosen = oci::ChooseManifest(index, opts_.platform, "local image " + tag);
    // An index pulled for one platform lacks the others' manifests: pull them.
    if (!store_.HasBlob(chosen.digest)) return std::nullopt;
    return chosen;
  }
  if (!opts_.platform_given) return d;
  const oci::Manifest m = oci::ParseManifest(store_.ReadBlob(d->digest));
  const oci::ImageConfig c = oci::ParseImageConfig(store_.ReadBlob(m.config.digest));
  if (oci::MatchRank(opts_.platform, oci::Platform{c.os, c.architecture, c.variant}) < 0) return std::nullopt;
  return d;
}

ImageState BaseImageResolver::Load(const std::string& name, UsedImage& used) {
  if (auto it = opts_.named_contexts.find(name); it != opts_.named_contexts.end()) {
    const NamedContext nc = ParseNamedContext(it->first, it->second);
    if (nc.kind == NamedContext::Kind::kDirectory) {
      ImageState st = DirectoryState(store_, nc.target, opts_.note);
      used.uri = "file://" + nc.target;
      used.manifest = st.config.diff_ids.front();  // the files' tar digest names what was used
      return st;
    }
    return Load(nc.target, used);  // an image by another name, or an OCI layout ("oci:PATH[:TAG]")
  }
  if (name.rfind("oci:", 0) == 0) {
    std::string path = name.substr(4), tag;
    const auto colon = path.rfind(':');
    if (colon != std::string::npos && path.find('/', colon) == std::string::npos) {
      tag = path.substr(colon + 1);
      path = path.substr(0, colon);
    }
    if (opts_.note) opts_.note("importing " + name);
    const oci::Descriptor d = oci::ImportOciLayout(store_, path, tag, opts_.platform);
    used.uri = "oci-layout:" + path + (tag.empty() ? "" : "?tag=" + tag);
    used.manifest = d.digest;
    return StateFromManifest(store_, d);
  }
  // A short name may mean several registries (registries.conf's search list).
  std::vector<std::string> candidates;
  try {
    candidates = opts_.registries.Candidates(name);
  } catch (const std::exception& e) {
    throw oci::Error("base image " + name + ": " + e.what());
  }
  if (!opts_.always_pull) {
    for (const auto& c : candidates) {
      const oci::Reference ref = oci::Reference::Parse(c);
      if (!ref.digest.empty()) continue;
      if (auto d = LocalImage(ref.familiar())) {
        used.uri = DockerPurl(ref, opts_.platform);
        used.manifest = d->digest;
        return StateFromManifest(store_, *d);
      }
    }
  }
  oci::RegistryOptions ro;
  ro.AllowInsecure(opts_.insecure);
  if (opts_.note) {
    opts_.note("pulling " + oci::Reference::Parse(candidates.front()).str());
  }
  oci::Reference ref;
  oci::Descriptor d;
  try {
    std::tie(ref, d) = oci::PullFirst(opts_.registries, candidates, store_, opts_.platform, ro, nullptr, opts_.note);
  } catch (const std::exception& e) {
    throw oci::Error("base image " + name + ": " + e.what());
  }
  const std::string tag = ref.familiar();
  used.uri = DockerPurl(ref, opts_.platform);
  ImageState st = StateFromManifest(store_, d);
  if (opts_.verify) opts_.verify(name, st);
  if (ref.digest.empty() && (!opts_.platform_given || oci::MatchRank(oci::Platform::Host(), opts_.platform) == 0))
    store_.SetTag(tag, d);
  used.manifest = d.digest;
  return st;
}

}  // namespace kiln::builder
