#!/usr/bin/env python3
"""profgen.py — writes pprof profiles (profile.proto, gzipped) for tests.

A small encoder of the wire format with no protobuf package: the report
subcommands' tests build fixed profiles with it (golden files) and
generated ones (trend series, large profiles, malformed inputs).

    from profgen import Profile
    p = Profile(types=[("alloc_objects", "count"), ("alloc_space", "bytes"),
                       ("inuse_objects", "count"), ("inuse_space", "bytes")],
                default="inuse_space", period=524288)
    p.sample(["malloc_site", "caller", "main"], [1, 64, 1, 64],
             labels={"thread": "main", "allocator": "malloc"},
             num_labels={"bytes": (64, "bytes")})
    p.write("x.pb.gz")

A frame is a function name (a symbolized location with one line, file
"<name>.c", line 10 + a stable small number), a tuple (name, file, line),
a list of such for inlined frames (innermost first), or an int: an
unsymbolized address in the mapping "/usr/lib/libfake.so" (or the mapping
given to the constructor).

Profiles of Python programs mix two more kinds of frames:

    PyFrame("load_batch", "app.py", 4)    a Python function, as heapsight's
                                          frame hook writes it: a location
                                          with no mapping and no address
    Native("_PyEval_EvalFrameDefault", "/usr/bin/python3.11",
           "Python/ceval.c", 1200)        a symbolized native frame in a
                                          mapping of that file (file and
                                          line may be left out)

and stripped modules have a third:

    Addr("/usr/bin/git", 0x55d0c8a4e2f0)  an unsymbolized address (no
                                          lines) in a mapping of that file
                                          ("" for a mapping with no file
                                          name)

Native and Addr frames share one mapping per file, placed at
0x7f0000000000 + k * 0x1000000 with file offset 0 unless place() put it
elsewhere first: p.place("/usr/bin/git", 0x55d0c8a04000, 0x55d0c8b00000,
0x4000) (start, limit, file offset, as in /proc/PID/maps).
"""
import collections
import gzip
import sys

# profile.proto field numbers
P_SAMPLE_TYPE, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION = 1, 2, 3, 4, 5
P_STRING_TABLE, P_TIME, P_DURATION, P_PERIOD_TYPE, P_PERIOD = 6, 9, 10, 11, 12
P_COMMENT, P_DEFAULT_TYPE = 13, 14
VT_TYPE, VT_UNIT = 1, 2
S_LOCATION, S_VALUE, S_LABEL = 1, 2, 3
L_KEY, L_STR, L_NUM, L_NUM_UNIT = 1, 2, 3, 4
M_ID, M_START, M_LIMIT, M_OFFSET, M_FILE, M_BUILD_ID = 1, 2, 3, 4, 5, 6
LOC_ID, LOC_MAPPING, LOC_ADDRESS, LOC_LINE = 1, 2, 3, 4
LINE_FUNCTION, LINE_LINE = 1, 2
F_ID, F_NAME, F_SYSTEM_NAME, F_FILENAME, F_START = 1, 2, 3, 4, 5


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


PyFrame = collections.namedtuple("PyFrame", "name file line")
Native = collections.namedtuple("Native", "name mapping file line",
                                defaults=("", 0))
Addr = collections.namedtuple("Addr", "mapping address")


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def packed(num, values):
    return field_bytes(num, b"".join(varint(v) for v in values))


class Profile:
    def __init__(self, types=(("alloc_objects", "count"),
                              ("alloc_space", "bytes"),
                              ("inuse_objects", "count"),
                              ("inuse_space", "bytes")),
                 default="inuse_space", period=524288, time_nanos=0,
                 duration_nanos=0, mapping="/usr/lib/libfake.so",
                 comments=()):
        self.strings = [""]
        self.index = {"": 0}
        self.types = [(self.s(t), self.s(u)) for t, u in types]
        self.default = self.s(default) if default else 0
        self.period = period
        self.time_nanos = time_nanos
        self.duration_nanos = duration_nanos
        self.comments = [self.s(c) for c in comments]
        self.functions = {}  # (name, file) -> id
        self.locations = {}  # key -> id
        self.loc_msgs = []
        self.fn_msgs = []
        self.samples = []
        self.mapping = mapping
        self.mapping_start, self.mapping_limit = 0x400000, 0x800000
        self.mappings = []  # files of Native and Addr frames: ids 2, 3, ...
        self.placed = {}  # file -> (start, limit, file offset), by place()

    def s(self, text):
        if text not in self.index:
            self.index[text] = len(self.strings)
            self.strings.append(text)
        return self.index[text]

    def _function(self, name, file):
        key = (name, file)
        if key not in self.functions:
            fid = len(self.functions) + 1
            self.functions[key] = fid
            self.fn_msgs.append(field_varint(F_ID, fid) +
                                field_varint(F_NAME, self.s(name)) +
                                field_varint(F_SYSTEM_NAME, self.s(name)) +
                                field_varint(F_FILENAME, self.s(file)))
        return self.functions[key]

    def _norm(self, frame):
        """A frame as a tuple of (name, file, line) lines, or an int."""
        if isinstance(frame, int):
            return frame
        if isinstance(frame, str):
            return ((frame, frame.split("(")[0] + ".c",
                     10 + sum(map(ord, frame)) % 90),)
        if isinstance(frame, tuple):
            return (frame,)
        return tuple(f if isinstance(f, tuple) else self._norm(f)[0]
                     for f in frame)

    def place(self, path, start, limit, offset=0):
        """Puts the mapping of path (Native and Addr frames) at [start,
        limit) with that file offset; before its first frame."""
        self.placed[path] = (start, limit, offset)

    def _mapped(self, path):
        """(id, start) of the mapping of a Native or Addr frame's file."""
        if path not in self.mappings:
            self.mappings.append(path)
        k = self.mappings.index(path)
        return k + 2, self._placement(path)[0]

    def _placement(self, path):
        k = self.mappings.index(path)
        start = 0x7f0000000000 + k * 0x1000000
        return self.placed.get(path, (start, start + 0x1000000, 0))

    def _special(self, frame):
        """The Location message of a PyFrame, Native or Addr frame."""
        lid = len(self.locations) + 1
        self.locations[frame] = lid
        msg = field_varint(LOC_ID, lid)
        if isinstance(frame, Addr):
            mid, _ = self._mapped(frame.mapping)
            msg += field_varint(LOC_MAPPING, mid) + \
                field_varint(LOC_ADDRESS, frame.address)
            self.loc_msgs.append(msg)
            return lid
        if isinstance(frame, Native):
            mid, start = self._mapped(frame.mapping)
            msg += field_varint(LOC_MAPPING, mid) + \
                field_varint(LOC_ADDRESS, start + 0x1000 + lid * 16)
        fid = self._function(frame.name, frame.file)
        msg += field_bytes(LOC_LINE, field_varint(LINE_FUNCTION, fid) +
                           field_varint(LINE_LINE, frame.line))
        self.loc_msgs.append(msg)
        return lid

    def location(self, frame):
        if isinstance(frame, (PyFrame, Native, Addr)):
            if frame in self.locations:
                return self.locations[frame]
            return self._special(frame)
        key = self._norm(frame)
        if key in self.locations:
            return self.locations[key]
        lid = len(self.locations) + 1
        self.locations[key] = lid
        if isinstance(key, int):
            msg = (field_varint(LOC_ID, lid) + field_varint(LOC_MAPPING, 1) +
                   field_varint(LOC_ADDRESS, key))
        else:
            msg = field_varint(LOC_ID, lid) + \
                field_varint(LOC_ADDRESS, 0x1000 + lid * 16)
            for name, file, line in key:
                fid = self._function(name, file)
                msg += field_bytes(LOC_LINE,
                                   field_varint(LINE_FUNCTION, fid) +
                                   field_varint(LINE_LINE, line))
        self.loc_msgs.append(msg)
        return lid

    def sample(self, stack, values, labels=None, num_labels=None):
        """stack: frames leaf first; values: one per sample type."""
        if len(values) != len(self.types):
            raise ValueError("%d values for %d types"
                             % (len(values), len(self.types)))
        ids = [self.location(f) for f in stack]
        msg = packed(S_LOCATION, ids) + packed(S_VALUE, values)
        for k, v in (labels or {}).items():
            msg += field_bytes(S_LABEL, field_varint(L_KEY, self.s(k)) +
                               field_varint(L_STR, self.s(v)))
        for k, (v, unit) in (num_labels or {}).items():
            msg += field_bytes(S_LABEL, field_varint(L_KEY, self.s(k)) +
                               field_varint(L_NUM, v) +
                               field_varint(L_NUM_UNIT, self.s(unit)))
        self.samples.append(msg)

    def encode(self):
        out = bytearray()
        for t, u in self.types:
            out += field_bytes(P_SAMPLE_TYPE, field_varint(VT_TYPE, t) +
                               field_varint(VT_UNIT, u))
        for m in self.samples:
            out += field_bytes(P_SAMPLE, m)
        if self.mappings or any(isinstance(k, int) for k in self.locations):
            out += field_bytes(P_MAPPING,
                               field_varint(M_ID, 1) +
                               field_varint(M_START, self.mapping_start) +
                               field_varint(M_LIMIT, self.mapping_limit) +
                               field_varint(M_FILE, self.s(self.mapping)))
        for path in self.mappings:
            mid, _ = self._mapped(path)
            start, limit, offset = self._placement(path)
            out += field_bytes(P_MAPPING,
                               field_varint(M_ID, mid) +
                               field_varint(M_START, start) +
                               field_varint(M_LIMIT, limit) +
                               (field_varint(M_OFFSET, offset) if offset
                                else b"") +
                               field_varint(M_FILE, self.s(path)))
        for m in self.loc_msgs:
            out += field_bytes(P_LOCATION, m)
        for m in self.fn_msgs:
            out += field_bytes(P_FUNCTION, m)
        space, bytes_ = self.s("space"), self.s("bytes")
        for st in self.strings:
            out += field_bytes(P_STRING_TABLE, st.encode())
        if self.time_nanos:
            out += field_varint(P_TIME, self.time_nanos)
        if self.duration_nanos:
            out += field_varint(P_DURATION, self.duration_nanos)
        out += field_bytes(P_PERIOD_TYPE, field_varint(VT_TYPE, space) +
                           field_varint(VT_UNIT, bytes_))
        out += field_varint(P_PERIOD, self.period)
        for c in self.comments:
            out += field_varint(P_COMMENT, c)
        if self.default:
            out += field_varint(P_DEFAULT_TYPE, self.default)
        return bytes(out)

    def write(self, path, compress=True):
        data = self.encode()
        with open(path, "wb") as f:
            f.write(gzip.compress(data, mtime=0) if compress else data)
        return path


if __name__ == "__main__":
    # A tiny example profile on stdout's path argument, for trying things.
    p = Profile(time_nanos=1700000000000000000)
    p.sample(["leaf_alloc", "worker", "main"], [10, 640, 4, 256],
             labels={"thread": "main", "allocator": "malloc"},
             num_labels={"bytes": (64, "bytes")})
    p.sample([0x401234, "main"], [1, 4096, 1, 4096],
             num_labels={"bytes": (4096, "bytes")})
    p.write(sys.argv[1] if len(sys.argv) > 1 else "example.pb.gz")
