/*
 * test_fabric.c — cmocka tests of the event queue and of the fabric alone (raw packets,
 * no engine): exact timing, FIFO queueing, ECN, drop-tail, random loss, blackhole, flap,
 * jitter, ECMP determinism and spread, seed repeatability, and drop reporting.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evq.h"
#include "fabric.h"
#include "rng.h"

/* ---- harness ------------------------------------------------------------------------ */

/* One delivered packet. */
struct rec {
	uint64_t t;   /* delivery time */
	int src;      /* sending host */
	int dst;      /* receiving host */
	uint32_t len; /* bytes */
	uint32_t id;  /* the id the test wrote in the first 4 bytes */
	int ce;       /* CE mark */
};

/* A fabric under test, its queue, and what came out. */
struct ctx {
	struct sim_evq *q;       /* event queue */
	struct sim_fabric *fab;  /* fabric */
	struct rec *recs;        /* deliveries, in order */
	size_t n;                /* deliveries */
	size_t cap;              /* room at recs */
	uint64_t drops[SIM_FATE_DROP_NOMEM + 1]; /* drops reported to the callback, by enum
	                                            sim_fate */
	int last_drop_where;     /* where of the last drop */
	int echo_left;           /* ping-pong test: replies still to send */
	uint64_t now;            /* time of the last event handled */
};

static uint32_t get_id(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_deliver(void *user, int src, int dst, uint64_t now, const uint8_t *pkt,
		       uint32_t len, int ce)
{
	struct ctx *c = user;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->recs = realloc(c->recs, c->cap * sizeof(*c->recs));
		assert_non_null(c->recs);
	}
	/* the payload must be intact: byte i of packet id is (id + i) & 0xff after the id */
	for (uint32_t i = 4; i < len; i++)
		assert_int_equal(pkt[i], (uint8_t)(get_id(pkt) + i));
	c->recs[c->n++] = (struct rec){ now, src, dst, len, get_id(pkt), ce };
	if (c->echo_left > 0) {
		uint8_t buf[64];

		c->echo_left--;
		memcpy(buf, pkt, len < sizeof(buf) ? len : sizeof(buf));
		assert_int_equal(sim_fabric_send(c->fab, now, dst, src, 7, 0, buf,
						 len < sizeof(buf) ? len : sizeof(buf)), 0);
	}
}

static void on_drop(void *user, int src, int dst, uint64_t now, int where, int reason)
{
	struct ctx *c = user;

	(void)src;
	(void)dst;
	(void)now;
	assert_true(reason >= SIM_FATE_DROP_DOWN && reason <= SIM_FATE_DROP_NOMEM);
	c->drops[reason]++;
	c->last_drop_where = where;
}

static void ctx_open(struct ctx *c, const struct sim_fabric_config *cfg)
{
	struct sim_fabric_cb cb = { .user = c, .deliver = on_deliver, .drop = on_drop };
	char err[128];

	memset(c, 0, sizeof(*c));
	assert_int_equal(sim_evq_create(&c->q), 0);
	assert_int_equal(sim_fabric_create(cfg, c->q, &cb, &c->fab, err, sizeof(err)), 0);
}

static void ctx_close(struct ctx *c)
{
	sim_fabric_destroy(c->fab);
	sim_evq_destroy(c->q);
	free(c->recs);
}

/* Handle every event due at or before t. */
static void run_until(struct ctx *c, uint64_t t)
{
	struct sim_event ev;

	while (sim_evq_size(c->q) > 0 && sim_evq_peek_time(c->q) <= t) {
		assert_int_equal(sim_evq_pop(c->q, &ev), 0);
		assert_true(ev.time_ns >= c->now);
		c->now = ev.time_ns;
		assert_int_equal(sim_fabric_handle(c->fab, &ev), 0);
	}
}

static void run_all(struct ctx *c)
{
	run_until(c, UINT64_MAX);
	assert_int_equal(sim_fabric_in_flight(c->fab), 0);
}

/* Send packet `id` of len bytes (len >= 4) at now. */
static int send_id(struct ctx *c, uint64_t now, int src, int dst, uint16_t entropy, int ect,
		   uint32_t id, uint32_t len)
{
	uint8_t buf[2048];

	assert_true(len >= 4 && len <= sizeof(buf));
	buf[0] = (uint8_t)id;
	buf[1] = (uint8_t)(id >> 8);
	buf[2] = (uint8_t)(id >> 16);
	buf[3] = (uint8_t)(id >> 24);
	for (uint32_t i = 4; i < len; i++)
		buf[i] = (uint8_t)(id + i);
	return sim_fabric_send(c->fab, now, src, dst, entropy, ect, buf, len);
}

/* One path, no impairment, unlimited queues, ECN off: the timing tests' base. */
static void cfg_plain(struct sim_fabric_config *cfg, uint32_t hosts, uint32_t npaths,
		      uint64_t path_bps, uint64_t host_bps)
{
	sim_fabric_config_default(cfg, hosts, npaths);
	cfg->host_rate_bps = host_bps;
	cfg->dl_ecn_bytes = UINT64_MAX;
	cfg->dl_limit_bytes = UINT64_MAX;
	for (uint32_t i = 0; i < npaths; i++) {
		cfg->path[i].rate_bps = path_bps;
		cfg->path[i].prop_delay_ns = 1000;
		cfg->path[i].ecn_bytes = UINT64_MAX;
		cfg->path[i].limit_bytes = UINT64_MAX;
	}
}

#define G10 10000000000ull
#define G25 25000000000ull
#define G100 100000000000ull
#define WIRE 1066u /* 1000-byte packets plus 66 bytes of overhead */

/* ---- event queue ---------------------------------------------------------------------- */

static void test_evq_order(void **state)
{
	struct sim_evq *q;
	struct sim_event ev, prev = { 0 };
	struct srd_rng r;

	(void)state;
	assert_int_equal(sim_evq_create(&q), 0);
	assert_int_equal(sim_evq_pop(q, &ev), -ENOENT);
	assert_true(sim_evq_peek_time(q) == UINT64_MAX);
	srd_rng_seed(&r, 42);
	/* 5000 events over 40 distinct times: many ties; a = push order */
	for (int i = 0; i < 5000; i++)
		assert_int_equal(sim_evq_push(q, srd_rng_below(&r, 40), SIM_EV_USER_BASE, i, -i, NULL), 0);
	assert_int_equal(sim_evq_size(q), 5000);
	assert_int_equal(sim_evq_pushed(q), 5000);
	for (int i = 0; i < 5000; i++) {
		uint64_t t = sim_evq_peek_time(q);

		assert_int_equal(sim_evq_pop(q, &ev), 0);
		assert_true(ev.time_ns == t);
		assert_int_equal(ev.b, -ev.a);
		assert_true(ev.seq == (uint64_t)ev.a);
		if (i > 0) {
			assert_true(ev.time_ns >= prev.time_ns);
			if (ev.time_ns == prev.time_ns)
				assert_true(ev.a > prev.a); /* ties: first pushed, first out */
		}
		prev = ev;
	}
	assert_int_equal(sim_evq_size(q), 0);
	assert_int_equal(sim_evq_pop(q, &ev), -ENOENT);
	sim_evq_destroy(q);
}

static void test_evq_interleaved(void **state)
{
	struct sim_evq *q;
	struct sim_event ev;
	uint64_t now = 0;
	int next = 0, popped = 0;

	(void)state;
	assert_int_equal(sim_evq_create(&q), 0);
	/* a same-time event pushed while handling an event at that time runs after the
	 * events already queued for that time */
	assert_int_equal(sim_evq_push(q, 10, SIM_EV_USER_BASE, next++, 0, NULL), 0);
	assert_int_equal(sim_evq_push(q, 10, SIM_EV_USER_BASE, next++, 0, NULL), 0);
	assert_int_equal(sim_evq_push(q, 5, SIM_EV_USER_BASE, next++, 0, NULL), 0);
	while (sim_evq_pop(q, &ev) == 0) {
		assert_true(ev.time_ns >= now);
		now = ev.time_ns;
		popped++;
		if (ev.a == 0)
			assert_int_equal(sim_evq_push(q, 10, SIM_EV_USER_BASE, 100, 0, NULL), 0);
		if (popped == 1)
			assert_int_equal(ev.a, 2);
		if (popped == 2)
			assert_int_equal(ev.a, 0);
		if (popped == 3)
			assert_int_equal(ev.a, 1);
		if (popped == 4)
			assert_int_equal(ev.a, 100);
	}
	assert_int_equal(popped, 4);
	sim_evq_destroy(q);
}

/* ---- timing --------------------------------------------------------------------------- */

static void test_ser_ns(void **state)
{
	(void)state;
	assert_true(sim_ser_ns(1000, 66, G10) == 853);  /* 8528 bits / 10 Gb/s = 852.8 -> 853 */
	assert_true(sim_ser_ns(1000, 66, G25) == 342);  /* 341.12 -> 342 */
	assert_true(sim_ser_ns(1000, 66, G100) == 86);  /* 85.28 -> 86 */
	assert_true(sim_ser_ns(1184, 66, G10) == 1000); /* exactly 10000 bits: no rounding */
	assert_true(sim_ser_ns(1, 0, 8000000000ull) == 1);
}

static void test_one_packet_exact(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G25);
	ctx_open(&c, &cfg);
	assert_int_equal(send_id(&c, 5000, 0, 1, 1234, 1, 77, 1000), SIM_FATE_QUEUED);
	assert_int_equal(sim_fabric_in_flight(c.fab), 1);
	run_all(&c);
	assert_int_equal(c.n, 1);
	/* path serialization 853 + propagation 1000 + downlink serialization 342 */
	assert_true(c.recs[0].t == 5000 + 853 + 1000 + 342);
	assert_int_equal(c.recs[0].src, 0);
	assert_int_equal(c.recs[0].dst, 1);
	assert_int_equal(c.recs[0].id, 77);
	assert_int_equal(c.recs[0].len, 1000);
	assert_int_equal(c.recs[0].ce, 0);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.pkts_in, 1);
	assert_int_equal(st.pkts_out, 1);
	assert_int_equal(st.bytes_out, 1000);
	assert_int_equal(st.peak_bytes, WIRE);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &st), 0);
	assert_int_equal(st.pkts_in, 1);
	assert_int_equal(st.pkts_out, 1);
	assert_int_equal(st.peak_bytes, WIRE);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.pkts_in, 0);
	ctx_close(&c);
}

static void test_fifo_path_queue(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G100);
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), 0);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.queue_bytes, 3 * WIRE);
	run_until(&c, 853); /* the first packet has left the path queue */
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.queue_bytes, 2 * WIRE);
	run_all(&c);
	assert_int_equal(c.n, 3);
	for (uint32_t k = 0; k < 3; k++) {
		assert_int_equal(c.recs[k].id, k);
		/* each waits for those ahead: (k+1) * 853 + 1000 + 86 */
		assert_true(c.recs[k].t == (k + 1) * 853 + 1000 + 86);
	}
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.peak_bytes, 3 * WIRE);
	assert_int_equal(st.queue_bytes, 0);
	/* after an idle gap the queue starts afresh */
	assert_int_equal(send_id(&c, 100000, 0, 1, 9, 0, 3, 1000), 0);
	run_all(&c);
	assert_true(c.recs[3].t == 100000 + 853 + 1000 + 86);
	ctx_close(&c);
}

static void test_downlink_queue(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	/* fast paths, slow host: the queue builds at the receiver's downlink (incast) */
	cfg_plain(&cfg, 3, 2, G100, G10);
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 3);
	/* arrivals at 1086, 1172, 1258; downlink serialization 853 each, back to back */
	assert_true(c.recs[0].t == 1086 + 853);
	assert_true(c.recs[1].t == 1086 + 2 * 853);
	assert_true(c.recs[2].t == 1086 + 3 * 853);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &st), 0);
	assert_int_equal(st.peak_bytes, 3 * WIRE);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(st.pkts_out, 3);
	assert_int_equal(st.bytes_out, 3000);

	/* two senders into one receiver at once */
	assert_int_equal(send_id(&c, 100000, 0, 1, 9, 0, 10, 1000), 0);
	assert_int_equal(send_id(&c, 100000, 2, 1, 9, 0, 11, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 5);
	assert_true(c.recs[3].t == 100000 + 1086 + 853);
	assert_true(c.recs[4].t == 100000 + 1086 + 2 * 853);
	ctx_close(&c);
}

/* ---- ECN and drop-tail ----------------------------------------------------------------- */

static void test_ecn_path(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;
	const int want[5] = { 0, 0, 1, 1, 1 }; /* queue before: 0, 1066, 2132, 3198, 4264 */

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G100);
	cfg.path[0].ecn_bytes = 2000;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 1, k, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 5);
	for (uint32_t k = 0; k < 5; k++) {
		assert_int_equal(c.recs[k].id, k);
		assert_int_equal(c.recs[k].ce, want[k]);
	}
	/* the same burst without ECT: never marked */
	for (uint32_t k = 5; k < 10; k++)
		assert_int_equal(send_id(&c, 100000, 0, 1, 9, 0, k, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 10);
	for (uint32_t k = 5; k < 10; k++)
		assert_int_equal(c.recs[k].ce, 0);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.ce_marked, 3);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &st), 0);
	assert_int_equal(st.ce_marked, 0);
	ctx_close(&c);
}

static void test_ecn_downlink(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 2, 1, G100, G10);
	cfg.dl_ecn_bytes = 2000;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 1, k, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 5);
	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(c.recs[k].ce, k >= 2);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &st), 0);
	assert_int_equal(st.ce_marked, 3);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.ce_marked, 0);
	ctx_close(&c);
}

static void test_droptail(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G100);
	cfg.path[0].limit_bytes = 3 * WIRE; /* exactly three packets fit */
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), SIM_FATE_QUEUED);
	for (uint32_t k = 3; k < 5; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), SIM_FATE_DROP_QUEUE);
	/* once one has left, one more fits */
	run_until(&c, 853);
	assert_int_equal(send_id(&c, 853, 0, 1, 9, 0, 5, 1000), SIM_FATE_QUEUED);
	assert_int_equal(send_id(&c, 853, 0, 1, 9, 0, 6, 1000), SIM_FATE_DROP_QUEUE);
	run_all(&c);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.recs[3].id, 5);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_queue, 3);
	assert_int_equal(st.pkts_in, 7);
	assert_int_equal(st.pkts_out, 4);
	assert_int_equal(st.peak_bytes, 3 * WIRE);
	assert_int_equal(c.drops[SIM_FATE_DROP_QUEUE], 3);
	assert_int_equal(c.last_drop_where, 0);
	ctx_close(&c);
}

static void test_droptail_downlink(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 2, 1, G100, G10);
	cfg.dl_limit_bytes = 2 * WIRE;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), SIM_FATE_QUEUED);
	run_all(&c);
	/* arrivals 1086..1430 all before the first departure (1939): two fit */
	assert_int_equal(c.n, 2);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &st), 0);
	assert_int_equal(st.drops_queue, 3);
	assert_int_equal(st.pkts_in, 5);
	assert_int_equal(st.peak_bytes, 2 * WIRE);
	assert_int_equal(c.drops[SIM_FATE_DROP_QUEUE], 3);
	assert_int_equal(c.last_drop_where, -1 - 1);
	ctx_close(&c);
}

/* ---- impairments ------------------------------------------------------------------------ */

static void test_random_loss(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;
	uint64_t t = 0, dropped = 0;

	(void)state;
	cfg_plain(&cfg, 2, 1, G100, G100);
	cfg.path[0].loss = 0.1;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 100000; k++) {
		int rc = send_id(&c, t, 0, 1, 9, 0, k, 64);

		assert_true(rc == SIM_FATE_QUEUED || rc == SIM_FATE_DROP_LOSS);
		dropped += rc == SIM_FATE_DROP_LOSS;
		if (k % 1000 == 999) {
			t += 1000000;
			run_until(&c, t);
		}
	}
	run_all(&c);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_loss, dropped);
	assert_int_equal(c.n + dropped, 100000);
	assert_int_equal(c.drops[SIM_FATE_DROP_LOSS], dropped);
	/* sd of the fraction is 0.00095: +-0.005 is over 5 sd */
	assert_true(fabs((double)dropped / 100000.0 - 0.1) < 0.005);
	ctx_close(&c);

	/* p = 0 and p = 1 */
	cfg.path[0].loss = 1.0;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 100; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 64), SIM_FATE_DROP_LOSS);
	run_all(&c);
	assert_int_equal(c.n, 0);
	ctx_close(&c);
}

static void test_blackhole(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;
	const uint64_t T = 100000;

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G100);
	cfg.path[0].blackhole_ns = T;
	ctx_open(&c, &cfg);
	assert_int_equal(sim_fabric_path_up(c.fab, 0, 0), 1);
	assert_int_equal(sim_fabric_path_up(c.fab, 0, T - 1), 1);
	assert_int_equal(sim_fabric_path_up(c.fab, 0, T), 0);
	assert_int_equal(sim_fabric_path_up(c.fab, 0, UINT64_MAX - 1), 0);
	assert_int_equal(sim_fabric_path_up(c.fab, 1, 0), -EINVAL);
	for (uint32_t k = 0; k < 20; k++) {
		uint64_t t = (uint64_t)k * 10000;

		run_until(&c, t);
		assert_int_equal(send_id(&c, t, 0, 1, 9, 0, k, 1000),
				 t < T ? SIM_FATE_QUEUED : SIM_FATE_DROP_DOWN);
	}
	run_all(&c);
	assert_int_equal(c.n, 10);
	for (uint32_t k = 0; k < 10; k++)
		assert_int_equal(c.recs[k].id, k);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_down, 10);
	assert_int_equal(c.drops[SIM_FATE_DROP_DOWN], 10);
	ctx_close(&c);

	/* a packet still serializing when the blackhole starts is lost too */
	ctx_open(&c, &cfg);
	assert_int_equal(send_id(&c, T - 100, 0, 1, 9, 0, 1, 1000), SIM_FATE_QUEUED);
	run_all(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_down, 1);
	assert_int_equal(st.queue_bytes, 0);
	ctx_close(&c);
}

static void test_flap(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;
	/* down [10000, 11000), up [11000, 12000), down [12000, 13000), ... */
	const struct { uint64_t t; int up; } when[] = {
		{ 0, 1 }, { 9999, 1 }, { 10000, 0 }, { 10999, 0 }, { 11000, 1 }, { 11999, 1 },
		{ 12000, 0 }, { 12999, 0 }, { 13000, 1 }, { 10000 + 1000 * 1001ull, 1 },
		{ 10000 + 1000 * 1000ull, 0 },
	};
	const uint64_t sends[] = { 9000, 10500, 11500, 12500, 13500, 11995 };
	const int fate[] = { 0, SIM_FATE_DROP_DOWN, 0, SIM_FATE_DROP_DOWN, 0, 0 };

	(void)state;
	cfg_plain(&cfg, 2, 1, 1000 * 1000000000ull, G100); /* 1 Tb/s: 9 ns per packet */
	cfg.path[0].prop_delay_ns = 0;
	cfg.path[0].flap_start_ns = 10000;
	cfg.path[0].flap_period_ns = 1000;
	ctx_open(&c, &cfg);
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++)
		assert_int_equal(sim_fabric_path_up(c.fab, 0, when[i].t), when[i].up);
	for (size_t i = 0; i < 5; i++) {
		run_until(&c, sends[i]);
		assert_int_equal(send_id(&c, sends[i], 0, 1, 9, 0, (uint32_t)i, 1000), fate[i]);
	}
	run_all(&c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.recs[0].id, 0);
	assert_int_equal(c.recs[1].id, 2);
	assert_int_equal(c.recs[2].id, 4);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_down, 2);
	ctx_close(&c);

	/* enqueued while up at 11995, serialization (9 ns at 1 Tb/s) ends at 12004: down */
	ctx_open(&c, &cfg);
	assert_int_equal(send_id(&c, sends[5], 0, 1, 9, 0, 5, 1000), fate[5]);
	run_all(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &st), 0);
	assert_int_equal(st.drops_down, 1);
	ctx_close(&c);
}

static void test_jitter_reorders(void **state)
{
	struct sim_fabric_config cfg;
	struct ctx c;
	uint32_t inversions = 0;
	uint8_t seen[1000] = { 0 };

	(void)state;
	cfg_plain(&cfg, 2, 1, G100, 1000 * G100); /* fast downlink: order is the path's */
	cfg.path[0].jitter_ns = 5000;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < 1000; k++)
		assert_int_equal(send_id(&c, 0, 0, 1, 9, 0, k, 1000), 0);
	run_all(&c);
	assert_int_equal(c.n, 1000);
	for (size_t i = 0; i < c.n; i++) {
		uint32_t k = c.recs[i].id;
		/* leaves the path at (k+1)*86, then 1000 ns + jitter, then >= 1 ns downlink */
		uint64_t lo = (uint64_t)(k + 1) * 86 + 1000;

		assert_true(k < 1000 && !seen[k]);
		seen[k] = 1;
		assert_true(c.recs[i].t > lo);
		assert_true(c.recs[i].t <= lo + 5000 + 1000); /* jitter + slack for the downlink */
		if (i > 0 && c.recs[i].id < c.recs[i - 1].id)
			inversions++;
	}
	assert_true(inversions > 100); /* jitter of ~58 packet times reorders a lot */
	ctx_close(&c);
}

/* ---- ECMP ------------------------------------------------------------------------------ */

static void test_ecmp_deterministic(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats st;
	struct ctx c;
	uint64_t in[8] = { 0 };

	(void)state;
	cfg_plain(&cfg, 4, 8, G100, G100);
	ctx_open(&c, &cfg);
	for (uint32_t e = 0; e < 2000; e++) {
		int p = sim_fabric_path_of(c.fab, 0, 1, (uint16_t)e);

		assert_true(p >= 0 && p < 8);
		for (int rep = 0; rep < 3; rep++)
			assert_int_equal(sim_fabric_path_of(c.fab, 0, 1, (uint16_t)e), p);
		/* the packet really takes that path */
		assert_int_equal(send_id(&c, c.now, 0, 1, (uint16_t)e, 0, e, 64), 0);
		in[p]++;
		assert_int_equal(sim_fabric_path_stats(c.fab, p, &st), 0);
		assert_int_equal(st.pkts_in, in[p]);
		run_all(&c);
	}
	assert_int_equal(c.n, 2000);
	/* the pair is part of the hash: (0,1) and (2,3) do not share one mapping */
	{
		int differ = 0;

		for (uint32_t e = 0; e < 256; e++)
			differ += sim_fabric_path_of(c.fab, 0, 1, (uint16_t)e) !=
				  sim_fabric_path_of(c.fab, 2, 3, (uint16_t)e);
		assert_true(differ > 150); /* ~224 expected */
	}
	ctx_close(&c);
}

static void test_ecmp_spread(void **state)
{
	struct sim_fabric_config cfg;
	struct ctx c;

	(void)state;
	cfg_plain(&cfg, 4, 8, G100, G100);
	for (uint64_t seed = 1; seed <= 4; seed++) {
		cfg.seed = seed;
		ctx_open(&c, &cfg);
		for (int pair = 0; pair < 3; pair++) {
			uint32_t cnt[8] = { 0 };

			for (uint32_t e = 0; e < 16384; e++)
				cnt[sim_fabric_path_of(c.fab, pair, 3 - pair, (uint16_t)e)]++;
			for (int p = 0; p < 8; p++) /* 2048 each, within +-10% */
				assert_true(cnt[p] >= 1844 && cnt[p] <= 2252);
		}
		ctx_close(&c);
	}
}

/* ---- repeatability ---------------------------------------------------------------------- */

/* A busy random run: 4 hosts, 4 impaired paths; returns the delivery trace (caller frees). */
static struct rec *random_run(uint64_t seed, size_t *n, uint64_t *drops)
{
	struct sim_fabric_config cfg;
	struct ctx c;
	struct srd_rng r;
	struct rec *out;
	uint64_t t = 0;

	cfg_plain(&cfg, 4, 4, G10, G25);
	cfg.seed = seed;
	cfg.dl_ecn_bytes = 4000;
	cfg.dl_limit_bytes = 20000;
	for (int p = 0; p < 4; p++) {
		cfg.path[p].loss = 0.02 * p;
		cfg.path[p].jitter_ns = 700 * (uint64_t)p;
		cfg.path[p].ecn_bytes = 3000;
		cfg.path[p].limit_bytes = 12000;
	}
	cfg.path[3].flap_start_ns = 50000;
	cfg.path[3].flap_period_ns = 20000;
	ctx_open(&c, &cfg);
	srd_rng_seed(&r, 99); /* the offered traffic is the same in every run */
	for (uint32_t k = 0; k < 3000; k++) {
		int src = (int)srd_rng_below(&r, 4);
		int dst = (int)((src + 1 + (int)srd_rng_below(&r, 3)) % 4);
		int rc;

		t += srd_rng_below(&r, 400);
		run_until(&c, t);
		rc = send_id(&c, t, src, dst, (uint16_t)srd_rng_next(&r), (int)(k & 1), k,
			     64 + srd_rng_below(&r, 1400));
		assert_true(rc >= 0);
	}
	run_all(&c);
	*drops = c.drops[1] + c.drops[2] + c.drops[3];
	*n = c.n;
	out = c.recs;
	c.recs = NULL;
	ctx_close(&c);
	return out;
}

static int rec_equal(const struct rec *x, const struct rec *y)
{
	return x->t == y->t && x->src == y->src && x->dst == y->dst && x->len == y->len &&
	       x->id == y->id && x->ce == y->ce;
}

static void test_same_seed_same_trace(void **state)
{
	size_t n1, n2, n3;
	uint64_t d1, d2, d3;
	struct rec *a, *b, *x;

	(void)state;
	a = random_run(7, &n1, &d1);
	b = random_run(7, &n2, &d2);
	x = random_run(8, &n3, &d3);
	assert_int_equal(n1, n2);
	assert_int_equal(d1, d2);
	assert_true(n1 > 1000 && d1 > 0);
	assert_int_equal(n1 + d1, 3000);
	assert_int_equal(n3 + d3, 3000);
	for (size_t i = 0; i < n1; i++)
		assert_true(rec_equal(&a[i], &b[i]));
	/* another seed: another ECMP salt and other draws, so another trace */
	{
		int same = n1 == n3;

		for (size_t i = 0; same && i < n1; i++)
			same = rec_equal(&a[i], &x[i]);
		assert_false(same);
	}
	free(a);
	free(b);
	free(x);
}

static void test_different_seed_different_ecmp(void **state)
{
	struct sim_fabric_config cfg;
	struct ctx c1, c2, c3;
	int differ = 0;

	(void)state;
	cfg_plain(&cfg, 2, 8, G100, G100);
	cfg.seed = 1;
	ctx_open(&c1, &cfg);
	ctx_open(&c3, &cfg);
	cfg.seed = 2;
	ctx_open(&c2, &cfg);
	for (uint32_t e = 0; e < 256; e++) {
		differ += sim_fabric_path_of(c1.fab, 0, 1, (uint16_t)e) !=
			  sim_fabric_path_of(c2.fab, 0, 1, (uint16_t)e);
		assert_int_equal(sim_fabric_path_of(c1.fab, 0, 1, (uint16_t)e),
				 sim_fabric_path_of(c3.fab, 0, 1, (uint16_t)e));
	}
	assert_true(differ > 150); /* 7/8 of 256 = 224 expected */
	ctx_close(&c1);
	ctx_close(&c2);
	ctx_close(&c3);
}

/* ---- API edges -------------------------------------------------------------------------- */

static void test_config_and_args(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_fabric_cb cb = { .deliver = on_deliver };
	struct sim_fabric *fab = NULL;
	struct sim_evq *q;
	struct ctx c;
	char err[128];
	uint8_t b[8] = { 0 };

	(void)state;
	assert_int_equal(sim_evq_create(&q), 0);
	sim_fabric_config_default(&cfg, 2, 0);
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_true(strstr(err, "npaths") != NULL);
	sim_fabric_config_default(&cfg, 2, 65);
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	sim_fabric_config_default(&cfg, 0, 4);
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_true(strstr(err, "hosts") != NULL);
	sim_fabric_config_default(&cfg, 2, 4);
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), 0);
	cfg.path[3].loss = 1.5;
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_true(strstr(err, "path[3]") != NULL);
	cfg.path[3].loss = NAN;
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.path[3].loss = 0;
	cfg.path[1].rate_bps = 0;
	assert_int_equal(sim_fabric_create(&cfg, q, &cb, &fab, err, sizeof(err)), -EINVAL);
	assert_null(fab);
	cfg.path[1].rate_bps = G10;
	cfg.host_rate_bps = 0;
	assert_int_equal(sim_fabric_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.host_rate_bps = G10;
	cb.deliver = NULL;
	assert_int_equal(sim_fabric_create(&cfg, q, &cb, &fab, err, sizeof(err)), -EINVAL);
	sim_evq_destroy(q);
	sim_fabric_destroy(NULL);
	sim_evq_destroy(NULL);

	sim_fabric_config_default(&cfg, 2, 4);
	ctx_open(&c, &cfg);
	assert_int_equal(sim_fabric_send(c.fab, 0, -1, 1, 0, 0, b, 8), -EINVAL);
	assert_int_equal(sim_fabric_send(c.fab, 0, 0, 2, 0, 0, b, 8), -EINVAL);
	assert_int_equal(sim_fabric_send(c.fab, 0, 0, 1, 0, 0, b, 0), -EINVAL);
	assert_int_equal(sim_fabric_send(c.fab, 0, 0, 1, 0, 0, b, SIM_FABRIC_MAX_PKT + 1), -EINVAL);
	{
		struct sim_queue_stats st;
		struct sim_event ev = { .type = SIM_EV_USER_BASE };

		assert_int_equal(sim_fabric_path_stats(c.fab, 4, &st), -EINVAL);
		assert_int_equal(sim_fabric_downlink_stats(c.fab, 2, &st), -EINVAL);
		assert_int_equal(sim_fabric_handle(c.fab, &ev), -EINVAL);
		ev.type = SIM_EV_FAB_DL_DONE;
		ev.a = 5; /* no such slot */
		assert_int_equal(sim_fabric_handle(c.fab, &ev), -EINVAL);
	}
	/* a fabric destroyed with packets inside frees them */
	assert_int_equal(send_id(&c, 0, 0, 1, 1, 0, 1, 1500), 0);
	assert_int_equal(send_id(&c, 0, 1, 0, 2, 0, 2, 100), 0);
	ctx_close(&c);
}

static void test_deliver_may_send(void **state)
{
	struct sim_fabric_config cfg;
	struct ctx c;

	(void)state;
	/* ping-pong from inside the deliver callback: 200 round trips of 64 bytes, growing
	 * the slot pool while a delivered buffer is in use */
	cfg_plain(&cfg, 2, 1, G10, G10);
	ctx_open(&c, &cfg);
	c.echo_left = 199;
	assert_int_equal(send_id(&c, 0, 0, 1, 1, 0, 5, 64), 0);
	run_all(&c);
	assert_int_equal(c.n, 200);
	for (size_t i = 0; i < c.n; i++) {
		/* one-way: 130 bytes at 10 Gb/s = 104 ns, twice, plus 1000 ns */
		assert_true(c.recs[i].t == (i + 1) * (104 + 1000 + 104));
		assert_int_equal(c.recs[i].dst, (int)((i + 1) % 2));
		assert_int_equal(c.recs[i].id, 5);
	}
	ctx_close(&c);
}

/* Every packet is delivered or reported dropped exactly once, and the observer's fate
 * agrees with the counter that counted it (down, loss, queue; nomem stays 0 here: running
 * out of memory cannot be provoked without allocation-failure injection). */
static void test_drop_fates_match_counters(void **state)
{
	struct sim_fabric_config cfg;
	struct sim_queue_stats ps, dl;
	struct ctx c;
	uint64_t reported = 0, t = 0;
	const uint32_t N = 4000;

	(void)state;
	cfg_plain(&cfg, 2, 1, G10, G10);
	cfg.path[0].loss = 0.2;
	cfg.path[0].limit_bytes = 8 * WIRE;
	cfg.path[0].jitter_ns = 2000; /* bunches arrivals at the downlink */
	cfg.path[0].blackhole_ns = 800000; /* the sends go on until 1 ms */
	cfg.dl_limit_bytes = 2 * WIRE;
	ctx_open(&c, &cfg);
	for (uint32_t k = 0; k < N; k++) {
		if (k % 4 == 0) { /* bursts of 4 every 1 us: above the 10 Gb/s path rate */
			t += 1000;
			run_until(&c, t);
		}
		assert_true(send_id(&c, t, 0, 1, 9, 0, k, 1000) >= SIM_FATE_QUEUED);
	}
	run_all(&c);
	assert_int_equal(sim_fabric_path_stats(c.fab, 0, &ps), 0);
	assert_int_equal(sim_fabric_downlink_stats(c.fab, 1, &dl), 0);
	assert_int_equal(c.drops[SIM_FATE_DROP_DOWN], ps.drops_down + dl.drops_down);
	assert_int_equal(c.drops[SIM_FATE_DROP_LOSS], ps.drops_loss + dl.drops_loss);
	assert_int_equal(c.drops[SIM_FATE_DROP_QUEUE], ps.drops_queue + dl.drops_queue);
	assert_int_equal(c.drops[SIM_FATE_DROP_NOMEM], ps.drops_nomem + dl.drops_nomem);
	for (int f = SIM_FATE_DROP_DOWN; f <= SIM_FATE_DROP_NOMEM; f++) {
		if (f != SIM_FATE_DROP_NOMEM)
			assert_true(c.drops[f] > 0); /* every other kind of drop happened */
		reported += c.drops[f];
	}
	assert_int_equal(c.n + reported, N);
	assert_int_equal(ps.pkts_in, N);
	ctx_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evq_order),
		cmocka_unit_test(test_evq_interleaved),
		cmocka_unit_test(test_ser_ns),
		cmocka_unit_test(test_one_packet_exact),
		cmocka_unit_test(test_fifo_path_queue),
		cmocka_unit_test(test_downlink_queue),
		cmocka_unit_test(test_ecn_path),
		cmocka_unit_test(test_ecn_downlink),
		cmocka_unit_test(test_droptail),
		cmocka_unit_test(test_droptail_downlink),
		cmocka_unit_test(test_random_loss),
		cmocka_unit_test(test_blackhole),
		cmocka_unit_test(test_flap),
		cmocka_unit_test(test_jitter_reorders),
		cmocka_unit_test(test_ecmp_deterministic),
		cmocka_unit_test(test_ecmp_spread),
		cmocka_unit_test(test_same_seed_same_trace),
		cmocka_unit_test(test_different_seed_different_ecmp),
		cmocka_unit_test(test_config_and_args),
		cmocka_unit_test(test_deliver_may_send),
		cmocka_unit_test(test_drop_fates_match_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
