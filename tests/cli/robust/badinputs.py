"""badinputs.py — malformed, hostile and unusual profile files, shared by the
robustness driver (robust_test.py, against every report subcommand) and
the fuzz corpus (tests/cli/fuzz/make_corpus.py, as seeds).

Each case is a Case(name, data, want, expect):
  data    the file's bytes;
  want    a regular expression the command's one error line must match
          (the problem, as the shared reader or model words it);
  expect  what every subcommand must do with it:
          REFUSE  exit 2 with one error line (a broken or hostile file);
          ACCEPT  succeed: a profile with no samples is what heapsight
                  itself dumps for a program that never reached a sample
                  point (`/bin/true` under prof:true,prof_final:true);
          EITHER  a well-formed profile that some subcommands cannot use
                  (no sample types; stacks too large to expand; values
                  whose sum overflows): refuse it as for REFUSE, or
                  succeed (symbolize rewrites any profile; merge need not
                  expand stacks).
Besides the broken and hostile files, a few well-formed but unusual ones
(ACCEPT or EITHER) look for crashes in the reports themselves: ids that
are not 1..n, negative values (a diff's), empty function names, a stack
100,000 frames deep.
Inputs that are not byte strings (a missing file, a directory, an endless
device, a sparse file past the size limit) live in robust_test.py.

Sizes: bomb(n) builds a gzip stream of n zero bytes in a few seconds at
most, without compressing n bytes (a full-flush block of 1 MiB of zeros
repeats verbatim); cases(big=False) keeps every case small enough to be a
fuzzing seed (decompressed sizes of a few MiB at most).
"""
import gzip
import os
import random
import struct
import sys
import zlib
from collections import namedtuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import profgen  # noqa: E402  (tests/cli/profgen.py)
from profgen import field_bytes, field_varint, packed, varint  # noqa: E402

Case = namedtuple("Case", "name data want expect")
REFUSE, ACCEPT, EITHER = "refuse", "accept", "either"

# Types of every good and bad profile here: heapsight's four.
TYPES = (("alloc_objects", "count"), ("alloc_space", "bytes"),
         ("inuse_objects", "count"), ("inuse_space", "bytes"))

NOT_A_PROFILE = r"not a pprof profile"


def good_profile(seed=1, time_nanos=1700000000000000000, samples=True,
                 address=False):
    """A small valid heapsight-like profile (gzipped): labels, an inlined
    frame and, with address=True, an unsymbolized address (which makes
    the report subcommands try to symbolize, and say so on stderr, when
    the file is not found); different seeds give different values over
    the same functions."""
    rnd = random.Random(seed)
    p = profgen.Profile(types=TYPES, time_nanos=time_nanos)
    if samples:
        stacks = [["leaf_alloc", "worker", "main"],
                  [["inlined_helper", "outer"], "worker", "main"],
                  ["make_buffer", "parse", "main"]]
        if address:
            stacks.append([0x401234, "main"])
        for stack in stacks:
            n = rnd.randrange(1, 50)
            size = rnd.choice([16, 64, 4096])
            p.sample(stack, [n, n * size, n // 2, n // 2 * size],
                     labels={"thread": "main", "allocator": "malloc"},
                     num_labels={"bytes": (size, "bytes")})
    return gzip.compress(p.encode(), mtime=0)


def raw_profile():
    """The raw (not gzipped) encoding of a small valid profile."""
    return gzip.decompress(good_profile())


def bomb(total, chunk=1 << 20):
    """A valid gzip stream of `total` zero bytes (a multiple of chunk)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    unit = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()
    n = total // chunk
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + unit * n + end + struct.pack("<II", crc,
                                                 (n * chunk) & 0xFFFFFFFF)


def _strings(*texts):
    return b"".join(field_bytes(6, t.encode()) for t in texts)


def _value_type(t, u):
    return field_bytes(1, field_varint(1, t) + field_varint(2, u))


# Raw pieces: string table ["", "space", "bytes"], one sample type.
_STR = _strings("", "space", "bytes")
_VT = _value_type(1, 2)


def _sample(ids, values, labels=b""):
    return field_bytes(2, packed(1, ids) + packed(2, values) + labels)


def _location(lid, mapping=0, functions=()):
    msg = field_varint(1, lid)
    if mapping:
        msg += field_varint(2, mapping)
    for f in functions:
        msg += field_bytes(4, field_varint(1, f) + field_varint(2, 1))
    return field_bytes(4, msg)


def _function(fid, name=1):
    return field_bytes(5, field_varint(1, fid) + field_varint(2, name))


def other_message():
    """A valid protobuf message that is not a profile: a
    google.protobuf.FileDescriptorProto for "x.proto" with one message."""
    desc = field_bytes(1, b"Point") + field_bytes(
        2, field_bytes(1, b"x") + field_varint(3, 1) + field_varint(4, 1) +
        field_varint(5, 5))
    return (field_bytes(1, b"x.proto") + field_bytes(2, b"geometry") +
            field_bytes(4, desc) + field_bytes(12, b"proto3"))


def stack_bomb():
    """A valid profile (heapsight's sample types) whose one sample names a
    1000-frame inlined location 300,000 times: 3e8 frames once expanded
    (the model refuses it)."""
    p = profgen.Profile(types=TYPES)
    lid = p.location([("deep%d" % k, "deep.c", k) for k in range(1000)])
    # Written directly: Profile.sample would normalize 300,000 frames.
    p.samples.append(packed(1, [lid] * 300000) + packed(2, [1, 64, 1, 64]))
    return gzip.compress(p.encode(), 9, mtime=0)


def sparse_ids():
    """A valid raw profile with heapsight's sample types whose ids are not
    1..n (functions 100 and 7, locations 7 and 3, mapping 3), with
    drop/keep frames, a period type and a default type."""
    names = ["", "alloc_objects", "count", "alloc_space", "bytes",
             "inuse_objects", "inuse_space", "sparse_leaf", "sparse.c",
             "/bin/sparse", "drop_me", "keep_me", "sparse_main", "space"]
    strings = _strings(*names)
    vts = b"".join(_value_type(t, u) for t, u in ((1, 2), (3, 4), (5, 2),
                                                  (6, 4)))
    fns = b"".join(field_bytes(5, field_varint(1, i) + field_varint(2, n) +
                               field_varint(3, n) + field_varint(4, 8))
                   for i, n in ((100, 7), (7, 12)))
    mapping = field_bytes(3, field_varint(1, 3) + field_varint(2, 0x1000) +
                          field_varint(3, 0x9000) + field_varint(5, 9) +
                          field_varint(7, 1) + field_varint(8, 1) +
                          field_varint(9, 1))
    locs = b"".join(
        field_bytes(4, field_varint(1, lid) + field_varint(2, 3) +
                    field_varint(3, addr) +
                    field_bytes(4, field_varint(1, fid) +
                                field_varint(2, line)))
        for lid, addr, fid, line in ((7, 0x1234, 100, 9),
                                     (3, 0x2000, 7, 30)))
    samples = (_sample([7, 3], [2, 128, 1, 64]) +
               _sample([3], [1, 4096, 1, 4096]))
    return (vts + samples + mapping + locs + fns + strings +
            field_varint(7, 10) + field_varint(8, 11) +
            field_bytes(11, field_varint(1, 13) + field_varint(2, 4)) +
            field_varint(12, 524288) + field_varint(14, 6))


def unusual(values=None, stack=None):
    """A gzipped profile of heapsight's types: one sample with the given
    values and stack (leaf first), and one ordinary sample."""
    p = profgen.Profile(types=TYPES)
    p.sample(stack or ["unusual_leaf", "main"], values or [1, 64, 1, 64])
    p.sample(["ordinary_leaf", "main"], [3, 96, 1, 32])
    return gzip.compress(p.encode(), mtime=0)


def sample_flood(n):
    """A gzip of a header and n empty samples (2 bytes each): decoding
    it costs protobuf-c ~100 bytes per sample."""
    return gzip.compress(_STR + _VT + b"\x12\x00" * n, 6, mtime=0)


def cases(big=True):
    """The list of Case; big=False keeps every case seed-sized."""
    good = good_profile()
    raw = raw_profile()
    rnd = random.Random(7)
    no_samples = good_profile(samples=False)
    cs = [
        Case("empty", b"", r"empty file", REFUSE),
        Case("random-bytes", bytes(rnd.randrange(256) for _ in range(4096)),
             NOT_A_PROFILE, REFUSE),
        Case("gzip-of-nothing", gzip.compress(b"", mtime=0),
             r"empty after gunzip", REFUSE),
        Case("gzip-of-random", gzip.compress(bytes(range(256)) * 16, mtime=0),
             NOT_A_PROFILE, REFUSE),
        Case("truncated-gzip", good[:len(good) // 2], r"ends early", REFUSE),
        Case("gzip-header-only", good[:10], r"ends early", REFUSE),
        Case("corrupt-gzip", good[:10] + b"\xff" * 24 + good[34:],
             NOT_A_PROFILE, REFUSE),
        Case("gzip-trailing-garbage", good + b"garbage!", r"corrupt gzip",
             REFUSE),
        Case("truncated-protobuf", raw[:len(raw) * 2 // 3], NOT_A_PROFILE,
             REFUSE),
        Case("truncated-varint", _STR + _VT + b"\x50\xff\xff\xff",
             r"protobuf decoding failed", REFUSE),
        Case("wrong-wire-type", _STR + field_varint(1, 5),
             r"protobuf decoding failed", REFUSE),
        Case("other-message", other_message(), NOT_A_PROFILE, REFUSE),
        Case("unknown-fields-only",
             field_bytes(20, b"hello") + field_varint(21, 3),
             r"string table does not start", REFUSE),
        Case("string-table-not-empty-first", _strings("x") + _VT,
             r"string table does not start", REFUSE),
        Case("field-number-zero", _STR + _VT + b"\x81\x00" + bytes(8),
             r"field number 0", REFUSE),
        Case("string-index-out-of-range", _value_type(99, 2) + _STR,
             r"out of range", REFUSE),
        Case("label-string-out-of-range",
             _STR + _VT + _sample([], [5], field_bytes(
                 3, field_varint(1, 77) + field_varint(2, 1))),
             r"label string index out of range", REFUSE),
        Case("sample-location-missing", _STR + _VT + _sample([7], [5]),
             r"location 7", REFUSE),
        Case("location-function-missing",
             _STR + _VT + _location(1, functions=[9]) + _sample([1], [5]),
             r"function 9", REFUSE),
        Case("location-mapping-missing",
             _STR + _VT + _location(1, mapping=9) + _sample([1], [5]),
             r"mapping 9", REFUSE),
        Case("duplicate-ids", _STR + _VT + _location(3) + _location(3),
             r"two locations", REFUSE),
        Case("id-zero", _STR + _VT + _function(0), r"function with id 0",
             REFUSE),
        Case("values-per-type", _STR + _VT + _sample([], [5, 6]),
             r"values", REFUSE),
        Case("absurd-length",
             _STR + _VT + varint(2 << 3 | 2) + varint(1 << 62) + b"\x08\x01",
             r"protobuf decoding failed", REFUSE),
        Case("absurd-packed-length",
             _STR + _VT + field_bytes(2, varint(1 << 3 | 2) +
                                      varint(1 << 40) + b"\x01\x02"),
             r"protobuf decoding failed", REFUSE),
        Case("absurd-string-length",
             _STR + _VT + varint(6 << 3 | 2) + varint(0x7FFFFFFF) + b"abc",
             r"protobuf decoding failed", REFUSE),
        Case("gzip-bomb", bomb(2 << 30 if big else 64 << 20),
             r"over 1 GiB" if big else NOT_A_PROFILE, REFUSE),
        Case("sample-flood", sample_flood(30000000 if big else 100000),
             r"over 1 GiB" if big else r"values", REFUSE),
        Case("no-samples", no_samples, r"", ACCEPT),
        Case("no-sample-types", _STR, r"sample types", EITHER),
        Case("stack-bomb", stack_bomb(), r"frames", EITHER),
        Case("sparse-ids", sparse_ids(), r"", ACCEPT),
        Case("negative-values", unusual(values=[-3, -300, -1, -100]), r"",
             ACCEPT),
        Case("overflowing-values", unusual(values=[2**63 - 1] * 4),
             r"value|overflow", EITHER),
        Case("empty-function-names",
             unusual(stack=[("", "", 0), ("main", "", 0)]), r"", ACCEPT),
        Case("deep-stack", unusual(stack=[("f%d" % k, "deep.c", k + 1)
                                          for k in range(
                                              100000 if big else 5000)]),
             r"", ACCEPT),
    ]
    return cs
