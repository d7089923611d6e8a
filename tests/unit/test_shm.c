/*
 * test_shm.c — the shared-memory channel end to end, without DPDK and without srdd: a
 * dp_shm server runs in this process, driven by a "pump" thread that also plays the worker
 * (every taken send is delivered by dp_shm_rx_alloc + copy + dp_shm_deliver, then
 * completed with status 0; a send to no endpoint completes with -ECONNREFUSED).  The main
 * thread is the applications (libsrd, or a raw client that writes descriptors by hand);
 * forked children play apps that must be another uid or must die.
 *
 * The pump holds F.mu for each iteration; the main thread takes it to read counters, to
 * change what the pump holds back, and around fork() (so that the child never inherits a
 * lock the pump was holding inside the allocator).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp_net.h"
#include "dp_shm.h"
#include "srd.h"
#include "srd_shm.h"

#define IP_A 0x0a000001u /* 10.0.0.1: the daemon's first address */
#define IP_B 0x0a000002u /* 10.0.0.2 */
#define MIB (1u << 20)
#define BUF_MSG (SRD_CQE_INLINE_MAX + 72) /* a message too long to come inline: a buffer */

static char g_dir[64];   /* mkdtemp */
static char g_path[100]; /* g_dir/run/srdd.sock (run/ is made by the server) */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define WAIT_UNTIL(cond, ms)                                                   \
	do {                                                                   \
		uint64_t end_ = mono_ns() + (uint64_t)(ms) * 1000000ull;       \
		while (!(cond)) {                                              \
			if (mono_ns() > end_)                                  \
				fail_msg("timed out waiting for %s", #cond);   \
			usleep(200);                                           \
		}                                                              \
	} while (0)

/* ---- the server and the fake worker ---- */

static struct {
	struct dp_shm *s;             /* the server */
	pthread_t thr;                /* the pump */
	int running;                  /* thr exists */
	pthread_mutex_t mu;           /* held by the pump for each iteration */
	int stop;                     /* ask the pump to end */
	uint16_t hold_ep;             /* sends from this endpoint wait ... */
	uint64_t release_ns;          /* ... until then (0: until hold_ep changes) */
	struct dp_shm_send *q;        /* taken, not yet delivered */
	size_t nq, capq;
	uint64_t sum;                 /* of all payload bytes read (keeps the reads real) */
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Deliver one send.  Returns 0 (done) or -EAGAIN (no receive buffer yet). */
static int fake_deliver(struct dp_shm_send *snd)
{
	void *ctx = NULL, *buf;
	uint8_t *p;
	int no_ep;

	for (uint32_t i = 0; i < snd->niov; i++) /* the payload is readable, whoever is gone */
		for (uint32_t k = 0; k < snd->iov[i].len; k += 4096)
			F.sum += ((const uint8_t *)snd->iov[i].base)[k];
	buf = dp_shm_rx_alloc(F.s, snd->dst_ip, snd->dst_ep, snd->len, &ctx, &no_ep);
	if (!buf) {
		if (!no_ep)
			return -EAGAIN;
		dp_shm_complete_send(F.s, snd, -ECONNREFUSED);
		return 0;
	}
	p = buf;
	if (snd->niov == 0) /* inline: the message came in the submission */
		memcpy(p, snd->inline_data, snd->len);
	for (uint32_t i = 0; i < snd->niov; i++) {
		memcpy(p, snd->iov[i].base, snd->iov[i].len);
		p += snd->iov[i].len;
	}
	dp_shm_deliver(F.s, ctx, buf, snd->len, snd->src_ip, snd->ep, snd->dst_ep, snd->tag,
		       snd->imm);
	dp_shm_complete_send(F.s, snd, 0);
	return 0;
}

static void *pump_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct dp_shm_send batch[16];
		uint64_t now = mono_ns();
		int busy, n;
		size_t keep = 0;

		pthread_mutex_lock(&F.mu);
		if (F.stop) {
			pthread_mutex_unlock(&F.mu);
			return NULL;
		}
		busy = dp_shm_poll_control(F.s);
		n = dp_shm_take(F.s, batch, 16);
		if (F.nq + (size_t)n > F.capq) {
			F.capq = (F.nq + (size_t)n) * 2;
			F.q = realloc(F.q, F.capq * sizeof(*F.q));
		}
		if (n)
			memcpy(F.q + F.nq, batch, (size_t)n * sizeof(*batch));
		F.nq += (size_t)n;
		busy += n;
		for (size_t i = 0; i < F.nq; i++) {
			int held = F.hold_ep && F.q[i].ep == F.hold_ep &&
				   (F.release_ns == 0 || now < F.release_ns);

			if (held || fake_deliver(&F.q[i]))
				F.q[keep++] = F.q[i];
			else
				busy++;
		}
		F.nq = keep;
		dp_shm_flush(F.s);
		pthread_mutex_unlock(&F.mu);
		if (!busy)
			usleep(50);
	}
}

static void cfg_default(struct dp_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", g_path);
	c->socket_mode = 0666;
	c->app_region_bytes = 48ull * MIB;
	c->sq_entries = 64;
	c->cq_entries = 64;
	c->max_apps = 8;
	c->max_endpoints = 64;
	c->workers = 1;
}

static void srv_start(const struct dp_config *c)
{
	static const uint32_t addrs[2] = { IP_A, IP_B };
	char err[256] = "";
	int rc = dp_shm_create(c, addrs, 2, 0, NULL, &F.s, err, sizeof(err));

	if (rc)
		fail_msg("dp_shm_create: %d %s", rc, err);
	F.stop = 0;
	F.hold_ep = 0;
	F.release_ns = 0;
	F.nq = 0;
	assert_int_equal(pthread_create(&F.thr, NULL, pump_main, NULL), 0);
	F.running = 1;
}

static void srv_stop(void)
{
	if (!F.running)
		return;
	pthread_mutex_lock(&F.mu);
	F.stop = 1;
	pthread_mutex_unlock(&F.mu);
	pthread_join(F.thr, NULL);
	F.running = 0;
}

static void srv_destroy(void)
{
	srv_stop();
	dp_shm_destroy(F.s); /* sends still queued here are forgotten with their apps */
	F.s = NULL;
	F.nq = 0;
}

static struct dp_shm_stats stats_now(void)
{
	struct dp_shm_stats st;

	pthread_mutex_lock(&F.mu);
	dp_shm_get_stats(F.s, &st);
	pthread_mutex_unlock(&F.mu);
	return st;
}

static void hold(uint16_t ep, uint64_t release_ns)
{
	pthread_mutex_lock(&F.mu);
	F.hold_ep = ep;
	F.release_ns = release_ns;
	pthread_mutex_unlock(&F.mu);
}

/* fork() while the pump is parked outside the allocator. */
static pid_t fork_quiet(void)
{
	pid_t pid;

	pthread_mutex_lock(&F.mu);
	pid = fork();
	if (pid != 0)
		pthread_mutex_unlock(&F.mu);
	return pid;
}

static int child_status(pid_t pid)
{
	int wst = 0;

	assert_int_equal(waitpid(pid, &wst, 0), pid);
	return WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
}

/* ---- client helpers ---- */

/* Poll h until one completion arrives (1), ms pass (0), or an error (<0). */
static int next_comp(struct srdc *h, struct srdc_completion *c, int ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000ull;

	for (;;) {
		int r = srdc_poll(h, c, 1);

		if (r != 0 || mono_ns() > end)
			return r;
		usleep(20);
	}
}

static void attach_with_ep(const char *name, struct srdc **h, struct srdc_ep **ep)
{
	assert_int_equal(srdc_attach(g_path, name, h), 0);
	assert_int_equal(srdc_ep_open(*h, 0, 0, ep), 0);
}

static int same_addr(struct srdc_addr x, struct srdc_addr y)
{
	return x.ipv4 == y.ipv4 && x.ep == y.ep;
}

/* srdc_recv_done(), waiting while the submission ring is full. */
static void give_back(struct srdc *h, void *buf)
{
	uint64_t end = mono_ns() + 5000000000ull;
	int rc;

	while ((rc = srdc_recv_done(h, buf)) == -EAGAIN && mono_ns() < end)
		usleep(20);
	assert_int_equal(rc, 0);
}

/* Send iov[0..n) from ea to eb and check everything about its arrival. */
static void xfer(struct srdc_ep *ea, struct srdc *hb, struct srdc_ep *eb,
		 const struct srdc_iov *iov, unsigned n, uint64_t tag)
{
	struct srdc_completion c;
	struct srdc_addr dst = srdc_ep_addr(eb);
	size_t total = 0, at = 0;
	uint8_t *want;
	int rc;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].len;
	want = malloc(total ? total : 1);
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].len)
			memcpy(want + at, iov[i].base, iov[i].len);
		at += iov[i].len;
	}
	rc = srdc_send(ea, &dst, iov, n, tag, ~tag, (void *)(uintptr_t)(tag + 1));
	assert_int_equal(rc, 0);
	assert_int_equal(next_comp(hb, &c, 5000), 1);
	assert_int_equal(c.kind, SRDC_RECV);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.len, total);
	assert_true(c.ep == eb);
	assert_true(same_addr(c.src, srdc_ep_addr(ea)));
	assert_int_equal(c.tag, tag);
	assert_int_equal(c.imm, ~tag);
	assert_non_null(c.buf);
	assert_int_equal((uintptr_t)c.buf % 64, 0);
	assert_memory_equal(c.buf, want, total ? total : 0);
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	assert_int_equal(srdc_recv_done(hb, c.buf), -EINVAL); /* not lent any more */
	assert_int_equal(srdc_poll(hb, &c, 0), 0); /* submits the (batched) return now */
	free(want);
}

/* The SEND completion of a send with ctx tag + 1 on h. */
static void expect_send_done(struct srdc *h, struct srdc_ep *ep, uint64_t tag, int status)
{
	struct srdc_completion c;

	assert_int_equal(next_comp(h, &c, 5000), 1);
	assert_int_equal(c.kind, SRDC_SEND);
	assert_int_equal(c.status, status);
	assert_ptr_equal(c.ctx, (void *)(uintptr_t)(tag + 1));
	assert_true(c.ep == ep);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

/* ---- a raw client: the handshake and the rings by hand ---- */

struct raw {
	int sock;                  /* control socket */
	int efd;                   /* eventfd from the WELCOME */
	uint8_t *base;             /* the region */
	struct srd_shm_hdr h;      /* copy of its header */
	struct srd_shm_ring *sq;   /* submission ring */
	struct srd_shm_ring *cq;   /* completion ring */
	struct srd_sqe *sqes;
	struct srd_cqe *cqes;
	uint32_t sq_tail;          /* our producer index */
	uint32_t cq_head;          /* our consumer index */
	uint16_t ep;               /* an endpoint it opened */
};

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void ctl_fill(struct srd_ctl *m, uint16_t op, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->magic = SRD_CTL_MAGIC;
	m->version = SRD_SHM_VERSION;
	m->op = op;
	m->seq = seq;
}

static void raw_attach(struct raw *r)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct srd_ctl m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			      .msg_controllen = sizeof(cb.buf) };
	int fds[2];

	memset(r, 0, sizeof(*r));
	r->sock = raw_connect();
	ctl_fill(&m, SRD_CTL_HELLO, 1);
	strcpy(m.u.hello.name, "raw");
	assert_int_equal(send(r->sock, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(recvmsg(r->sock, &msg, 0), sizeof(m));
	assert_int_equal(m.op, SRD_CTL_WELCOME);
	memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(fds));
	r->efd = fds[1];
	r->base = mmap(NULL, m.u.welcome.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
		       0);
	assert_true(r->base != MAP_FAILED);
	/* the daemon sealed the memfd: the app cannot pull the region from under it */
	assert_int_not_equal(ftruncate(fds[0], 4096), 0);
	close(fds[0]);
	memcpy(&r->h, r->base, sizeof(r->h));
	r->sq = (struct srd_shm_ring *)(r->base + r->h.sq_off);
	r->cq = (struct srd_shm_ring *)(r->base + r->h.cq_off);
	r->sqes = SRD_RING_ENTRIES(r->base, r->h.sq_off, struct srd_sqe);
	r->cqes = SRD_RING_ENTRIES(r->base, r->h.cq_off, struct srd_cqe);
	ctl_fill(&m, SRD_CTL_EP_OPEN, 2);
	assert_int_equal(send(r->sock, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(recv(r->sock, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(m.op, SRD_CTL_EP_OPENED);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.status, 0);
	assert_int_equal(m.u.ep_opened.ipv4, IP_A);
	r->ep = m.u.ep_opened.ep;
}

static void raw_push(struct raw *r, const struct srd_sqe *e)
{
	r->sqes[r->sq_tail & (r->h.sq_entries - 1)] = *e;
	srd_store_release(&r->sq->tail, ++r->sq_tail);
}

/* Completions ready in r's ring. */
static uint32_t raw_pending(const struct raw *r)
{
	int corrupt = 0;

	return srd_ring_ready(r->cq, r->cq_head, r->h.cq_entries, &corrupt);
}

/* Collect want completions of r (within a few seconds). */
static void raw_reap(struct raw *r, struct srd_cqe *out, int want)
{
	uint64_t end = mono_ns() + 5000000000ull;
	int got = 0, corrupt = 0;

	while (got < want) {
		if (srd_ring_ready(r->cq, r->cq_head, r->h.cq_entries, &corrupt)) {
			out[got++] = r->cqes[r->cq_head & (r->h.cq_entries - 1)];
			srd_store_release(&r->cq->head, ++r->cq_head);
			continue;
		}
		assert_false(corrupt);
		if (mono_ns() > end)
			fail_msg("raw app: %d of %d completions", got, want);
		usleep(100);
	}
}

static void raw_close(struct raw *r)
{
	munmap(r->base, r->h.region_size);
	close(r->efd);
	close(r->sock);
}

/* Wait until the server closes fd; returns the status of an ERROR it sent first (or 1). */
static int expect_closed(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct srd_ctl m;
	int status = 1;

	for (;;) {
		ssize_t n;

		assert_int_equal(poll(&p, 1, ms), 1);
		n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return status;
		assert_int_equal(n, sizeof(m));
		assert_int_equal(m.op, SRD_CTL_ERROR);
		status = m.status;
	}
}

/* ---- tests ---- */

static void test_addr(void **state)
{
	static const char *bad[] = {
		"", "1.2.3", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "256.1.1.1:1",
		"1.2.3.4:1x", " 1.2.3.4:1", "1.2.3.4:1 ", "1.2.3.4:-1", "1.2.3.4:+1", "01.2.3.4:5",
		"1.2.3.4:05", "1..3.4:5", "1.2.3.4.5:6", "a.b.c.d:1", "1.2.3.4:99999999999",
		"1.2.3.4::1", "1.2.3.4:1:2",
	};
	struct srdc_addr a = { 0xc0a80a01u, 4791 }, b;
	char buf[SRDC_ADDR_STRLEN];

	(void)state;
	assert_int_equal(srdc_addr_format(&a, buf, sizeof(buf)), 17);
	assert_string_equal(buf, "192.168.10.1:4791");
	assert_int_equal(srdc_addr_parse(buf, &b), 0);
	assert_true(same_addr(a, b));
	a = (struct srdc_addr){ 0xffffffffu, 65535 };
	assert_int_equal(srdc_addr_format(&a, buf, sizeof(buf)), 21);
	assert_string_equal(buf, "255.255.255.255:65535");
	assert_int_equal(srdc_addr_parse(buf, &b), 0);
	assert_true(same_addr(a, b));
	assert_int_equal(srdc_addr_format(&a, buf, 21), -ENOSPC);
	assert_int_equal(srdc_addr_parse("0.0.0.0:1", &b), 0);
	assert_int_equal(b.ipv4, 0);
	assert_int_equal(b.ep, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (srdc_addr_parse(bad[i], &b) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_socket_file(void **state)
{
	struct dp_config c;
	struct dp_shm *s2 = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	struct stat st;
	int fd;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	assert_int_equal(stat(g_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	/* a live daemon is not replaced */
	assert_int_equal(dp_shm_create(&c, NULL, 0, 0, NULL, &s2, err, sizeof(err)), -EADDRINUSE);
	srv_destroy();
	assert_int_not_equal(stat(g_path, &st), 0); /* unlinked */
	/* a stale socket file (nobody listening) is */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	srv_start(&c);
	srv_destroy();
	/* bad configurations are refused with a reason */
	c.sq_entries = 48;
	assert_int_equal(dp_shm_create(&c, NULL, 0, 0, NULL, &s2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sq_entries"));
	cfg_default(&c);
	c.app_region_bytes = 64 << 10;
	assert_int_equal(dp_shm_create(&c, NULL, 0, 0, NULL, &s2, err, sizeof(err)), -EINVAL);
}

/* Two workers' servers on one socket: apps alternate between them, endpoint ids carry the
 * worker, and each server counts only its own apps. */
struct duo {
	struct dp_shm *s[2];
	atomic_int stop;
};

static void *duo_main(void *arg)
{
	struct duo *d = arg;

	while (!atomic_load(&d->stop)) {
		for (int i = 0; i < 2; i++) {
			dp_shm_poll_control(d->s[i]);
			dp_shm_flush(d->s[i]);
		}
		usleep(50);
	}
	return NULL;
}

static void test_workers_share_socket(void **state)
{
	struct duo d = { 0 };
	struct dp_config c;
	struct srdc *h[4];
	struct srdc_ep *ep[4];
	struct dp_shm_stats st[2];
	char err[256] = "";
	pthread_t thr;
	struct stat sb;

	(void)state;
	cfg_default(&c);
	c.workers = 2;
	/* worker 1 alone, or worker 0 with a first, is refused */
	assert_int_equal(dp_shm_create(&c, NULL, 0, 1, NULL, &d.s[1], err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_shm_create(&c, NULL, 0, 0, NULL, &d.s[0], err, sizeof(err)), 0);
	assert_int_equal(dp_shm_create(&c, NULL, 0, 0, d.s[0], &d.s[1], err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_shm_create(&c, NULL, 0, 2, d.s[0], &d.s[1], err, sizeof(err)), -EINVAL);
	dp_shm_destroy(d.s[0]);
	{
		static const uint32_t addrs[1] = { IP_A };

		assert_int_equal(dp_shm_create(&c, addrs, 1, 0, NULL, &d.s[0], err, sizeof(err)), 0);
		assert_int_equal(dp_shm_create(&c, addrs, 1, 1, d.s[0], &d.s[1], err, sizeof(err)),
				 0);
	}
	assert_int_equal(pthread_create(&thr, NULL, duo_main, &d), 0);
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "app%d", i);
		assert_int_equal(srdc_attach(g_path, name, &h[i]), 0);
		assert_int_equal(srdc_ep_open(h[i], 0, 0, &ep[i]), 0);
		/* apps alternate: worker i % 2 owns this one's endpoint */
		assert_int_equal(dp_ep_worker(srdc_ep_addr(ep[i]).ep), i % 2);
		assert_int_equal(srdc_ep_addr(ep[i]).ep & 0xfff, i / 2 + 1);
	}
	atomic_store(&d.stop, 1);
	pthread_join(thr, NULL);
	for (int i = 0; i < 2; i++) {
		dp_shm_get_stats(d.s[i], &st[i]);
		assert_int_equal(st[i].apps, 2);
		assert_int_equal(st[i].endpoints, 2);
	}
	for (int i = 0; i < 4; i++)
		srdc_detach(h[i]);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 200 && (dp_shm_poll_control(d.s[i]), dp_shm_get_stats(d.s[i], &st[i]),
					    st[i].apps); k++)
			usleep(1000);
		assert_int_equal(st[i].apps, 0);
		assert_int_equal(st[i].endpoints, 0);
	}
	dp_shm_destroy(d.s[1]);
	assert_int_equal(stat(g_path, &sb), 0); /* worker 0's server still has it */
	dp_shm_destroy(d.s[0]);
	assert_int_not_equal(stat(g_path, &sb), 0);
}

/* Wait (up to 200 ms) until server s has `apps` apps. */
static void wait_apps(struct dp_shm *s, uint32_t apps)
{
	struct dp_shm_stats st;

	for (int k = 0; k < 200 && (dp_shm_poll_control(s), dp_shm_get_stats(s, &st),
				    st.apps != apps); k++)
		usleep(1000);
	assert_int_equal(st.apps, apps);
}

/* A server whose turn it is to accept but that has no room passes the turn on, so an app
 * is refused (-EUSERS) only when every worker is full. */
static void test_full_worker_passes_turn(void **state)
{
	static const uint32_t addrs[1] = { IP_A };
	struct duo d = { 0 };
	struct dp_config c;
	struct srdc *h[6];
	struct srdc_ep *ep;
	char err[256] = "";
	pthread_t thr;

	(void)state;
	cfg_default(&c);
	c.workers = 2;
	c.max_apps = 2;
	assert_int_equal(dp_shm_create(&c, addrs, 1, 0, NULL, &d.s[0], err, sizeof(err)), 0);
	assert_int_equal(dp_shm_create(&c, addrs, 1, 1, d.s[0], &d.s[1], err, sizeof(err)), 0);
	assert_int_equal(pthread_create(&thr, NULL, duo_main, &d), 0);
	for (int i = 0; i < 4; i++) /* workers 0, 1, 0, 1: both full */
		assert_int_equal(srdc_attach(g_path, "app", &h[i]), 0);
	srdc_detach(h[1]);
	srdc_detach(h[3]);
	atomic_store(&d.stop, 1);
	pthread_join(thr, NULL);
	wait_apps(d.s[1], 0);
	atomic_store(&d.stop, 0);
	assert_int_equal(pthread_create(&thr, NULL, duo_main, &d), 0);
	/* worker 0's turn, but it is full: worker 1 takes both */
	for (int i = 4; i < 6; i++) {
		assert_int_equal(srdc_attach(g_path, "app", &h[i]), 0);
		assert_int_equal(srdc_ep_open(h[i], 0, 0, &ep), 0);
		assert_int_equal(dp_ep_worker(srdc_ep_addr(ep).ep), 1);
	}
	/* now every worker is full */
	assert_int_equal(srdc_attach(g_path, "app", &h[1]), -EUSERS);
	atomic_store(&d.stop, 1);
	pthread_join(thr, NULL);
	for (int i = 0; i < 6; i++)
		if (i != 1 && i != 3)
			srdc_detach(h[i]);
	wait_apps(d.s[0], 0);
	wait_apps(d.s[1], 0);
	dp_shm_destroy(d.s[1]);
	dp_shm_destroy(d.s[0]);
}

/* srdc_inject: the message travels in the submission, nothing completes unless it fails
 * (then its ctx says which); small srdc_send copies go inline too.  Received buffers go back
 * eight to a submission, and whatever is left at the next poll. */
static void test_inject_and_returns(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c, held[9];
	struct srdc_addr dst, nobody;
	uint8_t msg[SRDC_INJECT_MAX + 1];
	struct dp_config cfg;
	uint64_t lent;

	(void)state;
	cfg_default(&cfg);
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(srdc_inject(ea, &dst, msg, SRDC_INJECT_MAX + 1, 0, 0, NULL), -EMSGSIZE);
	assert_int_equal(srdc_inject(ea, &dst, NULL, 4, 0, 0, NULL), -EINVAL);
	assert_int_equal(srdc_inject(NULL, &dst, msg, 4, 0, 0, NULL), -EINVAL);
	for (uint32_t len = 0; len <= SRDC_INJECT_MAX; len++) {
		int rc;

		while ((rc = srdc_inject(ea, &dst, msg, len, len, ~(uint64_t)len, NULL)) == -EAGAIN)
			usleep(100); /* the ring is full: the pump takes them */
		assert_int_equal(rc, 0);
	}
	for (uint32_t k = 0; k <= SRDC_INJECT_MAX; k++) {
		assert_int_equal(next_comp(hb, &c, 5000), 1);
		assert_int_equal(c.kind, SRDC_RECV);
		assert_int_equal(c.len, c.tag);
		assert_int_equal(c.imm, ~c.tag);
		assert_memory_equal(c.buf, msg, c.len);
		assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	}
	assert_int_equal(srdc_poll(ha, &c, 1), 0); /* no completion for a silent success */
	/* a silent send that fails completes, with its ctx */
	nobody = dst;
	nobody.ep = (uint16_t)(dst.ep + 1000);
	assert_int_equal(srdc_inject(ea, &nobody, msg, 8, 0, 0, (void *)0x55), 0);
	assert_int_equal(next_comp(ha, &c, 5000), 1);
	assert_int_equal(c.kind, SRDC_SEND);
	assert_int_equal(c.status, -ECONNREFUSED);
	assert_ptr_equal(c.ctx, (void *)0x55);
	assert_true(c.ep == ea);
	/* a small copied send goes inline, and completes as any send */
	{
		struct srdc_iov two[2] = { { msg, 5 }, { msg + 5, 6 } };

		assert_int_equal(srdc_send(ea, &dst, two, 2, 9, 0, (void *)(uintptr_t)(9 + 1)), 0);
		assert_int_equal(next_comp(hb, &c, 5000), 1);
		assert_int_equal(c.len, 11);
		assert_memory_equal(c.buf, msg, 11);
		assert_int_equal(srdc_recv_done(hb, c.buf), 0);
		expect_send_done(ha, ea, 9, 0);
	}
	assert_int_equal(srdc_poll(hb, &c, 0), 0);
	WAIT_UNTIL(stats_now().rx_bufs_lent == 0, 2000);

	/* inline messages lent no buffer (each came in the completion ring) */
	assert_int_equal(stats_now().rx_inline, SRDC_INJECT_MAX + 2);
	/* nine buffers held; seven given back stay with the app, the eighth sends all eight */
	for (int i = 0; i < 9; i++) {
		static const uint8_t big[BUF_MSG];
		struct srdc_iov iov = { big, sizeof(big) };

		assert_int_equal(srdc_send(ea, &dst, &iov, 1, 0, 0, NULL), 0);
	}
	for (int i = 0; i < 9; i++)
		assert_int_equal(next_comp(hb, &held[i], 5000), 1);
	WAIT_UNTIL(stats_now().rx_bufs_lent == 9, 2000);
	for (int i = 0; i < 7; i++)
		assert_int_equal(srdc_recv_done(hb, held[i].buf), 0);
	assert_int_equal(srdc_recv_done(hb, held[0].buf), -EINVAL); /* given back already */
	usleep(20000);
	assert_int_equal(stats_now().rx_bufs_lent, 9);
	assert_int_equal(srdc_recv_done(hb, held[7].buf), 0);
	WAIT_UNTIL(stats_now().rx_bufs_lent == 1, 2000);
	lent = stats_now().rx_bufs_lent;
	assert_int_equal(lent, 1);
	assert_int_equal(srdc_recv_done(hb, held[8].buf), 0);
	assert_int_equal(srdc_poll(hb, &c, 0), 0); /* the ninth goes at the poll */
	WAIT_UNTIL(stats_now().rx_bufs_lent == 0, 2000);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
}

/* A buffer return is taken even when no send may be (dp_shm_take with max 0), so one app's
 * waiting sends never keep another app's buffers from coming back. */
static void test_returns_never_wait(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c;
	static const uint8_t big[BUF_MSG];
	struct srdc_iov iov = { big, sizeof(big) }; /* too long to come inline: a buffer */
	struct srdc_addr to;
	struct dp_shm_send out[4];
	struct dp_shm_stats st;
	struct dp_config cfg;

	(void)state;
	cfg_default(&cfg);
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	to = srdc_ep_addr(eb);
	assert_int_equal(srdc_send(ea, &to, &iov, 1, 1, 0, (void *)(uintptr_t)2), 0);
	assert_int_equal(next_comp(hb, &c, 5000), 1); /* b holds the buffer */
	assert_int_equal(c.kind, SRDC_RECV);
	expect_send_done(ha, ea, 1, 0);
	srv_stop(); /* from here this thread drives the server */
	assert_int_equal(srdc_send(ea, &to, &iov, 1, 2, 0, NULL), 0); /* a send that must wait */
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	assert_int_equal(srdc_poll(hb, &c, 1), 0); /* submits the return (batched until then) */
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.rx_bufs_lent, 1);
	assert_int_equal(dp_shm_take(F.s, out, 0), 0); /* no room for sends... */
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.rx_bufs_lent, 0); /* ...and the buffer came back all the same */
	assert_int_equal(dp_shm_take(F.s, out, 4), 1); /* the send was left in its ring */
	dp_shm_complete_send(F.s, &out[0], 0);
	dp_shm_flush(F.s);
	srdc_detach(ha);
	srdc_detach(hb);
	srv_destroy();
}

static void test_attach_endpoints(void **state)
{
	struct srdc *h[3];
	struct srdc_ep *ep[4], *x;
	struct dp_config c;
	struct dp_shm_stats st;

	(void)state;
	cfg_default(&c);
	c.max_apps = 2;
	c.max_endpoints = 3;
	c.engine.max_msg_size = 4 * MIB;
	srv_start(&c);
	assert_int_equal(srdc_attach("/nonexistent/srdd.sock", "x", &h[0]), -ENOENT);
	assert_int_equal(srdc_attach(g_path, "one", &h[0]), 0);
	assert_int_equal(srdc_attach(g_path, "two-with-a-name-longer-than-32-bytes", &h[1]), 0);
	assert_int_equal(srdc_attach(g_path, "three", &h[2]), -EUSERS);
	st = stats_now();
	assert_int_equal(st.apps, 2);
	assert_int_equal(st.attaches, 2);
	assert_int_equal(st.refused, 1);
	assert_true(srdc_fd(h[0]) >= 0);
	{
		struct srdc_info in;

		srdc_info(h[0], &in); /* what the WELCOME said */
		assert_int_equal(in.max_msg, 4 * MIB);
		assert_int_equal(in.naddrs, 2);
		assert_int_equal(in.addrs[0], IP_A);
		assert_int_equal(in.addrs[1], IP_B);
		assert_true(in.tx_area > 0 && in.rx_area > 0);
	}

	assert_int_equal(srdc_ep_open(h[0], 0, 0, &ep[0]), 0);
	assert_int_equal(srdc_ep_addr(ep[0]).ipv4, IP_A);
	assert_int_equal(srdc_ep_open(h[0], IP_B, SRDC_ORDERED, &ep[1]), 0);
	assert_int_equal(srdc_ep_addr(ep[1]).ipv4, IP_B);
	assert_int_equal(srdc_ep_open(h[1], 0x0a000009u, 0, &x), -EADDRNOTAVAIL);
	assert_int_equal(srdc_ep_open(h[1], 0, 0x8, &x), -EINVAL);
	assert_int_equal(srdc_ep_open(h[1], IP_A, 0, &ep[2]), 0);
	assert_int_equal(srdc_ep_open(h[1], IP_A, 0, &ep[3]), -EMFILE);
	assert_int_not_equal(srdc_ep_addr(ep[0]).ep, 0);
	assert_int_not_equal(srdc_ep_addr(ep[0]).ep, srdc_ep_addr(ep[1]).ep);
	assert_int_not_equal(srdc_ep_addr(ep[1]).ep, srdc_ep_addr(ep[2]).ep);
	assert_int_equal(stats_now().endpoints, 3);
	srdc_ep_close(ep[1]);
	assert_int_equal(stats_now().endpoints, 2);
	assert_int_equal(srdc_ep_open(h[1], IP_A, 0, &ep[3]), 0);
	srdc_detach(h[0]);
	WAIT_UNTIL(stats_now().apps == 1, 2000);
	assert_int_equal(stats_now().endpoints, 2);
	srdc_detach(h[1]);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	st = stats_now();
	assert_int_equal(st.endpoints, 0);
	srv_destroy();
}

static void test_transfer(void **state)
{
	static const size_t sizes[] = { 0, 1, 63, 64, 65, 4095, 4096, 65537, MIB, 16 * MIB };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_iov iov[SRD_SHM_MAX_IOV + 1];
	struct srdc_addr dst;
	struct dp_config c;
	struct dp_shm_stats st;
	uint8_t *heap = malloc(16 * MIB + 1), stackbuf[3000];
	uint64_t tag = 100;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	fill(heap, 16 * MIB + 1, 7);
	fill(stackbuf, sizeof(stackbuf), 9);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint8_t *zc;

		/* copied from the heap (through a bounce buffer, freed with the completion) */
		iov[0] = (struct srdc_iov){ n ? heap : NULL, n };
		xfer(ea, hb, eb, iov, 1, ++tag);
		expect_send_done(ha, ea, tag, 0);
		/* zero-copy from the region */
		zc = n ? srdc_buf_alloc(ha, n) : NULL;
		if (n) {
			assert_non_null(zc);
			assert_int_equal((uintptr_t)zc % 64, 0);
			fill(zc, n, (uint32_t)i);
			iov[0] = (struct srdc_iov){ zc, n };
			xfer(ea, hb, eb, iov, 1, ++tag);
			expect_send_done(ha, ea, tag, 0);
			srdc_buf_free(ha, zc);
		}
	}
	/* scatter-gather: heap, region, stack */
	{
		uint8_t *zc = srdc_buf_alloc(ha, 5000);

		fill(zc, 5000, 3);
		iov[0] = (struct srdc_iov){ heap + 11, 777 };
		iov[1] = (struct srdc_iov){ zc, 5000 };
		iov[2] = (struct srdc_iov){ stackbuf, sizeof(stackbuf) };
		xfer(ea, hb, eb, iov, 3, ++tag);
		expect_send_done(ha, ea, tag, 0);
		/* and 8 pieces, empty ones among them */
		for (int k = 0; k < 8; k++)
			iov[k] = (struct srdc_iov){ k % 3 == 1 ? NULL : heap + k * 100,
						    k % 3 == 1 ? 0 : 100 + (size_t)k };
		xfer(ea, hb, eb, iov, 8, ++tag);
		expect_send_done(ha, ea, tag, 0);
		srdc_buf_free(ha, zc);
	}
	/* the same in the other direction, from a received buffer (it is copied) */
	{
		struct srdc_completion cb;

		iov[0] = (struct srdc_iov){ stackbuf, 999 };
		dst = srdc_ep_addr(ea);
		assert_int_equal(srdc_send(eb, &dst, iov, 1, 1, 2, NULL), 0);
		struct srdc_completion cs;

		assert_int_equal(next_comp(ha, &cb, 5000), 1);
		assert_int_equal(cb.kind, SRDC_RECV);
		assert_int_equal(next_comp(hb, &cs, 5000), 1);
		assert_int_equal(cs.kind, SRDC_SEND);
		assert_int_equal(cs.status, 0);
		iov[0] = (struct srdc_iov){ cb.buf, cb.len };
		xfer(ea, hb, eb, iov, 1, ++tag);
		expect_send_done(ha, ea, tag, 0);
		assert_int_equal(srdc_recv_done(ha, cb.buf), 0);
	}
	/* refused by the library */
	dst = srdc_ep_addr(eb);
	iov[0] = (struct srdc_iov){ heap, 16 * MIB + 1 };
	assert_int_equal(srdc_send(ea, &dst, iov, 1, 0, 0, NULL), -EMSGSIZE);
	iov[0] = (struct srdc_iov){ heap, 16 * MIB };
	iov[1] = (struct srdc_iov){ heap, 1 };
	assert_int_equal(srdc_send(ea, &dst, iov, 2, 0, 0, NULL), -EMSGSIZE);
	for (int k = 0; k < 9; k++)
		iov[k] = (struct srdc_iov){ heap, 1 };
	assert_int_equal(srdc_send(ea, &dst, iov, 9, 0, 0, NULL), -EINVAL);
	assert_int_equal(srdc_send(ea, &dst, iov, 0, 0, 0, NULL), -EINVAL);
	iov[0] = (struct srdc_iov){ NULL, 5 };
	assert_int_equal(srdc_send(ea, &dst, iov, 1, 0, 0, NULL), -EINVAL);
	assert_null(srdc_buf_alloc(ha, 0));
	assert_null(srdc_buf_alloc(ha, 16 * MIB + 1));
	assert_int_equal(srdc_recv_done(hb, heap), -EINVAL);
	/* a send to nobody completes with the worker's error */
	dst.ep = (uint16_t)(dst.ep + 1000);
	iov[0] = (struct srdc_iov){ heap, 10 };
	assert_int_equal(srdc_send(ea, &dst, iov, 1, 0, 0, (void *)(uintptr_t)(5 + 1)), 0);
	expect_send_done(ha, ea, 5, -ECONNREFUSED);

	st = stats_now();
	assert_int_equal(st.sends_inflight, 0);
	assert_int_equal(st.rx_bufs_lent, 0);
	assert_int_equal(st.rx_bytes_lent, 0);
	assert_int_equal(st.bad_sqe, 0);
	assert_int_equal(st.rx_no_endpoint, 1);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
	free(heap);
}

static void test_wait(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c;
	struct srdc_iov iov = { "ping", 4 };
	struct srdc_addr dst;
	struct dp_config c0;
	struct pollfd p;
	uint64_t t0;

	(void)state;
	cfg_default(&c0);
	srv_start(&c0);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	t0 = mono_ns();
	assert_int_equal(srdc_wait(hb, 50), -ETIMEDOUT);
	assert_true(mono_ns() - t0 >= 45000000ull);
	/* the worker holds A's sends for 100 ms: B sleeps until the delivery wakes it */
	hold(srdc_ep_addr(ea).ep, mono_ns() + 100000000ull);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 1, 1, NULL), 0);
	t0 = mono_ns();
	assert_int_equal(srdc_wait(hb, 3000), 0);
	assert_true(mono_ns() - t0 >= 50000000ull);
	assert_true(mono_ns() - t0 < 2000000000ull);
	assert_int_equal(srdc_poll(hb, &c, 1), 1);
	assert_int_equal(c.kind, SRDC_RECV);
	assert_memory_equal(c.buf, "ping", 4);
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	assert_int_equal(srdc_wait(ha, 3000), 0);
	assert_int_equal(srdc_poll(ha, &c, 1), 1);
	assert_int_equal(c.kind, SRDC_SEND);
	/* srdc_fd(): arm with srdc_wait(h, 0), sleep in poll(2) */
	hold(0, 0);
	assert_int_equal(srdc_wait(hb, 0), -ETIMEDOUT);
	p = (struct pollfd){ .fd = srdc_fd(hb), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 2, 2, NULL), 0);
	assert_int_equal(poll(&p, 1, 3000), 1);
	assert_int_equal(srdc_wait(hb, 0), 0);
	assert_int_equal(srdc_poll(hb, &c, 1), 1);
	assert_int_equal(c.kind, SRDC_RECV);
	assert_int_equal(c.tag, 2);
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	assert_int_equal(poll(&p, 1, 0), 0); /* the eventfd was read */
	srdc_detach(ha);
	srdc_detach(hb);
	srv_destroy();
}

static void test_bad_descriptors(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_iov iov = { "from a", 6 };
	struct srdc_addr dst;
	struct dp_config c;
	struct srd_cqe q[24];
	struct srd_sqe e;
	struct raw r;
	struct dp_shm_stats st;
	struct {
		uint64_t ud;   /* its user_data */
		int status;    /* the SQE_ERROR expected */
	} want[] = {
		{ 1, -EFAULT }, { 2, -EFAULT }, { 3, -EFAULT }, { 4, -EFAULT }, { 5, -EINVAL },
		{ 6, -EINVAL }, { 7, -EINVAL }, { 8, -EINVAL }, { 9, -EINVAL }, { 10, -EMSGSIZE },
		{ 11, -EINVAL }, { 12, -EINVAL }, { 14, -EINVAL }, { 15, -EINVAL }, { 16, -EINVAL },
		{ 17, -EINVAL }, { 18, -EINVAL },
	};
	int nwant = (int)(sizeof(want) / sizeof(want[0])), seen_send = 0;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	raw_attach(&r);
	dst = srdc_ep_addr(eb);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 1, 0, (void *)2), 0);

#define SQE(ud_, op_, niov_) \
	(memset(&e, 0, sizeof(e)), e.user_data = (ud_), e.op = (op_), e.niov = (niov_), \
	 e.ep = r.ep, e.dst_ip = dst.ipv4, e.dst_ep = dst.ep, e.iov[0].off = (uint32_t)r.h.tx_area_off, \
	 e.iov[0].len = 16)
	SQE(1, SRD_SQ_SEND, 1); /* an out-of-range offset */
	e.iov[0].off = 0xffffff00u;
	raw_push(&r, &e);
	SQE(2, SRD_SQ_SEND, 1); /* a foreign buffer: the receive area */
	e.iov[0].off = (uint32_t)r.h.rx_area_off;
	raw_push(&r, &e);
	SQE(3, SRD_SQ_SEND, 2); /* a length past the region */
	e.iov[1].off = (uint32_t)r.h.tx_area_off;
	e.iov[1].len = (uint32_t)r.h.region_size;
	raw_push(&r, &e);
	SQE(4, SRD_SQ_SEND, 1); /* the rings */
	e.iov[0].off = (uint32_t)r.h.sq_off;
	raw_push(&r, &e);
	SQE(5, SRD_SQ_SEND, 0); /* niov 0 */
	raw_push(&r, &e);
	SQE(6, SRD_SQ_SEND, 9); /* niov 9 */
	raw_push(&r, &e);
	SQE(7, 77, 1); /* unknown op */
	raw_push(&r, &e);
	SQE(8, SRD_SQ_SEND, 1); /* another app's endpoint */
	e.ep = srdc_ep_addr(ea).ep;
	raw_push(&r, &e);
	SQE(9, SRD_SQ_RX_RETURN, 1); /* a buffer never lent */
	e.iov[0].off = (uint32_t)r.h.rx_area_off;
	raw_push(&r, &e);
	SQE(10, SRD_SQ_SEND, 2); /* 16 MiB + 1 */
	e.iov[0].len = 8 * MIB;
	e.iov[1].off = (uint32_t)r.h.tx_area_off;
	e.iov[1].len = 8 * MIB + 1;
	raw_push(&r, &e);
	SQE(11, SRD_SQ_SEND, 1); /* an endpoint that is not open */
	e.ep = 0;
	raw_push(&r, &e);
	SQE(12, SRD_SQ_SEND, 1); /* inline with pieces */
	e.flags = SRD_SQE_INLINE;
	raw_push(&r, &e);
	SQE(14, SRD_SQ_SEND, 1); /* unknown flags */
	e.flags = 0x4;
	raw_push(&r, &e);
	SQE(15, SRD_SQ_SEND, 0); /* inline, longer than an SQE holds */
	e.flags = SRD_SQE_INLINE;
	e.inline_len = SRD_SQE_INLINE_MAX + 1;
	raw_push(&r, &e);
	SQE(16, SRD_SQ_RX_RETURN, 0); /* a return of no buffer */
	raw_push(&r, &e);
	SQE(17, SRD_SQ_RX_RETURN, SRD_SHM_MAX_IOV + 1); /* of more than an SQE holds */
	raw_push(&r, &e);
	SQE(18, SRD_SQ_SEND, 0); /* silent and inline, from an endpoint that is not open */
	e.flags = SRD_SQE_INLINE | SRD_SQE_SILENT;
	e.ep = 0;
	raw_push(&r, &e);
	SQE(13, SRD_SQ_SEND, 1); /* and a good one */
	memcpy(r.base + r.h.tx_area_off, "raw payload 1234", 16);
	raw_push(&r, &e);
	SQE(19, SRD_SQ_SEND, 0); /* a good silent inline one: delivered, no completion */
	e.flags = SRD_SQE_INLINE | SRD_SQE_SILENT;
	e.inline_len = 16;
	memcpy(e.data, "inline silent 12", 16);
	raw_push(&r, &e);
	/* meanwhile A's traffic goes on */
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 2, 0, (void *)3), 0);

	raw_reap(&r, q, nwant + 1);
	for (int i = 0; i < nwant + 1; i++) {
		if (q[i].op == SRD_CQ_SEND_BATCH) { /* a delivered send: gathered */
			struct srd_cqe_sends bb, *b = &bb;

			memcpy(&bb, &q[i], sizeof(bb));

			assert_int_equal(b->count, 1);
			assert_int_equal(b->user_data[0], 13);
			assert_int_equal(b->status, 0);
			seen_send = 1;
			continue;
		}
		assert_int_equal(q[i].op, SRD_CQ_SQE_ERROR);
		/* a silent send's failure says so: its user_data is all the app has */
		assert_int_equal(q[i].flags, q[i].user_data == 18 ? SRD_CQE_SILENT : 0);
		for (int k = 0; k < nwant; k++) {
			if (want[k].ud != q[i].user_data)
				continue;
			if (q[i].status != want[k].status)
				fail_msg("sqe %llu: status %d, want %d",
					 (unsigned long long)q[i].user_data, q[i].status,
					 want[k].status);
			want[k].ud = 0; /* seen */
		}
	}
	assert_true(seen_send);
	for (int k = 0; k < nwant; k++)
		assert_int_equal(want[k].ud, 0);
	/* B got A's two messages and the raw app's two good ones */
	for (int i = 0, raw_seen = 0; i < 4; i++) {
		struct srdc_completion cc;

		assert_int_equal(next_comp(hb, &cc, 5000), 1);
		assert_int_equal(cc.kind, SRDC_RECV);
		if (cc.src.ep != r.ep) {
			assert_memory_equal(cc.buf, "from a", 6);
		} else if (!memcmp(cc.buf, "raw payload 1234", 16)) {
			raw_seen |= 1;
		} else {
			assert_memory_equal(cc.buf, "inline silent 12", 16);
			assert_int_equal(cc.len, 16);
			raw_seen |= 2;
		}
		assert_int_equal(srdc_recv_done(hb, cc.buf), 0);
		if (i == 3)
			assert_int_equal(raw_seen, 3);
	}
	assert_int_equal(raw_pending(&r), 0); /* the silent one completed nothing */
	expect_send_done(ha, ea, 1, 0);
	expect_send_done(ha, ea, 2, 0);
	st = stats_now();
	assert_int_equal(st.bad_sqe, (uint64_t)nwant);
	assert_int_equal(st.apps, 3);

	/* an impossible tail: the raw app is detached, the others go on */
	srd_store_release(&r.sq->tail, r.sq_tail + r.h.sq_entries + 1);
	WAIT_UNTIL(stats_now().ring_corrupt == 1, 2000);
	expect_closed(r.sock, 2000);
	st = stats_now();
	assert_int_equal(st.apps, 2);
	assert_int_equal(st.endpoints, 2);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 3, 0, (void *)4), 0);
	{
		struct srdc_completion cc;

		assert_int_equal(next_comp(hb, &cc, 5000), 1);
		assert_int_equal(cc.kind, SRDC_RECV);
		assert_int_equal(srdc_recv_done(hb, cc.buf), 0);
	}
	expect_send_done(ha, ea, 3, 0);
	raw_close(&r);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	st = stats_now();
	assert_int_equal(st.rx_bufs_lent, 0);
	assert_int_equal(st.sends_inflight, 0);
	srv_destroy();
#undef SQE
}

/* Successful send completions come gathered, SRD_CQE_SENDS to a ring entry
 * (SRD_CQ_SEND_BATCH), and libsrd hands them out one by one however few srdc_poll() asks
 * for; a short submission is read from its first cache line only, whatever the second
 * holds, a long one from both. */
static void test_send_batches(void **state)
{
	enum { NRAW = 10, NLIB = 40 };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c[4];
	struct srdc_addr dst;
	struct dp_config cfg;
	struct srd_cqe q[NRAW];
	struct srd_sqe e;
	struct raw r;
	uint8_t *zc, seen[NLIB + 1] = { 0 };
	uint32_t nq = 0, got = 0, sizes[4] = { 1, 2, 3 }; /* polls of 1, 2 and 3 */
	uint64_t uds = 0;

	(void)state;
	cfg_default(&cfg);
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	raw_attach(&r);
	dst = srdc_ep_addr(eb);

	/* the raw app: NRAW sends held until all are taken, then completed in one go */
	memcpy(r.base + r.h.tx_area_off, "0123456789abcdefXYZW", 20);
	hold(r.ep, 0);
	for (uint32_t i = 0; i < NRAW; i++) {
		memset(&e, 0xee, sizeof(e)); /* the second line is garbage for a short one */
		e.user_data = i + 1;
		e.op = SRD_SQ_SEND;
		e.niov = i == NRAW - 1 ? 4 : 1; /* the last one uses the second line */
		e.ep = r.ep;
		e.flags = 0;
		e.dst_ip = dst.ipv4;
		e.dst_ep = dst.ep;
		e.tag = 7;
		e.imm = 0;
		for (uint32_t k = 0; k < e.niov; k++)
			e.iov[k] = (struct srd_shm_iov){ (uint32_t)r.h.tx_area_off + 4 * k, 4 };
		raw_push(&r, &e);
	}
	WAIT_UNTIL(stats_now().sends_inflight == NRAW, 2000);
	hold(0, 0);
	while (got < NRAW) {
		struct srd_cqe_sends bb, *b = &bb;

		raw_reap(&r, &q[nq], 1);
		memcpy(&bb, &q[nq++], sizeof(bb));
		assert_int_equal(b->op, SRD_CQ_SEND_BATCH);
		assert_int_equal(b->status, 0);
		assert_in_range(b->count, 1, SRD_CQE_SENDS);
		for (uint32_t k = 0; k < b->count; k++)
			uds |= 1ull << srd_cqe_sends_ud(b, k);
		got += b->count;
	}
	assert_int_equal(got, NRAW);
	assert_int_equal(uds, ((1ull << NRAW) - 1) << 1); /* each user_data once */
	assert_true(nq < NRAW); /* gathered, not one entry each */
	for (uint32_t i = 0, longs = 0; i < NRAW; i++) {
		assert_int_equal(next_comp(hb, c, 5000), 1);
		assert_int_equal(c[0].kind, SRDC_RECV);
		assert_int_equal(c[0].src.ep, r.ep);
		assert_true(c[0].len == 4 || c[0].len == 16); /* 16: the four pieces, in order */
		assert_memory_equal(c[0].buf, "0123456789abcdef", c[0].len);
		longs += c[0].len == 16;
		assert_int_equal(srdc_recv_done(hb, c[0].buf), 0);
		if (i == NRAW - 1)
			assert_int_equal(longs, 1);
	}

	/* libsrd: NLIB zero-copy sends completed together, polled 1, 2 and 3 at a time */
	zc = srdc_buf_alloc(ha, BUF_MSG); /* not inline: 40 of them fit B's ring */
	assert_non_null(zc);
	memset(zc, 0x5a, BUF_MSG);
	hold(srdc_ep_addr(ea).ep, 0);
	for (uint32_t i = 1; i <= NLIB; i++) {
		struct srdc_iov iov = { zc, BUF_MSG };

		assert_int_equal(srdc_send(ea, &dst, &iov, 1, i, 0, (void *)(uintptr_t)i), 0);
	}
	WAIT_UNTIL(stats_now().sends_inflight == NLIB, 2000);
	hold(0, 0);
	got = 0;
	for (uint32_t k = 0; got < NLIB; k++) {
		uint64_t end = mono_ns() + 5000000000ull;
		int n;

		while ((n = srdc_poll(ha, c, (int)sizes[k % 3])) == 0 && mono_ns() < end)
			usleep(20);
		assert_in_range(n, 1, sizes[k % 3]);
		for (int j = 0; j < n; j++) {
			uintptr_t i = (uintptr_t)c[j].ctx;

			assert_int_equal(c[j].kind, SRDC_SEND);
			assert_int_equal(c[j].status, 0);
			assert_true(c[j].ep == ea);
			assert_in_range(i, 1, NLIB);
			assert_int_equal(seen[i], 0);
			seen[i] = 1;
		}
		got += (uint32_t)n;
	}
	assert_int_equal(srdc_poll(ha, c, 4), 0); /* nothing twice */
	/* their receive completions, posted up to 16 per flush (beyond the first few of each,
	   with streaming stores): every field as sent, each message once */
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < NLIB; i++) {
		assert_int_equal(next_comp(hb, c, 5000), 1);
		assert_int_equal(c[0].kind, SRDC_RECV);
		assert_int_equal(c[0].status, 0);
		assert_true(c[0].ep == eb);
		assert_int_equal(c[0].src.ep, srdc_ep_addr(ea).ep);
		assert_int_equal(c[0].len, BUF_MSG);
		assert_int_equal(((const uint8_t *)c[0].buf)[BUF_MSG - 1], 0x5a);
		assert_in_range(c[0].tag, 1, NLIB);
		assert_int_equal(seen[c[0].tag], 0);
		seen[c[0].tag] = 1;
		assert_int_equal(srdc_recv_done(hb, c[0].buf), 0);
	}
	srdc_buf_free(ha, zc);
	raw_close(&r);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	assert_int_equal(stats_now().rx_bufs_lent, 0);
	assert_int_equal(stats_now().sends_inflight, 0);
	srv_destroy();
}

static void test_bad_handshake(void **state)
{
	struct dp_config c;
	struct srd_ctl m;
	struct srdc *h;
	struct srdc_ep *ep;
	uint8_t big[sizeof(struct srd_ctl) + 8];
	int silent, fd;
	uint64_t t0;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	silent = raw_connect(); /* says nothing */
	t0 = mono_ns();

	fd = raw_connect(); /* garbage */
	assert_int_equal(send(fd, "helloworld", 10, 0), 10);
	assert_int_equal(expect_closed(fd, 2000), 1);
	close(fd);

	fd = raw_connect(); /* a truncated HELLO */
	ctl_fill(&m, SRD_CTL_HELLO, 1);
	assert_int_equal(send(fd, &m, sizeof(m) - 8, 0), sizeof(m) - 8);
	assert_int_equal(expect_closed(fd, 2000), 1);
	close(fd);

	fd = raw_connect(); /* an oversized one */
	memset(big, 0, sizeof(big));
	memcpy(big, &m, sizeof(m));
	assert_int_equal(send(fd, big, sizeof(big), 0), sizeof(big));
	assert_int_equal(expect_closed(fd, 2000), 1);
	close(fd);

	fd = raw_connect(); /* a wrong magic */
	ctl_fill(&m, SRD_CTL_HELLO, 1);
	m.magic = 0xdeadbeef;
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(expect_closed(fd, 2000), 1);
	close(fd);

	fd = raw_connect(); /* not a HELLO */
	ctl_fill(&m, SRD_CTL_EP_OPEN, 1);
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(expect_closed(fd, 2000), 1);
	close(fd);

	fd = raw_connect(); /* a wrong version: told why */
	ctl_fill(&m, SRD_CTL_HELLO, 1);
	m.version = SRD_SHM_VERSION + 1;
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(expect_closed(fd, 2000), -EPROTO);
	close(fd);

	/* the server goes on */
	attach_with_ep("after", &h, &ep);
	assert_int_equal(stats_now().refused, 6);

	/* the silent one is dropped after about a second */
	assert_int_equal(expect_closed(silent, 3000), 1);
	assert_true(mono_ns() - t0 >= 900000000ull);
	close(silent);
	assert_int_equal(stats_now().refused, 7);
	assert_int_equal(stats_now().apps, 1);
	srdc_detach(h);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
}

/* In a child: become uid/gid 65534 and try to attach. */
static int attach_as_nobody(void)
{
	struct srdc *h;
	struct srdc_ep *ep;
	int rc;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return -EPERM;
	rc = srdc_attach(g_path, "nobody", &h);
	if (rc)
		return rc;
	rc = srdc_ep_open(h, 0, 0, &ep);
	srdc_detach(h);
	return rc;
}

static void test_peercred(void **state)
{
	struct dp_config c;
	pid_t pid;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	pid = fork_quiet();
	if (pid == 0)
		_exit(-attach_as_nobody());
	assert_int_equal(child_status(pid), EACCES);
	assert_int_equal(stats_now().refused, 1);
	assert_int_equal(stats_now().attaches, 0);
	srv_destroy();

	c.allowed_uids[0] = 65534;
	c.nallowed_uids = 1;
	srv_start(&c);
	pid = fork_quiet();
	if (pid == 0)
		_exit(-attach_as_nobody());
	assert_int_equal(child_status(pid), 0);
	assert_int_equal(stats_now().attaches, 1);
	srv_destroy();

	c.nallowed_uids = 0;
	c.allowed_gids[0] = 65534;
	c.nallowed_gids = 1;
	srv_start(&c);
	pid = fork_quiet();
	if (pid == 0)
		_exit(-attach_as_nobody());
	assert_int_equal(child_status(pid), 0);
	srv_destroy();
}

static void *destroy_later(void *arg)
{
	(void)arg;
	usleep(100000);
	dp_shm_destroy(F.s);
	return NULL;
}

static void test_daemon_gone(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb, *x;
	struct srdc_completion c, rc;
	struct srdc_iov iov = { "last words", 10 };
	struct srdc_addr dst;
	struct dp_config cfg;
	pthread_t killer;
	uint64_t t0;
	int r;

	(void)state;
	cfg_default(&cfg);
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 1, 0, (void *)2), 0);
	expect_send_done(ha, ea, 1, 0); /* B's RECV is posted too, and stays unread */

	/* the daemon goes away while A sleeps */
	srv_stop();
	assert_int_equal(pthread_create(&killer, NULL, destroy_later, NULL), 0);
	t0 = mono_ns();
	assert_int_equal(srdc_wait(ha, 5000), -ENOTCONN);
	assert_true(mono_ns() - t0 < 2000000000ull);
	pthread_join(killer, NULL);
	F.s = NULL;

	/* B first gets what was posted, then -ENOTCONN */
	assert_int_equal(srdc_poll(hb, &rc, 1), 1);
	assert_int_equal(rc.kind, SRDC_RECV);
	assert_memory_equal(rc.buf, "last words", 10);
	t0 = mono_ns();
	while ((r = srdc_poll(hb, &c, 1)) == 0)
		assert_true(mono_ns() - t0 < 1000000000ull);
	assert_int_equal(r, -ENOTCONN);
	assert_int_equal(srdc_poll(ha, &c, 1), -ENOTCONN);
	assert_int_equal(srdc_wait(hb, -1), -ENOTCONN);
	assert_int_equal(srdc_wait(hb, 0), -ENOTCONN);
	assert_int_equal(srdc_send(ea, &dst, &iov, 1, 1, 0, NULL), -ENOTCONN);
	assert_int_equal(srdc_recv_done(hb, rc.buf), -ENOTCONN);
	assert_int_equal(srdc_ep_open(ha, 0, 0, &x), -ENOTCONN);
	srdc_ep_close(ea);
	srdc_detach(ha);
	srdc_detach(hb);

	/* and attaches again once the daemon is back */
	assert_int_equal(srdc_attach(g_path, "a", &ha), -ENOENT); /* the socket file went too */
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	srdc_detach(ha);
	srv_destroy();
}

/* In a child: attach, receive four messages (kept), then send four that the worker holds,
 * then wait to be killed.  Talks to the parent through pipes. */
static int victim(int wfd, int rfd)
{
	struct srdc *h;
	struct srdc_ep *ep;
	struct srdc_completion c;
	struct srdc_addr me;
	static char msg[BUF_MSG] = "victim's message"; /* held in buffers, not inline */
	struct srdc_iov iov = { msg, sizeof(msg) };
	int recvs = 0, sends = 0;
	char go;

	if (srdc_attach(g_path, "victim", &h) || srdc_ep_open(h, 0, 0, &ep))
		return 1;
	me = srdc_ep_addr(ep);
	for (int i = 0; i < 4; i++)
		if (srdc_send(ep, &me, &iov, 1, 0, 0, NULL))
			return 2;
	while (recvs < 4 || sends < 4) {
		if (srdc_wait(h, 5000))
			return 3;
		while (srdc_poll(h, &c, 1) == 1)
			*(c.kind == SRDC_RECV ? &recvs : &sends) += 1;
	}
	if (write(wfd, &me.ep, sizeof(me.ep)) != sizeof(me.ep) || read(rfd, &go, 1) != 1)
		return 4;
	for (int i = 0; i < 4; i++)
		if (srdc_send(ep, &me, &iov, 1, 0, 0, NULL))
			return 5;
	if (write(wfd, "x", 1) != 1)
		return 6;
	pause();
	return 7;
}

static void test_sigkill(void **state)
{
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_iov iov = { "unaffected", 10 };
	struct dp_config c;
	struct dp_shm_stats st;
	int up[2], down[2];
	uint16_t vep;
	char x;
	pid_t pid;

	(void)state;
	cfg_default(&c);
	srv_start(&c);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork_quiet();
	if (pid == 0) {
		srdc_detach(ha); /* the child's copies of the parent's connections */
		srdc_detach(hb);
		_exit(victim(up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &vep, sizeof(vep)), sizeof(vep));
	hold(vep, 0);
	assert_int_equal(write(down[1], "g", 1), 1);
	assert_int_equal(read(up[0], &x, 1), 1);
	WAIT_UNTIL(stats_now().sends_inflight == 4, 3000);
	st = stats_now();
	assert_int_equal(st.apps, 3);
	assert_int_equal(st.endpoints, 3);
	assert_int_equal(st.rx_bufs_lent, 4);

	kill(pid, SIGKILL);
	assert_int_equal(child_status(pid), 128 + SIGKILL);
	/* endpoints and buffers go at once; the record waits for its sends */
	WAIT_UNTIL(stats_now().endpoints == 2, 2000);
	st = stats_now();
	assert_int_equal(st.rx_bufs_lent, 0);
	assert_int_equal(st.rx_bytes_lent, 0);
	assert_int_equal(st.sends_inflight, 4);
	assert_int_equal(st.apps, 3);
	/* another app's traffic is unaffected */
	xfer(ea, hb, eb, &iov, 1, 77);
	expect_send_done(ha, ea, 77, 0);
	hold(0, 0); /* the worker finishes the dead app's sends */
	WAIT_UNTIL(stats_now().apps == 2, 2000);
	st = stats_now();
	assert_int_equal(st.sends_inflight, 0);
	assert_int_equal(st.rx_bufs_lent, 0);
	assert_int_equal(st.endpoints, 2);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	st = stats_now();
	assert_int_equal(st.endpoints, 0);
	assert_int_equal(st.sends_inflight, 0);
	assert_int_equal(st.rx_bufs_lent, 0);
	assert_int_equal(st.rx_bytes_lent, 0);
	close(up[0]);
	close(down[1]);
	srv_destroy();
}

/* Check one received completion of test_cq_limits' messages and give its buffer back. */
static void check_recv(struct srdc *hb, const struct srdc_completion *c, uint8_t *seen,
		       uint32_t n)
{
	uint8_t msg[300];
	uint64_t t = c->tag;

	assert_int_equal(c->kind, SRDC_RECV);
	assert_true(t < n);
	assert_int_equal(seen[t], 0);
	seen[t] = 1;
	assert_int_equal(c->len, BUF_MSG + t % 100);
	fill(msg, sizeof(msg), (uint32_t)t);
	assert_memory_equal(c->buf, msg, c->len);
	give_back(hb, c->buf);
}

/*
 * A tiny CQ (4 entries).  A receiver that does not poll gets no more messages than its
 * ring holds: the rest are refused (the sender retries) rather than kept in daemon memory,
 * since their senders are told they arrived.  A sender that does not poll has its send
 * completions wait in the overflow queue.  Nothing is lost either way.
 */
static void test_cq_limits(void **state)
{
	enum { N = 300 };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c[8];
	struct srdc_addr dst;
	struct dp_config cfg;
	uint8_t seen[N] = { 0 }, msg[300];
	int sent = 0, done = 0, got = 0;

	(void)state;
	cfg_default(&cfg);
	cfg.sq_entries = 8;
	cfg.cq_entries = 4;
	cfg.app_region_bytes = 4 * MIB;
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	/* B does not poll: four messages reach its ring, the others wait at the sender */
	for (uint64_t end = mono_ns() + 300000000ull; mono_ns() < end;) {
		int n;

		if (sent < N) {
			struct srdc_iov iov = { msg, BUF_MSG + (size_t)sent % 100 };

			fill(msg, sizeof(msg), (uint32_t)sent);
			if (srdc_send(ea, &dst, &iov, 1, (uint64_t)sent, 0, NULL) == 0) {
				sent++;
				continue;
			}
		}
		n = srdc_poll(ha, c, 8);
		assert_true(n >= 0);
		done += n;
		usleep(50);
	}
	assert_int_equal(done, 4);
	assert_int_equal(stats_now().rx_bufs_lent, 4);
	assert_true(stats_now().rx_no_buffer > 0);
	/* B polls, A only when it cannot send: A's completions overflow its ring */
	while (done < N || got < N) {
		int n;

		if (sent < N) {
			struct srdc_iov iov = { msg, BUF_MSG + (size_t)sent % 100 };
			int rc;

			fill(msg, sizeof(msg), (uint32_t)sent);
			rc = srdc_send(ea, &dst, &iov, 1, (uint64_t)sent, 0, NULL);
			if (rc == 0) {
				sent++;
				continue;
			}
			assert_int_equal(rc, -EAGAIN);
		}
		/* B reaps for a while before A looks: A's ring fills meanwhile */
		for (uint64_t end = mono_ns() + 1000000ull; mono_ns() < end;) {
			n = srdc_poll(hb, c, 8);
			assert_true(n >= 0);
			for (int i = 0; i < n; i++)
				check_recv(hb, &c[i], seen, N);
			got += n;
		}
		n = srdc_poll(ha, c, 8);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(c[i].kind, SRDC_SEND);
			assert_int_equal(c[i].status, 0);
		}
		done += n;
		if (n == 0)
			usleep(50);
	}
	assert_true(stats_now().cq_overflow > 0);
	assert_int_equal(srdc_poll(hb, c, 8), 0);
	WAIT_UNTIL(stats_now().rx_bufs_lent == 0, 2000);
	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
}

/*
 * Messages of at most SRD_CQE_INLINE_MAX bytes come inside the completion ring
 * (SRD_CQ_RECV_INLINE): every length up to it and one past it, across the ring's end, with
 * no buffer lent; a receiver that does not poll gets no more than its ring holds (two
 * entries each); the daemon's staging slots run out into ordinary buffers, are freed by an
 * abort, and keep a dead app's record until the message is done.
 */
static void test_inline_recv(void **state)
{
	enum { LENS = SRD_CQE_INLINE_MAX + 2, N = 40 };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c, c8[8];
	struct srdc_addr dst;
	struct dp_config cfg;
	struct dp_shm_stats st;
	struct dp_shm_send out[1];
	uint8_t msg[LENS], seen[N] = { 0 };
	void *ctx[40], *bufs[40];
	int done = 0, got = 0, no_ep;
	uint64_t inl = 0;
	uint16_t ep_b;

	(void)state;
	cfg_default(&cfg); /* CQ of 64: the 2- and 3-entry messages cross its end */
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	for (uint32_t len = 0; len < LENS; len++) {
		struct srdc_iov iov = { msg, len };

		fill(msg, len, len);
		xfer(ea, hb, eb, &iov, 1, len); /* every field, the bytes, given back once */
		expect_send_done(ha, ea, len, 0);
		inl += len <= SRD_CQE_INLINE_MAX;
	}
	WAIT_UNTIL(stats_now().rx_bufs_lent == 0, 2000); /* the one buffer's return */
	st = stats_now();
	assert_int_equal(st.rx_inline, inl);
	assert_int_equal(st.rx_inline_filling, 0);
	/* libsrd's slots: only the start of one lent is taken back */
	fill(msg, 64, 1);
	assert_int_equal(srdc_inject(ea, &dst, msg, 64, 5, 0, NULL), 0);
	assert_int_equal(next_comp(hb, &c, 5000), 1);
	assert_int_equal(srdc_recv_done(hb, (uint8_t *)c.buf + 1), -EINVAL);
	assert_int_equal(srdc_recv_done(hb, msg), -EINVAL); /* not libsrd's */
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);

	/* B does not poll: 32 messages of 64 bytes (two entries each) fill its 64 entries,
	   the rest wait */
	for (int i = 0; i < N; i++) {
		fill(msg, 64, (uint32_t)i);
		assert_int_equal(srdc_inject(ea, &dst, msg, 64, (uint64_t)i, 0, NULL), 0);
	}
	WAIT_UNTIL(stats_now().rx_inline == inl + 1 + 32 && stats_now().rx_no_buffer > 0, 2000);
	usleep(20000);
	assert_int_equal(stats_now().rx_inline, inl + 1 + 32);
	while (got < N) {
		int n = srdc_poll(hb, c8, 8);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(c8[i].kind, SRDC_RECV);
			assert_in_range(c8[i].tag, 0, N - 1);
			assert_int_equal(seen[c8[i].tag], 0);
			seen[c8[i].tag] = 1;
			fill(msg, 64, (uint32_t)c8[i].tag);
			assert_int_equal(c8[i].len, 64);
			assert_memory_equal(c8[i].buf, msg, 64);
			assert_int_equal(srdc_recv_done(hb, c8[i].buf), 0);
		}
		got += n;
		if (n == 0)
			usleep(50);
	}
	assert_int_equal(srdc_poll(ha, c8, 8), 0); /* silent sends: nothing */

	/* this thread drives the server: 32 staging slots (half the CQ), then buffers */
	srv_stop();
	ep_b = dst.ep;
	for (int i = 0; i < 33; i++) {
		bufs[i] = dp_shm_rx_alloc(F.s, dst.ipv4, ep_b, 0, &ctx[i], &no_ep);
		assert_non_null(bufs[i]);
	}
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.rx_inline_filling, 32);
	assert_int_equal(st.rx_bufs_lent, 1);
	dp_shm_rx_abort(F.s, ctx[0], bufs[0]);
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.rx_inline_filling, 31);
	for (int i = 1; i < 33; i++)
		dp_shm_deliver(F.s, ctx[i], bufs[i], 0, IP_A, 9, ep_b, (uint64_t)i, 0);
	dp_shm_flush(F.s);
	for (done = 0; done < 32; done++) {
		assert_int_equal(srdc_poll(hb, &c, 1), 1);
		assert_int_equal(c.kind, SRDC_RECV);
		assert_int_equal(c.len, 0);
		assert_int_equal(c.tag, (uint64_t)done + 1);
		assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	}
	assert_int_equal(srdc_poll(hb, &c, 1), 0); /* the buffer's return goes */
	assert_int_equal(dp_shm_take(F.s, out, 0), 0);
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.rx_inline_filling, 0);
	assert_int_equal(st.rx_bufs_lent, 0);
	/* B detaches while a message is arriving for it: its record waits for the message */
	bufs[0] = dp_shm_rx_alloc(F.s, dst.ipv4, ep_b, 8, &ctx[0], &no_ep);
	assert_non_null(bufs[0]);
	srdc_detach(hb);
	for (uint64_t end = mono_ns() + 2000000000ull; mono_ns() < end;) {
		(void)dp_shm_poll_control(F.s);
		dp_shm_get_stats(F.s, &st);
		if (st.endpoints == 1)
			break;
		usleep(100);
	}
	assert_int_equal(st.endpoints, 1);
	assert_int_equal(st.apps, 2);
	dp_shm_deliver(F.s, ctx[0], bufs[0], 8, IP_A, 9, ep_b, 0, 0); /* dropped: freed */
	dp_shm_get_stats(F.s, &st);
	assert_int_equal(st.apps, 1);
	assert_int_equal(st.rx_inline_filling, 0);
	srdc_detach(ha);
	srv_destroy();
}

/* A failed test leaves its server running: stop it so that the next one can start. */
static int teardown(void **state)
{
	(void)state;
	if (F.s)
		srv_destroy();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_addr, teardown),
		cmocka_unit_test_teardown(test_socket_file, teardown),
		cmocka_unit_test_teardown(test_attach_endpoints, teardown),
		cmocka_unit_test_teardown(test_workers_share_socket, teardown),
		cmocka_unit_test_teardown(test_full_worker_passes_turn, teardown),
		cmocka_unit_test_teardown(test_returns_never_wait, teardown),
		cmocka_unit_test_teardown(test_inject_and_returns, teardown),
		cmocka_unit_test_teardown(test_transfer, teardown),
		cmocka_unit_test_teardown(test_wait, teardown),
		cmocka_unit_test_teardown(test_bad_descriptors, teardown),
		cmocka_unit_test_teardown(test_send_batches, teardown),
		cmocka_unit_test_teardown(test_bad_handshake, teardown),
		cmocka_unit_test_teardown(test_peercred, teardown),
		cmocka_unit_test_teardown(test_daemon_gone, teardown),
		cmocka_unit_test_teardown(test_sigkill, teardown),
		cmocka_unit_test_teardown(test_cq_limits, teardown),
		cmocka_unit_test_teardown(test_inline_recv, teardown),
	};
	char path[200];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(g_dir, sizeof(g_dir), "/tmp/srdshm.XXXXXX");
	if (!mkdtemp(g_dir) || chmod(g_dir, 0755)) /* others may traverse (the uid test) */
		return 1;
	snprintf(g_path, sizeof(g_path), "%s/run/srdd.sock", g_dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(g_path);
	snprintf(path, sizeof(path), "%s/run", g_dir);
	rmdir(path);
	rmdir(g_dir);
	return rc;
}
