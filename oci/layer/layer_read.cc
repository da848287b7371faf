// Reading layer blobs: path normalisation and ForEachEntry (no disk writes).
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <vector>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_internal.h"
#include "oci/layer/layer_read.h"

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

ArchiveReadPtr OpenLayerBlob(const std::filesystem::path& blob) {
  ArchiveReadPtr a(archive_read_new());
  if (!a) throw Error("read layer: archive_read_new failed");
  // Detected from the bytes: gzip, zstd or plain (layers), and bzip2 and xz
  // too, the rest of what docker's ADD extracts.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), blob.c_str(), 1 << 17) != ARCHIVE_OK)
    throw Error("read layer " + blob.string() + ": " + ArchiveError(a.get()));
  return a;
}

std::string ArchiveError(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

void ForEachEntry(const std::filesystem::path& blob, const std::function<void(const TarEntry&, const ReadFn&)>& fn) {
  ArchiveReadPtr a = OpenLayerBlob(blob);
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
}

}  // namespace kiln::oci
