#include "oci/supply/secret_rules/formats.h"

#include "oci/supply/secret_rules/ascii.h"
#include "oci/supply/secret_rules/names.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace kiln::secret_rules {
namespace {

bool IsUpperOrDigit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsTokenB64Url(char c) { return IsAsciiAlnum(c) || c == '-' || c == '_'; }
bool At(std::string_view t, size_t pos, std::string_view s) { return t.substr(pos, s.size()) == s; }
// True when `pos` does not continue a longer identifier to its left.
bool WordStart(std::string_view t, size_t pos) { return pos == 0 || !IsAsciiAlnum(t[pos - 1]); }

// `prefix` then between `min` and `max` chars of `pred`, as a word of its
// own: the match's length, or 0. AWS's documentation keys (…EXAMPLE) are
// public and no secret.
template <typename Pred>
size_t Prefixed(std::string_view t, size_t pos, std::string_view prefix, Pred pred, size_t min, size_t max) {
  if (!At(t, pos, prefix) || !WordStart(t, pos)) return 0;
  const size_t n = RunLength(t, pos + prefix.size(), pred, max + 1);
  if (n < min || n > max) return 0;
  const std::string_view m = t.substr(pos, prefix.size() + n);
  return m.find("EXAMPLE") == std::string_view::npos ? m.size() : 0;
}

// Each matcher looks at one position and returns the length of a match of
// its format starting there (url-password: see its comment), or 0.

// "-----BEGIN … PRIVATE KEY-----" followed by a key body (a run of 40
// base64 characters before the END line, across real or escaped "\n"
// newlines): a header quoted in code (PEM parsers, docs) is not a key.
size_t PrivateKey(std::string_view t, size_t pos) {
  if (!At(t, pos, "-----BEGIN ")) return 0;
  const size_t eol = std::min(t.find('\n', pos), t.size());
  size_t close = t.find("-----", pos + 11);
  if (close == std::string_view::npos || close > eol) close = eol; else close += 5;
  const std::string_view header = t.substr(pos, close - pos);
  if (header.size() > 64 || header.find("PRIVATE KEY") == std::string_view::npos) return 0;
  std::string_view body = t.substr(close, 400);
  body = body.substr(0, body.find("-----END"));
  for (size_t i = 0; i < body.size();) {
    const size_t n = RunLength(body, i, IsBase64Char);
    if (n >= 40) return header.size();
    i += n + 1;
  }
  return 0;
}

size_t AwsKeyId(std::string_view t, size_t pos) {
  if (size_t n = Prefixed(t, pos, "AKIA", IsUpperOrDigit, 16, 16)) return n;
  return Prefixed(t, pos, "ASIA", IsUpperOrDigit, 16, 16);
}

// aws_secret_access_key = <40 base64>, any case (config files, env, JSON).
size_t AwsSecretKey(std::string_view t, size_t pos) {
  for (std::string_view key : {"aws_secret_access_key", "aws_secret_key", "secretaccesskey"}) {
    if (!StartsFoldedAt(t, pos, key)) continue;
    auto blank_or_quote = [](char c) { return c == '"' || c == '\'' || c == ' ' || c == '\t'; };
    size_t p = pos + key.size();
    p += RunLength(t, p, blank_or_quote);
    if (p >= t.size() || (t[p] != '=' && t[p] != ':')) return 0;
    ++p;
    p += RunLength(t, p, blank_or_quote);
    const size_t n = RunLength(t, p, IsBase64Char, 41);
    if (n != 40 || t.substr(p, n).find("EXAMPLE") != std::string_view::npos) return 0;
    return p + n - pos;
  }
  return 0;
}

size_t GitHub(std::string_view t, size_t pos) {
  for (std::string_view p : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"})
    if (size_t n = Prefixed(t, pos, p, IsAsciiAlnum, 36, 36)) return n;
  // Fine-grained: 22 + "_" + 59 today; the length is GitHub's to change.
  return Prefixed(t, pos, "github_pat_", [](char c) { return IsAsciiAlnum(c) || c == '_'; }, 22, 255);
}

// Personal access tokens were 20 characters; newer ones are longer.
size_t GitLab(std::string_view t, size_t pos) { return Prefixed(t, pos, "glpat-", IsTokenB64Url, 20, 255); }

size_t Slack(std::string_view t, size_t pos) {
  for (std::string_view p : {"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"})
    if (size_t n = Prefixed(t, pos, p, IsTokenB64Url, 10, 255)) return n;
  return 0;
}

size_t SlackWebhook(std::string_view t, size_t pos) {
  return Prefixed(t, pos, "https://hooks.slack.com/services/", [](char c) { return IsAsciiAlnum(c) || c == '/'; }, 20, 255);
}

size_t GoogleApiKey(std::string_view t, size_t pos) { return Prefixed(t, pos, "AIza", IsTokenB64Url, 35, 35); }

size_t Stripe(std::string_view t, size_t pos) {
  if (size_t n = Prefixed(t, pos, "sk_live_", IsAsciiAlnum, 24, 255)) return n;
  return Prefixed(t, pos, "rk_live_", IsAsciiAlnum, 24, 255);
}

// header.payload.signature, each base64url; header and payload are JSON
// objects, so both start with "eyJ" ('{"').
size_t Jwt(std::string_view t, size_t pos) {
  if (!At(t, pos, "eyJ") || (pos > 0 && IsTokenB64Url(t[pos - 1]))) return 0;
  const size_t a = RunLength(t, pos, IsTokenB64Url);
  if (a < 10 || pos + a >= t.size() || t[pos + a] != '.') return 0;
  const size_t q = pos + a + 1;
  if (!At(t, q, "eyJ")) return 0;
  const size_t b = RunLength(t, q, IsTokenB64Url);
  if (b < 10 || q + b >= t.size() || t[q + b] != '.') return 0;
  const size_t c = RunLength(t, q + b + 1, IsTokenB64Url);
  return c < 10 ? 0 : q + b + 1 + c - pos;
}

// scheme://user:password@host with a literal password of 3 or more
// characters (not $VAR, not a placeholder). `pos` is where "://" starts;
// the match starts at the scheme, so `start` is moved back to it.
size_t UrlPassword(std::string_view t, size_t pos, size_t& start) {
  if (!At(t, pos, "://")) return 0;
  size_t s = pos;
  while (s > 0 && (IsAsciiAlnum(t[s - 1]) || t[s - 1] == '+' || t[s - 1] == '.' || t[s - 1] == '-')) --s;
  if (s == pos) return 0;
  const size_t u = pos + 3;
  auto user_ch = [](char c) { return !IsBlankChar(c) && c != ':' && c != '/' && c != '@' && c != '"' && c != '\'' && c != '`'; };
  const size_t un = RunLength(t, u, user_ch, 256);
  if (un == 0 || u + un >= t.size() || t[u + un] != ':') return 0;
  const size_t p = u + un + 1;
  auto pass_ch = [](char c) { return !IsBlankChar(c) && c != '@' && c != '/' && c != '"' && c != '\'' && c != '`'; };
  const size_t pn = RunLength(t, p, pass_ch, 256);
  if (pn < 3 || p + pn >= t.size() || t[p + pn] != '@') return 0;
  if (IsPlaceholderValue(t.substr(p, pn))) return 0;
  const size_t h = p + pn + 1;
  if (h >= t.size() || !IsAsciiAlnum(t[h])) return 0;
  start = s;
  return h - s;
}

enum FormatKind { kPrivateKey, kAwsKeyId, kAwsSecretKey, kGitHub, kGitLab, kSlack, kSlackWebhook, kGoogle, kStripe, kJwt,
            kUrlPassword, kFormatKinds };
constexpr Format kFormats[kFormatKinds] = {
    {"private-key", "private key block"},
    {"aws-access-key-id", "AWS access key id"},
    {"aws-secret-access-key", "AWS secret access key"},
    {"github-token", "GitHub token"},
    {"gitlab-token", "GitLab personal access token"},
    {"slack-token", "Slack token"},
    {"slack-webhook", "Slack incoming webhook"},
    {"google-api-key", "Google API key"},
    {"stripe-key", "Stripe live secret key"},
    {"jwt", "JSON web token"},
    {"url-password", "URL with embedded password"},
};

// The kinds that can start at each pair of bytes; every other position is
// skipped with one lookup (one pass over the text: a pass per prefix cost
// more than all the lint rules together, and a first-byte filter alone
// stops at every 'a' and 's').
struct StartTable {
  std::array<uint16_t, 65536> kinds{};
  StartTable() {
    auto add = [&](std::string_view two, FormatKind k, bool fold = false) {
      for (int v = 0; v < (fold ? 4 : 1); ++v) {
        auto c0 = static_cast<unsigned char>(v & 1 ? two[0] - 32 : two[0]);
        auto c1 = static_cast<unsigned char>(v & 2 ? two[1] - 32 : two[1]);
        kinds[size_t{c0} << 8 | c1] |= static_cast<uint16_t>(1u << k);
      }
    };
    add("--", kPrivateKey);
    add("AK", kAwsKeyId);
    add("AS", kAwsKeyId);
    add("aw", kAwsSecretKey, true);
    add("se", kAwsSecretKey, true);
    add("gh", kGitHub);
    add("gi", kGitHub);
    add("gl", kGitLab);
    add("xo", kSlack);
    add("ht", kSlackWebhook);
    add("AI", kGoogle);
    add("sk", kStripe);
    add("rk", kStripe);
    add("ey", kJwt);
    add(":/", kUrlPassword);
  }
};
const StartTable kStarts;

}  // namespace

std::span<const Format> Formats() { return kFormats; }

void FindFormats(std::string_view text, const std::function<bool(const FormatHit&)>& on_hit) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  // Every format is longer than two bytes, so the last byte starts none.
  for (size_t pos = 0; pos + 1 < text.size(); ++pos) {
    unsigned kinds = kStarts.kinds[size_t{p[pos]} << 8 | p[pos + 1]];
    if (!kinds) continue;
    while (kinds) {
      const int k = std::countr_zero(kinds);
      kinds &= kinds - 1;
      size_t start = pos, n = 0;
      switch (k) {
        case kPrivateKey: n = PrivateKey(text, pos); break;
        case kAwsKeyId: n = AwsKeyId(text, pos); break;
        case kAwsSecretKey: n = AwsSecretKey(text, pos); break;
        case kGitHub: n = GitHub(text, pos); break;
        case kGitLab: n = GitLab(text, pos); break;
        case kSlack: n = Slack(text, pos); break;
        case kSlackWebhook: n = SlackWebhook(text, pos); break;
        case kGoogle: n = GoogleApiKey(text, pos); break;
        case kStripe: n = Stripe(text, pos); break;
        case kJwt: n = Jwt(text, pos); break;
        case kUrlPassword: n = UrlPassword(text, pos, start); break;
      }
      if (n && !on_hit(FormatHit{&kFormats[k], start, n})) return;
    }
  }
}

const Format* FirstFormat(std::string_view text) {
  unsigned found = 0;
  FindFormats(text, [&found](const FormatHit& h) {
    found |= 1u << (h.format - kFormats);
    return (found & 1u) == 0;  // nothing beats a private key
  });
  return found ? &kFormats[std::countr_zero(found)] : nullptr;
}

}  // namespace kiln::secret_rules
