#include "oci/registry/registry_auth.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "oci/text_util.h"

namespace kiln::oci {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

std::string ScopeKey(std::vector<std::string> scopes) {
  std::sort(scopes.begin(), scopes.end());
  std::string key;
  for (const auto& s : scopes) key += s + " ";
  return key;
}

// Short, single-line excerpt of a response body for messages.
std::string Excerpt(const std::string& body) {
  std::string s = body.substr(0, 200);
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::vector<AuthChallenge> ParseWwwAuthenticate(const std::vector<std::string>& values) {
  std::vector<AuthChallenge> out;
  for (const std::string& v : values) {
    size_t i = 0, n = v.size();
    auto skip_ws = [&] {
      while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    };
    while (true) {
      skip_ws();
      if (i >= n) break;
      size_t start = i;
      while (i < n && IsTokenChar(v[i])) i++;
      std::string word = v.substr(start, i - start);
      if (word.empty()) {
        i++;  // stray character: skip it rather than loop
        continue;
      }
      size_t j = i;
      while (j < n && v[j] == ' ') j++;
      if (j < n && v[j] == '=' && !out.empty()) {
        // key=value (or key="quoted \"value\"") of the current challenge.
        i = j + 1;
        while (i < n && v[i] == ' ') i++;
        std::string value;
        if (i < n && v[i] == '"') {
          i++;
          while (i < n && v[i] != '"') {
            if (v[i] == '\\' && i + 1 < n) i++;
            value += v[i++];
          }
          i++;  // closing quote
        } else {
          size_t vs = i;
          while (i < n && v[i] != ',' && v[i] != ' ') i++;
          value = v.substr(vs, i - vs);
        }
        out.back().params[AsciiLower(word)] = value;
      } else {
        out.push_back(AuthChallenge{AsciiLower(word), {}});
      }
    }
  }
  return out;
}

std::string RepositoryScope(const std::string& repository, const std::string& actions) {
  return "repository:" + repository + ":" + actions;
}

Authenticator::Authenticator(const HttpClient& http, std::string registry, std::optional<Credentials> creds,
                             std::string creds_source)
    : http_(http), registry_(std::move(registry)), creds_(std::move(creds)), creds_source_(std::move(creds_source)) {}

bool Authenticator::OnChallenge(const HttpResponse& resp) {
  auto challenges = ParseWwwAuthenticate(resp.Headers("www-authenticate"));
  std::lock_guard lock(mu_);
  // Prefer bearer: it scopes access; basic is the fallback.
  for (const char* scheme : {"bearer", "basic"}) {
    for (const auto& c : challenges) {
      if (c.scheme == scheme) {
        if (c.scheme == "bearer" && !c.params.count("realm")) {
          throw Error(registry_ + ": bearer challenge without realm: " + resp.Header("www-authenticate"));
        }
        challenge_ = c;
        return true;
      }
    }
  }
  return false;
}

std::string Authenticator::CredentialHint() const {
  if (!creds_) return "no credentials for " + registry_ + " are configured (kiln login " + registry_ + ")";
  return "credentials for " + registry_ + (creds_source_.empty() ? "" : " from " + creds_source_) + " were rejected";
}

std::string Authenticator::Header(const std::vector<std::string>& scopes) {
  std::unique_lock lock(mu_);
  if (!challenge_) return "";
  if (challenge_->scheme == "basic") {
    if (!creds_ || creds_->username.empty()) return "";
    return "Authorization: Basic " + Base64Encode(creds_->username + ":" + creds_->password);
  }
  std::string key = ScopeKey(scopes);
  auto it = tokens_.find(key);
  if (it != tokens_.end() && it->second.expires > std::chrono::steady_clock::now()) {
    return "Authorization: Bearer " + it->second.value;
  }
  // Fetch outside the lock would allow duplicate fetches; a registry round trip
  // under the lock only serialises the first request per scope set.
  Token t = FetchToken(scopes);
  tokens_[key] = t;
  return "Authorization: Bearer " + t.value;
}

void Authenticator::Invalidate(const std::vector<std::string>& scopes) {
  std::lock_guard lock(mu_);
  tokens_.erase(ScopeKey(scopes));
}

Authenticator::Token Authenticator::FetchToken(const std::vector<std::string>& scopes) {
  const auto& p = challenge_->params;
  const std::string realm = p.at("realm");
  std::string service = p.count("service") ? p.at("service") : "";
  HttpRequest req;
  req.url = realm;
  std::string query;
  auto add = [&](const std::string& k, const std::string& v) {
    query += (query.empty() ? "" : "&") + k + "=" + UrlEscape(v);
  };
  if (!service.empty()) add("service", service);
  for (const auto& s : scopes) add("scope", s);
  if (creds_ && !creds_->identity_token.empty()) {
    // OAuth2 refresh-token grant (docker's identity tokens).
    req.method = "POST";
    add("grant_type", "refresh_token");
    add("refresh_token", creds_->identity_token);
    add("client_id", "kiln");
    req.body = query;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    if (!query.empty()) req.url += (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (creds_ && !creds_->username.empty()) {
      req.headers.push_back("Authorization: Basic " + Base64Encode(creds_->username + ":" + creds_->password));
    }
  }
  HttpResponse resp = http_.Perform(req);
  if (resp.status == 401 || resp.status == 403) {
    throw Error("authenticate to " + registry_ + ": token server " + realm + ": " + std::to_string(resp.status) +
                ": " + CredentialHint());
  }
  if (resp.status != 200) {
    throw Error("authenticate to " + registry_ + ": token server " + realm + ": " + std::to_string(resp.status) +
                ": " + Excerpt(resp.body));
  }
  Token t;
  int64_t expires_in = 60;
  try {
    auto j = nlohmann::json::parse(resp.body);
    if (j.contains("token") && j["token"].is_string()) t.value = j["token"];
    if (t.value.empty() && j.contains("access_token") && j["access_token"].is_string()) t.value = j["access_token"];
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) expires_in = j["expires_in"];
  } catch (const nlohmann::json::exception& e) {
    throw Error("authenticate to " + registry_ + ": token server " + realm + ": bad JSON: " + e.what());
  }
  if (t.value.empty()) throw Error("authenticate to " + registry_ + ": token server " + realm + " returned no token");
  // Renew a little early so a token does not expire mid-request.
  t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(expires_in - 10, 5));
  return t;
}

void Authenticator::Verify() {
  std::unique_lock lock(mu_);
  if (!challenge_) return;  // the registry asks for nothing; any credentials "work"
  if (challenge_->scheme == "bearer") FetchToken({});
  // Basic is verified by the caller re-sending /v2/ with the header.
}

}  // namespace kiln::oci
