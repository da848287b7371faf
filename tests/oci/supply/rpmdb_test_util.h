// Test helpers for the rpm database readers: the committed rpmdb.sqlite
// fixture (tests/data/rpmdb/, made by rpm 4.18, see its README.md), its
// header blobs, and ndb Packages.db files laid out from them as rpm's
// lib/backend/ndb/rpmpkg.c writes them (Debian's rpm has no ndb backend to
// make a real one with).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "oci/supply/sqlite_db.h"
#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci::testing {

inline std::string ReadTestDataFile(const std::string& rel) {
  std::ifstream in(TestData() + "/" + rel, std::ios::binary);
  if (!in) throw std::runtime_error("missing test data " + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string RpmdbSqliteFixture() { return ReadTestDataFile("rpmdb/rpmdb.sqlite"); }

// (hnum, header blob) of every package in the fixture.
inline std::vector<std::pair<uint32_t, std::string>> RpmdbFixtureBlobs() {
  std::string db = RpmdbSqliteFixture();
  std::vector<std::pair<uint32_t, std::string>> out;
  SqliteDb(db, "fixture").ForEachRow("Packages", [&](int64_t hnum, const std::vector<SqliteValue>& c) {
    out.emplace_back(static_cast<uint32_t>(hnum), c.at(1).bytes);
  });
  return out;
}

inline void PutLe32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

inline uint32_t TestAdler32(std::string_view s) {
  uint64_t a = 1, b = 0;
  for (unsigned char c : s) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return static_cast<uint32_t>(b << 16 | a);
}

// An ndb Packages.db holding `blobs`: one slot page whose first slot is free,
// then slots and blobs in reverse order (so neither is in package-index order).
inline std::string MakeNdbPackages(const std::vector<std::pair<uint32_t, std::string>>& blobs) {
  std::string f(4096, '\0');
  f.replace(0, 4, "RpmP");
  PutLe32(f, 8, 7);   // generation
  PutLe32(f, 12, 1);  // slot pages
  PutLe32(f, 16, 100);
  for (size_t at = 32; at < 4096; at += 16) f.replace(at, 4, "Slot");
  size_t slot = 48;  // the slot at 32 stays free
  for (size_t i = blobs.size(); i-- > 0;) {
    const auto& [idx, blob] = blobs[i];
    size_t blkcnt = (16 + blob.size() + 12 + 15) / 16;
    size_t off = f.size();
    std::string rec(blkcnt * 16, '\0');
    rec.replace(0, 4, "BlbS");
    PutLe32(rec, 4, idx);
    PutLe32(rec, 8, 1700000000);
    PutLe32(rec, 12, static_cast<uint32_t>(blob.size()));
    rec.replace(16, blob.size(), blob);
    PutLe32(rec, rec.size() - 12, TestAdler32(std::string_view(rec).substr(0, rec.size() - 12)));
    PutLe32(rec, rec.size() - 8, static_cast<uint32_t>(blob.size()));
    rec.replace(rec.size() - 4, 4, "BlbE");
    f += rec;
    PutLe32(f, slot + 4, idx);
    PutLe32(f, slot + 8, static_cast<uint32_t>(off / 16));
    PutLe32(f, slot + 12, static_cast<uint32_t>(blkcnt));
    slot += 16;
  }
  return f;
}

}  // namespace kiln::oci::testing
