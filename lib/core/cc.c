/*
 * cc.c — congestion control: Swift (delay-based) and DCTCP (ECN-based).
 *
 * Integer arithmetic only.  The window is packets << 8 (SRD_CWND_ONE = one packet), DCTCP's
 * alpha and every multiplicative factor are Q16 (65536 = 1.0).  Intermediate values are
 * 64-bit and saturate instead of wrapping, so any event (0, huge, inconsistent) is safe, and
 * every entry point ends by clamping the window into [min_cwnd, max_cwnd].
 *
 * A last_decrease_ns of 0 means "never decreased": the first congestion signal of a
 * connection is acted on at once, even when the caller's clock starts near 0.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cc.h"

#define Q16_ONE 65536u   /* 1.0 in Q16 */
#define G_SHIFT_MAX 31u  /* larger DCTCP gain shifts are treated as this (no shift UB) */

/* ---- fixed-point helpers ---- */

/* Saturating a + b. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* floor(a * b / c) for c > 0, saturating at UINT64_MAX, without 128-bit types: when a * b
 * overflows, split a = q * c + r and compute floor(r * b / c) by shift-and-add, keeping the
 * running remainder below c. */
static uint64_t mul_div_sat(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t q, r, hi, lo = 0, rem = 0;

	if (b == 0 || a <= UINT64_MAX / b)
		return a * b / c;
	q = a / c;
	r = a % c;
	if (q != 0 && b > UINT64_MAX / q)
		return UINT64_MAX;
	hi = q * b;
	for (int i = 63; i >= 0; i--) {
		/* (lo, rem) = 2 * (lo, rem) */
		lo <<= 1;
		if (rem >= c - rem) {
			rem -= c - rem;
			lo++;
		} else {
			rem += rem;
		}
		/* (lo, rem) += r when bit i of b is set */
		if ((b >> i) & 1) {
			if (rem >= c - r) {
				rem -= c - r;
				lo++;
			} else {
				rem += r;
			}
		}
	}
	return add_sat(hi, lo);
}

/* A percentage as a Q16 fraction, capped at 100%. */
static uint64_t pct_q16(uint32_t pct)
{
	if (pct > 100)
		pct = 100;
	return (uint64_t)pct * Q16_ONE / 100;
}

/* w clamped into [min_cwnd, max_cwnd]; a config with min > max clamps to max. */
static uint32_t cwnd_clamp(uint64_t w, const struct srd_cc_config *cfg)
{
	uint32_t lo = cfg->min_cwnd, hi = cfg->max_cwnd;

	if (lo > hi)
		lo = hi;
	if (w < lo)
		return lo;
	if (w > hi)
		return hi;
	return (uint32_t)w;
}

/* ---- shared steps ---- */

/* Start the state at init_cwnd, in slow start; alpha starts at 1.0, as in DCTCP. */
static void cc_init(struct srd_cc *cc, const struct srd_cc_config *cfg)
{
	*cc = (struct srd_cc){ 0 };
	cc->alpha = Q16_ONE;
	cc->cwnd = cwnd_clamp(cfg->init_cwnd, cfg);
	cc->slow_start = 1;
}

/* At most one multiplicative decrease per smoothed RTT. */
static int cc_can_decrease(const struct srd_cc *cc, uint64_t now, uint64_t srtt_ns)
{
	return cc->last_decrease_ns == 0 || now - cc->last_decrease_ns >= srtt_ns;
}

/* cwnd = min(cwnd, flight) * (1 - red), red a Q16 reduction capped at max_mdf, flight the
 * packets in flight (0: unknown); remembers the time.  The cut applies to what the sender
 * had in flight when that is less than its window (TCP's FlightSize, RFC 5681 3.1): a
 * window the sender did not fill (its NIC at line rate, slow start's overshoot) is no
 * measure of its rate, and cutting it would leave the rate where it was.  (k=8 fat-tree,
 * one core link at 25%: the flows into the short pod doubled their windows to 80 packets
 * in slow start while their NICs held some 60 in flight; each cut of 8-10% per RTT left the
 * window above the flight, and they ran at line rate for 150 us while the agg-to-edge
 * queues filled to the drop-tail limit.)  Swift only: DCTCP cutting its flight lost 6-11
 * Gbit/s of 100 on two hosts with 20 us of per-packet jitter or 50 us one-way delay,
 * and no fabric scenario runs it. */
static void cc_decrease(struct srd_cc *cc, const struct srd_cc_config *cfg, uint64_t red,
			uint64_t now, uint32_t flight)
{
	uint64_t cap = pct_q16(cfg->max_mdf_pct), w = cc->cwnd;

	if (red > cap)
		red = cap;
	if (flight != 0 && (uint64_t)flight * SRD_CWND_ONE < w)
		w = (uint64_t)flight * SRD_CWND_ONE;
	cc->cwnd = cwnd_clamp(w * (Q16_ONE - red) >> 16, cfg);
	cc->ai_rem = 0;
	cc->last_decrease_ns = now;
	cc->slow_start = 0;
}

/* One packet more per packet acked: the window doubles in a round trip.  (Below one packet
 * the additive rule already grows by ai per packet acked.) */
static void cc_fast_increase(struct srd_cc *cc, const struct srd_cc_config *cfg,
			     uint32_t acked)
{
	uint64_t step = (uint64_t)(cc->cwnd < SRD_CWND_ONE ? cfg->ai : SRD_CWND_ONE) * acked;

	cc->ai_rem = 0;
	cc->cwnd = cwnd_clamp(add_sat(cc->cwnd, step), cfg);
}

/* Additive increase of ai per window's worth of acked packets (ai * acked * 256 / cwnd,
 * remainder carried in ai_rem); below one packet, ai per acked packet (Swift's fast
 * growth of a fractional window).  In slow start (until the first decrease) one packet
 * per packet acked instead, as TCP starts: a window far below the bandwidth-delay product
 * of a long round trip would otherwise take one RTT per packet to get there. */
static void cc_additive_increase(struct srd_cc *cc, const struct srd_cc_config *cfg,
				 uint32_t acked)
{
	uint64_t num = (uint64_t)cfg->ai * acked;
	uint64_t w = cc->cwnd;

	if (cc->slow_start && w >= SRD_CWND_ONE) {
		cc_fast_increase(cc, cfg, acked);
		return;
	}
	if (w < SRD_CWND_ONE) {
		cc->ai_rem = 0;
		cc->cwnd = cwnd_clamp(add_sat(w, num), cfg);
		return;
	}
	if (num > (UINT64_MAX - cc->ai_rem) >> 8) {
		/* the increase is more than 2^32 windows: saturate */
		cc->cwnd = cwnd_clamp(UINT64_MAX, cfg);
		return;
	}
	num = (num << 8) + cc->ai_rem;
	cc->ai_rem = (uint32_t)(num % w);
	cc->cwnd = cwnd_clamp(w + num / w, cfg);
}

/* Retransmission timeout: the largest decrease allowed, at once. */
static void cc_on_rto(struct srd_cc *cc, const struct srd_cc_config *cfg, uint64_t now)
{
	cc_decrease(cc, cfg, pct_q16(cfg->max_mdf_pct), now, 0);
}

/* ---- Swift ---- */

/* Swift's reduction, Q16: beta * (rtt - target) / rtt, for rtt >= target, rtt > 0. */
static uint64_t swift_reduction(const struct srd_cc_config *cfg, uint64_t rtt,
				uint64_t target)
{
	uint64_t excess = rtt - target;

	/* scale both down until excess << 16 cannot overflow; the ratio is kept */
	while (rtt > UINT32_MAX) {
		rtt >>= 1;
		excess >>= 1;
	}
	return (excess << 16) / rtt * cfg->beta_pct / 100;
}

/* Integer square root (floor). */
static uint64_t isqrt64(uint64_t v)
{
	uint64_t r = 0, bit = 1ull << 62;

	while (bit > v)
		bit >>= 2;
	while (bit) {
		if (v >= r + bit) {
			v -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

/* 1 / sqrt(window) in Q16 for a window in packets << 8. */
static uint64_t inv_sqrt_cwnd(uint64_t cwnd)
{
	uint64_t root = isqrt64(cwnd ? cwnd : 1); /* sqrt(packets) * 16 */

	return (16ull << 16) / (root ? root : 1);
}

#define SWIFT_FS_MAX_CWND (128u * SRD_CWND_ONE) /* no extra target delay above this window */

/* Swift's flow scaling: a smaller window gets a larger target delay, up to target_delay_ns
 * more at min_cwnd and none at SWIFT_FS_MAX_CWND (in proportion to 1/sqrt(window)), so
 * that many flows sharing a bottleneck converge to fair shares. */
static uint64_t swift_flow_scaling(const struct srd_cc *cc, const struct srd_cc_config *cfg)
{
	uint64_t lo = inv_sqrt_cwnd(SWIFT_FS_MAX_CWND), hi = inv_sqrt_cwnd(cfg->min_cwnd);
	uint64_t x = inv_sqrt_cwnd(cc->cwnd);

	if (x <= lo || hi <= lo)
		return 0;
	if (x >= hi)
		return cfg->target_delay_ns;
	return cfg->target_delay_ns * (x - lo) / (hi - lo);
}

/* Queueing delay Swift allows above the base RTT: target_delay_ns, or an eighth of the base
 * RTT where that is more (a fixed few microseconds is noise on a long-haul round trip). */
static uint64_t swift_allowed_delay(const struct srd_cc_config *cfg, uint64_t base)
{
	return cfg->target_delay_ns > base / 8 ? cfg->target_delay_ns : base / 8;
}

/* The queueing allowed when the ack reports ECN marks: half the base RTT, within [allowed /
 * 2, allowed].  A mark is set by a queue on the forward path (acks are not ECN-capable), so
 * delay above that with marks is queueing the flow's own data meets.  A port buffers about
 * one base RTT (one bandwidth-delay product); in a three-tier fabric the full allowance (10
 * us of a 14 us base RTT) let the queues of a hot port reach its drop-tail limit.  Without
 * marks the delay may be jitter or a queue on the acks' way back, and the full allowance
 * stands (two hosts, 2 us paths with 10-20 us of per-packet jitter: a target of half the
 * base RTT for every sample took Swift from 92 to 23 Gbit/s). */
static uint64_t swift_marked_allowed(uint64_t allowed, uint64_t base)
{
	if (base / 2 >= allowed)
		return allowed;
	return base / 2 > allowed / 2 ? base / 2 : allowed / 2;
}

/*
 * One ack.  Two delays decide.  The connection's standing RTT (its smallest sample over
 * every path in the last one to two RTTs: tx.c) is the queueing the whole flow meets; above
 * the target the window shrinks in proportion to the excess, once per RTT.  The standing RTT
 * of the acked packet's own path is above the target for a path through a hot link, and
 * for many paths whose few samples all caught per-packet jitter; only with an ECN mark on
 * the ack, which a queue sets and jitter does not, does it shrink the window too (a hot
 * route without marks is left to the path choice, which steers around it).  An ack with
 * marks holds both delays to a tighter target (swift_marked_allowed(): k=8 fat-tree, 2 MB
 * permutation, acks served ahead of data, 10 seeds: the slowest flow's FCT / ideal 1.34 ->
 * 1.24 on average).  Otherwise the window grows unless the sender left it unused: by a
 * packet per packet acked while a sample says the queues are nearly empty (within a quarter
 * of the allowed delay); else additively, plus, while the connection's standing queue is
 * under half the allowed delay, a step per RTT of init_cwnd * (tight - standing) / (2 *
 * standing) packets, tight being the target with marks, so a window cut by congestion that
 * has eased, or by queues on a few of its paths, is back in a few round trips, not a packet
 * per RTT.  (Aimed at the target without marks, the step overshot what the next marked ack
 * cut: 8-to-1 incast on two hosts, the steady queue 172 -> 375 KB, Jain 0.998 -> 0.986.)
 * The step is the same for every window (init_cwnd, not the window's own size: half the way
 * toward cwnd * target / standing, as it was, grows every window by the same factor and
 * keeps the ratio between flows): flows sharing a fabric are cut unevenly, each by the
 * samples of the paths it happened to meet, and a step that does not scale with the window
 * lets the one cut hardest catch up (k=8 fat-tree, 2 MB permutation, 10 seeds: the slowest
 * flow's FCT / ideal at worst 1.53 -> 1.40).
 */
static void swift_on_ack(struct srd_cc *cc, const struct srd_cc_config *cfg,
			 const struct srd_cc_ack *ev)
{
	uint64_t base, allowed, scaling, target, tight, path, conn;

	if (ev->rtt_ns != 0) {
		path = ev->standing_rtt_ns ? ev->standing_rtt_ns : ev->rtt_ns;
		conn = ev->conn_standing_ns ? ev->conn_standing_ns : path;
		base = cfg->base_rtt_ns ? cfg->base_rtt_ns :
		       ev->base_rtt_ns ? ev->base_rtt_ns : ev->rtt_ns;
		allowed = swift_allowed_delay(cfg, base);
		scaling = swift_flow_scaling(cc, cfg);
		tight = add_sat(add_sat(base, swift_marked_allowed(allowed, base)), scaling);
		target = ev->ce_count ? tight : add_sat(add_sat(base, allowed), scaling);
		if (conn >= target || (path >= target && ev->ce_count)) {
			uint64_t over = conn >= target ? conn : path;

			if (cc_can_decrease(cc, ev->now, ev->srtt_ns))
				cc_decrease(cc, cfg, swift_reduction(cfg, over, target), ev->now,
					    ev->flight);
		} else if (ev->window_unused) {
			/* nothing learnt about a window the sender did not fill */
		} else if (ev->rtt_ns < add_sat(base, allowed / 4)) {
			cc_fast_increase(cc, cfg, ev->acked);
		} else {
			bool slow = cc->slow_start;

			cc_additive_increase(cc, cfg, ev->acked);
			if (!slow && conn < add_sat(base, allowed / 2) && conn < tight)
				cc->cwnd = cwnd_clamp(add_sat(cc->cwnd, mul_div_sat(mul_div_sat(
					(uint64_t)SRD_CWND_ONE * ev->acked, tight - conn, 2 * conn),
					cfg->init_cwnd, cc->cwnd ? cc->cwnd : 1)), cfg);
		}
	}
	cc->cwnd = cwnd_clamp(cc->cwnd, cfg);
}

/* ---- DCTCP ---- */

/* End of an observation window (about one RTT): fold the marked fraction into alpha,
 * alpha = (1 - g) * alpha + g * F, and cut the window by alpha / 2 if anything was marked. */
static void dctcp_window_end(struct srd_cc *cc, const struct srd_cc_config *cfg,
			     const struct srd_cc_ack *ev)
{
	uint32_t g = cfg->dctcp_g_shift > G_SHIFT_MAX ? G_SHIFT_MAX : cfg->dctcp_g_shift;
	uint64_t f = 0;

	if (cc->win_acked)
		f = ((uint64_t)cc->win_marked << 16) / cc->win_acked;
	cc->alpha = cc->alpha - (cc->alpha >> g) + (uint32_t)(f >> g);
	if (cc->alpha > Q16_ONE)
		cc->alpha = Q16_ONE;
	if (cc->win_marked && cc_can_decrease(cc, ev->now, ev->srtt_ns))
		cc_decrease(cc, cfg, cc->alpha / 2, ev->now, 0);
	cc->win_acked = 0;
	cc->win_marked = 0;
	cc->win_end = ev->snd_nxt;
}

/* One ack: count packets and marks into the observation window, close the window when the
 * cumulative PSN has passed its end, and grow additively when the ack carries no mark. */
static void dctcp_on_ack(struct srd_cc *cc, const struct srd_cc_config *cfg,
			 const struct srd_cc_ack *ev)
{
	uint32_t ce = ev->ce_count < ev->pkt_count ? ev->ce_count : ev->pkt_count;

	/* saturating counts, marked <= acked so that F <= 1 */
	cc->win_acked = ev->pkt_count > UINT32_MAX - cc->win_acked ? UINT32_MAX
								    : cc->win_acked + ev->pkt_count;
	cc->win_marked = ce > cc->win_acked - cc->win_marked ? cc->win_acked
							     : cc->win_marked + ce;
	if (!cc->win_started) {
		cc->win_end = ev->snd_nxt;
		cc->win_started = 1;
	}
	if ((int32_t)(ev->cum_psn - cc->win_end) >= 0)
		dctcp_window_end(cc, cfg, ev);
	if (ev->ce_count == 0)
		cc_additive_increase(cc, cfg, ev->acked);
	cc->cwnd = cwnd_clamp(cc->cwnd, cfg);
}

/* ---- interface ---- */

static const struct srd_cc_ops swift_ops = {
	.name = "swift",
	.init = cc_init,
	.on_ack = swift_on_ack,
	.on_rto = cc_on_rto,
};

static const struct srd_cc_ops dctcp_ops = {
	.name = "dctcp",
	.init = cc_init,
	.on_ack = dctcp_on_ack,
	.on_rto = cc_on_rto,
};

const struct srd_cc_ops *srd_cc_ops_get(enum srd_cc_algo algo)
{
	switch (algo) {
	case SRD_CC_SWIFT:
		return &swift_ops;
	case SRD_CC_DCTCP:
		return &dctcp_ops;
	}
	return NULL;
}

#define SHARE_MIN (2u * SRD_CWND_ONE) /* the smallest first-flight share (cc.h) */

void srd_cc_start_share(struct srd_cc *cc, const struct srd_cc_config *cfg, uint32_t sending)
{
	uint32_t share;

	if (sending <= 1)
		return;
	share = cfg->init_cwnd / sending;
	if (share < SHARE_MIN)
		share = SHARE_MIN;
	share = cwnd_clamp(share, cfg);
	if (share < cc->cwnd)
		cc->cwnd = share;
}

/* Below one packet: one packet per srtt * 256 / cwnd.  Above: srtt / (packets * gain),
 * i.e. srtt * 256 * 100 / (cwnd * gain_pct), or 0 when pacing is off. */
uint64_t srd_cc_pacing_gap_ns(const struct srd_cc *cc, const struct srd_cc_config *cfg,
			      uint64_t srtt_ns)
{
	uint64_t w = cc->cwnd;

	if (srtt_ns == 0)
		return 0;
	if (w < SRD_CWND_ONE)
		return mul_div_sat(srtt_ns, SRD_CWND_ONE, w ? w : 1);
	if (cfg->pacing_gain_pct == 0)
		return 0;
	return mul_div_sat(srtt_ns, SRD_CWND_ONE * 100, w * cfg->pacing_gain_pct);
}
