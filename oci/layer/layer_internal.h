// Shared by the layer .cc files; not part of the public contract.
#pragma once

#include <string>
#include <string_view>

namespace kiln::oci {

inline constexpr const char* kWhiteoutPrefix = ".wh.";
inline constexpr const char* kOpaqueWhiteout = ".wh..wh..opq";

// Tar entry name -> clean relative path ("./a//b/" -> "a/b", "/x" -> "x",
// "." -> ""). Throws oci::Error when a ".." component appears.
std::string NormalizeTarPath(std::string_view name);

// True when deflate would gain next to nothing on `data` (compressed or
// random bytes: order-0 entropy of 7.9 bits a byte or more), and it is long
// enough for that estimate; gzip layers store such file data (level 0).
bool LooksIncompressible(std::string_view data);

}  // namespace kiln::oci
