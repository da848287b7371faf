#include <gtest/gtest.h>

#include "frontend/lint/shell_words.h"

namespace kiln::frontend::lint {
namespace {

std::vector<std::string> Programs(const std::string& s) {
  std::vector<std::string> out;
  const ShellScript script(s);
  for (const auto& c : script.commands()) out.emplace_back(c.Program());
  return out;
}

std::vector<std::string> Strings(std::span<const std::string_view> words) { return {words.begin(), words.end()}; }

TEST(LintShellWords, OperatorsAndContinuations) {
  EXPECT_EQ(Programs("apt-get update && apt-get install -y curl; rm -rf /x || true"),
            (std::vector<std::string>{"apt-get", "apt-get", "rm", "true"}));
  EXPECT_EQ(Programs("set -eux; \\\n  cd /tmp \\\n  && make"), (std::vector<std::string>{"set", "cd", "make"}));
  EXPECT_EQ(Programs("if [ -f x ]; then echo y; fi"), (std::vector<std::string>{"[", "echo"}));
  EXPECT_EQ(Programs("sudo -u app /usr/bin/pip install x"), (std::vector<std::string>{"pip"}));
  EXPECT_EQ(Programs("env DEBIAN_FRONTEND=noninteractive apt-get install -y x"), (std::vector<std::string>{"apt-get"}));
  EXPECT_EQ(Programs("# comment only\necho 'a && b' \"c; d\""), (std::vector<std::string>{"echo"}));
}

TEST(LintShellWords, QuotesAssignmentsRedirects) {
  const ShellScript script("FOO=\"a b\" BAR=1 make 'x y' >/dev/null 2>&1");
  const auto& cmds = script.commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(Strings(cmds[0].assignments), (std::vector<std::string>{"FOO=a b", "BAR=1"}));
  EXPECT_EQ(Strings(cmds[0].words), (std::vector<std::string>{"make", "x y"}));
}

TEST(LintShellWords, Pipes) {
  const ShellScript script("curl -fsSL https://x | \n sh -s -- -y && echo done");
  const auto& cmds = script.commands();
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_TRUE(cmds[0].piped_out);
  EXPECT_FALSE(cmds[0].piped_in);
  EXPECT_TRUE(cmds[1].piped_in);
  EXPECT_EQ(cmds[1].Program(), "sh");
  EXPECT_FALSE(cmds[2].piped_in);
  EXPECT_FALSE(ShellScript("a || b").commands()[0].piped_out);
}

// $(...) inside a word is kept with the outer command (a light splitter, not
// a shell parser); what matters is that the commands around it are found.
TEST(LintShellWords, CommandSubstitutionAndMalformedInput) {
  EXPECT_EQ(Programs("export V=$(cat /x) && echo $V").back(), "echo");
  EXPECT_TRUE(ShellScript("").commands().empty());
  EXPECT_NO_THROW(ShellScript("echo \"unterminated"));
  EXPECT_NO_THROW(ShellScript("echo 'unterminated"));
  EXPECT_NO_THROW(ShellScript("\\"));
}

// Words are views into the script's own buffer: unquoting, escapes and the
// $(...) placeholder give the same words whether or not the source outlives
// the split ("2>" drops the fd word with the redirection, so that command is
// empty); an exec-form argv is one command.
TEST(LintShellWords, WordsOwnedByTheScript) {
  std::string source = "A=1 \\\"x\\\" 'q q'\"r\\\"s\" $(date) 2>/dev/null; env B=2 sudo -u me ./run arg";
  const ShellScript script(source);
  source.assign(source.size(), '#');  // the views must not point into the caller's text
  const auto& cmds = script.commands();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(Strings(cmds[0].assignments), (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(Strings(cmds[0].words), (std::vector<std::string>{"\"x\"", "q qr\"s", "$(...)", "date"}));
  EXPECT_EQ(cmds[1].Program(), "run");
  EXPECT_EQ(Strings(cmds[1].Args()), (std::vector<std::string>{"arg"}));
  EXPECT_TRUE(cmds[1].HasWord("sudo"));

  const ShellScript exec(std::vector<std::string>{"/usr/bin/env", "X=1", "apt-get", "install"});
  ASSERT_EQ(exec.commands().size(), 1u);
  EXPECT_EQ(exec.commands()[0].Program(), "apt-get");
  EXPECT_EQ(Strings(exec.commands()[0].Args()), (std::vector<std::string>{"install"}));
}

}  // namespace
}  // namespace kiln::frontend::lint
