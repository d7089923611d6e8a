/*
 * perf_server.c — srd-perf's server: one thread per endpoint (-t), each with its own
 * attachment to srdd.  Thread 0's endpoint is the one clients name; it answers HELLO with
 * every thread's address.  A thread echoes PING as PONG, counts DATA, sends DATA back for a
 * bidirectional run, and answers FIN with RESULT.  Without --forever the server exits after
 * the FIN that says it is the client's last.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

#define CTX_DATA ((void *)1) /* a DATA send (bidir): counted, and frees a window slot */
#define CTX_PONG ((void *)2) /* a PONG: its payload is buf */

struct server;

/* One server thread and its endpoint. */
struct sthread {
	struct server *srv;
	uint32_t idx;
	struct srdc *h;
	struct srdc_ep *ep;
	struct srdc_addr addr;
	void *buf;               /* PONG and DATA payload, in the region */
	uint32_t buf_len;
	uint32_t buf_users;      /* sends from buf not completed yet */
	struct perf_result res;  /* since the last FIN */
	struct perf_order order; /* DATA arrivals out of order, since the last FIN */
	/* a bidirectional run: DATA to the client while it sends to us */
	bool sending;
	struct srdc_addr client;
	struct perf_hello run;
	uint64_t sent, inflight, t0_ns, last_done_ns, deadline_ns;
	bool fin_pending;        /* FIN came while still sending: answer when done */
	uint64_t fin_expect;     /* a FIN waits for this many DATA (--inject runs), or 0 */
	struct srdc_addr fin_from;
	uint64_t poll_ns;        /* when the last poll returned completions */
	uint64_t rx_first_ns;    /* the first and the last DATA arrival since the last FIN */
	uint64_t rx_last_ns;
	int rc;                  /* exit status of the thread */
};

struct server {
	const struct perf_opts *o;
	uint32_t n;
	struct sthread t[PERF_MAX_THREADS];
	atomic_int over;         /* the last FIN was answered (thread 0) */
};

static void on_comp(void *arg, const struct srdc_completion *c);

/* Make room for len bytes of payload in the region (waiting for the sends that still read
 * the old buffer). */
static int ensure_buf(struct sthread *t, uint32_t len)
{
	if (len <= t->buf_len)
		return 0;
	while (t->buf_users) {
		struct srdc_completion c[16];
		int n = perf_poll(t->h, c, 16, t->srv->o->wait);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			on_comp(t, &c[i]);
	}
	if (t->buf)
		srdc_buf_free(t->h, t->buf);
	t->buf = srdc_buf_alloc(t->h, len);
	t->buf_len = t->buf ? len : 0;
	if (!t->buf) {
		fprintf(stderr, "srd-perf server: no room for %u bytes in the shared region\n", len);
		return -ENOMEM;
	}
	memset(t->buf, 0x5a, len);
	return 0;
}

static int send_ctl(struct sthread *t, const struct srdc_addr *to, enum perf_tag tag,
		    const void *msg, uint32_t len)
{
	int rc = ensure_buf(t, len > PERF_MIN_SIZE ? len : PERF_MIN_SIZE);

	if (rc)
		return rc;
	/* control messages are copied: buf may be in flight as DATA */
	struct srdc_iov iov = { msg, len };

	for (;;) {
		struct srdc_completion c[16];
		int n;

		rc = srdc_send(t->ep, to, &iov, 1, PERF_TAG(tag, t->idx), 0, NULL);
		if (rc != -EAGAIN)
			return rc;
		n = perf_poll(t->h, c, 16, t->srv->o->wait);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			on_comp(t, &c[i]);
	}
}

static void send_result(struct sthread *t, const struct srdc_addr *to)
{
	t->res.magic = PERF_MAGIC;
	t->res.rx_out_of_order = t->order.late;
	t->res.rx_ns = t->res.rx_msgs ? t->rx_last_ns - t->rx_first_ns : 0;
	t->fin_expect = 0;
	if (send_ctl(t, to, PERF_T_RESULT, &t->res, sizeof(t->res)) == 0) {
		memset(&t->res, 0, sizeof(t->res));
		memset(&t->order, 0, sizeof(t->order));
	}
}

/* A bidirectional run is finished when its count or time is up and nothing is in flight. */
static void check_sending_done(struct sthread *t)
{
	bool more = t->run.iters ? t->sent < t->run.iters : perf_now_ns() < t->deadline_ns;

	if (!t->sending || more || t->inflight)
		return;
	t->sending = false;
	t->res.tx_ns = t->last_done_ns - t->t0_ns;
	if (t->fin_pending) {
		t->fin_pending = false;
		send_result(t, &t->fin_from);
	}
}

static void on_hello(struct sthread *t, const struct srdc_completion *c)
{
	struct perf_hello hello;
	struct perf_ready ready = { .magic = PERF_MAGIC, .nthreads = t->srv->n };

	if (c->len != sizeof(hello))
		return;
	memcpy(&hello, c->buf, sizeof(hello));
	if (hello.magic != PERF_MAGIC)
		return;
	for (uint32_t i = 0; i < t->srv->n; i++) {
		ready.addr[i].ipv4 = t->srv->t[i].addr.ipv4;
		ready.addr[i].ep = t->srv->t[i].addr.ep;
	}
	memset(&t->res, 0, sizeof(t->res));
	if (hello.test == PERF_BW && hello.bidir && hello.size >= PERF_MIN_SIZE &&
	    hello.size <= PERF_MAX_SIZE && ensure_buf(t, hello.size) == 0) {
		t->run = hello;
		t->client = c->src;
		t->sending = true;
		t->sent = t->inflight = 0;
		t->t0_ns = t->last_done_ns = perf_now_ns();
		t->deadline_ns = t->t0_ns + hello.duration_ns;
	}
	send_ctl(t, &c->src, PERF_T_READY, &ready, sizeof(ready));
}

static void on_fin(struct sthread *t, const struct srdc_completion *c)
{
	struct perf_fin fin = { 0 };

	if (c->len == sizeof(fin))
		memcpy(&fin, c->buf, sizeof(fin));
	if (t->sending) {
		t->fin_pending = true;
		t->fin_from = c->src;
	} else if (fin.magic == PERF_MAGIC && fin.expect > t->res.rx_msgs) {
		t->fin_expect = fin.expect; /* silent sends still arriving: answer once they are in */
		t->fin_from = c->src;
	} else {
		send_result(t, &c->src);
	}
	if (fin.magic == PERF_MAGIC && fin.last && t->idx == 0 && !t->srv->o->forever)
		atomic_store(&t->srv->over, 1);
}

static void on_comp(void *arg, const struct srdc_completion *c)
{
	struct sthread *t = arg;

	if (c->kind == SRDC_SEND) {
		if (c->ctx == CTX_PONG)
			t->buf_users--;
		if (c->ctx != CTX_DATA)
			return; /* control, or a PONG: counted when sent */
		t->buf_users--;
		t->inflight--;
		t->last_done_ns = perf_now_ns();
		if (c->status) {
			t->res.tx_failed++;
		} else {
			t->res.tx_msgs++;
			t->res.tx_bytes += t->run.size;
		}
		return;
	}
	switch (PERF_TAG_KIND(c->tag)) {
	case PERF_T_HELLO:
		on_hello(t, c);
		break;
	case PERF_T_PING:
		t->res.rx_msgs++;
		t->res.rx_bytes += c->len;
		if (ensure_buf(t, c->len > 0 ? (uint32_t)c->len : 1) == 0 &&
		    perf_send(t->h, t->ep, &c->src, t->buf, (uint32_t)c->len,
			      PERF_TAG(PERF_T_PONG, c->tag >> 8), CTX_PONG, t->srv->o->wait,
			      on_comp, t) == 0) {
			t->buf_users++;
			t->res.tx_msgs++;
			t->res.tx_bytes += c->len;
		}
		break;
	case PERF_T_DATA:
		if (t->res.rx_msgs == 0)
			t->rx_first_ns = t->poll_ns;
		t->rx_last_ns = t->poll_ns;
		t->res.rx_msgs++;
		t->res.rx_bytes += c->len;
		perf_order_note(&t->order, c->tag);
		if (t->fin_expect && t->res.rx_msgs >= t->fin_expect)
			send_result(t, &t->fin_from);
		break;
	case PERF_T_FIN:
		on_fin(t, c);
		break;
	default:
		break; /* not ours: ignored */
	}
	srdc_recv_done(t->h, c->buf);
}

/* Keep a bidirectional run's window full. */
static void pump_data(struct sthread *t)
{
	while (t->sending && t->inflight < t->run.window &&
	       (t->run.iters ? t->sent < t->run.iters : perf_now_ns() < t->deadline_ns)) {
		struct srdc_iov iov = { t->buf, t->run.size };
		int rc = srdc_send(t->ep, &t->client, &iov, 1, PERF_DATA_TAG(t->idx, t->sent), 0,
				   CTX_DATA);

		if (rc == -EAGAIN)
			break;
		if (rc) {
			t->res.tx_failed++;
			t->sent++;
			continue;
		}
		t->sent++;
		t->inflight++;
		t->buf_users++;
	}
	check_sending_done(t);
}

static void *sthread_main(void *arg)
{
	struct sthread *t = arg;
	struct srdc_completion c[32];

	for (;;) {
		int n;

		if (perf_stop || (atomic_load(&t->srv->over) && !t->sending && !t->fin_pending))
			break;
		pump_data(t);
		n = perf_poll(t->h, c, 32, t->srv->o->wait);
		if (n < 0) {
			fprintf(stderr, "srd-perf server: the daemon went away (%s)\n", strerror(-n));
			t->rc = 1;
			break;
		}
		if (n)
			t->poll_ns = perf_now_ns();
		for (int i = 0; i < n; i++)
			on_comp(t, &c[i]);
	}
	return NULL;
}

static int sthread_open(struct server *srv, uint32_t i)
{
	struct sthread *t = &srv->t[i];
	char name[32];
	int rc;

	t->srv = srv;
	t->idx = i;
	snprintf(name, sizeof(name), "srd-perf-server-%u", i);
	rc = srdc_attach(srv->o->socket, name, &t->h);
	if (rc) {
		fprintf(stderr, "srd-perf server: cannot attach to srdd at %s: %s\n", srv->o->socket,
			strerror(-rc));
		return rc;
	}
	rc = srdc_ep_open(t->h, srv->o->local_ip, srv->o->ordered ? SRDC_ORDERED : 0, &t->ep);
	if (rc) {
		fprintf(stderr, "srd-perf server: cannot open an endpoint: %s\n", strerror(-rc));
		return rc;
	}
	t->addr = srdc_ep_addr(t->ep);
	return ensure_buf(t, 4096);
}

int perf_server(const struct perf_opts *o)
{
	struct server *srv = calloc(1, sizeof(*srv));
	pthread_t thr[PERF_MAX_THREADS];
	char addr[SRDC_ADDR_STRLEN];
	int rc = 0;
	uint32_t started = 0;

	if (!srv)
		return 1;
	srv->o = o;
	srv->n = o->threads;
	atomic_init(&srv->over, 0);
	for (uint32_t i = 0; i < srv->n && rc == 0; i++)
		rc = sthread_open(srv, i);
	if (rc == 0) {
		srdc_addr_format(&srv->t[0].addr, addr, sizeof(addr));
		printf("srd-perf server: %s, %u endpoint%s, waiting for a client\n", addr, srv->n,
		       srv->n == 1 ? "" : "s");
		fflush(stdout);
		if (o->addr_file) {
			FILE *f = fopen(o->addr_file, "w");

			if (!f || fprintf(f, "%s\n", addr) < 0 || fclose(f) != 0) {
				fprintf(stderr, "srd-perf server: cannot write %s\n", o->addr_file);
				rc = -EIO;
			}
		}
	}
	for (uint32_t i = 0; i < srv->n && rc == 0; i++, started++)
		rc = -pthread_create(&thr[i], NULL, sthread_main, &srv->t[i]);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	for (uint32_t i = 0; i < srv->n; i++) {
		if (srv->t[i].rc)
			rc = -EIO;
		srdc_detach(srv->t[i].h); /* closes the endpoint, frees the region */
	}
	free(srv);
	return rc ? 1 : 0;
}
