/*
 * list.h — intrusive circular doubly-linked lists.
 *
 * Owns nothing: a list is a sentinel hs_link_t; elements embed a hs_link_t
 * and are recovered with a typed accessor in their own module (offsetof).
 * Invariant: for every link l in a list, l->next->prev == l.  An unlinked
 * element has next == prev == itself.  Callers provide the locking.
 */
#ifndef HS_LIST_H
#define HS_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hs_link_s hs_link_t;
struct hs_link_s {
    hs_link_t *prev;
    hs_link_t *next;
};

static inline void
hs_list_init(hs_link_t *l)
{
    l->prev = l->next = l;
}

static inline bool
hs_list_empty(const hs_link_t *head)
{
    return head->next == head;
}

static inline bool
hs_link_linked(const hs_link_t *l)
{
    return l->next != l;
}

static inline void
hs_list_insert_after(hs_link_t *pos, hs_link_t *l)
{
    l->prev = pos;
    l->next = pos->next;
    pos->next->prev = l;
    pos->next = l;
}

static inline void
hs_list_push_front(hs_link_t *head, hs_link_t *l)
{
    hs_list_insert_after(head, l);
}

static inline void
hs_list_push_back(hs_link_t *head, hs_link_t *l)
{
    hs_list_insert_after(head->prev, l);
}

static inline void
hs_list_remove(hs_link_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

/* First element, or NULL when empty. */
static inline hs_link_t *
hs_list_first(hs_link_t *head)
{
    return hs_list_empty(head) ? NULL : head->next;
}

#endif /* HS_LIST_H */
