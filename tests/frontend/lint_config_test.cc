// Configuration files, pragmas, ignores, severity overrides and thresholds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "frontend/lint/lint_config.h"
#include "frontend/lint/linter.h"
#include "tests/frontend/lint_test_util.h"
#include "tests/frontend/threads_util.h"

namespace kiln::frontend::lint {
namespace {

namespace fs = std::filesystem;

using testing::Fires;

TEST(LintConfig, Json) {
  auto c = ParseLintConfig(R"({"ignore": ["KL101"], "severity": {"KL300": "error", "KL102": "off"},
                               "trusted-registries": ["ghcr.io"], "failure-threshold": "warning"})",
                           "x/.kiln-lint.json");
  EXPECT_EQ(c.ignore, std::vector<std::string>{"KL101"});
  EXPECT_EQ(c.severity.at("KL300"), "error");
  EXPECT_EQ(c.trusted_registries, std::vector<std::string>{"ghcr.io"});
  EXPECT_EQ(c.failure_threshold, "warning");
  EXPECT_THROW(ParseLintConfig(R"({"ignroe": []})", "c.json"), Error);
  EXPECT_THROW(ParseLintConfig(R"({"severity": {"KL001": "fatal"}})", "c.json"), Error);
  EXPECT_THROW(ParseLintConfig("{", "c.json"), Error);
  EXPECT_THROW(ParseLintConfig(R"({"ignore": "KL001"})", "c.json"), Error);
}

TEST(LintConfig, YamlSubset) {
  auto c = ParseLintConfig(
      "# team defaults\n"
      "ignore:\n  - KL101\n  - \"KL303\"   # cd is fine here\n"
      "severity:\n  KL300: error\n  KL102: off\n"
      "trusted-registries: [ghcr.io, '*.corp.example']\n"
      "failure-threshold: warning\n",
      ".kiln-lint.yaml");
  EXPECT_EQ(c.ignore, (std::vector<std::string>{"KL101", "KL303"}));
  EXPECT_EQ(c.severity.at("KL102"), "off");
  EXPECT_EQ(c.trusted_registries, (std::vector<std::string>{"ghcr.io", "*.corp.example"}));
  EXPECT_EQ(c.failure_threshold, "warning");
  try {
    ParseLintConfig("ignore:\n  - KL1\nbogus: 1\n", "c.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 3);
  }
  EXPECT_THROW(ParseLintConfig("  - KL1\n", "c.yaml"), Error);
  EXPECT_THROW(ParseLintConfig("failure-threshold: sometimes\n", "c.yml"), Error);
}

TEST(LintConfig, FoundByWalkingUp) {
  fs::path root = fs::temp_directory_path() / ("kiln-lint-cfg-" + std::to_string(::getpid()));
  fs::create_directories(root / "a/b");
  std::ofstream(root / "a/b/Dockerfile") << "FROM alpine:3.20\n";
  EXPECT_EQ(FindLintConfig((root / "a/b/Dockerfile").string()).find(root.string()), std::string::npos);
  std::ofstream(root / ".kiln-lint.yaml") << "ignore: []\n";
  EXPECT_EQ(FindLintConfig((root / "a/b/Dockerfile").string()), (root / ".kiln-lint.yaml").string());
  std::ofstream(root / "a/.kiln-lint.json") << "{}";
  EXPECT_EQ(FindLintConfig((root / "a/b/Dockerfile").string()), (root / "a/.kiln-lint.json").string());
  EXPECT_NO_THROW(LoadLintConfig((root / "a/.kiln-lint.json").string()));
  EXPECT_THROW(LoadLintConfig((root / "missing.json").string()), Error);
  fs::remove_all(root);
}

// `kiln lint` asks one finder from all its workers at once. Sized so that
// memos without locks fail: 7 of 10 runs crashed or answered wrong before.
TEST(LintConfig, FinderSharedByThreads) {
  fs::path root = fs::temp_directory_path() / ("kiln-lint-cfg-threads-" + std::to_string(::getpid()));
  std::vector<std::string> files;
  for (int d = 0; d < 300; ++d) {
    const fs::path sub = root / std::to_string(d % 5) / std::to_string(d);
    fs::create_directories(sub);
    if (d % 4 == 0) std::ofstream(sub / ".kiln-lint.json") << "{}";
    if (d < 5) std::ofstream(root / std::to_string(d) / ".kiln-lint.yaml") << "ignore: []\n";
    for (int f = 0; f < 8; ++f) files.push_back((sub / (std::to_string(f) + ".Dockerfile")).string());
  }
  std::vector<std::string> expected;
  for (const auto& f : files) expected.push_back(FindLintConfig(f));
  LintConfigFinder finder;
  for (const auto& answers : frontend::AskFromThreads(8, files.size(), [&](size_t i) { return finder.Find(files[i]); }))
    EXPECT_EQ(answers, expected);
  fs::remove_all(root);
}

TEST(LintPragmas, InlineAndGlobal) {
  const std::string df =
      "FROM alpine:latest\n"
      "# kiln-ignore=KL303\n"
      "RUN cd /x && make\n"
      "RUN cd /y && make\n"
      "# some comment\n"
      "# kiln-ignore=KL001, KL302\n"
      "# another\n"
      "RUN sudo make\n";
  auto r = LintSource(df, "Dockerfile", {});
  int cd_lines = 0;
  for (const auto& f : r.findings)
    if (f.rule == "KL303") {
      ++cd_lines;
      EXPECT_EQ(f.location.line, 4);
    }
  EXPECT_EQ(cd_lines, 1);
  EXPECT_FALSE(Fires(r, "KL302"));
  EXPECT_TRUE(Fires(r, "KL101"));
  // A pragma separated by an instruction does not apply.
  auto r2 = LintSource("FROM alpine:3.20\n# kiln-ignore=KL303\nRUN true\nRUN cd /x\n", "Dockerfile", {});
  EXPECT_TRUE(Fires(r2, "KL303"));
  auto r3 = LintSource("FROM alpine:latest\nRUN cd /x\n# kiln-global-ignore=KL303,KL101\n", "Dockerfile", {});
  EXPECT_FALSE(Fires(r3, "KL303"));
  EXPECT_FALSE(Fires(r3, "KL101"));
  EXPECT_TRUE(Fires(r3, "KL001"));
}

TEST(LintOptionsTest, IgnoreSeverityThreshold) {
  const std::string df = "FROM alpine:3.20\nRUN cd /x\n";
  LintOptions o;
  auto r = LintSource(df, "Dockerfile", o);
  ASSERT_TRUE(Fires(r, "KL001"));
  EXPECT_TRUE(HasErrors(r));
  EXPECT_TRUE(ReachesThreshold(r, ParseThreshold("error")));
  EXPECT_FALSE(ReachesThreshold(r, ParseThreshold("none")));
  EXPECT_THROW(ParseThreshold("fatal"), Error);
  o.ignore = {"KL001"};
  r = LintSource(df, "Dockerfile", o);
  EXPECT_FALSE(HasErrors(r));
  EXPECT_FALSE(ReachesThreshold(r, ParseThreshold("error")));
  EXPECT_TRUE(ReachesThreshold(r, ParseThreshold("warning")));  // KL303
  o.config.severity = {{"KL303", "error"}, {"KL102", "off"}};
  r = LintSource(df, "Dockerfile", o);
  EXPECT_TRUE(HasErrors(r));
  EXPECT_FALSE(Fires(r, "KL102"));
  o.config.ignore = {"KL303"};
  r = LintSource(df, "Dockerfile", o);
  EXPECT_FALSE(Fires(r, "KL303"));
}

TEST(LintOptionsTest, ParseErrorsThrowWithLocation) {
  try {
    LintSource("FROM alpine\nRUNN x\n", "bad.Dockerfile", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 2);
  }
}

}  // namespace
}  // namespace kiln::frontend::lint
