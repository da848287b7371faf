// The local content store under $KILN_ROOT.
//
// On disk (the store is itself an OCI image layout, so skopeo/umoci can read it):
//   oci-layout, index.json   tags: manifests annotated org.opencontainers.image.ref.name
//   blobs/sha256/<hex>       content-addressed blobs, written atomically
//   layers/<diffid-hex>/     layers unpacked in overlay form (whiteouts are 0/0
//                            char devices, opaque dirs carry user.overlay.opaque=y),
//                            used as overlay lower dirs; complete when
//                            layers/<hex>.done exists. The diff_id is always one
//                            kiln computed from the bytes, never a config's claim.
//                            .done holds "<diff_id>\ntree <TreeDigest of the dir>\n"
//                            (oci/tree_digest.h), what `kiln fsck --full` checks
//   diff-ids/<blob-hex>      the diff_id kiln computed for a layer blob (extracting
//                            or writing it): what a config's claim is compared with
//   tmp/                     scratch space (per-process dirs, swept when stale)
//   lock                     flock(2) (Store::Lock): held shared by anyone using or adding
//                            content (a build, a pull) and exclusive by Prune/Fsck(remove),
//                            so GC never deletes what a running process is about to tag
//   index.lock               flock(2), exclusive around every index.json rewrite and
//                            AdoptLayerDir; index.json is replaced by rename, so readers
//                            need no lock
// Other folders (e.g. builder's cache/) may be added by upper layers via Path().
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oci/digest.h"
#include "oci/image.h"

namespace kiln::oci {

class Store {
 public:
  // Creates the layout if missing.
  explicit Store(std::filesystem::path root);
  // $KILN_ROOT, else $XDG_DATA_HOME/kiln, else ~/.local/share/kiln.
  static std::filesystem::path DefaultRoot();

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path Path(std::string_view sub) const { return root_ / sub; }

  // Blobs.
  bool HasBlob(const Digest& d) const;
  std::filesystem::path BlobPath(const Digest& d) const;
  // Streams into tmp/, hashing as it goes; Commit() fsyncs and renames into
  // blobs/. Destroying an uncommitted writer deletes the temp file.
  class BlobWriter {
   public:
    ~BlobWriter();
    BlobWriter(BlobWriter&&) noexcept;
    void Write(const void* data, size_t size);
    // Throws if `expected` is given and does not match.
    Descriptor Commit(const std::string& media_type, const std::optional<Digest>& expected = {});
    int64_t size() const;
   private:
    friend class Store;
    struct Impl;
    explicit BlobWriter(std::unique_ptr<Impl>);
    std::unique_ptr<Impl> impl_;
  };
  BlobWriter NewBlob() const;
  Descriptor PutBlob(std::string_view data, const std::string& media_type) const;
  Descriptor ImportBlob(const std::filesystem::path& file, const std::string& media_type) const;
  std::string ReadBlob(const Digest& d, bool verify = false) const;

  // Tags ("name:tag" as the user wrote it, normalised by the caller).
  void SetTag(const std::string& ref, const Descriptor& manifest);
  std::optional<Descriptor> ResolveTag(const std::string& ref) const;
  bool RemoveTag(const std::string& ref);
  std::vector<std::pair<std::string, Descriptor>> ListTags() const;

  // Unpacked layers for overlay.
  std::filesystem::path LayerDir(const Digest& diff_id) const;
  bool HasLayerDir(const Digest& diff_id) const;
  // Moves a finished directory (same filesystem) into layers/ and marks it
  // done, recording its TreeDigest. `diff_id` must be one kiln computed.
  // If another process got there first, `dir` is removed instead.
  void AdoptLayerDir(const std::filesystem::path& dir, const Digest& diff_id) const;
  // The TreeDigest recorded when the layer dir was adopted; nullopt for a
  // dir adopted before kiln recorded them (or not there).
  std::optional<Digest> LayerTreeDigest(const Digest& diff_id) const;
  // Every complete layer dir's diff_id.
  std::vector<Digest> ListLayerDirs() const;

  // Layer blob -> the diff_id kiln computed from its bytes.
  void RecordDiffId(const Digest& blob, const Digest& diff_id) const;
  std::optional<Digest> RecordedDiffId(const Digest& blob) const;

  // A fresh directory under tmp/ owned by this process; removed by the
  // returned guard unless released. SweepStaleTemp() removes dirs of dead processes.
  class TempDir {
   public:
    explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
    ~TempDir();
    TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path release() { return std::exchange(path_, {}); }
   private:
    std::filesystem::path path_;
  };
  TempDir MakeTempDir(std::string_view prefix) const;
  void SweepStaleTemp() const;

  // Whole-store lock (flock on root/lock).
  class Lock {
   public:
    Lock(const Store& s, bool exclusive);
    ~Lock();
    Lock(const Lock&) = delete;
   private:
    int fd_ = -1;
  };

  // Integrity and garbage collection. `extra_roots` are digests kept alive by
  // upper layers (e.g. the build cache).
  struct FsckReport {
    std::vector<Digest> corrupt, orphaned;
    // Layer dirs (by diff_id) whose tree no longer matches its recorded
    // TreeDigest (full only), and how many had none recorded.
    std::vector<Digest> corrupt_layers;
    int unrecorded_layers = 0;
  };
  // Takes the store Lock itself (exclusive when removing, as Prune does):
  // do not call while holding a Lock. Orphaned = reached by no tag, no
  // index.json entry and no extra root. `full` also re-reads every unpacked
  // layer (TreeDigest); with `remove`, corrupt ones are deleted (they are
  // unpacked again from their blob when next needed).
  FsckReport Fsck(bool remove) const;
  FsckReport Fsck(bool remove, const std::vector<Digest>& extra_roots, bool full = false) const;
  struct PruneReport { int blobs_removed = 0, layer_dirs_removed = 0; int64_t bytes_freed = 0; };
  // Takes the exclusive store Lock itself (waits for running builds); do not
  // call while holding a Lock. Removes unreachable blobs and layers/<hex> dirs.
  PruneReport Prune(const std::vector<Digest>& extra_roots) const;

  // All blobs and unpacked layers reachable from a manifest (config, layers, subject referrers excluded).
  std::vector<Digest> Reachable(const Descriptor& manifest) const;

 private:
  std::filesystem::path root_;
};

}  // namespace kiln::oci
