#include "oci/layer/layer_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "oci/error.h"
#include "sandbox/file_io.h"

namespace kiln::oci {

namespace {

constexpr size_t kStreamChunk = 1 << 17;

// The compressed bytes, read in chunks; offset() is the position of the
// next unread byte in the file, for messages.
class CompressedInput {
 public:
  explicit CompressedInput(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), buf_(kStreamChunk) {
    if (!fd_.valid()) ThrowErrno("read layer " + path.string());
  }
  const unsigned char* data() const { return buf_.data() + pos_; }
  size_t avail() const { return end_ - pos_; }
  void Consume(size_t n) { pos_ += n; }
  int64_t offset() const { return base_ + static_cast<int64_t>(pos_); }
  // Reads more, keeping what is unread; false at the end of the file.
  bool Fill() {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      base_ += static_cast<int64_t>(pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) return true;
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf_.data() + end_, buf_.size() - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("read");
      end_ += static_cast<size_t>(n);
      return n > 0;
    }
  }
  // At least `n` bytes available unless the file is shorter.
  void Want(size_t n) {
    while (avail() < n && Fill()) {
    }
  }

 private:
  sandbox::UniqueFd fd_;
  std::vector<unsigned char> buf_;
  size_t pos_ = 0, end_ = 0;
  int64_t base_ = 0;
};

bool HasMagic(const CompressedInput& in, std::initializer_list<unsigned char> magic) {
  if (in.avail() < magic.size()) return false;
  return std::equal(magic.begin(), magic.end(), in.data());
}

}  // namespace

class LayerStream::Decoder {
 public:
  explicit Decoder(std::string format) : format_(std::move(format)) {}
  virtual ~Decoder() = default;
  // Throws oci::Error (without the blob's name) on bad data.
  virtual size_t Read(void* buf, size_t size) = 0;
  const std::string& format() const { return format_; }

 private:
  std::string format_;
};

namespace {

class PlainDecoder : public LayerStream::Decoder {
 public:
  explicit PlainDecoder(CompressedInput in) : Decoder("tar"), in_(std::move(in)) {}
  size_t Read(void* buf, size_t size) override {
    if (in_.avail() == 0 && !in_.Fill()) return 0;
    size_t n = std::min(size, in_.avail());
    std::memcpy(buf, in_.data(), n);
    in_.Consume(n);
    return n;
  }

 private:
  CompressedInput in_;
};

// RFC 1952 members, one after another; zlib checks each one's CRC-32 and
// length (Z_DATA_ERROR "incorrect data check" / "incorrect length check").
class GzipDecoder : public LayerStream::Decoder {
 public:
  explicit GzipDecoder(CompressedInput in) : Decoder("gzip"), in_(std::move(in)) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw Error("gzip: inflateInit2 failed");
  }
  ~GzipDecoder() override { inflateEnd(&z_); }

  size_t Read(void* buf, size_t size) override {
    if (done_ || size == 0) return 0;
    z_.next_out = static_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    const uInt want = z_.avail_out;
    while (z_.avail_out == want) {
      if (in_.avail() == 0 && !in_.Fill())
        throw Error("gzip stream is truncated at byte " + std::to_string(in_.offset()) + " (member " +
                    std::to_string(members_ + 1) + " has no end)");
      z_.next_in = const_cast<Bytef*>(in_.data());
      z_.avail_in = static_cast<uInt>(in_.avail());
      const int r = inflate(&z_, Z_NO_FLUSH);
      in_.Consume(in_.avail() - z_.avail_in);
      if (r == Z_STREAM_END) {
        ++members_;
        if (!NextMember()) {
          done_ = true;
          break;
        }
        continue;
      }
      if (r != Z_OK) {
        std::string why = z_.msg ? z_.msg : "zlib error " + std::to_string(r);
        if (why == "incorrect data check") why += " (the CRC-32 in the member's trailer does not match its data)";
        if (why == "incorrect length check") why += " (the length in the member's trailer does not match its data)";
        throw Error("gzip member " + std::to_string(members_ + 1) + " is corrupt near byte " +
                    std::to_string(in_.offset()) + ": " + why);
      }
    }
    return want - z_.avail_out;
  }

 private:
  // After a member only another member (magic 1f 8b) or the end of the file
  // may come: anything else is data no digest of the content covers.
  bool NextMember() {
    in_.Want(2);
    if (in_.avail() == 0) return false;
    if (!HasMagic(in_, {0x1f, 0x8b}))
      throw Error("trailing data after the last gzip member, at byte " + std::to_string(in_.offset()));
    if (inflateReset(&z_) != Z_OK) throw Error("gzip: inflateReset failed");
    return true;
  }

  CompressedInput in_;
  z_stream z_{};
  bool done_ = false;
  int64_t members_ = 0;
};

// zstd frames, one after another; the library checks each frame's checksum
// (when it has one) and rejects bytes that are not a frame.
class ZstdDecoder : public LayerStream::Decoder {
 public:
  explicit ZstdDecoder(CompressedInput in) : Decoder("zstd"), in_(std::move(in)), ds_(ZSTD_createDStream()) {
    if (!ds_) throw Error("zstd: ZSTD_createDStream failed");
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(ds_); }

  size_t Read(void* buf, size_t size) override {
    if (done_ || size == 0) return 0;
    ZSTD_outBuffer out{buf, size, 0};
    while (out.pos == 0) {
      const bool have = in_.avail() > 0 || in_.Fill();
      if (!have && hint_ == 0) {
        done_ = true;
        break;
      }
      ZSTD_inBuffer in{in_.data(), in_.avail(), 0};
      const size_t r = ZSTD_decompressStream(ds_, &out, &in);
      in_.Consume(in.pos);
      if (ZSTD_isError(r))
        throw Error("zstd stream is corrupt near byte " + std::to_string(in_.offset()) + ": " + ZSTD_getErrorName(r));
      hint_ = r;
      if (!have && out.pos == 0)
        throw Error("zstd stream is truncated at byte " + std::to_string(in_.offset()) + " (the last frame has no end)");
    }
    return out.pos;
  }

 private:
  CompressedInput in_;
  ZSTD_DStream* ds_;
  size_t hint_ = 0;  // 0: between frames
  bool done_ = false;
};

// bzip2 and xz (ADD of a local archive), decoded by libarchive's filters.
class ArchiveDecoder : public LayerStream::Decoder {
 public:
  ArchiveDecoder(const std::filesystem::path& path, std::string format)
      : Decoder(std::move(format)), a_(archive_read_new()) {
    if (!a_) throw Error("archive_read_new failed");
    archive_read_support_filter_bzip2(a_);
    archive_read_support_filter_xz(a_);
    archive_read_support_format_raw(a_);
    archive_entry* e = nullptr;
    if (archive_read_open_filename(a_, path.c_str(), kStreamChunk) != ARCHIVE_OK ||
        archive_read_next_header(a_, &e) != ARCHIVE_OK) {
      const std::string m = Message();
      archive_read_free(a_);  // no destructor for a half-made object
      throw Error(m);
    }
  }
  ~ArchiveDecoder() override { archive_read_free(a_); }
  size_t Read(void* buf, size_t size) override {
    la_ssize_t n = archive_read_data(a_, buf, size);
    if (n < 0) throw Error(Message());
    return static_cast<size_t>(n);
  }

 private:
  std::string Message() {
    const char* s = archive_error_string(a_);
    return format() + ": " + (s ? s : "unknown libarchive error");
  }
  archive* a_;
};

}  // namespace

LayerStream::LayerStream(const std::filesystem::path& blob) : blob_(blob) {
  CompressedInput in(blob);
  in.Want(6);
  if (HasMagic(in, {0x1f, 0x8b})) decoder_ = std::make_unique<GzipDecoder>(std::move(in));
  else if (HasMagic(in, {0x28, 0xb5, 0x2f, 0xfd})) decoder_ = std::make_unique<ZstdDecoder>(std::move(in));
  else if (HasMagic(in, {'B', 'Z', 'h'})) decoder_ = std::make_unique<ArchiveDecoder>(blob, "bzip2");
  else if (HasMagic(in, {0xfd, '7', 'z', 'X', 'Z', 0x00})) decoder_ = std::make_unique<ArchiveDecoder>(blob, "xz");
  else decoder_ = std::make_unique<PlainDecoder>(std::move(in));
}

LayerStream::~LayerStream() = default;

const std::string& LayerStream::format() const { return decoder_->format(); }

size_t LayerStream::Read(void* buf, size_t size) {
  size_t n;
  try {
    n = decoder_->Read(buf, size);
  } catch (const Error& e) {
    throw Error("layer " + blob_.string() + ": " + e.what());
  }
  hash_.Update(buf, n);
  return n;
}

Digest LayerStream::Finish() {
  std::vector<char> buf(kStreamChunk);
  while (Read(buf.data(), buf.size()) > 0) {
  }
  return hash_.Final();
}

Digest LayerDiffId(const std::filesystem::path& blob) { return LayerStream(blob).Finish(); }

}  // namespace kiln::oci
