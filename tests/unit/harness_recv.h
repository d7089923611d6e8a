/*
 * harness_recv.h — the harness of the tests that feed packets straight to a real engine's
 * srd_recv() (test_badinput.c, test_core_fuzz.c).  Header-only: static inline helpers.
 *
 * Two engines joined by the link harness (link.h) establish a connection (A sends one small
 * message to B).  Each engine's host callbacks check every buffer they hand out and get back,
 * with receive buffers of exactly msg->len bytes so that AddressSanitizer catches a write past
 * one; env_free() checks that all came back.  Crafting helpers build packets of that
 * connection with srd_wire_encode(), and the checks give a packet to srd_recv() from a heap
 * copy of exactly its length and compare the drop counters before and after.
 */
#ifndef SRD_TEST_HARNESS_RECV_H
#define SRD_TEST_HARNESS_RECV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link.h"
#include "rng.h"
#include "srd_core.h"
#include "wire.h"

/* Peer keys of the link harness: B knows A as 0, A knows B as 1. */
#define PEER_A 0u
#define PEER_B 1u
#define SIDE_A 0
#define SIDE_B 1

#define EP_SRC 3u
#define EP_DST 4u
#define IMM_X 0x1111222233334444ull

/* Byte offsets in the wire format (docs/wire-format.md), for raw edits. */
#define W_VER_TYPE 0u
#define W_FLAGS 1u
#define W_RSVD 3u
#define W_DST 4u
#define W_SRC 8u
#define W_PSN 12u
#define W_D_SEG 32u
#define W_A_CE 40u
#define W_A_PKT 42u
#define W_N_REASON 24u
#define W_N_RSVD 25u
#define W_R_REASON 16u

#define PKT_CAP LINK_PKT_CAP /* room for any packet */

/* Store v big-endian (network order) at p, for raw edits of a packet. */
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Store v big-endian (network order) at p, for raw edits of a packet. */
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Content of a legit message with tag t. */
static inline uint8_t pattern(uint64_t tag, uint32_t i)
{
	return (uint8_t)(tag * 0x9du + i * 7u + (i >> 8) * 13u + 1u);
}

/* ---- a host: the callbacks of one engine, with consistency checks ---- */

#define HOST_MAX_TX 16384u
#define HOST_MAX_DL 64u
#define RXBUF_MAGIC 0x5eedb0ffu

/* What rx_alloc handed out (msg->buf_ctx). */
struct rxbuf {
	uint32_t magic;
	uint32_t len;
	void *buf;
};

/* A delivered message (copied when the host keeps them). */
struct delivery {
	uint64_t peer, tag, imm;
	uint32_t len;
	uint16_t src_ep, dst_ep;
	uint8_t *data;
};

struct host {
	int fail_alloc;        /* rx_alloc returns NULL */
	int keep;              /* copy delivered messages into dl[] */
	uint32_t max_msg_size; /* of this engine's config */
	uint64_t alloc_calls;  /* rx_alloc calls */
	uint64_t allocs;       /* of which returned a buffer */
	uint64_t live;         /* buffers handed out, not yet returned */
	uint64_t delivered;    /* rx_deliver calls */
	uint64_t aborted;      /* rx_abort calls */
	uint64_t empty_nobuf;  /* of these, empty messages rx_alloc gave no buffer for */
	struct delivery dl[HOST_MAX_DL]; /* the last deliveries (ring, index delivered - 1) */
	uint32_t ntx;          /* messages accepted by srd_send (ctx = index + 1) */
	uint64_t tx_done;      /* tx_done calls */
	uint64_t tx_ok;        /* of which status 0 */
	int tx_status[HOST_MAX_TX];
	uint8_t tx_calls[HOST_MAX_TX];
	uint8_t *tx_buf[HOST_MAX_TX];
};

/* rx_alloc: a buffer of exactly msg->len bytes (NULL while h->fail_alloc is set). */
static inline void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct host *h = user;
	struct rxbuf *r;

	h->alloc_calls++;
	assert_null(msg->buf);
	assert_true(msg->len <= h->max_msg_size);
	if (h->fail_alloc)
		return NULL;
	r = malloc(sizeof(*r));
	assert_non_null(r);
	/* exactly msg->len bytes: a write past the end is an ASan report */
	r->buf = malloc(msg->len);
	assert_true(r->buf != NULL || msg->len == 0);
	r->magic = RXBUF_MAGIC;
	r->len = msg->len;
	msg->buf_ctx = r;
	h->allocs++;
	h->live++;
	return r->buf;
}

/* Check that msg hands back a buffer we gave out and that nothing about it changed.  An
 * empty message needs no buffer: the engine takes rx_alloc's NULL for it as "none needed"
 * and hands it back with buf NULL (returns NULL then). */
static inline struct rxbuf *rx_giveback(struct host *h,
					 const struct srd_rx_msg *msg)
{
	struct rxbuf *r = msg->buf_ctx;

	if (!r && msg->len == 0 && !msg->buf) {
		h->empty_nobuf++;
		return NULL;
	}
	assert_non_null(r);
	assert_int_equal(r->magic, RXBUF_MAGIC);
	assert_ptr_equal(r->buf, msg->buf);
	assert_int_equal(r->len, msg->len);
	assert_true(h->live > 0);
	h->live--;
	r->magic = 0;
	return r;
}

/* rx_deliver: check the buffer, keep a copy of the message if h->keep, free the buffer. */
static inline void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct host *h = user;
	struct rxbuf *r = rx_giveback(h, msg);

	if (h->keep) {
		struct delivery *d = &h->dl[h->delivered % HOST_MAX_DL];

		free(d->data);
		*d = (struct delivery){
			.peer = msg->peer,
			.tag = msg->tag,
			.imm = msg->imm,
			.len = msg->len,
			.src_ep = msg->src_ep,
			.dst_ep = msg->dst_ep,
			.data = malloc(msg->len ? msg->len : 1),
		};
		assert_non_null(d->data);
		if (msg->len)
			memcpy(d->data, msg->buf, msg->len);
	}
	h->delivered++;
	if (r) {
		free(r->buf);
		free(r);
	}
}

/* rx_abort: check the buffer and free it. */
static inline void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct host *h = user;
	struct rxbuf *r = rx_giveback(h, msg);

	h->aborted++;
	if (r) {
		free(r->buf);
		free(r);
	}
}

/* tx_done: exactly once per message accepted by send_msg(); records its status. */
static inline void cb_tx_done(void *user, void *ctx, int status)
{
	struct host *h = user;
	uint32_t i = (uint32_t)((uintptr_t)ctx - 1);

	assert_true(i < h->ntx);
	assert_int_equal(h->tx_calls[i], 0); /* exactly once */
	h->tx_calls[i] = 1;
	h->tx_status[i] = status;
	h->tx_done++;
	if (status == 0)
		h->tx_ok++;
	free(h->tx_buf[i]);
	h->tx_buf[i] = NULL;
}

/* ---- two engines on a link ---- */

struct env;
typedef void (*capture_fn)(struct env *v, int from, const struct srd_tx_meta *m,
			   const uint8_t *pkt, uint32_t len);

struct env {
	struct link *l;
	struct srd_engine *e[2];
	struct host h[2];
	struct srd_config cfg[2];
	uint32_t id[2];       /* local id of each side's end of the A-B connection */
	uint8_t first_data[256]; /* A's first data packet (the set-up message's segment 0) */
	uint32_t first_len;
	capture_fn capture;   /* sees every packet that passes the filter */
	void *capture_arg;
	uint32_t loss_permille; /* data packets the filter drops */
	uint64_t loss_rng;
};

/* The next value of a splitmix64 generator with state *s. */
static inline uint64_t xrand(uint64_t *s)
{
	return srd_rng_splitmix(s);
}

/* Only packets addressed to the engine at the other end cross the link (replies to made-up
 * peers vanish).  Optionally drops some data packets. */
static inline enum link_verdict env_filter(struct link *l, int from,
					   const struct srd_tx_meta *m, const uint8_t *pkt,
					   uint32_t len, uint64_t n, uint64_t *extra_delay,
					   unsigned *ce)
{
	struct env *v = l->filter_arg;

	(void)n;
	(void)extra_delay;
	(void)ce;
	if (m->peer != (uint64_t)(1 - from))
		return LINK_DROP;
	if (from == SIDE_A && m->type == SRD_PKT_DATA && v->first_len == 0 &&
	    len <= sizeof(v->first_data)) {
		memcpy(v->first_data, pkt, len);
		v->first_len = len;
	}
	if (v->loss_permille && m->type == SRD_PKT_DATA &&
	    xrand(&v->loss_rng) % 1000 < v->loss_permille)
		return LINK_DROP;
	if (v->capture)
		v->capture(v, from, m, pkt, len);
	return LINK_PASS;
}

/* Send a legit message of len bytes (content pattern(tag)) from side.  Returns its index in
 * the host's tx arrays, or -errno from srd_send. */
static inline int send_msg(struct env *v, int side, uint32_t len, uint64_t tag)
{
	struct host *h = &v->h[side];
	uint32_t i = h->ntx;
	uint8_t *b;
	int rc;

	assert_true(i < HOST_MAX_TX);
	b = malloc(len ? len : 1);
	assert_non_null(b);
	for (uint32_t k = 0; k < len; k++)
		b[k] = pattern(tag, k);
	struct srd_iov iov = { .base = b, .len = len };
	struct srd_send_req req = {
		.peer = (uint64_t)(1 - side),
		.src_ep = EP_SRC,
		.dst_ep = EP_DST,
		.tag = tag,
		.imm = tag ^ IMM_X,
		.iov = &iov,
		.iovcnt = 1,
		.ctx = (void *)(uintptr_t)(i + 1),
	};
	h->tx_buf[i] = b;
	h->ntx++;
	rc = srd_send(v->e[side], v->l->now, &req);
	if (rc) {
		h->ntx--;
		h->tx_buf[i] = NULL;
		free(b);
		return rc;
	}
	return (int)i;
}

/* Run the link until cond holds (at most 1 s of simulated time). */
#define RUN_UNTIL(v, cond)                                                                 \
	do {                                                                               \
		uint64_t lim_ = (v)->l->now + 1000000000ull;                               \
		while (!(cond) && (v)->l->now < lim_ && link_step((v)->l))                 \
			;                                                                  \
		assert_true(cond);                                                         \
	} while (0)

/* Run until nothing is left to happen (or 5 ms passed). */
static inline void settle(struct env *v)
{
	uint64_t lim = v->l->now + 5000000ull;

	while (v->l->now < lim && link_step(v->l))
		;
}

/* Read the connection ids of both ends; they must agree. */
static inline void env_ids(struct env *v)
{
	struct srd_conn_info ia, ib;

	assert_true(srd_conn_info(v->e[SIDE_A], PEER_B, &ia, NULL, 0) > 0);
	assert_true(srd_conn_info(v->e[SIDE_B], PEER_A, &ib, NULL, 0) > 0);
	assert_int_equal(ia.peer_id, ib.local_id);
	assert_int_equal(ib.peer_id, ia.local_id);
	v->id[SIDE_A] = ia.local_id;
	v->id[SIDE_B] = ib.local_id;
}

typedef void (*tweak_fn)(struct srd_config *a, struct srd_config *b);

static struct env *g_env; /* the test's env, freed by the teardown if the test failed */
static void *g_free;      /* and one more allocation of it */

/* Two engines, and a connection A -> B established by one small message. */
static inline struct env *env_new(tweak_fn tweak)
{
	struct env *v = calloc(1, sizeof(*v));
	char err[128];

	assert_non_null(v);
	v->l = calloc(1, sizeof(*v->l));
	assert_non_null(v->l);
	for (int s = 0; s < 2; s++)
		srd_config_default(&v->cfg[s]);
	v->cfg[SIDE_A].epoch = 0x1a1a;
	v->cfg[SIDE_A].seed = 11;
	v->cfg[SIDE_B].epoch = 0x2b2b;
	v->cfg[SIDE_B].seed = 22;
	if (tweak)
		tweak(&v->cfg[SIDE_A], &v->cfg[SIDE_B]);
	for (int s = 0; s < 2; s++) {
		struct srd_callbacks cb = {
			.user = &v->h[s],
			.rx_alloc = cb_rx_alloc,
			.rx_deliver = cb_rx_deliver,
			.rx_abort = cb_rx_abort,
			.tx_done = cb_tx_done,
		};
		int rc = srd_engine_create(&v->cfg[s], &cb, &v->e[s], err, sizeof(err));

		if (rc)
			fail_msg("srd_engine_create: %s", err);
		v->h[s].keep = 1;
		v->h[s].max_msg_size = v->cfg[s].max_msg_size;
	}
	link_init(v->l, v->e[SIDE_A], v->e[SIDE_B]);
	v->l->filter = env_filter;
	v->l->filter_arg = v;

	int i = send_msg(v, SIDE_A, 100, 1);
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_B].delivered == 1 && v->h[SIDE_A].tx_done == 1);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	env_ids(v);
	assert_int_not_equal(v->first_len, 0);
	g_env = v;
	return v;
}

/* Destroy the engines and free everything of v, without checks. */
static inline void env_release(struct env *v)
{
	srd_engine_destroy(v->e[SIDE_A]);
	srd_engine_destroy(v->e[SIDE_B]);
	for (int s = 0; s < 2; s++) {
		for (uint32_t k = 0; k < HOST_MAX_DL; k++)
			free(v->h[s].dl[k].data);
		for (uint32_t k = 0; k < v->h[s].ntx; k++)
			free(v->h[s].tx_buf[k]);
	}
	link_clear(v->l);
	free(v->l);
	free(v);
}

/* After a failed test: free what is left, without checks (the engine may be mid-way). */
static inline int teardown_env(void **state)
{
	(void)state;
	free(g_free);
	g_free = NULL;
	if (g_env) {
		for (int s = 0; s < 2; s++) {
			g_env->h[s].keep = 0;
		}
		env_release(g_env);
		g_env = NULL;
	}
	return 0;
}

/* Destroy the engines, check that every buffer and every message was handed back exactly
 * once, and free v. */
static inline void env_free(struct env *v)
{
	g_env = NULL;
	srd_engine_destroy(v->e[SIDE_A]);
	srd_engine_destroy(v->e[SIDE_B]);
	for (int s = 0; s < 2; s++) {
		/* everything handed out came back: delivered, aborted, or (never) leaked */
		assert_int_equal(v->h[s].live, 0);
		assert_int_equal(v->h[s].allocs + v->h[s].empty_nobuf,
				 v->h[s].delivered + v->h[s].aborted);
		assert_int_equal(v->h[s].tx_done, v->h[s].ntx);
		for (uint32_t k = 0; k < HOST_MAX_DL; k++)
			free(v->h[s].dl[k].data);
	}
	link_clear(v->l);
	free(v->l);
	free(v);
}

/* The counters of side's engine. */
static inline struct srd_stats stats(const struct env *v, int side)
{
	struct srd_stats st;

	srd_get_stats(v->e[side], &st);
	return st;
}

/* Packets dropped for any reason. */
static inline uint64_t drops_total(const struct srd_stats *st)
{
	uint64_t n = 0;

	for (int r = 0; r < SRD_DROP_MAX; r++)
		n += st->drops[r];
	return n;
}

/* ---- crafting ---- */

/* Header of a DATA packet from side `from` of the connection (ids of the connection). */
static inline struct srd_pkt data_hdr(const struct env *v, int from, uint32_t psn,
				      uint32_t msg_psn, uint32_t msg_id, uint32_t msg_len,
				      uint64_t tag)
{
	uint16_t seg = (uint16_t)v->cfg[from].seg_size;

	return (struct srd_pkt){
		.type = SRD_PKT_DATA,
		.flags = SRD_F_ACKREQ,
		.path = 0,
		.dst_conn = v->id[1 - from],
		.src_conn = v->id[from],
		.psn = psn,
		.u.data = {
			.tx_ts = (uint32_t)v->l->now,
			.msg_id = msg_id,
			.msg_len = msg_len,
			.msg_psn = msg_psn,
			.seg_size = msg_len ? seg : 0,
			.src_ep = EP_SRC,
			.dst_ep = EP_DST,
			.tag = tag,
			.imm = psn == msg_psn ? tag ^ IMM_X : 0,
		},
	};
}

/*
 * Encode *p into buf and append its payload: segment k = psn - msg_psn of the message, taken
 * from pattern(tag) (or `fill` bytes if fill >= 0), of the length the decoder requires
 * (or payload_len if it is >= 0).  Returns the packet length.
 */
static inline uint32_t craft(uint8_t *buf, const struct srd_pkt *p, int fill,
			     int64_t payload_len)
{
	int hlen = srd_wire_encode(p, buf, PKT_CAP);
	uint64_t want = 0;

	assert_true(hlen > 0);
	if (p->type != SRD_PKT_DATA)
		return (uint32_t)hlen;

	const struct srd_data_fields *d = &p->u.data;
	uint32_t k = p->psn - d->msg_psn;
	uint64_t off = (uint64_t)k * d->seg_size;

	if (off < d->msg_len) {
		want = d->msg_len - off;
		if (want > d->seg_size)
			want = d->seg_size;
	}
	if (payload_len >= 0)
		want = (uint64_t)payload_len;
	assert_true(hlen + want <= PKT_CAP);
	for (uint64_t i = 0; i < want; i++)
		buf[hlen + i] = fill >= 0 ? (uint8_t)fill : pattern(d->tag, (uint32_t)(off + i));
	return (uint32_t)(hlen + want);
}

/* An ACK from side `from` of the connection. */
static inline struct srd_pkt ack_hdr(const struct env *v, int from, uint32_t cum,
				     uint32_t acked, uint32_t sack_base, uint64_t sack)
{
	return (struct srd_pkt){
		.type = SRD_PKT_ACK,
		.dst_conn = v->id[1 - from],
		.src_conn = v->id[from],
		.psn = cum,
		.u.ack = {
			.echo_ts = (uint32_t)v->l->now,
			.acked_psn = acked,
			.sack_base = sack_base,
			.credit = v->cfg[from].rx_window,
			.sack = sack,
			.ce_count = 0,
			.pkt_count = 1,
			.ack_delay_ns = 0,
			.max_msg = v->cfg[from].max_msg_size,
		},
	};
}

/* ---- checks ---- */

/* srd_recv() of pkt on e, from a heap copy of exactly len bytes; returns what it returned. */
static inline int recv_exact(struct srd_engine *e, uint64_t now, uint64_t peer,
			     const uint8_t *p, uint32_t len, unsigned ce)
{
	/* from a heap copy of exactly len bytes: a read past the packet is an ASan report */
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, p, len);
	rc = srd_recv(e, now, peer, copy, len, ce);
	free(copy);
	return rc;
}

/* Give pkt to e: it must be dropped for `reason`, counted once under it and under no other
 * reason, and change nothing that a taken packet would.  `what` names the check. */
static inline void expect_drop_(struct srd_engine *e, uint64_t now, uint64_t peer,
				const uint8_t *p, uint32_t len, int reason, const char *what)
{
	struct srd_stats b, a;
	int rc;

	srd_get_stats(e, &b);
	rc = recv_exact(e, now, peer, p, len, 0);
	srd_get_stats(e, &a);
	if (rc != -reason)
		fail_msg("%s: srd_recv returned %d (%s), want %d (%s)", what, rc,
			 rc ? srd_drop_reason_name(rc) : "taken", -reason,
			 srd_drop_reason_name(reason));
	assert_int_equal(a.rx_pkts, b.rx_pkts + 1);
	for (int r = 0; r < SRD_DROP_MAX; r++) {
		uint64_t want = b.drops[r] + (r == reason ? 1 : 0);

		if (a.drops[r] != want)
			fail_msg("%s: drops[%s] went %llu -> %llu, want %llu", what,
				 srd_drop_reason_name(r), (unsigned long long)b.drops[r],
				 (unsigned long long)a.drops[r], (unsigned long long)want);
	}
	assert_int_equal(a.rx_data_pkts, b.rx_data_pkts);
	assert_int_equal(a.rx_payload_bytes, b.rx_payload_bytes);
	assert_int_equal(a.rx_acks, b.rx_acks);
	assert_int_equal(a.msgs_delivered, b.msgs_delivered);
	assert_int_equal(a.msgs_completed, b.msgs_completed);
	assert_int_equal(a.msgs_failed, b.msgs_failed);
	assert_int_equal(a.conns_reset, b.conns_reset);
	assert_int_equal(a.rx_slots_used, b.rx_slots_used);
}

/* Give pkt to e: it must be taken, with no drop counted.  `what` names the check. */
static inline void expect_ok_(struct srd_engine *e, uint64_t now, uint64_t peer,
			      const uint8_t *p, uint32_t len, const char *what)
{
	struct srd_stats b, a;
	int rc;

	srd_get_stats(e, &b);
	rc = recv_exact(e, now, peer, p, len, 0);
	srd_get_stats(e, &a);
	if (rc != 0)
		fail_msg("%s: srd_recv returned %d (%s), want 0", what, rc, srd_drop_reason_name(rc));
	assert_int_equal(a.rx_pkts, b.rx_pkts + 1);
	assert_int_equal(drops_total(&a), drops_total(&b));
}

/* EXPECT_DROP / EXPECT_OK: expect_drop_() / expect_ok_() on side's engine at the link's
 * time, the check named by the reason and the line of the test. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define EXPECT_DROP(v, side, peer, p, len, reason)                                         \
	expect_drop_((v)->e[side], (v)->l->now, peer, p, len, reason,                      \
		     #reason " at line " STR(__LINE__))
#define EXPECT_OK(v, side, peer, p, len)                                                   \
	expect_ok_((v)->e[side], (v)->l->now, peer, p, len, "taken at line " STR(__LINE__))

/* The last message delivered at side is a legit one with this length and tag, intact. */
static inline void check_last_delivery(const struct env *v, int side, uint32_t len,
				       uint64_t tag)
{
	const struct host *h = &v->h[side];
	const struct delivery *d;

	assert_true(h->delivered > 0);
	d = &h->dl[(h->delivered - 1) % HOST_MAX_DL];
	assert_int_equal(d->peer, side == SIDE_B ? PEER_A : PEER_B);
	assert_int_equal(d->len, len);
	assert_int_equal(d->tag, tag);
	assert_int_equal(d->imm, tag ^ IMM_X);
	assert_int_equal(d->src_ep, EP_SRC);
	assert_int_equal(d->dst_ep, EP_DST);
	for (uint32_t i = 0; i < len; i++)
		if (d->data[i] != pattern(tag, i))
			fail_msg("delivered message (tag %llu) corrupted at byte %u: %#x, want %#x",
				 (unsigned long long)tag, i, d->data[i], pattern(tag, i));
}

#endif /* SRD_TEST_HARNESS_RECV_H */
