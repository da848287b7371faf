// JSON output; the schema is documented in docs/lint-json.md. Keys are
// written in sorted order, the layout of the nlohmann DOM this used to be.
#include "frontend/lint/json_writer.h"
#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {

std::string FormatJson(const std::vector<LintResult>& results) {
  std::string out;
  size_t findings = 0;
  for (const auto& r : results) findings += r.findings.size();
  out.reserve(400 * findings + 200 * results.size());  // about what a finding and a file take
  JsonWriter w(out);
  int counts[4] = {0, 0, 0, 0};
  w.BeginObject();
  w.Key("files");
  w.BeginArray();
  for (const auto& r : results) {
    w.BeginObject();
    w.Key("file");
    w.String(r.filename);
    w.Key("findings");
    w.BeginArray();
    for (const auto& f : r.findings) {
      ++counts[static_cast<int>(f.severity)];
      const Rule* rule = FindRule(f.rule);
      w.BeginObject();
      w.Key("column");
      w.Int(f.location.column > 0 ? f.location.column : 1);
      w.Key("end_line");
      w.Int(f.location.end_line > 0 ? f.location.end_line : f.location.line);
      w.Key("hadolint");
      w.String(rule ? rule->hadolint : "");
      w.Key("line");
      w.Int(f.location.line);
      w.Key("message");
      w.String(f.message);
      w.Key("name");
      w.String(rule ? rule->name : f.rule);
      w.Key("rule");
      w.String(f.rule);
      w.Key("severity");
      w.String(SeverityName(f.severity));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("summary");
  w.BeginObject();
  w.Key("error");
  w.Int(counts[3]);
  w.Key("info");
  w.Int(counts[1]);
  w.Key("warning");
  w.Int(counts[2]);
  w.EndObject();
  w.Key("version");
  w.Int(1);
  w.EndObject();
  out += '\n';
  return out;
}

}  // namespace kiln::frontend::lint
