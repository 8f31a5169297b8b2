/*
 * sample.h — the sampler: where the next sample falls, and what a sampled
 * object stands for.
 *
 * Owns: the per-thread random stream and the sampling arithmetic.  Bytes
 * are sampled as a Poisson process of mean gap R (prof_sample): the gaps
 * are exponential, so an object of s bytes is sampled with probability
 * p(s) = 1 - exp(-s / R), whatever came before it.  A sampled object then
 * stands for 1 / p(s) objects and s / p(s) bytes, which makes every
 * estimate unbiased (docs/PROFILING.md derives it, with the variance).
 * R == 1 is exact mode: every allocation is sampled and weighs 1.
 *
 * Thread state is owner-thread-only TLS; R is a relaxed atomic that
 * prof.reset may change.
 */
#ifndef HS_PROF_SAMPLE_H
#define HS_PROF_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* The mean gap R in bytes; setting it takes effect at each thread's next
 * sample. */
uint64_t sample_interval(void);
void sample_set_interval(uint64_t r);
/* Bytes until the calling thread's next sample point. */
uint64_t sample_next_gap(void);
/* A separate stream for allocations reported by other allocators. */
uint64_t sample_next_gap_foreign(void);
/* How many objects one sampled object of usize bytes stands for, under
 * mean gap r. */
double sample_weight(size_t usize, uint64_t r);

#endif /* HS_PROF_SAMPLE_H */
