#include "builder/layer_lineage.h"

#include "builder/step_cache.h"
#include "oci/error.h"
#include "sandbox/file_io.h"

namespace kiln::builder {

oci::Digest LineageKey(const std::string& instruction, const ImageState& parent) {
  CacheKeyBuilder key;
  key.Add("lineage", instruction);
  for (const auto& d : parent.config.diff_ids) key.Add("parent-layer", d.str());
  return key.Finish();
}

LayerLineage::LayerLineage(const oci::Store& store) : dir_(store.Path("cache/lineage")) {}

std::optional<LastLayer> LayerLineage::Last(const oci::Digest& key) const {
  try {
    const std::string text = sandbox::ReadFileToString(dir_ / key.hex);
    const size_t nl = text.find('\n');
    LastLayer last{oci::Digest::Parse(text.substr(0, nl)), std::nullopt};
    if (nl != std::string::npos && nl + 1 < text.size()) {
      std::string second = text.substr(nl + 1);
      if (second.back() == '\n') second.pop_back();
      last.diff_id = oci::Digest::Parse(second);
    }
    return last;
  } catch (const std::runtime_error&) {  // oci::Error, sandbox::Error
    return std::nullopt;  // none yet, or unreadable: no hint
  }
}

void LayerLineage::Record(const oci::Digest& key, const oci::Digest& blob, const oci::Digest& diff_id) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw oci::Error("layer lineage: create " + dir_.string() + ": " + ec.message());
  sandbox::WriteFileAtomic(dir_ / key.hex, blob.str() + "\n" + diff_id.str() + "\n");
}

}  // namespace kiln::builder
