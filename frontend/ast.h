// The Dockerfile parse tree, shaped like BuildKit's parser.Node so that
// `kiln parse --dump` can print exactly BuildKit's test `result` format.
// Parsing knows no instruction semantics beyond how to split arguments;
// typed commands are built from this by instructions.h.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

struct Heredoc {
  std::string name;       // the delimiter word, quotes removed
  // Body exactly as written, each line with its own line ending. Like
  // BuildKit, <<- only affects terminator matching here; consumers strip the
  // body's leading tabs with ChompHeredocContent() when `chomp` is set.
  std::string content;
  bool expand = true;     // false when the delimiter was quoted
  bool chomp = false;     // <<- form
  int file_descriptor = 0;  // 3<<EOF gives 3; 0 means stdin

  // The body as the file/stdin content: `content`, leading tabs stripped
  // from every line for <<-.
  std::string Body() const;
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
  bool empty_continuation = false;    // blank lines inside its continuation
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
// One instruction's dump line, without the trailing '\n'.
std::string DumpNode(const Node& node);

// BuildKit's heredoc word classification ("<<EOF", "3<<-'EOF'", ...):
// nullopt when `word` is not a heredoc; throws frontend::Error (no location)
// on an unbalanced quote in the delimiter. `content` is left empty.
std::optional<Heredoc> ParseHeredocWord(std::string_view word);
// The heredocs a logical line opens, in order (words inside quotes or after
// an escape do not count).
std::vector<Heredoc> HeredocsFromLine(std::string_view line);
// Removes leading tabs from every line (what <<- means for the body).
std::string ChompHeredocContent(std::string_view content);

// BuildKit's argument word splitter for ENV/LABEL/ARG: quotes and escapes are
// kept in the words (exposed for the instruction layer and tests).
std::vector<std::string> SplitArgWords(std::string_view rest, char escape = '\\');

// The `# syntax=` directive found at the top of a file, with BuildKit's
// DetectSyntax rules: '#' or '//' comment directives (after an optional
// '#!' line) or a whole-file JSON object with a "syntax" key.
struct SyntaxDirective {
  std::string ref;      // value up to the first space
  std::string cmdline;  // the whole value
  int line = 0;         // 1-based; 0 for the JSON form
};
std::optional<SyntaxDirective> DetectSyntax(std::string_view text);
// Same for `# check=` (only the '#' comment form is honoured).
std::optional<SyntaxDirective> DetectCheckDirective(std::string_view text);

}  // namespace kiln::frontend
