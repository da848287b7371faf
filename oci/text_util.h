// ASCII helpers for the protocol and file-format text oci/ reads (header
// names, package names, reference grammar): locale-independent on purpose.
#pragma once

#include <string>
#include <string_view>

namespace kiln::oci {

inline bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The last component of a slash-separated (tar or image) path.
inline std::string_view PathBaseName(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

}  // namespace kiln::oci
