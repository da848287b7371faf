// The linter's rule table, as data: every rule kiln lint knows, with a stable
// ID (KLnnn), default severity, rationale, fix hint, the hadolint DL code it
// covers and doc examples. docs/rules.md is generated from this table
// (`kiln lint --rules-markdown`); a test keeps the two in sync and another
// lints every example (`bad` must trigger the rule, `good` must not).
//
// ID ranges: KL0xx security gate (error: blocks `kiln build`), KL1xx base
// images, KL2xx package managers, KL3xx shell in RUN, KL4xx instructions.
// SCnnnn findings come from shellcheck and are not in the table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend::lint {

enum class Severity { kInfo = 1, kWarning = 2, kError = 3 };

std::string_view SeverityName(Severity s);  // "error", "warning", "info"
// "error", "warning", "info" (also hadolint's "style" = info); nullopt otherwise.
std::optional<Severity> ParseSeverity(std::string_view s);

struct Rule {
  std::string id;           // "KL001"
  std::string name;         // kebab-case slug, "final-stage-runs-as-root"
  std::string title;        // one line
  Severity severity;        // default
  std::string rationale;    // why it matters
  std::string fix;          // what to do instead
  std::string hadolint;     // DL codes covered, "DL3002" or "" when none
  std::string bad;          // Dockerfile that triggers it (tests lint it)
  std::string good;         // Dockerfile that does not
  // Examples run with a test context containing `.env`, `id_rsa`, `src/`
  // and --trusted-registry docker.io; rules that need that say so here.
  std::string needs;        // "" | "context" | "trusted-registry"
};

// All rules, ordered by ID.
const std::vector<Rule>& Rules();
// The rule with `id`, or nullptr.
const Rule* FindRule(std::string_view id);

// docs/rules.md, generated from the table.
std::string RulesMarkdown();

}  // namespace kiln::frontend::lint
