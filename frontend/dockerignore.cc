// .dockerignore matching with moby/patternmatcher semantics. Patterns are
// classified like upstream (exact / prefix / suffix / glob); globs are
// compiled to a token list and matched with a linear-time reachability scan
// instead of the regular expressions upstream builds.
#include "frontend/dockerignore.h"

#include <filesystem>
#include <optional>
#include <set>

#include "frontend/error.h"
#include "frontend/text_util.h"

namespace kiln::frontend {

// Named, not anonymous: IgnoreMatcher::Pattern (external linkage) derives from it.
namespace dockerignore_internal {
struct IgnorePattern {
  enum class Type { kExact, kPrefix, kSuffix, kGlob };
  enum class Tok { kLit, kAny, kStar, kDoubleStarDirs, kDoubleStarEnd, kClass };
  struct Range {
    char32_t lo, hi;
  };
  struct Token {
    Tok kind;
    char32_t rune = 0;
    bool negated = false;
    std::vector<Range> ranges{};
  };

  std::string cleaned;
  bool exclusion = false;
  size_t dir_count = 0;  // segments in `cleaned`
  Type type = Type::kExact;
  std::vector<Token> tokens;
  std::string bad;  // non-empty: every match fails with this message

  bool Match(std::string_view path) const;
};
}  // namespace dockerignore_internal

namespace {
using dockerignore_internal::IgnorePattern;
using Pattern = IgnorePattern;
}  // namespace

struct IgnoreMatcher::Pattern : IgnorePattern {};

namespace {

const char kBadPattern[] = "syntax error in pattern";

// filepath.Match's getEsc: one (possibly escaped) class character.
bool ClassChar(std::string_view p, size_t* i, char32_t* out) {
  if (*i >= p.size() || p[*i] == '-' || p[*i] == ']') return false;
  if (p[*i] == '\\') {
    ++*i;
    if (*i >= p.size()) return false;
  }
  size_t w;
  *out = DecodeRune(p, *i, &w);
  if (*out == kRuneError && w == 1) return false;
  *i += w;
  return *i < p.size();  // the class must still be closed later
}

// Parses a class starting after '['; leaves *i after ']'.
bool ParseClass(std::string_view p, size_t* i, Pattern::Token* tok) {
  if (*i < p.size() && p[*i] == '^') {
    tok->negated = true;
    ++*i;
  }
  while (true) {
    if (*i < p.size() && p[*i] == ']' && !tok->ranges.empty()) {
      ++*i;
      return true;
    }
    char32_t lo, hi;
    if (!ClassChar(p, i, &lo)) return false;
    hi = lo;
    if (p[*i] == '-') {
      ++*i;
      if (!ClassChar(p, i, &hi)) return false;
    }
    tok->ranges.push_back({lo, hi});
  }
}

// filepath.Match(p, ".") error check: escapes must escape something and
// every class must be well formed.
bool ValidGlobSyntax(std::string_view p) {
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '\\') {
      if (i + 1 >= p.size()) return false;
      i += 2;
    } else if (p[i] == '[') {
      ++i;
      Pattern::Token tok;
      if (!ParseClass(p, &i, &tok)) return false;
    } else {
      ++i;
    }
  }
  return true;
}

void Compile(Pattern* pat) {
  std::string_view p = pat->cleaned;
  using Tok = Pattern::Tok;
  Pattern::Type type = Pattern::Type::kExact;
  std::vector<Pattern::Token>& toks = pat->tokens;
  size_t i = 0;
  for (int index = 0; i < p.size(); ++index) {
    char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        i += 2;
        if (i < p.size() && p[i] == '/') ++i;  // "**/" is "**"
        if (i >= p.size()) {
          if (type == Pattern::Type::kExact) {
            type = Pattern::Type::kPrefix;
          } else {
            toks.push_back({Tok::kDoubleStarEnd});
            type = Pattern::Type::kGlob;
          }
        } else {
          toks.push_back({Tok::kDoubleStarDirs});
          type = Pattern::Type::kGlob;
        }
        if (index == 0) type = Pattern::Type::kSuffix;
      } else {
        ++i;
        toks.push_back({Tok::kStar});
        type = Pattern::Type::kGlob;
      }
      continue;
    }
    if (c == '?') {
      ++i;
      toks.push_back({Tok::kAny});
      type = Pattern::Type::kGlob;
      continue;
    }
    if (c == '\\') {
      ++i;
      if (i < p.size()) {
        size_t w;
        toks.push_back({Tok::kLit, DecodeRune(p, i, &w)});
        i += w;
        type = Pattern::Type::kGlob;
      } else {
        toks.push_back({Tok::kLit, '\\'});
      }
      continue;
    }
    if (c == '[') {
      ++i;
      Pattern::Token tok{Tok::kClass};
      if (!ParseClass(p, &i, &tok)) {
        pat->bad = kBadPattern;
        return;
      }
      for (const auto& r : tok.ranges) {
        if (r.lo > r.hi) pat->bad = kBadPattern;  // Go's regexp rejects [z-a]
      }
      toks.push_back(std::move(tok));
      type = Pattern::Type::kGlob;
      continue;
    }
    size_t w;
    toks.push_back({Tok::kLit, DecodeRune(p, i, &w)});
    i += w;
  }
  pat->type = type;
}

}  // namespace

bool IgnorePattern::Match(std::string_view path) const {
  if (!bad.empty()) throw Error({".dockerignore"}, "bad pattern \"" + cleaned + "\": " + bad);
  switch (type) {
    case Type::kExact:
      return path == cleaned;
    case Type::kPrefix:
      return path.substr(0, cleaned.size() - 2) == std::string_view(cleaned).substr(0, cleaned.size() - 2);
    case Type::kSuffix: {
      std::string_view suffix = std::string_view(cleaned).substr(2);
      if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return true;
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);  // **/foo matches foo
    }
    case Type::kGlob:
      break;
  }
  std::vector<char32_t> v;
  for (size_t pos = 0; pos < path.size();) {
    size_t w;
    v.push_back(DecodeRune(path, pos, &w));
    pos += w;
  }
  const size_t n = v.size();
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  cur[0] = 1;
  for (const Token& tok : tokens) {
    std::fill(next.begin(), next.end(), 0);
    switch (tok.kind) {
      case Tok::kLit:
      case Tok::kAny:
      case Tok::kClass:
        for (size_t j = 0; j < n; ++j) {
          if (!cur[j]) continue;
          char32_t r = v[j];
          bool ok;
          if (tok.kind == Tok::kLit) {
            ok = r == tok.rune;
          } else if (tok.kind == Tok::kAny) {
            ok = r != '/';
          } else {
            bool in = false;
            for (const auto& range : tok.ranges) in = in || (r >= range.lo && r <= range.hi);
            ok = in != tok.negated;
          }
          if (ok) next[j + 1] = 1;
        }
        break;
      case Tok::kStar:  // [^/]*
      case Tok::kDoubleStarEnd:  // .*
        for (size_t j = 0; j <= n; ++j) {
          char32_t stop = tok.kind == Tok::kStar ? '/' : '\n';
          next[j] = cur[j] || (j > 0 && next[j - 1] && v[j - 1] != stop);
        }
        break;
      case Tok::kDoubleStarDirs: {  // (.*/)?
        bool open = false;
        for (size_t j = 0; j <= n; ++j) {
          if (cur[j]) {
            open = true;
            next[j] = 1;
          }
          if (j == n) break;
          if (v[j] == '\n') {
            open = false;
          } else if (v[j] == '/' && open) {
            next[j + 1] = 1;
          }
        }
        break;
      }
    }
    std::swap(cur, next);
  }
  return cur[n] != 0;
}

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  const bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    std::string_view seg = path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    i = slash == std::string_view::npos ? path.size() : slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(seg);
      }
      continue;
    }
    parts.push_back(seg);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out.append(parts[k]);
  }
  return out.empty() ? "." : out;
}

namespace {
// Go's filepath.Dir.
std::string DirOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return CleanPath(slash == std::string_view::npos ? std::string_view() : path.substr(0, slash + 1));
}

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (true) {
    size_t slash = s.find('/', i);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(i));
      return out;
    }
    out.push_back(s.substr(i, slash - i));
    i = slash + 1;
  }
}

std::string JoinPrefix(const std::vector<std::string_view>& parts, size_t count) {
  std::string out;
  for (size_t k = 0; k < count; ++k) {
    if (k) out += '/';
    out.append(parts[k]);
  }
  return out;
}
}  // namespace

IgnoreMatcher::IgnoreMatcher(const std::vector<std::string>& patterns) {
  for (const std::string& raw : patterns) {
    std::string_view trimmed = TrimSpace(raw);
    if (trimmed.empty()) continue;
    auto pat = std::make_shared<IgnoreMatcher::Pattern>();
    std::string p = CleanPath(trimmed);
    if (p[0] == '!') {
      if (p.size() == 1) throw Error({".dockerignore"}, "illegal exclusion pattern: \"!\"");
      pat->exclusion = true;
      has_exclusions_ = true;
      p.erase(0, 1);
    }
    if (!ValidGlobSyntax(p)) {
      throw Error({".dockerignore"}, "bad pattern \"" + p + "\": " + kBadPattern);
    }
    pat->cleaned = std::move(p);
    pat->dir_count = SplitSlash(pat->cleaned).size();
    Compile(pat.get());
    patterns_.push_back(std::move(pat));
  }
}

bool IgnoreMatcher::empty() const { return patterns_.empty(); }

bool IgnoreMatcher::Excluded(std::string_view path) const {
  bool matched = false;
  const std::string parent = DirOf(path);
  std::vector<std::string_view> parent_dirs;
  if (parent != ".") parent_dirs = SplitSlash(parent);
  for (const auto& pat : patterns_) {
    // Inclusions only matter while unmatched, exclusions while matched.
    if (pat->exclusion != matched) continue;
    bool match = pat->Match(path);
    for (size_t k = 0; !match && k < parent_dirs.size(); ++k) match = pat->Match(JoinPrefix(parent_dirs, k + 1));
    if (match) matched = !pat->exclusion;
  }
  return matched;
}

bool IgnoreMatcher::LegacyMatches(std::string_view path) const {
  bool matched = false;
  const std::string parent = DirOf(path);
  std::vector<std::string_view> parent_dirs = SplitSlash(parent);
  for (const auto& pat : patterns_) {
    if (pat->exclusion != matched) continue;
    bool match = pat->Match(path);
    if (!match && parent != "." && pat->dir_count <= parent_dirs.size()) {
      try {
        match = pat->Match(JoinPrefix(parent_dirs, pat->dir_count));
      } catch (const Error&) {
        match = false;  // upstream ignores the error of the parent check
      }
    }
    if (match) matched = !pat->exclusion;
  }
  return matched;
}

bool IgnoreMatcher::MayIncludeBelow(std::string_view dir) const {
  if (!has_exclusions_) return false;
  std::string dir_slash = CleanPath(dir) + "/";
  for (const auto& pat : patterns_) {
    if (!pat->exclusion) continue;
    // A wildcard exception could match anywhere: be conservative.
    if (pat->type != Pattern::Type::kExact) return true;
    std::string pat_slash = pat->cleaned + "/";
    if (pat_slash.compare(0, dir_slash.size(), dir_slash) == 0) return true;
  }
  return false;
}

bool IgnoreMatches(std::string_view path, const std::vector<std::string>& patterns) {
  IgnoreMatcher m(patterns);
  std::string cleaned = CleanPath(path);
  if (cleaned == ".") return false;
  return m.LegacyMatches(cleaned);
}

std::vector<std::string> ReadIgnoreFile(std::string_view text) {
  std::vector<std::string> out;
  bool first = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    first = false;
    if (!line.empty() && line[0] == '#') continue;
    line = TrimSpace(line);
    if (line.empty()) continue;
    const bool invert = line[0] == '!';
    if (invert) line = TrimSpace(line.substr(1));
    std::string pattern;
    if (!line.empty()) {
      pattern = CleanPath(line);
      if (pattern.size() > 1 && pattern[0] == '/') pattern.erase(0, 1);
    }
    out.push_back(invert ? "!" + pattern : pattern);
  }
  return out;
}

namespace {

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// The rule of FindIgnoreFile, with `is_file` saying whether a path is a
// regular file.
template <typename IsFile>
std::string FindIgnoreFileWith(const std::string& context_dir, const std::string& dockerfile_path, IsFile is_file) {
  if (!dockerfile_path.empty()) {
    std::string beside = dockerfile_path + ".dockerignore";
    if (is_file(beside)) return beside;
  }
  std::string in_context = (context_dir.empty() ? std::string(".") : context_dir) + "/.dockerignore";
  return is_file(in_context) ? in_context : "";
}

}  // namespace

std::string FindIgnoreFile(const std::string& context_dir, const std::string& dockerfile_path) {
  return FindIgnoreFileWith(context_dir, dockerfile_path, IsRegularFile);
}

std::string IgnoreFileFinder::Find(const std::string& context_dir, const std::string& dockerfile_path) {
  return FindIgnoreFileWith(context_dir, dockerfile_path, [this](const std::string& path) {
    // Both candidates end in ".dockerignore": a name its directory does not
    // list is no file, and needs no stat.
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const auto& names = listed_.Get(dir, [&] {
      std::set<std::string> found;
      std::error_code ec;
      for (std::filesystem::directory_iterator d(dir, ec), end; !ec && d != end; d.increment(ec))
        if (d->path().filename().native().ends_with(".dockerignore")) found.insert(d->path().filename());
      return ec ? std::nullopt : std::optional(std::move(found));
    });
    if (names && !names->count(path.substr(slash + 1))) return false;
    return IsRegularFile(path);  // listed, or the directory could not be listed
  });
}

}  // namespace kiln::frontend
