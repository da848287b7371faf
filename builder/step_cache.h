// The content-addressed build cache.
//
// A step's key is a SHA-256 over delimited fields (in the spirit of ccache's
// hash delimiters, so "ab"+"c" never collides with "a"+"bc"):
//   "kiln-step-cache\0" + format version, then for every field
//   "\0F\0" + label + "\0" + decimal length + "\0" + value.
// The fields a step adds are: the parent state digest, the expanded
// instruction, and its inputs (context file digests, --from stage states,
// the RUN environment, the layer timestamp policy). Secrets and cache mounts
// are never fields: their content must not change (or leak into) the key.
//
// On disk, under $KILN_ROOT/cache/steps/:
//   <key-hex>.json   {"v":1,"created_by":"...","config":<image config JSON>,
//                     "layers":[<descriptor JSON>...]}
// the whole state after the step (config with diff_ids/history, layer blobs
// bottom first). Entries are written atomically (temp + rename), so
// concurrent builds can share the cache; a reader that finds a missing blob
// treats the entry as a miss.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/image_state.h"
#include "oci/digest.h"
#include "oci/store/store.h"

namespace kiln::builder {

inline constexpr int kStepCacheVersion = 1;

class CacheKeyBuilder {
 public:
  CacheKeyBuilder();
  CacheKeyBuilder& Add(std::string_view label, std::string_view value);
  oci::Digest Finish();  // once

 private:
  oci::Sha256 hash_;
};

class StepCache {
 public:
  explicit StepCache(const oci::Store& store);
  // The state stored for `key`, or nullopt (absent, unreadable, or a layer
  // blob is gone). The returned state's digest is `key`.
  std::optional<ImageState> Lookup(const oci::Digest& key) const;
  void Put(const oci::Digest& key, const ImageState& state, const std::string& created_by) const;
  // Layer blobs referenced by any entry (GC roots for `kiln prune`).
  std::vector<oci::Digest> Roots() const;
  const std::filesystem::path& dir() const { return dir_; }
  // Keys this process hit or wrote, in order (what --cache-to exports).
  std::vector<oci::Digest> Used() const;
  // Held by the executor running the step `key` from its Lookup to its Put:
  // the same step in two stage instances of one build (the steps before
  // `ARG TARGETARCH` in a `FROM --platform=$BUILDPLATFORM` stage, one
  // instance per target) then runs once, the other waiting for its entry.
  std::unique_lock<std::mutex> Claim(const oci::Digest& key) const;

 private:
  void MarkUsed(const oci::Digest& key) const;

  const oci::Store& store_;
  std::filesystem::path dir_;
  mutable std::mutex used_mu_;
  mutable std::vector<oci::Digest> used_;
  mutable std::map<oci::Digest, std::unique_ptr<std::mutex>> claims_;  // by key, kept for the build (few)
};

}  // namespace kiln::builder
