// Optional: RUN scripts checked by Debian's `shellcheck`. frontend/ starts no
// processes (README), so the caller hands the linter a ScriptChecker that
// runs shellcheck with ShellcheckArgs and parses its output here; the builder
// does (builder/shellcheck_runner.h). Findings keep ShellCheck's codes
// (SC2086, ...) and severities (error -> error, warning -> warning,
// info/style -> info). Excluded, as hadolint does: SC1090, SC1091 (sourced
// files), SC2187; also SC2154 (variables come from ARG/ENV and the base
// image, which shellcheck cannot see).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend::lint {

struct ShellcheckFinding {
  std::string code;     // "SC2086"
  std::string level;    // error | warning | info | style
  std::string message;
  int line = 0;         // within the script, 1-based
  int column = 0;
};

// Checks one RUN script written for `shell` (sh, bash, dash or ksh: the
// dialects shellcheck knows; scripts of other shells are not handed over).
using ScriptChecker =
    std::function<std::vector<ShellcheckFinding>(const std::string& script, const std::string& shell)>;

// shellcheck's arguments for a script on stdin in dialect `shell`.
std::vector<std::string> ShellcheckArgs(const std::string& shell);

// Parses shellcheck's `-f json1` output. Throws frontend::Error when it is
// not that JSON.
std::vector<ShellcheckFinding> ParseShellcheckJson(std::string_view json);

}  // namespace kiln::frontend::lint
