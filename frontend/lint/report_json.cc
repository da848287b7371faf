// JSON output; the schema is documented in docs/lint-json.md.
#include <nlohmann/json.hpp>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {

std::string FormatJson(const std::vector<LintResult>& results) {
  nlohmann::json files = nlohmann::json::array();
  int counts[4] = {0, 0, 0, 0};
  for (const auto& r : results) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : r.findings) {
      ++counts[static_cast<int>(f.severity)];
      const Rule* rule = FindRule(f.rule);
      findings.push_back({{"column", f.location.column > 0 ? f.location.column : 1},
                          {"end_line", f.location.end_line > 0 ? f.location.end_line : f.location.line},
                          {"hadolint", rule ? rule->hadolint : ""},
                          {"line", f.location.line},
                          {"message", f.message},
                          {"name", rule ? rule->name : f.rule},
                          {"rule", f.rule},
                          {"severity", SeverityName(f.severity)}});
    }
    files.push_back({{"file", r.filename}, {"findings", std::move(findings)}});
  }
  nlohmann::json doc = {{"files", std::move(files)},
                        {"summary", {{"error", counts[3]}, {"info", counts[1]}, {"warning", counts[2]}}},
                        {"version", 1}};
  return doc.dump(2) + "\n";
}

}  // namespace kiln::frontend::lint
