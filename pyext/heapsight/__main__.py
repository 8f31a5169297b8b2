"""``python3 -m heapsight run [options] script.py [args]`` and
``python3 -m heapsight run [options] -m module [args]``: runs the script
or module under this same interpreter with heapsight preloaded, profiling
on and Python frames merged into native stacks — the ``heapsight run``
command does the work (same options), this only builds its command line.
"""

import os
import shutil
import sys

USAGE = """usage: python3 -m heapsight run [options] script.py [args...]
       python3 -m heapsight run [options] -m module [args...]

Runs the program under this interpreter with libheapsight.so preloaded and
the profiler on (Python frames merged into native stacks), writes its
profile at exit and symbolizes it: `heapsight run` does the work.

options (as `heapsight run`):
  --sample SIZE     mean sample interval (512k by default; 1 = every
                    allocation)
  --out DIR         where the profiles go (default: the current directory)
  --leaks           print the leak report at exit
  --lib PATH        libheapsight.so to preload
  --debug-dir DIR   more places to look for debug files (repeatable)
"""

WITH_VALUE = ("--sample", "--out", "--lib", "--debug-dir")
FLAGS = ("--leaks",)


def find_cli():
    env = os.environ.get("HEAPSIGHT_CLI")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "bin", "heapsight"),
                 os.path.join(here, "heapsight-cli")):
        if os.access(cand, os.X_OK):
            return os.path.normpath(cand)
    found = shutil.which("heapsight")
    if found:
        return found
    return None


def main(argv):
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] != "run":
        sys.stderr.write("heapsight: unknown command %r (only 'run')\n%s"
                         % (argv[0], USAGE))
        return 2
    opts, i = [], 1
    while i < len(argv):
        a = argv[i]
        if a in FLAGS:
            opts.append(a)
            i += 1
        elif a in WITH_VALUE:
            if i + 1 >= len(argv):
                sys.stderr.write("heapsight: %s needs a value\n" % a)
                return 2
            opts += [a, argv[i + 1]]
            i += 2
        elif any(a.startswith(o + "=") for o in WITH_VALUE):
            opts.append(a)
            i += 1
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif a == "--":
            i += 1
            break
        elif a.startswith("-") and a != "-m":
            sys.stderr.write("heapsight: unknown option %r\n%s" % (a, USAGE))
            return 2
        else:
            break
    prog = argv[i:]
    if not prog or (prog[0] == "-m" and len(prog) < 2):
        sys.stderr.write("heapsight: no script or module to run\n%s" % USAGE)
        return 2
    cli = find_cli()
    if cli is None:
        sys.stderr.write("heapsight: cannot find the heapsight command; set "
                         "HEAPSIGHT_CLI to its path\n")
        return 2
    cmd = [cli, "run"] + opts + ["--", sys.executable] + prog
    try:
        os.execv(cli, cmd)
    except OSError as e:
        sys.stderr.write("heapsight: cannot run %s: %s\n" % (cli, e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
