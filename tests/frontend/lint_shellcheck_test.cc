// `kiln lint --shellcheck`: RUN scripts checked by Debian's shellcheck, its
// findings under their SC codes (scripts/setup.sh --test installs it).
#include <gtest/gtest.h>

#include "frontend/lint/linter.h"
#include "frontend/lint/shellcheck.h"
#include "tests/frontend/lint_test_util.h"

namespace kiln::frontend::lint {
namespace {

using testing::Fires;

LintResult LintWithShellcheck(const std::string& dockerfile) {
  LintOptions o;
  o.shellcheck = true;
  return LintSource(dockerfile, "Dockerfile", o);
}

TEST(LintShellcheck, ScriptsOfRunAndHeredoc) {
  if (!ShellcheckPath()) GTEST_SKIP() << "shellcheck is not installed";
  // Shell form: the argument as written.
  EXPECT_TRUE(Fires(LintWithShellcheck("FROM busybox:1\nRUN ls `pwd`\nUSER 1\n"), "SC2006"));
  // RUN <<EOF: the heredoc body is the script, not the "<<EOF" line.
  auto heredoc = LintWithShellcheck("FROM busybox:1\nRUN <<EOF\nls `pwd`\nEOF\nUSER 1\n");
  EXPECT_TRUE(Fires(heredoc, "SC2006"));
  // A clean script and exec form give nothing.
  auto clean = LintWithShellcheck("FROM busybox:1\nRUN ls \"$(pwd)\"\nRUN [\"ls\", \"`pwd`\"]\nUSER 1\n");
  for (const auto& f : clean.findings) EXPECT_NE(f.rule.substr(0, 2), "SC") << f.rule << " " << f.message;
}

}  // namespace
}  // namespace kiln::frontend::lint
