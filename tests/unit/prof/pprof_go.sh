#!/bin/sh
# pprof_go.sh — reads profiles written by prof/pprof with the real
# `go tool pprof` (the reference client) and checks what it shows.
#
# Usage: pprof_go.sh PATH/TO/pprof_go_gen
#
# pprof_go_gen writes a profile of three samples (see its header comment:
# native frames in its own functions site_alpha, site_beta and main;
# symbolic frames load_batch my_module.py:42/43 and <module> main.py:7)
# and prints the native addresses and source lines.  Checked here:
#   -raw -symbolize=none   sample types, [dflt] on inuse_space, period,
#                          duration, comments, every sample's four values,
#                          the labels (absent ones absent), locations with
#                          the exact addresses, symbolic lines, the mapping
#                          with the build ID that readelf reports;
#   -raw (local symbols)   pprof resolves our addresses to site_alpha,
#                          site_beta and main at the lines of the calls;
#   -top, each -sample_index (alloc_objects, alloc_space, inuse_objects,
#                          inuse_space): totals and flat values per function
#                          (with and without -symbolize=none);
#   -traces                stacks in order with their labels;
#   -comments              the comments;
#   a zero-sample profile  loads.
# Exit 0 on success, 1 on a failed check, 77 (CTest: skipped) without go.
set -u

gen=$(readlink -f "${1:?usage: pprof_go.sh PATH/TO/pprof_go_gen}") || exit 1

GO=$(command -v go 2>/dev/null || true)
[ -z "$GO" ] && [ -x /usr/lib/go/bin/go ] && GO=/usr/lib/go/bin/go
if [ -z "$GO" ]; then
    echo "SKIP: no go toolchain (apt-get install golang-go) - go tool pprof not run"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hs_pprof_go.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# A private Go environment: works as root in CI, never touches ~/.
export HOME="$tmp/home" GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath"
export GOENV=off GOTOOLCHAIN=local GOFLAGS= PPROF_TMPDIR="$tmp/pprof"
mkdir -p "$HOME" "$PPROF_TMPDIR"
cd "$tmp" || exit 1

fail=0
prof="$tmp/heap.pb.gz"

# pp ARGS... — runs go tool pprof on $prof, output in $tmp/out.
pp() {
    if ! "$GO" tool pprof "$@" "$prof" >"$tmp/out" 2>"$tmp/err"; then
        echo "FAIL: go tool pprof $* exited non-zero:"
        cat "$tmp/err"
        fail=1
    fi
}

# expect DESC ERE — $tmp/out has a line matching ERE.
expect() {
    if ! grep -Eq -- "$2" "$tmp/out"; then
        echo "FAIL: $1: no line matches /$2/ in:"
        sed 's/^/    | /' "$tmp/out"
        fail=1
    fi
}

# expect_not DESC ERE — no line of $tmp/out matches ERE.
expect_not() {
    if grep -Eq -- "$2" "$tmp/out"; then
        echo "FAIL: $1: unexpected /$2/ in:"
        sed 's/^/    | /' "$tmp/out"
        fail=1
    fi
}

# expect_count DESC ERE N — exactly N lines of $tmp/out match ERE.
expect_count() {
    n=$(grep -Ec -- "$2" "$tmp/out")
    if [ "$n" != "$3" ]; then
        echo "FAIL: $1: $n lines match /$2/, expected $3"
        fail=1
    fi
}

# expect_seq DESC A|B|C — lines A, B, C follow one another (spaces
# squeezed, leading and trailing blanks dropped).
expect_seq() {
    if ! sed 's/^[[:space:]]*//; s/[[:space:]]*$//; s/[[:space:]][[:space:]]*/ /g' \
            "$tmp/out" | tr '\n' '|' | grep -Fq -- "|$2|"; then
        echo "FAIL: $1: no sequence |$2| in:"
        sed 's/^/    | /' "$tmp/out"
        fail=1
    fi
}

# ---- the profile ----
"$gen" "$prof" >"$tmp/facts" || { echo "FAIL: $gen did not write a profile"; exit 1; }
fact() { sed -n "s/^$1 //p" "$tmp/facts"; }
addr_alpha=$(fact addr_alpha) addr_beta=$(fact addr_beta) addr_main=$(fact addr_main)
line_alpha=$(fact line_alpha) line_beta=$(fact line_beta) line_main=$(fact line_main)
echo "go: $("$GO" version)"
echo "profile: $prof (alpha $addr_alpha:$line_alpha beta $addr_beta:$line_beta main $addr_main:$line_main)"

mode=$(stat -c %a "$prof")
[ "$mode" = 600 ] || { echo "FAIL: profile mode $mode, expected 600"; fail=1; }

# ---- -raw, no symbolization: the profile exactly as written ----
pp -raw -symbolize=none
expect "period type" '^PeriodType: space bytes$'
expect "period" '^Period: 524288$'
expect "duration" '^Duration: 2\.5s$'
expect "comment 1" '^Comment: heapsight 0\.1\.0 test profile$'
expect "comment 2" '^Comment: options: prof:true$'
expect "sample types, default inuse_space" \
    '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes\[dflt\]$'
expect "sample 1 values" '^ +10 +1000 +4 +400: [0-9]+ [0-9]+ [0-9]+ *$'
expect "sample 2 values" '^ +3 +3072 +2 +2048: [0-9]+ [0-9]+ *$'
expect "sample 3 values" '^ +5 +500 +0 +0: [0-9]+ [0-9]+ *$'
expect "thread label" 'thread:\[main\]'
expect "thread and allocator labels" 'allocator:\[pymalloc\] thread:\[worker-1\]'
expect "numeric bytes label 100" 'bytes:\[100 bytes\]'
expect "numeric bytes label 1024" 'bytes:\[1024 bytes\]'
expect_count "thread labels (sample 3 has none)" 'thread:\[' 2
expect_count "allocator labels (sample 1 has none)" 'allocator:\[' 2
expect "alpha location address" "^ +[0-9]+: $addr_alpha M=[0-9]+ *\$"
expect "beta location address" "^ +[0-9]+: $addr_beta M=[0-9]+ *\$"
expect "main location address" "^ +[0-9]+: $addr_main M=[0-9]+ *\$"
expect "symbolic frame 42" '^ +[0-9]+: 0x0 load_batch my_module\.py:42 '
expect "symbolic frame 43" '^ +[0-9]+: 0x0 load_batch my_module\.py:43 '
expect "symbolic frame <module>" '^ +[0-9]+: 0x0 <module> main\.py:7 '
expect_count "one location per distinct frame" '^ +[0-9]+: 0x' 6
expect "mapping of the generator" "^[0-9]+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ $gen [0-9a-f]+"
if command -v readelf >/dev/null 2>&1; then
    build_id=$(readelf -n "$gen" | sed -n 's/^ *Build ID: *//p')
    if [ -n "$build_id" ]; then
        expect "mapping build ID = readelf's" " $gen $build_id *\$"
    fi
else
    echo "note: no readelf, build ID not cross-checked"
fi

# ---- -raw with pprof's own local symbolization of our addresses ----
pp -raw
expect "alpha symbolized" " $addr_alpha M=[0-9]+ site_alpha .*pprof_go_gen\.c:$line_alpha "
expect "beta symbolized" " $addr_beta M=[0-9]+ site_beta .*pprof_go_gen\.c:$line_beta "
expect "main symbolized" " $addr_main M=[0-9]+ main .*pprof_go_gen\.c:$line_main "
expect "symbolic frames kept" '0x0 load_batch my_module\.py:42 '

# ---- -top, default sample type ----
pp -top -unit=B
expect "default sample type" '^Type: inuse_space$'
expect "inuse_space total" 'Total samples = 2448B'
expect "inuse_space site_beta" '^ *2048B .* site_beta$'
expect "inuse_space site_alpha" '^ *400B .* site_alpha$'
expect "inuse_space main (cum)" '^ *0 .* 2048B .* main$'
expect "inuse_space load_batch (cum)" '^ *0 .* 400B .* load_batch$'

# ---- -top per sample index; natives by name, then unsymbolized ----
# top_check INDEX TOTAL ALPHA BETA LOAD_BATCH (flat values; B for bytes,
# shown in bytes through -unit=B, which would suffix counts with B too)
top_check() {
    case $1 in *_space) unit=-unit=B ;; *) unit=-unit=minimum ;; esac
    pp -top -sample_index="$1" $unit
    expect "$1 type" "^Type: $1\$"
    expect "$1 total" "Total samples = $2 *\$"
    expect "$1 site_alpha" "^ *$3 .* site_alpha\$"
    expect "$1 site_beta" "^ *$4 .* site_beta\$"
    expect "$1 load_batch" "^ *$5 .* load_batch\$"
    pp -top -sample_index="$1" $unit -symbolize=none -addresses
    expect "$1 unsymbolized total" "Total samples = $2 *\$"
    expect "$1 alpha address" "^ *$3 .* $(printf '%016x' "$addr_alpha") \\[pprof_go_gen\\]\$"
    expect "$1 beta address" "^ *$4 .* $(printf '%016x' "$addr_beta") \\[pprof_go_gen\\]\$"
    expect "$1 symbolic frame" "^ *$5 .* load_batch my_module\\.py:4[23]\$"
    expect_not "$1 no symbols without symbolization" 'site_alpha|site_beta'
}
top_check alloc_objects 18 10 3 5
top_check alloc_space 4572B 1000B 3072B 500B
top_check inuse_objects 6 4 2 0
top_check inuse_space 2448B 400B 2048B 0

pp -top -lines -sample_index=alloc_space -unit=B
expect "line 42" '^ *0 .* 1000B .* load_batch my_module\.py:42$'
expect "line 43" '^ *500B .* load_batch my_module\.py:43$'
expect "module line" '^ *0 .* 1500B .* <module> main\.py:7$'
expect "alpha line" "^ *1000B .* site_alpha .*pprof_go_gen\\.c:$line_alpha\$"

# ---- -traces: stacks in order, with labels ----
pp -traces -sample_index=alloc_space -unit=B
expect_seq "trace 1" "thread: main|bytes: 100B|1000B site_alpha|load_batch|<module>"
expect_seq "trace 2" "thread: worker-1|allocator: pymalloc|bytes: 1kB|3072B site_beta|main"
expect_seq "trace 3" "allocator: pymalloc|bytes: 100B|500B load_batch|<module>"
pp -traces -symbolize=none -unit=B
expect_seq "unsymbolized trace 2" "2048B [pprof_go_gen]|[pprof_go_gen]"

# ---- -comments ----
pp -comments
expect "comments" '^heapsight 0\.1\.0 test profile$'
expect "comments" '^options: prof:true$'

# ---- zero samples ----
"$gen" --empty "$prof" >/dev/null || { echo "FAIL: empty profile not written"; exit 1; }
pp -raw -symbolize=none
expect "empty: sample types" 'inuse_space/bytes\[dflt\]$'
expect "empty: period" '^Period: 524288$'
expect_count "empty: no samples" '^ +-?[0-9]+ +-?[0-9]+ +-?[0-9]+ +-?[0-9]+:' 0
pp -top
expect "empty: top" 'Total samples = 0'

if [ "$fail" = 0 ]; then
    echo "PASS: go tool pprof reads heapsight's profiles"
fi
exit "$fail"
