// SARIF 2.1.0 output in the shape GitHub code scanning ingests.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "frontend/lint/json_writer.h"
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
  // Streamed with keys in sorted order (the layout of the nlohmann DOM this
  // used to be): the results come before the tool, whose rule list gains the
  // shellcheck codes met on the way.
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("$schema");
  w.String("https://json.schemastore.org/sarif-2.1.0.json");
  w.Key("runs");
  w.BeginArray();
  w.BeginObject();
  w.Key("results");
  w.BeginArray();
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
      w.BeginObject();
      w.Key("level");
      w.String(Level(f.severity));
      w.Key("locations");
      w.BeginArray();
      w.BeginObject();
      w.Key("physicalLocation");
      w.BeginObject();
      w.Key("artifactLocation");
      w.BeginObject();
      w.Key("uri");
      w.String(uri);
      w.EndObject();
      w.Key("region");
      w.BeginObject();
      w.Key("endLine");
      w.Int(std::max(line, f.location.end_line));
      w.Key("startColumn");
      w.Int(f.location.column > 0 ? f.location.column : 1);
      w.Key("startLine");
      w.Int(line);
      w.EndObject();
      w.EndObject();
      w.EndObject();
      w.EndArray();
      w.Key("message");
      w.BeginObject();
      w.Key("text");
      w.String(f.message);
      w.EndObject();
      w.Key("ruleId");
      w.String(f.rule);
      w.Key("ruleIndex");
      w.Int(it->second);
      w.EndObject();
    }
  }
  w.EndArray();
  w.Key("tool");
  w.Value({{"driver",
            {{"name", "kiln"},
             {"informationUri", "https://github.com/kiln-build/kiln/blob/main/docs/rules.md"},
             {"rules", std::move(rules)}}}});
  w.EndObject();
  w.EndArray();
  w.Key("version");
  w.String("2.1.0");
  w.EndObject();
  out += '\n';
  return out;
}

}  // namespace kiln::frontend::lint
