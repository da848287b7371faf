// Build provenance: an in-toto Statement v1 (https://in-toto.io/Statement/v1)
// whose subject is the image manifest digest, with a SLSA Provenance v1
// predicate (https://slsa.dev/provenance/v1):
//   buildDefinition{buildType, externalParameters{dockerfile, build-args
//   (secret-looking ones dropped, their names listed), target, platforms},
//   internalParameters, resolvedDependencies[base images by digest, build
//   context, Dockerfile]},
//   runDetails{builder{id, version{kiln}}, metadata{invocationId, startedOn, finishedOn}}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "oci/digest.h"

namespace kiln::oci {

inline constexpr const char* kInTotoStatementType = "https://in-toto.io/Statement/v1";
inline constexpr const char* kSlsaProvenanceV1 = "https://slsa.dev/provenance/v1";
inline constexpr const char* kKilnBuildType = "https://kiln.invalid/buildtypes/dockerfile@v1";
inline constexpr const char* kInTotoMediaType = "application/vnd.in-toto+json";

struct ProvenanceInput {
  std::string image_name;                 // subject name, e.g. "localhost:5000/app:1"
  Digest image_manifest;                  // subject digest
  std::string dockerfile_path = "Dockerfile";
  Digest dockerfile_digest;
  std::map<std::string, std::string> build_args;
  std::string target;                     // stage, empty = last
  std::vector<std::string> platforms;     // "linux/amd64"
  struct Dependency {
    std::string uri;                      // "pkg:docker/debian@12?platform=linux%2Famd64", "file:///ctx"
    Digest digest;
    std::string name;                     // optional: the image as the Dockerfile names it
  };
  std::vector<Dependency> base_images;    // FROM images, resolved to digests
  std::string context_uri = "file:///context";
  Digest context_digest;                  // digest of the context files the build read (after .dockerignore)
  int64_t context_files = -1;             // how many (>= 0: recorded as an annotation)
  std::string builder_id = "https://kiln.invalid/builder/local";
  std::string kiln_version;
  std::string invocation_id;
  std::string started_on, finished_on;    // RFC 3339
  std::string isolation;                  // the RUN isolation level ("full", "relaxed", "chroot", "none")
};

// The statement as JSON (keys sorted, so the same input gives the same bytes).
std::string ProvenanceStatement(const ProvenanceInput& in);

// Build args whose name or value looks secret (secret_rules::IsSecretName,
// or a value in one of the secret_rules token formats).
bool IsSecretBuildArg(const std::string& name, const std::string& value);

}  // namespace kiln::oci
