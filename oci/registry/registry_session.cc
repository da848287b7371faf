#include "oci/registry/registry_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/registry/auth_file.h"
#include "sandbox/file_io.h"

namespace kiln::oci {
namespace fs = std::filesystem;

namespace {

// CA certificates (*.crt) and a client pair (*.cert + *.key) from
// <cert_dir>/<host:port>/, as docker and containers/image lay them out.
TlsSettings TlsFor(const RegistryOptions& opts, const std::string& registry) {
  TlsSettings tls;
  tls.verify = opts.tls_verify;
  for (const auto& dir : opts.cert_dirs) {
    fs::path d = fs::path(dir) / registry;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(d, ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (f.extension() == ".crt") {
        tls.ca_pem += sandbox::ReadFileToString(f) + "\n";
      } else if (f.extension() == ".cert" && tls.client_cert.empty()) {
        fs::path key = f;
        key.replace_extension(".key");
        if (!fs::exists(key)) throw Error("TLS client certificate " + f.string() + " has no matching " + key.string());
        tls.client_cert = f;
        tls.client_key = key;
      }
    }
  }
  return tls;
}

}  // namespace

std::string DescribeFailure(const HttpResponse& resp) {
  std::string out = std::to_string(resp.status);
  try {
    auto j = nlohmann::json::parse(resp.body);
    if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
      bool first = true;
      for (const auto& e : j["errors"]) {
        out += first ? " " : "; ";
        first = false;
        out += e.value("code", std::string("UNKNOWN"));
        std::string msg = e.value("message", std::string());
        if (!msg.empty()) out += ": " + msg;
        if (e.contains("detail") && !e["detail"].is_null()) {
          std::string detail = e["detail"].is_string() ? e["detail"].get<std::string>() : e["detail"].dump();
          if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
          out += " (" + detail + ")";
        }
      }
      return out;
    }
  } catch (const nlohmann::json::exception&) {
    // Not a registry error body; fall through to the raw excerpt.
  }
  std::string s = resp.body.substr(0, 200);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (!s.empty()) return out + ": " + s;
  // HEAD responses have no body: the reason phrase is all there is.
  switch (resp.status) {
    case 400: return out + " Bad Request";
    case 401: return out + " Unauthorized";
    case 403: return out + " Forbidden";
    case 404: return out + " Not Found";
    case 405: return out + " Method Not Allowed";
    case 429: return out + " Too Many Requests";
    case 500: return out + " Internal Server Error";
    case 502: return out + " Bad Gateway";
    case 503: return out + " Service Unavailable";
    case 504: return out + " Gateway Timeout";
    default: return out;
  }
}

RegistrySession::RegistrySession(const RegistryOptions& opts, const Reference& ref,
                                 const std::optional<Credentials>& explicit_creds)
    : opts_(opts),
      registry_(ref.registry),
      api_host_(ref.api_host()),
      loopback_(ref.is_localhost()),
      allow_http_(loopback_ || opts.insecure_http),
      http_(TlsFor(opts, ref.registry), opts.timeout) {
  std::optional<Credentials> creds = explicit_creds;
  std::string source = explicit_creds ? "the command line" : "";
  for (const auto& f : explicit_creds ? std::vector<fs::path>{} : AuthFileSearchPath(opts.auth_file)) {
    if ((creds = LookupCredentialsIn(f, ref.registry, ref.repository))) {
      source = f.string();
      break;
    }
  }
  auth_ = std::make_unique<Authenticator>(http_, registry_, std::move(creds), source);
}

void RegistrySession::EnsurePinged() {
  std::lock_guard lock(ping_mu_);
  if (pinged_) return;
  // A loopback registry is asked in plain HTTP first: that is what a test or
  // CI registry speaks, and a TLS handshake that is bound to fail costs more
  // than a whole re-push (OpenSSL set-up). A TLS port answers the plain
  // request with 400, and HTTPS is tried next. Elsewhere HTTPS comes first.
  std::vector<std::string> schemes = {"https"};
  if (loopback_) schemes.insert(schemes.begin(), "http");
  else if (allow_http_) schemes.push_back("http");
  std::string failures;
  for (size_t i = 0; i < schemes.size(); ++i) {
    std::string base = schemes[i] + "://" + api_host_;
    // When plain HTTP is the fallback, a failed TLS handshake is expected: no retries for it.
    RegistryOptions once = opts_;
    if (i + 1 < schemes.size() && schemes[i] == "https") once.retries = 0;
    HttpResponse resp;
    try {
      resp = WithRetries(once, "ping " + base, [&](int) {
        HttpRequest req;
        req.url = base + "/v2/";
        HttpResponse r = http_.Perform(req);
        if (IsRetryableStatus(r.status)) {
          throw RegistryHttpError("GET " + req.url + ": " + DescribeFailure(r), r.status, RetryAfterOf(r));
        }
        return r;
      });
    } catch (const TransportError& e) {
      failures += (failures.empty() ? "" : "; ") + std::string(e.what());
      // A TLS port answers plain HTTP with 400 (below): a loopback port that
      // gave no answer at all, after retries, will not give one over TLS.
      if (schemes[i] == "http" && loopback_) break;
      continue;
    }
    if (resp.status != 200 && resp.status != 401 && i + 1 < schemes.size()) {
      failures += (failures.empty() ? "" : "; ") + ("GET " + base + "/v2/: " + DescribeFailure(resp));
      continue;
    }
    if (resp.status == 401) {
      if (!auth_->OnChallenge(resp)) {
        throw Error("registry " + registry_ + ": unsupported authentication scheme: " + resp.Header("www-authenticate"));
      }
    } else if (resp.status != 200) {
      throw RegistryHttpError("registry " + registry_ + ": GET " + base + "/v2/: " + DescribeFailure(resp) +
                                  " (not an OCI distribution registry?)",
                              resp.status);
    }
    base_ = base;
    pinged_ = true;
    return;
  }
  throw TransportError("registry " + registry_ + " unreachable: " + failures);
}

std::string RegistrySession::Url(const std::string& path) const { return base_ + path; }

std::string RegistrySession::Resolve(const std::string& location) const {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  if (location.starts_with("/")) return base_ + location;
  return base_ + "/" + location;
}

HttpResponse RegistrySession::Do(HttpRequest req, const std::vector<std::string>& scopes) {
  EnsurePinged();
  const size_t n_headers = req.headers.size();
  if (auto h = auth_->Header(scopes); !h.empty()) req.headers.push_back(h);
  HttpResponse resp = http_.Perform(req);
  if (resp.status == 401 && !req.body_reader && auth_->OnChallenge(resp)) {
    // Token expired or lacked a scope: fetch a fresh one and replay once.
    auth_->Invalidate(scopes);
    req.headers.resize(n_headers);
    if (auto h = auth_->Header(scopes); !h.empty()) req.headers.push_back(h);
    resp = http_.Perform(req);
  }
  return resp;
}

void RegistrySession::Expect(const HttpResponse& resp, std::initializer_list<long> ok, const std::string& what) const {
  for (long s : ok) {
    if (resp.status == s) return;
  }
  std::string msg = what + ": " + DescribeFailure(resp);
  if (resp.status == 401 || resp.status == 403) msg += " (" + auth_->CredentialHint() + ")";
  throw RegistryHttpError(msg, resp.status, RetryAfterOf(resp));
}

namespace {

// A 400 whose registry error codes are all about something other than the
// bytes received (MANIFEST_BLOB_UNKNOWN, NAME_INVALID, ...): sending the same
// again would get the same answer. A 400 without codes (a gateway's) or with
// one that says the content was bad may be damage in transit.
bool NamesOnlyOtherErrors(const HttpResponse& resp) {
  static const char* const kContentCodes[] = {"DIGEST_INVALID", "MANIFEST_INVALID", "BLOB_UPLOAD_INVALID",
                                              "SIZE_INVALID", "MANIFEST_UNVERIFIED"};
  try {
    auto j = nlohmann::json::parse(resp.body);
    if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) return false;
    for (const auto& e : j["errors"]) {
      const std::string code = e.is_object() ? e.value("code", std::string()) : std::string();
      for (const char* c : kContentCodes)
        if (code == c) return false;
    }
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

void RejectedContentIsRetried(const RegistrySession& s, const HttpResponse& resp, std::initializer_list<long> ok,
                              const std::string& what, int& rejections, bool session_url) {
  try {
    s.Expect(resp, ok, what);
  } catch (const RegistryHttpError& e) {
    const bool content = (e.status() == 400 && !NamesOnlyOtherErrors(resp)) || e.status() == 416 ||
                         (session_url && e.status() == 404);
    if (!content || rejections >= kMaxContentRejections) throw;
    ++rejections;
    throw TransportError(std::string(e.what()) + " (rejection " + std::to_string(rejections) +
                         " of what was sent intact: damaged in transit?)");
  }
}

std::optional<std::chrono::milliseconds> RetryAfterOf(const HttpResponse& resp) {
  return ParseRetryAfter(resp.Header("retry-after"), std::chrono::system_clock::now());
}

uint64_t RetrySeed() {
  static std::atomic<uint64_t> next{std::random_device{}()};
  return next++;
}

std::string GiveUpNote(const RetryPolicy& policy, std::chrono::milliseconds elapsed,
                       std::optional<std::chrono::milliseconds> retry_after, const RegistryOptions& opts) {
  auto secs = [](std::chrono::milliseconds ms) {
    std::string s = std::to_string(ms.count() / 1000);
    if (ms.count() % 1000) s += "." + std::to_string(ms.count() % 1000 / 100);
    return s + "s";
  };
  std::string note = "gave up after " + std::to_string(policy.retries_done()) + " retr" +
                     (policy.retries_done() == 1 ? "y" : "ies") + " in " + secs(elapsed) + " without progress";
  if (retry_after) note += "; the registry asked to wait " + secs(*retry_after);
  return note + "; retry time " + secs(opts.retry_time) + ", set with KILN_REGISTRY_RETRY_TIME";
}

RegistrySession& RegistryClient::Impl::Session(const Reference& ref) {
  std::lock_guard lock(mu);
  auto& s = sessions[ref.registry];
  if (!s) s = std::make_unique<RegistrySession>(opts, ref);
  return *s;
}

void RecordBlobSource(const Store& store, const Digest& blob, const std::string& registry,
                      const std::string& repository) {
  fs::path dir = store.Path("registry/sources");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("record blob source: mkdir " + dir.string() + ": " + ec.message());
  std::string line = registry + "/" + repository;
  for (const auto& known : BlobSources(store, blob)) {
    if (known == line) return;
  }
  fs::path file = dir / (blob.algorithm + "-" + blob.hex);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) ThrowErrno("record blob source: open " + file.string());
  line += "\n";
  // One short O_APPEND write: concurrent recorders never interleave within a line.
  ssize_t n = ::write(fd, line.data(), line.size());
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (n != static_cast<ssize_t>(line.size())) ThrowErrno("record blob source: write " + file.string());
}

std::vector<std::string> BlobSources(const Store& store, const Digest& blob) {
  std::ifstream in(store.Path("registry/sources") / (blob.algorithm + "-" + blob.hex));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace kiln::oci
