// Shared by the layer .cc files; not part of the public contract.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "oci/error.h"
#include "oci/store/store.h"

namespace kiln::oci {

inline constexpr const char* kWhiteoutPrefix = ".wh.";
inline constexpr const char* kOpaqueWhiteout = ".wh..wh..opq";

// Tar entry name -> clean relative path ("./a//b/" -> "a/b", "/x" -> "x",
// "." -> ""). Throws oci::Error when a ".." component appears.
std::string NormalizeTarPath(std::string_view name);

// True when deflate would gain next to nothing on `data` (compressed or
// random bytes: order-0 entropy of 7.9 bits a byte or more), and it is long
// enough for that estimate; gzip layers store such file data (level 0).
bool LooksIncompressible(std::string_view data);

// libarchive writers and entries, owned; failures as oci::Error.
struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

inline void CheckArchiveWrite(archive* a, int r, const std::string& what) {
  if (r < ARCHIVE_WARN)
    throw Error("write layer: " + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "unknown error"));
}

// Output of the compressing writer: into the store (which hashes it).
struct BlobSink {
  Store::BlobWriter* blob;
  std::exception_ptr error;
};

inline la_ssize_t BlobSinkWrite(archive*, void* ctx, const void* buf, size_t n) {
  auto* s = static_cast<BlobSink*>(ctx);
  try {
    s->blob->Write(buf, n);
  } catch (...) {
    s->error = std::current_exception();
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}


}  // namespace kiln::oci
