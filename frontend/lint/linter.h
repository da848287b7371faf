// kiln's Dockerfile linter: runs the rule table (rule.h) over a typed
// Dockerfile, applies pragmas, configuration and ignores, and formats the
// findings as text, JSON or SARIF. `kiln lint` and the `kiln build` gate
// (which refuses to build when HasErrors) both use this API.
//
// Pragmas (comments, so they never change the build):
//   # kiln-ignore=KL001,KL301     on the comment line(s) directly above an
//                                 instruction: silences those IDs there
//   # kiln-global-ignore=KL101    anywhere: silences the IDs in the file
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/error.h"
#include "frontend/instructions.h"
#include "frontend/lint/context_scan.h"
#include "frontend/lint/lint_config.h"
#include "frontend/lint/rule.h"
#include "frontend/lint/shellcheck.h"

namespace kiln::frontend::lint {

struct Finding {
  std::string rule;      // "KL001" or "SC2086"
  Severity severity;
  std::string message;
  Location location;     // file, line, column (1 when unknown), end_line
};

struct LintResult {
  std::string filename;
  std::vector<Finding> findings;  // sorted by line, then rule
};

struct LintOptions {
  LintConfig config;                              // ignore/severity/registries from a file
  std::vector<std::string> ignore;                // --ignore IDs
  std::vector<std::string> trusted_registries;    // --trusted-registry; empty = rule KL103 off
  // The Dockerfile text, for pragmas; must outlive the Lint call. Empty:
  // pragmas are not seen.
  std::string_view source_text;
  // Build context for the "secret file copied from context" rule. Empty:
  // only COPY/ADD sources that name a credential file are reported.
  std::string context_dir;
  // The context's .dockerignore, e.g. from an IgnoreMatcher m:
  //   excluded = [m](const std::string& p) { return m.Excluded(p); };
  //   may_include_below = [m](const std::string& d) { return m.MayIncludeBelow(d); };
  // Null: nothing is excluded. Kept as functions so the linter does not
  // depend on how .dockerignore is implemented.
  std::function<bool(const std::string& path)> excluded;
  std::function<bool(const std::string& dir)> may_include_below;
  // Optional memo of the context walk (same context_dir and predicates as
  // above), shared by the Lint calls of one `kiln lint` run. Null: walk.
  std::shared_ptr<ContextScan> context_scan;
  // uid of USER `user` in the final stage's base image, when the caller can
  // read its /etc/passwd (the build gate can); nullopt = unknown.
  std::function<std::optional<uint32_t>(const std::string& base_image, const std::string& user)> user_uid;
  // The User of an external base image's config ("" when it sets none),
  // when the caller can resolve the image (the build gate can); nullopt =
  // unknown. A final stage with no USER line runs as that user.
  std::function<std::optional<std::string>(const std::string& base_image)> base_user;
  // What an external base image's /bin/sh runs ("dash", "bash", "busybox";
  // "" when it cannot tell), when the caller can read the image; nullopt =
  // unknown, and KL300 guesses from the image's name.
  std::function<std::optional<std::string>(const std::string& base_image)> base_bin_sh;
  // Checks shell-form RUN scripts (shellcheck, run by the caller: frontend
  // starts no processes); null: they are not checked.
  ScriptChecker check_script;
};

LintResult Lint(const Dockerfile& df, const LintOptions& options);

// Parses `text` (throws frontend::Error on parse errors) and lints it with
// options.source_text = text.
LintResult LintSource(std::string_view text, const std::string& filename, LintOptions options);

bool HasErrors(const LintResult& result);
// Threshold "error"|"warning"|"info"|"none" (none: nothing fails). Throws
// frontend::Error for other values.
std::optional<Severity> ParseThreshold(std::string_view threshold);
bool ReachesThreshold(const LintResult& result, std::optional<Severity> threshold);

// `file:line:col severity ID message`, one line per finding; ANSI colours
// when `color`.
std::string FormatText(const LintResult& result, bool color = false);
// JSON document, schema in docs/lint-json.md.
std::string FormatJson(const std::vector<LintResult>& results);
// SARIF 2.1.0 for GitHub code scanning.
std::string FormatSarif(const std::vector<LintResult>& results);

}  // namespace kiln::frontend::lint
