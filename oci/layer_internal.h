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

}  // namespace kiln::oci
