// Locating the build file in a context directory: `Dockerfile` first, then
// `Containerfile` (the name buildah/podman use), like buildah does.
#pragma once

#include <string>

namespace kiln::frontend {

// Returns the path (context_dir joined with the file name) of the build file
// in `context_dir`. Throws Error (location = context_dir) when neither file
// exists as a regular file (or symlink to one), or the dir is not a directory.
std::string FindDockerfile(const std::string& context_dir);

}  // namespace kiln::frontend
