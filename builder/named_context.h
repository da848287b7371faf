// `kiln build --build-context NAME=VALUE` (buildx): FROM NAME and
// COPY --from=NAME take VALUE instead of the image NAME:
//   docker-image://REF     another image (store or registry)
//   oci-layout://PATH[:TAG] an OCI image layout on disk
//   PATH                   a local directory, as a one-layer image of its files
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "builder/image_state.h"
#include "oci/store/store.h"

namespace kiln::builder {

struct NamedContext {
  enum class Kind { kImage, kDirectory } kind = Kind::kImage;
  std::string target;  // kImage: a name BaseImageResolver loads; kDirectory: absolute path
};

// Throws std::invalid_argument naming the flag for values kiln cannot use
// (git or https URLs, a missing directory).
NamedContext ParseNamedContext(const std::string& name, const std::string& value);

// A directory's files as an image state: scratch config plus one layer of
// them, owned by root as a COPY from the build context would make them.
ImageState DirectoryState(const oci::Store& store, const std::filesystem::path& dir,
                          const std::function<void(const std::string&)>& note);

}  // namespace kiln::builder
