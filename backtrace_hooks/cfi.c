/*
 * cfi.c — .eh_frame rules and their process-wide cache (see cfi.h).
 *
 * Formats (DWARF 4 section 6.4 and the LSB's .eh_frame / .eh_frame_hdr):
 * a CIE holds the augmentation, the code and data alignment factors and
 * the initial instructions; an FDE names its CIE, the address range it
 * covers and its own instructions.  .eh_frame_hdr carries a table of
 * (initial location, FDE address) sorted by location, both datarel sdata4
 * in every object the GNU toolchain writes; any other table encoding asks
 * for the fallback.
 *
 * Only two registers matter for the rule: rbp (DWARF 6) and the return
 * address column (16 on x86-64).  Every other register's rule is parsed
 * and dropped.
 */
#include "cfi.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "../alloc/util/util.h"
#include "seqslot.h"

enum {
    REG_RBP = 6,
    REG_RSP = 7,
    REG_RA = 16,
    STATE_STACK = 8,
    CACHE_LG = 13,
    CACHE_SLOTS = 1 << CACHE_LG,
};

/* ---- reading .eh_frame ---- */

typedef struct rd_s {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
} rd_t;

static uint8_t
rd_u8(rd_t *r)
{
    if (r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

static uint64_t
rd_fixed(rd_t *r, unsigned n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n); /* little-endian host */
    r->p += n;
    return v;
}

static uint64_t
rd_uleb(rd_t *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        uint8_t b = rd_u8(r);
        if (r->bad)
            return 0;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
}

static int64_t
rd_sleb(rd_t *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        b = rd_u8(r);
        if (r->bad)
            return 0;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

/* DW_EH_PE_* pointer encodings. */
enum {
    PE_OMIT = 0xff,
    PE_FMT = 0x0f,
    PE_ABSPTR = 0x00,
    PE_ULEB = 0x01,
    PE_UDATA2 = 0x02,
    PE_UDATA4 = 0x03,
    PE_UDATA8 = 0x04,
    PE_SLEB = 0x09,
    PE_SDATA2 = 0x0a,
    PE_SDATA4 = 0x0b,
    PE_SDATA8 = 0x0c,
    PE_APP = 0x70,
    PE_PCREL = 0x10,
    PE_DATAREL = 0x30,
    PE_INDIRECT = 0x80,
};

/*
 * Reads a pointer with encoding enc; datarel is relative to data (the
 * .eh_frame_hdr).  The value only (no indirection, no application) when
 * value_only: FDE address ranges are encoded that way.
 */
static uintptr_t
rd_ptr(rd_t *r, uint8_t enc, uintptr_t data, bool value_only)
{
    uintptr_t here = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & PE_FMT) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        v = rd_fixed(r, 8);
        break;
    case PE_ULEB:
        v = rd_uleb(r);
        break;
    case PE_SLEB:
        v = (uint64_t)rd_sleb(r);
        break;
    case PE_UDATA2:
        v = rd_fixed(r, 2);
        break;
    case PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2);
        break;
    case PE_UDATA4:
        v = rd_fixed(r, 4);
        break;
    case PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4);
        break;
    default:
        r->bad = true;
        return 0;
    }
    if (value_only)
        return (uintptr_t)v;
    switch (enc & PE_APP) {
    case 0:
        break;
    case PE_PCREL:
        v += here;
        break;
    case PE_DATAREL:
        v += data;
        break;
    default:
        r->bad = true;
        return 0;
    }
    if (enc & PE_INDIRECT)
        r->bad = true; /* not used for code addresses in .eh_frame */
    return (uintptr_t)v;
}

/* ---- the CFA program ---- */

typedef enum { RR_SAME, RR_UNDEF, RR_OFFSET, RR_OTHER } reg_how_t;

typedef struct reg_rule_s {
    reg_how_t how;
    int64_t off;
} reg_rule_t;

typedef struct row_s {
    unsigned cfa_reg;
    int64_t cfa_off;
    bool cfa_expr;
    reg_rule_t rbp;
    reg_rule_t ra;
} row_t;

typedef struct cie_s {
    uint64_t code_align;
    int64_t data_align;
    unsigned ra_reg;
    uint8_t fde_enc;
    bool has_aug_len; /* 'z' */
    bool signal;      /* 'S' */
    const uint8_t *insns;
    const uint8_t *end;
} cie_t;

static reg_rule_t *
row_reg(row_t *row, const cie_t *cie, uint64_t reg)
{
    if (reg == REG_RBP)
        return &row->rbp;
    if (reg == cie->ra_reg)
        return &row->ra;
    return NULL;
}

static void
set_reg(row_t *row, const cie_t *cie, uint64_t reg, reg_how_t how, int64_t off)
{
    reg_rule_t *rr = row_reg(row, cie, reg);
    if (rr != NULL)
        *rr = (reg_rule_t){how, off};
}

static void
skip_block(rd_t *r)
{
    uint64_t n = rd_uleb(r);
    if ((uint64_t)(r->end - r->p) < n) {
        r->bad = true;
        r->p = r->end;
        return;
    }
    r->p += n;
}

/*
 * Runs instructions [r->p, r->end) starting at code address *loc and
 * stops before the first advance past target.  init is the row after the
 * CIE's initial instructions (for DW_CFA_restore); NULL while running
 * them.  Returns false on an instruction it does not know.
 */
static bool
run_cfa(rd_t *r, const cie_t *cie, row_t *row, const row_t *init,
        uintptr_t *loc, uintptr_t target)
{
    row_t stack[STATE_STACK];
    unsigned depth = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = rd_u8(r);
        uint64_t reg, adv = 0;
        bool advance = false;
        switch (op >> 6) {
        case 1:
            adv = (op & 0x3f) * cie->code_align;
            advance = true;
            break;
        case 2:
            set_reg(row, cie, op & 0x3f, RR_OFFSET,
                    (int64_t)rd_uleb(r) * cie->data_align);
            continue;
        case 3: {
            reg_rule_t *rr = row_reg(row, cie, op & 0x3f);
            if (rr != NULL)
                *rr = init != NULL ? *row_reg((row_t *)init, cie, op & 0x3f)
                                   : (reg_rule_t){RR_SAME, 0};
            continue;
        }
        default:
            break;
        }
        if (!advance) {
            switch (op) {
            case 0x00: /* nop */
                break;
            case 0x01: { /* set_loc */
                uintptr_t to = rd_ptr(r, cie->fde_enc, 0, false);
                if (to > target)
                    return true;
                *loc = to;
                break;
            }
            case 0x02:
                adv = rd_fixed(r, 1) * cie->code_align;
                advance = true;
                break;
            case 0x03:
                adv = rd_fixed(r, 2) * cie->code_align;
                advance = true;
                break;
            case 0x04:
                adv = rd_fixed(r, 4) * cie->code_align;
                advance = true;
                break;
            case 0x05: /* offset_extended */
                reg = rd_uleb(r);
                set_reg(row, cie, reg, RR_OFFSET,
                        (int64_t)rd_uleb(r) * cie->data_align);
                break;
            case 0x06: { /* restore_extended */
                reg = rd_uleb(r);
                reg_rule_t *rr = row_reg(row, cie, reg);
                if (rr != NULL)
                    *rr = init != NULL ? *row_reg((row_t *)init, cie, reg)
                                       : (reg_rule_t){RR_SAME, 0};
                break;
            }
            case 0x07: /* undefined */
                set_reg(row, cie, rd_uleb(r), RR_UNDEF, 0);
                break;
            case 0x08: /* same_value */
                set_reg(row, cie, rd_uleb(r), RR_SAME, 0);
                break;
            case 0x09: /* register */
                reg = rd_uleb(r);
                (void)rd_uleb(r);
                set_reg(row, cie, reg, RR_OTHER, 0);
                break;
            case 0x0a: /* remember_state */
                if (depth == STATE_STACK)
                    return false;
                stack[depth++] = *row;
                break;
            case 0x0b: /* restore_state */
                if (depth == 0)
                    return false;
                *row = stack[--depth];
                break;
            case 0x0c: /* def_cfa */
                row->cfa_reg = (unsigned)rd_uleb(r);
                row->cfa_off = (int64_t)rd_uleb(r);
                row->cfa_expr = false;
                break;
            case 0x0d: /* def_cfa_register */
                row->cfa_reg = (unsigned)rd_uleb(r);
                row->cfa_expr = false;
                break;
            case 0x0e: /* def_cfa_offset */
                row->cfa_off = (int64_t)rd_uleb(r);
                break;
            case 0x0f: /* def_cfa_expression */
                skip_block(r);
                row->cfa_expr = true;
                break;
            case 0x10: /* expression */
            case 0x16: /* val_expression */
                reg = rd_uleb(r);
                skip_block(r);
                set_reg(row, cie, reg, RR_OTHER, 0);
                break;
            case 0x11: /* offset_extended_sf */
                reg = rd_uleb(r);
                set_reg(row, cie, reg, RR_OFFSET, rd_sleb(r) * cie->data_align);
                break;
            case 0x12: /* def_cfa_sf */
                row->cfa_reg = (unsigned)rd_uleb(r);
                row->cfa_off = rd_sleb(r) * cie->data_align;
                row->cfa_expr = false;
                break;
            case 0x13: /* def_cfa_offset_sf */
                row->cfa_off = rd_sleb(r) * cie->data_align;
                break;
            case 0x14: /* val_offset */
                reg = rd_uleb(r);
                (void)rd_uleb(r);
                set_reg(row, cie, reg, RR_OTHER, 0);
                break;
            case 0x15: /* val_offset_sf */
                reg = rd_uleb(r);
                (void)rd_sleb(r);
                set_reg(row, cie, reg, RR_OTHER, 0);
                break;
            case 0x2e: /* GNU_args_size */
                (void)rd_uleb(r);
                break;
            case 0x2f: /* GNU_negative_offset_extended */
                reg = rd_uleb(r);
                set_reg(row, cie, reg, RR_OFFSET,
                        -(int64_t)rd_uleb(r) * cie->data_align);
                break;
            default:
                return false;
            }
        }
        if (advance) {
            if (*loc + adv > target)
                return true;
            *loc += adv;
        }
    }
    return !r->bad;
}

/* ---- CIE and FDE ---- */

/* Reads the length field of the entry at p; false for the 64-bit format
 * and the terminator. */
static bool
entry_bounds(const uint8_t *p, const uint8_t **body, const uint8_t **end)
{
    uint32_t len;
    memcpy(&len, p, 4);
    if (len == 0 || len == 0xffffffffu)
        return false;
    *body = p + 4;
    *end = p + 4 + len;
    return true;
}

static bool
parse_cie(const uint8_t *p, cie_t *cie)
{
    const uint8_t *body, *end;
    if (!entry_bounds(p, &body, &end))
        return false;
    rd_t r = {body, end, false};
    if (rd_fixed(&r, 4) != 0) /* CIE id */
        return false;
    uint8_t version = rd_u8(&r);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)r.p;
    size_t alen = strnlen(aug, (size_t)(r.end - r.p));
    if (aug + alen >= (const char *)r.end)
        return false;
    r.p += alen + 1;
    *cie = (cie_t){.fde_enc = PE_ABSPTR};
    cie->code_align = rd_uleb(&r);
    cie->data_align = rd_sleb(&r);
    cie->ra_reg = version == 1 ? rd_u8(&r) : (unsigned)rd_uleb(&r);
    const uint8_t *aug_end = NULL;
    for (size_t i = 0; i < alen && !r.bad; i++) {
        switch (aug[i]) {
        case 'z': {
            if (i != 0)
                return false;
            uint64_t n = rd_uleb(&r);
            if ((uint64_t)(r.end - r.p) < n)
                return false;
            aug_end = r.p + n;
            cie->has_aug_len = true;
            break;
        }
        case 'R':
            cie->fde_enc = rd_u8(&r);
            break;
        case 'L':
            (void)rd_u8(&r);
            break;
        case 'P': {
            uint8_t enc = rd_u8(&r);
            (void)rd_ptr(&r, enc, 0, true);
            break;
        }
        case 'S':
            cie->signal = true;
            break;
        default:
            /* An unknown letter: only 'z' says how far to skip. */
            if (aug_end == NULL)
                return false;
            r.p = aug_end;
            i = alen;
            break;
        }
    }
    if (r.bad)
        return false;
    if (aug_end != NULL)
        r.p = aug_end;
    cie->insns = r.p;
    cie->end = end;
    return true;
}

/* The FDE for pc from the .eh_frame_hdr at hdr, or NULL. */
static const uint8_t *
find_fde(const uint8_t *hdr, uintptr_t pc, bool *unusual)
{
    /* version, three encodings, then at most two 8-byte fields */
    rd_t r = {hdr, hdr + 4 + 8 + 8, false};
    uint8_t version = rd_u8(&r), frame_enc = rd_u8(&r), count_enc = rd_u8(&r),
            table_enc = rd_u8(&r);
    if (version != 1 || table_enc != (PE_DATAREL | PE_SDATA4) ||
        count_enc == PE_OMIT) {
        *unusual = true;
        return NULL;
    }
    (void)rd_ptr(&r, frame_enc, (uintptr_t)hdr, false);
    uintptr_t count = rd_ptr(&r, count_enc, (uintptr_t)hdr, false);
    if (r.bad) {
        *unusual = true;
        return NULL;
    }
    const int32_t *table = (const int32_t *)r.p;
    uintptr_t base = (uintptr_t)hdr;
    size_t lo = 0, hi = count;
    /* The last entry whose initial location is <= pc. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (base + (intptr_t)table[2 * mid] <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    return (const uint8_t *)(base + (intptr_t)table[2 * (lo - 1) + 1]);
}

static cfi_rule_t
rule_from_row(const row_t *row)
{
    cfi_rule_t rule = {.kind = CFI_FALLBACK};
    if (row->ra.how == RR_UNDEF) {
        rule.kind = CFI_END;
        return rule;
    }
    if (row->cfa_expr || (row->cfa_reg != REG_RSP && row->cfa_reg != REG_RBP))
        return rule;
    if (row->ra.how != RR_OFFSET || row->ra.off != -8)
        return rule;
    if (row->cfa_off < INT32_MIN || row->cfa_off > INT32_MAX)
        return rule;
    if (row->rbp.how == RR_OTHER)
        return rule;
    if (row->rbp.how == RR_OFFSET) {
        if (row->rbp.off < INT32_MIN || row->rbp.off > INT32_MAX)
            return rule;
        rule.rbp_saved = true;
        rule.rbp_off = (int32_t)row->rbp.off;
    }
    rule.kind = CFI_OK;
    rule.cfa_rbp = row->cfa_reg == REG_RBP;
    rule.cfa_off = (int32_t)row->cfa_off;
    return rule;
}

cfi_rule_t
cfi_rule_compute(uintptr_t pc)
{
    cfi_rule_t none = {.kind = CFI_NONE}, fallback = {.kind = CFI_FALLBACK};
    struct dl_find_object dlfo;
    if (_dl_find_object((void *)pc, &dlfo) != 0 || dlfo.dlfo_eh_frame == NULL)
        return none;
    bool unusual = false;
    const uint8_t *fde = find_fde(dlfo.dlfo_eh_frame, pc, &unusual);
    if (fde == NULL)
        return unusual ? fallback : none;
    const uint8_t *body, *end;
    if (!entry_bounds(fde, &body, &end))
        return fallback;
    uint32_t cie_off;
    memcpy(&cie_off, body, 4);
    if (cie_off == 0) /* a CIE, not an FDE */
        return fallback;
    cie_t cie;
    if (!parse_cie(body - cie_off, &cie))
        return fallback;
    if (cie.signal)
        return fallback;
    rd_t r = {body + 4, end, false};
    uintptr_t begin = rd_ptr(&r, cie.fde_enc, 0, false);
    uintptr_t range = rd_ptr(&r, cie.fde_enc, 0, true);
    if (r.bad)
        return fallback;
    if (pc < begin || pc - begin >= range)
        return none;
    if (cie.has_aug_len)
        skip_block(&r);
    if (r.bad)
        return fallback;

    row_t row = {.cfa_reg = REG_RSP, .rbp = {RR_SAME, 0}, .ra = {RR_SAME, 0}};
    uintptr_t loc = begin;
    rd_t ci = {cie.insns, cie.end, false};
    if (!run_cfa(&ci, &cie, &row, NULL, &loc, UINTPTR_MAX))
        return fallback;
    row_t init = row;
    loc = begin;
    if (!run_cfa(&r, &cie, &row, &init, &loc, pc))
        return fallback;
    return rule_from_row(&row);
}

/* ---- the cache ---- */

typedef struct slot_s {
    seqslot_t seq;
    _Atomic(uint64_t) packed;
    _Atomic(uintptr_t) key;
} slot_t;

static slot_t *cache; /* CACHE_SLOTS slots, or NULL */
static _Atomic(uint64_t) stat_computed;
static _Atomic(uint64_t) stat_fallbacks;

bool
cfi_boot(void)
{
    if (cache != NULL)
        return true;
    void *m = mmap(NULL, CACHE_SLOTS * sizeof(slot_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    cache = m;
    return true;
}

static uint64_t
rule_pack(cfi_rule_t r)
{
    return (uint64_t)r.kind | (uint64_t)r.cfa_rbp << 2 |
           (uint64_t)r.rbp_saved << 3 | (uint64_t)(uint16_t)r.rbp_off << 16 |
           (uint64_t)(uint32_t)r.cfa_off << 32;
}

static cfi_rule_t
rule_unpack(uint64_t v)
{
    return (cfi_rule_t){
        .kind = (cfi_kind_t)(v & 3),
        .cfa_rbp = (v >> 2) & 1,
        .rbp_saved = (v >> 3) & 1,
        .rbp_off = (int16_t)(uint16_t)(v >> 16),
        .cfa_off = (int32_t)(uint32_t)(v >> 32),
    };
}

static slot_t *
slot_of(uintptr_t pc)
{
    return &cache[(pc * 0x9e3779b97f4a7c15u) >> (64 - CACHE_LG)];
}

static bool
cache_get(uintptr_t pc, cfi_rule_t *out)
{
    slot_t *s = slot_of(pc);
    uint32_t seq;
    if (!seqslot_read_begin(&s->seq, &seq))
        return false;
    uintptr_t key = atomic_load_explicit(&s->key, memory_order_relaxed);
    uint64_t v = atomic_load_explicit(&s->packed, memory_order_relaxed);
    if (!seqslot_read_ok(&s->seq, seq) || key != pc || (v & 3) == 0)
        return false;
    *out = rule_unpack(v);
    return true;
}

static void
cache_put(uintptr_t pc, cfi_rule_t rule)
{
    slot_t *s = slot_of(pc);
    uint32_t seq;
    if (!seqslot_write_begin(&s->seq, &seq))
        return;
    atomic_store_explicit(&s->key, pc, memory_order_relaxed);
    /* CFI_NONE is stored as a fallback: packed 0 means an empty slot. */
    if (rule.kind == CFI_NONE)
        rule = (cfi_rule_t){.kind = CFI_FALLBACK};
    atomic_store_explicit(&s->packed, rule_pack(rule), memory_order_relaxed);
    seqslot_write_end(&s->seq, seq);
}

static cfi_rule_t
rule_of(uintptr_t pc)
{
    cfi_rule_t rule;
    if (cache_get(pc, &rule))
        return rule;
    rule = cfi_rule_compute(pc);
    atomic_fetch_add_explicit(&stat_computed, 1, memory_order_relaxed);
    cache_put(pc, rule);
    return rule;
}

/* ---- the walk ---- */

static bool
stack_word(uintptr_t addr, uintptr_t lo, uintptr_t hi, uintptr_t *out)
{
    if (addr < lo || addr > hi - 8 || hi < 8 || (addr & 7) != 0)
        return false;
    *out = *(const uintptr_t *)addr;
    return true;
}

bool
cfi_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t lo, uintptr_t hi,
         cfi_put_fn put, void *arg)
{
    if (cache == NULL) {
        atomic_fetch_add_explicit(&stat_fallbacks, 1, memory_order_relaxed);
        return false;
    }
    /* The first frame's pc is exact; a return address may sit just past
     * a call that ends its function, so callers are looked up at ra - 1. */
    uintptr_t look = pc;
    for (;;) {
        cfi_rule_t rule = rule_of(look);
        if (rule.kind == CFI_END)
            return true;
        if (rule.kind != CFI_OK) {
            atomic_fetch_add_explicit(&stat_fallbacks, 1, memory_order_relaxed);
            return false;
        }
        uintptr_t cfa = (rule.cfa_rbp ? bp : sp) + (intptr_t)rule.cfa_off;
        uintptr_t ra;
        if (cfa <= sp || !stack_word(cfa - 8, lo, hi, &ra))
            return true;
        if (rule.rbp_saved &&
            !stack_word(cfa + (intptr_t)rule.rbp_off, lo, hi, &bp))
            return true;
        sp = cfa;
        if (ra < 4096 || !put(arg, ra))
            return true;
        look = ra - 1;
    }
}

uint64_t
cfi_stat_computed(void)
{
    return atomic_load_explicit(&stat_computed, memory_order_relaxed);
}

uint64_t
cfi_stat_fallbacks(void)
{
    return atomic_load_explicit(&stat_fallbacks, memory_order_relaxed);
}
