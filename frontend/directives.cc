// Locating the `syntax` / `check` directive without a full parse
// (BuildKit's DetectSyntax / ParseDirective): `#` directives, then `//`
// directives, then a whole-file JSON object.
#include <nlohmann/json.hpp>

#include "frontend/ast.h"
#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// `^<prefix>\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
bool MatchDirective(std::string_view line, std::string_view prefix, std::string* name, std::string* value) {
  if (line.substr(0, prefix.size()) != prefix) return false;
  size_t i = prefix.size();
  while (i < line.size() && IsGoSpace(line[i])) ++i;
  if (i >= line.size() || !IsAlpha(line[i])) return false;
  size_t start = i;
  while (i < line.size() && (IsAlpha(line[i]) || (line[i] >= '0' && line[i] <= '9'))) ++i;
  name->clear();
  for (char c : line.substr(start, i - start)) *name += static_cast<char>(IsAlpha(c) ? (c | 0x20) : c);
  while (i < line.size() && IsGoSpace(line[i])) ++i;
  if (i >= line.size() || line[i] != '=') return false;
  ++i;
  while (i < line.size() && IsGoSpace(line[i])) ++i;
  size_t end = line.size();
  while (end > i && IsGoSpace(line[end - 1])) --end;
  if (end <= i) return false;
  value->assign(line.substr(i, end - i));
  return true;
}

std::optional<SyntaxDirective> FromComments(std::string_view text, std::string_view prefix,
                                            const std::string& key, int first_line) {
  int line_no = first_line;
  size_t pos = 0;
  std::map<std::string, bool> seen;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r')) line.remove_suffix(1);
    std::string name, value;
    if (!MatchDirective(line, prefix, &name, &value)) break;
    if (name != "syntax" && name != "escape" && name != "check") break;
    if (seen[name]) break;  // repeated directive: BuildKit gives up
    seen[name] = true;
    if (name == key) {
      SyntaxDirective d;
      d.cmdline = value;
      d.ref = value.substr(0, value.find(' '));
      d.line = line_no;
      return d;
    }
  }
  return std::nullopt;
}

std::optional<SyntaxDirective> Detect(std::string_view text, const std::string& key, bool other_forms) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line = 0;
  if (text.substr(0, 2) == "#!") {
    size_t nl = text.find('\n');
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = 1;
  }
  if (auto d = FromComments(text, "#", key, line)) return d;
  if (!other_forms) return std::nullopt;
  if (auto d = FromComments(text, "//", key, line)) return d;
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) {
    auto it = doc.find(key);
    if (it != doc.end() && it->is_string()) {
      SyntaxDirective d;
      d.ref = d.cmdline = it->get<std::string>();
      d.line = line;
      return d;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<SyntaxDirective> DetectSyntax(std::string_view text) { return Detect(text, "syntax", true); }

std::optional<SyntaxDirective> DetectCheckDirective(std::string_view text) {
  return Detect(text, "check", false);
}

}  // namespace kiln::frontend
