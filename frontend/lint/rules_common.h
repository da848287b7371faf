// Internal to the linter: what rule functions see, and helpers they share.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/instructions.h"
#include "frontend/lint/linter.h"
#include "frontend/lint/shell_words.h"
#include "frontend/text_util.h"

namespace kiln::frontend::lint {

class RuleContext {
 public:
  RuleContext(const Dockerfile& df, const LintOptions& opts, std::vector<std::string> trusted)
      : df(df), opts(opts), trusted_registries(std::move(trusted)) {}

  const Dockerfile& df;
  const LintOptions& opts;
  std::vector<std::string> trusted_registries;
  std::vector<Finding> findings;

  // Records a finding of rule `id` (must be in the table) at `where`.
  void Report(std::string_view id, const Location& where, std::string message);

  // The shell script a RUN executes (shell form text, exec form joined,
  // or the heredoc body for `RUN <<EOF`), and its commands. Script views
  // `run` itself, or `joined` when several words had to be joined.
  static std::string_view Script(const RunCmd& run, std::string& joined);
  const std::vector<ShellCommand>& Commands(const Instruction& ins);
  // Index of the stage named or numbered `ref` before `before`, or -1.
  int StageRef(const std::string& ref, int before) const;

 private:
  std::map<const Instruction*, ShellScript> split_;  // nodes stay put: ShellScript is not movable
};

void CheckSecurityRules(RuleContext& ctx);      // rules_security.cc
void CheckImageRules(RuleContext& ctx);         // rules_images.cc
void CheckPackageRules(RuleContext& ctx);       // rules_packages.cc
void CheckShellRules(RuleContext& ctx);         // rules_shell.cc
void CheckInstructionRules(RuleContext& ctx);   // rules_instructions.cc
void CheckShellcheck(RuleContext& ctx);         // shellcheck.cc

// Small helpers.
bool StartsWithVar(std::string_view s);  // "$X..." / "${X}..."
bool IsUrl(std::string_view s);

}  // namespace kiln::frontend::lint
