#include "builder/finalize_memo.h"

#include <fstream>

#include "sandbox/file_io.h"

namespace kiln::builder {

FinalizeMemo::FinalizeMemo(const oci::Store& store) : dir_(store.Path("cache/finalize")) {}

std::optional<nlohmann::json> FinalizeMemo::Get(const oci::Digest& key) const {
  std::ifstream in(dir_ / (key.hex + ".json"));
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

void FinalizeMemo::Put(const oci::Digest& key, const nlohmann::json& value) const {
  std::filesystem::create_directories(dir_);
  sandbox::WriteFileAtomic(dir_ / (key.hex + ".json"), value.dump());
}

}  // namespace kiln::builder
