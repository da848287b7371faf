// libarchive reading helpers shared by ForEachEntry and ExtractLayer.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

struct archive;

namespace kiln::oci {

struct ArchiveReadDeleter {
  void operator()(archive* a) const;
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadDeleter>;

class LayerStream;

// Opens a plain, gzip, zstd, bzip2 or xz tar for reading through a
// LayerStream (oci/layer_stream.h: checked, hashed); throws oci::Error.
// `stream`, when given, is set to that stream (owned by the archive) so that
// after ARCHIVE_EOF the caller can Finish() it: the diff_id, and the checks
// of what follows the tar's end.
ArchiveReadPtr OpenLayerBlob(const std::filesystem::path& blob, LayerStream** stream = nullptr);
std::string ArchiveError(archive* a);

}  // namespace kiln::oci
