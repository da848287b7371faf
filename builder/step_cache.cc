#include "builder/step_cache.h"

#include <nlohmann/json.hpp>

#include <system_error>

#include "oci/error.h"
#include "sandbox/file_io.h"

namespace kiln::builder {

namespace fs = std::filesystem;
using nlohmann::json;

CacheKeyBuilder::CacheKeyBuilder() {
  hash_.Update(std::string_view("kiln-step-cache\0", 16));
  hash_.Update(std::to_string(kStepCacheVersion));
}

CacheKeyBuilder& CacheKeyBuilder::Add(std::string_view label, std::string_view value) {
  hash_.Update(std::string_view("\0F\0", 3));
  hash_.Update(label);
  hash_.Update(std::string_view("\0", 1));
  hash_.Update(std::to_string(value.size()));
  hash_.Update(std::string_view("\0", 1));
  hash_.Update(value);
  return *this;
}

oci::Digest CacheKeyBuilder::Finish() { return hash_.Final(); }

StepCache::StepCache(const oci::Store& store) : store_(store), dir_(store.Path("cache/steps")) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw oci::Error("build cache: create " + dir_.string() + ": " + ec.message());
}

std::optional<ImageState> StepCache::Lookup(const oci::Digest& key) const {
  const fs::path file = dir_ / (key.hex + ".json");
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    const json j = json::parse(sandbox::ReadFileToString(file));
    if (j.value("v", 0) != kStepCacheVersion) return std::nullopt;
    ImageState st;
    st.config = oci::ParseImageConfig(j.at("config").dump());
    for (const auto& l : j.at("layers")) {
      oci::Descriptor d;
      d.media_type = l.at("mediaType").get<std::string>();
      d.digest = oci::Digest::Parse(l.at("digest").get<std::string>());
      d.size = l.at("size").get<int64_t>();
      if (!store_.HasBlob(d.digest)) return std::nullopt;  // pruned: rebuild
      st.layers.push_back(std::move(d));
    }
    if (st.layers.size() != st.config.diff_ids.size()) return std::nullopt;
    st.digest = key;
    MarkUsed(key);
    return st;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry is a miss; Put() replaces it
  }
}

void StepCache::Put(const oci::Digest& key, const ImageState& state,
                    const std::string& created_by) const {
  json j;
  j["v"] = kStepCacheVersion;
  j["created_by"] = created_by;
  j["config"] = json::parse(oci::ToJson(state.config));
  j["layers"] = json::array();
  for (const auto& d : state.layers) j["layers"].push_back(json::parse(oci::DescriptorToJson(d)));
  sandbox::WriteFileAtomic(dir_ / (key.hex + ".json"), j.dump());
  MarkUsed(key);
}

void StepCache::MarkUsed(const oci::Digest& key) const {
  std::lock_guard lock(used_mu_);
  used_.push_back(key);
}

std::unique_lock<std::mutex> StepCache::Claim(const oci::Digest& key) const {
  std::mutex* m;
  {
    std::lock_guard<std::mutex> lock(used_mu_);
    auto& slot = claims_[key];
    if (!slot) slot = std::make_unique<std::mutex>();
    m = slot.get();
  }
  return std::unique_lock<std::mutex>(*m);
}

std::vector<oci::Digest> StepCache::Used() const {
  std::lock_guard lock(used_mu_);
  return used_;
}

std::vector<oci::Digest> StepCache::Roots() const {
  std::vector<oci::Digest> roots;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".json") continue;
    try {
      const json j = json::parse(sandbox::ReadFileToString(e.path()));
      for (const auto& l : j.at("layers")) roots.push_back(oci::Digest::Parse(l.at("digest").get<std::string>()));
      for (const auto& d : j.at("config").value("rootfs", json::object()).value("diff_ids", json::array()))
        roots.push_back(oci::Digest::Parse(d.get<std::string>()));
    } catch (const std::exception&) {
      continue;  // unreadable entries protect nothing
    }
  }
  return roots;
}

}  // namespace kiln::builder
