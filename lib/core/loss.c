/*
 * loss.c — loss detection on the sending side: RACK by time (RFC 8985, adapted to sprayed
 * paths), the tail loss probe, and the retransmission timeout with exponential backoff.
 * A packet declared lost moves from the send-order list to the retransmit list, where
 * tx_next_data() finds it; its path is blamed when the loss says something about it.
 *
 * The deadlines are the engine's to keep (loss_deadline()); acks feed RACK through the
 * latest acked transmission (rack_xmit_ns, rack_psn) that tx.c records.
 */
#include <errno.h>

#include "conn.h"

/* A retransmission proved needless: the reordering window was too small. */
void loss_reorder_widen(struct srd_conn *c)
{
	if (c->reo_steps < 16)
		c->reo_steps++;
	c->reo_clean = 0;
}

/* Has a packet sent after r on r's own route (same path, same entropy value) been acked?
 * The queues on a route are FIFO: then r was lost, however slow the other paths are. */
static bool overtaken_on_path(const struct srd_conn *c, const struct srd_txpkt *r)
{
	const struct srd_path *P = &c->paths[r->path];

	return P->state != SRD_PATH_PROBING && r->path_gen == P->gen && P->acked_sent &&
	       (int32_t)(P->acked_sent - (uint32_t)r->sent_ns) > 0;
}

/* Declare an INFLIGHT packet lost: it goes to the retransmit list. */
void loss_mark(struct srd_engine *eng, struct srd_conn *c, uint16_t idx,
	       enum srd_loss_cause cause)
{
	struct srd_txpkt *r = &c->txpkts[idx];
	bool path_fault = cause == SRD_LOSS_RACK;
	/* nothing sent after it on its route (same value) has been acked */
	bool silent = path_fault && r->path_gen == c->paths[r->path].gen &&
		      !overtaken_on_path(c, r);

	tx_unlink_inflight(c, idx);
	r->state = TXPKT_LOST;
	r->lost_by = (uint8_t)cause;
	/* the loss rate is that of packets lost while later ones got through: a timeout says
	 * nothing arrived at all (a tail on a dead route, an outage), and counting it raised
	 * the rate to 30-45% in a lone packet's retries, which then took 8 more losses in a
	 * row to fail a dead path: the retries went round paths that were all dead one way */
	if (cause == SRD_LOSS_RACK)
		c->loss_rate = (uint16_t)(c->loss_rate + ((65535u - c->loss_rate) >> 6));
	txlist_append(c, &c->rt_head, &c->rt_tail, idx);
	if (path_fault)
		paths_on_loss(eng, c, r->path, silent);
}

/* ---- timers ---- */

/* The timeout: smoothed RTT plus a margin for its variation (at least a quarter of it: a
 * steady RTT has almost no variance, and an RTO that close to the RTT fires whenever an ack
 * is a little late) plus the longest the peer holds an ack; never below min_rto.  Once the
 * RTT is above min_rto, the floor no longer hides a margin that is missing.  Backoff
 * doubles it up to max_rto; max_rto caps the backoff, never the estimate itself: a timeout
 * shorter than the RTT (a path longer than max_rto, a host so loaded that acks wait for
 * milliseconds) would fire before any ack could return, every time. */
uint64_t loss_rto(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t var = 4 * c->rttvar_ns > c->srtt_ns / 4 ? 4 * c->rttvar_ns : c->srtt_ns / 4;
	uint64_t base = c->srtt_ns ? c->srtt_ns + var + eng->cfg.ack_delay_ns :
		       3 * eng->cfg.init_rtt_ns;
	uint64_t rto;

	if (base < eng->cfg.min_rto_ns)
		base = eng->cfg.min_rto_ns;
	if (base >= eng->cfg.max_rto_ns)
		return base;
	rto = base;
	for (unsigned i = 0; i < c->rto_backoff && rto < eng->cfg.max_rto_ns; i++)
		rto *= 2;
	return rto < eng->cfg.max_rto_ns ? rto : eng->cfg.max_rto_ns;
}

/* When the tail loss probe of the current flight is due (SRD_NO_DEADLINE: none): two
 * smoothed RTTs, at least min_tlp, plus the peer's ack delay after the latest
 * transmission, once per flight.  The floor is for hosts that stall: with RTTs of 3-5 us,
 * a worker sharing a 2-vCPU machine was descheduled for longer than two of them for up to
 * one message in 160, and probed messages that had arrived. */
static uint64_t tlp_deadline(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t pto;

	if (c->so_tail == SRD_NIL16 || c->tlp_sent || !c->srtt_ns)
		return SRD_NO_DEADLINE;
	pto = 2 * c->srtt_ns;
	if (pto < eng->cfg.min_tlp_ns)
		pto = eng->cfg.min_tlp_ns;
	return c->txpkts[c->so_tail].sent_ns + pto + eng->cfg.ack_delay_ns;
}

uint64_t loss_deadline(const struct srd_engine *eng, const struct srd_conn *c)
{
	uint64_t d = SRD_NO_DEADLINE, tlp = tlp_deadline(eng, c);

	if (c->so_head != SRD_NIL16)
		d = c->txpkts[c->so_head].sent_ns + loss_rto(eng, c);
	if (c->rack_timer_ns && c->rack_timer_ns < d)
		d = c->rack_timer_ns;
	return tlp < d ? tlp : d;
}

/* Was in-flight packet idx sent after the latest acked packet?  A burst leaves with one
 * timestamp, so times tie; PSN order is send order within one (RFC 8985's tie-break): an
 * ack for the start of a burst whose rest is still queued at the receiver does not make
 * the rest overdue. */
static bool sent_after_rack(const struct srd_engine *eng, const struct srd_conn *c,
			    uint16_t idx)
{
	const struct srd_txpkt *r = &c->txpkts[idx];
	uint32_t psn = c->snd_una + ((idx - c->snd_una) & eng->tx_mask);

	return r->sent_ns > c->rack_xmit_ns ||
	       (r->sent_ns == c->rack_xmit_ns && psn_lt(c->rack_psn, psn));
}

/*
 * RACK: a packet is lost once a packet sent after it has been acked and its expected RTT
 * plus a reordering window has passed.  Paths differ in queueing delay, so the expected RTT
 * is the larger of the latest acked packet's and the packet's own path's smoothed RTT, and
 * the window depends on what overtook it: a packet sent later on the same route (FIFO
 * queues: only jitter reorders them) gets the reordering window (reorder_pct of the minimum
 * RTT, widened after needless resends); packets on other paths only prove that time has
 * passed, and get four times that, since spraying over paths of different queueing delays
 * reorders by whole queue lengths.  After one window the packet is not lost yet but its
 * path has gone quiet: nothing more is sent there until an ack or the loss decides
 * (paths_on_silence(); a dead link would otherwise take a packet per pass of the round
 * robin during the other three windows).  At a flight's tail, when every packet still in
 * flight was sent before the latest one acked, they get one window, not four: everything
 * sent after them got through and nothing is left to overtake them (S3: a flow's last
 * packets lost to a full queue were resent 40-50 us after, its slowest flow 4-5% longer;
 * the tail loss probe comes later still, two smoothed RTTs, at least min_tlp, after the
 * last send).  Walks
 * the send-order list from the oldest packet; deadlines are not monotonic across paths,
 * so it looks a bounded distance past the first packet not yet due.
 */
void loss_rack_detect(struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	uint64_t reo = c->min_rtt_ns * eng->cfg.reorder_pct / 100;
	uint32_t lookahead = 32, cross_paths = 4;
	uint16_t idx = c->so_head;

	if (reo < 500)
		reo = 500;
	reo *= 1u + c->reo_steps;
	if (c->so_tail != SRD_NIL16 && !sent_after_rack(eng, c, c->so_tail))
		cross_paths = 1; /* a flight's tail */
	c->rack_timer_ns = 0;
	while (idx != SRD_NIL16 && lookahead) {
		struct srd_txpkt *r = &c->txpkts[idx];
		struct srd_path *P = &c->paths[r->path];
		uint16_t next = r->next;
		uint64_t rtt = c->rack_rtt_ns, path_rtt = P->srtt_ns, lost_at, quiet_at;

		if (sent_after_rack(eng, c, idx))
			break; /* sent after everything acked so far: nothing to judge by */
		if (path_rtt > rtt)
			rtt = path_rtt;
		lost_at = r->sent_ns + rtt + cross_paths * reo;
		quiet_at = r->sent_ns + rtt + reo;
		if (overtaken_on_path(c, r) && r->sent_ns + path_rtt + reo < lost_at)
			lost_at = r->sent_ns + path_rtt + reo;
		if (now >= lost_at) {
			loss_mark(eng, c, idx, SRD_LOSS_RACK);
			eng->st.rack_losses++;
			idx = next;
			continue;
		}
		if (P->state == SRD_PATH_GOOD && r->path_gen == P->gen) {
			if (now >= quiet_at)
				paths_on_silence(eng, c, r->path);
			else if (quiet_at < lost_at)
				lost_at = quiet_at; /* wake up then to judge the path */
		}
		if (!c->rack_timer_ns || lost_at < c->rack_timer_ns)
			c->rack_timer_ns = lost_at;
		lookahead--;
		idx = next;
	}
}

/* Retransmission timeout: nothing has been acked for an RTO, so every packet in flight
 * that had time to be acked (sent at least one smoothed RTT ago) is lost; back off.  Each
 * path the lost packets took is blamed once (a short outage of everything makes paths
 * suspect, not failed; a blackholed path keeps losing and fails), never once per packet.
 * max_retries timeouts in a row without progress mean the peer is unreachable: the
 * connection fails. */
static void on_rto(struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	uint64_t blamed[SRD_MAX_PATHS / 64] = { 0 };

	eng->st.rto_events++;
	if (c->rto_backoff >= eng->cfg.max_retries) {
		eng->st.conns_timed_out++;
		conn_reset(eng, c, -ETIMEDOUT);
		return;
	}
	c->rto_backoff++;
	while (c->so_head != SRD_NIL16 && c->txpkts[c->so_head].sent_ns + c->srtt_ns <= now) {
		uint8_t p = c->txpkts[c->so_head].path;

		loss_mark(eng, c, c->so_head, SRD_LOSS_RTO);
		eng->st.rto_losses++;
		if (c->srtt_ns && !(blamed[p / 64] >> (p % 64) & 1)) {
			blamed[p / 64] |= 1ull << (p % 64);
			paths_on_loss(eng, c, p, false);
		}
	}
	/* before the first RTT sample a timeout only says that the round trip is longer than
	 * init_rtt assumed (a long-haul peer): resend and back off, but neither cut the window
	 * nor blame a path for it */
	if (c->srtt_ns)
		eng->cc->on_rto(&c->cc, &eng->cfg.cc, now);
	/* nothing came back for an RTO: the reply routes may be what died */
	paths_reply_reset(c);
}

void loss_on_timer(struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	if (c->rack_timer_ns && now >= c->rack_timer_ns)
		loss_rack_detect(eng, c, now);
	if (now >= tlp_deadline(eng, c)) {
		/* RACK needs a later packet acked, and none is coming: the last packets of a
		 * message stuck behind a slow path, or lost, wait for the RTO.  Resend the latest
		 * one on another path instead, once per flight (RACK-TLP) */
		c->tlp_sent = 1;
		loss_mark(eng, c, c->so_tail, SRD_LOSS_PROBE);
		eng->st.tlp_probes++;
	}
	if (c->so_head != SRD_NIL16 && now >= c->txpkts[c->so_head].sent_ns + loss_rto(eng, c))
		on_rto(eng, c, now);
}

