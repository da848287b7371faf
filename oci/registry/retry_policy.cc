#include "oci/registry/retry_policy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <ctime>

#include <curl/curl.h>

#include "oci/error.h"

namespace kiln::oci {
namespace {

using std::chrono::milliseconds;

std::string_view RetryTextTrim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// All of `s` as a non-negative decimal number, or nullopt.
std::optional<int64_t> RetryTextDecimal(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

bool IsRetryableStatus(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

bool IsDnsFailure(int curl_code) {
  return curl_code == CURLE_COULDNT_RESOLVE_HOST || curl_code == CURLE_COULDNT_RESOLVE_PROXY;
}

bool IsRetryableCurlCode(int curl_code) {
  switch (curl_code) {
    case CURLE_OK:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
      return false;
    default:
      return true;
  }
}

std::optional<milliseconds> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now) {
  value = RetryTextTrim(value);
  if (value.empty()) return std::nullopt;
  if (auto secs = RetryTextDecimal(value)) return milliseconds(*secs * 1000);
  // IMF-fixdate, the only date form senders may generate (RFC 9110 5.6.7).
  std::tm tm{};
  std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  const std::time_t at = ::timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  const auto delta = std::chrono::system_clock::from_time_t(at) - now;
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(delta));
}

milliseconds ParseRetryDuration(std::string_view text, const std::string& what) {
  std::string_view s = RetryTextTrim(text);
  int64_t scale = 1000;  // bare number: seconds
  if (s.ends_with("ms")) {
    scale = 1;
    s.remove_suffix(2);
  } else if (s.ends_with("s")) {
    s.remove_suffix(1);
  } else if (s.ends_with("m")) {
    scale = 60000;
    s.remove_suffix(1);
  }
  auto v = RetryTextDecimal(s);
  if (!v) {
    throw Error(what + ": \"" + std::string(text) +
                "\" is not a duration (a whole number of seconds, or with a unit: 1500ms, 90s, 2m)");
  }
  return milliseconds(*v * scale);
}

milliseconds DefaultRetryTime() {
  const char* v = std::getenv("KILN_REGISTRY_RETRY_TIME");
  if (!v || !*v) return milliseconds(60000);
  return ParseRetryDuration(v, "KILN_REGISTRY_RETRY_TIME");
}

std::chrono::seconds DefaultStallTimeout() {
  const char* v = std::getenv("KILN_REGISTRY_TIMEOUT");
  if (!v || !*v) return std::chrono::seconds(60);
  const milliseconds ms = ParseRetryDuration(v, "KILN_REGISTRY_TIMEOUT");
  // libcurl counts these in whole seconds, and 0 would mean "no limit".
  if (ms < milliseconds(1000) || ms.count() % 1000 != 0) {
    throw Error("KILN_REGISTRY_TIMEOUT: \"" + std::string(v) + "\" must be a whole number of seconds, at least 1");
  }
  return std::chrono::duration_cast<std::chrono::seconds>(ms);
}

int64_t DefaultChunkSize() {
  const char* v = std::getenv("KILN_REGISTRY_CHUNK_SIZE");
  if (!v || !*v) return int64_t{8} << 20;
  auto n = RetryTextDecimal(RetryTextTrim(v));
  if (!n || *n < 1024) {
    throw Error("KILN_REGISTRY_CHUNK_SIZE: \"" + std::string(v) + "\" is not a size in bytes of at least 1024");
  }
  return *n;
}

RetryPolicy::RetryPolicy(milliseconds budget, int max_retries, uint64_t seed)
    : budget_(budget), max_retries_(max_retries), rng_(seed) {}

milliseconds RetryPolicy::Ceiling(int retry) {
  const int shift = std::clamp(retry, 0, 16);
  return std::min(kMaxCeiling, kFirstCeiling * (int64_t{1} << shift));
}

std::optional<milliseconds> RetryPolicy::NextDelay(milliseconds elapsed, std::optional<milliseconds> retry_after) {
  if (retries_ >= max_retries_) return std::nullopt;
  milliseconds delay;
  if (retry_after) {
    delay = *retry_after;
  } else {
    const milliseconds ceiling = Ceiling(retries_);
    std::uniform_int_distribution<int64_t> pick(ceiling.count() / 2, ceiling.count());
    delay = milliseconds(pick(rng_));
  }
  if (elapsed + delay > budget_) return std::nullopt;
  ++retries_;
  return delay;
}

}  // namespace kiln::oci
