#include "builder/layer_cache.h"

#include <optional>
#include <set>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_stream.h"

namespace kiln::builder {

namespace fs = std::filesystem;

void LayerCache::NameImage(const ImageState& state, const std::string& name) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < state.layers.size(); ++i)
    names_.emplace(state.layers[i].digest, name + " (layer " + std::to_string(i + 1) + " of " +
                                               std::to_string(state.layers.size()) + ")");
}

std::string LayerCache::ImageOf(const oci::Digest& blob) {
  std::lock_guard lock(mu_);
  auto it = names_.find(blob);
  return it == names_.end() ? "" : "image " + it->second + ": ";
}

void LayerCache::Check(const oci::Descriptor& blob, const oci::Digest& claimed, const oci::Digest& computed) {
  if (computed == claimed) return;
  throw oci::Error(ImageOf(blob.digest) + "layer " + blob.digest.str() + " does not match the image's config: its content is " +
                   computed.str() + " but the config's diff_id is " + claimed.str() +
                   "; nothing of it was kept. The image is corrupt or forged: get it again from a source you trust");
}

fs::path LayerCache::Ensure(const oci::Descriptor& blob, const oci::Digest& diff_id) {
  // The diff_id is a claim of the image's config; the layer dir is only
  // reused once this blob was seen to unpack to it (recorded when kiln
  // extracted or wrote it), so an image claiming another image's diff_id
  // never gets (or gives) that image's files.
  auto known = [&]() -> bool {
    std::optional<oci::Digest> recorded;
    {
      std::lock_guard lock(mu_);
      if (auto it = computed_.find(blob.digest); it != computed_.end()) recorded = it->second;
    }
    if (!recorded) recorded = store_.RecordedDiffId(blob.digest);
    if (!recorded) return false;
    Check(blob, diff_id, *recorded);
    if (!store_.HasLayerDir(diff_id)) return false;
    std::lock_guard lock(mu_);
    computed_.emplace(blob.digest, *recorded);
    return true;
  };
  if (known()) return store_.LayerDir(diff_id);
  std::shared_ptr<std::mutex> m;
  {
    std::lock_guard lock(mu_);
    auto& slot = busy_[blob.digest.hex];
    if (!slot) slot = std::make_shared<std::mutex>();
    m = slot;
  }
  std::lock_guard lock(*m);
  if (known()) return store_.LayerDir(diff_id);
  if (!store_.HasBlob(blob.digest))
    throw oci::Error("layer " + blob.digest.str() + " is missing from the store " + store_.root().string());
  const fs::path path = store_.BlobPath(blob.digest);
  if (store_.HasLayerDir(diff_id)) {
    // Unpacked from another blob of the same content (another compression),
    // or before kiln recorded diff_ids: one decompressing pass, no writes.
    oci::Digest computed;
    try {
      computed = oci::LayerDiffId(path);
    } catch (const oci::Error& e) {
      throw oci::Error(ImageOf(blob.digest) + e.what());
    }
    Check(blob, diff_id, computed);
    store_.RecordDiffId(blob.digest, diff_id);
    return store_.LayerDir(diff_id);
  }
  auto tmp = store_.MakeTempDir("unpack");
  const fs::path dir = tmp.path() / "layer";
  fs::create_directory(dir);
  oci::ExtractOptions opts;
  opts.overlay_form = true;
  // Hashed while extracting; on a mismatch `tmp` goes with what was written.
  oci::Digest computed;
  try {
    computed = oci::ExtractLayer(path, dir, opts);
  } catch (const std::exception& e) {
    throw LayerExtractError(blob.digest, "layer " + blob.digest.str() + ": " + e.what());  // FROM names the image
  }
  Check(blob, diff_id, computed);
  store_.AdoptLayerDir(dir, computed);
  store_.RecordDiffId(blob.digest, computed);
  return store_.LayerDir(computed);
}

std::vector<fs::path> LayerCache::Lowers(const ImageState& state) {
  // The same diff twice in one image (e.g. two `RUN true`) is one directory,
  // and overlayfs refuses a lower dir given twice (ELOOP). Only the topmost
  // copy is kept: everything the lower copy shows or hides, the upper one
  // shows or hides already.
  std::vector<fs::path> out;
  std::set<oci::Digest> seen;
  for (size_t i = state.layers.size(); i-- > 0;) {
    const oci::Digest& diff_id = state.config.diff_ids.at(i);
    if (!seen.insert(diff_id).second) continue;
    out.push_back(Ensure(state.layers[i], diff_id));
  }
  return out;
}

}  // namespace kiln::builder
