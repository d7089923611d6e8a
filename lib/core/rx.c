/*
 * rx.c — the receiving side of a connection: duplicate detection over a PSN bitmap,
 * out-of-order placement of segments straight into the message buffer, delivery of
 * complete messages, and coalesced acknowledgements.
 *
 * A PSN is marked received only after its payload is stored, and only marked PSNs are
 * acknowledged, so nothing acked is ever lost.  Every segment of a message has its own PSN
 * and its own place (offset = (psn - msg_psn) * seg_size, checked by the codec), so each
 * byte is written once and a message is complete exactly when its byte count is reached.
 */
#include <string.h>

#include "conn.h"

/* ---- placing a segment's payload ---- */

/* Store a segment's payload at byte off of s's buffer: the caller's way (rx_place: srdd
 * picks between ordinary and non-temporal stores), or memcpy. */
static void place_payload(struct srd_engine *eng, const struct srd_rxslot *s, size_t off,
			  const uint8_t *src, size_t len)
{
	if (eng->cb.rx_place)
		eng->cb.rx_place(eng->cb.user, &s->msg, off, src, len);
	else
		memcpy((uint8_t *)s->msg.buf + off, src, len);
}

/* ---- the received-PSN bitmap (window of rx_window PSNs starting at rcv_nxt) ---- */

static bool bit_get(const struct srd_engine *eng, const struct srd_conn *c, uint32_t psn)
{
	uint32_t b = psn & eng->rx_mask;

	return (c->rx_bits[b / 64] >> (b % 64)) & 1;
}

static void bit_set(const struct srd_engine *eng, struct srd_conn *c, uint32_t psn)
{
	uint32_t b = psn & eng->rx_mask;

	c->rx_bits[b / 64] |= 1ull << (b % 64);
}

static void bit_clear(const struct srd_engine *eng, struct srd_conn *c, uint32_t psn)
{
	uint32_t b = psn & eng->rx_mask;

	c->rx_bits[b / 64] &= ~(1ull << (b % 64));
}

/* Mark psn received and move rcv_nxt past every received PSN. */
static void psn_received(struct srd_engine *eng, struct srd_conn *c, uint32_t psn)
{
	bit_set(eng, c, psn);
	while (bit_get(eng, c, c->rcv_nxt)) {
		bit_clear(eng, c, c->rcv_nxt);
		c->rcv_nxt++;
	}
}

/* ---- reassembly slots ---- */

static struct srd_rxslot *slot_find(struct srd_engine *eng, const struct srd_conn *c,
				    uint32_t msg_id, uint32_t *prev_out)
{
	uint32_t prev = SRD_NIL32;

	for (uint32_t i = c->rx_head; i != SRD_NIL32; prev = i, i = eng->rxslots[i].next) {
		if (eng->rxslots[i].msg_id == msg_id) {
			*prev_out = prev;
			return &eng->rxslots[i];
		}
	}
	return NULL;
}

/* Take s off c's reassembly list (prev: the slot before it there, or NIL). */
static void slot_unlink(struct srd_engine *eng, struct srd_conn *c, struct srd_rxslot *s,
			uint32_t prev)
{
	if (prev == SRD_NIL32)
		c->rx_head = s->next;
	else
		eng->rxslots[prev].next = s->next;
}

/* Put an unlinked slot back on the engine's free list. */
static void slot_free(struct srd_engine *eng, struct srd_rxslot *s)
{
	s->next = eng->rx_free;
	eng->rx_free = (uint32_t)(s - eng->rxslots);
	eng->st.rx_slots_used--;
}

/* Take a slot and a buffer for a new message into *out.  Returns 0, -SRD_DROP_NO_BUFFER
 * (no slot or no buffer now) or -SRD_DROP_NO_ENDPOINT (rx_alloc says nobody will ever take
 * it). */
static int slot_open(struct srd_engine *eng, struct srd_conn *c, const struct srd_pkt *pkt,
		     struct srd_rxslot **out)
{
	const struct srd_data_fields *d = &pkt->u.data;
	uint32_t i = eng->rx_free;
	struct srd_rxslot *s;

	if (i == SRD_NIL32)
		return -SRD_DROP_NO_BUFFER;
	s = &eng->rxslots[i];
	s->msg = (struct srd_rx_msg){
		.peer = c->peer,
		.src_ep = d->src_ep,
		.dst_ep = d->dst_ep,
		.tag = d->tag,
		.len = d->msg_len,
	};
	s->msg.buf = eng->cb.rx_alloc(eng->cb.user, &s->msg);
	if (!s->msg.buf && s->msg.no_endpoint)
		return -SRD_DROP_NO_ENDPOINT;
	if (!s->msg.buf && d->msg_len)
		return -SRD_DROP_NO_BUFFER;
	eng->rx_free = s->next;
	s->msg_id = d->msg_id;
	s->msg_psn = d->msg_psn;
	s->seg_size = d->seg_size;
	s->bytes_left = d->msg_len;
	s->ordered = (pkt->flags & SRD_F_ORDERED) ? 1 : 0;
	s->next = c->rx_head;
	c->rx_head = i;
	eng->st.rx_slots_used++;
	*out = s;
	return 0;
}

/* Does a segment agree with what earlier segments said about its message? */
static bool slot_matches(const struct srd_rxslot *s, const struct srd_pkt *pkt)
{
	const struct srd_data_fields *d = &pkt->u.data;

	return s->msg_psn == d->msg_psn && s->msg.len == d->msg_len &&
	       s->seg_size == d->seg_size && s->msg.src_ep == d->src_ep &&
	       s->msg.dst_ep == d->dst_ep && s->msg.tag == d->tag &&
	       s->ordered == ((pkt->flags & SRD_F_ORDERED) ? 1 : 0);
}

/* Give up the message of an unlinked slot: its buffer goes back with rx_abort. */
static void slot_drop(struct srd_engine *eng, struct srd_rxslot *s)
{
	struct srd_rx_msg msg = s->msg;

	slot_free(eng, s);
	eng->st.msgs_aborted++;
	if (eng->cb.rx_abort)
		eng->cb.rx_abort(eng->cb.user, &msg);
}

/* Give up a partly received message. */
static void slot_abort(struct srd_engine *eng, struct srd_conn *c, struct srd_rxslot *s,
		       uint32_t prev)
{
	slot_unlink(eng, c, s, prev);
	slot_drop(eng, s);
}

/* ---- ordered messages waiting for an earlier PSN ---- */

/*
 * A complete message flagged ORDERED is delivered only once every PSN before its first one
 * has been received (rcv_nxt has reached msg_psn): then every message sent before it on the
 * connection has been delivered, refused or given up.  Until then it waits on the
 * connection's held list, sorted by msg_psn (it is acknowledged meanwhile: the sender's
 * window keeps moving, which is what makes the order cheap).  Messages mostly complete in
 * PSN order, so an insertion usually goes at the tail.
 */

/* Hand a complete, unlinked slot's message to the caller and free the slot. */
static void slot_deliver(struct srd_engine *eng, struct srd_rxslot *s)
{
	struct srd_rx_msg msg = s->msg;

	slot_free(eng, s);
	eng->st.msgs_delivered++;
	eng->cb.rx_deliver(eng->cb.user, &msg);
}

static void held_insert(struct srd_engine *eng, struct srd_conn *c, struct srd_rxslot *s)
{
	uint32_t i = (uint32_t)(s - eng->rxslots), prev = SRD_NIL32, at = c->held_head;

	/* after every message of an earlier or the same PSN: the messages of a packed packet
	 * share one, and wait in the order they were sent */
	if (c->held_tail != SRD_NIL32 && psn_le(eng->rxslots[c->held_tail].msg_psn, s->msg_psn)) {
		prev = c->held_tail;
		at = SRD_NIL32;
	}
	while (at != SRD_NIL32 && psn_le(eng->rxslots[at].msg_psn, s->msg_psn)) {
		prev = at;
		at = eng->rxslots[at].next;
	}
	s->next = at;
	if (prev == SRD_NIL32)
		c->held_head = i;
	else
		eng->rxslots[prev].next = i;
	if (at == SRD_NIL32)
		c->held_tail = i;
	eng->st.msgs_held++;
}

/* Take the oldest held message off c's list (the list is not empty). */
static struct srd_rxslot *held_pop(struct srd_engine *eng, struct srd_conn *c)
{
	struct srd_rxslot *s = &eng->rxslots[c->held_head];

	c->held_head = s->next;
	if (c->held_head == SRD_NIL32)
		c->held_tail = SRD_NIL32;
	return s;
}

/* Deliver, in order, the held messages whose earlier PSNs have all arrived. */
static void held_release(struct srd_engine *eng, struct srd_conn *c)
{
	while (c->held_head != SRD_NIL32 &&
	       psn_le(eng->rxslots[c->held_head].msg_psn, c->rcv_nxt))
		slot_deliver(eng, held_pop(eng, c));
}

/* A message just completed (unlinked from the reassembly list): deliver it, or hold it
 * until the PSNs before it arrive. */
static void msg_complete(struct srd_engine *eng, struct srd_conn *c, struct srd_rxslot *s)
{
	if (s->ordered && psn_lt(c->rcv_nxt, s->msg_psn))
		held_insert(eng, c, s);
	else
		slot_deliver(eng, s);
}

void rx_reset(struct srd_engine *eng, struct srd_conn *c, bool deliver_held)
{
	while (c->rx_head != SRD_NIL32)
		slot_abort(eng, c, &eng->rxslots[c->rx_head], SRD_NIL32);
	while (c->held_head != SRD_NIL32) {
		struct srd_rxslot *s = held_pop(eng, c);

		if (deliver_held)
			slot_deliver(eng, s);
		else
			slot_drop(eng, s);
	}
}

/* ---- acks ---- */

/* Remember pkt as the packet the next ack answers, and decide how soon to send it.  An ack
 * asked for at once answers the packet that asked, not one that came after it in the same
 * burst: the sender asks on a path that has gone without an ack of its own (tx.c). */
static void ack_note(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		     const struct srd_pkt *pkt, unsigned ce, bool at_once)
{
	if (c->ack_asked && !at_once)
		return;
	c->ack_asked = at_once;
	c->ack_psn = pkt->psn;
	c->ack_echo_ts = pkt->u.data.tx_ts;
	c->ack_path = pkt->path;
	c->ack_entropy = pkt->u.data.entropy;
	c->ack_flags = ce ? SRD_F_ECE : 0;
	c->ack_arrival_ns = now;
	if (!c->ack_owed) {
		c->ack_owed = 1;
		c->ack_deadline_ns = now + eng->cfg.ack_delay_ns;
	}
	if (at_once || c->ack_pkts >= eng->cfg.ack_every || eng->cfg.ack_delay_ns == 0)
		c->ack_now = 1;
}

/* Queue a NACK for pkt (a copy of a PSN already queued only refreshes its entry). */
static void nack_note(struct srd_conn *c, const struct srd_pkt *pkt, uint8_t reason)
{
	struct srd_nack_note *n = NULL;

	for (uint32_t i = 0; i < c->nack_pending && !n; i++) {
		struct srd_nack_note *q = &c->nacks[(c->nack_head + i) % SRD_NACK_QUEUE];

		if (q->psn == pkt->psn)
			n = q;
	}
	if (!n) {
		if (c->nack_pending == SRD_NACK_QUEUE) { /* forget the oldest */
			c->nack_head = (uint8_t)((c->nack_head + 1) % SRD_NACK_QUEUE);
			c->nack_pending--;
		}
		n = &c->nacks[(c->nack_head + c->nack_pending) % SRD_NACK_QUEUE];
		c->nack_pending++;
	}
	*n = (struct srd_nack_note){
		.psn = pkt->psn,
		.echo_ts = pkt->u.data.tx_ts,
		.reason = reason,
		.path = pkt->path,
		.entropy = pkt->u.data.entropy,
	};
}

bool rx_contiguous(const struct srd_engine *eng, const struct srd_conn *c)
{
	for (uint32_t w = 0; w < eng->cfg.rx_window / 64; w++)
		if (c->rx_bits[w])
			return false;
	return true;
}

void rx_on_timer(struct srd_conn *c, uint64_t now)
{
	if (c->ack_owed && now >= c->ack_deadline_ns)
		c->ack_now = 1;
}

/* 64 bits of the received-PSN bitmap from PSN q on (bit i: q + i), q within the window;
 * bits for PSNs past the window are 0. */
static uint64_t bits_from(const struct srd_engine *eng, const struct srd_conn *c, uint32_t q)
{
	uint32_t b = q & eng->rx_mask, w = b / 64, sh = b % 64, nw = eng->cfg.rx_window / 64;
	uint32_t room = eng->cfg.rx_window - (q - c->rcv_nxt);
	uint64_t v = c->rx_bits[w] >> sh;

	if (sh)
		v |= c->rx_bits[(w + 1) % nw] << (64 - sh);
	return room >= 64 ? v : v & ((1ull << room) - 1);
}

/*
 * The SACK to send: up to SRD_SACK_BITS PSNs (or the receive window, if smaller) from
 * rcv_nxt + 1, or ending at the acked PSN if that is further, in as many 64-bit words as
 * it takes to reach the last PSN received.  Reporting every PSN received in the window
 * (not only the 64 after the cumulative PSN) is what lets a sender spraying over paths
 * with different delays tell a late packet from a lost one.
 */
static void sack_fill(const struct srd_engine *eng, const struct srd_conn *c,
		      struct srd_ack_fields *a)
{
	uint32_t span = eng->cfg.rx_window < SRD_SACK_BITS ? eng->cfg.rx_window : SRD_SACK_BITS;
	uint32_t base = c->rcv_nxt + 1, last = 0;

	if (psn_le(base + span, c->ack_psn) && c->ack_psn - c->rcv_nxt < eng->cfg.rx_window)
		base = c->ack_psn - (span - 1);
	a->sack_base = base;
	for (uint32_t k = 0; k < span / 64; k++) {
		uint32_t q = base + 64 * k;
		uint64_t v = q - c->rcv_nxt < eng->cfg.rx_window ? bits_from(eng, c, q) : 0;

		if (k == 0)
			a->sack = v;
		else
			a->sack_more[k - 1] = v;
		if (v)
			last = k;
	}
	a->sack_more_n = (uint8_t)last;
}

int rx_next_ack(struct srd_engine *eng, struct srd_conn *c, uint64_t now, uint8_t *buf,
		uint32_t cap, struct srd_tx_meta *meta)
{
	struct srd_pkt pkt;
	uint16_t entropy;
	int len;

	if (c->nack_pending) {
		const struct srd_nack_note *n = &c->nacks[c->nack_head];

		entropy = n->entropy;
		pkt = (struct srd_pkt){
			.type = SRD_PKT_NACK,
			.path = n->path,
			.dst_conn = c->peer_id,
			.src_conn = c->local_id,
			.psn = n->psn,
			.u.nack = {
				.echo_ts = n->echo_ts,
				.cum_psn = c->rcv_nxt,
				.reason = n->reason,
				.retry_ns = (uint32_t)eng->cfg.rnr_delay_ns,
			},
		};
		c->nack_head = (uint8_t)((c->nack_head + 1) % SRD_NACK_QUEUE);
		c->nack_pending--;
		eng->st.tx_nacks++;
	} else if (c->ack_owed && (c->ack_now || now >= c->ack_deadline_ns)) {
		uint64_t held = now - c->ack_arrival_ns;

		entropy = c->ack_entropy;
		pkt = (struct srd_pkt){
			.type = SRD_PKT_ACK,
			.flags = c->ack_flags,
			.path = c->ack_path,
			.dst_conn = c->peer_id,
			.src_conn = c->local_id,
			.psn = c->rcv_nxt,
			.u.ack = {
				.echo_ts = c->ack_echo_ts,
				.acked_psn = c->ack_psn,
				.grant = credit_grant(eng, c),
				.credit = (uint16_t)eng->cfg.rx_window,
				.max_msg = eng->cfg.max_msg_size,
				.ce_count = c->ack_ce,
				.pkt_count = c->ack_pkts,
				.ack_delay_ns = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held,
			},
		};
		sack_fill(eng, c, &pkt.u.ack);
		c->ack_owed = 0;
		c->ack_now = 0;
		c->ack_asked = 0;
		c->ack_pkts = c->ack_ce = 0;
		eng->st.tx_acks++;
	} else {
		return 0;
	}
	len = srd_wire_encode(&pkt, buf, cap);
	if (len < 0)
		return len;
	meta->peer = c->peer;
	/* Back on the value the answered packet names (its own, or one of the sender's reply
	 * values: paths.c): the sender chooses where its acks come back.  Only a sender that
	 * did not say (0) gets this side's value for the path index. */
	meta->entropy = entropy ? entropy : c->paths[pkt.path % c->npaths].entropy;
	meta->path = pkt.path;
	meta->type = pkt.type;
	meta->ect = 0;
	return len;
}

/* ---- data ---- */

/* Count a data packet just taken for the next ack. */
static void ack_count(struct srd_engine *eng, struct srd_conn *c, unsigned ce)
{
	eng->st.rx_data_pkts++;
	if (c->ack_pkts < UINT16_MAX)
		c->ack_pkts++;
	if (ce) {
		eng->st.rx_ce_pkts++;
		if (c->ack_ce < UINT16_MAX)
			c->ack_ce++;
	}
}

/* Hand back msgs[0..n), taken by rx_take or given buffers by rx_alloc: their packet is
 * refused whole. */
static void pack_give_back(struct srd_engine *eng, struct srd_rx_msg *msgs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (eng->cb.rx_abort)
			eng->cb.rx_abort(eng->cb.user, &msgs[i]);
}

/* Hold a complete ordered message of a packed packet at PSN psn until every earlier PSN
 * has arrived (the caller made sure a slot is free). */
static void pack_hold(struct srd_engine *eng, struct srd_conn *c, const struct srd_rx_msg *msg,
		      uint32_t psn)
{
	struct srd_rxslot *s = &eng->rxslots[eng->rx_free];

	eng->rx_free = s->next;
	eng->st.rx_slots_used++;
	s->msg = *msg;
	s->msg_id = 0; /* on no reassembly list: never looked up */
	s->msg_psn = psn;
	s->seg_size = msg->len;
	s->bytes_left = 0;
	s->ordered = 1;
	held_insert(eng, c, s);
}

/*
 * A packed packet: several whole messages under one PSN, taken all or none.  Every message
 * gets its buffer (and, if it must wait for an earlier PSN, a slot) before the PSN is
 * marked received; if one cannot, the buffers the others got go back and the packet is
 * refused exactly as a single message would be (RNR: the sender resends the same packet
 * later), so no message of it is delivered twice or skipped.  A duplicate PSN is a
 * duplicate of all of them.
 */
static int rx_on_packed(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
			const struct srd_pkt *pkt, unsigned ce, bool dup)
{
	const struct srd_data_fields *d = &pkt->u.data;
	struct srd_rx_msg msgs[SRD_PACK_MAX_MSGS];
	uint32_t psn = pkt->psn, n = d->packed, bytes = 0;
	struct srd_pack_msg pm;
	const uint8_t *p;
	bool hold;

	if (dup) {
		ack_note(eng, c, now, pkt, ce, true);
		return -SRD_DROP_DUPLICATE;
	}
	if (psn - c->rcv_nxt >= eng->cfg.rx_window)
		return -SRD_DROP_PSN_WINDOW;
	if (pkt->flags & SRD_F_ABANDON) {
		/* this side had no such endpoint and the sender gave the messages up: take the
		 * PSN, deliver nothing (none of them had a buffer: nothing to give back) */
		psn_received(eng, c, psn);
		ack_note(eng, c, now, pkt, ce, true);
		held_release(eng, c);
		return -SRD_DROP_NO_ENDPOINT;
	}
	p = pkt->payload;
	for (uint32_t i = 0; i < n; i++) {
		p = srd_wire_pack_read(p, &pm);
		if (pm.len > eng->cfg.max_msg_size) {
			/* refused for good, all of it: consume the PSN and say why */
			psn_received(eng, c, psn);
			nack_note(c, pkt, SRD_NACK_TOO_BIG);
			ack_note(eng, c, now, pkt, ce, true);
			held_release(eng, c);
			return -SRD_DROP_MSG_TOO_BIG;
		}
	}
	/* ordered messages after a gap wait in a slot each (psn is not rcv_nxt: not a dup) */
	hold = (pkt->flags & SRD_F_ORDERED) && psn != c->rcv_nxt;
	if (hold && eng->cfg.rx_slots - eng->st.rx_slots_used < n) {
		nack_note(c, pkt, SRD_NACK_RNR);
		return -SRD_DROP_NO_BUFFER;
	}
	p = pkt->payload;
	for (uint32_t i = 0; i < n; i++) {
		struct srd_rx_msg *msg = &msgs[i];
		int took;

		p = srd_wire_pack_read(p, &pm);
		*msg = (struct srd_rx_msg){
			.peer = c->peer,
			.src_ep = d->src_ep,
			.dst_ep = d->dst_ep,
			.tag = pm.tag,
			.len = pm.len,
		};
		took = !hold && eng->cb.rx_take ? eng->cb.rx_take(eng->cb.user, msg) : 0;
		if (took > 0) {
			msg->taken = 1;
			msg->data = pm.payload; /* rx_deliver reads the bytes here */
		} else if (took == 0) {
			msg->buf = eng->cb.rx_alloc(eng->cb.user, msg);
			if (!msg->buf && (msg->no_endpoint || pm.len))
				took = -1;
			else if (pm.len)
				memcpy(msg->buf, pm.payload, pm.len);
		}
		if (took < 0) {
			int rc = msg->no_endpoint ? -SRD_DROP_NO_ENDPOINT : -SRD_DROP_NO_BUFFER;

			/* not taken: an ack must mean delivery, of every message in the packet */
			pack_give_back(eng, msgs, i);
			nack_note(c, pkt, rc == -SRD_DROP_NO_ENDPOINT ? SRD_NACK_NO_EP : SRD_NACK_RNR);
			return rc;
		}
		msg->imm = pm.imm;
		bytes += pm.len;
	}

	psn_received(eng, c, psn);
	ack_count(eng, c, ce);
	eng->st.rx_payload_bytes += bytes;
	eng->st.rx_packed_msgs += n;
	ack_note(eng, c, now, pkt, ce, true);
	for (uint32_t i = 0; i < n; i++) {
		if (hold) {
			pack_hold(eng, c, &msgs[i], psn);
		} else {
			eng->st.msgs_delivered++;
			eng->cb.rx_deliver(eng->cb.user, &msgs[i]);
		}
	}
	/* the PSN may have been the gap held messages waited for */
	if (rx_holding(c))
		held_release(eng, c);
	return 0;
}

int rx_on_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	       const struct srd_pkt *pkt, unsigned ce)
{
	const struct srd_data_fields *d = &pkt->u.data;
	uint32_t psn = pkt->psn, prev = SRD_NIL32, seg;
	struct srd_rxslot *s;

	bool dup = psn_lt(psn, c->rcv_nxt) ||
		   (psn - c->rcv_nxt < eng->cfg.rx_window && bit_get(eng, c, psn));

	if (d->packed)
		return rx_on_packed(eng, c, now, pkt, ce, dup);

	if (pkt->flags & SRD_F_ABANDON) {
		/* the sender gave up a message this side refused (no endpoint): take the PSN if
		 * it is new, deliver nothing, give back what an endpoint opened meanwhile got for
		 * its segments, and refuse those of them still on their way */
		if (!dup && psn - c->rcv_nxt >= eng->cfg.rx_window)
			return -SRD_DROP_PSN_WINDOW;
		if (!dup)
			psn_received(eng, c, psn);
		ack_note(eng, c, now, pkt, ce, true);
		s = slot_find(eng, c, d->msg_id, &prev);
		if (s && slot_matches(s, pkt))
			slot_abort(eng, c, s, prev);
		c->abandoned_msg_id = d->msg_id;
		c->abandoned_set = 1;
		held_release(eng, c);
		return dup ? -SRD_DROP_DUPLICATE : -SRD_DROP_NO_ENDPOINT;
	}
	if (dup) {
		/* received before: its ack may have been lost, so ack again at once */
		ack_note(eng, c, now, pkt, ce, true);
		return -SRD_DROP_DUPLICATE;
	}
	if (psn - c->rcv_nxt >= eng->cfg.rx_window)
		return -SRD_DROP_PSN_WINDOW;
	if (c->abandoned_set && d->msg_id == c->abandoned_msg_id) {
		/* a late segment of a message its sender gave up: refuse it again (the sender
		 * resends it flagged ABANDON) rather than open a slot it would never fill */
		nack_note(c, pkt, SRD_NACK_NO_EP);
		return -SRD_DROP_NO_ENDPOINT;
	}
	if (d->msg_len > eng->cfg.max_msg_size) {
		/* refused for good: consume the PSN (so the sender's window moves) and say why */
		psn_received(eng, c, psn);
		nack_note(c, pkt, SRD_NACK_TOO_BIG);
		ack_note(eng, c, now, pkt, ce, true);
		held_release(eng, c);
		return -SRD_DROP_MSG_TOO_BIG;
	}
	s = slot_find(eng, c, d->msg_id, &prev);
	if (s && !slot_matches(s, pkt))
		return -SRD_DROP_MSG_MISMATCH;
	if (!s) {
		int rc = slot_open(eng, c, pkt, &s);

		if (rc) {
			/* no endpoint: refused (the sender resends it flagged ABANDON); no buffer:
			 * retry later.  Either way the PSN is not taken: an ack must mean delivery */
			nack_note(c, pkt, rc == -SRD_DROP_NO_ENDPOINT ? SRD_NACK_NO_EP : SRD_NACK_RNR);
			return rc;
		}
		prev = SRD_NIL32; /* slot_open puts the slot at the head */
	}

	seg = psn - d->msg_psn;
	if (pkt->payload_len)
		place_payload(eng, s, (size_t)seg * s->seg_size, pkt->payload,
			      pkt->payload_len);
	if (seg == 0)
		s->msg.imm = d->imm;
	s->bytes_left -= pkt->payload_len;
	psn_received(eng, c, psn);
	ack_count(eng, c, ce);
	eng->st.rx_payload_bytes += pkt->payload_len;

	bool complete = s->bytes_left == 0;
	ack_note(eng, c, now, pkt, ce, complete || (pkt->flags & SRD_F_ACKREQ));
	if (complete) {
		slot_unlink(eng, c, s, prev);
		msg_complete(eng, c, s);
	}
	/* the PSN may have been the gap held messages waited for (after this message: it
	 * holds that PSN, so it comes before them) */
	if (rx_holding(c))
		held_release(eng, c);
	return 0;
}
