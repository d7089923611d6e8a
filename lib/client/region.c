/*
 * region.c — libsrd's allocator of the tx area (srdc_buf_alloc() and bounce buffers): a buddy
 * allocator whose metadata lives in the app's private memory, never in the shared region
 * (see struct srdc_region in client_int.h).  Blocks are 64-byte aligned at least.
 */
#include "client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SRDC_RGN_HEAD 0x80u      /* state: first index of a block */
#define SRDC_RGN_TAG_SHIFT 5u    /* state: bits 5..6 hold the tag (0: free) */
#define SRDC_RGN_ORDER_MASK 0x1fu

static void push_free(struct srdc_region *a, uint32_t b, unsigned k)
{
	uint32_t h = a->free_head[k];

	a->state[b] = (uint8_t)(SRDC_RGN_HEAD | k);
	a->next[b] = h;
	a->prev[b] = SRDC_RGN_NONE;
	if (h != SRDC_RGN_NONE)
		a->prev[h] = b;
	a->free_head[k] = b;
	a->free_bytes += (uint64_t)1 << (k + a->min_shift);
}

static void unlink_free(struct srdc_region *a, uint32_t b, unsigned k)
{
	uint32_t n = a->next[b], p = a->prev[b];

	if (p != SRDC_RGN_NONE)
		a->next[p] = n;
	else
		a->free_head[k] = n;
	if (n != SRDC_RGN_NONE)
		a->prev[n] = p;
	a->state[b] = 0;
	a->free_bytes -= (uint64_t)1 << (k + a->min_shift);
}

int srdc_region_init(struct srdc_region *a, uint64_t size, unsigned min_shift,
		    unsigned max_order)
{
	uint64_t nb = size >> min_shift;

	memset(a, 0, sizeof(*a));
	if (min_shift > 30 || max_order >= SRDC_RGN_ORDERS || nb == 0 || nb >= SRDC_RGN_NONE)
		return -EINVAL;
	a->nblocks = (uint32_t)nb;
	a->size = nb << min_shift;
	a->min_shift = (uint8_t)min_shift;
	a->max_order = (uint8_t)max_order;
	a->next = malloc(nb * sizeof(*a->next));
	a->prev = malloc(nb * sizeof(*a->prev));
	a->state = calloc(nb, 1);
	if (!a->next || !a->prev || !a->state) {
		srdc_region_fini(a);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < SRDC_RGN_ORDERS; k++)
		a->free_head[k] = SRDC_RGN_NONE;
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

void srdc_region_fini(struct srdc_region *a)
{
	free(a->next);
	free(a->prev);
	free(a->state);
	memset(a, 0, sizeof(*a));
}

int64_t srdc_region_get(struct srdc_region *a, uint64_t len, unsigned tag)
{
	uint64_t need = len ? ((len - 1) >> a->min_shift) + 1 : 1;
	unsigned order = 0, k;
	uint32_t b;

	while (((uint64_t)1 << order) < need) {
		if (++order > a->max_order)
			return -ENOMEM;
	}
	for (k = order; k <= a->max_order && a->free_head[k] == SRDC_RGN_NONE; k++)
		;
	if (k > a->max_order)
		return -ENOMEM;
	b = a->free_head[k];
	unlink_free(a, b, k);
	while (k > order) { /* split: keep the lower half, free the upper */
		k--;
		push_free(a, b + (1u << k), k);
	}
	a->state[b] = (uint8_t)(SRDC_RGN_HEAD | (tag & 3u) << SRDC_RGN_TAG_SHIFT | order);
	return (int64_t)((uint64_t)b << a->min_shift);
}

unsigned srdc_region_tag(const struct srdc_region *a, uint64_t off)
{
	uint64_t b = off >> a->min_shift;
	uint8_t st;

	if ((off & (((uint64_t)1 << a->min_shift) - 1)) || b >= a->nblocks)
		return 0;
	st = a->state[b];
	if (!(st & SRDC_RGN_HEAD))
		return 0;
	return (st >> SRDC_RGN_TAG_SHIFT) & 3u;
}

void srdc_region_put(struct srdc_region *a, uint64_t off)
{
	uint32_t b = (uint32_t)(off >> a->min_shift);
	unsigned k = a->state[b] & SRDC_RGN_ORDER_MASK;

	a->state[b] = 0;
	while (k < a->max_order) { /* merge with the buddy while it is free and whole */
		uint32_t buddy = b ^ (1u << k);

		if ((uint64_t)buddy + (1u << k) > a->nblocks ||
		    a->state[buddy] != (uint8_t)(SRDC_RGN_HEAD | k))
			break;
		unlink_free(a, buddy, k);
		b &= ~(1u << k);
		k++;
	}
	push_free(a, b, k);
}
