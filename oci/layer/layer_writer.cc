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
#include "oci/layer/layer_compress.h"
#include "oci/layer/layer_internal.h"
#include "oci/layer/layer_walk.h"
#include "sandbox/owner_record.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kMemberMin = 256 << 10;
constexpr size_t kMemberMax = 1 << 20;

// One entry in 16 is a cut point (FNV-1a of the path, mixed).
bool IsCutPoint(std::string_view path) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return (h & 15) == 0;
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
    if (w < 0) CheckArchiveWrite(a, ARCHIVE_FATAL, "write data of " + e.rel);
    left -= n;
  }
}

// `cuts`: told before each entry, once the previous one is complete
// (padding included) in the writer's output.
void WriteTar(archive* a, const fs::path& dir, const LayerOptions& opts, TarSink* cuts) {
  std::map<std::pair<dev_t, ino_t>, std::string> first_link;
  EntryPtr entry(archive_entry_new());
  const std::string dir_prefix = dir.string() + "/";
  WalkSorted(dir, [&](const WalkEntry& e) {
    if (cuts) {
      CheckArchiveWrite(a, archive_write_finish_entry(a), "finish entry before " + e.rel);
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
      CheckArchiveWrite(a, archive_write_header(a, entry.get()), "header of " + rel);
      return;
    }
    archive_entry_set_pathname(entry.get(), e.rel.c_str());
    std::optional<std::string> owner_record;
    const auto xattrs = LayerXattrs(full, owner_record);
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
        CheckArchiveWrite(a, archive_write_header(a, entry.get()), "header of " + e.rel);
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
    CheckArchiveWrite(a, archive_write_header(a, entry.get()), "header of " + e.rel);
    if (!data) return;
    if (cuts) cuts->DataBegins();
    WriteFileData(a, e, full);
    if (cuts) cuts->DataEnds();
  });
}

// `block`: 0 passes every write straight to the sink (gzip cuts members
// at entry ends); the bytes are the same either way.
ArchiveWritePtr NewTarWriter(int block = 10240) {
  ArchiveWritePtr a(archive_write_new());
  if (!a) throw Error("write layer: archive_write_new failed");
  // Restricted PAX: plain ustar headers unless a name, id or xattr needs an
  // extension record; maximally readable.
  CheckArchiveWrite(a.get(), archive_write_set_format_pax_restricted(a.get()), "set format");
  CheckArchiveWrite(a.get(), archive_write_set_bytes_per_block(a.get(), block), "set block size");
  CheckArchiveWrite(a.get(), archive_write_set_bytes_in_last_block(a.get(), 1), "set last block");
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
      CheckArchiveWrite(a.get(), ARCHIVE_FATAL, "open");
    }
    try {
      WriteTar(a.get(), dir, opts, nullptr);
      if (archive_write_close(a.get()) != ARCHIVE_OK) CheckArchiveWrite(a.get(), ARCHIVE_FATAL, "close");
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
  std::vector<GzipMember> members;
  if (gzip) {
    media_type = media::kOciLayerGzip;
    tar_sink.chunk = kMemberMax;
    compressor = std::thread([&] {
      try {
        members = CompressGzipMembers(queue, blob, threads, store, opts.reuse_gzip_members_of);
      } catch (...) {
        z_error = std::current_exception();
        queue.Abort();
      }
    });
  } else {
    media_type = media::kOciLayerZstd;
    compressor = std::thread([&] {
      try {
        CompressZstd(queue, blob, threads);
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
      CheckArchiveWrite(a.get(), ARCHIVE_FATAL, "open");
    }
    WriteTar(a.get(), dir, opts, gzip ? &tar_sink : nullptr);
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
      if (tar_sink.error) std::rethrow_exception(tar_sink.error);
      CheckArchiveWrite(a.get(), ARCHIVE_FATAL, "close");
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
