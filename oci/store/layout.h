// Import/export of OCI image layouts and docker-archive tars.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::oci {

// Writes oci-layout, index.json (with ref.name = tag when non-empty) and the
// reachable blobs into `dir` (created or merged into).
void ExportOciLayout(const Store& store, const Descriptor& manifest,
                     const std::filesystem::path& dir, const std::string& tag);

// Copies the image named `tag` (or the only one when empty) from a layout into
// the store. An index is resolved to the host platform's manifest. Returns
// the image manifest's descriptor.
Descriptor ImportOciLayout(Store& store, const std::filesystem::path& dir, const std::string& tag);

// `docker load` format, shaped like `docker save` of Docker >= 25: an OCI
// layout (oci-layout, index.json, blobs/sha256/...) plus manifest.json
// ([{"Config","RepoTags","Layers"}] naming blobs/sha256/<hex> paths). Layers
// are the store's blobs as-is (gzip/zstd); `docker load` decompresses them.
// Written to a temp file and renamed, so a partial tar never appears.
void ExportDockerArchive(const Store& store, const Descriptor& manifest,
                         const std::filesystem::path& tar_file,
                         const std::vector<std::string>& repo_tags);

}  // namespace kiln::oci
