// Unpacked layers for overlay lower dirs: each layer blob is extracted once
// into Store::LayerDir(diff_id). Extraction goes to a temp dir and is
// published with Store::AdoptLayerDir, so concurrent builds (and parallel
// stages of one build) never see a half-written layer; within one process a
// per-layer mutex avoids extracting the same blob twice.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "builder/image_state.h"
#include "oci/store.h"

namespace kiln::builder {

// A layer blob that could not be unpacked (e.g. owned by ids this user
// namespace does not map): the step that needed it is not its cause, so the
// stage executor names the FROM the layer came from.
class LayerExtractError : public std::runtime_error {
 public:
  LayerExtractError(const oci::Digest& blob, const std::string& what)
      : std::runtime_error(what), blob_(blob) {}
  const oci::Digest& blob() const { return blob_; }

 private:
  oci::Digest blob_;
};

class LayerCache {
 public:
  explicit LayerCache(const oci::Store& store) : store_(store) {}
  // The unpacked directory of one layer, extracting it if needed.
  std::filesystem::path Ensure(const oci::Descriptor& blob, const oci::Digest& diff_id);
  // Overlay lower dirs of a state, top-most first.
  std::vector<std::filesystem::path> Lowers(const ImageState& state);

 private:
  const oci::Store& store_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> busy_;
};

}  // namespace kiln::builder
