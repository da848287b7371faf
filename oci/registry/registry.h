// OCI distribution-spec client over libcurl: ping, auth (anonymous, basic,
// bearer from WWW-Authenticate), pull, push, referrers.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/reference.h"
#include "oci/store/store.h"
#include "oci/registry/retry_policy.h"

namespace kiln::oci {

struct RegistryOptions {
  bool tls_verify = true;
  bool insecure_http = false;          // allow plain HTTP to non-localhost
  std::string auth_file;               // overrides the default search
  std::vector<std::string> cert_dirs = {"/etc/containers/certs.d", "/etc/docker/certs.d"};
  // Connect timeout and the longest stall tolerated ($KILN_REGISTRY_TIMEOUT).
  std::chrono::seconds timeout = DefaultStallTimeout();
  // How long an operation (one request, one blob transfer) keeps retrying
  // ($KILN_REGISTRY_RETRY_TIME), and at most how many retries (oci/retry_policy.h).
  std::chrono::milliseconds retry_time = DefaultRetryTime();
  int retries = 1000;
  int parallel = 4;                    // concurrent blob transfers
  // Blobs up to this size go up in one POST+PUT; larger ones in PATCH chunks
  // of this size ($KILN_REGISTRY_CHUNK_SIZE, bytes: for registries behind a
  // proxy that limits request bodies).
  int64_t chunk_size = DefaultChunkSize();
  std::function<void(const std::string&)> progress;  // one line per event

  // The CLI's --insecure: plain HTTP to any host, TLS without verification.
  RegistryOptions& AllowInsecure(bool insecure) {
    insecure_http = insecure;
    tls_verify = !insecure;
    return *this;
  }
};

struct TransferStats {
  int blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0, blobs_downloaded = 0;
  int64_t bytes = 0;
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions opts = {});
  ~RegistryClient();

  // Fetches the image (manifest, config, layers) into the store and returns
  // the image manifest descriptor (an index is resolved to `platform`).
  Descriptor Pull(const Reference& ref, Store& store, const Platform& platform,
                  TransferStats* stats = nullptr);
  // Every platform: an index (or manifest list) with each manifest it lists
  // (attestation entries too) and their blobs, then the index itself; an
  // image manifest as Pull does. Returns the top-level descriptor (what
  // `kiln pull --all-platforms` tags, as `skopeo copy --all`).
  Descriptor PullAllPlatforms(const Reference& ref, Store& store, TransferStats* stats = nullptr);
  // The image manifest `ref` names (an index resolved to `platform`),
  // without fetching any blob: the subject for referrers and signatures.
  Descriptor ResolveManifest(const Reference& ref, const Platform& platform);
  // Pushes a manifest and everything it references; tags by ref.tag.
  // Returns the pushed manifest's digest.
  Digest Push(const Store& store, const Descriptor& manifest, const Reference& ref,
              TransferStats* stats = nullptr);

  // Lower level, used by cache export and referrers.
  // `actions` is the token scope to ask for ("pull", or "pull,push" when a
  // push follows, so that one token serves both).
  std::optional<Descriptor> HeadManifest(const Reference& ref, const std::string& actions = "pull");
  // `expected_size`, when known (from the descriptor that names it), tells a
  // body cut short in transit (retried) from a wrong one (an error).
  std::string GetManifest(const Reference& ref, Descriptor* desc_out, int64_t expected_size = -1);
  // Returns the OCI-Subject response header: a registry with the referrers
  // API sets it when it indexed the manifest's subject (empty otherwise).
  std::string PutManifest(const Reference& ref, const std::string& body, const std::string& media_type);
  void PushBlob(const Store& store, const Reference& repo, const Descriptor& blob, TransferStats* stats);
  // Referrers API, falling back to the sha256-<hex> tag schema.
  Index Referrers(const Reference& repo, const Digest& subject);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `kiln login` / `kiln logout`: writes ${XDG_RUNTIME_DIR}/containers/auth.json
// (or $REGISTRY_AUTH_FILE).
void Login(const std::string& registry, const std::string& user, const std::string& password,
           const RegistryOptions& opts);
void Logout(const std::string& registry, const RegistryOptions& opts);

}  // namespace kiln::oci
