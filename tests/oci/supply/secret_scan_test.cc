#include "oci/supply/secret_scan.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "oci/supply/secret_rules.h"
#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci {
namespace {

using testing::File;
using testing::TempDir;
using testing::WriteTar;

std::set<std::string> Rules(const std::vector<SecretMatch>& ms) {
  std::set<std::string> out;
  for (const auto& m : ms) out.insert(m.rule_id);
  return out;
}

// Assembled at run time so this source file is not itself a "secret".
std::string Tok(const std::string& prefix, char fill, size_t n) { return prefix + std::string(n, fill); }

const std::string kKeyBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n";

TEST(SecretRules, DetectsEachKind) {
  struct Case { std::string text, rule; };
  std::vector<Case> cases = {
      {"-----BEGIN RSA " "PRIVATE KEY-----\n" + kKeyBody + "-----END RSA PRIVATE KEY-----\n", "private-key"},
      {"-----BEGIN OPENSSH " "PRIVATE KEY-----\n" + kKeyBody, "private-key"},
      {"key = " + Tok("AKIA", 'Q', 12) + "7Z3X\n", "aws-access-key-id"},
      {"aws_secret_access_key = " + std::string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc") + "\n", "aws-secret-access-key"},
      {"GH=" + Tok("ghp_", 'a', 36), "github-token"},
      {"export T=" + Tok("glpat-", 'x', 20), "gitlab-token"},
      {"slack: " + Tok("xoxb-", '1', 12) + "-abcdef", "slack-token"},
      {"k=" + Tok("AIza", 'B', 35), "google-api-key"},
      {"stripe " + Tok("sk_live_", '4', 24), "stripe-key"},
      {"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
       "jwt"},
      {"DATABASE_URL=postgres://app:s3cr3tP4ss@db.internal:5432/app", "url-password"},
      {"db_password = \"Zx81kQ2mN9vB\"", "password-assignment"},
  };
  for (const auto& c : cases) {
    auto rules = Rules(ScanText("app/config", c.text));
    EXPECT_TRUE(rules.count(c.rule)) << c.rule << " not found in: " << c.text;
  }
}

// The rules share one pass over the text: every occurrence is seen, however
// the name is cased, overlapping, at either end of the text, or next to
// another rule's match.
TEST(SecretRules, EveryOccurrenceInOnePass) {
  const std::string token = Tok("ghp_", 'a', 36);
  const std::string text = "PaSsWoRd = \"Zx81kQ2mN9vB\"\n" + token + " " + Tok("ghp_", 'b', 36) +
                           "\nAWS_Secret_Access_Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc\n" +
                           "u=https://app:s3cr3tP4ss@db.internal/\n" + Tok("xoxb-", '1', 12);
  const auto found = ScanText("app/config", text);
  EXPECT_EQ(Rules(found), (std::set<std::string>{"password-assignment", "github-token", "aws-secret-access-key",
                                                 "url-password", "slack-token"}));
  size_t github = 0;
  for (const auto& m : found) github += m.rule_id == "github-token";
  EXPECT_EQ(github, 2u);
  EXPECT_EQ(found.back().rule_id, "slack-token") << "a match that ends the text";
  EXPECT_EQ(found.back().line, 5);
  EXPECT_TRUE(ScanText("", "x").empty());
  EXPECT_TRUE(ScanText("", "").empty());
}

TEST(SecretRules, QuietOnLookalikes) {
  std::vector<std::string> benign = {
      "-----BEGIN PUBLIC KEY-----\n" + kKeyBody,
      // A PEM parser mentioning the header without a key.
      "if line == '-----BEGIN PRIVATE KEY-----':\n    return parse(line)\n",
      "AKIAIOSFODNN7EXAMPLE is the documented example id",
      "password = os.environ['DB_PASSWORD']",
      "password: ${DB_PASSWORD}",
      "password=changeme",
      "url = https://example.com/path?a=b",
      "ftp://anonymous:@ftp.debian.org/",
      "git clone https://github.com/user/repo.git",
      "if password == expected_password_value:",
  };
  for (const auto& t : benign) EXPECT_TRUE(ScanText("src/app.py", t).empty()) << t;
}

TEST(SecretRules, FileKinds) {
  EXPECT_TRUE(Rules(ScanText("root/.npmrc", "//registry.npmjs.org/:_authToken=npm_abcdef123456\n")).count("npmrc-auth-token"));
  EXPECT_TRUE(ScanText("root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n").empty());
  EXPECT_TRUE(Rules(ScanText("root/.docker/config.json", R"({"auths":{"r.io":{"auth":"dXNlcjpwYXNz"}}})")).count("docker-config-auth"));
  EXPECT_TRUE(ScanText("root/.docker/config.json", R"({"auths":{},"credsStore":"pass"})").empty());
  EXPECT_TRUE(Rules(ScanText("root/.pypirc", "[pypi]\nusername = me\npassword = hunter22\n")).count("pypirc-password"));
  EXPECT_EQ(MatchSecretPath("root/.ssh/id_rsa").rule_id, "ssh-private-key-file");
  EXPECT_EQ(MatchSecretPath("root/.ssh/id_rsa.pub").rule_id, "");
  EXPECT_EQ(MatchSecretPath("root/.aws/credentials").rule_id, "aws-credentials-file");
  EXPECT_EQ(MatchSecretPath("app/.env").rule_id, "dotenv-file");
  EXPECT_EQ(MatchSecretPath("app/.env.production").rule_id, "dotenv-file");
  EXPECT_EQ(MatchSecretPath("app/.env.example").rule_id, "");
  EXPECT_EQ(MatchSecretPath("root/.git-credentials").rule_id, "git-credentials-file");
}

TEST(SecretRules, BenignPaths) {
  EXPECT_TRUE(IsBenignPath("etc/ssl/certs/ca-certificates.crt"));
  EXPECT_TRUE(IsBenignPath("usr/lib/python3/dist-packages/cryptography/hazmat/tests/keys/rsa.pem"));
  EXPECT_TRUE(IsBenignPath("usr/local/lib/python3.11/site-packages/requests/tests/certs/server.key"));
  EXPECT_TRUE(IsBenignPath("app/node_modules/jsonwebtoken/test/priv.pem"));
  EXPECT_TRUE(IsBenignPath("root/.ssh/id_rsa.pub"));
  EXPECT_FALSE(IsBenignPath("app/tests/secret.pem"));  // the user's own files are scanned
  EXPECT_FALSE(IsBenignPath("root/.ssh/id_rsa"));
}

// dockle's TestSensitiveVars vectors (tests/data/corpus/dockle-checkpoints).
TEST(SecretRules, DockleSensitiveEnvCases) {
  std::ifstream in(testing::TestData() + "/corpus/dockle-checkpoints/sensitive-env-cases.json");
  ASSERT_TRUE(in) << "missing dockle corpus";
  auto j = nlohmann::json::parse(in);
  int n = 0;
  for (const auto& c : j["cases"]) {
    bool flagged = !ScanCommand(c["created_by"].get<std::string>()).empty();
    EXPECT_EQ(flagged, c["flag"].get<bool>()) << c["name"] << ": " << c["created_by"];
    ++n;
  }
  EXPECT_GE(n, 10);
  // The upstream false positive: we do the ideal thing.
  const auto& fp = j["known_false_positive_upstream"];
  EXPECT_EQ(!ScanCommand(fp["created_by"].get<std::string>()).empty(), fp["ideal"].get<bool>());
  EXPECT_TRUE(ScanCommand("/bin/sh -c #(nop) ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D").empty());
  // conformance 21: a label whose name ends in a bare "key" is no credential.
  EXPECT_TRUE(ScanCommand("LABEL org.example.name=kiln test version=1.0 spaced key=v").empty());
  EXPECT_FALSE(ScanCommand("ENV API_KEY=0123456789abcdef").empty());
}

TEST(SecretScan, EveryLayerIncludingDeletedFiles) {
  TempDir tmp;
  auto l0 = tmp.path() / "l0.tar.gz", l1 = tmp.path() / "l1.tar.gz", l2 = tmp.path() / "l2.tar.gz";
  WriteTar(l0, {File("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n"),
                File("usr/lib/python3/dist-packages/x/tests/key.pem",
                     "-----BEGIN RSA " "PRIVATE KEY-----\n" + kKeyBody)});
  WriteTar(l1, {File("root/.aws/credentials", "[default]\naws_access_key_id = " + Tok("AKIA", 'R', 16) + "\n"),
                File("bin/tool", std::string("\x7f" "ELF\0\0\0", 7) + Tok("ghp_", 'z', 36))});
  WriteTar(l2, {File("root/.aws/.wh.credentials", ""), File("app/main.py", "print('hi')\n")});
  ImageConfig cfg;
  cfg.history = {{"", "/bin/sh -c #(nop) ADD file:abc in /", "", "", false},
                 {"", "/bin/sh -c #(nop) ENV PATH=/usr/bin", "", "", true},
                 {"", "RUN /bin/sh -c setup-creds", "", "", false},
                 {"", "COPY app /app", "", "", false}};
  cfg.config.env = {"PATH=/usr/bin", "API_TOKEN=abc123def"};
  std::vector<LayerBlob> layers = {{l0, "sha256:l0"}, {l1, "sha256:l1"}, {l2, "sha256:l2"}};
  auto findings = ScanLayersForSecrets(cfg, layers, {});
  std::set<std::string> seen;
  for (const auto& f : findings) {
    seen.insert(f.path + "|" + f.rule_id);
    if (f.path == "/root/.aws/credentials") {
      EXPECT_EQ(f.layer_index, 1);
      EXPECT_EQ(f.layer_digest, "sha256:l1");
      EXPECT_EQ(f.created_by, "RUN /bin/sh -c setup-creds");
    }
    EXPECT_EQ(f.redacted.find(std::string(16, 'R')), std::string::npos) << "secret not redacted";
  }
  EXPECT_TRUE(seen.count("/root/.aws/credentials|aws-credentials-file")) << findings.size();
  EXPECT_TRUE(seen.count("/root/.aws/credentials|aws-access-key-id"));
  EXPECT_TRUE(seen.count("config.env|sensitive-assignment"));
  for (const auto& s : seen) {
    EXPECT_EQ(s.find("ca-certificates"), std::string::npos) << s;
    EXPECT_EQ(s.find("dist-packages"), std::string::npos) << s;
    EXPECT_EQ(s.find("bin/tool"), std::string::npos) << "binary scanned: " << s;
  }

  SecretScanOptions allow;
  allow.allow_paths = {"/root/.aws/"};
  allow.allow_rules = {"sensitive-assignment"};
  EXPECT_TRUE(ScanLayersForSecrets(cfg, layers, allow).empty());
  EXPECT_NE(FormatFinding(findings.front()).find("sha256:"), std::string::npos);

  // A layer remembered clean is not read again (the build's finalize memo):
  // the scan costs what the build added, not the size of its base.
  SecretScanOptions known;
  known.known_clean = {"sha256:l1"};
  known.scan_config = false;
  for (const auto& f : ScanLayersForSecrets(cfg, layers, known)) EXPECT_NE(f.layer_digest, "sha256:l1") << f.path;
}

}  // namespace
}  // namespace kiln::oci
