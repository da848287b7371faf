// docs/rules.md is generated from the rule table; regenerate it with
//   kiln lint --rules-markdown > docs/rules.md
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "frontend/lint/rule.h"

namespace kiln::frontend::lint {
namespace {

std::string SourceDir() {
  const char* env = std::getenv("KILN_TEST_DATA");
  return std::string(env ? env : KILN_TEST_DATA) + "/../..";
}

TEST(LintDocs, RulesMarkdownIsUpToDate) {
  std::ifstream in(SourceDir() + "/docs/rules.md", std::ios::binary);
  ASSERT_TRUE(in) << "docs/rules.md missing; run: kiln lint --rules-markdown > docs/rules.md";
  std::ostringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(ss.str() == RulesMarkdown())
      << "docs/rules.md differs from the rule table; run: kiln lint --rules-markdown > docs/rules.md";
}

TEST(LintDocs, EveryRuleDocumented) {
  std::string md = RulesMarkdown();
  for (const auto& r : Rules()) {
    EXPECT_NE(md.find("## " + r.id + "\n"), std::string::npos) << r.id;
    if (!r.hadolint.empty()) {
      EXPECT_NE(md.find("covers hadolint " + r.hadolint), std::string::npos) << r.id;
    }
  }
}

}  // namespace
}  // namespace kiln::frontend::lint
