#include "builder/layer_commit.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <system_error>

#include "builder/error.h"
#include "builder/layer_cache.h"
#include "sandbox/file_io.h"

namespace kiln::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path SnapshotDir(const oci::Store& store) { return store.Path("cache/snapshots"); }

const char* CompressionName(oci::Compression c) { return c == oci::Compression::kZstd ? "zstd" : "gzip"; }

// The compressed blob made earlier for this snapshot, if it is still there.
std::optional<oci::Descriptor> Remembered(const oci::Store& store, const fs::path& memo) {
  std::error_code ec;
  if (!fs::exists(memo, ec)) return std::nullopt;
  try {
    const json j = json::parse(sandbox::ReadFileToString(memo));
    oci::Descriptor d;
    d.media_type = j.at("mediaType").get<std::string>();
    d.digest = oci::Digest::Parse(j.at("digest").get<std::string>());
    d.size = j.at("size").get<int64_t>();
    if (store.HasBlob(d.digest)) return d;
  } catch (const std::exception&) {  // a damaged memo is a miss; it is rewritten
  }
  return std::nullopt;
}

}  // namespace

void MarkSnapshotLayer(const oci::Store& store, const oci::Digest& diff_id) {
  const fs::path dir = SnapshotDir(store);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error({"creating the snapshot layer directory", dir.string(), ec.message(), "check the store's disk and permissions"});
  sandbox::WriteFileAtomic(dir / diff_id.hex, "");
}

oci::Descriptor CompressSnapshotLayers(oci::Store& store, const oci::LayerOptions& opts,
                                       const oci::Descriptor& manifest) {
  if (opts.compression == oci::Compression::kNone) return manifest;
  oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
  LayerCache layers(store);
  bool changed = false;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    oci::Descriptor& layer = m.layers[i];
    std::error_code ec;
    if (layer.media_type != oci::media::kOciLayerTar || !fs::exists(SnapshotDir(store) / layer.digest.hex, ec))
      continue;
    const oci::Digest diff_id = layer.digest;  // an uncompressed blob is its own diff_id
    const fs::path memo = SnapshotDir(store) / (diff_id.hex + "." + CompressionName(opts.compression));
    if (auto done = Remembered(store, memo)) {
      layer = *done;
      changed = true;
      continue;
    }
    oci::LayerOptions lo = opts;
    lo.reuse_gzip_members_of.reset();
    const oci::Layer written = oci::WriteLayer(store, layers.Ensure(layer, diff_id), lo);
    if (written.diff_id != diff_id)
      throw Error({"compressing a snapshot layer for export", diff_id.str(),
                   "its unpacked tree now gives " + written.diff_id.str() + " (changed in the store?)",
                   "build with --no-cache to write the stage again, and run kiln fsck --full"});
    store.RecordDiffId(written.blob.digest, diff_id);
    sandbox::WriteFileAtomic(memo, oci::DescriptorToJson(written.blob));
    layer = written.blob;
    changed = true;
  }
  if (!changed) return manifest;
  return store.PutBlob(oci::ToJson(m), manifest.media_type.empty() ? oci::media::kOciManifest : manifest.media_type);
}

}  // namespace kiln::builder
