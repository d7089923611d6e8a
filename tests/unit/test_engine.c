/*
 * test_engine.c — the protocol core end to end: two engines joined back to back by
 * tests/unit/link.h, time moved by hand, a filter dropping, delaying or CE-marking packets.
 *
 * Engine A (peer key 0, epoch 1) sends to engine B (peer key 1, epoch 2).  Every message has
 * a record (struct tmsg) that counts its tx_done calls and its deliveries, so exactly-once
 * is checked for every message of every test; payloads follow a pattern of (message, offset)
 * and are checked byte by byte at delivery.  Callbacks never assert (that would longjmp out
 * of the engine): they count problems into env->errors and keep the first description, and
 * the test asserts on that afterwards.
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

#include "conn.h" /* sizeof(struct srd_path) for the state-size check */
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
	int accepted;                   /* srd_send returned 0 */
	int done_calls;                 /* tx_done calls */
	int status;                     /* status of the (last) tx_done */
	uint64_t done_at;               /* link time of the tx_done */
	int delivered;                  /* rx_deliver calls */
};

struct env;

/* What one side's callbacks see. */
struct side {
	struct env *env;
	int id;
	uint32_t alloc_fail_first;  /* fail this many rx_alloc calls first */
	int alloc_fail_always;      /* every rx_alloc fails */
	uint32_t alloc_calls;
	uint32_t rx_bufs;           /* buffers handed out by rx_alloc, not yet returned */
	uint32_t delivered;
	uint32_t aborted;
	uint32_t tx_done;
	uint32_t tx_done_status[8]; /* 0, ETIMEDOUT, ECONNRESET, EMSGSIZE, ENOBUFS, ECANCELED, other */
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
	/* filters */
	struct srd_rng rng;
	uint64_t acks_seen;
	int have_bh;
	uint16_t bh_entropy;        /* blackholed entropy value */
	uint32_t ent_count;         /* distinct entropy values of A's data packets */
	uint16_t ent[1024];
	uint64_t a_data_pkts;       /* data packets A sent (counted by the filter) */
	uint64_t a_data_dropped;
	/* problems seen inside callbacks */
	int errors;
	char first_error[256];
};

static void env_error(struct env *e, const char *fmt, ...)
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

static uint8_t pat(uint32_t idx, uint32_t off)
{
	return (uint8_t)(off + (off >> 8) * 3u + (off >> 16) * 5u + idx * 29u + 1u);
}

/* ---- callbacks ---- */

static struct tmsg *msg_by_tag(struct env *e, uint64_t tag)
{
	if ((tag & ~0xffffffffull) != TAG_BASE || (uint32_t)tag >= e->nmsgs)
		return NULL;
	return &e->msgs[(uint32_t)tag];
}

static void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct side *s = user;
	void *buf;

	s->alloc_calls++;
	if (msg->buf != NULL)
		env_error(s->env, "rx_alloc: msg->buf is not NULL");
	if (msg->peer != (uint64_t)(1 - s->id))
		env_error(s->env, "rx_alloc: peer %llu", (unsigned long long)msg->peer);
	if (s->alloc_fail_always)
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

static void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
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
	if (m->delivered > 1)
		env_error(e, "msg %u delivered %d times", m->idx, m->delivered);
	if (msg->len != m->len)
		env_error(e, "msg %u: len %u, sent %u", m->idx, msg->len, m->len);
	if (msg->imm != m->imm || msg->src_ep != m->src_ep || msg->dst_ep != m->dst_ep ||
	    msg->peer != (uint64_t)(1 - s->id))
		env_error(e, "msg %u: imm/src_ep/dst_ep/peer changed", m->idx);
	if (msg->buf_ctx != (void *)(uintptr_t)(0xc0de0000u + msg->len % 0x10000u))
		env_error(e, "msg %u: buf_ctx changed", m->idx);
	if (msg->len == m->len) {
		const uint8_t *p = msg->buf;

		for (uint32_t i = 0; i < msg->len; i++) {
			if (p[i] != pat(m->idx, i)) {
				env_error(e, "msg %u: byte %u is %u, want %u", m->idx, i, p[i],
					  pat(m->idx, i));
				break;
			}
		}
	}
out:
	free(msg->buf);
	s->rx_bufs--;
}

static void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct side *s = user;

	s->aborted++;
	free(msg->buf);
	s->rx_bufs--;
}

static int status_index(int status)
{
	switch (status) {
	case 0: return 0;
	case -ETIMEDOUT: return 1;
	case -ECONNRESET: return 2;
	case -EMSGSIZE: return 3;
	case -ENOBUFS: return 4;
	case -ECANCELED: return 5;
	default: return 6;
	}
}

static void cb_tx_done(void *user, void *ctx, int status)
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

static void env_cfg_default(struct srd_config *cfg, int side)
{
	srd_config_default(cfg);
	cfg->epoch = side == A ? 1 : 2;
	cfg->seed = side == A ? 0x1111 : 0x2222;
}

/* A new environment; cfg_a / cfg_b may be NULL for the defaults. */
static struct env *env_new(const struct srd_config *cfg_a, const struct srd_config *cfg_b)
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
			.rx_deliver = cb_rx_deliver,
			.rx_abort = cb_rx_abort,
			.tx_done = cb_tx_done,
		};
		err[0] = 0;
		if (srd_engine_create(&e->cfg[s], &e->cb[s], &eng[s], err, sizeof(err)) != 0)
			fail_msg("engine %d: %s", s, err);
	}
	link_init(e->l, eng[A], eng[B]);
	e->l->filter_arg = e;
	e->window = 64;
	srd_rng_seed(&e->rng, 99);
	return e;
}

/* Replace side s's engine by a fresh one with cfg (a restart). */
static __attribute__((unused)) void env_restart(struct env *e, int s, const struct srd_config *cfg)
{
	char err[128];

	srd_engine_destroy(e->l->eng[s]);
	e->cfg[s] = *cfg;
	e->l->eng[s] = NULL;
	if (srd_engine_create(&e->cfg[s], &e->cb[s], &e->l->eng[s], err, sizeof(err)) != 0)
		fail_msg("restart of %d: %s", s, err);
}

static void free_msgs(struct env *e)
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

/* Destroy the engines (every message not done gets -ECANCELED) and free everything. */
static void env_free(struct env *e)
{
	srd_engine_destroy(e->l->eng[A]);
	srd_engine_destroy(e->l->eng[B]);
	link_clear(e->l);
	assert_int_equal(e->side[A].rx_bufs, 0);
	assert_int_equal(e->side[B].rx_bufs, 0);
	free_msgs(e);
	free(e->l);
	free(e);
}

/* Room for n messages. */
static void env_msgs(struct env *e, uint32_t n)
{
	e->msgs = calloc(n, sizeof(*e->msgs));
	assert_non_null(e->msgs);
	e->nmsgs = n;
}

/* Fill message idx with len pattern bytes, sent from npieces pieces of the given sizes
 * (npieces 0: one contiguous buffer). */
static void msg_fill(struct env *e, uint32_t idx, uint32_t len, uint32_t npieces,
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
static int msg_send(struct env *e, uint32_t idx)
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
		.ctx = m,
	};
	rc = srd_send(e->l->eng[A], e->l->now, &req);
	if (rc == 0) {
		m->accepted = 1;
		e->outstanding++;
	}
	return rc;
}

/* link_run predicates */
static int all_done(void *arg)
{
	struct env *e = arg;

	return e->ndone == e->nmsgs;
}

/* Keep up to e->window messages outstanding; done when every message has its tx_done. */
static int stress_pump(void *arg)
{
	struct env *e = arg;

	while (e->next_send < e->nmsgs && e->outstanding < e->window) {
		int rc = msg_send(e, e->next_send);

		if (rc == -EAGAIN) {
			/* see test_bug_tx_slot_held_after_tx_done: retry at the next step */
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
static void run_idle(struct env *e, uint64_t extra)
{
	link_run(e->l, NULL, NULL, e->l->now + extra);
}

static struct srd_stats stats(struct env *e, int s)
{
	struct srd_stats st;

	srd_get_stats(e->l->eng[s], &st);
	return st;
}

/* Every message: one tx_done with status 0 and one delivery. */
static void check_all_ok(struct env *e)
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

/* ---- 1. single messages ---- */

static void one_message(uint32_t len)
{
	struct env *e = env_new(NULL, NULL);

	env_msgs(e, 1);
	msg_fill(e, 0, len, 0, NULL);
	assert_int_equal(msg_send(e, 0), 0);
	assert_true(link_run(e->l, all_done, e, 200 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_int_equal(sa.msgs_accepted, 1);
	assert_int_equal(sa.msgs_completed, 1);
	assert_int_equal(sa.msgs_failed, 0);
	assert_int_equal(sb.msgs_delivered, 1);
	assert_int_equal(sb.rx_payload_bytes, len);
	assert_int_equal(sb.rx_slots_used, 0);
	assert_int_equal(sa.tx_retx_pkts, 0);
	assert_int_equal(sa.tx_data_pkts, srd_wire_seg_count(len, e->cfg[A].seg_size));
	env_free(e);
}

static void test_msg_1_byte(void **state)
{
	(void)state;
	one_message(1);
}

static void test_msg_empty(void **state)
{
	(void)state;
	one_message(0);
}

static void test_msg_seg_size(void **state)
{
	(void)state;
	one_message(4096);
}

static void test_msg_seg_size_plus_1(void **state)
{
	(void)state;
	one_message(4097);
}

static void test_msg_16mib(void **state)
{
	(void)state;
	one_message(16 * MIB);
}

static void test_msg_scatter_gather(void **state)
{
	static const uint32_t pieces[3] = { 1, 6007, 3333 };
	static const uint32_t pieces2[5] = { 0, 4095, 0, 2, 8191 };
	struct env *e = env_new(NULL, NULL);

	(void)state;
	env_msgs(e, 2);
	msg_fill(e, 0, 1 + 6007 + 3333, 3, pieces);
	msg_fill(e, 1, 4095 + 2 + 8191, 5, pieces2); /* empty pieces too */
	assert_int_equal(msg_send(e, 0), 0);
	assert_int_equal(msg_send(e, 1), 0);
	assert_true(link_run(e->l, all_done, e, 100 * MS));
	run_idle(e, 1 * MS);
	check_all_ok(e);
	env_free(e);
}

/* ---- 2. many messages under impairments ---- */

enum scenario { SC_CLEAN, SC_LOSS7, SC_ACKLOSS3, SC_REORDER, SC_BLACKHOLE };

static enum link_verdict filter_count_a_data(struct env *e, int from, const struct srd_tx_meta *m)
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

static enum link_verdict filter_record(struct link *l, int from, const struct srd_tx_meta *m,
				       const uint8_t *pkt, uint32_t len, uint64_t n,
				       uint64_t *extra, unsigned *ce)
{
	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	return filter_count_a_data(l->filter_arg, from, m);
}

static enum link_verdict filter_loss7(struct link *l, int from, const struct srd_tx_meta *m,
				      const uint8_t *pkt, uint32_t len, uint64_t n,
				      uint64_t *extra, unsigned *ce)
{
	(void)pkt, (void)len, (void)extra, (void)ce;
	filter_count_a_data(l->filter_arg, from, m);
	return n % 7 == 6 ? LINK_DROP : LINK_PASS;
}

static enum link_verdict filter_ackloss3(struct link *l, int from, const struct srd_tx_meta *m,
					 const uint8_t *pkt, uint32_t len, uint64_t n,
					 uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	if (m->type == SRD_PKT_ACK && ++e->acks_seen % 3 == 0)
		return LINK_DROP;
	return LINK_PASS;
}

static enum link_verdict filter_reorder(struct link *l, int from, const struct srd_tx_meta *m,
					const uint8_t *pkt, uint32_t len, uint64_t n,
					uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)ce;
	filter_count_a_data(e, from, m);
	*extra = srd_rng_below(&e->rng, 3001); /* 0 .. 3 us */
	return LINK_PASS;
}

static enum link_verdict filter_blackhole(struct link *l, int from, const struct srd_tx_meta *m,
					  const uint8_t *pkt, uint32_t len, uint64_t n,
					  uint64_t *extra, unsigned *ce)
{
	struct env *e = l->filter_arg;

	(void)pkt, (void)len, (void)n, (void)extra, (void)ce;
	filter_count_a_data(e, from, m);
	if (m->entropy == e->bh_entropy) {
		if (from == A && m->type == SRD_PKT_DATA)
			e->a_data_dropped++;
		return LINK_DROP;
	}
	return LINK_PASS;
}

/* Sizes log-uniform over 1 B .. 1 MiB: a uniform octave 2^0 .. 2^20, uniform within it. */
static uint32_t log_uniform_size(struct srd_rng *r)
{
	uint32_t b = srd_rng_below(r, 21);
	uint32_t v = (1u << b) + srd_rng_below(r, 1u << b);

	return v > MIB ? MIB : v;
}

static void stress(enum scenario sc, uint64_t limit, uint64_t *took)
{
	static const link_filter_fn filters[] = {
		[SC_CLEAN] = filter_record,
		[SC_LOSS7] = filter_loss7,
		[SC_ACKLOSS3] = filter_ackloss3,
		[SC_REORDER] = filter_reorder,
		[SC_BLACKHOLE] = filter_blackhole,
	};
	struct env *e = env_new(NULL, NULL);
	struct srd_rng r;
	uint64_t bytes = 0;

	srd_rng_seed(&r, 0x5eed + (uint64_t)sc);
	env_msgs(e, 200);
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t len = log_uniform_size(&r);

		msg_fill(e, i, len, 0, NULL);
		bytes += len;
	}
	e->l->filter = filters[sc];
	e->window = 64;
	int ok = link_run(e->l, stress_pump, e, limit);
	uint64_t t = e->l->now;

	assert_no_errors(e);
	if (!ok)
		fail_msg("scenario %d: %u of 200 done by %llu ns", (int)sc, e->ndone,
			 (unsigned long long)t);
	run_idle(e, 2 * MS); /* late retransmissions must not deliver anything twice */
	check_all_ok(e);
	struct srd_stats sa = stats(e, A), sb = stats(e, B);
	assert_int_equal(sa.msgs_completed, 200);
	assert_int_equal(sa.msgs_failed, 0);
	assert_int_equal(sb.msgs_delivered, 200);
	assert_int_equal(sb.msgs_aborted, 0);
	assert_true(sb.rx_payload_bytes == bytes);
	assert_int_equal(sb.rx_slots_used, 0);
	assert_true(sa.tx_data_pkts == e->a_data_pkts);
	if (sc == SC_CLEAN)
		assert_int_equal(sa.tx_retx_pkts, 0);
	if (sc == SC_LOSS7 || sc == SC_BLACKHOLE)
		assert_true(sa.tx_retx_pkts > 0);
	if (sc == SC_BLACKHOLE) {
		assert_true(e->a_data_dropped > 0);
		assert_true(sa.path_failures >= 1);
		assert_true(sa.path_replacements >= 1);
	}
	print_message("      scenario %d: %llu bytes in %llu us sim, %llu data pkts, %llu retx, "
		      "%llu rack, %llu rto, %llu path failures, %u EAGAIN within the window\n",
		      (int)sc, (unsigned long long)bytes, (unsigned long long)(t / US),
		      (unsigned long long)sa.tx_data_pkts, (unsigned long long)sa.tx_retx_pkts,
		      (unsigned long long)sa.rack_losses, (unsigned long long)sa.rto_losses,
		      (unsigned long long)sa.path_failures, e->eagain);
	*took = t;
	env_free(e);
}

/* ~17 MB at one 4 KiB packet per 100 ns with a 32-packet window: a few ms clean.  The time
 * limit is 200 ms; each scenario must finish within a quarter of it. */
#define STRESS_LIMIT (200 * MS)

static void test_stress_clean(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_CLEAN, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 4);
}

static void test_stress_loss_every_7th(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_LOSS7, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 4);
}

static void test_stress_ack_loss(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_ACKLOSS3, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 4);
}

static void test_stress_reorder(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_REORDER, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 4);
}

static void test_stress_blackhole(void **state)
{
	uint64_t t;

	(void)state;
	stress(SC_BLACKHOLE, STRESS_LIMIT, &t);
	assert_true(t < STRESS_LIMIT / 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_1_byte),
		cmocka_unit_test(test_msg_empty),
		cmocka_unit_test(test_msg_seg_size),
		cmocka_unit_test(test_msg_seg_size_plus_1),
		cmocka_unit_test(test_msg_16mib),
		cmocka_unit_test(test_msg_scatter_gather),
		cmocka_unit_test(test_stress_clean),
		cmocka_unit_test(test_stress_loss_every_7th),
		cmocka_unit_test(test_stress_ack_loss),
		cmocka_unit_test(test_stress_reorder),
		cmocka_unit_test(test_stress_blackhole),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
