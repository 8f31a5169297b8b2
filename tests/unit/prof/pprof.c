/*
 * pprof.c — unit tests of prof/pprof: every profile written is gunzipped
 * and decoded by pprof_decode (a small protobuf decoder written apart
 * from the encoder), and checked field by field against pprof.h's layout: the
 * sample types and their order, period, default sample type, comments,
 * string_table[0] == "", the dedupe of strings, locations and functions,
 * dense ids from 1, native locations with address - 1 and their mapping
 * (file name and build ID), symbolic locations without mapping, labels
 * (NULL ones left out), zero samples, huge stacks, many samples, and the
 * errors of the file descriptor (ENOSPC, EBADF, EPIPE).
 */
#include "hs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "maps.h"
#include "pprof.h"
#include "pprof_decode.h"

/* pprof_write into a memfd, then gunzip and decode; returns its error. */
static int
roundtrip(const prof_profile_t *p, pdec_profile_t *pr)
{
    int fd = memfd_create("pprof_test", MFD_CLOEXEC);
    int err = pprof_write(fd, p);
    if (err == 0)
        pdec_read_fd(fd, pr);
    else
        memset(pr, 0, sizeof *pr);
    close(fd);
    return err;
}

/* Checks what every profile must hold, whatever its samples. */
static void
expect_well_formed(const pdec_profile_t *pr, const prof_profile_t *p)
{
    HS_EXPECT_FALSE(pr->bad);
    HS_ASSERT_GE_SIZE(pr->nstrings, 1);
    HS_EXPECT_EQ_STR(pr->strings[0], "");
    for (size_t i = 1; i < pr->nstrings; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(pr->strings[i], pr->strings[j]) == 0)
                HS_FAIL("string %zu repeats %zu: \"%s\"", i, j, pr->strings[i]);
    static const char *const types[4][2] = {{"alloc_objects", "count"},
                                            {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"},
                                            {"inuse_space", "bytes"}};
    HS_ASSERT_EQ_SIZE(pr->ntypes, 4);
    for (size_t i = 0; i < 4; i++) {
        HS_EXPECT_EQ_STR(pdec_str(pr, pr->types[i].type), types[i][0]);
        HS_EXPECT_EQ_STR(pdec_str(pr, pr->types[i].unit), types[i][1]);
    }
    HS_EXPECT_EQ_STR(pdec_str(pr, pr->period_type.type), "space");
    HS_EXPECT_EQ_STR(pdec_str(pr, pr->period_type.unit), "bytes");
    HS_EXPECT_EQ_INT(pr->period, p->period);
    HS_EXPECT_EQ_INT(pr->time_nanos, p->time_nanos);
    HS_EXPECT_EQ_INT(pr->duration_nanos, p->duration_nanos);
    HS_EXPECT_EQ_STR(pdec_str(pr, pr->default_type), "inuse_space");
    HS_EXPECT_EQ_SIZE(pr->nsamples, p->nsamples);
    for (size_t i = 0; i < pr->nlocations; i++)
        HS_EXPECT_EQ_U64(pr->locations[i].id, i + 1);
    for (size_t i = 0; i < pr->nfunctions; i++)
        HS_EXPECT_EQ_U64(pr->functions[i].id, i + 1);
    for (size_t i = 0; i < pr->nmappings; i++)
        HS_EXPECT_EQ_U64(pr->mappings[i].id, i + 1);
}

/* ---- symbolic frames of the tests ---- */

typedef struct sym_s {
    const char *function, *file;
    unsigned line;
} sym_t;

static const sym_t test_syms[] = {
    {"load_batch", "my_module.py", 42},
    {"load_batch", "my_module.py", 43}, /* same function, another line */
    {"<module>", "main.py", 7},
    {"no_file", NULL, 0},
};
enum { NSYMS = sizeof test_syms / sizeof test_syms[0] };

static hs_frame_t
sym(unsigned i)
{
    return HS_FRAME_SYMBOLIC_BIT | (hs_frame_t)(i + 1);
}

static int
test_symbolic(hs_frame_t f, const char **r_function, const char **r_file,
              unsigned *r_line)
{
    hs_frame_t i = (f & ~HS_FRAME_SYMBOLIC_BIT) - 1;
    if (i >= NSYMS)
        return 0;
    *r_function = test_syms[i].function;
    *r_file = test_syms[i].file;
    *r_line = test_syms[i].line;
    return 1;
}

static __attribute__((noinline)) void
native_a(void)
{
    __asm__ volatile("");
}

static __attribute__((noinline)) void
native_b(void)
{
    __asm__ volatile("nop");
}

static prof_profile_t
base_profile(const prof_sample_rec_t *s, size_t n)
{
    static const char *const comments[] = {"heapsight 0.1.0",
                                           "options: prof:true", NULL};
    return (prof_profile_t){.samples = s,
                            .nsamples = n,
                            .symbolic = test_symbolic,
                            .period = 524288,
                            .time_nanos = 1700000000123456789LL,
                            .duration_nanos = 5000000000LL,
                            .comments = comments,
                            .ncomments = 3};
}

/* ---- tests ---- */

HS_TEST(zero_samples)
{
    prof_profile_t p = base_profile(NULL, 0);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_EXPECT_EQ_SIZE(pr.nlocations, 0);
    HS_EXPECT_EQ_SIZE(pr.nfunctions, 0);
    HS_ASSERT_EQ_SIZE(pr.ncomments, 2); /* the NULL one is left out */
    HS_EXPECT_EQ_STR(pdec_str(&pr, (int64_t)pr.comments[0]), "heapsight 0.1.0");
    HS_EXPECT_EQ_STR(pdec_str(&pr, (int64_t)pr.comments[1]),
                     "options: prof:true");
    pdec_free(&pr);

    p.comments = NULL; /* nothing optional at all */
    p.ncomments = 0;
    p.symbolic = NULL;
    p.period = p.time_nanos = p.duration_nanos = 0;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_EXPECT_EQ_SIZE(pr.ncomments, 0);
    pdec_free(&pr);
}

/* The sample set of the dedupe test: natives and symbolics mixed. */
static void
dedupe_samples(prof_sample_rec_t *s, hs_frame_t *st1, hs_frame_t *st2)
{
    hs_frame_t a = (hs_frame_t)&native_a + 1, b = (hs_frame_t)&native_b + 1;
    hs_frame_t f1[] = {a, sym(0), sym(2)};
    hs_frame_t f2[] = {b, a, 0, sym(1), sym(2), sym(3), a};
    memcpy(st1, f1, sizeof f1);
    memcpy(st2, f2, sizeof f2);
    s[0] = (prof_sample_rec_t){st1,    3,    10,   1000, 4,    400, 100,
                               "main", NULL, NULL, NULL, NULL, NULL};
    s[1] = (prof_sample_rec_t){st2,  7,    3,          3072,       2,
                               2048, 1024, "worker-1", "pymalloc", NULL,
                               NULL, NULL, NULL};
    s[2] = (prof_sample_rec_t){st1,  3,          1,    1,    0,    0,   0,
                               NULL, "pymalloc", NULL, NULL, NULL, NULL};
}

HS_TEST(dedupe_and_layout)
{
    prof_sample_rec_t s[3];
    hs_frame_t st1[3], st2[7];
    dedupe_samples(s, st1, st2);
    prof_profile_t p = base_profile(s, 3);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    /* a, b, sym0, sym1, sym2, sym3: the 0 frame dropped, repeats shared */
    HS_EXPECT_EQ_SIZE(pr.nlocations, 6);
    /* load_batch (twice), <module>, no_file */
    HS_EXPECT_EQ_SIZE(pr.nfunctions, 3);
    HS_ASSERT_EQ_SIZE(pr.samples[0].nlocs, 3);
    HS_ASSERT_EQ_SIZE(pr.samples[1].nlocs, 6);
    HS_ASSERT_EQ_SIZE(pr.samples[2].nlocs, 3);
    const pdec_sample_t *s0 = &pr.samples[0], *s1 = &pr.samples[1];
    HS_EXPECT_EQ_U64(s1->locs[1], s0->locs[0]); /* a */
    HS_EXPECT_EQ_U64(s1->locs[5], s0->locs[0]); /* a again */
    HS_EXPECT_EQ_U64(s1->locs[3], s0->locs[2]); /* sym2 */
    for (size_t i = 0; i < 3; i++)
        HS_EXPECT_EQ_U64(pr.samples[2].locs[i], s0->locs[i]);
    const uint64_t v1[] = {3, 3072, 2, 2048};
    HS_ASSERT_EQ_SIZE(s1->nvalues, 4);
    for (size_t i = 0; i < 4; i++)
        HS_EXPECT_EQ_U64(s1->values[i], v1[i]);
    pdec_free(&pr);
}

HS_TEST(native_locations_and_mappings)
{
    prof_sample_rec_t s[3];
    hs_frame_t st1[3], st2[7];
    dedupe_samples(s, st1, st2);
    prof_profile_t p = base_profile(s, 3);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    const pdec_location_t *la = pdec_find_location(&pr, pr.samples[0].locs[0]);
    HS_ASSERT_NOT_NULL(la);
    HS_EXPECT_EQ_U64(la->address, (uint64_t)(uintptr_t)&native_a);
    HS_EXPECT_EQ_SIZE(la->nlines, 0);
    const pdec_mapping_t *m = pdec_find_mapping(&pr, la->mapping);
    HS_ASSERT_NOT_NULL(m);
    HS_EXPECT_LE_U64(m->start, la->address);
    HS_EXPECT_GT_U64(m->limit, la->address);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    HS_ASSERT_GT_INT(n, 0);
    exe[n] = '\0';
    HS_EXPECT_EQ_STR(pdec_str(&pr, m->file), exe);
    maps_t maps;
    HS_ASSERT_EQ_INT(maps_read(&maps), 0);
    const maps_entry_t *e = maps_find(&maps, (uintptr_t)&native_a);
    HS_ASSERT_NOT_NULL(e);
    HS_EXPECT_EQ_STR(pdec_str(&pr, m->build_id), e->build_id);
    HS_EXPECT_NE_STR(e->build_id, ""); /* Debian's gcc links --build-id */
    HS_EXPECT_EQ_U64(m->offset, e->offset);
    HS_EXPECT_EQ_SIZE(pr.nmappings, maps.n);
    maps_fini(&maps);
    pdec_free(&pr);
}

/* Checks location id resolves to one line of function/file/line. */
static void
expect_symbolic(const pdec_profile_t *pr, uint64_t id, const char *function,
                const char *file, int64_t line)
{
    const pdec_location_t *l = pdec_find_location(pr, id);
    HS_ASSERT_NOT_NULL(l);
    HS_EXPECT_EQ_U64(l->mapping, 0);
    HS_EXPECT_EQ_U64(l->address, 0);
    HS_ASSERT_EQ_SIZE(l->nlines, 1);
    HS_EXPECT_EQ_INT(l->line[0], line);
    const pdec_function_t *f = pdec_find_function(pr, l->fn[0]);
    HS_ASSERT_NOT_NULL(f);
    HS_EXPECT_EQ_STR(pdec_str(pr, f->name), function);
    HS_EXPECT_EQ_STR(pdec_str(pr, f->file), file);
    HS_EXPECT_EQ_INT(f->system_name, 0); /* left empty, see pprof.h */
    HS_EXPECT_EQ_INT(f->start_line, 0);
}

HS_TEST(symbolic_locations)
{
    prof_sample_rec_t s[3];
    hs_frame_t st1[3], st2[7];
    dedupe_samples(s, st1, st2);
    prof_profile_t p = base_profile(s, 3);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    const pdec_sample_t *s0 = &pr.samples[0], *s1 = &pr.samples[1];
    expect_symbolic(&pr, s0->locs[1], "load_batch", "my_module.py", 42);
    expect_symbolic(&pr, s0->locs[2], "<module>", "main.py", 7);
    expect_symbolic(&pr, s1->locs[2], "load_batch", "my_module.py", 43);
    expect_symbolic(&pr, s1->locs[4], "no_file", "", 0);
    const pdec_location_t *l42 = pdec_find_location(&pr, s0->locs[1]);
    const pdec_location_t *l43 = pdec_find_location(&pr, s1->locs[2]);
    HS_ASSERT_NOT_NULL(l42);
    HS_ASSERT_NOT_NULL(l43);
    HS_EXPECT_NE_U64(l42->id, l43->id);
    HS_EXPECT_EQ_U64(l42->fn[0], l43->fn[0]); /* one Function */
    pdec_free(&pr);
}

HS_TEST(unknown_symbolic_frames)
{
    hs_frame_t st[] = {sym(NSYMS + 5), sym(0)};
    prof_sample_rec_t s = {st,   2,    1,    8,    1,    8,   8,
                           NULL, NULL, NULL, NULL, NULL, NULL};
    prof_profile_t p = base_profile(&s, 1);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_ASSERT_EQ_SIZE(pr.samples[0].nlocs, 2);
    expect_symbolic(&pr, pr.samples[0].locs[0], "[unknown]", "", 0);
    pdec_free(&pr);

    p.symbolic = NULL; /* no resolver: every symbolic frame unknown */
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_symbolic(&pr, pr.samples[0].locs[1], "[unknown]", "", 0);
    HS_EXPECT_EQ_SIZE(pr.nfunctions, 1);
    pdec_free(&pr);
}

HS_TEST(labels)
{
    prof_sample_rec_t s[3];
    hs_frame_t st1[3], st2[7];
    dedupe_samples(s, st1, st2);
    s[2].thread = "";         /* empty is treated as absent */
    s[2].extra_key = "merge"; /* a backtrace hook's label */
    s[2].extra_value = "degraded";
    prof_profile_t p = base_profile(s, 3);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    const pdec_sample_t *s0 = &pr.samples[0], *s1 = &pr.samples[1];
    const pdec_label_t *l = pdec_find_label(&pr, s0, "bytes");
    HS_ASSERT_NOT_NULL(l);
    HS_EXPECT_EQ_INT(l->num, 100);
    HS_EXPECT_EQ_STR(pdec_str(&pr, l->unit), "bytes");
    HS_EXPECT_EQ_INT(l->str, 0);
    l = pdec_find_label(&pr, s0, "thread");
    HS_ASSERT_NOT_NULL(l);
    HS_EXPECT_EQ_STR(pdec_str(&pr, l->str), "main");
    HS_EXPECT_NULL(pdec_find_label(&pr, s0, "allocator"));
    HS_EXPECT_EQ_SIZE(s0->nlabels, 2);
    HS_EXPECT_EQ_STR(pdec_str(&pr, pdec_find_label(&pr, s1, "allocator")->str),
                     "pymalloc");
    HS_EXPECT_EQ_SIZE(s1->nlabels, 3);
    HS_EXPECT_NULL(pdec_find_label(&pr, &pr.samples[2], "thread"));
    HS_EXPECT_NULL(pdec_find_label(&pr, s1, "merge"));
    l = pdec_find_label(&pr, &pr.samples[2], "merge");
    HS_ASSERT_NOT_NULL(l);
    HS_EXPECT_EQ_STR(pdec_str(&pr, l->str), "degraded");
    l = pdec_find_label(&pr, &pr.samples[2], "bytes");
    HS_ASSERT_NOT_NULL(l);
    HS_EXPECT_EQ_INT(l->num, 0);
    HS_EXPECT_EQ_STR(pdec_str(&pr, l->unit),
                     "bytes"); /* unit marks it numeric */
    pdec_free(&pr);
}

HS_TEST(negative_and_large_values)
{
    hs_frame_t st[] = {sym(0)};
    prof_sample_rec_t s = {st,   1,    INT64_MAX, -1,   INT64_MIN, 1,   -5,
                           NULL, NULL, NULL,      NULL, NULL,      NULL};
    prof_profile_t p = base_profile(&s, 1);
    p.time_nanos = -1;
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_ASSERT_EQ_SIZE(pr.samples[0].nvalues, 4);
    HS_EXPECT_EQ_INT((int64_t)pr.samples[0].values[0], INT64_MAX);
    HS_EXPECT_EQ_INT((int64_t)pr.samples[0].values[1], -1);
    HS_EXPECT_EQ_INT((int64_t)pr.samples[0].values[2], INT64_MIN);
    HS_EXPECT_EQ_INT(pdec_find_label(&pr, &pr.samples[0], "bytes")->num, -5);
    pdec_free(&pr);
}

HS_TEST(huge_stack)
{
    enum { N = 200000 };
    hs_frame_t *st = malloc(N * sizeof *st);
    for (size_t i = 0; i < N; i++) /* distinct, some repeated, mixed */
        st[i] = i % 3 == 2 ? sym((unsigned)(i % NSYMS))
                           : (hs_frame_t)&native_a + 1 + i;
    prof_sample_rec_t s = {st,  N,    1,    1,    1,    1,   1,
                           "t", NULL, NULL, NULL, NULL, NULL};
    prof_profile_t p = base_profile(&s, 1);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_ASSERT_EQ_SIZE(pr.samples[0].nlocs, N);
    size_t natives = 0;
    for (size_t i = 0; i < N; i++)
        natives += !hs_frame_is_symbolic(st[i]);
    HS_EXPECT_EQ_SIZE(pr.nlocations, natives + NSYMS);
    int wrong = 0;
    for (size_t i = 0; i < N; i += 3) {
        const pdec_location_t *l = &pr.locations[pr.samples[0].locs[i] - 1];
        wrong += l->address != (uint64_t)((hs_frame_t)&native_a + i);
    }
    HS_EXPECT_EQ_INT(wrong, 0);
    pdec_free(&pr);
    free(st);
}

HS_TEST(many_samples)
{
    enum { N = 50000 };
    prof_sample_rec_t *s = calloc(N, sizeof *s);
    hs_frame_t *st = malloc(N * 2 * sizeof *st);
    static char names[16][16];
    for (size_t i = 0; i < N; i++) {
        st[2 * i] = (hs_frame_t)&native_b + 1 + i % 1000;
        st[2 * i + 1] = sym((unsigned)(i % NSYMS));
        snprintf(names[i % 16], sizeof names[0], "thread-%zu", i % 16);
        s[i] = (prof_sample_rec_t){.frames = &st[2 * i],
                                   .nframes = 2,
                                   .alloc_objects = (int64_t)i,
                                   .alloc_space = (int64_t)i * 8,
                                   .inuse_objects = 1,
                                   .inuse_space = 8,
                                   .bytes = 8,
                                   .thread = names[i % 16]};
    }
    prof_profile_t p = base_profile(s, N);
    pdec_profile_t pr;
    HS_ASSERT_EQ_INT(roundtrip(&p, &pr), 0);
    expect_well_formed(&pr, &p);
    HS_EXPECT_EQ_SIZE(pr.nlocations, 1000 + NSYMS);
    int wrong = 0;
    for (size_t i = 0; i < pr.nsamples; i++)
        wrong += pr.samples[i].values[1] != i * 8;
    HS_EXPECT_EQ_INT(wrong, 0);
    pdec_free(&pr);
    free(st);
    free(s);
}

HS_TEST(write_errors)
{
    prof_sample_rec_t s[3];
    hs_frame_t st1[3], st2[7];
    dedupe_samples(s, st1, st2);
    prof_profile_t p = base_profile(s, 3);
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        HS_EXPECT_EQ_INT(pprof_write(fd, &p), ENOSPC);
        close(fd);
    }
    int pipefd[2];
    HS_ASSERT_EQ_INT(pipe(pipefd), 0);
    close(pipefd[0]);
    signal(SIGPIPE, SIG_IGN);
    HS_EXPECT_EQ_INT(pprof_write(pipefd[1], &p), EPIPE);
    close(pipefd[1]);
    HS_EXPECT_EQ_INT(pprof_write(pipefd[1], &p), EBADF);
    int rd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    HS_EXPECT_EQ_INT(pprof_write(rd, &p), EBADF); /* not open for writing */
    close(rd);
    HS_EXPECT_EQ_INT(pprof_write(1, NULL), EINVAL);
    p.samples = NULL;
    HS_EXPECT_EQ_INT(pprof_write(1, &p), EINVAL);
}

HS_TEST_MAIN()
