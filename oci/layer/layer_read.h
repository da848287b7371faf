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

// Opens a plain, gzip, zstd, bzip2 or xz tar for reading; throws oci::Error.
ArchiveReadPtr OpenLayerBlob(const std::filesystem::path& blob);
std::string ArchiveError(archive* a);

}  // namespace kiln::oci
