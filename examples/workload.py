#!/usr/bin/env python3
"""An allocation-heavy Python workload for the heapsight demo.

Run it on the allocator with
    HEAPSIGHT=stats_print:true LD_PRELOAD=build/lib/libheapsight.so \
        /usr/bin/python3 examples/workload.py

It exercises the allocator the way ordinary Python programs do: many small
objects (dicts, tuples, short strings), growing containers (lists, bytearrays),
large buffers, JSON round trips, an in-memory SQLite database (a C extension
that calls malloc directly) and a few threads.  Everything is deterministic;
the checksums must be the same with and without heapsight.  It prints a
one-line summary and exits 0, or 1 if a self-check fails.
"""

import hashlib
import json
import random
import sqlite3
import sys
import threading
import time

ROUNDS = 6


def small_objects(rng):
    """Builds and drops many small dicts, tuples and strings."""
    records = []
    for i in range(40_000):
        records.append({
            "id": i,
            "name": "user-%d" % rng.randrange(1_000_000),
            "tags": tuple("t%d" % rng.randrange(50) for _ in range(rng.randrange(4))),
            "score": rng.random(),
        })
    records.sort(key=lambda r: (r["score"], r["id"]))
    digest = hashlib.sha256()
    for r in records[::97]:
        digest.update(r["name"].encode())
    return len(records), digest.hexdigest()[:16]


def growing_buffers(rng):
    """Grows bytearrays and lists piece by piece (realloc-heavy), plus big blocks."""
    buf = bytearray()
    chunks = []
    for _ in range(3_000):
        piece = bytes([rng.randrange(256)]) * rng.randrange(1, 2_000)
        buf += piece
        chunks.append(piece)
    big = [bytes(rng.randrange(100_000, 2_000_000)) for _ in range(8)]
    ok = bytes(buf) == b"".join(chunks) and all(not any(b[:64]) for b in big)
    return len(buf) + sum(len(b) for b in big), ok


def json_round_trip(rng):
    """Serialises a nested structure and parses it back."""
    doc = {
        "k%d" % i: [rng.randrange(10**9) for _ in range(rng.randrange(1, 40))]
        for i in range(5_000)
    }
    text = json.dumps(doc)
    return len(text), json.loads(text) == doc


def sqlite_work(rng):
    """Fills and queries an in-memory SQLite table (C code calling malloc)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, blob BLOB)")
    rows = [(i, "row-%d" % rng.randrange(10**6), bytes(rng.randrange(1, 600)))
            for i in range(20_000)]
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    db.execute("CREATE INDEX t_name ON t (name)")
    (count, total), = db.execute("SELECT count(*), sum(length(blob)) FROM t")
    db.close()
    return count, total == sum(len(r[2]) for r in rows)


def threaded(seed, nthreads=4):
    """Runs the small-object work on several threads at once."""
    results = [None] * nthreads

    def run(i):
        results[i] = small_objects(random.Random(seed + i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(r[0] for r in results), all(r is not None for r in results)


def main():
    start = time.perf_counter()
    objects = 0
    buffer_bytes = 0
    json_bytes = 0
    sql_rows = 0
    failures = []
    digest = ""
    for rnd in range(ROUNDS):
        rng = random.Random(rnd)
        n, digest = small_objects(rng)
        objects += n
        size, ok = growing_buffers(rng)
        buffer_bytes += size
        if not ok:
            failures.append("buffers round %d" % rnd)
        size, ok = json_round_trip(rng)
        json_bytes += size
        if not ok:
            failures.append("json round %d" % rnd)
        count, ok = sqlite_work(rng)
        sql_rows += count
        if not ok:
            failures.append("sqlite round %d" % rnd)
    n, ok = threaded(1000)
    objects += n
    if not ok:
        failures.append("threads")
    elapsed = time.perf_counter() - start

    print("workload.py: %d rounds, %d small objects, %.1f MiB of buffers, "
          "%.1f MiB of JSON, %d SQLite rows, digest %s, %s in %.2f s"
          % (ROUNDS, objects, buffer_bytes / 2**20, json_bytes / 2**20,
             sql_rows, digest, "ok" if not failures else
             "FAILED (" + ", ".join(failures) + ")", elapsed))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
