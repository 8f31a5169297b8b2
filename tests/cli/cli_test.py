#!/usr/bin/env python3
"""cli_test.py — tests of the heapsight command (run, symbolize, usage).

Usage: cli_test.py CASE --heapsight EXE --selfprof EXE --selflib SO
                   --mkprof EXE --src DIR

Each CASE is one CTest test (cli_<CASE>); see CASES at the bottom.  The
symbolization cases check their results with the real `go tool pprof`
(Debian's golang-go) run with -symbolize=none, so that what pprof shows is
heapsight's symbolization and nothing of its own.  Expected source lines
come from the @markers in selfprof.c and selflib.cpp.

Every case works in its own temporary directory, removed at the end, and
prints what it checked; a failure prints FAIL lines and exits 1.
"""

import argparse
import gzip
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ARGS = None
TMP = None
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(cmd, env=None, **kw):
    """Runs cmd; returns (exit status, stdout, stderr) as text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=100, **kw)
    return p.returncode, p.stdout, p.stderr


def hs(*args, env=None):
    return run([ARGS.heapsight] + list(args), env=env)


def one_error_line(err, what):
    """stderr must be exactly one line starting with 'heapsight: '."""
    lines = err.splitlines()
    ok = len(lines) == 1 and lines[0].startswith("heapsight: ")
    check(ok, "%s: want one 'heapsight: ' line on stderr, got %r"
          % (what, err))
    return lines[0] if lines else ""


def marker_line(src, marker):
    """The line of the last @marker in src (the first ones are in the
    module comment, which lists them)."""
    found = None
    with open(os.path.join(ARGS.src, src)) as f:
        for i, line in enumerate(f, 1):
            if re.search(r"@%s\b" % marker, line):
                found = i
    if found is None:
        raise RuntimeError("no marker @%s in %s" % (marker, src))
    return found


def build_id(path):
    out = run(["readelf", "-n", path])[1]
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else ""


# ---- go tool pprof -----------------------------------------------------------

def go_env():
    env = dict(os.environ)
    for var in ("HOME", "GOCACHE", "GOPATH", "PPROF_TMPDIR"):
        d = os.path.join(TMP, "go", var.lower())
        os.makedirs(d, exist_ok=True)
        env[var] = d
    env["PPROF_BINARY_PATH"] = os.path.join(TMP, "go", "nobinaries")
    env["GOFLAGS"] = ""
    env["GOTOOLCHAIN"] = "local"
    return env


def pprof(profile, *opts):
    rc, out, err = run(["go", "tool", "pprof", "-symbolize=none"]
                       + list(opts) + [profile], env=go_env())
    if rc != 0:
        fail("go tool pprof %s %s: exit %d: %s" % (" ".join(opts), profile,
                                                 rc, err.strip()))
    return out


def traces(profile):
    """The frames of each sample in pprof -traces, innermost first."""
    out = pprof(profile, "-traces")
    stacks, cur = [], None
    for line in out.splitlines():
        if line.startswith("-----------+"):
            if cur:
                stacks.append(cur)
            cur = []
            continue
        if cur is None:
            continue
        m = re.match(r"^\s*(?:\S+B|\d+)?\s{3}(\S.*)$", line)
        if m:
            cur.append(m.group(1).strip())
    return stacks


def raw_locations(profile):
    """pprof -raw: {address: [(function, file, line)]} and mapping flags."""
    out = pprof(profile, "-raw")
    locs, cur = {}, None
    section = None
    flags = {}
    for line in out.splitlines():
        if line in ("Locations", "Mappings"):
            section = line
            continue
        if section == "Locations":
            m = re.match(r"^\s+\d+: (0x[0-9a-f]+) M=\d+ ?(.*)$", line)
            rest = line.strip()
            if m:
                cur = locs.setdefault(int(m.group(1), 16), [])
                rest = m.group(2)
            mm = re.match(r"^(.*) (\S*):(\d+) s=\d+", rest)
            if mm and cur is not None:
                cur.append((mm.group(1), mm.group(2), int(mm.group(3))))
        elif section == "Mappings":
            m = re.match(r"^\d+: \S+ (\S+) \S*\s*((?:\[\w+\])*)$",
                         line.strip())
            if m:
                flags[m.group(1)] = m.group(2)
    return locs, flags


# ---- the self-profiling program ---------------------------------------------

def expected_stack():
    """(function, file, line) of selfprof's frames, innermost first."""
    lib, prog = "selflib.cpp", "selfprof.c"
    return [
        ("hscli::Capture::grab(void**, int)", lib, marker_line(lib, "grab_call")),
        ("hscli::lib_inlined (inline)", lib, marker_line(lib, "lib_inlined_call")),
        ("selflib_entry", lib, marker_line(lib, "entry_call")),
        ("prog_inlined (inline)", prog, marker_line(prog, "prog_inlined_call")),
        ("prog_outer", prog, marker_line(prog, "prog_outer_call")),
        ("main", prog, marker_line(prog, "main_call")),
    ]


def stage_program(tag, strip=False):
    """Copies selfprof and its library into TMP/tag/{bin,lib}; returns
    (exe, lib).  With strip, both lose their symbols and DWARF (strip -s)."""
    d = os.path.join(TMP, tag)
    exe = os.path.join(d, "bin", "selfprof")
    lib = os.path.join(d, "lib", os.path.basename(ARGS.selflib))
    for src, dst in ((ARGS.selfprof, exe), (ARGS.selflib, lib)):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
        if strip:
            subprocess.check_call(["strip", "-s", dst])
    return exe, lib


def record(exe, lib, out):
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(lib))
    env.pop("LD_PRELOAD", None)
    rc, o, e = run([exe, out], env=env)
    if rc != 0:
        raise RuntimeError("selfprof failed: %d %s" % (rc, e))


def check_stack(profile, what, want_libc):
    """pprof -traces shows selfprof's whole stack, -raw the inline lines."""
    stacks = traces(profile)
    want = [f for f, _, _ in expected_stack()]
    if not check(len(stacks) == 1, "%s: %d stacks in -traces, want 1"
                 % (what, len(stacks))):
        return
    got = stacks[0]
    check(got[:len(want)] == want,
          "%s: -traces frames\n  got  %r\n  want %r" % (what, got[:8], want))
    if want_libc:
        check("__libc_start_call_main" in got,
              "%s: libc's frames unnamed (libc6-dbg installed): %r"
              % (what, got))
    check(got and got[-1] == "_start",
          "%s: outermost frame %r, want _start" % (what, got[-1:]))
    print("%s: -traces: %s" % (what, " <- ".join(got)))
    check_raw(profile, what)


def check_raw(profile, what):
    """Each location's lines, innermost first, with files and lines."""
    locs, _ = raw_locations(profile)
    exp = [(f.replace(" (inline)", ""), src, line)
           for f, src, line in expected_stack()]
    rows = [[(fn, os.path.basename(fl), ln) for fn, fl, ln in lines]
            for lines in locs.values()]
    for group in ([exp[0]], exp[1:3], exp[3:5], [exp[5]]):
        check(group in rows,
              "%s: no location with lines %r in -raw (have %r)"
              % (what, group, rows))
    top = pprof(profile, "-top", "-lines")
    for fn, src, line in exp:
        check("%s:%d" % (src, line) in top,
              "%s: %s:%d missing from -top -lines" % (what, src, line))


def libc_has_debug():
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(libc):
        return False
    i = build_id(libc)
    return os.path.exists("/usr/lib/debug/.build-id/%s/%s.debug"
                          % (i[:2], i[2:]))


# ---- cases -------------------------------------------------------------------

def case_help():
    rc, out, err = hs("--help")
    check(rc == 0 and "run" in out and "symbolize" in out and not err,
          "heapsight --help: exit %d, out %r" % (rc, out))
    for cmd in ("run", "symbolize"):
        for args in ((cmd, "--help"), (cmd, "-h"), ("help", cmd)):
            rc, out, err = hs(*args)
            check(rc == 0 and out.startswith("usage: heapsight %s" % cmd)
                  and not err, "heapsight %s: exit %d, stdout %r, stderr %r"
                  % (" ".join(args), rc, out[:60], err))
    for args, word in ((("bogus",), "unknown command"), ((), "no command"),
                       (("symbolize", "--bogus"), "unknown option"),
                       (("run", "--bogus"), "unknown option"),
                       (("symbolize", "-o"), "needs an argument"),
                       (("symbolize", "x.pb.gz"), "no output"),
                       (("symbolize", "-o", "y"), "no PROFILE"),
                       (("run",), "no command"),
                       (("run", "--sample", "12q", "--", "true"), "--sample"),
                       (("run", "--sample", "0", "--", "true"), "--sample")):
        rc, out, err = hs(*args)
        line = one_error_line(err, "heapsight %s" % " ".join(args))
        check(rc == 2 and word in line, "heapsight %s: exit %d, %r"
              % (" ".join(args), rc, line))
    rc, out, _ = hs("--version")
    check(rc == 0 and out.startswith("heapsight "), "--version: %r" % out)
    print("help and usage errors: ok")


def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, wire, payload):
    key = pb_varint((num << 3) | wire)
    if wire == 2:
        return key + pb_varint(len(payload)) + payload
    return key + pb_varint(payload)


def bad_profiles():
    """(name, bytes, word expected in the error line)."""
    s = lambda t: pb_field(6, 2, t.encode())
    vt = pb_field(1, 2, pb_field(1, 0, 1) + pb_field(2, 0, 2))
    strings = s("") + s("space") + s("bytes")
    sample_bad_loc = pb_field(2, 2, pb_field(1, 0, 7) + pb_field(2, 0, 5))
    sample_bad_vals = pb_field(2, 2, pb_field(2, 0, 5) + pb_field(2, 0, 6))
    loc_bad_map = pb_field(4, 2, pb_field(1, 0, 1) + pb_field(2, 0, 9))
    dup_loc = pb_field(4, 2, pb_field(1, 0, 3)) * 2
    good = gzip.compress(vt + strings + pb_field(2, 2, pb_field(2, 0, 5)))
    return [
        ("empty", b"", "empty"),
        ("random", bytes(random.Random(1).randrange(256)
                         for _ in range(4000)), "not a pprof profile"),
        ("gzip-of-nothing", gzip.compress(b""), "empty after gunzip"),
        ("gzip-of-random", gzip.compress(bytes(range(256)) * 8),
         "not a pprof profile"),
        ("truncated-gzip", good[:len(good) // 2], "ends early"),
        ("corrupt-gzip", good[:10] + b"\xff" * 20 + good[30:],
         "not a pprof profile"),
        ("bad-string0", s("x") + vt, "string table"),
        ("string-index", pb_field(1, 2, pb_field(1, 0, 99)) + strings,
         "out of range"),
        ("sample-location", vt + strings + sample_bad_loc, "location 7"),
        ("sample-values", vt + strings + sample_bad_vals, "values"),
        ("location-mapping", strings + loc_bad_map, "mapping 9"),
        ("duplicate-ids", strings + dup_loc, "two locations"),
    ], good


def case_errors():
    profiles, good = bad_profiles()
    for name, data, word in profiles:
        path = os.path.join(TMP, name + ".pb.gz")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(TMP, name + ".out.pb.gz")
        rc, _, err = hs("symbolize", path, "-o", out)
        line = one_error_line(err, name)
        check(rc == 2 and line.startswith("heapsight: %s: " % path)
              and word in line, "%s: exit %d, %r (want %r)"
              % (name, rc, line, word))
        check(not os.path.exists(out), "%s: output written" % name)
        print("%-18s -> exit %d: %s" % (name, rc, line))
    for path, word in ((os.path.join(TMP, "nosuch.pb.gz"), "No such file"),
                       (TMP, "directory")):
        rc, _, err = hs("symbolize", path, "-o", os.path.join(TMP, "o"))
        line = one_error_line(err, path)
        check(rc == 2 and word in line, "%s: exit %d %r" % (path, rc, line))
        print("%-18s -> exit %d: %s" % (os.path.basename(path), rc, line))
    ok = os.path.join(TMP, "good.pb.gz")
    with open(ok, "wb") as f:
        f.write(good)
    rc, _, err = hs("symbolize", ok, "-o", os.path.join(TMP, "ok.out"))
    check(rc == 0 and not err, "a minimal profile: exit %d %r" % (rc, err))
    rc, _, err = hs("symbolize", ok, "-o", os.path.join(TMP, "no/dir/x"))
    line = one_error_line(err, "unwritable output")
    check(rc == 1 and "cannot write" in line, "unwritable: %d %r" % (rc, line))
    print("unwritable output -> exit %d: %s" % (rc, line))


def case_symbolize_pprof():
    exe, lib = stage_program("plain")
    raw = os.path.join(TMP, "raw.pb.gz")
    record(exe, lib, raw)
    sym = os.path.join(TMP, "sym.pb.gz")
    rc, out, err = hs("symbolize", raw, "-o", sym, "-v")
    check(rc == 0, "symbolize: exit %d %s" % (rc, err))
    print(err.strip())
    check_stack(sym, "symbolized", libc_has_debug())
    _, flags = raw_locations(sym)
    for path in (exe, lib):
        check(flags.get(path) == "[FN][FL][LN][IN]",
              "mapping flags of %s: %r" % (path, flags.get(path)))
    raw_out = pprof(sym, "-raw")
    check("(_ZN5hscli7Capture4grabEPPvi)" in raw_out,
          "system_name of Capture::grab is not the mangled name")
    again = os.path.join(TMP, "again.pb.gz")
    rc, _, err = hs("symbolize", sym, "-o", again)
    check(rc == 0 and pprof(again, "-raw") == raw_out,
          "symbolizing twice changed the profile")
    shutil.copy(raw, os.path.join(TMP, "inplace.pb.gz"))
    inplace = os.path.join(TMP, "inplace.pb.gz")
    rc, _, err = hs("symbolize", inplace, "-o", inplace)
    check(rc == 0 and pprof(inplace, "-raw") == raw_out,
          "symbolizing in place differs")
    for sidx in ("inuse_space", "inuse_objects"):
        pprof(sym, "-top", "-sample_index=" + sidx)


def split_debug(path, tree=None, flat=None):
    """objcopy --only-keep-debug path into tree (build-id layout) or flat
    (any name); returns the debug file's path."""
    i = build_id(path)
    if tree:
        dst = os.path.join(tree, i[:2], i[2:] + ".debug")
    else:
        dst = os.path.join(flat, os.path.basename(path) + ".dbg")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.check_call(["objcopy", "--only-keep-debug", path, dst])
    return dst


def case_symbolize_stripped():
    tree, flat = os.path.join(TMP, "debug-tree"), os.path.join(TMP, "flat")
    split_debug(ARGS.selfprof, tree=tree)
    split_debug(ARGS.selflib, flat=flat)
    exe, lib = stage_program("stripped", strip=True)
    check(build_id(exe) == build_id(ARGS.selfprof), "strip kept the build ID")
    raw = os.path.join(TMP, "raw.pb.gz")
    record(exe, lib, raw)
    sym = os.path.join(TMP, "sym.pb.gz")
    rc, _, err = hs("symbolize", raw, "-o", sym, "--debug-dir", tree,
                    "--debug-dir", flat)
    check(rc == 0 and not err, "stripped: exit %d %r" % (rc, err))
    check_stack(sym, "stripped + debug files", libc_has_debug())
    # Without the debug files: only the library's exported symbols.
    bare = os.path.join(TMP, "bare.pb.gz")
    rc, _, err = hs("symbolize", raw, "-o", bare)
    check(rc == 0, "stripped, no debug dirs: exit %d %r" % (rc, err))
    got = traces(bare)[0]
    check("selflib_entry" in got and "prog_outer" not in got,
          "stripped without debug files: %r" % got)
    _, flags = raw_locations(bare)
    check(flags.get(lib) == "[FN]", "flags without DWARF: %r" % flags.get(lib))
    print("stripped, no debug files: %s" % " <- ".join(got))
    # Another machine: the binaries are gone, only the debug files are left.
    shutil.rmtree(os.path.join(TMP, "stripped"))
    away = os.path.join(TMP, "away.pb.gz")
    rc, _, err = hs("symbolize", raw, "-o", away, "--debug-dir", tree,
                    "--debug-dir", flat)
    check(rc == 0 and not err, "debug files only: exit %d %r" % (rc, err))
    check_stack(away, "debug files only", libc_has_debug())


def case_symbolize_missing():
    exe, lib = stage_program("missing")
    raw = os.path.join(TMP, "raw.pb.gz")
    record(exe, lib, raw)
    os.unlink(lib)
    sym = os.path.join(TMP, "sym.pb.gz")
    rc, _, err = hs("symbolize", raw, "-o", sym)
    line = one_error_line(err, "missing library")
    want = ("heapsight: symbolize: no file for %s (build id %s)"
            % (lib, build_id(ARGS.selflib)))
    check(rc == 0 and line == want, "missing: exit %d\n  got  %r\n  want %r"
          % (rc, line, want))
    got = traces(sym)[0]
    check("prog_outer" in got and "main" in got and
          "selflib_entry" not in got, "the rest symbolized: %r" % got)
    print("missing library: %s\n  %s" % (line, " <- ".join(got)))
    # The same library under another name in a flat directory, as copied
    # from the recording machine.
    copies = os.path.join(TMP, "copies")
    os.makedirs(copies)
    shutil.copy(ARGS.selflib, os.path.join(copies, "renamed.so"))
    found = os.path.join(TMP, "found.pb.gz")
    rc, _, err = hs("symbolize", raw, "-o", found, "--debug-dir", copies)
    check(rc == 0 and not err, "flat copy: exit %d %r" % (rc, err))
    check_stack(found, "found by build ID", libc_has_debug())
    # Another file at the path: not used, reported.
    shutil.copy(ARGS.selfprof, lib)
    rc, _, err = hs("symbolize", raw, "-o", sym)
    line = one_error_line(err, "wrong build ID")
    check(rc == 0 and "another" in line, "mismatch: %d %r" % (rc, line))
    print("another file at the path: %s" % line)


def case_symbolize_system():
    files = [f for f in ("/lib/x86_64-linux-gnu/libc.so.6",
                         "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                         os.path.realpath("/usr/bin/python3"))
             if os.path.exists(f)]
    check(len(files) == 3, "libc, libstdc++ and python3 present: %r" % files)
    raw = os.path.join(TMP, "big.pb.gz")
    rc, out, err = run([ARGS.mkprof, raw, "4000"] + files)
    check(rc == 0, "mkprof: %d %s" % (rc, err))
    print(out.strip())
    sym = os.path.join(TMP, "bigsym.pb.gz")
    t0 = time.time()
    rc, _, err = hs("symbolize", raw, "-o", sym, "-v")
    wall = time.time() - t0
    check(rc == 0, "symbolize: exit %d %s" % (rc, err))
    print(err.strip())
    print("command wall time %.3f s (read, symbolize, write)" % wall)
    m = re.search(r"(\d+) of (\d+) locations resolved", err)
    check(m and int(m.group(1)) > int(m.group(2)) // 3,
          "too few addresses resolved: %r" % err)
    _, flags = raw_locations(sym)
    for f in files:
        check("[FN]" in flags.get(f, ""), "%s: flags %r" % (f, flags.get(f)))
    if libc_has_debug() and shutil.which("addr2line"):
        compare_addr2line(sym, files[0])


def compare_addr2line(sym, libc):
    """Our libc frames (names and lines, inline chains) = addr2line's."""
    locs, _ = raw_locations(sym)
    base = 0x7F0000000000  # mkprof's base for the first file
    mine = {a - base: l for a, l in locs.items()
            if l and base <= a < base + (1 << 32)}
    pick = random.Random(2).sample(sorted(mine), min(150, len(mine)))
    i = build_id(libc)
    dbg = "/usr/lib/debug/.build-id/%s/%s.debug" % (i[:2], i[2:])
    out = run(["addr2line", "-e", dbg, "-f", "-i", "-a"]
              + [hex(a) for a in pick])[1].splitlines()
    theirs, cur, k = {}, None, 0
    while k < len(out):
        if out[k].startswith("0x"):
            cur = theirs.setdefault(int(out[k], 16), [])
            k += 1
            continue
        where = out[k + 1].split(" ")[0]
        cur.append((out[k], int(where.rpartition(":")[2] or 0)
                    if where.rpartition(":")[2].isdigit() else 0))
        k += 2
    bad = [a for a in pick
           if [(f, ln) for f, _, ln in mine[a]] != theirs.get(a)]
    for a in bad[:5]:
        print("  %#x ours %r addr2line %r" % (a, mine[a], theirs.get(a)))
    check(not bad, "%d of %d libc addresses differ from addr2line"
          % (len(bad), len(pick)))
    print("libc: %d addresses agree with addr2line -f -i" % len(pick))


# ---- the symbol cache --------------------------------------------------------

def cache_counts(err):
    """(from the cache, looked up) of a symbolize -v line."""
    m = re.search(r"\((\d+) from the symbol cache, (\d+) looked up\)", err)
    check(m is not None, "no cache counts in %r" % err)
    return (int(m.group(1)), int(m.group(2))) if m else (-1, -1)


def cache_files(cache):
    return sorted(os.listdir(cache)) if os.path.isdir(cache) else []


def case_symbolize_cache():
    """Answers are kept on disk per file version and used before DWARF;
    a damaged cache file costs time, never a wrong or missing answer."""
    exe, lib = stage_program("cached")
    raw = os.path.join(TMP, "raw.pb.gz")
    record(exe, lib, raw)
    cache = os.path.join(TMP, "cache")
    env = dict(os.environ, HEAPSIGHT_SYMBOL_CACHE=cache)
    first, again = (os.path.join(TMP, n) for n in ("first.pb.gz",
                                                   "again.pb.gz"))
    rc, _, err = hs("symbolize", "-v", raw, "-o", first, env=env)
    hit, miss = cache_counts(err)
    check(rc == 0 and hit == 0 and miss > 0, "cold: exit %d, %r" % (rc, err))
    names = cache_files(cache)
    for f in (exe, lib):
        check(any(n.startswith(build_id(f) + "-") and n.endswith(".sym")
                  for n in names), "no cache file for %s in %r" % (f, names))
    rc, _, err = hs("symbolize", "-v", raw, "-o", again, env=env)
    check(rc == 0 and cache_counts(err) == (miss, 0),
          "warm: every address from the cache: %r" % err)
    check_stack(again, "from the cache", libc_has_debug())
    check(traces(again) == traces(first), "cache and DWARF disagree")
    # The answer really comes from the file: an edited name shows.
    exe_cache = [os.path.join(cache, n) for n in names
                 if n.startswith(build_id(exe) + "-")][0]
    text = open(exe_cache).read()
    with open(exe_cache, "w") as fh:
        fh.write(text.replace("\tprog_outer\t", "\tprog_from_cache\t"))
    edited = os.path.join(TMP, "edited.pb.gz")
    hs("symbolize", raw, "-o", edited, env=env)
    check("prog_from_cache" in traces(edited)[0],
          "the cache file was not read: %r" % traces(edited)[0])
    # Damage: a record cut short and garbage after it.  What precedes
    # the damage is used, the rest looked up again, the answer right.
    cut = text.index("\nA\t", len(text) // 2) + 5
    with open(exe_cache, "w") as fh:
        fh.write(text[:cut] + "\nZ\tnonsense\nF\t\t\n")
    damaged = os.path.join(TMP, "damaged.pb.gz")
    rc, _, err = hs("symbolize", "-v", raw, "-o", damaged, env=env)
    hit, miss2 = cache_counts(err)
    check(rc == 0 and 0 < miss2 < miss, "damaged file: %r" % err)
    check_stack(damaged, "damaged cache", libc_has_debug())
    # Another version of the file (touched): another key, looked up.
    os.utime(exe, (1, 1))
    rc, _, err = hs("symbolize", "-v", raw, "-o", damaged, env=env)
    check(rc == 0 and cache_counts(err)[1] > 0, "touched exe: %r" % err)
    check(len(cache_files(cache)) == len(names) + 1,
          "touched exe: one more cache file: %r" % cache_files(cache))
    # Off: nothing read, nothing written.
    off = os.path.join(TMP, "off")
    env_off = dict(os.environ, HEAPSIGHT_SYMBOL_CACHE="off", HOME=off,
                   XDG_CACHE_HOME=off)
    rc, _, err = hs("symbolize", "-v", raw, "-o", damaged, env=env_off)
    check(rc == 0 and cache_counts(err)[0] == 0 and not os.path.exists(off),
          "cache off: %r" % err)
    # The default place: $XDG_CACHE_HOME/heapsight/symbols.
    env_xdg = dict(os.environ, XDG_CACHE_HOME=os.path.join(TMP, "xdg"))
    env_xdg.pop("HEAPSIGHT_SYMBOL_CACHE", None)
    hs("symbolize", raw, "-o", damaged, env=env_xdg)
    check(cache_files(os.path.join(TMP, "xdg", "heapsight", "symbols")),
          "nothing under $XDG_CACHE_HOME/heapsight/symbols")
    print("cache: %d addresses looked up cold, 0 warm; files %r"
          % (miss, names))


def case_run_no_symbolize():
    """run --no-symbolize leaves addresses; the views symbolize on read."""
    exe, lib = stage_program("nosym")
    raw = os.path.join(TMP, "raw.pb.gz")
    record(exe, lib, raw)
    out = os.path.join(TMP, "dumps")
    os.makedirs(out)
    script = 'cp "$0" "%s/heapsight.$$.0.final.pb.gz"' % out
    rc, o, e = run([ARGS.heapsight, "run", "--no-symbolize", "--lib",
                    ARGS.selflib, "--out", out, "--", "sh", "-c", script, raw],
                   env=hs_env())
    dumps = [l.split(": ", 2)[2] for l in e.splitlines() if "profile: " in l]
    check(rc == 0 and len(dumps) == 1, "run: %d %r" % (rc, e))
    check(open(dumps[0], "rb").read() == open(raw, "rb").read(),
          "--no-symbolize rewrote the dump")
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(lib))
    rc, o, e = hs("top", dumps[0], env=env)
    check(rc == 0 and "prog_outer" in o, "top symbolizes on read: %r %r"
          % (o, e))
    print("run --no-symbolize: dump kept raw; top names prog_outer")


# ---- run ---------------------------------------------------------------------

def hs_env(**kw):
    env = dict(os.environ)
    for k in ("HEAPSIGHT", "HEAPSIGHT_LIB", "LD_PRELOAD"):
        env.pop(k, None)
    env.update(kw)
    return env


SHOW_ENV = 'echo "P=$LD_PRELOAD"; echo "H=$HEAPSIGHT"; exit 3'


def case_run_env():
    lib = os.path.realpath(ARGS.selflib)  # harmless to preload
    other = os.path.join(TMP, "other.so")  # an LD_PRELOAD already set
    shutil.copy(ARGS.selflib, other)
    out = os.path.join(TMP, "out", "deeper")
    rc, o, e = run([ARGS.heapsight, "run", "--lib", ARGS.selflib, "--out",
                    out, "--sample", "64k", "--leaks", "--keep", "5", "--",
                    "sh", "-c", SHOW_ENV],
                   env=hs_env(HEAPSIGHT="narenas:2", LD_PRELOAD=other))
    prefix = os.path.realpath(out) + "/heapsight"
    want_h = ("narenas:2,prof:true,prof_final:true,prof_prefix:%s,"
              "prof_sample:65536,prof_leak:true,prof_max_dumps:5" % prefix)
    check(rc == 3, "exit status %d, want 3" % rc)
    check("P=%s:%s\n" % (lib, other) in o, "LD_PRELOAD: %r" % o)
    check("H=%s\n" % want_h in o, "HEAPSIGHT\n  got  %r\n  want %r"
          % (o, want_h))
    line = one_error_line(e, "run without dumps")
    check("no profile" in line, "no dump reported: %r" % line)
    print("env: %s" % o.replace("\n", " | "))
    # Defaults: no --sample, no --leaks, the library from $HEAPSIGHT_LIB.
    rc, o, e = run([ARGS.heapsight, "run", "--", "sh", "-c", SHOW_ENV],
                   env=hs_env(HEAPSIGHT_LIB=ARGS.selflib), cwd=TMP)
    check("H=prof:true,prof_final:true,prof_prefix:%s/heapsight\n"
          % os.path.realpath(TMP) in o and "P=%s\n" % lib in o,
          "defaults: %r" % o)
    # The build tree's library beside bin/.
    beside = os.path.join(os.path.dirname(ARGS.heapsight), "..", "lib",
                          "libheapsight.so")
    if os.path.exists(beside):
        rc, o, e = run([ARGS.heapsight, "run", "--out", TMP, "--", "sh",
                        "-c", 'echo "P=$LD_PRELOAD"'], env=hs_env())
        check("P=%s\n" % os.path.realpath(beside) in o,
              "library beside the executable: %r" % o)
    run_collects()
    run_end_to_end()
    run_processes()


def run_collects():
    """A dump written by CMD is symbolized in place; older ones are not."""
    exe, lib = stage_program("collect")
    raw = os.path.join(TMP, "collect", "raw.pb.gz")
    record(exe, lib, raw)
    out = os.path.join(TMP, "dumps")
    os.makedirs(out)
    old = os.path.join(out, "heapsight.1.0.final.pb.gz")
    shutil.copy(raw, old)
    before = open(old, "rb").read()
    script = 'cp "$0" "%s/heapsight.$$.0.final.pb.gz"; exit 5' % out
    rc, o, e = run([ARGS.heapsight, "run", "--lib", ARGS.selflib, "--out",
                    out, "--", "sh", "-c", script, raw], env=hs_env())
    check(rc == 5, "exit status %d, want 5" % rc)
    lines = e.splitlines()
    check(len(lines) == 1 and lines[0].startswith("heapsight: profile: %s/"
                                                 % os.path.realpath(out)),
          "run's report: %r" % e)
    dumps = [l.split(": ", 2)[2] for l in lines if "profile: " in l]
    for d in dumps:
        check_stack(d, "collected dump", libc_has_debug())
        check(oct(os.stat(d).st_mode & 0o777) == oct(os.stat(raw).st_mode
                                                      & 0o777),
              "mode of the symbolized dump changed")
    check(open(old, "rb").read() == before, "an older dump was rewritten")
    print("collected: %s" % e.strip())


def run_processes():
    """With more than one process, run ends with one line per process:
    pid, parent, dumps and command line (from the dumps' comments)."""
    real = os.path.join(os.path.dirname(ARGS.heapsight), "..", "lib",
                        "libheapsight.so")
    out = os.path.join(TMP, "procs")
    script = ("import subprocess; subprocess.run(['/bin/ls', '-d', '/']); "
              "subprocess.run(['/bin/ls', '-d', '/tmp'])")
    rc, o, e = run([ARGS.heapsight, "run", "--out", out, "--lib", real,
                    "--", "/usr/bin/python3", "-c", script], env=hs_env())
    lines = e.splitlines()
    head = [i for i, l in enumerate(lines) if "processes left profiles" in l]
    check(rc == 0 and len(head) == 1 and "3 processes" in lines[head[0]],
          "no process table of 3: %r" % e)
    rows = [l.split(None, 5)[1:] for l in lines[head[0] + 1:]] if head else []
    # [pid, "parent", ppid, dumps..., command]: the command ends the line.
    py = [r for r in rows if r[-1].endswith("/usr/bin/python3 -c " + script)]
    check(len(py) == 1, "python's row: %r" % rows)
    py_pid = py[0][0] if py else "?"
    for arg in ("/", "/tmp"):
        mine = [r for r in rows if r[-1].endswith("/bin/ls -d " + arg)]
        check(len(mine) == 1 and mine[0][2] == py_pid and
              "final, peak" in " ".join(mine[0]), "ls %s: %r" % (arg, rows))
    print("process table:\n  " + "\n  ".join(lines[head[0]:] if head
                                              else []))


def run_end_to_end():
    """With the real library: if the profiler writes dumps, they must be
    readable and symbolized (skipped while the profiler is not built)."""
    real = os.path.join(os.path.dirname(ARGS.heapsight), "..", "lib",
                        "libheapsight.so")
    if not os.path.exists(real):
        print("end to end: SKIP (no libheapsight.so in the build tree)")
        return
    out = os.path.join(TMP, "e2e")
    rc, o, e = run([ARGS.heapsight, "run", "--sample", "4k", "--out", out,
                    "--", sys.executable, "-c",
                    "x = [bytes(1000) for _ in range(2000)]; print(len(x))"],
                   env=hs_env())
    check(rc == 0 and o == "2000\n", "e2e python: exit %d %r %r" % (rc, o, e))
    dumps = [l.split(": ", 2)[2] for l in e.splitlines()
             if l.startswith("heapsight: profile: ")]
    if not dumps:
        print("end to end: SKIP (the library wrote no dump yet: %s)"
              % e.strip())
        return
    for d in dumps:
        top = pprof(d, "-top")
        check("flat%" in top, "pprof -top of %s: %r" % (d, top[:200]))
    print("end to end: %d dumps symbolized: %s" % (len(dumps), dumps))


def case_run_status():
    lib = ARGS.selflib
    base = [ARGS.heapsight, "run", "--lib", lib, "--out", TMP, "--"]
    for cmd, want, word in (
            (["sh", "-c", "exit 0"], 0, None),
            (["sh", "-c", "exit 42"], 42, None),
            (["sh", "-c", "kill -SEGV $$"], 128 + signal.SIGSEGV, "signal"),
            (["sh", "-c", "kill -KILL $$"], 128 + signal.SIGKILL, "signal"),
            ([os.path.join(TMP, "nosuch")], 127, "cannot run"),
            (["/etc/passwd"], 126, "cannot run")):
        rc, o, e = run(base + cmd, env=hs_env())
        check(rc == want, "%r: exit %d, want %d" % (cmd, rc, want))
        if word:
            check(any(word in l for l in e.splitlines()),
                  "%r: no %r line in %r" % (cmd, word, e))
        print("%-40s -> exit %d" % (" ".join(cmd)[-40:], rc))
    for args, env in ((["--lib", os.path.join(TMP, "none.so")], hs_env()),
                      ([], hs_env(HEAPSIGHT_LIB=os.path.join(TMP, "no.so")))):
        rc, o, e = run([ARGS.heapsight, "run"] + args + ["--", "true"],
                       env=env)
        line = one_error_line(e, "bad library")
        check(rc == 2 and "cannot use" in line, "bad lib: %d %r" % (rc, line))
    # SIGTERM to heapsight reaches CMD; heapsight reports 128+15.
    p = subprocess.Popen(base + ["sleep", "60"], env=hs_env(),
                         stderr=subprocess.PIPE, universal_newlines=True)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    check(rc == 128 + signal.SIGTERM, "SIGTERM forwarded: exit %r" % rc)
    print("SIGTERM -> exit %r" % rc)


CASES = {
    "help": case_help,
    "errors": case_errors,
    "symbolize_pprof": case_symbolize_pprof,
    "symbolize_stripped": case_symbolize_stripped,
    "symbolize_missing": case_symbolize_missing,
    "symbolize_system": case_symbolize_system,
    "run_env": case_run_env,
    "run_status": case_run_status,
    "symbolize_cache": case_symbolize_cache,
    "run_no_symbolize": case_run_no_symbolize,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    for opt in ("heapsight", "selfprof", "selflib", "mkprof", "src"):
        ap.add_argument("--" + opt, required=True)
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="hs-cli-")
    try:
        CASES[ARGS.case]()
    except Exception as e:  # a crash of the test itself is a failure too
        fail("%s: %s: %s" % (ARGS.case, type(e).__name__, e))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %s" % (ARGS.case, "FAILED (%d)" % len(FAILURES)
                      if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
