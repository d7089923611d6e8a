/*
 * test_fabric_api.c — the libfabric provider srd against a running srdd (the crossed
 * loopback pair), through libfabric's own loader (FI_PROVIDER_PATH names the build's
 * libsrd-fi.so) and its public API:
 *   - no daemon: fi_getinfo says -FI_ENODATA;
 *   - tagged and untagged messages of 0 B to 40 MiB (segmented above srdd's limit) and
 *     one of 1 GiB, contents checked, in send order on FI_ORDER_SAS endpoints;
 *   - fi_inject (no completion, the buffer free at return), FI_DELIVERY_COMPLETE (no
 *     completion before the peer's receive matched), sends to itself, two endpoints of a
 *     domain, FI_THREAD_SAFE with two threads sending on one endpoint, a burst into a
 *     receiver that posts nothing for a while (FI_RM_ENABLED: nothing lost);
 *   - the wait fd of a CQ in the application's epoll while srdd delivers;
 *   - bad arguments get the errors the man pages name;
 *   - srdd killed: posted operations complete with error entries carrying their contexts,
 *     calls fail with -FI_ENOTCONN, nothing hangs.
 *
 * SRDD_BIN names the daemon, FI_PROVIDER_PATH the provider's folder (meson sets both).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include "proc.h"
#include "daemon.h"

#define MIB (1u << 20)

/* One endpoint with its objects. */
struct node {
	struct fi_info *fi;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_cq *cq;
	struct fid_ep *ep;
	fi_addr_t peer;     /* the other node, in this node's AV */
	fi_addr_t self;     /* this node, in its own AV */
};

/* What an open asks for. */
struct want {
	const char *domain;           /* "10.77.0.1" */
	uint64_t caps;                /* FI_TAGGED | FI_MSG ... */
	bool ordered;                 /* FI_ORDER_SAS */
	enum fi_threading threading;
	enum fi_wait_obj wait_obj;    /* of the CQ */
	bool no_enable;
};

static int node_open(struct node *n, const struct want *w)
{
	struct fi_info *h = fi_allocinfo();
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .wait_obj = w->wait_obj };
	struct fi_av_attr av_attr = { .type = FI_AV_MAP };
	int rc;

	memset(n, 0, sizeof(*n));
	h->ep_attr->type = FI_EP_RDM;
	h->caps = w->caps;
	h->mode = FI_CONTEXT;
	h->fabric_attr->prov_name = strdup("srd");
	h->domain_attr->name = strdup(w->domain);
	h->domain_attr->threading = w->threading ? w->threading : FI_THREAD_DOMAIN;
	if (w->ordered)
		h->tx_attr->msg_order = h->rx_attr->msg_order = FI_ORDER_SAS;
	rc = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &n->fi);
	fi_freeinfo(h);
	if (rc)
		return rc;
	if ((rc = fi_fabric(n->fi->fabric_attr, &n->fabric, NULL)) ||
	    (rc = fi_domain(n->fabric, n->fi, &n->domain, NULL)) ||
	    (rc = fi_av_open(n->domain, &av_attr, &n->av, NULL)) ||
	    (rc = fi_cq_open(n->domain, &cq_attr, &n->cq, NULL)) ||
	    (rc = fi_endpoint(n->domain, n->fi, &n->ep, NULL)) ||
	    (rc = fi_ep_bind(n->ep, &n->av->fid, 0)) ||
	    (rc = fi_ep_bind(n->ep, &n->cq->fid, FI_TRANSMIT | FI_RECV)))
		return rc;
	return w->no_enable ? 0 : fi_enable(n->ep);
}

static void node_close(struct node *n)
{
	if (n->ep)
		assert_int_equal(fi_close(&n->ep->fid), 0);
	if (n->cq)
		assert_int_equal(fi_close(&n->cq->fid), 0);
	if (n->av)
		assert_int_equal(fi_close(&n->av->fid), 0);
	if (n->domain)
		assert_int_equal(fi_close(&n->domain->fid), 0);
	if (n->fabric)
		assert_int_equal(fi_close(&n->fabric->fid), 0);
	fi_freeinfo(n->fi);
}

/* Tell each node the other's name (and its own). */
static void introduce(struct node *a, struct node *b)
{
	uint8_t na[64], nb[64];
	size_t la = sizeof(na), lb = sizeof(nb);

	assert_int_equal(fi_getname(&a->ep->fid, na, &la), 0);
	assert_int_equal(fi_getname(&b->ep->fid, nb, &lb), 0);
	assert_int_equal(fi_av_insert(a->av, nb, 1, &a->peer, 0, NULL), 1);
	assert_int_equal(fi_av_insert(b->av, na, 1, &b->peer, 0, NULL), 1);
	assert_int_equal(fi_av_insert(a->av, na, 1, &a->self, 0, NULL), 1);
	assert_int_equal(fi_av_insert(b->av, nb, 1, &b->self, 0, NULL), 1);
}

/* Progress both nodes until `a` has a completion; returns 1, or -err of an error entry
 * (err filled in), or 0 after timeout_ms. */
static int wait_comp(struct node *a, struct node *b, struct fi_cq_tagged_entry *e,
		     struct fi_cq_err_entry *err, int timeout_ms)
{
	int64_t end = proc_now_ms() + timeout_ms;

	do {
		ssize_t n = fi_cq_read(a->cq, e, 1);

		if (n == 1)
			return 1;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry tmp;

			if (!err)
				err = &tmp;
			memset(err, 0, sizeof(*err));
			assert_int_equal(fi_cq_readerr(a->cq, err, 0), 1);
			return -err->err;
		}
		assert_int_equal(n, -FI_EAGAIN);
		(void)b; /* b's application reads b's CQ itself */
	} while (proc_now_ms() < end);
	return 0;
}

static uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 131 + i * 7 + (i >> 12));
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seed, i);
}

static void check(const uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(seed, i))
			fail_msg("byte %zu of %zu is %u, want %u", i, len, p[i], pat(seed, i));
}

static struct daemon D;

static void up(void)
{
	daemon_start(&D, NULL);
	setenv("FI_SRD_SOCKET", D.socket, 1);
}

/* ---- tests ---- */

static void test_no_daemon(void **state)
{
	struct fi_info *h = fi_allocinfo(), *fi = NULL;

	(void)state;
	setenv("FI_SRD_SOCKET", "/nonexistent/srdd.sock", 1);
	h->fabric_attr->prov_name = strdup("srd");
	assert_int_equal(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi), -FI_ENODATA);
	assert_null(fi);
	fi_freeinfo(h);
}

/* One message of len bytes from a to b (tagged or not), contents checked. */
static void one(struct node *a, struct node *b, size_t len, bool tagged, unsigned seed)
{
	uint8_t *s = malloc(len ? len : 1), *r = malloc(len + 1);
	struct fi_cq_tagged_entry e, re;
	int rctx, sctx, sent = 0, got = 0;

	assert_non_null(s);
	assert_non_null(r);
	fill(s, len, seed);
	memset(r, 0, len + 1);
	if (tagged) {
		assert_int_equal(fi_trecv(b->ep, r, len + 1, NULL, FI_ADDR_UNSPEC, seed, 0, &rctx), 0);
		assert_int_equal(fi_tsenddata(a->ep, s, len, NULL, seed * 3, a->peer, seed, &sctx), 0);
	} else {
		assert_int_equal(fi_recv(b->ep, r, len + 1, NULL, FI_ADDR_UNSPEC, &rctx), 0);
		assert_int_equal(fi_senddata(a->ep, s, len, NULL, seed * 3, a->peer, &sctx), 0);
	}
	/* both sides progress (each reads its own CQ), as two processes would */
	for (int64_t end = proc_now_ms() + 60000; (!sent || !got) && proc_now_ms() < end;) {
		if (!sent && fi_cq_read(a->cq, &e, 1) == 1) {
			assert_ptr_equal(e.op_context, &sctx);
			assert_true(e.flags & FI_SEND);
			sent = 1;
		}
		if (!got && fi_cq_read(b->cq, &re, 1) == 1)
			got = 1;
	}
	assert_true(sent && got);
	assert_ptr_equal(re.op_context, &rctx);
	assert_int_equal(re.len, len);
	assert_int_equal(re.data, seed * 3);
	assert_true(re.flags & FI_REMOTE_CQ_DATA);
	if (tagged)
		assert_int_equal(re.tag, seed);
	check(r, len, seed);
	free(s);
	free(r);
}

static void test_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 65536, MIB, 16 * MIB - 1, 16 * MIB,
					16 * MIB + 1, 40 * MIB + 3 };
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED | FI_MSG, .ordered = true }, wb = wa;
	struct node a, b;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		one(&a, &b, sizes[i], true, (unsigned)i + 1);
		one(&b, &a, sizes[i], false, (unsigned)i + 100);
	}
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

static void test_one_gib(void **state)
{
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = true }, wb = wa;
	struct node a, b;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	one(&a, &b, 1024u * MIB, true, 77);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

/* Many messages each way at once: received in send order (FI_ORDER_SAS). */
static void test_order(void **state)
{
	enum { N = 1000 }; /* receives posted at once: within rx_attr->size */
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = true }, wb = wa;
	struct node a, b;
	uint32_t *r = calloc(N, sizeof(*r)), *s = calloc(N, sizeof(*s));
	struct fi_cq_tagged_entry e;
	int sent = 0, done = 0, got = 0, ctx;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	for (int i = 0; i < N; i++) {
		s[i] = (uint32_t)i;
		assert_int_equal(fi_trecv(b.ep, &r[i], sizeof(r[i]), NULL, FI_ADDR_UNSPEC, 5, 0, &ctx),
				 0);
	}
	while (done < N || got < N) {
		ssize_t rc;

		if (sent < N) {
			rc = fi_tsend(a.ep, &s[sent], sizeof(s[sent]), NULL, a.peer, 5, &ctx);
			if (rc == 0)
				sent++;
			else
				assert_int_equal(rc, -FI_EAGAIN);
		}
		if (fi_cq_read(a.cq, &e, 1) == 1)
			done++;
		if (fi_cq_read(b.cq, &e, 1) == 1)
			got++;
	}
	for (int i = 0; i < N; i++)
		if (r[i] != (uint32_t)i)
			fail_msg("receive %d got message %u", i, r[i]);
	free(r);
	free(s);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

static void test_inject_delivery_self(void **state)
{
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED | FI_MSG, .ordered = true }, wb = wa;
	struct node a, b;
	struct fi_cq_tagged_entry e;
	uint8_t buf[64], r[64];
	int ctx, rctx;
	struct iovec iov = { buf, 32 };
	struct fi_msg_tagged msg = { .msg_iov = &iov, .iov_count = 1, .tag = 9, .context = &ctx };

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	/* inject: the buffer is free at return, and no completion comes */
	fill(buf, 32, 1);
	assert_int_equal(fi_tinject(a.ep, buf, 32, a.peer, 4), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fi_trecv(b.ep, r, sizeof(r), NULL, FI_ADDR_UNSPEC, 4, 0, &rctx), 0);
	assert_int_equal(wait_comp(&b, &a, &e, NULL, 5000), 1);
	check(r, 32, 1);
	assert_int_equal(wait_comp(&a, &b, &e, NULL, 200), 0);
	/* delivery complete: nothing until the peer's receive has taken it */
	msg.addr = a.peer;
	fill(buf, 32, 2);
	assert_int_equal(fi_tsendmsg(a.ep, &msg, FI_DELIVERY_COMPLETE | FI_COMPLETION), 0);
	assert_int_equal(wait_comp(&a, &b, &e, NULL, 300), 0);
	assert_int_equal(wait_comp(&b, &a, &e, NULL, 10), 0); /* b takes it in (unexpected) */
	assert_int_equal(wait_comp(&a, &b, &e, NULL, 100), 0);
	assert_int_equal(fi_trecv(b.ep, r, sizeof(r), NULL, FI_ADDR_UNSPEC, 9, 0, &rctx), 0);
	assert_int_equal(wait_comp(&b, &a, &e, NULL, 5000), 1);
	check(r, 32, 2);
	assert_int_equal(wait_comp(&a, &b, &e, NULL, 5000), 1);
	assert_ptr_equal(e.op_context, &ctx);
	/* to itself */
	fill(buf, 48, 3);
	assert_int_equal(fi_trecv(a.ep, r, sizeof(r), NULL, FI_ADDR_UNSPEC, 11, 0, &rctx), 0);
	assert_int_equal(fi_tsend(a.ep, buf, 48, NULL, a.self, 11, &ctx), 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(wait_comp(&a, NULL, &e, NULL, 5000), 1);
	check(r, 48, 3);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

/* The receiver posts nothing for a while: the sender's burst waits (queued, unexpected,
 * copied out of srdd's buffers) and then arrives whole and in order. */
static void test_burst_unexpected(void **state)
{
	enum { N = 3000, SIZE = 8192 };
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = true }, wb = wa;
	struct node a, b;
	struct fi_cq_tagged_entry e;
	uint8_t *s = malloc(SIZE), *r = malloc(SIZE);
	int sent = 0, done = 0, ctx, eagain = 0;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	for (int64_t end = proc_now_ms() + 20000; done < N && proc_now_ms() < end;) {
		ssize_t rc;

		if (sent < N) {
			s[0] = (uint8_t)sent;
			s[1] = (uint8_t)(sent >> 8);
			rc = fi_tsend(a.ep, s, SIZE, NULL, a.peer, 1, &ctx);
			if (rc == 0)
				sent++;
			else if (rc == -FI_EAGAIN)
				eagain++;
			else
				fail_msg("fi_tsend: %s", fi_strerror((int)-rc));
		}
		if (fi_cq_read(a.cq, &e, 1) == 1)
			done++;
		/* b only lets srdd's completions in (fi_cq_read progresses) */
		(void)fi_cq_read(b.cq, &e, 1);
	}
	assert_int_equal(done, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(fi_trecv(b.ep, r, SIZE, NULL, FI_ADDR_UNSPEC, 1, 0, &ctx), 0);
		assert_int_equal(wait_comp(&b, &a, &e, NULL, 5000), 1);
		assert_int_equal(r[0] | r[1] << 8, i & 0xffff);
	}
	print_message("      %d sends, %d -FI_EAGAIN while the endpoint held tx_size\n", N, eagain);
	free(s);
	free(r);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

struct sender {
	struct node *n;
	uint64_t tag;
	int count;
};

static void *send_many(void *arg)
{
	struct sender *t = arg;
	uint64_t v;
	int sent = 0, ctx;

	while (sent < t->count) {
		ssize_t rc;

		v = t->tag << 32 | (uint64_t)sent;
		rc = fi_tsend(t->n->ep, &v, sizeof(v), NULL, t->n->peer, t->tag, &ctx);
		if (rc == 0)
			sent++;
		else if (rc != -FI_EAGAIN)
			return (void *)1;
		else {
			struct fi_cq_tagged_entry e[16];

			(void)fi_cq_read(t->n->cq, e, 16); /* a shared CQ: the other thread's too */
		}
	}
	return NULL;
}

/* FI_THREAD_SAFE: two threads send on one endpoint; every message arrives, each thread's
 * in its order. */
static void test_thread_safe(void **state)
{
	enum { N = 5000 };
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = true,
			   .threading = FI_THREAD_SAFE }, wb = wa;
	struct node a, b;
	struct sender t[2] = { { &a, 1, N }, { &a, 2, N } };
	pthread_t th[2];
	int next[3] = { 0 }, got = 0, ctx;
	uint64_t v;
	struct fi_cq_tagged_entry e;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, send_many, &t[i]), 0);
	while (got < 2 * N) {
		assert_int_equal(fi_trecv(b.ep, &v, sizeof(v), NULL, FI_ADDR_UNSPEC, 0, 3, &ctx), 0);
		assert_int_equal(wait_comp(&b, &a, &e, NULL, 20000), 1);
		assert_true(e.tag == 1 || e.tag == 2);
		assert_int_equal((uint32_t)v, next[e.tag]);
		next[e.tag]++;
		got++;
	}
	for (int i = 0; i < 2; i++) {
		void *rc;

		pthread_join(th[i], &rc);
		assert_null(rc);
	}
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

/* A CQ's wait fd in the application's own epoll wakes when srdd delivers. */
static void test_wait_fd(void **state)
{
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = false }, wb = wa;
	struct node a, b;
	struct epoll_event ev = { .events = EPOLLIN };
	struct fi_cq_tagged_entry e;
	uint64_t v = 7, r = 0;
	int fd, ep, ctx, n = 0;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	wb.wait_obj = FI_WAIT_FD;
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	assert_int_equal(fi_control(&b.cq->fid, FI_GETWAIT, &fd), 0);
	ep = epoll_create1(0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(fi_trecv(b.ep, &r, sizeof(r), NULL, FI_ADDR_UNSPEC, 1, 0, &ctx), 0);
	assert_int_equal(fi_trywait(b.fabric, (struct fid *[]){ &b.cq->fid }, 1), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 50), 0); /* nothing yet: it sleeps */
	assert_int_equal(fi_tsend(a.ep, &v, sizeof(v), NULL, a.peer, 1, &ctx), 0);
	assert_int_equal(wait_comp(&a, &b, &e, NULL, 5000), 1);
	for (int64_t end = proc_now_ms() + 5000; !n && proc_now_ms() < end;)
		n = epoll_wait(ep, &ev, 1, 100);
	assert_int_equal(n, 1);
	assert_int_equal(fi_cq_sread(b.cq, &e, 1, NULL, 1000), 1);
	assert_int_equal(r, 7);
	close(ep);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

static void test_bad_arguments(void **state)
{
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED | FI_MSG, .ordered = false }, wb = wa;
	struct node a, b, c;
	uint8_t name[8], buf[8192];
	size_t len = 4;
	struct iovec iov[8] = { { buf, 1 }, { buf, 1 }, { buf, 1 }, { buf, 1 },
				{ buf, 1 }, { buf, 1 }, { buf, 1 }, { buf, 1 } };
	struct fi_msg_tagged msg = { .msg_iov = iov, .iov_count = 1 };
	fi_addr_t fa;
	int ctx;

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	wb.no_enable = true;
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	/* fi_getname: the length it needs */
	assert_int_equal(fi_getname(&a.ep->fid, name, &len), -FI_ETOOSMALL);
	assert_int_equal(len, 8);
	assert_int_equal(fi_av_insert(a.av, "garbage!", 1, &fa, 0, NULL), 0);
	assert_true(fa == FI_ADDR_NOTAVAIL);
	introduce(&a, &b);
	/* before fi_enable */
	assert_int_equal(fi_tsend(b.ep, buf, 1, NULL, b.peer, 0, &ctx), -FI_EOPBADSTATE);
	assert_int_equal(fi_enable(b.ep), 0);
	/* an fi_addr the AV never gave, an inject too long, too many pieces */
	assert_int_equal(fi_tsend(a.ep, buf, 1, NULL, 12345, 0, &ctx), -FI_EINVAL);
	assert_int_equal(fi_tinject(a.ep, buf, sizeof(buf), a.peer, 0), -FI_EMSGSIZE);
	assert_int_equal(fi_tsendv(a.ep, iov, NULL, 8, a.peer, 0, &ctx), -FI_EINVAL);
	/* FI_CLAIM with no message claimed, FI_MULTI_RECV on a tagged receive */
	msg.context = &ctx;
	assert_int_equal(fi_trecvmsg(a.ep, &msg, FI_CLAIM), -FI_EINVAL);
	assert_int_equal(fi_trecvmsg(a.ep, &msg, FI_MULTI_RECV), -FI_EINVAL);
	/* an option srd does not have; a CQ format that does not exist */
	assert_int_equal(fi_setopt(&a.ep->fid, FI_OPT_ENDPOINT, FI_OPT_CM_DATA_SIZE, &len,
				   sizeof(len)), -FI_ENOPROTOOPT);
	{
		struct fi_cq_attr bad = { .format = 99 };
		struct fid_cq *cq;

		assert_int_equal(fi_cq_open(a.domain, &bad, &cq, NULL), -FI_EINVAL);
	}
	/* RMA is not a capability of srd: the calls say so rather than crash */
	assert_int_equal(fi_read(a.ep, buf, 1, NULL, a.peer, 0, 0, &ctx), -FI_ENOSYS);
	/* an endpoint on an address that is not srdd's */
	memset(&c, 0, sizeof(c));
	c.fi = fi_dupinfo(a.fi);
	free(c.fi->domain_attr->name);
	c.fi->domain_attr->name = strdup("10.9.9.9");
	assert_int_equal(fi_fabric(c.fi->fabric_attr, &c.fabric, NULL), 0);
	assert_int_equal(fi_domain(c.fabric, c.fi, &c.domain, NULL), 0);
	assert_int_equal(fi_endpoint(c.domain, c.fi, &c.ep, NULL), -FI_EADDRNOTAVAIL);
	c.ep = NULL;
	node_close(&c);
	node_close(&a);
	node_close(&b);
	daemon_stop(&D);
}

/* srdd is SIGKILLed under posted operations: each completes with an error entry carrying
 * its context, later calls fail, nothing hangs. */
static void test_daemon_dies(void **state)
{
	struct want wa = { .domain = "10.77.0.1", .caps = FI_TAGGED, .ordered = true }, wb = wa;
	struct node a, b;
	struct fi_context rctx[4], sctx[2];
	struct fi_cq_tagged_entry e;
	struct fi_cq_err_entry err;
	uint8_t buf[4][64], big[4096];
	int seen[4] = { 0 }, rc, n = 0;
	char cmd[256];

	(void)state;
	up();
	wb.domain = "10.77.0.2";
	assert_int_equal(node_open(&a, &wa), 0);
	assert_int_equal(node_open(&b, &wb), 0);
	introduce(&a, &b);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fi_trecv(b.ep, buf[i], sizeof(buf[i]), NULL, FI_ADDR_UNSPEC, 1000, 0,
					  &rctx[i]), 0);
	/* a send waiting for its delivery ack (nobody will match tag 5) */
	{
		struct iovec iov = { big, sizeof(big) };
		struct fi_msg_tagged m = { .msg_iov = &iov, .iov_count = 1, .addr = a.peer,
					   .tag = 5, .context = &sctx[0] };

		assert_int_equal(fi_tsendmsg(a.ep, &m, FI_DELIVERY_COMPLETE | FI_COMPLETION), 0);
	}
	proc_sleep_ms(100);
	kill(D.pid, SIGKILL);
	assert_int_equal(proc_wait(D.pid, 5000), 128 + SIGKILL);
	/* b's four receives come back as errors, with their contexts */
	for (int64_t end = proc_now_ms() + 5000; n < 4 && proc_now_ms() < end;) {
		rc = wait_comp(&b, NULL, &e, &err, 100);
		if (rc == -FI_ENOTCONN) {
			for (int i = 0; i < 4; i++)
				seen[i] += err.op_context == &rctx[i];
			n++;
		}
	}
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(seen[i], 1);
	/* a's send too */
	rc = wait_comp(&a, NULL, &e, &err, 5000);
	assert_int_equal(rc, -FI_ENOTCONN);
	assert_ptr_equal(err.op_context, &sctx[0]);
	/* later calls fail at once, blocking reads do not hang */
	assert_int_equal(fi_tsend(a.ep, big, 8, NULL, a.peer, 1, &sctx[1]), -FI_ENOTCONN);
	assert_int_equal(fi_trecv(b.ep, big, 8, NULL, FI_ADDR_UNSPEC, 1, 0, &rctx[0]),
			 -FI_ENOTCONN);
	assert_true(fi_cq_sread(a.cq, &e, 1, NULL, 100) < 0);
	node_close(&a);
	node_close(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s /var/run/dpdk/%s", D.dir, D.prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", D.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test_teardown(test_sizes, proc_teardown),
		cmocka_unit_test_teardown(test_one_gib, proc_teardown),
		cmocka_unit_test_teardown(test_order, proc_teardown),
		cmocka_unit_test_teardown(test_inject_delivery_self, proc_teardown),
		cmocka_unit_test_teardown(test_burst_unexpected, proc_teardown),
		cmocka_unit_test_teardown(test_thread_safe, proc_teardown),
		cmocka_unit_test_teardown(test_wait_fd, proc_teardown),
		cmocka_unit_test_teardown(test_bad_arguments, proc_teardown),
		cmocka_unit_test_teardown(test_daemon_dies, proc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
