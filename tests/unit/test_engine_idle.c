/*
 * test_engine_idle.c — connections closed after conn_idle_ns of idleness: their slots are
 * freed, a peer that still holds the closed connection is told RESET(IDLE_CLOSED) and sends
 * its unfinished messages again on a fresh one (delivered once, completed with success);
 * a close that overtakes a lost ack (a stall) completes what was delivered instead of
 * delivering it again; a connection holding a PSN beyond a gap waits four times as long, and
 * a pause the caller notes is not idleness (nor an RTT sample, nor a timeout, mid-transfer);
 * and the config refuses an idle time shorter than the retry budget.
 *
 * The harness (struct env, the callbacks and their exactly-once checks) is in harness.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define IDLE_NS (400 * MS)

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

/* An environment whose two sides both close idle connections after IDLE_NS. */
static struct env *env_both_idle(void)
{
	struct srd_config ca, cb;

	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	ca.conn_idle_ns = cb.conn_idle_ns = IDLE_NS;
	return env_new(&ca, &cb);
}

/* Both sides idle: both close, the slots are free, and a new message opens afresh. */
static void test_idle_close_both(void **state)
{
	struct env *e;

	(void)state;
	e = env_both_idle();
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
/* Two peers that have exchanged a round of messages, B closing idle connections after
 * IDLE_NS, A never. */
static struct env *env_b_closes_idle(void)
{
	struct srd_config ca, cb;
	struct env *e;

	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	cb.conn_idle_ns = IDLE_NS;
	e = env_new(&ca, &cb);
	round_ok(e, 2, 3000);
	return e;
}

static void test_idle_close_resume(void **state)
{
	struct env *e = env_b_closes_idle();

	(void)state;
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

/* Drop every packet from B; with drop_first_data, also every data packet of message 0. */
static int drop_first_data;

static enum link_verdict filter_stall(struct link *l, int from, const struct srd_tx_meta *m,
				      const uint8_t *pkt, uint32_t len, uint64_t n,
				      uint64_t *extra, unsigned *ce)
{
	struct srd_pkt p;

	(void)l, (void)n, (void)extra, (void)ce;
	if (from == B)
		return LINK_DROP;
	if (drop_first_data && m->type == SRD_PKT_DATA && srd_wire_decode(pkt, len, &p) == 0 &&
	    p.u.data.tag == (TAG_BASE | 0))
		return LINK_DROP;
	return LINK_PASS;
}

static int b_delivered_one(void *arg)
{
	struct env *e = arg;

	return e->side[B].delivered >= 1;
}

/* How stall_close() stalls B. */
enum stall {
	STALL_UNNOTED,   /* B's caller does not say it paused (or it was B's peer that stalled) */
	STALL_NOTED,     /* B's caller says it paused (srd_note_pause(), as srdd's worker does) */
};

/*
 * B delivers, its acks are lost, and then B's timers run stall_ns later, before it reads A's
 * retransmissions.  gap: an earlier message (0) was lost, so B holds a PSN beyond a gap.
 * Outcomes:
 * - a pause B's caller noted: no connection counts it as idleness; nothing closes;
 * - otherwise, past conn_idle (no gap) B closes, and its RESET(IDLE_CLOSED) says what it
 *   received: A completes the delivered message with success instead of sending it again;
 * - with a gap B waits 4 x conn_idle (A, stalled, will still resend); past that it closes,
 *   cannot say what it received, answers RESET(UNKNOWN_CONN), and A fails both: the
 *   delivered one is reported failed, never delivered twice.
 */
static void stall_close(int gap, uint64_t stall_ns, enum stall how)
{
	struct srd_config ca, cb;
	struct env *e;
	bool closes = how == STALL_UNNOTED && stall_ns >= (gap ? 4 : 1) * IDLE_NS;

	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	cb.conn_idle_ns = IDLE_NS;
	e = env_new(&ca, &cb);
	round_ok(e, 1, 3000);
	new_round(e, 2);
	msg_fill(e, 0, 100, 0, NULL);
	msg_fill(e, 1, 200, 0, NULL);
	drop_first_data = gap;
	e->l->filter = filter_stall;
	if (!gap) /* only message 1 */
		e->msgs[0].done_calls = 1, e->ndone = 1, e->msgs[0].delivered = 1;
	else
		assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, b_delivered_one, e, e->l->now + 1 * MS));
	run_idle(e, 20 * US); /* B's (lost) ack goes out */
	/* the stall: B's timers run first */
	e->l->now += stall_ns;
	if (how == STALL_NOTED)
		srd_note_pause(e->l->eng[B], e->l->now, stall_ns);
	srd_on_timer(e->l->eng[B], e->l->now);
	assert_int_equal(stats(e, B).conns_closed, closes);
	e->l->filter = NULL;
	assert_true(link_run(e->l, all_done, e, e->l->now + 50 * MS));
	run_idle(e, 1 * MS);
	assert_no_errors(e); /* nothing delivered twice */
	assert_int_equal(e->msgs[1].delivered, 1);
	if (!closes) {
		assert_int_equal(e->msgs[0].delivered, 1);
		assert_int_equal(e->msgs[0].status, 0);
		assert_int_equal(e->msgs[1].status, 0);
		assert_int_equal(stats(e, A).conns_resumed, 0);
		assert_int_equal(stats(e, A).conns_reset, 0);
	} else if (!gap) {
		assert_int_equal(e->msgs[1].status, 0);
		assert_int_equal(stats(e, A).conns_resumed, 1);
	} else {
		assert_int_equal(e->msgs[0].delivered, 0);
		assert_int_equal(e->msgs[0].status, -ECONNRESET);
		assert_int_equal(e->msgs[1].status, -ECONNRESET);
		assert_int_equal(stats(e, A).conns_reset, 1);
	}
	round_ok(e, 3, 5000); /* and the peers go on */
	env_free(e);
}

static void test_stall_close_delivered(void **state)
{
	(void)state;
	stall_close(0, IDLE_NS + 1 * MS, STALL_UNNOTED);
}

/* A gap keeps the connection open past conn_idle: A's resend fills it, exactly once. */
static void test_stall_gap_waits(void **state)
{
	(void)state;
	stall_close(1, IDLE_NS + 1 * MS, STALL_UNNOTED);
	stall_close(1, 3 * IDLE_NS, STALL_UNNOTED);
}

static void test_stall_close_gap(void **state)
{
	(void)state;
	stall_close(1, 4 * IDLE_NS + 1 * MS, STALL_UNNOTED);
}

/* B's own pause, noted by its caller, is not idleness, with a gap or without. */
static void test_stall_noted(void **state)
{
	(void)state;
	stall_close(0, IDLE_NS + 1 * MS, STALL_NOTED);
	stall_close(1, 5 * IDLE_NS, STALL_NOTED);
}

/*
 * Only a pause's length is forgiven: a host whose worker keeps pausing (an overloaded
 * machine) still closes idle connections, after conn_idle of running time.  B pauses for
 * an eighth of conn_idle in every quarter: its quiet connection closes after eight quarters
 * (a pause that restarted the count would keep it open for ever).
 */
static void test_pauses_add_up(void **state)
{
	struct env *e = env_b_closes_idle();
	int quarters = 0;

	(void)state;
	while (stats(e, B).conns_active == 1 && quarters < 16) {
		e->l->now += IDLE_NS / 4;
		srd_note_pause(e->l->eng[B], e->l->now, IDLE_NS / 8);
		srd_on_timer(e->l->eng[B], e->l->now);
		quarters++;
	}
	assert_int_equal(stats(e, B).conns_active, 0);
	assert_int_equal(stats(e, B).conns_closed, 1);
	/* an eighth of conn_idle of running time per quarter */
	assert_int_equal(quarters, 8);
	env_free(e);
}

static int b_delivered_ten(void *arg)
{
	struct env *e = arg;

	return e->side[B].delivered >= 10;
}

/*
 * Both ends on one host whose caller pauses (srdd stopped by SIGSTOP) mid-transfer, with
 * packets and acks on the wire: to the engines no time passed.  No RTT sample spans the
 * pause (an 800 ms smoothed RTT paced the sender to a crawl and left the receiver silent
 * past conn_idle), no timer expires for it (nothing is resent on the lossless link), and
 * the transfer finishes as fast as without it, with no connection closed.
 */
static void test_pause_mid_transfer(void **state)
{
	struct srd_conn_info info;
	struct env *e;
	uint64_t resumed, retx, max_srtt = 0;

	(void)state;
	e = env_both_idle();
	new_round(e, 200);
	for (uint32_t i = 0; i < 200; i++) {
		msg_fill(e, i, 8000, 0, NULL);
		assert_int_equal(msg_send(e, i), 0);
	}
	assert_true(link_run(e->l, b_delivered_ten, e, e->l->now + 10 * MS));
	assert_true(e->l->nq > 0); /* packets on the wire across the pause */
	retx = stats(e, A).tx_retx_pkts;
	e->l->now += 2 * IDLE_NS;
	srd_note_pause(e->l->eng[A], e->l->now, 2 * IDLE_NS);
	srd_note_pause(e->l->eng[B], e->l->now, 2 * IDLE_NS);
	resumed = e->l->now;
	while (!all_done(e) && e->l->now < resumed + 20 * MS && link_step(e->l)) {
		assert_true(srd_conn_info(e->l->eng[A], B, &info, NULL, 0) >= 0);
		if (info.srtt_ns > max_srtt)
			max_srtt = info.srtt_ns;
	}
	check_all_ok(e);
	printf("  200 x 8000 B, paused for %llu ms after 10: done %llu us after it, largest "
	       "srtt %llu us\n", (unsigned long long)(2 * IDLE_NS / MS),
	       (unsigned long long)((e->l->now - resumed) / US),
	       (unsigned long long)(max_srtt / US));
	assert_true(max_srtt < 1 * MS);
	assert_int_equal(stats(e, A).tx_retx_pkts, retx);
	for (int s = A; s <= B; s++) {
		assert_int_equal(stats(e, s).conns_closed, 0);
		assert_int_equal(stats(e, s).conns_resumed, 0);
	}
	env_free(e);
}

/*
 * A receiver whose application takes nothing for longer than conn_idle (every rx_alloc
 * fails: RNR, and the sender's waits double up to 1024 times rnr_delay) is not idle: each
 * refusal it answers (a NACK sent) is activity, so it does not close the connection under
 * the sender, which delivers once the application takes again.
 */
static void test_refusing_receiver_not_idle(void **state)
{
	struct env *e;
	uint64_t t0;

	(void)state;
	e = env_both_idle();
	round_ok(e, 1, 3000);
	new_round(e, 1);
	msg_fill(e, 0, 3000, 0, NULL);
	e->side[B].alloc_fail_always = 1;
	t0 = e->l->now;
	assert_int_equal(msg_send(e, 0), 0);
	link_run(e->l, NULL, NULL, t0 + 3 * IDLE_NS / 2);
	assert_true(stats(e, A).rnr_received >= 10);
	assert_int_equal(stats(e, B).conns_closed, 0);
	e->side[B].alloc_fail_always = 0;
	assert_true(link_run(e->l, all_done, e, e->l->now + IDLE_NS));
	check_all_ok(e);
	assert_int_equal(stats(e, A).conns_resumed, 0);
	assert_int_equal(stats(e, B).conns_created, 1);
	env_free(e);
}

/* A connection with a message in flight is never idle, however long it takes. */
static void test_busy_not_closed(void **state)
{
	struct env *e;

	(void)state;
	e = env_both_idle();
	e->l->gap_ns = 2 * MS; /* a slow link: 256 packets of 1 MiB take 512 ms */
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
	/* defaults: 100 us doubling over 41 timeouts, capped at 10 ms: 12.7 ms + 34 x 10 ms */
	assert_int_equal(srd_retry_budget_ns(&cfg), 352700000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_idle_close_both, teardown),
		cmocka_unit_test_teardown(test_idle_close_resume, teardown),
		cmocka_unit_test_teardown(test_busy_not_closed, teardown),
		cmocka_unit_test_teardown(test_stall_close_delivered, teardown),
		cmocka_unit_test_teardown(test_stall_gap_waits, teardown),
		cmocka_unit_test_teardown(test_stall_close_gap, teardown),
		cmocka_unit_test_teardown(test_stall_noted, teardown),
		cmocka_unit_test_teardown(test_pauses_add_up, teardown),
		cmocka_unit_test_teardown(test_pause_mid_transfer, teardown),
		cmocka_unit_test_teardown(test_refusing_receiver_not_idle, teardown),
		cmocka_unit_test(test_idle_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
