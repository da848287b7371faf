#include "frontend/lint/context_scan.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "frontend/error.h"
#include "oci/supply/secret_rules/files.h"

namespace kiln::frontend::lint {

std::vector<std::string> ListContextSecretFiles(const std::string& context_dir, const PathPredicate& excluded,
                                                const PathPredicate& may_include_below) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  std::error_code ec;
  fs::path root(context_dir);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw Error(Location{context_dir}, "cannot read build context: " + ec.message());
  size_t visited = 0;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    // Bound the walk: a linter must not hang on a huge context (e.g. $HOME).
    if (++visited > 200000) break;
    // lexically_relative: fs::relative would canonicalise (a realpath per entry).
    const std::string rel = it->path().lexically_relative(root).generic_string();
    const bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    if (is_dir) {
      if (rel == ".git" || (excluded && excluded(rel) && !(may_include_below && may_include_below(rel))))
        it.disable_recursion_pending();
      continue;
    }
    if (!secret_rules::MatchCredentialFile(rel)) continue;
    if (excluded && excluded(rel)) continue;
    found.push_back(rel);
  }
  std::sort(found.begin(), found.end());
  return found;
}

const std::vector<std::string>& ContextScan::SecretFiles() {
  std::lock_guard lock(mu_);
  // A failed walk leaves files_ empty, so the next caller gets the error too.
  if (!files_) files_ = ListContextSecretFiles(dir_, excluded_, may_include_below_);
  return *files_;
}

}  // namespace kiln::frontend::lint
