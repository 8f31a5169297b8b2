#!/bin/sh
# sqlite.sh — sqlite3 under heapsight: a 200,000-row table built with a
# recursive CTE, an index, aggregate and range queries, an unindexed sort
# and an integrity check, on a file database; then libsqlite3 inside
# /usr/bin/python3.11 (sqlite_churn.py: Python callbacks, blob I/O, backup,
# iterdump, four threads on one WAL file), standing in for test_sqlite3,
# which Debian's CPython 3.11 test package does not ship.  Output must
# match the plain run, exit 0, nothing on stderr.
# Usage: sqlite.sh <libheapsight.so>
LIB=${1:?usage: sqlite.sh libheapsight.so}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
SQLITE=$(command -v sqlite3) || { echo "FAIL: sqlite3 not found"; exit 1; }

cat >"$tmp/work.sql" <<'SQL'
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c REAL, d BLOB);
WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt
                          WHERE x < 200000)
INSERT INTO t SELECT x,
       printf('row-%06d-%s', (x * 7919) % 200003,
              substr('abcdefghijklmnopqrstuvwxyz', x % 26 + 1, x % 9 + 1)),
       (x * 104729) % 100003, x / 3.0, zeroblob(x % 300)
  FROM cnt;
CREATE INDEX t_b ON t(b);
CREATE INDEX t_a ON t(a);
SELECT count(*), sum(b), min(a), max(a), sum(length(d)) FROM t;
SELECT id, a, b FROM t WHERE b BETWEEN 5000 AND 5010 ORDER BY b, id;
SELECT b % 10 AS k, count(*), total(c) FROM t GROUP BY k ORDER BY k;
SELECT a FROM t ORDER BY c * -1, a LIMIT 5;
SELECT group_concat(a, ',') FROM (SELECT a FROM t WHERE id % 9973 = 0);
UPDATE t SET a = upper(a) WHERE id % 7 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), count(DISTINCT substr(a, 1, 8)) FROM t;
PRAGMA integrity_check;
SQL

run_file() { # fresh database file each run
    rm -f "$tmp/db.sqlite"
    "$SQLITE" -batch -bail "$tmp/db.sqlite" <"$tmp/work.sql"
}

run_python() { # fresh directory each run
    rm -rf "$tmp/py" && mkdir "$tmp/py" &&
        /usr/bin/python3.11 -I -S "$here/sqlite_churn.py" "$tmp/py"
}

hs_loaded
hs_same sqlite_file run_file
grep -qx ok "$tmp/sqlite_file.hs.out" || hs_fail "integrity_check not ok"
hs_same sqlite_python run_python
grep -q "('ok',)" "$tmp/sqlite_python.hs.out" ||
    hs_fail "integrity_check not ok in sqlite_churn.py"
hs_finish
