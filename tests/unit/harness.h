/*
 * harness.h — the harness of the end-to-end engine tests (test_engine.c,
 * test_engine_errors.c): two protocol-core engines joined back to back by link.h, time moved
 * by hand.  Header-only: static inline helpers.
 *
 * Engine A (peer key 0, epoch 1) sends to engine B (peer key 1, epoch 2).  Every message has
 * a record (struct tmsg) that counts its tx_done calls and its deliveries, so exactly-once
 * is checked for every message of every test; payloads follow a pattern of (message, offset)
 * and are checked byte by byte at delivery.  Callbacks never assert (that would longjmp out
 * of the engine): they count problems into env->errors and keep the first description, and
 * the test asserts on that afterwards (assert_no_errors).  A test that fails half way leaves
 * its environment to teardown(), so a failure does not show up as a leak.
 */
#ifndef SRD_TEST_HARNESS_H
#define SRD_TEST_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link.h"
#include "rng.h"
#include "srd_core.h"
#include "wire.h" /* SRD_PKT_* for the filters */


#define US 1000ull
#define MS 1000000ull
#define MIB (1u << 20)
#define TAG_BASE 0x7a6b000000000000ull
#define A 0
#define B 1

/* ---- bookkeeping ---- */

/* One message from A to B. */
struct tmsg {
	uint32_t idx;
	uint32_t len;
	uint8_t *data;                  /* the bytes (NULL when len is 0) */
	uint32_t npieces;               /* > 0: sent from these separate pieces instead */
	uint8_t *piece[SRD_MAX_IOV];
	uint32_t piece_len[SRD_MAX_IOV];
	uint16_t src_ep, dst_ep;
	uint64_t tag, imm;
	uint32_t flags;                 /* srd_send_req.flags (SRD_SEND_ORDERED) */
	int accepted;                   /* srd_send returned 0 */
	int done_calls;                 /* tx_done calls */
	int status;                     /* status of the (last) tx_done */
	uint64_t done_at;               /* link time of the tx_done */
	int delivered;                  /* rx_deliver calls */
	uint32_t delivery_seq;          /* 1 + how many messages B delivered before it */
};

struct env;

/* What one side's callbacks see. */
struct side {
	struct env *env;
	int id;
	uint32_t alloc_fail_first;  /* fail this many rx_alloc calls first */
	uint32_t alloc_fail_nth;    /* fail the rx_alloc call with this number (counting
	                               alloc_calls from 1), once (0: none) */
	int alloc_fail_always;      /* every rx_alloc fails */
	uint16_t no_ep;             /* rx_alloc says this endpoint does not exist (0: none) */
	uint32_t alloc_calls;
	uint32_t rx_bufs;           /* buffers handed out by rx_alloc, not yet returned */
	uint32_t take_max;          /* rx_take takes messages of 0..take_max bytes (0: none) */
	uint32_t take_fail_nth;     /* refuse the rx_take call with this number (counting
	                               take_calls from 1), once (0: none) */
	uint32_t take_calls;
	uint32_t taken;             /* messages rx_take took, not yet delivered or aborted */
	uint32_t taken_delivered;   /* deliveries of such messages (msg->taken) */
	uint32_t delivered;
	uint32_t aborted;
	uint32_t tx_done;
	uint32_t tx_done_status[8]; /* 0, ETIMEDOUT, ECONNRESET, EMSGSIZE, ENOBUFS, ECANCELED,
	                               other, ENXIO */
};

struct env {
	struct link *l;
	struct srd_config cfg[2];
	struct srd_callbacks cb[2];
	struct side side[2];
	struct tmsg *msgs;
	uint32_t nmsgs;
	/* the stress driver */
	uint32_t next_send;         /* next message to hand to srd_send */
	uint32_t outstanding;       /* accepted, not yet tx_done */
	uint32_t window;            /* most outstanding at once */
	uint32_t eagain;            /* srd_send said -EAGAIN while we kept within the window */
	uint32_t ndone;             /* messages with a tx_done */
	int strict_order;           /* an ordered message delivered before an earlier message
	                               (lower index) that did not fail is an error */
	uint32_t wait_lo, wait_hi;  /* range_done(): messages [wait_lo, wait_hi) */
	/* filters */
	struct srd_rng rng;
	uint64_t acks_seen;
	int have_bh;
	uint16_t bh_entropy;        /* blackholed entropy value */
	uint32_t ent_count;         /* distinct entropy values of A's data packets */
	uint16_t ent[1024];
	uint64_t a_data_pkts;       /* data packets A sent (counted by the filter) */
	uint64_t a_data_dropped;
	uint32_t echo_ts[4096];     /* tx_ts of A's latest data packet per PSN % 4096 */
	uint16_t echo_ent[4096];    /* the entropy value it went on */
	uint64_t echo_checked;      /* B's acks and nacks matched to the data they answer */
	uint64_t echo_wrong;        /* of which on another entropy value */
	/* problems seen inside callbacks */
	int errors;
	char first_error[256];
};

/* Environments not yet freed (freed by teardown() if a test fails half way). */
#define MAX_LIVE 4
static struct env *live_env[MAX_LIVE];

/* Count a problem seen inside a callback; keep the description of the first one. */
static inline void env_error(struct env *e, const char *fmt, ...)
{
	if (e->errors++ == 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(e->first_error, sizeof(e->first_error), fmt, ap);
		va_end(ap);
	}
}

#define assert_no_errors(e)                                                              \
	do {                                                                             \
		if ((e)->errors)                                                         \
			print_error("%d error(s), first: %s\n", (e)->errors,              \
				    (e)->first_error);                                   \
		assert_int_equal((e)->errors, 0);                                        \
	} while (0)

/* Byte `off` of message idx. */
static inline uint8_t pat(uint32_t idx, uint32_t off)
{
	return (uint8_t)(off + (off >> 8) * 3u + (off >> 16) * 5u + idx * 29u + 1u);
}

/* ---- callbacks ---- */

/* The record of the message with this tag (NULL: not one of ours). */
static inline struct tmsg *msg_by_tag(struct env *e, uint64_t tag)
{
	if ((tag & ~0xffffffffull) != TAG_BASE || (uint32_t)tag >= e->nmsgs)
		return NULL;
	return &e->msgs[(uint32_t)tag];
}

/* rx_alloc: a buffer of msg->len bytes, unless the side is set to refuse. */
static inline void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct side *s = user;
	void *buf;

	s->alloc_calls++;
	if (msg->buf != NULL)
		env_error(s->env, "rx_alloc: msg->buf is not NULL");
	if (msg->peer != (uint64_t)(1 - s->id))
		env_error(s->env, "rx_alloc: peer %llu", (unsigned long long)msg->peer);
	if (s->no_ep && msg->dst_ep == s->no_ep) {
		msg->no_endpoint = 1;
		return NULL;
	}
	if (s->alloc_fail_always || s->alloc_calls == s->alloc_fail_nth)
		return NULL;
	if (s->alloc_fail_first) {
		s->alloc_fail_first--;
		return NULL;
	}
	buf = malloc(msg->len ? msg->len : 1);
	if (!buf)
		return NULL;
	msg->buf_ctx = (void *)(uintptr_t)(0xc0de0000u + msg->len % 0x10000u);
	s->rx_bufs++;
	return buf;
}

/* rx_take: take messages of up to take_max bytes (their bytes come with rx_deliver), unless
 * the side is set to refuse; otherwise ask rx_alloc. */
static inline int cb_rx_take(void *user, struct srd_rx_msg *msg)
{
	struct side *s = user;

	s->take_calls++;
	if (msg->buf != NULL || msg->data != NULL || msg->taken)
		env_error(s->env, "rx_take: msg->buf, data or taken already set");
	if (s->take_max == 0 || msg->len > s->take_max)
		return 0;
	if (s->no_ep && msg->dst_ep == s->no_ep) {
		msg->no_endpoint = 1;
		return -1;
	}
	if (s->take_calls == s->take_fail_nth)
		return -1;
	msg->buf_ctx = (void *)(uintptr_t)(0xc0de0000u + msg->len % 0x10000u);
	s->taken++;
	return 1;
}

/* rx_deliver: check (into env_error) that each message arrives once, with its length,
 * metadata and bytes unchanged; free the buffer. */
static inline void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct side *s = user;
	struct env *e = s->env;
	struct tmsg *m = msg_by_tag(e, msg->tag);

	s->delivered++;
	if (!m) {
		env_error(e, "rx_deliver: unknown tag %llx", (unsigned long long)msg->tag);
		goto out;
	}
	m->delivered++;
	m->delivery_seq = s->delivered;
	if (m->delivered > 1)
		env_error(e, "msg %u delivered %d times", m->idx, m->delivered);
	for (uint32_t j = 0; e->strict_order && (m->flags & SRD_SEND_ORDERED) && j < m->idx; j++) {
		const struct tmsg *p = &e->msgs[j];

		if (p->accepted && !p->delivered && !(p->done_calls && p->status)) {
			env_error(e, "ordered msg %u delivered before msg %u", m->idx, j);
			break;
		}
	}
	if (msg->len != m->len)
		env_error(e, "msg %u: len %u, sent %u", m->idx, msg->len, m->len);
	if (msg->imm != m->imm || msg->src_ep != m->src_ep || msg->dst_ep != m->dst_ep ||
	    msg->peer != (uint64_t)(1 - s->id))
		env_error(e, "msg %u: imm/src_ep/dst_ep/peer changed", m->idx);
	if (msg->buf_ctx != (void *)(uintptr_t)(0xc0de0000u + msg->len % 0x10000u))
		env_error(e, "msg %u: buf_ctx changed", m->idx);
	if (msg->taken ? msg->buf || (msg->len && !msg->data) : msg->data != NULL)
		env_error(e, "msg %u: taken %d with buf %p, data %p", m->idx, msg->taken, msg->buf,
			  msg->data);
	if (msg->len == m->len) {
		const uint8_t *p = msg->taken ? msg->data : msg->buf;

		for (uint32_t i = 0; i < msg->len; i++) {
			if (p[i] != pat(m->idx, i)) {
				env_error(e, "msg %u: byte %u is %u, want %u", m->idx, i, p[i],
					  pat(m->idx, i));
				break;
			}
		}
	}
out:
	if (msg->taken) {
		s->taken--;
		s->taken_delivered++;
		return;
	}
	free(msg->buf);
	s->rx_bufs--;
}

/* rx_abort: a partly received message is given up; its buffer comes back. */
static inline void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct side *s = user;

	s->aborted++;
	if (msg->taken) {
		s->taken--;
		return;
	}
	free(msg->buf);
	s->rx_bufs--;
}

/* Index of a tx_done status in side.tx_done_status[]. */
static inline int status_index(int status)
{
	switch (status) {
	case 0: return 0;
	case -ETIMEDOUT: return 1;
	case -ECONNRESET: return 2;
	case -EMSGSIZE: return 3;
	case -ENOBUFS: return 4;
	case -ECANCELED: return 5;
	case -ENXIO: return 7;
	default: return 6;
	}
}

/* tx_done: record status and time; check (into env_error) that it comes once per message
 * accepted on A, and for nothing else. */
static inline void cb_tx_done(void *user, void *ctx, int status)
{
	struct side *s = user;
	struct env *e = s->env;
	struct tmsg *m = ctx;

	s->tx_done++;
	s->tx_done_status[status_index(status)]++;
	if (s->id != A || m < e->msgs || m >= e->msgs + e->nmsgs) {
		env_error(e, "tx_done with an unknown ctx on side %d", s->id);
		return;
	}
	m->done_calls++;
	m->status = status;
	m->done_at = e->l->now;
	if (m->done_calls > 1)
		env_error(e, "msg %u: tx_done %d times", m->idx, m->done_calls);
	if (!m->accepted)
		env_error(e, "msg %u: tx_done for a message never accepted", m->idx);
	if (e->outstanding)
		e->outstanding--;
	e->ndone++;
}

/* ---- set-up ---- */

/* The default configuration of side A or B (its own epoch and seed). */
static inline void env_cfg_default(struct srd_config *cfg, int side)
{
	srd_config_default(cfg);
	cfg->epoch = side == A ? 1 : 2;
	cfg->seed = side == A ? 0x1111 : 0x2222;
}

/* A new environment; cfg_a / cfg_b may be NULL for the defaults. */
static inline struct env *env_new(const struct srd_config *cfg_a,
				  const struct srd_config *cfg_b)
{
	struct env *e = calloc(1, sizeof(*e));
	struct srd_engine *eng[2];
	char err[128];

	assert_non_null(e);
	e->l = calloc(1, sizeof(*e->l));
	assert_non_null(e->l);
	for (int s = 0; s < 2; s++) {
		const struct srd_config *c = s == A ? cfg_a : cfg_b;

		if (c)
			e->cfg[s] = *c;
		else
			env_cfg_default(&e->cfg[s], s);
		e->side[s].env = e;
		e->side[s].id = s;
		e->cb[s] = (struct srd_callbacks){
			.user = &e->side[s],
			.rx_alloc = cb_rx_alloc,
			.rx_take = cb_rx_take,
			.rx_deliver = cb_rx_deliver,
			.rx_abort = cb_rx_abort,
			.tx_done = cb_tx_done,
		};
		err[0] = 0;
		if (srd_engine_create(&e->cfg[s], &e->cb[s], &eng[s], err, sizeof(err)) != 0)
			fail_msg("engine %d: %s", s, err);
	}
	link_init(e->l, eng[A], eng[B]);
	for (int i = 0; i < MAX_LIVE; i++) {
		if (!live_env[i]) {
			live_env[i] = e;
			break;
		}
	}
	e->l->filter_arg = e;
	e->window = 64;
	srd_rng_seed(&e->rng, 99);
	return e;
}

/* Free the message records and their bytes. */
static inline void free_msgs(struct env *e)
{
	for (uint32_t i = 0; i < e->nmsgs; i++) {
		free(e->msgs[i].data);
		for (uint32_t p = 0; p < e->msgs[i].npieces; p++)
			free(e->msgs[i].piece[p]);
	}
	free(e->msgs);
	e->msgs = NULL;
	e->nmsgs = 0;
}

/* Free everything of e without checking anything (also used after a failed assertion). */
static inline void env_release(struct env *e)
{
	for (int s = 0; s < 2; s++) {
		srd_engine_destroy(e->l->eng[s]);
		e->l->eng[s] = NULL;
	}
	link_clear(e->l);
	free_msgs(e);
	free(e->l);
	for (int i = 0; i < MAX_LIVE; i++)
		if (live_env[i] == e)
			live_env[i] = NULL;
	free(e);
}

/* Destroy the engines (every message not done gets -ECANCELED), check that every receive
 * buffer came back, and free everything. */
static inline void env_free(struct env *e)
{
	for (int s = 0; s < 2; s++) {
		srd_engine_destroy(e->l->eng[s]);
		e->l->eng[s] = NULL;
	}
	assert_int_equal(e->side[A].rx_bufs, 0);
	assert_int_equal(e->side[B].rx_bufs, 0);
	assert_int_equal(e->side[A].taken, 0);
	assert_int_equal(e->side[B].taken, 0);
	env_release(e);
}

/* cmocka teardown: a test that failed half way leaves its environment here. */
static inline int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_LIVE; i++)
		if (live_env[i])
			env_release(live_env[i]);
	return 0;
}

/* Room for n messages. */
static inline void env_msgs(struct env *e, uint32_t n)
{
	e->msgs = calloc(n, sizeof(*e->msgs));
	assert_non_null(e->msgs);
	e->nmsgs = n;
}

/* Fill message idx with len pattern bytes, sent from npieces pieces of the given sizes
 * (npieces 0: one contiguous buffer). */
static inline void msg_fill(struct env *e, uint32_t idx, uint32_t len, uint32_t npieces,
			    const uint32_t *piece_len)
{
	struct tmsg *m = &e->msgs[idx];

	m->idx = idx;
	m->len = len;
	m->src_ep = (uint16_t)(100 + idx % 7);
	m->dst_ep = (uint16_t)(200 + idx % 5);
	m->tag = TAG_BASE | idx;
	m->imm = 0xfeedface00000000ull ^ ((uint64_t)idx * 0x9e3779b97f4a7c15ull);
	if (npieces == 0) {
		if (len) {
			m->data = malloc(len);
			assert_non_null(m->data);
			for (uint32_t i = 0; i < len; i++)
				m->data[i] = pat(idx, i);
		}
		return;
	}
	uint32_t off = 0;

	m->npieces = npieces;
	for (uint32_t p = 0; p < npieces; p++) {
		m->piece_len[p] = piece_len[p];
		m->piece[p] = malloc(piece_len[p] ? piece_len[p] : 1);
		assert_non_null(m->piece[p]);
		for (uint32_t i = 0; i < piece_len[p]; i++)
			m->piece[p][i] = pat(idx, off + i);
		off += piece_len[p];
	}
	assert_int_equal(off, len);
}

/* srd_send of message idx to B at the link's current time. */
static inline int msg_send(struct env *e, uint32_t idx)
{
	struct tmsg *m = &e->msgs[idx];
	struct srd_iov iov[SRD_MAX_IOV];
	uint32_t n = 1;
	int rc;

	if (m->npieces) {
		n = m->npieces;
		for (uint32_t p = 0; p < n; p++)
			iov[p] = (struct srd_iov){ m->piece[p], m->piece_len[p] };
	} else {
		iov[0] = (struct srd_iov){ m->data, m->len };
	}
	struct srd_send_req req = {
		.peer = B,
		.src_ep = m->src_ep,
		.dst_ep = m->dst_ep,
		.tag = m->tag,
		.imm = m->imm,
		.iov = iov,
		.iovcnt = n,
		.flags = m->flags,
		.ctx = m,
	};
	rc = srd_send(e->l->eng[A], e->l->now, &req);
	if (rc == 0) {
		m->accepted = 1;
		e->outstanding++;
	}
	return rc;
}

/* link_run predicate: every message has its tx_done. */
static inline int all_done(void *arg)
{
	struct env *e = arg;

	return e->ndone == e->nmsgs;
}

/* Keep up to e->window messages outstanding; done when every message has its tx_done. */
static inline int stress_pump(void *arg)
{
	struct env *e = arg;

	while (e->next_send < e->nmsgs && e->outstanding < e->window) {
		int rc = msg_send(e, e->next_send);

		if (rc == -EAGAIN) {
			/* slots are reclaimed in order (test_bug_eagain_below_max_tx_msgs) and
			 * only at the next poll (test_bug_tx_slot_held_after_tx_done), both in
			 * test_engine_errors.c: retry at the next step, and count it */
			e->eagain++;
			break;
		}
		if (rc != 0) {
			env_error(e, "srd_send(%u): %d", e->next_send, rc);
			e->next_send = e->nmsgs;
			return 1;
		}
		e->next_send++;
	}
	return e->ndone == e->nmsgs;
}

/* Run the link with no goal until it is idle or `extra` more time passed. */
static inline void run_idle(struct env *e, uint64_t extra)
{
	link_run(e->l, NULL, NULL, e->l->now + extra);
}

/* The counters of side s's engine. */
static inline struct srd_stats stats(struct env *e, int s)
{
	struct srd_stats st;

	srd_get_stats(e->l->eng[s], &st);
	return st;
}

/* Every message: one tx_done with status 0 and one delivery. */
static inline void check_all_ok(struct env *e)
{
	assert_no_errors(e);
	for (uint32_t i = 0; i < e->nmsgs; i++) {
		struct tmsg *m = &e->msgs[i];

		if (m->done_calls != 1 || m->status != 0 || m->delivered != 1)
			fail_msg("msg %u (len %u): tx_done %d status %d delivered %d", i, m->len,
				 m->done_calls, m->status, m->delivered);
	}
	assert_int_equal(e->side[A].tx_done_status[0], e->nmsgs);
	assert_int_equal(e->side[B].delivered, e->nmsgs);
}

/* ---- filters ---- */

/* Count A's data packets and the distinct entropy values they use; the first one seen is
 * the one filter_blackhole drops.  Called by the link filters; passes every packet. */
static inline enum link_verdict filter_count_a_data(struct env *e, int from,
						    const struct srd_tx_meta *m)
{
	if (from == A && m->type == SRD_PKT_DATA) {
		e->a_data_pkts++;
		if (!e->have_bh) {
			e->have_bh = 1;
			e->bh_entropy = m->entropy;
		}
		uint32_t i;

		for (i = 0; i < e->ent_count; i++)
			if (e->ent[i] == m->entropy)
				break;
		if (i == e->ent_count && e->ent_count < 1024)
			e->ent[e->ent_count++] = m->entropy;
	}
	return LINK_PASS;
}

#endif /* SRD_TEST_HARNESS_H */
