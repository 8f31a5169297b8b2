/*
 * service.c — a small "service" for the leak-hunting tests: the memory
 * shapes a long-running program has, all allocated through one xmalloc
 * wrapper, so that a report naming the wrapper instead of its callers
 * shows at once.
 *
 * `service SECONDS [keep]`: ticks every 10 ms for SECONDS; each tick
 *   handle_request   churn: a few buffers allocated and freed in the tick
 *   cache_put        a bounded cache: 128 slots of 32 KiB, filled in the
 *                    first 1.3 s (one slot a tick until full), then
 *                    entries replaced in place: flat at 4 MiB
 *   history_append   a reachable list that grows without bound: 16 KiB a
 *                    tick (1.6 MiB/s), linked from a global
 *   session_open     an unreachable leak: 4 KiB a tick whose only pointer
 *                    is dropped (0.4 MiB/s); with "keep", linked into a
 *                    global list instead (reachable: nothing leaks)
 * and once, at a third of the run, spike: 200 MiB in 1 MiB blocks, held
 * for 300 ms and freed.  At exit the cache and the history are still
 * reachable (globals), the sessions are not.
 *
 * Prints "pid N" first and "done" last on stdout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define MIB (1024 * 1024)
#define CACHE_SLOTS 128
#define SPIKE_BLOCKS 200

/* Keeps the compiler from dropping stores to memory it thinks is dead. */
static volatile uintptr_t sink;

NOINLINE void *
xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "service: out of memory\n");
        abort();
    }
    memset(p, 0x5a, n < 64 ? n : 64);
    return p;
}

NOINLINE void
handle_request(unsigned tick)
{
    char *parts[8];
    for (int i = 0; i < 8; i++)
        parts[i] = xmalloc(256 + (size_t)((tick + (unsigned)i) % 7) * 512);
    for (int i = 0; i < 8; i++) {
        sink += (uintptr_t)parts[i][0];
        free(parts[i]);
    }
}

static void *cache[CACHE_SLOTS];
static unsigned cache_filled;

NOINLINE void
cache_put(unsigned tick)
{
    unsigned slot =
        cache_filled < CACHE_SLOTS ? cache_filled++ : tick % CACHE_SLOTS;
    free(cache[slot]);
    cache[slot] = xmalloc(32768);
}

struct entry {
    struct entry *next;
    char payload[16384 - sizeof(struct entry *)];
};
static struct entry *history;

NOINLINE void
history_append(void)
{
    struct entry *e = xmalloc(sizeof(*e));
    e->next = history;
    history = e;
}

static int keep_sessions;
static void **sessions;

NOINLINE void
session_open(void)
{
    void **s = xmalloc(4096);
    if (keep_sessions) {
        s[0] = sessions;
        sessions = s;
        return;
    }
    sink += (uintptr_t)((char *)s)[1]; /* the only pointer, dropped here */
}

static void *spike_blocks[SPIKE_BLOCKS];

NOINLINE void
spike_alloc(void)
{
    for (int i = 0; i < SPIKE_BLOCKS; i++)
        spike_blocks[i] = xmalloc(MIB);
}

static void
spike_free(void)
{
    for (int i = 0; i < SPIKE_BLOCKS; i++)
        free(spike_blocks[i]);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    unsigned ticks = (argc > 1 ? (unsigned)atoi(argv[1]) : 3) * 100;
    keep_sessions = argc > 2 && strcmp(argv[2], "keep") == 0;
    printf("pid %ld\n", (long)getpid());
    fflush(stdout);
    for (unsigned t = 0; t < ticks; t++) {
        handle_request(t);
        cache_put(t);
        history_append();
        session_open();
        if (t == ticks / 3) {
            spike_alloc();
            sleep_ms(300);
            spike_free();
        }
        sleep_ms(10);
    }
    printf("done\n");
    return 0;
}
