"""suite_compare.py — compare two runs of CPython's regrtest, test by test.

Used by cpython_suite.sh: one run on glibc's malloc ("plain"), one with
libheapsight.so preloaded ("heapsight").  Owns the parsing of regrtest's
output and of its --junit-xml file, and the verdict; runs nothing itself.

Two levels are compared, and both must be identical:
  - modules: "test_dict passed", "test_x failed (2 errors)", "skipped",
    "crashed", "timed out"... from regrtest's progress lines.  This level
    sees a worker that died (a crash leaves no XML) and a whole module
    skipped;
  - test cases: every unittest id in the JUnit XML with its outcome (ok,
    skipped, failure, error, expected failure, unexpected success).

A module that fails on glibc as well proves nothing about the allocator;
it is reported as a warning and compared like any other.  Lines that
heapsight itself wrote ("heapsight: ...") in the preloaded log fail the
comparison, whatever the outcomes.

Usage: suite_compare.py PLAIN.log PLAIN.xml HS.log HS.xml
Exit status 0 when the runs agree, 1 otherwise; the differences are
printed, with the preloaded run's failure text for each test case.
"""
import re
import sys
import xml.etree.ElementTree as ET

# "0:00:05 load avg: 1.20 [ 12/120/1] test_dict passed -- running: ..."
PROGRESS = re.compile(
    r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+) "
    r"(passed|failed|skipped|crashed|timed out|ran no tests|interrupted)"
    r"( \((?:env changed|uncaught exception|reference leak|"
    r"resource denied)\))?")
MAX_SHOWN = 30


def read_modules(log_path):
    """Module name -> outcome, from regrtest's progress lines."""
    modules = {}
    with open(log_path, errors="replace") as f:
        for line in f:
            m = PROGRESS.search(line)
            if m:
                modules[m.group(1)] = m.group(2) + (m.group(3) or "")
    return modules


def case_outcome(case):
    """The outcome of one <testcase> and the text that explains it."""
    for tag in ("error", "failure"):
        e = case.find(tag)
        if e is not None:
            return tag, (e.text or e.get("message") or "").strip()
    if case.find("skipped") is not None:
        return "skipped", ""
    if case.find("output") is not None:
        return "expected failure", ""
    if case.get("outcome") == "UNEXPECTED_SUCCESS":
        return "unexpected success", ""
    return "ok", ""


def read_cases(xml_path):
    """Test id -> (outcome, text), from the JUnit XML.  A test id seen
    twice (a test repeated under the same id) keeps a numbered name."""
    cases = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("name", "?")
        key, n = name, 1
        while key in cases:
            n += 1
            key = f"{name} #{n}"
        cases[key] = case_outcome(case)
    return cases


def heapsight_lines(log_path):
    with open(log_path, errors="replace") as f:
        return [line.rstrip() for line in f if "heapsight: " in line]


def tally(outcomes):
    counts = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))


def module_output(log_path, module):
    """What regrtest printed for <module>: its progress line and the lines
    up to the next one (a crashed worker's last words are there)."""
    out, inside = [], False
    with open(log_path, errors="replace") as f:
        for line in f:
            m = PROGRESS.search(line)
            if m:
                inside = m.group(1) == module
            elif line.startswith("== Tests result"):
                break
            if inside:
                out.append(line.rstrip())
    return out[:MAX_SHOWN]


def compare_modules(plain, hs, hs_log):
    """Print the module differences and the preloaded run's output for
    each; return their number."""
    diffs = sorted(m for m in plain.keys() | hs.keys()
                   if plain.get(m) != hs.get(m))
    for m in diffs:
        print(f"  module {m}: plain {plain.get(m, 'absent')}, "
              f"heapsight {hs.get(m, 'absent')}")
        for line in module_output(hs_log, m):
            print(f"      | {line}")
    return len(diffs)


def compare_cases(plain, hs):
    """Print the test-case differences (the first MAX_SHOWN in full);
    return their number."""
    diffs = sorted(c for c in plain.keys() | hs.keys()
                   if plain.get(c, ("absent",))[0] != hs.get(c, ("absent",))[0])
    for c in diffs[:MAX_SHOWN]:
        p = plain.get(c, ("absent", ""))[0]
        h, text = hs.get(c, ("absent", ""))
        print(f"  test {c}: plain {p}, heapsight {h}")
        for line in text.splitlines()[-12:]:
            print(f"      | {line}")
    if len(diffs) > MAX_SHOWN:
        print(f"  ... and {len(diffs) - MAX_SHOWN} more test cases")
    return len(diffs)


def main(argv):
    if len(argv) != 5:
        print("usage: suite_compare.py PLAIN.log PLAIN.xml HS.log HS.xml",
              file=sys.stderr)
        return 2
    plain_mod, hs_mod = read_modules(argv[1]), read_modules(argv[3])
    plain_cases, hs_cases = read_cases(argv[2]), read_cases(argv[4])
    print(f"modules, plain:     {tally(plain_mod.values())}")
    print(f"modules, heapsight: {tally(hs_mod.values())}")
    print(f"tests, plain:       "
          f"{tally(o for o, _ in plain_cases.values())}")
    print(f"tests, heapsight:   "
          f"{tally(o for o, _ in hs_cases.values())}")
    bad_plain = sorted(m for m, o in plain_mod.items()
                       if not o.startswith(("passed", "skipped")))
    if bad_plain:
        print("WARNING: not passing on glibc either (no evidence about "
              "the allocator; consider excluding): " + " ".join(bad_plain))
    ok = True
    if not plain_mod or not plain_cases:
        print("FAIL: the plain run reported no results")
        ok = False
    if compare_modules(plain_mod, hs_mod, argv[3]):
        print("FAIL: module outcomes differ (above)")
        ok = False
    if compare_cases(plain_cases, hs_cases):
        print("FAIL: test-case outcomes differ (above)")
        ok = False
    stray = heapsight_lines(argv[3])
    if stray:
        print("FAIL: heapsight wrote to the preloaded run's output:")
        for line in stray[:MAX_SHOWN]:
            print(f"  {line}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
