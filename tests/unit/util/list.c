/*
 * list.c — unit tests of alloc/util/list.h: the intrusive circular list.
 *
 * Checks the invariants of list.h after every operation: for every link l
 * in a list, l->next->prev == l; an unlinked element points at itself.
 */
#include "hs_test.h"

#include <stddef.h>

#include "util/list.h"

typedef struct item_s {
    int value;
    hs_link_t link;
} item_t;

static item_t *
item_of(hs_link_t *l)
{
    return (item_t *)((char *)l - offsetof(item_t, link));
}

/* Walks the list forwards, checking links, and writes values into out. */
static size_t
collect(hs_link_t *head, int *out, size_t max)
{
    size_t n = 0;
    for (hs_link_t *l = head->next; l != head; l = l->next) {
        if (l->next->prev != l || l->prev->next != l) {
            HS_FAIL("broken links at element %zu", n);
            return n;
        }
        if (n == max) {
            HS_FAIL("list longer than %zu", max);
            return n;
        }
        out[n++] = item_of(l)->value;
    }
    return n;
}

HS_TEST(empty_list)
{
    hs_link_t head;
    hs_list_init(&head);
    HS_EXPECT_TRUE(hs_list_empty(&head));
    HS_EXPECT_NULL(hs_list_first(&head));
    HS_EXPECT_EQ_PTR(head.next, &head);
    HS_EXPECT_EQ_PTR(head.prev, &head);
}

HS_TEST(push_back_and_front_order)
{
    hs_link_t head;
    item_t it[5];
    hs_list_init(&head);
    for (int i = 0; i < 5; i++) {
        it[i].value = i;
        hs_list_init(&it[i].link);
        HS_EXPECT_FALSE(hs_link_linked(&it[i].link));
    }
    hs_list_push_back(&head, &it[1].link);
    hs_list_push_back(&head, &it[2].link);
    hs_list_push_front(&head, &it[0].link);
    hs_list_push_back(&head, &it[4].link);
    hs_list_insert_after(&it[2].link, &it[3].link);
    int got[8];
    size_t n = collect(&head, got, 8);
    HS_ASSERT_EQ_SIZE(n, 5);
    for (int i = 0; i < 5; i++) {
        HS_EXPECT_EQ_INT(got[i], i);
        HS_EXPECT_TRUE(hs_link_linked(&it[i].link));
    }
    HS_EXPECT_FALSE(hs_list_empty(&head));
    HS_EXPECT_EQ_PTR(hs_list_first(&head), &it[0].link);
    HS_EXPECT_EQ_PTR(head.prev, &it[4].link);
}

HS_TEST(remove_unlinks_and_keeps_order)
{
    hs_link_t head;
    item_t it[4];
    hs_list_init(&head);
    for (int i = 0; i < 4; i++) {
        it[i].value = i;
        hs_list_push_back(&head, &it[i].link);
    }
    hs_list_remove(&it[2].link);
    HS_EXPECT_FALSE(hs_link_linked(&it[2].link));
    HS_EXPECT_EQ_PTR(it[2].link.next, &it[2].link);
    HS_EXPECT_EQ_PTR(it[2].link.prev, &it[2].link);
    int got[8];
    HS_ASSERT_EQ_SIZE(collect(&head, got, 8), 3);
    HS_EXPECT_EQ_INT(got[0], 0);
    HS_EXPECT_EQ_INT(got[1], 1);
    HS_EXPECT_EQ_INT(got[2], 3);
    /* Removing the first and last. */
    hs_list_remove(&it[0].link);
    hs_list_remove(&it[3].link);
    HS_ASSERT_EQ_SIZE(collect(&head, got, 8), 1);
    HS_EXPECT_EQ_PTR(hs_list_first(&head), &it[1].link);
    hs_list_remove(&it[1].link);
    HS_EXPECT_TRUE(hs_list_empty(&head));
    HS_EXPECT_NULL(hs_list_first(&head));
    /* Removing an unlinked element is harmless (the slab code relies on
     * it for single-region slabs). */
    hs_list_remove(&it[1].link);
    HS_EXPECT_FALSE(hs_link_linked(&it[1].link));
    HS_EXPECT_TRUE(hs_list_empty(&head));
}

HS_TEST(reinsert_moves_to_back)
{
    /* The LRU pattern: remove then push_back moves an element last. */
    hs_link_t head;
    item_t it[3];
    hs_list_init(&head);
    for (int i = 0; i < 3; i++) {
        it[i].value = i;
        hs_list_push_back(&head, &it[i].link);
    }
    hs_list_remove(&it[0].link);
    hs_list_push_back(&head, &it[0].link);
    int got[8];
    HS_ASSERT_EQ_SIZE(collect(&head, got, 8), 3);
    HS_EXPECT_EQ_INT(got[0], 1);
    HS_EXPECT_EQ_INT(got[1], 2);
    HS_EXPECT_EQ_INT(got[2], 0);
}

HS_TEST(many_elements_backwards_walk)
{
    enum { N = 1000 };
    static item_t it[N];
    hs_link_t head;
    hs_list_init(&head);
    for (int i = 0; i < N; i++) {
        it[i].value = i;
        if (i % 2 == 0)
            hs_list_push_back(&head, &it[i].link);
        else
            hs_list_push_front(&head, &it[i].link);
    }
    /* Backwards: even values descending... then odd ones ascending. */
    size_t n = 0;
    int prev_even = N, prev_odd = -1;
    bool in_odd = false;
    for (hs_link_t *l = head.prev; l != &head; l = l->prev, n++) {
        int v = item_of(l)->value;
        if (v % 2 == 0) {
            HS_EXPECT_FALSE(in_odd);
            HS_EXPECT_LT_INT(v, prev_even);
            prev_even = v;
        } else {
            in_odd = true;
            HS_EXPECT_GT_INT(v, prev_odd);
            prev_odd = v;
        }
    }
    HS_EXPECT_EQ_SIZE(n, N);
}

HS_TEST_MAIN()
