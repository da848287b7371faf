// The linter over the 803 real-world Dockerfiles: the security gate's secret
// and setuid rules must not fire on files that do not break them (each hit
// below was reviewed by hand), and a throughput print for the bench harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "frontend/lint/linter.h"

namespace kiln::frontend::lint {
namespace {

namespace fs = std::filesystem;

struct CorpusFile {
  std::string name, text;
};

std::vector<CorpusFile> LoadCorpus() {
  const char* env = std::getenv("KILN_TEST_DATA");
  fs::path dir = fs::path(env ? env : KILN_TEST_DATA) / "corpus/realworld";
  std::vector<CorpusFile> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".Dockerfile") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    files.push_back({fs::relative(e.path(), dir).generic_string(), ss.str()});
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

// Reviewed genuine findings: file -> rules that rightly fire there.
const std::map<std::string, std::set<std::string>>& Reviewed() {
  static const std::map<std::string, std::set<std::string>> k = {
      // Chromium's Google API key (the one Debian ships) echoed into a
      // profile script: a literal key in the image, found by the shared
      // format table's google-api-key (secret_rules/formats.h).
      {"jessfraz_dockerfiles/chromium__Dockerfile.Dockerfile", {"KL003"}},
      // Demonstrates no_new_privs: `chmod +s` on a binary on purpose.
      {"jessfraz_dockerfiles/no_new_privs__Dockerfile.Dockerfile", {"KL005"}},
      // ENV LICENSE_KEY with a literal (MaxMind) license key baked into the image.
      {"jessfraz_dockerfiles/telize__Dockerfile.Dockerfile", {"KL002"}},
  };
  return k;
}

TEST(LintCorpus, SecurityGateSecretAndSetuidRulesHaveNoFalsePositives) {
  auto files = LoadCorpus();
  ASSERT_EQ(files.size(), 803u);
  const std::set<std::string> gate = {"KL002", "KL003", "KL004", "KL005"};
  int parsed = 0;
  std::map<std::string, int> counts;
  for (const auto& f : files) {
    LintResult r;
    try {
      r = LintSource(f.text, f.name, {});
    } catch (const Error&) {
      continue;  // parse errors are the parser's tests' business
    }
    ++parsed;
    auto reviewed = Reviewed().find(f.name);
    for (const auto& finding : r.findings) {
      ++counts[finding.rule];
      if (!gate.count(finding.rule)) continue;
      const bool ok = reviewed != Reviewed().end() && reviewed->second.count(finding.rule);
      EXPECT_TRUE(ok) << f.name << ":" << finding.location.line << " " << finding.rule << " " << finding.message;
    }
  }
  EXPECT_GE(parsed, 790);
  std::cout << "[ corpus ] parsed " << parsed << "/" << files.size() << " files; findings per rule:";
  for (const auto& [id, n] : counts) std::cout << " " << id << "=" << n;
  std::cout << "\n";
}

TEST(LintCorpus, SpeedPrint) {
  auto files = LoadCorpus();
  std::vector<CorpusFile> ok;
  for (auto& f : files) {
    try {
      ParseDockerfile(f.text, f.name);
      ok.push_back(std::move(f));
    } catch (const Error&) {
    }
  }
  size_t findings = 0;
  auto start = std::chrono::steady_clock::now();
  constexpr int kRounds = 10;
  for (int i = 0; i < kRounds; ++i)
    for (const auto& f : ok) findings += LintSource(f.text, f.name, {}).findings.size();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ speed  ] linted " << ok.size() << " files x" << kRounds << " (parse + lint, in-process) in " << secs
            << " s: " << (static_cast<double>(ok.size()) * kRounds / secs) << " files/s (" << findings / kRounds
            << " findings per pass)\n";
}

}  // namespace
}  // namespace kiln::frontend::lint
