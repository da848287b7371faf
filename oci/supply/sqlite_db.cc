#include "oci/supply/sqlite_db.h"

#include <sqlite3.h>

#include <cstring>

#include "oci/error.h"

namespace kiln::oci {
namespace {

struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtCloser>;

// SQL identifiers are quoted by doubling embedded quotes.
std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace

SqliteDb::SqliteDb(std::string_view data, std::string what) : what_(std::move(what)) {
  if (data.size() < 100 || data.substr(0, 16) != std::string_view("SQLite format 3\0", 16))
    throw Error("sqlite " + what_ + ": not an SQLite 3 database (no \"SQLite format 3\" header)");
  // The page count in the header is valid when "version-valid-for" matches
  // the change counter: then a short file is named as such, not as malformed.
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(data[at])) << 24 | uint32_t(uint8_t(data[at + 1])) << 16 |
           uint32_t(uint8_t(data[at + 2])) << 8 | uint32_t(uint8_t(data[at + 3]));
  };
  const uint32_t page_size = be32(16) >> 16 == 1 ? 65536 : be32(16) >> 16;
  const uint64_t pages = be32(28);
  if (be32(92) == be32(24) && pages * page_size > data.size())
    throw Error("sqlite " + what_ + ": truncated: the header says " + std::to_string(pages) + " pages of " +
                std::to_string(page_size) + " bytes, the file has " + std::to_string(data.size()) + " bytes");
  const int opened = sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_PRIVATECACHE, nullptr);
  owned_.reset(db_);  // sqlite3_open_v2 gives a handle to close even when it fails
  if (opened != SQLITE_OK) Fail("opening an in-memory database");
  // Hardening for files from untrusted sources (sqlite.org/security.html).
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, 64 << 20);
  // A copy SQLite reads (READONLY, not FREEONCLOSE). rpm keeps its database
  // in WAL mode, which needs a -wal file and shared memory to open: the
  // header's read/write versions are set to the rollback journal's, so the
  // main file is read as of its last checkpoint (see the header comment).
  bytes_.assign(data);
  if (bytes_[18] == 2) bytes_[18] = 1;
  if (bytes_[19] == 2) bytes_[19] = 1;
  auto* bytes = reinterpret_cast<unsigned char*>(bytes_.data());
  if (sqlite3_deserialize(db_, "main", bytes, static_cast<sqlite3_int64>(bytes_.size()),
                          static_cast<sqlite3_int64>(bytes_.size()), SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
    Fail("loading the database");
  sqlite3_exec(db_, "PRAGMA cell_size_check=ON", nullptr, nullptr, nullptr);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &raw, nullptr) != SQLITE_OK) Fail("checking the database");
  Stmt check(raw);
  int rc = sqlite3_step(check.get());
  if (rc != SQLITE_ROW) Fail("checking the database");
  auto* first = reinterpret_cast<const char*>(sqlite3_column_text(check.get(), 0));
  if (!first || std::strcmp(first, "ok") != 0)
    throw Error("sqlite " + what_ + ": the database is corrupt (" + (first ? first : "no answer") + ")");
}

void SqliteDb::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void SqliteDb::Fail(const std::string& doing) const {
  std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
  throw Error("sqlite " + what_ + ": " + doing + ": " + why);
}

void SqliteDb::ForEachRow(std::string_view table, const SqliteRowFn& fn) const {
  sqlite3_stmt* raw = nullptr;
  std::string sql = "SELECT rowid, * FROM " + QuoteIdent(table) + " ORDER BY rowid";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db_);
    if (why.rfind("no such table", 0) == 0) throw Error("sqlite " + what_ + ": no table named " + std::string(table));
    Fail("reading table " + std::string(table));
  }
  Stmt stmt(raw);
  std::vector<SqliteValue> cols;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const int n = sqlite3_column_count(stmt.get());
    cols.assign(static_cast<size_t>(n - 1), {});
    for (int i = 1; i < n; ++i) {
      SqliteValue& v = cols[static_cast<size_t>(i - 1)];
      switch (sqlite3_column_type(stmt.get(), i)) {
        case SQLITE_INTEGER:
          v.type = SqliteValue::Type::kInteger;
          v.integer = sqlite3_column_int64(stmt.get(), i);
          break;
        case SQLITE_FLOAT:
          v.type = SqliteValue::Type::kReal;
          v.real = sqlite3_column_double(stmt.get(), i);
          break;
        case SQLITE_TEXT:
          v.type = SqliteValue::Type::kText;
          v.bytes.assign(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), i)),
                         static_cast<size_t>(sqlite3_column_bytes(stmt.get(), i)));
          break;
        case SQLITE_BLOB: {
          v.type = SqliteValue::Type::kBlob;
          auto* p = static_cast<const char*>(sqlite3_column_blob(stmt.get(), i));
          v.bytes.assign(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt.get(), i)));
          break;
        }
        default: break;
      }
    }
    fn(sqlite3_column_int64(stmt.get(), 0), cols);
  }
  if (rc != SQLITE_DONE) Fail("reading table " + std::string(table));
}

}  // namespace kiln::oci
