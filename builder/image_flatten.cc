#include "builder/image_flatten.h"

#include "builder/step_cache.h"

namespace kiln::builder {

namespace fs = std::filesystem;

void FlattenLayers(const oci::Store& store, const std::vector<oci::Descriptor>& layers, const fs::path& dir,
                   bool keep_owners, const std::function<void(const std::string&)>& warn) {
  oci::ExtractOptions eo;
  eo.overlay_form = false;  // apply whiteouts by deleting what lower layers put there
  eo.keep_owners = keep_owners;
  eo.warn = warn;
  for (const auto& l : layers) oci::ExtractLayer(store.BlobPath(l.digest), dir, eo);
}

oci::Layer FlattenToLayer(const oci::Store& store, const std::vector<oci::Descriptor>& layers,
                          const oci::LayerOptions& opts, const std::function<void(const std::string&)>& warn) {
  oci::Store::TempDir tmp = store.MakeTempDir("flatten");
  const fs::path root = tmp.path() / "root";
  fs::create_directory(root);
  FlattenLayers(store, layers, root, true, warn);
  oci::Layer layer = oci::WriteLayer(store, root, opts);
  store.AdoptLayerDir(root, layer.diff_id);
  return layer;
}

ImageState SquashState(const oci::Store& store, const ImageState& state, const oci::LayerOptions& opts,
                       const std::string& created, const std::function<void(const std::string&)>& warn) {
  if (state.layers.size() <= 1) return state;
  const oci::Layer layer = FlattenToLayer(store, state.layers, opts, warn);
  ImageState out = state;
  out.layers = {layer.blob};
  out.config.diff_ids = {layer.diff_id};
  oci::History h;
  h.created = created;
  h.created_by = "kiln build --squash";
  h.comment = "squashed " + std::to_string(state.layers.size()) + " layers";
  out.config.history = {h};
  out.digest = CacheKeyBuilder().Add("squash", state.digest.str()).Finish();
  return out;
}

oci::Descriptor SquashManifest(const oci::Store& store, const oci::Descriptor& manifest, const oci::LayerOptions& opts,
                               const std::string& created, const std::function<void(const std::string&)>& warn) {
  oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
  if (m.layers.size() <= 1) return manifest;
  ImageState st;
  st.config = oci::ParseImageConfig(store.ReadBlob(m.config.digest));
  st.layers = m.layers;
  const ImageState squashed = SquashState(store, st, opts, created, warn);
  m.config = store.PutBlob(oci::ToJson(squashed.config), m.config.media_type);
  m.layers = squashed.layers;
  return store.PutBlob(oci::ToJson(m), manifest.media_type.empty() ? m.media_type : manifest.media_type);
}

}  // namespace kiln::builder
