// Removes setuid/setgid bits from an image by adding a last layer: the final
// filesystem is computed by streaming the layers (whiteouts and overrides
// applied), and every file or directory still carrying S_ISUID/S_ISGID is
// re-added with the bits cleared (content copied from its blob, hard links
// kept as links). Optionally shells and download tools are whited out.
//
// The output is a plain (uncompressed) POSIX tar in OCI layer form; the
// caller compresses/stores it (see supply_chain.h StripSetuid).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "oci/digest.h"
#include "oci/layer/image_fs.h"

namespace kiln::oci {

struct StripOptions {
  std::vector<std::string> keep_setuid;   // absolute paths left untouched (--keep-setuid)
  std::vector<std::string> strip_shells;  // basenames removed from bin dirs (--strip-shells)
  std::optional<int64_t> mtime;           // mtime for re-added entries (default 0)
  // Layers (diff_ids) known to hold no setuid/setgid entry, from an earlier
  // walk: their trees are not walked again.
  std::set<Digest> no_set_bits;
};

// The default --strip-shells list.
const std::vector<std::string>& DefaultShells();

struct StripChange {
  std::string path;        // "/usr/bin/passwd"
  unsigned old_mode = 0;   // permission bits incl. setuid/setgid/sticky
  unsigned new_mode = 0;
  size_t layer_index = 0;  // layer the final version comes from
  bool directory = false;
};

struct StripReport {
  std::vector<StripChange> changed;   // sorted by path
  std::vector<std::string> kept;      // allowlisted setuid/setgid paths
  std::vector<std::string> removed;   // whited-out shells/tools
  bool empty() const { return changed.empty() && removed.empty(); }
};

// Writes the fix-up layer to `out_tar` (created/truncated) and returns what
// it did. The tar is empty (but valid) when there is nothing to do.
StripReport StripSetuidLayers(const std::vector<LayerBlob>& layers, const StripOptions& opts,
                              const std::filesystem::path& out_tar);

std::string FormatStripReport(const StripReport& r);

}  // namespace kiln::oci
