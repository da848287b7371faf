// The one secret table, asked through both of its consumers: the Dockerfile
// linter (KL002 names, KL003 formats, KL004 files) and the image layer
// scanner (ScanCommand, ScanText, MatchSecretPath) must agree on every
// sample below — what one calls a secret, the other does too.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "frontend/lint/linter.h"
#include "oci/supply/secret_rules.h"
#include "oci/supply/secret_rules/files.h"
#include "oci/supply/secret_rules/formats.h"
#include "oci/supply/secret_rules/names.h"

namespace kiln::secret_rules {
namespace {

// Assembled at run time so this source file is not itself a "secret".
std::string Rep(char c, size_t n) { return std::string(n, c); }
const std::string kKeyBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";

bool LintFires(const std::string& dockerfile, const std::string& rule) {
  frontend::lint::LintOptions opts;
  auto r = frontend::lint::LintSource(dockerfile, "Dockerfile", opts);
  return std::any_of(r.findings.begin(), r.findings.end(), [&](const auto& f) { return f.rule == rule; });
}

struct FormatSample {
  std::string text;
  std::string id;  // "" for a negative sample
};

std::vector<FormatSample> FormatSamples() {
  return {
      {"-----BEGIN RSA " "PRIVATE KEY-----\\n" + kKeyBody + "\\n-----END RSA PRIVATE KEY-----", "private-key"},
      {"AKIA" + Rep('Q', 12) + "7Z3X", "aws-access-key-id"},
      {"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc", "aws-secret-access-key"},
      {"ghp_" + Rep('a', 36), "github-token"},
      {"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github-token"},
      {"glpat-" + Rep('x', 20), "gitlab-token"},
      {"xoxb-" + Rep('1', 12) + "-abcdef", "slack-token"},
      {"https://hooks.slack.com/services/T000/B000/" + Rep('X', 24), "slack-webhook"},
      {"AIza" + Rep('B', 35), "google-api-key"},
      {"sk_live_" + Rep('4', 24), "stripe-key"},
      {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt"},
      {"postgres://app:s3cr3tP4ss@db.internal:5432/app", "url-password"},
      // Negative: lookalikes both consumers must accept.
      {"-----BEGIN PUBLIC KEY-----", ""},
      {"grep -q 'BEGIN RSA PRIVATE KEY' /k", ""},
      {"AKIAIOSFODNN7EXAMPLE", ""},  // AWS's documentation key
      {"AKIA_not_a_key", ""},
      {"ghp_short", ""},
      {"https://oauth2:${GITLAB_TOKEN}@gitlab.com/x.git", ""},
      {"https://user:changeme@example.com/", ""},
      {"https://user@example.com/file", ""},
      {"https://example.com/a.tgz", ""},
  };
}

TEST(SharedSecretTable, EveryFormatHasASample) {
  std::set<std::string> sampled;
  for (const auto& s : FormatSamples()) sampled.insert(s.id);
  for (const auto& f : Formats()) EXPECT_TRUE(sampled.count(std::string(f.id))) << f.id << " has no sample";
}

TEST(SharedSecretTable, LinterAndScannerAgreeOnFormats) {
  for (const auto& s : FormatSamples()) {
    const Format* first = FirstFormat(s.text);
    EXPECT_EQ(first ? std::string(first->id) : "", s.id) << s.text;
    // The linter: KL003 on an instruction carrying the text.
    EXPECT_EQ(LintFires("FROM alpine:3.20\nRUN echo \"" + s.text + "\"\n", "KL003"), !s.id.empty()) << s.text;
    // The scanner: the same id in a file's content.
    std::set<std::string> ids;
    for (const auto& m : oci::ScanText("app/config.txt", s.text)) ids.insert(m.rule_id);
    if (s.id.empty()) {
      EXPECT_TRUE(ids.empty()) << s.text << " → " << *ids.begin();
    } else {
      EXPECT_TRUE(ids.count(s.id)) << s.text;
    }
  }
}

TEST(SharedSecretTable, LinterAndScannerAgreeOnNames) {
  struct Sample {
    std::string name, value;
    bool secret;
  };
  const std::vector<Sample> samples = {
      {"DB_PASSWORD", "hunter22", true},   {"MYSQL_ROOT_PASSWD", "x", true},   {"APP_SECRET", "s", true},
      {"GITHUB_TOKEN", "t", true},         {"STRIPE_API_KEY", "k", true},       {"AWS_ACCESS_KEY_ID", "id", true},
      {"PASS", "ADMIN", true},             {"password", "sensibledata", true},  {"SSH_PRIVATE_KEY", "k", true},
      {"DB_PASSWORD", "", false},          {"DB_PASSWORD", "${FROM_ARG}", false},
      {"DB_PASSWORD_FILE", "/run/secrets/pw", false},
      {"GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", false},
      {"NODE_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", false},  // a fingerprint
      {"KEY", "v", false},                 {"ACCESS_LOG", "/var/log/a", false}, {"AWS_REGION", "eu-west-1", false},
      {"PUBLIC_KEY", "k", false},          {"TOKEN_ENABLED", "yes", false},     {"API_TOKEN", "true", false},
  };
  for (const auto& s : samples) {
    const std::string assignment = s.name + "=" + s.value;
    EXPECT_EQ(IsSecretAssignment(s.name, s.value), s.secret) << assignment;
    EXPECT_EQ(LintFires("FROM alpine:3.20\nENV " + assignment + "\n", "KL002"), s.secret) << assignment;
    EXPECT_EQ(!oci::ScanCommand("/bin/sh -c #(nop) ENV " + assignment).empty(), s.secret) << assignment;
  }
}

TEST(SharedSecretTable, CredentialFiles) {
  struct Sample {
    std::string path, id;
    bool by_name;
  };
  const std::vector<Sample> samples = {
      {"root/.ssh/id_rsa", "ssh-private-key-file", true},      {"home/u/.ssh/id_ed25519", "ssh-private-key-file", true},
      {"root/.git-credentials", "git-credentials-file", true}, {"root/.netrc", "netrc-file", true},
      {"root/.aws/credentials", "aws-credentials-file", true}, {"app/.env", "dotenv-file", true},
      {"app/.env.production", "dotenv-file", true},           {"app/.npmrc", "npmrc-file", false},
      {"app/.pypirc", "pypirc-file", false},                  {"root/.docker/config.json", "docker-config-file", false},
      {"certs/server.key", "key-file", false},                {"certs/tls.PEM", "key-file", false},
      {"etc/nginx/.htpasswd", "htpasswd-file", false},        {"app/credentials.json", "cloud-credentials-file", false},
      {"root/.ssh/id_rsa.pub", "", false},                    {"app/.env.example", "", false},
      {"app/config.json", "", false},                         {".pem", "", false},
  };
  for (const auto& s : samples) {
    const CredentialFile* f = MatchCredentialFile(s.path);
    EXPECT_EQ(f ? std::string(f->id) : "", s.id) << s.path;
    if (f) {
      EXPECT_EQ(f->secret_by_name, s.by_name) << s.path;
    }
    // The scanner reports by name exactly the table's by-name kinds ...
    EXPECT_EQ(oci::MatchSecretPath(s.path).rule_id, s.by_name ? s.id : "") << s.path;
    // ... and the linter warns about every kind a COPY names.
    EXPECT_EQ(LintFires("FROM alpine:3.20\nCOPY " + s.path + " /x\n", "KL004"), !s.id.empty()) << s.path;
  }
}

TEST(SharedSecretTable, ScannerRuleIdsComeFromTheTable) {
  const auto& ids = oci::AllSecretRuleIds();
  for (const auto& f : Formats()) EXPECT_TRUE(std::count(ids.begin(), ids.end(), std::string(f.id))) << f.id;
  for (const auto& f : CredentialFiles())
    EXPECT_EQ(std::count(ids.begin(), ids.end(), std::string(f.id)), f.secret_by_name ? 1 : 0) << f.id;
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

}  // namespace
}  // namespace kiln::secret_rules
