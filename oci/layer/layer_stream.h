// A layer blob's uncompressed bytes, checked and hashed as they are read,
// so the diff_id of what was extracted costs no second pass.
//
// Checked strictly, since a blob's digest says nothing about what it
// decompresses to: gzip (RFC 1952: every member's CRC-32 and length; only
// another member may follow one, so trailing data is an error; a stream that
// stops early is an error), zstd (frame checksums when present; trailing
// data; truncation) and plain tar. bzip2 and xz, which only ADD of a local
// archive meets, are decoded by libarchive with its own checks.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "oci/digest.h"

namespace kiln::oci {

class LayerStream {
 public:
  // Throws oci::Error when the file cannot be opened.
  explicit LayerStream(const std::filesystem::path& blob);
  ~LayerStream();
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  // Up to `size` uncompressed bytes into `buf`; 0 at the end. Throws
  // oci::Error naming the blob and the offset on corrupt or truncated data.
  size_t Read(void* buf, size_t size);
  // Reads whatever is left (tar readers stop at the end-of-archive blocks,
  // before the padding and the compressed trailer) and returns the digest of
  // every uncompressed byte: the layer's diff_id. Once.
  Digest Finish();
  // "gzip", "zstd", "tar", "bzip2", "xz": for messages.
  const std::string& format() const;

  class Decoder;  // one per compression (layer_stream.cc)

 private:
  std::filesystem::path blob_;
  std::unique_ptr<Decoder> decoder_;
  Sha256 hash_;
};

// The diff_id of a layer blob, with LayerStream's checks, reading nothing
// to disk (for a blob whose unpacked directory is already in the store).
Digest LayerDiffId(const std::filesystem::path& blob);

}  // namespace kiln::oci
