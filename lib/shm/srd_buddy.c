/*
 * srd_buddy.c — buddy allocator with out-of-band metadata (see srd_buddy.h).
 */
#include "srd_buddy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SRD_BUDDY_HEAD 0x80u      /* state: first index of a block */
#define SRD_BUDDY_TAG_SHIFT 5u    /* state: bits 5..6 hold the tag (0: free) */
#define SRD_BUDDY_ORDER_MASK 0x1fu

static void push_free(struct srd_buddy *a, uint32_t b, unsigned k)
{
	uint32_t h = a->free_head[k];

	a->state[b] = (uint8_t)(SRD_BUDDY_HEAD | k);
	a->next[b] = h;
	a->prev[b] = SRD_BUDDY_NONE;
	if (h != SRD_BUDDY_NONE)
		a->prev[h] = b;
	a->free_head[k] = b;
	a->free_bytes += (uint64_t)1 << (k + a->min_shift);
}

static void unlink_free(struct srd_buddy *a, uint32_t b, unsigned k)
{
	uint32_t n = a->next[b], p = a->prev[b];

	if (p != SRD_BUDDY_NONE)
		a->next[p] = n;
	else
		a->free_head[k] = n;
	if (n != SRD_BUDDY_NONE)
		a->prev[n] = p;
	a->state[b] = 0;
	a->free_bytes -= (uint64_t)1 << (k + a->min_shift);
}

int srd_buddy_init(struct srd_buddy *a, uint64_t size, unsigned min_shift,
		    unsigned max_order)
{
	uint64_t nb = size >> min_shift;

	memset(a, 0, sizeof(*a));
	if (min_shift > 30 || max_order >= SRD_BUDDY_ORDERS || nb == 0 || nb >= SRD_BUDDY_NONE)
		return -EINVAL;
	a->nblocks = (uint32_t)nb;
	a->size = nb << min_shift;
	a->min_shift = (uint8_t)min_shift;
	a->max_order = (uint8_t)max_order;
	a->next = malloc(nb * sizeof(*a->next));
	a->prev = malloc(nb * sizeof(*a->prev));
	a->state = calloc(nb, 1);
	if (!a->next || !a->prev || !a->state) {
		srd_buddy_fini(a);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < SRD_BUDDY_ORDERS; k++)
		a->free_head[k] = SRD_BUDDY_NONE;
	/* Carve the area into the largest aligned blocks that fit. */
	for (uint32_t p = 0; p < a->nblocks;) {
		unsigned k = max_order;

		while (k > 0 && ((p & ((1u << k) - 1)) || (uint64_t)p + (1u << k) > a->nblocks))
			k--;
		push_free(a, p, k);
		p += 1u << k;
	}
	return 0;
}

void srd_buddy_fini(struct srd_buddy *a)
{
	free(a->next);
	free(a->prev);
	free(a->state);
	memset(a, 0, sizeof(*a));
}

int64_t srd_buddy_get(struct srd_buddy *a, uint64_t len, unsigned tag)
{
	uint64_t need = len ? ((len - 1) >> a->min_shift) + 1 : 1;
	unsigned order = 0, k;
	uint32_t b;

	while (((uint64_t)1 << order) < need) {
		if (++order > a->max_order)
			return -ENOMEM;
	}
	for (k = order; k <= a->max_order && a->free_head[k] == SRD_BUDDY_NONE; k++)
		;
	if (k > a->max_order)
		return -ENOMEM;
	b = a->free_head[k];
	unlink_free(a, b, k);
	while (k > order) { /* split: keep the lower half, free the upper */
		k--;
		push_free(a, b + (1u << k), k);
	}
	a->state[b] = (uint8_t)(SRD_BUDDY_HEAD | (tag & 3u) << SRD_BUDDY_TAG_SHIFT | order);
	return (int64_t)((uint64_t)b << a->min_shift);
}

unsigned srd_buddy_tag(const struct srd_buddy *a, uint64_t off)
{
	uint64_t b = off >> a->min_shift;
	uint8_t st;

	if ((off & (((uint64_t)1 << a->min_shift) - 1)) || b >= a->nblocks)
		return 0;
	st = a->state[b];
	if (!(st & SRD_BUDDY_HEAD))
		return 0;
	return (st >> SRD_BUDDY_TAG_SHIFT) & 3u;
}

void srd_buddy_set_tag(struct srd_buddy *a, uint64_t off, unsigned tag)
{
	uint8_t *st = &a->state[off >> a->min_shift];

	*st = (uint8_t)((*st & ~(3u << SRD_BUDDY_TAG_SHIFT)) | (tag & 3u) << SRD_BUDDY_TAG_SHIFT);
}

uint64_t srd_buddy_block_size(const struct srd_buddy *a, uint64_t off)
{
	unsigned k = a->state[off >> a->min_shift] & SRD_BUDDY_ORDER_MASK;

	return (uint64_t)1 << (k + a->min_shift);
}

void srd_buddy_put(struct srd_buddy *a, uint64_t off)
{
	uint32_t b = (uint32_t)(off >> a->min_shift);
	unsigned k = a->state[b] & SRD_BUDDY_ORDER_MASK;

	a->state[b] = 0;
	while (k < a->max_order) { /* merge with the buddy while it is free and whole */
		uint32_t buddy = b ^ (1u << k);

		if ((uint64_t)buddy + (1u << k) > a->nblocks ||
		    a->state[buddy] != (uint8_t)(SRD_BUDDY_HEAD | k))
			break;
		unlink_free(a, buddy, k);
		b &= ~(1u << k);
		k++;
	}
	push_free(a, b, k);
}
