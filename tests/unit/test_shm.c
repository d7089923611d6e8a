/*
 * test_shm.c — the shared-memory channel's control side: addresses, the socket, workers sharing
 * it, endpoints, bad descriptors and handshakes, peer credentials, a daemon or an app that
 * goes away.
 * The harness (a dp_shm server with a pump playing the worker) is shm_harness.h's.
 */
#include "shm_harness.h"

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

/*
 * Frames naming an app's payload (srdd sends from the apps' memory) keep its region: an
 * app that detaches while frames still name its bytes stays on the books, mapped, until
 * the last is freed, then goes.  dp_shm_send_area_app() finds the sending app for every
 * payload, and no app for bytes outside every send area.
 */
static void test_frames_outlive_app(void **state)
{
	uint8_t msg[BUF_MSG];
	struct srdc_iov iov = { msg, sizeof(msg) };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct dp_config c;
	struct dp_shm_stats st;

	(void)state;
	fill(msg, sizeof(msg), 5);
	cfg_default(&c);
	srv_start(&c);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	keep_frames(1);
	xfer(ea, hb, eb, &iov, 1, 41);
	expect_send_done(ha, ea, 41, 0);
	keep_frames(0);
	pthread_mutex_lock(&F.mu);
	assert_int_equal(F.nframes, 1);
	assert_int_equal(F.frames_misfound, 0);
	assert_null(dp_shm_send_area_app(F.s, msg, sizeof(msg)));
	pthread_mutex_unlock(&F.mu);

	srdc_detach(ha);
	WAIT_UNTIL(stats_now().endpoints == 1, 2000);
	usleep(100 * 1000);
	st = stats_now();
	assert_int_equal(st.apps, 2); /* gone, but a frame still names its bytes */
	assert_int_equal(st.sends_inflight, 0);
	frames_free();
	WAIT_UNTIL(stats_now().apps == 1, 2000);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
}

/*
 * A failed send completes once every frame that named its app's bytes when it failed is
 * freed (dp_shm_frames_fence), and frames taken later never hold it back: an app that keeps
 * sending cannot starve its own error completions.
 */
static void test_frames_fence(void **state)
{
	uint8_t msg[BUF_MSG];
	struct srdc_iov iov = { msg, sizeof(msg) };
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct dp_config c;
	struct dp_shm_app *a;
	uint32_t *f1, *f2, *f3;
	uint64_t t1, t2, t3;
	static const int want[8] = { 0, 0, 1, 0, 1, 0, 1, 1 };
	int got[8];
	size_t nframes;

	(void)state;
	fill(msg, sizeof(msg), 6);
	cfg_default(&c);
	srv_start(&c);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	keep_frames(1);
	xfer(ea, hb, eb, &iov, 1, 42);
	expect_send_done(ha, ea, 42, 0);
	keep_frames(0);

	/* under the pump's lock, the answers noted and checked after it (a failed check
	   must not leave the lock held) */
	pthread_mutex_lock(&F.mu);
	nframes = F.nframes;
	if (nframes != 1) {
		pthread_mutex_unlock(&F.mu);
		fail_msg("%zu frames kept, expected 1", nframes);
	}
	a = F.frames_app;
	f1 = F.frames[--F.nframes];
	t1 = dp_shm_frames_fence(a);          /* f1 out: waits for it */
	got[0] = dp_shm_frames_passed(a, t1);
	f2 = dp_shm_frame_get(a);             /* taken after: not t1's */
	t2 = dp_shm_frames_fence(a);          /* f2 may be t2's: the next fence */
	got[1] = dp_shm_frames_passed(a, t1);
	dp_shm_frame_put(NULL, f1);
	got[2] = dp_shm_frames_passed(a, t1); /* f2 does not hold t1 back */
	got[3] = dp_shm_frames_passed(a, t2);
	f3 = dp_shm_frame_get(a);             /* taken while t2's fence runs */
	dp_shm_frame_put(NULL, f2);
	got[4] = dp_shm_frames_passed(a, t2); /* nor f3 t2 */
	t3 = dp_shm_frames_fence(a);
	got[5] = dp_shm_frames_passed(a, t3);
	dp_shm_frame_put(NULL, f3);
	got[6] = dp_shm_frames_passed(a, t3);
	got[7] = dp_shm_frames_passed(a, dp_shm_frames_fence(a)); /* none out: at once */
	pthread_mutex_unlock(&F.mu);
	assert_true(t2 > t1);
	for (int i = 0; i < 8; i++)
		if (got[i] != want[i])
			fail_msg("check %d: passed %d, expected %d", i, got[i], want[i]);

	srdc_detach(ha);
	srdc_detach(hb);
	WAIT_UNTIL(stats_now().apps == 0, 2000);
	srv_destroy();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_addr, shm_teardown),
		cmocka_unit_test_teardown(test_socket_file, shm_teardown),
		cmocka_unit_test_teardown(test_workers_share_socket, shm_teardown),
		cmocka_unit_test_teardown(test_full_worker_passes_turn, shm_teardown),
		cmocka_unit_test_teardown(test_attach_endpoints, shm_teardown),
		cmocka_unit_test_teardown(test_bad_descriptors, shm_teardown),
		cmocka_unit_test_teardown(test_bad_handshake, shm_teardown),
		cmocka_unit_test_teardown(test_peercred, shm_teardown),
		cmocka_unit_test_teardown(test_daemon_gone, shm_teardown),
		cmocka_unit_test_teardown(test_sigkill, shm_teardown),
		cmocka_unit_test_teardown(test_frames_outlive_app, shm_teardown),
		cmocka_unit_test_teardown(test_frames_fence, shm_teardown),
	};

	return shm_run_tests("test_shm", tests, sizeof(tests) / sizeof(tests[0]));
}
