/*
 * profile_fuzz.c — libFuzzer target for the profile reader and the report
 * model: every byte string goes through profile_decode, and what decodes
 * goes through model_from_profile (symbolization off: no files are
 * opened) and a walk that touches everything a report subcommand reads.
 *
 * Owns: the properties checked on each input, beyond "no crash, no leak,
 * no undefined behaviour" (AddressSanitizer, LeakSanitizer, UBSan):
 *   - a rejected input leaves an error line that starts with the name
 *     given to the reader and holds no newline;
 *   - a model's stacks name frames that exist: stack[i] < nframes;
 *   - a row's name starts inside its stack: name_at < depth, or 0 for
 *     a sample without frames (naming.h), and it and the provenance
 *     line (model_origin) are written within their buffers;
 *   - every sample type can be selected by name (but "", which asks for
 *     the default) and by number (a name that is a number wins, as in
 *     pprof);
 *   - a decoded profile, edited as symbolize and merge edit one (a new
 *     string, a new function), packs into bytes that decode again.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Built by clang with -fsanitize=fuzzer,address,undefined (see
 * CMakeLists.txt beside this file); run by run_fuzz.py.
 *
 * Threading: libFuzzer calls the target from one thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "profile_io.h"

/* The name errors must start with. */
#define FUZZ_NAME "fuzz-input"

/* Aborts with a message: a property of the reader does not hold. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "profile_fuzz: %s: %s\n", what, detail);
    abort();
}

static void
fuzz_check_err(const char *err)
{
    if (strncmp(err, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) != 0)
        fuzz_fail("error line does not start with the name", err);
    if (strchr(err, '\n') != NULL)
        fuzz_fail("error line holds a newline", err);
}

/* Reads every string of a frame (so ASan sees a dangling one). */
static size_t
fuzz_walk_frame(const model_frame_t *f)
{
    char name[256];
    model_frame_name(name, sizeof name, f, true);
    char fit[64];
    model_fit(fit, sizeof fit, name, 20);
    return strlen(f->func) + strlen(f->file) + strlen(fit) +
           (size_t)(f->line & 1) + (size_t)(f->addr & 1);
}

static void
fuzz_walk_samples(const model_t *m, const model_filter_t *filter)
{
    size_t touched = 0;
    for (size_t i = 0; i < m->nsamples; i++) {
        const model_sample_t *s = &m->samples[i];
        for (uint32_t k = 0; k < s->depth; k++) {
            if (s->stack[k] >= m->nframes)
                fuzz_fail("stack names a frame that does not exist", "");
            touched += fuzz_walk_frame(&m->frames[s->stack[k]]);
        }
        if (s->thread != NULL)
            touched += strlen(s->thread);
        if (s->allocator != NULL)
            touched += strlen(s->allocator);
        if (s->index >= m->prof->pb->n_sample)
            fuzz_fail("sample index out of range", "");
        if (s->name_at >= (s->depth > 0 ? s->depth : 1))
            fuzz_fail("a row name starts outside its stack", "");
        char name[128], fit[64];
        model_sample_name(name, sizeof name, m, s);
        model_fit_name(fit, sizeof fit, name, 20);
        touched += strlen(fit);
        touched += model_filter_keeps(m, filter, s);
        char v[64];
        model_fmt_value(v, sizeof v, (double)model_value(m, s), model_unit(m),
                        true);
        touched += strlen(v) + (size_t)s->bytes;
    }
    char origin[256];
    touched += model_origin(m, origin, sizeof origin, 40) + strlen(origin);
    /* Keep the walk from being optimized away. */
    __asm__ volatile("" : : "r"(touched));
}

/* Selects each sample type by name and by number and totals it. */
static void
fuzz_walk_types(model_t *m)
{
    char err[PROFILE_ERR_MAX];
    for (size_t t = 0; t < m->ntypes; t++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", t);
        /* A number is a name first (pprof): a type may be named "1". */
        if (model_select(m, num, err, sizeof err) != 0 ||
            (m->vi != t && strcmp(m->type_names[m->vi], num) != 0))
            fuzz_fail("sample type by number", num);
        /* Two types may share a name: the first one is chosen.  An empty
         * name asks for the default type. */
        const char *name = m->type_names[t];
        if (name[0] != '\0' && (model_select(m, name, err, sizeof err) != 0 ||
                                strcmp(m->type_names[m->vi], name) != 0))
            fuzz_fail("sample type by name", m->type_names[t]);
        char total[64];
        model_fmt_value(total, sizeof total, (double)model_total(m),
                        model_unit(m), false);
    }
    if (model_select(m, "no such type", err, sizeof err) == 0)
        fuzz_fail("an unknown sample type was accepted", "");
    if (model_select(m, NULL, err, sizeof err) != 0)
        fuzz_fail("the default sample type", err);
}

/* Edits p as symbolize and merge do, packs it, and decodes it again. */
static void
fuzz_repack(profile_t *p)
{
    int64_t name = profile_intern(p, "fuzz_added_function");
    int64_t file = profile_intern(p, "fuzz.c");
    if (name < 0 || file < 0)
        fuzz_fail("profile_intern", "out of memory");
    uint64_t id = profile_add_function(p, name, name, file, 1);
    const profile_function_t *f = id != 0 ? profile_function(p, id) : NULL;
    if (f == NULL || f->name != name)
        fuzz_fail("profile_add_function", "the new function is not found");
    size_t len = perftools__profiles__profile__get_packed_size(p->pb);
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        fuzz_fail("repack", "out of memory");
    perftools__profiles__profile__pack(p->pb, buf);
    profile_t *again = NULL;
    char err[PROFILE_ERR_MAX];
    if (profile_decode(FUZZ_NAME, buf, len, &again, err, sizeof err) != 0)
        fuzz_fail("a repacked profile does not decode", err);
    if (again->pb->n_sample != p->pb->n_sample ||
        profile_function(again, id) == NULL)
        fuzz_fail("a repacked profile differs", "");
    profile_free(again);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    profile_t *p = NULL;
    char err[PROFILE_ERR_MAX] = "";
    if (profile_decode(FUZZ_NAME, data, size, &p, err, sizeof err) != 0) {
        fuzz_check_err(err);
        return 0;
    }
    model_opts_t o = {.no_symbolize = true};
    model_t *m = NULL;
    if (model_from_profile(p, FUZZ_NAME, &o, &m, err, sizeof err) != 0) {
        fuzz_check_err(err); /* the model freed the profile */
        return 0;
    }
    model_filter_t filter;
    if (model_filter_init(&filter, "alloc|main", "^\\[", err, sizeof err) != 0)
        fuzz_fail("model_filter_init", err);
    fuzz_walk_samples(m, &filter);
    model_filter_free(&filter);
    fuzz_walk_types(m);
    fuzz_repack(m->prof);
    model_free(m);
    return 0;
}
