// Read-only reader of SQLite 3 database files held in memory, enough to scan
// the rows of a rowid table (the SBOM cataloguer reads RPM's rpmdb.sqlite
// with it; SQLite itself is not a dependency). Format:
// https://www.sqlite.org/fileformat2.html. Not supported (an Error says so):
// UTF-16 databases, WITHOUT ROWID tables, indexes and SQL.
//
// A database in WAL mode is read as of its last checkpoint: the -wal file is
// not looked at, so transactions committed to the WAL but not yet copied back
// are invisible. rpm checkpoints when it closes the database, so a package
// database left in an image by a finished rpm/dnf run is complete.
//
// Every malformed input ends in an Error naming the page and what is wrong:
// all reads are bounds-checked, each page is visited at most once per scan
// (a cycle of page pointers is an error, not a loop) and trees deeper than
// SQLite's own limit of 20 levels are rejected.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

struct SqliteValue {
  enum class Type { kNull, kInteger, kReal, kText, kBlob };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // kText (UTF-8) and kBlob
};

// One row of a table: its rowid and its columns in declaration order. A
// column declared INTEGER PRIMARY KEY is an alias of the rowid and is stored
// (and passed here) as NULL; read `rowid` instead. Rows written before an
// ALTER TABLE ADD COLUMN have fewer columns than the table.
using SqliteRowFn = std::function<void(int64_t rowid, const std::vector<SqliteValue>& columns)>;

class SqliteDb {
 public:
  // Checks the 100-byte header. `data` must outlive the object; `what`
  // names the file in error messages ("/var/lib/rpm/rpmdb.sqlite").
  SqliteDb(std::string_view data, std::string what);

  uint32_t page_size() const { return page_size_; }
  uint32_t usable_size() const { return usable_; }  // page size minus reserved bytes
  uint32_t page_count() const { return page_count_; }

  // Root page of the rowid table `table` (ASCII case-insensitive, as SQL
  // names are), from sqlite_schema. Error if there is no such table.
  uint32_t TableRoot(std::string_view table) const;

  // Visits the rows of `table` in rowid order.
  void ForEachRow(std::string_view table, const SqliteRowFn& fn) const;
  // The same for the table b-tree rooted at `root` (1 is sqlite_schema).
  void ForEachRowAt(uint32_t root, const SqliteRowFn& fn) const;

 private:
  struct Walk;
  std::string_view Page(uint32_t n, Walk& walk, const char* role) const;
  void VisitTree(uint32_t page, int depth, Walk& walk, const SqliteRowFn& fn) const;
  std::string Payload(std::string_view page, uint32_t pgno, size_t at, uint64_t size, Walk& walk) const;
  [[noreturn]] void Fail(const std::string& msg) const;

  std::string_view data_;
  std::string what_;
  uint32_t page_size_ = 0, usable_ = 0, page_count_ = 0;
};

// Decodes a record (header of serial types, then the values). Exposed for
// tests; throws Error("<what>: ...") on malformed input.
std::vector<SqliteValue> DecodeSqliteRecord(std::string_view record, const std::string& what);

}  // namespace kiln::oci
