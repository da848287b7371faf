// Unpacked layers for overlay lower dirs: each layer blob is extracted once
// into Store::LayerDir(diff_id), the diff_id hashed while extracting and
// compared with the image's claim (a mismatch fails, keeping nothing). Extraction goes to a temp dir and is
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
#include "oci/store/store.h"

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
  // Names a base image's layers in the errors above ("FROM busybox").
  void NameImage(const ImageState& state, const std::string& name);

 private:
  void Check(const oci::Descriptor& blob, const oci::Digest& claimed, const oci::Digest& computed);
  std::string ImageOf(const oci::Digest& blob);  // "image NAME (layer i of n): " or ""
  const oci::Store& store_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> busy_;  // by blob
  std::map<oci::Digest, std::string> names_;                  // blob -> "image (layer i of n)"
  std::map<oci::Digest, oci::Digest> computed_;               // blob -> its diff_id, seen this process
};

}  // namespace kiln::builder
