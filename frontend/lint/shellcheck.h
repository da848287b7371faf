// Optional: RUN scripts checked by Debian's `shellcheck` when it is
// installed. Findings keep ShellCheck's codes (SC2086, ...) and severities
// (error -> error, warning -> warning, info/style -> info). Excluded, as
// hadolint does: SC1090, SC1091 (sourced files), SC2187; also SC2154
// (variables come from ARG/ENV and the base image, which shellcheck cannot see).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kiln::frontend::lint {

struct ShellcheckFinding {
  std::string code;     // "SC2086"
  std::string level;    // error | warning | info | style
  std::string message;
  int line = 0;         // within the script, 1-based
  int column = 0;
};

// Path of shellcheck on $PATH, or nullopt.
std::optional<std::string> ShellcheckPath();

// Runs shellcheck on `script` (dialect `shell`: sh, bash, dash, ksh).
// Throws frontend::Error when shellcheck cannot be run or its output is not
// the expected JSON.
std::vector<ShellcheckFinding> RunShellcheck(const std::string& script, const std::string& shell = "sh");

}  // namespace kiln::frontend::lint
