// Output formats: text lines, JSON schema (docs/lint-json.md), SARIF 2.1.0.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {
namespace {

LintResult Sample() { return LintSource("FROM alpine:latest\nRUN cd /x \\\n && make\n", "app/Dockerfile", {}); }

TEST(LintReport, TextLines) {
  auto r = Sample();
  std::string text = FormatText(r);
  EXPECT_NE(text.find("app/Dockerfile:1:1 error KL001 "), std::string::npos) << text;
  EXPECT_NE(text.find("app/Dockerfile:1:1 warning KL101 "), std::string::npos) << text;
  EXPECT_NE(text.find("app/Dockerfile:2:1 warning KL303 "), std::string::npos) << text;
  EXPECT_EQ(text.find('\033'), std::string::npos);
  size_t lines = std::count(text.begin(), text.end(), '\n');
  EXPECT_EQ(lines, r.findings.size());
  std::string colored = FormatText(r, true);
  EXPECT_NE(colored.find("\033[1;31merror\033[0m"), std::string::npos);
}

TEST(LintReport, Json) {
  auto j = nlohmann::json::parse(FormatJson({Sample()}));
  EXPECT_EQ(j.at("version"), 1);
  ASSERT_EQ(j.at("files").size(), 1u);
  const auto& f = j.at("files")[0];
  EXPECT_EQ(f.at("file"), "app/Dockerfile");
  bool saw_cd = false;
  for (const auto& x : f.at("findings")) {
    for (const char* key : {"rule", "name", "severity", "message", "line", "column", "end_line", "hadolint"})
      EXPECT_TRUE(x.contains(key)) << key;
    if (x.at("rule") == "KL303") {
      saw_cd = true;
      EXPECT_EQ(x.at("line"), 2);
      EXPECT_EQ(x.at("end_line"), 3);
      EXPECT_EQ(x.at("hadolint"), "DL3003");
      EXPECT_EQ(x.at("name"), "cd-instead-of-workdir");
    }
  }
  EXPECT_TRUE(saw_cd);
  EXPECT_EQ(j.at("summary").at("error"), 1);
}

TEST(LintReport, SarifShape) {
  auto j = nlohmann::json::parse(FormatSarif({Sample()}));
  EXPECT_EQ(j.at("version"), "2.1.0");
  EXPECT_TRUE(j.at("$schema").get<std::string>().find("sarif") != std::string::npos);
  const auto& run = j.at("runs")[0];
  const auto& driver = run.at("tool").at("driver");
  EXPECT_EQ(driver.at("name"), "kiln");
  EXPECT_TRUE(driver.contains("informationUri"));
  const auto& rules = driver.at("rules");
  EXPECT_EQ(rules.size(), Rules().size());
  for (const auto& r : rules)
    for (const char* key : {"id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration"})
      EXPECT_TRUE(r.contains(key)) << key;
  ASSERT_FALSE(run.at("results").empty());
  for (const auto& res : run.at("results")) {
    int idx = res.at("ruleIndex");
    EXPECT_EQ(rules[static_cast<size_t>(idx)].at("id"), res.at("ruleId"));
    std::string level = res.at("level");
    EXPECT_TRUE(level == "error" || level == "warning" || level == "note") << level;
    const auto& loc = res.at("locations")[0].at("physicalLocation");
    EXPECT_EQ(loc.at("artifactLocation").at("uri"), "app/Dockerfile");
    EXPECT_GE(loc.at("region").at("startLine").get<int>(), 1);
    EXPECT_GE(loc.at("region").at("endLine").get<int>(), loc.at("region").at("startLine").get<int>());
    EXPECT_TRUE(res.at("message").contains("text"));
  }
}

}  // namespace
}  // namespace kiln::frontend::lint
