#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpus of the profile reader's fuzz
target (profile_fuzz.c) into a directory.

Usage: make_corpus.py DIR [--lib LIBHEAPSIGHT.so --heapsight EXE]

Seeds:
  - profiles from profgen.py: small; with inlined frames; with
    unsymbolized addresses; with labels (thread, allocator, bytes);
    Python-like symbolic frames (no mapping) of one sample type; many
    addresses in one mapping; comments; raw (not gzipped) and split into
    two gzip members;
  - every case of tests/cli/robust/badinputs.py in its seed-sized form:
    malformed and hostile files (empty, truncated varints, wrong wire
    types, references and string indexes out of range, huge lengths,
    field 0, a gzip bomb of 64 MiB of zeros, gzip of nothing, ...) and
    well-formed unusual ones (ids not 1..n, negative values, values
    whose sum overflows int64, a stack 100,000 frames deep, ...);
  - with --lib and --heapsight: a real dump of /usr/bin/python3 under
    libheapsight.so (prof_sample:256, prof_final), as written and after
    `heapsight symbolize` (build IDs, inlined frames from DWARF).
Prints one line per seed source; exits 1 only if a seed cannot be made
(the real dump is skipped with a note when python3 or the library is
missing).
"""
import argparse
import glob
import gzip
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "robust"))
import badinputs  # noqa: E402
import profgen  # noqa: E402  (badinputs put tests/cli on the path)


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def profgen_seeds():
    """(name, bytes) of valid profiles written with profgen."""
    out = [("small.pb.gz", badinputs.good_profile(address=True))]
    p = profgen.Profile(comments=("seed", "inlined"))
    p.sample([["inner", "middle", "outer"], "caller", "main"],
             [1, 32, 1, 32], labels={"thread": "worker-1"})
    p.sample([("leaf", "leaf.c", 7), ["inner", "middle", "outer"], "main"],
             [3, 96, 0, 0], labels={"allocator": "calloc"},
             num_labels={"bytes": (32, "bytes")})
    out.append(("inlined.pb.gz", gzip.compress(p.encode(), mtime=0)))
    p = profgen.Profile(mapping="/usr/lib/x86_64-linux-gnu/libc.so.6")
    for k in range(40):
        p.sample([0x401000 + 16 * k, 0x402000 + 8 * k, "main"],
                 [k, 16 * k, k // 2, 8 * k])
    out.append(("unsymbolized.pb.gz", gzip.compress(p.encode(), mtime=0)))
    p = profgen.Profile(types=[("space", "bytes")], default="space")
    p.sample([("list_append", "app.py", 12), ("<module>", "app.py", 1)],
             [4096], labels={"thread": "MainThread",
                             "allocator": "pymalloc"})
    p.sample([("dict_new", "app.py", 30), ("<module>", "app.py", 1)], [512])
    out.append(("python-like.pb.gz", gzip.compress(p.encode(), mtime=0)))
    raw = badinputs.raw_profile()
    out.append(("raw.pb", raw))
    half = len(raw) // 2
    out.append(("two-members.pb.gz", gzip.compress(raw[:half], mtime=0) +
                gzip.compress(raw[half:], mtime=0)))
    return out


def real_dumps(d, lib, heapsight):
    """Dumps of a small Python run under heapsight, raw and symbolized."""
    py = "/usr/bin/python3"
    if not lib or not os.path.exists(lib) or not os.path.exists(py):
        print("real dump: skipped (no %s or no library)" % py)
        return
    prefix = os.path.join(d, "dump")
    env = dict(os.environ, LD_PRELOAD=lib,
               HEAPSIGHT="prof:true,prof_sample:256,prof_final:true,"
                         "prof_prefix:" + prefix)
    env.pop("PYTHONMALLOC", None)
    code = ("import json\n"
            "rows = [{'k': i, 'v': str(i) * 10} for i in range(20000)]\n"
            "text = json.dumps(rows)\n")
    subprocess.run([py, "-c", code], env=env, check=True, timeout=60)
    dumps = sorted(glob.glob(prefix + ".*.final.pb.gz"))
    if len(dumps) != 1:
        raise RuntimeError("want one dump from python3, got %s" % dumps)
    os.rename(dumps[0], os.path.join(d, "real-dump.pb.gz"))
    subprocess.run([heapsight, "symbolize", os.path.join(d, "real-dump.pb.gz"),
                    "-o", os.path.join(d, "real-dump-symbolized.pb.gz")],
                   check=True, timeout=60, stderr=subprocess.DEVNULL)
    print("real dump: python3 under %s, raw and symbolized" % lib)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--lib")
    ap.add_argument("--heapsight")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    seeds = profgen_seeds()
    for name, data in seeds:
        write(args.dir, name, data)
    print("profgen: %d profiles" % len(seeds))
    cases = badinputs.cases(big=False)
    for c in cases:
        write(args.dir, "bad-" + c.name, c.data)
    print("badinputs: %d malformed, hostile or unusual inputs" % len(cases))
    real_dumps(args.dir, args.lib, args.heapsight)
    return 0


if __name__ == "__main__":
    sys.exit(main())
