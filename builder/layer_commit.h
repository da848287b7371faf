// Layers of stages nothing exports are committed as uncompressed snapshots
// (FsStepRunner::Finish with snapshot): no gzip for what only COPY --from or
// mount from= reads. When such a layer does end up in an image (a later
// build's --target, or a cache hit from one), it is compressed then, once per
// blob and compression, and the result is remembered in the store.
#pragma once

#include "oci/image.h"
#include "oci/layer/layer.h"
#include "oci/store/store.h"

namespace kiln::builder {

// Records that the layer `diff_id` was committed as an uncompressed snapshot.
void MarkSnapshotLayer(const oci::Store& store, const oci::Digest& diff_id);

// `manifest` with each snapshot layer (uncompressed, marked) compressed as
// `opts` says: the same bytes a build that exported the stage would have
// written (the layer's tree is written again and its diff_id checked). The
// manifest itself when there is none or `opts` asks for no compression.
oci::Descriptor CompressSnapshotLayers(oci::Store& store, const oci::LayerOptions& opts,
                                       const oci::Descriptor& manifest);

}  // namespace kiln::builder
