// `kiln lint`: runs the Dockerfile linter (frontend/lint) on files or stdin.
// Exit codes: 0 nothing reached --failure-threshold, 1 something did,
// 2 usage, config or parse errors.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "builder/commands.h"
#include "builder/read_input.h"
#include "frontend/dockerignore.h"
#include "frontend/error.h"
#include "frontend/lint/linter.h"

namespace kiln::builder {
namespace {

namespace lint = frontend::lint;

struct LintOpts {
  std::vector<std::string> files;
  std::string format = "text";
  std::string config;
  std::string threshold;
  std::vector<std::string> ignore;
  std::vector<std::string> trusted;
  std::string context;
  bool no_context = false;
  bool shellcheck = false;
  bool rules_markdown = false;
};

// Context checks default to the Dockerfile's directory (what `kiln build
// -f DIR/Dockerfile DIR` would send); stdin has none unless --context.
void SetContext(const LintOpts& o, const std::string& file, lint::LintOptions& lo) {
  if (o.no_context) return;
  std::string dir = o.context;
  if (dir.empty() && file != "-") dir = std::filesystem::path(file).parent_path().string();
  if (dir.empty() && file != "-") dir = ".";
  if (dir.empty()) return;
  lo.context_dir = dir;
  const std::string ignore_file = frontend::FindIgnoreFile(dir, file == "-" ? "" : file);
  if (ignore_file.empty()) return;
  auto matcher = std::make_shared<frontend::IgnoreMatcher>(frontend::ReadIgnoreFile(ReadInputFile(ignore_file)));
  lo.excluded = [matcher](const std::string& p) { return matcher->Excluded(p); };
  lo.may_include_below = [matcher](const std::string& d) { return matcher->MayIncludeBelow(d); };
}

void RunLint(const LintOpts& o) {
  if (o.rules_markdown) {
    std::cout << lint::RulesMarkdown();
    return;
  }
  if (o.files.empty()) {
    std::cerr << "kiln lint: at least one FILE (or '-') is required\n";
    throw ExitCode{2};
  }
  std::vector<lint::LintResult> results;
  bool failed = false;
  bool color = o.format == "text" && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  try {
    for (const auto& file : o.files) {
      lint::LintOptions lo;
      std::string config_path = o.config.empty() ? lint::FindLintConfig(file) : o.config;
      if (!config_path.empty()) lo.config = lint::LoadLintConfig(config_path);
      lo.ignore = o.ignore;
      lo.trusted_registries = o.trusted;
      lo.shellcheck = o.shellcheck;
      SetContext(o, file, lo);
      std::string threshold = !o.threshold.empty() ? o.threshold : lo.config.failure_threshold.value_or("error");
      auto level = lint::ParseThreshold(threshold);
      std::string text;
      try {
        text = ReadInputFile(file);
      } catch (const std::exception& e) {
        std::cerr << "kiln lint: " << e.what() << "\n";
        throw ExitCode{2};
      }
      auto result = lint::LintSource(text, file, lo);
      failed = failed || lint::ReachesThreshold(result, level);
      if (o.format == "text") std::cout << lint::FormatText(result, color);
      results.push_back(std::move(result));
    }
  } catch (const frontend::Error& e) {
    std::cout.flush();
    std::cerr << "kiln lint: " << e.what() << "\n";
    throw ExitCode{2};
  }
  if (o.format == "json") std::cout << lint::FormatJson(results);
  if (o.format == "sarif") std::cout << lint::FormatSarif(results);
  std::cout.flush();
  if (failed) throw ExitCode{1};
}

}  // namespace

void AddLintCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("lint", "Lint Dockerfiles (exit 1 when a finding reaches the failure threshold)");
  auto o = std::make_shared<LintOpts>();
  cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json", "sarif"}));
  cmd->add_option("--config", o->config, "Config file (default: nearest .kiln-lint.json/.yaml above the Dockerfile)");
  cmd->add_option("--failure-threshold", o->threshold, "Lowest severity that makes the exit code 1 (default: error)")
      ->check(CLI::IsMember({"error", "warning", "info", "none"}));
  cmd->add_option("--ignore", o->ignore, "Rule ID to ignore (repeatable)");
  cmd->add_option("--trusted-registry", o->trusted, "Registry allowed to supply images (repeatable; enables KL103)");
  cmd->add_option("--context", o->context, "Build context for the secret-file check (default: the Dockerfile's directory)");
  cmd->add_flag("--no-context", o->no_context, "Do not look at a build context");
  cmd->add_flag("--shellcheck", o->shellcheck, "Also check RUN scripts with shellcheck when it is installed");
  cmd->add_flag("--rules-markdown", o->rules_markdown, "Print docs/rules.md generated from the rule table")->group("");
  cmd->add_option("FILE", o->files, "Dockerfiles to lint ('-' for stdin)");
  cmd->callback([o] { RunLint(*o); });
}

}  // namespace kiln::builder
