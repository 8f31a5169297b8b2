/*
 * reach.h — reachability at exit, as LeakSanitizer decides it, for a
 * sampling profiler: which live sampled objects a conservative scan from
 * the program's roots still reaches through the heap.
 *
 * Roots: every readable and writable mapping of /proc/self/maps that is
 * not the allocator's own memory (alloc/os/pages.h keeps the registry of
 * what it mapped): the data and bss of every loaded module, the main
 * stack and every thread's stack (whole: their stack pointers are not
 * known; the calling thread's from its stack pointer, after spilling its
 * registers onto the stack), static thread-local storage (which glibc
 * keeps beside each thread's stack), and any other memory the program
 * mapped itself.  Heap: every word of a root that points into a live
 * block (alloc/blocks.h) marks the block, and the block's words are
 * scanned in turn.  A sampled object marked this way is "reachable"; one
 * never marked is "unreachable" — its last pointer was dropped (the
 * "definitely lost" of Valgrind).
 *
 * What it cannot see, and which way it errs: another running thread's
 * registers (a pointer held only there: the object reads unreachable);
 * pointers into the middle pages of a large block (blocks.h: such a block
 * reached only that way reads unreachable); stale words in dead stack
 * slots, in freed regions still in a thread cache, in padding (objects
 * they point to read reachable).  It reads the roots through
 * process_vm_readv and the heap under a guard against faults (reach.c),
 * so memory another thread unmaps meanwhile costs nothing but its words.
 *
 * Memory of its own (the mark set, the work stack, the buffers) comes from
 * pages_map, so it is in the registry and never scanned as a root.  It
 * allocates nothing through malloc and takes no allocator lock; only the
 * site table's mutex, per sampled object reached (site_reach_mark).
 */
#ifndef HS_PROF_REACH_H
#define HS_PROF_REACH_H

#include <stddef.h>
#include <stdint.h>

typedef struct reach_stats_s {
    uint64_t root_bytes; /* bytes of roots scanned */
    uint64_t heap_bytes; /* bytes of marked blocks scanned */
    uint64_t blocks;     /* live blocks marked */
    uint64_t sampled;    /* sampled objects among them */
    uint64_t faults;     /* blocks that went away while being read */
    double seconds;
} reach_stats_t;

/*
 * Runs the scan and records what it reached in the site table
 * (site_reach_begin, site_reach_mark).  Returns 0, or an errno value and
 * records nothing: ENOMEM (no room for its tables), EIO (/proc/self/maps
 * unreadable), ERANGE (the allocator's registry of mappings is
 * incomplete).
 */
int reach_scan(reach_stats_t *r_stats);

#endif /* HS_PROF_REACH_H */
