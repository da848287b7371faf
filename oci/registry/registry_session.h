// Internals shared by registry.cc, registry_pull.cc and registry_push.cc:
// one RegistrySession per registry host (scheme, TLS, auth), retry policy,
// registry error formatting, and the record of which repository a blob came
// from (for cross-repository mounts).
//
// On disk (owned by the registry client):
//   $KILN_ROOT/registry/sources/<algorithm>-<hex>   one "registry/repository"
//   per line: repositories known to hold the blob (appended after a pull or push).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "oci/registry/http_client.h"
#include "oci/registry/registry.h"
#include "oci/registry/registry_auth.h"
#include "oci/registry/retry_policy.h"

namespace kiln::oci {

// A registry answered with an unexpected status. The message is ready to show.
class RegistryHttpError : public Error {
 public:
  RegistryHttpError(const std::string& msg, long status,
                    std::optional<std::chrono::milliseconds> retry_after = std::nullopt)
      : Error(msg), status_(status), retry_after_(retry_after) {}
  long status() const { return status_; }
  // The response's Retry-After, if it had a valid one.
  std::optional<std::chrono::milliseconds> retry_after() const { return retry_after_; }

 private:
  long status_;
  std::optional<std::chrono::milliseconds> retry_after_;
};

// The Retry-After of `resp`, relative to now.
std::optional<std::chrono::milliseconds> RetryAfterOf(const HttpResponse& resp);

// "400 MANIFEST_INVALID: manifest invalid" from {"errors":[{"code","message"}]},
// else "503 Service Unavailable: <body excerpt>".
std::string DescribeFailure(const HttpResponse& resp);

class RegistrySession {
 public:
  // Credentials come from the auth files unless `explicit_creds` is given (Login).
  RegistrySession(const RegistryOptions& opts, const Reference& ref,
                  const std::optional<Credentials>& explicit_creds = std::nullopt);

  // Picks https (or http where allowed) and learns the auth challenge; once.
  void EnsurePinged();
  std::string Url(const std::string& path) const;          // base + "/v2/..."
  std::string Resolve(const std::string& location) const;  // absolute URL for a Location header
  // One request with the Authorization for `scopes`; a 401 is answered once by
  // re-authenticating (when the body can be replayed).
  HttpResponse Do(HttpRequest req, const std::vector<std::string>& scopes);
  // Throws RegistryHttpError("<what>: <status> CODE: message") unless resp.status is in `ok`.
  void Expect(const HttpResponse& resp, std::initializer_list<long> ok, const std::string& what) const;

  const RegistryOptions& opts() const { return opts_; }
  const std::string& registry() const { return registry_; }

 private:
  const RegistryOptions& opts_;
  std::string registry_;  // as written in references ("127.0.0.1:5000")
  std::string api_host_;
  bool loopback_;
  bool allow_http_;
  HttpClient http_;
  std::unique_ptr<Authenticator> auth_;
  std::mutex ping_mu_;
  bool pinged_ = false;
  std::string base_;  // "https://host:port"
};

struct RegistryClient::Impl {
  RegistryOptions opts;
  std::mutex mu;
  std::map<std::string, std::unique_ptr<RegistrySession>> sessions;
  RegistrySession& Session(const Reference& ref);
  void Progress(const std::string& line) const {
    if (opts.progress) opts.progress(line);
  }
};

// s.Expect(resp, ok, what), except that a registry's rejection of content
// that was verified here before sending (a 400 with a content error code or
// none, 416; 404 of an upload session when `session_url`) is taken for damage
// in transit and becomes a TransportError, so that WithRetries sends it
// again, at most kMaxContentRejections times per operation.
constexpr int kMaxContentRejections = 5;
void RejectedContentIsRetried(const RegistrySession& s, const HttpResponse& resp, std::initializer_list<long> ok,
                              const std::string& what, int& rejections, bool session_url = false);

// Per-process seed for the back-off jitter.
uint64_t RetrySeed();
// "gave up after 3 retries in 12.5s; retry time 60s (KILN_REGISTRY_RETRY_TIME)".
std::string GiveUpNote(const RetryPolicy& policy, std::chrono::milliseconds elapsed,
                       std::optional<std::chrono::milliseconds> retry_after, const RegistryOptions& opts);

// Runs f(attempt) and retries transport errors and retryable statuses as
// RetryPolicy (oci/retry_policy.h) allows: back-off with jitter or the
// registry's Retry-After, within opts.retry_time. When it gives up, the last
// error is rethrown (same type) saying how long it tried. `progress`, when
// given, counts bytes the operation has safely behind it: when a failed
// attempt still moved it forward, back-off and clock start again.
template <typename F>
auto WithRetries(const RegistryOptions& opts, const std::string& what, F&& f, const int64_t* progress = nullptr)
    -> decltype(f(0)) {
  RetryPolicy policy(opts.retry_time, opts.retries, RetrySeed());
  auto start = std::chrono::steady_clock::now();
  int64_t mark = progress ? *progress : 0;
  for (int attempt = 0;; ++attempt) {
    std::string why;
    long status = 0;
    std::optional<std::chrono::milliseconds> retry_after;
    try {
      return f(attempt);
    } catch (const TransportError& e) {
      why = e.what();
    } catch (const RegistryHttpError& e) {
      if (!IsRetryableStatus(e.status())) throw;
      why = e.what();
      status = e.status();
      retry_after = e.retry_after();
    }
    if (progress && *progress > mark) {
      policy.Progressed();
      start = std::chrono::steady_clock::now();
    }
    if (progress) mark = *progress;
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    const auto delay = policy.NextDelay(elapsed, retry_after);
    if (!delay) {
      std::string gave_up = why;
      if (attempt > 0 || retry_after) gave_up += " (" + GiveUpNote(policy, elapsed, retry_after, opts) + ")";
      if (status) throw RegistryHttpError(gave_up, status, retry_after);
      throw TransportError(gave_up);
    }
    if (opts.progress) {
      opts.progress("retry " + std::to_string(attempt + 1) + " of " + what + " in " + std::to_string(delay->count()) +
                    "ms" + (retry_after ? " (Retry-After)" : "") + ": " + why);
    }
    std::this_thread::sleep_for(*delay);
  }
}

// Runs fn(item) for every item on up to `threads` threads; the first
// exception stops new work and is rethrown once all threads have finished.
template <typename T, typename F>
void ParallelFor(int threads, const std::vector<T>& items, F&& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr error;
  auto worker = [&] {
    while (!failed) {
      size_t i = next++;
      if (i >= items.size()) return;
      try {
        fn(items[i]);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    size_t n = std::min(items.size(), static_cast<size_t>(std::max(threads, 1)));
    for (size_t i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
  }  // jthreads join here
  if (error) std::rethrow_exception(error);
}

// The blob-source record (see top of file).
void RecordBlobSource(const Store& store, const Digest& blob, const std::string& registry,
                      const std::string& repository);
std::vector<std::string> BlobSources(const Store& store, const Digest& blob);

inline const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

}  // namespace kiln::oci
