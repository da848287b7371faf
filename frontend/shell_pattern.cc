#include "frontend/shell_pattern.h"

#include <stdexcept>
#include <vector>

#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

enum class Tok { kStar, kAny, kLit };
struct Token {
  Tok kind;
  char32_t rune = 0;
};

std::vector<char32_t> Runes(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t w;
    out.push_back(DecodeRune(s, pos, &w));
    pos += w;
  }
  return out;
}

std::vector<Token> Tokenize(const std::vector<char32_t>& p) {
  std::vector<Token> toks;
  for (size_t i = 0; i < p.size(); ++i) {
    char32_t c = p[i];
    if (c == '*') {
      toks.push_back({Tok::kStar});
    } else if (c == '?') {
      toks.push_back({Tok::kAny});
    } else if (c == '\\') {
      if (i + 1 < p.size() && (p[i + 1] == '}' || p[i + 1] == '/')) continue;
      char32_t next = i + 1 < p.size() ? p[i + 1] : kRuneError;
      if (next != '*' && next != '?' && next != '\\') {
        std::string msg = "invalid escape '\\";
        AppendRune(msg, next);
        throw std::invalid_argument(msg + "'");
      }
      ++i;
      toks.push_back({Tok::kLit, next});
    } else {
      toks.push_back({Tok::kLit, c});
    }
  }
  return toks;
}

// best[v] = end (rune index) of the preferred match of the whole pattern
// starting at v, or -1. Computed right to left over the tokens, one row at a
// time, so the cost is O(tokens * runes).
std::vector<int> MatchEnds(const std::vector<Token>& toks, const std::vector<char32_t>& v, bool greedy) {
  const int n = static_cast<int>(v.size());
  std::vector<int> next(n + 1), cur(n + 1);
  for (int i = 0; i <= n; ++i) next[i] = i;
  for (int t = static_cast<int>(toks.size()) - 1; t >= 0; --t) {
    const Token& tok = toks[t];
    if (tok.kind == Tok::kStar) {
      int found = -1;  // greedy: largest good k in [i, line end]; lazy: smallest
      for (int i = n; i >= 0; --i) {
        if (i < n && v[i] == '\n') found = -1;  // a star cannot cross a newline
        if (next[i] != -1) {
          if (!greedy || found == -1) found = i;
        }
        cur[i] = found == -1 ? -1 : next[found];
      }
    } else {
      for (int i = 0; i <= n; ++i) {
        bool ok = i < n && (tok.kind == Tok::kAny ? v[i] != '\n' : v[i] == tok.rune);
        cur[i] = ok ? next[i + 1] : -1;
      }
    }
    std::swap(cur, next);
  }
  return next;
}

std::string FromRunes(const std::vector<char32_t>& r, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) AppendRune(out, r[i]);
  return out;
}

std::vector<char32_t> ReversePattern(const std::vector<char32_t>& p) {
  // Reverses, but keeps each escape pair in order (a\*c -> c\*a).
  std::vector<char32_t> out(p.size());
  size_t last = p.size() - 1;
  for (size_t i = 0; i < p.size();) {
    size_t o = last - i;
    if (p[i] == '\\' && i != last) {
      out[o - 1] = p[i];
      out[o] = p[i + 1];
      i += 2;
    } else {
      out[o] = p[i];
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string TrimShellPrefix(std::string_view pattern, std::string_view value, bool greedy) {
  std::vector<Token> toks = Tokenize(Runes(pattern));
  std::vector<char32_t> v = Runes(value);
  std::vector<int> ends = MatchEnds(toks, v, greedy);
  if (ends[0] == -1) return std::string(value);
  // Byte offset of rune index ends[0].
  size_t pos = 0;
  for (int i = 0; i < ends[0]; ++i) {
    size_t w;
    DecodeRune(value, pos, &w);
    pos += w;
  }
  return std::string(value.substr(pos));
}

std::string TrimShellSuffix(std::string_view pattern, std::string_view value, bool greedy) {
  // Like BuildKit: reverse pattern and value, trim a prefix, reverse back.
  std::vector<char32_t> p = Runes(pattern);
  if (!p.empty()) p = ReversePattern(p);
  std::vector<char32_t> v = Runes(value);
  std::vector<char32_t> rv(v.rbegin(), v.rend());
  std::vector<int> ends = MatchEnds(Tokenize(p), rv, greedy);
  size_t cut = ends[0] == -1 ? 0 : static_cast<size_t>(ends[0]);
  // Remaining reversed runes rv[cut..] reversed back are v[0 .. n-cut).
  return FromRunes(v, 0, v.size() - cut);
}

std::string ReplaceShellPattern(std::string_view value, std::string_view pattern,
                                std::string_view replacement, bool all) {
  std::vector<Token> toks = Tokenize(Runes(pattern));
  std::vector<char32_t> v;
  std::vector<size_t> offset;  // byte offset of each rune, plus the end
  v.reserve(value.size());
  size_t pos = 0;
  while (pos < value.size()) {
    size_t w;
    v.push_back(DecodeRune(value, pos, &w));
    offset.push_back(pos);
    pos += w;
  }
  offset.push_back(value.size());
  const int n = static_cast<int>(v.size());
  std::vector<int> ends = MatchEnds(toks, v, /*greedy=*/true);
  auto leftmost = [&](int from) {
    for (int s = from; s <= n; ++s) {
      if (ends[s] != -1) return s;
    }
    return -1;
  };
  std::string out;
  if (!all) {
    int s = leftmost(0);
    if (s == -1) return std::string(value);
    out.append(value.substr(0, offset[s]));
    out.append(replacement);
    out.append(value.substr(offset[ends[s]]));
    return out;
  }
  // Go's Regexp.ReplaceAllString loop: an empty match right after a match
  // is not replaced, and the search always advances.
  int search = 0, last_end = 0;
  while (search <= n) {
    int s = leftmost(search);
    if (s == -1) break;
    int e = ends[s];
    out.append(value.substr(offset[last_end], offset[s] - offset[last_end]));
    if (e > last_end || s == 0) out.append(replacement);
    last_end = e;
    search = search + 1 > e ? search + 1 : e;
  }
  out.append(value.substr(offset[last_end]));
  return out;
}

}  // namespace kiln::frontend
