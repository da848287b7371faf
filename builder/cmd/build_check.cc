#include "builder/cmd/build_check.h"

#include <filesystem>
#include <stdexcept>

#include "builder/error.h"
#include "builder/read_input.h"
#include "frontend/context_file.h"
#include "frontend/lint/linter.h"

namespace kiln::builder {

int RunBuildChecks(const BuildOptions& opts, std::ostream& out) {
  if (opts.context_dir == "-" && opts.dockerfile.empty())
    throw Error({"--check", "", "reads the Dockerfile from a file", "with CONTEXT '-', name it with -f"});
  const std::string df_path = opts.dockerfile.empty() ? frontend::FindDockerfile(opts.context_dir) : opts.dockerfile;
  const std::string text = ReadDockerfileText(df_path);
  frontend::lint::LintOptions lo;
  if (opts.context_dir != "-") lo.context_dir = opts.context_dir;
  const std::string display = df_path == "-" ? "-" : std::filesystem::path(df_path).filename().string();
  const frontend::lint::LintResult result = frontend::lint::LintSource(text, display, lo);
  out << frontend::lint::FormatText(result);
  size_t counted = 0;
  for (const auto& f : result.findings)
    if (f.severity != frontend::lint::Severity::kInfo) ++counted;
  if (counted == 0) {
    out << "Check complete, no problems found.\n";
    return 0;
  }
  out << "Check complete, " << counted << (counted == 1 ? " problem" : " problems") << " found.\n";
  return 1;
}

}  // namespace kiln::builder
