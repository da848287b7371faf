// Test helpers for the supply-chain tests: real gzip tar layer blobs written
// with libarchive into a per-test temp dir.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::oci::testing {

struct FakeEntry {
  std::string path;
  std::string data;
  unsigned mode = S_IFREG | 0644;
  std::string link;      // symlink target, or hardlink target when hardlink
  bool hardlink = false;
  int uid = 0, gid = 0;
};

inline FakeEntry File(std::string p, std::string d, unsigned perm = 0644) {
  return {std::move(p), std::move(d), S_IFREG | perm, "", false, 0, 0};
}
inline FakeEntry Dir(std::string p, unsigned perm = 0755) { return {std::move(p), "", S_IFDIR | perm, "", false, 0, 0}; }
inline FakeEntry Symlink(std::string p, std::string target) {
  return {std::move(p), "", S_IFLNK | 0777, std::move(target), false, 0, 0};
}
inline FakeEntry Hardlink(std::string p, std::string target, unsigned perm) {
  return {std::move(p), "", S_IFREG | perm, std::move(target), true, 0, 0};
}
inline FakeEntry Whiteout(std::string p) { return File(std::move(p), ""); }

inline void WriteTar(const std::filesystem::path& out, const std::vector<FakeEntry>& entries, bool gzip = true) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  if (archive_write_open_filename(a, out.c_str()) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
  for (const auto& f : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, f.path.c_str());
    archive_entry_set_mode(e, f.mode);
    archive_entry_set_uid(e, f.uid);
    archive_entry_set_gid(e, f.gid);
    archive_entry_set_mtime(e, 1000, 0);
    if (f.hardlink) {
      archive_entry_set_hardlink(e, f.link.c_str());
      archive_entry_set_size(e, 0);
    } else {
      if (S_ISLNK(f.mode)) archive_entry_set_symlink(e, f.link.c_str());
      archive_entry_set_size(e, S_ISREG(f.mode) ? static_cast<la_int64_t>(f.data.size()) : 0);
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
    if (S_ISREG(f.mode) && !f.hardlink && !f.data.empty()) archive_write_data(a, f.data.data(), f.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kiln-supply-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string TestData() {
  const char* env = std::getenv("KILN_TEST_DATA");
  return env ? env : KILN_TEST_DATA;
}

}  // namespace kiln::oci::testing
