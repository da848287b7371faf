// `kiln lint`: runs the Dockerfile linter (frontend/lint) on files or stdin.
// Exit codes: 0 nothing reached --failure-threshold, 1 something did,
// 2 usage, config or parse errors.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "builder/cmd/commands.h"
#include "builder/read_input.h"
#include "builder/shellcheck_runner.h"
#include "frontend/dockerignore.h"
#include "frontend/error.h"
#include "frontend/lint/linter.h"
#include "frontend/shared_memo.h"
#include "sandbox/parallel.h"

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

// What the files of one run share, looked up once by whichever worker needs
// it first: config files (by directory), .dockerignore matchers and context
// walks (a directory of Dockerfiles is walked once). The memos and finders
// are read without blocking one another: one lock held for every file's
// lookups made the workers sleep on each other in futex waits.
class SharedLookups {
 public:
  explicit SharedLookups(const LintOpts& o) : o_(o), shellcheck_(o.shellcheck ? FindShellcheck() : std::nullopt) {}

  // Options for linting `file`; throws frontend::Error for a bad config.
  lint::LintOptions For(const std::string& file, std::optional<lint::Severity>* threshold) {
    lint::LintOptions lo;
    // Context checks default to the Dockerfile's directory (what `kiln build
    // -f DIR/Dockerfile DIR` would send); stdin has none unless --context.
    std::string dir = o_.context;
    if (dir.empty() && file != "-") dir = std::filesystem::path(file).parent_path().string();
    if (dir.empty() && file != "-") dir = ".";
    if (o_.no_context) dir.clear();

    const std::string ignore_file = dir.empty() ? "" : ignore_finder_.Find(dir, file == "-" ? "" : file);
    const std::string config_path = o_.config.empty() ? finder_.Find(file) : o_.config;
    if (!config_path.empty()) lo.config = configs_.Get(config_path, [&] { return lint::LoadLintConfig(config_path); });
    lo.ignore = o_.ignore;
    lo.trusted_registries = o_.trusted;
    if (o_.shellcheck && shellcheck_) lo.check_script = *shellcheck_;
    if (!dir.empty()) SetContext(dir, ignore_file, lo);
    *threshold = lint::ParseThreshold(!o_.threshold.empty() ? o_.threshold : lo.config.failure_threshold.value_or("error"));
    return lo;
  }

 private:
  void SetContext(const std::string& dir, const std::string& ignore_file, lint::LintOptions& lo) {
    lo.context_dir = dir;
    if (!ignore_file.empty()) {
      auto matcher = matchers_.Get(ignore_file, [&] {
        return std::make_shared<const frontend::IgnoreMatcher>(frontend::ReadIgnoreFile(ReadInputFile(ignore_file)));
      });
      lo.excluded = [matcher](const std::string& p) { return matcher->Excluded(p); };
      lo.may_include_below = [matcher](const std::string& d) { return matcher->MayIncludeBelow(d); };
    }
    // (A scan made twice by a race is dropped before it walks anything.)
    lo.context_scan = scans_.Get({dir, ignore_file}, [&] {
      return std::make_shared<lint::ContextScan>(dir, lo.excluded, lo.may_include_below);
    });
  }

  const LintOpts& o_;
  const std::optional<lint::ScriptChecker> shellcheck_;  // --shellcheck, when it is installed
  lint::LintConfigFinder finder_;
  frontend::IgnoreFileFinder ignore_finder_;
  frontend::SharedMemo<std::string, lint::LintConfig> configs_;
  frontend::SharedMemo<std::string, std::shared_ptr<const frontend::IgnoreMatcher>> matchers_;  // by ignore file
  frontend::SharedMemo<std::pair<std::string, std::string>, std::shared_ptr<lint::ContextScan>> scans_;  // by dir, ignore file
};

// One file's outcome; files are linted in parallel and reported in order.
struct FileOutcome {
  lint::LintResult result;
  std::string formatted;    // its text lines or JSON object, made by the worker
  std::optional<lint::Severity> threshold;
  std::string read_error;   // the file could not be read: exit 2
  std::string parse_error;  // frontend::Error (parse or config): exit 2
};

void RunLint(const LintOpts& o) {
  if (o.rules_markdown) {
    std::cout << lint::RulesMarkdown();
    return;
  }
  if (o.files.empty()) {
    std::cerr << "kiln lint: at least one FILE (or '-') is required\n";
    throw ExitCode{2};
  }
  // Files are linted on every core; what they share is looked up once.
  std::vector<FileOutcome> outcomes(o.files.size());
  SharedLookups lookups(o);
  const bool color = o.format == "text" && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  sandbox::ParallelFor(o.files.size(), [&](size_t i) {
    FileOutcome& out = outcomes[i];
    lint::LintOptions options;
    try {
      options = lookups.For(o.files[i], &out.threshold);
    } catch (const frontend::Error& e) {
      out.parse_error = e.what();
      return;
    }
    std::string text;
    try {
      text = ReadInputFile(o.files[i]);
    } catch (const std::exception& e) {
      out.read_error = e.what();
      return;
    }
    try {
      out.result = lint::LintSource(text, o.files[i], std::move(options));
    } catch (const frontend::Error& e) {
      out.parse_error = e.what();
      return;
    }
    // Formatting is a tenth of the work: done here, not after the join.
    if (o.format == "text") out.formatted = lint::FormatText(out.result, color);
  });

  std::vector<lint::LintResult> results;
  bool failed = false;
  // A file that cannot be read or parsed is reported and makes the exit code
  // 2, but the other files are still linted and reported.
  bool broken = false;
  for (auto& out : outcomes) {
    if (!out.read_error.empty() || !out.parse_error.empty()) {
      std::cout.flush();
      std::cerr << "kiln lint: " << (out.read_error.empty() ? out.parse_error : out.read_error) << "\n";
      broken = true;
      continue;
    }
    failed = failed || lint::ReachesThreshold(out.result, out.threshold);
    if (o.format == "text") std::cout << out.formatted;
    results.push_back(std::move(out.result));
  }
  if (o.format == "json") std::cout << lint::FormatJson(results);
  if (o.format == "sarif") std::cout << lint::FormatSarif(results);
  std::cout.flush();
  if (broken) throw ExitCode{2};
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
