// Docker Image Manifest V2, Schema 2: the form `kiln build --format docker`
// writes (as `buildah build --format docker`) for registries and tools that
// predate OCI. The blobs stay the same; only their media types and the
// manifest's change, so the config digest (the image ID) does not.
#pragma once

#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::oci {

// Stores and returns the Docker schema 2 form of an OCI image manifest
// (a Docker manifest is returned as it is). Annotations, subject and
// artifactType have no place in schema 2 and are dropped. Throws oci::Error
// for a zstd layer, which schema 2 cannot describe.
Descriptor ConvertToDockerManifest(const Store& store, const Descriptor& manifest);

}  // namespace kiln::oci
