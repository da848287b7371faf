// COPY/ADD semantics as docker/BuildKit apply them: where each source lands
// (PlanCopy, pure path rules) and writing the files into a mounted rootfs as
// namespace-root (CopyInto), resolving the destination's symlinks inside the
// rootfs so an image's absolute links never lead out to the host.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::builder {

struct CopySource {
  std::filesystem::path host_path;  // absolute path of the source on the host
  std::string rel;                  // path relative to its root (context or stage), "" = root
  bool is_dir = false;
};

struct CopyTarget {
  CopySource source;
  std::string dest;       // absolute path inside the rootfs
  bool contents = false;  // a directory: copy its contents into dest
};

// `dest` as written (relative to `workdir` unless absolute); `source_args` is
// how many sources the instruction named (several need a dest ending in '/').
// `dest_is_dir` tells whether an absolute in-rootfs path is an existing dir.
// Throws std::runtime_error with docker's messages.
std::vector<CopyTarget> PlanCopy(const std::vector<CopySource>& sources, const std::string& dest,
                                 const std::string& workdir, size_t source_args, bool parents,
                                 const std::function<bool(const std::string&)>& dest_is_dir);

struct CopyAttrs {
  uint32_t uid = 0, gid = 0;           // --chown, default 0:0
  std::optional<mode_t> chmod;         // --chmod
  // Whether to copy a path below the source root (relative to that root);
  // empty = everything. .dockerignore and --exclude arrive here.
  std::function<bool(const std::string& rel)> include;
};

// Resolves `path` (absolute, inside the rootfs) to a host path, following
// symlinks as if `rootfs` were "/" (".." and absolute targets clamp at the
// root). The last component is followed only when `follow_last`.
std::filesystem::path ResolveInRoot(const std::filesystem::path& rootfs, const std::string& path,
                                    bool follow_last);
// mkdir -p inside the rootfs; created directories are 0755 root:root.
// Missing directories are created 0755 and owned by uid:gid (COPY --chown owns
// the directories it creates, as BuildKit does).
std::filesystem::path MkdirAllInRoot(const std::filesystem::path& rootfs, const std::string& path,
                                     uid_t uid = 0, gid_t gid = 0);

// Copies one planned target into the rootfs.
void CopyInto(const std::filesystem::path& rootfs, const CopyTarget& target, const CopyAttrs& attrs);

// Writes a heredoc/inline file into the rootfs (parents created).
void WriteFileInRoot(const std::filesystem::path& rootfs, const std::string& dest,
                     const std::string& content, const CopyAttrs& attrs, mode_t mode = 0644);

// True when libarchive recognises `file` as a (possibly compressed) tar.
bool IsTarArchive(const std::filesystem::path& file);

// Parses --chmod ("755", "0644"); throws std::runtime_error on anything else.
mode_t ParseChmod(const std::string& text);

}  // namespace kiln::builder
