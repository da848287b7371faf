// Helpers for the store/layer/layout tests: scratch dirs, hostile tars.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_util/scratch_dir.h"

namespace kiln::oci::ocitest {

using testutil::ScratchDir;

inline void WriteText(const std::filesystem::path& p, const std::string& s) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << s;
  if (!f) throw std::runtime_error("write " + p.string());
}

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One tar entry as a hostile (or benign) archive wants it.
struct T {
  T(std::string p, unsigned m, std::string d = "", std::string l = "")
      : path(std::move(p)), mode(m), data(std::move(d)), link(std::move(l)) {}
  std::string path;
  unsigned mode = S_IFREG | 0644;
  std::string data;
  std::string link;  // symlink target, or hardlink target when hardlink
  bool hardlink = false;
  int64_t uid = 0, gid = 0;
  unsigned rdev_major = 0, rdev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline T F(std::string p, std::string d, unsigned perm = 0644) { return {std::move(p), S_IFREG | perm, std::move(d)}; }
inline T D(std::string p, unsigned perm = 0755) { return {std::move(p), S_IFDIR | perm}; }
inline T L(std::string p, std::string target) { return {std::move(p), S_IFLNK | 0777, "", std::move(target)}; }
inline T H(std::string p, std::string target) {
  T t{std::move(p), S_IFREG | 0644, "", std::move(target)};
  t.hardlink = true;
  return t;
}

enum class Z { kNone, kGzip, kZstd };

inline void MakeTar(const std::filesystem::path& out, const std::vector<T>& entries, Z z = Z::kGzip) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (z == Z::kGzip) archive_write_add_filter_gzip(a);
  if (z == Z::kZstd) archive_write_add_filter_zstd(a);
  if (archive_write_open_filename(a, out.c_str()) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_mode(e, t.mode);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, 1000, 0);
    if (t.hardlink) {
      archive_entry_set_hardlink(e, t.link.c_str());
      archive_entry_set_size(e, 0);
    } else if (S_ISLNK(t.mode)) {
      archive_entry_set_symlink(e, t.link.c_str());
    } else if (S_ISREG(t.mode)) {
      archive_entry_set_size(e, static_cast<int64_t>(t.data.size()));
    }
    if (S_ISCHR(t.mode) || S_ISBLK(t.mode)) {
      archive_entry_set_rdevmajor(e, t.rdev_major);
      archive_entry_set_rdevminor(e, t.rdev_minor);
    }
    for (auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    if (archive_write_header(a, e) < ARCHIVE_WARN) throw std::runtime_error(archive_error_string(a));
    if (!t.data.empty() && !t.hardlink) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

inline bool HaveTool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace kiln::oci::ocitest
