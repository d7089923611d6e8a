/*
 * test_shm_data.c — the shared-memory channel's data path: transfers of every size, waiting,
 * silent sends and buffer returns, batched completions, ring limits, small messages received
 * inline.
 * The harness (a dp_shm server with a pump playing the worker) is shm_harness.h's.
 */
#include "shm_harness.h"

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

/* dp_shm_rx_take (the core's rx_take): a small message reserves its entries of the
 * receiver's completion ring and no buffer; dp_shm_deliver_taken posts it from the bytes
 * given, dp_shm_rx_untake gives the entries back.  Longer messages are left to
 * dp_shm_rx_alloc, unknown endpoints refused, a full ring refused for now (RNR). */
static void test_taken_recv(void **state)
{
	enum { LEN = 100, PER = 1 + 2, FIT = 64 / PER }; /* a header and two entries each */
	struct srdc *ha, *hb;
	struct srdc_ep *ea, *eb;
	struct srdc_completion c;
	struct srdc_addr dst;
	struct dp_config cfg;
	struct dp_shm_stats st;
	uint8_t msg[LEN];
	void *ctx[FIT + 1];
	int no_ep;

	(void)state;
	cfg_default(&cfg); /* CQ of 64 entries */
	srv_start(&cfg);
	attach_with_ep("a", &ha, &ea);
	attach_with_ep("b", &hb, &eb);
	dst = srdc_ep_addr(eb);
	srv_stop(); /* this thread drives the server */
	assert_int_equal(dp_shm_rx_take(F.s, dst.ipv4, dst.ep, SRD_CQE_INLINE_MAX + 1, &ctx[0],
					&no_ep), 0);
	assert_int_equal(dp_shm_rx_take(F.s, dst.ipv4, (uint16_t)(dst.ep + 1), 8, &ctx[0],
					&no_ep), -1);
	assert_int_equal(no_ep, 1);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < FIT; i++) {
			assert_int_equal(dp_shm_rx_take(F.s, dst.ipv4, dst.ep, LEN, &ctx[i], &no_ep),
					 1);
			assert_int_equal(no_ep, 0);
		}
		dp_shm_get_stats(F.s, &st);
		assert_int_equal(dp_shm_rx_take(F.s, dst.ipv4, dst.ep, LEN, &ctx[FIT], &no_ep), -1);
		assert_int_equal(no_ep, 0); /* the ring is full: later */
		assert_int_equal(stats_now().rx_no_buffer, st.rx_no_buffer + 1);
		for (int i = 0; i < FIT; i++) /* round 0 gives all back, round 1 keeps one */
			if (round == 0 || i > 0)
				dp_shm_rx_untake(ctx[i], LEN);
	}
	fill(msg, LEN, 7);
	dp_shm_deliver_taken(F.s, ctx[0], msg, LEN, IP_A, 9, dst.ep, 77, 99);
	dp_shm_flush(F.s);
	assert_int_equal(srdc_poll(hb, &c, 1), 1);
	assert_int_equal(c.kind, SRDC_RECV);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.len, LEN);
	assert_int_equal(c.tag, 77);
	assert_int_equal(c.imm, 99);
	assert_int_equal(c.src.ipv4, IP_A);
	assert_int_equal(c.src.ep, 9);
	assert_memory_equal(c.buf, msg, LEN);
	assert_int_equal(srdc_recv_done(hb, c.buf), 0);
	assert_int_equal(srdc_poll(hb, &c, 1), 0);
	/* every entry is free again: the ring takes FIT more */
	for (int i = 0; i < FIT; i++)
		assert_int_equal(dp_shm_rx_take(F.s, dst.ipv4, dst.ep, LEN, &ctx[i], &no_ep), 1);
	for (int i = 0; i < FIT; i++)
		dp_shm_rx_untake(ctx[i], LEN);
	assert_int_equal(stats_now().rx_inline, 1);
	srdc_detach(hb);
	srdc_detach(ha);
	srv_destroy();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_inject_and_returns, shm_teardown),
		cmocka_unit_test_teardown(test_returns_never_wait, shm_teardown),
		cmocka_unit_test_teardown(test_transfer, shm_teardown),
		cmocka_unit_test_teardown(test_wait, shm_teardown),
		cmocka_unit_test_teardown(test_send_batches, shm_teardown),
		cmocka_unit_test_teardown(test_cq_limits, shm_teardown),
		cmocka_unit_test_teardown(test_inline_recv, shm_teardown),
		cmocka_unit_test_teardown(test_taken_recv, shm_teardown),
	};

	return shm_run_tests("test_shm_data", tests, sizeof(tests) / sizeof(tests[0]));
}
