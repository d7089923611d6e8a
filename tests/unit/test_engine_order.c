/*
 * test_engine_order.c — ordered delivery (SRD_SEND_ORDERED) when things go wrong: two
 * engines joined back to back by tests/unit/link.h, time moved by hand.
 *
 * A complete ordered message waits at the receiver, acknowledged, until every earlier PSN
 * of its connection has arrived.  These tests pin down what becomes of such held messages
 * when the gap is never filled (the sender's retry budget runs out: the RESET delivers them;
 * the RESET is lost: the idle timer does), when the engine is destroyed (they are aborted),
 * and when the gap is filled late (an RNR, a refused message).  The way things should go
 * under loss and reordering is in test_engine.c (test_ordered_*).
 *
 * The harness (struct env, the callbacks and their exactly-once and order checks) is in
 * harness.h.
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
#include "link.h"
#include "srd_core.h"
#include "wire.h" /* srd_wire_decode() for the filters */

#define NMSG 4u

/* What the filter of these tests drops. */
static int drop_resets; /* 1: RESET packets from A are lost too */

/* Drop every data packet of message 0 (A to B), and A's RESETs if drop_resets. */
static enum link_verdict filter_lose_msg0(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	struct srd_pkt p;

	(void)l, (void)n, (void)extra, (void)ce;
	if (from != A)
		return LINK_PASS;
	if (m->type == SRD_PKT_RESET && drop_resets)
		return LINK_DROP;
	if (m->type == SRD_PKT_DATA && srd_wire_decode(pkt, len, &p) == 0 &&
	    p.u.data.tag == (TAG_BASE | 0))
		return LINK_DROP;
	return LINK_PASS;
}

/* Messages delivered by B (the side's counter). */
static uint32_t delivered_b(struct env *e)
{
	return e->side[B].delivered;
}

/* Ordered messages B holds for A, from srd_conn_info. */
static uint32_t held_at_b(struct env *e)
{
	struct srd_conn_info ci;

	if (srd_conn_info(e->l->eng[B], A, &ci, NULL, 0) < 0)
		return 0;
	return ci.rx_held;
}

/* link_run predicate: every message but the first has its tx_done. */
static int all_but_first_done(void *arg)
{
	struct env *e = arg;

	return e->side[A].tx_done >= NMSG - 1;
}

/* An environment with NMSG ordered messages of 3000 bytes sent A to B, message 0 lost for
 * good: messages 1.. complete and wait at B.  cfg_b may be NULL. */
static struct env *held_env(const struct srd_config *cfg_b)
{
	struct env *e = env_new(NULL, cfg_b);

	env_msgs(e, NMSG);
	for (uint32_t i = 0; i < NMSG; i++) {
		msg_fill(e, i, 3000, 0, NULL);
		e->msgs[i].dst_ep = 200; /* one destination endpoint */
		e->msgs[i].flags = SRD_SEND_ORDERED;
	}
	e->strict_order = 1;
	e->l->filter = filter_lose_msg0;
	for (uint32_t i = 0; i < NMSG; i++)
		assert_int_equal(msg_send(e, i), 0);
	/* messages 1.. are acked (done at A) but not delivered: they wait for message 0 */
	assert_true(link_run(e->l, all_but_first_done, e, e->l->now + 5 * MS));
	assert_int_equal(e->side[A].tx_done_status[0], NMSG - 1);
	assert_int_equal(delivered_b(e), 0);
	assert_int_equal(held_at_b(e), NMSG - 1);
	assert_int_equal(stats(e, B).msgs_held, NMSG - 1);
	return e;
}

/* Messages 1.. delivered once each, in order, message 0 failed and never delivered. */
static void check_held_delivered(struct env *e, int status0)
{
	assert_no_errors(e);
	assert_int_equal(e->msgs[0].done_calls, 1);
	assert_int_equal(e->msgs[0].status, status0);
	assert_int_equal(e->msgs[0].delivered, 0);
	for (uint32_t i = 1; i < NMSG; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, 0);
		assert_int_equal(e->msgs[i].delivered, 1);
	}
	assert_int_equal(held_at_b(e), 0);
	assert_int_equal(e->side[B].rx_bufs, 0);
}

/* The sender's retry budget runs out for message 0: its connection resets, the RESET
 * reaches B, and B delivers the held messages (they were acked) rather than dropping
 * them. */
static void test_held_delivered_at_reset(void **state)
{
	struct env *e;

	(void)state;
	drop_resets = 0;
	e = held_env(NULL);
	assert_true(link_run(e->l, all_done, e, 2000 * MS));
	run_idle(e, 1 * MS);
	check_held_delivered(e, -ETIMEDOUT);
	assert_true(stats(e, B).conns_reset >= 1);
	env_free(e);
}

/* The same with the RESET lost too: B hears nothing more and, once its idle time (longer
 * than any sender's retry budget) has passed, delivers the held messages and closes. */
static void test_held_delivered_when_idle(void **state)
{
	struct srd_config cb;
	struct env *e;

	(void)state;
	env_cfg_default(&cb, B);
	cb.conn_idle_ns = srd_retry_budget_ns(&cb) + 10 * MS;
	drop_resets = 1;
	e = held_env(&cb);
	assert_true(link_run(e->l, all_done, e, 2000 * MS));
	assert_int_equal(delivered_b(e), 0); /* A gave up; B has not noticed yet */
	run_idle(e, cb.conn_idle_ns + 10 * MS);
	check_held_delivered(e, -ETIMEDOUT);
	assert_int_equal(stats(e, B).conns_reset, 0);
	assert_int_equal(stats(e, B).conns_closed, 1);
	env_free(e);
}

/* Destroying the engine aborts held messages: their buffers come back, nothing is
 * delivered. */
static void test_held_aborted_at_destroy(void **state)
{
	struct env *e;

	(void)state;
	drop_resets = 0;
	e = held_env(NULL);
	srd_engine_destroy(e->l->eng[B]);
	e->l->eng[B] = NULL;
	assert_int_equal(e->side[B].aborted, NMSG - 1);
	assert_int_equal(e->side[B].delivered, 0);
	assert_int_equal(e->side[B].rx_bufs, 0);
	assert_no_errors(e);
	env_free(e);
}

/* B has no buffer for message 0 at first (RNR): the later messages get buffers, complete
 * and wait; message 0's resend fills the gap and all are delivered in order. */
static void test_held_behind_rnr(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, NMSG);
	for (uint32_t i = 0; i < NMSG; i++) {
		msg_fill(e, i, 3000, 0, NULL);
		e->msgs[i].flags = SRD_SEND_ORDERED;
	}
	e->strict_order = 1;
	e->side[B].alloc_fail_first = 1;
	for (uint32_t i = 0; i < NMSG; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 100 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_true(stats(e, A).rnr_received >= 1);
	assert_int_equal(stats(e, B).msgs_held, NMSG - 1);
	env_free(e);
}

/* An ordered message to a missing endpoint is refused (-ENXIO); the ordered messages after
 * it, to an endpoint that exists, are delivered in order once its PSNs are given up
 * (ABANDON), which may be before the sender learns of the refusal (so no strict_order). */
static void test_ordered_after_refusal(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, NMSG);
	for (uint32_t i = 0; i < NMSG; i++) {
		msg_fill(e, i, 10000, 0, NULL);
		e->msgs[i].dst_ep = i == 0 ? 299 : 200;
		e->msgs[i].flags = SRD_SEND_ORDERED;
	}
	e->side[B].no_ep = 299;
	for (uint32_t i = 0; i < NMSG; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 100 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	assert_int_equal(e->msgs[0].status, -ENXIO);
	assert_int_equal(e->msgs[0].delivered, 0);
	for (uint32_t i = 1; i < NMSG; i++) {
		assert_int_equal(e->msgs[i].status, 0);
		assert_int_equal(e->msgs[i].delivered, 1);
		assert_int_equal(e->msgs[i].delivery_seq, i);
	}
	assert_int_equal(held_at_b(e), 0);
	env_free(e);
}

/* srd_send refuses flags it does not know. */
static void test_unknown_send_flag(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 1);
	msg_fill(e, 0, 10, 0, NULL);
	e->msgs[0].flags = 0x2;
	assert_int_equal(msg_send(e, 0), -EINVAL);
	assert_int_equal(stats(e, A).msgs_accepted, 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_held_delivered_at_reset, teardown),
		cmocka_unit_test_teardown(test_held_delivered_when_idle, teardown),
		cmocka_unit_test_teardown(test_held_aborted_at_destroy, teardown),
		cmocka_unit_test_teardown(test_held_behind_rnr, teardown),
		cmocka_unit_test_teardown(test_ordered_after_refusal, teardown),
		cmocka_unit_test_teardown(test_unknown_send_flag, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
