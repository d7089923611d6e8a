/*
 * timerq.h — deadlines of many connections: an indexed binary min-heap.
 *
 * Each connection slot has at most one deadline.  Setting it inserts, moves or (with
 * SRD_NO_DEADLINE) removes the slot in O(log n); the earliest deadline is read in O(1).
 * Memory is allocated once by srd_timerq_init().
 */
#ifndef SRD_TIMERQ_H
#define SRD_TIMERQ_H

#include <stdint.h>

/* The queue. */
struct srd_timerq {
	uint32_t *heap;  /* heap[i] = slot; heap order by when[slot] */
	uint32_t *pos;   /* pos[slot] = index in heap, or UINT32_MAX if the slot has no deadline */
	uint64_t *when;  /* when[slot] = the slot's deadline */
	uint32_t n;      /* slots in the heap */
	uint32_t cap;    /* number of slots */
};

/* Allocate a queue for slots 0..cap-1.  Returns 0 or -ENOMEM (-EINVAL if cap is 0). */
int srd_timerq_init(struct srd_timerq *q, uint32_t cap);

/* Free the queue's memory (the struct itself is the caller's). */
void srd_timerq_free(struct srd_timerq *q);

/* Set slot's deadline to when (SRD_NO_DEADLINE removes it).  slot must be < cap. */
void srd_timerq_set(struct srd_timerq *q, uint32_t slot, uint64_t when);

/* Earliest deadline, or SRD_NO_DEADLINE if the queue is empty. */
static inline uint64_t srd_timerq_min(const struct srd_timerq *q)
{
	return q->n ? q->when[q->heap[0]] : UINT64_MAX;
}

/* Slot holding the earliest deadline (only when the queue is not empty). */
static inline uint32_t srd_timerq_min_slot(const struct srd_timerq *q)
{
	return q->heap[0];
}

#endif /* SRD_TIMERQ_H */
