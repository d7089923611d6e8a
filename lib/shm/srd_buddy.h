/*
 * srd_buddy.h — a buddy allocator over one area of a shared region, with every piece of
 * metadata in the owner's private memory (the shared region holds only payload, so nothing the
 * other side writes can corrupt it).  The daemon allocates received messages in an app's rx
 * area with it, libsrd the app's send buffers in its tx area.  Offsets are relative to the
 * area's start.  Each block in use carries a small tag (1..3), so that an offset handed back
 * can be checked to be the exact start of a block in a given state (e.g. "lent to the app").
 *
 * Block sizes are powers of two from 2^min_shift bytes up to 2^(min_shift + max_order);
 * an area that is not a power of two is carved into the largest aligned blocks that fit.
 * alloc and free are O(max_order).  One thread; no locks.
 */
#ifndef SRD_BUDDY_H
#define SRD_BUDDY_H

#include <stdint.h>

#define SRD_BUDDY_ORDERS 26u          /* orders 0..25 */
#define SRD_BUDDY_NONE UINT32_MAX     /* no block (free-list end) */

/* The allocator (all of it in daemon memory). */
struct srd_buddy {
	uint64_t size;                     /* bytes managed (nblocks << min_shift) */
	uint64_t free_bytes;               /* bytes in free blocks */
	uint32_t nblocks;                  /* smallest blocks in the area */
	uint8_t min_shift;                 /* log2 of the smallest block's bytes */
	uint8_t max_order;                 /* largest block: 2^max_order smallest blocks */
	uint32_t free_head[SRD_BUDDY_ORDERS]; /* first free block of each order, or SRD_BUDDY_NONE */
	uint32_t *next;                    /* free-list successor, by block index */
	uint32_t *prev;                    /* free-list predecessor, by block index */
	uint8_t *state;                    /* by block index: at a block's first index
	                                      SRD_BUDDY_HEAD | tag << 5 | order; else 0 */
};

/*
 * Manage size bytes (rounded down to the smallest block) with smallest blocks of
 * 2^min_shift bytes and largest of 2^(min_shift + max_order).  Returns 0, -EINVAL (bad
 * shape: more than 2^32 blocks, max_order too large), -ENOMEM.
 */
int srd_buddy_init(struct srd_buddy *a, uint64_t size, unsigned min_shift,
		    unsigned max_order);

/* Free the metadata (not the area).  Safe on a zeroed struct. */
void srd_buddy_fini(struct srd_buddy *a);

/* A block of at least len bytes (len 0 takes the smallest block) tagged tag (1..3).
 * Returns its offset, or -ENOMEM (no room, or len above the largest block). */
int64_t srd_buddy_get(struct srd_buddy *a, uint64_t len, unsigned tag);

/* The tag of the block in use that starts exactly at off, or 0 if off is not the start of
 * a block in use (out of range, misaligned, free, inside a block). */
unsigned srd_buddy_tag(const struct srd_buddy *a, uint64_t off);

/* Retag the block in use at off (srd_buddy_tag(off) must be non-zero). */
void srd_buddy_set_tag(struct srd_buddy *a, uint64_t off, unsigned tag);

/* Bytes of the block in use at off (srd_buddy_tag(off) must be non-zero). */
uint64_t srd_buddy_block_size(const struct srd_buddy *a, uint64_t off);

/* Give back the block in use at off (srd_buddy_tag(off) must be non-zero). */
void srd_buddy_put(struct srd_buddy *a, uint64_t off);

#endif /* SRD_BUDDY_H */
