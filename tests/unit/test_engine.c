/*
 * test_engine.c — the protocol core end to end: two engines joined back to back by
 * tests/unit/link.h, time moved by hand, a filter dropping, delaying or CE-marking packets.
 *
 * This file: the way things should go — single messages of every size, many messages under
 * impairments (loss masks, ack loss, reordering, a blackholed path), single-path and
 * multipath modes, ECN with DCTCP, configuration checks and connection introspection.  What
 * happens when things go wrong (unreachable or restarting peers, receivers without buffers,
 * srd_send errors, the core bugs) is in test_engine_errors.c.
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

#include "conn.h" /* sizeof(struct srd_path) for the state-size check */
#include "harness.h"
#include "link.h"
#include "rng.h"
#include "srd_core.h"
#include "wire.h" /* SRD_PKT_* for the filters */

/* ---- 1. single messages ---- */

static void one_message(uint32_t len)
{
	struct env *e = env_new(NULL, NULL);

	env_msgs(e, 1);
	msg_fill(e, 0, len, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_int_equal(sa.msgs_accepted, 1);
	assert_int_equal(sa.msgs_completed, 1);
	assert_int_equal(sa.msgs_failed, 0);
	assert_int_equal(sb.msgs_delivered, 1);
	assert_int_equal(sb.rx_payload_bytes, len);
	assert_int_equal(sb.rx_slots_used, 0);
	assert_int_equal(sa.tx_retx_pkts, 0);
	assert_int_equal(sa.tx_data_pkts, srd_wire_seg_count(len, e->cfg[A].seg_size));
	env_free(e);
}

static void test_msg_1_byte(void **state)
{
	(void)state;
	one_message(1);
}

static void test_msg_empty(void **state)
{
	(void)state;
	one_message(0);
}

static void test_msg_seg_size(void **state)
{
	(void)state;
	one_message(4096);
}

static void test_msg_seg_size_plus_1(void **state)
{
	(void)state;
	one_message(4097);
}

static void test_msg_16mib(void **state)
{
	(void)state;
	one_message(16 * MIB);
}

static void test_msg_scatter_gather(void **state)
{
	static const uint32_t pieces[3] = { 1, 6007, 3333 };
	static const uint32_t pieces2[5] = { 0, 4095, 0, 2, 8191 };
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 2);
	msg_fill(e, 0, 1 + 6007 + 3333, 3, pieces);
	msg_fill(e, 1, 4095 + 2 + 8191, 5, pieces2); /* empty pieces too */
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 100 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	env_free(e);
}

/* ---- payloads by reference (srd_poll_tx_ref) and packets in pieces (srd_recv_split) ---- */

static enum link_verdict filter_loss7(struct link *l, int from, const struct srd_tx_meta *m,
				      const uint8_t *pkt, uint32_t len, uint64_t n,
				      uint64_t *extra, unsigned *ce);

/* Five messages: short, at SRD_TX_REF_MIN, three whole segments and a short tail, four
 * pieces whose segments lie in one piece or straddle two, empty.  By reference (link.ref)
 * and under loss when asked; every byte arrives as sent. */
static struct env *ref_messages(int ref, int loss, uint32_t split)
{
	static const uint32_t pieces[3] = { 4096 + 100, 50, 8192 };
	struct env *e = env_new(NULL, NULL);

	env_msgs(e, 5);
	msg_fill(e, 0, 100, 0, NULL);
	msg_fill(e, 1, SRD_TX_REF_MIN, 0, NULL);
	msg_fill(e, 2, 3 * 4096 + 5, 0, NULL);
	msg_fill(e, 3, 4096 + 100 + 50 + 8192, 3, pieces);
	msg_fill(e, 4, 0, 0, NULL);
	e->l->ref = ref;
	e->l->split = split;
	if (loss) {
		e->l->filter = filter_loss7;
		e->l->filter_arg = e;
	}
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	return e;
}

/* Segments of SRD_TX_REF_MIN bytes or more that one piece holds go by reference, the
 * others are copied: message 1's one segment, message 2's first three, message 3's first
 * (bytes 0..4095 of its 4196-byte first piece) and third (8192..12287, in its third
 * piece); not its second (it straddles all three pieces) nor the short tails. */
static void test_tx_ref(void **state)
{
	struct env *e;

	(void)state;
	e = ref_messages(1, 0, 0);
	assert_int_equal(e->l->ref_pkts, 6);
	assert_int_equal(stats(e, A).tx_retx_pkts, 0);
	env_free(e);
	e = ref_messages(0, 0, 0); /* srd_poll_tx() never does */
	assert_int_equal(e->l->ref_pkts, 0);
	env_free(e);
}

/* Resends name the same bytes: every 7th packet lost, acks too. */
static void test_tx_ref_loss(void **state)
{
	struct env *e;

	(void)state;
	e = ref_messages(1, 1, 0);
	assert_true(e->l->ref_pkts > 6);
	assert_true(stats(e, A).tx_retx_pkts > 0);
	env_free(e);
}

/* Every packet of both sides (data, packed or not, acks) handed to srd_recv_split() cut
 * at a point that walks through it 13 bytes at a time (in the header, at its end, in the
 * payload, at either end): taken as whole, nothing dropped. */
static void test_recv_split(void **state)
{
	struct env *e;

	(void)state;
	for (int loss = 0; loss < 2; loss++) {
		e = ref_messages(0, loss, 13);
		for (int s = 0; s < 2; s++) {
			struct srd_stats st = stats(e, s);

			for (uint32_t d = 1; d < SRD_DROP_MAX; d++)
				if (st.drops[d] && d != SRD_DROP_DUPLICATE)
					fail_msg("side %d: %llu drops of reason %u", s,
						 (unsigned long long)st.drops[d], d);
		}
		env_free(e);
	}
}

/* ---- 2. many messages under impairments ---- */

enum scenario { SC_CLEAN, SC_LOSS7, SC_ACKLOSS3, SC_REORDER, SC_BLACKHOLE, SC_ROUTE_DOWN };

static enum link_verdict filter_record(struct link *l, int from, const struct srd_tx_meta *m,
				       const uint8_t *pkt, uint32_t len, uint64_t n,
				       uint64_t *extra, unsigned *ce)
{
	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	return filter_count_a_data(l->filter_arg, from, m);
}

static enum link_verdict filter_loss7(struct link *l, int from, const struct srd_tx_meta *m,
				      const uint8_t *pkt, uint32_t len, uint64_t n,
				      uint64_t *extra, unsigned *ce)
{
	(void)pkt, (void)len, (void)extra, (void)ce;
	filter_count_a_data(l->filter_arg, from, m);
	return n % 7 == 6 ? LINK_DROP : LINK_PASS;
}

static enum link_verdict filter_ackloss3(struct link *l, int from, const struct srd_tx_meta *m,
					 const uint8_t *pkt, uint32_t len, uint64_t n,
					 uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	if (m->type == SRD_PKT_ACK && ++e->acks_seen % 3 == 0)
		return LINK_DROP;
	return LINK_PASS;
}

static enum link_verdict filter_reorder(struct link *l, int from, const struct srd_tx_meta *m,
					const uint8_t *pkt, uint32_t len, uint64_t n,
					uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)ce;
	filter_count_a_data(e, from, m);
	*extra = srd_rng_below(&e->rng, 3001); /* 0 .. 3 us */
	return LINK_PASS;
}

/* Messages around the length from which the receiver writes segments around the cache
 * (rx.c: 4 MiB), in segments of an odd size, so that most start at an address that is not
 * 16-byte aligned and end mid-line, reordered by up to 3 us: byte for byte as sent, on
 * either side of the threshold. */
static void test_msg_streamed_odd_segments(void **state)
{
	struct srd_config cfg[2];
	struct env *e;

	(void)state;
	for (int s = 0; s < 2; s++) {
		env_cfg_default(&cfg[s], s);
		cfg[s].seg_size = 8191;
	}
	e = env_new(&cfg[A], &cfg[B]);
	env_msgs(e, 2);
	msg_fill(e, 0, 4 * MIB + 3 * 8191 + 7, 0, NULL);
	msg_fill(e, 1, 4 * MIB - 1, 0, NULL);
	e->l->filter = filter_reorder;
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_int_equal(stats(e, B).rx_payload_bytes, 8 * MIB + 3 * 8191 + 6);
	env_free(e);
}

static enum link_verdict filter_blackhole(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	if (m->entropy == e->bh_entropy) {
		if (from == A && m->type == SRD_PKT_DATA)
			e->a_data_dropped++;
		return LINK_DROP;
	}
	return LINK_PASS;
}

/* The route of a UDP source port among 8, as a switch (or srdd's impairment stage) hashes
 * it: both directions of every entropy value on route 3 are lost, the receiver's acks too,
 * and 1 packet in 20 of the rest. */
static enum link_verdict filter_route_down(struct link *l, int from, const struct srd_tx_meta *m,
					   const uint8_t *pkt, uint32_t len, uint64_t n,
					   uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;
	uint32_t h = (uint32_t)m->entropy * 0x9e3779b1u;

	(void)pkt, (void)len, (void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	if ((((uint64_t)h * 8) >> 32) == 3 || n % 20 == 19) {
		if (from == A && m->type == SRD_PKT_DATA)
			e->a_data_dropped++;
		return LINK_DROP;
	}
	return LINK_PASS;
}

/* Sizes log-uniform over 1 B .. 1 MiB: a uniform octave 2^0 .. 2^20, uniform within it. */
static uint32_t log_uniform_size(struct srd_rng *r)
{
	uint32_t b = srd_rng_below(r, 21);
	uint32_t v = (1u << b) + srd_rng_below(r, 1u << b);

	return v > MIB ? MIB : v;
}

/* Which messages of a stress run are sent SRD_SEND_ORDERED. */
enum order { ORDER_NONE, ORDER_ALL, ORDER_MIXED /* every other one */ };

static void stress_order(enum scenario sc, enum order order, uint64_t limit, uint64_t *took)
{
	static const link_filter_fn filters[] = {
		[SC_CLEAN] = filter_record,
		[SC_LOSS7] = filter_loss7,
		[SC_ACKLOSS3] = filter_ackloss3,
		[SC_REORDER] = filter_reorder,
		[SC_BLACKHOLE] = filter_blackhole,
		[SC_ROUTE_DOWN] = filter_route_down,
	};
	struct env *e = env_new(NULL, NULL);
	struct srd_rng r;
	uint64_t bytes = 0;

	srd_rng_seed(&r, 0x5eed + (uint64_t)sc);
	env_msgs(e, 200);
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t len = log_uniform_size(&r);

		msg_fill(e, i, len, 0, NULL);
		if (order == ORDER_ALL || (order == ORDER_MIXED && i % 2))
			e->msgs[i].flags = SRD_SEND_ORDERED;
		bytes += len;
	}
	e->strict_order = 1;
	e->l->filter = filters[sc];
	e->window = 64;
	int ok = link_run(e->l, stress_pump, e, limit);
	uint64_t t = e->l->now;

	assert_no_errors(e);
	if (!ok)
		fail_msg("scenario %d: %u of 200 done by %llu ns", (int)sc, e->ndone,
			 (unsigned long long)t);
	run_idle(e, 2 * MS); /* late retransmissions must not deliver anything twice */
	check_all_ok(e);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_int_equal(sa.msgs_completed, 200);
	assert_int_equal(sa.msgs_failed, 0);
	assert_int_equal(sb.msgs_delivered, 200);
	assert_int_equal(sb.msgs_aborted, 0);
	if (order == ORDER_NONE)
		assert_int_equal(sb.msgs_held, 0);
	assert_true(sb.rx_payload_bytes == bytes);
	assert_int_equal(sb.rx_slots_used, 0);
	assert_true(sa.tx_data_pkts == e->a_data_pkts);
	if (sc == SC_CLEAN)
		assert_int_equal(sa.tx_retx_pkts, 0);
	if (sc == SC_LOSS7 || sc == SC_BLACKHOLE || sc == SC_ROUTE_DOWN)
		assert_true(sa.tx_retx_pkts > 0);
	if (sc == SC_BLACKHOLE) {
		assert_true(e->a_data_dropped > 0);
		assert_true(sa.path_failures >= 1);
		assert_true(sa.path_replacements >= 1);
	}
	print_message("      scenario %d order %d: %llu bytes in %llu us sim, %llu data pkts, "
		      "%llu retx, %llu rack, %llu rto, %llu path failures, %llu held, %u EAGAIN "
		      "within the window\n",
		      (int)sc, (int)order, (unsigned long long)bytes, (unsigned long long)(t / US),
		      (unsigned long long)sa.tx_data_pkts, (unsigned long long)sa.tx_retx_pkts,
		      (unsigned long long)sa.rack_losses, (unsigned long long)sa.rto_losses,
		      (unsigned long long)sa.path_failures, (unsigned long long)sb.msgs_held,
		      e->eagain);
	*took = t;
	env_free(e);
}

static void stress(enum scenario sc, uint64_t limit, uint64_t *took)
{
	stress_order(sc, ORDER_NONE, limit, took);
}

/* ~25 MB at one 4 KiB packet per 100 ns (40 GB/s) with a 4 us RTT: under 1 ms of simulated
 * time when clean.  The limit is 50 ms; each scenario must finish within a tenth of it. */
#define STRESS_LIMIT (50 * MS)

static void test_stress_clean(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_CLEAN, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

static void test_stress_loss_every_7th(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_LOSS7, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

static void test_stress_ack_loss(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_ACKLOSS3, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

static void test_stress_reorder(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_REORDER, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

static void test_stress_blackhole(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_BLACKHOLE, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

/* Entropy values A has sent data on (filter_echo). */
static uint64_t echo_sent_on[65536 / 64];

/* Every ACK and NACK goes back on the entropy value the packet it answers names (the data
 * header carries it), not on the receiver's own value for that path index: the sender
 * chooses where its acks come back (one of its reply values, or the packet's own), and
 * names only values it sends data on. */
static enum link_verdict filter_echo(struct link *l, int from, const struct srd_tx_meta *m,
				     const uint8_t *pkt, uint32_t len, uint64_t n,
				     uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;
	struct srd_pkt q;

	(void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	if (srd_wire_decode(pkt, len, &q) != 0) {
		env_error(e, "undecodable packet from %d", from);
		return LINK_PASS;
	}
	if (from == A && q.type == SRD_PKT_DATA) {
		uint16_t named = q.u.data.entropy;

		echo_sent_on[m->entropy / 64] |= 1ull << (m->entropy % 64);
		e->echo_ts[q.psn % 4096] = q.u.data.tx_ts;
		e->echo_ent[q.psn % 4096] = named;
		if (!(echo_sent_on[named / 64] >> (named % 64) & 1))
			env_error(e, "data psn %u on %u names %u, never sent on", q.psn, m->entropy,
				  named);
	} else if (from == B && (q.type == SRD_PKT_ACK || q.type == SRD_PKT_NACK)) {
		uint32_t psn = q.type == SRD_PKT_ACK ? q.u.ack.acked_psn : q.psn;
		uint32_t ts = q.type == SRD_PKT_ACK ? q.u.ack.echo_ts : q.u.nack.echo_ts;

		if (e->echo_ts[psn % 4096] == ts) {
			e->echo_checked++;
			e->echo_wrong += m->entropy != e->echo_ent[psn % 4096];
		}
	}
	return n % 11 == 10 ? LINK_DROP : LINK_PASS; /* some loss: retransmissions, NACK-free */
}

static void test_acks_echo_entropy(void **state)
{
	struct env *e = env_new(NULL, NULL);

	(void)state;
	memset(echo_sent_on, 0, sizeof(echo_sent_on));
	env_msgs(e, 200);
	for (uint32_t i = 0; i < 200; i++)
		msg_fill(e, i, 1 + i * 997, 0, NULL);
	e->l->filter = filter_echo;
	assert_true(link_run(e->l, stress_pump, e, 2000 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	printf("  acks matched to their data: %llu, on another value: %llu\n",
	       (unsigned long long)e->echo_checked, (unsigned long long)e->echo_wrong);
	assert_true(e->echo_checked > 100);
	assert_int_equal(e->echo_wrong, 0);
	env_free(e);
}

/* Is entropy value e on route 3 of 8 in the ack direction (a route dead one way only)? */
static bool ack_route_dead(uint16_t e)
{
	uint32_t h = ((uint32_t)e ^ 0x5bd1u) * 0x9e3779b1u;

	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return (((uint64_t)h * 8) >> 32) == 3;
}

/* Acks (B to A) on an entropy value whose route back is dead are lost, data always gets
 * through; 1 packet in 20 of the rest is lost, and every packet waits 0-10 us more, so
 * paths look congested now and then and take fresh values (recycles). */
static enum link_verdict filter_ack_route_down(struct link *l, int from,
					       const struct srd_tx_meta *m, const uint8_t *pkt,
					       uint32_t len, uint64_t n, uint64_t *extra,
					       unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)ce;
	filter_count_a_data(e, from, m);
	*extra = srd_rng_below(&e->rng, 10001);
	if ((from == B && ack_route_dead(m->entropy)) || n % 20 == 19)
		return LINK_DROP;
	return LINK_PASS;
}

/* A route dead in the ack direction only: the paths whose acks it eats get packets through
 * (acked by other paths' SACKs), so only the absence of their own acks tells.  Without
 * that, such values were never replaced while the others churned, and piled up until a
 * lone retransmission's every ack died and the connection timed out (srdd_workers under
 * load: 12 retransmissions on 12 paths, each acked, each ack lost). */
static void test_ack_route_down(void **state)
{
	struct env *e = env_new(NULL, NULL);
	struct srd_path_info pi[16];
	struct srd_conn_info ci;
	uint32_t deaf = 0;

	(void)state;
	env_msgs(e, 3000);
	for (uint32_t i = 0; i < 3000; i++)
		msg_fill(e, i, 1 + (i * 7919) % 40000, 0, NULL);
	e->window = 32;
	e->l->filter = filter_ack_route_down;
	if (!link_run(e->l, stress_pump, e, 60000 * MS))
		fail_msg("%u of 3000 done by %llu ms", e->ndone, (unsigned long long)(e->l->now / MS));
	assert_int_equal(srd_conn_info(e->l->eng[A], B, &ci, pi, 16), 16);
	for (uint32_t p = 0; p < 16; p++)
		deaf += pi[p].state == SRD_PATH_GOOD && ack_route_dead(pi[p].entropy);
	print_message("      %u ms, %u of 16 good paths on a dead ack route, %llu timeouts, %llu "
		      "recycles, %llu failures\n", (unsigned)(e->l->now / MS), deaf,
		      (unsigned long long)stats(e, A).rto_events,
		      (unsigned long long)stats(e, A).path_recycles,
		      (unsigned long long)stats(e, A).path_failures);
	run_idle(e, 1 * MS);
	check_all_ok(e);
	assert_int_equal(stats(e, A).conns_timed_out, 0);
	assert_true(deaf <= 5); /* 11 of 16 before */
	env_free(e);
}

/* A route down in both directions: the receiver's acks on the entropy values that hash to
 * it are lost as well, which the sender's path health cannot see as such. */
static void test_stress_route_down(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_ROUTE_DOWN, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 10);
}

/* A round trip longer than max_rto (10 ms by default): a path to another building, or a
 * host so overloaded that acks wait for milliseconds.  max_rto caps the backoff, never the
 * estimate: a timeout shorter than the RTT would fire before any ack could come back and
 * spend the whole retry budget in a few microseconds (the connection then failed with
 * -ETIMEDOUT while its peer was answering). */
static void test_rtt_beyond_max_rto(void **state)
{
	static const uint64_t delays[] = { 8 * MS, 30 * MS };

	(void)state;
	for (unsigned k = 0; k < 2; k++) {
		struct env *e = env_new(NULL, NULL);
		struct srd_stats sa;

		e->l->delay_ns = delays[k];
		env_msgs(e, 40);
		for (uint32_t i = 0; i < 40; i++)
			msg_fill(e, i, 64 * 1024, 0, NULL);
		e->window = 8;
		if (!link_run(e->l, stress_pump, e, 20000 * MS))
			fail_msg("one-way %llu ms: %u of 40 done by %llu ms",
				 (unsigned long long)(delays[k] / MS), e->ndone,
				 (unsigned long long)(e->l->now / MS));
		assert_no_errors(e);
		run_idle(e, 200 * MS);
		check_all_ok(e);
		sa = stats(e, A);
		print_message("      one-way %llu ms: 40 x 64 KiB in %llu ms, %llu timeouts, %llu "
			      "retransmissions\n", (unsigned long long)(delays[k] / MS),
			      (unsigned long long)(e->l->now / MS), (unsigned long long)sa.rto_events,
			      (unsigned long long)sa.tx_retx_pkts);
		assert_int_equal(sa.msgs_failed, 0);
		assert_int_equal(sa.conns_timed_out, 0);
		assert_int_equal(stats(e, B).msgs_delivered, 40);
		env_free(e);
	}
}

/* Ordered messages are delivered after every earlier message (strict_order checks each
 * delivery) under every impairment, and cost the sender nothing: the receiver holds them,
 * acknowledged, so the run takes exactly as long as the unordered one. */
static void ordered_run(enum scenario sc)
{
	uint64_t t_none, t_all, t_mixed;

	stress_order(sc, ORDER_NONE, STRESS_LIMIT, &t_none);
	stress_order(sc, ORDER_ALL, STRESS_LIMIT, &t_all);
	stress_order(sc, ORDER_MIXED, STRESS_LIMIT, &t_mixed);
	assert_true(t_all == t_none);
	assert_true(t_mixed == t_none);
}

static void test_ordered_clean(void **state)
{
	(void)state;
	ordered_run(SC_CLEAN);
}

static void test_ordered_loss(void **state)
{
	(void)state;
	ordered_run(SC_LOSS7);
}

static void test_ordered_ack_loss(void **state)
{
	(void)state;
	ordered_run(SC_ACKLOSS3);
}

static void test_ordered_reorder(void **state)
{
	(void)state;
	ordered_run(SC_REORDER);
}

static void test_ordered_blackhole(void **state)
{
	(void)state;
	ordered_run(SC_BLACKHOLE);
}

static void test_ordered_route_down(void **state)
{
	(void)state;
	ordered_run(SC_ROUTE_DOWN);
}

/* ---- 3. single-path and multipath ---- */

/* Run 4 messages of 256 KiB in mode with `paths` values: *distinct entropy values seen on
 * the wire, *spread the difference between the most and least used path's packets. */
static void paths_used(enum srd_path_mode mode, uint32_t paths, uint32_t *distinct,
		       uint32_t *spread)
{
	struct srd_config ca, cb;
	struct env *e;

	env_cfg_default(&ca, A);
	env_cfg_default(&cb, B);
	ca.mode = cb.mode = mode;
	ca.paths = cb.paths = paths;
	e = env_new(&ca, &cb);
	env_msgs(e, 4);
	for (uint32_t i = 0; i < 4; i++)
		msg_fill(e, i, 256 * 1024, 0, NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(msg_send(e, i), 0);
	e->l->filter = filter_record;
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	check_all_ok(e);
	assert_int_equal(stats(e, A).path_replacements, 0);
	*distinct = e->ent_count;

	struct srd_conn_info ci;
	struct srd_path_info pi[SRD_MAX_PATHS];
	int n = srd_conn_info(e->l->eng[A], B, &ci, pi, SRD_MAX_PATHS);

	assert_int_equal(n, mode == SRD_MODE_SINGLE ? 1 : (int)paths);
	uint64_t most = 0, least = UINT64_MAX;

	for (int p = 0; p < n; p++) {
		uint32_t k;

		most = pi[p].tx_pkts > most ? pi[p].tx_pkts : most;
		least = pi[p].tx_pkts < least ? pi[p].tx_pkts : least;
		for (k = 0; k < e->ent_count; k++)
			if (e->ent[k] == pi[p].entropy)
				break;
		assert_true(k < e->ent_count); /* each path's value was seen on the wire */
	}
	*spread = (uint32_t)(most - least);
	env_free(e);
}

static void test_single_path_mode(void **state)
{
	uint32_t n, spread;

	(void)state;
	paths_used(SRD_MODE_SINGLE, 16, &n, &spread);
	assert_int_equal(n, 1);
}

static void test_multipath_mode(void **state)
{
	uint32_t n, spread;

	(void)state;
	paths_used(SRD_MODE_MULTIPATH, 16, &n, &spread);
	assert_int_equal(n, 16);
}

/* Oblivious spraying: every value in turn, so each carries the same share (+-1). */
static void test_spray_mode(void **state)
{
	uint32_t n, spread;

	(void)state;
	paths_used(SRD_MODE_SPRAY, 16, &n, &spread);
	assert_int_equal(n, 16);
	assert_true(spread <= 1);
}

/* ---- 4. ECN ---- */

static enum link_verdict filter_ce_a_data(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)extra;
	filter_count_a_data(e, from, m);
	if (m->type == SRD_PKT_DATA && !m->ect)
		env_error(e, "data packet not ECN-capable");
	if (m->type != SRD_PKT_DATA && m->ect)
		env_error(e, "control packet %u marked ECN-capable", m->type);
	if (from == A && m->type == SRD_PKT_DATA)
		*ce = 1;
	return LINK_PASS;
}

static uint32_t ecn_run(int mark, struct env **out)
{
	struct srd_config ca;
	struct env *e;
	struct srd_conn_info ci;

	env_cfg_default(&ca, A);
	ca.cc.algo = SRD_CC_DCTCP;
	e = env_new(&ca, NULL);
	env_msgs(e, 8);
	for (uint32_t i = 0; i < 8; i++)
		msg_fill(e, i, 512 * 1024, 0, NULL);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(msg_send(e, i), 0);
	e->l->filter = mark ? filter_ce_a_data : filter_record;
	assert_true(link_run(e->l, all_done, e, 100 * MS));
	check_all_ok(e);
	assert_true(srd_conn_info(e->l->eng[A], B, &ci, NULL, 0) > 0);
	*out = e;
	return ci.cwnd;
}

static void test_ecn_dctcp(void **state)
{
	struct env *e;
	uint32_t cwnd;

	(void)state;
	cwnd = ecn_run(1, &e);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_true(sb.rx_ce_pkts > 0);
	assert_true(sb.rx_ce_pkts == sb.rx_data_pkts); /* every placed packet was marked */
	if (sa.tx_retx_pkts == 0)                      /* and each one was placed once */
		assert_true(sb.rx_ce_pkts == e->a_data_pkts);
	print_message("      ecn marked: cwnd %u/256 (init %u/256)\n", cwnd, e->cfg[A].cc.init_cwnd);
	assert_true(cwnd < e->cfg[A].cc.init_cwnd);
	env_free(e);

	cwnd = ecn_run(0, &e);
	assert_int_equal(stats(e, B).rx_ce_pkts, 0);
	print_message("      ecn clean:  cwnd %u/256\n", cwnd);
	assert_true(cwnd >= e->cfg[A].cc.init_cwnd);
	env_free(e);
}

/* ---- 5. configuration ---- */

static void expect_bad_config(const struct srd_config *cfg, const char *field)
{
	char err[160];
	struct srd_engine *eng = (struct srd_engine *)&err; /* must be reset to NULL */
	struct srd_callbacks cb = { .rx_alloc = cb_rx_alloc, .rx_deliver = cb_rx_deliver,
				    .tx_done = cb_tx_done };

	memset(err, 'x', sizeof(err));
	assert_int_equal(srd_config_check(cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(memchr(err, '\0', sizeof(err)));
	if (!strstr(err, field))
		fail_msg("error \"%s\" does not name %s", err, field);
	assert_int_equal(srd_engine_create(cfg, &cb, &eng, err, sizeof(err)), -EINVAL);
	assert_null(eng);
	assert_non_null(strstr(err, field));
	/* a 1-byte buffer still gets its terminator; errlen 0 is not written */
	err[0] = 'x';
	assert_int_equal(srd_config_check(cfg, err, 1), -EINVAL);
	assert_int_equal(err[0], '\0');
	assert_int_equal(srd_config_check(cfg, NULL, 0), -EINVAL);
}

static void *share_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	(void)user;
	(void)msg;
	return NULL;
}

static void share_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	(void)user;
	(void)msg;
}

static void share_tx_done(void *user, void *ctx, int status)
{
	(void)user;
	(void)ctx;
	(void)status;
}

/* Queue a message of len bytes (at most 1 MiB) to peer on eng at time 0. */
static void share_send_len(struct srd_engine *eng, uint64_t peer, uint32_t len)
{
	static uint8_t big[1 << 20];
	struct srd_iov iov = { big, len };
	struct srd_send_req req = { .peer = peer, .iov = &iov, .iovcnt = 1, .ctx = big };

	assert_int_equal(srd_send(eng, 0, &req), 0);
}

/* Queue a 1 MiB message to peer on eng at time 0. */
static void share_send(struct srd_engine *eng, uint64_t peer)
{
	share_send_len(eng, peer, 1u << 20);
}

/* Poll eng at time 0 until it has nothing more to send; count data packets per peer 1..3. */
static void share_drain(struct srd_engine *eng, uint32_t count[4])
{
	uint8_t buf[SRD_HDR_MAX_LEN + 4096];
	struct srd_tx_meta meta;
	int n;

	while ((n = srd_poll_tx(eng, 0, buf, sizeof(buf), &meta)) > 0)
		if (meta.type == SRD_PKT_DATA && meta.peer <= 3)
			count[meta.peer]++;
	assert_int_equal(n, 0);
}

/* An engine whose first flights share an initial window of 32 packets, unpaced, whose
 * receiving side takes nothing (these tests only watch what it sends). */
static struct srd_engine *share_engine(void)
{
	static const struct srd_callbacks cb = { .rx_alloc = share_rx_alloc,
						 .rx_deliver = share_rx_deliver,
						 .tx_done = share_tx_done };
	struct srd_engine *eng;
	struct srd_config cfg;
	char err[160];

	srd_config_default(&cfg);
	cfg.cc.init_cwnd = 32 * SRD_CWND_ONE;
	cfg.cc.pacing_gain_pct = 0;
	assert_int_equal(srd_engine_create(&cfg, &cb, &eng, err, sizeof(err)), 0);
	return eng;
}

/* A connection's first flight takes its share of init_cwnd among the connections with
 * messages to send: alone, the whole window; two at once, half each; one that starts
 * while another is sending, half, and the one already sending keeps what it had. */
static void test_first_flight_share(void **state)
{
	struct srd_engine *eng;
	uint32_t count[4];

	(void)state;
	eng = share_engine();
	memset(count, 0, sizeof(count));
	share_send(eng, 1);
	share_drain(eng, count);
	assert_int_equal(count[1], 32);
	srd_engine_destroy(eng);

	eng = share_engine();
	memset(count, 0, sizeof(count));
	share_send(eng, 1);
	share_send(eng, 2);
	share_drain(eng, count);
	assert_int_equal(count[1], 16);
	assert_int_equal(count[2], 16);
	share_send(eng, 3);
	share_drain(eng, count);
	assert_int_equal(count[3], 32 / 3);
	assert_int_equal(count[1] + count[2], 32);
	srd_engine_destroy(eng);
}

/* Poll eng at time 0 for up to max data packets; their peers in order[].  Returns how many. */
static uint32_t share_order(struct srd_engine *eng, uint64_t *order, uint32_t max)
{
	uint8_t buf[SRD_HDR_MAX_LEN + 4096];
	struct srd_tx_meta meta;
	uint32_t n = 0;

	while (n < max && srd_poll_tx(eng, 0, buf, sizeof(buf), &meta) > 0)
		if (meta.type == SRD_PKT_DATA)
			order[n++] = meta.peer;
	return n;
}

/* Data goes shortest message first: of a 1 MiB message to peer 1 and a 32 KiB one to peer 2
 * queued after it, the short one's 8 packets go first but for every eighth data turn, which
 * stays the round robin's (the long one is slowed, never stopped); of two of equal length,
 * the first takes the first turn and then, with fewer bytes left, the others but every
 * eighth. */
static void test_shortest_message_first(void **state)
{
	struct srd_engine *eng;
	uint64_t order[24];

	(void)state;
	eng = share_engine();
	share_send_len(eng, 1, 1u << 20);
	share_send_len(eng, 2, 32u << 10);
	/* each has half the initial window: 16 packets */
	assert_int_equal(share_order(eng, order, 24), 24);
	for (uint32_t i = 0; i < 24; i++)
		assert_int_equal(order[i], i < 9 && i != 7 ? 2 : 1);
	srd_engine_destroy(eng);

	eng = share_engine();
	share_send_len(eng, 1, 64u << 10);
	share_send_len(eng, 2, 64u << 10);
	assert_int_equal(share_order(eng, order, 16), 16);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(order[i], i % 8 == 7 ? 2 : 1);
	srd_engine_destroy(eng);
}

static void test_config(void **state)
{
	struct srd_config c, d;
	char err[160];

	(void)state;
	srd_config_default(&d);
	assert_int_equal(srd_config_check(&d, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	size_t base = srd_conn_state_bytes(&d);
	print_message("      conn state: %zu bytes with 16 paths\n", base);
	assert_true(base <= 1024);
	c = d;
	c.paths = 256;
	assert_int_equal(srd_config_check(&c, err, sizeof(err)), 0);
	assert_int_equal(srd_conn_state_bytes(&c), base + 240 * sizeof(struct srd_path));
	assert_int_equal(sizeof(struct srd_path), 28);
	c = d;
	c.mode = SRD_MODE_SINGLE; /* one path whatever `paths` says */
	assert_int_equal(srd_conn_state_bytes(&c), base - 15 * sizeof(struct srd_path));

	c = d;
	c.tx_window = 100;
	expect_bad_config(&c, "tx_window");
	c = d;
	c.paths = 0;
	expect_bad_config(&c, "paths");
	c = d;
	c.paths = 257;
	expect_bad_config(&c, "paths");
	c = d;
	c.seg_size = 10;
	expect_bad_config(&c, "seg_size");
	c = d;
	c.cc.algo = (enum srd_cc_algo)7;
	expect_bad_config(&c, "cc.algo");
	c = d;
	c.rx_window = 96;
	expect_bad_config(&c, "rx_window");
	c = d;
	c.max_tx_msgs = 48;
	expect_bad_config(&c, "max_tx_msgs");
	c = d;
	c.max_rto_ns = c.min_rto_ns - 1;
	expect_bad_config(&c, "max_rto_ns");
	c = d;
	c.min_tlp_ns = c.min_rto_ns - c.ack_delay_ns; /* the timeout would come first */
	expect_bad_config(&c, "min_tlp_ns");
	c.min_tlp_ns--;
	assert_int_equal(srd_config_check(&c, err, sizeof(err)), 0);

	/* callbacks are required */
	struct srd_engine *eng = NULL;
	struct srd_callbacks cb = { .rx_alloc = cb_rx_alloc, .rx_deliver = cb_rx_deliver };
	assert_int_equal(srd_engine_create(&d, &cb, &eng, err, sizeof(err)), -EINVAL);
	assert_null(eng);
	assert_non_null(strstr(err, "tx_done"));
	/* rx_take without rx_abort: taken messages of a refused packet could not come back */
	cb = (struct srd_callbacks){ .rx_alloc = cb_rx_alloc, .rx_deliver = cb_rx_deliver,
				     .tx_done = cb_tx_done, .rx_take = cb_rx_take };
	assert_int_equal(srd_engine_create(&d, &cb, &eng, err, sizeof(err)), -EINVAL);
	assert_null(eng);
	assert_non_null(strstr(err, "rx_abort"));
	assert_string_equal(srd_drop_reason_name(SRD_DROP_TRUNCATED), "truncated");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_TRUNCATED), "truncated"); /* as srd_recv returns it */
	assert_string_equal(srd_drop_reason_name(SRD_DROP_MAX), "unknown");
	assert_string_equal(srd_drop_reason_name(-(int)SRD_DROP_MAX), "unknown");
	assert_string_equal(srd_drop_reason_name(1000), "unknown");
}

/* ---- 6. introspection ---- */

/* B stops reading for 60 µs after every 32nd data packet from A has arrived, as a
 * descheduled receiver does: what A sent meanwhile waits in order (a FIFO: arrivals 1 ns
 * apart, since the link delivers same-time arrivals in any order), nothing is lost or
 * overtaken.  e->a_data_dropped holds the last arrival (reused field). */
static enum link_verdict filter_receiver_stalls(struct link *l, int from,
						const struct srd_tx_meta *m, const uint8_t *pkt,
						uint32_t len, uint64_t n, uint64_t *extra,
						unsigned *ce)
{
	struct env *e = l->filter_arg;
	uint64_t arrive = l->now + l->delay_ns;

	(void)pkt, (void)len, (void)n, (void)ce;
	if (from != A || m->type != SRD_PKT_DATA)
		return LINK_PASS;
	if (arrive <= e->a_data_dropped)
		arrive = e->a_data_dropped + 1;
	if (++e->a_data_pkts % 32 == 8)
		arrive += 60 * US;
	*extra = arrive - (l->now + l->delay_ns);
	e->a_data_dropped = arrive;
	return LINK_PASS;
}

/* Packets sent at the same time (one burst, one timestamp) are in send order by PSN: an ack
 * for the first of them says nothing about the later ones (RFC 8985's tie-break), so a
 * burst whose tail waits for a stalled receiver loses nothing to RACK. */
static void test_rack_same_time_burst(void **state)
{
	struct env *e;
	struct srd_stats sa, sb;

	(void)state;
	e = env_new(NULL, NULL);
	e->l->gap_ns = 0; /* the whole window leaves at one time */
	e->l->filter = filter_receiver_stalls;
	e->l->filter_arg = e;
	env_msgs(e, 4);
	for (uint32_t i = 0; i < 4; i++)
		msg_fill(e, i, 32 * e->cfg[A].seg_size, 0, NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	check_all_ok(e);
	sa = stats(e, A);
	sb = stats(e, B);
	printf("  stalled receiver: %llu RACK losses, %llu timeouts, %llu probes, %llu duplicates\n",
	       (unsigned long long)sa.rack_losses, (unsigned long long)sa.rto_events,
	       (unsigned long long)sa.tlp_probes, (unsigned long long)sb.drops[SRD_DROP_DUPLICATE]);
	assert_int_equal(sa.rack_losses, 0);
	env_free(e);
}

/* A's data wait in a queue that builds up (each 100 ns more than the one before, as behind
 * a slowed link) and every 40th waits 6 us more still, as on a longer route: RACK resends
 * it, and the original's ack comes back within a round trip of the resend.  That ack must
 * not be taken for the resend's (a round trip of a few us, against a queue tens of us
 * deep), which made every older packet still queued look lost: 29 RACK losses instead of
 * at most one per late packet.  e->a_data_dropped counts the late ones (reused field). */
static enum link_verdict filter_queue_and_late(struct link *l, int from,
					       const struct srd_tx_meta *m, const uint8_t *pkt,
					       uint32_t len, uint64_t n, uint64_t *extra,
					       unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)ce;
	if (from != A || m->type != SRD_PKT_DATA)
		return LINK_PASS;
	*extra = ++e->a_data_pkts * 100;
	if (e->a_data_pkts % 40 == 0) {
		*extra += 6 * US;
		e->a_data_dropped++;
	}
	return LINK_PASS;
}

static void test_rack_ack_of_earlier_copy(void **state)
{
	struct env *e;
	struct srd_stats sa;

	(void)state;
	e = env_new(NULL, NULL);
	e->l->filter = filter_queue_and_late;
	e->l->filter_arg = e;
	env_msgs(e, 32);
	for (uint32_t i = 0; i < 32; i++)
		msg_fill(e, i, 16 * e->cfg[A].seg_size, 0, NULL);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(msg_send(e, i), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	check_all_ok(e);
	sa = stats(e, A);
	printf("  growing queue: %llu late packets, %llu RACK losses\n",
	       (unsigned long long)e->a_data_dropped, (unsigned long long)sa.rack_losses);
	assert_true(sa.rack_losses <= e->a_data_dropped);
	env_free(e);
}

/* A's drop_at-th data packet is dropped once; every other one gets through.  drop_ns is
 * when it was dropped, resent_ns when its resend left. */
static uint32_t drop_at, drop_psn;
static uint64_t drop_ns, resent_ns;

static enum link_verdict filter_drop_once(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;
	uint32_t psn;

	(void)len, (void)n, (void)extra, (void)ce;
	if (from != A || m->type != SRD_PKT_DATA)
		return LINK_PASS;
	psn = (uint32_t)pkt[12] << 24 | (uint32_t)pkt[13] << 16 | (uint32_t)pkt[14] << 8 | pkt[15];
	if (++e->a_data_pkts == drop_at) {
		drop_psn = psn;
		drop_ns = l->now;
		return LINK_DROP;
	}
	if (e->a_data_pkts > drop_at && psn == drop_psn && !resent_ns)
		resent_ns = l->now;
	return LINK_PASS;
}

/* Drop A's nth data packet once, from now on (filter_drop_once). */
static void drop_once(struct env *e, uint32_t nth)
{
	drop_at = nth;
	resent_ns = 0;
	e->a_data_pkts = 0;
	e->l->filter = filter_drop_once;
}

/* A packet lost near the end of a message, every packet sent after it acked: RACK resends
 * it one reordering window after its expected round trip, not the four it allows while
 * later packets may still overtake it: 5.0 us after the drop here, 8.1 before (with a
 * k=8 fat-tree's 14 us round trip, 3.5 us of window against 14).  No tail loss probe. */
static void test_rack_tail_loss(void **state)
{
	struct env *e;
	struct srd_stats sa;
	uint64_t took;

	(void)state;
	e = env_new(NULL, NULL);
	drop_once(e, 30); /* the tail of a flight: the 30th of 32 */
	env_msgs(e, 1);
	msg_fill(e, 0, 32 * e->cfg[A].seg_size, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	check_all_ok(e);
	sa = stats(e, A);
	assert_true(resent_ns > drop_ns);
	took = resent_ns - drop_ns;
	printf("  packet 30 of 32 lost: resent %.2f us after, %llu RACK losses, %llu probes\n",
	       took / 1e3, (unsigned long long)sa.rack_losses, (unsigned long long)sa.tlp_probes);
	assert_int_equal(sa.rack_losses, 1);
	assert_int_equal(sa.tlp_probes, 0);
	assert_true(took <= 6 * US);
	env_free(e);
}

static int first_done(void *arg)
{
	return ((struct env *)arg)->ndone >= 1;
}

/* How long after the drop of a lone packet its tail loss probe resent it, with the given
 * floor (ns); checks that the probe, not the timeout, recovered it. */
static uint64_t probe_after(uint64_t min_tlp_ns, uint64_t *srtt_ns)
{
	struct srd_config ca;
	struct srd_conn_info info;
	struct srd_stats sa;
	struct env *e;

	env_cfg_default(&ca, A);
	ca.min_tlp_ns = min_tlp_ns;
	e = env_new(&ca, NULL);
	drop_once(e, 2); /* the second message's only packet */
	env_msgs(e, 2);
	msg_fill(e, 0, 100, 0, NULL);
	msg_fill(e, 1, 100, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, first_done, e, 10 * MS));
	assert_true(srd_conn_info(e->l->eng[A], B, &info, NULL, 0) > 0);
	*srtt_ns = info.srtt_ns;
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 10 * MS));
	check_all_ok(e);
	sa = stats(e, A);
	assert_int_equal(sa.tlp_probes, 1);
	assert_int_equal(sa.rto_events, 0);
	assert_true(resent_ns > drop_ns);
	env_free(e);
	return resent_ns - drop_ns;
}

/* The tail loss probe waits two smoothed RTTs plus the ack delay, or min_tlp plus the ack
 * delay when that is longer (a host that stalls), and comes before the timeout. */
static void test_tlp_floor(void **state)
{
	uint64_t srtt, ack_delay, took;
	struct srd_config d;

	(void)state;
	env_cfg_default(&d, A);
	ack_delay = d.ack_delay_ns;
	took = probe_after(0, &srtt);
	printf("  no floor: probe %.2f us after the drop (srtt %.2f us)\n", took / 1e3, srtt / 1e3);
	assert_true(took >= 2 * srtt + ack_delay && took <= 2 * srtt + ack_delay + 2 * US);
	took = probe_after(50 * US, &srtt);
	printf("  50 us floor: probe %.2f us after the drop\n", took / 1e3);
	assert_true(took >= 50 * US + ack_delay && took <= 50 * US + ack_delay + 2 * US);
	/* a floor under two smoothed RTTs changes nothing */
	took = probe_after(5 * US, &srtt);
	printf("  5 us floor: probe %.2f us after the drop (srtt %.2f us)\n", took / 1e3,
	       srtt / 1e3);
	assert_true(5 * US < 2 * srtt);
	assert_true(took >= 2 * srtt + ack_delay && took <= 2 * srtt + ack_delay + 2 * US);
}

static void test_conn_info(void **state)
{
	struct env *e = env_new(NULL, NULL);
	struct srd_conn_info ia, ib;
	struct srd_path_info pi[SRD_MAX_PATHS + 1];

	(void)state;
	env_msgs(e, 40);
	for (uint32_t i = 0; i < 40; i++)
		msg_fill(e, i, 1 + i * 5000, 0, NULL);
	for (uint32_t i = 0; i < 40; i++)
		assert_int_equal(msg_send(e, i), 0);
	e->l->filter = filter_record;
	assert_true(link_run(e->l, all_done, e, 50 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);

	assert_int_equal(srd_conn_info(e->l->eng[A], 5, &ia, pi, 16), -ENOENT);
	memset(pi, 0xa5, sizeof(pi));
	assert_int_equal(srd_conn_info(e->l->eng[A], B, &ia, pi, SRD_MAX_PATHS), 16);
	assert_int_equal(srd_conn_info(e->l->eng[B], A, &ib, NULL, 0), 16);
	assert_true(ia.peer == B && ib.peer == A);
	assert_int_equal(ia.npaths, 16);
	assert_true(ia.local_id != 0 && ia.peer_id == ib.local_id && ib.peer_id == ia.local_id);
	assert_int_equal(ia.inflight, 0);
	assert_true(ia.srtt_ns > 0 && ia.srtt_ns < 1 * MS);
	/* the link's RTT is at least 2 * 2 us of delay */
	assert_true(ia.min_rtt_ns >= 2 * e->l->delay_ns && ia.min_rtt_ns <= ia.srtt_ns * 4);
	assert_true(ia.rto_ns >= e->cfg[A].min_rto_ns && ia.rto_ns <= e->cfg[A].max_rto_ns);
	assert_true(ia.cwnd >= e->cfg[A].cc.min_cwnd && ia.cwnd <= e->cfg[A].cc.max_cwnd);
	assert_int_equal(ia.retransmits, 0);

	struct srd_stats sa = stats(e, A);
	uint64_t sum = 0;
	uint32_t with_rtt = 0;

	for (uint32_t p = 0; p < 16; p++) {
		assert_true(pi[p].entropy != 0);
		for (uint32_t q = 0; q < p; q++)
			assert_true(pi[q].entropy != pi[p].entropy);
		assert_int_equal(pi[p].state, SRD_PATH_GOOD);
		assert_int_equal(pi[p].inflight, 0);
		assert_true(pi[p].ecn_permille <= 1000);
		assert_int_equal(pi[p].replacements, 0);
		assert_true(pi[p].srtt_ns < 1 * MS);
		with_rtt += pi[p].srtt_ns > 0;
		sum += pi[p].tx_pkts;
	}
	assert_true(with_rtt > 0);
	assert_true(sum >= sa.tx_data_pkts);
	assert_true(sa.tx_data_pkts == e->a_data_pkts);
	/* the entries past npaths are left alone */
	assert_int_equal(pi[16].entropy, 0xa5a5);
	/* max_paths smaller than npaths */
	memset(pi, 0x5a, sizeof(pi));
	assert_int_equal(srd_conn_info(e->l->eng[A], B, &ia, pi, 3), 16);
	assert_int_equal(pi[3].entropy, 0x5a5a);
	assert_true(pi[2].entropy != 0x5a5a);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_msg_1_byte, teardown),
		cmocka_unit_test_teardown(test_msg_empty, teardown),
		cmocka_unit_test_teardown(test_msg_seg_size, teardown),
		cmocka_unit_test_teardown(test_msg_seg_size_plus_1, teardown),
		cmocka_unit_test_teardown(test_msg_16mib, teardown),
		cmocka_unit_test_teardown(test_msg_streamed_odd_segments, teardown),
		cmocka_unit_test_teardown(test_msg_scatter_gather, teardown),
		cmocka_unit_test_teardown(test_tx_ref, teardown),
		cmocka_unit_test_teardown(test_tx_ref_loss, teardown),
		cmocka_unit_test_teardown(test_recv_split, teardown),
		cmocka_unit_test_teardown(test_stress_clean, teardown),
		cmocka_unit_test_teardown(test_stress_loss_every_7th, teardown),
		cmocka_unit_test_teardown(test_stress_ack_loss, teardown),
		cmocka_unit_test_teardown(test_stress_reorder, teardown),
		cmocka_unit_test_teardown(test_stress_blackhole, teardown),
		cmocka_unit_test_teardown(test_stress_route_down, teardown),
		cmocka_unit_test_teardown(test_acks_echo_entropy, teardown),
		cmocka_unit_test_teardown(test_ack_route_down, teardown),
		cmocka_unit_test_teardown(test_rtt_beyond_max_rto, teardown),
		cmocka_unit_test_teardown(test_ordered_clean, teardown),
		cmocka_unit_test_teardown(test_ordered_loss, teardown),
		cmocka_unit_test_teardown(test_ordered_ack_loss, teardown),
		cmocka_unit_test_teardown(test_ordered_reorder, teardown),
		cmocka_unit_test_teardown(test_ordered_blackhole, teardown),
		cmocka_unit_test_teardown(test_ordered_route_down, teardown),
		cmocka_unit_test_teardown(test_single_path_mode, teardown),
		cmocka_unit_test_teardown(test_multipath_mode, teardown),
		cmocka_unit_test_teardown(test_spray_mode, teardown),
		cmocka_unit_test_teardown(test_ecn_dctcp, teardown),
		cmocka_unit_test(test_first_flight_share),
		cmocka_unit_test(test_shortest_message_first),
		cmocka_unit_test_teardown(test_config, teardown),
		cmocka_unit_test_teardown(test_conn_info, teardown),
		cmocka_unit_test_teardown(test_rack_same_time_burst, teardown),
		cmocka_unit_test_teardown(test_rack_ack_of_earlier_copy, teardown),
		cmocka_unit_test_teardown(test_rack_tail_loss, teardown),
		cmocka_unit_test_teardown(test_tlp_floor, teardown),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
