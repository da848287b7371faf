// An image's layers flattened into one tree (whiteouts applied): the single
// layer of `kiln build --squash` (buildah) and the final filesystem that
// `-o type=tar` and `-o type=local` (buildx) write.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "builder/image_state.h"
#include "oci/layer/layer.h"
#include "oci/store/store.h"

namespace kiln::builder {

// Extracts `layers` (bottom first) over `dir` in order. keep_owners=false
// leaves every entry owned by the caller (a local export the user can
// delete). Device nodes are skipped with a note (`warn`).
void FlattenLayers(const oci::Store& store, const std::vector<oci::Descriptor>& layers,
                   const std::filesystem::path& dir, bool keep_owners,
                   const std::function<void(const std::string&)>& warn);

// The flattened tree as one layer blob in the store (its unpacked dir kept
// for later builds), with `opts`' compression and timestamps.
oci::Layer FlattenToLayer(const oci::Store& store, const std::vector<oci::Descriptor>& layers,
                          const oci::LayerOptions& opts, const std::function<void(const std::string&)>& warn);

// `state` with all of its layers squashed into one; history becomes one
// entry (`created`, naming how many layers were squashed). No layers: as is.
ImageState SquashState(const oci::Store& store, const ImageState& state, const oci::LayerOptions& opts,
                       const std::string& created, const std::function<void(const std::string&)>& warn);

// The same for an image in the store: a new config and manifest (its
// annotations and media type kept). Returns the new manifest's descriptor.
oci::Descriptor SquashManifest(const oci::Store& store, const oci::Descriptor& manifest, const oci::LayerOptions& opts,
                               const std::string& created, const std::function<void(const std::string&)>& warn);

}  // namespace kiln::builder
