/*
 * profile_io.h — reading, checking, editing and writing pprof profiles
 * (profile.proto, gzipped or raw) for every heapsight subcommand.
 *
 * Owns: a profile_t, which owns its protobuf-c message tree (pb), the
 * id → element indexes of its mappings, locations and functions, and the
 * string intern map.  Elements added through this module are allocated
 * with malloc, as protobuf-c's default allocator does, so that
 * perftools__profiles__profile__free_unpacked frees old and new alike.
 *
 * A profile returned by profile_read has passed profile_check: every
 * string index is inside string_table and string_table[0] is "", every id
 * is nonzero and unique within its kind, every reference (sample →
 * location, location → mapping, line → function) names an existing
 * element, every sample has one value per sample type, and no field is
 * numbered 0 (protobuf-c would write it back unreadable).  Readers may
 * rely on that and index without further checks.
 *
 * Invariants of the indexes: idx->ids[i] is the id of element
 * idx->pos[i], ids sorted ascending; when dense, ids == 1..n in element
 * order and the arrays are not used.  New functions get id = max id + 1,
 * which keeps both forms valid.
 *
 * Errors: functions that can fail return 0 or an errno value (EINVAL for
 * input that is not a valid profile) and write one line, starting with the
 * file name, into err (no trailing newline).
 *
 * Threading: none; a profile has one owner thread.
 */
#ifndef HS_CLI_PROFILE_IO_H
#define HS_CLI_PROFILE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <profile.pb-c.h> /* generated into the build tree by protoc-c */

#include "hmap.h"

typedef Perftools__Profiles__Profile profile_pb_t;
typedef Perftools__Profiles__Mapping profile_mapping_t;
typedef Perftools__Profiles__Location profile_location_t;
typedef Perftools__Profiles__Line profile_line_t;
typedef Perftools__Profiles__Function profile_function_t;

/* Largest profile read, before and after decompression, and the most
 * memory its decoded message tree may take (bounded memory). */
#define PROFILE_MAX_BYTES ((size_t)1 << 30)
/* Room for an error line. */
#define PROFILE_ERR_MAX 512

typedef struct profile_index_s {
    bool dense;    /* ids are 1..n in element order */
    uint64_t *ids; /* sorted, when !dense */
    size_t *pos;   /* element position of ids[i], when !dense */
    size_t n, cap; /* entries (== elements), capacity of ids/pos */
    uint64_t max_id;
} profile_index_t;

typedef struct profile_s {
    profile_pb_t *pb;
    profile_index_t mappings, locations, functions;
    hmap_t strings;       /* string → its first index; built on demand */
    bool strings_mapped;  /* strings holds every entry of string_table */
    size_t cap_strings;   /* allocated entries of pb->string_table */
    size_t cap_functions; /* allocated entries of pb->function */
} profile_t;

/*
 * Reads path (gzip detected by its magic bytes), decodes and checks it.
 * Returns 0 with a new profile in *r_prof, or an errno value.
 */
int profile_read(const char *path, profile_t **r_prof, char *err,
                 size_t errlen);

/*
 * Decodes and checks an in-memory profile (raw or gzipped); name is used
 * in error lines.  For the reader's fuzz target and tests.
 */
int profile_decode(const char *name, const uint8_t *data, size_t len,
                   profile_t **r_prof, char *err, size_t errlen);

/*
 * Writes p gzipped to path: to a temporary file beside it, fsynced, then
 * renamed over path.  An existing path keeps its mode; a new one gets
 * 0666 minus the umask.  Returns 0 or an errno value.
 */
int profile_write(const profile_t *p, const char *path, char *err,
                  size_t errlen);

/* Frees p and everything it owns; NULL is fine. */
void profile_free(profile_t *p);

/* The string at index i (checked profiles only index valid entries). */
static inline const char *
profile_str(const profile_t *p, int64_t i)
{
    return p->pb->string_table[i];
}

/* The text after key of p's first comment that starts with key
 * ("command: "), or NULL. */
const char *profile_comment(const profile_t *p, const char *key);

/* The index of s in the string table, added if absent; -1 if out of memory. */
int64_t profile_intern(profile_t *p, const char *s);

/* Elements by id, or NULL. */
profile_mapping_t *profile_mapping(const profile_t *p, uint64_t id);
profile_location_t *profile_location(const profile_t *p, uint64_t id);
profile_function_t *profile_function(const profile_t *p, uint64_t id);

/*
 * Adds a Function with the given string indexes; returns its new id, or
 * 0 if out of memory.  Does not look for an equal existing function.
 */
uint64_t profile_add_function(profile_t *p, int64_t name, int64_t system_name,
                              int64_t filename, int64_t start_line);

#endif /* HS_CLI_PROFILE_IO_H */
