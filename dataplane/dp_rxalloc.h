/*
 * dp_rxalloc.h — a buddy allocator over one app's receive area, with every piece of
 * metadata in the daemon's own memory (the shared region holds only payload, so nothing the
 * app writes can corrupt it).  Offsets are relative to the area's start.  Each block in use
 * carries a small tag (1..3) so that the caller can tell, from an offset the app sent back,
 * whether it is the exact start of a block in a given state (e.g. "lent to the app").
 *
 * Block sizes are powers of two from 2^min_shift bytes up to 2^(min_shift + max_order);
 * an area that is not a power of two is carved into the largest aligned blocks that fit.
 * alloc and free are O(max_order).  One thread; no locks.
 */
#ifndef DP_RXALLOC_H
#define DP_RXALLOC_H

#include <stdint.h>

#define DP_RXA_ORDERS 26u          /* orders 0..25 */
#define DP_RXA_NONE UINT32_MAX     /* no block (free-list end) */

/* The allocator (all of it in daemon memory). */
struct dp_rxalloc {
	uint64_t size;                     /* bytes managed (nblocks << min_shift) */
	uint64_t free_bytes;               /* bytes in free blocks */
	uint32_t nblocks;                  /* smallest blocks in the area */
	uint8_t min_shift;                 /* log2 of the smallest block's bytes */
	uint8_t max_order;                 /* largest block: 2^max_order smallest blocks */
	uint32_t free_head[DP_RXA_ORDERS]; /* first free block of each order, or DP_RXA_NONE */
	uint32_t *next;                    /* free-list successor, by block index */
	uint32_t *prev;                    /* free-list predecessor, by block index */
	uint8_t *state;                    /* by block index: at a block's first index
	                                      DP_RXA_HEAD | tag << 5 | order; else 0 */
};

/*
 * Manage size bytes (rounded down to the smallest block) with smallest blocks of
 * 2^min_shift bytes and largest of 2^(min_shift + max_order).  Returns 0, -EINVAL (bad
 * shape: more than 2^32 blocks, max_order too large), -ENOMEM.
 */
int dp_rxalloc_init(struct dp_rxalloc *a, uint64_t size, unsigned min_shift,
		    unsigned max_order);

/* Free the metadata (not the area).  Safe on a zeroed struct. */
void dp_rxalloc_fini(struct dp_rxalloc *a);

/* A block of at least len bytes (len 0 takes the smallest block) tagged tag (1..3).
 * Returns its offset, or -ENOMEM (no room, or len above the largest block). */
int64_t dp_rxalloc_get(struct dp_rxalloc *a, uint64_t len, unsigned tag);

/* The tag of the block in use that starts exactly at off, or 0 if off is not the start of
 * a block in use (out of range, misaligned, free, inside a block). */
unsigned dp_rxalloc_tag(const struct dp_rxalloc *a, uint64_t off);

/* Retag the block in use at off (dp_rxalloc_tag(off) must be non-zero). */
void dp_rxalloc_set_tag(struct dp_rxalloc *a, uint64_t off, unsigned tag);

/* Bytes of the block in use at off (dp_rxalloc_tag(off) must be non-zero). */
uint64_t dp_rxalloc_block_size(const struct dp_rxalloc *a, uint64_t off);

/* Give back the block in use at off (dp_rxalloc_tag(off) must be non-zero). */
void dp_rxalloc_put(struct dp_rxalloc *a, uint64_t off);

#endif /* DP_RXALLOC_H */
