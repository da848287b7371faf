// SARIF 2.1.0 output in the shape GitHub code scanning ingests.
#include <nlohmann/json.hpp>

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
  std::map<std::string, int> index;
  for (const auto& r : Rules()) {
    index[r.id] = static_cast<int>(rules.size());
    rules.push_back(RuleJson(r));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& res : results) {
    for (const auto& f : res.findings) {
      if (!index.count(f.rule)) {  // shellcheck codes: described on the fly
        index[f.rule] = static_cast<int>(rules.size());
        rules.push_back({{"id", f.rule},
                         {"name", f.rule},
                         {"shortDescription", {{"text", "ShellCheck " + f.rule}}},
                         {"fullDescription", {{"text", "Finding of ShellCheck in a RUN script."}}},
                         {"help", {{"text", "See https://www.shellcheck.net/wiki/" + f.rule},
                                   {"markdown", "See [" + f.rule + "](https://www.shellcheck.net/wiki/" + f.rule + ")"}}},
                         {"defaultConfiguration", {{"level", Level(f.severity)}}}});
      }
      const int line = f.location.line > 0 ? f.location.line : 1;
      std::string uri = f.location.file.empty() ? res.filename : f.location.file;
      if (uri.starts_with("./")) uri = uri.substr(2);
      out.push_back({{"ruleId", f.rule},
                     {"ruleIndex", index[f.rule]},
                     {"level", Level(f.severity)},
                     {"message", {{"text", f.message}}},
                     {"locations",
                      {{{"physicalLocation",
                         {{"artifactLocation", {{"uri", uri}}},
                          {"region",
                           {{"startLine", line},
                            {"startColumn", f.location.column > 0 ? f.location.column : 1},
                            {"endLine", std::max(line, f.location.end_line)}}}}}}}}});
    }
  }
  nlohmann::json doc = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       {{{"tool",
          {{"driver",
            {{"name", "kiln"},
             {"informationUri", "https://github.com/kiln-build/kiln/blob/main/docs/rules.md"},
             {"rules", std::move(rules)}}}}},
         {"results", std::move(out)}}}}};
  return doc.dump(2) + "\n";
}

}  // namespace kiln::frontend::lint
