// When the registry client tries again, and how long it waits: the one place
// that decides (registry_session.h's WithRetries applies it).
//
// Retried: transport failures that can get better (connection refused or
// reset, timeouts, a body cut short), 408, 429 and 5xx other than 501/505.
// Not retried: DNS failures, TLS verification problems and every other 4xx;
// retrying those only delays the same answer.
//
// Waits grow exponentially with full jitter, so that many clients failing
// together do not come back together: retry n waits a random time in
// [ceiling/2, ceiling], ceiling = 200 ms * 2^n capped at 10 s. A Retry-After
// from the registry replaces that wait. No retry starts once the operation
// has gone the retry time without progress (RegistryOptions::retry_time;
// default 60 s, or $KILN_REGISTRY_RETRY_TIME), and a Retry-After beyond it
// fails at once. Progress (a transfer that resumes further on) restarts both
// the back-off and the clock, so that a large blob over a flaky link that
// keeps moving is not cut off.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace kiln::oci {

// 408, 429 and 5xx other than 501 Not Implemented / 505 Version Not Supported.
bool IsRetryableStatus(long status);

// A libcurl result (CURLcode) worth another attempt: connection refused,
// reset or cut short, timeouts. Not: DNS failures, TLS verification and
// certificate problems, bad URLs and protocols.
bool IsRetryableCurlCode(int curl_code);
// DNS failures (host or proxy does not resolve).
bool IsDnsFailure(int curl_code);

// A Retry-After value: delta-seconds ("1") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`; a past date is 0).
// nullopt when empty or malformed.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

// "90", "90s", "1500ms", "2m": a duration from the environment or a flag.
// Throws oci::Error naming `what` when malformed or negative.
std::chrono::milliseconds ParseRetryDuration(std::string_view text, const std::string& what);

// $KILN_REGISTRY_RETRY_TIME when set (throws if malformed), else 60 s.
std::chrono::milliseconds DefaultRetryTime();
// $KILN_REGISTRY_TIMEOUT when set (whole seconds, at least 1; throws if
// malformed), else 60 s: the connect timeout and the longest stall tolerated.
std::chrono::seconds DefaultStallTimeout();
// $KILN_REGISTRY_CHUNK_SIZE (bytes, at least 1024; throws if malformed), else 8 MiB.
int64_t DefaultChunkSize();

class RetryPolicy {
 public:
  static constexpr std::chrono::milliseconds kFirstCeiling{200};
  static constexpr std::chrono::milliseconds kMaxCeiling{10000};

  // `budget`: no retry starts later than this after the first attempt began.
  // `max_retries`: a further cap on the number of retries.
  RetryPolicy(std::chrono::milliseconds budget, int max_retries, uint64_t seed);

  // The upper bound of the wait before retry number `retry` (0 = the first).
  static std::chrono::milliseconds Ceiling(int retry);

  // The wait before the next retry, or nullopt when none may start: retries
  // used up, or the wait would end after the budget. `elapsed`: time since the
  // first attempt began. `retry_after`: what the registry asked for, if anything.
  std::optional<std::chrono::milliseconds> NextDelay(std::chrono::milliseconds elapsed,
                                                     std::optional<std::chrono::milliseconds> retry_after);
  // The operation moved forward (more bytes confirmed): the back-off starts
  // again from its first ceiling and the retry count from zero.
  void Progressed() { retries_ = 0; }
  int retries_done() const { return retries_; }

 private:
  std::chrono::milliseconds budget_;
  int max_retries_;
  int retries_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace kiln::oci
