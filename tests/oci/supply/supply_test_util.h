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

#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci::testing {

// Entries and tars are the ones the other oci tests write (ocicore_test_util.h).
using FakeEntry = ocitest::T;

inline FakeEntry File(std::string p, std::string d, unsigned perm = 0644) { return {std::move(p), S_IFREG | perm, std::move(d)}; }
inline FakeEntry Dir(std::string p, unsigned perm = 0755) { return {std::move(p), S_IFDIR | perm}; }
inline FakeEntry Symlink(std::string p, std::string target) { return {std::move(p), S_IFLNK | 0777, "", std::move(target)}; }
inline FakeEntry Hardlink(std::string p, std::string target, unsigned perm) {
  FakeEntry e{std::move(p), S_IFREG | perm, "", std::move(target)};
  e.hardlink = true;
  return e;
}
inline FakeEntry Whiteout(std::string p) { return File(std::move(p), ""); }

inline void WriteTar(const std::filesystem::path& out, const std::vector<FakeEntry>& entries, bool gzip = true) {
  ocitest::MakeTar(out, entries, gzip ? ocitest::Z::kGzip : ocitest::Z::kNone);
}

// The one scratch directory of the oci tests.
using TempDir = ocitest::ScratchDir;

inline std::string TestData() {
  const char* env = std::getenv("KILN_TEST_DATA");
  return env ? env : KILN_TEST_DATA;
}

}  // namespace kiln::oci::testing
