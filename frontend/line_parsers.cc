#include "frontend/line_parsers.h"

#include <nlohmann/json.hpp>

#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

// Splits on runs of [\t\v\f\r ] (BuildKit's reWhitespace), at most `max`
// pieces (0 = unlimited).
void SplitOnSeparators(std::string_view s, std::vector<std::string>* out, size_t max = 0) {
  size_t pos = 0;
  while (true) {
    if (max != 0 && out->size() + 1 == max) {
      out->emplace_back(s.substr(pos));
      return;
    }
    size_t sep = pos;
    while (sep < s.size() && !IsArgSeparator(s[sep])) ++sep;
    out->emplace_back(s.substr(pos, sep - pos));
    if (sep == s.size()) return;
    while (sep < s.size() && IsArgSeparator(s[sep])) ++sep;
    pos = sep;
  }
}

// Leading --flags of an instruction (extractBuilderFlags): quotes removed,
// backslash makes the next byte literal, a bare "--" ends the flags.
std::string_view ExtractFlags(std::string_view line, std::vector<std::string>* flags) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    const bool at_end = pos == line.size();
    char ch = at_end ? 0 : line[pos];
    if (phase == kSpaces) {
      if (at_end) break;
      if (IsSpaceByte(static_cast<unsigned char>(ch))) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = kWord;
    }
    if (at_end) {
      if (word != "--" && (blank_ok || !word.empty())) flags->push_back(std::move(word));
      break;
    }
    if (phase == kWord) {
      if (IsSpaceByte(static_cast<unsigned char>(ch))) {
        phase = kSpaces;
        if (word == "--") return line.substr(pos);
        if (blank_ok || !word.empty()) flags->push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    // kQuote
    if (ch == quote) {
      phase = kWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = kWord;
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return {};
}

void ParseNameVal(std::string_view rest, const char* key, char escape, Node* node) {
  std::vector<std::string> words = SplitArgWords(rest, escape);
  if (words.empty()) return;
  if (words[0].find('=') == std::string::npos) {
    // Legacy `ENV key value with spaces`.
    std::vector<std::string> parts;
    SplitOnSeparators(rest, &parts, 2);
    if (parts.size() < 2) throw LineError(std::string(key) + " must have two arguments");
    node->args.push_back(std::move(parts[0]));
    node->args.push_back(std::move(parts[1]));
    node->args.emplace_back();
    return;
  }
  for (std::string& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) {
      throw LineError("Syntax error - can't find = in " + GoQuote(w) + ". Must be of the form: name=value");
    }
    node->args.push_back(w.substr(0, eq));
    node->args.push_back(w.substr(eq + 1));
    node->args.emplace_back("=");
  }
}

void ParseWhitespaceDelimited(std::string_view rest, Node* node) {
  if (rest.empty()) return;
  SplitOnSeparators(rest, &node->args);
}

void ParseMaybeJson(std::string_view rest, Node* node) {
  if (rest.empty()) return;
  if (auto items = ParseJsonArray(rest)) {
    node->args = std::move(*items);
    node->json_form = true;
    return;
  }
  node->args.emplace_back(rest);
}

void ParseMaybeJsonToList(std::string_view rest, Node* node) {
  if (auto items = ParseJsonArray(rest)) {
    node->args = std::move(*items);
    node->json_form = true;
    return;
  }
  ParseWhitespaceDelimited(rest, node);
}

void ParseHealthcheck(std::string_view rest, Node* node) {
  size_t sep = 0;
  while (sep < rest.size() && !IsSpaceByte(static_cast<unsigned char>(rest[sep]))) ++sep;
  size_t next = sep;
  while (next < rest.size() && IsSpaceByte(static_cast<unsigned char>(rest[next]))) ++next;
  if (sep == 0) return;
  Node cmd;
  ParseMaybeJson(rest.substr(next), &cmd);
  node->args.emplace_back(rest.substr(0, sep));
  for (auto& a : cmd.args) node->args.push_back(std::move(a));
  node->json_form = cmd.json_form;
}

}  // namespace

std::optional<std::vector<std::string>> ParseJsonArray(std::string_view rest) {
  rest = TrimLeftSpace(rest);
  if (rest.empty() || rest[0] != '[') return std::nullopt;
  nlohmann::json doc = nlohmann::json::parse(rest.begin(), rest.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) return std::nullopt;
  std::vector<std::string> items;
  items.reserve(doc.size());
  for (auto& el : doc) {
    if (!el.is_string()) {
      throw LineError("when using JSON array syntax, arrays must be comprised of strings only");
    }
    items.push_back(el.get<std::string>());
  }
  return items;
}

std::vector<std::string> SplitArgWords(std::string_view rest, char escape) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::vector<std::string> words;
  std::string word;
  char32_t quote = 0;
  bool blank_ok = false;
  char32_t ch = 0;
  size_t width = 0;
  for (size_t pos = 0; pos <= rest.size(); pos += width) {
    const bool at_end = pos == rest.size();
    if (!at_end) ch = DecodeRune(rest, pos, &width);
    if (phase == kSpaces) {
      if (at_end) break;
      if (IsSpaceRune(ch)) continue;
      phase = kWord;
    }
    if (at_end) {
      if (blank_ok || !word.empty()) words.push_back(std::move(word));
      break;
    }
    // A run of plain ASCII is copied at once (ENV and LABEL values are long).
    auto plain = [&](unsigned char c) {
      return c < 0x80 && !IsSpaceRune(c) && c != '\'' && c != '"' && c != static_cast<unsigned char>(escape);
    };
    if (phase == kWord && plain(static_cast<unsigned char>(rest[pos]))) {
      size_t end = pos + 1;
      while (end < rest.size() && plain(static_cast<unsigned char>(rest[end]))) ++end;
      word.append(rest.substr(pos, end - pos));
      width = end - pos;
      continue;
    }
    if (phase == kWord) {
      if (IsSpaceRune(ch)) {
        phase = kSpaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
      }
      if (ch == static_cast<unsigned char>(escape)) {
        if (pos + width == rest.size()) continue;  // trailing escape dropped
        AppendRune(word, ch);
        pos += width;
        ch = DecodeRune(rest, pos, &width);
      }
      AppendRune(word, ch);
      continue;
    }
    // kQuote
    auto quoted = [&](unsigned char c) {
      return c < 0x80 && c != quote && !(c == static_cast<unsigned char>(escape) && quote != '\'');
    };
    if (quoted(static_cast<unsigned char>(rest[pos]))) {
      size_t end = pos + 1;
      while (end < rest.size() && quoted(static_cast<unsigned char>(rest[end]))) ++end;
      word.append(rest.substr(pos, end - pos));
      width = end - pos;
      continue;
    }
    if (ch == quote) phase = kWord;
    if (ch == static_cast<unsigned char>(escape) && quote != '\'') {
      if (pos + width == rest.size()) {
        phase = kWord;
        continue;
      }
      pos += width;
      AppendRune(word, ch);
      ch = DecodeRune(rest, pos, &width);
    }
    AppendRune(word, ch);
  }
  return words;
}

namespace {
// ONBUILD ONBUILD ... would otherwise recurse once per word of a 64 KiB line.
constexpr int kMaxOnbuildDepth = 8;
Node NodeFromLineAtDepth(std::string_view line, char escape, int depth);
}  // namespace

Node NodeFromLine(std::string_view line, char escape) { return NodeFromLineAtDepth(line, escape, 0); }

namespace {
Node NodeFromLineAtDepth(std::string_view line, char escape, int depth) {
  Node node;
  std::string_view cmdline = TrimSpace(line);
  size_t sep = 0;
  while (sep < cmdline.size() && !IsArgSeparator(cmdline[sep])) ++sep;
  std::string_view keyword = cmdline.substr(0, sep);
  std::string_view rest;
  if (sep < cmdline.size()) {
    size_t args_start = sep;
    while (args_start < cmdline.size() && IsArgSeparator(cmdline[args_start])) ++args_start;
    rest = TrimSpace(ExtractFlags(cmdline.substr(args_start), &node.flags));
  }
  node.keyword.reserve(keyword.size());
  for (char c : keyword) node.keyword += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;

  const std::string_view k = node.keyword;  // == with literals inline (see BuildOne)
  if (k == "from" || k == "expose") {
    ParseWhitespaceDelimited(rest, &node);
  } else if (k == "add" || k == "copy" || k == "volume") {
    ParseMaybeJsonToList(rest, &node);
  } else if (k == "run" || k == "cmd" || k == "entrypoint" || k == "shell") {
    ParseMaybeJson(rest, &node);
  } else if (k == "healthcheck") {
    ParseHealthcheck(rest, &node);
  } else if (k == "env") {
    ParseNameVal(rest, "ENV", escape, &node);
  } else if (k == "label") {
    ParseNameVal(rest, "LABEL", escape, &node);
  } else if (k == "arg") {
    node.args = SplitArgWords(rest, escape);
  } else if (k == "maintainer" || k == "user" || k == "workdir" || k == "stopsignal") {
    if (!rest.empty()) node.args.emplace_back(rest);
  } else if (k == "onbuild") {
    if (depth >= kMaxOnbuildDepth) throw LineError("ONBUILD nested too deeply");
    if (!rest.empty()) node.inner = std::make_shared<const Node>(NodeFromLineAtDepth(rest, escape, depth + 1));
  } else {
    node.args.emplace_back();  // unknown instruction: BuildKit keeps one empty item
  }
  return node;
}
}  // namespace

}  // namespace kiln::frontend
