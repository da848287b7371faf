// Overlay whiteouts made by hand: a directory of them, used as a lower layer
// above another, hides those names of the layers below (the build context
// seen by RUN --mount=type=bind without what .dockerignore excludes).
#pragma once

#include <filesystem>

namespace kiln::sandbox {

// Creates a whiteout (a 0/0 character device) at `path`. Throws
// sandbox::Error.
void MakeWhiteout(const std::filesystem::path& path);

}  // namespace kiln::sandbox
