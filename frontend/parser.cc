// Dockerfile parser with BuildKit's exact line-level semantics
// (frontend/dockerfile/parser/parser.go): logical lines, parser directives,
// continuations, heredocs and the source line range of every instruction.
// Argument splitting per keyword lives in line_parsers.cc.
#include <algorithm>
#include <string>
#include <string_view>

#include "frontend/ast.h"
#include "frontend/error.h"
#include "frontend/line_parsers.h"
#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

// bufio.Scanner's default maximum token size; BuildKit rejects longer lines.
constexpr size_t kMaxLineBytes = 65535;

// Hands out physical lines. `raw` keeps its line ending ("\n" or "\r\n") so
// heredoc bodies can be stored byte for byte; `text` has trailing CR/LF
// removed.
class LineReader {
 public:
  LineReader(std::string_view text, const std::string& filename) : text_(text), filename_(filename) {}

  bool Next(std::string_view* raw, std::string_view* text) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
    std::string_view line = text_.substr(pos_, end - pos_);
    pos_ = end;
    ++line_;
    std::string_view stripped = line;
    while (!stripped.empty() && (stripped.back() == '\n' || stripped.back() == '\r')) stripped.remove_suffix(1);
    if (stripped.size() > kMaxLineBytes) {
      throw Error({filename_, line_, 1, line_},
                  "dockerfile line greater than max allowed size of " + std::to_string(kMaxLineBytes));
    }
    *raw = line;
    *text = stripped;
    return true;
  }
  int line() const { return line_; }

 private:
  std::string_view text_;
  const std::string& filename_;
  size_t pos_ = 0;
  int line_ = 0;
};

bool IsCommentLine(std::string_view text) {
  std::string_view t = TrimLeftSpace(text);
  return !t.empty() && t[0] == '#';
}


// Parser directives (`# escape=`), honoured only before any other line.
class DirectiveScanner {
 public:
  DirectiveScanner(ParseResult* result) : result_(result) {}

  // Returns true when `line` (left-trimmed, no line ending), line number
  // `line_no` of `filename`, was a directive.
  bool Consider(std::string_view line, const std::string& filename, int line_no) {
    if (done_) return false;
    auto where = [&] { return Location{filename, line_no, 1, line_no}; };  // for an error only
    std::string name, value;
    if (!Match(line, &name, &value) || (name != "syntax" && name != "escape" && name != "check")) {
      done_ = true;
      return false;
    }
    if (result_->directives.count(name) != 0) {
      throw Error(where(), "only one " + name + " parser directive can be used");
    }
    if (name == "escape") {
      if (value != "`" && value != "\\") {
        throw Error(where(), "invalid escape token '" + value + "' does not match ` or \\");
      }
      result_->escape = value[0];
    }
    result_->directives.emplace(std::move(name), std::move(value));
    return true;
  }

 private:
  // `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` with Go's ASCII \s.
  static bool Match(std::string_view line, std::string* name, std::string* value) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
    auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    size_t i = 0;
    if (line.empty() || line[0] != '#') return false;
    ++i;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || !is_alpha(line[i])) return false;
    size_t name_start = i;
    while (i < line.size() && (is_alpha(line[i]) || (line[i] >= '0' && line[i] <= '9'))) ++i;
    std::string_view n = line.substr(name_start, i - name_start);
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || line[i] != '=') return false;
    ++i;
    while (i < line.size() && is_space(line[i])) ++i;
    size_t end = line.size();
    while (end > i && is_space(line[end - 1])) --end;
    if (end <= i) return false;
    *name = AsciiLower(n);
    value->assign(line.substr(i, end - i));
    return true;
  }

  ParseResult* result_;
  bool done_ = false;
};

// Removes a line-continuation escape (the escape character, optionally
// followed by spaces/tabs, not itself escaped). Returns true when the line
// continues.
bool TrimContinuation(std::string_view* line, char escape) {
  std::string_view s = *line;
  size_t end = s.size();
  while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t')) --end;
  if (end == 0 || s[end - 1] != escape) return false;
  if (end >= 2 && s[end - 2] == escape) return false;
  *line = s.substr(0, end - 1);
  return true;
}

bool IsHeredocKeyword(std::string_view k) { return k == "run" || k == "copy" || k == "add"; }

bool CanContainHeredoc(const Node& node) {
  const Node* n = &node;
  if (n->keyword == "onbuild" && n->inner) n = n->inner.get();
  return IsHeredocKeyword(n->keyword) && !n->json_form;
}

// A NUL byte never belongs in a Dockerfile: binary data (`-f -` fed the
// wrong file) is refused where it starts, before anything is built from it.
void RefuseBinary(std::string_view text, const std::string& filename) {
  const size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return;
  const std::string_view before = text.substr(0, nul);
  Location where;
  where.file = filename;
  where.line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  const size_t bol = before.rfind('\n');
  where.column = static_cast<int>(nul - (bol == std::string_view::npos ? 0 : bol + 1)) + 1;
  throw Error(where, "NUL byte: this is binary data, not a Dockerfile");
}

}  // namespace

ParseResult Parse(std::string_view text, const std::string& filename) {
  RefuseBinary(text, filename);
  ParseResult result;
  result.filename = filename;
  LineReader reader(text, filename);
  DirectiveScanner directives(&result);
  std::vector<std::string> comments;
  std::string line;
  std::string_view raw, phys;
  bool first = true;

  while (reader.Next(&raw, &phys)) {
    if (first) {
      first = false;
      if (phys.substr(0, 3) == "\xEF\xBB\xBF") phys.remove_prefix(3);
    }
    const int start_line = reader.line();
    std::string_view trimmed = TrimLeftSpace(phys);
    if (directives.Consider(trimmed, filename, start_line)) continue;
    if (!trimmed.empty() && trimmed[0] == '#') {
      std::string_view c = TrimSpace(trimmed.substr(1));
      if (c.empty()) {
        comments.clear();
      } else {
        comments.emplace_back(c);
      }
      continue;
    }
    bool continues = TrimContinuation(&trimmed, result.escape);
    if (!continues && trimmed.empty()) continue;
    line.assign(trimmed);

    bool empty_continuation = false;
    while (continues && reader.Next(&raw, &phys)) {
      if (IsCommentLine(phys)) continue;
      if (TrimLeftSpace(phys).empty()) {
        empty_continuation = true;
        continue;
      }
      std::string_view part = phys;
      continues = TrimContinuation(&part, result.escape);
      line.append(part);
    }
    // Built only for an error: a Location copies the file name.
    auto where = [&] { return Location{filename, start_line, 0, reader.line()}; };
    if (TrimSpace(line).empty()) {
      // Only a file ending in a continuation can get here; BuildKit would
      // produce a nameless instruction.
      throw Error(where(), "empty continuation line at end of file: the instruction has no content");
    }
    if (empty_continuation) {
      result.warnings.push_back({reader.line(), "Empty continuation line found in: " + line +
                                                    " (empty continuation lines will become errors "
                                                    "in a future release)"});
    }

    Node node;
    try {
      node = NodeFromLine(line, result.escape);
    } catch (const LineError& e) {
      throw Error(where(), e.what());
    }
    node.empty_continuation = empty_continuation;

    if (CanContainHeredoc(node) && line.find("<<") != std::string::npos) {
      try {
        node.heredocs = HeredocsFromLine(line);
      } catch (const Error& e) {
        throw Error(where(), e.message());
      }
      for (Heredoc& doc : node.heredocs) {
        bool terminated = false;
        while (reader.Next(&raw, &phys)) {
          std::string_view candidate = phys;
          if (doc.chomp) {
            while (!candidate.empty() && candidate[0] == '\t') candidate.remove_prefix(1);
          }
          if (candidate == doc.name) {
            terminated = true;
            break;
          }
          doc.content.append(raw);
        }
        if (!terminated) {
          throw Error({filename, start_line, 0, reader.line()},
                      "unterminated heredoc: no line \"" + doc.name + "\" ends the heredoc started here");
        }
      }
    }
    node.original = std::move(line);
    node.start_line = start_line;
    node.end_line = reader.line();
    node.comments = std::move(comments);
    comments.clear();
    result.instructions.push_back(std::move(node));
  }

  if (result.instructions.empty()) {
    throw Error({filename, reader.line(), 0, reader.line()}, "file with no instructions");
  }
  return result;
}

std::string Heredoc::Body() const { return chomp ? ChompHeredocContent(content) : content; }

std::string ChompHeredocContent(std::string_view content) {
  std::string out;
  out.reserve(content.size());
  bool at_line_start = true;
  for (char c : content) {
    if (at_line_start && c == '\t') continue;
    at_line_start = c == '\n';
    out += c;
  }
  return out;
}

}  // namespace kiln::frontend
