/*
 * test_engine_errors.c — the protocol core end to end when things go wrong: two engines
 * joined back to back by tests/unit/link.h, time moved by hand, a filter dropping or
 * delaying packets.
 *
 * This file: an unreachable peer (the retry budget), a receiver not ready (RNR), a message
 * too big for the receiver, a peer restart, destroying an engine with messages in flight,
 * srd_send() errors, and regression tests for core bugs (test_bug_*).  The way things should
 * go is in test_engine.c.
 *
 * The tests named test_bug_*, and the time bound of test_peer_unreachable, fail against the
 * core as it is: each documents a core bug (see the comment above each) and passes once it is
 * fixed.
 *
 * The harness (struct env, the callbacks and their exactly-once checks, message records) is
 * in harness.h.
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

#include "cc.h" /* SRD_CWND_ONE */
#include "harness.h"
#include "link.h"
#include "srd_core.h"
#include "wire.h" /* srd_wire_decode() for the filters */

/* ---- helpers of these tests ---- */


/* Replace side s's engine by a fresh one with the default config, epoch and seed (a
 * restart). */
static void env_restart(struct env *e, int s, uint16_t epoch, uint64_t seed)
{
	char err[128];

	srd_engine_destroy(e->l->eng[s]);
	env_cfg_default(&e->cfg[s], s);
	e->cfg[s].epoch = epoch;
	e->cfg[s].seed = seed;
	e->l->eng[s] = NULL;
	if (srd_engine_create(&e->cfg[s], &e->cb[s], &e->l->eng[s], err, sizeof(err)) != 0)
		fail_msg("restart of %d: %s", s, err);
}

/* Every message in [wait_lo, wait_hi) has its tx_done. */
static int range_done(void *arg)
{
	struct env *e = arg;

	for (uint32_t i = e->wait_lo; i < e->wait_hi; i++)
		if (!e->msgs[i].done_calls)
			return 0;
	return 1;
}

/* Run the link until messages [lo, hi) all have their tx_done (1) or limit passes (0). */
static int run_until_done(struct env *e, uint32_t lo, uint32_t hi, uint64_t limit)
{
	e->wait_lo = lo;
	e->wait_hi = hi;
	return link_run(e->l, range_done, e, limit);
}

/* ---- 1. peer unreachable ---- */

static enum link_verdict filter_drop_a(struct link *l, int from, const struct srd_tx_meta *m,
				       const uint8_t *pkt, uint32_t len, uint64_t n,
				       uint64_t *extra, unsigned *ce)
{
	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	filter_count_a_data(l->filter_arg, from, m);
	return from == A ? LINK_DROP : LINK_PASS;
}

/*
 * The retry budget of one packet: it is sent, then resent max_retries times, each time one
 * RTO after the previous transmission, and fails when the RTO after the last one expires.
 * With no RTT sample the RTO starts at max(min_rto, 3 * init_rtt) and doubles up to max_rto.
 */
static uint64_t retry_budget_ns(const struct srd_config *c)
{
	uint64_t rto = 3 * c->init_rtt_ns, total = 0;

	if (rto < c->min_rto_ns)
		rto = c->min_rto_ns;
	for (uint32_t k = 0; k <= c->max_retries; k++) {
		total += rto < c->max_rto_ns ? rto : c->max_rto_ns;
		if (rto < c->max_rto_ns)
			rto *= 2;
	}
	return total;
}

static void test_peer_unreachable(void **state)
{
	static const uint32_t sizes[] = { 1, 10000, 0, 100000, 4096 };
	struct env *e = env_new(NULL, NULL);
	uint64_t budget = retry_budget_ns(&e->cfg[A]);

	(void)state;
	env_msgs(e, 5);
	for (uint32_t i = 0; i < 5; i++)
		msg_fill(e, i, sizes[i], 0, NULL);
	e->l->filter = filter_drop_a;
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(msg_send(e, i), 0);
	/* 5 messages, 31 packets: all fit in the first window, so every packet's budget starts
	 * at time 0; allow one max_rto of slack on top of the budget (72.7 ms by default) */
	uint64_t bound = budget + e->cfg[A].max_rto_ns;
	/* run long enough to see the failures however late they come, judge the time last */
	int ok = link_run(e->l, all_done, e, 100 * bound);
	uint64_t first = UINT64_MAX, last = 0;

	assert_true(ok);
	assert_no_errors(e);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, -ETIMEDOUT);
		assert_int_equal(e->msgs[i].delivered, 0);
		if (e->msgs[i].done_at > last)
			last = e->msgs[i].done_at;
		if (e->msgs[i].done_at < first)
			first = e->msgs[i].done_at;
	}
	run_idle(e, 10 * MS);
	assert_int_equal(e->side[A].tx_done, 5);
	assert_int_equal(e->side[B].delivered, 0);
	struct srd_stats sa = stats(e, A);
	assert_int_equal(sa.msgs_failed, 5);
	assert_true(sa.conns_reset >= 1);
	print_message("      unreachable: budget %llu us, bound %llu us, tx_done at %llu us "
		      "(%llu RTOs, %llu retransmissions)\n",
		      (unsigned long long)(budget / US), (unsigned long long)(bound / US),
		      (unsigned long long)(last / US), (unsigned long long)sa.rto_events,
		      (unsigned long long)sa.tx_retx_pkts);
	/* not before the budget of a packet is spent, not much later */
	assert_true(first >= budget / 2);
	if (last > bound)
		fail_msg("peer unreachable declared after %llu us, bound %llu us "
			 "(tx.c:on_rto loses one packet per timeout; retries counted per packet)",
			 (unsigned long long)(last / US), (unsigned long long)(bound / US));
	env_free(e);
}

/* A single one-packet message: its budget is exactly the schedule above. */
static void test_peer_unreachable_one_packet(void **state)
{
	struct env *e = env_new(NULL, NULL);
	uint64_t budget = retry_budget_ns(&e->cfg[A]);

	(void)state;
	env_msgs(e, 1);
	msg_fill(e, 0, 100, 0, NULL);
	e->l->filter = filter_drop_a;
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 10 * budget));
	assert_no_errors(e);
	assert_int_equal(e->msgs[0].done_calls, 1);
	assert_int_equal(e->msgs[0].status, -ETIMEDOUT);
	/* one first transmission and max_retries retransmissions */
	assert_int_equal(e->a_data_pkts, 1 + e->cfg[A].max_retries);
	assert_true(e->msgs[0].done_at >= budget);
	assert_true(e->msgs[0].done_at <= budget + 10 * US);
	env_free(e);
}

/* ---- 2. receiver not ready ---- */

static void test_rnr_then_ready(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	e->side[B].alloc_fail_first = 5;
	env_msgs(e, 2);
	msg_fill(e, 0, 40000, 0, NULL); /* 10 packets */
	msg_fill(e, 1, 1, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	/* five refusals, then one buffer per message */
	assert_int_equal(e->side[B].alloc_calls, 5 + 2);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_true(sa.rnr_received > 0);
	assert_true(sb.tx_nacks > 0);
	assert_int_equal(sb.drops[SRD_DROP_NO_BUFFER], 5);
	env_free(e);
}

static void test_rnr_forever(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	e->side[B].alloc_fail_always = 1;
	env_msgs(e, 2);
	msg_fill(e, 0, 1, 0, NULL);
	msg_fill(e, 1, 20000, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 5000 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, -ENOBUFS);
		assert_int_equal(e->msgs[i].delivered, 0);
	}
	struct srd_stats sa = stats(e, A);
	assert_true(sa.rnr_received > e->cfg[A].max_rnr_retries);
	assert_int_equal(e->side[B].delivered, 0);
	assert_int_equal(stats(e, B).rx_slots_used, 0);
	/* max_rnr_retries rounds, the wait doubling from rnr_delay up to 1024 times it */
	uint64_t bound = 0;

	for (uint32_t i = 0; i <= e->cfg[A].max_rnr_retries; i++)
		bound += (e->cfg[A].rnr_delay_ns << (i < 10 ? i : 10)) + 20 * US;
	print_message("      rnr forever: -ENOBUFS at %llu us (bound %llu us)\n",
		      (unsigned long long)(e->msgs[0].done_at / US),
		      (unsigned long long)(bound / US));
	assert_true(e->msgs[0].done_at <= bound);
	env_free(e);
}

/* One refusal of a flight is one retry: every packet of a large message in flight comes
 * back NACKed, and those NACKs must neither spend max_rnr_retries (3 here) nor stretch the
 * wait, or a receiver short of a buffer for a moment fails the connection. */
static void test_rnr_flight_is_one_refusal(void **state)
{
	struct srd_config ca;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	ca.max_rnr_retries = 3;
	e = env_new(&ca, NULL);
	e->side[B].alloc_fail_first = 12;
	env_msgs(e, 1);
	msg_fill(e, 0, 160000, 0, NULL); /* 40 packets */
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_int_equal(e->side[B].alloc_calls, 12 + 1);
	assert_true(stats(e, A).rnr_received > ca.max_rnr_retries);
	/* the waits did not double past a few rounds of rnr_delay */
	assert_true(e->msgs[0].done_at < 8 * ca.rnr_delay_ns);
	print_message("      rnr flight: %llu NACKs, delivered at %llu us\n",
		      (unsigned long long)stats(e, A).rnr_received,
		      (unsigned long long)(e->msgs[0].done_at / US));
	env_free(e);
}

/* max_rnr_retries 0: a sender waits for a receiver that keeps answering RNR as long as it
 * takes (what MPI over libfabric expects of FI_RM_ENABLED), here 300 refusals, over 10 s. */
static void test_rnr_unbounded(void **state)
{
	struct srd_config ca;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	ca.max_rnr_retries = 0;
	e = env_new(&ca, NULL);
	e->side[B].alloc_fail_first = 300;
	env_msgs(e, 2);
	msg_fill(e, 0, 1, 0, NULL);
	msg_fill(e, 1, 20000, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 60000 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_true(stats(e, A).rnr_received >= 300);
	assert_true(stats(e, A).rnr_received > 64); /* past the default budget */
	print_message("      rnr unbounded: delivered at %llu ms after %llu RNRs\n",
		      (unsigned long long)(e->msgs[0].done_at / MS),
		      (unsigned long long)stats(e, A).rnr_received);
	env_free(e);
}

/* Every NACK takes 15 ms to come back: longer than max_rto. */
static enum link_verdict slow_nacks(struct link *l, int from, const struct srd_tx_meta *m,
				    const uint8_t *pkt, uint32_t len, uint64_t n, uint64_t *extra,
				    unsigned *ce)
{
	(void)l; (void)from; (void)pkt; (void)len; (void)n; (void)ce;
	if (m->type == SRD_PKT_NACK)
		*extra = 15 * MS;
	return LINK_PASS;
}

/* A receiver that answers, but later than the RTO (a busy host): each NACK finds its packet
 * already resent after a timeout.  It still proves the peer alive, so the timeouts must not
 * spend the retry budget: before, 60 refusals answered 15 ms late failed the message with
 * -ETIMEDOUT after max_retries timeouts, although the peer had answered every copy. */
static void test_rnr_answers_after_rto(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	assert_true(15 * MS > e->cfg[A].max_rto_ns);
	e->side[B].alloc_fail_first = 60;
	assert_true(60 > e->cfg[A].max_retries);
	env_msgs(e, 1);
	msg_fill(e, 0, 1000, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	e->l->filter = slow_nacks;
	assert_true(link_run(e->l, all_done, e, 5000 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_int_equal(stats(e, A).conns_timed_out, 0);
	print_message("      NACKs 15 ms late: delivered at %llu ms after %u refusals\n",
		      (unsigned long long)(e->msgs[0].done_at / MS), e->side[B].alloc_calls - 1);
	env_free(e);
}

/* ---- 3. message too big for the receiver ---- */

/* Drop every NACK: the refusal must still reach the sender (through the acks' max_msg). */
static enum link_verdict drop_nacks(struct link *l, int from, const struct srd_tx_meta *m,
				    const uint8_t *pkt, uint32_t len, uint64_t n, uint64_t *extra,
				    unsigned *ce)
{
	(void)l; (void)from; (void)pkt; (void)len; (void)n; (void)extra; (void)ce;
	return m->type == SRD_PKT_NACK ? LINK_DROP : LINK_PASS;
}

/* After a test's messages: forget them, send one more on the same connection, and check it
 * arrives. */
static void send_one_more(struct env *e)
{
	free_msgs(e);
	e->ndone = 0;
	memset(e->side[A].tx_done_status, 0, sizeof(e->side[A].tx_done_status));
	e->side[B].delivered = 0;
	env_msgs(e, 1);
	msg_fill(e, 0, 777, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, e->l->now + 10 * MS));
	check_all_ok(e);
}

static void test_msg_too_big_nack_lost(void **state)
{
	struct srd_config cb;
	struct env *e;

	(void)state;
	env_cfg_default(&cb, B);
	cb.max_msg_size = 1000;
	e = env_new(NULL, &cb);
	e->l->filter = drop_nacks;
	env_msgs(e, 2);
	msg_fill(e, 0, 5000, 0, NULL); /* refused; its NACK is lost */
	msg_fill(e, 1, 10, 0, NULL);
	for (uint32_t i = 0; i < 2; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	run_idle(e, 1 * MS);
	assert_int_equal(e->msgs[0].done_calls, 1);
	assert_int_equal(e->msgs[0].status, -EMSGSIZE); /* never "delivered" */
	assert_int_equal(e->msgs[0].delivered, 0);
	assert_int_equal(e->msgs[1].status, 0);
	assert_int_equal(e->msgs[1].delivered, 1);
	assert_true(e->l->dropped >= 1); /* a NACK was really lost */
	env_free(e);
}

static void test_msg_too_big_for_receiver(void **state)
{
	struct srd_config cb;
	struct env *e;

	(void)state;
	env_cfg_default(&cb, B);
	cb.max_msg_size = 1000;
	e = env_new(NULL, &cb);
	env_msgs(e, 4);
	msg_fill(e, 0, 5000, 0, NULL);  /* 2 packets, refused */
	msg_fill(e, 1, MIB, 0, NULL);   /* 256 packets, refused after a window */
	msg_fill(e, 2, 1000, 0, NULL);  /* exactly the limit */
	msg_fill(e, 3, 1, 0, NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, -EMSGSIZE);
		assert_int_equal(e->msgs[i].delivered, 0);
	}
	for (uint32_t i = 2; i < 4; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, 0);
		assert_int_equal(e->msgs[i].delivered, 1);
	}
	assert_int_equal(e->side[B].alloc_calls, 2); /* never asked for the refused ones */
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_true(sb.drops[SRD_DROP_MSG_TOO_BIG] >= 2);
	assert_true(sa.tx_data_pkts < 256); /* stopped sending the 1 MiB one */
	assert_int_equal(sa.conns_reset, 0);

	send_one_more(e); /* the connection survives */
	assert_int_equal(stats(e, A).conns_reset, 0);
	env_free(e);
}

/* ---- 3b. no such endpoint at the receiver ---- */

/* Drop the first *(uint32_t *)filter_arg NACKs (counting down). */
static enum link_verdict drop_first_nacks(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	uint32_t *left = l->filter_arg;

	(void)from; (void)pkt; (void)len; (void)n; (void)extra; (void)ce;
	if (m->type != SRD_PKT_NACK || *left == 0)
		return LINK_PASS;
	(*left)--;
	return LINK_DROP;
}

/* Messages for an endpoint the receiver does not have fail with -ENXIO and are never
 * delivered; the others, before and after, go through; nothing resets.  With the refusing
 * NACKs lost (drop_nacks > 0) the refusal still arrives: the receiver does not take a
 * refused PSN, so the sender resends it until a NACK gets through. */
static void no_endpoint(uint32_t drop_nacks, uint32_t refused_len)
{
	uint32_t left = drop_nacks;
	struct env *e;

	e = env_new(NULL, NULL);
	e->side[B].no_ep = 201; /* messages 1 and 6 (dst_ep 200 + idx % 5) */
	if (drop_nacks) {
		e->l->filter = drop_first_nacks;
		e->l->filter_arg = &left;
	}
	env_msgs(e, 8);
	for (uint32_t i = 0; i < 8; i++)
		msg_fill(e, i, i == 1 ? refused_len : i == 6 ? 0 : 3000 + i, 0, NULL);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	for (uint32_t i = 0; i < 8; i++) {
		int refused = i == 1 || i == 6;

		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, refused ? -ENXIO : 0);
		assert_int_equal(e->msgs[i].delivered, !refused);
	}
	struct srd_stats sa = stats(e, A), sb = stats(e, B);

	assert_true(sb.drops[SRD_DROP_NO_ENDPOINT] >= 2);
	assert_true(sa.tx_data_pkts < 256 + 32); /* stopped sending the 1 MiB one early */
	assert_int_equal(sa.conns_reset, 0);
	assert_int_equal(sb.conns_reset, 0);
	assert_int_equal(e->side[B].rx_bufs, 0);
	assert_int_equal(left, 0); /* the NACKs to drop were really sent and dropped */
	print_message("      no endpoint (%u NACKs lost): done at %llu us, %llu data packets\n",
		      drop_nacks, (unsigned long long)(e->msgs[1].done_at / US),
		      (unsigned long long)sa.tx_data_pkts);

	send_one_more(e); /* the connection goes on */
	env_free(e);
}

static void test_no_endpoint(void **state)
{
	(void)state;
	no_endpoint(0, MIB);
}

static void test_no_endpoint_nacks_lost(void **state)
{
	(void)state;
	no_endpoint(3, MIB);
	/* one-packet refused messages whose NACKs are lost: only timeouts bring them back */
	no_endpoint(4, 100);
}

/*
 * A burst of one-packet messages, one in five for the missing endpoint, all in flight at
 * once: every refusal is NACKed (a queue of them per connection, not only the last), so
 * each refused message costs its packet and one ABANDON resend, not a train of resends.
 */
static void test_no_endpoint_burst(void **state)
{
	const uint32_t n = 60, refused = 12;
	struct env *e = env_new(NULL, NULL);
	struct srd_stats sa;

	(void)state;
	e->side[B].no_ep = 201; /* dst_ep 200 + idx % 5: messages 1, 6, 11, ... */
	e->l->gap_ns = 0;       /* the whole burst arrives before the receiver sends anything */
	env_msgs(e, n);
	for (uint32_t i = 0; i < n; i++)
		msg_fill(e, i, 100, 0, NULL);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(e->msgs[i].status, i % 5 == 1 ? -ENXIO : 0);
		assert_int_equal(e->msgs[i].delivered, i % 5 != 1);
	}
	sa = stats(e, A);
	print_message("      burst of %u, %u refused: %llu data packets, %llu NACKs, done at %llu us\n",
		      n, refused, (unsigned long long)sa.tx_data_pkts,
		      (unsigned long long)stats(e, B).tx_nacks,
		      (unsigned long long)(e->l->now / US));
	assert_true(sa.tx_data_pkts <= n + 2 * refused);
	send_one_more(e);
	env_free(e);
}

/* The endpoint opens while a message's refusal is on its way back (from the review of the
 * NO_EP change).  1: the first copy is refused, its NACK is slow, a resend is taken and
 * delivered: the late NACK (about the earlier copy) must not fail the delivered message.
 * 2: a three-segment message whose first segment was refused; the third arrives after the
 * ABANDON resend, once the endpoint exists: it must not open a slot that never fills. */
static int nacks_seen, data_seen;
static uint64_t nack_delay, ack_delay, seg_delay;

static enum link_verdict late_nack(struct link *l, int from, const struct srd_tx_meta *m,
				   const uint8_t *pkt, uint32_t len, uint64_t n, uint64_t *extra,
				   unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt; (void)len; (void)n; (void)ce;
	if (from == B && m->type == SRD_PKT_NACK && nacks_seen++ == 0) {
		e->side[B].no_ep = 0; /* the app opens its endpoint now */
		*extra = nack_delay;
	}
	if (from == B && m->type == SRD_PKT_ACK)
		*extra = ack_delay;
	return LINK_PASS;
}

static void test_no_endpoint_late_nack(void **state)
{
	struct env *e;

	(void)state;
	for (int k = 0; k < 3; k++) {
		nacks_seen = 0;
		nack_delay = (uint64_t)(100 + 200 * k) * US;
		ack_delay = 2 * nack_delay;
		e = env_new(NULL, NULL);
		e->side[B].no_ep = 200;
		e->l->filter = late_nack;
		e->l->filter_arg = e;
		env_msgs(e, 1);
		msg_fill(e, 0, 100, 0, NULL); /* dst_ep 200 */
		assert_int_equal(msg_send(e, 0), 0);
		assert_true(link_run(e->l, all_done, e, 500 * MS));
		run_idle(e, 1 * MS);
		assert_no_errors(e);
		assert_int_equal(e->msgs[0].done_calls, 1);
		/* delivered and reported delivered, or neither */
		if (e->msgs[0].delivered)
			assert_int_equal(e->msgs[0].status, 0);
		else
			assert_int_equal(e->msgs[0].status, -ENXIO);
		env_free(e);
	}
}

static enum link_verdict late_segment(struct link *l, int from, const struct srd_tx_meta *m,
				      const uint8_t *pkt, uint32_t len, uint64_t n,
				      uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt; (void)len; (void)n; (void)ce;
	if (from == B && m->type == SRD_PKT_NACK)
		e->side[B].no_ep = 0;
	if (from == A && m->type == SRD_PKT_DATA && data_seen++ == 2)
		*extra = seg_delay; /* the third segment comes late */
	return LINK_PASS;
}

static void test_no_endpoint_late_segment(void **state)
{
	struct env *e;
	struct srd_stats sb;

	(void)state;
	for (int k = 0; k < 4; k++) {
		static const uint64_t delays[] = { 1000, 5 * US, 20 * US, 1000 * US };

		data_seen = 0;
		seg_delay = delays[k];
		e = env_new(NULL, NULL);
		e->side[B].no_ep = 200;
		e->l->filter = late_segment;
		e->l->filter_arg = e;
		env_msgs(e, 1);
		msg_fill(e, 0, 3 * 4096, 0, NULL);
		assert_int_equal(msg_send(e, 0), 0);
		assert_true(link_run(e->l, all_done, e, 500 * MS));
		run_idle(e, 20 * MS);
		assert_no_errors(e);
		sb = stats(e, B);
		assert_int_equal(e->msgs[0].done_calls, 1);
		assert_int_equal(e->msgs[0].status, -ENXIO);
		assert_int_equal(e->msgs[0].delivered, 0);
		assert_int_equal(sb.rx_slots_used, 0); /* no slot left that nothing would fill */
		assert_int_equal(e->side[B].rx_bufs, 0);
		env_free(e);
	}
}

/* ---- 4. peer restart ---- */

static int b_has_partial(void *arg)
{
	struct env *e = arg;
	struct srd_stats sb = stats(e, B);
	struct srd_conn_info ia;

	return sb.rx_data_pkts >= 64 && sb.rx_slots_used > 0 &&
	       srd_conn_info(e->l->eng[A], B, &ia, NULL, 0) >= 0 && ia.peer_id != 0;
}

static void test_peer_restart(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 5);
	msg_fill(e, 0, 3000, 0, NULL);   /* completes before the restart */
	msg_fill(e, 1, MIB, 0, NULL);    /* in flight at the restart */
	msg_fill(e, 2, 50000, 0, NULL);  /* queued behind it */
	msg_fill(e, 3, 1, 0, NULL);      /* queued behind it */
	msg_fill(e, 4, 9000, 0, NULL);   /* sent to the new B */

	assert_int_equal(msg_send(e, 0), 0);
	assert_true(run_until_done(e, 0, 1, 10 * MS));
	assert_int_equal(e->msgs[0].status, 0);
	assert_int_equal(e->msgs[0].delivered, 1);
	for (uint32_t i = 1; i <= 3; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, b_has_partial, e, e->l->now + 10 * MS));
	assert_int_equal(e->msgs[1].done_calls, 0);

	/* B dies with packets in flight; a new B (new epoch) takes its place */
	link_clear(e->l);
	env_restart(e, B, 3, 0x3333);
	assert_int_equal(e->side[B].aborted, 1); /* the partial 1 MiB message */
	assert_int_equal(e->side[B].rx_bufs, 0);

	assert_true(run_until_done(e, 1, 4, e->l->now + 100 * MS));
	assert_no_errors(e);
	/*
	 * A learns of the restart at its first retransmission (one RTO, about 100 us): the new
	 * B does not know the old connection id and answers with a RESET, which fails every
	 * message of the connection with -ECONNRESET.  -ETIMEDOUT would need the whole retry
	 * budget (tens of ms) and only happens if the RESETs are lost.
	 */
	for (uint32_t i = 1; i <= 3; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, -ECONNRESET);
		assert_int_equal(e->msgs[i].delivered, 0);
	}
	struct srd_stats sb = stats(e, B);
	assert_true(sb.tx_resets >= 1);
	assert_true(sb.drops[SRD_DROP_UNKNOWN_CONN] >= 1);
	assert_int_equal(sb.msgs_delivered, 0);

	/* a new message reaches the new B */
	assert_int_equal(msg_send(e, 4), 0);
	assert_true(run_until_done(e, 4, 5, e->l->now + 10 * MS));
	run_idle(e, 2 * MS);
	assert_no_errors(e);
	assert_int_equal(e->msgs[4].done_calls, 1);
	assert_int_equal(e->msgs[4].status, 0);
	assert_int_equal(e->msgs[4].delivered, 1);
	assert_int_equal(e->msgs[0].delivered, 1); /* never again */
	for (uint32_t i = 1; i <= 3; i++)
		assert_int_equal(e->msgs[i].delivered, 0);
	assert_int_equal(e->side[A].tx_done, 5);
	env_free(e);
}

/* A message the receiver refused (no endpoint) is remembered by its id until the sender
 * abandons it; a restarted sender numbers its messages afresh, so that memory must end
 * with the incarnation, or the new one's message with the same id is refused too. */
static void test_abandoned_id_forgotten_on_restart(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 6);
	msg_fill(e, 0, 100, 0, NULL); /* dst_ep 200: refused */
	msg_fill(e, 5, 100, 0, NULL); /* dst_ep 200 too, from the new A */
	e->side[B].no_ep = 200;
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(run_until_done(e, 0, 1, 10 * MS));
	assert_int_equal(e->msgs[0].status, -ENXIO);
	run_idle(e, MS);

	e->side[B].no_ep = 0; /* B's app opens the endpoint; A restarts */
	link_clear(e->l);
	env_restart(e, A, 5, 0x5555);
	assert_int_equal(msg_send(e, 5), 0);
	assert_true(run_until_done(e, 5, 6, e->l->now + 100 * MS));
	run_idle(e, 2 * MS);
	assert_no_errors(e);
	assert_int_equal(e->msgs[5].status, 0);
	assert_int_equal(e->msgs[5].delivered, 1);
	assert_int_equal(e->msgs[0].delivered, 0);
	env_free(e);
}

/* ---- 5. destroy with messages in flight ---- */

static void test_destroy_in_flight(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 4);
	msg_fill(e, 0, 2 * MIB, 0, NULL);
	msg_fill(e, 1, 300000, 0, NULL);
	msg_fill(e, 2, 0, 0, NULL);
	msg_fill(e, 3, 1, 0, NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, b_has_partial, e, 10 * MS));
	assert_int_equal(e->ndone, 0);
	uint64_t partial = stats(e, B).rx_slots_used;

	assert_true(partial >= 1);
	srd_engine_destroy(e->l->eng[A]);
	e->l->eng[A] = NULL;
	assert_no_errors(e);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(e->msgs[i].done_calls, 1);
		assert_int_equal(e->msgs[i].status, -ECANCELED);
		assert_int_equal(e->msgs[i].delivered, 0);
	}
	assert_int_equal(e->side[A].tx_done_status[5], 4);
	srd_engine_destroy(e->l->eng[B]);
	e->l->eng[B] = NULL;
	assert_true(e->side[B].aborted == partial);
	assert_int_equal(e->side[B].rx_bufs, 0);
	assert_int_equal(e->side[A].tx_done, 4); /* nothing more */
	env_release(e);
}

/* ---- 6. srd_send errors ---- */

static void test_send_errors(void **state)
{
	static uint8_t byte[16];
	struct srd_config ca;
	struct env *e;
	struct srd_iov iov[SRD_MAX_IOV + 1];
	struct srd_send_req req;
	int dummy;

	(void)state;
	env_cfg_default(&ca, A);
	ca.max_tx_msgs = 64; /* the queue filled below */
	e = env_new(&ca, NULL);
	for (uint32_t i = 0; i <= SRD_MAX_IOV; i++)
		iov[i] = (struct srd_iov){ byte, 1 };
	req = (struct srd_send_req){ .peer = B, .iov = iov, .iovcnt = 1, .ctx = &dummy };

	req.iovcnt = 0;
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EINVAL);
	req.iovcnt = SRD_MAX_IOV + 1;
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EINVAL);
	req.iovcnt = 3;
	iov[1] = (struct srd_iov){ NULL, 5 };
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EINVAL);
	req.iov = NULL;
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EINVAL);
	req.iov = iov;
	/* longer than max_msg_size, over several entries (the bytes are never read) */
	iov[0] = (struct srd_iov){ byte, 8 * MIB };
	iov[1] = (struct srd_iov){ byte, 8 * MIB };
	iov[2] = (struct srd_iov){ byte, 1 };
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EMSGSIZE);
	iov[0] = (struct srd_iov){ byte, 0xffffffffu };
	iov[1] = (struct srd_iov){ byte, 0xffffffffu };
	iov[2] = (struct srd_iov){ byte, 2 }; /* sums to 2^33: must not wrap to a small length */
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -EMSGSIZE);
	/* nothing accepted so far, and no connection was made for those */
	assert_int_equal(stats(e, A).msgs_accepted, 0);
	assert_int_equal(srd_conn_info(e->l->eng[A], B, &(struct srd_conn_info){ 0 }, NULL, 0),
			 -ENOENT);

	/* the queue holds max_tx_msgs messages */
	env_msgs(e, 65);
	for (uint32_t i = 0; i < 65; i++)
		msg_fill(e, i, 1, 0, NULL);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_int_equal(msg_send(e, 64), -EAGAIN);
	assert_int_equal(e->side[A].tx_done, 0);
	assert_int_equal(stats(e, A).msgs_accepted, 64);
	/* they are still delivered, and then there is room again */
	assert_true(run_until_done(e, 0, 64, 10 * MS));
	link_step(e->l); /* see test_bug_tx_slot_held_after_tx_done */
	assert_int_equal(msg_send(e, 64), 0);
	assert_true(link_run(e->l, all_done, e, e->l->now + 10 * MS));
	check_all_ok(e);
	env_free(e);

	/* a table of one connection */
	env_cfg_default(&ca, A);
	ca.max_conns = 1;
	e = env_new(&ca, NULL);
	env_msgs(e, 1);
	msg_fill(e, 0, 1, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	iov[0] = (struct srd_iov){ byte, 1 };
	req = (struct srd_send_req){ .peer = 2, .iov = iov, .iovcnt = 1, .ctx = &dummy };
	assert_int_equal(srd_send(e->l->eng[A], 0, &req), -ENOSPC);
	req.peer = B; /* the existing peer still works */
	assert_true(link_run(e->l, all_done, e, 10 * MS));
	check_all_ok(e);
	env_free(e);
}

/* ---- core bugs found while writing these tests (these fail until fixed) ---- */

/*
 * srd_send() documents -EAGAIN as "the queue (max_tx_msgs) is full: retry after a tx_done",
 * and max_tx_msgs as "messages queued or in flight".  But a completed message's slot is only
 * reclaimed when msg_cur has moved past it, which happens at the next srd_poll_tx() that
 * gets as far as take_new_segment() (tx.c:msg_complete -> msg_advance_head stops at
 * msg_cur).  So right after tx_done, srd_send() still says -EAGAIN, and srd_conn_info()
 * still counts the finished message in tx_msgs.
 */
static void test_bug_tx_slot_held_after_tx_done(void **state)
{
	struct srd_config ca;
	struct env *e;
	struct srd_conn_info ci;

	(void)state;
	env_cfg_default(&ca, A);
	ca.max_tx_msgs = 1;
	ca.cc.init_cwnd = SRD_CWND_ONE; /* a window of one packet, as after a few RTOs */
	e = env_new(&ca, NULL);
	env_msgs(e, 2);
	msg_fill(e, 0, 1, 0, NULL);
	msg_fill(e, 1, 1, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), -EAGAIN); /* full: right */
	assert_true(run_until_done(e, 0, 1, 10 * MS));
	assert_int_equal(e->msgs[0].status, 0);
	assert_true(srd_conn_info(e->l->eng[A], B, &ci, NULL, 0) > 0);
	int rc = msg_send(e, 1); /* after a tx_done: must be accepted */
	print_message("      after tx_done: tx_msgs %u, srd_send %d\n", ci.tx_msgs, rc);
	assert_int_equal(ci.tx_msgs, 0);
	assert_int_equal(rc, 0);
	assert_true(link_run(e->l, all_done, e, e->l->now + 10 * MS));
	env_free(e);
}

/*
 * The slot ring is reclaimed in order only: while an old message is still in flight, a
 * newer one that completed keeps its slot.  An application that keeps fewer than
 * max_tx_msgs messages outstanding (by counting tx_done) still gets -EAGAIN.
 */
static enum link_verdict filter_drop_first_seg_of_msg0(struct link *l, int from,
						       const struct srd_tx_meta *m,
						       const uint8_t *pkt, uint32_t len,
						       uint64_t n, uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;
	struct srd_pkt p;

	(void)n, (void)extra, (void)ce;
	if (from != A || m->type != SRD_PKT_DATA || srd_wire_decode(pkt, len, &p) != 0)
		return LINK_PASS;
	/* message id 1 is the first message; its first segment is lost 4 times */
	if (p.u.data.msg_id == 1 && p.psn == p.u.data.msg_psn && e->acks_seen++ < 4)
		return LINK_DROP;
	return LINK_PASS;
}

static void test_bug_eagain_below_max_tx_msgs(void **state)
{
	struct srd_config ca;
	struct env *e;

	(void)state;
	env_cfg_default(&ca, A);
	ca.max_tx_msgs = 4;
	e = env_new(&ca, NULL);
	env_msgs(e, 5);
	msg_fill(e, 0, 8192, 0, NULL);
	for (uint32_t i = 1; i < 5; i++)
		msg_fill(e, i, 1, 0, NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(msg_send(e, i), 0);
	e->l->filter = filter_drop_first_seg_of_msg0;
	/* run until messages 1..3 are done and message 0 is not */
	while (e->l->now < 50 * MS && !(e->msgs[1].done_calls && e->msgs[2].done_calls &&
					 e->msgs[3].done_calls))
		assert_true(link_step(e->l));
	link_step(e->l);
	assert_int_equal(e->msgs[0].done_calls, 0);
	assert_int_equal(e->outstanding, 1);
	int rc = msg_send(e, 4); /* one message outstanding of four allowed */
	print_message("      1 of 4 outstanding: srd_send %d\n", rc);
	assert_int_equal(rc, 0);
	assert_true(link_run(e->l, all_done, e, e->l->now + 50 * MS));
	check_all_ok(e);
	env_free(e);
}

/*
 * "A peer that restarts gets a new epoch, and packets of the old one are rejected."  A late
 * SYN data packet (dst_conn 0) of a dead incarnation names an id that is neither the live
 * one nor the one the last reset retired (A restarted twice since).  Incarnations are not
 * ordered, so B cannot tell it from a third restart: it must not reset the live connection
 * on it (the old message would be delivered a second time), but ask the live incarnation,
 * which answers, and drop the packet.
 */
static int stale_first_delayed;

static enum link_verdict filter_delay_first_data(struct link *l, int from,
						 const struct srd_tx_meta *m, const uint8_t *pkt,
						 uint32_t len, uint64_t n, uint64_t *extra,
						 unsigned *ce)
{
	(void)l, (void)pkt, (void)len, (void)n, (void)ce;
	if (from == A && m->type == SRD_PKT_DATA && !stale_first_delayed) {
		stale_first_delayed = 1;
		*extra = 3 * MS; /* stuck in a queue somewhere */
	}
	return LINK_PASS;
}

static void test_stale_syn_after_restart(void **state)
{
	struct srd_stats sb;
	struct env *e;

	(void)state;
	e = env_new(NULL, NULL);
	stale_first_delayed = 0;
	env_msgs(e, 3);
	msg_fill(e, 0, 100, 0, NULL);
	msg_fill(e, 1, 200, 0, NULL);
	msg_fill(e, 2, 300, 0, NULL);
	e->l->filter = filter_delay_first_data;
	assert_int_equal(msg_send(e, 0), 0);
	/* the retransmission (one RTO later) gets through: delivered, acked */
	assert_true(run_until_done(e, 0, 1, 1 * MS));
	assert_int_equal(e->msgs[0].status, 0);
	assert_int_equal(e->msgs[0].delivered, 1);

	/* A restarts twice, sending a message each time */
	for (uint32_t k = 1; k <= 2; k++) {
		env_restart(e, A, (uint16_t)(7 * k), 0x7777 * k);
		assert_int_equal(msg_send(e, k), 0);
		assert_true(run_until_done(e, k, k + 1, e->l->now + 1 * MS));
		assert_int_equal(e->msgs[k].status, 0);
		assert_int_equal(e->msgs[k].delivered, 1);
	}
	sb = stats(e, B);
	assert_int_equal(sb.conns_reset, 2);
	assert_int_equal(sb.challenges, 2); /* each restart was confirmed by a RESET */

	/* the first incarnation's first packet arrives now */
	assert_true(e->l->now < 3 * MS);
	run_idle(e, 5 * MS);
	sb = stats(e, B);
	print_message("      stale SYN: msg 0 delivered %d times, B conns_reset %llu, "
		      "challenges %llu\n", e->msgs[0].delivered,
		      (unsigned long long)sb.conns_reset, (unsigned long long)sb.challenges);
	assert_int_equal(e->msgs[0].delivered, 1); /* exactly once */
	assert_int_equal(sb.challenges, 3);
	assert_true(sb.drops[SRD_DROP_STALE_CONN] >= 1);
	assert_int_equal(sb.conns_reset, 2); /* the live incarnation was not disturbed */
	assert_int_equal(stats(e, A).conns_reset, 0);
	env_free(e);
}

/*
 * A whole window lost at once (a short outage: every first transmission of a 31-packet
 * message).  No later packet is acked, so only the retransmission timeout can find the
 * losses.  tx.c:on_rto declares lost only the packets older than one RTO, which, for a burst
 * sent 100 ns apart, is the oldest one alone; the others still count as in flight, so the
 * window (halved by each RTO) stays full.  Every further timeout, backed off up to max_rto,
 * releases one more packet: 31 timeouts and ~10 ms (max_rto) instead of one timeout and
 * ~110 us.
 */
static enum link_verdict filter_drop_first_tx(struct link *l, int from,
					      const struct srd_tx_meta *m, const uint8_t *pkt,
					      uint32_t len, uint64_t n, uint64_t *extra, unsigned *ce)
{
	struct srd_pkt p;

	(void)n, (void)extra, (void)ce;
	filter_count_a_data(l->filter_arg, from, m);
	if (from == A && m->type == SRD_PKT_DATA && srd_wire_decode(pkt, len, &p) == 0 &&
	    !(p.flags & SRD_F_RETX))
		return LINK_DROP;
	return LINK_PASS;
}

static void test_bug_window_lost_recovery(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 1);
	msg_fill(e, 0, 31 * 4096, 0, NULL);
	e->l->filter = filter_drop_first_tx;
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 10000 * MS));
	check_all_ok(e);
	struct srd_stats sa = stats(e, A);
	print_message("      window lost: done at %llu us, %llu RTOs, %llu retransmissions\n",
		      (unsigned long long)(e->msgs[0].done_at / US),
		      (unsigned long long)sa.rto_events, (unsigned long long)sa.tx_retx_pkts);
	/* one RTO (min_rto 100 us) and a few round trips to resend 31 packets */
	assert_true(e->msgs[0].done_at < 1 * MS);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_peer_unreachable, teardown),
		cmocka_unit_test_teardown(test_peer_unreachable_one_packet, teardown),
		cmocka_unit_test_teardown(test_rnr_then_ready, teardown),
		cmocka_unit_test_teardown(test_rnr_forever, teardown),
		cmocka_unit_test_teardown(test_rnr_flight_is_one_refusal, teardown),
		cmocka_unit_test_teardown(test_rnr_unbounded, teardown),
		cmocka_unit_test_teardown(test_rnr_answers_after_rto, teardown),
		cmocka_unit_test_teardown(test_msg_too_big_for_receiver, teardown),
		cmocka_unit_test_teardown(test_no_endpoint, teardown),
		cmocka_unit_test_teardown(test_no_endpoint_nacks_lost, teardown),
		cmocka_unit_test_teardown(test_no_endpoint_burst, teardown),
		cmocka_unit_test_teardown(test_no_endpoint_late_nack, teardown),
		cmocka_unit_test_teardown(test_no_endpoint_late_segment, teardown),
		cmocka_unit_test_teardown(test_msg_too_big_nack_lost, teardown),
		cmocka_unit_test_teardown(test_peer_restart, teardown),
		cmocka_unit_test_teardown(test_abandoned_id_forgotten_on_restart, teardown),
		cmocka_unit_test_teardown(test_destroy_in_flight, teardown),
		cmocka_unit_test_teardown(test_send_errors, teardown),
		cmocka_unit_test_teardown(test_bug_tx_slot_held_after_tx_done, teardown),
		cmocka_unit_test_teardown(test_bug_eagain_below_max_tx_msgs, teardown),
		cmocka_unit_test_teardown(test_stale_syn_after_restart, teardown),
		cmocka_unit_test_teardown(test_bug_window_lost_recovery, teardown),
	};

	return cmocka_run_group_tests_name("engine_errors", tests, NULL, NULL);
}
