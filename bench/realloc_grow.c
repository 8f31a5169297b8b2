/*
 * realloc_grow.c — buffers grown by realloc from 16 bytes to megabytes,
 * as string builders and dynamic arrays do.
 *
 * Owns: the realloc_grow benchmark only.
 *
 * Shape: `buffers` buffers grow side by side (the next one to grow is
 * picked at random, so no buffer sits alone at the top of the heap and
 * growth in place is not free).  Two kinds alternate:
 *  - builders: every append of 1..`chunk` bytes reallocs to the exact new
 *    length (naive string building: many small-step reallocs that a good
 *    allocator absorbs within a size class or grows in place);
 *  - vectors: capacity doubles when full (one realloc per doubling, each a
 *    potential copy of everything so far).
 * A buffer that reaches its target length (random in max/4..max) is read,
 * freed and restarted at 16 bytes.  Appended bytes are written, so large
 * reallocs pay for copies the allocator cannot avoid (mremap helps).
 *
 * Checksum: bytes sampled every 4 KiB of each finished buffer, plus its
 * length; deterministic for a given seed.
 */
#include "bench_util.h"

typedef struct grow_buf_s {
    unsigned char *data;
    size_t len;
    size_t cap;    /* bytes requested by the last realloc */
    size_t target; /* restart once len reaches this */
    bool vector;   /* doubling capacity; otherwise exact-length builder */
} grow_buf_t;

static uint64_t
grow_finish(grow_buf_t *b)
{
    uint64_t sum = b->len;
    for (size_t i = 0; i < b->len; i += 4096)
        sum += bench_mix(b->data[i] + i);
    sum += b->data[b->len - 1];
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return sum;
}

static void
grow_reserve(grow_buf_t *b, size_t need)
{
    if (need <= b->cap)
        return;
    size_t cap = need;
    if (b->vector) {
        cap = b->cap ? b->cap : 16;
        while (cap < need)
            cap *= 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "realloc_grow: realloc(%zu) failed\n", cap);
        exit(3);
    }
    b->data = p;
    b->cap = cap;
}

int
main(int argc, char **argv)
{
    bench_param_t params[] = {
        {"buffers", 32, "buffers growing side by side"},
        {"appends", 6000000, "total append operations"},
        {"chunk", 256, "largest append, bytes"},
        {"max", 8 << 20, "largest target length, bytes"},
        {NULL, 0, NULL},
    };
    bench_parse_args(argc, argv, params,
                     "realloc growth: string builders and vectors");
    long nbuf = bench_param(params, "buffers");
    long appends = bench_param(params, "appends");
    long chunk = bench_param(params, "chunk");
    long max = bench_param(params, "max");
    if (nbuf < 1 || chunk < 1 || max < 4096) {
        fprintf(stderr, "realloc_grow: bad parameters\n");
        return 2;
    }
    bench_rng_t rng = {42};
    grow_buf_t *bufs = calloc((size_t)nbuf, sizeof(*bufs));
    for (long i = 0; i < nbuf; i++) {
        bufs[i].vector = (i & 1) != 0;
        bufs[i].target =
            bench_rng_range(&rng, (uint64_t)max / 4, (uint64_t)max);
    }
    uint64_t sum = 0;
    long restarts = 0;
    for (long a = 0; a < appends; a++) {
        grow_buf_t *b = &bufs[bench_rng_range(&rng, 0, (uint64_t)nbuf - 1)];
        size_t k = (size_t)bench_rng_range(&rng, 1, (uint64_t)chunk);
        grow_reserve(b, b->len + k);
        memset(b->data + b->len, (int)(a & 0xff), k);
        b->len += k;
        if (b->len >= b->target) {
            sum += grow_finish(b);
            b->target = bench_rng_range(&rng, (uint64_t)max / 4, (uint64_t)max);
            restarts++;
        }
    }
    for (long i = 0; i < nbuf; i++) {
        if (bufs[i].data)
            sum += grow_finish(&bufs[i]);
    }
    free(bufs);
    char extra[64];
    snprintf(extra, sizeof(extra), "buffers=%ld restarts=%ld", nbuf, restarts);
    bench_report("realloc_grow", sum, extra);
    return 0;
}
