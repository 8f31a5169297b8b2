"""py_calls.py — the call-heavy Python workload: deep call chains and many
small objects.

Owns: the py_calls benchmark only (run as `python3 bench/py_calls.py
[name=value ...]` under LD_PRELOAD by bench/run.sh; `--help` lists the
parameters).

bench/py_alloc.py measures an interpreter's allocation mix; this one is
the shape where profiling Python costs the most: every allocation happens
`depth` or more Python frames down, so a sampled stack has many Python
frames to read and merge (heapsight's Python hook), and tracemalloc
(which records every allocation, not a sample) walks that many frames
each time.  Most objects are small (pymalloc serves them; with
PYTHONMALLOC=malloc, the allocator under test).

Phases, repeated `scale` times, each entered through a recursive chain of
`depth` calls across a few distinct functions:
  records   small class instances (with and without __slots__), tuples
            and closures built and folded at the bottom of the chain; the
            last 64 slices stay alive
  churn     a dict of short lists under insert / update / delete, list
            append / pop, set unions: the containers resize
  json      small nested documents through the C accelerator (_json):
            json.dumps and json.loads
  sqlite    an in-memory sqlite3 database (the C library allocates
            through malloc): inserts, an index, grouped queries
  raise     exceptions raised and caught a few frames down (traceback
            and frame objects)
Nothing depends on hash randomization, addresses or timing, so the
checksum depends only on the parameters.
"""
import json
import resource
import sqlite3
import sys

PARAMS = {
    "scale": (4, "repetitions of all phases"),
    "depth": (40, "Python frames between a phase and its allocations"),
    "ops": (40000, "operations per phase and repetition"),
}
MASK = 2**64 - 1
# The records phase keeps its last RETAIN_SLICES slices alive (about 50,000
# small objects), so there is a live heap, not only garbage.
RETAIN_SLICES = 64
retained = []


def lcg(state):
    """A deterministic PRNG, independent of the random module's version."""
    return (state * 6364136223846793005 + 1442695040888963407) & MASK


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)


class Cell:
    __slots__ = ("key", "point", "tags")

    def __init__(self, key, point, tags):
        self.key = key
        self.point = point
        self.tags = tags


# ---- the call chain: three functions that take turns, so the stack holds
# real distinct code objects, not one frame repeated.

def chain_a(n, leaf, arg):
    if n <= 0:
        return leaf(arg)
    return chain_b(n - 1, leaf, arg) + 1


def chain_b(n, leaf, arg):
    if n <= 0:
        return leaf(arg)
    pad = (n, arg[0])  # a small tuple per frame
    return chain_c(n - 1, leaf, arg) + (pad[0] & 1)


def chain_c(n, leaf, arg):
    if n <= 0:
        return leaf(arg)
    return chain_a(n - 1, leaf, arg)


def descend(depth, leaf, arg):
    """Calls leaf(arg) `depth` frames down; returns its result plus a
    count that depends only on depth and arg[0]."""
    return chain_a(depth, leaf, arg)


# ---- the leaves: each does a slice of one phase's work.

def leaf_records(arg):
    seed, n = arg
    s = seed
    cells = []
    for i in range(n):
        s = lcg(s)
        p = Point((s >> 20) % 2001 - 1000, (s >> 40) % 2001 - 1000)
        tags = tuple("t%d" % ((s >> k) & 15) for k in range(0, (s >> 8) % 5))
        cells.append(Cell(i, p, tags))
    scale = (seed >> 33) % 7 + 1
    weigh = lambda c: c.point.norm1() * scale + len(c.tags)  # noqa: E731
    retained.append(cells)
    if len(retained) > RETAIN_SLICES:
        del retained[0]
    return sum(weigh(c) for c in cells) + len(cells)


def leaf_churn(arg):
    seed, n = arg
    s = seed
    live = {}
    stack = []
    total = 0
    for _ in range(3 * n):
        s = lcg(s)
        k = (s >> 24) % 512
        op = (s >> 16) & 7
        if op < 3:
            live.setdefault(k, []).append(s & 0xFFFF)
        elif op < 5 and k in live:
            total += sum(live.pop(k))
        elif op == 5:
            stack.append([k] * (1 + (s >> 40) % 24))
        elif stack:
            total += len(stack.pop())
    seen = set()
    for k, v in live.items():
        seen |= {x & 255 for x in v}
        total += k * len(v)
    return total + len(seen) + len(stack)


def leaf_json(arg):
    seed, n = arg
    s = seed
    total = 0
    for i in range(n // 10):
        s = lcg(s)
        doc = {"id": i, "name": "doc-%x" % (s >> 44),
               "vals": [(s >> k) & 255 for k in range(0, (s >> 5) % 24)],
               "sub": {"a": [i, i + 1], "b": {"c": "x" * ((s >> 30) % 64)}}}
        text = json.dumps(doc, sort_keys=True)
        back = json.loads(text)
        total += len(text) + sum(back["vals"]) + len(back["sub"]["b"]["c"])
    return total


def leaf_sqlite(arg):
    seed, n = arg
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, "
                   "name TEXT, v INTEGER)")
        rows = []
        s = seed
        for i in range(n):
            s = lcg(s)
            rows.append((i, (s >> 20) % 37, "n%x" % (s >> 36), (s >> 8) % 100000))
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        db.execute("CREATE INDEX t_grp ON t (grp, v)")
        total = 0
        for grp, cnt, sv in db.execute(
                "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp ORDER BY grp"):
            total += grp * cnt + sv
        for (name,) in db.execute("SELECT name FROM t WHERE grp = ? "
                                  "ORDER BY v, id LIMIT 200", (seed % 37,)):
            total += len(name)
        return total
    finally:
        db.close()


class Miss(Exception):
    pass


def thrower(arg):
    k = arg[0]
    if k % 3 == 0:
        raise Miss("k=%d" % k)
    return k


def leaf_raise(arg):
    seed, n = arg
    total = 0
    for k in range(n):
        try:
            total += descend(4, thrower, (k + seed % 3,))
        except Miss as e:
            total += len(e.args[0])
    return total


PHASES = [("records", leaf_records), ("churn", leaf_churn),
          ("json", leaf_json), ("sqlite", leaf_sqlite),
          ("raise", leaf_raise)]


def usage():
    print("usage: python3 py_calls.py [name=value ...]")
    for name, (default, doc) in PARAMS.items():
        print("  %-6s %s (default %d)" % (name, doc, default))


def parse(argv):
    params = {name: default for name, (default, _) in PARAMS.items()}
    for arg in argv:
        if arg in ("-h", "--help"):
            usage()
            sys.exit(0)
        name, eq, value = arg.partition("=")
        if not eq or name not in PARAMS or not value.isdigit():
            sys.exit("py_calls.py: bad argument %r (try --help)" % arg)
        params[name] = int(value)
    return params


def main():
    p = parse(sys.argv[1:])
    total = 0
    # Each phase's work is cut into slices of 250 operations, each slice
    # entered through its own call chain: the chain is walked many times.
    slices = max(1, p["ops"] // 250)
    for r in range(p["scale"]):
        for k, (_, leaf) in enumerate(PHASES):
            for i in range(slices):
                seed = (1000 + r) * 7919 + k * 104729 + i
                total += descend(p["depth"], leaf, (seed, 250))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("checksum=%016x workload=py_calls scale=%d depth=%d ops=%d "
          "peak_rss_mib=%.1f" % (total & MASK, p["scale"], p["depth"],
                                 p["ops"], peak / 1024.0))


if __name__ == "__main__":
    main()
