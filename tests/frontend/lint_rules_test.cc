// Every rule in the table: its `bad` example triggers it, its `good` example
// does not. Plus edge cases of the security gate rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "frontend/lint/linter.h"
#include "frontend/lint/rule.h"
#include "tests/frontend/lint_test_util.h"

namespace kiln::frontend::lint {

// gtest names parameters by this.
void PrintTo(const Rule& r, std::ostream* os) { *os << r.id; }

namespace {

namespace fs = std::filesystem;

std::string DataDir() {
  if (const char* env = std::getenv("KILN_TEST_DATA")) return env;
  return KILN_TEST_DATA;
}

// A build context with credential files next to ordinary sources.
class TempContext {
 public:
  TempContext() {
    dir_ = fs::temp_directory_path() / ("kiln-lint-ctx-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_ / "src");
    Write("src/main.go", "package main\n");
    Write(".env", "DB_PASSWORD=x\n");
    Write("id_rsa", "not really\n");
  }
  ~TempContext() { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << content;
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
  static inline int counter_ = 0;
};

using testing::Fires;
using testing::Ids;

std::string Dump(const LintResult& r) { return FormatText(r); }

LintResult LintWith(const std::string& text, LintOptions opts = {}) { return LintSource(text, "Dockerfile", std::move(opts)); }

TEST(LintRuleTable, IdsUniqueSortedAndComplete) {
  std::set<std::string> ids, names;
  for (const auto& r : Rules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_TRUE(names.insert(r.name).second) << r.name;
    EXPECT_EQ(r.id.size(), 5u) << r.id;
    EXPECT_FALSE(r.title.empty() || r.rationale.empty() || r.fix.empty() || r.bad.empty() || r.good.empty()) << r.id;
    EXPECT_EQ(FindRule(r.id), &r);
  }
  EXPECT_EQ(FindRule("KL999"), nullptr);
  // The security gate is exactly the error rules.
  for (const auto& id : {"KL001", "KL002", "KL003", "KL004", "KL005"}) EXPECT_EQ(FindRule(id)->severity, Severity::kError) << id;
}

TEST(LintRuleTable, EveryDlCodeMentionedExists) {
  std::ifstream in(DataDir() + "/corpus/hadolint-rules/hadolint-rules.json");
  ASSERT_TRUE(in) << "hadolint catalogue missing";
  auto j = nlohmann::json::parse(in);
  std::set<std::string> dl;
  for (const auto& r : j.at("dl_rules")) dl.insert(r.at("code").get<std::string>());
  dl.insert("DL3005");  // retired upstream, still the natural reference for apt-get upgrade
  for (const auto& r : Rules())
    if (!r.hadolint.empty()) {
      EXPECT_TRUE(dl.count(r.hadolint)) << r.id << " cites unknown " << r.hadolint;
    }
}

class RuleExamples : public ::testing::TestWithParam<Rule> {};

TEST_P(RuleExamples, BadTriggersGoodDoesNot) {
  const Rule& rule = GetParam();
  TempContext ctx;
  LintOptions opts;
  opts.context_dir = ctx.path();
  opts.trusted_registries = {"docker.io"};
  auto bad = LintWith(rule.bad, opts);
  EXPECT_TRUE(Fires(bad, rule.id)) << rule.id << " did not fire on:\n" << rule.bad << "findings:\n" << Dump(bad);
  auto good = LintWith(rule.good, opts);
  EXPECT_FALSE(Fires(good, rule.id)) << rule.id << " fired on:\n" << rule.good << "findings:\n" << Dump(good);
}

INSTANTIATE_TEST_SUITE_P(AllRules, RuleExamples, ::testing::ValuesIn(Rules()),
                         [](const auto& info) { return info.param.id; });

// ---- KL001 ----

TEST(LintFinalUser, RootSpellingsAndStages) {
  for (std::string user : {"root", "0", "0:0", "root:root", "root:staff"})
    EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nUSER " + user + "\n"), "KL001")) << user;
  for (std::string user : {"app", "1000", "65532:65532", "nobody", "${APP_UID}"})
    EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nUSER " + user + "\n"), "KL001")) << user;
  // Only the final stage matters; USER root then back to app is fine.
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20 AS b\nRUN make\nFROM alpine:3.20\nUSER root\nRUN x\nUSER app\n"), "KL001"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20 AS b\nUSER app\nFROM alpine:3.20\nCOPY --from=b /a /a\n"), "KL001"));
  // A final stage FROM an earlier stage inherits its USER.
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20 AS base\nUSER app\nFROM base\nRUN true\n"), "KL001"));
  // scratch with only a static binary still needs USER.
  EXPECT_TRUE(Fires(LintWith("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"), "KL001"));
}

TEST(LintFinalUser, NameMappingToUidZeroViaBasePasswd) {
  LintOptions opts;
  std::string seen_image;
  opts.user_uid = [&](const std::string& image, const std::string& user) -> std::optional<uint32_t> {
    seen_image = image;
    if (user == "toor") return 0;
    if (user == "app") return 1000;
    return std::nullopt;
  };
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nUSER toor\n", opts), "KL001"));
  EXPECT_EQ(seen_image, "alpine:3.20");
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nUSER app\n", opts), "KL001"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nUSER unknown\n", opts), "KL001"));
}

// No USER line: the final stage runs as the base image's configured user,
// as BuildKit does; only a root user there is blocked.
TEST(LintFinalUser, BaseImageUserCounts) {
  LintOptions opts;
  std::vector<std::string> asked;
  opts.base_user = [&](const std::string& image) -> std::optional<std::string> {
    asked.push_back(image);
    if (image == "distroless:nonroot") return std::string("65532");
    if (image == "named:app") return std::string("app:app");
    if (image == "toor:1") return std::string("toor");
    if (image == "rooted:1") return std::string("root");
    if (image == "plain:1") return std::string();
    return std::nullopt;
  };
  opts.user_uid = [](const std::string&, const std::string& user) -> std::optional<uint32_t> {
    if (user == "toor") return 0;
    return std::nullopt;
  };
  EXPECT_FALSE(Fires(LintWith("FROM distroless:nonroot\nCOPY app /app\n", opts), "KL001"));
  EXPECT_FALSE(Fires(LintWith("FROM named:app\nRUN true\n", opts), "KL001"));
  // Through FROM <stage>: the chain's external base is asked.
  asked.clear();
  EXPECT_FALSE(Fires(LintWith("FROM named:app AS b\nRUN true\nFROM b\nRUN true\n", opts), "KL001"));
  EXPECT_EQ(asked, std::vector<std::string>{"named:app"});
  EXPECT_TRUE(Fires(LintWith("FROM rooted:1\nRUN true\n", opts), "KL001"));
  EXPECT_TRUE(Fires(LintWith("FROM toor:1\nRUN true\n", opts), "KL001"));
  EXPECT_TRUE(Fires(LintWith("FROM plain:1\nRUN true\n", opts), "KL001"));
  EXPECT_TRUE(Fires(LintWith("FROM unknown:1\nRUN true\n", opts), "KL001"));
  // An explicit USER root after a non-root base is still root.
  EXPECT_TRUE(Fires(LintWith("FROM distroless:nonroot\nUSER root\n", opts), "KL001"));
  // scratch has no config to ask.
  asked.clear();
  EXPECT_TRUE(Fires(LintWith("FROM scratch\nCOPY app /app\n", opts), "KL001"));
  EXPECT_TRUE(asked.empty());
}

// ---- KL300: the advice depends on the shell (hadolint DL4006) ----

std::string Kl300Message(const std::string& text) {
  for (const auto& f : LintWith(text).findings)
    if (f.rule == "KL300") return f.message;
  return "";
}

TEST(LintPipefail, AdviceDependsOnTheShell) {
  const std::string pipe = "RUN wget -qO- http://x/y.tgz | tar xz\nUSER 1\n";
  // Debian's /bin/sh is dash: `set -o pipefail` would fail the RUN.
  for (std::string base : {"debian:12", "ubuntu:24.04", "python:3.12-slim-bookworm"}) {
    const std::string m = Kl300Message("FROM " + base + "\n" + pipe);
    EXPECT_NE(m.find("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"), std::string::npos) << base << ": " << m;
    EXPECT_NE(m.find("dash"), std::string::npos) << base << ": " << m;
    EXPECT_EQ(m.find("start the script with `set -o pipefail"), std::string::npos) << base << ": " << m;
  }
  // Through FROM <stage>, the chain's base decides.
  EXPECT_NE(Kl300Message("FROM debian:12 AS b\nFROM b\n" + pipe).find("dash"), std::string::npos);
  // busybox ash has pipefail.
  for (std::string base : {"alpine:3.20", "busybox:1.36"}) {
    const std::string m = Kl300Message("FROM " + base + "\n" + pipe);
    EXPECT_NE(m.find("start the script with `set -o pipefail &&`"), std::string::npos) << base << ": " << m;
  }
  // SHELL bash without pipefail: add it there, or set -o in the script.
  const std::string m = Kl300Message("FROM debian:12\nSHELL [\"/bin/bash\", \"-c\"]\n" + pipe);
  EXPECT_NE(m.find("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"), std::string::npos) << m;
  EXPECT_NE(m.find("`set -o pipefail &&`"), std::string::npos) << m;
  // SHELL dash, whatever the base: bash.
  EXPECT_NE(Kl300Message("FROM alpine:3.20\nSHELL [\"/bin/dash\", \"-c\"]\n" + pipe).find("dash"), std::string::npos);
  // An unknown base: both, with the caveat.
  EXPECT_NE(Kl300Message("FROM example.com/base:1\n" + pipe).find("Debian's dash rejects it"), std::string::npos);
  // The base's real /bin/sh, when the caller can read it, wins over the name.
  LintOptions real;
  real.base_bin_sh = [](const std::string& image) -> std::optional<std::string> {
    if (image == "corp/base:1") return std::string("dash");
    if (image == "debian:12") return std::string("bash");  // a rebuilt Debian whose sh is bash
    return std::nullopt;
  };
  auto with = [&](const std::string& text) {
    for (const auto& f : LintWith(text, real).findings)
      if (f.rule == "KL300") return f.message;
    return std::string();
  };
  EXPECT_NE(with("FROM corp/base:1\n" + pipe).find("/bin/sh is dash here"), std::string::npos);
  EXPECT_NE(with("FROM debian:12\n" + pipe).find("/bin/sh is bash here"), std::string::npos);
  EXPECT_NE(with("FROM alpine:3.20\n" + pipe).find("busybox ash"), std::string::npos);  // unknown: the name
  // With pipefail, or a non-POSIX shell: nothing.
  EXPECT_EQ(Kl300Message("FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n" + pipe), "");
  EXPECT_EQ(Kl300Message("FROM mcr.microsoft.com/powershell\nSHELL [\"pwsh\", \"-c\"]\n" + pipe), "");
}

// ---- KL002 ----

TEST(LintSecretVars, NamesAndValues) {
  const char* secret[] = {"DB_PASSWORD=x", "MYSQL_ROOT_PASSWD=x", "APP_SECRET=x", "GITHUB_TOKEN=x", "STRIPE_API_KEY=x",
                          "SERVICE_APIKEY=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_ACCESS_KEY_ID=x", "SSH_PRIVATE_KEY=x",
                          "password=x", "PASS=x", "SIGNING_KEY=\"quoted value\""};
  for (const char* s : secret) {
    EXPECT_TRUE(Fires(LintWith(std::string("FROM alpine:3.20\nENV ") + s + "\nUSER 1\n"), "KL002")) << "ENV " << s;
    EXPECT_TRUE(Fires(LintWith(std::string("FROM alpine:3.20\nARG ") + s + "\nUSER 1\n"), "KL002")) << "ARG " << s;
  }
  const char* fine[] = {"DB_PASSWORD=", "DB_PASSWORD=${DB_PASSWORD_FROM_ARG}", "TOKEN=$OTHER", "DB_PASSWORD_FILE=/run/secrets/pw",
                        "GPG_KEY=B42F6819007F00F88E364FD4036A9C25BF357DD4", "GPG_KEYS=\"A B\"", "AWS_REGION=eu-west-1",
                        "PATH=/usr/bin", "KEYBOARD=us", "MONKEY=1", "NGINX_PUBLIC_KEY=abc", "SECRET_KEY_BASE_URL=http://x"};
  for (const char* s : fine)
    EXPECT_FALSE(Fires(LintWith(std::string("FROM alpine:3.20\nENV ") + s + "\n"), "KL002")) << s;
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nARG NPM_TOKEN\n"), "KL002"));
  EXPECT_TRUE(Fires(LintWith("ARG REGISTRY_TOKEN=abc123\nFROM alpine:3.20\n"), "KL002"));  // global ARG
}

// dockle's TestSensitiveVars vectors, turned from history strings back into
// Dockerfile instructions ("#(nop) ENV X" -> ENV X, "/bin/sh -c X" -> RUN X).
TEST(LintSecretVars, DockleSensitiveEnvCases) {
  std::ifstream in(DataDir() + "/corpus/dockle-checkpoints/sensitive-env-cases.json");
  ASSERT_TRUE(in);
  auto j = nlohmann::json::parse(in);
  int checked = 0;
  auto check = [&](const std::string& name, std::string created_by, bool flag) {
    const std::string sh = "/bin/sh -c ";
    ASSERT_TRUE(created_by.starts_with(sh)) << name;
    created_by = created_by.substr(sh.size());
    std::string ins = created_by.starts_with("#(nop) ") ? created_by.substr(7) : "RUN " + created_by;
    auto r = LintWith("FROM alpine:3.20\n" + ins + "\n");
    EXPECT_EQ(Fires(r, "KL002"), flag) << name << ": " << ins << "\n" << Dump(r);
    ++checked;
  };
  for (const auto& c : j.at("cases")) check(c.at("name"), c.at("created_by"), c.at("flag"));
  const auto& fp = j.at("known_false_positive_upstream");
  check("upstream false positive", fp.at("created_by"), fp.at("ideal"));
  EXPECT_GE(checked, 11);
}

// ---- KL003 ----

TEST(LintSecretFormats, KnownFormats) {
  const std::string cases[] = {
      "RUN printf '-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\\n' > /k",
      "ENV AWS_KEY_ID_VALUE=AKIAIOSFODNN7ABCDEFG",
      "ENV S=sk_live_0123456789abcdefghijklmn",
      "ARG MAPS=AIzaSyA0123456789abcdefghijklmnopqrstuv",
      "RUN curl -H 'Authorization: token ghp_abcdefghijklmnopqrstuvwxyz0123456789' https://api.github.com",
      "ARG X=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      "RUN git clone https://oauth2:glpat-abcdefghij0123456789@gitlab.com/x.git",
      "LABEL hook=xoxb-123456789012-abcdefghijkl",
      "ENV JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      "RUN pip install --index-url https://user:hunter2@pypi.example.com/simple requests==1",
  };
  for (const auto& c : cases) EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\n" + c + "\n"), "KL003")) << c;
  const std::string fine[] = {
      "RUN git clone https://oauth2:${GITLAB_TOKEN}@gitlab.com/x.git",
      "RUN curl -fsSL https://example.com/a.tgz | tar xz",
      "RUN echo '-----BEGIN PUBLIC KEY-----'",
      "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
      "RUN wget https://user@example.com/file",
      "ENV X=AKIA_not_a_key",
      // The shared table (secret_rules/formats.h): AWS's documented example
      // key is public, and a header without a key body is no key.
      "ENV AWS_KEY_ID_VALUE=AKIAIOSFODNN7EXAMPLE",
      "RUN grep -q '-----BEGIN RSA PRIVATE KEY-----' /k",
      "RUN pip install --index-url https://user:changeme@pypi.example.com/simple requests==1",
  };
  for (const auto& c : fine) EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\n" + c + "\n"), "KL003")) << c;
}

TEST(LintSecretFormats, HeredocBody) {
  const std::string body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n";
  auto r = LintWith("FROM alpine:3.20\nCOPY <<EOF /root/.ssh/id_rsa\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + "EOF\n");
  EXPECT_TRUE(Fires(r, "KL003")) << Dump(r);
  // A key after a certificate in the same body (a PEM bundle) is found too:
  // every BEGIN line is looked at, not only the first.
  r = LintWith("FROM alpine:3.20\nCOPY <<EOF /etc/ssl/bundle.pem\n-----BEGIN CERTIFICATE-----\nMIIB\n"
               "-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\n" + body + "EOF\n");
  EXPECT_TRUE(Fires(r, "KL003")) << Dump(r);
}

// ---- KL004 ----

TEST(LintSecretFiles, ContextAndDockerignore) {
  TempContext ctx;
  ctx.Write("config/.npmrc", "//registry.npmjs.org/:_authToken=x\n");
  ctx.Write("certs/server.key", "k\n");
  ctx.Write("certs/server.crt", "c\n");
  LintOptions opts;
  opts.context_dir = ctx.path();
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY . .\n", opts), "KL004"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY ./ /app/\n", opts), "KL004"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY config /app/config\n", opts), "KL004"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY certs/*.key /etc/ssl/\n", opts), "KL004"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY certs/*.crt /etc/ssl/\n", opts), "KL004"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY src /src\n", opts), "KL004"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20 AS b\nFROM alpine:3.20\nCOPY --from=b . .\n", opts), "KL004"));
  // Excluded by .dockerignore: fine.
  // .dockerignore semantics are IgnoreMatcher's business; a predicate stands in.
  opts.excluded = [](const std::string& p) {
    return p == ".env" || p == "id_rsa" || p.ends_with("/.npmrc") || p == "certs/server.key";
  };
  auto r = LintWith("FROM alpine:3.20\nCOPY . .\n", opts);
  EXPECT_FALSE(Fires(r, "KL004")) << Dump(r);
  opts.excluded = [](const std::string& p) { return p == ".env"; };
  r = LintWith("FROM alpine:3.20\nCOPY . .\n", opts);
  ASSERT_TRUE(Fires(r, "KL004"));
  for (const auto& f : r.findings)
    if (f.rule == "KL004") {
      EXPECT_NE(f.message.find("id_rsa"), std::string::npos) << f.message;
      EXPECT_EQ(f.message.find(".env,"), std::string::npos) << f.message;
      EXPECT_NE(f.message.find("--mount=type=secret"), std::string::npos);
    }
}

TEST(LintSecretFiles, SharedContextScanWalksOnce) {
  TempContext ctx;
  ctx.Write("certs/server.key", "k\n");
  LintOptions opts;
  opts.context_dir = ctx.path();
  opts.context_scan = std::make_shared<ContextScan>(ctx.path(), nullptr, nullptr);
  auto first = LintWith("FROM alpine:3.20\nCOPY . .\n", opts);
  EXPECT_TRUE(Fires(first, "KL004")) << Dump(first);
  // Later files of the same run see the first walk, not the current tree.
  ctx.Write("deploy/.netrc", "k\n");
  auto second = LintWith("FROM alpine:3.20\nCOPY . .\n", opts);
  ASSERT_TRUE(Fires(second, "KL004"));
  for (const auto& f : second.findings) {
    if (f.rule == "KL004") {
      EXPECT_EQ(f.message.find(".netrc"), std::string::npos) << f.message;
    }
  }
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY src /src\n", opts), "KL004"));
}

TEST(LintSecretFiles, WithoutContextNamedSourcesOnly) {
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY id_ed25519 /root/.ssh/\n"), "KL004"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY .aws/credentials /root/.aws/\n"), "KL004"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nADD .docker/config.json /root/.docker/\n"), "KL004"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY . .\n"), "KL004"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY id_ed25519.pub /root/.ssh/\n"), "KL004"));
}

// ---- KL005 ----

TEST(LintSetuid, ModesAndForms) {
  for (std::string cmd : {"chmod u+s /bin/x", "chmod g+s /bin/x", "chmod +s /bin/x", "chmod a+s /bin/x", "chmod 4755 /bin/x",
                          "chmod 2755 /bin/x", "chmod 6755 /bin/x", "chmod -R 4755 /bin", "chmod u=rwxs /bin/x",
                          "install -m 4755 x /usr/bin/x", "set -e; chmod ug+s /bin/x",
                          "mkdir /srv/x && chmod 4775 /srv/x"})
    EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nRUN " + cmd + "\n"), "KL005")) << cmd;
  for (std::string cmd : {"chmod 755 /bin/x", "chmod 0755 /bin/x", "chmod u-s /bin/x", "chmod 1777 /tmp",
                          "chmod +x /bin/x", "mkdir -p /run/pg && chmod 2777 /run/pg", "echo chmod u+s", "chmod -x /bin/x"})
    EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nRUN " + cmd + "\n"), "KL005")) << cmd;
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\nCOPY --chmod=4755 tool /usr/bin/tool\n"), "KL005"));
  EXPECT_FALSE(Fires(LintWith("FROM alpine:3.20\nCOPY --chmod=755 tool /usr/bin/tool\n"), "KL005"));
}

// ---- trusted registries and a few others with options ----

TEST(LintTrustedRegistry, WildcardsAndFromImages) {
  LintOptions opts;
  opts.trusted_registries = {"*.corp.example", "ghcr.io"};
  EXPECT_FALSE(Fires(LintWith("FROM registry.corp.example/base:1\n", opts), "KL103"));
  EXPECT_FALSE(Fires(LintWith("FROM ghcr.io/o/i:1\n", opts), "KL103"));
  EXPECT_TRUE(Fires(LintWith("FROM alpine:3.20\n", opts), "KL103"));  // docker.io
  EXPECT_TRUE(Fires(LintWith("FROM ghcr.io/o/i:1\nCOPY --from=quay.io/x/y:1 /a /a\n", opts), "KL103"));
  EXPECT_FALSE(Fires(LintWith("FROM ghcr.io/o/i:1 AS b\nFROM ghcr.io/o/i:1\nCOPY --from=b /a /a\n", opts), "KL103"));
  EXPECT_FALSE(Fires(LintWith("FROM quay.io/x/y:1\n"), "KL103"));  // no list configured: off
}

}  // namespace
}  // namespace kiln::frontend::lint
