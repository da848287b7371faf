#include "builder/registry_cache.h"

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>

#include "builder/error.h"
#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/image.h"
#include "oci/reference.h"

namespace kiln::builder {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ParseRegistryCacheSpec(const std::string& spec) {
  // buildx's shorthand: a bare reference is type=registry,ref=REF.
  if (!spec.empty() && spec.find('=') == std::string::npos) return spec;
  std::string type, ref;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const std::string kv = spec.substr(pos, comma - pos);
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "type") type = value;
    else if (key == "ref") ref = value;
    // (image-manifest and oci-mediatypes choose BuildKit's cache format; kiln has one.)
    else if (!key.empty() && key != "mode" && key != "compression" && key != "image-manifest" && key != "oci-mediatypes")
      throw Error({"cache spec", "\"" + spec + "\"", "unknown key \"" + key + "\"", "use type=registry,ref=REFERENCE[,mode=max]"});
    pos = comma + 1;
  }
  if (type != "registry")
    throw Error({"cache spec", "\"" + spec + "\"", "only type=registry is supported", "use type=registry,ref=REFERENCE"});
  if (ref.empty()) throw Error({"cache spec", "\"" + spec + "\"", "ref=REFERENCE is required", "add ref=REGISTRY/REPO:TAG"});
  return ref;
}

CacheTransfer ImportRegistryCache(oci::Store& store, const StepCache& cache, oci::RegistryClient& client,
                                  const std::string& ref_text) {
  const oci::Reference ref = oci::Reference::Parse(ref_text);
  if (!client.HeadManifest(ref)) return {};  // nothing exported yet
  const oci::Descriptor desc = client.Pull(ref, store, oci::Platform::Host());
  const oci::Manifest manifest = oci::ParseManifest(store.ReadBlob(desc.digest));
  if (manifest.artifact_type != kCacheArtifactType && manifest.config.media_type != kCacheConfigType)
    throw oci::Error("cache " + ref_text + " is not a kiln build cache (artifactType \"" +
                     manifest.artifact_type + "\")");
  const json doc = json::parse(store.ReadBlob(manifest.config.digest, /*verify=*/true));
  CacheTransfer t;
  t.layers = static_cast<int>(manifest.layers.size());
  for (const auto& [key_hex, entry] : doc.at("entries").items()) {
    const fs::path file = cache.dir() / (key_hex + ".json");
    if (key_hex.size() != 64 || key_hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw oci::Error("cache " + ref_text + ": malformed step key \"" + key_hex + "\"");
    if (fs::exists(file)) continue;
    sandbox::WriteFileAtomic(file, entry.dump());
    t.entries++;
  }
  return t;
}

CacheTransfer ExportRegistryCache(const oci::Store& store, const StepCache& cache, oci::RegistryClient& client,
                                  const std::string& ref_text, const std::vector<oci::Digest>& keys) {
  json entries = json::object();
  std::set<std::string> seen;
  oci::Manifest manifest;
  manifest.artifact_type = kCacheArtifactType;
  for (const auto& key : keys) {
    const fs::path file = cache.dir() / (key.hex + ".json");
    if (entries.contains(key.hex) || !fs::exists(file)) continue;
    json entry = json::parse(sandbox::ReadFileToString(file));
    for (const auto& l : entry.at("layers")) {
      const std::string digest = l.at("digest").get<std::string>();
      if (!seen.insert(digest).second) continue;
      oci::Descriptor d;
      d.media_type = l.at("mediaType").get<std::string>();
      d.digest = oci::Digest::Parse(digest);
      d.size = l.at("size").get<int64_t>();
      manifest.layers.push_back(std::move(d));
    }
    entries[key.hex] = std::move(entry);
  }
  json doc = {{"v", 1}, {"entries", entries}};
  manifest.config = store.PutBlob(doc.dump(), kCacheConfigType);
  if (manifest.layers.empty()) {
    // The distribution spec wants at least one layer; the empty JSON blob is the convention.
    manifest.layers.push_back(store.PutBlob("{}", oci::media::kOciEmpty));
  }
  const std::string body = oci::ToJson(manifest);
  const oci::Descriptor desc = store.PutBlob(body, oci::media::kOciManifest);
  client.Push(store, desc, oci::Reference::Parse(ref_text));
  return {static_cast<int>(entries.size()), static_cast<int>(seen.size())};
}

}  // namespace kiln::builder
