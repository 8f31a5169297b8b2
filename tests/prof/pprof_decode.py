#!/usr/bin/env python3
"""pprof_decode.py — a minimal reader of gzipped profile.proto for tests.

Decodes the wire format directly (no protobuf package needed) into plain
dicts: sample types, samples with values, labels and resolved frames.
Frames are ("sym", function, file, line) for locations with a Line and
("addr", address, mapping filename) otherwise.  Used by the profiler tests
to compare a dump against the truth a test program printed.
"""
import gzip
import sys


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ValueError("bad wire type %d" % wt)
        yield num, wt, v


def packed(wt, v):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def signed(x):
    return x - (1 << 64) if x >= 1 << 63 else x


def decode(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    raw = {"sample_type": [], "sample": [], "mapping": {}, "location": {},
           "function": {}, "strings": [], "comment": [], "period": 0,
           "default_sample_type": 0, "period_type": None}
    for num, wt, v in fields(data):
        if num == 1:
            raw["sample_type"].append(dict(fields_of(v)))
        elif num == 2:
            raw["sample"].append(v)
        elif num == 3:
            m = dict(fields_of(v))
            raw["mapping"][m.get(1, 0)] = m
        elif num == 4:
            loc = {"lines": []}
            for n2, w2, v2 in fields(v):
                if n2 == 4:
                    loc["lines"].append(dict(fields_of(v2)))
                else:
                    loc[n2] = v2
            raw["location"][loc.get(1, 0)] = loc
        elif num == 5:
            f = dict(fields_of(v))
            raw["function"][f.get(1, 0)] = f
        elif num == 6:
            raw["strings"].append(v.decode())
        elif num == 11:
            raw["period_type"] = dict(fields_of(v))
        elif num == 12:
            raw["period"] = signed(v)
        elif num == 13:
            raw["comment"].extend(packed(wt, v))
        elif num == 14:
            raw["default_sample_type"] = v
        elif num in (9, 10):
            raw[{9: "time_nanos", 10: "duration_nanos"}[num]] = v
    return resolve(raw)


def fields_of(buf):
    return [(n, v) for n, _, v in fields(buf)]


def resolve(raw):
    s = raw["strings"]
    prof = {
        "sample_types": [(s[t.get(1, 0)], s[t.get(2, 0)])
                         for t in raw["sample_type"]],
        "default_sample_type": s[raw["default_sample_type"]],
        "period": raw["period"],
        "period_type": (s[raw["period_type"].get(1, 0)],
                        s[raw["period_type"].get(2, 0)])
        if raw["period_type"] else None,
        "comments": [s[c] for c in raw["comment"]],
        "time_nanos": raw.get("time_nanos", 0),
        "duration_nanos": raw.get("duration_nanos", 0),
        "mappings": [{"start": m.get(2, 0), "limit": m.get(3, 0),
                      "offset": m.get(4, 0), "file": s[m.get(5, 0)],
                      "build_id": s[m.get(6, 0)]}
                     for m in raw["mapping"].values()],
        "samples": [],
    }
    for sbuf in raw["sample"]:
        locs, vals, labels = [], [], {}
        for num, wt, v in fields(sbuf):
            if num == 1:
                locs.extend(packed(wt, v))
            elif num == 2:
                vals.extend(signed(x) for x in packed(wt, v))
            elif num == 3:
                lab = dict(fields_of(v))
                key = s[lab.get(1, 0)]
                labels[key] = s[lab[2]] if 2 in lab else lab.get(3, 0)
        prof["samples"].append({"values": vals, "labels": labels,
                                "frames": [frame(raw, s, l) for l in locs]})
    return prof


def frame(raw, s, loc_id):
    loc = raw["location"][loc_id]
    if loc["lines"]:
        ln = loc["lines"][0]
        fn = raw["function"][ln.get(1, 0)]
        return ("sym", s[fn.get(2, 0)], s[fn.get(4, 0)], ln.get(2, 0))
    mapping = raw["mapping"].get(loc.get(2, 0), {})
    return ("addr", loc.get(3, 0), s[mapping.get(5, 0)] if mapping else "")


if __name__ == "__main__":
    import json
    print(json.dumps(decode(sys.argv[1]), indent=1, default=str))
