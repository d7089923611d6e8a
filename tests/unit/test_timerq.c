/*
 * test_timerq.c — the indexed min-heap of connection deadlines (lib/core/timerq.c), checked
 * operation by operation against a brute-force array model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rng.h"
#include "srd_core.h"
#include "timerq.h"

#define POS_NONE UINT32_MAX

/* The model: model[slot] is the slot's deadline, SRD_NO_DEADLINE if it has none. */
struct model {
	uint64_t *when;
	uint32_t cap;
};

static uint64_t model_min(const struct model *m, uint32_t *count)
{
	uint64_t best = SRD_NO_DEADLINE;

	*count = 0;
	for (uint32_t i = 0; i < m->cap; i++) {
		if (m->when[i] == SRD_NO_DEADLINE)
			continue;
		(*count)++;
		if (m->when[i] < best)
			best = m->when[i];
	}
	return best;
}

/* Every structural invariant of the heap, and agreement with the model. */
static void check_against_model(const struct srd_timerq *q, const struct model *m)
{
	uint32_t count;
	uint64_t min = model_min(m, &count);

	assert_int_equal(q->n, count);
	assert_true(srd_timerq_min(q) == min);
	if (count) {
		/* the slot the heap names holds the minimum (ties: any slot with that value) */
		assert_true(m->when[srd_timerq_min_slot(q)] == min);
	}
	for (uint32_t i = 0; i < q->n; i++) {
		uint32_t slot = q->heap[i];

		assert_true(slot < q->cap);
		assert_int_equal(q->pos[slot], i);
		assert_true(q->when[slot] == m->when[slot]);
		if (i > 0)
			assert_true(q->when[q->heap[(i - 1) / 2]] <= q->when[slot]);
	}
	for (uint32_t s = 0; s < q->cap; s++) {
		if (m->when[s] == SRD_NO_DEADLINE)
			assert_true(q->pos[s] == POS_NONE);
		else
			assert_true(q->pos[s] < q->n);
	}
}

static void set_both(struct srd_timerq *q, struct model *m, uint32_t slot, uint64_t when)
{
	srd_timerq_set(q, slot, when);
	m->when[slot] = when;
}

static void model_init(struct model *m, uint32_t cap)
{
	m->cap = cap;
	m->when = malloc(cap * sizeof(*m->when));
	assert_non_null(m->when);
	for (uint32_t i = 0; i < cap; i++)
		m->when[i] = SRD_NO_DEADLINE;
}

/* ---- basics ---- */

static void test_init_errors(void **state)
{
	struct srd_timerq q;

	(void)state;
	assert_int_equal(srd_timerq_init(&q, 0), -EINVAL);
	assert_int_equal(srd_timerq_init(&q, 4), 0);
	assert_int_equal(q.cap, 4);
	assert_int_equal(q.n, 0);
	assert_true(srd_timerq_min(&q) == SRD_NO_DEADLINE);
	srd_timerq_free(&q);
	assert_null(q.heap);
	assert_int_equal(q.cap, 0);
	srd_timerq_free(&q); /* twice is harmless */
}

static void test_basic_ops(void **state)
{
	struct srd_timerq q;
	struct model m;

	(void)state;
	assert_int_equal(srd_timerq_init(&q, 8), 0);
	model_init(&m, 8);

	set_both(&q, &m, 3, 300);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 3);
	set_both(&q, &m, 5, 100);
	set_both(&q, &m, 1, 200);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 5);
	assert_true(srd_timerq_min(&q) == 100);

	/* move the minimum later: the next one takes over */
	set_both(&q, &m, 5, 1000);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 1);
	/* move a late one earliest */
	set_both(&q, &m, 3, 10);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 3);
	/* re-setting the same value changes nothing */
	set_both(&q, &m, 3, 10);
	set_both(&q, &m, 1, 200);
	check_against_model(&q, &m);
	assert_int_equal(q.n, 3);
	/* remove the minimum, an inner one, an absent one */
	set_both(&q, &m, 3, SRD_NO_DEADLINE);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 1);
	set_both(&q, &m, 7, SRD_NO_DEADLINE);
	check_against_model(&q, &m);
	set_both(&q, &m, 1, SRD_NO_DEADLINE);
	set_both(&q, &m, 5, SRD_NO_DEADLINE);
	check_against_model(&q, &m);
	assert_int_equal(q.n, 0);
	assert_true(srd_timerq_min(&q) == SRD_NO_DEADLINE);
	/* deadline 0 and the largest real deadline are ordinary values */
	set_both(&q, &m, 0, SRD_NO_DEADLINE - 1);
	set_both(&q, &m, 2, 0);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 2);
	assert_true(srd_timerq_min(&q) == 0);
	/* equal deadlines */
	set_both(&q, &m, 4, 0);
	set_both(&q, &m, 6, 0);
	check_against_model(&q, &m);

	free(m.when);
	srd_timerq_free(&q);
}

static void test_cap_one(void **state)
{
	struct srd_timerq q;
	struct model m;

	(void)state;
	assert_int_equal(srd_timerq_init(&q, 1), 0);
	model_init(&m, 1);
	check_against_model(&q, &m);
	set_both(&q, &m, 0, 50);
	check_against_model(&q, &m);
	assert_int_equal(srd_timerq_min_slot(&q), 0);
	set_both(&q, &m, 0, 50);
	check_against_model(&q, &m);
	set_both(&q, &m, 0, 20);
	check_against_model(&q, &m);
	set_both(&q, &m, 0, 90);
	check_against_model(&q, &m);
	assert_true(srd_timerq_min(&q) == 90);
	set_both(&q, &m, 0, SRD_NO_DEADLINE);
	check_against_model(&q, &m);
	set_both(&q, &m, 0, SRD_NO_DEADLINE);
	check_against_model(&q, &m);
	set_both(&q, &m, 0, 0);
	check_against_model(&q, &m);
	free(m.when);
	srd_timerq_free(&q);
}

/* Pop everything in order, as srd_on_timer() does: deadlines come out non-decreasing. */
static void test_drain_in_order(void **state)
{
	struct srd_timerq q;
	struct srd_rng rng;
	uint64_t last = 0;
	uint32_t popped = 0;

	(void)state;
	srd_rng_seed(&rng, 7);
	assert_int_equal(srd_timerq_init(&q, 1000), 0);
	for (uint32_t s = 0; s < 1000; s++)
		srd_timerq_set(&q, s, srd_rng_below(&rng, 500));
	while (srd_timerq_min(&q) != SRD_NO_DEADLINE) {
		uint64_t w = srd_timerq_min(&q);

		assert_true(w >= last);
		last = w;
		srd_timerq_set(&q, srd_timerq_min_slot(&q), SRD_NO_DEADLINE);
		popped++;
	}
	assert_int_equal(popped, 1000);
	srd_timerq_free(&q);
}

/* 100k random operations against the model, for several capacities. */
static void random_run(uint32_t cap, uint64_t seed, uint32_t ops)
{
	struct srd_timerq q;
	struct model m;
	struct srd_rng rng;

	srd_rng_seed(&rng, seed);
	assert_int_equal(srd_timerq_init(&q, cap), 0);
	model_init(&m, cap);
	for (uint32_t i = 0; i < ops; i++) {
		uint32_t slot = srd_rng_below(&rng, cap);
		uint32_t op = srd_rng_below(&rng, 100);
		uint64_t when;

		if (op < 20)
			when = SRD_NO_DEADLINE;             /* remove (or no-op if absent) */
		else if (op < 30 && m.when[slot] != SRD_NO_DEADLINE)
			when = m.when[slot];                /* same value again */
		else if (op < 40)
			when = srd_rng_below(&rng, 8);      /* many ties */
		else if (op < 45)
			when = SRD_NO_DEADLINE - 1 - srd_rng_below(&rng, 3); /* near the top */
		else
			when = srd_rng_next(&rng) >> 20;    /* spread out */
		set_both(&q, &m, slot, when);
		/* full check is O(cap); do it often but not always for the big queue */
		if (cap <= 64 || (i & 63) == 0) {
			check_against_model(&q, &m);
		} else {
			uint32_t count;

			assert_true(srd_timerq_min(&q) == model_min(&m, &count));
			assert_int_equal(q.n, count);
		}
	}
	check_against_model(&q, &m);
	free(m.when);
	srd_timerq_free(&q);
}

static void test_random_cap1(void **state)
{
	(void)state;
	random_run(1, 11, 100000);
}

static void test_random_cap2(void **state)
{
	(void)state;
	random_run(2, 12, 100000);
}

static void test_random_cap17(void **state)
{
	(void)state;
	random_run(17, 13, 100000);
}

static void test_random_cap1000(void **state)
{
	(void)state;
	random_run(1000, 14, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_basic_ops),
		cmocka_unit_test(test_cap_one),
		cmocka_unit_test(test_drain_in_order),
		cmocka_unit_test(test_random_cap1),
		cmocka_unit_test(test_random_cap2),
		cmocka_unit_test(test_random_cap17),
		cmocka_unit_test(test_random_cap1000),
	};

	return cmocka_run_group_tests_name("timerq", tests, NULL, NULL);
}
