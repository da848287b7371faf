// Reading lint results in tests: which rules fired.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint::testing {

inline std::vector<std::string> Ids(const LintResult& r) {
  std::vector<std::string> ids;
  for (const auto& f : r.findings) ids.push_back(f.rule);
  return ids;
}

inline bool Fires(const LintResult& r, const std::string& id) {
  auto ids = Ids(r);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace kiln::frontend::lint::testing
