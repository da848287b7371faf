// The build context: the directory tree COPY/ADD read from, filtered by
// .dockerignore, with a persistent stat cache so that an unchanged file is
// never read again to learn its digest.
//
// Stat cache on disk: $KILN_ROOT/cache/context/<sha256 of the context's
// absolute path>.json =
//   {"v":1,"files":{"<rel path>":[size,mtime_ns,ctime_ns,ino,mode,"<sha256 hex>"],...}}
// An entry is trusted only when all five metadata values still match lstat(2)
// (ctime catches chmod/rename-over; ino catches replace-by-rename).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "frontend/dockerignore.h"
#include "oci/digest.h"

namespace kiln::builder {

struct ContextEntry {
  // 104 bytes plus the path: a 20,000-entry context is held for the whole
  // build. (A symlink's target: BuildContext::LinkTarget, as few have one.)
  std::string path;  // relative, '/'-separated, no leading "./"
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  uint64_t ino = 0;
  mode_t mode = 0;  // st_mode (type + permission bits)
  // Set by BuildContext under its digest lock: the content digest (regular
  // files) once known, from the stat cache or by reading; and whether a
  // SourcesDigest covered the entry (ReadDigest). Kept here, not in maps
  // beside the index: a 20,000-file context cost 5 MB more that way.
  mutable std::array<unsigned char, 32> sum{};
  mutable bool hashed = false;
  mutable bool read = false;
  bool is_dir() const;
  bool is_symlink() const;
  bool is_regular() const;
};
static_assert(sizeof(ContextEntry) <= sizeof(std::string) + 72, "ContextEntry grew: it is held per context file");

// Persistent path -> (metadata) -> digest memo. The file is read once, as a
// stream merged with the context's sorted entries when the context is
// walked (Adopt), so no copy of it is ever held; Save writes the digests
// the entries hold. Thread-safe.
class StatCache {
 public:
  StatCache() = default;  // in-memory only
  explicit StatCache(std::filesystem::path file);
  // How many entries the context had when the file was saved (0: unknown),
  // so the walk can size its index once instead of growing it.
  size_t EntriesHint() const { return entries_hint_; }
  // Gives each entry whose metadata still match its remembered digest, and
  // from then on saves from `entries` (sorted by path), whose digest fields
  // `mu` guards. A damaged file gives nothing.
  void Adopt(const std::vector<ContextEntry>& entries, std::mutex* mu);
  void CountHit();
  void CountMiss();  // a digest learnt by reading: worth saving
  void Save() const;  // atomically, only when something changed
  int hits() const { return hits_; }
  int misses() const { return misses_; }

 private:
  std::filesystem::path file_;
  mutable std::mutex mu_;
  size_t entries_hint_ = 0;
  const std::vector<ContextEntry>* entries_ = nullptr;
  std::mutex* entries_mu_ = nullptr;
  bool dirty_ = false;
  int hits_ = 0, misses_ = 0;
};

class BuildContext {
 public:
  // `ignore` filters the tree (.dockerignore). `cache` may be in-memory.
  BuildContext(std::filesystem::path root, frontend::IgnoreMatcher ignore, StatCache* cache);

  const std::filesystem::path& root() const { return root_; }
  // Every non-ignored entry, sorted by path (walked on first use, metadata only).
  const std::vector<ContextEntry>& Entries();
  const ContextEntry* Find(const std::string& rel_path);
  // The topmost paths under root() that .dockerignore hides, sorted: what a
  // view of the directory must mask to show exactly Entries() (a hidden
  // directory hides everything below it).
  const std::vector<std::string>& Hidden();

  // COPY/ADD source -> the entries it names: a plain path gives that entry
  // (the root for "."), a pattern (Go filepath.Match syntax per component)
  // gives every matching entry. Throws builder::Error("file not found in
  // build context" / "no source files were specified") when nothing matches.
  std::vector<const ContextEntry*> Match(const std::string& source);

  // Entries below (and including) `top` not matching an exclude pattern.
  std::vector<const ContextEntry*> Below(const ContextEntry& top,
                                         const std::vector<std::string>& excludes);

  // A symlink entry's target as walked ("" for other entries).
  const std::string& LinkTarget(const ContextEntry& e) const;

  // Content digest of a regular file (stat cache first).
  oci::Digest FileDigest(const ContextEntry& e);

  // One digest over the matched sources: for every file below each match its
  // path, type, permission bits, link target and content digest.
  oci::Digest SourcesDigest(const std::vector<const ContextEntry*>& matches,
                            const std::vector<std::string>& excludes);

  // One digest over every context entry a SourcesDigest call covered so far
  // (what COPY/ADD and RUN --mount from the context read, after
  // .dockerignore and --exclude): for each, sorted by path, its path, mode,
  // link target and content digest. Independent of the order of reads; an
  // empty set has a digest too. `count` gets the number of entries.
  oci::Digest ReadDigest(size_t* count = nullptr) const;

  // Normalises a source the way docker does ("./a/" -> "a", "/" -> "").
  static std::string CleanSource(const std::string& source);
  static bool HasWildcard(const std::string& s);

 private:
  void Walk();
  std::array<unsigned char, 32> FileSum(const ContextEntry& e);  // FileDigest's 32 bytes
  std::filesystem::path root_;
  frontend::IgnoreMatcher ignore_;
  StatCache* cache_;
  bool walked_ = false;
  std::mutex mu_;
  std::vector<ContextEntry> entries_;
  std::map<std::string, std::string> link_targets_;  // path -> target, symlinks only
  std::vector<std::string> hidden_;
  ContextEntry root_entry_;
  mutable std::mutex digest_mu_;  // the entries' sum, hashed and read
};

// Go filepath.Match on '/'-separated paths ('*' does not cross '/').
bool PathMatch(const std::string& pattern, const std::string& path);

}  // namespace kiln::builder
