/*
 * opts_fuzz.c — libFuzzer target for the HEAPSIGHT= options parser
 * (alloc/opts.c): any byte string, taken as a configuration, must parse
 * without a crash, an out-of-bounds access or undefined behaviour
 * (AddressSanitizer, UndefinedBehaviorSanitizer), and leave every option
 * inside its documented bounds, every string option terminated.  Built by
 * tests/fuzz/CMakeLists.txt with clang; the parser's warnings go to
 * stderr, which the runner closes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

static void
check(void)
{
#define CHECK_BOOL(name, min, max) ;
#define CHECK_UINT(name, min, max)                                             \
    if ((long long)opt_##name < (long long)(min) ||                            \
        (long long)opt_##name > (long long)(max))                              \
        abort();
#define CHECK_MS(name, min, max)                                               \
    if ((long long)opt_##name < (long long)(min) ||                            \
        (long long)opt_##name > (long long)(max))                              \
        abort();
#define CHECK_SIZE(name, min, max)                                             \
    if (opt_##name < (size_t)(min) || opt_##name > (size_t)(max))              \
        abort();
#define CHECK_STR(name, min, max)                                              \
    if (memchr(opt_##name, '\0', OPT_STR_MAX) == NULL)                         \
        abort();
#define CHECK(type, name, def, min, max, doc) CHECK_##type(name, min, max)
    HS_OPTIONS(CHECK)
#undef CHECK
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *conf = malloc(size + 1);
    if (conf == NULL)
        return 0;
    memcpy(conf, data, size);
    conf[size] = '\0';
    opts_reset();
    opts_parse_string(conf);
    check();
    free(conf);
    return 0;
}
