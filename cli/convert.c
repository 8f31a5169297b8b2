/*
 * convert.c — `heapsight convert PROFILE --to collapsed|pprof [-o OUT]
 * [--sample-index T]`: a profile in another format.
 *
 * Owns: the collapsed-stack writer (the input of flamegraph.pl, inferno,
 * speedscope) and the re-encoding of a profile as pprof.  The profile,
 * its frames and its symbolization belong to the model (model.h).
 *
 * collapsed: one line per distinct stack of function names,
 *     "root;caller;...;leaf VALUE\n", VALUE = Σ of the chosen sample type
 *     over the samples with that stack (the lines sum to the total);
 *     stacks whose sum is 0 are left out; lines sorted by their bytes
 *     (strcmp), so the output does not depend on the input's order.  In
 *     names, ';' (the separator) becomes ':' and control characters
 *     become spaces (a line is one stack); a sample without frames is
 *     "[no stack]".
 * pprof: the model's profile as loaded (addresses symbolized on the fly
 *     from local files, every address and mapping kept), written gzipped
 *     with profile_write; --sample-index makes T its default_sample_type.
 *
 * Exit status: 0 done, 1 OUT not written, 2 bad usage or PROFILE
 * unreadable.
 *
 * Threading: none.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hmap.h"
#include "model.h"
#include "viz/strbuf.h"

typedef enum convert_to_e {
    CONVERT_TO_NONE,
    CONVERT_TO_COLLAPSED,
    CONVERT_TO_PPROF,
} convert_to_t;

typedef struct convert_opts_s {
    const char *path, *out;
    const char *sample_index; /* NULL: the profile's default */
    convert_to_t to;
} convert_opts_t;

typedef struct convert_stack_s {
    char *text; /* "root;...;leaf", owned */
    int64_t value;
} convert_stack_t;

typedef struct convert_stacks_s {
    hmap_t ids; /* text → index */
    convert_stack_t *s;
    size_t n, cap;
} convert_stacks_t;

static int convert_main(int argc, char **argv);

const cmd_t cmd_convert = {
    .name = "convert",
    .summary = "convert a profile to collapsed stacks, or re-encode it",
    .usage =
        "usage: heapsight convert PROFILE --to collapsed|pprof [-o OUT]\n"
        "                         [--sample-index T]\n"
        "\n"
        "Writes PROFILE in another format.  Addresses without symbols are\n"
        "symbolized on the fly from local files.\n"
        "\n"
        "  collapsed  one line per distinct stack, \"root;caller;...;leaf "
        "VALUE\",\n"
        "             sorted: the input of flamegraph.pl, inferno and\n"
        "             speedscope.  VALUE sums the sample type T (default:\n"
        "             the profile's own, inuse_space for heapsight's) over\n"
        "             the samples with that stack of function names; a ';'\n"
        "             inside a name becomes ':'.  To standard output, or "
        "OUT.\n"
        "  pprof      the profile itself, symbolized, gzipped, to OUT (-o\n"
        "             needed); with --sample-index, T becomes its default\n"
        "             sample type (what pprof shows first).\n"
        "\n"
        "options:\n"
        "      --to FORMAT       collapsed or pprof\n"
        "  -o, --output OUT      where to write\n"
        "      --sample-index T  a sample type of PROFILE, by name or index\n"
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 done, 1 OUT not written, 2 bad usage or PROFILE\n"
        "unreadable.\n",
    .main = convert_main,
};
CMD_REGISTER(cmd_convert, CMD_ORDER_CONVERT);

/* ---- collapsed ---------------------------------------------------------- */

/* Appends a function name with ';' → ':' and control characters → ' '. */
static void
convert_add_name(strbuf_t *b, const char *name)
{
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (c == ';')
            c = ':';
        else if ((unsigned char)c < 0x20 || c == 0x7f)
            c = ' ';
        strbuf_add(b, &c, 1);
    }
}

/* "root;...;leaf" of s into b. */
static void
convert_stack_text(strbuf_t *b, const model_t *m, const model_sample_t *s)
{
    b->len = 0;
    if (s->depth == 0)
        strbuf_puts(b, "[no stack]");
    for (uint32_t i = s->depth; i-- > 0;) {
        convert_add_name(b, m->frames[s->stack[i]].func);
        if (i > 0)
            strbuf_puts(b, ";");
    }
}

static int
convert_add_stack(convert_stacks_t *t, const strbuf_t *text, int64_t v)
{
    uint64_t id;
    if (hmap_get(&t->ids, text->s, text->len, &id)) {
        model_add(&t->s[id].value, v);
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        convert_stack_t *bigger = realloc(t->s, cap * sizeof(*bigger));
        if (bigger == NULL)
            return ENOMEM;
        t->s = bigger;
        t->cap = cap;
    }
    char *copy = strdup(text->s);
    if (copy == NULL || hmap_put(&t->ids, text->s, text->len, t->n) != 0) {
        free(copy);
        return ENOMEM;
    }
    t->s[t->n++] = (convert_stack_t){copy, v};
    return 0;
}

static int
convert_stack_cmp(const void *a, const void *b)
{
    return strcmp(((const convert_stack_t *)a)->text,
                  ((const convert_stack_t *)b)->text);
}

/* Sums m's samples by stack into t, sorted. */
static int
convert_collect(convert_stacks_t *t, const model_t *m)
{
    strbuf_t text = STRBUF_INIT;
    int e = 0;
    for (size_t k = 0; e == 0 && k < m->nsamples; k++) {
        const model_sample_t *s = &m->samples[k];
        if (model_value(m, s) == 0)
            continue;
        convert_stack_text(&text, m, s);
        e = text.failed ? ENOMEM
                        : convert_add_stack(t, &text, model_value(m, s));
    }
    strbuf_free(&text);
    if (e == 0 && t->n > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(t->s, t->n, sizeof(convert_stack_t), convert_stack_cmp);
    return e;
}

/* Writes t to out (stdout when NULL); 0 or an errno value. */
static int
convert_write_collapsed(const convert_stacks_t *t, const char *out)
{
    FILE *f = out != NULL ? fopen(out, "w") : stdout;
    if (f == NULL)
        return errno;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].value != 0)
            fprintf(f, "%s %" PRId64 "\n", t->s[i].text, t->s[i].value);
    int e = 0;
    if (fflush(f) != 0 || ferror(f))
        e = errno != 0 ? errno : EIO;
    if (f != stdout && fclose(f) != 0 && e == 0)
        e = errno;
    return e;
}

static int
convert_collapsed(const model_t *m, const char *out)
{
    convert_stacks_t t = {0};
    hmap_init(&t.ids);
    int e = convert_collect(&t, m);
    int status = CMD_EXIT_OK;
    if (e != 0) {
        cmd_error("convert: %s: %s", m->path, strerror(e));
        status = CMD_EXIT_FAIL;
    } else if ((e = convert_write_collapsed(&t, out)) != 0) {
        cmd_error("%s: cannot write: %s", out ? out : "standard output",
                  strerror(e));
        status = CMD_EXIT_FAIL;
    }
    for (size_t i = 0; i < t.n; i++)
        free(t.s[i].text);
    free(t.s);
    hmap_destroy(&t.ids);
    return status;
}

/* ---- pprof -------------------------------------------------------------- */

static int
convert_pprof(model_t *m, const convert_opts_t *o)
{
    char err[PROFILE_ERR_MAX];
    if (o->sample_index != NULL) {
        int64_t s = profile_intern(m->prof, m->type_names[m->vi]);
        if (s < 0) {
            cmd_error("convert: %s: out of memory", m->path);
            return CMD_EXIT_FAIL;
        }
        m->prof->pb->default_sample_type = s;
    }
    if (profile_write(m->prof, o->out, err, sizeof err) != 0) {
        cmd_error("%s", err);
        return CMD_EXIT_FAIL;
    }
    return CMD_EXIT_OK;
}

/* ---- the command -------------------------------------------------------- */

static int
convert_run(const convert_opts_t *o)
{
    char err[PROFILE_ERR_MAX];
    model_opts_t mo = {.sample_index = o->sample_index};
    model_t *m;
    int e = model_load(o->path, &mo, &m, err, sizeof err);
    if (e != 0) {
        cmd_error("%s", err);
        return e == ENOMEM ? CMD_EXIT_FAIL : CMD_EXIT_USAGE;
    }
    int status = o->to == CONVERT_TO_COLLAPSED ? convert_collapsed(m, o->out)
                                               : convert_pprof(m, o);
    model_free(m);
    return status;
}

static int
convert_parse_to(const char *arg, convert_to_t *r_to)
{
    if (strcmp(arg, "collapsed") == 0)
        *r_to = CONVERT_TO_COLLAPSED;
    else if (strcmp(arg, "pprof") == 0)
        *r_to = CONVERT_TO_PPROF;
    else
        return cmd_usage_error(&cmd_convert,
                               "unknown --to '%s' (collapsed or pprof)", arg);
    return -1;
}

/* Checks what the options need together; -1 to go on, else the status. */
static int
convert_check(int argc, char **argv, convert_opts_t *o)
{
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_convert, optind == argc
                                                 ? "no PROFILE given"
                                                 : "one PROFILE at a time");
    if (o->to == CONVERT_TO_NONE)
        return cmd_usage_error(&cmd_convert,
                               "no format given (--to collapsed|pprof)");
    if (o->to == CONVERT_TO_PPROF && o->out == NULL)
        return cmd_usage_error(&cmd_convert,
                               "--to pprof needs an output (-o OUT)");
    o->path = argv[optind];
    return -1;
}

static int
convert_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"to", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"sample-index", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    convert_opts_t o = {0};
    int c, status = -1;
    cmd_getopt_reset();
    while (status < 0 &&
           (c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (c == 't')
            status = convert_parse_to(optarg, &o.to);
        else if (c == 'o')
            o.out = optarg;
        else if (c == 's')
            o.sample_index = optarg;
        else if (c == 'h')
            status = cmd_help(&cmd_convert);
        else
            status = cmd_bad_option(&cmd_convert, c, argv);
    }
    if (status < 0)
        status = convert_check(argc, argv, &o);
    return status >= 0 ? status : convert_run(&o);
}
