// Secret detection rules: hand-written matchers (no regex engine, so large
// files scan in linear time) for content, file names and history commands.
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

// Content rules, all of them: private key blocks, AWS key id + secret,
// GitHub/GitLab/Slack/Google/Stripe tokens, JWTs, URLs with passwords,
// high-entropy password assignments. `path` lets file-kind rules (".npmrc"
// authToken, docker config auths, .git-credentials) look at content too.
std::vector<SecretMatch> ScanText(std::string_view path, std::string_view text);

// File-name rules: credential files that are secrets by their nature
// (id_rsa, .aws/credentials, .env, .pypirc, ...). Empty rule_id: no match.
SecretMatch MatchSecretPath(std::string_view path);

// A history command (created_by) or "K=V" env entry assigning a non-empty
// value to a name made of PASS/PASSWD/PASSWORD/SECRET/KEY/ACCESS/TOKEN words
// (dockle's CIS-DI-0010 list; GPG_KEY(S) are public key ids and accepted).
std::vector<SecretMatch> ScanCommand(std::string_view created_by);

// Paths whose content must not fire (CA bundles, public keys, packages' own
// test fixtures): keeps false positives low.
bool IsBenignPath(std::string_view path);

// Every rule id (for allowlist validation and docs).
const std::vector<std::string>& AllSecretRuleIds();

}  // namespace kiln::oci
