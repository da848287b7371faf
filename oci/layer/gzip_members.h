// The member map of a gzip layer blob: which run of tar bytes each gzip
// member holds. A layer is written as independent members cut at entry
// boundaries chosen by the entry's path (oci/layer.h), so a later layer that
// differs in one file shares all other members' uncompressed bytes with the
// earlier one; with this map WriteLayer copies those members' compressed
// bytes instead of compressing them again. Only ever a hint: a missing or
// malformed map means "compress everything".
//
// On disk: $KILN_ROOT/gzip-members/<blob-hex>, written atomically after the
// blob is committed, removed by Store::Prune with the blob:
//   kiln-gzip-members 1
//   <sha256-hex of the member's uncompressed bytes> <offset> <length>   (one per member, in order)
//   end <member count>
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "oci/digest.h"
#include "oci/store/store.h"

namespace kiln::oci {

struct GzipMember {
  Digest content;      // of the uncompressed bytes
  int64_t offset = 0;  // in the compressed blob
  int64_t length = 0;
};

std::filesystem::path GzipMembersPath(const Store& store, const Digest& blob);
void WriteGzipMembers(const Store& store, const Digest& blob, const std::vector<GzipMember>& members);
// nullopt when the blob or its map is missing, or the map is malformed or
// points outside the blob.
std::optional<std::vector<GzipMember>> ReadGzipMembers(const Store& store, const Digest& blob);

}  // namespace kiln::oci
