#include "frontend/lint/shellcheck.h"

#include <nlohmann/json.hpp>

#include "frontend/error.h"
#include "frontend/lint/linter.h"
#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {

std::vector<std::string> ShellcheckArgs(const std::string& shell) {
  return {"-f", "json1", "-s", shell, "-e", "SC1090,SC1091,SC2187,SC2154", "-"};
}

std::vector<ShellcheckFinding> ParseShellcheckJson(std::string_view json) {
  std::vector<ShellcheckFinding> findings;
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    for (const auto& c : j.at("comments")) {
      findings.push_back({"SC" + std::to_string(c.at("code").get<int>()), c.at("level").get<std::string>(),
                          c.at("message").get<std::string>(), c.at("line").get<int>(), c.at("column").get<int>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(Location{}, std::string("unexpected shellcheck output: ") + e.what());
  }
  return findings;
}

void CheckShellcheck(RuleContext& ctx) {
  for (const auto& st : ctx.df.stages) {
    std::string shell = "sh";
    for (const auto& ins : st.instructions) {
      if (const auto* sh = std::get_if<ShellCmd>(&ins.command)) {
        shell = sh->args.empty() ? "sh" : BaseName(sh->args[0]);
        continue;
      }
      const auto* run = std::get_if<RunCmd>(&ins.command);
      if (!run || !run->shell_form) continue;
      if (shell != "sh" && shell != "bash" && shell != "dash" && shell != "ksh") continue;
      std::string joined;
      for (const auto& f : ctx.opts.check_script(std::string(RuleContext::Script(*run, joined)), shell)) {
        Location at = ins.location;
        Finding finding{f.code,
                        f.level == "error" ? Severity::kError : f.level == "warning" ? Severity::kWarning : Severity::kInfo,
                        f.message + " (script line " + std::to_string(f.line) + ")", at};
        if (finding.location.file.empty()) finding.location.file = ctx.df.filename;
        if (finding.location.column == 0) finding.location.column = 1;
        ctx.findings.push_back(std::move(finding));
      }
    }
  }
}

}  // namespace kiln::frontend::lint
