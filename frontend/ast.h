// The Dockerfile parse tree, shaped like BuildKit's parser.Node so that
// `kiln parse --dump` can print exactly BuildKit's test `result` format.
// Parsing knows no instruction semantics beyond how to split arguments;
// typed commands are built from this by instructions.h.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

struct Heredoc {
  std::string name;       // the delimiter word, quotes removed
  std::string content;    // body, each line with its '\n'; leading tabs removed for <<-
  bool expand = true;     // false when the delimiter was quoted
  bool chomp = false;     // <<- form
  int file_descriptor = 0;  // 3<<EOF gives 3; 0 means stdin
};

struct Node {
  std::string keyword;             // instruction word, lower-cased ("run")
  std::string original;            // the logical line as written (continuations joined)
  std::vector<std::string> flags;  // leading --flags, quotes removed ("--from=build")
  std::vector<std::string> args;   // argument items, exactly as the dump shows them
  bool json_form = false;          // args came from a JSON array (exec form)
  std::shared_ptr<const Node> inner;  // ONBUILD: the wrapped instruction
  std::vector<Heredoc> heredocs;
  int start_line = 0;              // 1-based, inclusive
  int end_line = 0;
  std::vector<std::string> comments;  // comment lines directly above, '#' stripped
};

struct Warning {
  int line = 0;
  std::string message;
};

struct ParseResult {
  std::string filename;
  std::vector<Node> instructions;
  std::vector<Warning> warnings;
  std::map<std::string, std::string> directives;  // "syntax", "escape", "check"
  char escape = '\\';
};

// Parses a whole Dockerfile. Throws frontend::Error with file:line on any
// input BuildKit rejects (unterminated heredoc, bad JSON element, no
// instruction, over-long line, repeated directive, ...). Never reads files.
ParseResult Parse(std::string_view text, const std::string& filename = "Dockerfile");

// BuildKit's Node.Dump(): one "(keyword [flags] args...)" line per
// instruction, each ending in '\n'.
std::string Dump(const ParseResult& result);

}  // namespace kiln::frontend
