// Reading layer blobs: path normalisation and ForEachEntry (no disk writes).
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_internal.h"
#include "oci/layer/layer_read.h"
#include "oci/layer/layer_stream.h"

namespace kiln::oci {

std::string NormalizeTarPath(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view comp = name.substr(i, j - i);
    if (comp == "..") throw Error("tar entry \"" + std::string(name) + "\": \"..\" component");
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    i = j + 1;
  }
  if (out.find('\0') != std::string::npos) throw Error("tar entry name contains NUL");
  return out;
}

void ArchiveReadDeleter::operator()(archive* a) const { archive_read_free(a); }

namespace {

// The archive's client data: freed by libarchive's close callback, so the
// stream lives exactly as long as the archive.
struct StreamSource {
  explicit StreamSource(const std::filesystem::path& blob) : stream(blob), buf(1 << 17) {}
  LayerStream stream;
  std::vector<char> buf;
};

la_ssize_t ReadStream(archive* a, void* data, const void** out) {
  auto* src = static_cast<StreamSource*>(data);
  // No exception may cross libarchive's C frames: it becomes the archive's
  // error, which every caller reports with ArchiveError().
  try {
    *out = src->buf.data();
    return static_cast<la_ssize_t>(src->stream.Read(src->buf.data(), src->buf.size()));
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

int CloseStream(archive*, void* data) {
  delete static_cast<StreamSource*>(data);
  return ARCHIVE_OK;
}

}  // namespace

ArchiveReadPtr OpenLayerBlob(const std::filesystem::path& blob, LayerStream** stream) {
  ArchiveReadPtr a(archive_read_new());
  if (!a) throw Error("read layer: archive_read_new failed");
  // LayerStream undoes gzip, zstd, bzip2 and xz (what docker's ADD
  // extracts too), detected from the bytes; libarchive sees a tar.
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  auto src = std::make_unique<StreamSource>(blob);
  if (stream) *stream = &src->stream;
  // From here libarchive owns `src` (CloseStream), even when opening fails.
  if (archive_read_open(a.get(), src.release(), nullptr, ReadStream, CloseStream) != ARCHIVE_OK)
    throw Error("read layer " + blob.string() + ": " + ArchiveError(a.get()));
  return a;
}

std::string ArchiveError(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

void ForEachEntry(const std::filesystem::path& blob, const std::function<void(const TarEntry&, const ReadFn&)>& fn) {
  LayerStream* stream = nullptr;
  ArchiveReadPtr a = OpenLayerBlob(blob, &stream);
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw Error("read layer " + blob.string() + ": " + ArchiveError(a.get()));
    TarEntry t;
    const char* name = archive_entry_pathname(e);
    t.path = NormalizeTarPath(name ? name : "");
    t.mode = archive_entry_mode(e);
    t.size = archive_entry_size(e);
    t.uid = archive_entry_uid(e);
    t.gid = archive_entry_gid(e);
    if (const char* h = archive_entry_hardlink(e)) {
      t.hardlink = true;
      t.link_target = NormalizeTarPath(h);
    } else if (const char* s = archive_entry_symlink(e)) {
      t.link_target = s;
    }
    bool eof = false;
    ReadFn read = [&](void* buf, size_t size) -> long {
      if (eof) return 0;
      la_ssize_t n = archive_read_data(a.get(), buf, size);
      if (n < 0) throw Error("read layer " + blob.string() + ": " + t.path + ": " + ArchiveError(a.get()));
      if (n == 0) eof = true;
      return static_cast<long>(n);
    };
    fn(t, read);
  }
  stream->Finish();  // what follows the tar is checked too
}

}  // namespace kiln::oci
