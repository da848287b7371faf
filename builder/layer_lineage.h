// Which layer a step position made last time: "this instruction on these
// parent layers", whatever its inputs were then. A hint only, never a cache
// hit: WriteLayer copies the gzip members of that blob that hold the same tar
// bytes instead of compressing them again (oci/gzip_members.h), and COPY
// links a file identical to the one that layer's tree holds at the same path
// instead of writing it again (builder/copy.h), so a rebuild after a
// one-file change rewrites and recompresses little more than that file.
// On disk: $KILN_ROOT/cache/lineage/<key-hex> holding the blob digest and
// the diff_id on two lines, replaced atomically; `kiln prune --all` drops it
// with the rest of the cache, and an entry whose blob or tree is gone is
// simply unused.
#pragma once

#include <filesystem>
#include <optional>

#include "builder/image_state.h"
#include "oci/digest.h"
#include "oci/store/store.h"

namespace kiln::builder {

// The position of a step: its instruction as written and its parent's layers.
oci::Digest LineageKey(const std::string& instruction, const ImageState& parent);

struct LastLayer {
  oci::Digest blob;
  std::optional<oci::Digest> diff_id;  // absent in records from before it was kept
};

class LayerLineage {
 public:
  explicit LayerLineage(const oci::Store& store);
  std::optional<LastLayer> Last(const oci::Digest& key) const;
  void Record(const oci::Digest& key, const oci::Digest& blob, const oci::Digest& diff_id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace kiln::builder
