// SARIF 2.1.0 output in the shape GitHub code scanning ingests.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {
namespace {

std::string Level(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "note";
  }
  return "note";
}

nlohmann::json RuleJson(const Rule& r) {
  std::string help = r.rationale + "\n\nFix: " + r.fix;
  std::string md = r.rationale + "\n\n**Fix:** " + r.fix + "\n\nTriggers:\n\n```dockerfile\n" + r.bad + "```\n";
  nlohmann::json j = {{"id", r.id},
                      {"name", r.name},
                      {"shortDescription", {{"text", r.title}}},
                      {"fullDescription", {{"text", r.rationale}}},
                      {"help", {{"text", help}, {"markdown", md}}},
                      {"helpUri", "https://github.com/kiln-build/kiln/blob/main/docs/rules.md#" + [&] {
                         std::string a = r.id;
                         for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                         return a;
                       }()},
                      {"defaultConfiguration", {{"level", Level(r.severity)}}}};
  if (!r.hadolint.empty()) j["properties"] = {{"tags", {"dockerfile", r.hadolint}}};
  return j;
}

}  // namespace

std::string FormatSarif(const std::vector<LintResult>& results) {
  nlohmann::json rules = nlohmann::json::array();
  std::map<std::string, int, std::less<>> index;
  for (const auto& r : Rules()) {
    index[r.id] = static_cast<int>(rules.size());
    rules.push_back(RuleJson(r));
  }
  nlohmann::json sarif_results = nlohmann::json::array();
  for (const auto& res : results) {
    for (const auto& f : res.findings) {
      auto it = index.find(f.rule);
      if (it == index.end()) {  // shellcheck codes: described on the fly
        it = index.emplace(f.rule, static_cast<int>(rules.size())).first;
        rules.push_back({{"id", f.rule},
                         {"name", f.rule},
                         {"shortDescription", {{"text", "ShellCheck " + f.rule}}},
                         {"fullDescription", {{"text", "Finding of ShellCheck in a RUN script."}}},
                         {"help", {{"text", "See https://www.shellcheck.net/wiki/" + f.rule},
                                   {"markdown", "See [" + f.rule + "](https://www.shellcheck.net/wiki/" + f.rule + ")"}}},
                         {"defaultConfiguration", {{"level", Level(f.severity)}}}});
      }
      const int line = f.location.line > 0 ? f.location.line : 1;
      std::string_view uri = f.location.file.empty() ? res.filename : f.location.file;
      if (uri.starts_with("./")) uri.remove_prefix(2);
      nlohmann::json region = {{"endLine", std::max(line, f.location.end_line)},
                               {"startColumn", f.location.column > 0 ? f.location.column : 1},
                               {"startLine", line}};
      sarif_results.push_back(
          {{"level", Level(f.severity)},
           {"locations", {{{"physicalLocation", {{"artifactLocation", {{"uri", uri}}}, {"region", std::move(region)}}}}}},
           {"message", {{"text", f.message}}},
           {"ruleId", f.rule},
           {"ruleIndex", it->second}});
    }
  }
  nlohmann::json tool = {{"driver",
                          {{"name", "kiln"},
                           {"informationUri", "https://github.com/kiln-build/kiln/blob/main/docs/rules.md"},
                           {"rules", std::move(rules)}}}};
  nlohmann::json doc = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                        {"runs", {{{"results", std::move(sarif_results)}, {"tool", std::move(tool)}}}},
                        {"version", "2.1.0"}};
  return doc.dump(2) + "\n";

}

}  // namespace kiln::frontend::lint
