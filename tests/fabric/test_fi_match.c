/*
 * test_fi_match.c — the srd provider's receive side without a daemon: matching of tagged
 * and untagged receives (ignore bits, directed receive, posting and arrival order), the
 * unexpected queue, FI_PEEK / FI_CLAIM / FI_DISCARD and FI_ENOMSG, truncation (FI_ETRUNC
 * with the sender's tag and data), remote CQ data, FI_SOURCE, FI_MULTI_RECV, fi_cancel,
 * segmented messages whose pieces arrive in any order, and unexpected messages copied
 * out of srdd's buffers.
 *
 * Messages are fed to srdfi_rx_arrive() as srdd would hand them over (header, payload);
 * the endpoint is built by hand on a real domain, CQ and AV (no srdd endpoint: the buffers
 * it would give back are this test's own).
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

#include "srdfi.h"

#define IP_A 0x0a4d0001u
#define IP_B 0x0a4d0002u
#define MAXBUF 256

static const struct srdc_info two_addrs = {
	.max_msg = 16u << 20, .naddrs = 2, .addrs = { IP_A, IP_B },
	.tx_area = 32u << 20, .rx_area = 32u << 20,
};

/* An endpoint's receive side on a real domain, CQ and AV. */
struct fx {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_av *av;
	struct srdfi_ep *ep;
	fi_addr_t a, b;             /* the AV's entries for senders A and B */
	void *bufs[MAXBUF];         /* what "srdd" handed over (freed at the end) */
	int nbufs;
};

static const struct srdc_addr SA = { IP_A, 11 }, SB = { IP_B, 22 };

static void fx_open(struct fx *x, uint64_t caps)
{
	struct srdfi_params params = { .segment = 1 << 20 };
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED };
	struct fi_av_attr av_attr = { .type = FI_AV_TABLE };
	uint8_t names[2 * SRDFI_NAME_LEN];
	fi_addr_t fa[2];
	struct srdfi_ep *ep;

	memset(x, 0, sizeof(*x));
	assert_int_equal(srdfi_info_build(FI_VERSION(1, 17), NULL, NULL, 0, NULL, &two_addrs,
					  &params, &x->info), 0);
	assert_int_equal(srdfi_prov.fabric(x->info->fabric_attr, &x->fabric, NULL), 0);
	assert_int_equal(fi_domain(x->fabric, x->info, &x->domain, NULL), 0);
	assert_int_equal(fi_cq_open(x->domain, &cq_attr, &x->cq, NULL), 0);
	assert_int_equal(fi_av_open(x->domain, &av_attr, &x->av, NULL), 0);
	srdfi_name_encode(names, &SA);
	srdfi_name_encode(names + SRDFI_NAME_LEN, &SB);
	assert_int_equal(fi_av_insert(x->av, names, 2, fa, 0, NULL), 2);
	x->a = fa[0];
	x->b = fa[1];
	ep = calloc(1, sizeof(*ep));
	assert_non_null(ep);
	ep->dom = srdfi_container(x->domain, struct srdfi_domain, fid);
	ep->dom->unexp_hold = SIZE_MAX;
	ep->caps = caps;
	ep->enabled = true;
	ep->rx_cq = ep->tx_cq = srdfi_container(x->cq, struct srdfi_cq, fid);
	ep->av = srdfi_container(x->av, struct srdfi_av, fid);
	ep->min_multi_recv = SRDFI_MIN_MULTI_RECV;
	ep->rx_size = ep->tx_size = 64;
	assert_int_equal(srdfi_rx_init(ep), 0);
	assert_int_equal(srdfi_tx_init(ep), 0);
	x->ep = ep;
}

static void fx_close(struct fx *x)
{
	srdfi_rx_fini(x->ep);
	srdfi_tx_fini(x->ep);
	free(x->ep);
	for (int i = 0; i < x->nbufs; i++)
		free(x->bufs[i]);
	assert_int_equal(fi_close(&x->av->fid), 0);
	assert_int_equal(fi_close(&x->cq->fid), 0);
	assert_int_equal(fi_close(&x->domain->fid), 0);
	assert_int_equal(fi_close(&x->fabric->fid), 0);
	fi_freeinfo(x->info);
}

/* Byte i of a message with seed s. */
static uint8_t pat(unsigned s, size_t i)
{
	return (uint8_t)(s * 31 + i * 7 + (i >> 8));
}

/* Hand over one piece of a message from src (seg: offset and total; else whole). */
static void arrive_piece(struct fx *x, const struct srdc_addr *src, uint8_t op, uint16_t hflags,
			 uint32_t msg_id, uint64_t tag, uint64_t data, unsigned seed,
			 uint64_t total, uint64_t offset, size_t plen)
{
	struct srdfi_hdr h = { SRDFI_WIRE_VERSION, op, hflags, msg_id };
	struct srdfi_seg s = { total, offset };
	uint8_t *buf = malloc(SRDFI_HDR_LEN + SRDFI_SEG_LEN + plen + 1);
	size_t hl;

	assert_non_null(buf);
	assert_true(x->nbufs < MAXBUF);
	x->bufs[x->nbufs++] = buf;
	hl = srdfi_hdr_encode(buf, &h, &s);
	for (size_t i = 0; i < plen; i++)
		buf[hl + i] = pat(seed, offset + i);
	srdfi_rx_arrive(x->ep, src, tag, data, buf, hl + plen);
}

static void arrive(struct fx *x, const struct srdc_addr *src, uint8_t op, uint64_t tag,
		   unsigned seed, size_t len)
{
	arrive_piece(x, src, op, 0, seed, tag, 0, seed, len, 0, len);
}

static ssize_t trecv(struct fx *x, void *buf, size_t len, fi_addr_t src, uint64_t tag,
		     uint64_t ignore, void *ctx, uint64_t flags)
{
	struct iovec iov = { buf, len };

	return srdfi_rx_post(x->ep, &iov, buf ? 1 : 0, src, tag, ignore, ctx,
			     flags | FI_TAGGED | FI_COMPLETION);
}

static ssize_t mrecv(struct fx *x, void *buf, size_t len, void *ctx, uint64_t flags)
{
	struct iovec iov = { buf, len };

	return srdfi_rx_post(x->ep, &iov, 1, FI_ADDR_UNSPEC, 0, 0, ctx,
			     flags | FI_MSG | FI_COMPLETION);
}

/* The next completion (which must be there), or -err for an error entry (filled in). */
static int next(struct fx *x, struct fi_cq_tagged_entry *e, fi_addr_t *src,
		struct fi_cq_err_entry *err)
{
	ssize_t n = fi_cq_readfrom(x->cq, e, 1, src);

	if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry tmp;

		if (!err)
			err = &tmp;
		memset(err, 0, sizeof(*err));
		assert_int_equal(fi_cq_readerr(x->cq, err, 0), 1);
		return -err->err;
	}
	assert_int_equal(n, 1);
	return 0;
}

static void no_completion(struct fx *x)
{
	struct fi_cq_tagged_entry e;

	assert_int_equal(fi_cq_read(x->cq, &e, 1), -FI_EAGAIN);
}

static void check_bytes(const uint8_t *p, unsigned seed, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(seed, off + i))
			fail_msg("byte %zu is %u, want %u", off + i, p[i], pat(seed, off + i));
}

/* ---- tests ---- */

static void test_tag_ignore(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t buf[64];
	int ctx;

	(void)state;
	fx_open(&x, FI_TAGGED | FI_MSG);
	assert_int_equal(trecv(&x, buf, sizeof(buf), FI_ADDR_UNSPEC, 0x10, 0x0f, &ctx, 0), 0);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 0x21, 1, 10); /* outside the ignore bits: kept */
	no_completion(&x);
	arrive(&x, &SA, SRDFI_OP_MSG, 0x1f, 2, 10);    /* untagged: not for a tagged receive */
	no_completion(&x);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 0x1f, 3, 10);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.op_context, &ctx);
	assert_int_equal(e.tag, 0x1f); /* the sender's tag */
	assert_int_equal(e.len, 10);
	assert_int_equal(e.flags, FI_RECV | FI_TAGGED);
	check_bytes(buf, 3, 0, 10);
	/* the waiting ones: the first in arrival order for a receive that takes any */
	assert_int_equal(trecv(&x, buf, sizeof(buf), FI_ADDR_UNSPEC, 0, ~0ull, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.tag, 0x21);
	check_bytes(buf, 1, 0, 10);
	assert_int_equal(mrecv(&x, buf, sizeof(buf), &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.flags, FI_RECV | FI_MSG);
	check_bytes(buf, 2, 0, 10);
	fx_close(&x);
}

static void test_order(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t b[4][16];
	int ctx[4];

	(void)state;
	fx_open(&x, FI_TAGGED);
	/* posted order: the first of two that match takes the message */
	assert_int_equal(trecv(&x, b[0], 16, FI_ADDR_UNSPEC, 5, 0, &ctx[0], 0), 0);
	assert_int_equal(trecv(&x, b[1], 16, FI_ADDR_UNSPEC, 5, 0, &ctx[1], 0), 0);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 5, 1, 8);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 5, 2, 8);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.op_context, &ctx[0]);
	check_bytes(b[0], 1, 0, 8);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.op_context, &ctx[1]);
	check_bytes(b[1], 2, 0, 8);
	/* arrival order of unexpected messages */
	arrive(&x, &SB, SRDFI_OP_TAGGED, 6, 3, 8);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 6, 4, 8);
	assert_int_equal(trecv(&x, b[2], 16, FI_ADDR_UNSPEC, 6, 0, &ctx[2], 0), 0);
	assert_int_equal(trecv(&x, b[3], 16, FI_ADDR_UNSPEC, 6, 0, &ctx[3], 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	check_bytes(b[2], 3, 0, 8);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	check_bytes(b[3], 4, 0, 8);
	fx_close(&x);
}

static void test_directed(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	fi_addr_t src;
	uint8_t b[16];
	int ctx;

	(void)state;
	fx_open(&x, FI_TAGGED | FI_DIRECTED_RECV | FI_SOURCE);
	assert_int_equal(trecv(&x, b, 16, x.a, 9, 0, &ctx, 0), 0);
	arrive(&x, &SB, SRDFI_OP_TAGGED, 9, 1, 4); /* from B: not for a receive from A */
	no_completion(&x);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 9, 2, 4);
	assert_int_equal(next(&x, &e, &src, NULL), 0);
	assert_int_equal(src, x.a); /* FI_SOURCE */
	check_bytes(b, 2, 0, 4);
	assert_int_equal(trecv(&x, b, 16, FI_ADDR_UNSPEC, 9, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, &src, NULL), 0);
	assert_int_equal(src, x.b);
	/* a sender not in the AV: FI_ADDR_NOTAVAIL, taken only by receives from anyone */
	arrive(&x, &(struct srdc_addr){ IP_A, 99 }, SRDFI_OP_TAGGED, 9, 3, 4);
	assert_int_equal(trecv(&x, b, 16, x.a, 9, 0, &ctx, 0), 0);
	no_completion(&x);
	assert_int_equal(srdfi_rx_cancel(x.ep, &ctx), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), -FI_ECANCELED);
	assert_int_equal(trecv(&x, b, 16, FI_ADDR_UNSPEC, 9, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, &src, NULL), 0);
	assert_true(src == FI_ADDR_NOTAVAIL);
	fx_close(&x);

	/* without FI_DIRECTED_RECV the source of a receive is ignored */
	fx_open(&x, FI_TAGGED);
	assert_int_equal(trecv(&x, b, 16, x.a, 9, 0, &ctx, 0), 0);
	arrive(&x, &SB, SRDFI_OP_TAGGED, 9, 1, 4);
	assert_int_equal(next(&x, &e, &src, NULL), 0);
	assert_true(src == FI_ADDR_NOTAVAIL); /* and no FI_SOURCE */
	fx_close(&x);
}

static void test_truncate_and_data(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	struct fi_cq_err_entry err;
	uint8_t b[64];
	int ctx;

	(void)state;
	fx_open(&x, FI_TAGGED);
	arrive_piece(&x, &SA, SRDFI_OP_TAGGED, SRDFI_H_DATA, 1, 0x55, 0xdada, 7, 40, 0, 40);
	assert_int_equal(trecv(&x, b, 10, FI_ADDR_UNSPEC, 0x55, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, &err), -FI_ETRUNC);
	assert_ptr_equal(err.op_context, &ctx);
	assert_int_equal(err.len, 10);
	assert_int_equal(err.olen, 30);
	assert_int_equal(err.tag, 0x55);
	assert_int_equal(err.data, 0xdada);
	assert_true(err.flags & FI_REMOTE_CQ_DATA);
	check_bytes(b, 7, 0, 10);
	/* the next message is received whole */
	arrive_piece(&x, &SA, SRDFI_OP_TAGGED, SRDFI_H_DATA, 2, 0x55, 0xbeef, 8, 20, 0, 20);
	assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, 0x55, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.data, 0xbeef);
	assert_int_equal(e.flags, FI_RECV | FI_TAGGED | FI_REMOTE_CQ_DATA);
	check_bytes(b, 8, 0, 20);
	fx_close(&x);
}

static void test_peek_claim_discard(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	struct fi_cq_err_entry err;
	struct fi_context peek_ctx, other;
	uint8_t b[32];

	(void)state;
	fx_open(&x, FI_TAGGED);
	/* nothing there: FI_ENOMSG, with the context */
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 1, 0, &peek_ctx, FI_PEEK), 0);
	assert_int_equal(next(&x, &e, NULL, &err), -FI_ENOMSG);
	assert_ptr_equal(err.op_context, &peek_ctx);
	/* a peek describes without taking */
	arrive_piece(&x, &SA, SRDFI_OP_TAGGED, SRDFI_H_DATA, 1, 1, 77, 1, 12, 0, 12);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 1, 0, &peek_ctx, FI_PEEK), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.len, 12);
	assert_int_equal(e.tag, 1);
	assert_int_equal(e.data, 77);
	/* peek and claim: an ordinary receive can no longer take it, the claim can */
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 1, 0, &peek_ctx, FI_PEEK | FI_CLAIM), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, 1, 0, &other, 0), 0);
	no_completion(&x);
	assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, 1, 0, &other, FI_CLAIM),
			 -FI_EINVAL); /* not the claiming context */
	assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, 0, 0, &peek_ctx, FI_CLAIM), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.op_context, &peek_ctx);
	assert_int_equal(e.len, 12);
	check_bytes(b, 1, 0, 12);
	/* discard: by peek, and by claim */
	arrive(&x, &SA, SRDFI_OP_TAGGED, 1, 2, 5);
	assert_int_equal(next(&x, &e, NULL, NULL), 0); /* the earlier posted receive took it */
	assert_ptr_equal(e.op_context, &other);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 3, 3, 5);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 3, 0, &peek_ctx, FI_PEEK | FI_DISCARD), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 3, 0, &peek_ctx, FI_PEEK), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), -FI_ENOMSG);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 4, 4, 5);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 4, 0, &peek_ctx, FI_PEEK | FI_CLAIM), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 4, 0, &peek_ctx, FI_CLAIM | FI_DISCARD), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(trecv(&x, NULL, 0, FI_ADDR_UNSPEC, 4, 0, &peek_ctx, FI_PEEK), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), -FI_ENOMSG);
	fx_close(&x);
}

static void test_multi_recv(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t *b = malloc(1000);
	int ctx;
	size_t min = 200;

	(void)state;
	fx_open(&x, FI_MSG | FI_MULTI_RECV);
	x.ep->min_multi_recv = min;
	arrive(&x, &SA, SRDFI_OP_MSG, 0, 1, 300); /* waiting before the buffer is posted */
	assert_int_equal(mrecv(&x, b, 1000, &ctx, FI_MULTI_RECV), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.buf, b);
	assert_int_equal(e.len, 300);
	assert_false(e.flags & FI_MULTI_RECV);
	arrive(&x, &SB, SRDFI_OP_MSG, 0, 2, 300);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.buf, b + 304); /* 8-byte aligned */
	assert_false(e.flags & FI_MULTI_RECV);
	arrive(&x, &SA, SRDFI_OP_MSG, 0, 3, 300);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_ptr_equal(e.buf, b + 608);
	assert_true(e.flags & FI_MULTI_RECV); /* 88 bytes left, below the minimum: released */
	check_bytes(b, 1, 0, 300);
	check_bytes(b + 304, 2, 0, 300);
	check_bytes(b + 608, 3, 0, 300);
	arrive(&x, &SA, SRDFI_OP_MSG, 0, 4, 10);
	no_completion(&x); /* no buffer left posted */
	assert_int_equal(trecv(&x, b, 10, FI_ADDR_UNSPEC, 0, 0, &ctx, FI_MULTI_RECV), -FI_EINVAL);
	fx_close(&x);
	free(b);
}

static void test_cancel(void **state)
{
	struct fx x;
	struct fi_cq_tagged_entry e;
	struct fi_cq_err_entry err;
	uint8_t b[8];
	int ctx, other;

	(void)state;
	fx_open(&x, FI_TAGGED);
	assert_int_equal(trecv(&x, b, 8, FI_ADDR_UNSPEC, 1, 0, &ctx, 0), 0);
	assert_int_equal(srdfi_rx_cancel(x.ep, &other), -FI_ENOENT);
	assert_int_equal(srdfi_rx_cancel(x.ep, &ctx), 0);
	assert_int_equal(next(&x, &e, NULL, &err), -FI_ECANCELED);
	assert_ptr_equal(err.op_context, &ctx);
	assert_int_equal(srdfi_rx_cancel(x.ep, &ctx), -FI_ENOENT);
	arrive(&x, &SA, SRDFI_OP_TAGGED, 1, 1, 4);
	no_completion(&x); /* the cancelled receive did not take it */
	fx_close(&x);
}

/* A segmented message whose pieces arrive out of order, posted or not. */
static void segmented(bool posted_first)
{
	enum { TOTAL = 10000, PIECE = 3000 };
	static const uint64_t order[] = { 6000, 0, 9000, 3000 };
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t *b = calloc(1, TOTAL);
	int ctx;

	fx_open(&x, FI_TAGGED);
	if (posted_first)
		assert_int_equal(trecv(&x, b, TOTAL, FI_ADDR_UNSPEC, 8, 0, &ctx, 0), 0);
	for (int i = 0; i < 4; i++) {
		uint64_t off = order[i];
		size_t len = off + PIECE > TOTAL ? TOTAL - off : PIECE;

		if (!posted_first && i == 2) { /* half of it here: the receive comes now */
			/* until then its pieces wait in srdd's buffers */
			assert_int_equal(x.ep->unexp_held,
					 2 * (PIECE + SRDFI_HDR_LEN + SRDFI_SEG_LEN));
			assert_int_equal(trecv(&x, b, TOTAL, FI_ADDR_UNSPEC, 8, 0, &ctx, 0), 0);
			assert_int_equal(x.ep->unexp_held, 0);
		}
		no_completion(&x);
		arrive_piece(&x, &SA, SRDFI_OP_TAGGED, SRDFI_H_SEG, 42, 8, 0, 9, TOTAL, off, len);
	}
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.len, TOTAL);
	check_bytes(b, 9, 0, TOTAL);
	no_completion(&x);
	fx_close(&x);
	free(b);
}

static void test_segmented_posted(void **state)
{
	(void)state;
	segmented(true);
}

static void test_segmented_unexpected(void **state)
{
	(void)state;
	segmented(false);
}

/* A segmented unexpected message copied out of srdd's buffers half way: the pieces here go
 * to our copy, as do those still to come; srdd gets every buffer back at once. */
static void test_segmented_copied_out(void **state)
{
	enum { TOTAL = 10000, PIECE = 3000 };
	static const uint64_t order[] = { 3000, 9000, 0, 6000 };
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t *b = calloc(1, TOTAL);
	int ctx;

	(void)state;
	fx_open(&x, FI_TAGGED);
	x.ep->dom->unexp_hold = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t off = order[i];
		size_t len = off + PIECE > TOTAL ? TOTAL - off : PIECE;

		arrive_piece(&x, &SA, SRDFI_OP_TAGGED, SRDFI_H_SEG, 42, 8, 0, 9, TOTAL, off, len);
		if (i == 1) {
			srdfi_rx_trim(x.ep);
			assert_int_not_equal(x.ep->unexp_held, 0); /* not stalled yet */
			x.ep->trim_since_ns -= 2 * SRDFI_UNEXP_STALL_NS;
			srdfi_rx_trim(x.ep);
			assert_int_equal(x.ep->unexp_held, 0);
		}
		if (i >= 1) /* given back: srdd may reuse it */
			memset(x.bufs[i], 0, SRDFI_HDR_LEN + SRDFI_SEG_LEN + len);
		if (i == 1)
			memset(x.bufs[0], 0, SRDFI_HDR_LEN + SRDFI_SEG_LEN + PIECE);
	}
	no_completion(&x);
	assert_int_equal(trecv(&x, b, TOTAL, FI_ADDR_UNSPEC, 8, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	assert_int_equal(e.len, TOTAL);
	check_bytes(b, 9, 0, TOTAL);
	no_completion(&x);
	fx_close(&x);
	free(b);
}

/* Unexpected messages above unexp_hold stay in srdd's buffers while the application takes
 * them (srdd's flow control paces their senders); once it has taken none for
 * SRDFI_UNEXP_STALL_NS, the oldest are copied out, so that what it waits for finds room. */
static void test_unexpected_copied_out(void **state)
{
	const size_t one = 100 + SRDFI_HDR_LEN;
	struct fx x;
	struct fi_cq_tagged_entry e;
	uint8_t b[100];
	int ctx;

	(void)state;
	fx_open(&x, FI_TAGGED);
	x.ep->dom->unexp_hold = 150;
	for (unsigned i = 0; i < 4; i++)
		arrive(&x, &SA, SRDFI_OP_TAGGED, i, i, 100);
	assert_int_equal(x.ep->unexp_held, 4 * one);
	srdfi_rx_trim(x.ep); /* over the hold from now on */
	assert_int_equal(x.ep->unexp_held, 4 * one);
	/* the application takes one: the stall clock starts again */
	assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, 0, 0, &ctx, 0), 0);
	assert_int_equal(next(&x, &e, NULL, NULL), 0);
	check_bytes(b, 0, 0, 100);
	x.ep->trim_since_ns -= 2 * SRDFI_UNEXP_STALL_NS;
	srdfi_rx_trim(x.ep);
	assert_int_equal(x.ep->unexp_held, 3 * one);
	srdfi_rx_trim(x.ep); /* within the stall time */
	assert_int_equal(x.ep->unexp_held, 3 * one);
	/* then none for longer than the stall time */
	x.ep->trim_since_ns -= 2 * SRDFI_UNEXP_STALL_NS;
	srdfi_rx_trim(x.ep);
	assert_int_equal(x.ep->unexp_held, one);
	/* the two oldest were copied out: srdd may reuse their buffers (scribbled on here) */
	memset(x.bufs[1], 0, one);
	memset(x.bufs[2], 0, one);
	for (unsigned i = 1; i < 4; i++) {
		assert_int_equal(trecv(&x, b, sizeof(b), FI_ADDR_UNSPEC, i, 0, &ctx, 0), 0);
		assert_int_equal(next(&x, &e, NULL, NULL), 0);
		check_bytes(b, i, 0, 100);
	}
	assert_int_equal(x.ep->unexp_held, 0);
	fx_close(&x);
}

static void test_malformed_dropped(void **state)
{
	struct fx x;
	uint8_t *junk = malloc(16);

	(void)state;
	fx_open(&x, FI_TAGGED);
	memset(junk, 0xff, 16);
	x.bufs[x.nbufs++] = junk;
	srdfi_rx_arrive(x.ep, &SA, 0, 0, junk, 16);
	assert_int_equal(x.ep->dom->bad_msgs, 1);
	no_completion(&x);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_ignore),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_directed),
		cmocka_unit_test(test_truncate_and_data),
		cmocka_unit_test(test_peek_claim_discard),
		cmocka_unit_test(test_multi_recv),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_segmented_posted),
		cmocka_unit_test(test_segmented_unexpected),
		cmocka_unit_test(test_segmented_copied_out),
		cmocka_unit_test(test_unexpected_copied_out),
		cmocka_unit_test(test_malformed_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
