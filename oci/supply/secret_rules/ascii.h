// Locale-independent ASCII helpers for the secret matchers here and the
// layer scanner's own content rules (oci/supply/secret_rules.cc): file
// names, tokens and variable names are ASCII.
#pragma once

#include <string_view>

namespace kiln::secret_rules {

inline bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
inline char AsciiLowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool IsBase64Char(char c) { return IsAsciiAlnum(c) || c == '+' || c == '/' || c == '='; }
inline bool IsBlankChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Length of the run of chars satisfying `pred` from `pos`, at most `max`.
template <typename Pred>
size_t RunLength(std::string_view t, size_t pos, Pred pred, size_t max = std::string_view::npos) {
  size_t n = 0;
  while (pos + n < t.size() && n < max && pred(t[pos + n])) ++n;
  return n;
}

// `s` from `pos` starts with `lower` (given in lower case), ignoring case.
inline bool StartsFoldedAt(std::string_view s, size_t pos, std::string_view lower) {
  if (pos > s.size() || s.size() - pos < lower.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i)
    if (AsciiLowerChar(s[pos + i]) != lower[i]) return false;
  return true;
}

}  // namespace kiln::secret_rules
