// RegistryClient basics: manifests by tag/digest, referrers, login/logout.
// Pull and push live in registry_pull.cc / registry_push.cc.
#include "oci/registry/registry.h"

#include <nlohmann/json.hpp>

#include "oci/registry/auth_file.h"
#include "oci/registry/registry_session.h"

namespace kiln::oci {
namespace {

// The spec lets registries refuse manifests above 4 MiB; we refuse to read more.
constexpr size_t kMaxManifestSize = 4 << 20;

std::string ManifestPath(const Reference& ref) {
  return "/v2/" + ref.repository + "/manifests/" + (ref.digest.empty() ? ref.tag : ref.digest);
}

std::string BareMediaType(std::string ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct;
}

// Content-Type is authoritative; when a registry sends a generic one, the
// document's own mediaType (or shape) decides.
std::string ManifestMediaType(const std::string& content_type, const std::string& body) {
  std::string ct = BareMediaType(content_type);
  if (!ct.empty() && ct != "application/json" && ct != "text/plain" && ct != "application/octet-stream") return ct;
  try {
    auto j = nlohmann::json::parse(body);
    if (j.contains("mediaType") && j["mediaType"].is_string()) return j["mediaType"];
    if (j.contains("manifests")) return media::kOciIndex;
  } catch (const nlohmann::json::exception&) {
    // Reported by the manifest parser with better context.
  }
  return media::kOciManifest;
}

void CheckDigest(const Digest& got, const std::string& expected, const std::string& what) {
  if (expected.empty()) return;
  Digest want = Digest::Parse(expected);
  if (want.algorithm != "sha256") throw Error(what + ": unsupported digest algorithm " + want.algorithm);
  if (got != want) throw Error(what + ": digest mismatch: registry sent " + got.str() + ", expected " + want.str());
}

}  // namespace

RegistryClient::RegistryClient(RegistryOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  if (impl_->opts.parallel < 1) impl_->opts.parallel = 1;
  if (impl_->opts.retries < 0) impl_->opts.retries = 0;
}

RegistryClient::~RegistryClient() = default;

std::optional<Descriptor> RegistryClient::HeadManifest(const Reference& ref, const std::string& actions) {
  RegistrySession& s = impl_->Session(ref);
  std::vector<std::string> scopes = {RepositoryScope(ref.repository, actions)};
  auto resp = WithRetries(impl_->opts, "HEAD manifest " + ref.str(), [&](int) {
    HttpRequest req;
    req.method = "HEAD";
    s.EnsurePinged();
    req.url = s.Url(ManifestPath(ref));
    req.headers.push_back(kManifestAccept);
    HttpResponse r = s.Do(req, scopes);
    if (r.status != 404) s.Expect(r, {200}, "HEAD manifest " + ref.str());
    return r;
  });
  if (resp.status == 404) return std::nullopt;
  std::string digest = resp.Header("docker-content-digest");
  std::string ct = BareMediaType(resp.Header("content-type"));
  if (digest.empty() || ct.empty() || ct == "application/json") {
    // Not enough in the headers: the body tells.
    Descriptor d;
    GetManifest(ref, &d);
    return d;
  }
  Descriptor d;
  d.digest = Digest::Parse(digest);
  CheckDigest(d.digest, ref.digest, "HEAD manifest " + ref.str());
  d.media_type = ct;
  d.size = std::atoll(resp.Header("content-length").c_str());
  return d;
}

std::string RegistryClient::GetManifest(const Reference& ref, Descriptor* desc_out, int64_t expected_size) {
  RegistrySession& s = impl_->Session(ref);
  const std::string what = "GET manifest " + ref.str();
  std::vector<std::string> scopes = {RepositoryScope(ref.repository, "pull")};
  auto resp = WithRetries(impl_->opts, what, [&](int) {
    HttpRequest req;
    s.EnsurePinged();
    req.url = s.Url(ManifestPath(ref));
    req.headers.push_back(kManifestAccept);
    HttpResponse r = s.Do(req, scopes);
    s.Expect(r, {200}, what);
    if (r.body.size() > kMaxManifestSize) {
      throw Error(what + ": manifest larger than " + std::to_string(kMaxManifestSize) + " bytes");
    }
    // A tag has no digest of its own; trust but verify the registry's claim.
    std::string want = ref.digest;
    if (want.empty()) {
      std::string claimed = r.Header("docker-content-digest");
      if (!claimed.empty() && Digest::Parse(claimed).algorithm == "sha256") want = claimed;
    }
    if (!want.empty() && Sha256Of(r.body).str() != want) {
      // A body cut short on the way (a Content-Length that lies, a dropped
      // connection) is worth another try; a whole body that is different is
      // not: it fails naming the manifest (CheckDigest below).
      bool cut_short = expected_size >= 0 ? static_cast<int64_t>(r.body.size()) < expected_size
                                          : !nlohmann::json::accept(r.body);
      if (cut_short) {
        throw TransportError(what + ": body cut short in transit (" + std::to_string(r.body.size()) +
                             " bytes that do not hash to " + want + ")");
      }
    }
    return r;
  });
  Digest got = Sha256Of(resp.body);
  CheckDigest(got, ref.digest, what);
  if (ref.digest.empty()) {
    std::string claimed = resp.Header("docker-content-digest");
    if (!claimed.empty() && Digest::Parse(claimed).algorithm == "sha256") CheckDigest(got, claimed, what);
  }
  if (desc_out) {
    desc_out->media_type = ManifestMediaType(resp.Header("content-type"), resp.body);
    desc_out->digest = got;
    desc_out->size = static_cast<int64_t>(resp.body.size());
  }
  return resp.body;
}

std::string RegistryClient::PutManifest(const Reference& ref, const std::string& body, const std::string& media_type) {
  RegistrySession& s = impl_->Session(ref);
  const std::string what = "PUT manifest " + ref.str();
  const Digest sent = Sha256Of(body);
  std::vector<std::string> scopes = {RepositoryScope(ref.repository, "pull,push")};
  int rejections = 0;
  std::string damaged;  // what the registry stored under the tag from a damaged body, until mended
  HttpResponse resp;
  try {
    resp = WithRetries(impl_->opts, what, [&](int) {
      HttpRequest req;
      req.method = "PUT";
      s.EnsurePinged();
      req.url = s.Url(ManifestPath(ref));
      req.body = body;
      req.headers.push_back("Content-Type: " + media_type);
      HttpResponse r = s.Do(req, scopes);
      RejectedContentIsRetried(s, r, {200, 201}, what, rejections);
      // The registry stored what it received: if that is not what was sent,
      // the tag now names a damaged manifest, and only sending it again mends that.
      std::string claimed = r.Header("docker-content-digest");
      if (!claimed.empty() && claimed != sent.str()) {
        damaged = claimed;
        throw TransportError(what + ": the registry stored " + claimed + " for a manifest sent as " + sent.str() +
                             " (damaged in transit); sending it again");
      }
      damaged.clear();
      return r;
    });
  } catch (const Error& e) {
    if (damaged.empty() || ref.tag.empty()) throw;
    // Not mended: take the damaged manifest (and so the tag) away rather
    // than leave the tag naming it. Nothing else can refer to it.
    std::string outcome;
    try {
      HttpResponse r = WithRetries(impl_->opts, "DELETE manifest " + damaged, [&](int) {
        HttpRequest req;
        req.method = "DELETE";
        req.url = s.Url("/v2/" + ref.repository + "/manifests/" + damaged);
        HttpResponse d = s.Do(req, {RepositoryScope(ref.repository, "pull,push,delete")});
        s.Expect(d, {202, 200, 404}, "DELETE manifest " + damaged);
        return d;
      });
      (void)r;
      outcome = "the damaged manifest " + damaged + " it stored under the tag was deleted";
    } catch (const Error& d) {
      outcome = "the tag still names the damaged manifest " + damaged + " (deleting it failed: " + d.what() +
                "); push again";
    }
    throw Error(std::string(e.what()) + "; " + outcome);
  }
  return resp.Header("oci-subject");
}

Index RegistryClient::Referrers(const Reference& repo, const Digest& subject) {
  RegistrySession& s = impl_->Session(repo);
  const std::string what = "GET referrers of " + subject.str() + " in " + repo.registry + "/" + repo.repository;
  std::vector<std::string> scopes = {RepositoryScope(repo.repository, "pull")};
  auto resp = WithRetries(impl_->opts, what, [&](int) {
    HttpRequest req;
    s.EnsurePinged();
    req.url = s.Url("/v2/" + repo.repository + "/referrers/" + subject.str());
    req.headers.push_back(std::string("Accept: ") + media::kOciIndex);
    HttpResponse r = s.Do(req, scopes);
    if (r.status != 404) s.Expect(r, {200}, what);
    return r;
  });
  if (resp.status == 200) return ParseIndex(resp.body);
  // No referrers API (distribution 2.8): the fallback tag schema "<alg>-<hex>".
  Reference tag = repo;
  tag.digest.clear();
  tag.tag = subject.algorithm + "-" + subject.hex;
  try {
    return ParseIndex(GetManifest(tag, nullptr));
  } catch (const RegistryHttpError& e) {
    if (e.status() == 404) return Index{};
    throw;
  }
}

namespace {

Reference RegistryOnly(const std::string& registry) {
  // A throwaway repository makes the registry parse like any reference.
  Reference r = Reference::Parse(registry + "/kiln-login/probe");
  if (r.registry != registry && !(registry == "index.docker.io" || registry == "registry-1.docker.io")) {
    throw Error("not a registry host: \"" + registry + "\"");
  }
  return r;
}

}  // namespace

void Login(const std::string& registry, const std::string& user, const std::string& password,
           const RegistryOptions& opts) {
  const std::string what = "login " + registry;
  if (user.empty()) throw Error(what + ": empty user name");
  Reference ref;
  try {
    ref = RegistryOnly(registry);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  Credentials creds{user, password, ""};
  RegistrySession s(opts, ref, creds);
  try {
    // With a bearer challenge this fetches a token with the credentials; with
    // basic it sends them. Either way a 200 proves they work.
    auto resp = WithRetries(opts, what, [&](int) {
      HttpRequest req;
      s.EnsurePinged();
      req.url = s.Url("/v2/");
      HttpResponse r = s.Do(req, {});
      s.Expect(r, {200}, "GET /v2/");
      return r;
    });
    (void)resp;
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  StoreCredentials(AuthFileForWrite(opts.auth_file), ref.registry, creds);
}

void Logout(const std::string& registry, const RegistryOptions& opts) {
  Reference ref;
  try {
    ref = RegistryOnly(registry);
  } catch (const Error& e) {
    throw Error("logout " + registry + ": " + e.what());
  }
  auto file = AuthFileForWrite(opts.auth_file);
  if (!RemoveCredentials(file, ref.registry)) {
    throw Error("logout " + registry + ": not logged in (no entry in " + file.string() + ")");
  }
}

}  // namespace kiln::oci
