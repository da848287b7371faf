// Layers: a directory in overlay form -> a reproducible tar blob, and a tar
// blob -> a directory, safely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "oci/digest.h"
#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::oci {

enum class Compression { kGzip, kZstd, kNone };

struct LayerOptions {
  Compression compression = Compression::kGzip;
  // Clamp every mtime to this (reproducible builds). nullopt keeps mtimes.
  std::optional<int64_t> source_date_epoch;
  // gzip: an earlier layer blob (e.g. what the same step made last time)
  // whose members holding the same tar bytes are copied, not recompressed
  // (oci/gzip_members.h). Same output bytes either way.
  std::optional<Digest> reuse_gzip_members_of;
};

struct Layer {
  Descriptor blob;   // compressed, in the store
  Digest diff_id;    // digest of the uncompressed tar
};

// Walks `dir` (an overlay upper dir or any tree), writes a sorted PAX tar:
// 0/0 char devices -> ".wh.NAME", opaque dirs -> ".wh..wh..opq", hardlinks
// kept, numeric ids only, xattrs kept (overlay's own xattrs dropped), no
// atime/ctime, gzip header without name/time. One streaming pass computes
// diff_id and digest. Same tree, same bytes. gzip layers are independent
// members cut before entries whose path hashes to a mark (once a member has
// 256 KiB) or at 1 MiB, so a change to one file changes only its member(s);
// their map is kept beside the blob (oci/gzip_members.h).
Layer WriteLayer(const Store& store, const std::filesystem::path& dir, const LayerOptions& opts);

struct ExtractOptions {
  // Whiteouts written in overlay form (0/0 char device, opaque xattr) so the
  // result can be an overlay lower dir. When false, whiteouts are applied by
  // deleting from `target` (flattening onto an existing tree).
  bool overlay_form = true;
  // Skip device nodes (block/char other than whiteouts) with a warning,
  // since an unprivileged user namespace cannot create them.
  bool skip_devices = true;
  // False: entries keep the extracting user's ids (a build context from a
  // tar, whose owners mean nothing on this machine).
  bool keep_owners = true;
  std::function<void(const std::string&)> warn;
};

// Extracts a layer blob (plain tar, gzip, zstd, bzip2 or xz, detected) into
// `target` (also what ADD of a local archive extracts).
// Never writes outside `target` whatever the archive says. Throws oci::Error
// naming the offending entry, or the blob when its compression is corrupt
// (oci/layer_stream.h). Returns the digest of the uncompressed stream,
// hashed while extracting: the diff_id the caller must compare with the one
// the image claims.
Digest ExtractLayer(const std::filesystem::path& blob, const std::filesystem::path& target,
                  const ExtractOptions& opts);

// Visits every entry of a layer blob without unpacking it to disk (for
// scanners). The callback gets the entry's path, its header, and a reader
// for its data (returns 0 at end).
struct TarEntry {
  std::string path;      // normalised, no leading "./" or "/"
  unsigned mode = 0;     // including type bits (S_IFREG ...)
  int64_t size = 0;
  int64_t uid = 0, gid = 0;
  std::string link_target;  // symlink target or hardlink target
  bool hardlink = false;
};
using ReadFn = std::function<long(void* buf, size_t size)>;
void ForEachEntry(const std::filesystem::path& blob,
                  const std::function<void(const TarEntry&, const ReadFn&)>& fn);

}  // namespace kiln::oci
