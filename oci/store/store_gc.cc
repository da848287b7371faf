// Store integrity checks and garbage collection.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "oci/error.h"
#include "oci/store/store.h"
#include "oci/store/store_internal.h"
#include "oci/layer/tree_digest.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {

// Manifests, indexes and configs are small; anything bigger is a layer and
// is never parsed (keeps GC from reading gigabytes).
constexpr int64_t kMaxJsonBlob = 8 << 20;

void Walk(const Store& s, const Digest& d, std::set<Digest>& seen) {
  if (!seen.insert(d).second) return;
  if (!s.HasBlob(d)) return;
  std::error_code ec;
  auto size = fs::file_size(s.BlobPath(d), ec);
  if (ec || static_cast<int64_t>(size) > kMaxJsonBlob) return;
  nlohmann::json j = nlohmann::json::parse(s.ReadBlob(d), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  if (j.contains("manifests")) {
    for (auto& m : ParseIndex(j.dump()).manifests) Walk(s, m.digest, seen);
  } else if (j.contains("config") && j.contains("layers")) {
    Manifest m = ParseManifest(j.dump());
    seen.insert(m.config.digest);
    for (auto& l : m.layers) seen.insert(l.digest);
    if (s.HasBlob(m.config.digest)) {
      // The config names the diff_ids, i.e. the unpacked layer dirs.
      try {
        for (auto& id : ParseImageConfig(s.ReadBlob(m.config.digest)).diff_ids) seen.insert(id);
      } catch (const Error&) {
        // An artifact's config need not be an image config.
      }
    }
  }
}

std::set<Digest> LiveSet(const Store& s, const std::vector<Digest>& extra_roots) {
  std::set<Digest> live;
  for (auto& [ref, d] : s.ListTags()) Walk(s, d.digest, live);
  for (auto& d : ReadStoreIndex(s.root()).manifests) Walk(s, d.digest, live);  // untagged entries too
  for (auto& d : extra_roots) Walk(s, d, live);
  return live;
}

template <typename Fn>
void ForEachBlob(const Store& s, Fn fn) {
  std::error_code ec;
  for (auto& alg : fs::directory_iterator(s.Path("blobs"), ec)) {
    if (!alg.is_directory()) continue;
    for (auto& e : fs::directory_iterator(alg.path())) {
      Digest d;
      try {
        d = Digest::Parse(alg.path().filename().string() + ":" + e.path().filename().string());
      } catch (const Error&) {
        continue;  // not a blob name; left alone
      }
      fn(d, e.path());
    }
  }
  if (ec) throw Error("store: list " + s.Path("blobs").string() + ": " + ec.message());
}

}  // namespace

std::vector<Digest> Store::Reachable(const Descriptor& manifest) const {
  std::set<Digest> seen;
  Walk(*this, manifest.digest, seen);
  return {seen.begin(), seen.end()};
}

Store::FsckReport Store::Fsck(bool remove) const { return Fsck(remove, {}); }

Store::FsckReport Store::Fsck(bool remove, const std::vector<Digest>& extra_roots, bool full) const {
  Lock lock(*this, remove);
  FsckReport r;
  std::set<Digest> live = LiveSet(*this, extra_roots);
  ForEachBlob(*this, [&](const Digest& d, const fs::path& p) {
    if (d.algorithm != "sha256") return;
    if (Sha256OfFile(p) != d) r.corrupt.push_back(d);
    else if (!live.count(d)) r.orphaned.push_back(d);
  });
  if (full) {
    for (const Digest& id : ListLayerDirs()) {
      const std::optional<Digest> recorded = LayerTreeDigest(id);
      if (!recorded) ++r.unrecorded_layers;
      else if (TreeDigest(LayerDir(id)) != *recorded) r.corrupt_layers.push_back(id);
    }
  }
  if (remove) {
    for (auto* v : {&r.corrupt, &r.orphaned})
      for (auto& d : *v)
        if (::unlink(BlobPath(d).c_str()) != 0) ThrowErrno("store: fsck: remove " + BlobPath(d).string());
    for (const Digest& id : r.corrupt_layers) {
      // The marker first, so a half-removed dir is never used.
      const fs::path done = Path("layers") / (id.hex + ".done");
      if (::unlink(done.c_str()) != 0) ThrowErrno("store: fsck: remove " + done.string());
      RemoveTree(LayerDir(id));
    }
  }
  return r;
}

Store::PruneReport Store::Prune(const std::vector<Digest>& extra_roots) const {
  Lock lock(*this, true);
  PruneReport r;
  std::set<Digest> live = LiveSet(*this, extra_roots);
  ForEachBlob(*this, [&](const Digest& d, const fs::path& p) {
    if (live.count(d)) return;
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) r.bytes_freed += st.st_size;
    if (::unlink(p.c_str()) != 0) ThrowErrno("store: prune: remove " + p.string());
    ++r.blobs_removed;
  });
  std::set<std::string> live_hex;
  for (auto& d : live) live_hex.insert(d.hex);
  std::vector<fs::path> doomed;
  for (auto& e : fs::directory_iterator(Path("layers"))) {
    std::string name = e.path().filename().string();
    std::string hex = name.ends_with(".done") ? name.substr(0, name.size() - 5) : name;
    if (!live_hex.count(hex)) doomed.push_back(e.path());
  }
  // Gzip member maps (gzip_members.h) and computed diff_ids go with their blobs.
  for (const char* sub : {"gzip-members", "diff-ids"}) {
    if (!fs::is_directory(Path(sub))) continue;
    for (auto& e : fs::directory_iterator(Path(sub))) {
      const std::string name = e.path().filename().string();
      if (!live_hex.count(name) && !name.starts_with(".")) doomed.push_back(e.path());
    }
  }
  std::sort(doomed.begin(), doomed.end());
  for (auto& p : doomed) {
    bool is_dir = fs::is_directory(fs::symlink_status(p));
    if (is_dir) {
      // Drop the .done marker first so a half-removed dir is never used.
      ::unlink((p.string() + ".done").c_str());
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) r.bytes_freed += st.st_size;
      }
      RemoveTree(p);
      ++r.layer_dirs_removed;
    } else if (fs::exists(fs::symlink_status(p))) {
      ::unlink(p.c_str());
    }
  }
  return r;
}

}  // namespace kiln::oci
