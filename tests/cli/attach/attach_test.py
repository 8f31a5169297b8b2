#!/usr/bin/env python3
"""attach_test.py — `heapsight attach PID` through its public interface:
a service started with libheapsight.so preloaded and the profiler armed
but idle (HEAPSIGHT=prof:true,prof_active:false) is attached, and the
profiles, the command's messages and the service's own view of
hs_ctl("prof.active") are checked.

Usage: attach_test.py CASE --heapsight EXE --lib SO --svc EXE

Cases (CTest test cli_attach_<case>):
  c          the C service (svc.c): --duration 1s --every 300ms; periodic,
             final and peak profiles, samples of the attached period only
             (svc_warmup, allocated before while idle, in none), sampling
             on during the session and off after it; a second attach
             continues the series
  python     the same for a Python service (svc.py) started with
             HEAPSIGHT_PYTHON=1: Python frames (grow, churn) in the stacks
  errors     a pid that does not exist; a process without the library
             and one with it but not listening (never signalled: both
             live on); bad usage
  no_answer  a process that catches the signal but has no listener: the
             command gives up after its timeout with the one-line error
  busy       a process already sampling (prof_attach:true): refused,
             left as it was
  lease      a session whose command went away: a request written by hand
             with a 1 s lease; the process turns sampling off by itself
  interrupt  SIGINT ends a long session early, with its profiles

Each case works in a temporary directory; failures print FAIL lines and
exit 1.
"""

import argparse
import glob
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "prof"))
import pprof_decode  # noqa: E402

ARGS = None
TMP = None
FAILURES = []
CLEAN_ENV = ("HEAPSIGHT", "LD_PRELOAD", "HEAPSIGHT_PYTHON", "PYTHONPATH",
             "HEAPSIGHT_RUN_TRACK", "HEAPSIGHT_CLI", "HEAPSIGHT_ATTACHED")


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def env_with(**extra):
    env = dict(os.environ)
    for k in CLEAN_ENV:
        env.pop(k, None)
    env.update(extra)
    return env


class Service:
    """A program under test, its stdout lines read as they come."""

    def __init__(self, cmd, env):
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        self.pid = None
        line = self.expect(r"ready (\d+)", 30)
        if line is not None:
            self.pid = int(line.split()[1])

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern, timeout=10):
        """The next line matching pattern (lines before it are kept in
        seen), or None after timeout seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=end - time.monotonic())
            except queue.Empty:
                break
            self.seen.append(line)
            if re.fullmatch(pattern, line):
                return line
        fail("%s: no line %r within %ds (saw %r)"
             % (os.path.basename(self.p.args[-2]), pattern, timeout,
                self.seen[-5:]))
        return None

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        """Ends it; returns its stderr."""
        if self.alive():
            self.p.kill()
        _, err = self.p.communicate(timeout=30)
        return err


def service(cmd, heapsight, **extra):
    env = env_with(LD_PRELOAD=ARGS.lib, **extra)
    if heapsight is not None:
        env["HEAPSIGHT"] = heapsight
    return Service(cmd, env)


def attach(pid, *opts, timeout=60):
    """heapsight attach PID OPTS; (exit status, stderr)."""
    p = subprocess.run([ARGS.heapsight, "attach", str(pid)] + list(opts),
                       env=env_with(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    print("$ heapsight attach %s %s -> %d\n%s" % (pid, " ".join(opts),
                                                   p.returncode, p.stderr))
    return p.returncode, p.stderr


def profiles(err):
    """The paths named by "heapsight: profile: PATH" lines."""
    return re.findall(r"^heapsight: profile: (.*)$", err, re.M)


def functions(path):
    """The function names in the stacks of the profile at path."""
    prof = pprof_decode.decode(path)
    return prof, set(f[1] for s in prof["samples"] for f in s["frames"]
                     if f[0] == "sym")


# ---- the sessions ------------------------------------------------------------

def check_session(svc, err, out, first_seq, sites, warm):
    """The profiles of one session of --every 300ms --duration 1s."""
    paths = profiles(err)
    names = [os.path.basename(p) for p in paths]
    kinds = [n.split(".")[3] for n in names]
    check(kinds[-2:] == ["final", "peak"] and kinds.count("timer") >= 2,
          "profiles %r: want 2+ timer, then final and peak" % names)
    want = ["heapsight.%d.%d.%s.pb.gz" % (svc.pid, first_seq + i, k)
            for i, k in enumerate(kinds)]
    check(names == want, "names %r, want %r" % (names, want))
    for p in paths:
        if not check(os.path.dirname(p) == out and os.path.exists(p),
                     "%s: not in %s" % (p, out)):
            continue
        check(os.stat(p).st_mode & 0o777 == 0o600, "%s: mode %o"
              % (p, os.stat(p).st_mode & 0o777))
        prof, fns = functions(p)
        check(not fns & warm, "%s: %s, allocated before the attach, is in "
              "it" % (p, sorted(fns & warm)))
        check(sites <= fns, "%s: no %s in %s" % (p, sorted(sites - fns),
                                                  sorted(fns)[:20]))
        check(any(c.startswith("process: pid %d" % svc.pid)
                  for c in prof["comments"]), "%s: comments %r"
              % (p, prof["comments"][:3]))
    return paths


def case_c():
    out = os.path.join(TMP, "out")
    svc = service([ARGS.svc, "60"], "prof:true,prof_active:false,"
                  "prof_sample:4k")
    if svc.pid is None:
        return
    rc, err = attach(svc.pid, "--duration", "1s", "--every", "300ms",
                     "--out", out)
    check(rc == 0, "attach: exit %d" % rc)
    svc.expect("active 1")
    svc.expect("active 0")
    paths = check_session(svc, err, out, 0, {"svc_grow", "svc_churn"},
                          {"svc_warmup"})
    # A second session: the process is idle again, the series goes on.
    rc, err = attach(svc.pid, "--duration", "1s", "--every", "300ms",
                     "--out", out, "--no-symbolize")
    check(rc == 0, "second attach: exit %d" % rc)
    svc.expect("active 1")
    svc.expect("active 0")
    more = profiles(err)
    check(more and os.path.basename(more[0]) == "heapsight.%d.%d.timer.pb.gz"
          % (svc.pid, len(paths)), "second series %r" % more)
    check(svc.alive(), "the service died")
    svc.stop()


def case_python():
    out = os.path.join(TMP, "out")
    svc = service([sys.executable, os.path.join(HERE, "svc.py"), "60"],
                  "prof:true,prof_active:false,prof_sample:4k",
                  HEAPSIGHT_PYTHON="1")
    if svc.pid is None:
        return
    rc, err = attach(svc.pid, "--duration", "1s", "--every", "300ms",
                     "--out", out)
    check(rc == 0, "attach: exit %d" % rc)
    svc.expect("active 1")
    svc.expect("active 0")
    py = sys.version_info[:2]
    sites = {"grow"} if (3, 10) <= py <= (3, 13) else set()
    check_session(svc, err, out, 0, sites, {"warmup"})
    check(svc.alive(), "the service died")
    err = svc.stop()
    check("Python frames are off" not in err, "service stderr: %s" % err)


def case_errors():
    p = subprocess.Popen(["true"])
    p.wait()
    rc, err = attach(p.pid)
    check(rc == 1 and "attach: no process %d\n" % p.pid in err,
          "a pid that does not exist: exit %d" % rc)

    plain = subprocess.Popen(["sleep", "60"], env=env_with())
    time.sleep(0.2)
    rc, err = attach(plain.pid)
    check(rc == 1 and "does not have libheapsight.so loaded" in err,
          "a process without the library: exit %d" % rc)
    check(plain.poll() is None, "the process without the library died")
    plain.kill()
    plain.wait()

    for opts in ("prof:true,prof_active:false,prof_attach:false", None):
        svc = service([ARGS.svc, "60"], opts)
        rc, err = attach(svc.pid)
        check(rc == 1 and "does not listen for heapsight attach on "
              "SIGRTMIN+5: is libheapsight.so preloaded with prof:true" in err,
              "HEAPSIGHT=%s: exit %d" % (opts, rc))
        check(len(err.splitlines()) == 1, "more than one line: %r" % err)
        check(svc.alive(), "HEAPSIGHT=%s: the service died" % opts)
        svc.stop()

    for args in ([], ["x1"], ["1", "2"], ["--duration", "0", "1"],
                 ["--every", "5x", "1"], ["--sample", "0", "1"],
                 ["--signal", "NOPE", str(os.getpid())]):
        r = subprocess.run([ARGS.heapsight, "attach"] + args, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 2 and len(r.stderr.splitlines()) == 1,
              "attach %r: exit %d, %r" % (args, r.returncode, r.stderr))


NO_ANSWER = """
import signal, sys, time
signal.signal(signal.SIGRTMIN + 5, lambda *a: print("signal", flush=True))
print("ready %d" % __import__("os").getpid(), flush=True)
time.sleep(60)
"""


def case_no_answer():
    svc = service([sys.executable, "-c", NO_ANSWER, "x"], None)
    if svc.pid is None:
        return
    t0 = time.monotonic()
    rc, err = attach(svc.pid)
    took = time.monotonic() - t0
    check(rc == 1 and err == "heapsight: attach: process %d does not answer: "
          "is libheapsight.so preloaded with prof:true?\n" % svc.pid,
          "exit %d, %r" % (rc, err))
    check(3 < took < 30, "gave up after %.1f s" % took)
    svc.expect("signal")
    check(svc.alive(), "the process died")
    svc.stop()


def case_busy():
    svc = service([ARGS.svc, "60"], "prof:true,prof_attach:true")
    if svc.pid is None:
        return
    rc, err = attach(svc.pid, "--duration", "200ms")
    check(rc == 1 and "sampling is on already" in err, "exit %d" % rc)
    check(not glob.glob(os.path.join(TMP, "heapsight.*")), "files written")
    time.sleep(0.3)
    check(svc.seen == ["active 1", "ready %d" % svc.pid] and
          svc.lines.empty(), "prof.active changed: %r" % svc.seen)
    svc.stop()


def chan_dir(pid):
    d = "/proc/%d/root/tmp/heapsight-%d" % (pid, os.geteuid())
    if not os.path.isdir(d):
        os.mkdir(d, 0o700)
    return d


def case_lease():
    svc = service([ARGS.svc, "60"], "prof:true,prof_active:false")
    if svc.pid is None:
        return
    d = chan_dir(svc.pid)
    req = os.path.join(d, "attach.%d.req" % svc.pid)
    rep = os.path.join(d, "attach.%d.rep" % svc.pid)
    if os.path.exists(rep):
        os.unlink(rep)
    fd = os.open(req + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"heapsight-attach 1\nid lease.1\nop start\nlease_ms 1000\n")
    os.close(fd)
    os.rename(req + ".tmp", req)
    os.kill(svc.pid, signal.SIGRTMIN + 5)
    for _ in range(500):
        if os.path.exists(rep):
            break
        time.sleep(0.01)
    text = open(rep).read() if os.path.exists(rep) else ""
    check("id lease.1\n" in text and "status ok\n" in text,
          "reply %r" % text)
    svc.expect("active 1")
    t0 = time.monotonic()
    svc.expect("active 0", 10)
    took = time.monotonic() - t0
    check(0.5 < took < 5, "sampling went off after %.1f s" % took)
    os.unlink(rep)
    err = svc.stop()
    check("heapsight attach stopped asking: sampling is off again" in err,
          "service stderr: %r" % err)


def case_interrupt():
    out = os.path.join(TMP, "out")
    svc = service([ARGS.svc, "120"], "prof:true,prof_active:false,"
                  "prof_sample:4k")
    if svc.pid is None:
        return
    p = subprocess.Popen([ARGS.heapsight, "attach", str(svc.pid),
                          "--duration", "60s", "--out", out,
                          "--no-symbolize"], env=env_with(),
                         stderr=subprocess.PIPE, text=True)
    svc.expect("active 1")
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    print(err)
    check(p.returncode == 0 and time.monotonic() - t0 < 10,
          "exit %d after SIGINT" % p.returncode)
    check("heapsight: attach: interrupted: stopping early" in err,
          "no interrupted line")
    kinds = [os.path.basename(x).split(".")[3] for x in profiles(err)]
    check(kinds == ["final", "peak"], "profiles %r" % kinds)
    svc.expect("active 0")
    svc.stop()


CASES = {
    "c": case_c,
    "python": case_python,
    "errors": case_errors,
    "no_answer": case_no_answer,
    "busy": case_busy,
    "lease": case_lease,
    "interrupt": case_interrupt,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--heapsight", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--svc", required=True)
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="hs_attach_")
    old = os.getcwd()
    os.chdir(TMP)
    try:
        CASES[ARGS.case]()
    finally:
        os.chdir(old)
        shutil.rmtree(TMP, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
