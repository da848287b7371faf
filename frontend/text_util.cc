#include "frontend/text_util.h"

#include <clocale>
#include <cwctype>
#include <locale.h>

namespace kiln::frontend {

char32_t DecodeMultiByteRune(std::string_view s, size_t pos, size_t* width) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  size_t left = s.size() - pos;
  unsigned char b0 = p[0];
  *width = 1;
  if (b0 < 0x80) return b0;
  size_t need;
  char32_t cp;
  char32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return kRuneError;
  }
  if (left < need) return kRuneError;
  for (size_t i = 1; i < need; ++i) {
    if ((p[i] & 0xC0) != 0x80) return kRuneError;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kRuneError;
  *width = need;
  return cp;
}

void AppendMultiByteRune(std::string& out, char32_t cp) {  // cp >= 0x80
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kRuneError;
  if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsNonAsciiSpaceRune(char32_t cp) {
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {
// Non-ASCII classification uses glibc's built-in C.UTF-8 tables; created
// once and never freed (process lifetime), without touching the global locale.
locale_t Utf8Locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}
}  // namespace

bool IsLetterRune(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  locale_t loc = Utf8Locale();
  return loc != static_cast<locale_t>(0) && iswalpha_l(static_cast<wint_t>(cp), loc) &&
         !iswdigit_l(static_cast<wint_t>(cp), loc);
}

bool IsDigitRune(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  // Go's IsDigit is category Nd; the common non-ASCII decimal blocks suffice here.
  static constexpr char32_t kZeros[] = {0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66,
                                        0xBE6, 0xC66, 0xCE6, 0xD66, 0xE50, 0xED0, 0xF20, 0x1040,
                                        0x17E0, 0x1810, 0xFF10};
  for (char32_t z : kZeros) {
    if (cp >= z && cp <= z + 9) return true;
  }
  return false;
}

std::string_view TrimLeftSpace(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[pos]);
    if (b < 0x80) {  // ASCII fast path
      if (!IsSpaceRune(b)) break;
      ++pos;
      continue;
    }
    size_t w;
    char32_t cp = DecodeRune(s, pos, &w);
    if (!IsSpaceRune(cp) || (cp == kRuneError && w == 1)) break;
    pos += w;
  }
  return s.substr(pos);
}

std::string_view TrimRightSpace(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    unsigned char last = static_cast<unsigned char>(s[end - 1]);
    if (last < 0x80) {
      if (!IsSpaceRune(last)) break;
      --end;
      continue;
    }
    // Find the start of the trailing multi-byte sequence (at most 4 bytes).
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t w;
    char32_t cp = DecodeRune(s, start, &w);
    if (start + w != end || !IsSpaceRune(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

namespace {
bool IsPrintableRune(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  if (cp >= 0x80 && cp < 0xA0) return false;
  if (cp == 0xAD) return false;  // soft hyphen is Cf
  // Go's IsPrint excludes non-ASCII spaces other than U+0020.
  if (IsSpaceRune(cp)) return false;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;  // private use
  if (cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) || cp == 0xFFFE || cp == 0xFFFF) return false;
  if ((cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F))
    return false;
  if (cp >= 0xF0000) return false;
  locale_t loc = Utf8Locale();
  if (loc == static_cast<locale_t>(0)) return true;
  return iswprint_l(static_cast<wint_t>(cp), loc);
}
}  // namespace

void AppendGoQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t pos = 0;
  while (pos < s.size()) {
    size_t w;
    char32_t cp = DecodeRune(s, pos, &w);
    if (cp == kRuneError && w == 1) {
      unsigned char b = static_cast<unsigned char>(s[pos]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      pos += 1;
      continue;
    }
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (IsPrintableRune(cp)) {
      out.append(s.substr(pos, w));
    } else {
      switch (cp) {
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (cp < 0x20 || cp == 0x7F) {
            out += "\\x";
            out += kHex[cp >> 4];
            out += kHex[cp & 0xF];
          } else if (cp < 0x10000) {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
          } else {
            out += "\\U";
            for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
          }
      }
    }
    pos += w;
  }
  out += '"';
}

std::string GoQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendGoQuoted(out, s);
  return out;
}

}  // namespace kiln::frontend
