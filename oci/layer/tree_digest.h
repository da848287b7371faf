// The digest of an unpacked directory: what `kiln fsck --full` compares an
// unpacked layer (Store::LayerDir) with, since the layer's tar bytes cannot
// be rebuilt from the tree. Covers every entry below the directory (sorted
// by name): its path, type, permission bits, owner ids, the content's
// sha256 (files), link target (symlinks), device numbers and xattrs as this
// process sees them. Times are left out (nothing reads a lower dir's times
// to decide content). Compute it in the same user namespace each time:
// owner ids are as seen from here.
#pragma once

#include <filesystem>

#include "oci/digest.h"

namespace kiln::oci {

// Throws oci::Error naming the entry it cannot read.
Digest TreeDigest(const std::filesystem::path& dir);

}  // namespace kiln::oci
