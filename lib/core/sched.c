/*
 * sched.c — the transmit scheduler: whose packet goes out next.  Control replies the
 * engine owes (resets, probe replies) first; then the active connections take turns in
 * round robin, each sending its acks, then its probes, then data, with a data turn given
 * to the shortest message nearby (pick_sender()).
 */
#include <errno.h>

#include "conn.h"

/* Encode the oldest owed control reply. */
static int poll_ctrl(struct srd_engine *eng, uint8_t *buf, uint32_t cap,
		     struct srd_tx_meta *meta)
{
	struct srd_ctrl *ctl = &eng->ctrl[eng->ctrl_head++ % SRD_CTRL_RING];
	int len = srd_wire_encode(&ctl->pkt, buf, cap);

	if (len < 0)
		return len;
	meta->peer = ctl->peer;
	meta->entropy = ctl->entropy;
	meta->path = ctl->pkt.path;
	meta->type = ctl->pkt.type;
	meta->ect = 0;
	if (ctl->pkt.type == SRD_PKT_RESET)
		eng->st.tx_resets++;
	else
		eng->st.tx_probes++;
	return len;
}

/* The next packet of c, if it has one: acks, then probes, then data (its payload by
 * reference where ref allows, srd_poll_tx_ref()). */
static int conn_poll(struct srd_engine *eng, struct srd_conn *c, uint64_t now, uint8_t *buf,
		     uint32_t cap, struct srd_tx_meta *meta, bool ref)
{
	struct srd_pkt probe;
	uint16_t entropy;
	int len;

	len = rx_next_ack(eng, c, now, buf, cap, meta);
	if (len)
		return len;
	if (c->n_probing && paths_next_probe(eng, c, now, &probe, &entropy)) {
		len = srd_wire_encode(&probe, buf, cap);
		if (len > 0) {
			meta->peer = c->peer;
			meta->entropy = entropy;
			meta->path = probe.path;
			meta->type = SRD_PKT_PROBE;
			meta->ect = 0;
			eng->st.tx_probes++;
		}
		return len;
	}
	return tx_next_data(eng, c, now, buf, cap, meta, ref);
}

/* Active connections looked at for the shortest message (pick_sender()), at most. */
#define SRPT_SCAN 16u
/* Every this-many-th data turn stays the head's (round robin): a long message is slowed by
 * shorter ones, never stopped. */
#define SRPT_FAIR_EVERY 8u

/* Does c owe a reply (ack, nack) or a probe now?  It sends that before any data. */
static bool owes_control(const struct srd_conn *c, uint64_t now)
{
	return c->nack_pending || (c->ack_owed && (c->ack_now || now >= c->ack_deadline_ns)) ||
	       c->n_probing;
}

/* The data key of c: 1 with a lost packet to resend, else 1 + the bytes of its current
 * message not yet sent, or UINT64_MAX with no data. */
static uint64_t data_key(const struct srd_engine *eng, const struct srd_conn *c)
{
	const struct srd_txmsg *m;

	if (c->rt_head != SRD_NIL16)
		return 1;
	if (c->order_head == SRD_NIL16)
		return UINT64_MAX;
	m = &c->txmsgs[c->order_head];
	return 1 + (uint64_t)(m->nseg - m->next_seg) * eng->seg_size;
}

/*
 * Whose packet goes next: the turn is the head's of the active list (round robin), but a
 * head whose turn is for data gives it to the connection, among the next SRPT_SCAN, whose
 * message has the fewest bytes left to send (the first of equals: the head, else the one
 * nearest it), as Homa and pFabric send the shortest remaining message first.  Fair
 * sharing of the host's link among its messages makes every one of them as slow as the
 * busiest (WebSearch on the k=8 fat-tree: a host sending four messages of 1.5-4 MB at once
 * finished all of them at the same late time); shortest first finishes the short ones
 * early and the long one no later.  Replies, probes, resends and a head without data keep
 * their turns: with one message going out at a time (a permutation, a ring, two hosts),
 * the order is the round robin's, packet for packet.  So does every SRPT_FAIR_EVERY-th data
 * turn (as Homa gives a fraction of its grants to the oldest message): with shorter
 * messages always waiting, a long one still gets its share of those turns.
 */
static struct srd_conn *pick_sender(struct srd_engine *eng, uint64_t now)
{
	struct srd_conn *head = &eng->conns[eng->act_head], *best = head;
	uint64_t key;
	uint32_t n = 1;

	if (owes_control(head, now))
		return head;
	key = data_key(eng, head);
	if (key == UINT64_MAX)
		return head; /* no data: its turn is for what it may have else, or to leave */
	if (++eng->data_turns % SRPT_FAIR_EVERY == 0)
		return head;
	for (uint32_t i = head->act_next; i != SRD_NIL32 && key > 1 && n < SRPT_SCAN;
	     i = eng->conns[i].act_next, n++) {
		uint64_t k = data_key(eng, &eng->conns[i]);

		if (k < key) {
			key = k;
			best = &eng->conns[i];
		}
	}
	return best;
}

static int poll_tx(struct srd_engine *eng, uint64_t now, uint8_t *buf, uint32_t cap,
		   struct srd_tx_meta *meta, bool ref)
{
	int len = 0;

	if (cap < srd_max_packet_len(eng))
		return -ENOSPC;
	meta->ref = NULL;
	meta->ref_len = 0;
	now = engine_clock(eng, now);
	if (eng->ctrl_head != eng->ctrl_tail) {
		len = poll_ctrl(eng, buf, cap, meta);
		goto out;
	}
	while (eng->act_head != SRD_NIL32) {
		struct srd_conn *head = &eng->conns[eng->act_head];
		struct srd_conn *c = pick_sender(eng, now);

		len = conn_poll(eng, c, now, buf, cap, meta, ref);
		if (len > 0) {
			c->last_active_ns = now;
			/* round robin: the head's turn is used, and the connection that sent
			 * goes to the back (after the head, if it took the head's turn) */
			if (c != head) {
				conn_deactivate(eng, head);
				conn_activate(eng, head);
			}
			conn_deactivate(eng, c);
			conn_activate(eng, c);
			conn_rearm(eng, c);
			break;
		}
		conn_deactivate(eng, c);
		conn_rearm(eng, c);
	}
out:
	if (len > 0)
		eng->st.tx_pkts++;
	return len;
}

int srd_poll_tx(struct srd_engine *eng, uint64_t now, uint8_t *buf, uint32_t cap,
		struct srd_tx_meta *meta)
{
	return poll_tx(eng, now, buf, cap, meta, false);
}

int srd_poll_tx_ref(struct srd_engine *eng, uint64_t now, uint8_t *buf, uint32_t cap,
		    struct srd_tx_meta *meta)
{
	return poll_tx(eng, now, buf, cap, meta, true);
}
