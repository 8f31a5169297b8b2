/*
 * tprof.h — a tiny pprof writer for the CLI tests: builds a profile of
 * raw addresses and mappings with protobuf-c, the way a heapsight dump
 * looks before symbolization (no functions, no lines), and writes it
 * gzipped.
 *
 * Owns: the message tree under construction.  Mappings come either from
 * this process's /proc/self/maps (tprof_add_self_maps) or are made up by
 * the caller (tprof_add_mapping).  Sample values are
 * inuse_objects/count and inuse_space/bytes; one Location per distinct
 * address, tied to the mapping that contains it.
 *
 * Errors end the test program: tprof_* print one line and exit(1).
 */
#ifndef HS_TESTS_CLI_TPROF_H
#define HS_TESTS_CLI_TPROF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tprof_s tprof_t;

tprof_t *tprof_new(void);

/* Adds a mapping; build_id is lowercase hex or "". Returns its id. */
uint64_t tprof_add_mapping(tprof_t *t, uint64_t start, uint64_t limit,
                           uint64_t offset, const char *file,
                           const char *build_id);

/* Adds every file-backed mapping of /proc/self/maps, with build IDs. */
void tprof_add_self_maps(tprof_t *t);

/* Adds a sample of the stack addrs[0..n) (leaf first), as given. */
void tprof_add_sample(tprof_t *t, const uint64_t *addrs, size_t n,
                      int64_t bytes);

/* Writes the profile gzipped to path and frees t. */
void tprof_write(tprof_t *t, const char *path);

/* The GNU build ID of an ELF file as hex into out (129 bytes), or "". */
void tprof_build_id(const char *path, char *out);

#endif /* HS_TESTS_CLI_TPROF_H */
