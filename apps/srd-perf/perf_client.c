/*
 * perf_client.c — srd-perf's client: say HELLO, run the test (lat: ping-pong; bw and rate:
 * a window of sends per thread), say FIN to every server thread used and collect RESULT,
 * report.  With -a, once per size from 64 B to 16 MiB (lat: to 64 KiB... as asked).
 */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

#define CTX_DATA ((void *)1)            /* a DATA or PING send */
#define READY_TIMEOUT_NS 5000000000ull  /* how long to wait for the server's answer */
#define PONG_TIMEOUT_NS 10000000000ull  /* one round trip, at most */

/* One client thread: its attachment, endpoint and server thread. */
struct cthread {
	const struct perf_opts *o;
	struct client *cl;
	uint32_t idx;
	struct srdc *h;
	struct srdc_ep *ep;
	struct srdc_addr server;     /* its server thread */
	void *buf;                   /* payload, in the region */
	uint32_t buf_len;
	uint32_t size, window;       /* of the current run */
	uint64_t inflight;
	uint64_t injected;           /* --inject: DATA sent (completions come only for failures) */
	struct perf_flow out;        /* what it sent */
	uint64_t rx_msgs, rx_bytes;  /* DATA received (bidir) */
	struct perf_order order;     /* DATA arrivals out of order (bidir) */
	uint64_t t0_ns, last_done_ns;
	uint64_t poll_ns;            /* when the completions being handled were polled (one
	                                clock read per batch, not per completion) */
	/* a control message awaited (READY / RESULT) */
	enum perf_tag want;
	bool got;
	uint8_t reply[sizeof(struct perf_ready)];
	int rc;
};

struct client {
	const struct perf_opts *o;
	struct cthread t[PERF_MAX_THREADS];
	uint32_t n;
	struct perf_ready ready;      /* the server's endpoints */
	atomic_uint_fast64_t msgs, bytes; /* all threads' progress (for the progress line) */
	pthread_barrier_t start;
};

static void on_comp(void *arg, const struct srdc_completion *c)
{
	struct cthread *t = arg;

	if (c->kind == SRDC_SEND) {
		if (c->ctx != CTX_DATA)
			return;
		if (t->o->inject) { /* only a failed one completes */
			if (t->out.failed++ == 0)
				fprintf(stderr, "srd-perf: a send failed: %s\n", strerror(-c->status));
			return;
		}
		t->inflight--;
		t->last_done_ns = t->poll_ns;
		if (c->status) {
			if (t->out.failed++ == 0)
				fprintf(stderr, "srd-perf: a send failed: %s\n", strerror(-c->status));
		} else {
			t->out.msgs++;
			t->out.bytes += t->size;
		}
		return;
	}
	switch (PERF_TAG_KIND(c->tag)) {
	case PERF_T_DATA:
		t->rx_msgs++;
		t->rx_bytes += c->len;
		perf_order_note(&t->order, c->tag);
		break;
	case PERF_T_READY:
	case PERF_T_RESULT:
	case PERF_T_PONG:
		if (PERF_TAG_KIND(c->tag) == t->want && !t->got) {
			memset(t->reply, 0, sizeof(t->reply));
			memcpy(t->reply, c->buf, c->len < sizeof(t->reply) ? c->len : sizeof(t->reply));
			t->got = true;
		}
		break;
	default:
		break;
	}
	srdc_recv_done(t->h, c->buf);
}

/* Wait until the awaited reply came (or timeout_ns passed: -ETIMEDOUT). */
static int await_reply(struct cthread *t, uint64_t timeout_ns)
{
	uint64_t end = perf_now_ns() + timeout_ns;
	struct srdc_completion c[16];

	while (!t->got) {
		int n = perf_poll(t->h, c, 16, t->o->wait);

		if (n < 0)
			return n;
		if (perf_stop)
			return -EINTR;
		t->poll_ns = perf_now_ns();
		for (int i = 0; i < n; i++)
			on_comp(t, &c[i]);
		if (!t->got && t->poll_ns > end)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Send a control message (copied) to the thread's server and wait for `want`. */
static int exchange(struct cthread *t, enum perf_tag tag, const void *msg, uint32_t len,
		    enum perf_tag want, uint64_t timeout_ns)
{
	struct srdc_iov iov = { msg, len };
	int rc;

	t->want = want;
	t->got = false;
	for (;;) {
		rc = srdc_send(t->ep, &t->server, &iov, 1, PERF_TAG(tag, t->idx), 0, NULL);
		if (rc != -EAGAIN)
			break;
		rc = await_reply(t, 1000000);
		if (rc && rc != -ETIMEDOUT)
			return rc;
	}
	return rc ? rc : await_reply(t, timeout_ns);
}

static int ensure_buf(struct cthread *t, uint32_t len)
{
	if (len <= t->buf_len)
		return 0;
	if (t->buf)
		srdc_buf_free(t->h, t->buf); /* nothing in flight between runs */
	t->buf = srdc_buf_alloc(t->h, len);
	t->buf_len = t->buf ? len : 0;
	if (!t->buf) {
		fprintf(stderr, "srd-perf: no room for a %u-byte message in the shared region "
				"(srdd's apps.region_mb)\n", len);
		return -ENOMEM;
	}
	memset(t->buf, 0xa5, len);
	return 0;
}

static int cthread_open(struct client *cl, uint32_t i)
{
	struct cthread *t = &cl->t[i];
	char name[32];
	int rc;

	t->o = cl->o;
	t->cl = cl;
	t->idx = i;
	snprintf(name, sizeof(name), "srd-perf-client-%u", i);
	rc = srdc_attach(cl->o->socket, name, &t->h);
	if (rc) {
		fprintf(stderr, "srd-perf: cannot attach to srdd at %s: %s\n", cl->o->socket,
			strerror(-rc));
		return rc;
	}
	if (cl->o->spin_us >= 0)
		srdc_set_spin(t->h, (unsigned)cl->o->spin_us);
	rc = srdc_ep_open(t->h, cl->o->local_ip, cl->o->ordered ? SRDC_ORDERED : 0, &t->ep);
	if (rc)
		fprintf(stderr, "srd-perf: cannot open an endpoint: %s\n", strerror(-rc));
	return rc;
}

/* HELLO from thread i to its server thread; thread 0 learns the server's endpoints. */
static int say_hello(struct client *cl, uint32_t i, uint32_t size, uint32_t window)
{
	struct cthread *t = &cl->t[i];
	struct perf_hello hello = {
		.magic = PERF_MAGIC, .test = cl->o->test, .size = size, .window = window,
		.bidir = cl->o->bidir, .threads = cl->n, .iters = cl->o->iters,
		.duration_ns = cl->o->duration_ns,
	};
	char addr[SRDC_ADDR_STRLEN];
	int rc;

	if (i > 0) {
		uint32_t k = i % cl->ready.nthreads;

		t->server = (struct srdc_addr){ cl->ready.addr[k].ipv4, (uint16_t)cl->ready.addr[k].ep };
	}
	rc = exchange(t, PERF_T_HELLO, &hello, sizeof(hello), PERF_T_READY, READY_TIMEOUT_NS);
	if (rc) {
		srdc_addr_format(&t->server, addr, sizeof(addr));
		fprintf(stderr, "srd-perf: no answer from a server at %s: %s\n", addr,
			rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		return rc;
	}
	if (i == 0) {
		memcpy(&cl->ready, t->reply, sizeof(cl->ready));
		if (cl->ready.magic != PERF_MAGIC || cl->ready.nthreads == 0 ||
		    cl->ready.nthreads > PERF_MAX_THREADS) {
			fprintf(stderr, "srd-perf: the server's answer is not srd-perf's\n");
			return -EPROTO;
		}
	}
	return 0;
}

/* --inject: the DATA server thread k is owed, the client threads' sends that did not fail
 * (each client thread i sends to server thread i % nthreads). */
static uint64_t injected_for(const struct client *cl, uint32_t k)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < cl->n; i++)
		if (i % cl->ready.nthreads == k)
			n += cl->t[i].injected - cl->t[i].out.failed;
	return n;
}

/* --inject, the client threads joined: poll every thread's handle once (failures of their
 * silent sends still come in).  Returns whether one failed. */
static bool reap_failures(struct client *cl)
{
	uint64_t before = 0, after = 0;

	for (uint32_t i = 0; i < cl->n; i++) {
		struct srdc_completion c[16];
		int n;

		before += cl->t[i].out.failed;
		if (i == 0)
			continue; /* thread 0's handle is polled by the exchange itself */
		n = srdc_poll(cl->t[i].h, c, 16);
		cl->t[i].poll_ns = perf_now_ns();
		for (int j = 0; j < n; j++)
			on_comp(&cl->t[i], &c[j]);
		after += cl->t[i].out.failed;
	}
	return after + cl->t[0].out.failed != before;
}

/* FIN to server thread k (from thread 0); adds its RESULT to *sum.  After an --inject run
 * the FIN says how many DATA to wait for, and says it again while failures come in. */
static int say_fin(struct client *cl, uint32_t k, bool last, struct perf_result *sum)
{
	struct cthread *t = &cl->t[0];
	struct srdc_addr keep = t->server;
	struct perf_fin fin = { .magic = PERF_MAGIC, .last = last };
	uint64_t end = perf_now_ns() + READY_TIMEOUT_NS * 4;
	struct perf_result r;
	int rc;

	t->server = (struct srdc_addr){ cl->ready.addr[k].ipv4, (uint16_t)cl->ready.addr[k].ep };
	fin.expect = cl->o->inject && !last ? injected_for(cl, k) : 0;
	rc = exchange(t, PERF_T_FIN, &fin, sizeof(fin), PERF_T_RESULT,
		      fin.expect ? 100000000ull : READY_TIMEOUT_NS * 4);
	while (rc == -ETIMEDOUT && fin.expect && perf_now_ns() < end) {
		if (reap_failures(cl)) { /* it waits for more than will come: say it again */
			fin.expect = injected_for(cl, k);
			rc = exchange(t, PERF_T_FIN, &fin, sizeof(fin), PERF_T_RESULT, 100000000ull);
		} else {
			rc = await_reply(t, 100000000ull);
		}
	}
	t->server = keep;
	if (rc)
		return rc;
	memcpy(&r, t->reply, sizeof(r));
	sum->rx_msgs += r.rx_msgs;
	sum->rx_bytes += r.rx_bytes;
	sum->tx_msgs += r.tx_msgs;
	sum->tx_bytes += r.tx_bytes;
	sum->tx_failed += r.tx_failed;
	if (r.tx_ns > sum->tx_ns)
		sum->tx_ns = r.tx_ns;
	if (r.rx_ns > sum->rx_ns)
		sum->rx_ns = r.rx_ns;
	return 0;
}

/* ---- lat ---- */

/* One PING and its PONG (perf_lat_loop()'s round trip). */
static int ping(void *arg, uint64_t i)
{
	struct cthread *t = arg;
	int rc;

	t->want = PERF_T_PONG;
	t->got = false;
	rc = perf_send(t->h, t->ep, &t->server, t->buf, t->size, PERF_TAG(PERF_T_PING, i), NULL,
		       t->o->wait, on_comp, t);
	return rc ? rc : await_reply(t, PONG_TIMEOUT_NS);
}

static int run_lat(struct client *cl, uint32_t size, bool header)
{
	struct cthread *t = &cl->t[0];
	uint64_t failed = 0;
	int rc;

	t->size = size;
	rc = ensure_buf(t, size);
	if (!rc)
		rc = say_hello(cl, 0, size, 1);
	if (rc)
		return rc;
	rc = perf_lat_loop(cl->o, size, header, false, ping, t, &failed);
	if ((rc == 0 || failed) && rc != -ENOTCONN) { /* the run was made: end it */
		struct perf_result sum = { 0 };

		rc = say_fin(cl, 0, false, &sum);
	}
	return failed && !rc ? -EIO : rc;
}

/* ---- bw and rate ---- */

/* --inject: send until the count or the time is up, as fast as the submission ring takes
 * them; only failures complete.  The server's count and clock say the rest (run_bw). */
static void inject_loop(struct cthread *t, uint64_t deadline)
{
	const struct perf_opts *o = t->o;
	struct srdc_completion c[64];
	struct perf_progress prog;
	uint64_t sent = 0, reported = 0;

	perf_progress_start(&prog);
	while (!perf_stop && (o->iters ? sent < o->iters : (sent & 255) || perf_now_ns() < deadline)) {
		int rc = srdc_inject(t->ep, &t->server, t->buf, t->size,
				     PERF_DATA_TAG(t->idx, sent), 0, CTX_DATA);

		if (rc == 0) {
			sent++;
			continue;
		}
		if (rc != -EAGAIN) {
			t->rc = rc;
			break;
		}
		/* the ring is full: the daemon has work; see to failures and progress, and let
		   the CPU go (to the receiver, where the apps share one) */
		rc = srdc_poll(t->h, c, 64);
		if (rc == 0 && o->wait != PERF_WAIT_SPIN)
			sched_yield();
		if (rc < 0) {
			t->rc = rc;
			break;
		}
		t->poll_ns = perf_now_ns();
		for (int i = 0; i < rc; i++)
			on_comp(t, &c[i]);
		/* progress: messages handed over so far, every thread's */
		atomic_fetch_add_explicit(&t->cl->msgs, sent - reported, memory_order_relaxed);
		atomic_fetch_add_explicit(&t->cl->bytes, (sent - reported) * t->size,
					  memory_order_relaxed);
		reported = sent;
		if (t->idx == 0)
			perf_progress(o, &prog, atomic_load(&t->cl->msgs), atomic_load(&t->cl->bytes));
	}
	t->injected = sent;
	t->last_done_ns = perf_now_ns();
}

/* Keep the window full until the count or the time is up, then drain. */
static void *bw_thread(void *arg)
{
	struct cthread *t = arg;
	const struct perf_opts *o = t->o;
	struct srdc_completion c[64];
	struct perf_progress prog;
	uint64_t sent = 0, reported = t->out.msgs, deadline;

	pthread_barrier_wait(&t->cl->start);
	if (o->inject) {
		t->t0_ns = perf_now_ns();
		inject_loop(t, t->t0_ns + o->duration_ns);
		t->out.seconds = (double)(t->last_done_ns - t->t0_ns) / 1e9;
		return NULL;
	}
	perf_progress_start(&prog);
	t->t0_ns = t->last_done_ns = perf_now_ns();
	deadline = t->t0_ns + o->duration_ns;
	for (;;) {
		bool more = !perf_stop && (o->iters ? sent < o->iters : perf_now_ns() < deadline);
		int n;

		while (more && t->inflight < t->window) {
			struct srdc_iov iov = { t->buf, t->size };
			int rc = srdc_send(t->ep, &t->server, &iov, 1, PERF_DATA_TAG(t->idx, sent), 0,
					   CTX_DATA);

			if (rc == -EAGAIN)
				break;
			if (rc) {
				t->rc = rc;
				more = false;
				break;
			}
			sent++;
			t->inflight++;
			more = o->iters ? sent < o->iters : true;
		}
		if (!more && t->inflight == 0)
			break;
		n = perf_poll(t->h, c, 64, o->wait);
		if (n < 0) {
			t->rc = n;
			break;
		}
		if (n)
			t->poll_ns = perf_now_ns();
		for (int i = 0; i < n; i++)
			on_comp(t, &c[i]);
		/* progress, every thread's: once per batch, not two locked adds per message
		   (they took a tenth of the apps' CPU at 10 M messages a second) */
		if (t->out.msgs != reported) {
			atomic_fetch_add_explicit(&t->cl->msgs, t->out.msgs - reported,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&t->cl->bytes, (t->out.msgs - reported) * t->size,
						  memory_order_relaxed);
			reported = t->out.msgs;
		}
		if (t->idx == 0)
			perf_progress(o, &prog, atomic_load(&t->cl->msgs), atomic_load(&t->cl->bytes));
	}
	t->out.seconds = (double)(t->last_done_ns - t->t0_ns) / 1e9;
	return NULL;
}

static int run_bw(struct client *cl, uint32_t size, bool header)
{
	const struct perf_opts *o = cl->o;
	uint32_t window = o->window;
	struct perf_flow out = { 0 }, back = { 0 };
	struct perf_result peer = { 0 };
	pthread_t thr[PERF_MAX_THREADS];
	uint64_t t_first = UINT64_MAX, t_last = 0;
	uint32_t started = 0, used;
	int rc = 0;

	atomic_store(&cl->msgs, 0);
	atomic_store(&cl->bytes, 0);
	for (uint32_t i = 0; i < cl->n && !rc; i++) {
		struct cthread *t = &cl->t[i];

		t->size = size;
		t->window = window;
		t->inflight = 0;
		t->injected = 0;
		t->out = (struct perf_flow){ 0 };
		t->rx_msgs = t->rx_bytes = 0;
		memset(&t->order, 0, sizeof(t->order));
		t->rc = 0;
		rc = ensure_buf(t, size);
		if (!rc)
			rc = say_hello(cl, i, size, window);
	}
	if (rc)
		return rc;
	if (pthread_barrier_init(&cl->start, NULL, cl->n))
		return -ENOMEM;
	for (uint32_t i = 0; i < cl->n; i++, started++)
		if (pthread_create(&thr[i], NULL, bw_thread, &cl->t[i]))
			break;
	if (started < cl->n) {
		/* the barrier would never open: this cannot go on */
		fprintf(stderr, "srd-perf: cannot start %u threads\n", cl->n);
		exit(1);
	}
	for (uint32_t i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	pthread_barrier_destroy(&cl->start);
	for (uint32_t i = 0; i < cl->n; i++) {
		struct cthread *t = &cl->t[i];

		out.msgs += t->out.msgs;
		out.bytes += t->out.bytes;
		out.failed += t->out.failed;
		if (t->t0_ns < t_first)
			t_first = t->t0_ns;
		if (t->last_done_ns > t_last)
			t_last = t->last_done_ns;
		if (t->rc && !rc)
			rc = t->rc;
	}
	out.seconds = t_last > t_first ? (double)(t_last - t_first) / 1e9 : 0.0;
	used = cl->n < cl->ready.nthreads ? cl->n : cl->ready.nthreads;
	for (uint32_t k = used; k-- > 0 && rc != -ENOTCONN;) {
		int frc = say_fin(cl, k, false, &peer);

		if (frc && !rc)
			rc = frc;
	}
	out.out_of_order = peer.rx_out_of_order;
	if (o->inject) {
		/* no completions: what arrived, in the server's time from first to last */
		for (uint32_t i = 0; i < cl->n; i++)
			out.msgs += cl->t[i].injected;
		out.msgs -= out.failed;
		out.bytes = out.msgs * size;
		out.seconds = (double)peer.rx_ns / 1e9;
	}
	if (o->bidir) {
		for (uint32_t i = 0; i < cl->n; i++)
			back.out_of_order += cl->t[i].order.late;
		back.msgs = peer.tx_msgs;
		back.bytes = peer.tx_bytes;
		back.failed = peer.tx_failed;
		back.seconds = (double)peer.tx_ns / 1e9;
	}
	if (!rc && o->inject && peer.rx_msgs != out.msgs) {
		/* every silent send that did not fail was delivered exactly once */
		fprintf(stderr, "srd-perf: the server counted %" PRIu64 " messages, %" PRIu64
				" sends did not fail\n", peer.rx_msgs, out.msgs);
		rc = -EPROTO;
	}
	if (!rc && peer.rx_msgs < out.msgs) {
		/* a completed send was delivered: the server must have counted it */
		fprintf(stderr, "srd-perf: the server counted %" PRIu64 " messages, %" PRIu64
				" sends completed\n", peer.rx_msgs, out.msgs);
		rc = -EPROTO;
	}
	perf_report_bw(o, header, size, window, &out, o->bidir ? &back : NULL);
	if (!rc && o->ordered && (out.out_of_order || back.out_of_order)) {
		fprintf(stderr, "srd-perf: %" PRIu64 " messages arrived out of order\n",
			out.out_of_order + back.out_of_order);
		rc = -EPROTO;
	}
	return rc ? rc : out.failed ? -EIO : 0;
}

/* ---- the client ---- */

int perf_client(const struct perf_opts *o)
{
	struct client *cl = calloc(1, sizeof(*cl));
	uint32_t sizes[32], nsizes = 0, opened = 0;
	int rc = 0;

	if (!cl)
		return 1;
	cl->o = o;
	cl->n = o->test == PERF_LAT ? 1 : o->threads;
	if (o->sweep)
		for (uint32_t s = 64; s <= (o->test == PERF_LAT ? 65536u : PERF_MAX_SIZE); s *= 2)
			sizes[nsizes++] = s;
	else
		sizes[nsizes++] = o->size;
	for (uint32_t i = 0; i < cl->n && !rc; i++, opened++)
		rc = cthread_open(cl, i);
	if (!rc && srdc_addr_parse(o->server, &cl->t[0].server)) {
		fprintf(stderr, "srd-perf: %s is not an address (a.b.c.d:ep)\n", o->server);
		rc = -EINVAL;
	}
	for (uint32_t s = 0; s < nsizes && !rc && !perf_stop; s++)
		rc = o->test == PERF_LAT ? run_lat(cl, sizes[s], s == 0) :
					   run_bw(cl, sizes[s], s == 0);
	if (rc != -ENOTCONN && opened == cl->n && cl->ready.magic == PERF_MAGIC) {
		struct perf_result ignore = { 0 };

		say_fin(cl, 0, true, &ignore); /* the server may go */
	}
	for (uint32_t i = 0; i < opened; i++)
		srdc_detach(cl->t[i].h);
	free(cl);
	return rc ? 1 : 0;
}
