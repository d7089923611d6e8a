/*
 * tx.c — the sending side of a connection: message slots, segmentation and packing,
 * transmission within the windows (retransmissions first, on a different path),
 * acknowledgement processing and the RTT estimators.  Loss detection is loss.c's.
 *
 * Every PSN in [snd_una, snd_nxt) has a record txpkts[psn & tx_mask].  INFLIGHT records
 * sit on the send-order list (oldest transmission first); LOST ones on the retransmit list
 * (conn.h's txlist_*()).
 */
#include <errno.h>
#include <string.h>

#include "conn.h"

/* ---- message slots: a free stack and a send-order queue, linked through slot.link ---- */

static void msg_complete(struct srd_engine *eng, struct srd_conn *c, struct srd_txmsg *m,
			 int status);

void tx_msgs_init(struct srd_engine *eng, struct srd_conn *c)
{
	uint32_t n = eng->cfg.max_tx_msgs;

	for (uint32_t i = 0; i < n; i++) {
		c->txmsgs[i].state = TXMSG_FREE;
		c->txmsgs[i].link = (uint16_t)(i + 1 < n ? i + 1 : SRD_NIL16);
	}
	c->msg_free = 0;
	c->msg_used = 0;
	c->order_head = c->order_tail = SRD_NIL16;
}

uint16_t tx_msg_alloc(struct srd_engine *eng, struct srd_conn *c)
{
	uint16_t slot = c->msg_free;

	if (slot == SRD_NIL16)
		return SRD_NIL16;
	c->msg_free = c->txmsgs[slot].link;
	c->txmsgs[slot].link = SRD_NIL16;
	if (c->order_tail == SRD_NIL16)
		c->order_head = slot;
	else
		c->txmsgs[c->order_tail].link = slot;
	c->order_tail = slot;
	if (c->msg_used++ == 0)
		eng->conns_sending++;
	return slot;
}

/* A message the peer refused (no new segments; done when the sent ones are acked), and the
 * status it then fails with. */
static bool msg_refused(const struct srd_txmsg *m)
{
	return m->state == TXMSG_REFUSED || m->state == TXMSG_NO_EP;
}

static int refusal_status(const struct srd_txmsg *m)
{
	return m->state == TXMSG_NO_EP ? -ENXIO : -EMSGSIZE;
}

/* Take messages with nothing more to segment off the head of the send order.  A message
 * the peer cannot take (longer than its max_msg) is refused here, before its first PSN. */
static void msg_advance_cur(struct srd_engine *eng, struct srd_conn *c)
{
	while (c->order_head != SRD_NIL16) {
		struct srd_txmsg *m = &c->txmsgs[c->order_head];

		if (m->state == TXMSG_ACTIVE && m->len > c->peer_max_msg)
			m->state = TXMSG_REFUSED;
		if (m->state == TXMSG_ACTIVE && m->next_seg < m->nseg)
			break;
		c->order_head = m->link;
		m->link = SRD_NIL16;
		if (c->order_head == SRD_NIL16)
			c->order_tail = SRD_NIL16;
		if (msg_refused(m) && m->acked_segs == m->next_seg)
			msg_complete(eng, c, m, refusal_status(m));
	}
}

/* ---- completion ---- */

static void msg_complete(struct srd_engine *eng, struct srd_conn *c, struct srd_txmsg *m,
			 int status)
{
	uint16_t slot = (uint16_t)(m - c->txmsgs);
	void *ctx = m->ctx;

	m->state = TXMSG_FREE;
	if (c->order_head == slot)
		msg_advance_cur(eng, c); /* a refused head message leaves the send order first */
	m->link = c->msg_free;
	c->msg_free = slot;
	if (--c->msg_used == 0)
		eng->conns_sending--;
	if (status == 0)
		eng->st.msgs_completed++;
	else
		eng->st.msgs_failed++;
	eng->cb.tx_done(eng->cb.user, ctx, status);
}

/* A message is done when every segment is acked, or, if refused (by a NACK, or because
 * the peer's acks say it takes shorter messages), every segment sent is acked. */
static void msg_check_done(struct srd_engine *eng, struct srd_conn *c, struct srd_txmsg *m)
{
	if (m->state == TXMSG_ACTIVE && m->len > c->peer_max_msg)
		m->state = TXMSG_REFUSED;
	if (m->state == TXMSG_ACTIVE && m->acked_segs == m->nseg)
		msg_complete(eng, c, m, 0);
	else if (msg_refused(m) && m->acked_segs == m->next_seg)
		msg_complete(eng, c, m, refusal_status(m));
}

/* Forget every packet record of c (nothing is in flight any more). */
static void tx_forget_packets(struct srd_engine *eng, struct srd_conn *c)
{
	for (uint32_t psn = c->snd_una; psn != c->snd_nxt; psn++)
		c->txpkts[psn & eng->tx_mask].state = TXPKT_FREE;
	c->so_head = c->so_tail = c->rt_head = c->rt_tail = SRD_NIL16;
	c->inflight = 0;
	for (uint32_t p = 0; p < c->npaths; p++)
		c->paths[p].inflight = 0;
	c->snd_una = c->snd_nxt;
}

void tx_restart_all(struct srd_engine *eng, struct srd_conn *c)
{
	tx_forget_packets(eng, c);
	/* rebuild the send order from the messages still in use, oldest id first */
	c->order_head = c->order_tail = SRD_NIL16;
	for (uint32_t i = 0; i < eng->cfg.max_tx_msgs; i++) {
		struct srd_txmsg *m = &c->txmsgs[i];
		uint16_t prev = SRD_NIL16, at = c->order_head;

		if (m->state == TXMSG_FREE)
			continue;
		m->next_seg = 0;
		m->acked_segs = 0;
		m->pack_next = SRD_NIL16; /* packed again, maybe otherwise, when resent */
		while (at != SRD_NIL16 && psn_lt(c->txmsgs[at].msg_id, m->msg_id)) {
			prev = at;
			at = c->txmsgs[at].link;
		}
		m->link = at;
		if (prev == SRD_NIL16)
			c->order_head = (uint16_t)i;
		else
			c->txmsgs[prev].link = (uint16_t)i;
		if (at == SRD_NIL16)
			c->order_tail = (uint16_t)i;
	}
}

static int ack_one(struct srd_engine *eng, struct srd_conn *c, uint32_t psn,
		   const struct srd_ack_fields *a, uint64_t now);

bool tx_ack_cumulative(struct srd_engine *eng, struct srd_conn *c, uint32_t cum)
{
	if (!psn_le(c->snd_una, cum) || !psn_le(cum, c->snd_nxt))
		return false;
	for (uint32_t p = c->snd_una; p != cum; p++)
		ack_one(eng, c, p, NULL, 0);
	while (c->snd_una != cum) {
		c->txpkts[c->snd_una & eng->tx_mask].state = TXPKT_FREE;
		c->snd_una++;
	}
	return true;
}

void tx_resend_inflight(struct srd_engine *eng, struct srd_conn *c)
{
	while (c->so_head != SRD_NIL16)
		loss_mark(eng, c, c->so_head, SRD_LOSS_REFUSED);
	c->rto_backoff = 0;
}

void tx_fail_all(struct srd_engine *eng, struct srd_conn *c, int status)
{
	tx_forget_packets(eng, c);
	if (c->msg_used)
		eng->conns_sending--;
	for (uint32_t i = 0; i < eng->cfg.max_tx_msgs; i++) {
		struct srd_txmsg *m = &c->txmsgs[i];

		if (m->state == TXMSG_FREE)
			continue;
		m->state = TXMSG_FREE;
		eng->st.msgs_failed++;
		eng->cb.tx_done(eng->cb.user, m->ctx, status);
	}
	tx_msgs_init(eng, c);
}

/* ---- transmission ---- */

bool tx_has_data(const struct srd_conn *c)
{
	return c->rt_head != SRD_NIL16 || c->order_head != SRD_NIL16;
}

/* Copy len bytes of message m from byte offset off into dst. */
static void copy_from_iov(const struct srd_txmsg *m, uint32_t off, uint8_t *dst, uint32_t len)
{
	for (uint32_t i = 0; i < m->iovcnt && len; i++) {
		const struct srd_iov *v = &m->iov[i];
		uint32_t n;

		if (off >= v->len) {
			off -= v->len;
			continue;
		}
		n = v->len - off < len ? v->len - off : len;
		memcpy(dst, (const uint8_t *)v->base + off, n);
		dst += n;
		len -= n;
		off = 0;
	}
}

/* Allocate the next PSN for the current message's next segment.  Returns the record index,
 * or SRD_NIL16 if no new PSN may be used now (flow-control window, or nothing to send). */
static uint16_t take_new_segment(struct srd_engine *eng, struct srd_conn *c)
{
	uint32_t used = c->snd_nxt - c->snd_una;
	struct srd_txmsg *m;
	struct srd_txpkt *r;
	uint16_t idx, slot;

	msg_advance_cur(eng, c);
	/* with nothing outstanding one packet may always go: a zero credit cannot stall us */
	if (c->order_head == SRD_NIL16 || used >= eng->cfg.tx_window ||
	    (used >= c->peer_credit && used > 0))
		return SRD_NIL16;
	slot = c->order_head;
	m = &c->txmsgs[slot];
	idx = (uint16_t)(c->snd_nxt & eng->tx_mask);
	r = &c->txpkts[idx];
	if (m->next_seg == 0)
		m->first_psn = c->snd_nxt;
	r->msg = slot;
	r->seg = m->next_seg++;
	r->retries = 0;
	r->resends = 0;
	r->lost_by = SRD_LOSS_RACK;
	r->prev = r->next = SRD_NIL16;
	c->snd_nxt++;
	return idx;
}

/*
 * Packing.  A one-packet message just given a PSN takes the one-packet messages queued
 * right behind it along, as long as they go to the same endpoint, in the same order mode,
 * and fit (SRD_HDR_PACK_LEN, then a sub-header and the bytes of each, within the largest
 * packet a segment makes): one PSN, one record, one ack for all of them.  Only what is
 * queued already goes: a lone message is never held back for company.  The messages are
 * chained from the record's message through pack_next, so a resend rebuilds the same
 * packet and an ack or a refusal reaches every one.  Only once the peer's acks have said
 * how long a message it takes (peer_max_msg): a packet is refused whole, and a message
 * too long for the peer must not take others with it.
 */
static void pack_queued(struct srd_engine *eng, struct srd_conn *c, const struct srd_txpkt *r)
{
	struct srd_txmsg *head = &c->txmsgs[r->msg], *last = head;
	uint32_t room = eng->seg_size + SRD_HDR_MAX_LEN, n = 1;
	uint32_t used = SRD_HDR_PACK_LEN + SRD_PACK_SUB_LEN + head->len;

	if (head->nseg != 1 || eng->cfg.pack_msgs < 2 || c->peer_max_msg == UINT32_MAX)
		return;
	for (uint16_t slot = head->link; slot != SRD_NIL16 && n < eng->cfg.pack_msgs;) {
		struct srd_txmsg *m = &c->txmsgs[slot];

		if (m->state != TXMSG_ACTIVE || m->nseg != 1 || m->len > c->peer_max_msg ||
		    m->src_ep != head->src_ep || m->dst_ep != head->dst_ep ||
		    m->ordered != head->ordered || used + SRD_PACK_SUB_LEN + m->len > room)
			break;
		used += SRD_PACK_SUB_LEN + m->len;
		m->first_psn = head->first_psn;
		m->next_seg = 1;
		last->pack_next = slot;
		last = m;
		n++;
		slot = m->link;
	}
	if (n == 1)
		return;
	msg_advance_cur(eng, c); /* the packed messages leave the send order now */
	eng->st.tx_packed_pkts++;
	eng->st.tx_packed_msgs += n;
}

/* Write a packed packet (its header fields but the count are in *pkt): the messages
 * chained from first, then the header, whose length is fixed, before them (one walk of the
 * chain).  Returns the packet length, *payload the message bytes. */
static int encode_packed(const struct srd_conn *c, uint16_t first, struct srd_pkt *pkt,
			 uint8_t *buf, uint32_t cap, uint32_t *payload)
{
	uint32_t n = 0, bytes = 0;
	uint8_t *p = buf + SRD_HDR_PACK_LEN;
	int hlen;

	if (cap < SRD_HDR_PACK_LEN)
		return -ENOSPC;
	for (uint16_t slot = first; slot != SRD_NIL16; slot = c->txmsgs[slot].pack_next) {
		const struct srd_txmsg *m = &c->txmsgs[slot];

		/* pack_queued() kept the sum within srd_max_packet_len(), which cap holds */
		if (cap - (uint32_t)(p - buf) < SRD_PACK_SUB_LEN + m->len)
			return -ENOSPC;
		srd_wire_pack_put(p, &(struct srd_pack_msg){ .msg_id = m->msg_id, .len = m->len,
							    .tag = m->tag, .imm = m->imm });
		p += SRD_PACK_SUB_LEN;
		copy_from_iov(m, 0, p, m->len);
		p += m->len;
		bytes += m->len;
		n++;
	}
	pkt->u.data.packed = (uint8_t)n;
	hlen = srd_wire_encode(pkt, buf, SRD_HDR_PACK_LEN);
	if (hlen < 0)
		return hlen;
	*payload = bytes;
	return (int)(p - buf);
}

/* Where the len bytes of message m at byte offset off are, if one iov entry holds them
 * all; else NULL. */
static const uint8_t *iov_span(const struct srd_txmsg *m, uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < m->iovcnt; i++) {
		const struct srd_iov *v = &m->iov[i];

		if (off < v->len)
			return v->len - off >= len ? (const uint8_t *)v->base + off : NULL;
		off -= v->len;
	}
	return NULL;
}

/* Write segment r->seg of message m (its header fields but the message's own in *pkt).
 * With ref, a payload of at least SRD_TX_REF_MIN bytes in one iov entry is not copied but
 * named in meta->ref and meta->ref_len.  Returns the length written at buf, *payload the
 * segment's bytes. */
static int encode_segment(const struct srd_engine *eng, const struct srd_txmsg *m,
			  const struct srd_txpkt *r, struct srd_pkt *pkt, uint8_t *buf,
			  uint32_t cap, uint32_t *payload, bool ref, struct srd_tx_meta *meta)
{
	uint32_t off = r->seg * eng->seg_size;
	uint32_t len = m->len - off < eng->seg_size ? m->len - off : eng->seg_size;
	const uint8_t *span;
	int hlen;

	pkt->u.data.msg_id = m->msg_id;
	pkt->u.data.msg_len = m->len;
	pkt->u.data.seg_size = (uint16_t)(m->len ? eng->seg_size : 0);
	pkt->u.data.tag = m->tag;
	pkt->u.data.imm = r->seg == 0 ? m->imm : 0;
	pkt->u.data.packed = 0;
	pkt->payload_len = len;
	hlen = srd_wire_encode(pkt, buf, cap);
	if (hlen < 0 || (uint32_t)hlen + len > cap)
		return -ENOSPC; /* cannot happen: srd_poll_tx() checked cap */
	*payload = len;
	if (ref && len >= SRD_TX_REF_MIN && (span = iov_span(m, off, len)) != NULL) {
		meta->ref = span;
		meta->ref_len = len;
		return hlen;
	}
	copy_from_iov(m, off, buf + hlen, len);
	return hlen + (int)len;
}

int tx_next_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now, uint8_t *buf,
		 uint32_t cap, struct srd_tx_meta *meta, bool ref)
{
	uint32_t cwnd_pkts = c->cc.cwnd / SRD_CWND_ONE;
	bool retx = false;
	struct srd_txmsg *m;
	struct srd_txpkt *r;
	struct srd_pkt pkt;
	uint32_t path, len, psn;
	uint16_t idx, reply_e;
	bool reply_ask;
	uint8_t reply;
	int plen;

	if (c->rnr_until_ns > now || !tx_has_data(c))
		return 0;
	if (c->window_fresh) {
		/* the first flight of this incarnation: the host's NIC is shared with the other
		 * connections that have messages to send, and a full initial window on each
		 * lands at their receivers as a burst the queues cannot hold (all-to-all: every
		 * receiver is a 4-way incast, and start-up losses there grew into convoys of
		 * 10-30 senders at one receiver while others idled) */
		c->window_fresh = 0;
		srd_cc_start_share(&c->cc, &eng->cfg.cc, eng->conns_sending);
		cwnd_pkts = c->cc.cwnd / SRD_CWND_ONE;
	}
	if (c->inflight >= (cwnd_pkts ? cwnd_pkts : 1))
		return 0;
	if (now < c->pace_next_ns) {
		c->pace_wait = 1;
		return 0;
	}
	if (c->rt_head != SRD_NIL16) {
		idx = c->rt_head;
		r = &c->txpkts[idx];
		txlist_remove(c, &c->rt_head, &c->rt_tail, idx);
		if ((r->lost_by == SRD_LOSS_RTO && r->retries >= eng->cfg.max_retries) ||
		    r->resends >= SRD_MAX_RESENDS) {
			eng->st.conns_timed_out++;
			conn_reset(eng, c, -ETIMEDOUT);
			return 0;
		}
		if (r->lost_by == SRD_LOSS_RTO)
			r->retries++;
		bool lost = r->lost_by != SRD_LOSS_RNR && r->lost_by != SRD_LOSS_REFUSED;

		if (lost)
			r->resends++;
		retx = true;
		/* a lost packet is resent where packets sent lately arrive (and their acks
		 * come back): the next path in turn may be one that has not lost a packet yet
		 * only because its losses are still in flight (S3: resends into the dead link
		 * stalled a flow until its RTO) */
		path = paths_pick(eng, c, r->path, lost);
	} else {
		idx = take_new_segment(eng, c);
		if (idx == SRD_NIL16)
			return 0;
		r = &c->txpkts[idx];
		path = paths_pick(eng, c, -1, false);
		pack_queued(eng, c, r);
	}
	m = &c->txmsgs[r->msg];
	psn = m->first_psn + r->seg;
	reply_e = paths_reply_entropy(eng, c, now, path, &reply, &reply_ask);
	/* field by field: a compound literal would first clear the whole struct (its union's
	 * largest member, the ACK's, is three times a DATA's fields), per packet */
	pkt.type = SRD_PKT_DATA;
	pkt.flags = (uint8_t)((c->peer_id ? 0 : SRD_F_SYN) |
			      (!c->peer_id && c->setup_cookie ? SRD_F_COOKIE : 0) |
			      (retx ? SRD_F_RETX | SRD_F_ACKREQ : 0) |
			      (r->seg + 1 == m->nseg || reply_ask || paths_want_ack(eng, c, path) ?
			       SRD_F_ACKREQ : 0) |
			      (m->state == TXMSG_NO_EP ? SRD_F_ABANDON | SRD_F_ACKREQ : 0) |
			      (m->ordered ? SRD_F_ORDERED : 0));
	pkt.path = (uint8_t)path;
	pkt.dst_conn = c->peer_id ? c->peer_id : c->setup_cookie;
	pkt.src_conn = c->local_id;
	pkt.psn = psn;
	pkt.u.data.tx_ts = (uint32_t)now;
	pkt.u.data.msg_psn = m->first_psn;
	pkt.u.data.src_ep = m->src_ep;
	pkt.u.data.dst_ep = m->dst_ep;
	pkt.u.data.entropy = reply_e;
	pkt.payload = NULL;
	if (m->pack_next != SRD_NIL16)
		plen = encode_packed(c, r->msg, &pkt, buf, cap, &len);
	else
		plen = encode_segment(eng, m, r, &pkt, buf, cap, &len, ref, meta);
	if (plen < 0)
		return plen;

	r->sent_ns = now;
	r->path = (uint8_t)path;
	r->path_gen = c->paths[path].gen;
	r->reply = reply;
	r->state = TXPKT_INFLIGHT;
	txlist_append(c, &c->so_head, &c->so_tail, idx);
	c->inflight++;
	c->paths[path].inflight++;
	c->paths[path].tx_pkts++;
	c->pace_wait = 0;
	uint64_t gap = credit_pacing_gap_ns(eng, c);
	if (gap)
		c->pace_next_ns = (c->pace_next_ns + gap > now ? c->pace_next_ns : now) + gap;

	meta->peer = c->peer;
	meta->entropy = c->paths[path].entropy;
	meta->path = (uint8_t)path;
	meta->type = SRD_PKT_DATA;
	meta->ect = 1;
	eng->st.tx_data_pkts++;
	eng->st.tx_payload_bytes += len;
	if (retx) {
		eng->st.tx_retx_pkts++;
		c->retransmits++;
	}
	return plen;
}

/* ---- acknowledgements ---- */

/* Update the connection's RTT estimators with a sample. */
static void rtt_update(struct srd_conn *c, uint64_t rtt)
{
	if (!c->srtt_ns) {
		c->srtt_ns = rtt;
		c->rttvar_ns = rtt / 2;
	} else {
		uint64_t err = rtt > c->srtt_ns ? rtt - c->srtt_ns : c->srtt_ns - rtt;

		c->rttvar_ns = c->rttvar_ns - c->rttvar_ns / 4 + err / 4;
		c->srtt_ns = c->srtt_ns - c->srtt_ns / 8 + rtt / 8;
	}
	if (!c->min_rtt_ns || rtt < c->min_rtt_ns)
		c->min_rtt_ns = rtt;
}

/*
 * The connection's standing RTT: its smallest RTT sample, over every path, of the current
 * delay window and the one before (each a smoothed RTT long).  A queue that every packet
 * meets raises every sample; per-packet jitter and a queue on some of the sprayed routes
 * raise only some, so the minimum is the queueing the whole flow sees, which is what its
 * window controls (a hot route is judged on its own path's signals: cc.c, paths.c).  Also
 * starts the paths' delay windows.
 */
static uint64_t standing_update(struct srd_conn *c, uint64_t now, uint64_t rtt)
{
	uint32_t s = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
	uint64_t len = c->srtt_ns > 1000 ? c->srtt_ns : 1000;

	if (now >= c->qwin_end_ns) {
		/* a new delay window; the one before counts only if it just ended */
		c->qmin_prev_ns = now < c->qwin_end_ns + len ? c->qmin_cur_ns : 0;
		c->qmin_cur_ns = 0;

		c->qwin_seq++;
		c->qwin_end_ns = now + len;
	}
	if (!c->qmin_cur_ns || s < c->qmin_cur_ns)
		c->qmin_cur_ns = s;
	return c->qmin_prev_ns && c->qmin_prev_ns < c->qmin_cur_ns ? c->qmin_prev_ns
								   : c->qmin_cur_ns;
}

/* Remember, for r's route, the latest send time acked (overtaken_on_path()).  Only a
 * packet sent once counts: an ack of a resent packet may be for a copy that went another
 * way. */
static void path_note_acked(struct srd_conn *c, const struct srd_txpkt *r)
{
	struct srd_path *P = &c->paths[r->path];
	uint32_t sent = (uint32_t)r->sent_ns ? (uint32_t)r->sent_ns : 1;

	if (r->resends || r->path_gen != P->gen || P->state == SRD_PATH_PROBING)
		return;
	if (!P->acked_sent || (int32_t)(sent - P->acked_sent) > 0)
		P->acked_sent = sent;
}

/* Does ack a (received at now) tell when r's latest copy arrived?  Not when it may be for
 * an earlier copy (RFC 8985, 6.2 step 2): the one it answers by echo_ts, or any within a
 * minimum RTT of the resend.  Taken for the latest, a late original's ack made the resend
 * look a 3 us round trip: RACK then declared everything sent a reordering window before it
 * lost (k=8 fat-tree, S3: 7 spurious resends at once), and each needless resend widened
 * the window, to 56 us for packets on other paths, for the rest of the flow. */
static bool acks_latest_copy(const struct srd_conn *c, const struct srd_txpkt *r,
			     uint32_t psn, const struct srd_ack_fields *a, uint64_t now)
{
	if (!r->resends)
		return true;
	if (!a)
		return false;
	if (psn == a->acked_psn)
		return a->echo_ts == (uint32_t)r->sent_ns;
	return now - r->sent_ns >= c->min_rtt_ns;
}

/* Mark PSN psn acked if it is still outstanding (a: the ack saying so, received at now;
 * NULL: no ack, the peer's word some other way).  Returns 1 if it was newly acked. */
static int ack_one(struct srd_engine *eng, struct srd_conn *c, uint32_t psn,
		   const struct srd_ack_fields *a, uint64_t now)
{
	uint16_t idx = (uint16_t)(psn & eng->tx_mask);
	struct srd_txpkt *r = &c->txpkts[idx];
	struct srd_txmsg *m;

	if (r->state == TXPKT_INFLIGHT) {
		tx_unlink_inflight(c, idx);
	} else if (r->state == TXPKT_LOST) {
		/* acked before it was resent: it was late, not lost (unless the peer said RNR) */
		txlist_remove(c, &c->rt_head, &c->rt_tail, idx);
		if (r->lost_by == SRD_LOSS_RACK || r->lost_by == SRD_LOSS_RTO)
			loss_reorder_widen(c);
	} else {
		return 0;
	}
	c->loss_rate = (uint16_t)(c->loss_rate - (c->loss_rate >> 6));
	if (++c->reo_clean >= 1024 && c->reo_steps) {
		c->reo_steps--;
		c->reo_clean = 0;
	}
	r->state = TXPKT_ACKED;
	if (acks_latest_copy(c, r, psn, a, now) &&
	    (r->sent_ns > c->rack_xmit_ns ||
	     (r->sent_ns == c->rack_xmit_ns && psn_lt(c->rack_psn, psn)))) {
		c->rack_xmit_ns = r->sent_ns;
		c->rack_psn = psn;
	}
	path_note_acked(c, r);
	paths_on_ack(c, r->path, 0, -1);
	for (uint16_t slot = r->msg; slot != SRD_NIL16;) {
		m = &c->txmsgs[slot];
		slot = m->pack_next; /* read first: completion frees the slot */
		m->acked_segs++;
		msg_check_done(eng, c, m);
	}
	return 1;
}

/* Check that an ack only names PSNs we have sent (it may name old ones: acks reorder). */
static bool ack_is_sane(const struct srd_conn *c, const struct srd_ack_fields *a, uint32_t cum)
{
	if (psn_lt(c->snd_nxt, cum) || !psn_lt(a->acked_psn, c->snd_nxt))
		return false;
	for (uint32_t k = 0; k <= a->sack_more_n; k++) {
		uint64_t w = srd_ack_sack_word(a, k);
		uint32_t lowest, highest;

		if (!w)
			continue;
		lowest = a->sack_base + 64 * k + srd_ctz64(w);
		highest = a->sack_base + 64 * k + srd_msb64(w);
		/* both ends of every word before snd_nxt: the span cannot straddle it */
		if (!psn_lt(lowest, c->snd_nxt) || !psn_lt(highest, c->snd_nxt))
			return false;
	}
	return true;
}

int tx_on_ack(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	      const struct srd_pkt *pkt)
{
	const struct srd_ack_fields *a = &pkt->u.ack;
	uint32_t cum = pkt->psn, acked = 0;
	uint64_t old_xmit = c->rack_xmit_ns, rtt = 0, standing = 0, conn_standing = 0;
	uint32_t delta, cwnd_pkts = c->cc.cwnd / SRD_CWND_ONE, flight = c->inflight;
	/* before this ack: was the congestion window in use?  Not if less than 3/4 of it was in
	 * flight while the PSN window (the retransmission buffer, the peer's credit) had room:
	 * the NIC or the application held the sender back */
	uint32_t psn_room = eng->cfg.tx_window < c->peer_credit ? eng->cfg.tx_window
								 : c->peer_credit;
	bool window_unused = (uint64_t)c->inflight * 4 < (uint64_t)cwnd_pkts * 3 &&
			     c->snd_nxt - c->snd_una < psn_room;

	if (!ack_is_sane(c, a, cum))
		return -SRD_DROP_ACK_UNSENT;
	eng->st.rx_acks++;
	c->peer_credit = a->credit < eng->cfg.tx_window ? a->credit : eng->cfg.tx_window;
	c->peer_grant = a->grant;
	c->peer_max_msg = a->max_msg;

	/* RTT of the packet that triggered the ack (its own timestamp, so retransmissions are
	 * measured correctly too), minus the time the receiver held the ack */
	delta = (uint32_t)now - a->echo_ts;
	if (delta > a->ack_delay_ns && delta - a->ack_delay_ns < 1000000000u) {
		rtt = delta - a->ack_delay_ns;
		rtt_update(c, rtt);
		conn_standing = standing_update(c, now, rtt);
		standing = pkt->path < c->npaths ?
			   paths_on_ack(c, pkt->path, rtt, (pkt->flags & SRD_F_ECE) ? 1 : 0) : rtt;
	}

	if (c->snd_nxt - a->acked_psn <= eng->cfg.tx_window) {
		const struct srd_txpkt *r = &c->txpkts[a->acked_psn & eng->tx_mask];

		/* the ack answers this transmission: it came back on the value it named */
		if (a->echo_ts == (uint32_t)r->sent_ns)
			paths_on_reply(c, now, r->reply, r->sent_ns);
	}
	if (psn_le(c->snd_una, a->acked_psn)) {
		const struct srd_txpkt *r = &c->txpkts[a->acked_psn & eng->tx_mask];

		/* the ack answers an earlier transmission than the latest: the resend was needless */
		if (r->state == TXPKT_INFLIGHT && r->resends && a->echo_ts != (uint32_t)r->sent_ns)
			loss_reorder_widen(c);
	}
	if (psn_lt(c->snd_una, cum))
		for (uint32_t p = c->snd_una; p != cum; p++)
			acked += ack_one(eng, c, p, a, now);
	for (uint32_t k = 0; k <= a->sack_more_n; k++) {
		for (uint64_t bits = srd_ack_sack_word(a, k); bits; bits &= bits - 1) {
			uint32_t p = a->sack_base + 64 * k + srd_ctz64(bits);

			if (psn_le(c->snd_una, p) && psn_lt(p, c->snd_nxt))
				acked += ack_one(eng, c, p, a, now);
		}
	}
	if (psn_le(c->snd_una, a->acked_psn))
		acked += ack_one(eng, c, a->acked_psn, a, now);
	while (c->snd_una != c->snd_nxt && c->txpkts[c->snd_una & eng->tx_mask].state == TXPKT_ACKED) {
		c->txpkts[c->snd_una & eng->tx_mask].state = TXPKT_FREE;
		c->snd_una++;
	}

	if (acked) {
		c->rto_backoff = 0;
		c->rnr_retries = 0;
		c->tlp_sent = 0;
	}
	if (c->rack_xmit_ns != old_xmit)
		c->rack_rtt_ns = now - c->rack_xmit_ns;
	eng->cc->on_ack(&c->cc, &eng->cfg.cc, &(struct srd_cc_ack){
		.now = now,
		.acked = acked,
		.rtt_ns = rtt,
		.standing_rtt_ns = standing,
		.conn_standing_ns = conn_standing,
		.base_rtt_ns = c->min_rtt_ns,
		.srtt_ns = c->srtt_ns,
		.ce_count = a->ce_count,
		.pkt_count = a->pkt_count,
		.cum_psn = cum,
		.snd_nxt = c->snd_nxt,
		.flight = flight,
		.window_unused = window_unused,
	});
	loss_rack_detect(eng, c, now);
	return 0;
}

int tx_on_nack(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	       const struct srd_pkt *pkt)
{
	const struct srd_nack_fields *n = &pkt->u.nack;
	uint16_t idx = (uint16_t)(pkt->psn & eng->tx_mask);
	struct srd_txpkt *r = &c->txpkts[idx];

	if (!psn_lt(pkt->psn, c->snd_nxt) || !psn_le(c->snd_una - eng->cfg.tx_window, pkt->psn))
		return -SRD_DROP_ACK_UNSENT;
	eng->st.rx_nacks++;
	/* whatever it refuses, the peer answered: the timeouts meanwhile were not its silence.
	 * (A receiver slow to answer, its NACK later than the RTO, found the packet already
	 * marked lost and the NACK ignored: every timeout counted against the retry budget and
	 * a connection to a live, busy peer failed with -ETIMEDOUT; srdd_workers under load.) */
	c->rto_backoff = 0;
	if (psn_lt(pkt->psn, c->snd_una))
		return 0; /* already acked */
	if (n->reason == SRD_NACK_RNR)
		r->retries = 0; /* it reached the peer: refused, not lost */
	if (r->state != TXPKT_INFLIGHT)
		return 0; /* already being resent */
	if (n->reason == SRD_NACK_TOO_BIG) {
		/* the receiver consumes (and acks) the refused message's packets; stop sending
		 * more of it and fail it once the ones sent are acked (a packed packet is
		 * refused whole: every message in it) */
		for (uint16_t slot = r->msg; slot != SRD_NIL16;) {
			struct srd_txmsg *m = &c->txmsgs[slot];

			slot = m->pack_next;
			if (m->state == TXMSG_ACTIVE) {
				m->state = TXMSG_REFUSED;
				msg_check_done(eng, c, m);
			}
		}
		return 0;
	}
	if (n->reason == SRD_NACK_NO_EP) {
		/* no such endpoint: the receiver did not take the PSN (an ack would have claimed
		 * delivery had this NACK been lost).  Send no more of the message; resend each
		 * packet of it the receiver refuses flagged ABANDON, which it takes without
		 * delivering; the message fails with -ENXIO once all sent are acked so. */
		if (n->echo_ts != (uint32_t)r->sent_ns)
			return 0; /* about an earlier copy: the one in flight may yet be taken */
		for (uint16_t slot = r->msg; slot != SRD_NIL16; slot = c->txmsgs[slot].pack_next)
			if (c->txmsgs[slot].state == TXMSG_ACTIVE)
				c->txmsgs[slot].state = TXMSG_NO_EP;
		loss_mark(eng, c, idx, SRD_LOSS_REFUSED);
		return 0;
	}
	/* receiver not ready: resend after the delay it asked for, without blaming the path */
	eng->st.rnr_received++;
	/* every packet of a flight the receiver could not take comes back NACKed: those sent
	 * before the current wait began are the refusal it already answers, not new ones (a
	 * large message's flight would otherwise spend the retry budget, and stretch the
	 * wait to its cap, in one go) */
	bool same_refusal = c->rnr_since_ns && r->sent_ns < c->rnr_since_ns;

	loss_mark(eng, c, idx, SRD_LOSS_RNR);
	if (same_refusal)
		return 0;
	if (eng->cfg.max_rnr_retries && c->rnr_retries >= eng->cfg.max_rnr_retries) {
		conn_reset(eng, c, -ENOBUFS);
		return 0;
	}
	/* wait longer at each refusal in a row (doubling, up to 1024 times what it asked), so
	 * the budget covers an application that stalls for a while, not just a burst */
	uint64_t wait = n->retry_ns ? n->retry_ns : eng->cfg.rnr_delay_ns;
	c->rnr_since_ns = now;
	c->rnr_until_ns = now + (wait << (c->rnr_retries < 10 ? c->rnr_retries : 10));
	if (c->rnr_retries < UINT16_MAX)
		c->rnr_retries++;
	return 0;
}
