// The credential files of a build context (rule KL004), listed once and
// shared by every Lint call against that context: `kiln lint` of many
// Dockerfiles in one directory walks the directory once, not once per file.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kiln::frontend::lint {

using PathPredicate = std::function<bool(const std::string& path)>;

// Credential files (secret_rules::MatchCredentialFile) under `context_dir` that `excluded` does
// not exclude, as sorted context-relative paths. `may_include_below` says
// whether an excluded directory can still hold re-included files. Either
// predicate may be null. Throws Error when the context cannot be read.
std::vector<std::string> ListContextSecretFiles(const std::string& context_dir, const PathPredicate& excluded,
                                                const PathPredicate& may_include_below);

// ListContextSecretFiles memoized on first use; thread-safe.
class ContextScan {
 public:
  ContextScan(std::string context_dir, PathPredicate excluded, PathPredicate may_include_below)
      : dir_(std::move(context_dir)), excluded_(std::move(excluded)), may_include_below_(std::move(may_include_below)) {}

  const std::string& dir() const { return dir_; }
  // Throws Error (on every call) when the context cannot be read.
  const std::vector<std::string>& SecretFiles();

 private:
  const std::string dir_;
  const PathPredicate excluded_, may_include_below_;
  std::mutex mu_;
  std::optional<std::vector<std::string>> files_;
};

}  // namespace kiln::frontend::lint
