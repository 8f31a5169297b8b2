#!/bin/sh
# python_churn.sh — /usr/bin/python3 running churn.py under heapsight, with
# pymalloc (default) and with every object from malloc (PYTHONMALLOC=malloc);
# then with every object guarded (san_guard_small:1: the guard budget runs
# out and later objects are served unguarded, never failed) and with the
# background purging thread on short decay times, and on the hugepage-aware
# allocator (hpa:true, hugified at once); output must match the
# plain run, exit 0, nothing on stderr.
# Usage: python_churn.sh <libheapsight.so>
LIB=${1:?usage: python_churn.sh libheapsight.so}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "FAIL: $PY not found"; exit 1; }
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
hs_loaded
hs_same python_pymalloc env PYTHONMALLOC=pymalloc "$PY" -I -S "$here/churn.py"
hs_same python_malloc env PYTHONMALLOC=malloc "$PY" -I -S "$here/churn.py"
hs_same python_guard_all env PYTHONMALLOC=malloc \
    HEAPSIGHT=san_guard_small:1,san_guard_large:1 "$PY" -I -S "$here/churn.py"
hs_same python_hpa env HEAPSIGHT=hpa:true,hpa_hugify_delay_ms:0 \
    "$PY" -I -S "$here/churn.py"
hs_same python_background env \
    HEAPSIGHT=background_thread:true,dirty_decay_ms:50,muzzy_decay_ms:50 \
    "$PY" -I -S "$here/churn.py"
hs_finish
