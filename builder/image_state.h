// The state of a stage between two instructions: its image config (with
// diff_ids and history), its layer blobs and a digest naming the state for
// the build cache (the cache key of the step that produced it).
#pragma once

#include <vector>

#include "oci/digest.h"
#include "oci/image.h"

namespace kiln::builder {

struct ImageState {
  oci::ImageConfig config;
  std::vector<oci::Descriptor> layers;  // blobs, bottom first, parallel to config.diff_ids
  oci::Digest digest;                   // cache identity of this state
};

}  // namespace kiln::builder
