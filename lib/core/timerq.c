/*
 * timerq.c — indexed binary min-heap of connection deadlines (see timerq.h).
 */
#include "timerq.h"

#include <errno.h>
#include <stdlib.h>

#include "srd_core.h"

#define POS_NONE UINT32_MAX

int srd_timerq_init(struct srd_timerq *q, uint32_t cap)
{
	if (cap == 0)
		return -EINVAL;
	q->heap = calloc(cap, sizeof(*q->heap));
	q->pos = malloc(cap * sizeof(*q->pos));
	q->when = calloc(cap, sizeof(*q->when));
	if (!q->heap || !q->pos || !q->when) {
		srd_timerq_free(q);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cap; i++)
		q->pos[i] = POS_NONE;
	q->n = 0;
	q->cap = cap;
	return 0;
}

void srd_timerq_free(struct srd_timerq *q)
{
	free(q->heap);
	free(q->pos);
	free(q->when);
	q->heap = NULL;
	q->pos = NULL;
	q->when = NULL;
	q->n = 0;
	q->cap = 0;
}

static void place(struct srd_timerq *q, uint32_t i, uint32_t slot)
{
	q->heap[i] = slot;
	q->pos[slot] = i;
}

static void sift_up(struct srd_timerq *q, uint32_t i)
{
	uint32_t slot = q->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (q->when[q->heap[parent]] <= q->when[slot])
			break;
		place(q, i, q->heap[parent]);
		i = parent;
	}
	place(q, i, slot);
}

static void sift_down(struct srd_timerq *q, uint32_t i)
{
	uint32_t slot = q->heap[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= q->n)
			break;
		if (child + 1 < q->n && q->when[q->heap[child + 1]] < q->when[q->heap[child]])
			child++;
		if (q->when[slot] <= q->when[q->heap[child]])
			break;
		place(q, i, q->heap[child]);
		i = child;
	}
	place(q, i, slot);
}

static void remove_at(struct srd_timerq *q, uint32_t i)
{
	uint32_t slot = q->heap[i];
	uint32_t last = q->heap[--q->n];

	q->pos[slot] = POS_NONE;
	if (i == q->n)
		return;
	place(q, i, last);
	sift_down(q, i);
	sift_up(q, q->pos[last]);
}

void srd_timerq_set(struct srd_timerq *q, uint32_t slot, uint64_t when)
{
	uint32_t i = q->pos[slot];

	if (when == SRD_NO_DEADLINE) {
		if (i != POS_NONE)
			remove_at(q, i);
		return;
	}
	if (i == POS_NONE) {
		q->when[slot] = when;
		place(q, q->n++, slot);
		sift_up(q, q->n - 1);
		return;
	}
	if (q->when[slot] == when)
		return;
	q->when[slot] = when;
	sift_down(q, i);
	sift_up(q, q->pos[slot]);
}
