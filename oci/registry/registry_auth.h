// Registry authentication (distribution "token" spec and RFC 7235):
// a 401's WWW-Authenticate says Basic (send user:password on every request)
// or Bearer realm/service/scope (fetch a token from the realm, with basic
// credentials if we have any, for scopes like "repository:a/b:pull,push").
// Tokens are cached per scope set until they expire. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/registry/auth_file.h"
#include "oci/registry/http_client.h"

namespace kiln::oci {

struct AuthChallenge {
  std::string scheme;                         // lower-case: "basic", "bearer"
  std::map<std::string, std::string> params;  // keys lower-case
};

// Parses one or more challenges from WWW-Authenticate values.
std::vector<AuthChallenge> ParseWwwAuthenticate(const std::vector<std::string>& values);

// "repository:<name>:<actions>"; actions like "pull" or "pull,push".
std::string RepositoryScope(const std::string& repository, const std::string& actions);

class Authenticator {
 public:
  // `registry` is used in messages ("127.0.0.1:5000"); `creds_source` too
  // (the file they came from, or "" when there are none).
  Authenticator(const HttpClient& http, std::string registry, std::optional<Credentials> creds,
                std::string creds_source);

  // Records the challenge of a 401 (or the /v2/ ping). Returns false if it
  // holds nothing we can answer (no supported scheme).
  bool OnChallenge(const HttpResponse& resp);
  // The Authorization header ("Authorization: ...") for these scopes, or ""
  // when the registry asked for nothing. Fetches a token if needed.
  std::string Header(const std::vector<std::string>& scopes);
  // Forget the cached token for these scopes (after a 401 despite it).
  void Invalidate(const std::vector<std::string>& scopes);
  // Throws with a clear message if the credentials cannot be verified by the
  // challenge's realm; used by Login.
  void Verify();

  bool has_credentials() const { return creds_.has_value(); }
  // "credentials for X from F were rejected" / "no credentials for X are configured".
  std::string CredentialHint() const;

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  Token FetchToken(const std::vector<std::string>& scopes);

  const HttpClient& http_;
  std::string registry_;
  std::optional<Credentials> creds_;
  std::string creds_source_;
  std::mutex mu_;
  std::optional<AuthChallenge> challenge_;
  std::map<std::string, Token> tokens_;  // key: sorted scopes joined by ' '
};

}  // namespace kiln::oci
