/*
 * pprof_decode.h — a small decoder of gzipped profile.proto files for the
 * tests of prof/: written apart from the encoder (prof/pb, prof/pprof) so
 * that a test checks the bytes against the schema, not the encoder
 * against itself.
 *
 * Owns: gunzip (zlib inflate, gzip wrapper required), a protobuf reader
 * (varint and length-delimited wire types; repeated varints packed or
 * not) and the decoded profile below, whose fields keep profile.proto's
 * raw numbers: string fields are indexes into strings[], ids are as
 * written.  pdec_str() turns an index into its string.
 *
 * Invariant: bad is true when the input was not a well-formed gzip member
 * holding a well-formed protobuf message (unknown Profile fields count as
 * bad too: the writer must emit none).  At most 8 sample types, 8 labels
 * per sample and 4 lines per location are kept.
 *
 * Memory: everything from malloc; pdec_free() releases it.  Test code
 * only (it calls realloc without checking).
 */
#ifndef HS_PPROF_DECODE_H
#define HS_PPROF_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pdec_vt_s {
    int64_t type, unit;
} pdec_vt_t;
typedef struct pdec_label_s {
    int64_t key, str, num, unit;
} pdec_label_t;
typedef struct pdec_sample_s {
    uint64_t *locs, *values;
    size_t nlocs, nvalues;
    pdec_label_t labels[8];
    size_t nlabels;
} pdec_sample_t;
typedef struct pdec_mapping_s {
    uint64_t id, start, limit, offset;
    int64_t file, build_id;
} pdec_mapping_t;
typedef struct pdec_location_s {
    uint64_t id, mapping, address, fn[4];
    int64_t line[4];
    size_t nlines;
} pdec_location_t;
typedef struct pdec_function_s {
    uint64_t id;
    int64_t name, system_name, file, start_line;
} pdec_function_t;

typedef struct pdec_profile_s {
    pdec_vt_t types[8];
    size_t ntypes;
    pdec_sample_t *samples;
    size_t nsamples;
    pdec_mapping_t *mappings;
    size_t nmappings;
    pdec_location_t *locations;
    size_t nlocations;
    pdec_function_t *functions;
    size_t nfunctions;
    char **strings;
    size_t nstrings;
    int64_t time_nanos, duration_nanos, period, default_type;
    pdec_vt_t period_type;
    uint64_t *comments;
    size_t ncomments;
    bool bad;
} pdec_profile_t;

/* Decodes an uncompressed Profile message of n bytes. */
void pdec_decode(pdec_profile_t *pr, const uint8_t *p, size_t n);
/* Reads fd from offset 0 to its end, gunzips and decodes (pr->bad on
 * any failure). */
void pdec_read_fd(int fd, pdec_profile_t *pr);
void pdec_free(pdec_profile_t *pr);

/* Inflates one gzip member; returns the bytes (malloc'd) or NULL. */
uint8_t *pdec_gunzip(const uint8_t *in, size_t n, size_t *r_len);

/* The string at index i, or "<bad index>". */
const char *pdec_str(const pdec_profile_t *pr, int64_t i);
/* The entry with that id, or NULL. */
const pdec_location_t *pdec_find_location(const pdec_profile_t *pr,
                                          uint64_t id);
const pdec_function_t *pdec_find_function(const pdec_profile_t *pr,
                                          uint64_t id);
const pdec_mapping_t *pdec_find_mapping(const pdec_profile_t *pr, uint64_t id);
/* The label of s with that key, or NULL. */
const pdec_label_t *pdec_find_label(const pdec_profile_t *pr,
                                    const pdec_sample_t *s, const char *key);

#endif /* HS_PPROF_DECODE_H */
