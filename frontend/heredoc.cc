// Heredoc word recognition (BuildKit parser.go: reHeredoc, ParseHeredoc,
// heredocsFromLine). Words come from the shell lexer so that quoting and
// escapes decide what is a heredoc exactly as in BuildKit.
#include <optional>
#include <stdexcept>

#include "frontend/ast.h"
#include "frontend/error.h"
#include "frontend/shell_lex.h"
#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }


size_t CountQuotes(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (c == '\'' || c == '"') ? 1 : 0;
  return n;
}

}  // namespace

std::optional<Heredoc> ParseHeredocWord(std::string_view word) {
  // ^(\d*)<<(-?)\s*([^<]*)$
  size_t i = 0;
  while (i < word.size() && word[i] >= '0' && word[i] <= '9') ++i;
  std::string_view digits = word.substr(0, i);
  if (word.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  bool chomp = false;
  if (i < word.size() && word[i] == '-') {
    chomp = true;
    ++i;
  }
  while (i < word.size() && IsGoSpace(word[i])) ++i;
  std::string_view rest = word.substr(i);
  if (rest.find('<') != std::string_view::npos || rest.empty()) return std::nullopt;

  ShellLex lex('\\');
  lex.skip_unset_env = true;
  std::vector<std::string> words, raw_words;
  try {
    words = lex.ProcessWords(rest, NoEnv);
    if (words.size() != 1) return std::nullopt;
    lex.raw_quotes = true;
    raw_words = lex.ProcessWords(rest, NoEnv);
  } catch (const std::runtime_error& e) {
    throw Error({}, std::string("invalid heredoc delimiter: ") + e.what());
  }
  if (raw_words.size() != 1) {
    throw Error({}, "internal lexing of heredoc produced inconsistent results: " + std::string(rest));
  }
  Heredoc doc;
  doc.name = std::move(words[0]);
  // A quote that was removed means part of the delimiter was quoted: no expansion.
  doc.expand = CountQuotes(doc.name) == CountQuotes(raw_words[0]);
  doc.chomp = chomp;
  int fd = 0;
  for (char c : digits) {
    fd = fd * 10 + (c - '0');
    if (fd > 1 << 20) break;  // absurd descriptor; keep it bounded
  }
  doc.file_descriptor = fd;
  return doc;
}

std::vector<Heredoc> HeredocsFromLine(std::string_view line) {
  ShellLex lex('\\');
  lex.raw_quotes = true;
  lex.raw_escapes = true;
  lex.skip_unset_env = true;
  std::vector<std::string> words;
  try {
    words = lex.ProcessWords(line, NoEnv);
  } catch (const std::runtime_error&) {
    return {};  // BuildKit ignores lexing errors here: no heredocs
  }
  std::vector<Heredoc> docs;
  for (const std::string& w : words) {
    if (auto doc = ParseHeredocWord(w)) docs.push_back(std::move(*doc));
  }
  return docs;
}

}  // namespace kiln::frontend
