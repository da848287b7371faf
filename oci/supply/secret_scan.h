// Scans every layer of an image (each streamed with ForEachEntry, never
// unpacked; files later deleted still count, they ship in the blob), the
// image config's Env and its history commands for secrets.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/layer/image_fs.h"

namespace kiln::oci {

struct SecretFinding {
  int layer_index = -1;       // -1: in the image config (env, history)
  std::string layer_digest;   // blob digest, empty for config findings
  std::string created_by;     // history entry that made the layer/command
  std::string path;           // file in the layer; "config.env" / "history[N]" for config
  std::string rule_id;
  std::string description;
  int line = 0;
  std::string redacted;       // the match with its middle masked
};

struct SecretScanOptions {
  // Skip these paths (exact, or a directory prefix ending in "/"; leading "/" optional).
  std::vector<std::string> allow_paths;
  std::set<std::string> allow_rules;
  // Only the first max_bytes of a file are read; files whose first 8 KiB
  // contain NUL bytes are binaries and only checked by name.
  int64_t max_bytes = 4 << 20;
  bool scan_config = true;
  // Layers (blob digests) known to hold no finding under these options, as
  // remembered from an earlier scan: not read again, so a build's scan costs
  // what it added, not the size of its base image.
  std::set<std::string> known_clean;
};

// `config` gives history (to name created_by per layer) and Env; layers are
// the image's blobs in order.
std::vector<SecretFinding> ScanLayersForSecrets(const ImageConfig& config, const std::vector<LayerBlob>& layers,
                                                const SecretScanOptions& opts);

// One line per finding: "layer 2 sha256:ab.. (RUN ...): /root/.aws/credentials: aws-credentials-file ...".
std::string FormatFinding(const SecretFinding& f);

}  // namespace kiln::oci
