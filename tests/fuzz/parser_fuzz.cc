// libFuzzer target: the Dockerfile parser must never crash, whatever the
// input; it either returns a tree whose invariants hold or throws Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "frontend/ast.h"
#include "frontend/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace kiln::frontend;
  DetectSyntax(text);
  DetectCheckDirective(text);
  try {
    ParseResult r = Parse(text, "Dockerfile");
    int last_end = 0;
    for (const Node& n : r.instructions) {
      if (n.start_line <= last_end || n.end_line < n.start_line) std::abort();
      last_end = n.end_line;
      SplitArgWords(n.original, r.escape);
    }
    std::string dump = Dump(r);
    if (dump.empty()) std::abort();  // a successful parse has an instruction
  } catch (const Error& e) {
    if (e.message().empty()) std::abort();
  }
  return 0;
}
