#include "oci/registry/http_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include "oci/registry/libcurl.h"
#include "oci/registry/retry_policy.h"
#include "oci/text_util.h"

namespace kiln::oci {
namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";

struct CurlDeleter {
  void operator()(CURL* c) const { Curl().easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { Curl().slist_free_all(l); }
};

// State shared with the C callbacks; exceptions are parked here because they
// must not unwind through libcurl.
struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  long current_status = 0;
  bool body_started = false;  // of the current response
  size_t body_offset = 0;  // into req->body
  std::exception_ptr error;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.starts_with("HTTP/")) {
    // A new response (redirect hop or 100 Continue): forget the previous headers.
    t->resp->headers.clear();
    t->body_started = false;
    auto sp = line.find(' ');
    t->current_status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string value = line.substr(colon + 1);
  auto b = value.find_first_not_of(" \t");
  value = b == std::string::npos ? "" : value.substr(b);
  t->resp->headers.emplace(AsciiLower(line.substr(0, colon)), value);
  return size * n;
}

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->req->sink && t->current_status >= 200 && t->current_status < 300) {
    try {
      if (!t->body_started) {
        t->body_started = true;
        if (t->req->on_body_start) t->req->on_body_start(t->current_status, *t->resp);
      }
      if (!t->req->sink(data, len)) return 0;
    } catch (...) {
      t->error = std::current_exception();
      return 0;
    }
    return len;
  }
  // Error bodies are short JSON; cap them so a misbehaving server cannot fill memory.
  if (t->resp->body.size() < (1 << 20)) t->resp->body.append(data, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t max = size * n;
  if (t->req->body_reader) {
    try {
      return t->req->body_reader(buf, max);
    } catch (...) {
      t->error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  size_t left = t->req->body.size() - t->body_offset;
  size_t k = std::min(left, max);
  std::memcpy(buf, t->req->body.data() + t->body_offset, k);
  t->body_offset += k;
  return k;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (t->req->body_reader || origin != SEEK_SET || offset < 0 ||
      static_cast<size_t>(offset) > t->req->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->body_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::string ReadFileOrEmpty(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::vector<std::string> HttpResponse::Headers(const std::string& lower_name) const {
  std::vector<std::string> out;
  auto [b, e] = headers.equal_range(lower_name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

HttpClient::HttpClient(TlsSettings tls, std::chrono::seconds timeout)
    : tls_(std::move(tls)), timeout_(timeout) {
  if (!tls_.ca_pem.empty()) {
    // certs.d CAs add to the system trust rather than replace it (as containers/image does).
    tls_.ca_pem = ReadFileOrEmpty(kSystemBundle) + "\n" + tls_.ca_pem;
  }
}

HttpResponse HttpClient::Perform(const HttpRequest& req) const {
  std::unique_ptr<CURL, CurlDeleter> curl(Curl().easy_init());
  if (!curl) throw Error("curl_easy_init failed");
  CURL* c = curl.get();
  HttpResponse resp;
  Transfer t{&req, &resp, 0, false, 0, nullptr};
  char errbuf[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& h) {
    curl_slist* l = Curl().slist_append(headers.get(), h.c_str());
    if (!l) throw Error("curl_slist_append failed");
    headers.release();
    headers.reset(l);
  };
  for (const auto& h : req.headers) add_header(h);

  Curl().easy_setopt(c, CURLOPT_URL, req.url.c_str());
  Curl().easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  Curl().easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  Curl().easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  Curl().easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  Curl().easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  Curl().easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  Curl().easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout_.count()));
  Curl().easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  Curl().easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(timeout_.count()));
  Curl().easy_setopt(c, CURLOPT_USERAGENT, "kiln/0.1");
  Curl().easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  Curl().easy_setopt(c, CURLOPT_HEADERDATA, &t);
  Curl().easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  Curl().easy_setopt(c, CURLOPT_WRITEDATA, &t);
  Curl().easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls_.verify ? 1L : 0L);
  Curl().easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls_.verify ? 2L : 0L);
  curl_blob ca_blob{};
  if (!tls_.ca_pem.empty()) {
    ca_blob.data = const_cast<char*>(tls_.ca_pem.data());
    ca_blob.len = tls_.ca_pem.size();
    ca_blob.flags = CURL_BLOB_NOCOPY;
    Curl().easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca_blob);
  }
  if (!tls_.client_cert.empty()) {
    Curl().easy_setopt(c, CURLOPT_SSLCERT, tls_.client_cert.c_str());
    Curl().easy_setopt(c, CURLOPT_SSLKEY, tls_.client_key.c_str());
  }

  bool has_body = !req.body.empty() || req.body_reader || req.method == "PUT" ||
                  req.method == "POST" || req.method == "PATCH";
  if (req.method == "HEAD") {
    Curl().easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    curl_off_t size = req.body_reader ? req.body_size : static_cast<curl_off_t>(req.body.size());
    if (size < 0) throw Error(req.method + " " + req.url + ": body_reader without body_size");
    Curl().easy_setopt(c, CURLOPT_UPLOAD, 1L);
    Curl().easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size);
    Curl().easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    Curl().easy_setopt(c, CURLOPT_READDATA, &t);
    Curl().easy_setopt(c, CURLOPT_SEEKFUNCTION, OnSeek);
    Curl().easy_setopt(c, CURLOPT_SEEKDATA, &t);
    if (req.method != "PUT") Curl().easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    // No 100-continue round trip: registries answer uploads directly.
    add_header("Expect:");
  } else if (req.method != "GET") {
    Curl().easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  Curl().easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = Curl().easy_perform(c);
  if (t.error) std::rethrow_exception(t.error);
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? errbuf : Curl().easy_strerror(rc);
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    std::string msg = req.method + " " + req.url + ": " + detail;
    if (rc == CURLE_OPERATION_TIMEDOUT) msg += " (timeout " + std::to_string(timeout_.count()) + "s)";
    // A name that does not resolve, or a certificate that does not verify,
    // will not fix itself within a retry: fail at once (oci/retry_policy.h).
    if (IsDnsFailure(rc)) throw Error(msg + " (DNS lookup failed; check the registry host name)");
    if (!IsRetryableCurlCode(rc)) throw Error(msg);
    throw TransportError(msg);
  }
  Curl().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  Curl().easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.effective_url = eff;
  return resp;
}

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64Decode(std::string_view data) {
  std::string in(data);
  while (!in.empty() && std::isspace(static_cast<unsigned char>(in.back()))) in.pop_back();
  if (in.size() % 4 != 0) throw Error("base64: length " + std::to_string(in.size()) + " not a multiple of 4");
  std::string out(3 * in.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) throw Error("base64: malformed input");
  // EVP_DecodeBlock keeps the bytes that padding stands for; drop them.
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad++;
  if (in.size() > 1 && in[in.size() - 2] == '=') pad++;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string HttpLibraryVersion() {
  try {
    CurlHold hold;
    return std::string("libcurl ") + Curl().version_info(CURLVERSION_NOW)->version;
  } catch (const Error& e) {
    return e.what();
  }
}

std::string UrlEscape(std::string_view s) {
  CurlHold hold;
  char* e = Curl().easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (!e) throw Error("curl_easy_escape failed");
  std::string out(e);
  Curl().free(e);
  return out;
}

}  // namespace kiln::oci
