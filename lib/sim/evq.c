/*
 * evq.c — binary min-heap of events keyed by (time_ns, seq).
 */
#include "evq.h"

#include <errno.h>
#include <stdlib.h>

#define EVQ_INIT_CAP 64u

/* The queue. */
struct sim_evq {
	struct sim_event *heap; /* heap[0] is the minimum; children of i are 2i+1, 2i+2 */
	size_t len;             /* events in the heap */
	size_t cap;             /* slots allocated */
	uint64_t next_seq;      /* sequence number of the next push */
};

/* 1 if x fires before y: earlier time, or same time and pushed earlier. */
static inline int ev_before(const struct sim_event *x, const struct sim_event *y)
{
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns;
	return x->seq < y->seq;
}

int sim_evq_create(struct sim_evq **out)
{
	struct sim_evq *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	*out = q;
	return 0;
}

void sim_evq_destroy(struct sim_evq *q)
{
	if (!q)
		return;
	free(q->heap);
	free(q);
}

static int evq_grow(struct sim_evq *q)
{
	size_t ncap = q->cap ? q->cap * 2 : EVQ_INIT_CAP;
	struct sim_event *nh;

	if (ncap < q->cap || ncap > SIZE_MAX / sizeof(*nh))
		return -ENOMEM;
	nh = realloc(q->heap, ncap * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	q->heap = nh;
	q->cap = ncap;
	return 0;
}

int sim_evq_push(struct sim_evq *q, uint64_t time_ns, int type, int a, int b, void *p)
{
	struct sim_event ev = {
		.time_ns = time_ns, .seq = q->next_seq, .type = type, .a = a, .b = b, .p = p,
	};
	size_t i;

	if (q->len == q->cap) {
		int rc = evq_grow(q);

		if (rc)
			return rc;
	}
	q->next_seq++;
	/* sift up: move parents down until ev's place is found */
	i = q->len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!ev_before(&ev, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = ev;
	return 0;
}

int sim_evq_pop(struct sim_evq *q, struct sim_event *out)
{
	struct sim_event last;
	size_t i = 0;

	if (q->len == 0)
		return -ENOENT;
	*out = q->heap[0];
	last = q->heap[--q->len];
	if (q->len == 0)
		return 0;
	/* sift down: move the smaller child up until last's place is found */
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m;

		if (l >= q->len)
			break;
		m = (r < q->len && ev_before(&q->heap[r], &q->heap[l])) ? r : l;
		if (!ev_before(&q->heap[m], &last))
			break;
		q->heap[i] = q->heap[m];
		i = m;
	}
	q->heap[i] = last;
	return 0;
}

uint64_t sim_evq_peek_time(const struct sim_evq *q)
{
	return q->len ? q->heap[0].time_ns : UINT64_MAX;
}

size_t sim_evq_size(const struct sim_evq *q)
{
	return q->len;
}

uint64_t sim_evq_pushed(const struct sim_evq *q)
{
	return q->next_seq;
}
