/*
 * shm_harness.c — what the shared-memory channel's tests (test_shm, test_shm_data) share:
 * a dp_shm server in the test process driven by a pump thread that plays the worker, libsrd
 * helpers, a raw client that writes descriptors by hand, and forked children (see
 * shm_harness.h).
 */
#include "shm_harness.h"

char g_dir[64];   /* mkdtemp */
char g_path[100]; /* g_dir/run/srdd.sock (run/ is made by the server) */

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the server and the fake worker ---- */

struct shm_fixture F = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Deliver one send.  Returns 0 (done) or -EAGAIN (no receive buffer yet). */
static int fake_deliver(struct dp_shm_send *snd)
{
	void *ctx = NULL, *buf;
	uint8_t *p;
	int no_ep, took;

	for (uint32_t i = 0; i < snd->niov; i++) /* the payload is readable, whoever is gone */
		for (uint32_t k = 0; k < snd->iov[i].len; k += 4096)
			F.sum += ((const uint8_t *)snd->iov[i].base)[k];
	if (F.keep_frames && snd->niov && F.nframes < sizeof(F.frames) / sizeof(F.frames[0])) {
		struct dp_shm_app *a = dp_shm_send_area_app(F.s, snd->iov[0].base,
							    snd->iov[0].len);

		if (a != snd->app) {
			F.frames_misfound++;
		} else {
			F.frames[F.nframes++] = dp_shm_frame_get(a);
			F.frames_app = a;
		}
	}
	/* a small message as the core hands over one of a packed packet: taken, and its
	   bytes given at delivery (dp_shm_rx_take); the others into a buffer */
	took = dp_shm_rx_take(F.s, snd->dst_ip, snd->dst_ep, snd->len, &ctx, &no_ep);
	if (took > 0) {
		uint8_t bytes[SRD_CQE_INLINE_MAX];

		p = bytes;
		if (snd->niov == 0)
			memcpy(p, snd->inline_data, snd->len);
		for (uint32_t i = 0; i < snd->niov; i++) {
			memcpy(p, snd->iov[i].base, snd->iov[i].len);
			p += snd->iov[i].len;
		}
		dp_shm_deliver_taken(F.s, ctx, bytes, snd->len, snd->src_ip, snd->ep, snd->dst_ep,
				     snd->tag, snd->imm);
		dp_shm_complete_send(F.s, snd, 0);
		return 0;
	}
	buf = took < 0 ? NULL :
		dp_shm_rx_alloc(F.s, snd->dst_ip, snd->dst_ep, snd->len, &ctx, &no_ep);
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

void cfg_default(struct dp_config *c)
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

void srv_start(const struct dp_config *c)
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
	F.keep_frames = 0;
	F.nframes = 0;
	F.frames_misfound = 0;
	assert_int_equal(pthread_create(&F.thr, NULL, pump_main, NULL), 0);
	F.running = 1;
}

void srv_stop(void)
{
	if (!F.running)
		return;
	pthread_mutex_lock(&F.mu);
	F.stop = 1;
	pthread_mutex_unlock(&F.mu);
	pthread_join(F.thr, NULL);
	F.running = 0;
}

void srv_destroy(void)
{
	srv_stop();
	dp_shm_destroy(F.s); /* sends still queued here are forgotten with their apps */
	F.s = NULL;
	F.nq = 0;
}

struct dp_shm_stats stats_now(void)
{
	struct dp_shm_stats st;

	pthread_mutex_lock(&F.mu);
	dp_shm_get_stats(F.s, &st);
	pthread_mutex_unlock(&F.mu);
	return st;
}

void hold(uint16_t ep, uint64_t release_ns)
{
	pthread_mutex_lock(&F.mu);
	F.hold_ep = ep;
	F.release_ns = release_ns;
	pthread_mutex_unlock(&F.mu);
}

void keep_frames(int on)
{
	pthread_mutex_lock(&F.mu);
	F.keep_frames = on;
	pthread_mutex_unlock(&F.mu);
}

void frames_free(void)
{
	pthread_mutex_lock(&F.mu);
	while (F.nframes)
		dp_shm_frame_put(NULL, F.frames[--F.nframes]);
	pthread_mutex_unlock(&F.mu);
}

/* fork() while the pump is parked outside the allocator. */
pid_t fork_quiet(void)
{
	pid_t pid;

	pthread_mutex_lock(&F.mu);
	pid = fork();
	if (pid != 0)
		pthread_mutex_unlock(&F.mu);
	return pid;
}

int child_status(pid_t pid)
{
	int wst = 0;

	assert_int_equal(waitpid(pid, &wst, 0), pid);
	return WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
}

/* ---- client helpers ---- */

/* Poll h until one completion arrives (1), ms pass (0), or an error (<0). */
int next_comp(struct srdc *h, struct srdc_completion *c, int ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000ull;

	for (;;) {
		int r = srdc_poll(h, c, 1);

		if (r != 0 || mono_ns() > end)
			return r;
		usleep(20);
	}
}

void attach_with_ep(const char *name, struct srdc **h, struct srdc_ep **ep)
{
	assert_int_equal(srdc_attach(g_path, name, h), 0);
	assert_int_equal(srdc_ep_open(*h, 0, 0, ep), 0);
}

int same_addr(struct srdc_addr x, struct srdc_addr y)
{
	return x.ipv4 == y.ipv4 && x.ep == y.ep;
}

/* srdc_recv_done(), waiting while the submission ring is full. */
void give_back(struct srdc *h, void *buf)
{
	uint64_t end = mono_ns() + 5000000000ull;
	int rc;

	while ((rc = srdc_recv_done(h, buf)) == -EAGAIN && mono_ns() < end)
		usleep(20);
	assert_int_equal(rc, 0);
}

/* Send iov[0..n) from ea to eb and check everything about its arrival. */
void xfer(struct srdc_ep *ea, struct srdc *hb, struct srdc_ep *eb, const struct srdc_iov *iov,
	  unsigned n, uint64_t tag)
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
void expect_send_done(struct srdc *h, struct srdc_ep *ep, uint64_t tag, int status)
{
	struct srdc_completion c;

	assert_int_equal(next_comp(h, &c, 5000), 1);
	assert_int_equal(c.kind, SRDC_SEND);
	assert_int_equal(c.status, status);
	assert_ptr_equal(c.ctx, (void *)(uintptr_t)(tag + 1));
	assert_true(c.ep == ep);
}

void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

/* ---- a raw client: the handshake and the rings by hand ---- */

int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

void ctl_fill(struct srd_ctl *m, uint16_t op, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->magic = SRD_CTL_MAGIC;
	m->version = SRD_SHM_VERSION;
	m->op = op;
	m->seq = seq;
}

void raw_attach(struct raw *r)
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

void raw_push(struct raw *r, const struct srd_sqe *e)
{
	r->sqes[r->sq_tail & (r->h.sq_entries - 1)] = *e;
	srd_store_release(&r->sq->tail, ++r->sq_tail);
}

/* Completions ready in r's ring. */
uint32_t raw_pending(const struct raw *r)
{
	int corrupt = 0;

	return srd_ring_ready(r->cq, r->cq_head, r->h.cq_entries, &corrupt);
}

/* Collect want completions of r (within a few seconds). */
void raw_reap(struct raw *r, struct srd_cqe *out, int want)
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

void raw_close(struct raw *r)
{
	munmap(r->base, r->h.region_size);
	close(r->efd);
	close(r->sock);
}

/* Wait until the server closes fd; returns the status of an ERROR it sent first (or 1). */
int expect_closed(int fd, int ms)
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

/* A failed test leaves its server running: stop it so that the next one can start. */
int shm_teardown(void **state)
{
	(void)state;
	if (F.s)
		srv_destroy();
	return 0;
}

int shm_run_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
	char path[200];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(g_dir, sizeof(g_dir), "/tmp/srdshm.XXXXXX");
	if (!mkdtemp(g_dir) || chmod(g_dir, 0755)) /* others may traverse (the uid test) */
		return 1;
	snprintf(g_path, sizeof(g_path), "%s/run/srdd.sock", g_dir);
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	unlink(g_path);
	snprintf(path, sizeof(path), "%s/run", g_dir);
	rmdir(path);
	rmdir(g_dir);
	return rc;
}
