/*
 * test_cc.c — congestion control (lib/core/cc.c), with time moved by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "cc.h"

#define ONE SRD_CWND_ONE
#define US 1000ull
#define BASE_RTT (10 * US)
#define TARGET (BASE_RTT + 10 * US) /* base + target_delay_ns */
#define AI_RTT (BASE_RTT + 5 * US)  /* below target, above a quarter of it: additive growth */

/* The default-like configuration the tests start from. */
static struct srd_cc_config test_cfg(enum srd_cc_algo algo)
{
	return (struct srd_cc_config){
		.algo = algo,
		.init_cwnd = 16 << 8,
		.min_cwnd = 32, /* 1/8 packet */
		.max_cwnd = 1024 << 8,
		.ai = 256,
		.target_delay_ns = 10 * US,
		.beta_pct = 80,
		.max_mdf_pct = 50,
		.dctcp_g_shift = 4,
		.pacing_gain_pct = 0,
	};
}

/* An ack of `acked` packets with RTT sample rtt at time now. */
static struct srd_cc_ack swift_ack(uint64_t now, uint32_t acked, uint64_t rtt)
{
	return (struct srd_cc_ack){
		.now = now,
		.acked = acked,
		.rtt_ns = rtt,
		.base_rtt_ns = BASE_RTT,
		.srtt_ns = rtt,
		.pkt_count = acked,
		.cum_psn = 0,
		.snd_nxt = 0,
	};
}

static const struct srd_cc_ops *ops(enum srd_cc_algo algo)
{
	const struct srd_cc_ops *o = srd_cc_ops_get(algo);

	assert_non_null(o);
	return o;
}

/* Start *cc past slow start (as after its first decrease): the tests of the steady-state
 * rules start here. */
static void init_avoidance(const struct srd_cc_ops *o, struct srd_cc *cc,
			   const struct srd_cc_config *cfg)
{
	o->init(cc, cfg);
	assert_int_equal(cc->slow_start, 1);
	cc->slow_start = 0;
}

/* ---- interface ---- */

static void test_ops_get(void **state)
{
	(void)state;
	assert_string_equal(ops(SRD_CC_SWIFT)->name, "swift");
	assert_string_equal(ops(SRD_CC_DCTCP)->name, "dctcp");
	assert_null(srd_cc_ops_get((enum srd_cc_algo)7));
}

static void test_init_clamps(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	struct srd_cc cc;

	(void)state;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	assert_int_equal(cc.cwnd, 16 << 8);
	assert_int_equal(cc.alpha, 65536);
	cfg.init_cwnd = 1;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	assert_int_equal(cc.cwnd, 32);
	cfg.init_cwnd = UINT32_MAX;
	ops(SRD_CC_DCTCP)->init(&cc, &cfg);
	assert_int_equal(cc.cwnd, 1024 << 8);
	/* min > max (a bad config): clamp to max */
	cfg.min_cwnd = 2000;
	cfg.max_cwnd = 1000;
	cfg.init_cwnd = 16 << 8;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	assert_int_equal(cc.cwnd, 1000);
	cfg.init_cwnd = 0;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	assert_int_equal(cc.cwnd, 1000);
}

/* A first flight shares init_cwnd among the host's sending connections: never above the
 * window it has, never below two packets, and alone (or with no count) it keeps it. */
static void test_start_share(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	struct srd_cc cc;

	(void)state;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	srd_cc_start_share(&cc, &cfg, 0);
	assert_int_equal(cc.cwnd, 16 << 8);
	srd_cc_start_share(&cc, &cfg, 1);
	assert_int_equal(cc.cwnd, 16 << 8);
	srd_cc_start_share(&cc, &cfg, 4);
	assert_int_equal(cc.cwnd, 4 << 8);
	assert_int_equal(cc.slow_start, 1); /* it grows from there as any start does */
	srd_cc_start_share(&cc, &cfg, 2); /* the larger share does not grow a smaller window */
	assert_int_equal(cc.cwnd, 4 << 8);
	srd_cc_start_share(&cc, &cfg, 1000);
	assert_int_equal(cc.cwnd, 2 << 8); /* 16 packets / 1000, floored at two packets */
	srd_cc_start_share(&cc, &cfg, UINT32_MAX);
	assert_int_equal(cc.cwnd, 2 << 8);
	cfg.init_cwnd = ONE; /* a one-packet start stays one packet */
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	srd_cc_start_share(&cc, &cfg, 8);
	assert_int_equal(cc.cwnd, ONE);
}

/* ---- Swift ---- */

/* Below target: one packet more per window's worth of acked packets. */
static void test_swift_additive_increase(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev;
	uint64_t t = 1000 * US;
	uint32_t w;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	/* one ack for a whole window: exactly ai */
	ev = swift_ack(t += US, 16, TARGET - 1);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 17 * ONE);
	/* one ack per packet: the window grows within the window, so a little under ai
	 * (256 * 17 * ln(18/17) = 248.8) */
	for (int i = 0; i < 17; i++) {
		ev = swift_ack(t += US, 1, TARGET - 1);
		o->on_ack(&cc, &cfg, &ev);
	}
	assert_in_range(cc.cwnd, 18 * ONE - 8, 18 * ONE - 7);
	/* a second window's worth of single acks: about one more packet */
	for (int i = 0; i < 18; i++) {
		ev = swift_ack(t += US, 1, AI_RTT);
		o->on_ack(&cc, &cfg, &ev);
	}
	assert_in_range(cc.cwnd, 19 * ONE - 16, 19 * ONE);
	/* no RTT sample, or nothing acked: nothing changes */
	w = cc.cwnd;
	ev = swift_ack(t += US, 5, 0);
	o->on_ack(&cc, &cfg, &ev);
	ev = swift_ack(t += US, 0, AI_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, w);
}

/* At a large window the per-ack increase is below one fraction unit (65536 / 131072):
 * the carried remainder keeps the window growing, by ~one packet per window of acks. */
static void test_swift_increase_large_window(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev;
	uint64_t t = 1000 * US;

	(void)state;
	cfg.init_cwnd = 512 << 8;
	init_avoidance(o, &cc, &cfg);
	for (int i = 0; i < 512; i++) {
		ev = swift_ack(t += 100, 1, AI_RTT);
		o->on_ack(&cc, &cfg, &ev);
	}
	assert_in_range(cc.cwnd, 513 * ONE - 2, 513 * ONE); /* 256 * 512 * ln(513/512) */
	assert_true(cc.ai_rem < cc.cwnd);
}

/* Without a base RTT the sample itself is the base: no queue, so the fast increase (one
 * packet per packet acked). */
static void test_swift_no_base_rtt(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev = swift_ack(1000 * US, 16, 500 * US);

	(void)state;
	init_avoidance(o, &cc, &cfg);
	ev.base_rtt_ns = 0;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 32 * ONE);
}

/* Above target: one decrease per RTT, whatever the number of acks. */
static void test_swift_decrease_once_per_rtt(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	uint64_t rtt = 2 * TARGET, t = 1000 * US;
	struct srd_cc cc;
	struct srd_cc_ack ev;
	uint32_t after_first;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(t, 1, rtt);
	o->on_ack(&cc, &cfg, &ev);
	after_first = cc.cwnd;
	assert_true(after_first < 16 * ONE);
	assert_int_equal(cc.last_decrease_ns, t);
	/* more acks within one srtt: no further decrease, and no increase either */
	for (int i = 1; i < 10; i++) {
		ev = swift_ack(t + i * (rtt / 10), 1, rtt);
		o->on_ack(&cc, &cfg, &ev);
		assert_int_equal(cc.cwnd, after_first);
	}
	/* one srtt after the first decrease: the next one */
	ev = swift_ack(t + rtt, 1, rtt);
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd < after_first);
	assert_int_equal(cc.last_decrease_ns, t + rtt);
}

/* The decrease is beta * (rtt - target) / rtt, capped at max_mdf.  The window starts at
 * 128 packets, where flow scaling adds nothing to the target. */
static void test_swift_decrease_scaled(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev;

	(void)state;
	cfg.init_cwnd = 128 * ONE;
	/* rtt = 2 * target: excess is half the RTT, 0.8 * 0.5 = 0.4, cwnd 128 -> 76.8 */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, 2 * TARGET);
	o->on_ack(&cc, &cfg, &ev);
	assert_in_range(cc.cwnd, 19660 - 8, 19661 + 8);
	/* rtt = target: no excess, a decrease of ~0 (the RTT's decrease is spent) */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, TARGET);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 128 * ONE);
	/* a small excess: a small decrease */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, TARGET + TARGET / 10); /* 0.8 * 1/11 = 7.3% */
	o->on_ack(&cc, &cfg, &ev);
	assert_in_range(cc.cwnd, 30384 - 16, 30384 + 16);
	/* a huge excess: capped at max_mdf = 50% */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, 1000 * TARGET);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 64 * ONE);
	/* a tighter cap */
	cfg.max_mdf_pct = 25;
	init_avoidance(o, &cc, &cfg);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 96 * ONE);
	/* an RTT of ~2^64 ns does not overflow */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, UINT64_MAX);
	ev.base_rtt_ns = UINT64_MAX - 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 128 * ONE); /* target saturates at UINT64_MAX: no excess */
}

/* Flow scaling: a small window tolerates more delay than a large one, so flows sharing a
 * bottleneck converge to fair shares. */
static void test_swift_flow_scaling(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev;

	(void)state;
	/* 2 us above base + target_delay (flow scaling gives a 1-packet window ~3.3 us more) */
	cfg.init_cwnd = 1 * ONE;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, TARGET + 2 * US);
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd > 1 * ONE); /* still below its (scaled) target: it grows */
	cfg.init_cwnd = 128 * ONE;
	init_avoidance(o, &cc, &cfg);
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd < 128 * ONE); /* no scaling at 128 packets: it shrinks */
}

/* Decreases go below one packet, down to min_cwnd; the window then grows by ai per acked
 * packet, and pacing spreads the fractional window over the RTT. */
static void test_swift_fractional_window(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	uint64_t t = 1000 * US, rtt = 100 * TARGET;
	struct srd_cc cc;
	struct srd_cc_ack ev;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	for (int i = 0; i < 20; i++) {
		ev = swift_ack(t += rtt, 1, rtt);
		o->on_ack(&cc, &cfg, &ev);
	}
	assert_int_equal(cc.cwnd, 32); /* 16 packets halved 7 times, then held at 1/8 packet */
	/* 1/8 packet: one packet every 8 srtt */
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 160 * US);
	/* an ack below target: + ai per acked packet */
	cfg.ai = 64;
	ev = swift_ack(t += rtt, 1, BASE_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 96);
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 24 * US), 64 * US);
	ev = swift_ack(t += rtt, 2, BASE_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 224);
	/* at a full packet growth is per window again */
	ev = swift_ack(t += rtt, 1, AI_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 288);
	ev = swift_ack(t += rtt, 1, AI_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 288 + 64 * 256 / 288);
}

/* The three bands of a Swift sample: within a quarter of the allowed delay the window
 * doubles per window of acks; below the target it grows by ai; the decision to shrink
 * reads the standing RTT (per-packet jitter spreads the samples, not that). */
static void test_swift_bands(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	uint64_t t = 1000 * US;
	struct srd_cc_ack ev;
	struct srd_cc cc;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(t += 100 * US, 16, BASE_RTT + 2 * US); /* under base + 10 us / 4 */
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 32 * ONE);
	ev = swift_ack(t += 100 * US, 32, AI_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 33 * ONE);
	/* a jittered sample far above target, but the path's standing RTT is below it */
	ev = swift_ack(t += 100 * US, 33, 5 * TARGET);
	ev.standing_rtt_ns = AI_RTT;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 34 * ONE);
	/* the standing RTT above target: a decrease in proportion to its excess */
	ev = swift_ack(t += 100 * US, 1, AI_RTT);
	ev.standing_rtt_ns = 2 * TARGET;
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd < 34 * ONE && cc.cwnd > 17 * ONE);
}

/* An ack of 16 packets with a sample of AI_RTT at now, the path's and the connection's
 * standing RTTs path_ns and conn_ns, ce of them marked. */
static void swift_standing_ack(const struct srd_cc_ops *o, struct srd_cc *cc,
			       const struct srd_cc_config *cfg, uint64_t now, uint64_t path_ns,
			       uint64_t conn_ns, uint32_t ce)
{
	struct srd_cc_ack ev = swift_ack(now, 16, AI_RTT);

	ev.standing_rtt_ns = path_ns;
	ev.conn_standing_ns = conn_ns;
	ev.ce_count = ce;
	o->on_ack(cc, cfg, &ev);
}

/* The path's standing RTT above the target with the connection's below it: per-packet
 * jitter, or a queue on that route alone.  Only an ECN mark (a queue) makes it a decrease;
 * without one the window grows, and while the connection's standing queue is under half
 * the allowed delay by a proportional step more.  An ack with marks is held to a tighter
 * target. */
static void test_swift_path_vs_connection(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	uint64_t t = 1000 * US;
	struct srd_cc cc;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, 2 * TARGET, AI_RTT, 0);
	assert_int_equal(cc.cwnd, 17 * ONE); /* additive only: AI_RTT is half the allowed */
	/* the same, marked: a hot route, a decrease */
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, 2 * TARGET, AI_RTT, 1);
	assert_true(cc.cwnd < 17 * ONE && cc.cwnd > 8 * ONE);
	/* the connection's standing RTT above the target: a decrease, marks or not */
	init_avoidance(o, &cc, &cfg);
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, 2 * TARGET, 2 * TARGET, 0);
	assert_true(cc.cwnd < 16 * ONE);
	/* the connection's standing queue at a fifth of the allowed delay, a sample above a
	 * quarter: ai plus (tight - standing) / (2 * standing) per packet acked, tight the
	 * target with marks (half the base RTT, at least half the allowed delay, of queueing):
	 * at 16 packets, base 10 us, standing 12 us and tight 15 us (+ flow scaling, 0.4 us),
	 * 2.3 more */
	init_avoidance(o, &cc, &cfg);
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, BASE_RTT + 2 * US, BASE_RTT + 2 * US, 0);
	assert_in_range(cc.cwnd, 19 * ONE, 20 * ONE);
	/* a standing queue of 7 us, between the target with marks (5 us + flow scaling) and
	 * the one without (10 us): jitter or a queue on the acks' way back without marks (the
	 * window grows), the flow's own queues with them (a decrease) */
	init_avoidance(o, &cc, &cfg);
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, BASE_RTT + 7 * US, BASE_RTT + 7 * US, 0);
	assert_int_equal(cc.cwnd, 17 * ONE);
	init_avoidance(o, &cc, &cfg);
	swift_standing_ack(o, &cc, &cfg, t += 100 * US, BASE_RTT + 7 * US, BASE_RTT + 7 * US, 1);
	assert_true(cc.cwnd < 16 * ONE && cc.cwnd > 8 * ONE);
}

/* A window the sender did not fill (the NIC or the application held it back) does not
 * grow: its size says nothing about the network. */
static void test_swift_unused_window(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc_ack ev;
	struct srd_cc cc;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(2000 * US, 16, BASE_RTT);
	ev.window_unused = 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 16 * ONE);
	ev = swift_ack(2000 * US, 16, AI_RTT);
	ev.window_unused = 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 16 * ONE);
	/* but it still shrinks */
	ev = swift_ack(2000 * US, 16, 2 * TARGET);
	ev.window_unused = 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd < 16 * ONE);
}

/* A Swift decrease cuts what was in flight when the sender had less in flight than its
 * window (its NIC at line rate after slow start's overshoot): a cut of the unused window
 * would leave the rate where it was.  A flight of 0 (unknown) or above the window cuts the
 * window, as before; DCTCP always cuts the window. */
static void test_decrease_cuts_flight(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc_ack ev;
	struct srd_cc cc;
	uint64_t t = 1000 * US;
	uint32_t psn = 0;

	(void)state;
	cfg.init_cwnd = 128 * ONE;
	/* rtt = 2 * target: a 40% cut, of the 64 packets in flight, not of the 128 */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, 2 * TARGET);
	ev.flight = 64;
	o->on_ack(&cc, &cfg, &ev);
	assert_in_range(cc.cwnd, 9830 - 8, 9830 + 8);
	/* more in flight than the window (it was just cut): the window is cut */
	init_avoidance(o, &cc, &cfg);
	ev.flight = 200;
	o->on_ack(&cc, &cfg, &ev);
	assert_in_range(cc.cwnd, 19660 - 8, 19661 + 8);
	/* flight unknown: the window is cut */
	init_avoidance(o, &cc, &cfg);
	ev.flight = 0;
	o->on_ack(&cc, &cfg, &ev);
	assert_in_range(cc.cwnd, 19660 - 8, 19661 + 8);
	/* a tiny flight: down to min_cwnd at most */
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1, 1000 * TARGET);
	ev.flight = 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, ONE / 2);
	/* DCTCP cuts its window, whatever was in flight */
	cfg = test_cfg(SRD_CC_DCTCP);
	cfg.init_cwnd = 64 * ONE;
	o = ops(SRD_CC_DCTCP);
	init_avoidance(o, &cc, &cfg);
	psn += 16;
	ev = (struct srd_cc_ack){ .now = t, .acked = 16, .rtt_ns = 20 * US,
				  .base_rtt_ns = BASE_RTT, .srtt_ns = 20 * US, .ce_count = 16,
				  .pkt_count = 16, .cum_psn = psn, .snd_nxt = psn, .flight = 20 };
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 32 * ONE);
}

/* A long-haul base RTT: the allowed queueing grows to an eighth of it, so a few
 * microseconds of burst on a 1 ms round trip is no reason to shrink. */
static void test_swift_long_base(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc_ack ev;
	struct srd_cc cc;

	(void)state;
	cfg.base_rtt_ns = 1000 * US;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(5000 * US, 16, 1100 * US); /* 100 us above base: under 125 us */
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 17 * ONE);
	ev = swift_ack(7000 * US, 16, 1200 * US); /* 200 us above: over it */
	o->on_ack(&cc, &cfg, &ev);
	assert_true(cc.cwnd < 17 * ONE);
}

/* ---- RTO ---- */

/* Slow start: one packet per packet acked while nothing says congestion, so the window
 * doubles per round trip; the first decrease (delay above target, a mark, a timeout) ends
 * it for good. */
static void test_slow_start(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	struct srd_cc_ack ev;
	struct srd_cc cc;
	uint64_t t = 1000 * US;

	(void)state;
	for (int a = SRD_CC_SWIFT; a <= SRD_CC_DCTCP; a++) {
		const struct srd_cc_ops *o = ops((enum srd_cc_algo)a);

		o->init(&cc, &cfg);
		assert_int_equal(cc.slow_start, 1);
		ev = swift_ack(t += US, 16, TARGET - 1);
		o->on_ack(&cc, &cfg, &ev);
		assert_int_equal(cc.cwnd, 32 * ONE);
		for (int i = 0; i < 32; i++) {
			ev = swift_ack(t += US, 1, TARGET - 1);
			o->on_ack(&cc, &cfg, &ev);
		}
		assert_int_equal(cc.cwnd, 64 * ONE);
		assert_int_equal(cc.slow_start, 1);
		/* congestion: Swift sees the delay, DCTCP the mark at its window's end */
		ev = swift_ack(t += 100 * US, 8, a == SRD_CC_SWIFT ? 4 * TARGET : TARGET - 1);
		ev.ce_count = a == SRD_CC_DCTCP ? 8 : 0;
		ev.cum_psn = 1000;
		o->on_ack(&cc, &cfg, &ev);
		assert_int_equal(cc.slow_start, 0);
		assert_true(cc.cwnd < 64 * ONE);
		/* from now on: additive */
		uint32_t w = cc.cwnd;

		ev = swift_ack(t += 100 * US, w / ONE, TARGET - 1);
		o->on_ack(&cc, &cfg, &ev);
		assert_in_range(cc.cwnd, w + ONE - 8, w + ONE + 8);
		/* a timeout ends slow start too */
		o->init(&cc, &cfg);
		o->on_rto(&cc, &cfg, t += US);
		assert_int_equal(cc.slow_start, 0);
	}
}

static void test_on_rto(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	struct srd_cc cc;

	(void)state;
	for (int a = SRD_CC_SWIFT; a <= SRD_CC_DCTCP; a++) {
		const struct srd_cc_ops *o = ops((enum srd_cc_algo)a);

		init_avoidance(o, &cc, &cfg);
		o->on_rto(&cc, &cfg, 5 * US);
		assert_int_equal(cc.cwnd, 8 * ONE);
		assert_int_equal(cc.last_decrease_ns, 5 * US);
		for (int i = 0; i < 20; i++)
			o->on_rto(&cc, &cfg, 6 * US + i);
		assert_int_equal(cc.cwnd, cfg.min_cwnd);
	}
	/* max_mdf of 100% or more: straight to min_cwnd */
	cfg.max_mdf_pct = 250;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	ops(SRD_CC_SWIFT)->on_rto(&cc, &cfg, 1);
	assert_int_equal(cc.cwnd, cfg.min_cwnd);
	/* max_mdf of 0: no decrease at all */
	cfg.max_mdf_pct = 0;
	ops(SRD_CC_SWIFT)->init(&cc, &cfg);
	ops(SRD_CC_SWIFT)->on_rto(&cc, &cfg, 1);
	assert_int_equal(cc.cwnd, 16 * ONE);
}

/* ---- clamping ---- */

static void test_clamping(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	const struct srd_cc_ops *o = ops(SRD_CC_SWIFT);
	struct srd_cc cc;
	struct srd_cc_ack ev;

	(void)state;
	/* growth stops at max_cwnd */
	cfg.max_cwnd = 20 << 8;
	init_avoidance(o, &cc, &cfg);
	ev = swift_ack(1000 * US, 1000, BASE_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 20 << 8);
	/* a huge ai * acked saturates instead of wrapping */
	cfg.ai = UINT32_MAX;
	ev = swift_ack(2000 * US, UINT32_MAX, BASE_RTT);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 20 << 8);
	/* a config tightened under a live connection clamps at the next call */
	cfg = test_cfg(SRD_CC_SWIFT);
	init_avoidance(o, &cc, &cfg);
	cfg.max_cwnd = 4 << 8;
	ev = swift_ack(3000 * US, 0, 0);
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 4 << 8);
	cfg.min_cwnd = cfg.max_cwnd = 10 << 8;
	ops(SRD_CC_DCTCP)->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 10 << 8);
	/* min > max: max wins */
	cfg.min_cwnd = 12 << 8;
	cfg.max_cwnd = 3 << 8;
	o->on_rto(&cc, &cfg, 4000 * US);
	assert_int_equal(cc.cwnd, 3 << 8);
}

/* ---- DCTCP ---- */

/* One observation window of pkts packets, ce of them marked, all acked by one ack; the
 * window closes on that ack.  Time moves by srtt. */
static void dctcp_window(const struct srd_cc_ops *o, struct srd_cc *cc,
			 const struct srd_cc_config *cfg, uint64_t *t, uint32_t *psn,
			 uint32_t pkts, uint32_t ce)
{
	struct srd_cc_ack ev = {
		.now = *t += 20 * US,
		.acked = pkts,
		.rtt_ns = 20 * US,
		.base_rtt_ns = BASE_RTT,
		.srtt_ns = 20 * US,
		.ce_count = ce,
		.pkt_count = pkts,
	};

	*psn += pkts;
	ev.cum_psn = *psn;
	ev.snd_nxt = *psn;
	o->on_ack(cc, cfg, &ev);
}

/* With half of all packets marked, alpha converges to 0.5 from 1.0. */
static void test_dctcp_alpha_converges(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_DCTCP);
	const struct srd_cc_ops *o = ops(SRD_CC_DCTCP);
	struct srd_cc cc;
	uint64_t t = 1000 * US;
	uint32_t psn = UINT32_MAX - 50; /* windows cross the PSN wrap */

	(void)state;
	init_avoidance(o, &cc, &cfg);
	assert_int_equal(cc.alpha, 65536);
	for (int i = 0; i < 200; i++)
		dctcp_window(o, &cc, &cfg, &t, &psn, 16, 8);
	assert_in_range(cc.alpha, 32768 - 655, 32768 + 655);
	/* then 1 in 4: toward 0.25 */
	for (int i = 0; i < 200; i++)
		dctcp_window(o, &cc, &cfg, &t, &psn, 16, 4);
	assert_in_range(cc.alpha, 16384 - 655, 16384 + 655);
	/* no marks at all: toward 0 */
	for (int i = 0; i < 400; i++)
		dctcp_window(o, &cc, &cfg, &t, &psn, 16, 0);
	assert_true(cc.alpha < 655);
}

/* Marks collected over several acks count once, at the window's end. */
static void test_dctcp_window_spans_acks(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_DCTCP);
	const struct srd_cc_ops *o = ops(SRD_CC_DCTCP);
	struct srd_cc cc;
	struct srd_cc_ack ev = {
		.now = 1000 * US, .rtt_ns = 20 * US, .srtt_ns = 20 * US,
		.acked = 1, .pkt_count = 1, .cum_psn = 100, .snd_nxt = 116,
	};

	(void)state;
	init_avoidance(o, &cc, &cfg);
	/* the first ack opens the window, ending at PSN 116 */
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.win_started, 1);
	assert_int_equal(cc.win_end, 116);
	for (uint32_t i = 1; i < 16; i++) {
		ev.now += US;
		ev.cum_psn = 100 + i;
		ev.snd_nxt = 116 + i;
		ev.ce_count = i & 1;
		o->on_ack(&cc, &cfg, &ev);
	}
	assert_int_equal(cc.win_acked, 16);
	assert_int_equal(cc.win_marked, 8);
	/* no decrease before the window ends; the 8 unmarked acks grew the window */
	assert_int_equal(cc.last_decrease_ns, 0);
	assert_in_range(cc.cwnd, 16 * ONE + 8 * 15, 16 * ONE + 8 * 16);
	/* the ack that passes 116 closes it: alpha 1 - 1/16 + 0.5/16, cut by alpha / 2 */
	ev.now += US;
	ev.cum_psn = 116;
	ev.snd_nxt = 132;
	ev.ce_count = 1;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.alpha, 65536 - 4096 + ((9 * 65536 / 17) >> 4)); /* 9 of 17 */
	assert_int_equal(cc.win_acked, 0);
	assert_int_equal(cc.win_end, 132);
	assert_true(cc.cwnd < 9 * ONE);
}

/* Every packet marked: alpha stays 1.0, the window halves once per RTT. */
static void test_dctcp_all_marked(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_DCTCP);
	const struct srd_cc_ops *o = ops(SRD_CC_DCTCP);
	struct srd_cc cc;
	uint64_t t = 1000 * US;
	uint32_t psn = 0;

	(void)state;
	cfg.max_mdf_pct = 100; /* let alpha / 2 decide alone */
	init_avoidance(o, &cc, &cfg);
	dctcp_window(o, &cc, &cfg, &t, &psn, 16, 16);
	assert_int_equal(cc.alpha, 65536);
	assert_int_equal(cc.cwnd, 8 * ONE);
	dctcp_window(o, &cc, &cfg, &t, &psn, 8, 8);
	assert_int_equal(cc.cwnd, 4 * ONE);
	/* a window closing sooner than one srtt after the last decrease: no cut */
	t -= 10 * US;
	dctcp_window(o, &cc, &cfg, &t, &psn, 4, 4);
	assert_int_equal(cc.cwnd, 4 * ONE);
	assert_int_equal(cc.win_acked, 0);
	for (int i = 0; i < 20; i++)
		dctcp_window(o, &cc, &cfg, &t, &psn, 1, 1);
	assert_int_equal(cc.cwnd, cfg.min_cwnd);
}

/* No marks: never a decrease, only additive increase. */
static void test_dctcp_no_marks_no_decrease(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_DCTCP);
	const struct srd_cc_ops *o = ops(SRD_CC_DCTCP);
	struct srd_cc cc;
	uint64_t t = 1000 * US;
	uint32_t psn = 7, prev;

	(void)state;
	init_avoidance(o, &cc, &cfg);
	for (int i = 0; i < 100; i++) {
		prev = cc.cwnd;
		dctcp_window(o, &cc, &cfg, &t, &psn, cc.cwnd >> 8, 0);
		assert_int_equal(cc.cwnd, prev + ONE); /* one packet per window */
		assert_int_equal(cc.last_decrease_ns, 0);
	}
	assert_int_equal(cc.cwnd, 116 * ONE);
}

/* An ack carrying a mark does not grow the window. */
static void test_dctcp_marked_ack_no_growth(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_DCTCP);
	const struct srd_cc_ops *o = ops(SRD_CC_DCTCP);
	struct srd_cc cc;
	struct srd_cc_ack ev = {
		.now = 1000 * US, .srtt_ns = 20 * US, .acked = 4, .pkt_count = 4,
		.ce_count = 1, .cum_psn = 0, .snd_nxt = 100,
	};

	(void)state;
	init_avoidance(o, &cc, &cfg);
	o->on_ack(&cc, &cfg, &ev); /* opens a window ending at 100 */
	assert_int_equal(cc.cwnd, 16 * ONE);
	ev.ce_count = 0;
	o->on_ack(&cc, &cfg, &ev);
	assert_int_equal(cc.cwnd, 16 * ONE + 64);
}

/* ---- pacing ---- */

static void test_pacing_gap(void **state)
{
	struct srd_cc_config cfg = test_cfg(SRD_CC_SWIFT);
	struct srd_cc cc = { .cwnd = 16 * ONE };

	(void)state;
	/* at or above one packet without a gain: not paced */
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 0);
	cc.cwnd = ONE;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 0);
	/* below one packet: srtt * 256 / cwnd */
	cc.cwnd = 128;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 40 * US);
	cc.cwnd = 1;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 256 * 20 * US);
	/* no srtt: 0 */
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 0), 0);
	/* with a gain: srtt / (packets * gain) */
	cfg.pacing_gain_pct = 100;
	cc.cwnd = 16 * ONE;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 16 * US), US);
	cfg.pacing_gain_pct = 200;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 16 * US), US / 2);
	cfg.pacing_gain_pct = 125;
	cc.cwnd = 10 * ONE;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 100 * US), 8 * US);
	/* a largest window: the gap rounds down to 0 */
	cc.cwnd = UINT32_MAX;
	cfg.pacing_gain_pct = UINT32_MAX;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 20 * US), 0);
	/* huge srtt: exact where representable, saturated where not */
	cc.cwnd = 1;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, UINT64_MAX), UINT64_MAX);
	cc.cwnd = 255;
	assert_true(srd_cc_pacing_gap_ns(&cc, &cfg, UINT64_MAX / 2) ==
		    (UINT64_MAX / 2) / 255 * 256 + (UINT64_MAX / 2) % 255 * 256 / 255);
	cc.cwnd = 16 * ONE;
	cfg.pacing_gain_pct = 100;
	assert_true(srd_cc_pacing_gap_ns(&cc, &cfg, UINT64_MAX) == UINT64_MAX / 16);
	cfg.pacing_gain_pct = 3;
	cc.cwnd = 0xfffff001u;
	/* srtt * 25600 / (cwnd * 3), checked against a 2-step computation */
	{
		uint64_t den = 0xfffff001ull * 3, s = UINT64_MAX - 12345;
		uint64_t q = s / den, r = s % den;
		/* r * 25600 fits: den < 2^34 */
		uint64_t want = q * 25600 + r * 25600 / den;

		assert_true(srd_cc_pacing_gap_ns(&cc, &cfg, s) == want);
	}
	/* a window of 0 (max_cwnd 0, a bad config) divides by nothing */
	cc.cwnd = 0;
	assert_int_equal(srd_cc_pacing_gap_ns(&cc, &cfg, 10), 2560);
}

/* ---- property: random events keep the window in bounds ---- */

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A random value biased toward the edges: 0, 1, small, near 2^32, near 2^64. */
static uint64_t rnd_val(uint64_t *s)
{
	uint64_t r = xorshift64(s);

	switch (r & 7) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return (r >> 8) & 0xff;
	case 3:
		return (r >> 8) & 0xfffff;
	case 4:
		return UINT32_MAX - ((r >> 8) & 3);
	case 5:
		return UINT64_MAX - ((r >> 8) & 3);
	default:
		return xorshift64(s);
	}
}

static struct srd_cc_config rnd_cfg(uint64_t *s)
{
	struct srd_cc_config cfg = test_cfg((enum srd_cc_algo)(xorshift64(s) & 1));

	if ((xorshift64(s) & 3) != 0)
		return cfg; /* mostly the default */
	cfg.init_cwnd = (uint32_t)rnd_val(s);
	cfg.min_cwnd = (uint32_t)rnd_val(s);
	cfg.max_cwnd = (uint32_t)rnd_val(s);
	cfg.ai = (uint32_t)rnd_val(s);
	cfg.target_delay_ns = rnd_val(s);
	cfg.beta_pct = (uint32_t)rnd_val(s);
	cfg.max_mdf_pct = (uint32_t)rnd_val(s);
	cfg.dctcp_g_shift = (uint32_t)rnd_val(s);
	cfg.pacing_gain_pct = (uint32_t)rnd_val(s);
	return cfg;
}

static void assert_in_bounds(const struct srd_cc *cc, const struct srd_cc_config *cfg)
{
	uint32_t lo = cfg->min_cwnd < cfg->max_cwnd ? cfg->min_cwnd : cfg->max_cwnd;

	assert_in_range(cc->cwnd, lo, cfg->max_cwnd);
	assert_true(cc->alpha <= 65536);
	assert_true(cc->win_marked <= cc->win_acked);
}

static void test_random_events(void **state)
{
	uint64_t s = 0x9e3779b97f4a7c15ull, t = 0;
	struct {
		struct srd_cc_config cfg; /* this connection's config */
		struct srd_cc cc;         /* its state */
	} c = { 0 };
	const struct srd_cc_ops *o = NULL;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = xorshift64(&s);

		if (i % 1000 == 0) {
			/* a new connection, often with an odd config */
			c.cfg = rnd_cfg(&s);
			o = ops(c.cfg.algo);
			o->init(&c.cc, &c.cfg);
			assert_in_bounds(&c.cc, &c.cfg);
		}
		/* time mostly moves forward a little, sometimes jumps anywhere */
		t = (r & 15) ? t + (r >> 40) : rnd_val(&s);
		if (((r >> 4) & 31) == 0) {
			o->on_rto(&c.cc, &c.cfg, t);
		} else {
			struct srd_cc_ack ev = {
				.now = t,
				.acked = (uint32_t)rnd_val(&s),
				.rtt_ns = rnd_val(&s),
				.base_rtt_ns = rnd_val(&s),
				.srtt_ns = rnd_val(&s),
				.ce_count = (uint32_t)rnd_val(&s),
				.pkt_count = (uint32_t)rnd_val(&s),
				.cum_psn = (uint32_t)rnd_val(&s),
				.snd_nxt = (uint32_t)rnd_val(&s),
			};
			o->on_ack(&c.cc, &c.cfg, &ev);
		}
		assert_in_bounds(&c.cc, &c.cfg);
		(void)srd_cc_pacing_gap_ns(&c.cc, &c.cfg, rnd_val(&s));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_get),
		cmocka_unit_test(test_init_clamps),
		cmocka_unit_test(test_start_share),
		cmocka_unit_test(test_swift_additive_increase),
		cmocka_unit_test(test_swift_increase_large_window),
		cmocka_unit_test(test_swift_no_base_rtt),
		cmocka_unit_test(test_swift_decrease_once_per_rtt),
		cmocka_unit_test(test_swift_decrease_scaled),
		cmocka_unit_test(test_swift_flow_scaling),
		cmocka_unit_test(test_swift_fractional_window),
		cmocka_unit_test(test_swift_bands),
		cmocka_unit_test(test_swift_path_vs_connection),
		cmocka_unit_test(test_swift_unused_window),
		cmocka_unit_test(test_decrease_cuts_flight),
		cmocka_unit_test(test_swift_long_base),
		cmocka_unit_test(test_slow_start),
		cmocka_unit_test(test_on_rto),
		cmocka_unit_test(test_clamping),
		cmocka_unit_test(test_dctcp_alpha_converges),
		cmocka_unit_test(test_dctcp_window_spans_acks),
		cmocka_unit_test(test_dctcp_all_marked),
		cmocka_unit_test(test_dctcp_no_marks_no_decrease),
		cmocka_unit_test(test_dctcp_marked_ack_no_growth),
		cmocka_unit_test(test_pacing_gap),
		cmocka_unit_test(test_random_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
