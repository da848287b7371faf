#include "builder/layer_cache.h"

#include <set>

#include "oci/error.h"
#include "oci/layer.h"

namespace kiln::builder {

namespace fs = std::filesystem;

fs::path LayerCache::Ensure(const oci::Descriptor& blob, const oci::Digest& diff_id) {
  if (store_.HasLayerDir(diff_id)) return store_.LayerDir(diff_id);
  std::shared_ptr<std::mutex> m;
  {
    std::lock_guard lock(mu_);
    auto& slot = busy_[diff_id.hex];
    if (!slot) slot = std::make_shared<std::mutex>();
    m = slot;
  }
  std::lock_guard lock(*m);
  if (store_.HasLayerDir(diff_id)) return store_.LayerDir(diff_id);
  if (!store_.HasBlob(blob.digest))
    throw oci::Error("layer " + blob.digest.str() + " is missing from the store " + store_.root().string());
  auto tmp = store_.MakeTempDir("unpack");
  const fs::path dir = tmp.path() / "layer";
  fs::create_directory(dir);
  oci::ExtractOptions opts;
  opts.overlay_form = true;
  try {
    oci::ExtractLayer(store_.BlobPath(blob.digest), dir, opts);
  } catch (const std::exception& e) {
    throw LayerExtractError(blob.digest, "layer " + blob.digest.str() + ": " + e.what());
  }
  store_.AdoptLayerDir(dir, diff_id);
  return store_.LayerDir(diff_id);
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
