/*
 * frag.c — fragmentation-prone phases; the memory (peak RSS) workload.
 *
 * Owns: the frag benchmark only.
 *
 * Shape: `rounds` rounds.  Each round allocates about `mib` MiB of objects
 * from one size band, interleaving sizes so every slab of every size
 * class gets a share, then frees all but one object in `keep` (everything
 * in the live set except each keep-th, in allocation order).  That pattern
 * is the worst case for slab allocators: every slab keeps ~1/keep of its
 * objects, so no slab empties and none can be returned or reused for
 * another size class.  The next round allocates from a *different* band:
 *   band 0: 16..128 B   band 1: 160..640 B   band 2: 1..4 KiB
 * so it can only reuse the stranded memory if the allocator coalesces
 * across size classes or gives back the free pages inside partly-used
 * slabs.
 *
 * What to look at: peak RSS (measured by the runner; also printed here)
 * against the peak live bytes printed here.  An allocator that never
 * reuses stranded slabs grows by about `mib` every round.
 *
 * The live-set index is mmap'd, not malloc'd, so it costs every allocator
 * the same pages (8 bytes per live object) and its growth does not
 * exercise the allocator under test.
 *
 * Checksum: values read back from every object freed; deterministic.
 */
#include "bench_util.h"

#include <sys/mman.h>

/* Every object starts with this header (objects are >= 16 bytes). */
typedef struct frag_hdr_s {
    uint64_t value;
    uint32_t size;
} frag_hdr_t;

static const size_t frag_band_lo[3] = {16, 160, 1024};
static const size_t frag_band_hi[3] = {128, 640, 4096};

static frag_hdr_t **frag_live; /* live objects, allocation order */
static size_t frag_nlive, frag_cap;
static size_t frag_live_bytes, frag_peak_live_bytes;

static void
frag_alloc_round(bench_rng_t *rng, int band, size_t budget)
{
    for (size_t done = 0; done < budget;) {
        size_t size =
            bench_rng_logsize(rng, frag_band_lo[band], frag_band_hi[band]);
        if (frag_nlive == frag_cap) {
            fprintf(stderr, "frag: live index full\n");
            exit(3);
        }
        frag_hdr_t *o = bench_xmalloc(size);
        o->value = bench_rng_next(rng);
        o->size = (uint32_t)size;
        ((unsigned char *)o)[size - 1] = (unsigned char)o->value;
        frag_live[frag_nlive++] = o;
        done += size;
        frag_live_bytes += size;
    }
    if (frag_live_bytes > frag_peak_live_bytes)
        frag_peak_live_bytes = frag_live_bytes;
}

/* Frees all but every keep-th live object; compacts the index in place. */
static uint64_t
frag_free_round(size_t keep)
{
    uint64_t sum = 0;
    size_t kept = 0;
    for (size_t i = 0; i < frag_nlive; i++) {
        frag_hdr_t *o = frag_live[i];
        if (i % keep == 0) {
            frag_live[kept++] = o;
            continue;
        }
        sum += bench_mix(o->value) + ((unsigned char *)o)[o->size - 1];
        frag_live_bytes -= o->size;
        free(o);
    }
    frag_nlive = kept;
    return sum;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"mib", 128, "bytes allocated per round, MiB"},
        {"rounds", 4, "allocate/free rounds (bands rotate)"},
        {"keep", 10, "keep 1 object in this many at each free phase"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "fragmentation: strand slabs, then change sizes");
    size_t budget = (size_t)bench_param(params, "mib") << 20;
    long rounds = bench_param(params, "rounds");
    long keep = bench_param(params, "keep");
    if (budget == 0 || rounds < 1 || keep < 2) {
        fprintf(stderr, "frag: bad parameters\n");
        return 2;
    }
    /* Worst case: every round all 16-byte objects, none ever freed. */
    frag_cap = (budget / 16 + 1) * (size_t)rounds;
    frag_live =
        mmap(NULL, frag_cap * sizeof(*frag_live), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (frag_live == MAP_FAILED) {
        perror("frag: mmap");
        return 3;
    }
    bench_rng_t rng = {7};
    uint64_t sum = 0;
    for (long r = 0; r < rounds; r++) {
        frag_alloc_round(&rng, (int)(r % 3), budget);
        sum += frag_free_round((size_t)keep);
    }
    long end_rss = bench_cur_rss_kib();
    /* Final teardown: free everything (keep = "never"). */
    for (size_t i = 0; i < frag_nlive; i++) {
        frag_hdr_t *o = frag_live[i];
        sum += bench_mix(o->value);
        free(o);
    }
    char extra[160];
    snprintf(extra, sizeof(extra),
             "peak_live_mib=%.1f peak_rss_mib=%.1f end_rss_mib=%.1f",
             (double)frag_peak_live_bytes / 1048576.0,
             (double)bench_peak_rss_kib() / 1024.0, (double)end_rss / 1024.0);
    bench_report("frag", sum, extra);
    munmap(frag_live, frag_cap * sizeof(*frag_live));
    return 0;
}
