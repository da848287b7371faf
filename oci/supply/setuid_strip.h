// Removes setuid/setgid bits from an image by adding a last layer: the final
// filesystem is computed by streaming the layers (whiteouts and overrides
// applied), and every file or directory still carrying S_ISUID/S_ISGID is
// re-added with the bits cleared (content copied from its blob, hard links
// kept as links). Optionally shells and download tools are whited out.
//
// The output is a plain (uncompressed) POSIX tar in OCI layer form; the
// caller compresses/stores it (see supply_chain.h StripSetuid).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "oci/digest.h"
#include "oci/layer/image_fs.h"

namespace kiln::oci {

// What the strip needs of the filesystem made by the bottom `layers` layers
// of an image: its final setuid/setgid entries, its shells in bin dirs (when
// shells are stripped) and the metadata of every directory. It depends only
// on those layers, so it is remembered by their chain (the builder's finalize
// memo): an image on a known base walks only the layers above it, instead of
// decompressing the base again for every new image.
struct SetBitsState {
  struct Meta {
    unsigned mode = 0;
    int64_t uid = 0, gid = 0;
  };
  struct Entry {
    Meta meta;
    int64_t size = -1;  // of the data-carrying entry; -1 when not known
    std::string link;   // hard link target (same layer), empty for the entry holding the data
    size_t layer = 0;   // index of the layer it comes from
    bool dir = false;
  };
  size_t layers = 0;                      // how many bottom layers it covers
  std::map<std::string, Entry> set_bits;  // clean path -> final entry with S_ISUID/S_ISGID
  std::set<std::string> shells;           // clean paths of final shells in bin dirs
  std::map<std::string, Meta> dirs;       // clean path -> final metadata of every directory

  nlohmann::json ToJson() const;
  // nullopt for anything not written by ToJson (a damaged memo is a miss).
  static std::optional<SetBitsState> FromJson(const nlohmann::json& j);
};

struct StripOptions {
  std::vector<std::string> keep_setuid;   // absolute paths left untouched (--keep-setuid)
  std::vector<std::string> strip_shells;  // basenames removed from bin dirs (--strip-shells)
  std::optional<int64_t> mtime;           // mtime for re-added entries (default 0)
  // Layers (diff_ids) known to hold no setuid/setgid entry, from an earlier
  // walk: their trees are not walked again.
  std::set<Digest> no_set_bits;
  // The state of the bottom `below->layers` layers, from an earlier walk:
  // those layers' blobs are not read for it (the data of their set-bit files
  // comes from their unpacked dirs when those are there).
  std::optional<SetBitsState> below;
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
  // The state after each layer walked (covering 1.., or below->layers+1..),
  // for the caller to remember.
  std::vector<SetBitsState> walked;
  bool empty() const { return changed.empty() && removed.empty(); }
};

// Writes the fix-up layer to `out_tar` (created/truncated) and returns what
// it did. The tar is empty (but valid) when there is nothing to do.
StripReport StripSetuidLayers(const std::vector<LayerBlob>& layers, const StripOptions& opts,
                              const std::filesystem::path& out_tar);

std::string FormatStripReport(const StripReport& r);

}  // namespace kiln::oci
