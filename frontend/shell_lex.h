// Word expansion with BuildKit's shell-lexer semantics (frontend/dockerfile/
// shell/lex.go): $V, ${V}, ${V:-w}, ${V-w}, ${V:+w}, ${V+w}, ${V:?m}, ${V?m},
// ${V#p}, ${V##p}, ${V%p}, ${V%%p}, ${V/p/r}, ${V//p/r}, quoting and escapes.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

class ShellLex {
 public:
  using Lookup = std::function<std::optional<std::string>(const std::string& name)>;

  explicit ShellLex(char escape = '\\') : escape_(escape) {}

  // BuildKit's Lex knobs. raw_quotes keeps quote characters in the output,
  // raw_escapes keeps the escape character, skip_process_quotes treats quotes
  // as ordinary characters (heredoc bodies), skip_unset_env leaves references
  // to unset variables as written ("$X", "${X:-y}").
  bool raw_quotes = false;
  bool raw_escapes = false;
  bool skip_process_quotes = false;
  bool skip_unset_env = false;
  char escape() const { return escape_; }

  // One word: quotes removed, no field splitting. Throws std::runtime_error
  // (message only; callers add the location) on bad syntax or ${V:?msg}.
  std::string ProcessWord(std::string_view word, const Lookup& env) const;
  std::string ProcessWord(std::string_view word, const std::map<std::string, std::string>& env) const;

  // Full word splitting like a shell command line.
  std::vector<std::string> ProcessWords(std::string_view word, const Lookup& env) const;

  // Names referenced while processing, split into set / unset (for unused
  // build-arg warnings and the linter's "ARG used before declared").
  struct Matches { std::set<std::string> matched, unmatched; };
  std::string ProcessWordWithMatches(std::string_view word, const Lookup& env, Matches* out) const;
  std::vector<std::string> ProcessWordsWithMatches(std::string_view word, const Lookup& env,
                                                   Matches* out) const;

 private:
  char escape_;
};

// Removes quotes and processes escapes the way the shell lexer does, but
// leaves $VAR references as written (for display of unexpanded values).
std::string UnquoteWord(std::string_view word, char escape = '\\');

// Inverse of the lexer for a literal: escapes $, quotes and the escape char so
// that expanding the result yields `literal` unchanged.
std::string EscapeWord(std::string_view literal, char escape = '\\');

}  // namespace kiln::frontend
