// Import/export of OCI image layouts and docker-archive tars.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::oci {

// Writes oci-layout, index.json (with ref.name = tag when non-empty) and the
// reachable blobs into `dir` (created or merged into). `index_annotations`
// are added to index.json's own annotations.
void ExportOciLayout(const Store& store, const Descriptor& manifest,
                     const std::filesystem::path& dir, const std::string& tag,
                     const std::map<std::string, std::string>& index_annotations = {});

// The same layout as one tar archive (an oci-archive), "-" for stdout.
void ExportOciArchive(const Store& store, const Descriptor& manifest, const std::filesystem::path& tar_file,
                      const std::string& tag, const std::map<std::string, std::string>& index_annotations = {});

// Copies the image named `tag` (or the only one when empty) from a layout into
// the store. An index is resolved to `platform`'s manifest (ChooseManifest).
// Returns the image manifest's descriptor.
Descriptor ImportOciLayout(Store& store, const std::filesystem::path& dir, const std::string& tag,
                           const Platform& platform = Platform::Host());

// `docker load` format, shaped like `docker save` of Docker >= 25: an OCI
// layout (oci-layout, index.json, blobs/sha256/...) plus manifest.json
// ([{"Config","RepoTags","Layers"}] naming blobs/sha256/<hex> paths). Layers
// are the store's blobs as-is (gzip/zstd); `docker load` decompresses them.
// Written to a temp file and renamed, so a partial tar never appears; "-"
// streams it to stdout.
void ExportDockerArchive(const Store& store, const Descriptor& manifest,
                         const std::filesystem::path& tar_file,
                         const std::vector<std::string>& repo_tags);

}  // namespace kiln::oci
