#include "oci/supply/secret_rules.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "oci/entropy.h"
#include "oci/text_util.h"

namespace kiln::oci {

namespace {

bool IsUpperOrDigit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsB64Url(char c) { return IsAsciiAlnum(c) || c == '-' || c == '_'; }
bool IsB64(char c) { return IsAsciiAlnum(c) || c == '+' || c == '/' || c == '='; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Length of the run of chars satisfying `pred` starting at `pos`.
template <typename Pred>
size_t Run(std::string_view t, size_t pos, Pred pred, size_t max = std::string_view::npos) {
  size_t n = 0;
  while (pos + n < t.size() && n < max && pred(t[pos + n])) ++n;
  return n;
}

std::string Redact(std::string_view s) {
  if (s.size() <= 8) return std::string(s.substr(0, 2)) + "***";
  return std::string(s.substr(0, 6)) + "***" + std::string(s.substr(s.size() - 2));
}

// Values that are obviously not secrets: placeholders and code.
bool IsPlaceholder(std::string_view v) {
  std::string l = AsciiLower(v);
  static const std::array<const char*, 14> kWords = {
      "password", "changeme", "example", "xxxxx", "*****", "secret", "your", "<", "${",
      "$(", "%s", "{{", "dummy", "placeholder"};
  for (const char* w : kWords)
    if (l.find(w) != std::string::npos) return true;
  if (!v.empty() && v[0] == '$') return true;
  return false;
}

// Every string a rule looks for. `folded`: matched with ASCII letters
// lower-cased (names such as Password or AWS_SECRET_ACCESS_KEY).
struct Needle {
  std::string_view text;
  bool folded;
};
constexpr Needle kNeedles[] = {
    {"-----BEGIN ", false}, {"AKIA", false}, {"ASIA", false}, {"ghp_", false}, {"gho_", false},
    {"ghu_", false}, {"ghs_", false}, {"ghr_", false}, {"github_pat_", false}, {"glpat-", false},
    {"xoxb-", false}, {"xoxp-", false}, {"xoxa-", false}, {"xoxr-", false}, {"xoxs-", false},
    {"https://hooks.slack.com/services/", false}, {"AIza", false}, {"sk_live_", false}, {"rk_live_", false},
    {"eyJ", false}, {"://", false}, {"_authToken", false}, {"\"auth\"", false},
    {"aws_secret_access_key", true}, {"aws_secret_key", true}, {"secretaccesskey", true}, {"password", true},
    {"passwd", true}, {"secret", true}, {"token", true}, {"api_key", true}, {"apikey", true}};
constexpr size_t kNeedleCount = std::size(kNeedles);

unsigned char Fold(unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c; }

// The needles by their first two bytes, lower-cased: one table lookup
// rules out most positions of a text.
struct BigramTable {
  std::array<uint8_t, 65536> bucket{};  // 0: no needle starts so; else 1 + index into `needles`
  std::vector<std::vector<uint8_t>> needles;
  BigramTable() {
    for (size_t n = 0; n < kNeedleCount; ++n) {
      const auto t = kNeedles[n].text;
      const size_t key = size_t{Fold(t[0])} << 8 | Fold(t[1]);
      if (!bucket[key]) {
        needles.emplace_back();
        bucket[key] = static_cast<uint8_t>(needles.size());
      }
      needles[bucket[key] - 1].push_back(static_cast<uint8_t>(n));
    }
  }
};

// Where each needle occurs in `text` (overlapping occurrences too), found in
// one pass instead of one memmem pass per needle: on an image's text files
// the ~30 passes ran at about 60 MB/s.
class NeedleHits {
 public:
  explicit NeedleHits(std::string_view text) {
    static const BigramTable table;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      const uint8_t b = table.bucket[size_t{Fold(p[i])} << 8 | Fold(p[i + 1])];
      if (!b) continue;
      for (uint8_t n : table.needles[b - 1]) {
        const Needle& needle = kNeedles[n];
        if (needle.text.size() > text.size() - i) continue;
        bool match = true;
        if (needle.folded) {
          for (size_t k = 2; k < needle.text.size() && match; ++k)
            match = Fold(p[i + k]) == static_cast<unsigned char>(needle.text[k]);
        } else {
          match = std::memcmp(p + i, needle.text.data(), needle.text.size()) == 0;
        }
        if (match) hits_[n].push_back(i);
      }
    }
  }
  // Positions of `needle` (one of kNeedles), ascending.
  const std::vector<size_t>& operator[](std::string_view needle) const {
    for (size_t n = 0; n < kNeedleCount; ++n)
      if (kNeedles[n].text == needle) return hits_[n];
    std::abort();  // a rule searching for a string not in kNeedles
  }

 private:
  std::array<std::vector<size_t>, kNeedleCount> hits_;
};

struct Scanner {
  std::string_view text;
  std::vector<SecretMatch> out;
  NeedleHits hits{text};

  void Add(const char* id, const char* desc, size_t off, std::string_view match) {
    if (out.size() >= 64) return;  // enough to act on; keeps reports bounded
    for (const auto& m : out)
      if (m.rule_id == id && m.offset == off) return;
    out.push_back({id, desc, off, 0, Redact(match)});
  }

  bool WordStart(size_t pos) const { return pos == 0 || !IsAsciiAlnum(text[pos - 1]); }
  bool WordEnd(size_t pos) const { return pos >= text.size() || !IsAsciiAlnum(text[pos]); }

  // Fixed prefix followed by a run of `pred` chars with length in [min, max].
  template <typename Pred>
  void Prefixed(const char* id, const char* desc, std::string_view prefix, Pred pred, size_t min,
                size_t max, bool exact_end = true) {
    for (size_t pos : hits[prefix]) {
      if (!WordStart(pos)) continue;
      size_t n = Run(text, pos + prefix.size(), pred, max + 1);
      if (n < min || (exact_end && n > max)) continue;
      std::string_view m = text.substr(pos, prefix.size() + n);
      if (m.find("EXAMPLE") != std::string_view::npos) continue;  // documentation keys
      Add(id, desc, pos, m);
    }
  }

  void PrivateKeys() {
    static constexpr std::string_view kBegin = "-----BEGIN ";
    for (size_t pos : hits[kBegin]) {
      size_t eol = text.find('\n', pos);
      std::string_view header = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
      if (header.size() > 64 || header.find("PRIVATE KEY") == std::string_view::npos) continue;
      if (eol == std::string_view::npos) continue;
      // A real block has base64 body lines; a header quoted in source code
      // (PEM parsers, docs) does not. Skip "Proc-Type:" style headers.
      size_t p = eol + 1;
      bool body = false;
      for (int lines = 0; lines < 4 && p < text.size(); ++lines) {
        size_t e = text.find('\n', p);
        std::string_view line = text.substr(p, e == std::string_view::npos ? std::string_view::npos : e - p);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() >= 40 && Run(line, 0, IsB64) == line.size()) { body = true; break; }
        if (e == std::string_view::npos) break;
        p = e + 1;
      }
      if (body) Add("private-key", "private key block", pos, header);
    }
  }

  void AwsSecretKeys() {
    for (std::string_view key : {"aws_secret_access_key", "aws_secret_key", "secretaccesskey"}) {
      for (size_t pos : hits[key]) {
        size_t p = pos + key.size();
        p += Run(text, p, [](char c) { return c == '"' || c == '\'' || c == ' ' || c == '\t'; });
        if (p >= text.size() || (text[p] != '=' && text[p] != ':')) continue;
        ++p;
        p += Run(text, p, [](char c) { return c == '"' || c == '\'' || c == ' ' || c == '\t'; });
        size_t n = Run(text, p, IsB64, 41);
        if (n != 40) continue;
        std::string_view v = text.substr(p, n);
        if (v.find("EXAMPLE") != std::string_view::npos) continue;
        Add("aws-secret-access-key", "AWS secret access key", p, v);
      }
    }
  }

  void Jwts() {
    for (size_t pos : hits["eyJ"]) {
      if (pos > 0 && IsB64Url(text[pos - 1])) continue;
      size_t a = Run(text, pos, IsB64Url);
      if (a < 10 || pos + a >= text.size() || text[pos + a] != '.') continue;
      size_t q = pos + a + 1;
      if (text.substr(q, 3) != "eyJ") continue;
      size_t b = Run(text, q, IsB64Url);
      if (b < 10 || q + b >= text.size() || text[q + b] != '.') continue;
      size_t c = Run(text, q + b + 1, IsB64Url);
      if (c < 10) continue;
      Add("jwt", "JSON Web Token", pos, text.substr(pos, q + b + 1 + c - pos));
    }
  }

  void UrlPasswords() {
    for (size_t pos : hits["://"]) {
      size_t s = pos;
      while (s > 0 && (IsAsciiAlnum(text[s - 1]) || text[s - 1] == '+' || text[s - 1] == '.' || text[s - 1] == '-')) --s;
      if (s == pos) continue;
      size_t u = pos + 3;
      auto user_ch = [](char c) { return !IsSpace(c) && c != ':' && c != '/' && c != '@' && c != '"' && c != '\'' && c != '`'; };
      size_t un = Run(text, u, user_ch, 256);
      if (un == 0 || u + un >= text.size() || text[u + un] != ':') continue;
      size_t p = u + un + 1;
      auto pass_ch = [](char c) { return !IsSpace(c) && c != '@' && c != '/' && c != '"' && c != '\'' && c != '`'; };
      size_t pn = Run(text, p, pass_ch, 256);
      if (pn < 3 || p + pn >= text.size() || text[p + pn] != '@') continue;
      std::string_view pass = text.substr(p, pn);
      if (IsPlaceholder(pass) || pass == "pass" || pass == "pwd") continue;
      size_t h = p + pn + 1;
      if (h >= text.size() || !IsAsciiAlnum(text[h])) continue;
      Add("url-password", "URL with embedded password", s, text.substr(s, h - s));
    }
  }

  // NAME = "value" where NAME names a password/secret/token and the value
  // looks random (not code, not a placeholder).
  void PasswordAssignments() {
    for (std::string_view key : {"password", "passwd", "secret", "token", "api_key", "apikey"}) {
      for (size_t pos : hits[key]) {
        size_t p = pos + key.size();
        p += Run(text, p, [](char c) { return IsAsciiAlnum(c) || c == '_' || c == '-'; });  // DB_PASSWORD_FILE
        const std::string name_tail = AsciiLower(text.substr(pos, p - pos));
        if (name_tail.ends_with("_file") || name_tail.ends_with("_path")) continue;
        p += Run(text, p, [](char c) { return c == '"' || c == '\''; }, 1);
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || (text[p] != '=' && text[p] != ':')) continue;
        if (p + 1 < text.size() && text[p + 1] == '=') continue;  // comparison "=="
        ++p;
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        char quote = 0;
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) quote = text[p++];
        size_t n = Run(text, p, [quote](char c) {
          return quote ? (c != quote && c != '\n') : (!IsSpace(c) && c != ';' && c != ',' && c != '"' && c != '\'');
        }, 257);
        if (n < 8 || n > 256) continue;
        std::string_view v = text.substr(p, n);
        if (v.find_first_of(".()[]{}$<>%\\ ") != std::string_view::npos) continue;  // code, templates
        if (IsPlaceholder(v)) continue;
        bool digit = std::any_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        bool alpha = std::any_of(v.begin(), v.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
        if (!digit || !alpha || Entropy(v) < 3.0) continue;
        Add("password-assignment", "hard-coded password or secret", p, v);
      }
    }
  }

  void FileKind(std::string_view path) {
    std::string_view base = PathBaseName(path);
    if (base == ".npmrc") {
      for (size_t pos : hits["_authToken"]) {
        size_t p = pos + 10;
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || text[p] != '=') continue;
        ++p;
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        size_t n = Run(text, p, [](char c) { return !IsSpace(c); });
        if (n == 0 || text[p] == '$') continue;
        Add("npmrc-auth-token", ".npmrc with an auth token", pos, text.substr(p, n));
      }
    }
    if (base == "config.json" && (path.ends_with(".docker/config.json") || path == "config.json")) {
      for (size_t pos : hits["\"auth\""]) {
        size_t p = pos + 6;
        p += Run(text, p, IsSpace);
        if (p >= text.size() || text[p] != ':') continue;
        ++p;
        p += Run(text, p, IsSpace);
        if (p >= text.size() || text[p] != '"') continue;
        size_t n = Run(text, p + 1, IsB64);
        if (n == 0) continue;
        Add("docker-config-auth", "docker config.json with registry credentials", pos, text.substr(p + 1, n));
      }
    }
    if (base == ".pypirc") {
      for (size_t pos : hits["password"]) {
        size_t p = pos + 8;
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || (text[p] != '=' && text[p] != ':')) continue;
        ++p;
        p += Run(text, p, [](char c) { return c == ' ' || c == '\t'; });
        size_t n = Run(text, p, [](char c) { return !IsSpace(c); });
        if (n == 0) continue;
        Add("pypirc-password", ".pypirc with a password", pos, text.substr(p, n));
      }
    }
  }

  void All(std::string_view path) {
    PrivateKeys();
    Prefixed("aws-access-key-id", "AWS access key id", "AKIA", IsUpperOrDigit, 16, 16);
    Prefixed("aws-access-key-id", "AWS access key id", "ASIA", IsUpperOrDigit, 16, 16);
    AwsSecretKeys();
    for (const char* p : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"})
      Prefixed("github-token", "GitHub token", p, IsAsciiAlnum, 36, 36);
    Prefixed("github-token", "GitHub fine-grained token", "github_pat_",
             [](char c) { return IsAsciiAlnum(c) || c == '_'; }, 82, 82);
    Prefixed("gitlab-token", "GitLab personal access token", "glpat-", IsB64Url, 20, 20);
    for (const char* p : {"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"})
      Prefixed("slack-token", "Slack token", p, [](char c) { return IsAsciiAlnum(c) || c == '-'; }, 10, 255);
    Prefixed("slack-webhook", "Slack incoming webhook", "https://hooks.slack.com/services/",
             [](char c) { return IsAsciiAlnum(c) || c == '/'; }, 20, 255);
    Prefixed("google-api-key", "Google API key", "AIza", IsB64Url, 35, 35);
    for (const char* p : {"sk_live_", "rk_live_"})
      Prefixed("stripe-key", "Stripe live secret key", p, IsAsciiAlnum, 24, 255);
    Jwts();
    UrlPasswords();
    PasswordAssignments();
    FileKind(path);
  }
};

}  // namespace


std::vector<SecretMatch> ScanText(std::string_view path, std::string_view text) {
  Scanner s{text, {}};
  s.All(path);
  std::sort(s.out.begin(), s.out.end(), [](const SecretMatch& a, const SecretMatch& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.rule_id < b.rule_id;
  });
  // A URL or assignment inside a token already reported is one finding.
  int line = 1;
  size_t at = 0;
  for (auto& m : s.out) {
    line += static_cast<int>(std::count(text.begin() + static_cast<long>(at), text.begin() + static_cast<long>(m.offset), '\n'));
    at = m.offset;
    m.line = line;
  }
  return s.out;
}

SecretMatch MatchSecretPath(std::string_view path) {
  std::string_view base = PathBaseName(path);
  auto hit = [&](const char* id, const char* desc) { return SecretMatch{id, desc, 0, 0, std::string(path)}; };
  for (std::string_view k : {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"})
    if (base == k) return hit("ssh-private-key-file", "SSH private key file");
  if (base == ".git-credentials") return hit("git-credentials-file", "git credential store");
  if (base == ".netrc") return hit("netrc-file", ".netrc with machine credentials");
  if (path.ends_with(".aws/credentials")) return hit("aws-credentials-file", "AWS credentials file");
  if (base == ".env" || (base.starts_with(".env.") && !base.ends_with(".example") &&
                         !base.ends_with(".sample") && !base.ends_with(".template") &&
                         !base.ends_with(".dist")))
    return hit("dotenv-file", ".env file with environment secrets");
  return {};
}

std::vector<SecretMatch> ScanCommand(std::string_view cmd) {
  static const std::array<std::string_view, 7> kWords = {"PASS", "PASSWD", "PASSWORD", "SECRET",
                                                         "KEY", "ACCESS", "TOKEN"};
  std::vector<SecretMatch> out;
  size_t i = 0;
  while (i < cmd.size()) {
    while (i < cmd.size() && IsSpace(cmd[i])) ++i;
    size_t start = i;
    // A shell word: quotes group spaces; the raw word is what we inspect so
    // that a quoted 'secret=foo' (data for echo) is not an assignment.
    char quote = 0;
    while (i < cmd.size() && (quote || !IsSpace(cmd[i]))) {
      char c = cmd[i];
      if (quote) {
        if (c == '\\' && quote == '"' && i + 1 < cmd.size()) ++i;
        else if (c == quote) quote = 0;
      } else if (c == '\\' && i + 1 < cmd.size()) {
        ++i;
      } else if (c == '"' || c == '\'') {
        quote = c;
      }
      ++i;
    }
    std::string_view word = cmd.substr(start, i - start);
    size_t eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view name = word.substr(0, eq);
    if (!std::all_of(name.begin(), name.end(), [](char c) { return IsAsciiAlnum(c) || c == '_'; }) ||
        (name[0] >= '0' && name[0] <= '9'))
      continue;
    std::string_view value = word.substr(eq + 1);
    if (value.empty() || value == "\"\"" || value == "''") continue;
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "GPG_KEY" || upper == "GPG_KEYS") continue;
    // A bare KEY/ACCESS names anything (LABEL "sort key"=v); only compounds
    // such as API_KEY or ACCESS_TOKEN say "credential".
    if (upper == "KEY" || upper == "ACCESS") continue;
    bool sensitive = false;
    size_t p = 0;
    while (p <= upper.size() && !sensitive) {
      size_t e = upper.find('_', p);
      std::string_view part = std::string_view(upper).substr(p, e == std::string::npos ? std::string::npos : e - p);
      for (auto w : kWords)
        if (part == w) sensitive = true;
      for (auto w : {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY"})
        if (part.ends_with(w)) sensitive = true;
      if (e == std::string::npos) break;
      p = e + 1;
    }
    if (sensitive)
      out.push_back({"sensitive-assignment", "secret-looking variable " + std::string(name) + " set in a command",
                     static_cast<size_t>(start), 0, std::string(name) + "=" + Redact(value)});
  }
  return out;
}

bool IsBenignPath(std::string_view path) {
  std::string p = "/" + AsciiLower(path);
  if (p.find("/etc/ssl/certs/") != std::string::npos || p.find("/etc/pki/") != std::string::npos ||
      p.find("/share/ca-certificates/") != std::string::npos || p.ends_with("ca-certificates.crt") ||
      p.ends_with("ca-bundle.crt") || p.ends_with("cacert.pem") || p.ends_with(".pub") ||
      p.find("/usr/share/doc/") != std::string::npos || p.find("/usr/share/man/") != std::string::npos)
    return true;
  // Packages' own test fixtures (installed libraries, not the user's app):
  // a test directory somewhere below a package tree.
  static const std::array<std::string_view, 7> kTrees = {"/site-packages/", "/dist-packages/", "/node_modules/",
                                                         "/go/pkg/mod/", "/usr/lib/", "/usr/share/", "/usr/local/lib/"};
  static const std::array<std::string_view, 6> kTestDirs = {"/test/", "/tests/", "/testdata/", "/__tests__/",
                                                            "/fixtures/", "/testing/"};
  for (auto tree : kTrees) {
    size_t t = p.find(tree);
    if (t == std::string::npos) continue;
    for (auto td : kTestDirs)
      if (p.find(td, t + tree.size() - 1) != std::string::npos) return true;
  }
  return false;
}

const std::vector<std::string>& AllSecretRuleIds() {
  static const std::vector<std::string> kIds = {
      "aws-access-key-id", "aws-credentials-file", "aws-secret-access-key", "docker-config-auth",
      "dotenv-file", "git-credentials-file", "github-token", "gitlab-token", "google-api-key",
      "jwt", "netrc-file", "npmrc-auth-token", "password-assignment", "private-key", "pypirc-password",
      "sensitive-assignment", "slack-token", "slack-webhook", "ssh-private-key-file", "stripe-key",
      "url-password"};
  return kIds;
}

}  // namespace kiln::oci
