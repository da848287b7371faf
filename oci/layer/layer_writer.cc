// WriteLayer: a directory in overlay form -> a reproducible PAX tar blob.
//
// Pipeline: the walk feeds a libarchive tar writer (no filter) whose output
// callback hashes the tar bytes (diff_id) and hands them in chunks to the
// compressors, whose output is hashed (digest) and streamed into the store.
// zstd: one thread running a second libarchive writer in "raw" format with
// the zstd filter. gzip, the slow one: the tar is cut into members of their
// own, compressed by one thread per core and written in order (concatenated
// members are one gzip stream, RFC 1952; pigz and Go's pgzip, which buildah
// uses, split the same way). A member ends before an entry whose path
// hashes to a mark once it holds kMemberMin bytes, or at kMemberMax in any
// case: the cuts depend only on the entries since the last cut, so a change
// to one file leaves every other member's bytes as they were (the idea of
// `gzip --rsyncable`, at entry granularity), and those members are copied
// from the earlier blob named by LayerOptions::reuse_gzip_members_of instead
// of compressed again. Cuts are a function of the tree, so the bytes are
// reproducible; a layer under kMemberMin is one member, exactly what a
// single gzip stream is. Nothing is held beyond a few members (each 1 MiB at
// most: 4 MiB ones cost ~30 MB of peak RSS on two cores), for ~0.2% more
// output (deflate's window is 32 KiB anyway).
// Within a member, a run of file data that deflate cannot shrink (already
// compressed or random: order-0 entropy near 8 bits a byte) is written as
// a gzip member of its own at level 0, stored: zlib spends as long on such
// bytes at level 6 as on text, to gain nothing. The choice depends only on
// the bytes, so it is as reproducible as the rest.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "oci/entropy.h"
#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/layer/gzip_members.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_internal.h"
#include "sandbox/owner_record.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kMemberMin = 256 << 10;
constexpr size_t kMemberMax = 1 << 20;
constexpr size_t kMaxQueued = 8;
// File data shorter than this is compressed whatever it looks like.
constexpr size_t kMinStoredRun = 2048;

// One entry in 16 is a cut point (FNV-1a of the path, mixed).
bool IsCutPoint(std::string_view path) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return (h & 15) == 0;
}

// A piece of the tar stream, and where file contents lie in it (gzip only:
// [begin, end) offsets, in order; headers and padding lie between).
struct Chunk {
  std::string bytes;
  std::vector<std::pair<uint32_t, uint32_t>> file_data;
};

// Bounded single-producer/single-consumer queue of byte chunks.
class ChunkQueue {
 public:
  explicit ChunkQueue(size_t max_queued = kMaxQueued) : max_(max_queued) {}
  void Push(Chunk chunk) {
    std::unique_lock l(mu_);
    not_full_.wait(l, [&] { return q_.size() < max_ || aborted_; });
    if (aborted_) throw Error("write layer: compressor failed");
    q_.push_back(std::move(chunk));
    not_empty_.notify_one();
  }
  // False at end of stream. `index` counts the chunks popped so far.
  bool Pop(Chunk& out, size_t* index = nullptr) {
    std::unique_lock l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    if (index) *index = popped_;
    ++popped_;
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard l(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  void Abort() {
    std::lock_guard l(mu_);
    aborted_ = true;
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Chunk> q_;
  const size_t max_;
  size_t popped_ = 0;
  bool closed_ = false, aborted_ = false;
};

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

void Check(archive* a, int r, const std::string& what) {
  if (r < ARCHIVE_WARN) throw Error("write layer: " + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "unknown error"));
}

// Output of the compressing writer: into the store (which hashes it).
struct BlobSink {
  Store::BlobWriter* blob;
  std::exception_ptr error;
};

la_ssize_t BlobSinkWrite(archive*, void* ctx, const void* buf, size_t n) {
  auto* s = static_cast<BlobSink*>(ctx);
  try {
    s->blob->Write(buf, n);
  } catch (...) {
    s->error = std::current_exception();
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

// Output of the tar writer: hash, then either straight into the blob
// (uncompressed) or batched into the compressor's queue.
struct TarSink {
  Sha256 hash;
  ChunkQueue* queue = nullptr;  // compressed
  Store::BlobWriter* blob = nullptr;  // uncompressed
  size_t chunk = kChunk;  // flushed at this size (gzip: kMemberMax)
  Chunk pending;
  std::optional<uint32_t> data_begin;  // in `pending`, while a file's data is written
  std::exception_ptr error;
  // gzip: before each entry, end the member at a cut point.
  void BeforeEntry(std::string_view path) {
    if (pending.bytes.size() >= kMemberMin && IsCutPoint(path)) Flush();
  }
  // gzip: around the data of a regular file (its padding excluded).
  void DataBegins() { data_begin = static_cast<uint32_t>(pending.bytes.size()); }
  void DataEnds() {
    if (data_begin && *data_begin < pending.bytes.size())
      pending.file_data.emplace_back(*data_begin, static_cast<uint32_t>(pending.bytes.size()));
    data_begin.reset();
  }
  void Flush() {
    if (pending.bytes.empty()) return;
    const bool in_data = data_begin.has_value();
    if (in_data) DataEnds();  // the data goes on in the next chunk
    queue->Push(std::exchange(pending, {}));
    pending.bytes.reserve(chunk);  // one allocation per chunk, not a doubling series
    if (in_data) data_begin = 0;
  }
};

la_ssize_t TarSinkWrite(archive*, void* ctx, const void* buf, size_t n) {
  auto* s = static_cast<TarSink*>(ctx);
  try {
    if (s->blob) {
      s->blob->Write(buf, n);
    } else {
      s->hash.Update(buf, n);
      // Chunks of exactly `chunk` bytes, however the writer's pieces fall.
      const char* p = static_cast<const char*>(buf);
      for (size_t left = n; left > 0;) {
        const size_t take = std::min(left, s->chunk - s->pending.bytes.size());
        s->pending.bytes.append(p, take);
        p += take;
        left -= take;
        if (s->pending.bytes.size() >= s->chunk) s->Flush();
      }
    }
  } catch (...) {
    s->error = std::current_exception();
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

struct WalkEntry {
  std::string rel;  // tar path, no leading "./"
  struct stat st;
  bool opaque_marker = false;
};

bool IsOpaque(const std::string& path) {
  char v[8];
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::lgetxattr(path.c_str(), name, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

// Calls `fn` for every entry below `dir` in the plain byte order of their
// paths, holding only the directories on the way down, not the whole tree
// (a 20,000-file layer cost 6.5 MB as one sorted vector). Each directory is
// listed and sorted with a directory's contents keyed "name/": since every
// path below it starts with that, this is exactly the order of sorting all
// paths (a directory before its contents, a sibling "name.x" between them).
// An opaque directory (overlayfs' mark) gets the OCI marker entry among its
// contents.
class SortedWalk {
 public:
  SortedWalk(const fs::path& dir, const std::function<void(const WalkEntry&)>& fn)
      : prefix_(dir.string() + "/"), fn_(fn) {}
  void Run() { Level("", nullptr); }

 private:
  struct Item {
    std::string key;
    bool descend;
    bool operator<(const Item& o) const { return key < o.key; }
  };
  // `opaque`: the directory's stat when it is opaque, else null.
  void Level(const std::string& rel_dir, const struct stat* opaque) {
    const std::string host = rel_dir.empty() ? prefix_ : prefix_ + rel_dir + "/";
    std::vector<Item> items;
    {
      std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(host.c_str()), ::closedir);
      if (!d) ThrowErrno("write layer: walk " + host);
      for (;;) {
        errno = 0;
        const dirent* de = ::readdir(d.get());
        if (!de) {
          if (errno != 0) ThrowErrno("write layer: walk " + host);
          break;
        }
        const std::string_view name = de->d_name;
        if (name == "." || name == "..") continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
          struct stat st {};
          if (::lstat((host + de->d_name).c_str(), &st) != 0) ThrowErrno("write layer: lstat " + host + de->d_name);
          is_dir = S_ISDIR(st.st_mode);
        }
        items.push_back({std::string(name), false});
        if (is_dir) items.push_back({std::string(name) + "/", true});
      }
    }
    if (opaque) items.push_back({kOpaqueWhiteout, false});
    std::sort(items.begin(), items.end());
    WalkEntry e;
    for (const Item& it : items) {
      const std::string_view name = it.descend ? std::string_view(it.key).substr(0, it.key.size() - 1) : it.key;
      const std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
      if (it.descend) {
        auto mark = opaque_dirs_.find(rel);
        if (mark == opaque_dirs_.end()) {
          Level(rel, nullptr);
        } else {
          const struct stat st = mark->second;
          opaque_dirs_.erase(mark);
          Level(rel, &st);
        }
        continue;
      }
      e.rel = rel;
      if (opaque && it.key == kOpaqueWhiteout) {
        e.opaque_marker = true;
        e.st = *opaque;  // the marker carries its directory's times
      } else {
        e.opaque_marker = false;
        const std::string full = prefix_ + rel;
        if (::lstat(full.c_str(), &e.st) != 0) ThrowErrno("write layer: lstat " + full);
        if (S_ISDIR(e.st.st_mode) && IsOpaque(full)) opaque_dirs_.emplace(rel, e.st);
      }
      fn_(e);
    }
  }
  const std::string prefix_;
  const std::function<void(const WalkEntry&)>& fn_;
  std::map<std::string, struct stat> opaque_dirs_;  // met, not yet descended into
};

// Sorted xattrs of `path`, minus overlayfs' own bookkeeping and the owner
// record (sandbox/owner_record.h), which goes to `owner_record`: the tar
// header says who owns the file, as a build with a subuid range would.
std::vector<std::pair<std::string, std::string>> Xattrs(const std::string& path,
                                                        std::optional<std::string>& owner_record) {
  std::vector<std::pair<std::string, std::string>> out;
  owner_record.reset();
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    ThrowErrno("write layer: llistxattr " + path);
  }
  if (n == 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) ThrowErrno("write layer: llistxattr " + path);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty() || name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")) continue;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0) ThrowErrno("write layer: lgetxattr " + path + " " + name);
    std::string value(static_cast<size_t>(vn), '\0');
    vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0) ThrowErrno("write layer: lgetxattr " + path + " " + name);
    value.resize(static_cast<size_t>(vn));
    if (name == sandbox::kOwnerXattr) {
      owner_record = std::move(value);
      continue;
    }
    out.emplace_back(name, value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void WriteFileData(archive* a, const WalkEntry& e, const std::string& full) {
  sandbox::UniqueFd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) ThrowErrno("write layer: open " + full);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  static thread_local std::unique_ptr<char[]> buf(new char[1 << 18]);
  int64_t left = e.st.st_size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf.get(), static_cast<size_t>(std::min<int64_t>(left, 1 << 18)));
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("write layer: read " + full);
    }
    if (n == 0) throw Error("write layer: " + full + " shrank while being archived");
    la_ssize_t w = archive_write_data(a, buf.get(), static_cast<size_t>(n));
    if (w < 0) Check(a, ARCHIVE_FATAL, "write data of " + e.rel);
    left -= n;
  }
}

// `cuts`: told before each entry, once the previous one is complete
// (padding included) in the writer's output.
void WriteTar(archive* a, const fs::path& dir, const LayerOptions& opts, TarSink* cuts) {
  std::map<std::pair<dev_t, ino_t>, std::string> first_link;
  EntryPtr entry(archive_entry_new());
  const std::string dir_prefix = dir.string() + "/";
  SortedWalk(dir, [&](const WalkEntry& e) {
    if (cuts) {
      Check(a, archive_write_finish_entry(a), "finish entry before " + e.rel);
      cuts->BeforeEntry(e.rel);
    }
    const std::string full = dir_prefix + e.rel;
    archive_entry_clear(entry.get());
    const struct stat& st = e.st;
    int64_t mtime = st.st_mtim.tv_sec;
    if (opts.source_date_epoch && mtime > *opts.source_date_epoch) mtime = *opts.source_date_epoch;
    archive_entry_set_mtime(entry.get(), mtime, 0);
    bool data = false;
    if (e.opaque_marker || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))) {
      // Whiteouts in the OCI form: an empty regular file named .wh.<name>.
      std::string rel = e.rel;
      if (!e.opaque_marker) {
        auto slash = rel.rfind('/');
        rel = (slash == std::string::npos ? std::string() : rel.substr(0, slash + 1)) + kWhiteoutPrefix +
              (slash == std::string::npos ? rel : rel.substr(slash + 1));
      }
      archive_entry_set_pathname(entry.get(), rel.c_str());
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_perm(entry.get(), 0);
      archive_entry_set_size(entry.get(), 0);
      Check(a, archive_write_header(a, entry.get()), "header of " + rel);
      return;
    }
    archive_entry_set_pathname(entry.get(), e.rel.c_str());
    std::optional<std::string> owner_record;
    const auto xattrs = Xattrs(full, owner_record);
    const sandbox::Owner owner = sandbox::OwnerOf(owner_record, st, full);
    archive_entry_set_uid(entry.get(), owner.uid);
    archive_entry_set_gid(entry.get(), owner.gid);
    archive_entry_set_perm(entry.get(), st.st_mode & 07777);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, inserted] = first_link.try_emplace({st.st_dev, st.st_ino}, e.rel);
      if (!inserted) {
        archive_entry_set_filetype(entry.get(), st.st_mode & S_IFMT);
        archive_entry_set_hardlink(entry.get(), it->second.c_str());
        archive_entry_set_size(entry.get(), 0);
        Check(a, archive_write_header(a, entry.get()), "header of " + e.rel);
        return;
      }
    }
    if (S_ISREG(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_size(entry.get(), st.st_size);
      data = st.st_size > 0;
    } else if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
    } else if (S_ISLNK(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      if (n < 0) ThrowErrno("write layer: readlink " + full);
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(entry.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), st.st_mode & S_IFMT);
      archive_entry_set_rdevmajor(entry.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(entry.get(), minor(st.st_rdev));
    } else {
      return;  // sockets are not archivable (tar has no type for them)
    }
    for (auto& [name, value] : xattrs)
      archive_entry_xattr_add_entry(entry.get(), name.c_str(), value.data(), value.size());
    Check(a, archive_write_header(a, entry.get()), "header of " + e.rel);
    if (!data) return;
    if (cuts) cuts->DataBegins();
    WriteFileData(a, e, full);
    if (cuts) cuts->DataEnds();
  }).Run();
}

la_ssize_t AppendToString(archive*, void* ctx, const void* buf, size_t n) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// Appends one gzip member holding `data` to `out`. `level`: "0" (stored)
// or "6" (`gzip -6`, the default of gzip, Go and docker).
void AppendMember(std::string_view data, const char* level, std::string& out) {
  ArchiveWritePtr z(archive_write_new());
  if (!z) throw Error("write layer: archive_write_new failed");
  Check(z.get(), archive_write_set_format_raw(z.get()), "set raw format");
  Check(z.get(), archive_write_add_filter_gzip(z.get()), "add gzip");
  // No mtime in the gzip header (reproducible).
  Check(z.get(), archive_write_set_filter_option(z.get(), "gzip", "timestamp", nullptr), "gzip:!timestamp");
  Check(z.get(), archive_write_set_filter_option(z.get(), "gzip", "compression-level", level), "gzip level");
  // Trailing zero padding after a gzip member breaks strict readers.
  Check(z.get(), archive_write_set_bytes_per_block(z.get(), 65536), "set block size");
  Check(z.get(), archive_write_set_bytes_in_last_block(z.get(), 1), "set last block");
  Check(z.get(), archive_write_open(z.get(), &out, nullptr, AppendToString, nullptr), "open gzip member");
  EntryPtr raw(archive_entry_new());
  archive_entry_set_pathname(raw.get(), "layer.tar");
  archive_entry_set_filetype(raw.get(), AE_IFREG);
  Check(z.get(), archive_write_header(z.get(), raw.get()), "raw header");
  if (archive_write_data(z.get(), data.data(), data.size()) < 0) Check(z.get(), ARCHIVE_FATAL, "compress");
  Check(z.get(), archive_write_close(z.get()), "close gzip member");
}

}  // namespace

bool LooksIncompressible(std::string_view data) {
  // Shorter runs: the estimate reads low, and storing them gains little. At
  // 7.9 bits a byte Huffman coding alone would save under 1.25%, and
  // deflate's matches find little in bytes this even.
  return data.size() >= kMinStoredRun && Entropy(data) >= 7.9;
}

namespace {

// The gzip member(s) for `chunk`: one at level 6, except that each run of
// file data that LooksIncompressible, with what follows it up to the next
// file data that doesn't, is a stored member of its own.
std::string CompressChunk(const Chunk& chunk) {
  const std::string_view bytes = chunk.bytes;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 64 + 64);
  size_t run_begin = 0;
  bool stored = false;
  for (auto [begin, end] : chunk.file_data) {
    const bool incompressible = LooksIncompressible(bytes.substr(begin, end - begin));
    if (incompressible == stored) continue;
    if (begin > run_begin) AppendMember(bytes.substr(run_begin, begin - run_begin), stored ? "0" : "6", out);
    run_begin = begin;
    stored = incompressible;
  }
  AppendMember(bytes.substr(run_begin), stored ? "0" : "6", out);
  return out;
}

// Members of an earlier blob, by the digest of the tar bytes they hold.
class MemberSource {
 public:
  MemberSource(const Store& store, const std::optional<Digest>& blob) {
    if (!blob) return;
    auto members = ReadGzipMembers(store, *blob);
    if (!members) return;
    fd_ = sandbox::UniqueFd(::open(store.BlobPath(*blob).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_.valid()) return;
    for (auto& m : *members) by_content_.emplace(m.content.hex, m);
  }
  // The compressed member holding exactly the bytes `content` names, or
  // nullopt. pread: safe from several threads.
  std::optional<std::string> Find(const Digest& content) const {
    auto it = by_content_.find(content.hex);
    if (it == by_content_.end()) return std::nullopt;
    std::string out(static_cast<size_t>(it->second.length), '\0');
    // The earlier blob is only a hint: a short read is no member.
    if (sandbox::PreadFull(fd_.get(), out.data(), out.size(), it->second.offset) != out.size()) return std::nullopt;
    if (!out.starts_with("\x1f\x8b\x08")) return std::nullopt;
    return out;
  }

 private:
  sandbox::UniqueFd fd_;
  std::unordered_map<std::string, GzipMember> by_content_;
};

// Compresses the queue's chunks as gzip members on `threads` threads (or
// copies them from `earlier`) and writes them to the blob in order. Returns
// the member map when the queue is closed and drained; throws the first
// error.
std::vector<GzipMember> CompressGzipMembers(ChunkQueue& queue, Store::BlobWriter& blob, unsigned threads,
                                            const MemberSource& earlier) {
  std::mutex mu;
  std::condition_variable turn;
  size_t next = 0;  // index of the member to write next
  std::vector<GzipMember> written;
  std::exception_ptr error;
  auto work = [&] {
    try {
      Chunk chunk;
      size_t index = 0;
      while (queue.Pop(chunk, &index)) {
        GzipMember m;
        m.content = Sha256Of(chunk.bytes);
        std::optional<std::string> member = earlier.Find(m.content);
        if (!member) member = CompressChunk(chunk);
        std::unique_lock l(mu);
        turn.wait(l, [&] { return next == index || error; });
        if (error) return;
        m.offset = blob.size();
        m.length = static_cast<int64_t>(member->size());
        blob.Write(member->data(), member->size());
        written.push_back(std::move(m));
        ++next;
        turn.notify_all();
      }
    } catch (...) {
      std::lock_guard l(mu);
      if (!error) error = std::current_exception();
      turn.notify_all();
      queue.Abort();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return written;
}

// The queue's chunks through one zstd stream (zstd is fast enough on one core).
void CompressZstd(ChunkQueue& queue, Store::BlobWriter& blob) {
  ArchiveWritePtr z(archive_write_new());
  if (!z) throw Error("write layer: archive_write_new failed");
  Check(z.get(), archive_write_set_format_raw(z.get()), "set raw format");
  Check(z.get(), archive_write_add_filter_zstd(z.get()), "add zstd");
  Check(z.get(), archive_write_set_bytes_per_block(z.get(), 65536), "set block size");
  Check(z.get(), archive_write_set_bytes_in_last_block(z.get(), 1), "set last block");
  BlobSink blob_sink{&blob, nullptr};
  if (archive_write_open(z.get(), &blob_sink, nullptr, BlobSinkWrite, nullptr) != ARCHIVE_OK) {
    if (blob_sink.error) std::rethrow_exception(blob_sink.error);
    Check(z.get(), ARCHIVE_FATAL, "open compressor");
  }
  EntryPtr raw(archive_entry_new());
  archive_entry_set_pathname(raw.get(), "layer.tar");
  archive_entry_set_filetype(raw.get(), AE_IFREG);
  Check(z.get(), archive_write_header(z.get(), raw.get()), "raw header");
  Chunk chunk;
  while (queue.Pop(chunk)) {
    if (archive_write_data(z.get(), chunk.bytes.data(), chunk.bytes.size()) < 0) {
      if (blob_sink.error) std::rethrow_exception(blob_sink.error);
      Check(z.get(), ARCHIVE_FATAL, "compress");
    }
  }
  if (archive_write_close(z.get()) != ARCHIVE_OK) {
    if (blob_sink.error) std::rethrow_exception(blob_sink.error);
    Check(z.get(), ARCHIVE_FATAL, "close compressor");
  }
}

// `block`: 0 passes every write straight to the sink (gzip cuts members
// at entry ends); the bytes are the same either way.
ArchiveWritePtr NewTarWriter(int block = 10240) {
  ArchiveWritePtr a(archive_write_new());
  if (!a) throw Error("write layer: archive_write_new failed");
  // Restricted PAX: plain ustar headers unless a name, id or xattr needs an
  // extension record; maximally readable.
  Check(a.get(), archive_write_set_format_pax_restricted(a.get()), "set format");
  Check(a.get(), archive_write_set_bytes_per_block(a.get(), block), "set block size");
  Check(a.get(), archive_write_set_bytes_in_last_block(a.get(), 1), "set last block");
  return a;
}

}  // namespace

Layer WriteLayer(const Store& store, const fs::path& dir, const LayerOptions& opts) {
  auto blob = store.NewBlob();
  TarSink tar_sink;
  std::string media_type = media::kOciLayerTar;

  if (opts.compression == Compression::kNone) {
    tar_sink.blob = &blob;
    ArchiveWritePtr a = NewTarWriter();
    if (archive_write_open(a.get(), &tar_sink, nullptr, TarSinkWrite, nullptr) != ARCHIVE_OK) {
      if (tar_sink.error) std::rethrow_exception(tar_sink.error);
      Check(a.get(), ARCHIVE_FATAL, "open");
    }
    try {
      WriteTar(a.get(), dir, opts, nullptr);
      if (archive_write_close(a.get()) != ARCHIVE_OK) Check(a.get(), ARCHIVE_FATAL, "close");
    } catch (...) {
      if (tar_sink.error) std::rethrow_exception(tar_sink.error);
      throw;
    }
    Layer layer;
    layer.blob = blob.Commit(media_type);  // hashed by the blob writer: digest == diff_id
    layer.diff_id = layer.blob.digest;
    return layer;
  }

  const bool gzip = opts.compression == Compression::kGzip;
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  // gzip: one member waiting (each thread also holds the one it is
  // compressing and its output; every member held is up to 1-2 MiB of peak
  // RSS). The tar side fills a member in a fraction of the time a thread
  // takes to compress one, so one is enough to keep every thread busy.
  ChunkQueue queue(gzip ? 1 : kMaxQueued);
  std::exception_ptr z_error;
  std::thread compressor;
  std::optional<MemberSource> earlier;
  std::vector<GzipMember> members;
  if (gzip) {
    media_type = media::kOciLayerGzip;
    tar_sink.chunk = kMemberMax;
    earlier.emplace(store, opts.reuse_gzip_members_of);
    compressor = std::thread([&] {
      try {
        members = CompressGzipMembers(queue, blob, threads, *earlier);
      } catch (...) {
        z_error = std::current_exception();
        queue.Abort();
      }
    });
  } else {
    media_type = media::kOciLayerZstd;
    compressor = std::thread([&] {
      try {
        CompressZstd(queue, blob);
      } catch (...) {
        z_error = std::current_exception();
        queue.Abort();
      }
    });
  }

  std::exception_ptr tar_error;
  tar_sink.queue = &queue;
  try {
    ArchiveWritePtr a = NewTarWriter(gzip ? 0 : 10240);
    if (archive_write_open(a.get(), &tar_sink, nullptr, TarSinkWrite, nullptr) != ARCHIVE_OK) {
      if (tar_sink.error) std::rethrow_exception(tar_sink.error);
      Check(a.get(), ARCHIVE_FATAL, "open");
    }
    WriteTar(a.get(), dir, opts, gzip ? &tar_sink : nullptr);
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
      if (tar_sink.error) std::rethrow_exception(tar_sink.error);
      Check(a.get(), ARCHIVE_FATAL, "close");
    }
    tar_sink.Flush();
    queue.Close();
  } catch (...) {
    tar_error = tar_sink.error ? tar_sink.error : std::current_exception();
    queue.Abort();
  }
  compressor.join();
  if (z_error) std::rethrow_exception(z_error);
  if (tar_error) std::rethrow_exception(tar_error);

  Layer layer;
  layer.diff_id = tar_sink.hash.Final();
  layer.blob = blob.Commit(media_type);  // the blob writer hashes the compressed bytes
  // A one-member layer has nothing to share with a later one.
  if (members.size() > 1 && !fs::exists(GzipMembersPath(store, layer.blob.digest)))
    WriteGzipMembers(store, layer.blob.digest, members);
  return layer;
}

}  // namespace kiln::oci
