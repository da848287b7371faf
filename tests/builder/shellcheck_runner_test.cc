// `kiln lint --shellcheck`: RUN scripts checked by Debian's shellcheck, run
// by the builder through sandbox/subprocess (scripts/setup.sh --test
// installs it), its findings under their SC codes.
#include "builder/shellcheck_runner.h"

#include <gtest/gtest.h>

#include "frontend/lint/linter.h"

namespace kiln::builder {
namespace {

frontend::lint::LintResult LintWithShellcheck(const std::string& dockerfile) {
  const auto checker = FindShellcheck();
  if (!checker) ADD_FAILURE() << "shellcheck is not installed (scripts/setup.sh --test)";
  frontend::lint::LintOptions o;
  if (checker) o.check_script = *checker;
  return frontend::lint::LintSource(dockerfile, "Dockerfile", o);
}

bool Fires(const frontend::lint::LintResult& r, const std::string& id) {
  for (const auto& f : r.findings)
    if (f.rule == id) return true;
  return false;
}

TEST(ShellcheckRunner, ScriptsOfRunAndHeredoc) {
  // Shell form: the argument as written.
  EXPECT_TRUE(Fires(LintWithShellcheck("FROM busybox:1\nRUN ls `pwd`\nUSER 1\n"), "SC2006"));
  // RUN <<EOF: the heredoc body is the script, not the "<<EOF" line.
  auto heredoc = LintWithShellcheck("FROM busybox:1\nRUN <<EOF\nls `pwd`\nEOF\nUSER 1\n");
  EXPECT_TRUE(Fires(heredoc, "SC2006"));
  // A clean script and exec form give nothing.
  auto clean = LintWithShellcheck("FROM busybox:1\nRUN ls \"$(pwd)\"\nRUN [\"ls\", \"`pwd`\"]\nUSER 1\n");
  for (const auto& f : clean.findings) EXPECT_NE(f.rule.substr(0, 2), "SC") << f.rule << " " << f.message;
}

TEST(ShellcheckRunner, DialectReachesShellcheck) {
  // `[[` is fine in bash and a warning (SC3010) in sh.
  const auto checker = FindShellcheck();
  ASSERT_TRUE(checker) << "shellcheck is not installed (scripts/setup.sh --test)";
  const std::string script = "[[ -n \"$1\" ]] && echo y\n";
  bool sh_flags = false;
  for (const auto& f : (*checker)(script, "sh")) sh_flags |= f.code == "SC3010";
  EXPECT_TRUE(sh_flags);
  EXPECT_TRUE((*checker)(script, "bash").empty());
}

}  // namespace
}  // namespace kiln::builder
