// Everything `kiln build` was asked to do, gathered from the command line so
// the engine (builder.h) never sees CLI11.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kiln::builder {

enum class ProgressMode { kAuto, kTty, kPlain, kQuiet };
enum class LintMode { kError, kWarn, kOff };

struct OutputSpec {
  std::string type;  // "oci", "docker", "registry", "image"
  std::string dest;  // directory (oci), file (docker)
  std::string name;  // registry/image: reference to push to (else the -t tags)
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
  std::string platform;                // only the host platform is accepted
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
};

}  // namespace kiln::builder
