// .dockerignore with moby's patternmatcher semantics: *, ?, [...], **,
// ! exceptions, last match wins, leading / and ./ normalised, comments.
#pragma once

#include <string>
#include <memory>
#include <string_view>
#include <vector>

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

 private:
  struct Pattern;
  std::vector<std::shared_ptr<const Pattern>> patterns_;
};

// Reads .dockerignore lines (comments, blank lines, whitespace trimmed).
std::vector<std::string> ReadIgnoreFile(std::string_view text);

// The ignore file for a build: <dockerfile>.dockerignore beside a named
// Dockerfile wins over <context>/.dockerignore. Returns "" when none exists.
std::string FindIgnoreFile(const std::string& context_dir, const std::string& dockerfile_path);

}  // namespace kiln::frontend
