#!/usr/bin/env python3
"""robust_test.py — every report subcommand against bad input files.

Usage: robust_test.py COMMAND --heapsight EXE

One CTest test cli_robust_<COMMAND> per subcommand in TEMPLATES.  The
command must be listed by `heapsight --help` (a subcommand not built yet
fails with a message saying so).  First each argument template runs on
good profiles and must succeed (else the template no longer matches the
command's interface, and the test says so).  Then every bad input
(badinputs.py, plus the path cases below) takes the place of @BAD in each
template, and each run must:
  - end by itself within RUN_TIMEOUT seconds, under an address-space
    limit of AS_LIMIT (RLIMIT_AS, set in the child): no hang, bounded
    memory;
  - not die of a signal;
  - exit 2 with exactly one line on stderr, "heapsight: ...", naming the
    bad file and the problem (the case's expected words);
  - leave nothing in the output directory (no output, no temporary file).
Well-formed profiles are the exceptions (badinputs.py says which): a
profile with no samples, which heapsight itself dumps for a program that
never reached a sample point, must be read like any other (exit 0, and
an output file for the commands that write one), and so must unusual
ones (ids not 1..n, negative values, empty names, a very deep stack);
one with no sample types, stacks too large to expand or values whose sum
overflows may be refused as above or accepted the same way.

Templates use @BAD (the input under test), @GOOD1..@GOOD4 (good profiles
of the same program at four times; @GOOD3 stands in for @BAD in the
check of the templates) and @OUT (an output path in a directory of its
own).  Prints one line per run; exits 1 on a failure.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import badinputs  # noqa: E402

# Per subcommand: argument lists, @BAD in each position worth testing.
TEMPLATES = {
    "top": [["top", "@BAD"]],
    "leaks": [["leaks", "@BAD"]],
    "diff": [["diff", "@BAD", "@GOOD2"], ["diff", "@GOOD1", "@BAD"]],
    "trend": [["trend", "@GOOD1", "@GOOD2", "@BAD", "@GOOD4"]],
    "flamegraph": [["flamegraph", "@BAD", "-o", "@OUT.svg"]],
    "graph": [["graph", "@BAD", "-o", "@OUT.dot"]],
    "merge": [["merge", "@GOOD1", "@BAD", "-o", "@OUT.pb.gz"]],
    "convert": [["convert", "--to", "collapsed", "@BAD"]],
    "symbolize": [["symbolize", "@BAD", "-o", "@OUT.pb.gz"]],
}
AS_LIMIT = 3 << 29  # 1.5 GiB of address space per run
RUN_TIMEOUT = 60    # seconds per run

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run(exe, args):
    """(status, stdout, stderr); status is -signal when killed and None
    on a timeout."""
    env = dict(os.environ, LC_ALL="C")
    try:
        p = subprocess.run([exe] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env,
                           timeout=RUN_TIMEOUT, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None, "", ""
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def commands(exe):
    """The subcommands `heapsight --help` lists."""
    rc, out, err = run(exe, ["--help"])
    if rc != 0:
        fail("heapsight --help: exit %r: %s" % (rc, err.strip()))
        return set()
    names, listing = set(), False
    for line in out.splitlines():
        if line.strip() == "commands:":
            listing = True
        elif listing and line.startswith("  "):
            names.add(line.split()[0])
        elif listing and names:
            listing = False
    return names


def expand(template, paths):
    return [paths[a] if a in paths else a.replace("@OUT", paths["@OUT"])
            for a in template]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def path_cases(tmp):
    """(name, path, expected words) for inputs that are not bytes."""
    directory = os.path.join(tmp, "a-directory")
    os.mkdir(directory)
    sparse = os.path.join(tmp, "sparse-3GiB.pb.gz")
    with open(sparse, "wb") as f:
        f.truncate(3 << 30)  # a hole: no disk space used
    return [("missing-file", os.path.join(tmp, "no-such-file.pb.gz"),
             r"No such file"),
            ("directory", directory, r"directory"),
            ("endless-device", "/dev/zero", r"larger than 1024 MiB"),
            ("oversized-file", sparse, r"larger than 1024 MiB")]


def check_good(exe, cmd, paths, outdir):
    """Every template must succeed on good profiles; False if not."""
    ok = True
    for t in TEMPLATES[cmd]:
        good = dict(paths, **{"@BAD": paths["@GOOD3"]})
        args = expand(t, good)
        rc, out, err = run(exe, args)
        if rc != 0:
            ok = False
            fail("good profiles: heapsight %s: exit %r: %s (does the "
                 "template still match the command's interface?)"
                 % (" ".join(args), rc, err.strip()[:400]))
        shutil.rmtree(outdir)
        os.mkdir(outdir)
    print("good profiles: %s" % ("ok" if ok else "FAILED"))
    return ok


def check_error(args, bad, rc, err, want, outdir):
    what = "heapsight %s" % " ".join(args)
    lines = err.splitlines()
    if rc is None:
        fail("%s: no exit within %d s (hang?)" % (what, RUN_TIMEOUT))
    elif rc < 0:
        fail("%s: killed by signal %s" % (what, signal.Signals(-rc).name))
    elif rc != 2:
        fail("%s: exit %d, want 2 (stderr %r)" % (what, rc, err[:300]))
    elif len(lines) != 1 or not lines[0].startswith("heapsight: "):
        fail("%s: want exactly one 'heapsight: ' line on stderr, got %r"
             % (what, err[:600]))
    elif bad not in lines[0]:
        fail("%s: the error line does not name %s: %r"
             % (what, bad, lines[0]))
    elif not re.search(want, lines[0]):
        fail("%s: the error line does not say /%s/: %r"
             % (what, want, lines[0]))
    left = os.listdir(outdir)
    if left:
        fail("%s: left %s in the output directory" % (what, left))
    return lines[0] if len(lines) == 1 else err.strip()[:200]


def check_success(template, args, rc, err, outdir):
    """A profile read like any other: exit 0, and the output if any."""
    what = "heapsight %s" % " ".join(args)
    if rc != 0:
        fail("%s: exit %r, want 0 for a well-formed profile (stderr %r)"
             % (what, rc, err[:300]))
    elif any("@OUT" in a for a in template) and not os.listdir(outdir):
        fail("%s: exit 0 but no output written" % what)
    return "exit %r" % rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=sorted(TEMPLATES))
    ap.add_argument("--heapsight", required=True)
    args = ap.parse_args()
    exe, cmd = args.heapsight, args.command
    have = commands(exe)
    if cmd not in have:
        fail("heapsight has no '%s' command yet (`heapsight --help` lists: "
             "%s): nothing to test" % (cmd, ", ".join(sorted(have))))
        return 1
    tmp = tempfile.mkdtemp(prefix="hs-robust-")
    try:
        outdir = os.path.join(tmp, "out")
        os.mkdir(outdir)
        paths = {"@OUT": os.path.join(outdir, "result")}
        for k in (1, 2, 3, 4):
            paths["@GOOD%d" % k] = write(
                os.path.join(tmp, "good%d.pb.gz" % k),
                badinputs.good_profile(seed=k, time_nanos=(1700000000 + k) *
                                       10**9))
        check_good(exe, cmd, paths, outdir)
        inputs = [(c.name, write(os.path.join(tmp, c.name + ".pb.gz"),
                                 c.data), c.want, c.expect)
                  for c in badinputs.cases(big=True)]
        inputs += [(n, p, w, badinputs.REFUSE)
                   for n, p, w in path_cases(tmp)]
        for name, bad, want, expect in inputs:
            for t in TEMPLATES[cmd]:
                argv = expand(t, dict(paths, **{"@BAD": bad}))
                rc, _, err = run(exe, argv)
                if expect == badinputs.ACCEPT or \
                        expect == badinputs.EITHER and rc == 0:
                    said = check_success(t, argv, rc, err, outdir)
                else:
                    said = check_error(argv, bad, rc, err, want, outdir)
                print("%-28s %-12s -> %s" % (name, "@BAD at %d"
                                             % argv.index(bad), said))
                shutil.rmtree(outdir)
                os.mkdir(outdir)
    except Exception as e:  # a crash of the test itself is a failure too
        fail("%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("cli_robust_%s: %s" % (cmd, "FAILED (%d)" % len(FAILURES)
                                 if FAILURES else "ok"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
