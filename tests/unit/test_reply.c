/*
 * test_reply.c — reply routes (lib/core/paths.c): which entropy value a DATA names for its
 * ack, with time and acks moved by hand.  A connection tries its packets' own values
 * (asking for the ack at once), uses the values that answered, drops one that stops
 * answering, and takes nothing for proven on an ack that answers a value's predecessor;
 * and a failed path takes the value of the path answered most lately (else one that came
 * back clean), as does a recycled one when no value is clean.
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

/* Three packets on paths 0, 1 and 2 at time t try their own values (the fewest values
 * in use); all three answer at once. */
static void prove_three(uint64_t t, uint8_t s[3])
{
	bool ask;

	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(name(i, t, &s[i], &ask), paths[i].entropy);
		assert_true(ask);
	}
	for (uint32_t i = 0; i < 3; i++)
		paths_on_reply(&conn, t + SRTT, s[i], t);
}

/* Only s[1] and s[2] answer, n acks: more than 8 per value in use since s[0]'s own (25)
 * and s[0] goes stale. */
static void others_answer(const uint8_t s[3], uint64_t t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		paths_on_reply(&conn, t, s[1 + i % 2], t - SRTT);
}

static void only_others_answer(const uint8_t s[3], uint64_t t)
{
	others_answer(s, t, 25);
}

/* Only s[2] answers, 25 acks: s[0] and s[1] go stale, one proven value is left. */
static void only_last_answers(const uint8_t s[3], uint64_t t)
{
	for (uint32_t i = 0; i < 25; i++)
		paths_on_reply(&conn, t, s[2], t - SRTT);
}

/* At the start three packets try their own values, asking for the ack at once; later
 * packets name one of those three, without asking. */
static void test_start_tries_three_own_values(void **state)
{
	static const uint32_t tried[3] = { 5, 9, 11 };
	uint8_t s[3], k;
	bool ask;

	(void)state;
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(name(tried[i], (1 + i) * US, &s[i], &ask), paths[tried[i]].entropy);
		assert_true(ask);
		assert_true(s[i] < SRD_REPLY_OWN);
	}
	assert_true(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
	for (uint32_t p = 12; p < 40; p++) {
		uint16_t e = name(p, 4 * US, &k, &ask);

		assert_false(ask);
		assert_true(k == s[0] || k == s[1] || k == s[2]);
		assert_int_equal(e, paths[tried[k == s[0] ? 0 : k == s[1] ? 1 : 2]].entropy);
	}
}

/* Once proven, the values carry the acks, each about a third of them (chosen at random:
 * a fixed turn would beat with ack coalescing). */
static void test_proven_values_share_the_acks(void **state)
{
	uint8_t s[3], k;
	uint32_t on0 = 0;
	bool ask;

	(void)state;
	prove_three(1 * US, s);
	for (uint32_t i = 0; i < 600; i++) {
		name(i % NPATHS, 30 * US, &k, &ask);
		assert_false(ask);
		assert_true(k == s[0] || k == s[1] || k == s[2]);
		on0 += k == s[0];
	}
	assert_in_range(on0, 140, 260);
}

/* A proven value that brings no ack while the others bring many stops being named; with
 * two proven values left no new one is tried (a random reverse route that may be dead). */
static void test_silent_value_goes_stale(void **state)
{
	uint8_t s[3], k;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, s);
	only_others_answer(s, t);
	for (uint32_t i = 0; i < 50; i++) {
		name(20 + i % 20, t, &k, &ask);
		assert_false(ask);
		assert_true(k == s[1] || k == s[2]);
	}
}

/* With one proven value left, the next packet tries its own value in an empty slot. */
static void test_one_proven_left_tries_own_value(void **state)
{
	uint8_t s[3], k;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, s);
	only_last_answers(s, t);
	assert_int_equal(name(20, t, &k, &ask), paths[20].entropy);
	assert_true(ask);
	assert_true(k != s[0] && k != s[1] && k != s[2]);
}

/* A run of 24 acks on the others (8 per value in use) is chance, not a dead route: a
 * value each ack picks one time in three goes without that long in 1 run of 20,000; at 3
 * per value (9 acks, 2.6% a run), live values went stale every few tens of acks and each
 * put a new value to the test. */
static void test_value_not_stale_by_chance(void **state)
{
	uint8_t s[3], k;
	bool ask, seen0 = false;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, s);
	others_answer(s, t, 22); /* 24 since s[0]'s own, with the two of prove_three() */
	for (uint32_t i = 0; i < 50; i++) {
		name(21 + i % 20, t, &k, &ask);
		assert_false(ask);
		seen0 |= k == s[0];
	}
	assert_true(seen0);
}

/* A value that brings no ack for 1.5 smoothed RTTs goes stale (a slow connection's few
 * acks, or all its reply values dead: no other acks count time for it). */
static void test_quiet_value_goes_stale_by_time(void **state)
{
	uint8_t sv[3], s;
	bool ask;

	(void)state;
	prove_three(1 * US, sv);
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
	uint8_t sv[3], s;
	bool ask, seen0 = false;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, sv);
	only_others_answer(sv, t);
	name(20, t, &s, &ask); /* sv[0] is stale now */
	paths_on_reply(&conn, t + US, sv[0], 2 * US); /* a late ack on it, for a packet sent at 2 us */
	for (uint32_t i = 0; i < 80 && !seen0; i++) {
		name(21 + i % 20, t + US, &s, &ask);
		seen0 = s == sv[0];
	}
	assert_true(seen0);
}

/* A value being tried goes stale once packets sent a quarter RTT after the one that asked
 * on it were answered on other values and it was not: its acks die. */
static void test_tried_value_stale_when_later_packets_answered(void **state)
{
	uint8_t sv[3], st, s;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, sv);
	only_last_answers(sv, t);
	name(20, t, &st, &ask); /* tries path 20's value: only sv[2] is proven */
	assert_true(ask);
	/* packets sent 10 us after the try answered on sv[2]; the try did not */
	paths_on_reply(&conn, t + SRTT, sv[2], t + 10 * US);
	assert_int_equal(name(22, t + SRTT, &s, &ask), paths[22].entropy);
	assert_true(ask);
	assert_true(s != st);
}

/* An ack for a packet sent before a slot took its current value answers the old value,
 * not the new one. */
static void test_ack_for_old_value_proves_nothing(void **state)
{
	uint8_t sv[3], st, st2, s;
	bool ask;
	uint64_t t = 30 * US;

	(void)state;
	prove_three(1 * US, sv);
	only_last_answers(sv, t);
	name(20, t, &st, &ask); /* path 20's value is tried in the empty slot */
	assert_true(ask);
	paths_on_reply(&conn, t + SRTT, sv[2], t + 10 * US); /* and goes stale */
	name(22, t + SRTT, &st2, &ask); /* path 22's value takes sv[0]'s slot */
	assert_true(ask);
	assert_int_equal(st2 & 3, sv[0] & 3);
	/* an ack for a packet sent on sv[0]'s old value; sv[1] answers again */
	paths_on_reply(&conn, t + SRTT + US, sv[0], 2 * US);
	paths_on_reply(&conn, t + SRTT + US, sv[1], t);
	/* path 22's value is still only being tried: not named while proven values are */
	for (uint32_t i = 0; i < 50; i++) {
		name(30 + i % 20, t + SRTT + US, &s, &ask);
		assert_false(ask);
		assert_true(s == sv[1] || s == sv[2]);
	}
}

/* A timeout forgets the reply values: the next packets try their own again. */
static void test_reset_starts_over(void **state)
{
	uint8_t sv[3], s;
	bool ask;

	(void)state;
	prove_three(1 * US, sv);
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

/* With no path answered lately (a flight's tail) a failed path takes a value that came
 * back clean lately, used at once, not a random one to probe. */
static void test_failed_path_takes_clean_value(void **state)
{
	(void)state;
	conn.min_rtt_ns = 14 * US;
	paths[3].srtt_ns = 15 * US; /* near the base RTT, no ECN: clean */
	paths_on_silence(&eng, &conn, 7);
	paths_on_loss(&eng, &conn, 7, true);
	assert_int_equal(paths[7].entropy, paths[3].entropy);
	assert_int_equal(paths[7].state, SRD_PATH_GOOD);
	assert_int_equal(conn.n_probing, 0);
}

/* A congested path recycled when no value is clean (every route of the flow queues)
 * takes the value of the path answered most lately, not a random one. */
static void test_recycled_path_takes_live_value(void **state)
{
	uint32_t p = SRD_NIL32;

	(void)state;
	conn.min_rtt_ns = 14 * US;
	for (uint32_t q = 0; q < NPATHS; q++)
		paths[q].ecn = 200; /* all marked: congested, none clean */
	paths[3].qmin_cur = 100;
	paths[3].qwin = conn.qwin_seq;
	paths[3].acked_sent = 100;
	for (uint32_t i = 0; i < 8; i++) /* 8 passes over path 0 before it is recycled */
		p = paths_pick(&eng, &conn, -1, false);
	assert_int_equal(p, 0);
	assert_int_equal(eng.st.path_recycles, 1);
	assert_int_equal(paths[0].entropy, paths[3].entropy);
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
		cmocka_unit_test_setup(test_start_tries_three_own_values, setup),
		cmocka_unit_test_setup(test_proven_values_share_the_acks, setup),
		cmocka_unit_test_setup(test_silent_value_goes_stale, setup),
		cmocka_unit_test_setup(test_one_proven_left_tries_own_value, setup),
		cmocka_unit_test_setup(test_value_not_stale_by_chance, setup),
		cmocka_unit_test_setup(test_quiet_value_goes_stale_by_time, setup),
		cmocka_unit_test_setup(test_stale_value_revived_by_its_ack, setup),
		cmocka_unit_test_setup(test_tried_value_stale_when_later_packets_answered, setup),
		cmocka_unit_test_setup(test_ack_for_old_value_proves_nothing, setup),
		cmocka_unit_test_setup(test_reset_starts_over, setup),
		cmocka_unit_test_setup(test_baselines_answer_on_own_value, setup),
		cmocka_unit_test_setup(test_failed_path_takes_live_value, setup),
		cmocka_unit_test_setup(test_failed_path_takes_clean_value, setup),
		cmocka_unit_test_setup(test_recycled_path_takes_live_value, setup),
		cmocka_unit_test_setup(test_few_values_failed_path_probes, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
