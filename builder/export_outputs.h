// Writing the built image where each -o asked (builder/output_spec.h):
// OCI layout directory or archive, docker-load archive, the final filesystem
// as a tar or a directory, or more names in the local store. Pushes are the
// caller's (PushTargets lists them).
#pragma once

#include <string>
#include <vector>

#include "builder/build_options.h"
#include "builder/progress.h"
#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::builder {

// `tags` are the -t names as stored. A "-" dest streams a tar to stdout.
// `manifest` may be a multi-platform index: type=local then writes a
// directory per platform (DEST/linux_arm64, as buildx), type=tar the same
// directories at the top of the tar (linux_arm64/...).
void ExportOutputs(const oci::Store& store, const BuildOptions& opts, const oci::Descriptor& manifest,
                   const std::vector<std::string>& tags, Progress& progress);

// References to push: type=image,push=true / type=registry names (else the
// -t tags), and the -t tags for --push.
std::vector<std::string> PushTargets(const BuildOptions& opts);

// True when some output writes to stdout (then nothing else may).
bool WritesStdout(const BuildOptions& opts);

}  // namespace kiln::builder
