// Small UTF-8 and character-class helpers that mirror Go's unicode package,
// so the parser and the shell lexer classify characters exactly as BuildKit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::frontend {

inline constexpr char32_t kRuneError = 0xFFFD;

// Decodes one code point at `s[pos]`; invalid or truncated sequences decode
// as kRuneError with width 1 (Go's utf8.DecodeRuneInString).
char32_t DecodeMultiByteRune(std::string_view s, size_t pos, size_t* width);
inline char32_t DecodeRune(std::string_view s, size_t pos, size_t* width) {
  unsigned char b = static_cast<unsigned char>(s[pos]);
  if (b < 0x80) {
    *width = 1;
    return b;
  }
  return DecodeMultiByteRune(s, pos, width);
}
void AppendMultiByteRune(std::string& out, char32_t cp);
inline void AppendRune(std::string& out, char32_t cp) {
  if (cp < 0x80) out.push_back(static_cast<char>(cp));
  else AppendMultiByteRune(out, cp);
}

// Go unicode.IsSpace / IsLetter / IsDigit. The parser asks for every byte
// of a Dockerfile: ASCII is answered inline.
bool IsNonAsciiSpaceRune(char32_t cp);
inline bool IsSpaceRune(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  return IsNonAsciiSpaceRune(cp);
}
bool IsLetterRune(char32_t cp);
bool IsDigitRune(char32_t cp);

// unicode.IsSpace(rune(b)) on a single byte, as Go code that indexes strings
// by byte does (0x85 and 0xA0 count as space there).
inline bool IsSpaceByte(unsigned char b) {
  return b == ' ' || (b >= '\t' && b <= '\r') || b == 0x85 || b == 0xA0;
}
// The `[\t\v\f\r ]` class BuildKit splits arguments on.
inline bool IsArgSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

// The whitespace of Go's `\s` in RE2 (no \v): directives and heredoc words.
inline bool IsGoSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

// Locale-independent ASCII lower-casing (instruction names, flag values, rule IDs).
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// strings.TrimLeftFunc / TrimRightFunc / TrimSpace with unicode.IsSpace.
std::string_view TrimLeftSpace(std::string_view s);
std::string_view TrimRightSpace(std::string_view s);
inline std::string_view TrimSpace(std::string_view s) { return TrimRightSpace(TrimLeftSpace(s)); }

// Go strconv.Quote.
void AppendGoQuoted(std::string& out, std::string_view s);
std::string GoQuote(std::string_view s);

}  // namespace kiln::frontend
