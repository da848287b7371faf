// The build cache shared through a registry (--cache-to / --cache-from
// type=registry,ref=R), so CI runners that share nothing but a registry
// share a cache.
//
// In the registry the cache is one OCI artifact manifest at R:
//   artifactType  application/vnd.kiln.build-cache.v1
//   config        application/vnd.kiln.build-cache.config.v1+json:
//                   {"v":1,"entries":{"<step-key-hex>":<step cache entry>,...}}
//                 where an entry is exactly a StepCache file (step_cache.h)
//   layers        every layer blob any entry references (deduplicated)
// Importing pulls it (only missing blobs are downloaded) and writes the
// entries the local cache lacks; a step whose key is there is then a hit and
// runs nothing.
#pragma once

#include <string>
#include <vector>

#include "builder/step_cache.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"

namespace kiln::builder {

inline constexpr const char* kCacheArtifactType = "application/vnd.kiln.build-cache.v1";
inline constexpr const char* kCacheConfigType = "application/vnd.kiln.build-cache.config.v1+json";

// "type=registry,ref=R" (or buildx's bare "R") -> R. Throws builder::Error
// for other types.
std::string ParseRegistryCacheSpec(const std::string& spec);

struct CacheTransfer {
  int entries = 0;   // entries exported, or imported that were new locally
  int layers = 0;    // layer blobs referenced
};

// Pulls the cache artifact at `ref` into the local step cache. A missing
// artifact (first build) is not an error: returns zero entries.
CacheTransfer ImportRegistryCache(oci::Store& store, const StepCache& cache,
                                  oci::RegistryClient& client, const std::string& ref);

// Pushes the entries named by `keys` (those this build looked up or wrote).
CacheTransfer ExportRegistryCache(const oci::Store& store, const StepCache& cache,
                                  oci::RegistryClient& client, const std::string& ref,
                                  const std::vector<oci::Digest>& keys);

}  // namespace kiln::builder
