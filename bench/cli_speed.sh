#!/usr/bin/env bash
# bench/cli_speed.sh — how fast the heapsight command reads and renders a
# large profile, against `go tool pprof` on the same file.
#
# Owns: generating the profile, the measurement loop, the medians and the
# table.  The measuring itself is bench/runner.c (fork/exec, wall clock,
# ru_maxrss from wait4), as for bench/run.sh.
#
# The profile: tests/cli/profgen.py writes 100,000 distinct stacks (by
# default; --stacks), 10 to 40 frames deep, drawn as random walks over a
# call graph of 3,000 functions (C++-style names, one source file per
# class, six callees each, a tenth of the call sites with an inlined
# helper), every stack ending in one of a few allocation wrappers, with
# heapsight's four sample types (log-uniform object sizes, 16 B to
# 64 KiB), labels thread (16 threads) and allocator, and the numeric label
# bytes.  Every frame is symbolized, so neither tool symbolizes (pprof
# runs with -symbolize=none).  The generator's seed is fixed: the same
# options give the same file.
#
# Variants, each run N times, round-robin with the starting variant
# rotating every repetition (as bench/run.sh does):
#   top         heapsight top PROFILE           pprof -top
#   flamegraph  heapsight flamegraph -o x.svg   (pprof has no flame graph
#               outside its web UI: its -svg call graph is the nearest)
#   graph.dot   heapsight graph -o x.dot        pprof -dot -output x.dot
#   graph.svg   heapsight graph -o x.svg        pprof -svg -output x.svg
# pprof is the tool binary itself ($(go env GOTOOLDIR)/pprof), not the `go`
# wrapper.  A heapsight subcommand that does not exist yet (`heapsight
# --help`) is skipped with a note; so are the pprof SVG runs without
# Graphviz's `dot` (installed with apt-get when root and missing, unless
# --no-install).  One unmeasured run of each variant first warms the page
# cache and checks that it succeeds.  Reported: median wall time and
# median peak RSS per variant.
#
# Usage: bash bench/cli_speed.sh [options]
#   --reps N          repetitions (default 5; --quick: 3)
#   --stacks N        distinct stacks in the generated profile (default
#                     100000; --quick: 20000)
#   --quick           fewer repetitions, a smaller profile
#   --profile FILE    measure FILE instead of generating one
#   --out FILE        also write the markdown report to FILE
#   --build-dir DIR   build directory (default: <repo>/build)
#   --cli PATH        the heapsight command (default:
#                     <build-dir>/bin/heapsight; given explicitly, it is
#                     not rebuilt)
#   --no-install      never apt-get install graphviz
#   --timeout S       per-run timeout in seconds (default 600)
# Raw results: <build-dir>/bench-results/cli-speed-<timestamp>.tsv
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$REPO/build"
CLI=""
REPS=""
STACKS=""
QUICK=0
PROFILE=""
OUT=""
INSTALL=1
TIMEOUT=600

note() { printf '[cli_speed.sh] %s\n' "$*" >&2; }
die() { note "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
    --reps) REPS="$2"; shift ;;
    --stacks) STACKS="$2"; shift ;;
    --quick) QUICK=1 ;;
    --profile) PROFILE="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --cli) CLI="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    --timeout) TIMEOUT="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ -z "$REPS" ]] && { [[ $QUICK == 1 ]] && REPS=3 || REPS=5; }
[[ -z "$STACKS" ]] && { [[ $QUICK == 1 ]] && STACKS=20000 || STACKS=100000; }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive integer"
[[ "$STACKS" =~ ^[1-9][0-9]*$ ]] || die "--stacks wants a positive integer"
[[ -z "$PROFILE" || -f "$PROFILE" ]] || die "no profile at $PROFILE"
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
CLI_GIVEN=0
if [[ -n "$CLI" ]]; then CLI_GIVEN=1; else CLI="$BUILD_DIR/bin/heapsight"; fi

# ---- Build (incremental): the runner, and the command unless --cli -------
mkdir -p "$BUILD_DIR/bench-results"
LOG="$BUILD_DIR/bench-results/build-cli-speed.log"
[[ -f "$BUILD_DIR/CMakeCache.txt" ]] ||
    cmake -S "$REPO" -B "$BUILD_DIR" >"$LOG" 2>&1 || die "configure failed (see $LOG)"
targets=(hs_bench_runner)
[[ $CLI_GIVEN == 0 ]] && targets+=(hs_cli)
cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]}" >>"$LOG" 2>&1 || die "build failed (see $LOG)"
RUNNER="$BUILD_DIR/bench/runner"
[[ -x "$RUNNER" ]] || die "no runner at $RUNNER"
[[ -x "$CLI" ]] || die "no heapsight command at $CLI"
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=$(command -v python3) || die "python3 is needed"

command -v go >/dev/null || die "go is needed (Debian package golang-go)"
PPROF="$(go env GOTOOLDIR)/pprof"
[[ -x "$PPROF" ]] || die "no pprof tool at $PPROF"
if ! command -v dot >/dev/null && [[ $INSTALL == 1 && $(id -u) == 0 ]] &&
   command -v apt-get >/dev/null; then
    note "installing graphviz (pprof -svg needs dot)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y graphviz >/dev/null 2>&1 ||
        note "apt-get install graphviz failed"
fi
HAVE_DOT=0
command -v dot >/dev/null && HAVE_DOT=1

WORK=$(mktemp -d)
cleanup() { rm -rf "$WORK"; return 0; }
trap cleanup EXIT
# pprof: no symbol lookups, temporary files and settings in the work dir.
export PPROF_TMPDIR="$WORK" PPROF_BINARY_PATH="$WORK/nobinaries" HOME="$WORK"

# ---- The profile ------------------------------------------------------------
if [[ -z "$PROFILE" ]]; then
    PROFILE="$WORK/large.pb.gz"
    note "generating a profile of $STACKS distinct stacks"
    "$PY" - "$REPO/tests/cli" "$PROFILE" "$STACKS" <<'EOF'
import random
import sys

sys.path.insert(0, sys.argv[1])
from profgen import Profile

out, nstacks = sys.argv[2], int(sys.argv[3])
rnd = random.Random(20240601)
NS = ["net", "http", "json", "db", "cache", "io", "util", "rpc", "sql",
      "xml", "img", "auth", "log", "mem", "sched"]
CLS = ["Parser", "Buffer", "Conn", "Pool", "Table", "Index", "Reader",
       "Writer", "Encoder", "Decoder", "Session", "Request", "Response",
       "Node", "Tree", "Map", "Queue", "Worker"]
FN = ["read", "write", "parse", "encode", "decode", "alloc", "grow",
      "insert", "lookup", "flush", "handle", "dispatch", "build", "clone",
      "resize", "append", "load", "store"]
funcs = []
for ns in NS:
    for cls in CLS:
        for fn in FN:
            funcs.append(("%s::%s::%s" % (ns, cls, fn),
                          "src/%s/%s.cc" % (ns, cls.lower())))
rnd.shuffle(funcs)
funcs = funcs[:3000]
first_line = {f: rnd.randrange(20, 2000) for f, _ in funcs}
callees = {i: rnd.sample(range(len(funcs)), 6) for i in range(len(funcs))}
# A tenth of the call sites (caller, callee) inline a small helper.
HELPERS = ["std::vector::push_back", "std::string::append",
           "absl::StrCat", "std::make_unique"]
LEAVES = [("operator new", "new_op.cc", 50), ("xmalloc", "xmalloc.c", 31),
          ("mem::Arena::allocate", "src/mem/arena.cc", 118),
          ("std::vector::_M_realloc_insert", "stl_vector.h", 1287)]
ROOT = [("main", "src/main.cc", 40), ("app::run", "src/app.cc", 212)]


def site(i, j):
    """Frame(s) of a call from function i to function j (leaf first)."""
    name, file = funcs[i]
    line = first_line[name] + (j * 7919) % 60
    frame = (name, file, line)
    if (i * 31 + j) % 10 == 0:
        helper = HELPERS[(i + j) % len(HELPERS)]
        return [(helper, "inline.h", 10 + j % 40), frame]
    return frame


p = Profile()
seen = set()
while len(seen) < nstacks:
    depth = rnd.randrange(10, 41) - len(ROOT) - 1
    walk = [rnd.randrange(len(funcs))]
    while len(walk) < depth:
        walk.append(rnd.choice(callees[walk[-1]]))
    leaf = rnd.randrange(len(LEAVES))
    key = (leaf, tuple(walk))
    if key in seen:
        continue
    seen.add(key)
    # Leaf first: the allocation wrapper, then the walk from its end.
    stack = [LEAVES[leaf]]
    for k in range(len(walk) - 1, -1, -1):
        nxt = walk[k + 1] if k + 1 < len(walk) else len(funcs)
        stack.append(site(walk[k], nxt))
    stack += list(reversed(ROOT))
    size = int(2 ** rnd.uniform(4, 16))
    n = rnd.randrange(1, 60)
    live = rnd.randrange(0, n + 1)
    p.sample(stack, [n, n * size, live, live * size],
             labels={"thread": "worker-%d" % rnd.randrange(16),
                     "allocator": rnd.choice(["malloc"] * 6 + ["calloc",
                                                               "realloc"])},
             num_labels={"bytes": (size, "bytes")})
p.write(out)
print("%d samples, %d locations, %d functions"
      % (len(p.samples), len(p.locations), len(p.functions)))
EOF
fi
PROFILE_DESC="$(basename "$PROFILE") ($(stat -c %s "$PROFILE") bytes gzipped)"

# ---- Variants: task | tool | command ----------------------------------------
HAVE=$("$CLI" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
has() { grep -qx "$1" <<<"$HAVE"; }
VARIANTS=()
if has top; then VARIANTS+=("top|heapsight|$CLI top $PROFILE")
else note "NOTE: no 'heapsight top' yet: skipped"; fi
VARIANTS+=("top|pprof|$PPROF -symbolize=none -top $PROFILE")
if has flamegraph; then VARIANTS+=("flamegraph|heapsight|$CLI flamegraph $PROFILE -o $WORK/flame.svg")
else note "NOTE: no 'heapsight flamegraph' yet: skipped"; fi
if has graph; then
    VARIANTS+=("graph.dot|heapsight|$CLI graph $PROFILE -o $WORK/hs.dot")
    VARIANTS+=("graph.svg|heapsight|$CLI graph $PROFILE -o $WORK/hs.svg")
else note "NOTE: no 'heapsight graph' yet: skipped"; fi
VARIANTS+=("graph.dot|pprof|$PPROF -symbolize=none -dot -output $WORK/pp.dot $PROFILE")
if [[ $HAVE_DOT == 1 ]]; then
    VARIANTS+=("graph.svg|pprof|$PPROF -symbolize=none -svg -output $WORK/pp.svg $PROFILE")
else note "NOTE: no Graphviz 'dot': pprof -svg skipped"; fi

STAMP=$(date +%Y%m%d-%H%M%S)
RAW="$BUILD_DIR/bench-results/cli-speed-$STAMP.tsv"
{
    echo "# format: cli_speed"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine add noise)"
    echo "# command: bash bench/cli_speed.sh --reps $REPS --stacks $STACKS$([[ $QUICK == 1 ]] && echo ' --quick')"
    echo "# profile: $PROFILE_DESC"
    echo "# heapsight: $CLI ($(stat -L -c '%s bytes, built %y' "$CLI" | cut -d. -f1))"
    echo "# pprof: $PPROF ($(go version))"
} >"$RAW"

# Sets RESULT to the runner's line for the command "$@".
run_measured() {
    RESULT=$("$RUNNER" -p "" -t "$TIMEOUT" -o "$WORK/stdout" -- "$@" 2>"$WORK/stderr")
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# Warm-up: every variant once, unmeasured; drop the ones that fail.
kept=()
for v in "${VARIANTS[@]}"; do
    IFS='|' read -r task tool cmd <<<"$v"
    run_measured $cmd
    if [[ "$(field status "$RESULT")" == 0 ]]; then
        kept+=("$v")
    else
        note "NOTE: $tool $task failed (status $(field status "$RESULT"): $(head -c 300 "$WORK/stderr")): skipped"
    fi
done
VARIANTS=("${kept[@]}")
[[ ${#VARIANTS[@]} -gt 0 ]] || die "nothing to measure"

note "${#VARIANTS[@]} variants, $REPS repetitions; raw: $RAW"
for ((rep = 1; rep <= REPS; rep++)); do
    n=${#VARIANTS[@]}
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r task tool cmd <<<"${VARIANTS[$(( (k + rep - 1) % n ))]}"
        run_measured $cmd
        printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$task" "$tool" "$rep" \
            "$(field wall_s "$RESULT")" "$(field maxrss_kib "$RESULT")" \
            "$(field user_s "$RESULT")" "$(field sys_s "$RESULT")" \
            "$(field status "$RESULT")" >>"$RAW"
        [[ "$(field status "$RESULT")" == 0 ]] ||
            note "$tool $task rep $rep: status $(field status "$RESULT")"
    done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"

REPORT=$("$PY" - "$RAW" <<'EOF'
import statistics
import sys

rows, header = {}, []
for line in open(sys.argv[1]):
    if line.startswith("#"):
        header.append(line[2:].rstrip())
        continue
    task, tool, rep, wall, rss, user, sys_s, status = line.rstrip().split("\t")
    if status == "0":
        rows.setdefault((task, tool), []).append((float(wall), int(rss)))
tasks = ["top", "flamegraph", "graph.dot", "graph.svg"]
pprof_of = {"top": "top", "flamegraph": "graph.svg", "graph.dot": "graph.dot",
            "graph.svg": "graph.svg"}
pprof_cmd = {"top": "-top", "graph.dot": "-dot", "graph.svg": "-svg"}
hs_cmd = {"top": "top", "flamegraph": "flamegraph -o x.svg",
          "graph.dot": "graph -o x.dot", "graph.svg": "graph -o x.svg"}


def med(key):
    runs = rows.get(key)
    if not runs:
        return None
    return (statistics.median(w for w, _ in runs),
            statistics.median(r for _, r in runs) / 1024, len(runs))


print("# heapsight vs go tool pprof on one large profile\n")
for h in header:
    if not h.startswith("format"):
        print("- " + h)
print()
print("| heapsight | wall (s) | peak RSS (MiB) | pprof | wall (s) "
      "| peak RSS (MiB) | wall ratio |")
print("|---|---:|---:|---|---:|---:|---:|")
for t in tasks:
    hs, pp = med((t, "heapsight")), med((pprof_of[t], "pprof"))
    if hs is None and pp is None:
        continue
    cells = ["`%s`" % hs_cmd[t]]
    cells += ["%.3f" % hs[0], "%.0f" % hs[1]] if hs else ["-", "-"]
    cells.append("`-%s`" % pprof_cmd[pprof_of[t]].lstrip("-"))
    cells += ["%.3f" % pp[0], "%.0f" % pp[1]] if pp else ["-", "-"]
    cells.append("%.2f" % (hs[0] / pp[0]) if hs and pp else "-")
    print("| " + " | ".join(cells) + " |")
n = max((len(v) for v in rows.values()), default=0)
print("\nMedians of %d runs each (wall ratio: heapsight / pprof; "
      "pprof has no flame graph outside its web UI, so `flamegraph` is "
      "set against its `-svg` call graph)." % n)
EOF
)
printf '%s\n' "$REPORT"
if [[ -n "$OUT" ]]; then
    printf '%s\n' "$REPORT" >"$OUT"
    note "report written to $OUT"
fi
note "raw results: $RAW"
