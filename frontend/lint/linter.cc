#include "frontend/lint/linter.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "frontend/lint/rules_common.h"
#include "frontend/text_util.h"

namespace kiln::frontend::lint {

bool StartsWithVar(std::string_view s) { return s.starts_with("$"); }

bool IsUrl(std::string_view s) {
  return s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git://") || s.starts_with("ftp://");
}

void RuleContext::Report(std::string_view id, const Location& where, std::string message) {
  const Rule* rule = FindRule(id);
  Finding f{std::string(id), rule ? rule->severity : Severity::kWarning, std::move(message), where};
  if (f.location.file.empty()) f.location.file = df.filename;
  if (f.location.column == 0) f.location.column = 1;
  if (f.location.end_line < f.location.line) f.location.end_line = f.location.line;
  findings.push_back(std::move(f));
}

std::string_view RuleContext::Script(const RunCmd& run, std::string& joined) {
  std::string_view s;
  if (run.args.size() == 1) {
    s = run.args[0];  // the usual case: no copy
  } else if (run.args.size() > 1) {
    joined = run.args[0];
    for (size_t i = 1; i < run.args.size(); ++i) joined.append(" ").append(run.args[i]);
    s = joined;
  }
  // `RUN <<EOF` runs the heredoc body as the script.
  std::string_view trimmed(s);
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
  if (trimmed.starts_with("<<") && !run.heredocs.empty()) return run.heredocs.front().content;
  return s;
}

const std::vector<ShellCommand>& RuleContext::Commands(const Instruction& ins) {
  auto it = split_.find(&ins);
  if (it != split_.end()) return it->second.commands();
  const auto* run = std::get_if<RunCmd>(&ins.command);
  if (run && run->shell_form) {
    std::string joined;
    return split_.try_emplace(&ins, Script(*run, joined)).first->second.commands();
  }
  // ["sh", "-c", "script"]: the script is what runs.
  if (run && run->args.size() >= 3 && BaseName(run->args[0]).ends_with("sh") && run->args[1] == "-c")
    return split_.try_emplace(&ins, run->args[2]).first->second.commands();
  if (run && !run->args.empty()) return split_.try_emplace(&ins, run->args).first->second.commands();
  return split_.try_emplace(&ins, std::string_view()).first->second.commands();
}

int RuleContext::StageRef(const std::string& ref, int before) const {
  if (ref.empty()) return -1;
  const std::string lower = AsciiLower(ref);
  for (const auto& st : df.stages) {
    if (st.index >= before) break;
    if (!st.name.empty() && st.name == lower) return st.index;
  }
  if (std::all_of(ref.begin(), ref.end(), ::isdigit) && ref.size() < 6) {
    int n = std::stoi(ref);
    if (n < before && n < static_cast<int>(df.stages.size())) return n;
  }
  return -1;
}

namespace {

std::vector<std::string> SplitIds(std::string_view list) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : list) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct Pragmas {
  std::set<std::string> global;
  std::map<int, std::set<std::string>> at_line;  // comment line -> IDs
  std::vector<std::string_view> lines;  // into the source text
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Pragmas ScanPragmas(std::string_view text) {
  Pragmas p;
  // Both pragmas start with "kiln-": most files have neither, and need no
  // line-by-line look.
  if (text.find("kiln-") == std::string_view::npos) return p;
  size_t start = 0;
  int line = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view l = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++line;
    p.lines.push_back(l);
    std::string_view t = Trim(l);
    if (t.starts_with("#")) {
      t.remove_prefix(1);
      t = Trim(t);
      if (t.starts_with("kiln-global-ignore=")) {
        for (auto& id : SplitIds(t.substr(19))) p.global.insert(id);
      } else if (t.starts_with("kiln-ignore=")) {
        for (auto& id : SplitIds(t.substr(12))) p.at_line[line].insert(id);
      }
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return p;
}

// IDs silenced by `# kiln-ignore=` comments directly above `line`.
bool IgnoredAt(const Pragmas& p, int line, const std::string& id) {
  if (p.at_line.empty()) return false;
  for (int l = line - 1; l >= 1 && l <= static_cast<int>(p.lines.size()); --l) {
    std::string_view t = Trim(p.lines[static_cast<size_t>(l - 1)]);
    if (!t.starts_with("#")) break;
    auto it = p.at_line.find(l);
    if (it != p.at_line.end() && it->second.count(id)) return true;
  }
  return false;
}

}  // namespace

LintResult Lint(const Dockerfile& df, const LintOptions& opts) {
  std::vector<std::string> trusted = opts.trusted_registries;
  trusted.insert(trusted.end(), opts.config.trusted_registries.begin(), opts.config.trusted_registries.end());
  RuleContext ctx(df, opts, trusted);
  CheckSecurityRules(ctx);
  CheckImageRules(ctx);
  CheckPackageRules(ctx);
  CheckShellRules(ctx);
  CheckInstructionRules(ctx);
  if (opts.check_script) CheckShellcheck(ctx);

  std::set<std::string> ignored(opts.ignore.begin(), opts.ignore.end());
  ignored.insert(opts.config.ignore.begin(), opts.config.ignore.end());
  Pragmas pragmas = ScanPragmas(opts.source_text);
  ignored.insert(pragmas.global.begin(), pragmas.global.end());

  LintResult result;
  result.filename = df.filename;
  for (auto& f : ctx.findings) {
    if (ignored.count(f.rule)) continue;
    if (IgnoredAt(pragmas, f.location.line, f.rule)) continue;
    auto sev = opts.config.severity.find(f.rule);
    if (sev != opts.config.severity.end()) {
      if (sev->second == "off" || sev->second == "ignore" || sev->second == "none") continue;
      if (auto s = ParseSeverity(sev->second)) f.severity = *s;
    }
    result.findings.push_back(std::move(f));
  }
  std::stable_sort(result.findings.begin(), result.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.location.line != b.location.line) return a.location.line < b.location.line;
    return a.rule < b.rule;
  });
  return result;
}

LintResult LintSource(std::string_view text, const std::string& filename, LintOptions options) {
  Dockerfile df = ParseDockerfile(text, filename);
  options.source_text = text;
  return Lint(df, options);
}

bool HasErrors(const LintResult& r) {
  return std::any_of(r.findings.begin(), r.findings.end(), [](const Finding& f) { return f.severity == Severity::kError; });
}

std::optional<Severity> ParseThreshold(std::string_view t) {
  if (t == "none") return std::nullopt;
  if (t == "error" || t == "warning" || t == "info") return ParseSeverity(t);
  throw Error(Location{}, "invalid failure threshold '" + std::string(t) + "' (expected error, warning, info or none)");
}

bool ReachesThreshold(const LintResult& r, std::optional<Severity> threshold) {
  if (!threshold) return false;
  return std::any_of(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.severity >= *threshold; });
}

}  // namespace kiln::frontend::lint
