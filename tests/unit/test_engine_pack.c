/*
 * test_engine_pack.c — small messages packed into one DATA packet (docs/wire-format.md §4b):
 * two engines joined back to back by tests/unit/link.h, time moved by hand.
 *
 * A one-packet message takes the one-packet messages queued behind it to the same endpoint
 * into its packet, under one PSN, once the peer's acks have said how long a message it
 * takes.  These tests pin down that an ack completes all of them, that a lost packed
 * packet is resent with the same messages and delivers each exactly once, that a duplicate
 * is a duplicate of all, that the receiver takes a packed packet all or none (RNR gives the
 * buffers back), that refusals reach every message, and that ordered messages of mixed sizes
 * still arrive in order under loss and reordering.
 *
 * The harness (struct env, the callbacks and their exactly-once and order checks) is in
 * harness.h.
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
#include "link.h"
#include "srd_core.h"
#include "wire.h"

#define SRC_EP 100
#define DST_EP 200

/* Fill message idx with len bytes, from SRC_EP to dst_ep (packing needs one endpoint pair). */
static void fill_to(struct env *e, uint32_t idx, uint32_t len, uint16_t dst_ep)
{
	msg_fill(e, idx, len, 0, NULL);
	e->msgs[idx].src_ep = SRC_EP;
	e->msgs[idx].dst_ep = dst_ep;
}

/* link_run predicate: messages [wait_lo, wait_hi) all have their tx_done. */
static int range_done(void *arg)
{
	struct env *e = arg;

	for (uint32_t i = e->wait_lo; i < e->wait_hi; i++)
		if (!e->msgs[i].done_calls)
			return 0;
	return 1;
}

/* Send messages [lo, hi) at the current time, all queued before the engine polls. */
static void send_range(struct env *e, uint32_t lo, uint32_t hi)
{
	for (uint32_t i = lo; i < hi; i++)
		assert_int_equal(msg_send(e, i), 0);
}

/* Send [lo, hi) and run until each has its tx_done. */
static void send_and_wait(struct env *e, uint32_t lo, uint32_t hi, uint64_t limit)
{
	send_range(e, lo, hi);
	e->wait_lo = lo;
	e->wait_hi = hi;
	assert_true(link_run(e->l, range_done, e, e->l->now + limit));
}

/* Messages 1..10, 64 bytes each to DST_EP (one packed packet), sent and settled: each has
 * its tx_done, nothing more in flight, and every check of the harness passed. */
static void send_ten_small(struct env *e)
{
	for (uint32_t i = 1; i < 11; i++)
		fill_to(e, i, 64, DST_EP);
	send_and_wait(e, 1, 11, 100 * MS);
	run_idle(e, 1 * MS);
	check_all_ok(e);
}

/* A new environment whose connection is up: message 0 (64 B) went and was acked, so A
 * knows B's largest message and packs from now on.  Room for n messages. */
static struct env *env_up(const struct srd_config *cfg_a, const struct srd_config *cfg_b,
			  uint32_t n)
{
	struct env *e = env_new(cfg_a, cfg_b);

	env_msgs(e, n);
	fill_to(e, 0, 64, DST_EP);
	send_and_wait(e, 0, 1, 10 * MS);
	return e;
}

/* ---- filters ---- */

/* What the filters of this file saw and did. */
static struct {
	int drop_first_packed; /* drop A's first packed data packet */
	int drop_first_data;   /* drop A's first data packet */
	uint32_t loss_every;   /* drop every loss_every-th packet (0: none) */
	int reorder;           /* delay each packet by 0..3 us */
	uint8_t lost[LINK_PKT_CAP]; /* the packed packet dropped */
	uint32_t lost_len;
	uint32_t lost_psn;
	uint8_t resent[LINK_PKT_CAP]; /* its retransmission (the same PSN) */
	uint32_t resent_len;
	uint32_t packed_seen;  /* packed data packets from A */
} F;

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum link_verdict filter_pack(struct link *l, int from, const struct srd_tx_meta *m,
				     const uint8_t *pkt, uint32_t len, uint64_t n,
				     uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;
	bool packed = from == A && m->type == SRD_PKT_DATA && len > 3 && pkt[3] != 0;

	(void)ce;
	filter_count_a_data(e, from, m);
	if (F.drop_first_data && from == A && m->type == SRD_PKT_DATA) {
		F.drop_first_data = 0;
		return LINK_DROP;
	}
	if (packed) {
		F.packed_seen++;
		if (F.lost_len && !F.resent_len && rd32(pkt + 12) == F.lost_psn) {
			memcpy(F.resent, pkt, len);
			F.resent_len = len;
		}
		if (F.drop_first_packed && !F.lost_len) {
			memcpy(F.lost, pkt, len);
			F.lost_len = len;
			F.lost_psn = rd32(pkt + 12);
			return LINK_DROP;
		}
	}
	if (F.reorder)
		*extra = srd_rng_below(&e->rng, 3001);
	if (F.loss_every && n % F.loss_every == F.loss_every - 1)
		return LINK_DROP;
	return LINK_PASS;
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	return 0;
}

/* ---- tests ---- */

/* Messages queued together go in as few packets as pack_msgs allows, each delivered once,
 * in the order sent, and one ack completes every message of a packet. */
static void test_pack_queued(void **state)
{
	struct env *e = env_up(NULL, NULL, 41);
	struct srd_stats a0 = stats(e, A), a, b;

	(void)state;
	e->l->filter = filter_pack;
	for (uint32_t i = 1; i < 41; i++)
		fill_to(e, i, i % 3 ? 64 : 0, DST_EP); /* empty messages pack too */
	send_and_wait(e, 1, 41, 10 * MS);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	a = stats(e, A);
	b = stats(e, B);
	/* 40 messages, pack_msgs (16 by default) to a packet: 16 + 16 + 8 */
	assert_int_equal(e->cfg[A].pack_msgs, 16);
	assert_int_equal(a.tx_data_pkts - a0.tx_data_pkts, 3);
	assert_int_equal(a.tx_packed_pkts, 3);
	assert_int_equal(a.tx_packed_msgs, 40);
	assert_int_equal(b.rx_packed_msgs, 40);
	assert_int_equal(F.packed_seen, 3);
	assert_int_equal(a.tx_retx_pkts, 0);
	for (uint32_t i = 1; i < 41; i++)
		assert_int_equal(e->msgs[i].delivery_seq, i + 1);
	assert_int_equal(b.rx_slots_used, 0);
	env_free(e);
}

/* pack_msgs 1: every message has a packet of its own. */
static void test_pack_off(void **state)
{
	struct srd_config cfg;
	struct env *e;
	struct srd_stats a;

	(void)state;
	env_cfg_default(&cfg, A);
	cfg.pack_msgs = 1;
	e = env_up(&cfg, NULL, 11);
	for (uint32_t i = 1; i < 11; i++)
		fill_to(e, i, 64, DST_EP);
	send_and_wait(e, 1, 11, 10 * MS);
	check_all_ok(e);
	a = stats(e, A);
	assert_int_equal(a.tx_data_pkts, 11);
	assert_int_equal(a.tx_packed_pkts, 0);
	env_free(e);
}

/* Only a run of one-packet messages to the same endpoint packs: a message to another
 * endpoint, or one of several segments, starts a packet of its own. */
static void test_pack_boundaries(void **state)
{
	struct env *e = env_up(NULL, NULL, 13);
	uint32_t seg = e->cfg[A].seg_size;
	struct srd_stats a0 = stats(e, A), a;

	(void)state;
	e->l->filter = filter_pack;
	fill_to(e, 1, 10, DST_EP);
	fill_to(e, 2, 10, DST_EP);
	fill_to(e, 3, 10, DST_EP + 1); /* another endpoint */
	fill_to(e, 4, 10, DST_EP + 1);
	fill_to(e, 5, seg + 1, DST_EP + 1); /* two segments */
	fill_to(e, 6, 10, DST_EP + 1);
	fill_to(e, 7, seg - 100, DST_EP + 1); /* a large one-packet message packs */
	fill_to(e, 8, seg - 100, DST_EP + 1);
	for (uint32_t i = 9; i < 13; i++) /* but no packet grows past the largest segment's */
		fill_to(e, i, 20, DST_EP + 1);
	send_and_wait(e, 1, 13, 10 * MS);
	check_all_ok(e);
	a = stats(e, A);
	/* {1,2} {3,4} 5a 5b {6,7} {8,9,10} {11,12}: 28 + 24 + (seg - 100) + 3 * (24 + 20) is
	 * more than seg + 56 */
	assert_int_equal(a.tx_data_pkts - a0.tx_data_pkts, 7);
	assert_int_equal(a.tx_packed_pkts, 5);
	assert_int_equal(a.tx_packed_msgs, 2 + 2 + 2 + 3 + 2);
	for (uint32_t i = 1; i < 13; i++)
		assert_int_equal(e->msgs[i].delivery_seq, i + 1);
	env_free(e);
}

/* A lost packed packet is resent under its PSN with the same messages, and every message
 * is delivered exactly once; the original arriving late is a duplicate of all of them. */
static void test_pack_lost_resent(void **state)
{
	struct env *e = env_up(NULL, NULL, 17);
	struct srd_stats a, b;

	(void)state;
	e->l->filter = filter_pack;
	F.drop_first_packed = 1;
	for (uint32_t i = 1; i < 17; i++)
		fill_to(e, i, 50 + i, DST_EP);
	send_and_wait(e, 1, 17, 100 * MS);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	a = stats(e, A);
	b = stats(e, B);
	assert_int_equal(a.tx_packed_pkts, 1);
	assert_int_equal(a.tx_packed_msgs, 16);
	assert_true(a.tx_retx_pkts >= 1);
	assert_int_equal(b.msgs_delivered, 17);
	/* the resend: same PSN, count, endpoints and messages byte for byte */
	assert_true(F.lost_len > 0);
	assert_int_equal(F.resent_len, F.lost_len);
	assert_int_equal(F.lost[3], 16);
	assert_int_equal(F.resent[3], 16);
	assert_memory_equal(F.resent + 12, F.lost + 12, 4);
	assert_memory_equal(F.resent + 20, F.lost + 20, 4);
	assert_memory_equal(F.resent + SRD_HDR_PACK_LEN, F.lost + SRD_HDR_PACK_LEN,
			    F.lost_len - SRD_HDR_PACK_LEN);
	assert_true(F.resent[1] & SRD_F_RETX);
	/* the first copy, late: every message in it was delivered already */
	assert_int_equal(srd_recv(e->l->eng[B], e->l->now, A, F.lost, F.lost_len, 0),
			 -SRD_DROP_DUPLICATE);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_int_equal(stats(e, B).msgs_delivered, 17);
	env_free(e);
}

/* The receiver has buffers for some messages of a packed packet but not all: it gives
 * those back, refuses the packet (RNR) and takes it whole when it comes again. */
static void test_pack_rnr(void **state)
{
	struct env *e = env_up(NULL, NULL, 11);
	struct srd_stats a, b;

	(void)state;
	e->l->filter = filter_pack;
	e->side[B].alloc_fail_nth = e->side[B].alloc_calls + 5; /* the 5th of the packet */
	send_ten_small(e);
	a = stats(e, A);
	b = stats(e, B);
	assert_int_equal(a.tx_packed_pkts, 1);
	assert_true(a.rnr_received >= 1);
	assert_true(b.tx_nacks >= 1);
	assert_int_equal(b.drops[SRD_DROP_NO_BUFFER], 1);
	assert_int_equal(e->side[B].aborted, 4); /* the four buffers given back */
	assert_int_equal(b.msgs_aborted, 0);    /* which aborted no message */
	assert_int_equal(b.msgs_delivered, 11);
	assert_int_equal(e->side[B].alloc_calls, 1 + 5 + 10);
	for (uint32_t i = 1; i < 11; i++)
		assert_int_equal(e->msgs[i].delivery_seq, i + 1);
	env_free(e); /* every buffer came back */
}

/* A receiver that takes small messages of a packed packet without a buffer (rx_take, as
 * srdd does for those its apps receive in the completion ring) gets their bytes at
 * delivery, straight from the packet (an empty one too: taken, data NULL); a longer one of
 * the same packet gets a buffer from rx_alloc.  Each is delivered once, intact. */
static void test_pack_taken(void **state)
{
	struct env *e = env_up(NULL, NULL, 11);
	struct srd_stats b;
	uint32_t allocs;

	(void)state;
	e->side[B].take_max = 128;
	allocs = e->side[B].alloc_calls;
	for (uint32_t i = 1; i < 11; i++)
		fill_to(e, i, i == 4 || i == 9 ? 300 : i == 5 ? 0 : 64 + i, DST_EP);
	send_and_wait(e, 1, 11, 100 * MS);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	b = stats(e, B);
	assert_int_equal(stats(e, A).tx_packed_pkts, 1);
	assert_int_equal(b.rx_packed_msgs, 10);
	assert_int_equal(e->side[B].take_calls, 10);
	assert_int_equal(e->side[B].taken_delivered, 8);
	assert_int_equal(e->side[B].alloc_calls - allocs, 2); /* the two of 300 bytes */
	for (uint32_t i = 1; i < 11; i++)
		assert_int_equal(e->msgs[i].delivery_seq, i + 1);
	env_free(e);
}

/* rx_take refusing the 5th message of a packed packet refuses the packet whole: the four
 * it took go back through rx_abort (msg->data set), the sender resends after the RNR, and
 * every message is delivered once. */
static void test_pack_taken_refused(void **state)
{
	struct env *e = env_up(NULL, NULL, 11);
	struct srd_stats b;

	(void)state;
	e->l->filter = filter_pack;
	e->side[B].take_max = 128;
	e->side[B].take_fail_nth = 5;
	send_ten_small(e);
	b = stats(e, B);
	assert_int_equal(b.drops[SRD_DROP_NO_BUFFER], 1);
	assert_int_equal(e->side[B].aborted, 4);
	assert_int_equal(b.msgs_aborted, 0);
	assert_int_equal(e->side[B].taken_delivered, 10);
	assert_int_equal(e->side[B].take_calls, 5 + 10);
	for (uint32_t i = 1; i < 11; i++)
		assert_int_equal(e->msgs[i].delivered, 1);
	env_free(e); /* nothing left taken */
}

/* Ordered messages of a packed packet that arrives after a gap wait in a slot each; with
 * too few slots free the packet is refused (RNR) whole, and taken once the gap is filled. */
static void test_pack_ordered_no_slots(void **state)
{
	struct srd_config cfg;
	struct env *e;
	struct srd_stats b;

	(void)state;
	env_cfg_default(&cfg, B);
	cfg.rx_slots = 4;
	e = env_up(NULL, &cfg, 12);
	e->l->filter = filter_pack;
	e->strict_order = 1;
	F.drop_first_data = 1;
	fill_to(e, 1, 64, DST_EP + 1); /* lost once: the gap */
	for (uint32_t i = 2; i < 12; i++)
		fill_to(e, i, 64, DST_EP); /* 10 messages, 4 slots */
	for (uint32_t i = 1; i < 12; i++)
		e->msgs[i].flags = SRD_SEND_ORDERED;
	send_and_wait(e, 1, 12, 100 * MS);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	b = stats(e, B);
	assert_true(b.drops[SRD_DROP_NO_BUFFER] >= 1);
	assert_int_equal(e->side[B].aborted, 0); /* refused before any buffer was asked for */
	assert_int_equal(b.rx_packed_msgs, 10);
	assert_int_equal(b.rx_slots_used, 0);
	for (uint32_t i = 1; i < 12; i++)
		assert_int_equal(e->msgs[i].delivery_seq, i + 1);
	env_free(e);
}

/* Messages the receiver has no endpoint for, packed: the refusal reaches each (-ENXIO),
 * nothing is delivered, and the connection goes on for the next messages. */
static void test_pack_no_endpoint(void **state)
{
	struct env *e = env_up(NULL, NULL, 16);
	struct srd_stats a, b;

	(void)state;
	e->l->filter = filter_pack;
	e->side[B].no_ep = DST_EP + 7;
	for (uint32_t i = 1; i < 11; i++)
		fill_to(e, i, 64, DST_EP + 7);
	send_and_wait(e, 1, 11, 100 * MS);
	for (uint32_t i = 1; i < 11; i++) {
		assert_int_equal(e->msgs[i].status, -ENXIO);
		assert_int_equal(e->msgs[i].delivered, 0);
	}
	for (uint32_t i = 11; i < 16; i++)
		fill_to(e, i, 64, DST_EP);
	send_and_wait(e, 11, 16, 100 * MS);
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	a = stats(e, A);
	b = stats(e, B);
	assert_int_equal(a.tx_packed_pkts, 2);
	assert_int_equal(e->side[A].tx_done_status[7], 10);
	assert_int_equal(b.msgs_delivered, 6);
	for (uint32_t i = 11; i < 16; i++)
		assert_int_equal(e->msgs[i].delivered, 1);
	env_free(e);
}

/* A message longer than the peer takes is refused before it gets a PSN and packs with
 * nothing: the messages around it are delivered. */
static void test_pack_too_big(void **state)
{
	struct srd_config cfg;
	struct env *e;

	(void)state;
	env_cfg_default(&cfg, B);
	cfg.max_msg_size = 100;
	e = env_up(NULL, &cfg, 11);
	for (uint32_t i = 1; i < 11; i++)
		fill_to(e, i, i == 5 ? 200 : 50, DST_EP);
	send_and_wait(e, 1, 11, 100 * MS);
	run_idle(e, 1 * MS);
	assert_no_errors(e);
	for (uint32_t i = 1; i < 11; i++) {
		assert_int_equal(e->msgs[i].status, i == 5 ? -EMSGSIZE : 0);
		assert_int_equal(e->msgs[i].delivered, i == 5 ? 0 : 1);
	}
	assert_int_equal(stats(e, A).tx_packed_msgs, 9); /* {1..4} {6..10} */
	env_free(e);
}

/* Sizes for the mixed stream: mostly small (packed), some of several segments. */
static uint32_t mixed_size(struct srd_rng *r, uint32_t seg)
{
	uint32_t k = srd_rng_below(r, 10);

	if (k < 7)
		return srd_rng_below(r, 300);
	if (k < 9)
		return seg - 100 + srd_rng_below(r, 200);
	return srd_rng_below(r, 6 * seg);
}

/* Ordered messages of mixed sizes, packed where they can be, under loss and reordering:
 * each delivered once, none before an earlier one (strict_order). */
static void mixed_ordered(uint32_t loss_every, int reorder, uint32_t take_max)
{
	struct env *e = env_up(NULL, NULL, 400);
	struct srd_rng r;
	struct srd_stats a, b;

	srd_rng_seed(&r, 0xbac4 + loss_every);
	for (uint32_t i = 1; i < 400; i++) {
		fill_to(e, i, mixed_size(&r, e->cfg[A].seg_size), DST_EP);
		e->msgs[i].flags = SRD_SEND_ORDERED;
	}
	e->msgs[0].flags = SRD_SEND_ORDERED;
	e->l->filter = filter_pack;
	e->side[B].take_max = take_max;
	F.loss_every = loss_every;
	F.reorder = reorder;
	e->strict_order = 1;
	e->next_send = 1;
	e->window = 64;
	assert_true(link_run(e->l, stress_pump, e, e->l->now + 500 * MS));
	run_idle(e, 2 * MS);
	check_all_ok(e);
	a = stats(e, A);
	b = stats(e, B);
	assert_true(a.tx_packed_pkts > 10);
	assert_int_equal(b.rx_packed_msgs, a.tx_packed_msgs);
	if (loss_every)
		assert_true(a.tx_retx_pkts > 0);
	assert_int_equal(b.rx_slots_used, 0);
	if (take_max) { /* taken when in order; held ones (a gap before them) got buffers,
	                   or their bytes, gone with their packet, would not check */
		assert_true(e->side[B].taken_delivered > 0);
		assert_true(e->side[B].taken_delivered < b.rx_packed_msgs);
		assert_true(b.msgs_held > 0);
	}
	print_message("      loss 1/%u reorder %d: %llu packed packets of %llu messages, %llu "
		      "data packets, %llu retx, %llu held\n", loss_every, reorder,
		      (unsigned long long)a.tx_packed_pkts, (unsigned long long)a.tx_packed_msgs,
		      (unsigned long long)a.tx_data_pkts, (unsigned long long)a.tx_retx_pkts,
		      (unsigned long long)b.msgs_held);
	env_free(e);
}

static void test_pack_mixed_ordered_loss(void **state)
{
	(void)state;
	mixed_ordered(7, 0, 0);
}

static void test_pack_mixed_ordered_reorder(void **state)
{
	(void)state;
	mixed_ordered(11, 1, 0);
}

/* The same with the receiver taking messages of up to 128 bytes (rx_take): a message held
 * for an earlier PSN is never taken (its bytes would not outlive the packet). */
static void test_pack_mixed_ordered_taken(void **state)
{
	(void)state;
	mixed_ordered(7, 1, 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pack_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_lost_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_rnr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_taken_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_ordered_no_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_no_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_mixed_ordered_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_mixed_ordered_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_mixed_ordered_taken, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
