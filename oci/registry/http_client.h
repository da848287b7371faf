// One HTTP exchange over a libcurl easy handle (RAII). No retries here: the
// registry layer decides what is retryable because only it knows how to
// rewind a streamed body (re-open a blob, restart a BlobWriter, query an
// upload's status).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "oci/error.h"

#include "oci/registry/libcurl.h"

namespace kiln::oci {

// Connection reset, timeout, DNS failure...: worth retrying.
class TransportError : public Error {
 public:
  using Error::Error;
};

struct TlsSettings {
  bool verify = true;
  std::string ca_pem;        // extra CAs (PEM) trusted in addition to the system bundle
  std::string client_cert;   // PEM file paths, both or neither
  std::string client_key;
};

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Request body: either `body` or a reader filling `buf` (returns bytes, 0 at end).
  std::string body;
  std::function<size_t(char* buf, size_t max)> body_reader;
  int64_t body_size = -1;  // required with body_reader
  // Streaming response sink (only for 2xx responses; others are collected in
  // HttpResponse::body so errors can be reported). Return false to abort.
  std::function<bool(const char* data, size_t size)> sink;
  // Called once before the first byte of a 2xx body goes to `sink`, with the
  // status and headers (a resumed download learns whether the server sent
  // 206 or the whole body). Throw to abort.
  std::function<void(long status, const HttpResponse& head)> on_body_start;
  bool follow_redirects = true;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string effective_url;
  std::string Header(const std::string& lower_name) const;  // first value or ""
  std::vector<std::string> Headers(const std::string& lower_name) const;
};

class HttpClient {
 public:
  // `timeout`: connect timeout, and the longest stall (no bytes moving)
  // tolerated mid-transfer; large blobs may take longer overall.
  HttpClient(TlsSettings tls, std::chrono::seconds timeout);
  HttpResponse Perform(const HttpRequest& req) const;  // throws TransportError

 private:
  CurlHold curl_;  // loaded while a client exists (oci/libcurl.h)
  TlsSettings tls_;
  std::chrono::seconds timeout_;
};

// Base64 (standard alphabet, padded) via OpenSSL.
std::string Base64Encode(std::string_view data);
std::string Base64Decode(std::string_view data);  // throws oci::Error
// Percent-encoding for query parameters.
// "libcurl 7.88.1" (loading it), or why it cannot be loaded; for `kiln version`.
std::string HttpLibraryVersion();

std::string UrlEscape(std::string_view s);

}  // namespace kiln::oci
