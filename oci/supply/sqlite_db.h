// A read-only SQLite 3 database held in memory, read with libsqlite3 (the SBOM
// cataloguer reads RPM's rpmdb.sqlite with it). The bytes come from an image,
// so from anyone: the database is opened read-only from the buffer (no file,
// no journal, no WAL), in SQLite's defensive mode with untrusted schemas, and
// checked with `PRAGMA quick_check` before any row is read, so a truncated or
// corrupted file is an Error, never a partial answer.
//
// A database in WAL mode is read as of its last checkpoint: the -wal file is
// not looked at. rpm checkpoints when it closes the database, so a package
// database left in an image by a finished rpm/dnf run is complete.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace kiln::oci {

struct SqliteValue {
  enum class Type { kNull, kInteger, kReal, kText, kBlob };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // kText (UTF-8) and kBlob
};

// One row of a table: its rowid and its columns in declaration order.
using SqliteRowFn = std::function<void(int64_t rowid, const std::vector<SqliteValue>& columns)>;

class SqliteDb {
 public:
  // Opens and checks a copy of the database; `what` names it in error messages
  // ("/var/lib/rpm/rpmdb.sqlite"). Throws Error("sqlite <what>: ...").
  SqliteDb(std::string_view data, std::string what);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Visits the rows of the rowid table `table` (ASCII case-insensitive, as SQL
  // names are) in rowid order. Error if there is no such table.
  void ForEachRow(std::string_view table, const SqliteRowFn& fn) const;

 private:
  [[noreturn]] void Fail(const std::string& doing) const;

  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::string what_;
  std::string bytes_;  // what SQLite reads; the header may differ from the file's (WAL)
  std::unique_ptr<sqlite3, Closer> owned_;  // closed however the constructor ends
  sqlite3* db_ = nullptr;
};

}  // namespace kiln::oci
