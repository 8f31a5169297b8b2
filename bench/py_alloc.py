"""py_alloc.py — the Python workload: an interpreter's allocation mix.

Owns: the python benchmark only (run as `python3 bench/py_alloc.py [scale=N]`
under LD_PRELOAD by bench/run.sh).

CPython serves objects <= 512 bytes from its own pymalloc arenas (256 KiB
each, taken from malloc/mmap), and everything larger from malloc: big
strings and bytes, list and dict storage as they grow (realloc), dict key
tables, and the buffers of str.join/bytes building.  So this workload
measures what a real interpreter asks of the system allocator, not a
microbenchmark.  With PYTHONMALLOC=malloc (run.sh's `python_malloc`
workload) every object goes to the allocator under test instead.

Phases, repeated `scale` times: build a table of records (objects with
dicts and lists), a word-frequency count over generated text, JSON-like
nested structures serialized and parsed back, string building, and list
sorting/slicing.  Nothing depends on hash randomization or addresses, so
the checksum is the same under every allocator.
"""
import json
import resource
import sys


class Record:
    __slots__ = ("key", "name", "tags", "attrs")

    def __init__(self, key, name, tags, attrs):
        self.key = key
        self.name = name
        self.tags = tags
        self.attrs = attrs


def lcg(state):
    """A deterministic PRNG, independent of the random module's version."""
    return (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)


def build_records(n, seed):
    out = {}
    s = seed
    for i in range(n):
        s = lcg(s)
        name = "rec-%d-%x" % (i, s >> 40)
        tags = [name[: (s >> 3) % 12 + 1] for _ in range((s >> 7) % 6)]
        attrs = {"i": i, "w": (s >> 20) % 1000, "blob": "x" * ((s >> 11) % 900)}
        out[name] = Record(i, name, tags, attrs)
    total = 0
    for name, rec in out.items():
        total += rec.key + len(rec.tags) + rec.attrs["w"] + len(rec.attrs["blob"])
    return total


def word_freq(nwords, seed):
    syll = ["ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "zu", "pe"]
    s = seed
    words = []
    for _ in range(nwords):
        s = lcg(s)
        words.append("".join(syll[(s >> (8 + 4 * k)) % 10] for k in range(1 + (s >> 60) % 5)))
    text = " ".join(words)
    freq = {}
    for w in text.split():
        freq[w] = freq.get(w, 0) + 1
    top = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
    return sum(c * len(w) for w, c in top) + len(freq)


def json_roundtrip(n, seed):
    s = seed
    docs = []
    for i in range(n):
        s = lcg(s)
        docs.append({
            "id": i,
            "values": list(range((s >> 10) % 40)),
            "meta": {"owner": "u%d" % ((s >> 30) % 97), "note": "n" * ((s >> 40) % 300)},
        })
    text = json.dumps(docs)
    back = json.loads(text)
    return len(text) + sum(len(d["values"]) + len(d["meta"]["note"]) for d in back)


def string_building(n, seed):
    s = seed
    total = 0
    for _ in range(n):
        parts = []
        s = lcg(s)
        for k in range(200 + (s >> 50) % 300):
            parts.append("%d:%s;" % (k, "ab" * (k % 17)))
        blob = "".join(parts)
        total += len(blob) + blob.count("ab")
        data = bytearray()
        for k in range(300):
            data += bytes(((s >> 8) + k) & 0xFF for _ in range(1 + k % 64))
        total += len(data) + data[-1]
    return total


def list_work(n, seed):
    s = seed
    lists = []
    for _ in range(n):
        s = lcg(s)
        lst = [(s >> k) & 0xFFFF for k in range(0, 48)] * ((s >> 56) % 20 + 1)
        lst.sort()
        lists.append(lst[::3])
    return sum(len(x) + x[-1] for x in lists)


def main():
    scale = 4
    for arg in sys.argv[1:]:
        if arg.startswith("scale="):
            scale = int(arg.split("=", 1)[1])
        else:
            sys.exit("py_alloc.py: bad argument %r (scale=N)" % arg)
    total = 0
    for r in range(scale):
        seed = 1000 + r
        total += build_records(20000, seed)
        total += word_freq(60000, seed)
        total += json_roundtrip(3000, seed)
        total += string_building(150, seed)
        total += list_work(3000, seed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("checksum=%016x workload=python scale=%d peak_rss_mib=%.1f"
          % (total & (2**64 - 1), scale, peak / 1024.0))


if __name__ == "__main__":
    main()
