#include "builder/shellcheck_runner.h"

#include <chrono>
#include <string>
#include <vector>

#include "builder/error.h"
#include "frontend/error.h"
#include "sandbox/subprocess.h"

namespace kiln::builder {

std::optional<frontend::lint::ScriptChecker> FindShellcheck() {
  const auto exe = sandbox::FindInPath("shellcheck");
  if (!exe) return std::nullopt;
  return [exe = exe->string()](const std::string& script, const std::string& shell) {
    std::vector<std::string> argv{exe};
    for (auto& a : frontend::lint::ShellcheckArgs(shell)) argv.push_back(std::move(a));
    sandbox::CaptureOptions o;
    o.input = script;
    o.discard_stderr = true;
    o.timeout = std::chrono::minutes(1);
    const sandbox::CapturedRun run = sandbox::RunCaptured(argv, o);
    try {
      return frontend::lint::ParseShellcheckJson(run.output);
    } catch (const frontend::Error& e) {
      // Exit 0 or 1 (findings) print JSON; anything else is shellcheck failing.
      throw Error({"shellcheck", exe, sandbox::DescribeWaitStatus(run.status) + ", " + e.message(),
                   "run shellcheck by hand to see why, or lint without --shellcheck"});
    }
  };
}

}  // namespace kiln::builder
