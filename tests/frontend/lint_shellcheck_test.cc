// RUN scripts handed to the caller's script checker (the builder runs
// shellcheck; frontend starts no processes), its findings placed at the RUN
// line under their SC codes.
#include <gtest/gtest.h>

#include "frontend/lint/linter.h"
#include "frontend/lint/shellcheck.h"
#include "tests/frontend/lint_test_util.h"

namespace kiln::frontend::lint {
namespace {

using testing::Fires;

TEST(LintShellcheck, HandsShellFormScriptsToTheChecker) {
  std::vector<std::pair<std::string, std::string>> seen;  // script, shell
  LintOptions o;
  o.check_script = [&](const std::string& script, const std::string& shell) {
    seen.emplace_back(script, shell);
    return std::vector<ShellcheckFinding>{{"SC2006", "warning", "use $(...)", 1, 4}};
  };
  const auto r = LintSource("FROM busybox:1\nRUN ls `pwd`\nRUN [\"ls\"]\nSHELL [\"/bin/bash\", \"-c\"]\nRUN <<EOF\necho hi\nEOF\n"
                            "SHELL [\"/usr/bin/fish\", \"-c\"]\nRUN echo x\nUSER 1\n",
                            "Dockerfile", o);
  // Exec form and a shell shellcheck does not know are not handed over.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, std::string>{"ls `pwd`", "sh"}));
  EXPECT_EQ(seen[1].first, "echo hi\n") << "a heredoc's body is the script";
  EXPECT_EQ(seen[1].second, "bash");
  ASSERT_TRUE(Fires(r, "SC2006"));
  for (const auto& f : r.findings)
    if (f.rule == "SC2006") {
      EXPECT_EQ(f.severity, Severity::kWarning);
      EXPECT_EQ(f.message, "use $(...) (script line 1)");
      EXPECT_TRUE(f.location.line == 2 || f.location.line == 5) << f.location.str();
    }
}

TEST(LintShellcheck, NoCheckerNoScriptFindings) {
  const auto r = LintSource("FROM busybox:1\nRUN ls `pwd`\nUSER 1\n", "Dockerfile", LintOptions{});
  for (const auto& f : r.findings) EXPECT_NE(f.rule.substr(0, 2), "SC") << f.rule;
}

TEST(LintShellcheck, ParsesJson1) {
  const auto f = ParseShellcheckJson(
      R"({"comments":[{"file":"-","line":2,"endLine":2,"column":4,"endColumn":10,"level":"info","code":2086,"message":"Double quote"}]})");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "SC2086");
  EXPECT_EQ(f[0].level, "info");
  EXPECT_EQ(f[0].line, 2);
  EXPECT_EQ(f[0].column, 4);
  EXPECT_THROW(ParseShellcheckJson("shellcheck: not json"), Error);
}

}  // namespace
}  // namespace kiln::frontend::lint
