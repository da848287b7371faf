#include "oci/layer/layer_compress.h"

#include <fcntl.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "oci/entropy.h"
#include "oci/error.h"
#include "oci/layer/layer_internal.h"
#include "sandbox/file_io.h"

namespace kiln::oci {

namespace {

// File data shorter than this is compressed whatever it looks like.
constexpr size_t kMinStoredRun = 2048;

la_ssize_t AppendToString(archive*, void* ctx, const void* buf, size_t n) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// Appends one gzip member holding `data` to `out`. `level`: "0" (stored)
// or "6" (`gzip -6`, the default of gzip, Go and docker).
void AppendMember(std::string_view data, const char* level, std::string& out) {
  ArchiveWritePtr z(archive_write_new());
  if (!z) throw Error("write layer: archive_write_new failed");
  CheckArchiveWrite(z.get(), archive_write_set_format_raw(z.get()), "set raw format");
  CheckArchiveWrite(z.get(), archive_write_add_filter_gzip(z.get()), "add gzip");
  // No mtime in the gzip header (reproducible).
  CheckArchiveWrite(z.get(), archive_write_set_filter_option(z.get(), "gzip", "timestamp", nullptr), "gzip:!timestamp");
  CheckArchiveWrite(z.get(), archive_write_set_filter_option(z.get(), "gzip", "compression-level", level), "gzip level");
  // Trailing zero padding after a gzip member breaks strict readers.
  CheckArchiveWrite(z.get(), archive_write_set_bytes_per_block(z.get(), 65536), "set block size");
  CheckArchiveWrite(z.get(), archive_write_set_bytes_in_last_block(z.get(), 1), "set last block");
  CheckArchiveWrite(z.get(), archive_write_open(z.get(), &out, nullptr, AppendToString, nullptr), "open gzip member");
  EntryPtr raw(archive_entry_new());
  archive_entry_set_pathname(raw.get(), "layer.tar");
  archive_entry_set_filetype(raw.get(), AE_IFREG);
  CheckArchiveWrite(z.get(), archive_write_header(z.get(), raw.get()), "raw header");
  if (archive_write_data(z.get(), data.data(), data.size()) < 0) CheckArchiveWrite(z.get(), ARCHIVE_FATAL, "compress");
  CheckArchiveWrite(z.get(), archive_write_close(z.get()), "close gzip member");
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

}  // namespace

std::vector<GzipMember> CompressGzipMembers(ChunkQueue& queue, Store::BlobWriter& blob, unsigned threads,
                                            const Store& store, const std::optional<Digest>& reuse_members_of) {
  const MemberSource earlier(store, reuse_members_of);
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

void CompressZstd(ChunkQueue& queue, Store::BlobWriter& blob, unsigned threads) {
  ArchiveWritePtr z(archive_write_new());
  if (!z) throw Error("write layer: archive_write_new failed");
  CheckArchiveWrite(z.get(), archive_write_set_format_raw(z.get()), "set raw format");
  CheckArchiveWrite(z.get(), archive_write_add_filter_zstd(z.get()), "add zstd");
  // zstd's own worker threads, as `zstd -T0` uses: one core compressed at
  // 1.6x the time of `tar | zstd -T0 -3` here. Any worker count >= 1 gives
  // the same bytes, so the blob does not depend on the machine.
  const std::string workers = std::to_string(std::max(1U, threads));
  CheckArchiveWrite(z.get(), archive_write_set_filter_option(z.get(), "zstd", "threads", workers.c_str()),
                    "zstd threads");
  CheckArchiveWrite(z.get(), archive_write_set_bytes_per_block(z.get(), 65536), "set block size");
  CheckArchiveWrite(z.get(), archive_write_set_bytes_in_last_block(z.get(), 1), "set last block");
  BlobSink blob_sink{&blob, nullptr};
  if (archive_write_open(z.get(), &blob_sink, nullptr, BlobSinkWrite, nullptr) != ARCHIVE_OK) {
    if (blob_sink.error) std::rethrow_exception(blob_sink.error);
    CheckArchiveWrite(z.get(), ARCHIVE_FATAL, "open compressor");
  }
  EntryPtr raw(archive_entry_new());
  archive_entry_set_pathname(raw.get(), "layer.tar");
  archive_entry_set_filetype(raw.get(), AE_IFREG);
  CheckArchiveWrite(z.get(), archive_write_header(z.get(), raw.get()), "raw header");
  Chunk chunk;
  while (queue.Pop(chunk)) {
    if (archive_write_data(z.get(), chunk.bytes.data(), chunk.bytes.size()) < 0) {
      if (blob_sink.error) std::rethrow_exception(blob_sink.error);
      CheckArchiveWrite(z.get(), ARCHIVE_FATAL, "compress");
    }
  }
  if (archive_write_close(z.get()) != ARCHIVE_OK) {
    if (blob_sink.error) std::rethrow_exception(blob_sink.error);
    CheckArchiveWrite(z.get(), ARCHIVE_FATAL, "close compressor");
  }
}

}  // namespace kiln::oci
