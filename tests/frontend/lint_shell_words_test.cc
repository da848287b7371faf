#include <gtest/gtest.h>

#include "frontend/lint/shell_words.h"

namespace kiln::frontend::lint {
namespace {

std::vector<std::string> Programs(const std::string& s) {
  std::vector<std::string> out;
  for (const auto& c : SplitShell(s)) out.push_back(c.Program());
  return out;
}

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
  auto cmds = SplitShell("FOO=\"a b\" BAR=1 make 'x y' >/dev/null 2>&1");
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].assignments, (std::vector<std::string>{"FOO=a b", "BAR=1"}));
  EXPECT_EQ(cmds[0].words, (std::vector<std::string>{"make", "x y"}));
}

TEST(LintShellWords, Pipes) {
  auto cmds = SplitShell("curl -fsSL https://x | \n sh -s -- -y && echo done");
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_TRUE(cmds[0].piped_out);
  EXPECT_FALSE(cmds[0].piped_in);
  EXPECT_TRUE(cmds[1].piped_in);
  EXPECT_EQ(cmds[1].Program(), "sh");
  EXPECT_FALSE(cmds[2].piped_in);
  EXPECT_FALSE(SplitShell("a || b")[0].piped_out);
}

// $(...) inside a word is kept with the outer command (a light splitter, not
// a shell parser); what matters is that the commands around it are found.
TEST(LintShellWords, CommandSubstitutionAndMalformedInput) {
  EXPECT_EQ(Programs("export V=$(cat /x) && echo $V").back(), "echo");
  EXPECT_TRUE(SplitShell("").empty());
  EXPECT_NO_THROW(SplitShell("echo \"unterminated"));
  EXPECT_NO_THROW(SplitShell("echo 'unterminated"));
  EXPECT_NO_THROW(SplitShell("\\"));
}

}  // namespace
}  // namespace kiln::frontend::lint
