// ShellLex against BuildKit's lexer vectors (shell/envVarTest, wordsTest,
// process-word-cases.json) plus the knobs the parser relies on.
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/shell_lex.h"
#include "tests/frontend/corpus_util.h"

namespace kiln::frontend {
namespace {

using nlohmann::json;
using testing::CorpusDir;
using testing::ReadFileOrDie;

std::string ShellDir() { return CorpusDir() + "/buildkit-dockerfile-parser/shell"; }

std::string Trim(std::string s, bool left = true, bool right = true) {
  const char* ws = " \t\r\n";
  if (left) s.erase(0, s.find_first_not_of(ws) == std::string::npos ? s.size() : s.find_first_not_of(ws));
  if (right) s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

ShellLex::Lookup FromMap(const std::map<std::string, std::string>& env) {
  return [&env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ShellLex, EnvVarTestVectors) {
  const std::map<std::string, std::string> env = {
      {"PWD", "/home"}, {"SHELL", "bash"}, {"KOREAN", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"}, {"NULL", ""}};
  std::istringstream in(ReadFileOrDie(ShellDir() + "/envVarTest"));
  std::string line;
  int cases = 0;
  ShellLex lex('\\');
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, '|')) f.push_back(Trim(part));
    if (line.back() == '|') f.push_back("");
    ASSERT_EQ(f.size(), 3u) << line;
    if (f[0] == "W") continue;
    ++cases;
    if (f[2] == "error") {
      EXPECT_THROW(lex.ProcessWord(f[1], env), std::runtime_error) << f[1];
      continue;
    }
    try {
      EXPECT_EQ(lex.ProcessWord(f[1], env), f[2]) << f[1];
    } catch (const std::exception& e) {
      ADD_FAILURE() << f[1] << ": " << e.what();
    }
  }
  EXPECT_GT(cases, 100);
}

TEST(ShellLex, WordsTestVectors) {
  std::map<std::string, std::string> env;
  std::istringstream in(ReadFileOrDie(ShellDir() + "/wordsTest"));
  std::string line;
  int cases = 0;
  ShellLex lex('\\');
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("ENV ", 0) == 0) {
      std::string kv = Trim(line.substr(4), true, false);
      size_t eq = kv.find('=');
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
      continue;
    }
    size_t bar = line.find('|');
    ASSERT_NE(bar, std::string::npos) << line;
    std::string input = Trim(line.substr(0, bar));
    std::string expected = Trim(line.substr(bar + 1), true, false);
    ++cases;
    if (expected == "error") {
      EXPECT_THROW(lex.ProcessWords(input, FromMap(env)), std::runtime_error) << input;
      continue;
    }
    std::vector<std::string> want;
    std::stringstream ss(expected);
    std::string w;
    while (std::getline(ss, w, ',')) want.push_back(w);
    try {
      EXPECT_EQ(lex.ProcessWords(input, FromMap(env)), want) << input;
    } catch (const std::exception& e) {
      ADD_FAILURE() << input << ": " << e.what();
    }
  }
  EXPECT_GT(cases, 20);
}

TEST(ShellLex, ProcessWordCases) {
  json cases = json::parse(ReadFileOrDie(ShellDir() + "/process-word-cases.json"));
  ShellLex lex('\\');
  for (const json& c : cases) {
    std::string input = c["input"].get<std::string>();
    auto env = c["env"].get<std::map<std::string, std::string>>();
    ShellLex::Matches m;
    SCOPED_TRACE(input);
    if (c.value("error", false)) {
      try {
        lex.ProcessWordWithMatches(input, FromMap(env), &m);
        ADD_FAILURE() << "expected an error";
      } catch (const std::runtime_error& e) {
        if (c.contains("error_contains")) {
          EXPECT_NE(std::string(e.what()).find(c["error_contains"].get<std::string>()), std::string::npos)
              << e.what();
        }
      }
      continue;
    }
    try {
      EXPECT_EQ(lex.ProcessWordWithMatches(input, FromMap(env), &m), c["expected"].get<std::string>());
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    if (c.contains("matched")) {
      EXPECT_EQ(m.matched, c["matched"].get<std::set<std::string>>());
    }
    if (c.contains("unmatched")) {
      EXPECT_EQ(m.unmatched, c["unmatched"].get<std::set<std::string>>());
    }
  }
}

TEST(ShellLex, BacktickEscape) {
  ShellLex lex('`');
  std::map<std::string, std::string> env = {{"A", "x"}};
  EXPECT_EQ(lex.ProcessWord("C:\\dir`$A", env), "C:\\dir$A");
  EXPECT_EQ(lex.ProcessWord("\"`\"$A\"", env), "\"x");
}

TEST(ShellLex, Patterns) {
  std::map<std::string, std::string> env = {{"P", "/usr/local/bin/app.tar.gz"}, {"M", "a\nb"}};
  ShellLex lex;
  EXPECT_EQ(lex.ProcessWord("${P#*/}", env), "usr/local/bin/app.tar.gz");
  EXPECT_EQ(lex.ProcessWord("${P##*/}", env), "app.tar.gz");
  EXPECT_EQ(lex.ProcessWord("${P%.*}", env), "/usr/local/bin/app.tar");
  EXPECT_EQ(lex.ProcessWord("${P%%.*}", env), "/usr/local/bin/app");
  EXPECT_EQ(lex.ProcessWord("${P/local/opt}", env), "/usr/opt/bin/app.tar.gz");
  EXPECT_EQ(lex.ProcessWord("${P//\\//_}", env), "_usr_local_bin_app.tar.gz");
  EXPECT_EQ(lex.ProcessWord("${P//?/x}", env), std::string(25, 'x'));
  EXPECT_EQ(lex.ProcessWord("${M/*/z}", env), "z\nb");  // * does not cross newlines
  EXPECT_THROW(lex.ProcessWord("${P#\\a}", env), std::runtime_error);
}

TEST(ShellLex, RawModesAndSkipUnset) {
  ShellLex lex;
  lex.raw_quotes = true;
  lex.raw_escapes = true;
  lex.skip_unset_env = true;
  auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_EQ(lex.ProcessWords("cat <<'EOF' \\\"x $Y ${Z:-q}", none),
            (std::vector<std::string>{"cat", "<<'EOF'", "\\\"x", "$Y", "${Z:-q}"}));
  EXPECT_EQ(lex.ProcessWords("<<  EOF <<- X", none), (std::vector<std::string>{"<<  EOF", "<<- X"}));
  ShellLex raw;
  raw.skip_process_quotes = true;
  std::map<std::string, std::string> env = {{"A", "1"}};
  EXPECT_EQ(raw.ProcessWord("echo '$A' \"$A\"", env), "echo '1' \"1\"");
}

}  // namespace
}  // namespace kiln::frontend
