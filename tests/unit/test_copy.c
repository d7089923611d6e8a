/*
 * test_copy.c — lib/shm/srd_copy: the streaming copy lands every byte and nothing around
 * them, a picked copy does whichever way it goes, and the pick follows the costs it is told.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srd_copy.h"

#define CAP (65536u + 256u)

/* Fill src with a pattern and dst with 0xee. */
static void fill(uint8_t *src, uint8_t *dst)
{
	for (size_t i = 0; i < CAP; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	memset(dst, 0xee, CAP);
}

/* len bytes at dst + doff equal src + soff; the bytes before and the one after are 0xee. */
static void check(const uint8_t *dst, const uint8_t *src, size_t doff, size_t soff, size_t len)
{
	for (size_t i = 0; i < doff; i++)
		assert_int_equal(dst[i], 0xee);
	if (len)
		assert_memory_equal(dst + doff, src + soff, len);
	assert_int_equal(dst[doff + len], 0xee);
}

/* Whatever the alignment of either side and the length (the head before the first
 * 16-byte-aligned destination and the tail after the last whole 64 bytes go by memcpy). */
static void test_stream_lands_every_byte(void **state)
{
	static const size_t lens[] = { 0, 1, 255, 256, 257, 1000, 4096 + 13, 65536 + 63 };
	uint8_t *src = malloc(CAP), *dst = malloc(CAP);

	(void)state;
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t doff = 0; doff < 20; doff += 3)
			for (size_t soff = 0; soff < 20; soff += 5) {
				fill(src, dst);
				srd_copy_stream(dst + doff, src + soff, lens[l]);
				check(dst, src, doff, soff, lens[l]);
			}
	free(src);
	free(dst);
}

/* Enough picked copies to pass the timed and the trial ones, in both ways in use, each
 * copy complete; in chunks too (a length that is no multiple of the chunk). */
static void test_picked_lands_every_byte(void **state)
{
	uint8_t *src = malloc(CAP), *dst = malloc(CAP);
	struct srd_copy_pick p;

	(void)state;
	assert_non_null(src);
	assert_non_null(dst);
	for (uint8_t way = 0; way < 2; way++) {
		srd_copy_pick_init(&p, false);
		p.stream = way;
		for (unsigned i = 0; i < 600; i++) {
			size_t len = 1000 + i * 97 % 60000, doff = i % 13, soff = i % 7;

			fill(src, dst);
			srd_copy_picked(&p, dst + doff, src + soff, len);
			check(dst, src, doff, soff, len);
		}
		assert_int_equal(p.chunks, 600);
		fill(src, dst);
		srd_copy_picked_chunks(&p, dst + 5, src + 1, 3 * SRD_COPY_PICK_CHUNK + 77);
		check(dst, src, 5, 1, 3 * SRD_COPY_PICK_CHUNK + 77);
		assert_int_equal(p.chunks, 604);
	}
	free(src);
	free(dst);
}

/* The pick goes to streaming stores when memcpy costs more than 4.5 times as much (a copy
 * into lines another L3 domain holds: 8-16 times), and back below (a memcpy into lines no
 * cache holds, which is what a trial finds after streaming stores if nobody read them: 4
 * times); a single outlier cannot flip it. */
static void test_pick_follows_costs(void **state)
{
	struct srd_copy_pick p;

	(void)state;
	srd_copy_pick_init(&p, false);
	srd_copy_pick_note(&p, false, 40 * 64, 64 * 1024); /* memcpy: 40 per KiB */
	assert_int_equal(p.stream, 0);                     /* nothing known of the other */
	srd_copy_pick_note(&p, true, 45 * 64, 64 * 1024);  /* a trial of streaming: 45 */
	assert_int_equal(p.stream, 0);                     /* near: memcpy stays */
	assert_int_equal(p.cost[0], 40);
	assert_int_equal(p.cost[1], 45);
	/* one interrupted memcpy (1000 per KiB) counts as 160: (3 * 40 + 160) / 4 = 70 */
	srd_copy_pick_note(&p, false, 1000 * 64, 64 * 1024);
	assert_int_equal(p.cost[0], 70);
	assert_int_equal(p.stream, 0);
	/* far: memcpy into lines the reader holds, 800 per KiB: switches within a few copies */
	for (int i = 0; i < 4 && !p.stream; i++)
		srd_copy_pick_note(&p, false, 800 * 64, 64 * 1024);
	assert_int_equal(p.stream, 1);
	assert_int_equal(p.switches, 1);
	/* streaming, and a trial of memcpy still slow: stays */
	srd_copy_pick_note(&p, true, 45 * 64, 64 * 1024);
	srd_copy_pick_note(&p, false, 800 * 64, 64 * 1024);
	assert_int_equal(p.stream, 1);
	/* trials of memcpy into lines no cache holds (180: 4 times streaming) bring it back */
	for (int i = 0; i < 8 && p.stream; i++)
		srd_copy_pick_note(&p, false, 180 * 64, 64 * 1024);
	assert_int_equal(p.stream, 0);
	assert_int_equal(p.switches, 2);
	/* an empty copy tells nothing */
	srd_copy_pick_note(&p, true, 1000000, 0);
	assert_int_equal(p.cost[1], 45);
}

/* A writer whose reader reads every byte streams from twice memcpy's cost: 100 against 45
 * switches, 80 does not. */
static void test_pick_reader_reads_all(void **state)
{
	struct srd_copy_pick p, q;

	(void)state;
	srd_copy_pick_init(&p, true);
	srd_copy_pick_init(&q, false);
	srd_copy_pick_note(&p, true, 45 * 64, 64 * 1024);
	srd_copy_pick_note(&q, true, 45 * 64, 64 * 1024);
	srd_copy_pick_note(&p, false, 80 * 64, 64 * 1024);
	assert_int_equal(p.stream, 0);
	srd_copy_pick_note(&p, false, 140 * 64, 64 * 1024); /* (3 * 80 + 140) / 4 = 95 */
	assert_int_equal(p.stream, 1);
	srd_copy_pick_note(&q, false, 100 * 64, 64 * 1024);
	assert_int_equal(q.stream, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_lands_every_byte),
		cmocka_unit_test(test_picked_lands_every_byte),
		cmocka_unit_test(test_pick_follows_costs),
		cmocka_unit_test(test_pick_reader_reads_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
