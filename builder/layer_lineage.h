// Which layer blob a step position made last time: "this instruction on
// these parent layers", whatever its inputs were then. A hint only, never a
// cache hit: WriteLayer copies the gzip members of that blob that hold the
// same tar bytes instead of compressing them again (oci/gzip_members.h), so
// a rebuild after a one-file change recompresses about one member per
// changed file. On disk: $KILN_ROOT/cache/lineage/<key-hex> holding the
// blob digest, replaced atomically; `kiln prune --all` drops it with the
// rest of the cache, and an entry whose blob is gone is simply unused.
#pragma once

#include <filesystem>
#include <optional>

#include "builder/image_state.h"
#include "oci/digest.h"
#include "oci/store.h"

namespace kiln::builder {

// The position of a step: its instruction as written and its parent's layers.
oci::Digest LineageKey(const std::string& instruction, const ImageState& parent);

class LayerLineage {
 public:
  explicit LayerLineage(const oci::Store& store);
  std::optional<oci::Digest> Last(const oci::Digest& key) const;
  void Record(const oci::Digest& key, const oci::Digest& blob) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace kiln::builder
