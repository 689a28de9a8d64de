/*
 * probe_table: a flat array of PROBE_TABLE_SLOTS probes, a ring of free ids and a
 * doubly linked deadline list threaded through the slots. Deadlines almost always
 * arrive in increasing order (one timeout value per client), so insertion scans from
 * the tail and is O(1) in practice.
 */
#include "daemon/probe_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Ids never used yet are handed out first, in order from PROBE_TABLE_FIRST_ID (fresh
 * counts them); released ids
 * queue in the ring behind them. Nothing is written at creation, so an engine that
 * sends a few probes touches a few pages, not the whole table.
 */
struct probe_table {
	struct probe slots[PROBE_TABLE_SLOTS];
	uint16_t free_ring[PROBE_TABLE_SLOTS];
	uint32_t fresh;	     /* ids handed out at least once, from PROBE_TABLE_FIRST_ID */
	uint32_t free_head;  /* next released id to hand out */
	uint32_t free_count; /* released ids in the ring */
	uint32_t count;	     /* probes in flight */
	uint32_t head, tail; /* deadline list */
};

int probe_table_new(struct probe_table **out)
{
	struct probe_table *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->head = PROBE_TABLE_NONE;
	t->tail = PROBE_TABLE_NONE;
	*out = t;
	return 0;
}

struct probe_table *probe_table_free(struct probe_table *t)
{
	free(t);
	return NULL;
}

static uint16_t free_pop(struct probe_table *t)
{
	uint16_t id;

	if (t->fresh < PROBE_TABLE_SLOTS)
		return (uint16_t)((PROBE_TABLE_FIRST_ID + t->fresh++) % PROBE_TABLE_SLOTS);
	id = t->free_ring[t->free_head];

	t->free_head = (t->free_head + 1) % PROBE_TABLE_SLOTS;
	t->free_count--;
	return id;
}

static void free_push(struct probe_table *t, uint16_t id)
{
	t->free_ring[(t->free_head + t->free_count) % PROBE_TABLE_SLOTS] = id;
	t->free_count++;
}

static uint32_t free_available(const struct probe_table *t)
{
	return (PROBE_TABLE_SLOTS - t->fresh) + t->free_count;
}

int probe_table_alloc(struct probe_table *t, int avoid_zero, uint16_t *id)
{
	uint16_t got;

	if (free_available(t) == 0)
		return -ENOSPC;
	got = free_pop(t);
	if (got == 0 && avoid_zero) {
		if (free_available(t) == 0) {
			free_push(t, got);
			return -ENOSPC;
		}
		/* Id 0 goes to the back of the queue; the next one is never 0. */
		free_push(t, got);
		got = free_pop(t);
	}
	memset(&t->slots[got], 0, sizeof(t->slots[got]));
	t->slots[got].in_use = 1;
	t->slots[got].prev = PROBE_TABLE_NONE;
	t->slots[got].next = PROBE_TABLE_NONE;
	t->count++;
	*id = got;
	return 0;
}

struct probe *probe_table_get(struct probe_table *t, uint32_t id)
{
	if (id >= PROBE_TABLE_SLOTS || !t->slots[id].in_use)
		return NULL;
	return &t->slots[id];
}

void probe_table_arm(struct probe_table *t, uint16_t id)
{
	struct probe *p = &t->slots[id];
	uint32_t at = t->tail;

	while (at != PROBE_TABLE_NONE && t->slots[at].deadline_ns > p->deadline_ns)
		at = t->slots[at].prev;
	/* Insert after 'at' (or at the head when at is NONE). */
	p->prev = at;
	p->next = at == PROBE_TABLE_NONE ? t->head : t->slots[at].next;
	if (p->next != PROBE_TABLE_NONE)
		t->slots[p->next].prev = id;
	else
		t->tail = id;
	if (at != PROBE_TABLE_NONE)
		t->slots[at].next = id;
	else
		t->head = id;
}

static void unlink_deadline(struct probe_table *t, uint16_t id)
{
	struct probe *p = &t->slots[id];

	if (p->prev != PROBE_TABLE_NONE)
		t->slots[p->prev].next = p->next;
	else if (t->head == id)
		t->head = p->next;
	if (p->next != PROBE_TABLE_NONE)
		t->slots[p->next].prev = p->prev;
	else if (t->tail == id)
		t->tail = p->prev;
	p->prev = PROBE_TABLE_NONE;
	p->next = PROBE_TABLE_NONE;
}

void probe_table_release(struct probe_table *t, uint16_t id)
{
	struct probe *p = &t->slots[id];

	if (!p->in_use)
		return;
	unlink_deadline(t, id);
	p->in_use = 0;
	p->owner = NULL;
	t->count--;
	free_push(t, id);
}

uint32_t probe_table_earliest(const struct probe_table *t)
{
	return t->head;
}

uint32_t probe_table_count(const struct probe_table *t)
{
	return t->count;
}
