// Linter configuration: `.kiln-lint.json` or `.kiln-lint.yaml` (found by
// walking up from the Dockerfile's directory) or a file given with --config.
//
// JSON form:
//   {"ignore": ["KL101", "SC2086"],
//    "severity": {"KL301": "error", "KL104": "off"},
//    "trusted-registries": ["docker.io", "*.corp.example"],
//    "failure-threshold": "warning"}
// YAML form: the same four keys, a simple subset only: `key:` followed by
// `- item` lines (lists) or `  KEY: value` lines (the severity map), or
// `key: value` scalars; `#` comments, blank lines. Anything else is an error.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frontend/lint/rule.h"
#include "frontend/shared_memo.h"

namespace kiln::frontend::lint {

struct LintConfig {
  std::vector<std::string> ignore;                    // rule IDs (KL/SC)
  std::map<std::string, std::string> severity;        // ID -> error|warning|info|off
  std::vector<std::string> trusted_registries;
  std::optional<std::string> failure_threshold;       // error|warning|info|none
  std::string path;                                   // where it was read from
};

// Parses config text; `path` decides the format (.json vs .yaml/.yml) and
// names the file in errors. Throws frontend::Error on malformed input,
// unknown keys or bad severities.
LintConfig ParseLintConfig(const std::string& text, const std::string& path);
LintConfig LoadLintConfig(const std::string& path);

// The nearest .kiln-lint.json / .kiln-lint.yaml / .kiln-lint.yml in the
// directory of `dockerfile_path` or a parent; "" when none ("-" searches
// from the working directory).
std::string FindLintConfig(const std::string& dockerfile_path);

// FindLintConfig memoized per directory: linting a tree of Dockerfiles stats
// each directory once instead of once per file and level. Thread-safe;
// lookups of known directories do not block each other.
class LintConfigFinder {
 public:
  std::string Find(const std::string& dockerfile_path);

 private:
  const std::string& FindFrom(const std::filesystem::path& dir);
  SharedMemo<std::string, std::string> by_dir_;          // absolute dir -> config
  SharedMemo<std::string, std::string> by_written_dir_;  // dir as the path names it -> config
};

}  // namespace kiln::frontend::lint
