/*
 * test_badinput.c — the receive path of a real engine (srd_recv()) fed bad input.
 *
 * Requirement: the core's receive path takes arbitrary bytes (truncated, oversized, wrong
 * version, lengths and offsets beyond the message, PSNs outside the window, acks for packets
 * never sent, unknown connection ids).  Each is dropped and counted under its own reason,
 * never a crash, an out-of-bounds access or a corrupted message.
 *
 * One test per drop reason: two engines joined by the link harness establish a connection
 * (A sends one small message to B), then packets crafted with srd_wire_encode() (plus raw
 * byte edits where the encoder cannot produce them) are given to srd_recv().  Each check
 * asserts the return value is the negated reason, that drops[reason] went up by exactly one
 * and that no other drop counter moved; where it makes sense, a legitimate transfer on the
 * same engines afterwards must still deliver intact content, exactly once.
 *
 * Crafted DATA packets that are *accepted* (they consume a PSN) "mirror" the next message
 * the real sender A will send: same message id, PSN, tag, immediate and bytes.  The
 * connection then stays coherent and exactly-once delivery can be checked end to end.
 *
 * Four tests show core bugs found while writing these (they fail until the core is fixed):
 * test_ack_unsent_sack_wrap, test_ack_zero_credit, test_drop_no_side_effect_peer_id and
 * test_drop_no_side_effect_syn; each says what goes wrong above it.
 *
 * Last, seeded robustness runs: 200k random and mutated inputs each into engines with an
 * established connection and live traffic, every packet given from a heap copy of exactly
 * its length and every receive buffer allocated with exactly msg->len bytes, so that
 * AddressSanitizer catches a read or write past either.
 *
 * Run one test: SRD_TEST_FILTER=test_duplicate ./test_badinput
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h" /* srd_conn_isn() */
#include "link.h"
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
#define W_D_RSVD 38u
#define W_A_CE 40u
#define W_A_PKT 42u
#define W_N_REASON 24u
#define W_N_RSVD 25u
#define W_R_REASON 16u

#define PKT_CAP LINK_PKT_CAP

static uint8_t pbuf[PKT_CAP];  /* crafted packets */
static uint8_t obuf[PKT_CAP];  /* packets polled out of an engine */

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Content of a legit message with tag t. */
static uint8_t pattern(uint64_t tag, uint32_t i)
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

static void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
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
static struct rxbuf *rx_giveback(struct host *h, const struct srd_rx_msg *msg)
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

static void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
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

static void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct host *h = user;
	struct rxbuf *r = rx_giveback(h, msg);

	h->aborted++;
	if (r) {
		free(r->buf);
		free(r);
	}
}

static void cb_tx_done(void *user, void *ctx, int status)
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

static uint64_t xrand(uint64_t *s)
{
	return srd_rng_splitmix(s);
}

/* Only packets addressed to the engine at the other end cross the link (replies to made-up
 * peers vanish).  Optionally drops some data packets. */
static enum link_verdict env_filter(struct link *l, int from, const struct srd_tx_meta *m,
				    const uint8_t *pkt, uint32_t len, uint64_t n,
				    uint64_t *extra_delay, unsigned *ce)
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
static int send_msg(struct env *v, int side, uint32_t len, uint64_t tag)
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
static void settle(struct env *v)
{
	uint64_t lim = v->l->now + 5000000ull;

	while (v->l->now < lim && link_step(v->l))
		;
}

/* Read the connection ids of both ends; they must agree. */
static void env_ids(struct env *v)
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
static struct env *env_new(tweak_fn tweak)
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

static void env_release(struct env *v)
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
static int teardown_env(void **state)
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

static void env_free(struct env *v)
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

static struct srd_stats stats(const struct env *v, int side)
{
	struct srd_stats st;

	srd_get_stats(v->e[side], &st);
	return st;
}

static uint64_t drops_total(const struct srd_stats *st)
{
	uint64_t n = 0;

	for (int r = 0; r < SRD_DROP_MAX; r++)
		n += st->drops[r];
	return n;
}

/* PSN of the next data packet side will send (no retransmissions so far). */
static uint32_t next_psn(const struct env *v, int side)
{
	struct srd_stats st = stats(v, side);

	assert_int_equal(st.tx_retx_pkts, 0);
	return srd_conn_isn(v->id[side]) + (uint32_t)st.tx_data_pkts;
}

/* Message id of the next message side will send (no resets so far: ids count from 1). */
static uint32_t next_msg_id(const struct env *v, int side)
{
	return v->h[side].ntx + 1;
}

/* ---- crafting ---- */

/* Header of a DATA packet from side `from` of the connection (ids of the connection). */
static struct srd_pkt data_hdr(const struct env *v, int from, uint32_t psn, uint32_t msg_psn,
			       uint32_t msg_id, uint32_t msg_len, uint64_t tag)
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
static uint32_t craft(uint8_t *buf, const struct srd_pkt *p, int fill, int64_t payload_len)
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
static struct srd_pkt ack_hdr(const struct env *v, int from, uint32_t cum, uint32_t acked,
			      uint32_t sack_base, uint64_t sack)
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
		},
	};
}

/* ---- checks ---- */

/* Give pkt to e: it must be dropped for `reason`, counted once under it and under no other
 * reason, and change nothing that a taken packet would. */
static int recv_exact(struct srd_engine *e, uint64_t now, uint64_t peer, const uint8_t *p,
		      uint32_t len, unsigned ce)
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

static void expect_drop_(struct srd_engine *e, uint64_t now, uint64_t peer, const uint8_t *p,
			 uint32_t len, int reason, const char *what)
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

/* Give pkt to e: it must be taken, with no drop counted. */
static void expect_ok_(struct srd_engine *e, uint64_t now, uint64_t peer, const uint8_t *p,
		       uint32_t len, const char *what)
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

#define STR_(x) #x
#define STR(x) STR_(x)
#define EXPECT_DROP(v, side, peer, p, len, reason)                                         \
	expect_drop_((v)->e[side], (v)->l->now, peer, p, len, reason,                      \
		     #reason " at line " STR(__LINE__))
#define EXPECT_OK(v, side, peer, p, len)                                                   \
	expect_ok_((v)->e[side], (v)->l->now, peer, p, len, "taken at line " STR(__LINE__))

/* Poll one packet out of side's engine and decode it; returns its length (0: none). */
static int poll_one(struct env *v, int side, struct srd_tx_meta *m, struct srd_pkt *pkt)
{
	int n = srd_poll_tx(v->e[side], v->l->now, obuf, sizeof(obuf), m);

	assert_true(n >= 0);
	if (n > 0)
		assert_int_equal(srd_wire_decode(obuf, (size_t)n, pkt), 0);
	return n;
}

/* Throw away everything side owes right now. */
static void drain(struct env *v, int side)
{
	struct srd_tx_meta m;
	struct srd_pkt pkt;

	while (poll_one(v, side, &m, &pkt) > 0)
		;
}

/* The last message delivered at side is a legit one with this length and tag, intact. */
static void check_last_delivery(const struct env *v, int side, uint32_t len, uint64_t tag)
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

/* A legit message from -> 1-from is delivered intact exactly once and completes with 0.
 * strict: no drop of any reason on either side meanwhile. */
static void transfer_ok(struct env *v, int from, uint32_t len, uint64_t tag, int strict)
{
	int to = 1 - from;
	uint64_t d0 = v->h[to].delivered;
	struct srd_stats sa = stats(v, SIDE_A), sb = stats(v, SIDE_B);
	int i = send_msg(v, from, len, tag);

	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[to].delivered > d0 && v->h[from].tx_calls[i]);
	assert_int_equal(v->h[from].tx_status[i], 0);
	settle(v);
	assert_int_equal(v->h[to].delivered, d0 + 1);
	check_last_delivery(v, to, len, tag);
	if (strict) {
		struct srd_stats a2 = stats(v, SIDE_A), b2 = stats(v, SIDE_B);

		assert_int_equal(drops_total(&a2), drops_total(&sa));
		assert_int_equal(drops_total(&b2), drops_total(&sb));
	}
}

/* Both directions still work, intact and without drops. */
static void still_works(struct env *v)
{
	transfer_ok(v, SIDE_A, 10000, 0x77, 1); /* several segments */
	transfer_ok(v, SIDE_B, 3000, 0x78, 1);
	transfer_ok(v, SIDE_A, 0, 0x79, 1);     /* empty message */
}

/* ---- one test per drop reason ---- */

static void test_truncated(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, 99, 1000, 5);
	struct srd_pkt a = ack_hdr(v, SIDE_A, p, p - 1, 0, 0);

	(void)state;
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, 0, SRD_DROP_TRUNCATED);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, 1, SRD_DROP_TRUNCATED);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_COMMON_LEN - 1, SRD_DROP_TRUNCATED);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_COMMON_LEN, SRD_DROP_TRUNCATED);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_DATA_LEN - 1, SRD_DROP_TRUNCATED);
	/* segment 0 also carries the immediate: 48 bytes are not enough */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_DATA_LEN, SRD_DROP_TRUNCATED);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_MAX_LEN - 1, SRD_DROP_TRUNCATED);
	assert_true(n > SRD_HDR_MAX_LEN);
	/* each control type, one byte short (every packet is given from a heap copy of exactly
	 * its length, so a read past it would be an ASan report) */
	struct srd_pkt ctl[4] = { a, a, a, a };
	ctl[1].type = SRD_PKT_NACK;
	ctl[1].u.nack = (struct srd_nack_fields){ .reason = SRD_NACK_RNR };
	ctl[2].type = SRD_PKT_PROBE;
	ctl[2].u.probe = (struct srd_probe_fields){ .tx_ts = 1, .cookie = 1 };
	ctl[3].type = SRD_PKT_RESET;
	ctl[3].u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	for (int t = 0; t < 4; t++) {
		uint32_t len = craft(pbuf, &ctl[t], -1, -1);

		EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, len - 1, SRD_DROP_TRUNCATED);
	}
	still_works(v);
	env_free(v);
}

static void test_bad_version(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A);
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	uint32_t n = craft(pbuf, &d, -1, -1);
	static const uint8_t versions[] = { 0, 2, 3, 15 };

	(void)state;
	for (unsigned i = 0; i < sizeof(versions); i++) {
		pbuf[W_VER_TYPE] = (uint8_t)(versions[i] << 4 | SRD_PKT_DATA);
		EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_VERSION);
	}
	/* version before type: a bad version with a bad type is a bad version */
	pbuf[W_VER_TYPE] = 0x0f;
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_VERSION);
	/* at exactly the common header's length the version is judged first */
	pbuf[W_VER_TYPE] = 0x21;
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_COMMON_LEN, SRD_DROP_BAD_VERSION);
	still_works(v);
	env_free(v);
}

static void test_bad_type(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A);
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	uint32_t n = craft(pbuf, &d, -1, -1);
	static const uint8_t types[] = { 0, 6, 7, 15 };

	(void)state;
	for (unsigned i = 0; i < sizeof(types); i++) {
		pbuf[W_VER_TYPE] = (uint8_t)(SRD_WIRE_VERSION << 4 | types[i]);
		EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_TYPE);
		EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, SRD_HDR_COMMON_LEN, SRD_DROP_BAD_TYPE);
	}
	still_works(v);
	env_free(v);
}

static void test_bad_header(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	struct srd_pkt a = ack_hdr(v, SIDE_B, next_psn(v, SIDE_A), p - 1, 0, 0);

	(void)state;
	/* DATA into B */
	n = craft(pbuf, &d, -1, -1);
	pbuf[W_FLAGS] |= 0x80; /* unknown flag */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	pbuf[W_FLAGS] |= SRD_F_ECE; /* a flag DATA may not carry */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	pbuf[W_RSVD] = 1;
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	wr32(pbuf + W_SRC, 0); /* src_conn 0 */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	wr32(pbuf + W_DST, 0); /* dst_conn 0 without SYN */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	wr16(pbuf + W_D_RSVD, 0x0100);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &d, -1, -1);
	wr16(pbuf + W_D_SEG, 0); /* seg_size 0 with a non-empty message */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_HEADER);

	/* ACK into A */
	n = craft(pbuf, &a, -1, -1);
	wr16(pbuf + W_A_CE, 5); /* ce_count 5 > pkt_count 1 */
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &a, -1, -1);
	pbuf[W_FLAGS] = SRD_F_REPLY; /* a flag ACK may not carry */
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);

	/* NACK into A */
	struct srd_pkt nk = a;
	nk.type = SRD_PKT_NACK;
	nk.psn = p - 1;
	nk.u.nack = (struct srd_nack_fields){ .cum_psn = p, .reason = SRD_NACK_RNR, .retry_ns = 1000 };
	n = craft(pbuf, &nk, -1, -1);
	pbuf[W_N_REASON] = 0;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);
	pbuf[W_N_REASON] = 3;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &nk, -1, -1);
	pbuf[W_N_RSVD + 2] = 1;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);

	/* RESET into A: unknown reason, or a SYN flag (so no RESET without a destination) */
	struct srd_pkt rs = a;
	rs.type = SRD_PKT_RESET;
	rs.u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	n = craft(pbuf, &rs, -1, -1);
	wr32(pbuf + W_R_REASON, 3);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);
	n = craft(pbuf, &rs, -1, -1);
	pbuf[W_FLAGS] = SRD_F_SYN;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);
	wr32(pbuf + W_DST, 0);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_BAD_HEADER);

	/* nothing was reset: both directions still work */
	still_works(v);
	env_free(v);
}

static void test_bad_length(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n, seg = v->cfg[SIDE_A].seg_size;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d0 = data_hdr(v, SIDE_A, p, p, id, 3 * seg - 10, 5);
	struct srd_pkt d1 = data_hdr(v, SIDE_A, p + 1, p, id, 3 * seg - 10, 5);
	struct srd_pkt d2 = data_hdr(v, SIDE_A, p + 2, p, id, 3 * seg - 10, 5);
	struct srd_pkt e0 = data_hdr(v, SIDE_A, p, p, id, 0, 5);
	struct srd_pkt a = ack_hdr(v, SIDE_B, p, p - 1, 0, 0);

	(void)state;
	/* oversized: one extra byte, on the first, a middle and the last segment */
	n = craft(pbuf, &d0, -1, seg + 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	n = craft(pbuf, &d1, -1, seg + 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	n = craft(pbuf, &d2, -1, seg - 10 + 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	n = craft(pbuf, &e0, -1, 1); /* an empty message with a byte */
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	/* a payload one byte short */
	n = craft(pbuf, &d0, -1, seg - 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	n = craft(pbuf, &d1, -1, seg - 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	n = craft(pbuf, &d2, -1, seg - 10 - 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	/* no payload at all where one is due (the header is complete) */
	n = craft(pbuf, &d1, -1, 0);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_LENGTH);
	/* control packets carry nothing past their layout */
	n = craft(pbuf, &a, -1, -1);
	pbuf[n] = 0;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n + 1, SRD_DROP_BAD_LENGTH);
	struct srd_pkt pr = a;
	pr.type = SRD_PKT_PROBE;
	pr.u.probe = (struct srd_probe_fields){ .tx_ts = 1, .cookie = 1 };
	n = craft(pbuf, &pr, -1, -1);
	pbuf[n] = 0;
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n + 1, SRD_DROP_BAD_LENGTH);
	still_works(v);
	env_free(v);
}

static void test_bad_offset(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n, seg = v->cfg[SIDE_A].seg_size;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d;

	(void)state;
	/* segment index 3 of a 3-segment message */
	d = data_hdr(v, SIDE_A, p + 3, p, id, 3 * seg, 5);
	n = craft(pbuf, &d, 0xee, seg);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	n = craft(pbuf, &d, 0xee, 0);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	/* segment 1 of an empty message, and of a one-segment message */
	d = data_hdr(v, SIDE_A, p + 1, p, id, 0, 5);
	n = craft(pbuf, &d, 0xee, 0);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	d = data_hdr(v, SIDE_A, p + 1, p, id, seg, 5);
	n = craft(pbuf, &d, 0xee, seg);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	/* a PSN before its message's first PSN (huge modular index) */
	d = data_hdr(v, SIDE_A, p, p + 1, id, 3 * seg, 5);
	n = craft(pbuf, &d, 0xee, seg);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	/* index past a huge message of tiny segments */
	d = data_hdr(v, SIDE_A, p + 100, p, id, 100, 5);
	d.u.data.seg_size = 1;
	n = craft(pbuf, &d, 0xee, 1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_BAD_OFFSET);
	still_works(v);
	env_free(v);
}

static void tweak_small_msgs(struct srd_config *a, struct srd_config *b)
{
	(void)a;
	b->max_msg_size = 64u << 10;
}

static void test_msg_too_big(void **state)
{
	struct env *v = env_new(tweak_small_msgs);
	uint32_t p = next_psn(v, SIDE_A), n;
	uint32_t id = next_msg_id(v, SIDE_A), big = (64u << 10) + 1;
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, id, big, 0x42);
	struct srd_tx_meta m;
	struct srd_pkt out;
	struct srd_stats a0, b0, a1, b1;

	(void)state;
	/* mirrors segment 0 of the message A sends next */
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_TOO_BIG);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 1); /* the set-up message only */
	/* the receiver says why */
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(m.type, SRD_PKT_NACK);
	assert_int_equal(m.peer, PEER_A);
	assert_int_equal(out.type, SRD_PKT_NACK);
	assert_int_equal(out.u.nack.reason, SRD_NACK_TOO_BIG);
	assert_int_equal(out.psn, p);
	assert_int_equal(out.dst_conn, v->id[SIDE_A]);
	assert_int_equal(out.src_conn, v->id[SIDE_B]);
	drain(v, SIDE_B); /* A has not sent p yet: its ack would be for an unsent PSN */

	/* end to end: A sends that message; it fails with -EMSGSIZE, nothing is delivered */
	a0 = stats(v, SIDE_A);
	b0 = stats(v, SIDE_B);
	int i = send_msg(v, SIDE_A, big, 0x42);
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], -EMSGSIZE);
	settle(v);
	a1 = stats(v, SIDE_A);
	b1 = stats(v, SIDE_B);
	assert_int_equal(v->h[SIDE_B].delivered, 1);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 1);
	assert_int_equal(drops_total(&a1), drops_total(&a0));
	assert_true(b1.drops[SRD_DROP_MSG_TOO_BIG] > b0.drops[SRD_DROP_MSG_TOO_BIG]);
	for (int r = 0; r < SRD_DROP_MAX; r++)
		if (r != SRD_DROP_MSG_TOO_BIG && r != SRD_DROP_DUPLICATE)
			assert_int_equal(b1.drops[r], b0.drops[r]);
	assert_int_equal(b1.rx_slots_used, 0);
	/* and the connection carries on */
	still_works(v);
	env_free(v);
}

static void test_unknown_conn(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	struct srd_tx_meta m;
	struct srd_pkt out;
	uint32_t bad;

	(void)state;
	/* a slot B never used (B has one connection: slot 0) */
	bad = (v->id[SIDE_B] & 0xffff0000u) | 5u;
	d.dst_conn = bad;
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_UNKNOWN_CONN);
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(m.type, SRD_PKT_RESET);
	assert_int_equal(m.peer, PEER_A);
	assert_int_equal(out.type, SRD_PKT_RESET);
	assert_int_equal(out.u.reset.reason, SRD_RESET_UNKNOWN_CONN);
	assert_int_equal(out.dst_conn, v->id[SIDE_A]);
	assert_int_equal(out.src_conn, bad);
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	/* slot bits 0 (no slot at all), from a peer B does not know */
	d.dst_conn = 0x12340000u;
	d.src_conn = 0x00aa0003u;
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, 42, pbuf, n, SRD_DROP_UNKNOWN_CONN);
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(m.peer, 42);
	assert_int_equal(out.type, SRD_PKT_RESET);
	assert_int_equal(out.dst_conn, 0x00aa0003u);
	assert_int_equal(out.src_conn, 0x12340000u);
	/* an ACK to a slot out of range: also a RESET */
	struct srd_pkt a = ack_hdr(v, SIDE_B, 1, 0, 0, 0);
	a.dst_conn = 0xffffffffu;
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_UNKNOWN_CONN);
	assert_true(poll_one(v, SIDE_A, &m, &out) > 0);
	assert_int_equal(out.type, SRD_PKT_RESET);
	/* a RESET to an unknown connection is dropped without an answer (no reset storms) */
	struct srd_pkt rs = a;
	rs.type = SRD_PKT_RESET;
	rs.u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	n = craft(pbuf, &rs, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_UNKNOWN_CONN);
	assert_int_equal(poll_one(v, SIDE_A, &m, &out), 0);
	assert_int_equal(stats(v, SIDE_A).conns_created, 1);
	assert_int_equal(stats(v, SIDE_B).conns_created, 1);
	still_works(v);
	env_free(v);
}

static void test_stale_conn(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n, old_b = v->id[SIDE_B];
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* right slot, wrong incarnation (upper 16 bits): dropped, and the sender is reset */
	d.dst_conn = old_b ^ 0x00010000u;
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_STALE_CONN);
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(out.type, SRD_PKT_RESET);
	assert_int_equal(out.u.reset.reason, SRD_RESET_UNKNOWN_CONN);
	assert_int_equal(out.dst_conn, v->id[SIDE_A]);
	assert_int_equal(out.src_conn, old_b ^ 0x00010000u);
	assert_int_equal(m.peer, PEER_A);
	/* right destination, but the sender's id is not the incarnation B knows */
	d.dst_conn = old_b;
	d.src_conn = v->id[SIDE_A] ^ 0x00200000u;
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_STALE_CONN);
	/* the same for an ACK into A */
	struct srd_pkt a = ack_hdr(v, SIDE_B, p, p - 1, 0, 0);
	a.dst_conn ^= 0x00400000u;
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_STALE_CONN);
	drain(v, SIDE_A);
	drain(v, SIDE_B);
	still_works(v);

	/* a real earlier incarnation: A's RESET makes B start over under a new id ... */
	struct srd_pkt rs = ack_hdr(v, SIDE_A, 0, 0, 0, 0);
	rs.type = SRD_PKT_RESET;
	rs.u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	n = craft(pbuf, &rs, -1, -1);
	EXPECT_OK(v, SIDE_B, PEER_A, pbuf, n);
	struct srd_conn_info ib;
	assert_true(srd_conn_info(v->e[SIDE_B], PEER_A, &ib, NULL, 0) > 0);
	assert_int_not_equal(ib.local_id, old_b);
	assert_int_equal(ib.local_id & 0xffffu, old_b & 0xffffu);
	/* ... so a packet for the old one is stale */
	p = next_psn(v, SIDE_A);
	d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_STALE_CONN);
	drain(v, SIDE_B);
	/* A's next message meets the same fate: A is told, fails it and starts over */
	uint64_t delivered = v->h[SIDE_B].delivered;
	int i = send_msg(v, SIDE_A, 500, 0x31);
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], -ECONNRESET);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, delivered);
	/* the next one opens a new connection and arrives intact */
	transfer_ok(v, SIDE_A, 7000, 0x32, 0);
	env_ids(v);
	assert_int_equal(v->id[SIDE_B], ib.local_id);
	transfer_ok(v, SIDE_B, 7000, 0x33, 1);
	env_free(v);
}

static void test_peer_mismatch(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, next_msg_id(v, SIDE_A), 100, 5);
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* the right ids, from another peer */
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, 7, pbuf, n, SRD_DROP_PEER_MISMATCH);
	EXPECT_DROP(v, SIDE_B, PEER_B, pbuf, n, SRD_DROP_PEER_MISMATCH);
	struct srd_pkt a = ack_hdr(v, SIDE_B, p, p - 1, 0, 0);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, 9, pbuf, n, SRD_DROP_PEER_MISMATCH);
	struct srd_pkt rs = a;
	rs.type = SRD_PKT_RESET;
	rs.u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	n = craft(pbuf, &rs, -1, -1);
	EXPECT_DROP(v, SIDE_A, 9, pbuf, n, SRD_DROP_PEER_MISMATCH);
	/* no answer to anyone, no connection made */
	assert_int_equal(poll_one(v, SIDE_A, &m, &out), 0);
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	assert_int_equal(stats(v, SIDE_A).conns_created, 1);
	assert_int_equal(stats(v, SIDE_B).conns_created, 1);
	still_works(v);
	env_free(v);
}

static void tweak_one_conn(struct srd_config *a, struct srd_config *b)
{
	(void)a;
	b->max_conns = 1;
}

static void test_conn_table_full(void **state)
{
	struct env *v = env_new(tweak_one_conn);
	uint32_t n;
	struct srd_pkt d = data_hdr(v, SIDE_A, 1000, 1000, 1, 100, 5);
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* a second peer opens a connection: SYN data, no destination id */
	d.flags |= SRD_F_SYN;
	d.dst_conn = 0;
	d.src_conn = 0x00770001u;
	d.psn = d.u.data.msg_psn = srd_conn_isn(d.src_conn);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, 5, pbuf, n, SRD_DROP_CONN_TABLE_FULL);
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(m.peer, 5);
	assert_int_equal(out.type, SRD_PKT_RESET);
	assert_int_equal(out.u.reset.reason, SRD_RESET_TABLE_FULL);
	assert_int_equal(out.dst_conn, 0x00770001u);
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	EXPECT_DROP(v, SIDE_B, 6, pbuf, n, SRD_DROP_CONN_TABLE_FULL);
	drain(v, SIDE_B);
	assert_int_equal(stats(v, SIDE_B).conns_created, 1);
	assert_int_equal(stats(v, SIDE_B).conns_active, 1);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 1);
	still_works(v);
	env_free(v);
}

static void test_psn_window(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n, w = v->cfg[SIDE_B].rx_window;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d;
	struct srd_tx_meta m;
	struct srd_pkt out;
	uint32_t ahead[] = { 0, 1, 1000, 0x7fffffffu - 1000 - w, 0x7fffffffu - w };

	(void)state;
	/* rcv_nxt + rx_window is the first PSN beyond the window */
	for (unsigned i = 0; i < sizeof(ahead) / sizeof(ahead[0]); i++) {
		d = data_hdr(v, SIDE_A, p + w + ahead[i], p + w + ahead[i], id, 100, 5);
		n = craft(pbuf, &d, -1, -1);
		EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_PSN_WINDOW);
	}
	/* a later segment of a message that starts inside the window */
	d = data_hdr(v, SIDE_A, p + w, p + w - 1, id, 2 * v->cfg[SIDE_A].seg_size, 5);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_PSN_WINDOW);
	/* not acked, nothing reserved */
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 1);
	still_works(v);
	env_free(v);
}

static void test_duplicate(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, id, 1500, 0x51);
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* a copy of A's first (old, already delivered) packet */
	memcpy(pbuf, v->first_data, v->first_len);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, v->first_len, SRD_DROP_DUPLICATE);
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0); /* re-acked at once */
	assert_int_equal(out.type, SRD_PKT_ACK);
	assert_int_equal(out.u.ack.acked_psn, srd_conn_isn(v->id[SIDE_A]));
	assert_int_equal(out.psn, p);
	/* that ack is harmless at A (acks reorder) */
	EXPECT_OK(v, SIDE_A, PEER_B, obuf, (uint32_t)srd_wire_encode(&out, obuf, sizeof(obuf)));

	/* a new valid packet, twice: delivered once */
	n = craft(pbuf, &d, -1, -1); /* mirrors the message A sends next */
	EXPECT_OK(v, SIDE_B, PEER_A, pbuf, n);
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	check_last_delivery(v, SIDE_B, 1500, 0x51);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_DUPLICATE);
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 2);
	/* the duplicate is acked again, naming it */
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(out.type, SRD_PKT_ACK);
	assert_int_equal(out.u.ack.acked_psn, p);
	assert_int_equal(out.psn, p + 1);
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	/* a duplicate with a CE mark is still only a duplicate */
	{
		struct srd_stats b0 = stats(v, SIDE_B);
		assert_int_equal(recv_exact(v->e[SIDE_B], v->l->now, PEER_A, pbuf, n, 1),
				 -SRD_DROP_DUPLICATE);
		struct srd_stats b1 = stats(v, SIDE_B);
		assert_int_equal(b1.drops[SRD_DROP_DUPLICATE], b0.drops[SRD_DROP_DUPLICATE] + 1);
		assert_int_equal(drops_total(&b1), drops_total(&b0) + 1);
	}
	drain(v, SIDE_B);

	/* A now really sends that message: B has it already, so it is acked, not redelivered */
	int i = send_msg(v, SIDE_A, 1500, 0x51);
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	still_works(v);
	env_free(v);
}

static void test_ack_unsent(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t S = next_psn(v, SIDE_A), n, tw = v->cfg[SIDE_A].tx_window;
	struct srd_pkt a;
	struct srd_conn_info ia;

	(void)state;
	/* nothing in flight: snd_una == snd_nxt == S */
	a = ack_hdr(v, SIDE_B, S + 1, S - 1, 0, 0); /* cumulative PSN past snd_nxt */
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S + 100000, S - 1, 0, 0);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S, 0, 0); /* acked PSN at snd_nxt */
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S + 7, 0, 0);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S - 1, S - 8, 1ull << 8); /* SACK bit at snd_nxt */
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S - 1, S - 8, 1ull | 1ull << 63); /* last SACK bit far out */
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	/* NACKs for a PSN never sent, or long gone */
	struct srd_pkt nk = a;
	nk.type = SRD_PKT_NACK;
	nk.u.nack = (struct srd_nack_fields){ .cum_psn = S, .reason = SRD_NACK_RNR, .retry_ns = 1000 };
	nk.psn = S;
	n = craft(pbuf, &nk, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	nk.u.nack.reason = SRD_NACK_TOO_BIG;
	nk.psn = S + 5;
	n = craft(pbuf, &nk, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	nk.psn = S - tw - 1;
	n = craft(pbuf, &nk, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	/* control: an old ack is fine */
	a = ack_hdr(v, SIDE_B, S, S - 1, S - 8, 1ull << 7);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_OK(v, SIDE_A, PEER_B, pbuf, n);

	/* with data in flight: three segments leave A but are held back */
	uint32_t seg = v->cfg[SIDE_A].seg_size, len = 3 * seg - 100;
	int i = send_msg(v, SIDE_A, len, 0x61);
	uint8_t *held[3];
	uint32_t held_len[3];
	struct srd_tx_meta m;
	struct srd_pkt out;

	assert_true(i >= 0);
	for (int k = 0; k < 3; k++) {
		int pl = poll_one(v, SIDE_A, &m, &out);

		assert_true(pl > 0);
		assert_int_equal(out.type, SRD_PKT_DATA);
		assert_int_equal(out.psn, S + (uint32_t)k);
		held[k] = malloc((size_t)pl);
		assert_non_null(held[k]);
		memcpy(held[k], obuf, (size_t)pl);
		held_len[k] = (uint32_t)pl;
	}
	/* snd_nxt = S + 3 */
	a = ack_hdr(v, SIDE_B, S + 4, S, 0, 0);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S + 3, 0, 0);
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	a = ack_hdr(v, SIDE_B, S, S - 1, S, 0x7); /* S, S+1, S+2 and ... */
	a.u.ack.sack |= 1ull << 3;                /* ... S+3, never sent */
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	nk.psn = S + 3;
	nk.u.nack.reason = SRD_NACK_TOO_BIG;
	n = craft(pbuf, &nk, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	/* none of it acked or refused anything */
	assert_true(srd_conn_info(v->e[SIDE_A], PEER_B, &ia, NULL, 0) > 0);
	assert_int_equal(ia.inflight, 3);
	assert_int_equal(v->h[SIDE_A].tx_calls[i], 0);
	/* the held packets arrive; the message completes and is intact */
	for (int k = 0; k < 3; k++) {
		EXPECT_OK(v, SIDE_B, PEER_A, held[k], held_len[k]);
		free(held[k]);
	}
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	check_last_delivery(v, SIDE_B, len, 0x61);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	still_works(v);
	env_free(v);
}

static void tweak_small_tx_window(struct srd_config *a, struct srd_config *b)
{
	(void)b;
	a->tx_window = 16;
}

/*
 * SACK bits that lie half the PSN space away: ack_is_sane() checks only the highest SACK
 * bit against snd_nxt, but the loop in tx_on_ack() takes every bit p with snd_una <= p
 * (modular).  When the bitmap straddles the point 2^31 away from snd_nxt, its highest bit
 * compares "before" snd_nxt while lower bits compare "after" it; with a tx_window smaller
 * than the 64-bit bitmap those PSNs alias in-flight records, which get acked although the
 * receiver never saw them.
 */
static void test_ack_unsent_sack_wrap(void **state)
{
	struct env *v = env_new(tweak_small_tx_window);
	uint32_t S = next_psn(v, SIDE_A), n, seg = v->cfg[SIDE_A].seg_size;
	int i = send_msg(v, SIDE_A, 10 * seg, 0x71);
	struct srd_tx_meta m;
	struct srd_pkt out, a;
	struct srd_conn_info ia;

	(void)state;
	assert_true(i >= 0);
	for (int k = 0; k < 10; k++) /* ten segments in flight, held back: snd_nxt = S + 10 */
		assert_true(poll_one(v, SIDE_A, &m, &out) > 0);
	/* highest bit (26) at snd_nxt - 2^31: "before" snd_nxt.  Bits 0..9 are the PSNs
	 * S + 10 - 2^31 - 26 + j, j = 0..9: "after" snd_nxt (never sent), and congruent to
	 * S .. S + 9 modulo the 16-entry tx window. */
	uint32_t snd_nxt = S + 10, base = snd_nxt - 0x80000000u - 26;
	a = ack_hdr(v, SIDE_B, S, S - 1, base, 0x3ffull | 1ull << 26);
	n = craft(pbuf, &a, -1, -1);
	struct srd_stats a0 = stats(v, SIDE_A);
	int rc = recv_exact(v->e[SIDE_A], v->l->now, PEER_B, pbuf, n, 0);
	struct srd_stats a1 = stats(v, SIDE_A);
	assert_true(srd_conn_info(v->e[SIDE_A], PEER_B, &ia, NULL, 0) > 0);
	if (rc != -SRD_DROP_ACK_UNSENT)
		fail_msg("ACK with SACK bits 2^31 away: srd_recv returned %d (%s), want ack_unsent; "
			 "in flight now %u of 10, message %s (status %d), B delivered %llu message(s) (the set-up one)",
			 rc, rc ? srd_drop_reason_name(rc) : "taken", ia.inflight,
			 v->h[SIDE_A].tx_calls[i] ? "COMPLETED" : "pending", v->h[SIDE_A].tx_status[i],
			 (unsigned long long)v->h[SIDE_B].delivered);
	assert_int_equal(a1.drops[SRD_DROP_ACK_UNSENT], a0.drops[SRD_DROP_ACK_UNSENT] + 1);
	assert_int_equal(ia.inflight, 10);
	assert_int_equal(v->h[SIDE_A].tx_calls[i], 0);
	env_free(v);
}

/*
 * An ACK granting a credit of 0 is taken (it is well formed and names only sent PSNs), and
 * from then on the sender may not use a PSN: with nothing in flight no ack will ever raise
 * the credit again, and nothing (no timer, no window probe) gets the sender going.  A message
 * accepted afterwards is neither delivered nor failed: the engine has no deadline at all.
 * DESIGN §3: "every accepted message is delivered exactly once, or the sender gets an error
 * completion".
 */
static void test_ack_zero_credit(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t S = next_psn(v, SIDE_A), n;
	struct srd_pkt a = ack_hdr(v, SIDE_B, S, S - 1, 0, 0);

	(void)state;
	a.u.ack.credit = 0;
	n = craft(pbuf, &a, -1, -1);
	(void)srd_recv(v->e[SIDE_A], v->l->now, PEER_B, pbuf, n, 0); /* taken or dropped */
	int i = send_msg(v, SIDE_A, 100, 0x65);
	assert_true(i >= 0);
	uint64_t lim = v->l->now + 1000000000ull;
	while (!v->h[SIDE_A].tx_calls[i] && v->l->now < lim && link_step(v->l))
		;
	if (!v->h[SIDE_A].tx_calls[i])
		fail_msg("after an ACK with credit 0 a message never completes (engine deadline %s)",
			 srd_next_deadline(v->e[SIDE_A]) == SRD_NO_DEADLINE ? "none" : "set");
	env_free(v);
}

/*
 * A dropped packet must leave the connection as it was.  While a connection does not know
 * its peer's id yet (after a reset, or before the first answer), conn_for_packet() adopts the
 * packet's src_conn before the packet is judged; an ACK that is then dropped (here for an
 * unsent PSN) leaves that id behind.  The real peer's packets become stale, A's data goes to
 * the bogus id, the peer answers with a RESET, and A's message fails with -ECONNRESET: never
 * delivered, because of a packet counted as dropped.
 */
static void test_drop_no_side_effect_peer_id(void **state)
{
	struct env *v = env_new(NULL);
	struct srd_conn_info ia;
	uint32_t n;

	(void)state;
	/* B tells A it forgot the connection: A starts over and waits to learn B's id */
	struct srd_pkt rs = ack_hdr(v, SIDE_B, 0, 0, 0, 0);
	rs.type = SRD_PKT_RESET;
	rs.u.reset.reason = SRD_RESET_UNKNOWN_CONN;
	n = craft(pbuf, &rs, -1, -1);
	EXPECT_OK(v, SIDE_A, PEER_B, pbuf, n);
	assert_true(srd_conn_info(v->e[SIDE_A], PEER_B, &ia, NULL, 0) > 0);
	assert_int_equal(ia.peer_id, 0);
	int i = send_msg(v, SIDE_A, 100, 0x45);
	assert_true(i >= 0);
	/* an ACK for A's connection from an id B never had, naming a PSN A never sent */
	uint32_t S = srd_conn_isn(ia.local_id);
	struct srd_pkt a = ack_hdr(v, SIDE_B, S, S + 5, 0, 0);
	a.dst_conn = ia.local_id;
	a.src_conn = v->id[SIDE_B] ^ 0x00010000u;
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_A, PEER_B, pbuf, n, SRD_DROP_ACK_UNSENT);
	assert_true(srd_conn_info(v->e[SIDE_A], PEER_B, &ia, NULL, 0) > 0);
	if (ia.peer_id != 0)
		fail_msg("a dropped ACK set the connection's peer id to %#x", ia.peer_id);
	uint64_t d0 = v->h[SIDE_B].delivered;
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, d0 + 1);
	check_last_delivery(v, SIDE_B, 100, 0x45);
	env_free(v);
}

/*
 * The same for set-up: a SYN data packet naming a new sender id makes conn_for_packet() reset
 * the established connection (peer restart) before rx_on_data() judges the packet.  A SYN
 * whose PSN is outside the new incarnation's window is dropped (psn_window), but the reset
 * has happened: B's messages fail, its partial receives are aborted, its id changes.
 */
static void test_drop_no_side_effect_syn(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t n, src = v->id[SIDE_A] ^ 0x00010000u;
	struct srd_pkt d = data_hdr(v, SIDE_A, 0, 0, 1, 100, 5);
	struct srd_conn_info ib;

	(void)state;
	d.flags |= SRD_F_SYN;
	d.dst_conn = 0;
	d.src_conn = src;
	d.psn = d.u.data.msg_psn = srd_conn_isn(src) + v->cfg[SIDE_B].rx_window;
	n = craft(pbuf, &d, -1, -1);
	struct srd_stats b0 = stats(v, SIDE_B);
	int rc = recv_exact(v->e[SIDE_B], v->l->now, PEER_A, pbuf, n, 0);
	struct srd_stats b1 = stats(v, SIDE_B);
	assert_true(srd_conn_info(v->e[SIDE_B], PEER_A, &ib, NULL, 0) > 0);
	if (rc < 0 && (b1.conns_reset != b0.conns_reset || ib.local_id != v->id[SIDE_B] ||
		       ib.peer_id != v->id[SIDE_A]))
		fail_msg("a SYN dropped as %s reset the connection (resets %llu -> %llu, B's id "
			 "%#x -> %#x, peer id %#x -> %#x)", srd_drop_reason_name(rc),
			 (unsigned long long)b0.conns_reset, (unsigned long long)b1.conns_reset,
			 v->id[SIDE_B], ib.local_id, v->id[SIDE_A], ib.peer_id);
	assert_int_equal(rc, -SRD_DROP_PSN_WINDOW);
	assert_int_equal(b1.drops[SRD_DROP_PSN_WINDOW], b0.drops[SRD_DROP_PSN_WINDOW] + 1);
	assert_int_equal(drops_total(&b1), drops_total(&b0) + 1);
	still_works(v);
	env_free(v);
}

static void test_msg_mismatch(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n, seg = v->cfg[SIDE_A].seg_size;
	uint32_t id = next_msg_id(v, SIDE_A), len = 2 * seg + 1000;
	struct srd_pkt d0 = data_hdr(v, SIDE_A, p, p, id, len, 0x81);
	struct srd_pkt d;

	(void)state;
	/* segment 0 of the message A sends next: taken, a slot is opened */
	n = craft(pbuf, &d0, -1, -1);
	EXPECT_OK(v, SIDE_B, PEER_A, pbuf, n);
	assert_int_equal(stats(v, SIDE_B).rx_slots_used, 1);
	/* segment 1 disagreeing on the tag */
	d = data_hdr(v, SIDE_A, p + 1, p, id, len, 0x81 ^ 1);
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	/* on the length (shorter: segment 1 still full; longer) */
	d = data_hdr(v, SIDE_A, p + 1, p, id, len - 500, 0x81);
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	d = data_hdr(v, SIDE_A, p + 2, p, id, len + seg, 0x81);
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	/* on the segment size (a bigger last segment would overrun the buffer) */
	d = data_hdr(v, SIDE_A, p + 2, p, id, len, 0x81);
	d.u.data.seg_size = (uint16_t)(seg / 2);
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	/* on the first PSN (segment index shifted) */
	d = data_hdr(v, SIDE_A, p + 2, p + 1, id, len, 0x81);
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	/* on the endpoints */
	d = data_hdr(v, SIDE_A, p + 1, p, id, len, 0x81);
	d.u.data.dst_ep = EP_DST + 1;
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	d.u.data.dst_ep = EP_DST;
	d.u.data.src_ep = EP_SRC + 1;
	n = craft(pbuf, &d, 0xee, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_MSG_MISMATCH);
	assert_int_equal(v->h[SIDE_B].delivered, 1);
	assert_int_equal(stats(v, SIDE_B).rx_slots_used, 1);
	drain(v, SIDE_B);

	/* A sends the message: segment 0 is a duplicate, the rest completes it, intact */
	int i = send_msg(v, SIDE_A, len, 0x81);
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	check_last_delivery(v, SIDE_B, len, 0x81);
	assert_int_equal(stats(v, SIDE_B).rx_slots_used, 0);
	still_works(v);
	env_free(v);
}

static void test_no_buffer(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t p = next_psn(v, SIDE_A), n;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d = data_hdr(v, SIDE_A, p, p, id, 1000, 0x91);
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	v->h[SIDE_B].fail_alloc = 1;
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_NO_BUFFER);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 2);
	/* the sender is told to retry later */
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(out.type, SRD_PKT_NACK);
	assert_int_equal(out.u.nack.reason, SRD_NACK_RNR);
	assert_int_equal(out.psn, p);
	assert_int_equal(out.u.nack.cum_psn, p);
	assert_int_equal(out.u.nack.retry_ns, v->cfg[SIDE_B].rnr_delay_ns);
	assert_int_equal(out.dst_conn, v->id[SIDE_A]);
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0); /* nothing to ack: PSN not taken */
	/* the same packet once a buffer can be had: taken */
	v->h[SIDE_B].fail_alloc = 0;
	EXPECT_OK(v, SIDE_B, PEER_A, pbuf, n);
	assert_int_equal(v->h[SIDE_B].delivered, 2);
	check_last_delivery(v, SIDE_B, 1000, 0x91);
	drain(v, SIDE_B);
	int i = send_msg(v, SIDE_A, 1000, 0x91); /* what A really sends there: a duplicate */
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, 2);

	/* end to end: B has no buffers for a while; A is told RNR, waits, and gets through */
	v->h[SIDE_B].fail_alloc = 1;
	struct srd_stats a0 = stats(v, SIDE_A), b0 = stats(v, SIDE_B);
	i = send_msg(v, SIDE_A, 5000, 0x92);
	assert_true(i >= 0);
	RUN_UNTIL(v, stats(v, SIDE_A).rnr_received >= a0.rnr_received + 3);
	assert_int_equal(v->h[SIDE_A].tx_calls[i], 0);
	v->h[SIDE_B].fail_alloc = 0;
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i]);
	assert_int_equal(v->h[SIDE_A].tx_status[i], 0);
	settle(v);
	check_last_delivery(v, SIDE_B, 5000, 0x92);
	struct srd_stats b1 = stats(v, SIDE_B);
	assert_true(b1.drops[SRD_DROP_NO_BUFFER] >= b0.drops[SRD_DROP_NO_BUFFER] + 3);
	still_works(v);
	env_free(v);
}

static void tweak_one_slot(struct srd_config *a, struct srd_config *b)
{
	(void)a;
	b->rx_slots = 1;
}

/* No reassembly slot (rather than no buffer) is the same reason. */
static void test_no_buffer_slots(void **state)
{
	struct env *v = env_new(tweak_one_slot);
	uint32_t p = next_psn(v, SIDE_A), n, seg = v->cfg[SIDE_A].seg_size;
	uint32_t id = next_msg_id(v, SIDE_A);
	struct srd_pkt d;
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* segment 0 of A's next message (two segments) takes the only slot */
	d = data_hdr(v, SIDE_A, p, p, id, seg + 10, 0xa1);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_OK(v, SIDE_B, PEER_A, pbuf, n);
	drain(v, SIDE_B);
	/* the message after it finds none */
	d = data_hdr(v, SIDE_A, p + 2, p + 2, id + 1, 300, 0xa2);
	n = craft(pbuf, &d, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_NO_BUFFER);
	assert_int_equal(v->h[SIDE_B].alloc_calls, 2); /* not even asked for a buffer */
	assert_true(poll_one(v, SIDE_B, &m, &out) > 0);
	assert_int_equal(out.type, SRD_PKT_NACK);
	assert_int_equal(out.u.nack.reason, SRD_NACK_RNR);
	assert_int_equal(out.psn, p + 2);
	drain(v, SIDE_B);
	/* A sends both: the first completes (its segment 0 a duplicate), then the second */
	int i1 = send_msg(v, SIDE_A, seg + 10, 0xa1);
	int i2 = send_msg(v, SIDE_A, 300, 0xa2);
	assert_true(i1 >= 0 && i2 >= 0);
	RUN_UNTIL(v, v->h[SIDE_A].tx_calls[i1] && v->h[SIDE_A].tx_calls[i2]);
	assert_int_equal(v->h[SIDE_A].tx_status[i1], 0);
	assert_int_equal(v->h[SIDE_A].tx_status[i2], 0);
	settle(v);
	assert_int_equal(v->h[SIDE_B].delivered, 3);
	const struct delivery *d1 = &v->h[SIDE_B].dl[1], *d2 = &v->h[SIDE_B].dl[2];
	assert_int_equal(d1->tag, 0xa1);
	assert_int_equal(d1->len, seg + 10);
	for (uint32_t k = 0; k < seg + 10; k++)
		assert_int_equal(d1->data[k], pattern(0xa1, k));
	assert_int_equal(d2->tag, 0xa2);
	assert_int_equal(d2->len, 300);
	for (uint32_t k = 0; k < 300; k++)
		assert_int_equal(d2->data[k], pattern(0xa2, k));
	still_works(v);
	env_free(v);
}

static void test_unexpected(void **state)
{
	struct env *v = env_new(NULL);
	uint32_t n;
	struct srd_path_info pi[SRD_MAX_PATHS];
	struct srd_conn_info ib;
	struct srd_tx_meta m;
	struct srd_pkt out;

	(void)state;
	/* a probe reply nobody asked for (every path of B is GOOD) */
	assert_true(srd_conn_info(v->e[SIDE_B], PEER_A, &ib, pi, SRD_MAX_PATHS) > 0);
	for (uint32_t p = 0; p < 3; p++) {
		struct srd_pkt pr = {
			.type = SRD_PKT_PROBE,
			.flags = SRD_F_REPLY,
			.path = (uint8_t)p,
			.dst_conn = v->id[SIDE_B],
			.src_conn = v->id[SIDE_A],
			.psn = p,
			.u.probe = { .tx_ts = (uint32_t)v->l->now, .cookie = p << 16 | pi[p].entropy },
		};
		n = craft(pbuf, &pr, -1, -1);
		EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_UNEXPECTED);
	}
	/* ... or for a path index the connection does not have */
	struct srd_pkt pr = {
		.type = SRD_PKT_PROBE,
		.flags = SRD_F_REPLY,
		.dst_conn = v->id[SIDE_B],
		.src_conn = v->id[SIDE_A],
		.u.probe = { .tx_ts = 1, .cookie = 0xffffu << 16 | 1 },
	};
	n = craft(pbuf, &pr, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_UNEXPECTED);
	/* control packets that try to open a connection (dst 0 + SYN): only data may */
	struct srd_pkt a = ack_hdr(v, SIDE_A, 0, 0, 0, 0);
	a.dst_conn = 0;
	a.flags = SRD_F_SYN;
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_UNEXPECTED);
	EXPECT_DROP(v, SIDE_B, 33, pbuf, n, SRD_DROP_UNEXPECTED); /* from a stranger too */
	a.type = SRD_PKT_NACK;
	a.u.nack = (struct srd_nack_fields){ .reason = SRD_NACK_RNR };
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_B, 33, pbuf, n, SRD_DROP_UNEXPECTED);
	a.type = SRD_PKT_PROBE;
	a.u.probe = (struct srd_probe_fields){ .tx_ts = 1, .cookie = 1 };
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_B, 33, pbuf, n, SRD_DROP_UNEXPECTED);
	a.flags |= SRD_F_REPLY;
	n = craft(pbuf, &a, -1, -1);
	EXPECT_DROP(v, SIDE_B, PEER_A, pbuf, n, SRD_DROP_UNEXPECTED);
	/* nothing answered, nothing created */
	assert_int_equal(poll_one(v, SIDE_B, &m, &out), 0);
	assert_int_equal(stats(v, SIDE_B).conns_created, 1);

	/* a RESET for a connection whose peer has never spoken */
	int i = send_msg(v, SIDE_B, 10, 0xb1); /* B -> A is fine; now B -> peer 9: */
	assert_true(i >= 0);
	RUN_UNTIL(v, v->h[SIDE_B].tx_calls[i]);
	uint8_t b9[10] = { 0 };
	struct srd_iov iov = { .base = b9, .len = sizeof(b9) };
	struct srd_send_req req = { .peer = 9, .iov = &iov, .iovcnt = 1,
				    .ctx = (void *)(uintptr_t)(v->h[SIDE_B].ntx + 1) };
	v->h[SIDE_B].tx_buf[v->h[SIDE_B].ntx] = NULL;
	assert_int_equal(srd_send(v->e[SIDE_B], v->l->now, &req), 0);
	v->h[SIDE_B].ntx++;
	struct srd_conn_info i9;
	assert_true(srd_conn_info(v->e[SIDE_B], 9, &i9, NULL, 0) > 0);
	assert_int_equal(i9.peer_id, 0);
	struct srd_pkt rs = {
		.type = SRD_PKT_RESET,
		.dst_conn = i9.local_id,
		.src_conn = 0x00440001u,
		.u.reset.reason = SRD_RESET_UNKNOWN_CONN,
	};
	n = craft(pbuf, &rs, -1, -1);
	EXPECT_DROP(v, SIDE_B, 9, pbuf, n, SRD_DROP_UNEXPECTED);
	assert_true(srd_conn_info(v->e[SIDE_B], 9, &i9, NULL, 0) > 0);
	assert_int_equal(i9.tx_msgs, 1); /* the message to 9 is still pending */
	still_works(v);
	env_free(v);
}

/* ---- robustness: 200k random and mutated inputs ---- */

#define FUZZ_INPUTS 200000u
#define FUZZ_SEED 0x5eed0badc0ffee11ull
#define TMPL_PER 16u
#define TMPL_CAP 512u
#define FZ_BUF 70000u

struct tmpl {
	uint32_t len;
	uint8_t b[TMPL_CAP];
};

struct fuzz {
	uint64_t rng;
	struct tmpl pool[2][6][TMPL_PER]; /* [from side][type][k] */
	uint32_t npool[2][6];
	uint32_t ids[4];      /* ids of the A-B connection when the pools were filled */
	uint64_t fed[2], taken[2];
	uint64_t by_reason[SRD_DROP_MAX];
	uint8_t buf[FZ_BUF];
};

static void fuzz_capture(struct env *v, int from, const struct srd_tx_meta *m,
			 const uint8_t *pkt, uint32_t len)
{
	struct fuzz *f = v->capture_arg;
	uint32_t t = m->type < 6 ? m->type : 0, k;

	if (len > TMPL_CAP)
		return;
	k = f->npool[from][t] < TMPL_PER ? f->npool[from][t]++ : (uint32_t)(xrand(&f->rng) % TMPL_PER);
	f->pool[from][t][k].len = len;
	memcpy(f->pool[from][t][k].b, pkt, len);
}

static uint32_t rnd(struct fuzz *f, uint32_t bound)
{
	return (uint32_t)(xrand(&f->rng) % bound);
}

static int32_t between(struct fuzz *f, int32_t lo, int32_t hi)
{
	return lo + (int32_t)rnd(f, (uint32_t)(hi - lo + 1));
}

/* Encode *p into f->buf with a payload of the right length (now and then a wrong one). */
static uint32_t fz_encode(struct fuzz *f, const struct srd_pkt *p)
{
	uint64_t want = 0, off = 0;
	int hlen = srd_wire_encode(p, f->buf, FZ_BUF);

	assert_true(hlen > 0);
	if (p->type == SRD_PKT_DATA) {
		const struct srd_data_fields *d = &p->u.data;

		off = (uint64_t)(p->psn - d->msg_psn) * d->seg_size;
		if (off < d->msg_len) {
			want = d->msg_len - off;
			if (want > d->seg_size)
				want = d->seg_size;
		}
		if (rnd(f, 64) == 0)
			want = (want + (uint64_t)between(f, -2, 2)) & 0xfff;
	}
	if ((uint64_t)hlen + want > FZ_BUF)
		want = FZ_BUF - (uint64_t)hlen;
	for (uint64_t i = 0; i < want; i++)
		f->buf[hlen + i] = rnd(f, 8) ? pattern(p->u.data.tag, (uint32_t)(off + i))
					     : (uint8_t)rnd(f, 256);
	return (uint32_t)(hlen + want);
}

/* A plausible change to a decoded packet: fields near their valid values, so the packet
 * often passes the codec and the id checks and reaches the connection code. */
static void fz_struct(struct fuzz *f, struct env *v, int target, struct srd_pkt *p)
{
	if (rnd(f, 8) == 0) {
		/* change the type, keep the ids and the PSN */
		static const uint8_t types[] = { SRD_PKT_DATA, SRD_PKT_ACK, SRD_PKT_NACK,
						 SRD_PKT_PROBE, SRD_PKT_PROBE, SRD_PKT_RESET };
		uint8_t t = types[rnd(f, rnd(f, 40) ? 5 : 6)]; /* RESET rarely: it kills the connection */

		if (t != p->type) {
			uint32_t psn = p->psn;

			memset(&p->u, 0, sizeof(p->u));
			p->type = t;
			p->flags &= SRD_F_SYN;
			if (t == SRD_PKT_DATA) {
				p->u.data = (struct srd_data_fields){ .msg_id = rnd(f, 64), .msg_len = rnd(f, 200),
								      .msg_psn = psn, .seg_size = 64, .tag = rnd(f, 4) };
			} else if (t == SRD_PKT_ACK) {
				p->u.ack = (struct srd_ack_fields){ .acked_psn = psn - 1, .sack_base = psn + 1,
								    .credit = 64, .pkt_count = 1 };
			} else if (t == SRD_PKT_NACK) {
				p->u.nack = (struct srd_nack_fields){ .cum_psn = psn, .reason = (uint8_t)(1 + rnd(f, 2)),
								      .retry_ns = rnd(f, 100000) };
			} else if (t == SRD_PKT_PROBE) {
				p->flags = (uint8_t)(p->flags | (rnd(f, 2) ? SRD_F_REPLY : 0));
			} else {
				p->flags = 0;
				p->u.reset.reason = 1 + rnd(f, 2);
			}
		}
	}
	switch (p->type) {
	case SRD_PKT_DATA: {
		struct srd_data_fields *d = &p->u.data;
		uint32_t cnt, k;

		switch (rnd(f, 9)) {
		case 0: /* another PSN of the same message layout */
		{
			int32_t dl = between(f, -4, 70);
			p->psn += (uint32_t)dl;
			d->msg_psn += (uint32_t)dl;
			break;
		}
		case 1: /* a new message */
			d->msg_id = rnd(f, 4) ? d->msg_id + (uint32_t)between(f, -2, 3) : (uint32_t)xrand(&f->rng);
			d->msg_len = rnd(f, 8) ? rnd(f, 2200) : (uint32_t)xrand(&f->rng);
			d->seg_size = (uint16_t)(rnd(f, 4) ? v->cfg[SIDE_A].seg_size : 1 + rnd(f, 300));
			if (d->msg_len == 0)
				d->seg_size = (uint16_t)(rnd(f, 2) ? 0 : d->seg_size);
			cnt = srd_wire_seg_count(d->msg_len, d->seg_size);
			k = rnd(f, cnt < 80 ? cnt : 80);
			p->psn += (uint32_t)between(f, -2, 40);
			d->msg_psn = p->psn - k;
			break;
		case 2: /* another segment of the same message */
			cnt = srd_wire_seg_count(d->msg_len, d->seg_size);
			p->psn = d->msg_psn + rnd(f, cnt < 100 ? cnt : 100);
			break;
		case 3:
			d->tag ^= 1ull << rnd(f, 64);
			break;
		case 4:
			d->msg_len += (uint32_t)between(f, -70, 70);
			break;
		case 5:
			d->seg_size = (uint16_t)(d->seg_size + between(f, -3, 3));
			break;
		case 6: /* connection set-up games */
			if (rnd(f, 2)) {
				p->flags |= SRD_F_SYN;
				if (rnd(f, 2))
					p->dst_conn = 0;
			}
			if (rnd(f, 4) == 0)
				p->src_conn ^= 1u << rnd(f, 32);
			break;
		case 7:
			d->src_ep = (uint16_t)(d->src_ep + rnd(f, 2));
			d->dst_ep = (uint16_t)(d->dst_ep + rnd(f, 2));
			break;
		default:
			p->flags = (uint8_t)(rnd(f, 32) & (SRD_F_SYN | SRD_F_RETX | SRD_F_ACKREQ));
			break;
		}
		d->imm = xrand(&f->rng);
		d->tx_ts = (uint32_t)xrand(&f->rng);
		break;
	}
	case SRD_PKT_ACK: {
		struct srd_ack_fields *a = &p->u.ack;

		switch (rnd(f, 7)) {
		case 0:
			p->psn += (uint32_t)between(f, -10, 10);
			break;
		case 1:
			a->acked_psn += (uint32_t)between(f, -10, 10);
			break;
		case 2:
			a->sack_base = p->psn + (uint32_t)between(f, -70, 70);
			a->sack = xrand(&f->rng) & xrand(&f->rng);
			break;
		case 3:
			a->credit = rnd(f, 4) ? 1 + rnd(f, 1024) : (uint32_t)xrand(&f->rng) | 1;
			break;
		case 4:
			a->echo_ts = (uint32_t)xrand(&f->rng);
			a->ack_delay_ns = rnd(f, 2) ? rnd(f, 100000) : (uint32_t)xrand(&f->rng);
			break;
		case 5:
			a->pkt_count = (uint16_t)rnd(f, 100);
			a->ce_count = (uint16_t)rnd(f, (uint32_t)a->pkt_count + 1);
			p->flags ^= SRD_F_ECE;
			break;
		default:
			a->sack_base += 0x80000000u + (uint32_t)between(f, -64, 64);
			a->sack = xrand(&f->rng);
			break;
		}
		p->path = (uint8_t)(rnd(f, 4) ? p->path : rnd(f, 256));
		break;
	}
	case SRD_PKT_NACK:
		p->psn += (uint32_t)between(f, -10, 10);
		p->u.nack.reason = (uint8_t)(1 + rnd(f, 2));
		p->u.nack.retry_ns = rnd(f, 8) ? rnd(f, 200000) : (uint32_t)xrand(&f->rng);
		break;
	case SRD_PKT_PROBE: {
		struct srd_path_info pi[SRD_MAX_PATHS];
		struct srd_conn_info ci;
		int np = srd_conn_info(v->e[target], (uint64_t)(1 - target), &ci, pi, SRD_MAX_PATHS);
		uint32_t path = rnd(f, 20);

		if (rnd(f, 2))
			p->flags ^= SRD_F_REPLY;
		if (np > 0 && rnd(f, 2)) {
			/* a reply that matches a path: preferably one that waits for its probe */
			path = rnd(f, (uint32_t)np);
			for (int q = 0; q < np; q++)
				if (pi[q].state == SRD_PATH_PROBING)
					path = (uint32_t)q;
			p->u.probe.cookie = path << 16 | pi[path].entropy;
			p->flags |= SRD_F_REPLY;
		} else {
			p->u.probe.cookie = path << 16 | rnd(f, 65536);
		}
		p->u.probe.tx_ts = (uint32_t)v->l->now - rnd(f, 100000);
		break;
	}
	default:
		p->u.reset.reason = 1 + rnd(f, 2);
		break;
	}
}

/* Raw damage to len bytes of f->buf.  Returns the new length. */
static uint32_t fz_raw(struct fuzz *f, uint32_t len)
{
	switch (rnd(f, 7)) {
	case 0: /* one byte */
		if (len)
			f->buf[rnd(f, len)] = (uint8_t)rnd(f, 256);
		break;
	case 1: /* a few bytes */
		for (uint32_t n = 2 + rnd(f, 7); n && len; n--)
			f->buf[rnd(f, len)] = (uint8_t)rnd(f, 256);
		break;
	case 2: /* one bit, in the header mostly */
		if (len) {
			uint32_t at = rnd(f, len < 56 ? len : (rnd(f, 4) ? 56 : len));
			f->buf[at] ^= (uint8_t)(1u << rnd(f, 8));
		}
		break;
	case 3: /* truncate */
		len = len ? rnd(f, len) : 0;
		break;
	case 4: /* extend */
		for (uint32_t n = 1 + rnd(f, 16); n && len < FZ_BUF; n--)
			f->buf[len++] = (uint8_t)rnd(f, 256);
		break;
	case 5: /* cut one byte */
		if (len)
			len--;
		break;
	default: /* a 32-bit field set to something near or far */
		if (len >= 4) {
			uint32_t at = 4 * rnd(f, len / 4 < 14 ? len / 4 : 14);
			wr32(f->buf + at, rnd(f, 2) ? (uint32_t)xrand(&f->rng) : rnd(f, 3));
		}
		break;
	}
	return len;
}

/* The host's buffers agree with the engine's reassembly slots. */
static void fz_check_hosts(struct env *v)
{
	for (int s = 0; s < 2; s++) {
		struct srd_stats st = stats(v, s);
		const struct host *h = &v->h[s];

		assert_int_equal(h->live, st.rx_slots_used);
		assert_int_equal(h->allocs + h->empty_nobuf, h->delivered + h->aborted + h->live);
		assert_int_equal(st.msgs_delivered, h->delivered);
		assert_int_equal(st.msgs_aborted, h->aborted);
		assert_int_equal(st.msgs_completed + st.msgs_failed, h->tx_done);
		assert_int_equal(st.msgs_accepted, h->ntx);
		assert_true(st.rx_slots_used <= v->cfg[s].rx_slots);
	}
}

static void tweak_fuzz(struct srd_config *a, struct srd_config *b)
{
	struct srd_config *c[2] = { a, b };

	for (int s = 0; s < 2; s++) {
		c[s]->seg_size = 64;
		c[s]->max_msg_size = 2048;
		c[s]->tx_window = 64;
		c[s]->rx_window = 64;
		c[s]->max_tx_msgs = 16;
		c[s]->rx_slots = 32;
		c[s]->paths = 8;
		c[s]->max_conns = 4;
		c[s]->max_retries = 6;
		c[s]->max_rnr_retries = 8;
	}
}

#define LEGIT_TAG 0x4c45474900000000ull /* "LEGI" */

static void tweak_fuzz_single(struct srd_config *a, struct srd_config *b)
{
	struct srd_config *c[2] = { a, b };

	tweak_fuzz(a, b);
	for (int s = 0; s < 2; s++) {
		c[s]->mode = SRD_MODE_SINGLE;
		c[s]->cc.algo = SRD_CC_DCTCP;
		c[s]->seg_size = 100;
		c[s]->tx_window = 32;
		c[s]->rx_window = 128;
		c[s]->rx_slots = 8;
		c[s]->ack_every = 1;
		c[s]->cc.pacing_gain_pct = 200;
	}
}

static void fuzz_run(tweak_fn tweak, uint64_t seed)
{
	struct env *v = env_new(tweak);
	struct fuzz *f = calloc(1, sizeof(*f));
	uint64_t legit = 0;

	assert_non_null(f);
	g_free = f;
	f->rng = seed;
	v->capture = fuzz_capture;
	v->capture_arg = f;
	v->loss_permille = 10; /* some loss: retransmissions, failed paths, probes */
	v->loss_rng = seed ^ 1;
	for (int s = 0; s < 2; s++)
		v->h[s].keep = 0;

	for (uint32_t it = 0; it < FUZZ_INPUTS; it++) {
		if (it % 32 == 0) {
			uint64_t t0 = v->l->now;
			struct srd_conn_info ci[2];
			uint32_t ids[4] = { 0 };

			/* legit traffic both ways keeps packets in flight and templates fresh */
			for (int s = 0; s < 2; s++) {
				if (rnd(f, 2) && v->h[s].ntx < HOST_MAX_TX - 1000)
					(void)send_msg(v, s, rnd(f, 4) ? rnd(f, 300) : rnd(f, 2049),
						       LEGIT_TAG | legit++);
				v->h[s].fail_alloc = rnd(f, 24) == 0; /* now and then no buffers */
			}
			for (int k = 0; k < 256 && v->l->now < t0 + 5000; k++)
				if (!link_step(v->l))
					break;
			/* a connection was reset: templates with the old ids only meet the
			 * stale-id check; start collecting afresh */
			for (int s = 0; s < 2; s++)
				if (srd_conn_info(v->e[s], (uint64_t)(1 - s), &ci[s], NULL, 0) > 0) {
					ids[2 * s] = ci[s].local_id;
					ids[2 * s + 1] = ci[s].peer_id;
				}
			if (memcmp(ids, f->ids, sizeof(ids))) {
				memcpy(f->ids, ids, sizeof(ids));
				memset(f->npool, 0, sizeof(f->npool));
			}
			if (it % 1024 == 0)
				fz_check_hosts(v);
		}

		uint32_t len = 0;
		int target = rnd(f, 2), from = 1 - target;
		uint64_t peer = (uint64_t)from;
		uint32_t kind = rnd(f, 100);
		static const uint8_t want_type[] = { SRD_PKT_DATA, SRD_PKT_DATA, SRD_PKT_DATA,
						     SRD_PKT_ACK, SRD_PKT_ACK, SRD_PKT_NACK,
						     SRD_PKT_PROBE };
		uint8_t t = want_type[rnd(f, sizeof(want_type))];

		if (kind < 4 || f->npool[from][t] == 0) {
			/* random bytes, 0..200 */
			len = rnd(f, 201);
			for (uint32_t i = 0; i < len; i++)
				f->buf[i] = (uint8_t)rnd(f, 256);
			if (len && rnd(f, 2))
				f->buf[0] = (uint8_t)(SRD_WIRE_VERSION << 4 | (1 + rnd(f, 5)));
		} else {
			const struct tmpl *tp = &f->pool[from][t][rnd(f, f->npool[from][t])];
			struct srd_pkt pk;

			memcpy(f->buf, tp->b, tp->len);
			len = tp->len;
			if (kind < 70 && srd_wire_decode(tp->b, tp->len, &pk) == 0) {
				fz_struct(f, v, target, &pk);
				len = fz_encode(f, &pk);
				if (rnd(f, 4) == 0)
					len = fz_raw(f, len);
			} else if (kind < 95) {
				len = fz_raw(f, len);
				if (rnd(f, 3) == 0)
					len = fz_raw(f, len);
			} /* else: a replay as is */
		}
		if (rnd(f, 20) == 0)
			target = 1 - target; /* the wrong way */
		if (rnd(f, 25) == 0)
			peer = rnd(f, 8); /* from someone else */

		/* A credit of 0 stalls the sender for good (test_ack_zero_credit shows it): kept
		 * out here so that the liveness check after the run tests everything else. */
		if (len >= SRD_HDR_ACK_LEN && f->buf[0] == (SRD_WIRE_VERSION << 4 | SRD_PKT_ACK) &&
		    !(f->buf[28] | f->buf[29] | f->buf[30] | f->buf[31]))
			f->buf[31] = 1;

		/* feed it from a heap copy of exactly len bytes: a read past it is an ASan report */
		uint8_t *in = malloc(len ? len : 1);
		struct srd_stats b, a;
		int rc;

		assert_non_null(in);
		memcpy(in, f->buf, len);
		srd_get_stats(v->e[target], &b);
		rc = srd_recv(v->e[target], v->l->now, peer, in, len, rnd(f, 8) == 0);
		srd_get_stats(v->e[target], &a);
		free(in);

		/* taken, or dropped under exactly one reason */
		assert_true(rc <= 0 && rc > -(int)SRD_DROP_MAX);
		assert_int_equal(a.rx_pkts, b.rx_pkts + 1);
		assert_int_equal(a.drops[SRD_DROP_NONE], 0);
		for (int r = 1; r < SRD_DROP_MAX; r++)
			assert_int_equal(a.drops[r], b.drops[r] + (rc == -r ? 1 : 0));
		f->fed[target]++;
		if (rc == 0)
			f->taken[target]++;
		else
			f->by_reason[-rc]++;
	}
	fz_check_hosts(v);

	/* packets fed == taken + dropped, per engine (fuzz inputs; the link's own as well) */
	uint64_t total_fed = f->fed[0] + f->fed[1], total_drops = 0;
	for (int r = 1; r < SRD_DROP_MAX; r++)
		total_drops += f->by_reason[r];
	assert_int_equal(total_fed, FUZZ_INPUTS);
	assert_int_equal(f->taken[0] + f->taken[1] + total_drops, total_fed);
	printf("[   INFO   ] fuzz: %u inputs, %llu taken; drops by reason:",
	       FUZZ_INPUTS, (unsigned long long)(f->taken[0] + f->taken[1]));
	for (int r = 1; r < SRD_DROP_MAX; r++)
		printf(" %s=%llu", srd_drop_reason_name(r), (unsigned long long)f->by_reason[r]);
	printf("\n");
	/* the mutations reach deep: most reasons are hit */
	int hit = 0;
	for (int r = 1; r < SRD_DROP_MAX; r++)
		hit += f->by_reason[r] > 0;
	assert_true(hit >= SRD_DROP_MAX - 3);

	/* stop fuzzing: every message accepted by srd_send() completes, exactly once */
	v->capture = NULL;
	v->loss_permille = 0;
	v->h[0].fail_alloc = v->h[1].fail_alloc = 0;
	{
		uint64_t lim = v->l->now + 60ull * 1000000000ull;

		while ((v->h[0].tx_done < v->h[0].ntx || v->h[1].tx_done < v->h[1].ntx) &&
		       v->l->now < lim && link_step(v->l))
			;
		if (v->h[0].tx_done < v->h[0].ntx || v->h[1].tx_done < v->h[1].ntx)
			fail_msg("after fuzzing, messages never complete: A %llu of %u, B %llu of %u",
				 (unsigned long long)v->h[0].tx_done, v->h[0].ntx,
				 (unsigned long long)v->h[1].tx_done, v->h[1].ntx);
	}
	settle(v);
	fz_check_hosts(v);
	printf("[   INFO   ] fuzz: legit messages A %llu/%u ok, B %llu/%u ok; delivered A %llu B %llu, "
	       "aborted A %llu B %llu; conns reset A %llu B %llu\n",
	       (unsigned long long)v->h[0].tx_ok, v->h[0].ntx, (unsigned long long)v->h[1].tx_ok,
	       v->h[1].ntx, (unsigned long long)v->h[0].delivered,
	       (unsigned long long)v->h[1].delivered, (unsigned long long)v->h[0].aborted,
	       (unsigned long long)v->h[1].aborted, (unsigned long long)stats(v, 0).conns_reset,
	       (unsigned long long)stats(v, 1).conns_reset);

	for (int s = 0; s < 2; s++) {
		uint32_t hist[7] = { 0 };

		for (uint32_t k = 0; k < v->h[s].ntx; k++) {
			int x = -v->h[s].tx_status[k];

			hist[x == 0 ? 0 : x == ECONNRESET ? 1 : x == ETIMEDOUT ? 2 : x == EMSGSIZE ? 3
			     : x == ENOBUFS ? 4 : x == ECONNREFUSED ? 5 : 6]++;
		}
		assert_int_equal(hist[6], 0); /* no status beyond the documented ones */
		printf("[   INFO   ] fuzz: %s sent %u: ok %u, econnreset %u, etimedout %u, emsgsize %u, "
		       "enobufs %u, econnrefused %u\n", s ? "B" : "A", v->h[s].ntx, hist[0], hist[1],
		       hist[2], hist[3], hist[4], hist[5]);
	}

	/* and clean traffic afterwards is delivered intact: once the PSNs the fuzzer may have
	 * taken ahead of the sender (at most a receive window) are passed, every message */
	for (int s = 0; s < 2; s++)
		v->h[s].keep = 1;
	for (uint32_t k = 0; k < 2 * v->cfg[0].rx_window + 20; k++) {
		for (int s = 0; s < 2; s++) {
			uint64_t tag = LEGIT_TAG | 0x80000000ull | (uint64_t)k << 1 | (uint64_t)s;
			uint32_t len = 1 + (k * 37) % 64; /* one segment each */
			uint64_t d0 = v->h[1 - s].delivered;
			int i = send_msg(v, s, len, tag);

			assert_true(i >= 0);
			RUN_UNTIL(v, v->h[s].tx_calls[i]);
			settle(v);
			if (k >= 2 * v->cfg[0].rx_window) {
				assert_int_equal(v->h[s].tx_status[i], 0);
				assert_int_equal(v->h[1 - s].delivered, d0 + 1);
				check_last_delivery(v, 1 - s, len, tag);
			}
		}
	}
	fz_check_hosts(v);
	g_free = NULL;
	free(f);
	env_free(v);
}

/* Multipath, Swift, 64-byte segments. */
static void test_fuzz_robustness(void **state)
{
	(void)state;
	fuzz_run(tweak_fuzz, FUZZ_SEED);
}

/* Single path, DCTCP with pacing, other window sizes. */
static void test_fuzz_robustness_single(void **state)
{
	(void)state;
	fuzz_run(tweak_fuzz_single, FUZZ_SEED ^ 0x9e3779b97f4a7c15ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_truncated, teardown_env),
		cmocka_unit_test_teardown(test_bad_version, teardown_env),
		cmocka_unit_test_teardown(test_bad_type, teardown_env),
		cmocka_unit_test_teardown(test_bad_header, teardown_env),
		cmocka_unit_test_teardown(test_bad_length, teardown_env),
		cmocka_unit_test_teardown(test_bad_offset, teardown_env),
		cmocka_unit_test_teardown(test_msg_too_big, teardown_env),
		cmocka_unit_test_teardown(test_unknown_conn, teardown_env),
		cmocka_unit_test_teardown(test_stale_conn, teardown_env),
		cmocka_unit_test_teardown(test_peer_mismatch, teardown_env),
		cmocka_unit_test_teardown(test_conn_table_full, teardown_env),
		cmocka_unit_test_teardown(test_psn_window, teardown_env),
		cmocka_unit_test_teardown(test_duplicate, teardown_env),
		cmocka_unit_test_teardown(test_ack_unsent, teardown_env),
		cmocka_unit_test_teardown(test_ack_unsent_sack_wrap, teardown_env),
		cmocka_unit_test_teardown(test_ack_zero_credit, teardown_env),
		cmocka_unit_test_teardown(test_drop_no_side_effect_peer_id, teardown_env),
		cmocka_unit_test_teardown(test_drop_no_side_effect_syn, teardown_env),
		cmocka_unit_test_teardown(test_msg_mismatch, teardown_env),
		cmocka_unit_test_teardown(test_no_buffer, teardown_env),
		cmocka_unit_test_teardown(test_no_buffer_slots, teardown_env),
		cmocka_unit_test_teardown(test_unexpected, teardown_env),
		cmocka_unit_test_teardown(test_fuzz_robustness, teardown_env),
		cmocka_unit_test_teardown(test_fuzz_robustness_single, teardown_env),
	};

	if (getenv("SRD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SRD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
