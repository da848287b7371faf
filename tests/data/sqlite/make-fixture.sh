#!/bin/bash
# Rebuilds the SQLite fixtures of tests/oci/sqlite_reader_test.cc with the
# sqlite3 shell (3.40). Usage: tests/data/sqlite/make-fixture.sh
set -euo pipefail
cd "$(dirname "$0")"
rm -f small-pages.sqlite big-pages.sqlite

# 512-byte pages with 8 reserved bytes each: 2000 rows make a table b-tree
# three levels deep; every 97th row has a 3 KB text that spills onto a chain
# of overflow pages. i walks through every integer serial type (1-6, 8, 9).
sqlite3 small-pages.sqlite <<'SQL'
PRAGMA page_size = 512;
CREATE TABLE t (id INTEGER PRIMARY KEY, i, r, s TEXT, b BLOB);
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 2000)
INSERT INTO t SELECT k,
  CASE k % 9 WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN -100 WHEN 3 THEN 30000
             WHEN 4 THEN -8000000 WHEN 5 THEN 2000000000 WHEN 6 THEN -100000000000
             WHEN 7 THEN 9000000000000000000 ELSE NULL END,
  k + 0.5,
  CASE WHEN k % 97 = 0 THEN replace(hex(zeroblob(500)), '00', printf('%05d|', k)) ELSE printf('row %d', k) END,
  CASE WHEN k % 2 = 0 THEN x'00ff10' ELSE NULL END
FROM n;
CREATE TABLE plain (a, b);
INSERT INTO plain VALUES ('x', 1), ('y', 2);
CREATE TABLE empty (a);
CREATE TABLE norowid (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO norowid VALUES ('a', 1);
SQL
sqlite3 small-pages.sqlite '.filectrl reserve_bytes 8' 'VACUUM;'

# 65536-byte pages: the page-size field holds 1.
sqlite3 big-pages.sqlite <<'SQL'
PRAGMA page_size = 65536;
CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT);
INSERT INTO t VALUES (7, 'seven'), (1000000, 'a million');
SQL
