#include "frontend/lint/secret_patterns.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include "frontend/text_util.h"

namespace kiln::frontend::lint {
namespace {

std::string Upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}
bool Contains(std::string_view s, std::string_view w) { return s.find(w) != std::string_view::npos; }

bool IsTokenChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }
size_t RunLength(std::string_view s, size_t from, bool (*pred)(char)) {
  size_t n = 0;
  while (from + n < s.size() && pred(s[from + n])) ++n;
  return n;
}
bool IsUpperAlnum(char c) { return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)); }
bool IsB64Url(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }
bool IsUrlUserChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-._~%!*+,;=").find(c) != std::string_view::npos;
}
// True when position `i` does not continue a longer identifier to its left.
bool WordStart(std::string_view s, size_t i) { return i == 0 || !IsAlnum(s[i - 1]); }

// Each check below looks at one candidate position (where its prefix
// starts) and says whether a secret of its kind begins there.

// AKIA/ASIA and exactly 16 more upper-case letters or digits.
bool AwsKeyIdAt(std::string_view text, size_t pos) {
  return WordStart(text, pos) && RunLength(text, pos + 4, IsUpperAlnum) == 16;
}

// `prefix` then at least `min_len` characters of `pred`, as a word of its own.
bool TokenAt(std::string_view text, size_t pos, size_t prefix_len, size_t min_len, bool (*pred)(char)) {
  return WordStart(text, pos) && RunLength(text, pos + prefix_len, pred) >= min_len;
}

// header.payload.signature, each base64url; header and payload are JSON
// objects so they start with "eyJ" ('{"').
bool JwtAt(std::string_view text, size_t pos) {
  if (!WordStart(text, pos)) return false;
  size_t a = RunLength(text, pos, IsB64Url);
  if (a < 10 || pos + a >= text.size() || text[pos + a] != '.') return false;
  size_t p2 = pos + a + 1;
  if (text.substr(p2, 3) != "eyJ") return false;
  size_t b = RunLength(text, p2, IsB64Url);
  if (b < 10 || p2 + b >= text.size() || text[p2 + b] != '.') return false;
  return RunLength(text, p2 + b + 1, IsB64Url) >= 10;
}

// scheme://user:password@host with a literal password (not $VAR, not "*");
// `pos` is where "://" starts.
bool UrlPasswordAt(std::string_view text, size_t pos) {
  size_t i = pos + 3;
  size_t user = RunLength(text, i, IsUrlUserChar);
  if (user == 0 || i + user >= text.size() || text[i + user] != ':') return false;
  size_t p = i + user + 1;
  size_t pass = RunLength(text, p, IsUrlUserChar);
  if (pass == 0 || p + pass >= text.size() || text[p + pass] != '@') return false;
  std::string_view pw = text.substr(p, pass);
  return pw.find('$') == std::string_view::npos && pw.find_first_not_of('*') != std::string_view::npos;
}

// The kinds, in the order FindSecretFormat prefers them.
enum Kind { kPrivateKey, kAwsKeyId, kGitHub, kGitLab, kSlack, kJwt, kUrlPassword, kKinds };
constexpr const char* kKindNames[kKinds] = {"private key block", "AWS access key id", "GitHub token", "GitLab token",
                                            "Slack token", "JSON web token", "URL with embedded password"};

// The first bytes of the prefixes above; every other byte is skipped at once.
constexpr auto kStarts = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("-Agxe:")) t[c] = true;
  return t;
}();

}  // namespace

bool IsSecretName(std::string_view raw) {
  // Asked of every ARG, ENV and RUN assignment: names are upper-cased on the
  // stack (the rare long one on the heap).
  char stack[64];
  std::string heap;
  std::string_view n;
  if (raw.size() <= sizeof stack) {
    for (size_t i = 0; i < raw.size(); ++i) stack[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(raw[i])));
    n = std::string_view(stack, raw.size());
  } else {
    heap = Upper(raw);
    n = heap;
  }
  static constexpr std::string_view kNotSecretSuffixes[] = {
      "_FILE", "_PATH", "_URL", "_SERVER", "_DIR", "_HOST", "_PORT", "_ENDPOINT",
      "_LENGTH", "_TYPE", "_NAME", "_VERSION", "_HEADER", "_ALGORITHM", "_ENABLED"};
  static constexpr std::string_view kSecretWords[] = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY",
                                                      "PRIVATE_KEY", "CREDENTIAL", "AUTH_KEY", "ACCESS_KEY"};
  for (std::string_view suffix : kNotSecretSuffixes)
    if (n.ends_with(suffix)) return false;
  if (n == "GPG_KEY" || n == "GPG_KEYS" || Contains(n, "PUBLIC_KEY") || Contains(n, "PUBKEY")) return false;
  if (n.starts_with("AWS_")) return n == "AWS_ACCESS_KEY_ID" || Contains(n, "SECRET") || Contains(n, "SESSION_TOKEN");
  for (std::string_view w : kSecretWords)
    if (Contains(n, w)) return true;
  if (n == "PASS" || n.ends_with("_PASS") || n.ends_with("_PWD")) return true;  // a bare KEY is too generic (GPG fingerprints)
  return n.ends_with("_KEY");
}

bool IsLiteralSecretValue(std::string_view v) {
  // Strip quotes the ENV/ARG parser may have left and surrounding blanks.
  while (!v.empty() && (v.front() == ' ' || v.front() == '"' || v.front() == '\'')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\'')) v.remove_suffix(1);
  if (v.empty()) return false;
  // Only variable references ($A, ${A}, ${A:-$B}): the value comes from
  // elsewhere (a build arg), which is where the secret problem would be.
  size_t i = 0;
  bool only_refs = true;
  while (i < v.size()) {
    if (v[i] != '$') { only_refs = false; break; }
    ++i;
    if (i < v.size() && v[i] == '{') {
      auto close = v.find('}', i);
      if (close == std::string_view::npos) { only_refs = false; break; }
      std::string_view inner = v.substr(i + 1, close - i - 1);
      auto op = inner.find(":-");
      if (op != std::string_view::npos && !inner.substr(op + 2).empty() && inner[op + 2] != '$') {
        only_refs = false;  // a literal default is a literal value
        break;
      }
      i = close + 1;
    } else {
      size_t n = 0;
      while (i + n < v.size() && (IsAlnum(v[i + n]) || v[i + n] == '_')) ++n;
      if (n == 0) { only_refs = false; break; }
      i += n;
    }
  }
  if (only_refs) return false;
  // Placeholders that document the variable rather than set it.
  if (v.front() == '<' && v.back() == '>') return false;
  const std::string l = AsciiLower(v);
  return !(l == "none" || l == "null" || l == "false" || l == "true" || l == "0" || l == "1" || l == "-");
}

std::optional<std::string> FindSecretFormat(std::string_view text) {
  // One pass over the text: a dozen find() passes (one per prefix) cost
  // more than the rest of the security rules together.
  unsigned found = 0;
  auto at = [&](size_t pos, std::string_view prefix) { return text.substr(pos, prefix.size()) == prefix; };
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (!kStarts[static_cast<unsigned char>(text[pos])]) continue;
    switch (text[pos]) {
      case '-':
        // The header alone counts: a key pasted into a Dockerfile is the problem.
        if (at(pos, "-----BEGIN")) {
          auto key = text.substr(pos, 40 + 10).find("PRIVATE KEY");
          if (key != std::string_view::npos && key < 40) found |= 1u << kPrivateKey;
        }
        break;
      case 'A':
        if ((at(pos, "AKIA") || at(pos, "ASIA")) && AwsKeyIdAt(text, pos)) found |= 1u << kAwsKeyId;
        break;
      case 'g':
        if (pos + 3 < text.size() && text[pos + 1] == 'h' && std::string_view("pousr").find(text[pos + 2]) != std::string_view::npos &&
            text[pos + 3] == '_' && TokenAt(text, pos, 4, 36, IsAlnum))
          found |= 1u << kGitHub;
        else if (at(pos, "github_pat_") && TokenAt(text, pos, 11, 22, IsTokenChar))
          found |= 1u << kGitHub;
        else if (at(pos, "glpat-") && TokenAt(text, pos, 6, 20, IsB64Url))
          found |= 1u << kGitLab;
        break;
      case 'x':
        if (pos + 4 < text.size() && at(pos, "xox") && std::string_view("baprs").find(text[pos + 3]) != std::string_view::npos &&
            text[pos + 4] == '-' && TokenAt(text, pos, 5, 10, IsB64Url))
          found |= 1u << kSlack;
        break;
      case 'e':
        if (at(pos, "eyJ") && JwtAt(text, pos)) found |= 1u << kJwt;
        break;
      case ':':
        if (at(pos, "://") && UrlPasswordAt(text, pos)) found |= 1u << kUrlPassword;
        break;
    }
  }
  if (found == 0) return std::nullopt;
  return kKindNames[std::countr_zero(found)];
}

bool IsSecretFile(std::string_view path) {
  while (path.ends_with('/')) path.remove_suffix(1);
  const std::string p = AsciiLower(path);
  const std::string base = p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1);
  if (base == ".env" || (base.starts_with(".env.") && !base.ends_with(".example") && !base.ends_with(".sample") &&
                         !base.ends_with(".template") && !base.ends_with(".dist")))
    return true;
  for (std::string_view k : {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".npmrc", ".pypirc", ".netrc",
                             ".git-credentials", ".htpasswd", "credentials.json"})
    if (base == k) return true;
  for (std::string_view ext : {".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"})
    if (base.ends_with(ext) && base.size() > ext.size()) return true;
  return p.ends_with(".aws/credentials") || p.ends_with(".docker/config.json") || p == "aws/credentials";
}

}  // namespace kiln::frontend::lint
