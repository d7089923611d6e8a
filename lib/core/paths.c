/*
 * paths.c — the paths of a connection: choosing one per packet, keeping each one's health,
 * replacing and probing failed ones.
 *
 * A path is an entropy value (the UDP source port): switches hash it, so each value is one
 * route through an ECMP fabric.  Packets are sprayed round robin over the paths that are
 * GOOD, skipping a path that holds more than its share of the window, or whose RTT or ECN
 * marks say it is congested (aged, so a skipped path is retried now and then and its state
 * refreshed; one still congested after 8 passes takes the value of a path that came back
 * clean, or a random one).  A loss makes a path SUSPECT (used again for one packet every 16 passes, so
 * that an ack can clear it); path_fail_losses losses in a row fail it: it gets a fresh
 * random entropy value and is PROBING until a probe comes back.  Both counts rise by the
 * losses in a row that the connection's loss rate explains on any path, so that loss spread
 * over all paths does not empty the set of good ones.  A path also turns SUSPECT as soon as
 * one of its packets is overdue, before the loss is declared (paths_on_silence()), and the
 * loss of a packet on a path that stayed silent meanwhile fails it at once: a dead link
 * drops everything sent its way, and counting its losses one by one, a round robin pass
 * each, kept sending into it for 100-250 us in a k=8 fat-tree.  A failed path takes, when
 * it can, the value of the path answered most lately instead (no probe then).  Acks are
 * asked to come back on a few reply values proven to answer (paths_reply_entropy()).
 */
#include "conn.h"

/* Saturating narrowing of an RTT into a path's 32-bit field. */
static uint32_t rtt32(uint64_t ns)
{
	return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* A random entropy value, non-zero and not used by another path of c (best effort). */
static uint16_t fresh_entropy(struct srd_engine *eng, const struct srd_conn *c)
{
	uint16_t e = 0;

	for (int attempt = 0; attempt < 8; attempt++) {
		bool used = false;

		e = (uint16_t)srd_rng_next(&eng->rng);
		if (e == 0)
			continue;
		for (uint32_t p = 0; p < c->npaths && !used; p++)
			used = c->paths[p].entropy == e;
		if (!used)
			break;
	}
	return e ? e : 1;
}

void paths_init(struct srd_engine *eng, struct srd_conn *c)
{
	for (uint32_t p = 0; p < c->npaths; p++)
		c->paths[p] = (struct srd_path){ 0 };
	if (eng->cfg.mode == SRD_MODE_SINGLE) {
		/* one value per flow, fixed, hashed from the flow's identity (classic ECMP) */
		uint16_t e = (uint16_t)srd_mix64(c->peer ^ eng->cfg.seed);

		c->paths[0].entropy = e ? e : 1;
	} else {
		for (uint32_t p = 0; p < c->npaths; p++)
			c->paths[p].entropy = fresh_entropy(eng, c);
	}
	c->n_good = c->npaths;
	c->n_probing = 0;
	c->path_rr = 0;
	paths_reply_reset(c);
}

/* Delay windows (each a smoothed RTT) a path in use may go without an ack that came back
 * on its own value before it counts as a bad route (path_unanswered()). */
#define UNANSWERED_WINDOWS 8u

/* Delay windows since an ack last came back on P's value, or since P took it (modulo 256,
 * as the windows are counted). */
static uint32_t path_quiet_windows(const struct srd_conn *c, const struct srd_path *P)
{
	return (uint8_t)(c->qwin_seq - P->qwin);
}

/* Did an ack come back on P's value (its own packet answered) in the current or the
 * previous delay window? */
static bool path_answered(const struct srd_conn *c, const struct srd_path *P)
{
	return P->qmin_cur && path_quiet_windows(c, P) <= 1;
}

/* Has no ack come back on P's value for UNANSWERED_WINDOWS delay windows (counted from when
 * it got the value)?  Acks go back on the value of the packet they answer, and every ack
 * also reports, in its SACK, the packets of the other paths: a value whose packets arrive
 * but whose acks die on the way back (a route dead in one direction only) stays GOOD on
 * those reports, keeps its last RTT and never loses a packet.  Nothing would ever replace
 * it, while other paths' values churn, each fresh one with the same chance of landing on
 * such a route: a connection ended up with most of its paths so, and a lone retransmitted
 * packet's every ack died (srdd_workers, impaired).  A path answered about one packet in
 * ack_every goes without for 8 windows rarely, and then only takes a clean value. */
static bool path_unanswered(const struct srd_conn *c, const struct srd_path *P)
{
	return path_quiet_windows(c, P) > UNANSWERED_WINDOWS;
}

bool paths_want_ack(const struct srd_engine *eng, const struct srd_conn *c, uint32_t p)
{
	return eng->cfg.mode == SRD_MODE_MULTIPATH && path_quiet_windows(c, &c->paths[p]) >= 2;
}

/* Is path P congested by its own signals (RTT well above the connection's base, or ECN),
 * or is it a route its acks do not come back on? */
static bool path_congested(const struct srd_engine *eng, const struct srd_conn *c,
			   const struct srd_path *P)
{
	if (P->ecn >= 128 || path_unanswered(c, P))
		return true;
	return c->min_rtt_ns && P->srtt_ns > c->min_rtt_ns + eng->cfg.cc.target_delay_ns;
}

/* A recycled path may take a value another path of c uses when c has at least this many
 * times more values than it lets share one: with 64 per connection, 4 paths may share a
 * value (srd-sim's k=8 fat-tree gives each of its 16 core routes 4 values); with fewer
 * than 32, values are scarce and each stays distinct. */
#define CLEAN_SHARE_DIV 16u
/* Clean values looked at per recycle, at most (each costs a pass over the paths). */
#define CLEAN_TRIES 16u

/* An entropy value of c that came back clean lately (a GOOD path's, acked without ECN
 * marks and within half the target delay of the base RTT), used by fewer than
 * npaths / CLEAN_SHARE_DIV paths; 0 if none.  Looks from a point that moves with P's
 * value and generation, so recycled paths spread over the clean values. */
static uint16_t clean_entropy(const struct srd_engine *eng, const struct srd_conn *c,
			      const struct srd_path *P)
{
	uint32_t n = c->npaths, share = n / CLEAN_SHARE_DIV, tries = CLEAN_TRIES;
	uint32_t start = (uint32_t)(srd_mix64((uint64_t)P->entropy << 8 | P->gen) % n);
	uint64_t clean_rtt = c->min_rtt_ns + eng->cfg.cc.target_delay_ns / 2;

	if (share < 2 || !c->min_rtt_ns)
		return 0;
	for (uint32_t i = 0; i < n && tries; i++) {
		const struct srd_path *Q = &c->paths[(start + i) % n];
		uint32_t users = 0;

		if (Q == P || Q->state != SRD_PATH_GOOD || !Q->srtt_ns || Q->ecn >= 32 ||
		    Q->srtt_ns > clean_rtt || path_unanswered(c, Q))
			continue;
		tries--;
		for (uint32_t k = 0; k < n; k++)
			users += c->paths[k].entropy == Q->entropy;
		if (users < share)
			return Q->entropy;
	}
	return 0;
}

/* P takes entropy value e: what was learnt of its old value (RTT, ECN, answered windows)
 * starts over, and packets still in flight on the old one count for another route. */
static void path_take_value(const struct srd_conn *c, struct srd_path *P, uint16_t e)
{
	P->entropy = e;
	P->gen++;
	P->srtt_ns = 0;
	P->ecn = 0;
	P->skips = 0;
	P->qmin_cur = P->qmin_prev = 0;
	P->qwin = c->qwin_seq; /* path_unanswered() counts from here */
}

/* A fresh entropy value for a congested (not failed) path: usable at once, its signals
 * start over.  A value that came back clean on another path when there is one (REPS
 * recycles only such values): a random one lands on the hot link again as often as any
 * route does, and on a dead link too (then it takes a packet or two before it goes quiet
 * and fails; S3: data went into the dead link until 128-160 us after the failure, 51-87 us
 * with clean values).  (Probing a random value first would keep data off a dead route,
 * but takes the path out of use for a round trip at every recycle: two hosts whose paths
 * are all congested lost 2-8% of their goodput.)  When no value is clean (every route
 * of the flow queues, as into a pod short of two core links), the value of the path
 * answered most lately: S3's random ones put data into the dead link until 120 us after
 * it failed (83 with this, over 30 seeds). */
static uint16_t live_entropy(const struct srd_conn *c, uint32_t p);

static void path_recycle(struct srd_engine *eng, struct srd_conn *c, struct srd_path *P)
{
	uint16_t e = clean_entropy(eng, c, P);

	if (!e) /* else the value of the path answered most lately, not a random one */
		e = live_entropy(c, (uint32_t)(P - c->paths));

	path_take_value(c, P, e ? e : fresh_entropy(eng, c));
	P->acked_sent = 0;
	eng->st.path_recycles++;
}

/* Send times within this much of each other count as equally recent (answered_path()). */
#define RECENT_SPREAD_DIV 2u /* of the smoothed RTT */

/*
 * The path for a resent packet: a GOOD one (not avoid) that an ack came back on lately
 * (path_answered()) and whose latest packet known delivered was sent most recently, or
 * within half an RTT of that (the first such from the round-robin cursor, so a burst of
 * resends spreads).  GOOD only means that nothing was lost there, and a route that eats
 * the acks (or one whose losses are still being counted) is GOOD too: a lone packet resent
 * round robin over such paths spent its retry budget on them (srdd_workers, impaired,
 * under load: 13 retries, each on a path whose data or acks died).  An ack that came back
 * lately may answer a packet sent long before, over a slow route: after a link fails, only
 * a packet sent since and delivered shows that the route avoids it (S3: a resend went to
 * the path answered last, whose ack had spent 71 us behind a link at a quarter of its
 * rate, and into the dead link 120 us after it failed).  SRD_NIL32: none.
 */
static uint32_t answered_path(const struct srd_conn *c, int avoid)
{
	uint32_t n = c->npaths, latest = 0, spread = (uint32_t)(c->srtt_ns / RECENT_SPREAD_DIV);
	bool any = false;

	for (uint32_t q = 0; q < n; q++) {
		const struct srd_path *P = &c->paths[q];

		if ((int)q == avoid || P->state != SRD_PATH_GOOD || !path_answered(c, P) ||
		    !P->acked_sent)
			continue;
		if (!any || (int32_t)(P->acked_sent - latest) > 0)
			latest = P->acked_sent;
		any = true;
	}
	for (uint32_t i = 0, q = c->path_rr; any && i < n; i++, q = q + 1 == n ? 0 : q + 1) {
		const struct srd_path *P = &c->paths[q];

		if ((int)q != avoid && P->state == SRD_PATH_GOOD && path_answered(c, P) &&
		    P->acked_sent && (int32_t)(latest - P->acked_sent) <= (int32_t)spread)
			return q;
	}
	return SRD_NIL32;
}

uint32_t paths_pick(struct srd_engine *eng, struct srd_conn *c, int avoid, bool answered_only)
{
	uint32_t n = c->npaths, p = c->path_rr, best = SRD_NIL32, best_inflight = UINT32_MAX;
	uint32_t cwnd_pkts = c->cc.cwnd / SRD_CWND_ONE + 1;
	uint32_t cap = 2 * cwnd_pkts / (c->n_good ? c->n_good : 1) + 2;

	if (n == 1)
		return 0;
	if (eng->cfg.mode == SRD_MODE_SPRAY) {
		/* oblivious: the next value in turn, whatever is known of it */
		c->path_rr = (uint16_t)(p + 1 == n ? 0 : p + 1);
		return p;
	}
	if (answered_only) {
		uint32_t pick = answered_path(c, avoid);

		if (pick != SRD_NIL32) {
			c->path_rr = (uint16_t)(pick + 1 == n ? 0 : pick + 1);
			return pick;
		}
	}
	for (uint32_t i = 0; i < n; i++, p = p + 1 == n ? 0 : p + 1) {
		struct srd_path *P = &c->paths[p];

		if ((int)p == avoid || P->state == SRD_PATH_PROBING)
			continue;
		if (P->inflight < best_inflight) {
			best = p;
			best_inflight = P->inflight;
		}
		/* a suspect path (one loss, then nothing) is tried again now and then: an ack
		 * clears it, another loss replaces it; never trying it would leave it idle for
		 * the life of the connection */
		if (P->state == SRD_PATH_SUSPECT && P->inflight == 0 && ++P->skips >= 16) {
			P->skips = 0;
			c->path_rr = (uint16_t)(p + 1 == n ? 0 : p + 1);
			return p;
		}
		if (P->state != SRD_PATH_GOOD || P->inflight >= cap)
			continue;
		if (path_congested(eng, c, P)) {
			if (++P->skips < 8)
				continue;
			/* still congested after 8 passes: its route is a hot one (a slow link,
			 * an unlucky hash); give up the value and try a random other route,
			 * as REPS recycles only the entropy values that come back clean */
			path_recycle(eng, c, P);
		}
		P->skips = 0;
		c->path_rr = (uint16_t)(p + 1 == n ? 0 : p + 1);
		return p;
	}
	if (best != SRD_NIL32)
		return best;
	/* every other path is probing: use the one to avoid, or any */
	return avoid >= 0 ? (uint32_t)avoid : 0;
}

/*
 * Fold an RTT sample into path P's standing RTT: the smallest sample of the current window
 * and the one before (each one smoothed RTT long, counted by the connection).  Packets of
 * one route that queue raise every sample; jitter raises some, so their minimum is the
 * queue that is really there.  Sprayed over many paths, each path's few samples are taken
 * as they are: a queue on one route is not hidden behind the quiet others.
 */
static uint64_t path_standing(const struct srd_conn *c, struct srd_path *P, uint64_t rtt_ns)
{
	uint64_t q = rtt_ns / 128 ? rtt_ns / 128 : 1;
	uint16_t s = (uint16_t)(q > UINT16_MAX ? UINT16_MAX : q), m;

	if (P->qwin != c->qwin_seq) {
		P->qmin_prev = (uint8_t)(P->qwin + 1) == c->qwin_seq ? P->qmin_cur : 0;
		P->qmin_cur = s;
		P->qwin = c->qwin_seq;
	} else if (!P->qmin_cur || s < P->qmin_cur) {
		P->qmin_cur = s;
	}
	m = P->qmin_prev && P->qmin_prev < P->qmin_cur ? P->qmin_prev : P->qmin_cur;
	return (uint64_t)m * 128;
}

uint64_t paths_on_ack(struct srd_conn *c, uint32_t p, uint64_t rtt_ns, int ce)
{
	struct srd_path *P = &c->paths[p];
	uint64_t standing = 0;

	P->losses = 0;
	if (P->state == SRD_PATH_SUSPECT) {
		P->state = SRD_PATH_GOOD;
		c->n_good++;
	}
	if (rtt_ns) {
		uint32_t s = rtt32(rtt_ns);

		P->srtt_ns = P->srtt_ns ? P->srtt_ns - P->srtt_ns / 8 + s / 8 : s;
		standing = path_standing(c, P, rtt_ns);
	}
	if (ce >= 0) {
		unsigned v = P->ecn - P->ecn / 8u + (ce ? 32u : 0u);

		P->ecn = (uint8_t)(v > 255 ? 255 : v);
	}
	return standing;
}

/* For failed path p: the value of the GOOD path answered lately whose latest packet
 * known delivered was sent most recently (answered_path()), if fewer than npaths /
 * CLEAN_SHARE_DIV paths use it; 0 if none. */
static uint16_t live_entropy(const struct srd_conn *c, uint32_t p)
{
	uint32_t q = answered_path(c, (int)p), users = 0;

	if (q == SRD_NIL32 || c->npaths / CLEAN_SHARE_DIV < 2)
		return 0;
	for (uint32_t k = 0; k < c->npaths; k++)
		users += c->paths[k].entropy == c->paths[q].entropy;
	return users < c->npaths / CLEAN_SHARE_DIV ? c->paths[q].entropy : 0;
}

/* Give path p a fresh entropy value and start probing it (if the peer can answer); or,
 * when there is one, the value of the path answered most lately, else one that came back
 * clean lately, used at once.  (At a flight's tail no path has been answered lately: a
 * failed path took a random value and probed it, and S3's last packets into the dead link,
 * 100-115 us after it failed, were such probes and their replies.) */
static void path_replace(struct srd_engine *eng, struct srd_conn *c, uint32_t p)
{
	struct srd_path *P = &c->paths[p];
	uint16_t clean = live_entropy(c, p);

	if (!clean)
		clean = clean_entropy(eng, c, P);

	path_take_value(c, P, clean ? clean : fresh_entropy(eng, c));
	if (P->replacements < UINT16_MAX)
		P->replacements++;
	P->losses = 0;
	P->probe_ts = 0;
	eng->st.path_replacements++;
	if (clean) {
		/* a value whose packets arrived and were answered lately: no probe needed (a
		 * random value's probe lands on a dead link one time in 16 in a k=8 fat-tree,
		 * and probes went into it until 140 us after) */
		P->acked_sent = 0;
		if (P->state != SRD_PATH_GOOD)
			c->n_good++;
		P->state = SRD_PATH_GOOD;
		return;
	}
	if (c->peer_id == 0) {
		/* no one to answer a probe yet: use it, cautiously */
		P->state = SRD_PATH_SUSPECT;
		return;
	}
	P->state = SRD_PATH_PROBING;
	c->n_probing++;
}

/*
 * Losses in a row that the connection's own loss rate p explains on any path: one less than
 * the smallest k with p^k < 1/1024 (0 while p < 1/1024, 1 at 1-3%, 3 at 10%, at most 8).
 * Loss spread over every path (a lossy link, a busy receiver) then makes no path suspect:
 * only a path that loses clearly more than the others is.  (A dead path raises p too, and
 * each loss more it is allowed is another round of packets sent into it: failing paths
 * sooner, at most one extra, cost more here, since a path replaced is a path probing, and
 * a fresh value may land on the dead route again.)
 */
static uint32_t background_losses(const struct srd_conn *c)
{
	uint64_t prob = 65536;
	uint32_t k = 0;

	while (prob >= 64 && k < 9) { /* 64 / 65536 = 1/1024 */
		prob = prob * c->loss_rate >> 16;
		k++;
	}
	return k - 1;
}

void paths_on_silence(struct srd_engine *eng, struct srd_conn *c, uint32_t p)
{
	struct srd_path *P = &c->paths[p];

	if (eng->cfg.mode != SRD_MODE_MULTIPATH || P->state != SRD_PATH_GOOD)
		return;
	P->state = SRD_PATH_SUSPECT;
	P->skips = 0;
	c->n_good--;
}

void paths_on_loss(struct srd_engine *eng, struct srd_conn *c, uint32_t p, bool silent)
{
	struct srd_path *P = &c->paths[p];
	bool quiet = P->state == SRD_PATH_SUSPECT;
	uint32_t extra;

	if (P->losses < UINT8_MAX)
		P->losses++;
	if (eng->cfg.mode != SRD_MODE_MULTIPATH || P->state == SRD_PATH_PROBING)
		return; /* the baselines never re-path; a probing path is judged by its probe */
	extra = background_losses(c);
	if (P->state == SRD_PATH_GOOD && P->losses > extra) {
		P->state = SRD_PATH_SUSPECT;
		c->n_good--;
	}
	/* silent and quiet: nothing on the path was acked since the packet left, it was
	 * already suspect (it went quiet one reordering window after the packet was due),
	 * and three windows more brought nothing.  A dead link looks like that; a random drop
	 * on a live route rarely does, since later packets on it are acked (the two-host
	 * paths carry several at a time), and when it does, a fresh value for one path of
	 * many costs one probe */
	if ((silent && quiet) ||
	    P->losses >= eng->cfg.path_fail_losses + extra) {
		eng->st.path_failures++;
		path_replace(eng, c, p);
	}
}

/*
 * Reply routes.  An ack goes back on the entropy value the DATA names (bytes 38-39), and
 * its route is the reverse hash of that value, unrelated to the data's route.  Named the
 * data's own value, a connection's acks were spread over all its values, each value's
 * reverse route used every few delay windows only: when a link failed, a value whose acks
 * crossed it was told only by the absence of its own acks, after 8 windows (path
 * unanswered, 150-250 us in a k=8 fat-tree under load), and meanwhile every ack on it went
 * into the dead link.  Now a DATA names one of a few values (three, or more when stale ones
 * come back) whose acks come back, so each brings an ack every few acks, and one that
 * stops is seen within some 25 acks (about 17 us of a busy 100 Gbit/s flow) or 1.5 round
 * trips and asked no more.  With fewer than three usable and fewer than two of them
 * proven (the start, a timeout, a failure) the packet names its own value, asking for its
 * ack at once, and that value joins them: as few unproven values as possible are tried,
 * each a route that may be dead.  The peer needs no change: it answers on the value the DATA names.
 */

/* A reply value that brought no ack while the others brought this many times as many as
 * there are values in use goes stale (each brings about one in reply_use, at random: a
 * given run of 8n acks passes one by with probability (1 - 1/n)^(8n) < 1e-4 for n = 3);
 * so does one that brought none for 1.5 smoothed RTTs (a slow connection's few acks, or
 * all its reply values dead).  It is then left unused until an ack it was asked for comes
 * back.  The test runs at every packet, over every run of a flow's hundreds of acks: with
 * 3n ((2/3)^9 = 2.6% a run) live values went stale by chance every few tens of acks, and
 * each put a new value to the test, one in 16 of them across the dead link (S3, 30
 * seeds: the last packet into it more than 100 us after it failed in 14 with 3n, 3 with
 * 8n). */
#define REPLY_STALE_PER_USE 8u
/* Values in use below which a packet names its own value (and it joins them).  Two were
 * too few: a connection whose two both crossed the dead link had no ack back at all
 * until they went stale by time (S3 reduced: data into the dead link 72 us after it
 * failed instead of 22); three: S3's slowest flow 1.347 -> 1.326 over 10 seeds. */
#define REPLY_MIN_USE 3u
/* Proven values in use with which no new value is tried, however few are in use.  A
 * third taken while two still answer is only a spare, and a random reverse route that may
 * cross a dead link: S3's last packets into the dead link, 100-125 us after it failed,
 * were mostly acks of values tried when one of three proven values had gone stale late in
 * a flight while the other two still answered (the rest followed a timeout, which forgets
 * them all).  S3, 30 seeds: the last packet of any kind into the dead link 69 -> 58 us
 * after the failure on average, 109 -> 82 at worst, more than 100 us in 2 (6 with the
 * flight-cut congestion control) -> 0 seeds. */
#define REPLY_PROVEN_ENOUGH 2u

/* A time in SRD_REPLY_TICK_NS units, wrapping at 16 bits. */
static uint16_t reply_tick(uint64_t ns)
{
	return (uint16_t)(ns / SRD_REPLY_TICK_NS);
}

/* Ticks from a to b (b later), as the 16-bit clocks wrap. */
static int32_t reply_ticks(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(b - a);
}

static uint32_t reply_gen(const struct srd_conn *c, uint32_t k)
{
	return c->reply_gens >> (2 * k) & 3u;
}

/* Is reply slot k usable (holding a value not stale)?  Marks it stale when it has gone
 * too long without an ack. */
static bool reply_usable(struct srd_conn *c, uint64_t now, uint32_t k)
{
	uint64_t quiet = (c->srtt_ns + c->srtt_ns / 2) / SRD_REPLY_TICK_NS;
	bool fresh;

	if (!c->reply_val[k] || (c->reply_stale >> k & 1))
		return false;
	if (c->reply_proven >> k & 1)
		fresh = (uint8_t)(c->reply_acks - c->reply_mark[k]) <=
			REPLY_STALE_PER_USE * c->reply_use;
	else /* just taken: its first ack comes a round trip later, whatever the others
	      * bring meanwhile; but packets sent a quarter of an RTT after the one that
	      * asked on it answered and it did not: its acks die */
		fresh = reply_ticks(c->reply_us[k], c->reply_latest) <=
			(int32_t)(c->srtt_ns / 4 / SRD_REPLY_TICK_NS);
	/* and none for 1.5 smoothed RTTs (a slow connection's few acks, or all dead) */
	if (fresh && quiet && quiet < INT16_MAX)
		fresh = reply_ticks(c->reply_us[k], reply_tick(now)) <= (int32_t)quiet;
	if (fresh)
		return true;
	c->reply_stale |= (uint8_t)(1u << k);
	return false;
}

/* Slot k brought an ack now, or takes a value now. */
static void reply_fresh(struct srd_conn *c, uint64_t now, uint32_t k)
{
	c->reply_mark[k] = c->reply_acks;
	c->reply_us[k] = reply_tick(now);
	c->reply_stale &= (uint8_t)~(1u << k);
}

void paths_reply_reset(struct srd_conn *c)
{
	for (uint32_t k = 0; k < SRD_REPLY_ROUTES; k++)
		c->reply_val[k] = 0;
	c->reply_stale = 0;
	c->reply_proven = 0;
	c->reply_use = REPLY_MIN_USE;
}

uint16_t paths_reply_entropy(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
			     uint32_t p, uint8_t *slot, bool *ask)
{
	uint8_t proven[SRD_REPLY_ROUTES], trying[SRD_REPLY_ROUTES];
	uint32_t n = 0, nt = 0, spare = SRD_REPLY_ROUTES, k;
	uint16_t own = c->paths[p].entropy;

	*slot = SRD_REPLY_OWN;
	*ask = false;
	if (eng->cfg.mode != SRD_MODE_MULTIPATH)
		return own;
	for (k = 0; k < SRD_REPLY_ROUTES; k++) {
		if (reply_usable(c, now, k)) {
			if (c->reply_proven >> k & 1)
				proven[n++] = (uint8_t)k;
			else
				trying[nt++] = (uint8_t)k;
			if (c->reply_val[k] == own)
				spare = SRD_REPLY_ROUTES + 1; /* own value already there */
		} else if (spare == SRD_REPLY_ROUTES ||
			   (spare < SRD_REPLY_ROUTES && c->reply_val[spare] && !c->reply_val[k])) {
			spare = k; /* an empty slot, else the first stale one */
		}
	}
	c->reply_use = (uint8_t)(n > REPLY_MIN_USE ? n : REPLY_MIN_USE);
	if (n + nt < REPLY_MIN_USE && n < REPLY_PROVEN_ENOUGH && spare < SRD_REPLY_ROUTES) {
		/* too few: try this packet's own value (the path's, a route as random as any:
		 * values taken from the first acks back would favour the fastest route, and
		 * share it), asking for its ack at once so that one packet tells */
		k = spare;
		if (n == 0) /* nothing answers lately: time starts from this try */
			c->reply_latest = reply_tick(now);
		c->reply_val[k] = own;
		c->reply_gens = (uint8_t)((c->reply_gens & ~(3u << (2 * k))) |
					  ((reply_gen(c, k) + 1) & 3u) << (2 * k));
		c->reply_proven &= (uint8_t)~(1u << k);
		reply_fresh(c, now, k);
		*ask = true;
	} else if (n) {
		/* at random among the proven (else those being tried): a fixed rotation beats
		 * with the peer's ack coalescing (every second packet answered: half never were) */
		k = proven[srd_rng_below(&eng->rng, n)];
	} else if (nt) {
		k = trying[srd_rng_below(&eng->rng, nt)];
	} else {
		return own;
	}
	*slot = (uint8_t)(k | reply_gen(c, k) << 2);
	return c->reply_val[k];
}

void paths_on_reply(struct srd_conn *c, uint64_t now, uint8_t slot, uint64_t sent_ns)
{
	uint32_t k = slot & 3u;
	uint16_t sent = reply_tick(sent_ns);

	c->reply_acks++;
	if (reply_ticks(c->reply_latest, sent) > 0)
		c->reply_latest = sent;
	/* only an ack for a packet sent while the slot held its value proves it */
	if (slot >= SRD_REPLY_OWN || !c->reply_val[k] || reply_gen(c, k) != (uint32_t)(slot >> 2))
		return;
	reply_fresh(c, now, k);
	c->reply_proven |= (uint8_t)(1u << k);
}

/* Timeout of a probe: the connection's RTO, bounded so 32-bit timestamps cannot wrap. */
static uint32_t probe_timeout(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t t = loss_rto(eng, c);

	return t > 1000000000ull ? 1000000000u : (uint32_t)t;
}

/* Recompute c->probe_deadline_ns: the earliest timeout of a probe on the wire. */
static void probe_rearm(const struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	uint32_t timeout = probe_timeout(eng, c);
	uint64_t deadline = SRD_NO_DEADLINE;

	for (uint32_t p = 0; p < c->npaths && c->n_probing; p++) {
		const struct srd_path *P = &c->paths[p];
		uint32_t elapsed;
		uint64_t d;

		if (P->state != SRD_PATH_PROBING || P->probe_ts == 0)
			continue;
		elapsed = (uint32_t)now - P->probe_ts;
		d = now + (elapsed >= timeout ? 0 : timeout - elapsed);
		if (d < deadline)
			deadline = d;
	}
	c->probe_deadline_ns = deadline;
}

bool paths_next_probe(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		      struct srd_pkt *pkt, uint16_t *entropy)
{
	if (c->peer_id == 0)
		return false;
	for (uint32_t p = 0; p < c->npaths; p++) {
		struct srd_path *P = &c->paths[p];
		uint32_t ts = (uint32_t)now ? (uint32_t)now : 1;

		if (P->state != SRD_PATH_PROBING || P->probe_ts != 0)
			continue;
		*pkt = (struct srd_pkt){
			.type = SRD_PKT_PROBE,
			.path = (uint8_t)p,
			.dst_conn = c->peer_id,
			.src_conn = c->local_id,
			.psn = c->probe_seq++,
			.u.probe = { .tx_ts = ts, .cookie = p << 16 | P->entropy },
		};
		*entropy = P->entropy;
		P->probe_ts = ts;
		P->tx_pkts++;
		probe_rearm(eng, c, now);
		return true;
	}
	return false;
}

int paths_on_probe_reply(struct srd_conn *c, uint32_t cookie, uint64_t rtt_ns)
{
	uint32_t p = cookie >> 16;
	struct srd_path *P;

	if (p >= c->npaths)
		return -SRD_DROP_UNEXPECTED;
	P = &c->paths[p];
	if (P->state != SRD_PATH_PROBING || P->probe_ts == 0 || P->entropy != (cookie & 0xffffu))
		return -SRD_DROP_UNEXPECTED;
	P->state = SRD_PATH_GOOD;
	P->probe_ts = 0;
	P->srtt_ns = rtt32(rtt_ns);
	P->qwin = c->qwin_seq; /* the reply came back on the probed value */
	c->n_probing--;
	c->n_good++;
	return 0;
}

void paths_on_timer(struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	uint32_t timeout = probe_timeout(eng, c);

	for (uint32_t p = 0; p < c->npaths; p++) {
		struct srd_path *P = &c->paths[p];

		if (P->state != SRD_PATH_PROBING || P->probe_ts == 0)
			continue;
		if ((uint32_t)now - P->probe_ts >= timeout) {
			/* no answer: this value is no better; try another */
			c->n_probing--;
			path_replace(eng, c, p);
		}
	}
	probe_rearm(eng, c, now);
}
