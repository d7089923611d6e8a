/*
 * test_reply.c — reply routes (lib/core/paths.c): which entropy value a DATA names for its
 * ack, with time and acks moved by hand.  A connection tries its packets' own values
 * (asking for the ack at once), uses the values that answered, drops one that stops
 * answering, and takes nothing for proven on an ack that answers a value's predecessor;
 * and a failed path takes the value of the path answered most lately.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h"

#define US 1000ull
#define NPATHS 64u
#define SRTT (20 * US)

static struct srd_engine eng;
static struct srd_conn conn;
static struct srd_path paths[NPATHS];

static int setup(void **state)
{
	(void)state;
	memset(&eng, 0, sizeof(eng));
	memset(&conn, 0, sizeof(conn));
	srd_config_default(&eng.cfg);
	eng.cfg.mode = SRD_MODE_MULTIPATH;
	srd_rng_seed(&eng.rng, 7);
	conn.paths = paths;
	conn.npaths = NPATHS;
	conn.peer_id = 1; /* a peer to answer probes */
	paths_init(&eng, &conn);
	conn.srtt_ns = SRTT;
	return 0;
}

/* The value a packet on path p sent at now names; *slot and *ask as the sender records. */
static uint16_t name(uint32_t p, uint64_t now, uint8_t *slot, bool *ask)
{
	return paths_reply_entropy(&eng, &conn, now, p, slot, ask);
}

/* Two packets on paths 0 and 1 at time t try their own values; both answer at once. */
static void prove_two(uint64_t t, uint8_t *s0, uint8_t *s1)
{
	bool ask;

	assert_int_equal(name(0, t, s0, &ask), paths[0].entropy);
	assert_true(ask);
	assert_int_equal(name(1, t, s1, &ask), paths[1].entropy);
	assert_true(ask);
	paths_on_reply(&conn, t + SRTT, *s0, t);
	paths_on_reply(&conn, t + SRTT, *s1, t);
}

/* At the start two packets try their own values, asking for the ack at once; later
 * packets name one of those two, without asking. */
static void test_start_tries_two_own_values(void **state)
{
	uint8_t s0, s1, s;
	bool ask;
	uint16_t e;

	(void)state;
	assert_int_equal(name(5, 1 * US, &s0, &ask), paths[5].entropy);
	assert_true(ask);
	assert_true(s0 < SRD_REPLY_ROUTES);
	assert_int_equal(name(9, 2 * US, &s1, &ask), paths[9].entropy);
	assert_true(ask);
	assert_true(s1 < SRD_REPLY_ROUTES && s1 != s0);
	for (uint32_t p = 10; p < 40; p++) {
		e = name(p, 3 * US, &s, &ask);
		assert_false(ask);
		assert_true(e == paths[5].entropy || e == paths[9].entropy);
		assert_true(s == s0 || s == s1);
	}
}

/* Once proven, both values carry the acks, each about half of them (chosen at random: a
 * fixed turn would beat with ack coalescing). */
static void test_proven_values_share_the_acks(void **state)
{
	uint8_t s0, s1, s;
	uint32_t on0 = 0;
	bool ask;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	for (uint32_t i = 0; i < 400; i++) {
		uint16_t e = name(i % NPATHS, 30 * US, &s, &ask);

		assert_false(ask);
		assert_true(e == paths[0].entropy || e == paths[1].entropy);
		on0 += s == s0;
	}
	assert_in_range(on0, 140, 260);
}

/* A proven value that brings no ack while the other brings many stops being named, and
 * the next packet tries its own value in its place. */
static void test_silent_value_goes_stale(void **state)
{
	uint8_t s0, s1, s;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	/* only s1 answers: 7 acks (more than 3 per value in use) */
	for (uint32_t i = 0; i < 7; i++)
		paths_on_reply(&conn, t, s1, t - SRTT);
	assert_int_equal(name(20, t, &s, &ask), paths[20].entropy);
	assert_true(ask);
	assert_true(s != s0 && s != s1);
	for (uint32_t i = 0; i < 50; i++) {
		name(21 + i % 20, t, &s, &ask);
		assert_true(s != s0);
	}
}

/* A value that brings no ack for 1.5 smoothed RTTs goes stale (a slow connection's few
 * acks, or all its reply values dead: no other acks count time for it). */
static void test_quiet_value_goes_stale_by_time(void **state)
{
	uint8_t s0, s1, s;
	bool ask;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	/* nothing at all for 2 srtt */
	name(30, 1 * US + SRTT + 2 * SRTT, &s, &ask);
	assert_true(ask);
	assert_int_equal(name(31, 1 * US + 3 * SRTT, &s, &ask), paths[31].entropy);
	assert_true(ask);
}

/* A stale value comes back when an ack it was asked for (sent while it held the value)
 * arrives. */
static void test_stale_value_revived_by_its_ack(void **state)
{
	uint8_t s0, s1, s;
	bool ask, seen0 = false;
	uint64_t t = 30 * US;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	for (uint32_t i = 0; i < 7; i++)
		paths_on_reply(&conn, t, s1, t - SRTT);
	name(20, t, &s, &ask); /* s0 is stale now */
	paths_on_reply(&conn, t + US, s0, 2 * US); /* a late ack on it, for a packet sent at 2 us */
	for (uint32_t i = 0; i < 60 && !seen0; i++) {
		name(21 + i % 20, t + US, &s, &ask);
		seen0 = s == s0;
	}
	assert_true(seen0);
}

/* A value being tried goes stale once packets sent a quarter RTT after the one that asked
 * on it were answered on other values and it was not: its acks die. */
static void test_tried_value_stale_when_later_packets_answered(void **state)
{
	uint8_t s0, s1, st, s;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	for (uint32_t i = 0; i < 7; i++)
		paths_on_reply(&conn, t, s1, t - SRTT);
	name(20, t, &st, &ask); /* tries path 20's value in s0's place */
	assert_true(ask);
	/* packets sent 10 us after the try answered on s1; the try did not */
	paths_on_reply(&conn, t + SRTT, s1, t + 10 * US);
	assert_int_equal(name(22, t + SRTT, &s, &ask), paths[22].entropy);
	assert_true(ask);
	assert_true(s != st);
}

/* An ack for a packet sent before a slot took its current value answers the old value,
 * not the new one. */
static void test_ack_for_old_value_proves_nothing(void **state)
{
	uint8_t s0, s1, st, s;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	for (uint32_t i = 0; i < 7; i++)
		paths_on_reply(&conn, t, s1, t - SRTT);
	name(20, t, &st, &ask); /* path 20's value is tried, maybe in s0's slot */
	/* an ack on that slot for a packet sent before the try */
	paths_on_reply(&conn, t + 2 * US, st, t - US);
	/* still only being tried: not named while a proven value is there */
	for (uint32_t i = 0; i < 50; i++) {
		name(30 + i % 20, t + 2 * US, &s, &ask);
		assert_true(s == s1);
	}
}

/* A timeout forgets the reply values: the next packets try their own again. */
static void test_reset_starts_over(void **state)
{
	uint8_t s0, s1, s;
	bool ask;

	(void)state;
	prove_two(1 * US, &s0, &s1);
	paths_reply_reset(&conn);
	assert_int_equal(name(40, 30 * US, &s, &ask), paths[40].entropy);
	assert_true(ask);
}

/* The baselines (single path, oblivious spraying) answer on the packet's own value. */
static void test_baselines_answer_on_own_value(void **state)
{
	uint8_t s;
	bool ask;

	(void)state;
	eng.cfg.mode = SRD_MODE_SPRAY;
	for (uint32_t p = 0; p < 8; p++) {
		assert_int_equal(name(p, 1 * US, &s, &ask), paths[p].entropy);
		assert_int_equal(s, SRD_REPLY_OWN);
		assert_false(ask);
	}
}

/* Path 3 was answered lately (an ack on its own value this window, and a packet of it
 * known delivered); path p goes suspect for silence. */
static void answered_and_suspect(uint32_t p)
{
	paths[3].qmin_cur = 100;
	paths[3].qwin = conn.qwin_seq;
	paths[3].acked_sent = 100;
	paths_on_silence(&eng, &conn, p);
}

/* A path failed for silence takes the value of the path answered most lately, usable at
 * once: a random value's probe lands on a dead link as often as any route does. */
static void test_failed_path_takes_live_value(void **state)
{
	(void)state;
	answered_and_suspect(7);
	paths_on_loss(&eng, &conn, 7, true);
	assert_int_equal(paths[7].entropy, paths[3].entropy);
	assert_int_equal(paths[7].state, SRD_PATH_GOOD);
	assert_int_equal(conn.n_probing, 0);
	assert_int_equal(conn.n_good, NPATHS);
	assert_int_equal(eng.st.path_failures, 1);
}

/* With fewer than 32 values per connection, values stay distinct: a fresh random one,
 * probed first. */
static void test_few_values_failed_path_probes(void **state)
{
	(void)state;
	conn.npaths = 16;
	paths_init(&eng, &conn);
	answered_and_suspect(7);
	paths_on_loss(&eng, &conn, 7, true);
	assert_int_not_equal(paths[7].entropy, paths[3].entropy);
	assert_int_equal(paths[7].state, SRD_PATH_PROBING);
	assert_int_equal(conn.n_probing, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_start_tries_two_own_values, setup),
		cmocka_unit_test_setup(test_proven_values_share_the_acks, setup),
		cmocka_unit_test_setup(test_silent_value_goes_stale, setup),
		cmocka_unit_test_setup(test_quiet_value_goes_stale_by_time, setup),
		cmocka_unit_test_setup(test_stale_value_revived_by_its_ack, setup),
		cmocka_unit_test_setup(test_tried_value_stale_when_later_packets_answered, setup),
		cmocka_unit_test_setup(test_ack_for_old_value_proves_nothing, setup),
		cmocka_unit_test_setup(test_reset_starts_over, setup),
		cmocka_unit_test_setup(test_baselines_answer_on_own_value, setup),
		cmocka_unit_test_setup(test_failed_path_takes_live_value, setup),
		cmocka_unit_test_setup(test_few_values_failed_path_probes, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
