// Locale-independent ASCII helpers for the secret matchers (file names,
// tokens and variable names are ASCII; the C locale functions are not
// needed and not wanted here).
#pragma once

#include <string_view>

namespace kiln::secret_rules {

inline bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
inline char AsciiLowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// `s` from `pos` starts with `lower` (given in lower case), ignoring case.
inline bool StartsFoldedAt(std::string_view s, size_t pos, std::string_view lower) {
  if (pos > s.size() || s.size() - pos < lower.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i)
    if (AsciiLowerChar(s[pos + i]) != lower[i]) return false;
  return true;
}

}  // namespace kiln::secret_rules
