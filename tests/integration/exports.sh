#!/bin/sh
# exports.sh — checks the dynamic symbol table of libheapsight.so: every
# standard and hs_ entry point, and every form of the C++ operators new and
# delete, are exported, and nothing else is (besides
# hs_* names and the linker's own _init/_fini/_edata/_end/__bss_start).
# Usage: exports.sh <path to libheapsight.so>
set -u
lib=${1:?usage: exports.sh libheapsight.so}
required="malloc free calloc realloc posix_memalign aligned_alloc memalign
valloc pvalloc malloc_usable_size reallocarray free_sized free_aligned_sized
mallinfo mallinfo2 malloc_stats malloc_info malloc_trim mallopt hs_mallocx
hs_rallocx hs_dallocx hs_sdallocx hs_nallocx hs_sallocx hs_ctl
_Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZdlPv _ZdaPv _ZdlPvm
_ZdaPvm _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZnwmSt11align_val_t
_ZnamSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t
_ZnamSt11align_val_tRKSt9nothrow_t _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t
_ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t
_ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t"
linker_symbols="_init _fini _edata _end __bss_start"

[ -f "$lib" ] || { echo "FAIL: no such file: $lib"; exit 1; }
# "name@@VERSION" and "name@VERSION" count as name.
syms=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' |
       sed 's/@.*//' | sort -u)
[ -n "$syms" ] || { echo "FAIL: nm found no defined dynamic symbols"; exit 1; }

status=0
for s in $required; do
    if ! printf '%s\n' "$syms" | grep -qx -- "$s"; then
        echo "FAIL: missing export: $s"
        status=1
    fi
done
for s in $syms; do
    case " $(echo $required) $linker_symbols " in
    *" $s "*) continue ;;
    esac
    case "$s" in
    hs_*) continue ;;
    esac
    echo "FAIL: unexpected export: $s"
    status=1
done
count=$(printf '%s\n' "$syms" | wc -l)
[ $status -eq 0 ] && echo "exports ok ($count symbols)"
exit $status
