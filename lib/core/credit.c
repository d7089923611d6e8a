/*
 * credit.c — receiver-driven credit: a receiver shares what its port holds among the
 * connections sending to it.
 *
 * A sender's congestion controller sees its own round trips only.  When many senders
 * converge on one receiver (an N-to-1 incast), each keeps its window where its delay target
 * says, and N windows of even one packet each overfill the receiver's switch port: with 128
 * senders its queue sat at the drop-tail limit, lone packets were lost, and a sender that
 * lost its first window and then every resend was starved by timeouts until the others had
 * finished.  The receiver is the one place that knows how many senders it serves.  It
 * counts the connections that sent it data lately and grants each, in every ack, a share
 * of a bytes-in-flight budget (srd_config.rx_credit_bytes, about one and a half
 * bandwidth-delay products of its link); a sender whose grant is below its congestion
 * window paces its data at the grant per smoothed RTT (the window still caps what is in
 * flight).  With one sender no grant is given: a lone flow is limited by its congestion
 * controller alone.  A connection none of whose messages is under reassembly stops
 * counting at once: it has finished (for now), and the others get its share.
 *
 * "Lately" is the current or the previous counting epoch.  An epoch is four round trips
 * (cc.base_rtt_ns, else init_rtt_ns), or longer when the senders' shares are below a
 * packet: twice the packet gap of a sender paced at the current share, so that each of them
 * is seen in every epoch.
 *
 * The shares are weighted by what is left of each sender's message (from the segment that
 * just came): equal while every rest fits the budget, else in inverse proportion to the
 * rest, down to a 64th of a full share.  Equal shares make every message into a busy
 * receiver as slow as the busiest (WebSearch at 50% load on the k=8 fat-tree: six messages
 * of 1.8-12 MB into one host over 2 ms all finished late, the 1.8 MB one at 6.3 times its
 * ideal); the receiver's half of shortest-remaining-first (Homa, pFabric) lets the message
 * nearest its end through first.  Soft, not strict: the favoured sender may be held
 * elsewhere (its own link, a hot core link), and then the others' shares keep the port busy.
 */
#include "conn.h"

#define EPOCH_RTTS 4u /* an epoch is at least this many round trips */
#define CREDIT_WEIGHT_FULL 255u /* weight of a sender whose message's rest fits the budget */
#define CREDIT_WEIGHT_MIN 4u    /* the lightest weight (a 64th of the full one) */

/* The budget shared among the senders, in bytes. */
static uint64_t credit_budget(const struct srd_config *cfg)
{
	if (cfg->rx_credit_bytes)
		return cfg->rx_credit_bytes;
	return (uint64_t)cfg->cc.init_cwnd * cfg->seg_size * 3 / 2 / SRD_CWND_ONE;
}

/* Connections counted as sending to us now: those seen in the current or previous epoch. */
static uint32_t credit_senders(const struct srd_engine *eng)
{
	return eng->credit_senders > eng->credit_senders_prev ? eng->credit_senders
							      : eng->credit_senders_prev;
}

/* Length of the epoch that starts now: EPOCH_RTTS round trips, or two packet gaps of a
 * sender paced at the share of `senders`, whichever is longer (capped at max_rto_ns). */
static uint64_t credit_epoch_len(const struct srd_engine *eng, uint32_t senders)
{
	const struct srd_config *cfg = &eng->cfg;
	uint64_t rtt = cfg->cc.base_rtt_ns ? cfg->cc.base_rtt_ns : cfg->init_rtt_ns;
	uint64_t len = EPOCH_RTTS * rtt;
	uint64_t budget = credit_budget(cfg);
	/* a share of budget / senders bytes sends one seg_size packet per rtt * seg / share */
	uint64_t gap2 = budget ? 2 * rtt * cfg->seg_size * senders / budget : 0;

	if (gap2 > len)
		len = gap2;
	return len < cfg->max_rto_ns ? len : cfg->max_rto_ns;
}

/* Bytes of pkt's message from pkt's segment on: what is left of it to come (a packed
 * packet's messages are whole and small: 0). */
static uint64_t msg_left(const struct srd_pkt *pkt)
{
	const struct srd_data_fields *d = &pkt->u.data;
	uint64_t done;

	if (d->packed)
		return 0;
	done = (uint64_t)(pkt->psn - d->msg_psn) * d->seg_size;
	return done < d->msg_len ? d->msg_len - done : 0;
}

/* The weight of a sender whose packet pkt just came: CREDIT_WEIGHT_FULL while what is left
 * of its message fits in the budget, else in inverse proportion to what is left (the
 * shortest remaining message first, softly), at least CREDIT_WEIGHT_MIN. */
static uint8_t credit_weight(const struct srd_engine *eng, const struct srd_pkt *pkt)
{
	uint64_t budget = credit_budget(&eng->cfg);
	uint64_t left = msg_left(pkt);
	uint64_t w;

	if (left <= budget)
		return CREDIT_WEIGHT_FULL;
	w = CREDIT_WEIGHT_FULL * budget / left;
	return (uint8_t)(w > CREDIT_WEIGHT_MIN ? w : CREDIT_WEIGHT_MIN);
}

void credit_on_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		    const struct srd_pkt *pkt)
{
	uint8_t w = credit_weight(eng, pkt);

	if (now >= eng->credit_epoch_end_ns) {
		/* a whole epoch without data from anyone: nobody was sending in it (the number
		 * skips it, so that no connection counts as seen in the new previous epoch) */
		bool missed = now - eng->credit_epoch_end_ns >= eng->credit_epoch_len_ns;

		eng->credit_senders_prev = missed ? 0 : eng->credit_senders;
		eng->credit_senders = 0;
		eng->credit_weight_prev = missed ? 0 : eng->credit_weight;
		eng->credit_weight = 0;
		eng->credit_epoch += missed ? 2 : 1;
		if (eng->credit_epoch < 2)
			eng->credit_epoch = 2; /* wrapped (after days): 0 means "not counted" */
		eng->credit_epoch_len_ns = credit_epoch_len(eng, eng->credit_senders_prev);
		eng->credit_epoch_end_ns = now + eng->credit_epoch_len_ns;
	}
	if (c->credit_epoch != eng->credit_epoch) {
		c->credit_in_prev = c->credit_epoch && c->credit_epoch + 1 == eng->credit_epoch;
		c->credit_weight_prev = c->credit_in_prev ? c->credit_weight : 0;
		c->credit_weight = 0;
		c->credit_epoch = eng->credit_epoch;
		eng->credit_senders++;
	}
	eng->credit_weight += (uint64_t)w - c->credit_weight;
	c->credit_weight = w;
}

void credit_after_data(struct srd_engine *eng, struct srd_conn *c)
{
	bool in_cur = c->credit_epoch && c->credit_epoch == eng->credit_epoch;
	bool in_prev = in_cur ? c->credit_in_prev
			      : c->credit_epoch && c->credit_epoch + 1 == eng->credit_epoch;

	if (c->rx_head != SRD_NIL32)
		return;
	/* nothing of c's under reassembly: its message is complete, and if it had no other
	 * it has nothing more to send us for now.  The senders still sending get its share at
	 * once rather than an epoch or two later (16-to-1 incast: the last flows to finish
	 * ran capped at a sixteenth of the link for up to two epochs).  It counts again with
	 * its next packet. */
	if (in_cur && eng->credit_senders) {
		eng->credit_senders--;
		eng->credit_weight -= c->credit_weight;
	}
	if (in_prev && eng->credit_senders_prev) {
		eng->credit_senders_prev--;
		/* its weight in the previous epoch: the one it had then if it has been
		 * counted in this one since */
		eng->credit_weight_prev -= in_cur ? c->credit_weight_prev : c->credit_weight;
	}
	c->credit_weight = c->credit_weight_prev = 0;
	c->credit_epoch = 0;
	c->credit_in_prev = 0;
}

uint16_t credit_grant(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint32_t senders = credit_senders(eng);
	uint64_t total = eng->credit_weight > eng->credit_weight_prev ? eng->credit_weight
									: eng->credit_weight_prev;
	uint64_t units;

	if (senders <= 1)
		return 0;
	if (total == 0 || c->credit_weight == 0)
		units = credit_budget(&eng->cfg) / senders / SRD_GRANT_UNIT;
	else
		units = credit_budget(&eng->cfg) * c->credit_weight / total / SRD_GRANT_UNIT;
	if (units == 0)
		return 1;
	return units > SRD_GRANT_MAX ? (uint16_t)SRD_GRANT_MAX : (uint16_t)units;
}

/* The grant as a window of seg_size packets, 8 fraction bits (at least 1), or 0: none. */
static uint64_t grant_window(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t w;

	if (c->peer_grant == 0)
		return 0;
	w = (uint64_t)c->peer_grant * SRD_GRANT_UNIT * SRD_CWND_ONE / eng->seg_size;
	return w ? w : 1;
}

/* Does the grant hold c below its congestion window? */
static bool grant_binds(const struct srd_engine *eng, const struct srd_conn *c, uint64_t *w)
{
	*w = grant_window(eng, c);
	return *w && *w < c->cc.cwnd;
}

uint64_t credit_pacing_gap_ns(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t w;

	/* held by the grant: its share of the receiver's budget per RTT, evenly spread.  The
	 * grant sets the rate, not what may be in flight: after the first flights overflowed
	 * the receiver's queue, the packets lost from their tails counted as in flight until
	 * their tail probes (nothing sent after them to show them lost), and senders held to
	 * a window of the grant stalled for 5-7 RTTs (16-to-1: 1.023 against 1.008 without
	 * credit) */
	if (grant_binds(eng, c, &w))
		return c->srtt_ns * SRD_CWND_ONE / w;
	return srd_cc_pacing_gap_ns(&c->cc, &eng->cfg.cc, c->srtt_ns);
}
