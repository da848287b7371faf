// The final filesystem of an image seen through its layer blobs, streamed:
// which entries survive later layers' overrides and whiteouts (".wh.NAME",
// ".wh..wh..opq"), without unpacking anything to disk. Used by the setuid
// strip and the SBOM cataloguer.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/layer/layer.h"

namespace kiln::oci {

// One layer blob of an image, bottom (base) first.
struct LayerBlob {
  std::filesystem::path path;  // the (compressed) tar blob
  std::string digest;          // for messages and reports
  // The same layer unpacked in the store (overlay form), when it is there:
  // readers that only need its regular files may read them from it instead
  // of decompressing the blob.
  std::filesystem::path unpacked = {};
};

// Path of a tar entry without leading "./", "/" and trailing "/".
std::string CleanTarPath(std::string_view p);
// True for ".wh.*" names (whiteouts and the opaque marker).
bool IsWhiteoutPath(std::string_view clean_path);

// Visits every entry visible in the final image exactly once (top layer
// first; within a layer in tar order) with the index of the layer it comes
// from. Whiteout markers are never visited. A single pass: a lower entry is
// hidden if an upper layer has the same path, a whiteout of it or of an
// ancestor, an opaque marker on an ancestor, or a non-directory ancestor.
using FinalEntryFn = std::function<void(const TarEntry&, const ReadFn&, size_t layer_index)>;
void ForEachFinalEntry(const std::vector<LayerBlob>& layers, const FinalEntryFn& fn);

// Reads up to `limit` bytes of an entry's data.
std::string ReadAll(const ReadFn& read, size_t limit);

}  // namespace kiln::oci
