// .dockerignore with moby's patternmatcher semantics: *, ?, [...], **,
// ! exceptions, last match wins, leading / and ./ normalised, comments.
// Matching errors (a pattern whose character class is invalid, e.g.
// "[z-a]") throw frontend::Error; constructing with a syntax error in a
// pattern ("[", trailing "\\", lone "!") throws too.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/shared_memo.h"

namespace kiln::frontend {

class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  explicit IgnoreMatcher(const std::vector<std::string>& patterns);  // throws on bad pattern

  // `path` is relative to the context root, '/'-separated, no leading "./".
  bool Excluded(std::string_view path) const;
  // True when some exception pattern could re-include files below `dir`, so a
  // walker must descend into an excluded directory.
  bool MayIncludeBelow(std::string_view dir) const;
  bool empty() const;
  bool has_exclusions() const { return has_exclusions_; }
  size_t size() const { return patterns_.size(); }

  // moby's deprecated PatternMatcher.Matches: only the parent directory with
  // as many segments as the pattern is also tried (kept for COPY --exclude
  // compatibility checks and tests).
  bool LegacyMatches(std::string_view path) const;

 private:
  struct Pattern;
  std::vector<std::shared_ptr<const Pattern>> patterns_;
  bool has_exclusions_ = false;
};

// moby's top-level Matches(file, patterns): builds a matcher (throws on a bad
// pattern), cleans `path`, "." never matches, then LegacyMatches.
bool IgnoreMatches(std::string_view path, const std::vector<std::string>& patterns);

// Go's path.Clean for '/'-separated paths ("a//b/../c/" -> "a/c", "" -> ".").
std::string CleanPath(std::string_view path);

// Reads .dockerignore lines (comments, blank lines, whitespace trimmed).
std::vector<std::string> ReadIgnoreFile(std::string_view text);

// The ignore file for a build: <dockerfile>.dockerignore beside a named
// Dockerfile wins over <context>/.dockerignore. Returns "" when none exists.
std::string FindIgnoreFile(const std::string& context_dir, const std::string& dockerfile_path);

// FindIgnoreFile for many Dockerfiles (`kiln lint` of a tree): each
// directory is listed once for its *.dockerignore names, instead of two
// stats per Dockerfile. Thread-safe; lookups of listed directories do not
// block each other.
class IgnoreFileFinder {
 public:
  std::string Find(const std::string& context_dir, const std::string& dockerfile_path);

 private:
  // directory as the path names it -> its *.dockerignore names (nullopt:
  // it could not be listed, so each candidate is stat'ed)
  SharedMemo<std::string, std::optional<std::set<std::string>>> listed_;
};

}  // namespace kiln::frontend
