// .dockerignore matching against moby/patternmatcher's vectors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "frontend/dockerignore.h"
#include "frontend/error.h"
#include "tests/frontend/corpus_util.h"
#include "tests/frontend/threads_util.h"

namespace kiln::frontend {
namespace {

using nlohmann::json;
using testing::CorpusDir;
using testing::ReadFileOrDie;

json Cases() { return json::parse(ReadFileOrDie(CorpusDir() + "/moby-patternmatcher/patternmatcher-cases.json")); }

std::vector<std::string> PatternsOf(const json& c) {
  if (c.contains("patterns")) return c["patterns"].get<std::vector<std::string>>();
  return {c["pattern"].get<std::string>()};
}

TEST(DockerIgnore, MatchesOrParentMatchesVectors) {
  json cases = Cases()["matches_or_parent_matches"];
  ASSERT_EQ(cases.size(), 72u);
  for (const json& c : cases) {
    IgnoreMatcher m(PatternsOf(c));
    std::string path = c["path"].get<std::string>();
    EXPECT_EQ(m.Excluded(path), c["match"].get<bool>()) << c.dump();
  }
}

TEST(DockerIgnore, LegacyMatchesVectors) {
  json cases = Cases()["legacy_matches"];
  ASSERT_EQ(cases.size(), 65u);
  for (const json& c : cases) {
    std::string path = c["path"].get<std::string>();
    if (c["error"].get<bool>()) {
      EXPECT_THROW(IgnoreMatches(path, PatternsOf(c)), Error) << c.dump();
      continue;
    }
    try {
      EXPECT_EQ(IgnoreMatches(path, PatternsOf(c)), c["match"].get<bool>()) << c.dump();
    } catch (const Error& e) {
      ADD_FAILURE() << c.dump() << ": " << e.what();
    }
  }
}

TEST(DockerIgnore, NewPatternsVectors) {
  const json all_cases = Cases();
  for (const json& c : all_cases["new_patterns"]) {
    auto patterns = c["patterns"].get<std::vector<std::string>>();
    if (c["error"].get<bool>()) {
      EXPECT_THROW(IgnoreMatcher{patterns}, Error) << c.dump();
      continue;
    }
    IgnoreMatcher m(patterns);
    if (c.contains("pattern_count")) {
      EXPECT_EQ(m.size(), c["pattern_count"].get<size_t>());
    }
    if (c.contains("has_exclusions")) {
      EXPECT_EQ(m.has_exclusions(), c["has_exclusions"].get<bool>());
    }
    if (c.contains("then_match")) {
      for (int i = 0; i < 3; ++i) {  // must keep failing, not crash
        EXPECT_THROW(m.Excluded(c["then_match"]["path"].get<std::string>()), Error);
      }
    }
  }
}

TEST(DockerIgnore, ReadAllVectors) {
  const json all_cases = Cases();
  for (const json& c : all_cases["ignorefile_read_all"]) {
    std::string input = c["input"].is_null() ? "" : c["input"].get<std::string>();
    EXPECT_EQ(ReadIgnoreFile(input), c["expected"].get<std::vector<std::string>>());
  }
  EXPECT_EQ(ReadIgnoreFile("\xEF\xBB\xBF" "a\r\n./b/\n"), (std::vector<std::string>{"a", "b"}));
}

TEST(DockerIgnore, MayIncludeBelow) {
  IgnoreMatcher m({"vendor", "!vendor/keep/file.go", "build"});
  EXPECT_TRUE(m.Excluded("vendor/x.go"));
  EXPECT_FALSE(m.Excluded("vendor/keep/file.go"));
  EXPECT_TRUE(m.MayIncludeBelow("vendor"));
  EXPECT_TRUE(m.MayIncludeBelow("vendor/keep"));
  EXPECT_FALSE(m.MayIncludeBelow("build"));
  EXPECT_TRUE(IgnoreMatcher({"a", "!**/*.md"}).MayIncludeBelow("a"));
  EXPECT_FALSE(IgnoreMatcher({"a"}).MayIncludeBelow("a"));
}

TEST(DockerIgnore, FindIgnoreFile) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln-ignore-" + std::to_string(::getpid()));
  fs::create_directories(dir / "sub");
  EXPECT_EQ(FindIgnoreFile(dir.string(), (dir / "sub/Dockerfile").string()), "");
  std::ofstream(dir / ".dockerignore") << "x\n";
  EXPECT_EQ(FindIgnoreFile(dir.string(), (dir / "sub/Dockerfile").string()), (dir / ".dockerignore").string());
  std::ofstream(dir / "sub/Dockerfile.dockerignore") << "y\n";
  EXPECT_EQ(FindIgnoreFile(dir.string(), (dir / "sub/Dockerfile").string()),
            (dir / "sub/Dockerfile.dockerignore").string());
  std::ofstream(dir / "Containerfile.dockerignore") << "z\n";
  EXPECT_EQ(FindIgnoreFile(dir.string(), (dir / "Containerfile").string()),
            (dir / "Containerfile.dockerignore").string());
  fs::remove_all(dir);
}

// The memoizing finder gives FindIgnoreFile's answers: a Dockerfile's own
// ignore file first, then the context's; a directory named like one is not.
TEST(DockerIgnore, IgnoreFileFinderAnswersLikeFindIgnoreFile) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln-ignore-finder-" + std::to_string(::getpid()));
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b/x.Dockerfile.dockerignore");  // a directory, not an ignore file
  std::ofstream(dir / "a/.dockerignore") << "x\n";
  std::ofstream(dir / "a/2.Dockerfile.dockerignore") << "y\n";
  IgnoreFileFinder finder;
  for (const auto& [ctx, df] : std::vector<std::pair<fs::path, fs::path>>{
           {dir / "a", dir / "a/1.Dockerfile"}, {dir / "a", dir / "a/2.Dockerfile"}, {dir / "a", dir / "a/3.Dockerfile"},
           {dir / "b", dir / "b/x.Dockerfile"}, {dir / "a", dir / "b/x.Dockerfile"}, {dir / "missing", ""}})
    EXPECT_EQ(finder.Find(ctx.string(), df.string()), FindIgnoreFile(ctx.string(), df.string())) << df;
  EXPECT_EQ(finder.Find((dir / "a").string(), (dir / "a/2.Dockerfile").string()), (dir / "a/2.Dockerfile.dockerignore").string());
  EXPECT_EQ(finder.Find((dir / "a").string(), (dir / "a/1.Dockerfile").string()), (dir / "a/.dockerignore").string());
  EXPECT_EQ(finder.Find((dir / "b").string(), (dir / "b/x.Dockerfile").string()), "");
  fs::remove_all(dir);
}

// `kiln lint` asks one finder from all its workers at once. Sized so that
// memos without locks fail: 7 of 10 runs crashed or answered wrong before.
TEST(DockerIgnore, IgnoreFileFinderSharedByThreads) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln-ignore-threads-" + std::to_string(::getpid()));
  std::vector<std::pair<std::string, std::string>> asks;  // context, Dockerfile
  for (int d = 0; d < 400; ++d) {
    const fs::path sub = dir / std::to_string(d);
    fs::create_directories(sub);
    if (d % 3 == 0) std::ofstream(sub / ".dockerignore") << "x\n";
    for (int f = 0; f < 10; ++f) {
      const fs::path df = sub / (std::to_string(f) + ".Dockerfile");
      if ((d + f) % 7 == 0) std::ofstream(df.string() + ".dockerignore") << "y\n";
      asks.emplace_back(sub.string(), df.string());
    }
  }
  std::vector<std::string> expected;
  for (const auto& [ctx, df] : asks) expected.push_back(FindIgnoreFile(ctx, df));
  IgnoreFileFinder finder;
  for (const auto& answers : AskFromThreads(8, asks.size(), [&](size_t i) { return finder.Find(asks[i].first, asks[i].second); }))
    EXPECT_EQ(answers, expected);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kiln::frontend
