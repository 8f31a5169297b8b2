/*
 * emap.c — unit tests of alloc/extent/emap: the packing of an entry (edata
 * pointer, size class, slab bit, head bit, state) round-trips for every
 * combination; boundary registration records exactly the first and last
 * page, interior registration exactly the pages between; deregistration
 * clears them; emap_update rewrites the boundary; neighbours are found
 * through emap_prev_entry / emap_next_entry.  Boots base, edata cache and
 * rtree alone; extents describe pages really mapped for the test.
 */
#include "hs_test.h"

#include <pthread.h>
#include <stdint.h>

#include "extent/base.h"
#include "extent/edata.h"
#include "extent/emap.h"
#include "extent/rtree.h"
#include "os/pages.h"
#include "sz.h"
#include "util/util.h"

static void
do_boot(void)
{
    base_boot();
    edata_cache_boot();
    rtree_boot();
}

static void
boot_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, do_boot);
}

/* A descriptor for npages fresh pages, with one more mapped but never
 * registered page on each side. */
static edata_t *
new_extent(size_t npages, extent_state_t state)
{
    char *mem = pages_map((npages + 2) * PAGE, PAGE);
    if (mem == NULL)
        return NULL;
    edata_t *e = edata_cache_get();
    if (e == NULL)
        return NULL;
    edata_init(e, 0, mem + PAGE, npages * PAGE, state, true, false);
    return e;
}

static void
free_extent(edata_t *e)
{
    pages_unmap((char *)e->addr - PAGE, e->size + 2 * PAGE);
    edata_cache_put(e);
}

HS_TEST(entry_packing_round_trip)
{
    boot_once();
    edata_t *es[3];
    for (int i = 0; i < 3; i++) {
        es[i] = edata_cache_get();
        HS_ASSERT_NOT_NULL(es[i]);
        edata_init(es[i], 0, (void *)(uintptr_t)(PAGE * (i + 1)), PAGE,
                   EXTENT_ACTIVE, false, false);
    }
    static const unsigned szinds[] = {
        0, 1, 34, 35, 100, SZ_NSIZES - 1, SZIND_NONE,
    };
    static const extent_state_t states[] = {EXTENT_ACTIVE, EXTENT_DIRTY,
                                            EXTENT_MUZZY, EXTENT_RETAINED};
    size_t bad = 0;
    for (int i = 0; i < 3; i++)
        for (size_t z = 0; z < sizeof szinds / sizeof szinds[0]; z++)
            for (size_t s = 0; s < 4; s++)
                for (int slab = 0; slab < 2; slab++)
                    for (int head = 0; head < 2; head++) {
                        edata_t *e = es[i];
                        e->szind = (uint16_t)szinds[z];
                        e->state = (uint8_t)states[s];
                        e->slab = slab;
                        e->head = head;
                        emap_entry_t v = emap_entry_pack(e);
                        if (v == 0 || emap_entry_edata(v) != e ||
                            emap_entry_szind(v) != szinds[z] ||
                            emap_entry_state(v) != states[s] ||
                            emap_entry_slab(v) != (bool)slab ||
                            emap_entry_head(v) != (bool)head) {
                            if (bad++ < 5)
                                HS_FAIL("round trip failed: e %p szind %u "
                                        "state %d slab %d head %d",
                                        (void *)e, szinds[z], (int)states[s],
                                        slab, head);
                        }
                    }
    HS_EXPECT_EQ_SIZE(bad, 0);
    /* The pointer field covers bits 6..47. */
    HS_EXPECT_EQ_U64(EMAP_PTR_MASK, 0x0000ffffffffffc0ull);
    emap_entry_t v = EMAP_PTR_MASK | ((uint64_t)0xff << 48);
    HS_EXPECT_EQ_PTR(emap_entry_edata(v), (void *)0xffffffffffc0ull);
    HS_EXPECT_EQ_U64(emap_entry_szind(v), SZIND_NONE);
    HS_EXPECT_EQ_U64(emap_entry_slab_page(v), 0);
    /* Slab pages carry their index in the slab in the top four bits. */
    v |= (uint64_t)9 << 60;
    HS_EXPECT_EQ_U64(emap_entry_slab_page(v), 9);
    HS_EXPECT_EQ_U64(emap_entry_szind(v), SZIND_NONE);
    HS_EXPECT_EQ_SIZE(emap_slab_offset(v, (void *)0x1234567), 9 * PAGE + 0x567);
    HS_EXPECT_FALSE(emap_entry_slab(v));
    HS_EXPECT_FALSE(emap_entry_head(v));
    HS_EXPECT_EQ_INT(emap_entry_state(v), EXTENT_ACTIVE);
    for (int i = 0; i < 3; i++)
        edata_cache_put(es[i]);
}

HS_TEST(boundary_registration)
{
    boot_once();
    edata_t *e = new_extent(6, EXTENT_ACTIVE);
    HS_ASSERT_NOT_NULL(e);
    e->szind = 42;
    HS_ASSERT_TRUE(emap_register_boundary(e));
    emap_entry_t v = emap_entry_pack(e);
    uintptr_t b = edata_base(e);
    HS_EXPECT_EQ_U64(emap_lookup((void *)b), v);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b + PAGE - 1)), v);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b + 5 * PAGE)), v);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(edata_past(e) - 1)), v);
    for (int i = 1; i < 5; i++)
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)), 0);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b - 1)), 0);
    HS_EXPECT_EQ_U64(emap_lookup((void *)edata_past(e)), 0);
    HS_EXPECT_EQ_PTR(emap_entry_edata(emap_lookup(e->addr)), e);
    HS_EXPECT_EQ_U64(emap_entry_szind(emap_lookup(e->addr)), 42);

    emap_deregister_boundary(e);
    for (int i = 0; i < 6; i++)
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)), 0);
    free_extent(e);
}

HS_TEST(interior_registration)
{
    boot_once();
    edata_t *e = new_extent(7, EXTENT_ACTIVE);
    HS_ASSERT_NOT_NULL(e);
    e->slab = true;
    e->szind = 5;
    HS_ASSERT_TRUE(emap_register_boundary(e));
    HS_ASSERT_TRUE(emap_register_interior(e));
    emap_entry_t v = emap_entry_pack(e);
    uintptr_t b = edata_base(e);
    for (int i = 0; i < 7; i++) {
        emap_entry_t got = emap_lookup((void *)(b + i * PAGE + 8));
        HS_EXPECT_EQ_U64(got, emap_entry_pack_page(e, i));
        HS_EXPECT_EQ_U64(emap_entry_slab_page(got), i);
        HS_EXPECT_EQ_SIZE(emap_slab_offset(got, (void *)(b + i * PAGE + 8)),
                          i * PAGE + 8);
    }
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b - PAGE)), 0);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b + 7 * PAGE)), 0);
    HS_EXPECT_TRUE(emap_entry_slab(emap_lookup((void *)(b + 3 * PAGE))));

    /* Deregistering the interior keeps the boundary. */
    emap_deregister_interior(e);
    HS_EXPECT_EQ_U64(emap_lookup((void *)b), v);
    HS_EXPECT_EQ_U64(emap_lookup((void *)(b + 6 * PAGE)),
                     emap_entry_pack_page(e, 6));
    for (int i = 1; i < 6; i++)
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)), 0);
    emap_deregister_boundary(e);
    for (int i = 0; i < 7; i++)
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)), 0);
    free_extent(e);
}

HS_TEST(one_and_two_page_extents)
{
    boot_once();
    for (size_t n = 1; n <= 2; n++) {
        edata_t *e = new_extent(n, EXTENT_ACTIVE);
        HS_ASSERT_NOT_NULL(e);
        e->slab = true;
        e->szind = 3;
        HS_ASSERT_TRUE(emap_register_boundary(e));
        /* No interior: registering and deregistering it is a no-op. */
        HS_ASSERT_TRUE(emap_register_interior(e));
        emap_entry_t v = emap_entry_pack(e);
        uintptr_t b = edata_base(e);
        for (size_t i = 0; i < n; i++)
            HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)),
                             emap_entry_pack_page(e, i));
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b + n * PAGE)), 0);
        HS_EXPECT_EQ_U64(emap_lookup((void *)(b - PAGE)), 0);
        emap_deregister_interior(e);
        HS_EXPECT_EQ_U64(emap_lookup((void *)b), v);
        emap_deregister_boundary(e);
        for (size_t i = 0; i < n; i++)
            HS_EXPECT_EQ_U64(emap_lookup((void *)(b + i * PAGE)), 0);
        free_extent(e);
    }
}

HS_TEST(update_rewrites_boundary)
{
    boot_once();
    edata_t *e = new_extent(4, EXTENT_ACTIVE);
    HS_ASSERT_NOT_NULL(e);
    e->szind = 40;
    HS_ASSERT_TRUE(emap_register_boundary(e));
    e->state = EXTENT_DIRTY;
    e->szind = SZIND_NONE;
    e->head = true;
    emap_update(e);
    uintptr_t last = edata_past(e) - PAGE;
    emap_entry_t first_v = emap_lookup(e->addr);
    emap_entry_t last_v = emap_lookup((void *)last);
    HS_EXPECT_EQ_U64(first_v, last_v);
    HS_EXPECT_EQ_INT(emap_entry_state(first_v), EXTENT_DIRTY);
    HS_EXPECT_EQ_U64(emap_entry_szind(first_v), SZIND_NONE);
    HS_EXPECT_TRUE(emap_entry_head(last_v));
    HS_EXPECT_EQ_PTR(emap_entry_edata(last_v), e);
    emap_deregister_boundary(e);
    free_extent(e);
}

HS_TEST(neighbours_through_prev_and_next)
{
    boot_once();
    /* Three adjacent extents carved from one mapping: a (2 pages),
     * b (3 pages), c (1 page). */
    char *mem = pages_map(8 * PAGE, PAGE);
    HS_ASSERT_NOT_NULL(mem);
    edata_t *a = edata_cache_get(), *b = edata_cache_get(),
            *c = edata_cache_get();
    HS_ASSERT_TRUE(a != NULL && b != NULL && c != NULL);
    edata_init(a, 0, mem + PAGE, 2 * PAGE, EXTENT_DIRTY, false, true);
    edata_init(b, 0, mem + 3 * PAGE, 3 * PAGE, EXTENT_ACTIVE, false, false);
    edata_init(c, 0, mem + 6 * PAGE, PAGE, EXTENT_RETAINED, false, false);
    HS_ASSERT_TRUE(emap_register_boundary(a));
    HS_ASSERT_TRUE(emap_register_boundary(b));
    HS_ASSERT_TRUE(emap_register_boundary(c));
    HS_EXPECT_EQ_U64(emap_prev_entry(a), 0);
    HS_EXPECT_EQ_U64(emap_next_entry(a), emap_entry_pack(b));
    HS_EXPECT_EQ_U64(emap_prev_entry(b), emap_entry_pack(a));
    HS_EXPECT_EQ_U64(emap_next_entry(b), emap_entry_pack(c));
    HS_EXPECT_EQ_U64(emap_prev_entry(c), emap_entry_pack(b));
    HS_EXPECT_EQ_U64(emap_next_entry(c), 0);
    HS_EXPECT_EQ_PTR(emap_entry_edata(emap_next_entry(a)), b);
    HS_EXPECT_EQ_INT(emap_entry_state(emap_prev_entry(c)), EXTENT_ACTIVE);
    emap_deregister_boundary(b);
    HS_EXPECT_EQ_U64(emap_next_entry(a), 0);
    HS_EXPECT_EQ_U64(emap_prev_entry(c), 0);
    emap_deregister_boundary(a);
    emap_deregister_boundary(c);
    edata_cache_put(a);
    edata_cache_put(b);
    edata_cache_put(c);
    pages_unmap(mem, 8 * PAGE);
}

HS_TEST(prev_entry_of_the_lowest_page)
{
    boot_once();
    /* An extent at address 0 has no page before it: prev reads 0 and
     * does not wrap around to the top of the address space. */
    edata_t e;
    edata_init(&e, 0, NULL, PAGE, EXTENT_ACTIVE, false, false);
    HS_EXPECT_EQ_U64(emap_prev_entry(&e), 0);
}

HS_TEST_MAIN()
