#include "oci/supply/sqlite_db.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "oci/error.h"
#include "tests/oci/supply/supply_test_util.h"

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

TEST(SqliteDb, SmallPagesDeepTreeOverflowAndAllSerialTypes) {
  std::string data = ReadSqliteFixture("small-pages.sqlite");
  SqliteDb db(data, "small-pages.sqlite");
  int64_t n = 0;
  size_t overflowed = 0;
  db.ForEachRow("T", [&](int64_t rowid, const std::vector<SqliteValue>& c) {  // names are case-insensitive
    ++n;
    ASSERT_EQ(rowid, n);  // rowid order
    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].type, T::kInteger) << "INTEGER PRIMARY KEY reads as the rowid";
    EXPECT_EQ(c[0].integer, rowid);
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

  EXPECT_EQ(DumpTable(db, "plain"), "1: tx i1\n2: ty i2\n");
  EXPECT_EQ(DumpTable(db, "empty"), "");
  try {
    DumpTable(db, "norowid");
    FAIL() << "WITHOUT ROWID table read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("norowid"), std::string::npos) << e.what();
  }
  try {
    DumpTable(db, "Packages");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "sqlite small-pages.sqlite: no table named Packages");
  }
}

TEST(SqliteDb, PageSize65536IsEncodedAsOne) {
  std::string data = ReadSqliteFixture("big-pages.sqlite");
  ASSERT_EQ(data[16], 0);
  ASSERT_EQ(data[17], 1);
  SqliteDb db(data, "big");
  EXPECT_EQ(DumpTable(db, "t"), "7: i7 tseven\n1000000: i1000000 ta million\n");
}

TEST(SqliteDb, BadHeadersAreErrors) {
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
  for (auto [at, byte] : {std::pair{16, 0x03}, {59, 2}, {19, 3}, {20, 40}}) {
    std::string d = good;
    d[at] = static_cast<char>(byte);
    std::string e = error_of(d);
    EXPECT_EQ(e.rfind("sqlite x: ", 0), 0u) << at << ": " << e;
  }
  EXPECT_EQ(error_of(good.substr(0, 4096)),
            "sqlite x: truncated: the header says 256 pages of 512 bytes, the file has 4096 bytes");
}

// Cut the file anywhere: with the header's page count the cut is noticed at
// once; without it, when the walk reaches a missing page. Either way an
// Error, or (a cut after every page the scan needs) the complete answer.
TEST(SqliteDb, TruncatedFilesAreErrorsNotWrongAnswers) {
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
TEST(SqliteDb, FlippedBytesNeverCrashOrHang) {
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

}  // namespace
}  // namespace kiln::oci
