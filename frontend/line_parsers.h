// Splitting one logical Dockerfile line into keyword, flags and argument
// items, per keyword, exactly like BuildKit's line_parsers.go (see the table
// in tests/data/corpus/buildkit-dockerfile-parser/README.md).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "frontend/ast.h"

namespace kiln::frontend {

// A problem in one line; Parse() adds the file location.
class LineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds the node for `line` (keyword, flags, args, json_form, inner);
// line numbers, heredocs and comments are left for the caller.
Node NodeFromLine(std::string_view line, char escape);

// Exec-form detection: nullopt if `rest` is not a JSON array (shell form);
// throws LineError if it is one with a non-string element.
std::optional<std::vector<std::string>> ParseJsonArray(std::string_view rest);

}  // namespace kiln::frontend
