/*
 * selflib.cpp — the shared library of the symbolization tests.
 *
 * The stack it captures, innermost first (the @markers name the lines
 * cli_test.py expects; keep each on its call):
 *   hscli::Capture::grab(void**, int)        at @grab_call
 *   hscli::lib_inlined(void**, int)          at @lib_inlined_call  (inlined)
 *   selflib_entry                            at @entry_call
 * Calls are kept out of tail position (empty asm after each, and the build
 * uses -fno-optimize-sibling-calls) so that every frame is on the stack.
 */
#include "selflib.h"

#include <execinfo.h>

namespace hscli
{

struct Capture {
    static int grab(void **buf, int max);
};

__attribute__((noinline)) int
Capture::grab(void **buf, int max)
{
    int n = backtrace(buf, max); // @grab_call
    __asm__ volatile("" ::: "memory");
    return n;
}

static inline __attribute__((always_inline)) int
lib_inlined(void **buf, int max)
{
    int n = Capture::grab(buf, max); // @lib_inlined_call
    __asm__ volatile("" ::: "memory");
    return n;
}

} // namespace hscli

extern "C" __attribute__((noinline)) int
selflib_entry(void **buf, int max)
{
    int n = hscli::lib_inlined(buf, max); // @entry_call
    __asm__ volatile("" ::: "memory");
    return n;
}
