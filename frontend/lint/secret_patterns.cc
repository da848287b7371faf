#include "frontend/lint/secret_patterns.h"

#include <algorithm>
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

// A word that starts with `prefix` and goes on with at least `min_len`
// characters of `pred`. With `kinds`, the prefix is followed by one of those
// letters and `sep` ("gh" "p" "_" ...): all kinds are found in one pass over
// the text rather than one per kind ('g' is a common letter).
bool HasPrefixToken(std::string_view text, std::string_view prefix, size_t min_len, bool (*pred)(char),
                    std::string_view kinds = {}, char sep = 0) {
  for (size_t pos = text.find(prefix); pos != std::string_view::npos; pos = text.find(prefix, pos + 1)) {
    if (!WordStart(text, pos)) continue;
    size_t at = pos + prefix.size();
    if (!kinds.empty()) {
      if (at + 1 >= text.size() || kinds.find(text[at]) == std::string_view::npos || text[at + 1] != sep) continue;
      at += 2;
    }
    if (RunLength(text, at, pred) >= min_len) return true;
  }
  return false;
}

bool HasAwsKeyId(std::string_view text) {
  for (std::string_view p : {"AKIA", "ASIA"}) {
    for (size_t pos = text.find(p); pos != std::string_view::npos; pos = text.find(p, pos + 1)) {
      if (!WordStart(text, pos)) continue;
      size_t n = RunLength(text, pos + 4, IsUpperAlnum);
      if (n == 16) return true;  // exactly 20 characters in all
    }
  }
  return false;
}

// header.payload.signature, each base64url; header and payload are JSON
// objects so they start with "eyJ" ('{"').
bool HasJwt(std::string_view text) {
  for (size_t pos = text.find("eyJ"); pos != std::string_view::npos; pos = text.find("eyJ", pos + 1)) {
    if (!WordStart(text, pos)) continue;
    size_t a = RunLength(text, pos, IsB64Url);
    if (a < 10 || pos + a >= text.size() || text[pos + a] != '.') continue;
    size_t p2 = pos + a + 1;
    if (text.substr(p2, 3) != "eyJ") continue;
    size_t b = RunLength(text, p2, IsB64Url);
    if (b < 10 || p2 + b >= text.size() || text[p2 + b] != '.') continue;
    if (RunLength(text, p2 + b + 1, IsB64Url) >= 10) return true;
  }
  return false;
}

// scheme://user:password@host with a literal password (not $VAR, not "*").
bool HasUrlPassword(std::string_view text) {
  for (size_t pos = text.find("://"); pos != std::string_view::npos; pos = text.find("://", pos + 1)) {
    size_t i = pos + 3;
    size_t user = RunLength(text, i, IsUrlUserChar);
    if (user == 0 || i + user >= text.size() || text[i + user] != ':') continue;
    size_t p = i + user + 1;
    size_t pass = RunLength(text, p, IsUrlUserChar);
    if (pass == 0 || p + pass >= text.size() || text[p + pass] != '@') continue;
    std::string_view pw = text.substr(p, pass);
    if (pw.find('$') != std::string_view::npos || pw.find_first_not_of('*') == std::string_view::npos) continue;
    return true;
  }
  return false;
}

}  // namespace

bool IsSecretName(std::string_view raw) {
  const std::string n = Upper(raw);
  for (std::string_view suffix : {"_FILE", "_PATH", "_URL", "_SERVER", "_DIR", "_HOST", "_PORT", "_ENDPOINT",
                                  "_LENGTH", "_TYPE", "_NAME", "_VERSION", "_HEADER", "_ALGORITHM", "_ENABLED"})
    if (n.ends_with(suffix)) return false;
  if (n == "GPG_KEY" || n == "GPG_KEYS" || Contains(n, "PUBLIC_KEY") || Contains(n, "PUBKEY")) return false;
  if (n.starts_with("AWS_")) return n == "AWS_ACCESS_KEY_ID" || Contains(n, "SECRET") || Contains(n, "SESSION_TOKEN");
  for (std::string_view w : {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY",
                             "CREDENTIAL", "AUTH_KEY", "ACCESS_KEY"})
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
  if (Contains(text, "-----BEGIN") && Contains(text, "PRIVATE KEY")) {
    // The header alone counts: a key pasted into a Dockerfile is the problem.
    auto pos = text.find("-----BEGIN");
    auto key = text.find("PRIVATE KEY", pos);
    if (key != std::string_view::npos && key - pos < 40) return "private key block";
  }
  if (HasAwsKeyId(text)) return "AWS access key id";
  if (HasPrefixToken(text, "gh", 36, IsAlnum, "pousr", '_') || HasPrefixToken(text, "github_pat_", 22, IsTokenChar))
    return "GitHub token";
  if (HasPrefixToken(text, "glpat-", 20, IsB64Url)) return "GitLab token";
  if (HasPrefixToken(text, "xox", 10, IsB64Url, "baprs", '-')) return "Slack token";
  if (HasJwt(text)) return "JSON web token";
  if (HasUrlPassword(text)) return "URL with embedded password";
  return std::nullopt;
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
