#!/usr/bin/env python3
"""py2_check.py — Python 2 under heapsight run: the sitecustomize that run
puts on PYTHONPATH parses there and says, in one line, that Python frames
are off; no traceback, no "'import sitecustomize' failed"; the program
runs and its profile records why (a comment and the python_frames label).

    py2_check.py --python2 PATH --cli heapsight --pydir <build>/python
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "prof"))
import pprof_decode  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python2", required=True)
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEAPSIGHT", "PYTHON")) and k != "LD_PRELOAD"}
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run(
            [args.cli, "run", "--sample", "4k", "--out", out, "--",
             args.python2, "-c",
             "x = [str(i) * 3 for i in range(100000)]; print('py2 ran')"],
            env=env, capture_output=True, text=True, timeout=100)
        fails = []
        if p.returncode != 0 or "py2 ran" not in p.stdout:
            fails.append("exit %d, stdout %r" % (p.returncode, p.stdout))
        if "Traceback" in p.stderr or "failed" in p.stderr:
            fails.append("a traceback or failure: %r" % p.stderr)
        off = [ln for ln in p.stderr.splitlines()
               if ln.startswith("heapsight: Python frames are off")]
        if len(off) != 1 or "Python 2." not in off[0]:
            fails.append("want one line saying Python 2 is not supported: "
                         "%r" % p.stderr)
        dumps = glob.glob(os.path.join(out, "heapsight.*.pb.gz"))
        if not dumps:
            fails.append("no profile")
        for d in dumps:
            prof = pprof_decode.decode(d)
            if not any(c.startswith("python: frames off: ")
                       for c in prof["comments"]):
                fails.append("%s: comments %r" % (d, prof["comments"]))
            labels = {s["labels"].get("python_frames")
                      for s in prof["samples"]}
            if labels != {"off"}:
                fails.append("%s: python_frames labels %r" % (d, labels))
    for f in fails:
        print("FAIL: " + f)
    print("py2_check: %s" % ("FAILED" if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
