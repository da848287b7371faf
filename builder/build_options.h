// Everything `kiln build` was asked to do, gathered from the command line so
// the engine (builder.h) never sees CLI11.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "oci/platform.h"

namespace kiln::builder {

enum class ProgressMode { kAuto, kTty, kPlain, kQuiet };
enum class LintMode { kError, kWarn, kOff };

struct OutputSpec {
  std::string type;                // "oci", "docker", "tar", "local", "image" (type=registry: image + push)
  std::string dest;                // file or directory; "-" = stdout (a tar)
  std::vector<std::string> names;  // image/docker/oci: references (else the -t tags)
  bool push = false;               // image: push the names to their registries
  bool tar = false;                // oci: a tar archive instead of a layout directory
};

struct SshSpec {
  std::string id = "default";
  std::vector<std::string> paths;  // agent socket or key files; empty = $SSH_AUTH_SOCK
};

struct UlimitSpec {
  int resource = 0;                // RLIMIT_*
  uint64_t soft = 0, hard = 0;     // RLIM_INFINITY for unlimited
};

struct SecretSpec {
  std::string id;
  std::string src;  // file on the host
  std::string env;  // or: value taken from this environment variable
};

struct BuildOptions {
  std::string context_dir = ".";
  std::string dockerfile;              // "" = <context>/Dockerfile (or Containerfile); "-" = stdin
  std::vector<std::string> tags;       // -t
  std::map<std::string, std::string> build_args;
  std::string target;
  std::vector<OutputSpec> outputs;
  bool push = false;
  std::string iidfile, metadata_file;
  std::vector<oci::Platform> platforms;  // --platform list; empty = the host (with 2+: an index)
  bool no_cache = false;
  std::set<std::string> no_cache_filter;  // stage names/indexes always rebuilt
  bool pull = false;                   // always pull named bases
  int jobs = 2;                        // stages built side by side
  ProgressMode progress = ProgressMode::kAuto;
  LintMode lint = LintMode::kError;
  // Reproducibility: nullopt = "--timestamp now" (keep real times).
  std::optional<int64_t> source_date_epoch = 0;
  std::vector<SecretSpec> secrets;
  std::string network;                 // default network for RUN: "" / "host" / "none"
  bool insecure_registry = false;      // plain HTTP/unverified TLS to non-localhost registries
  std::vector<std::string> registry_mirrors;  // --registry-mirror [REGISTRY=]URL, beside registries.conf's
  std::string compression = "gzip";    // gzip | zstd | none
  std::string format = "oci";          // oci | docker (Docker schema 2 manifest)
  // Post-build supply-chain step (builder/finalize.h).
  bool strip_setuid = true;            // --strip=off disables
  std::vector<std::string> keep_setuid;  // --keep-setuid PATH
  bool strip_shells = false;           // --strip-shells
  bool secret_scan = true;             // --secret-scan=off disables
  std::vector<std::string> allow_secrets;  // --allow-secret PATH|RULE
  bool sbom = false;                   // --sbom: SBOMs + provenance as referrers
  std::vector<std::string> cache_from, cache_to;  // "type=registry,ref=R" (registry_cache.h)
  // docker buildx / buildah flags (builder/cmd/build_flags_compat.h).
  std::map<std::string, std::string> labels;               // --label: image config labels
  std::map<std::string, std::string> manifest_annotations; // --annotation [manifest:]K=V
  std::map<std::string, std::string> index_annotations;    // --annotation index:K=V (OCI layout index.json)
  std::vector<std::string> add_hosts;                      // --add-host: "NAME IP" lines for RUN's /etc/hosts
  std::map<std::string, std::string> build_contexts;       // --build-context NAME=dir|docker-image://|oci-layout://
  std::vector<SshSpec> ssh;                                // --ssh: agents for RUN --mount=type=ssh
  std::vector<UlimitSpec> ulimits;                         // --ulimit for RUN
  uint64_t shm_size = 0;                                   // --shm-size for RUN's /dev/shm (0 = 64 MiB)
  bool check_only = false;                                 // --check / --call=check: lint, build nothing
  bool squash = false;                                     // --squash: one layer for the whole image
  std::string sign_key;                                    // --sign-by: cosign key file (oci/supply_chain.h)
};

}  // namespace kiln::builder
