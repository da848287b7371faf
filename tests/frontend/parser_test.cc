// Parser behaviour against BuildKit's fixtures and unit vectors
// (tests/data/corpus/buildkit-dockerfile-parser) and the real-world corpus.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/ast.h"
#include "frontend/error.h"
#include "frontend/line_parsers.h"
#include "tests/frontend/corpus_util.h"

namespace kiln::frontend {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CorpusDir;
using testing::ReadFileOrDie;

json Extra() { return json::parse(ReadFileOrDie(testing::BuildkitParserDir() + "/extra-cases.json")); }

std::string ParseErrorOf(std::string_view text) {
  try {
    Parse(text, "Dockerfile");
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Parser, LineNumbersFixture) {
  json want = json::parse(ReadFileOrDie(testing::BuildkitParserDir() + "/testfile-line/expected-lines.json"));
  ParseResult r = Parse(ReadFileOrDie(testing::BuildkitParserDir() + "/testfile-line/Dockerfile"));
  ASSERT_EQ(r.instructions.size(), want["children"].size());
  for (size_t i = 0; i < r.instructions.size(); ++i) {
    EXPECT_EQ(r.instructions[i].start_line, want["children"][i]["start_line"].get<int>()) << i;
    EXPECT_EQ(r.instructions[i].end_line, want["children"][i]["end_line"].get<int>()) << i;
  }
  EXPECT_EQ(r.instructions.front().start_line, want["ast"]["start_line"].get<int>());
  EXPECT_EQ(r.instructions.back().end_line, want["ast"]["end_line"].get<int>());
}

TEST(Parser, HeredocFixture) {
  json want = json::parse(ReadFileOrDie(testing::BuildkitParserDir() + "/heredoc/expected-heredocs.json"));
  ParseResult r = Parse(ReadFileOrDie(testing::BuildkitParserDir() + "/heredoc/Dockerfile"));
  ASSERT_EQ(r.instructions.size(), want["children"].size() + 1);
  for (const json& child : want["children"]) {
    const Node& node = r.instructions.at(child["child_index"].get<size_t>());
    SCOPED_TRACE(node.original);
    if (child["heredocs"].is_null()) {
      EXPECT_TRUE(node.heredocs.empty());
      continue;
    }
    ASSERT_EQ(node.heredocs.size(), child["heredocs"].size());
    for (size_t i = 0; i < node.heredocs.size(); ++i) {
      const json& h = child["heredocs"][i];
      EXPECT_EQ(node.heredocs[i].name, h["name"].get<std::string>());
      EXPECT_EQ(node.heredocs[i].content, h["content"].get<std::string>());
      EXPECT_EQ(node.heredocs[i].expand, h["expand"].get<bool>());
      EXPECT_EQ(node.heredocs[i].chomp, h["chomp"].get<bool>());
      EXPECT_EQ(node.heredocs[i].file_descriptor, h["file_descriptor"].get<int>());
    }
  }
}

TEST(Parser, HeredocLinesIncludeBodies) {
  ParseResult r = Parse("FROM a\nRUN <<EOF\necho hi\nEOF\nCOPY <<A <<B /x\n1\nA\n2\nB\nRUN true\n");
  ASSERT_EQ(r.instructions.size(), 4u);
  EXPECT_EQ(r.instructions[1].start_line, 2);
  EXPECT_EQ(r.instructions[1].end_line, 4);
  EXPECT_EQ(r.instructions[2].start_line, 5);
  EXPECT_EQ(r.instructions[2].end_line, 9);
  EXPECT_EQ(r.instructions[3].start_line, 10);
  EXPECT_EQ(Dump(r), "(from \"a\")\n(run \"<<EOF\")\n(copy \"<<A\" \"<<B\" \"/x\")\n(run \"true\")\n");
}

TEST(Parser, HeredocInOnbuildAndNotInExecForm) {
  ParseResult r = Parse("FROM a\nONBUILD RUN <<EOF\nx\nEOF\nRUN [\"<<EOF\"]\nCMD <<EOF\n");
  ASSERT_EQ(r.instructions.size(), 4u);
  ASSERT_EQ(r.instructions[1].heredocs.size(), 1u);
  EXPECT_EQ(r.instructions[1].heredocs[0].content, "x\n");
  EXPECT_TRUE(r.instructions[2].heredocs.empty());
  EXPECT_TRUE(r.instructions[3].heredocs.empty());  // CMD cannot hold a heredoc
}

TEST(Parser, HeredocJsonFixtureHasNoHeredocs) {
  ParseResult r = Parse(ReadFileOrDie(testing::BuildkitParserDir() + "/heredoc-json/Dockerfile"));
  ASSERT_EQ(r.instructions.size(), 4u);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(r.instructions[i].heredocs.empty()) << i;
    EXPECT_TRUE(r.instructions[i].json_form) << i;
  }
}

TEST(Parser, HeredocCrlfBodyKeptVerbatim) {
  ParseResult r = Parse("FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\n");
  ASSERT_EQ(r.instructions[1].heredocs.size(), 1u);
  EXPECT_EQ(r.instructions[1].heredocs[0].content, "x\r\n");
}

TEST(Parser, EmptyContinuationWarnings) {
  json spec = Extra()["warnings"];
  ParseResult r = Parse(ReadFileOrDie(testing::BuildkitParserDir() + "/" + spec["dockerfile"].get<std::string>()));
  ASSERT_EQ(r.warnings.size(), spec["count"].get<size_t>());
  for (size_t i = 0; i < r.warnings.size(); ++i) {
    for (const json& needle : spec["contains"][i]) {
      EXPECT_NE(r.warnings[i].message.find(needle.get<std::string>()), std::string::npos)
          << r.warnings[i].message;
    }
  }
  EXPECT_NE(r.warnings[0].message.find("will become errors in a future release"), std::string::npos);
  EXPECT_TRUE(r.instructions[2].empty_continuation);
  EXPECT_FALSE(r.instructions[1].empty_continuation);
}

TEST(Parser, ParseWordsVectors) {
  const json all_cases = Extra();
  for (const json& c : all_cases["parse_words"]["cases"]) {
    EXPECT_EQ(SplitArgWords(c["input"].get<std::string>()), c["expect"].get<std::vector<std::string>>())
        << c["input"];
  }
}

TEST(Parser, NameValVectors) {
  const json all_cases = Extra();
  for (const json& c : all_cases["name_val"]["cases"]) {
    std::string line = c["keyword"].get<std::string>() + " " + c["input"].get<std::string>();
    if (c.contains("error")) {
      try {
        NodeFromLine(line, '\\');
        ADD_FAILURE() << "no error for " << line;
      } catch (const LineError& e) {
        EXPECT_NE(std::string(e.what()).find(c["error"].get<std::string>()), std::string::npos) << e.what();
      }
      continue;
    }
    EXPECT_EQ(NodeFromLine(line, '\\').args, c["values"].get<std::vector<std::string>>()) << line;
  }
}

TEST(Parser, JsonArrayVectors) {
  json spec = Extra()["json_arrays"];
  for (const json& c : spec["valid"]) {
    auto got = ParseJsonArray(c["input"].get<std::string>());
    ASSERT_TRUE(got.has_value()) << c["input"];
    EXPECT_EQ(*got, c["expect"].get<std::vector<std::string>>());
  }
  for (const json& c : spec["invalid_not_strings"]) {
    EXPECT_THROW(ParseJsonArray(c.get<std::string>()), LineError) << c;
    // In a Dockerfile the instruction fails (no shell-form fallback).
    std::string err = ParseErrorOf("FROM a\nCMD " + c.get<std::string>() + "\n");
    EXPECT_EQ(err, "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only");
  }
  // Malformed JSON is shell form.
  ParseResult r = Parse("FROM a\nCMD [\"a\", \nRUN [ 'x' ]\n");
  EXPECT_FALSE(r.instructions[1].json_form);
  EXPECT_EQ(r.instructions[1].args, std::vector<std::string>{"[\"a\","});
  EXPECT_EQ(r.instructions[2].args, std::vector<std::string>{"[ 'x' ]"});
}

TEST(Parser, DirectiveVectors) {
  json spec = Extra()["directives"];
  for (const json& c : spec["parse_all"]) {
    std::string text = c["input"].get<std::string>() + "FROM a\n";
    ParseResult r = Parse(text);
    std::map<std::string, std::string> want;
    for (const json& d : c["expect"]) want[d["name"].get<std::string>()] = d["value"].get<std::string>();
    EXPECT_EQ(r.directives, want) << c["input"];
  }
  for (const char* key : {"detect_syntax", "parse_directive_check"}) {
    for (const json& c : spec[key]) {
      std::string text = c["input"].get<std::string>();
      auto got = std::string(key) == "detect_syntax" ? DetectSyntax(text) : DetectCheckDirective(text);
      SCOPED_TRACE(text);
      ASSERT_EQ(got.has_value(), c["found"].get<bool>());
      if (!got) continue;
      EXPECT_EQ(got->ref, c["ref"].get<std::string>());
      if (c.contains("cmdline")) {
        EXPECT_EQ(got->cmdline, c["cmdline"].get<std::string>());
      }
      if (c.contains("line")) {
        EXPECT_EQ(got->line, c["line"].get<int>());
      }
    }
  }
}

TEST(Parser, DirectivesOnlyAtTop) {
  ParseResult r = Parse("# escape=`\n# syntax=docker/dockerfile:1\nFROM a\nRUN echo \\\n# escape=\\\n");
  EXPECT_EQ(r.escape, '`');
  EXPECT_EQ(r.directives.at("syntax"), "docker/dockerfile:1");
  EXPECT_EQ(r.directives.count("check"), 0u);
  ASSERT_EQ(r.instructions.size(), 2u);
  EXPECT_EQ(r.instructions[1].args, std::vector<std::string>{"echo \\"});  // not a continuation with `
  // After a blank line or comment, directives are plain comments.
  ParseResult late = Parse("# hello\n# escape=`\nFROM a\n");
  EXPECT_EQ(late.escape, '\\');
  EXPECT_TRUE(late.directives.empty());
  ParseResult check = Parse("# check=skip=all\nFROM a\n");
  EXPECT_EQ(check.directives.at("check"), "skip=all");
}

TEST(Parser, HeredocWordVectors) {
  json spec = Extra()["heredoc"];
  for (const json& w : spec["parse_heredoc_word"]["valid"]) {
    auto doc = ParseHeredocWord(w.get<std::string>());
    ASSERT_TRUE(doc.has_value()) << w;
    EXPECT_EQ(doc->name, "EOF") << w;
  }
  for (const json& w : spec["parse_heredoc_word"]["invalid"]) {
    EXPECT_THROW(ParseHeredocWord(w.get<std::string>()), Error) << w;
  }
  for (const json& w : spec["parse_heredoc_word"]["not_heredoc"]) {
    EXPECT_FALSE(ParseHeredocWord(w.get<std::string>()).has_value()) << w;
  }
  for (const json& c : spec["heredocs_from_line"]) {
    std::vector<std::string> names;
    for (const Heredoc& h : HeredocsFromLine(c["line"].get<std::string>())) names.push_back(h.name);
    EXPECT_EQ(names, c["heredoc_names"].get<std::vector<std::string>>()) << c["line"];
  }
  for (const json& c : spec["chomp"]) {
    EXPECT_EQ(ChompHeredocContent(c["input"].get<std::string>()), c["expect"].get<std::string>());
    Heredoc doc;
    doc.content = c["input"].get<std::string>();
    EXPECT_EQ(doc.Body(), doc.content);
    doc.chomp = true;
    EXPECT_EQ(doc.Body(), c["expect"].get<std::string>());
  }
}

TEST(Parser, LineTooLong) {
  json spec = Extra()["line_too_long"];
  std::string text = "\n\t\tFROM image\n\t\tLABEL test=" + std::string(65536, 'a') + "\n";
  std::string err = ParseErrorOf(text);
  EXPECT_NE(err.find(spec["error"].get<std::string>()), std::string::npos) << err;
  EXPECT_EQ(err.rfind("Dockerfile:3:", 0), 0u) << err;
  // 65535 bytes is still fine.
  EXPECT_NO_THROW(Parse("FROM a\nLABEL a=" + std::string(65535 - 8, 'b') + "\n"));
}

TEST(Parser, ErrorsCarryLocation) {
  EXPECT_EQ(ParseErrorOf("FROM a\nRUN <<EOF\necho\n"),
            "Dockerfile:2: unterminated heredoc: no line \"EOF\" ends the heredoc started here");
  EXPECT_EQ(ParseErrorOf("FROM a\n\\\n\n  \n"),
            "Dockerfile:2: empty continuation line at end of file: the instruction has no content");
  EXPECT_EQ(ParseErrorOf("# escape=`\n# escape=\\\nFROM a\n"),
            "Dockerfile:2:1: only one escape parser directive can be used");
  EXPECT_EQ(ParseErrorOf("# escape=x\nFROM a\n"),
            "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\");
  EXPECT_EQ(ParseErrorOf("FROM a\nENV PATH\n"), "Dockerfile:2: ENV must have two arguments");
  EXPECT_EQ(ParseErrorOf("FROM a\nENV a=b c\n"),
            "Dockerfile:2: Syntax error - can't find = in \"c\". Must be of the form: name=value");
  EXPECT_EQ(ParseErrorOf(""), "Dockerfile: file with no instructions");
  EXPECT_EQ(ParseErrorOf("# only\n\n"), "Dockerfile:2: file with no instructions");
  try {
    Parse("FROM a\nLABEL x=1 \\\n  y\n", "ctx/Dockerfile");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where().file, "ctx/Dockerfile");
    EXPECT_EQ(e.where().line, 2);
    EXPECT_EQ(e.where().end_line, 3);
  }
}

TEST(Parser, ContinuationAtEndOfFileIsInstruction) {
  ParseResult r = Parse("FROM a\nRUN echo \\");
  EXPECT_EQ(Dump(r), "(from \"a\")\n(run \"echo\")\n");
}

TEST(Parser, ContinuationRules) {
  ParseResult r = Parse("FROM a\nRUN echo hello  \\\n  world\nRUN echo \\\\\nRUN a \\  \t\n# c\n\n b\n");
  ASSERT_EQ(r.instructions.size(), 4u);
  EXPECT_EQ(r.instructions[1].args[0], "echo hello    world");
  EXPECT_EQ(r.instructions[2].args[0], "echo \\\\");  // escaped escape: no continuation
  EXPECT_EQ(r.instructions[3].args[0], "a  b");
  EXPECT_EQ(r.instructions[3].end_line, 8);
  EXPECT_EQ(r.instructions[3].original, "RUN a  b");
}

TEST(Parser, KeywordsAnyCaseAndFlags) {
  ParseResult r = Parse("from a AS b\nRuN --mount=type=cache,target=\"/x y\" --network=none echo\n");
  EXPECT_EQ(r.instructions[0].keyword, "from");
  EXPECT_EQ(r.instructions[0].args, (std::vector<std::string>{"a", "AS", "b"}));
  EXPECT_EQ(r.instructions[1].flags,
            (std::vector<std::string>{"--mount=type=cache,target=/x y", "--network=none"}));
  EXPECT_EQ(r.instructions[1].args, std::vector<std::string>{"echo"});
}

TEST(Parser, CommentsAbove) {
  ParseResult r = Parse("# first\n# second\nFROM a\n#\n# third\nRUN x\nRUN y\n");
  EXPECT_EQ(r.instructions[0].comments, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(r.instructions[1].comments, std::vector<std::string>{"third"});
  EXPECT_TRUE(r.instructions[2].comments.empty());
}

TEST(Parser, BomIsDropped) {
  ParseResult r = Parse("\xEF\xBB\xBF# escape=`\nFROM a\n");
  EXPECT_EQ(r.escape, '`');
}

std::vector<std::string> RealworldFiles() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(CorpusDir() + "/realworld")) {
    if (e.is_regular_file() && e.path().extension() == ".Dockerfile") files.push_back(e.path().string());
  }
  return files;
}

TEST(Parser, EveryRealworldDockerfileParses) {
  std::vector<std::string> files = RealworldFiles();
  EXPECT_EQ(files.size(), 803u);
  for (const std::string& f : files) {
    std::string text = ReadFileOrDie(f);
    EXPECT_NO_THROW(Parse(text, f)) << f;
  }
}

// Not an assertion: prints throughput so it can be reported (release build).
TEST(ParserSpeed, RealworldCorpus) {
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const std::string& f : RealworldFiles()) {
    texts.push_back(ReadFileOrDie(f));
    bytes += texts.back().size();
  }
  constexpr int kRounds = 20;
  size_t instructions = 0;
  std::clock_t cpu_start = std::clock();
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    for (const std::string& t : texts) instructions += Parse(t).instructions.size();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_secs = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  double files = static_cast<double>(texts.size()) * kRounds;
  // CPU time is reported too: on a shared machine wall time includes waiting.
  std::cout << "[ParserSpeed] " << files << " files (" << bytes * kRounds / 1e6 << " MB, " << instructions
            << " instructions): wall " << secs << " s = " << static_cast<long>(files / secs)
            << " files/s; cpu " << cpu_secs << " s = " << static_cast<long>(files / cpu_secs) << " files/s, "
            << bytes * kRounds / 1e6 / cpu_secs << " MB/s\n";
  EXPECT_GT(instructions, 0u);
}

}  // namespace
}  // namespace kiln::frontend
