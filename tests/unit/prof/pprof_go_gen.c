/*
 * pprof_go_gen.c — writes a small heap profile for pprof_go.sh to read
 * with the real `go tool pprof`.
 *
 * Usage: pprof_go_gen [--empty] OUT.pb.gz
 * Writes OUT through dumpfile_write + pprof_write (with --empty, a
 * profile of zero samples) and prints, one per
 * line, "key value" facts the script checks against pprof's output: the
 * native frames' addresses (return address - 1, as the profile holds
 * them) and the source lines of the calls they sit in.
 *
 * The profile: three samples mixing native frames (return addresses in
 * this program's own functions site_alpha, site_beta and main) and
 * symbolic frames (load_batch in my_module.py at lines 42 and 43, and
 * <module> in main.py at line 7), with values
 *     alloc_objects alloc_space inuse_objects inuse_space
 *   S1: 10  1000  4   400   bytes 100   thread main
 *   S2:  3  3072  2  2048   bytes 1024  thread worker-1  allocator pymalloc
 *   S3:  5   500  0     0   bytes 100                    allocator pymalloc
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dumpfile.h"
#include "pprof.h"

static hs_frame_t ra_alpha, ra_beta, ra_main;
static int line_alpha, line_beta, line_main;

/* Records its return address, and the caller's line of the call. */
static __attribute__((noinline)) void
capture(hs_frame_t *r_ra, int *r_line, int line)
{
    *r_ra = (hs_frame_t)__builtin_return_address(0);
    *r_line = line;
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void
site_alpha(void)
{
    capture(&ra_alpha, &line_alpha, __LINE__);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void
site_beta(void)
{
    capture(&ra_beta, &line_beta, __LINE__);
    __asm__ volatile("" ::: "memory");
}

static const struct {
    const char *function, *file;
    unsigned line;
} gen_syms[] = {
    {"load_batch", "my_module.py", 42},
    {"load_batch", "my_module.py", 43},
    {"<module>", "main.py", 7},
};

static hs_frame_t
gen_sym(unsigned i)
{
    return HS_FRAME_SYMBOLIC_BIT | (hs_frame_t)(i + 1);
}

static int
gen_symbolic(hs_frame_t f, const char **r_function, const char **r_file,
             unsigned *r_line)
{
    hs_frame_t i = (f & ~HS_FRAME_SYMBOLIC_BIT) - 1;
    if (i >= sizeof gen_syms / sizeof gen_syms[0])
        return 0;
    *r_function = gen_syms[i].function;
    *r_file = gen_syms[i].file;
    *r_line = gen_syms[i].line;
    return 1;
}

static int
gen_write(int fd, void *arg)
{
    return pprof_write(fd, arg);
}

int
main(int argc, char **argv)
{
    bool empty = argc == 3 && strcmp(argv[1], "--empty") == 0;
    if (argc != 2 && !empty) {
        fprintf(stderr, "usage: %s [--empty] OUT.pb.gz\n", argv[0]);
        return 2;
    }
    const char *out = argv[argc - 1];
    site_alpha();
    site_beta();
    capture(&ra_main, &line_main, __LINE__);
    hs_frame_t st1[] = {ra_alpha, gen_sym(0), gen_sym(2)};
    hs_frame_t st2[] = {ra_beta, ra_main};
    hs_frame_t st3[] = {gen_sym(1), gen_sym(2)};
    prof_sample_rec_t s[] = {
        {st1, 3, 10, 1000, 4, 400, 100, "main", NULL, NULL, NULL, NULL, NULL},
        {st2, 2, 3, 3072, 2, 2048, 1024, "worker-1", "pymalloc", NULL, NULL,
         NULL, NULL},
        {st3, 2, 5, 500, 0, 0, 100, NULL, "pymalloc", NULL, NULL, NULL, NULL},
    };
    static const char *const comments[] = {"heapsight 0.1.0 test profile",
                                           "options: prof:true"};
    prof_profile_t p = {s,
                        empty ? 0 : 3,
                        gen_symbolic,
                        524288,
                        1700000000000000000LL,
                        2500000000LL,
                        comments,
                        2};
    int err = dumpfile_write(out, gen_write, &p);
    if (err != 0) {
        fprintf(stderr, "pprof_go_gen: %s: %s\n", out, strerror(err));
        return 1;
    }
    printf("addr_alpha %#lx\naddr_beta %#lx\naddr_main %#lx\n",
           (unsigned long)(ra_alpha - 1), (unsigned long)(ra_beta - 1),
           (unsigned long)(ra_main - 1));
    printf("line_alpha %d\nline_beta %d\nline_main %d\n", line_alpha, line_beta,
           line_main);
    return 0;
}
