# sqlite_churn.py — libsqlite3 inside a Python process, for sqlite.sh:
# Debian's CPython 3.11 test package leaves out test_sqlite3, so this
# drives the C library through the sqlite3 module the way that suite does
# — Python scalar and aggregate functions called back from SQL, a custom
# collation, incremental blob I/O, the online backup API, iterdump, and
# four threads each with its own connection to one WAL-mode file.  Prints
# only deterministic digests, so its output is the same under any correct
# allocator.
# Usage: sqlite_churn.py <directory for the database files>
import hashlib
import os
import sqlite3
import sys
import threading


def digest(rows):
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


class Concat:
    """An aggregate written in Python: every step allocates."""

    def __init__(self):
        self.parts = []

    def step(self, value):
        self.parts.append(str(value))

    def finalize(self):
        return "|".join(sorted(self.parts))[:4096]


def by_length(a, b):
    """A collation: shorter first, then by value."""
    return (len(a) > len(b)) - (len(a) < len(b)) or (a > b) - (a < b)


def callbacks(db):
    db.create_function("rev", 1, lambda s: s[::-1], deterministic=True)
    db.create_aggregate("concat", 1, Concat)
    db.create_collation("bylen", by_length)
    db.execute("CREATE TABLE w(id INTEGER PRIMARY KEY, s TEXT, n INT)")
    db.executemany("INSERT INTO w(s, n) VALUES (?, ?)",
                   (("w%d" % (i * 7919 % 100003) * (1 + i % 5), i % 97)
                    for i in range(60000)))
    rows = db.execute("SELECT n, concat(rev(s)) FROM w GROUP BY n "
                      "ORDER BY n").fetchall()
    order = db.execute("SELECT s FROM w WHERE id % 101 = 0 "
                       "ORDER BY s COLLATE bylen").fetchall()
    print("callbacks", len(rows), digest(rows), digest(order))


def blobs(db):
    db.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB)")
    for i in range(200):
        db.execute("INSERT INTO b(data) VALUES (zeroblob(?))",
                   (1024 * (1 + i % 64),))
    h = hashlib.sha256()
    for i in range(1, 201):
        with db.blobopen("b", "data", i) as blob:
            chunk = bytes([i % 251]) * 512
            for off in range(0, len(blob) - 512, 4096):
                blob.seek(off)
                blob.write(chunk)
            blob.seek(0)
            h.update(blob.read())
    db.commit()
    print("blobs", h.hexdigest()[:16])


def backup_and_dump(db, path):
    copy = sqlite3.connect(path)
    db.backup(copy, pages=64)
    n = copy.execute("SELECT count(*), sum(length(data)) FROM b").fetchone()
    dump = "\n".join(copy.iterdump())
    copy.close()
    print("backup", n, len(dump.splitlines()), digest(dump[-100000:]))


def worker(path, k, results):
    db = sqlite3.connect(path, timeout=60)
    for r in range(30):
        with db:
            db.executemany("INSERT INTO t(k, r, v) VALUES (?, ?, ?)",
                           ((k, r, "v%d-%d-%d" % (k, r, i) * (i % 13))
                            for i in range(500)))
        db.execute("SELECT k, count(*), max(length(v)) FROM t GROUP BY k")
    results[k] = db.execute("SELECT count(*), sum(length(v)) FROM t "
                            "WHERE k = ?", (k,)).fetchone()
    db.close()


def threads(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t(k INT, r INT, v TEXT)")
    db.commit()
    results = {}
    ts = [threading.Thread(target=worker, args=(path, k, results))
          for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = db.execute("SELECT count(*) FROM t").fetchone()
    ok = db.execute("PRAGMA integrity_check").fetchone()
    db.close()
    print("threads", sorted(results.items()), total, ok)


def main(directory):
    db = sqlite3.connect(":memory:")
    callbacks(db)
    blobs(db)
    backup_and_dump(db, os.path.join(directory, "backup.db"))
    db.close()
    threads(os.path.join(directory, "wal.db"))


if __name__ == "__main__":
    main(sys.argv[1])
