/*
 * selflib.h — the shared library of the symbolization tests (C++ inside,
 * C at its door): selflib_entry() captures the stack from inside an
 * inlined function and a namespaced C++ method.
 */
#ifndef HS_TESTS_CLI_SELFLIB_H
#define HS_TESTS_CLI_SELFLIB_H

#ifdef __cplusplus
extern "C" {
#endif

/* Fills buf with up to max return addresses (glibc backtrace). */
int selflib_entry(void **buf, int max);

#ifdef __cplusplus
}
#endif

#endif /* HS_TESTS_CLI_SELFLIB_H */
