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
#include "oci/supply/secret_rules/ascii.h"
#include "oci/supply/secret_rules/files.h"
#include "oci/supply/secret_rules/formats.h"
#include "oci/supply/secret_rules/names.h"

namespace kiln::oci {

namespace {

using secret_rules::IsBase64Char;
using secret_rules::IsBlankChar;
using secret_rules::RunLength;

std::string Redact(std::string_view s) {
  if (s.size() <= 8) return std::string(s.substr(0, 2)) + "***";
  return std::string(s.substr(0, 6)) + "***" + std::string(s.substr(s.size() - 2));
}

// Every string a rule looks for. `folded`: matched with ASCII letters
// lower-cased (names such as Password or AWS_SECRET_ACCESS_KEY).
struct Needle {
  std::string_view text;
  bool folded;
};
// The token formats are found by secret_rules::FindFormats; these are the
// scanner's own rules over file content (assignments, credential files).
constexpr Needle kNeedles[] = {
    {"_authToken", false}, {"\"auth\"", false}, {"password", true}, {"passwd", true},
    {"secret", true},      {"token", true},       {"api_key", true},  {"apikey", true}};
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

  void Add(std::string_view id, std::string_view desc, size_t off, std::string_view match) {
    if (out.size() >= 64) return;  // enough to act on; keeps reports bounded
    for (const auto& m : out)
      if (m.rule_id == id && m.offset == off) return;
    out.push_back({std::string(id), std::string(desc), off, 0, Redact(match)});
  }

  void Formats() {
    secret_rules::FindFormats(text, [this](const secret_rules::FormatHit& h) {
      Add(h.format->id, h.format->description, h.offset, text.substr(h.offset, h.length));
      return out.size() < 64;
    });
  }

  // NAME = "value" where NAME names a password/secret/token and the value
  // looks random (not code, not a placeholder).
  void PasswordAssignments() {
    for (std::string_view key : {"password", "passwd", "secret", "token", "api_key", "apikey"}) {
      for (size_t pos : hits[key]) {
        size_t p = pos + key.size();
        p += RunLength(text, p, [](char c) { return IsAsciiAlnum(c) || c == '_' || c == '-'; });  // DB_PASSWORD_FILE
        const std::string name_tail = AsciiLower(text.substr(pos, p - pos));
        if (name_tail.ends_with("_file") || name_tail.ends_with("_path")) continue;
        p += RunLength(text, p, [](char c) { return c == '"' || c == '\''; }, 1);
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || (text[p] != '=' && text[p] != ':')) continue;
        if (p + 1 < text.size() && text[p + 1] == '=') continue;  // comparison "=="
        ++p;
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        char quote = 0;
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) quote = text[p++];
        size_t n = RunLength(text, p, [quote](char c) {
          return quote ? (c != quote && c != '\n') : (!IsBlankChar(c) && c != ';' && c != ',' && c != '"' && c != '\'');
        }, 257);
        if (n < 8 || n > 256) continue;
        std::string_view v = text.substr(p, n);
        if (v.find_first_of(".()[]{}$<>%\\ ") != std::string_view::npos) continue;  // code, templates
        if (secret_rules::IsPlaceholderValue(v)) continue;
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
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || text[p] != '=') continue;
        ++p;
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        size_t n = RunLength(text, p, [](char c) { return !IsBlankChar(c); });
        if (n == 0 || text[p] == '$') continue;
        Add("npmrc-auth-token", ".npmrc with an auth token", pos, text.substr(p, n));
      }
    }
    if (base == "config.json" && (path.ends_with(".docker/config.json") || path == "config.json")) {
      for (size_t pos : hits["\"auth\""]) {
        size_t p = pos + 6;
        p += RunLength(text, p, IsBlankChar);
        if (p >= text.size() || text[p] != ':') continue;
        ++p;
        p += RunLength(text, p, IsBlankChar);
        if (p >= text.size() || text[p] != '"') continue;
        size_t n = RunLength(text, p + 1, IsBase64Char);
        if (n == 0) continue;
        Add("docker-config-auth", "docker config.json with registry credentials", pos, text.substr(p + 1, n));
      }
    }
    if (base == ".pypirc") {
      for (size_t pos : hits["password"]) {
        size_t p = pos + 8;
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        if (p >= text.size() || (text[p] != '=' && text[p] != ':')) continue;
        ++p;
        p += RunLength(text, p, [](char c) { return c == ' ' || c == '\t'; });
        size_t n = RunLength(text, p, [](char c) { return !IsBlankChar(c); });
        if (n == 0) continue;
        Add("pypirc-password", ".pypirc with a password", pos, text.substr(p, n));
      }
    }
  }

  void All(std::string_view path) {
    Formats();
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
  // Files of a kind whose content decides (.npmrc, *.pem, ...) are read by
  // ScanText's rules instead: by name alone they would flag every CA bundle.
  const auto* file = secret_rules::MatchCredentialFile(path);
  if (!file || !file->secret_by_name) return {};
  return SecretMatch{std::string(file->id), std::string(file->description), 0, 0, std::string(path)};
}

std::vector<SecretMatch> ScanCommand(std::string_view cmd) {
  std::vector<SecretMatch> out;
  size_t i = 0;
  while (i < cmd.size()) {
    while (i < cmd.size() && IsBlankChar(cmd[i])) ++i;
    size_t start = i;
    // A shell word: quotes group spaces; the raw word is what we inspect so
    // that a quoted 'secret=foo' (data for echo) is not an assignment.
    char quote = 0;
    while (i < cmd.size() && (quote || !IsBlankChar(cmd[i]))) {
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
    if (secret_rules::IsSecretAssignment(name, value))
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
  static const std::vector<std::string> kIds = [] {
    // The scanner's own content rules, then the shared table's.
    std::vector<std::string> ids = {"docker-config-auth", "npmrc-auth-token", "password-assignment", "pypirc-password",
                                    "sensitive-assignment"};
    for (const auto& f : secret_rules::Formats()) ids.emplace_back(f.id);
    for (const auto& f : secret_rules::CredentialFiles())
      if (f.secret_by_name) ids.emplace_back(f.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }();
  return kIds;
}

}  // namespace kiln::oci
