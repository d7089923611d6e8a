/*
 * test_buddy.c — the allocator of a region's areas (lib/shm/srd_buddy.c), checked operation
 * by operation against a model of which smallest blocks are in use, with attention to the
 * cache of freed smallest blocks: they read as free, are handed out again, and merge back
 * when a larger block needs them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srd_buddy.h"

#define SHIFT 8u     /* smallest block: 256 bytes */
#define ORDERS 6u    /* largest: 64 smallest blocks */
#define AREA (1u << 16) /* 256 smallest blocks: four of the largest */

/* Take a block of len bytes tagged tag; check that it lies in the area, overlaps nothing in
 * use (used[] marks smallest blocks) and reads back its tag and size. */
static int64_t take(struct srd_buddy *a, uint8_t *used, uint64_t len, unsigned tag)
{
	int64_t off = srd_buddy_get(a, len, tag);
	uint64_t size;

	if (off < 0)
		return off;
	assert_int_equal(srd_buddy_tag(a, (uint64_t)off), tag);
	size = srd_buddy_block_size(a, (uint64_t)off);
	assert_true(size >= (len ? len : 1));
	assert_true((uint64_t)off + size <= AREA);
	assert_int_equal((uint64_t)off % size, 0);
	for (uint64_t b = (uint64_t)off >> SHIFT; b < ((uint64_t)off + size) >> SHIFT; b++) {
		assert_false(used[b]);
		used[b] = 1;
	}
	return off;
}

static void give(struct srd_buddy *a, uint8_t *used, uint64_t off)
{
	uint64_t size = srd_buddy_block_size(a, off);

	for (uint64_t b = off >> SHIFT; b < (off + size) >> SHIFT; b++)
		used[b] = 0;
	srd_buddy_put(a, off);
	assert_int_equal(srd_buddy_tag(a, off), 0); /* free (or cached): never "in use" */
}

/* Freed smallest blocks come back first (the cache), and read as free meanwhile. */
static void test_cache_reuse(void **state)
{
	struct srd_buddy a;
	uint8_t used[AREA >> SHIFT] = { 0 };
	int64_t first, again;

	(void)state;
	assert_int_equal(srd_buddy_init(&a, AREA, SHIFT, ORDERS), 0);
	first = take(&a, used, 64, 1);
	give(&a, used, (uint64_t)first);
	assert_int_equal(a.free_bytes, AREA);
	again = take(&a, used, 200, 2);
	assert_int_equal(again, first);
	assert_int_equal(a.free_bytes, AREA - (1u << SHIFT));
	give(&a, used, (uint64_t)again);
	srd_buddy_fini(&a);
}

/* Every block freed, smallest ones cached: the largest blocks are all still to be had (the
 * cache merges back when nothing else fits), and then nothing more. */
static void test_cache_merges_back(void **state)
{
	struct srd_buddy a;
	uint8_t used[AREA >> SHIFT] = { 0 };
	int64_t offs[AREA >> SHIFT];
	uint32_t n = 0;

	(void)state;
	assert_int_equal(srd_buddy_init(&a, AREA, SHIFT, ORDERS), 0);
	for (n = 0; n < AREA >> SHIFT; n++) {
		offs[n] = take(&a, used, 1, 1);
		assert_true(offs[n] >= 0);
	}
	assert_int_equal(srd_buddy_get(&a, 1, 1), -ENOMEM);
	for (uint32_t i = 0; i < n; i++)
		give(&a, used, (uint64_t)offs[i]);
	assert_int_equal(a.free_bytes, AREA);
	for (n = 0; n < AREA >> (SHIFT + ORDERS); n++)
		assert_true(take(&a, used, 1u << (SHIFT + ORDERS), 3) >= 0);
	assert_int_equal(srd_buddy_get(&a, 1, 1), -ENOMEM);
	assert_int_equal(a.free_bytes, 0);
	srd_buddy_fini(&a);
}

/* Random sizes taken and given back in random order: never an overlap, and at the end the
 * whole area is whole again. */
static void test_random_against_model(void **state)
{
	struct srd_buddy a;
	uint8_t used[AREA >> SHIFT] = { 0 };
	int64_t held[512];
	uint32_t nheld = 0, seed = 12345;

	(void)state;
	assert_int_equal(srd_buddy_init(&a, AREA, SHIFT, ORDERS), 0);
	for (int step = 0; step < 200000; step++) {
		seed = seed * 1103515245u + 12345u;
		if (nheld && ((seed >> 16) % 3 == 0 || nheld == 512)) {
			uint32_t i = (seed >> 8) % nheld;

			give(&a, used, (uint64_t)held[i]);
			held[i] = held[--nheld];
		} else {
			/* mostly small, sometimes up to the largest */
			uint32_t r = (seed >> 12) & 1023;
			uint64_t len = r < 900 ? r % 300 : (uint64_t)r << (SHIFT + ORDERS - 10);
			int64_t off = take(&a, used, len, 1 + (seed >> 20) % 3);

			if (off >= 0)
				held[nheld++] = off;
		}
	}
	while (nheld)
		give(&a, used, (uint64_t)held[--nheld]);
	assert_int_equal(a.free_bytes, AREA);
	for (uint32_t n = 0; n < AREA >> (SHIFT + ORDERS); n++)
		assert_true(take(&a, used, 1u << (SHIFT + ORDERS), 1) >= 0);
	srd_buddy_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_reuse),
		cmocka_unit_test(test_cache_merges_back),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
