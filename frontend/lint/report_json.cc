// JSON output; the schema is documented in docs/lint-json.md. Keys are
// written in sorted order, the layout of the nlohmann DOM this used to be.
#include "frontend/lint/json_writer.h"
#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {

// A file's object sits at depth 2: {"files": [ {...} ]}.
constexpr size_t kFileDepth = 2;

std::string FormatJsonFile(const LintResult& r) {
  std::string out;
  out.reserve(400 * r.findings.size() + 200);  // about what a finding and a file take
  JsonWriter w(out, kFileDepth);
  w.BeginObject();
  w.Key("file");
  w.String(r.filename);
  w.Key("findings");
  w.BeginArray();
  for (const auto& f : r.findings) {
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
  return out;
}

std::string FormatJson(const std::vector<LintResult>& results, const std::vector<std::string>& file_objects) {
  std::string out;
  size_t size = 200;
  for (const auto& o : file_objects) size += o.size() + 8;
  out.reserve(size);
  JsonWriter w(out);
  int counts[4] = {0, 0, 0, 0};
  for (const auto& r : results)
    for (const auto& f : r.findings) ++counts[static_cast<int>(f.severity)];
  w.BeginObject();
  w.Key("files");
  w.BeginArray();
  for (const auto& o : file_objects) w.Raw(o);
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

std::string FormatJson(const std::vector<LintResult>& results) {
  std::vector<std::string> file_objects;
  file_objects.reserve(results.size());
  for (const auto& r : results) file_objects.push_back(FormatJsonFile(r));
  return FormatJson(results, file_objects);
}

}  // namespace kiln::frontend::lint
