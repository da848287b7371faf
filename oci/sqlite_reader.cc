#include "oci/sqlite_reader.h"

#include <bit>
#include <cstring>

#include "oci/error.h"
#include "oci/text_util.h"

namespace kiln::oci {

namespace {

// SQLite's own limit on b-tree depth (BTCURSOR_MAX_DEPTH); real databases
// stay far below it, a deeper chain of interior pages is corruption.
constexpr int kSqliteMaxDepth = 20;

uint32_t SqliteBe16(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 8 | static_cast<unsigned char>(s[at + 1]);
}

uint32_t SqliteBe32(std::string_view s, size_t at) {
  return SqliteBe16(s, at) << 16 | SqliteBe16(s, at + 2);
}

// SQLite varint: 1-9 bytes, big-endian, 7 bits per byte with the high bit
// as "more follows", except that a 9th byte contributes all 8 bits. False
// if `s` ends before the varint does.
bool SqliteVarint(std::string_view s, size_t& pos, uint64_t& out) {
  out = 0;
  for (int i = 0; i < 9; ++i) {
    if (pos >= s.size()) return false;
    auto b = static_cast<unsigned char>(s[pos++]);
    if (i == 8) {
      out = (out << 8) | b;
      return true;
    }
    out = (out << 7) | (b & 0x7f);
    if (!(b & 0x80)) return true;
  }
  return true;  // not reached
}

[[noreturn]] void SqliteRecordFail(const std::string& what, const std::string& msg) {
  throw Error("sqlite " + what + ": record: " + msg);
}

}  // namespace

struct SqliteDb::Walk {
  std::vector<bool> seen;  // by page number; a page reached twice is a cycle
};

void SqliteDb::Fail(const std::string& msg) const { throw Error("sqlite " + what_ + ": " + msg); }

SqliteDb::SqliteDb(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {
  if (data.size() < 100 || data.substr(0, 16) != std::string_view("SQLite format 3\0", 16))
    Fail("not an SQLite 3 database (no \"SQLite format 3\" header)");
  uint32_t ps = SqliteBe16(data, 16);
  page_size_ = ps == 1 ? 65536 : ps;
  if (page_size_ < 512 || page_size_ > 65536 || (page_size_ & (page_size_ - 1)))
    Fail("invalid page size " + std::to_string(ps) + " in the header");
  auto read_version = static_cast<unsigned char>(data[19]);
  if (read_version != 1 && read_version != 2)
    Fail("file format read version " + std::to_string(read_version) + " (a newer SQLite); only 1 and 2 are read");
  auto reserved = static_cast<unsigned char>(data[20]);
  usable_ = page_size_ - reserved;
  if (usable_ < 480) Fail(std::to_string(reserved) + " reserved bytes leave fewer than 480 usable bytes a page");
  if (data[21] != 64 || data[22] != 32 || data[23] != 32)
    Fail("payload fractions in the header are not 64/32/32 (corrupt header)");
  uint32_t encoding = SqliteBe32(data, 56);
  if (encoding == 2 || encoding == 3) Fail("UTF-16 databases are not supported");
  if (encoding > 3) Fail("invalid text encoding " + std::to_string(encoding) + " in the header");
  // The in-header size is trusted only when written by a SQLite that also
  // bumped "version-valid-for" (3.7.0+); older writers left it stale.
  uint32_t in_header = SqliteBe32(data, 28);
  if (in_header != 0 && SqliteBe32(data, 24) == SqliteBe32(data, 92)) {
    if (static_cast<uint64_t>(in_header) * page_size_ > data.size())
      Fail("truncated: the header says " + std::to_string(in_header) + " pages of " + std::to_string(page_size_) +
           " bytes, the file has " + std::to_string(data.size()) + " bytes");
    page_count_ = in_header;
  } else {
    page_count_ = static_cast<uint32_t>(std::min<uint64_t>(data.size() / page_size_, UINT32_MAX));
  }
  if (page_count_ == 0) Fail("truncated: shorter than one page (" + std::to_string(page_size_) + " bytes)");
}

std::string_view SqliteDb::Page(uint32_t n, Walk& walk, const char* role) const {
  if (n == 0 || n > page_count_)
    Fail(std::string(role) + " page number " + std::to_string(n) + " is outside the file (1.." +
         std::to_string(page_count_) + ")");
  if (walk.seen.empty()) walk.seen.resize(static_cast<size_t>(page_count_) + 1);
  if (walk.seen[n]) Fail("page " + std::to_string(n) + " is reached twice (cyclic or shared page pointers)");
  walk.seen[n] = true;
  return data_.substr(static_cast<size_t>(n - 1) * page_size_, usable_);
}

std::string SqliteDb::Payload(std::string_view page, uint32_t pgno, size_t at, uint64_t size, Walk& walk) const {
  // How much of a table-leaf payload stays on the page (fileformat2 §1.6).
  const uint64_t u = usable_, max_local = u - 35, min_local = (u - 12) * 32 / 255 - 23;
  uint64_t local = size;
  if (size > max_local) {
    local = min_local + (size - min_local) % (u - 4);
    if (local > max_local) local = min_local;
  }
  std::string where = "page " + std::to_string(pgno) + ": payload at offset " + std::to_string(at);
  if (size > static_cast<uint64_t>(page_count_) * u)
    Fail(where + ": " + std::to_string(size) + " bytes is larger than the file");
  if (at + local > page.size() || (local < size && at + local + 4 > page.size()))
    Fail(where + ": runs past the end of the page");
  std::string out(page.substr(at, local));
  if (local == size) return out;
  out.reserve(size);
  uint32_t next = SqliteBe32(page, at + local);
  while (out.size() < size) {
    if (next == 0)
      Fail(where + ": overflow chain ends " + std::to_string(size - out.size()) + " bytes early");
    std::string_view ov = Page(next, walk, "overflow");
    next = SqliteBe32(ov, 0);
    out.append(ov.substr(4, std::min<uint64_t>(size - out.size(), u - 4)));
  }
  if (next != 0) Fail(where + ": overflow chain continues past the end of the payload");
  return out;
}

void SqliteDb::VisitTree(uint32_t pgno, int depth, Walk& walk, const SqliteRowFn& fn) const {
  if (depth > kSqliteMaxDepth) Fail("b-tree deeper than " + std::to_string(kSqliteMaxDepth) + " levels at page " + std::to_string(pgno));
  std::string_view page = Page(pgno, walk, "b-tree");
  const size_t h = pgno == 1 ? 100 : 0;  // page 1 starts with the file header
  std::string where = "page " + std::to_string(pgno);
  auto type = static_cast<unsigned char>(page[h]);
  if (type == 0x02 || type == 0x0a)
    Fail(where + ": index b-tree page where a table b-tree was expected (indexes and WITHOUT ROWID tables are not read)");
  if (type != 0x05 && type != 0x0d) Fail(where + ": not a b-tree page (type byte " + std::to_string(type) + ")");
  const bool leaf = type == 0x0d;
  const size_t hdr = leaf ? 8 : 12;
  const uint32_t ncells = SqliteBe16(page, h + 3);
  const size_t cells_end = h + hdr + 2 * static_cast<size_t>(ncells);
  if (cells_end > page.size()) Fail(where + ": " + std::to_string(ncells) + " cells do not fit in the page");
  for (uint32_t i = 0; i < ncells; ++i) {
    size_t at = SqliteBe16(page, h + hdr + 2 * i);
    if (at < cells_end || at >= page.size())
      Fail(where + ": cell " + std::to_string(i) + " offset " + std::to_string(at) + " is outside the cell content area");
    size_t pos = at;
    if (!leaf) {
      if (at + 4 > page.size()) Fail(where + ": cell " + std::to_string(i) + " runs past the end of the page");
      VisitTree(SqliteBe32(page, at), depth + 1, walk, fn);
      continue;  // the key after the child pointer is only a search bound
    }
    uint64_t size = 0, rowid = 0;
    if (!SqliteVarint(page, pos, size) || !SqliteVarint(page, pos, rowid))
      Fail(where + ": cell " + std::to_string(i) + " header runs past the end of the page");
    std::string record = Payload(page, pgno, pos, size, walk);
    fn(static_cast<int64_t>(rowid), DecodeSqliteRecord(record, what_ + " page " + std::to_string(pgno) + " rowid " +
                                                                    std::to_string(static_cast<int64_t>(rowid))));
  }
  if (!leaf) VisitTree(SqliteBe32(page, h + 8), depth + 1, walk, fn);
}

void SqliteDb::ForEachRowAt(uint32_t root, const SqliteRowFn& fn) const {
  Walk walk;
  VisitTree(root, 0, walk, fn);
}

uint32_t SqliteDb::TableRoot(std::string_view table) const {
  const std::string want = AsciiLower(table);
  int64_t root = -1;
  // sqlite_schema columns: type, name, tbl_name, rootpage, sql.
  ForEachRowAt(1, [&](int64_t, const std::vector<SqliteValue>& c) {
    if (root >= 0 || c.size() < 4 || c[0].type != SqliteValue::Type::kText || c[0].bytes != "table" ||
        c[1].type != SqliteValue::Type::kText || AsciiLower(c[1].bytes) != want)
      return;
    if (c[3].type != SqliteValue::Type::kInteger) Fail("schema entry of table " + std::string(table) + " has no root page");
    root = c[3].integer;
  });
  if (root < 0) Fail("no table named " + std::string(table));
  if (root < 1 || root > page_count_)
    Fail("table " + std::string(table) + " has root page " + std::to_string(root) + ", outside the file");
  return static_cast<uint32_t>(root);
}

void SqliteDb::ForEachRow(std::string_view table, const SqliteRowFn& fn) const { ForEachRowAt(TableRoot(table), fn); }

std::vector<SqliteValue> DecodeSqliteRecord(std::string_view rec, const std::string& what) {
  auto fail = [&](const std::string& msg) { SqliteRecordFail(what, msg); };
  size_t pos = 0;
  uint64_t hdr_size = 0;
  if (!SqliteVarint(rec, pos, hdr_size) || hdr_size > rec.size() || hdr_size < pos)
    fail("header size runs past the record (" + std::to_string(rec.size()) + " bytes)");
  std::vector<SqliteValue> out;
  size_t body = hdr_size;
  while (pos < hdr_size) {
    uint64_t st = 0;
    std::string_view hdr = rec.substr(0, hdr_size);
    if (!SqliteVarint(hdr, pos, st)) fail("serial type runs past the record header");
    SqliteValue v;
    uint64_t len = 0;
    switch (st) {
      case 0: len = 0; break;
      case 1: case 2: case 3: case 4: len = st; break;
      case 5: len = 6; break;
      case 6: case 7: len = 8; break;
      case 8: case 9: v.type = SqliteValue::Type::kInteger; v.integer = st == 9; break;
      case 10: case 11: SqliteRecordFail(what, "reserved serial type " + std::to_string(st));
      default: len = (st - 12) / 2; break;
    }
    if (len > rec.size() - body)
      fail("column " + std::to_string(out.size()) + " (" + std::to_string(len) + " bytes) runs past the record");
    std::string_view b = rec.substr(body, len);
    body += len;
    if (st >= 1 && st <= 6) {
      uint64_t x = static_cast<unsigned char>(b[0]) & 0x80 ? ~uint64_t{0} : 0;  // sign-extend
      for (char c : b) x = (x << 8) | static_cast<unsigned char>(c);
      v.type = SqliteValue::Type::kInteger;
      v.integer = static_cast<int64_t>(x);
    } else if (st == 7) {
      uint64_t x = 0;
      for (char c : b) x = (x << 8) | static_cast<unsigned char>(c);
      v.type = SqliteValue::Type::kReal;
      v.real = std::bit_cast<double>(x);
    } else if (st >= 12) {
      v.type = st % 2 ? SqliteValue::Type::kText : SqliteValue::Type::kBlob;
      v.bytes = std::string(b);
    }
    out.push_back(std::move(v));
  }
  if (pos != hdr_size) fail("serial types run past the record header");
  return out;
}

}  // namespace kiln::oci
