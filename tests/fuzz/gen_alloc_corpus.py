#!/usr/bin/env python3
"""gen_alloc_corpus.py — writes the seed corpus of alloc_fuzz.c.

Owns: the seeds in tests/fuzz/alloc_corpus/ (scenario-*: one allocator
feature each, written as operation programs; random-*: random programs
from a fixed PRNG seed), and an encoder mirroring alloc_fuzz.c's input
format (opcode byte = index into its ops[] table, slot byte, argument
bytes; a size is a range selector and 16 bits).  Keep OPS and size() in
step with alloc_fuzz.c.

Usage: python3 tests/fuzz/gen_alloc_corpus.py [DIR]   (default: alloc_corpus/
next to this script; existing scenario-* and random-* files are replaced)
       python3 tests/fuzz/gen_alloc_corpus.py --decode FILE...
                                 (prints each input as its operations)
"""
import os
import random
import sys

# First index of each operation in alloc_fuzz.c's ops[].
OPS = {
    "malloc": 0, "calloc": 3, "realloc": 5, "free": 9, "free_sized": 12,
    "posix_memalign": 14, "aligned_alloc": 15, "memalign": 16,
    "valloc": 17, "mallocx": 18, "rallocx": 21, "dallocx": 24,
    "usable": 25, "check": 27, "ctl": 28, "huge": 29, "reallocarray": 30,
    "reset": 31,
}
# mallocx/rallocx flag byte bits (in_flags).
ZERO, NOCACHE, GUARDED, ALIGN, AUTO_ARENA, MANUAL_ARENA = 1, 2, 4, 8, 0x10, 0x20


def size(n):
    """The 3 bytes in_size() decodes to n (or to the nearest it can)."""
    if n <= 128:
        mode, v = 0, n
    elif n <= 4096:
        mode, v = 9, n
    elif n <= 4096 + 12288:
        mode, v = 11, n - 4096
    elif n < 65536:
        mode, v = 13, n
    elif n % 4 == 0 and n // 4 < 65536:
        mode, v = 14, n // 4
    elif n % 16 == 0 and n // 16 < 65536:
        mode, v = 15, n // 16
    else:
        mode, v = 15 | 16, min(n // 64, 65535)
    return bytes([mode, v & 255, v >> 8])


def edge(k, d):
    """2^k + d (d in -2..2), a class edge: selector 12."""
    for v in range(65536):
        if v % 23 == k and (v >> 8) % 5 == d + 2:
            return bytes([12, v & 255, v >> 8])
    raise ValueError((k, d))


def op(name, slot, *args):
    out = bytes([OPS[name], slot])
    for a in args:
        out += a if isinstance(a, bytes) else bytes([a])
    return out


def flags(bits, c=0):
    """in_flags bytes: bits, then c (the alignment's lg mod 17 when ALIGN,
    and (c >> 5) the automatic arena)."""
    return bytes([bits, c])


def scenarios():
    s = {}
    small = [0, 1, 8, 16, 17, 24, 48, 64, 65, 100, 128, 129, 1000, 4096]
    s["malloc-small-classes"] = b"".join(
        op("malloc", i, size(n)) for i, n in enumerate(small)) + b"".join(
        op("free_sized", i, 0) for i in range(len(small)))
    s["realloc-grow-shrink"] = (
        op("malloc", 1, size(1)) +
        b"".join(op("realloc", 1, size(1 << k)) for k in range(1, 23)) +
        b"".join(op("realloc", 1, size(1 << k)) for k in range(21, 0, -3)) +
        op("realloc", 1, size(0)) + op("realloc", 1, size(100)) +
        op("free_sized", 1, 0))
    s["realloc-large-in-place"] = (
        op("malloc", 2, size(20000)) + op("realloc", 2, size(24000)) +
        op("realloc", 2, size(65536)) + op("realloc", 2, size(1 << 20)) +
        op("realloc", 2, size(40000)) + op("rallocx", 2, flags(ZERO),
                                            size(300000)) +
        op("rallocx", 2, flags(ZERO), size(16384)) + op("free", 2))
    s["calloc-reuse"] = b"".join(
        op("malloc", i, size(n)) + op("free", i) + op("calloc", i, 3, size(n))
        for i, n in enumerate([64, 3000, 14336, 20000, 1 << 20]))
    s["posix-memalign-all"] = b"".join(
        op("posix_memalign", k, k, size(100 + 1000 * k)) for k in range(17)
    ) + b"".join(op("free_sized", k, 1) for k in range(17))
    s["aligned-alloc"] = b"".join(
        op("aligned_alloc", k, k, size(64 << (k % 8)), 1 if k % 3 else 0)
        for k in range(17)) + b"".join(op("free", k) for k in range(17))
    s["memalign-odd"] = b"".join(
        op("memalign", k, k, size(33 * k), k & 1) for k in range(17)
    ) + b"".join(op("free_sized", k, 2) for k in range(17))
    s["valloc-pvalloc"] = b"".join(
        op("valloc", k, k & 1, size(n))
        for k, n in enumerate([0, 1, 4095, 4096, 4097, 100000])
    ) + b"".join(op("free_sized", k, 1) for k in range(6))
    combos = [ZERO, NOCACHE, GUARDED, ZERO | GUARDED, ALIGN, ALIGN | ZERO,
              ALIGN | GUARDED, NOCACHE | ZERO, AUTO_ARENA, AUTO_ARENA | ZERO]
    s["mallocx-flags"] = b"".join(
        op("mallocx", i, flags(f, 4 + i), size(n))
        for i, f in enumerate(combos)
        for n in [40]) + b"".join(
        op("mallocx", 16 + i, flags(f, 12 + i % 5), size(30000))
        for i, f in enumerate(combos)) + b"".join(
        op("dallocx", i, i & 1) for i in range(10)) + b"".join(
        op("free_sized", 16 + i, i) for i in range(10))
    s["rallocx-zero-align"] = (
        op("mallocx", 3, flags(ZERO), size(10)) +
        op("rallocx", 3, flags(ZERO), size(100)) +
        op("rallocx", 3, flags(ZERO | ALIGN, 12), size(5000)) +
        op("rallocx", 3, flags(ZERO | ALIGN, 16), size(200000)) +
        op("rallocx", 3, flags(0), size(50)) +
        op("free_sized", 3, 1))
    s["manual-arena-reset"] = b"".join(
        op("mallocx", i, flags(MANUAL_ARENA | (ZERO if i & 1 else 0)),
           size(50 * i * i)) for i in range(12)) + op("malloc", 40, size(77)) + \
        op("realloc", 3, size(100000)) + op("reset", 0) + b"".join(
        op("mallocx", i, flags(MANUAL_ARENA), size(3000)) for i in range(4)) + \
        op("ctl", 0, 5) + op("free", 2) + op("reset", 0)
    s["guarded-usable"] = b"".join(
        op("mallocx", i, flags(GUARDED), size(n)) + op("usable", i, 1)
        for i, n in enumerate([1, 16, 100, 4096, 14336, 14337, 50000])
    ) + b"".join(op("realloc", i, size(200)) for i in range(3)) + b"".join(
        op("free_sized", i, 2) for i in range(7))
    s["huge-failures"] = op("malloc", 5, size(1000)) + b"".join(
        op("huge", 5, b) for b in range(9)) + b"".join(
        op("huge", 5, b + 16 * 7) for b in range(9)) + op("free", 5)
    s["ctl-purge-arena"] = b"".join(
        op("malloc", i, size(1000 * i)) for i in range(10)) + b"".join(
        op("free", i) for i in range(0, 10, 2)) + op("ctl", 0, 1) + \
        op("ctl", 0, 2) + op("ctl", 0, 4 + 8) + b"".join(
        op("malloc", i, size(100)) for i in range(0, 10, 2)) + \
        op("ctl", 0, 0) + op("ctl", 0, 3) + op("ctl", 0, 4) + b"".join(
        op("free", i) for i in range(10))
    s["class-edges"] = b"".join(
        op("malloc", i % 64, edge(k, d)) + op("usable", i % 64, 1)
        for i, (k, d) in enumerate((k, d) for k in range(3, 23)
                                   for d in (-2, -1, 0, 1)))
    s["usable-then-realloc"] = (
        op("malloc", 7, size(100)) + op("usable", 7, 1) +
        op("realloc", 7, size(112)) + op("usable", 7, 1) +
        op("realloc", 7, size(20000)) + op("usable", 7, 1) +
        op("realloc", 7, size(9)) + op("check", 7) + op("free_sized", 7, 0))
    s["reallocarray"] = (
        op("reallocarray", 9, 3, size(99)) +
        op("reallocarray", 9, 7, size(70000)) +
        op("reallocarray", 9, 0, size(0)) + op("free", 9))
    return s


# alloc_fuzz.c's ops[], in order, and each operation's arguments: "b" a
# byte, "s" a size (3 bytes), "f" the two flag bytes.
TABLE = (["malloc"] * 3 + ["calloc"] * 2 + ["realloc"] * 4 + ["free"] * 3 +
         ["free_sized"] * 2 + ["posix_memalign", "aligned_alloc", "memalign",
                                "valloc"] + ["mallocx"] * 3 + ["rallocx"] * 3 +
         ["dallocx"] + ["usable"] * 2 + ["check", "ctl", "huge",
                                         "reallocarray", "reset"])
ARGS = {"malloc": "s", "calloc": "bs", "realloc": "s", "free": "",
        "free_sized": "b", "posix_memalign": "bs", "aligned_alloc": "bsb",
        "memalign": "bsb", "valloc": "bs", "mallocx": "fs", "rallocx": "fs",
        "dallocx": "b", "usable": "b", "check": "", "ctl": "b", "huge": "b",
        "reallocarray": "bs", "reset": ""}
assert len(TABLE) == 32 and all(TABLE[i] == n for n, i in OPS.items())


def decoded_size(m, v):
    sel = m & 15
    if sel in (9, 10):
        return v % 4097
    if sel == 11:
        return 4096 + v % 12289
    if sel == 12:
        b, d = 1 << (v % 23), (v >> 8) % 5
        return 0 if b + d < 2 else b + d - 2
    if sel == 13:
        return v
    if sel == 14:
        return v * 4
    if sel == 15:
        return v * 64 if m & 16 else v * 16
    return v % 129


def decode(data):
    """alloc_fuzz.c's reading of data, one operation a line (sizes before
    the LIVE_CAP clamp; the 'bad'/'odd' bytes and flags as decoded)."""
    pos = 0

    def byte():
        nonlocal pos
        if pos >= len(data):
            return 0
        pos += 1
        return data[pos - 1]

    lines = []
    while pos < len(data):
        name = TABLE[byte() % 32]
        slot = byte() % 64
        args = []
        for kind in ARGS[name]:
            if kind == "b":
                args.append("b=%d" % byte())
            elif kind == "s":
                m = byte()
                v = byte()
                v |= byte() << 8
                args.append("size=%d" % decoded_size(m, v))
            else:
                b, c = byte(), byte()
                fl = [n for bit, n in ((ZERO, "ZERO"), (NOCACHE, "TCACHE_NONE"),
                                       (GUARDED, "GUARDED")) if b & bit]
                if b & ALIGN and c % 17:
                    fl.append("ALIGN(%d)" % (1 << (c % 17)))
                if b & 0x30 == AUTO_ARENA:
                    fl.append("ARENA(auto #%d mod narenas)" % (c >> 5))
                elif b & 0x30 == MANUAL_ARENA:
                    fl.append("ARENA(manual)")
                args.append("flags=" + ("|".join(fl) or "0"))
        lines.append("%s slot=%d %s" % (name, slot, " ".join(args)))
    return lines


def random_programs(n, rng):
    out = {}
    names = list(OPS)
    for i in range(n):
        prog = b""
        for _ in range(rng.randrange(8, 80)):
            name = rng.choice(names)
            slot = rng.randrange(16)
            prog += bytes([OPS[name], slot])
            prog += bytes(rng.randrange(256) for _ in range(6))
        out["random-%02d" % i] = prog
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--decode":
        for path in sys.argv[2:]:
            with open(path, "rb") as f:
                data = f.read()
            print("%s (%d bytes): %s" % (path, len(data), data.hex()))
            for i, line in enumerate(decode(data)):
                print("  op %d: %s" % (i, line))
        return
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "alloc_corpus")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith(("scenario-", "random-")):
            os.remove(os.path.join(d, f))
    seeds = {"scenario-" + k: v for k, v in scenarios().items()}
    seeds.update(random_programs(14, random.Random(20261203)))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), d))


if __name__ == "__main__":
    main()
