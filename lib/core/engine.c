/*
 * engine.c — the engine: creation, the connection table, packet dispatch, the transmit
 * scheduler (round robin over active connections) and the timer loop.
 *
 * The sending and receiving halves of a connection live in tx.c and rx.c, path state in
 * paths.c; this file decides which connection a packet belongs to and when each runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "siphash.h"

/* ---- connection ids ---- */

/* Incarnation of a connection slot: differs between engine epochs and slot reuses. */
static uint32_t conn_make_id(const struct srd_engine *eng, uint32_t slot, uint16_t gen)
{
	uint32_t inc = ((uint32_t)eng->cfg.epoch ^ ((uint32_t)gen * 40503u)) & 0xffffu;

	if (inc == 0)
		inc = 1;
	return inc << 16 | (slot + 1);
}

uint32_t srd_conn_isn(uint32_t conn_id)
{
	return (uint32_t)srd_mix64(conn_id);
}

/* ---- peer hash table (open addressing, linear probing; entries never removed) ---- */

static uint32_t peer_hash(uint64_t peer)
{
	return (uint32_t)srd_mix64(peer);
}

static struct srd_conn *conn_lookup_peer(const struct srd_engine *eng, uint64_t peer)
{
	for (uint32_t i = peer_hash(peer) & eng->conn_hash_mask;; i = (i + 1) & eng->conn_hash_mask) {
		uint32_t slot = eng->conn_hash[i];

		if (slot == SRD_NIL32)
			return NULL;
		if (eng->conns[slot].peer == peer)
			return &eng->conns[slot];
	}
}

/* Reset the sending and receiving state of c to a fresh incarnation (ids, PSNs, windows). */
static void conn_fresh_state(struct srd_engine *eng, struct srd_conn *c)
{
	uint32_t slot = conn_slot(eng, c);

	c->gen++;
	c->local_id = conn_make_id(eng, slot, c->gen);
	c->peer_id = 0;
	c->snd_una = c->snd_nxt = srd_conn_isn(c->local_id);
	/* until the peer's first ack: the smallest receive window any peer may have */
	c->peer_credit = 64;
	c->peer_grant = 0; /* no limit until the receiver says */
	c->peer_max_msg = UINT32_MAX;
	c->inflight = 0;
	c->so_head = c->so_tail = SRD_NIL16;
	c->rt_head = c->rt_tail = SRD_NIL16;
	c->rack_xmit_ns = c->rack_rtt_ns = c->rack_timer_ns = 0;
	c->rack_psn = c->snd_una - 1; /* nothing acked: every packet is after it */
	c->pace_next_ns = c->rnr_until_ns = c->rnr_since_ns = 0;
	c->rto_backoff = 0;
	c->tlp_sent = 0;
	c->window_fresh = 1;
	c->loss_rate = 0;
	c->pace_wait = 0;
	c->rnr_retries = 0;
	eng->cc->init(&c->cc, &eng->cfg.cc);
	c->rcv_nxt = 0;
	c->rx_head = SRD_NIL32;
	c->held_head = c->held_tail = SRD_NIL32;
	c->ack_owed = 0;
	c->ack_pkts = c->ack_ce = 0;
	c->ack_now = c->ack_flags = c->ack_asked = 0;
	c->nack_pending = 0;
	c->nack_head = 0;
	c->setup_cookie = 0;
	memset(c->rx_bits, 0, eng->cfg.rx_window / 8);
	for (uint32_t i = 0; i < eng->cfg.tx_window; i++)
		c->txpkts[i].state = TXPKT_FREE;
	for (uint32_t p = 0; p < c->npaths; p++) {
		c->paths[p].inflight = 0;
		if (c->paths[p].state == SRD_PATH_PROBING) {
			/* nobody to answer a probe until the peer is known again */
			c->paths[p].state = SRD_PATH_SUSPECT;
			c->paths[p].probe_ts = 0;
		}
	}
	c->n_probing = 0;
	c->probe_deadline_ns = SRD_NO_DEADLINE;
}

/* Create a connection to peer (in a closed slot if there is one).  Returns it, or NULL if
 * the table is full. */
static struct srd_conn *conn_create(struct srd_engine *eng, uint64_t peer, uint64_t now)
{
	struct srd_conn *c;
	uint32_t slot, i;

	if (eng->conn_free != SRD_NIL32) {
		slot = eng->conn_free;
		eng->conn_free = eng->conns[slot].act_next;
	} else if (eng->conns_used < eng->cfg.max_conns) {
		slot = eng->conns_used++;
		eng->conns[slot].gen = (uint16_t)(srd_rng_next(&eng->rng) & 0xff);
	} else {
		return NULL;
	}
	c = &eng->conns[slot];
	c->in_use = 1;
	c->peer = peer;
	c->last_active_ns = now;
	c->act_prev = c->act_next = SRD_NIL32;
	c->srtt_ns = 0;
	c->challenge_ns = 0;
	c->rttvar_ns = 0;
	c->min_rtt_ns = 0;
	c->retransmits = 0;
	c->retired_peer_id = 0;
	c->next_msg_id = 1; /* ids keep growing across incarnations: resent messages keep theirs */
	tx_msgs_init(eng, c);
	paths_init(eng, c);
	conn_fresh_state(eng, c);
	for (i = peer_hash(peer) & eng->conn_hash_mask; eng->conn_hash[i] != SRD_NIL32;
	     i = (i + 1) & eng->conn_hash_mask)
		;
	eng->conn_hash[i] = slot;
	eng->st.conns_created++;
	eng->st.conns_active++;
	return c;
}

/* Remove c from the peer hash table (backward-shift deletion keeps probe chains whole). */
static void conn_unhash(struct srd_engine *eng, const struct srd_conn *c)
{
	uint32_t mask = eng->conn_hash_mask, slot = conn_slot(eng, c), i, j;

	for (i = peer_hash(c->peer) & mask; eng->conn_hash[i] != slot; i = (i + 1) & mask)
		;
	for (j = (i + 1) & mask; eng->conn_hash[j] != SRD_NIL32; j = (j + 1) & mask) {
		uint32_t home = peer_hash(eng->conns[eng->conn_hash[j]].peer) & mask;

		/* move j back into the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			eng->conn_hash[i] = eng->conn_hash[j];
			i = j;
		}
	}
	eng->conn_hash[i] = SRD_NIL32;
}

/* Nothing to send, nothing in flight, nothing owed (received messages may be unfinished). */
static bool conn_is_quiet(const struct srd_conn *c)
{
	return c->msg_used == 0 && c->so_head == SRD_NIL16 && c->rt_head == SRD_NIL16 &&
	       !c->ack_owed && !c->nack_pending && c->n_probing == 0;
}

/* Quiet, and nothing half received or waiting for an earlier PSN either. */
static bool conn_is_idle(const struct srd_conn *c)
{
	return conn_is_quiet(c) && c->rx_head == SRD_NIL32 && !rx_holding(c);
}

/* Close an idle connection: its slot is free for another peer.  Packets that still come
 * for it are answered RESET(IDLE_CLOSED) with the cumulative PSN at the close, which tells
 * the peer what was received (and delivered): it completes those messages and sends the
 * others again on a fresh connection.  That is exact only if nothing beyond the cumulative
 * PSN was received; otherwise the packets get RESET(UNKNOWN_CONN) and the peer fails its
 * unfinished messages, which then may or may not have arrived. */
static void conn_close_idle(struct srd_engine *eng, struct srd_conn *c)
{
	uint32_t slot = conn_slot(eng, c);

	conn_unhash(eng, c);
	conn_deactivate(eng, c);
	srd_timerq_set(&eng->timers, slot, SRD_NO_DEADLINE);
	c->closed_id = rx_contiguous(eng, c) ? c->local_id : 0;
	c->closed_psn = c->rcv_nxt;
	c->in_use = 0;
	c->act_next = eng->conn_free;
	eng->conn_free = slot;
	eng->st.conns_active--;
	eng->st.conns_closed++;
}

/* The peer closed our connection for idleness, having received every PSN before cum and
 * nothing after: complete the messages it has, start a fresh incarnation and send every
 * other unfinished message again from its first byte.  (A connection idle for so long
 * normally has nothing unacked; a stall of either side can leave an ack lost.) */
static void conn_resume(struct srd_engine *eng, struct srd_conn *c, uint32_t cum)
{
	if (!tx_ack_cumulative(eng, c, cum)) {
		conn_reset(eng, c, -ECONNRESET); /* not a PSN we could have sent: trust nothing */
		return;
	}
	tx_restart_all(eng, c);
	rx_reset(eng, c, true);
	conn_fresh_state(eng, c);
	eng->st.conns_resumed++;
}

/* The peer kept no state for a set-up of ours and asks for its cookie.  Later set-ups
 * may have got through meanwhile (the peer's table emptied), so keep the incarnation:
 * resend what is in flight, echoing the cookie, and the peer's PSN records take each
 * packet once.  The answers to the other set-ups of the window bring the same cookie. */
static void conn_take_cookie(struct srd_engine *eng, struct srd_conn *c, uint32_t cookie)
{
	if (c->setup_cookie == cookie)
		return;
	c->setup_cookie = cookie;
	tx_resend_inflight(eng, c);
	eng->st.cookies_taken++;
}

/* Learn the peer's connection id: its first PSN follows from it, and its message ids are
 * its own (a message an earlier incarnation abandoned says nothing about them). */
static void conn_adopt_peer(struct srd_engine *eng, struct srd_conn *c, uint32_t peer_id)
{
	c->peer_id = peer_id;
	c->rcv_nxt = srd_conn_isn(peer_id);
	memset(c->rx_bits, 0, eng->cfg.rx_window / 8);
	c->abandoned_set = 0;
}

/* Entropy of a control packet (reset, challenge) that has no path of its own: a different
 * one each time, so that a retry does not die on the same failed path. */
static uint16_t ctrl_entropy(const struct srd_engine *eng, uint64_t peer)
{
	return (uint16_t)((peer_hash(peer) + (eng->st.tx_resets + eng->st.challenges +
					      eng->ctrl_tail) * 40503u) | 1);
}

/* Queue a RESET to peer (psn: the cumulative PSN for IDLE_CLOSED, else 0). */
static void queue_reset(struct srd_engine *eng, uint64_t peer, uint32_t dst_conn,
			uint32_t src_conn, uint32_t reason, uint32_t psn)
{
	struct srd_pkt rst = {
		.type = SRD_PKT_RESET,
		.dst_conn = dst_conn,
		.src_conn = src_conn,
		.psn = psn,
		.u.reset.reason = reason,
	};

	engine_queue_ctrl(eng, peer, ctrl_entropy(eng, peer), &rst);
}

void conn_reset(struct srd_engine *eng, struct srd_conn *c, int status)
{
	if (c->peer_id) {
		/* tell the peer at once (best effort), and never again accept a set-up from the
		 * incarnation we knew: its retransmissions of what we already delivered must not
		 * open a fresh connection and be delivered twice */
		queue_reset(eng, c->peer, c->peer_id, c->local_id, SRD_RESET_UNKNOWN_CONN, 0);
		c->retired_peer_id = c->peer_id;
	}
	tx_fail_all(eng, c, status);
	rx_reset(eng, c, true);
	conn_fresh_state(eng, c);
	eng->st.conns_reset++;
}

/* ---- active list and timers ---- */

void conn_activate(struct srd_engine *eng, struct srd_conn *c)
{
	uint32_t slot = conn_slot(eng, c);

	if (c->on_active)
		return;
	c->on_active = 1;
	c->act_next = SRD_NIL32;
	c->act_prev = eng->act_tail;
	if (eng->act_tail == SRD_NIL32)
		eng->act_head = slot;
	else
		eng->conns[eng->act_tail].act_next = slot;
	eng->act_tail = slot;
}

void conn_deactivate(struct srd_engine *eng, struct srd_conn *c)
{
	if (!c->on_active)
		return;
	if (c->act_prev == SRD_NIL32)
		eng->act_head = c->act_next;
	else
		eng->conns[c->act_prev].act_next = c->act_next;
	if (c->act_next == SRD_NIL32)
		eng->act_tail = c->act_prev;
	else
		eng->conns[c->act_next].act_prev = c->act_prev;
	c->on_active = 0;
	c->act_prev = c->act_next = SRD_NIL32;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A connection that holds a PSN beyond a gap waits this many times conn_idle_ns before it
 * is closed as idle. */
#define GAP_IDLE_FACTOR 4u

/*
 * When quiet connection c may be closed as idle: conn_idle_ns after its last activity (on
 * the engine's clock: the caller's pauses do not count).  While c holds a PSN
 * beyond a gap, GAP_IDLE_FACTOR times as long: a close then cannot tell the peer exactly
 * what arrived (conn_close_idle()), so its unfinished messages fail, some of them delivered,
 * and the silence that leads there is more often a peer that lost its CPU for a while (its
 * retransmission of the gap still to come) than one that spent its retry budget.
 */
static uint64_t idle_deadline(const struct srd_engine *eng, const struct srd_conn *c)
{
	return c->last_active_ns +
	       eng->cfg.conn_idle_ns * (rx_contiguous(eng, c) ? 1 : GAP_IDLE_FACTOR);
}

void srd_note_pause(struct srd_engine *eng, uint64_t now, uint64_t pause_ns)
{
	uint64_t clock = now - eng->paused_ns;

	/* the engine's clock never runs backwards: a pause longer than the time since the
	 * last call is only that long */
	if (clock < eng->clock_ns)
		return;
	if (pause_ns > clock - eng->clock_ns)
		pause_ns = clock - eng->clock_ns;
	eng->paused_ns += pause_ns;
	eng->clock_ns = clock - pause_ns;
}

void conn_rearm(struct srd_engine *eng, struct srd_conn *c)
{
	uint64_t d = loss_deadline(eng, c);

	if (c->ack_owed && !c->ack_now)
		d = min_u64(d, c->ack_deadline_ns);
	if (c->pace_wait)
		d = min_u64(d, c->pace_next_ns);
	if (c->rnr_until_ns)
		d = min_u64(d, c->rnr_until_ns);
	if (c->n_probing)
		d = min_u64(d, c->probe_deadline_ns);
	if (eng->cfg.conn_idle_ns && conn_is_quiet(c))
		d = min_u64(d, idle_deadline(eng, c));
	srd_timerq_set(&eng->timers, conn_slot(eng, c), d);
}

void engine_queue_ctrl(struct srd_engine *eng, uint64_t peer, uint16_t entropy,
		       const struct srd_pkt *pkt)
{
	struct srd_ctrl *slot;

	if (eng->ctrl_tail - eng->ctrl_head >= SRD_CTRL_RING) {
		eng->st.ctrl_dropped++;
		return;
	}
	slot = &eng->ctrl[eng->ctrl_tail++ % SRD_CTRL_RING];
	slot->peer = peer;
	slot->entropy = entropy;
	slot->pkt = *pkt;
}

/* ---- creation ---- */

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

int srd_engine_create(const struct srd_config *cfg, const struct srd_callbacks *cb,
		      struct srd_engine **out, char *err, size_t errlen)
{
	struct srd_engine *eng;
	size_t per_conn, paths_sz, bits_sz, pkts_sz, msgs_sz, hash_size;
	uint32_t npaths;
	uint8_t *mem;
	int rc;

	*out = NULL;
	rc = srd_config_check(cfg, err, errlen);
	if (rc)
		return rc;
	if (!cb || !cb->rx_alloc || !cb->rx_deliver || !cb->tx_done) {
		if (errlen)
			snprintf(err, errlen, "callbacks: rx_alloc, rx_deliver and tx_done are required");
		return -EINVAL;
	}
	if (cb->rx_take && !cb->rx_abort) {
		/* a packed packet refused after some of its messages were taken gives them back */
		if (errlen)
			snprintf(err, errlen, "callbacks: rx_take needs rx_abort");
		return -EINVAL;
	}
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return -ENOMEM;
	eng->cfg = *cfg;
	eng->cb = *cb;
	eng->cc = srd_cc_ops_get(cfg->cc.algo);
	srd_rng_seed(&eng->rng, cfg->seed ^ ((uint64_t)cfg->epoch << 48));
	if (cfg->cookie_key[0] | cfg->cookie_key[1]) {
		eng->cookie_key[0] = cfg->cookie_key[0];
		eng->cookie_key[1] = cfg->cookie_key[1];
	} else {
		uint64_t x = cfg->seed ^ 0xc00c1e5eedull;

		eng->cookie_key[0] = srd_rng_splitmix(&x);
		eng->cookie_key[1] = srd_rng_splitmix(&x);
	}
	eng->seg_size = cfg->seg_size;
	eng->tx_mask = cfg->tx_window - 1;
	eng->rx_mask = cfg->rx_window - 1;
	eng->msg_mask = cfg->max_tx_msgs - 1;
	eng->act_head = eng->act_tail = SRD_NIL32;
	eng->conn_free = SRD_NIL32;

	npaths = srd_config_npaths(cfg);
	paths_sz = align64(npaths * sizeof(struct srd_path));
	bits_sz = align64(cfg->rx_window / 8);
	pkts_sz = align64((size_t)cfg->tx_window * sizeof(struct srd_txpkt));
	msgs_sz = align64((size_t)cfg->max_tx_msgs * sizeof(struct srd_txmsg));
	per_conn = paths_sz + bits_sz + pkts_sz + msgs_sz;
	for (hash_size = 2; hash_size < 2 * (size_t)cfg->max_conns; hash_size *= 2)
		;

	eng->conns = calloc(cfg->max_conns, sizeof(*eng->conns));
	eng->conn_hash = malloc(hash_size * sizeof(*eng->conn_hash));
	eng->rxslots = calloc(cfg->rx_slots, sizeof(*eng->rxslots));
	eng->arena = calloc(cfg->max_conns, per_conn);
	eng->rx_join = malloc(srd_max_packet_len(eng));
	if (!eng->conns || !eng->conn_hash || !eng->rxslots || !eng->arena || !eng->rx_join)
		goto err_free;
	if (srd_timerq_init(&eng->timers, cfg->max_conns))
		goto err_free;
	eng->conn_hash_mask = (uint32_t)hash_size - 1;
	memset(eng->conn_hash, 0xff, hash_size * sizeof(*eng->conn_hash));

	mem = eng->arena;
	for (uint32_t i = 0; i < cfg->max_conns; i++) {
		struct srd_conn *c = &eng->conns[i];

		c->npaths = (uint16_t)npaths;
		c->paths = (struct srd_path *)mem;
		c->rx_bits = (uint64_t *)(mem + paths_sz);
		c->txpkts = (struct srd_txpkt *)(mem + paths_sz + bits_sz);
		c->txmsgs = (struct srd_txmsg *)(mem + paths_sz + bits_sz + pkts_sz);
		mem += per_conn;
	}
	for (uint32_t i = 0; i < cfg->rx_slots; i++)
		eng->rxslots[i].next = i + 1 < cfg->rx_slots ? i + 1 : SRD_NIL32;
	eng->rx_free = 0;
	*out = eng;
	return 0;

err_free:
	srd_timerq_free(&eng->timers);
	free(eng->rx_join);
	free(eng->arena);
	free(eng->rxslots);
	free(eng->conn_hash);
	free(eng->conns);
	free(eng);
	return -ENOMEM;
}

void srd_engine_destroy(struct srd_engine *eng)
{
	if (!eng)
		return;
	for (uint32_t i = 0; i < eng->conns_used; i++) {
		if (!eng->conns[i].in_use)
			continue;
		tx_fail_all(eng, &eng->conns[i], -ECANCELED);
		rx_reset(eng, &eng->conns[i], false);
	}
	srd_timerq_free(&eng->timers);
	free(eng->rx_join);
	free(eng->arena);
	free(eng->rxslots);
	free(eng->conn_hash);
	free(eng->conns);
	free(eng);
}

/* ---- sending ---- */

int srd_send(struct srd_engine *eng, uint64_t now, const struct srd_send_req *req)
{
	struct srd_conn *c;
	struct srd_txmsg *m;
	uint64_t len = 0;
	uint16_t slot;
	bool was_quiet;

	if (!req->iov || req->iovcnt == 0 || req->iovcnt > SRD_MAX_IOV ||
	    (req->flags & ~SRD_SEND_ORDERED))
		return -EINVAL;
	for (uint32_t i = 0; i < req->iovcnt; i++) {
		if (!req->iov[i].base && req->iov[i].len)
			return -EINVAL;
		len += req->iov[i].len;
	}
	if (len > eng->cfg.max_msg_size)
		return -EMSGSIZE;
	now = engine_clock(eng, now);
	c = conn_lookup_peer(eng, req->peer);
	if (c && c->msg_free == SRD_NIL16)
		return -EAGAIN;
	if (!c) {
		c = conn_create(eng, req->peer, now);
		if (!c)
			return -ENOSPC;
	}
	c->last_active_ns = now;
	was_quiet = conn_is_quiet(c);
	slot = tx_msg_alloc(eng, c);
	m = &c->txmsgs[slot];
	for (uint32_t i = 0; i < req->iovcnt; i++) /* mostly one: no call to memcpy */
		m->iov[i] = req->iov[i];
	m->iovcnt = (uint8_t)req->iovcnt;
	m->ctx = req->ctx;
	m->tag = req->tag;
	m->imm = req->imm;
	m->len = (uint32_t)len;
	m->msg_id = c->next_msg_id++;
	m->nseg = srd_wire_seg_count(m->len, eng->seg_size);
	m->next_seg = 0;
	m->acked_segs = 0;
	m->first_psn = 0;
	m->src_ep = req->src_ep;
	m->dst_ep = req->dst_ep;
	m->ordered = (req->flags & SRD_SEND_ORDERED) ? 1 : 0;
	m->pack_next = SRD_NIL16;
	m->state = TXMSG_ACTIVE;
	eng->st.msgs_accepted++;
	conn_activate(eng, c);
	/* a queued message moves none of a busy connection's deadlines (it waits for its turn
	   in srd_poll_tx, which rearms what it sends); a quiet one's idle deadline goes */
	if (was_quiet)
		conn_rearm(eng, c);
	return 0;
}

uint32_t srd_max_packet_len(const struct srd_engine *eng)
{
	return eng->seg_size + SRD_HDR_MAX_LEN;
}

/* ---- receiving ---- */

/* Answer a packet whose connection we do not know with a RESET (never a RESET itself);
 * psn: the closed connection's cumulative PSN for IDLE_CLOSED, else 0. */
static void send_reset_psn(struct srd_engine *eng, uint64_t peer, const struct srd_pkt *pkt,
			   uint32_t reason, uint32_t psn)
{
	if (pkt->type != SRD_PKT_RESET)
		queue_reset(eng, peer, pkt->src_conn, pkt->dst_conn ? pkt->dst_conn : 1, reason,
			    psn);
}

static void send_reset(struct srd_engine *eng, uint64_t peer, const struct srd_pkt *pkt,
		       uint32_t reason)
{
	send_reset_psn(eng, peer, pkt, reason, 0);
}

/*
 * A set-up came from an incarnation of c's peer other than the one c knows.  Incarnations
 * are not ordered, so the packet may be the peer's restart or a late packet of a dead
 * incarnation (which must not reset a live connection: its message would be delivered
 * twice).  Probe the incarnation we know: if it is gone, the peer answers RESET and c
 * starts over, ready for the set-up's retransmission; if it is alive, it answers the probe
 * and nothing changes.  At most one challenge per RTO, so a flood cannot amplify.
 */
static void conn_challenge(struct srd_engine *eng, struct srd_conn *c, uint64_t now)
{
	uint32_t ts = (uint32_t)now ? (uint32_t)now : 1;

	if (c->challenge_ns != 0 && now - c->challenge_ns < loss_rto(eng, c))
		return;
	struct srd_pkt probe = {
		.type = SRD_PKT_PROBE,
		.dst_conn = c->peer_id,
		.src_conn = c->local_id,
		.psn = c->probe_seq++,
		.u.probe = { .tx_ts = ts, .cookie = SRD_PROBE_CHALLENGE },
	};

	c->challenge_ns = now ? now : 1;
	engine_queue_ctrl(eng, c->peer, ctrl_entropy(eng, c->peer), &probe);
	eng->st.challenges++;
}

/*
 * Set-up cookies.  While the table is nearly full (setup_cookie_pct), a set-up from a new
 * peer gets no state: it is answered RESET(SETUP_COOKIE) with a keyed hash of the peer's
 * address and the time, which the peer echoes in dst_conn (SRD_F_COOKIE) when it sends
 * again.  A spoofed source never sees its cookie, so a flood of set-ups from spoofed
 * addresses cannot take the part of the table kept for peers that can answer.
 */
#define COOKIE_PERIOD_SHIFT 30 /* cookies change every 2^30 ns (about 1 s); the previous
				  period's cookie is still good */

static uint32_t setup_cookie(const struct srd_engine *eng, uint64_t peer, uint64_t period)
{
	uint32_t v = (uint32_t)srd_siphash_2w(eng->cookie_key, peer, period);

	return v ? v : 1;
}

static bool setup_cookie_valid(const struct srd_engine *eng, uint64_t peer, uint64_t now,
			       uint32_t cookie)
{
	uint64_t period = now >> COOKIE_PERIOD_SHIFT;

	return cookie == setup_cookie(eng, peer, period) ||
	       (period > 0 && cookie == setup_cookie(eng, peer, period - 1));
}

/* Must a new peer show a cookie before it gets a connection? */
static bool setup_needs_cookie(const struct srd_engine *eng)
{
	return eng->cfg.setup_cookie_pct < 100 &&
	       eng->st.conns_active * 100 >= (uint64_t)eng->cfg.setup_cookie_pct * eng->cfg.max_conns;
}

static void send_cookie(struct srd_engine *eng, uint64_t now, uint64_t peer,
			const struct srd_pkt *pkt)
{
	queue_reset(eng, peer, pkt->src_conn, setup_cookie(eng, peer, now >> COOKIE_PERIOD_SHIFT),
		    SRD_RESET_SETUP_COOKIE, 0);
	eng->st.cookies_sent++;
}

/* Could a set-up data packet be the start of connection src's PSN space? */
static bool setup_psn_plausible(const struct srd_engine *eng, const struct srd_pkt *pkt)
{
	return pkt->psn - srd_conn_isn(pkt->src_conn) < eng->cfg.rx_window;
}

/*
 * Find (or, for a set-up packet, create) the connection of pkt from peer.  *adopt is set
 * when the connection does not know the peer's id yet: the caller adopts pkt's src_conn
 * for the packet's handler and keeps it only if the packet is taken.  Nothing about an
 * existing connection changes here unless the packet is a plausible set-up of a new
 * incarnation of the peer.
 */
static int conn_for_packet(struct srd_engine *eng, uint64_t now, uint64_t peer,
			   const struct srd_pkt *pkt, struct srd_conn **out, bool *adopt)
{
	struct srd_conn *c;

	*adopt = false;
	if (pkt->dst_conn == 0 || (pkt->flags & SRD_F_COOKIE)) {
		/* set-up: only data opens a connection, and only at the start of its PSN space */
		if (pkt->type != SRD_PKT_DATA)
			return -SRD_DROP_UNEXPECTED;
		if (!setup_psn_plausible(eng, pkt))
			return -SRD_DROP_PSN_WINDOW;
		c = conn_lookup_peer(eng, peer);
		if (c && c->retired_peer_id == pkt->src_conn) {
			send_reset(eng, peer, pkt, SRD_RESET_UNKNOWN_CONN);
			return -SRD_DROP_STALE_CONN;
		}
		if (!c) {
			if (setup_needs_cookie(eng) &&
			    !((pkt->flags & SRD_F_COOKIE) &&
			      setup_cookie_valid(eng, peer, now, pkt->dst_conn))) {
				send_cookie(eng, now, peer, pkt);
				return -SRD_DROP_NEED_COOKIE;
			}
			c = conn_create(eng, peer, now);
			if (!c) {
				send_reset(eng, peer, pkt, SRD_RESET_TABLE_FULL);
				return -SRD_DROP_CONN_TABLE_FULL;
			}
		} else if (c->peer_id != 0 && c->peer_id != pkt->src_conn) {
			/* another incarnation of the peer: a restart, or a late packet of a dead
			 * incarnation.  Ask the one we know; only its RESET ends it. */
			conn_challenge(eng, c, now);
			return -SRD_DROP_STALE_CONN;
		}
		*adopt = c->peer_id == 0;
		*out = c;
		return 0;
	}

	uint32_t slot = (pkt->dst_conn & 0xffffu) - 1;

	if (slot >= eng->conns_used) {
		send_reset(eng, peer, pkt, SRD_RESET_UNKNOWN_CONN);
		return -SRD_DROP_UNKNOWN_CONN;
	}
	c = &eng->conns[slot];
	if (c->closed_id == pkt->dst_conn && (!c->in_use || c->local_id != pkt->dst_conn)) {
		/* we closed it for idleness: nothing sent on it since was seen */
		send_reset_psn(eng, peer, pkt, SRD_RESET_IDLE_CLOSED, c->closed_psn);
		return -SRD_DROP_UNKNOWN_CONN;
	}
	if (!c->in_use) {
		send_reset(eng, peer, pkt, SRD_RESET_UNKNOWN_CONN);
		return -SRD_DROP_UNKNOWN_CONN;
	}
	if (c->peer != peer)
		return -SRD_DROP_PEER_MISMATCH;
	if (c->local_id != pkt->dst_conn) {
		send_reset(eng, peer, pkt, SRD_RESET_UNKNOWN_CONN);
		return -SRD_DROP_STALE_CONN;
	}
	if (c->peer_id == 0) {
		/* a RESET before we know the peer can only refuse our set-up (table full) or
		 * ask for its cookie */
		if (pkt->type == SRD_PKT_RESET && pkt->u.reset.reason != SRD_RESET_TABLE_FULL &&
		    pkt->u.reset.reason != SRD_RESET_SETUP_COOKIE)
			return -SRD_DROP_UNEXPECTED;
		*adopt = pkt->type != SRD_PKT_RESET;
	} else if (c->peer_id != pkt->src_conn) {
		return -SRD_DROP_STALE_CONN;
	}
	*out = c;
	return 0;
}

/* Drops that a packet not from the real peer could cause: after one, a tentatively adopted
 * peer id is forgotten again.  (A refused or early packet of the real peer keeps it.) */
static bool drop_disowns(int rc)
{
	return rc < 0 && rc != -SRD_DROP_NO_BUFFER && rc != -SRD_DROP_MSG_TOO_BIG &&
	       rc != -SRD_DROP_NO_ENDPOINT &&
	       rc != -SRD_DROP_DUPLICATE;
}

static int on_probe(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		    const struct srd_pkt *pkt)
{
	if (pkt->flags & SRD_F_REPLY) {
		uint64_t rtt = (uint32_t)((uint32_t)now - pkt->u.probe.tx_ts);

		if (pkt->u.probe.cookie == SRD_PROBE_CHALLENGE)
			return 0; /* the incarnation we know is alive: the set-up was stale */

		return paths_on_probe_reply(c, pkt->u.probe.cookie, rtt);
	}
	struct srd_pkt reply = {
		.type = SRD_PKT_PROBE,
		.flags = SRD_F_REPLY,
		.path = pkt->path,
		.dst_conn = c->peer_id,
		.src_conn = c->local_id,
		.psn = pkt->psn,
		.u.probe = pkt->u.probe,
	};
	/* answer with the probe's own entropy value so the reply tries the same way back */
	engine_queue_ctrl(eng, c->peer, (uint16_t)pkt->u.probe.cookie, &reply);
	return 0;
}

/*
 * Take a packet: len bytes at buf, or with payload a data segment's header at buf and its
 * plen payload bytes there (srd_recv_split(), which checked the split).  One copy of the
 * receive path, out of line, for both entry points: in each, it would keep the decoder and
 * the data path out of line instead (two callers each), on every packet.
 */
static __attribute__((noinline)) int recv_any(struct srd_engine *eng, uint64_t now,
					      uint64_t peer, const uint8_t *buf, uint32_t len,
					      const uint8_t *payload, uint32_t plen, unsigned ce)
{
	struct srd_pkt pkt_, *pkt = &pkt_;
	struct srd_conn *c = NULL;
	bool adopt = false;
	int rc;

	eng->st.rx_pkts++;
	now = engine_clock(eng, now);
	/* one call of the decoder (inline here, as on every packet): a split packet's header
	 * (srd_wire_splits() checked) is decoded as if its payload followed it, reading none */
	rc = srd_wire_decode(buf, len + plen, pkt);
	if (rc == 0 && payload && pkt->payload_len)
		pkt->payload = payload;
	if (rc == 0)
		rc = conn_for_packet(eng, now, peer, pkt, &c, &adopt);
	if (rc == 0) {
		if (adopt)
			conn_adopt_peer(eng, c, pkt->src_conn);
		switch (pkt->type) {
		case SRD_PKT_DATA:
			credit_on_data(eng, c, now, pkt);
			rc = rx_on_data(eng, c, now, pkt, ce ? 1 : 0);
			credit_after_data(eng, c);
			break;
		case SRD_PKT_ACK:
			rc = tx_on_ack(eng, c, now, pkt);
			break;
		case SRD_PKT_NACK:
			rc = tx_on_nack(eng, c, now, pkt);
			break;
		case SRD_PKT_PROBE:
			rc = on_probe(eng, c, now, pkt);
			break;
		case SRD_PKT_RESET:
			if (pkt->u.reset.reason == SRD_RESET_IDLE_CLOSED)
				conn_resume(eng, c, pkt->psn);
			else if (pkt->u.reset.reason == SRD_RESET_SETUP_COOKIE)
				conn_take_cookie(eng, c, pkt->src_conn);
			else
				conn_reset(eng, c, pkt->u.reset.reason == SRD_RESET_TABLE_FULL ?
						   -ECONNREFUSED : -ECONNRESET);
			break;
		default:
			rc = -SRD_DROP_BAD_TYPE;
			break;
		}
		if (adopt && drop_disowns(rc))
			c->peer_id = 0;
		if (rc == 0)
			c->last_active_ns = now;
		conn_activate(eng, c);
		conn_rearm(eng, c);
	}
	if (rc < 0 && -rc < SRD_DROP_MAX)
		eng->st.drops[-rc]++;
	return rc;
}

int srd_recv(struct srd_engine *eng, uint64_t now, uint64_t peer, const uint8_t *buf,
	     uint32_t len, unsigned ce)
{
	return recv_any(eng, now, peer, buf, len, NULL, 0, ce);
}

int srd_recv_split(struct srd_engine *eng, uint64_t now, uint64_t peer, const uint8_t *hdr,
		   uint32_t hlen, const uint8_t *payload, uint32_t plen, unsigned ce)
{
	uint32_t room = srd_max_packet_len(eng);

	if (plen == 0)
		return recv_any(eng, now, peer, hdr, hlen, NULL, 0, ce);
	if (hlen > room || plen > room - hlen) {
		eng->st.rx_pkts++;
		eng->st.drops[SRD_DROP_BAD_LENGTH]++;
		return -SRD_DROP_BAD_LENGTH; /* longer than any packet (as decode finds it) */
	}
	if (srd_wire_splits(hdr, hlen))
		return recv_any(eng, now, peer, hdr, hlen, payload, plen, ce);
	memcpy(eng->rx_join, hdr, hlen);
	memcpy(eng->rx_join + hlen, payload, plen);
	return recv_any(eng, now, peer, eng->rx_join, hlen + plen, NULL, 0, ce);
}

/* ---- timers ---- */

uint64_t srd_next_deadline(const struct srd_engine *eng)
{
	uint64_t d = srd_timerq_min(&eng->timers);

	return d == SRD_NO_DEADLINE ? d : d + eng->paused_ns; /* on the caller's clock */
}

void srd_on_timer(struct srd_engine *eng, uint64_t now)
{
	/* each due connection runs once per call, so a deadline that stays due cannot spin */
	uint32_t budget = eng->timers.n;

	now = engine_clock(eng, now);
	while (budget-- > 0 && srd_timerq_min(&eng->timers) <= now) {
		struct srd_conn *c = &eng->conns[srd_timerq_min_slot(&eng->timers)];

		srd_timerq_set(&eng->timers, conn_slot(eng, c), SRD_NO_DEADLINE);
		rx_on_timer(c, now);
		loss_on_timer(eng, c, now);
		if (c->n_probing)
			paths_on_timer(eng, c, now);
		else
			c->probe_deadline_ns = SRD_NO_DEADLINE;
		if (c->pace_wait && c->pace_next_ns <= now)
			c->pace_wait = 0;
		if (c->rnr_until_ns && c->rnr_until_ns <= now)
			c->rnr_until_ns = 0;
		if (eng->cfg.conn_idle_ns && conn_is_quiet(c) && now >= idle_deadline(eng, c)) {
			/* nothing came for longer than the peer's retry budget: it gave up what
			 * we hold half received, and the gap held messages wait for will never be
			 * filled (they were acked: deliver them) */
			if (!conn_is_idle(c))
				rx_reset(eng, c, true);
			conn_close_idle(eng, c);
			continue;
		}
		conn_activate(eng, c);
		conn_rearm(eng, c);
	}
}

/* ---- introspection ---- */

void srd_get_stats(const struct srd_engine *eng, struct srd_stats *st)
{
	*st = eng->st;
}

uint32_t srd_conn_peers(const struct srd_engine *eng, uint64_t *peers, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < eng->conns_used; i++) {
		if (!eng->conns[i].in_use)
			continue;
		if (n < max)
			peers[n] = eng->conns[i].peer;
		n++;
	}
	return n;
}

int srd_conn_info(const struct srd_engine *eng, uint64_t peer, struct srd_conn_info *info,
		  struct srd_path_info *paths, uint32_t max_paths)
{
	const struct srd_conn *c = conn_lookup_peer(eng, peer);

	if (!c)
		return -ENOENT;
	*info = (struct srd_conn_info){
		.peer = c->peer,
		.local_id = c->local_id,
		.peer_id = c->peer_id,
		.npaths = c->npaths,
		.inflight = c->inflight,
		.cwnd = c->cc.cwnd,
		.srtt_ns = c->srtt_ns,
		.min_rtt_ns = c->min_rtt_ns,
		.rto_ns = loss_rto(eng, c),
		.tx_msgs = c->msg_used,
		.retransmits = c->retransmits,
	};
	for (uint32_t i = c->rx_head; i != SRD_NIL32; i = eng->rxslots[i].next)
		info->rx_partial++;
	for (uint32_t i = c->held_head; i != SRD_NIL32; i = eng->rxslots[i].next)
		info->rx_held++;
	for (uint32_t p = 0; paths && p < c->npaths && p < max_paths; p++) {
		const struct srd_path *P = &c->paths[p];

		paths[p] = (struct srd_path_info){
			.entropy = P->entropy,
			.state = P->state,
			.inflight = P->inflight,
			.srtt_ns = P->srtt_ns,
			.ecn_permille = (uint32_t)P->ecn * 1000 / 255,
			.tx_pkts = P->tx_pkts,
			.replacements = P->replacements,
		};
	}
	return c->npaths;
}
