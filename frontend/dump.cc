// BuildKit's Node.Dump() format (see the corpus README): one
// "(keyword ["flags"] "args"...)" line per instruction.
#include "frontend/ast.h"
#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

void AppendNode(std::string& out, const Node& node) {
  out += node.keyword;
  if (!node.flags.empty()) {
    out += " [";
    for (size_t i = 0; i < node.flags.size(); ++i) {
      if (i) out += ' ';
      AppendGoQuoted(out, node.flags[i]);
    }
    out += ']';
  }
  if (node.inner) {
    out += " (";
    AppendNode(out, *node.inner);
    out += ')';
  }
  for (const std::string& arg : node.args) {
    out += ' ';
    AppendGoQuoted(out, arg);
  }
}

}  // namespace

std::string DumpNode(const Node& node) {
  std::string line;
  AppendNode(line, node);
  // Go trims the finished string; only a keyword made of Unicode spaces
  // could make this matter.
  return std::string(TrimSpace(line));
}

std::string Dump(const ParseResult& result) {
  std::string out;
  for (const Node& node : result.instructions) {
    out += '(';
    out += DumpNode(node);
    out += ")\n";
  }
  return out;
}

}  // namespace kiln::frontend
