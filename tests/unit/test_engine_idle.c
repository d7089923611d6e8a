/*
 * test_engine_idle.c — connections closed after conn_idle_ns of idleness: their slots are
 * freed, a peer that still holds the closed connection is told RESET(IDLE_CLOSED) and sends
 * its unfinished messages again on a fresh one (delivered once, completed with success),
 * and the config refuses an idle time shorter than the retry budget.
 *
 * The harness (struct env, the callbacks and their exactly-once checks) is in harness.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define IDLE_NS (200 * MS)

/* Forget the previous round's messages and make room for n new ones. */
static void new_round(struct env *e, uint32_t n)
{
	free_msgs(e);
	e->ndone = 0;
	memset(e->side[A].tx_done_status, 0, sizeof(e->side[A].tx_done_status));
	memset(e->side[B].tx_done_status, 0, sizeof(e->side[B].tx_done_status));
	e->side[A].delivered = 0;
	e->side[B].delivered = 0;
	env_msgs(e, n);
}

/* Send n messages of len bytes from A and run until each is done (within limit). */
static void round_ok_within(struct env *e, uint32_t n, uint32_t len, uint64_t limit)
{
	new_round(e, n);
	for (uint32_t i = 0; i < n; i++) {
		msg_fill(e, i, len + i, 0, NULL);
		assert_int_equal(msg_send(e, i), 0);
	}
	assert_true(link_run(e->l, all_done, e, e->l->now + limit));
	check_all_ok(e);
}

static void round_ok(struct env *e, uint32_t n, uint32_t len)
{
	round_ok_within(e, n, len, 20 * MS);
}

/* Both sides idle: both close, the slots are free, and a new message opens afresh. */
static void test_idle_close_both(void **state)
{
	struct srd_config ca, cb;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	ca.conn_idle_ns = cb.conn_idle_ns = IDLE_NS;
	e = env_new(&ca, &cb);
	round_ok(e, 4, 10000);
	assert_int_equal(stats(e, A).conns_active, 1);
	run_idle(e, IDLE_NS + 10 * MS);
	assert_int_equal(stats(e, A).conns_active, 0);
	assert_int_equal(stats(e, B).conns_active, 0);
	assert_int_equal(stats(e, A).conns_closed, 1);
	assert_int_equal(stats(e, B).conns_closed, 1);
	assert_int_equal(srd_next_deadline(e->l->eng[A]), SRD_NO_DEADLINE);
	round_ok(e, 3, 5000);
	assert_int_equal(stats(e, A).conns_created, 2);
	assert_int_equal(stats(e, A).conns_resumed, 0);
	env_free(e);
}

/* Only B closes (A keeps its connection): A's next messages go to B's closed connection,
 * B answers RESET(IDLE_CLOSED), and A sends them again on a fresh one. */
static void test_idle_close_resume(void **state)
{
	struct srd_config ca, cb;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	cb.conn_idle_ns = IDLE_NS; /* A never closes */
	e = env_new(&ca, &cb);
	round_ok(e, 2, 3000);
	run_idle(e, IDLE_NS + 10 * MS);
	assert_int_equal(stats(e, B).conns_active, 0);
	assert_int_equal(stats(e, A).conns_active, 1);
	round_ok(e, 8, 20000); /* several messages in flight when the RESET comes */
	assert_int_equal(stats(e, A).conns_resumed, 1);
	assert_int_equal(stats(e, A).msgs_failed, 0);
	assert_int_equal(stats(e, A).conns_reset, 0);
	assert_true(stats(e, B).drops[SRD_DROP_UNKNOWN_CONN] >= 1);
	env_free(e);
}

/* A connection with a message in flight is never idle, however long it takes. */
static void test_busy_not_closed(void **state)
{
	struct srd_config ca, cb;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	ca.conn_idle_ns = cb.conn_idle_ns = IDLE_NS;
	e = env_new(&ca, &cb);
	e->l->gap_ns = 1 * MS; /* a slow link: 256 packets of 1 MiB take 256 ms */
	uint64_t t0 = e->l->now;
	round_ok_within(e, 1, 1u << 20, 2000 * MS);
	assert_true(e->l->now - t0 > IDLE_NS);
	assert_int_equal(stats(e, A).conns_closed, 0);
	assert_int_equal(stats(e, B).conns_closed, 0);
	env_free(e);
}

/* The idle time must exceed the retry budget. */
static void test_idle_config(void **state)
{
	struct srd_config cfg;
	char err[256];

	(void)state;
	srd_config_default(&cfg);
	cfg.conn_idle_ns = srd_retry_budget_ns(&cfg);
	assert_int_equal(srd_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "conn_idle_ns"));
	cfg.conn_idle_ns = srd_retry_budget_ns(&cfg) + 1;
	assert_int_equal(srd_config_check(&cfg, err, sizeof(err)), 0);
	/* defaults: 100 us doubling over 13 timeouts, capped at 10 ms */
	assert_int_equal(srd_retry_budget_ns(&cfg), 72700000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_idle_close_both, teardown),
		cmocka_unit_test_teardown(test_idle_close_resume, teardown),
		cmocka_unit_test_teardown(test_busy_not_closed, teardown),
		cmocka_unit_test(test_idle_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
