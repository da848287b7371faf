#include "oci/sqlite_reader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "oci/error.h"
#include "tests/oci/supply_test_util.h"

namespace kiln::oci {
namespace {

// Fixtures made by tests/data/sqlite/make-fixture.sh with the sqlite3 shell.
std::string ReadSqliteFixture(const std::string& name) {
  std::ifstream in(testing::TestData() + "/sqlite/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

using T = SqliteValue::Type;

// One line per row, every value spelled out: two scans that agree on it
// read the same data.
std::string DumpTable(const SqliteDb& db, const std::string& table) {
  std::string out;
  db.ForEachRow(table, [&](int64_t rowid, const std::vector<SqliteValue>& cols) {
    out += std::to_string(rowid) + ":";
    for (const auto& v : cols) {
      switch (v.type) {
        case T::kNull: out += " null"; break;
        case T::kInteger: out += " i" + std::to_string(v.integer); break;
        case T::kReal: out += " r" + std::to_string(v.real); break;
        case T::kText: out += " t" + v.bytes; break;
        case T::kBlob: out += " b" + std::to_string(v.bytes.size()); break;
      }
    }
    out += "\n";
  });
  return out;
}

void PutBe32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

// Makes the file's page count come from its size: the header's own count is
// only trusted when "version-valid-for" matches the change counter.
void DistrustHeaderPageCount(std::string& db) { PutBe32(db, 92, 0xdeadbeef); }

int64_t ExpectedI(int64_t k) {
  switch (k % 9) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -100;
    case 3: return 30000;
    case 4: return -8000000;
    case 5: return 2000000000;
    case 6: return -100000000000;
    case 7: return 9000000000000000000;
    default: return 0;
  }
}

TEST(SqliteReader, SmallPagesDeepTreeOverflowAndAllSerialTypes) {
  std::string data = ReadSqliteFixture("small-pages.sqlite");
  SqliteDb db(data, "small-pages.sqlite");
  EXPECT_EQ(db.page_size(), 512u);
  EXPECT_EQ(db.usable_size(), 504u);  // 8 reserved bytes
  EXPECT_EQ(db.page_count(), data.size() / 512);
  int64_t n = 0;
  size_t overflowed = 0;
  db.ForEachRow("T", [&](int64_t rowid, const std::vector<SqliteValue>& c) {  // names are case-insensitive
    ++n;
    ASSERT_EQ(rowid, n);  // rowid order
    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].type, T::kNull) << "INTEGER PRIMARY KEY is the rowid, stored as NULL";
    if (rowid % 9 == 8) {
      EXPECT_EQ(c[1].type, T::kNull);
    } else {
      EXPECT_EQ(c[1].type, T::kInteger);
      EXPECT_EQ(c[1].integer, ExpectedI(rowid)) << rowid;
    }
    EXPECT_EQ(c[2].type, T::kReal);
    EXPECT_EQ(c[2].real, static_cast<double>(rowid) + 0.5);
    ASSERT_EQ(c[3].type, T::kText);
    if (rowid % 97 == 0) {
      char unit[8];
      std::snprintf(unit, sizeof unit, "%05d|", static_cast<int>(rowid));
      std::string want;
      for (int i = 0; i < 500; ++i) want += unit;
      EXPECT_EQ(c[3].bytes, want) << rowid;  // 3000 bytes over overflow pages of 500
      ++overflowed;
    } else {
      EXPECT_EQ(c[3].bytes, "row " + std::to_string(rowid));
    }
    if (rowid % 2 == 0) {
      EXPECT_EQ(c[4].type, T::kBlob);
      EXPECT_EQ(c[4].bytes, std::string("\x00\xff\x10", 3));
    } else {
      EXPECT_EQ(c[4].type, T::kNull);
    }
  });
  EXPECT_EQ(n, 2000);
  EXPECT_EQ(overflowed, 20u);
  // The table's root and its first child are both interior pages: 3 levels.
  uint32_t root = db.TableRoot("t");
  const char* page = data.data() + (root - 1) * 512;
  EXPECT_EQ(page[0], 0x05);

  EXPECT_EQ(DumpTable(db, "plain"), "1: tx i1\n2: ty i2\n");
  EXPECT_EQ(DumpTable(db, "empty"), "");
  try {
    DumpTable(db, "norowid");
    FAIL() << "WITHOUT ROWID table read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WITHOUT ROWID"), std::string::npos) << e.what();
  }
  try {
    db.TableRoot("Packages");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "sqlite small-pages.sqlite: no table named Packages");
  }
}

TEST(SqliteReader, PageSize65536IsEncodedAsOne) {
  std::string data = ReadSqliteFixture("big-pages.sqlite");
  ASSERT_EQ(data[16], 0);
  ASSERT_EQ(data[17], 1);
  SqliteDb db(data, "big");
  EXPECT_EQ(db.page_size(), 65536u);
  EXPECT_EQ(DumpTable(db, "t"), "7: null tseven\n1000000: null ta million\n");
}

TEST(SqliteReader, BadHeadersAreErrors) {
  std::string good = ReadSqliteFixture("small-pages.sqlite");
  auto error_of = [](const std::string& d) -> std::string {
    try {
      SqliteDb db(d, "x");
      db.ForEachRow("t", [](int64_t, const std::vector<SqliteValue>&) {});
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of(""), "sqlite x: not an SQLite 3 database (no \"SQLite format 3\" header)");
  EXPECT_EQ(error_of(good.substr(0, 99)), "sqlite x: not an SQLite 3 database (no \"SQLite format 3\" header)");
  std::string d = good;
  d[16] = 0x03, d[17] = static_cast<char>(0xe8);  // 1000
  EXPECT_EQ(error_of(d), "sqlite x: invalid page size 1000 in the header");
  d = good;
  d[59] = 2;
  EXPECT_EQ(error_of(d), "sqlite x: UTF-16 databases are not supported");
  d = good;
  d[19] = 3;
  EXPECT_NE(error_of(d).find("read version 3"), std::string::npos);
  d = good;
  d[20] = 40;  // 472 usable bytes
  EXPECT_NE(error_of(d).find("fewer than 480 usable bytes"), std::string::npos);
  EXPECT_EQ(error_of(good.substr(0, 4096)),
            "sqlite x: truncated: the header says 256 pages of 512 bytes, the file has 4096 bytes");
}

// Cut the file anywhere: with the header's page count the cut is noticed at
// once; without it, when the walk reaches a missing page. Either way an
// Error, or (a cut after every page the scan needs) the complete answer.
TEST(SqliteReader, TruncatedFilesAreErrorsNotWrongAnswers) {
  const std::string good = ReadSqliteFixture("small-pages.sqlite");
  const std::string want = DumpTable(SqliteDb(good, "x"), "t");
  for (bool distrust : {false, true}) {
    int errors = 0, complete = 0;
    for (size_t cut = 0; cut < good.size(); cut += (cut < 2048 ? 37 : 509)) {
      std::string d = good.substr(0, cut);
      if (distrust && d.size() >= 96) DistrustHeaderPageCount(d);
      try {
        std::string got = DumpTable(SqliteDb(d, "x"), "t");
        EXPECT_EQ(got, want) << "cut at " << cut;
        ++complete;
      } catch (const Error&) {
        ++errors;
      }
    }
    EXPECT_GT(errors, 200) << distrust;
    if (!distrust) {
      EXPECT_EQ(complete, 0);
    }
  }
}

// Flipped bytes may change values (SQLite has no checksums), but must never
// crash, hang or read out of bounds (ASan/UBSan in CI).
TEST(SqliteReader, FlippedBytesNeverCrashOrHang) {
  const std::string good = ReadSqliteFixture("small-pages.sqlite");
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245 + 12345, (seed >> 8); };
  int errors = 0;
  for (int round = 0; round < 400; ++round) {
    std::string d = good;
    // Aim most flips at b-tree headers and cell pointers (the first bytes of
    // pages), where they derail the walk rather than change a value.
    for (int k = 0; k < 3; ++k) {
      size_t page = rnd() % (good.size() / 512), off = rnd() % 4 == 0 ? rnd() % 512 : rnd() % 24;
      d[page * 512 + off] ^= static_cast<char>(1 + rnd() % 255);
    }
    try {
      DumpTable(SqliteDb(d, "x"), "t");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 50);
}

// An overflow page of row 97's text that is not the last of its chain: it
// holds the row's "00097|" pattern and starts with a page number (b-tree
// pages start with their type, 0x05 or 0x0d).
uint32_t FindOverflowPage(const std::string& db) {
  for (size_t p = 1; p < db.size() / 512; ++p) {
    std::string_view page(db.data() + p * 512, 512);
    if (page[0] == 0 && page.substr(0, 4) != std::string_view("\0\0\0\0", 4) &&
        page.find("00097|00097|") != std::string_view::npos)
      return static_cast<uint32_t>(p + 1);
  }
  return 0;
}

std::string ScanError(const std::string& d, const std::string& table = "t") {
  try {
    DumpTable(SqliteDb(d, "x"), table);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(SqliteReader, CyclicAndDanglingPagePointersAreErrors) {
  const std::string good = ReadSqliteFixture("small-pages.sqlite");
  const uint32_t root = SqliteDb(good, "x").TableRoot("t");
  const size_t root_at = (root - 1) * 512;

  std::string d = good;  // the root's right-most child is the root itself
  PutBe32(d, root_at + 8, root);
  EXPECT_EQ(ScanError(d), "sqlite x: page " + std::to_string(root) +
                              " is reached twice (cyclic or shared page pointers)");
  d = good;
  PutBe32(d, root_at + 8, 100000);
  EXPECT_EQ(ScanError(d), "sqlite x: b-tree page number 100000 is outside the file (1..256)");
  d = good;
  PutBe32(d, root_at + 8, 0);
  EXPECT_EQ(ScanError(d), "sqlite x: b-tree page number 0 is outside the file (1..256)");

  const uint32_t ov = FindOverflowPage(good);
  ASSERT_NE(ov, 0u);
  d = good;
  PutBe32(d, (ov - 1) * 512, ov);  // overflow page pointing at itself
  EXPECT_EQ(ScanError(d), "sqlite x: page " + std::to_string(ov) + " is reached twice (cyclic or shared page pointers)");
  d = good;
  PutBe32(d, (ov - 1) * 512, 0);  // chain cut short
  EXPECT_NE(ScanError(d).find("overflow chain ends"), std::string::npos) << ScanError(d);
  d = good;
  PutBe32(d, (ov - 1) * 512, 9999);
  EXPECT_EQ(ScanError(d), "sqlite x: overflow page number 9999 is outside the file (1..256)");
}

// A hand-made file: page 1 copied from the fixture (header and schema),
// then pages the test lays out itself.
std::string Synthetic(const std::string& fixture, size_t pages) {
  std::string d = fixture.substr(0, 512) + std::string((pages - 1) * 512, '\0');
  PutBe32(d, 28, static_cast<uint32_t>(pages));
  return d;
}

TEST(SqliteReader, TooDeepTreesAndOversizedPayloadsAreErrors) {
  const std::string good = ReadSqliteFixture("small-pages.sqlite");
  std::string d = Synthetic(good, 40);
  for (uint32_t p = 2; p < 40; ++p) {  // a chain of interior pages without cells
    d[(p - 1) * 512] = 0x05;
    PutBe32(d, (p - 1) * 512 + 8, p + 1);
  }
  d[39 * 512] = 0x0d;
  SqliteDb db(d, "x");
  auto err = [&](uint32_t root) -> std::string {
    try {
      db.ForEachRowAt(root, [](int64_t, const std::vector<SqliteValue>&) {});
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(err(2), "sqlite x: b-tree deeper than 20 levels at page 23");
  EXPECT_EQ(err(25), "no error");  // 15 levels

  d = Synthetic(good, 3);
  const size_t leaf = 512;
  d[leaf] = 0x0d;
  d[leaf + 4] = 1;  // one cell
  d[leaf + 8] = 0x01, d[leaf + 9] = 0x00;  // at offset 256
  for (int i = 0; i < 9; ++i) d[leaf + 256 + i] = static_cast<char>(0xff);  // payload size 2^64-1
  d[leaf + 265] = 1;                                                          // rowid 1
  SqliteDb db2(d, "x");
  try {
    db2.ForEachRowAt(2, [](int64_t, const std::vector<SqliteValue>&) {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "sqlite x: page 2: payload at offset 266: 18446744073709551615 bytes is larger than the file");
  }
  d[leaf + 8] = 0x01, d[leaf + 9] = 0xf6;  // the cell's varint runs off the usable part of the page
  d[leaf + 502] = d[leaf + 503] = static_cast<char>(0xff);
  try {
    SqliteDb(d, "x").ForEachRowAt(2, [](int64_t, const std::vector<SqliteValue>&) {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "sqlite x: page 2: cell 0 header runs past the end of the page");
  }
  d[leaf + 3] = 0x01;  // 256 cells do not fit
  try {
    SqliteDb(d, "x").ForEachRowAt(2, [](int64_t, const std::vector<SqliteValue>&) {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "sqlite x: page 2: 257 cells do not fit in the page");
  }
}

TEST(SqliteReader, Records) {
  // header size 6; NULL, int8 -1, 0, 1, text "hi"; then the body
  std::string rec("\x06\x00\x01\x08\x09\x11\xff" "hi", 9);
  auto v = DecodeSqliteRecord(rec, "r");
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].type, T::kNull);
  EXPECT_EQ(v[1].integer, -1);
  EXPECT_EQ(v[2].type, T::kInteger);
  EXPECT_EQ(v[2].integer, 0);
  EXPECT_EQ(v[3].integer, 1);
  EXPECT_EQ(v[4].type, T::kText);
  EXPECT_EQ(v[4].bytes, "hi");
  auto err = [](const std::string& r) -> std::string {
    try {
      DecodeSqliteRecord(r, "r");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(err(std::string("\x02\x0a", 2)), "sqlite r: record: reserved serial type 10");
  EXPECT_EQ(err(std::string("\x09\x01", 2)), "sqlite r: record: header size runs past the record (2 bytes)");
  EXPECT_EQ(err(std::string("\x02\x11h", 3)), "sqlite r: record: column 0 (2 bytes) runs past the record");
  EXPECT_EQ(err(std::string("\x02\x81", 2)), "sqlite r: record: serial type runs past the record header");
  EXPECT_EQ(err(""), "sqlite r: record: header size runs past the record (0 bytes)");
  // A 9-byte serial type of 2^64-1: an absurd text length, not an overflow.
  EXPECT_EQ(err(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10)),
            "sqlite r: record: column 0 (9223372036854775801 bytes) runs past the record");
}

}  // namespace
}  // namespace kiln::oci
