// Resolving a path inside a root directory as the container would see it:
// ".." stops at the root, absolute symlinks restart at the root, and /proc
// magic links are refused. The one resolver for every caller that touches
// an image's filesystem (layer extraction, COPY/ADD and WORKDIR, RUN set-up,
// USER lookup), so a symlink escape is fixed in one place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "sandbox/unique_fd.h"

namespace kiln::sandbox {

// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve) of `path`
// below `root_fd` ("" or "/" is the root itself), retried on EAGAIN/EINTR.
// Close-on-exec. An invalid fd with errno set when it fails.
UniqueFd OpenInRoot(int root_fd, std::string_view path, int flags, uint64_t extra_resolve = 0, mode_t mode = 0);

// The host path of `path` inside `rootfs`, each symlink in it resolved inside
// the root by the kernel (OpenInRoot one component at a time); the last
// component is followed only when `follow_last`. Components that do not
// exist are kept as written (a later ".." drops them), so the result names
// where a new file would go. Throws sandbox::Error on a loop (more than 40
// links) or an unreadable component.
std::filesystem::path ResolveInRoot(const std::filesystem::path& rootfs, const std::string& path, bool follow_last);

}  // namespace kiln::sandbox
