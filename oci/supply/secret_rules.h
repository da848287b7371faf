// The layer scanner's secret rules over an image's files and history. What a
// secret is (names, token formats, credential files) is the shared table in
// secret_rules/, which the linter asks too; this file adds what only an
// image has: content rules for config files (.npmrc tokens, docker auths,
// .pypirc and high-entropy password assignments), history commands, and the
// paths whose content must not fire. Linear-time, no regex engine.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

struct SecretMatch {
  std::string rule_id;      // e.g. "aws-access-key-id"
  std::string description;
  size_t offset = 0;        // byte offset of the match in the scanned text
  int line = 0;             // 1-based line, 0 when not applicable
  std::string redacted;     // the match with its middle masked
};

// Content rules, all of them: every secret_rules::Formats() token format,
// high-entropy password assignments. `path` lets file-kind rules (".npmrc"
// authToken, docker config auths, .git-credentials) look at content too.
std::vector<SecretMatch> ScanText(std::string_view path, std::string_view text);

// File-name rules: the secret_rules credential files that are secrets by
// their name alone (id_rsa, .aws/credentials, .env, ...); kinds whose
// content decides are left to ScanText. Empty rule_id: no match.
SecretMatch MatchSecretPath(std::string_view path);

// A history command (created_by) or "K=V" env entry with an assignment the
// shared table calls a secret (secret_rules::IsSecretAssignment: the same
// answer as the linter's KL002; dockle's CIS-DI-0010 vectors hold).
std::vector<SecretMatch> ScanCommand(std::string_view created_by);

// Paths whose content must not fire (CA bundles, public keys, packages' own
// test fixtures): keeps false positives low.
bool IsBenignPath(std::string_view path);

// Every rule id (for allowlist validation and docs).
const std::vector<std::string>& AllSecretRuleIds();

}  // namespace kiln::oci
