// rpm's "ndb" package store (Packages.db of SUSE and openSUSE, rpm >= 4.15
// built with --enable-ndb), read from memory. Layout, all integers
// little-endian (rpm's lib/backend/ndb/rpmpkg.c):
//   header  32 bytes: "RpmP", version 0, generation, slot page count, next index
//   slots   16 bytes each from offset 32 to the end of the slot pages (4 KiB
//           each): "Slot", package index, block offset, block count; a zero
//           block offset is a free slot
//   blobs   at block offset * 16, block count * 16 bytes: "BlbS", package
//           index, timestamp, length, the header blob, zero padding, then
//           adler32 (of everything before it), length, "BlbE"
// Index.db and the other ndb files are only indexes over these blobs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

struct RpmNdbBlob {
  uint32_t pkgidx;        // rpm's package index (the "hnum")
  std::string_view blob;  // a header blob for ParseRpmHeader, pointing into the file
};

// The package blobs in package-index order. Throws Error("<what>: ndb: ...")
// on anything that does not check out (magics, bounds, lengths, checksum,
// duplicate indexes); nothing is read outside `file`.
std::vector<RpmNdbBlob> ReadRpmNdbPackages(std::string_view file, const std::string& what);

}  // namespace kiln::oci
