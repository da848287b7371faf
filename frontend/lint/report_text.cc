// Text output: `file:line:col severity ID message`, one line per finding.
#include <sstream>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {

std::string FormatText(const LintResult& result, bool color) {
  std::ostringstream out;
  for (const auto& f : result.findings) {
    const std::string file = f.location.file.empty() ? result.filename : f.location.file;
    const char* sev_color = f.severity == Severity::kError ? "\033[1;31m" : f.severity == Severity::kWarning ? "\033[1;33m" : "\033[1;36m";
    if (color) out << "\033[1m";
    out << file << ":" << f.location.line << ":" << (f.location.column > 0 ? f.location.column : 1);
    if (color) out << "\033[0m";
    out << " ";
    if (color) out << sev_color;
    out << SeverityName(f.severity);
    if (color) out << "\033[0m";
    out << " " << f.rule << " " << f.message << "\n";
  }
  return out.str();
}

}  // namespace kiln::frontend::lint
