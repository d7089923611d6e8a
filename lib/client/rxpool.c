/*
 * rxpool.c — libsrd's slots for small received messages.  The daemon delivers a message of
 * at most SRD_CQE_INLINE_MAX bytes inside the completion ring (SRD_CQ_RECV_INLINE);
 * srdc_poll() copies it into a slot here and lends the slot to the app as SRDC_RECV's buf,
 * and srdc_recv_done() takes it back, with no submission to the daemon.
 *
 * Slots come in chunks of SRDC_INLINE_CHUNK, allocated as the app holds more messages at
 * once, up to a limit set at attach (the number of buffers the daemon's receive area could
 * have lent): an app that holds that many is given no more messages until it returns some,
 * as when the receive area is full.  A bitmap per chunk says which slots are lent, so that
 * srdc_recv_done() refuses a pointer that is not a slot, or one not lent.
 */
#include "client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void srdc_rxpool_init(struct srdc_rxpool *p, uint32_t max_chunks)
{
	memset(p, 0, sizeof(*p));
	p->max_chunks = max_chunks ? max_chunks : 1;
}

void srdc_rxpool_fini(struct srdc_rxpool *p)
{
	for (uint32_t i = 0; i < p->nchunks; i++)
		free(p->chunks[i].slots);
	free(p->chunks);
	free(p->free);
	memset(p, 0, sizeof(*p));
}

/* Add a chunk of free slots.  Returns 0, or -ENOMEM (also at the limit). */
static int grow(struct srdc_rxpool *p)
{
	uint32_t n = p->nchunks;
	struct srdc_rxchunk *chunks;
	uint32_t *free_slots;
	uint8_t *slots;

	if (n == p->max_chunks)
		return -ENOMEM;
	chunks = realloc(p->chunks, (size_t)(n + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	p->chunks = chunks;
	free_slots = realloc(p->free, (size_t)(n + 1) * SRDC_INLINE_CHUNK * sizeof(*free_slots));
	if (!free_slots)
		return -ENOMEM;
	p->free = free_slots;
	slots = aligned_alloc(64, (size_t)SRDC_INLINE_CHUNK * SRD_CQE_INLINE_MAX);
	if (!slots)
		return -ENOMEM;
	memset(&chunks[n], 0, sizeof(chunks[n]));
	chunks[n].slots = slots;
	p->nchunks = n + 1;
	/* every slot before this chunk is lent (the stack was empty): the new ones go on it,
	 * the chunk's first slot on top */
	for (uint32_t i = 0; i < SRDC_INLINE_CHUNK; i++)
		p->free[p->nfree++] = n * SRDC_INLINE_CHUNK + (SRDC_INLINE_CHUNK - 1 - i);
	return 0;
}

void *srdc_rxpool_get(struct srdc_rxpool *p)
{
	uint32_t slot, c, i;

	if (p->nfree == 0 && grow(p))
		return NULL;
	slot = p->free[--p->nfree];
	c = slot / SRDC_INLINE_CHUNK;
	i = slot % SRDC_INLINE_CHUNK;
	p->chunks[c].lent[i / 64] |= 1ull << (i % 64);
	return p->chunks[c].slots + (size_t)i * SRD_CQE_INLINE_MAX;
}

/* The chunk holding address a, or UINT32_MAX. */
static uint32_t chunk_of(struct srdc_rxpool *p, uintptr_t a)
{
	for (uint32_t k = 0; k < p->nchunks; k++) {
		uint32_t c = (p->last + k) % p->nchunks; /* the last one found first */
		uintptr_t start = (uintptr_t)p->chunks[c].slots;

		if (a >= start && a - start < (uintptr_t)SRDC_INLINE_CHUNK * SRD_CQE_INLINE_MAX) {
			p->last = c;
			return c;
		}
	}
	return UINT32_MAX;
}

int srdc_rxpool_put(struct srdc_rxpool *p, const void *buf)
{
	uintptr_t a = (uintptr_t)buf, off;
	uint32_t c = chunk_of(p, a), i;
	uint64_t bit;

	if (c == UINT32_MAX)
		return -EINVAL;
	off = a - (uintptr_t)p->chunks[c].slots;
	if (off % SRD_CQE_INLINE_MAX)
		return -EINVAL;
	i = (uint32_t)(off / SRD_CQE_INLINE_MAX);
	bit = 1ull << (i % 64);
	if (!(p->chunks[c].lent[i / 64] & bit))
		return -EINVAL; /* not lent: given back twice */
	p->chunks[c].lent[i / 64] &= ~bit;
	p->free[p->nfree++] = c * SRDC_INLINE_CHUNK + i;
	return 0;
}
