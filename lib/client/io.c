/*
 * io.c — libsrd's data path: sends (zero-copy from the tx area, else through a bounce
 * buffer), completions, the blocking wait, and received buffers.  See srd.h.
 *
 * A send is remembered in a slot whose index (and generation) travel in the SQE's
 * user_data; its completion (SEND, or SQE_ERROR if the daemon refused the descriptor)
 * frees the slot and the bounce buffer.  A message of at most SRD_SQE_INLINE_MAX bytes that
 * would need a copy travels in the SQE itself (no bounce buffer).  srdc_inject() keeps
 * nothing at all: its ctx is the user_data, and only a failure completes.
 *
 * Received buffers are remembered in a bitmap so that srdc_recv_done() returns only what the
 * daemon lent; they go back SRDC_RET_BATCH to a submission, the batch being submitted when
 * full and whenever the app polls or waits.  A small message the daemon delivered inside
 * the completion ring (SRD_CQ_RECV_INLINE) is copied into a slot of libsrd's own
 * (rxpool.c), which srdc_recv_done() takes back without a submission.
 *
 * srdc_fd(): srdc_wait(h, 0) that finds nothing leaves the daemon asked to signal the
 * eventfd (app_waiting stays 1) so that the descriptor becomes readable on the next
 * completion; srdc_poll() withdraws that request as soon as it returns completions.
 *
 * srdc_wait() first spins (spin_wait) while completions are recent, the way srdd's adaptive
 * idle policy does: an app in a conversation takes each completion about a microsecond after
 * it is posted, while one that sleeps on the eventfd pays the kernel's wake-up (about 30 µs
 * on a VM whose vCPU went idle) and makes srdd signal it (a write per completion batch).
 * Only the first wait after a silence sleeps.  Between looks the spin reads the clock (the
 * vDSO's, no system call) and yields.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "client_int.h"

#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define UD_GEN_MASK 0x7fffffffu /* the top bit of user_data marks RX_RETURN */
/* Completion entries srdc_poll() asks the memory for ahead of the one it reads: a burst of
 * them (a packed packet's receives) is written by srdd with streaming stores and so comes
 * from memory, not from srdd's cache; asked for together, their latencies overlap. */
#define SRDC_CQ_PREFETCH 8u

/* ---- tx area ---- */

void *srdc_buf_alloc(struct srdc *h, size_t len)
{
	int64_t off;

	if (!h || len == 0 || len > SRDC_MAX_MSG)
		return NULL;
	off = srd_buddy_get(&h->txa, len, SRDC_TX_USER);
	return off < 0 ? NULL : h->base + h->tx_off + off;
}

void srdc_buf_free(struct srdc *h, void *buf)
{
	uintptr_t p = (uintptr_t)buf, tx = (uintptr_t)(h ? h->base + h->tx_off : 0);

	if (!h || !buf || p < tx || p - tx >= h->tx_size)
		return;
	if (srd_buddy_tag(&h->txa, p - tx) == SRDC_TX_USER)
		srd_buddy_put(&h->txa, p - tx);
}

/* ---- send slots ---- */

static struct srdc_slot *slot_get(struct srdc *h, uint32_t *idx)
{
	if (h->free_slot == UINT32_MAX) {
		uint32_t n = h->nslots * 2;
		struct srdc_slot *s;

		if (n > (1u << 30))
			return NULL;
		s = realloc(h->slots, (size_t)n * sizeof(*s));
		if (!s)
			return NULL;
		memset(s + h->nslots, 0, (size_t)(n - h->nslots) * sizeof(*s));
		for (uint32_t i = h->nslots; i < n; i++)
			s[i].next_free = i + 1 < n ? i + 1 : UINT32_MAX;
		h->free_slot = h->nslots;
		h->slots = s;
		h->nslots = n;
	}
	*idx = h->free_slot;
	h->free_slot = h->slots[*idx].next_free;
	return &h->slots[*idx];
}

/* A slot taken for a send of ep with ctx (bounce: its bounce buffer's offset, or -1). */
static void slot_fill(struct srdc_slot *s, struct srdc_ep *ep, void *ctx, int64_t bounce)
{
	s->used = 1;
	s->cancelled = 0;
	s->ctx = ctx;
	s->ep = ep;
	s->bounce = bounce;
}

static void slot_put(struct srdc *h, uint32_t idx)
{
	struct srdc_slot *s = &h->slots[idx];

	if (s->bounce >= 0)
		srd_buddy_put(&h->txa, (uint64_t)s->bounce);
	s->used = 0;
	s->ctx = NULL;
	s->ep = NULL;
	s->gen = (s->gen + 1) & UD_GEN_MASK;
	s->next_free = h->free_slot;
	h->free_slot = idx;
}

/* Free slots of the submission ring (0: full). */
static uint32_t sq_room(struct srdc *h)
{
	return srd_ring_space_cached(h->sq, h->sq_tail, h->sq_entries, &h->sq_head_seen, 1);
}

int srdc_sq_drain(struct srdc *h, int timeout_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (srd_load_acquire(&h->sq->head) != h->sq_tail) {
		if (srdc_gone(h, 0))
			return -ENOTCONN;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
		    timeout_ms)
			return -ETIMEDOUT;
		sched_yield(); /* the daemon takes submissions every loop (a sleeping one within
				  its idle.max_sleep_us) */
	}
	return 0;
}

/* Publish the entries written up to sq_tail, and ask for the next slot's first line, the
 * one the next submission writes (srd_prefetch_write: the daemon's core read it last). */
static void sq_publish(struct srdc *h)
{
	/* pairs with the daemon's srd_load_acquire(&sq->tail) in srd_ring_ready */
	srd_store_release(&h->sq->tail, h->sq_tail);
	srd_prefetch_write(&h->sqes[h->sq_tail & (h->sq_entries - 1)]);
}

/* Write an inline SEND of iov[0..iovcnt) (at most SRD_SQE_INLINE_MAX bytes in all, checked
 * by the caller; ring space too) straight into the ring slot, and publish it. */
static void sq_push_inline(struct srdc *h, const struct srdc_ep *ep, const struct srdc_addr *dst,
			   const struct srdc_iov *iov, unsigned iovcnt, uint64_t tag,
			   uint64_t imm, uint32_t flags, uint64_t user_data)
{
	struct srd_sqe *e = &h->sqes[h->sq_tail & (h->sq_entries - 1)];
	uint32_t len = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].len)
			memcpy(e->data + len, iov[i].base, iov[i].len);
		len += (uint32_t)iov[i].len;
	}
	e->user_data = user_data;
	e->op = SRD_SQ_SEND;
	e->niov = 0;
	e->ep = ep->id;
	e->flags = SRD_SQE_INLINE | flags;
	e->dst_ip = dst->ipv4;
	e->dst_ep = dst->ep;
	e->inline_len = (uint16_t)len;
	e->tag = tag;
	e->imm = imm;
	h->sq_tail++;
	sq_publish(h);
}

static int ret_flush(struct srdc *h, int wait);

/* ---- send ---- */

enum piece_kind { PIECE_EMPTY, PIECE_ZC, PIECE_COPY };

int srdc_send(struct srdc_ep *ep, const struct srdc_addr *dst, const struct srdc_iov *iov,
	      unsigned iovcnt, uint64_t tag, uint64_t imm, void *ctx)
{
	uint8_t kind[SRD_SHM_MAX_IOV];
	struct srdc_slot *slot;
	struct srd_sqe *e;
	struct srdc *h;
	uintptr_t rb, re, tb, te;
	size_t total = 0, copy = 0, pos = 0;
	uint32_t idx, niov = 0;
	int64_t boff = -1;
	int last_copy = 0;

	if (!ep || !dst || !iov || iovcnt == 0 || iovcnt > SRD_SHM_MAX_IOV)
		return -EINVAL;
	h = ep->h;
	rb = (uintptr_t)h->base;
	re = rb + h->region_size;
	tb = rb + h->tx_off;
	te = tb + h->tx_size;
	for (unsigned i = 0; i < iovcnt; i++) {
		uintptr_t p = (uintptr_t)iov[i].base;
		size_t len = iov[i].len;

		kind[i] = PIECE_EMPTY;
		if (len == 0)
			continue;
		if (!iov[i].base || p + len < p)
			return -EINVAL;
		if (len > SRDC_MAX_MSG || total + len > SRDC_MAX_MSG)
			return -EMSGSIZE;
		total += len;
		if (p < re && p + len > rb && (p < rb || p + len > re))
			return -EINVAL; /* straddles the region's edge */
		if (p >= tb && p + len <= te) {
			kind[i] = PIECE_ZC;
		} else {
			kind[i] = PIECE_COPY; /* elsewhere, or in the region outside the tx area */
			copy += len;
		}
	}
	if (h->dead)
		return -ENOTCONN;
	if (sq_room(h) == 0)
		return srdc_gone(h, 0) ? -ENOTCONN : -EAGAIN;
	if (copy == total && total <= SRD_SQE_INLINE_MAX) {
		/* small and not in the region: into the SQE, no bounce buffer */
		slot = slot_get(h, &idx);
		if (!slot)
			return -ENOMEM;
		slot_fill(slot, ep, ctx, -1);
		sq_push_inline(h, ep, dst, iov, iovcnt, tag, imm, 0,
			       (uint64_t)slot->gen << 32 | idx);
		return 0;
	}
	if (copy) {
		boff = srd_buddy_get(&h->txa, copy, SRDC_TX_BOUNCE);
		if (boff < 0)
			return -EAGAIN; /* no room for the copy until sends complete */
	}
	slot = slot_get(h, &idx);
	if (!slot) {
		if (boff >= 0)
			srd_buddy_put(&h->txa, (uint64_t)boff);
		return -ENOMEM;
	}
	slot_fill(slot, ep, ctx, boff);
	/* straight into the ring slot (past the tail: the daemon sees nothing of it until the
	   tail is published), field by field: only the lines srd_sqe_bytes() says are used */
	e = &h->sqes[h->sq_tail & (h->sq_entries - 1)];
	for (unsigned i = 0; i < iovcnt; i++) {
		if (kind[i] == PIECE_ZC) {
			e->iov[niov].off = (uint32_t)((uintptr_t)iov[i].base - rb);
			e->iov[niov++].len = (uint32_t)iov[i].len;
			last_copy = 0;
		} else if (kind[i] == PIECE_COPY) {
			uint64_t off = h->tx_off + (uint64_t)boff + pos;

			memcpy(h->base + off, iov[i].base, iov[i].len);
			if (last_copy) { /* right after the previous copy: one piece */
				e->iov[niov - 1].len += (uint32_t)iov[i].len;
			} else {
				e->iov[niov].off = (uint32_t)off;
				e->iov[niov++].len = (uint32_t)iov[i].len;
			}
			pos += iov[i].len;
			last_copy = 1;
		}
	}
	if (niov == 0) { /* an empty message: one empty piece at the tx area's start */
		e->iov[0].off = (uint32_t)h->tx_off;
		e->iov[0].len = 0;
		niov = 1;
	}
	e->user_data = (uint64_t)slot->gen << 32 | idx;
	e->op = SRD_SQ_SEND;
	e->niov = (uint8_t)niov;
	e->ep = ep->id;
	e->flags = 0;
	e->dst_ip = dst->ipv4;
	e->dst_ep = dst->ep;
	e->inline_len = 0;
	e->tag = tag;
	e->imm = imm;
	h->sq_tail++;
	sq_publish(h);
	return 0;
}

int srdc_inject(struct srdc_ep *ep, const struct srdc_addr *dst, const void *buf, size_t len,
		uint64_t tag, uint64_t imm, void *ctx)
{
	struct srdc_iov iov = { buf, len };
	struct srdc *h;

	if (!ep || !dst || (!buf && len))
		return -EINVAL;
	if (len > SRDC_INJECT_MAX)
		return -EMSGSIZE;
	h = ep->h;
	if (h->dead)
		return -ENOTCONN;
	if (sq_room(h) == 0)
		return srdc_gone(h, 0) ? -ENOTCONN : -EAGAIN;
	sq_push_inline(h, ep, dst, &iov, 1, tag, imm, SRD_SQE_SILENT, (uint64_t)(uintptr_t)ctx);
	return 0;
}

/* ---- completions ---- */

static int lent_test(const struct srdc *h, uint64_t i)
{
	return (h->lent[i / 64] >> (i % 64)) & 1;
}

/* The completion of the send whose SQE carried user_data into *c (memset by the caller).
 * Returns 1 if it is a send of ours, else 0. */
static int send_done(struct srdc *h, uint64_t user_data, int32_t status,
		     struct srdc_completion *c)
{
	uint32_t idx = (uint32_t)user_data, gen = (uint32_t)(user_data >> 32);
	struct srdc_slot *s;

	if (user_data & SRDC_UD_RXRET)
		return 0; /* a refused buffer return: we had already forgotten it */
	if (idx >= h->nslots || !h->slots[idx].used || h->slots[idx].gen != gen)
		return 0; /* not a send of ours */
	s = &h->slots[idx];
	c->kind = SRDC_SEND;
	c->status = status > 0 ? -EPROTO : status;
	if (s->cancelled && c->status)
		c->status = -ECANCELED;
	c->ctx = s->ctx;
	c->ep = s->ep;
	slot_put(h, idx);
	return 1;
}

/* Translate *q into *c.  Returns 1 if it is a completion for the app, else 0. */
static int translate(struct srdc *h, const struct srd_cqe *q, struct srdc_completion *c)
{
	memset(c, 0, sizeof(*c));
	if ((q->op == SRD_CQ_SEND || q->op == SRD_CQ_SQE_ERROR) && (q->flags & SRD_CQE_SILENT)) {
		/* a failed srdc_inject(): its ctx is all there is */
		c->kind = SRDC_SEND;
		c->status = q->status < 0 ? q->status : -EPROTO;
		c->ctx = (void *)(uintptr_t)q->user_data;
		c->ep = srdc_ep_lookup(h, q->ep);
		return 1;
	}
	if (q->op == SRD_CQ_SEND || q->op == SRD_CQ_SQE_ERROR)
		return send_done(h, q->user_data, q->status, c);
	if (q->op != SRD_CQ_RECV)
		return 0;
	c->kind = SRDC_RECV;
	c->ep = srdc_ep_lookup(h, q->ep);
	c->src.ipv4 = q->src_ip;
	c->src.ep = q->src_ep;
	c->tag = q->tag;
	c->imm = q->imm;
	if (q->buf_off < h->rx_off || q->buf_off % (1u << SRDC_RX_ALIGN_SHIFT) ||
	    (uint64_t)q->buf_off + q->len > h->rx_off + h->rx_size ||
	    lent_test(h, (q->buf_off - h->rx_off) >> SRDC_RX_ALIGN_SHIFT)) {
		c->status = -EPROTO; /* a buffer outside the rx area, or lent twice */
		return 1;
	}
	{
		uint64_t i = (q->buf_off - h->rx_off) >> SRDC_RX_ALIGN_SHIFT;

		h->lent[i / 64] |= 1ull << (i % 64);
	}
	c->buf = h->base + q->buf_off;
	c->len = q->len;
	return 1;
}

/* RECV_INLINE entry *q, at ring index h->cq_head + at of the ready ones, into *c: its
 * message (the entries after it) copied into a slot of h->rxpool.  Returns the entries
 * after the header it used, or -1 to leave the entry in the ring for now (the pool is at
 * its limit: the app holds too many messages). */
static int take_inline(struct srdc *h, const struct srd_cqe *q, uint32_t at, uint32_t ready,
		       struct srdc_completion *c)
{
	uint32_t lines = srd_cqe_inline_entries(q->len), mask = h->cq_entries - 1;
	uint8_t *buf;

	memset(c, 0, sizeof(*c));
	c->kind = SRDC_RECV;
	if (q->len > SRD_CQE_INLINE_MAX || lines >= ready - at) {
		c->status = -EPROTO; /* the daemon published a header without its bytes */
		return 0;
	}
	buf = srdc_rxpool_get(&h->rxpool);
	if (!buf)
		return -1;
	for (uint32_t k = 0; k < lines; k++) {
		uint32_t n = q->len - k * (uint32_t)sizeof(*q);

		memcpy(buf + k * sizeof(*q), &h->cqes[(h->cq_head + at + 1 + k) & mask],
		       n < sizeof(*q) ? n : sizeof(*q));
	}
	c->ep = srdc_ep_lookup(h, q->ep);
	c->src.ipv4 = q->src_ip;
	c->src.ep = q->src_ep;
	c->tag = q->tag;
	c->imm = q->imm;
	c->buf = buf;
	c->len = q->len;
	return (int)lines;
}

/* The sends of SEND_BATCH entry b from h->cq_sub on, into c[*n..max).  Returns 1 if the
 * entry is done with (h->cq_sub back to 0), 0 if c[] filled first (cq_sub says how far). */
static int take_batch(struct srdc *h, const struct srd_cqe_sends *b, struct srdc_completion *c,
		      int max, int *n)
{
	uint32_t count = b->count <= SRD_CQE_SENDS ? b->count : SRD_CQE_SENDS;

	for (; h->cq_sub < count; h->cq_sub++) {
		if (*n == max)
			return 0;
		memset(&c[*n], 0, sizeof(c[*n]));
		*n += send_done(h, srd_cqe_sends_ud(b, h->cq_sub), 0, &c[*n]);
	}
	h->cq_sub = 0;
	return 1;
}

static void disarm(struct srdc *h)
{
	if (h->armed) {
		srd_store_release(&h->hdr->app_waiting, 0);
		h->armed = 0;
	}
}

static uint32_t cq_ready(struct srdc *h, int *corrupt)
{
	return srd_ring_ready(h->cq, h->cq_head, h->cq_entries, corrupt);
}

int srdc_poll(struct srdc *h, struct srdc_completion *c, int max)
{
	int n = 0, corrupt = 0, checked = 0;
	uint32_t ready, used;

	if (!h || !c || max < 0)
		return -EINVAL;
	(void)ret_flush(h, 0); /* buffers given back go now (or at the next poll) */
again:
	ready = cq_ready(h, &corrupt);
	if (corrupt)
		return -EPROTO;
	for (uint32_t i = 0; i < ready && i < SRDC_CQ_PREFETCH; i++)
		__builtin_prefetch(&h->cqes[(h->cq_head + i) & (h->cq_entries - 1)]);
	for (used = 0; used < ready && n < max; used++) {
		struct srd_cqe q;

		if (used + SRDC_CQ_PREFETCH < ready)
			__builtin_prefetch(&h->cqes[(h->cq_head + used + SRDC_CQ_PREFETCH) &
						    (h->cq_entries - 1)]);
		memcpy(&q, &h->cqes[(h->cq_head + used) & (h->cq_entries - 1)], sizeof(q));
		if (q.op == SRD_CQ_SEND_BATCH) {
			struct srd_cqe_sends b;

			/* the same 64 bytes as a batch: copied, not read through a pointer of
			 * another type (strict aliasing) */
			memcpy(&b, &q, sizeof(b));
			if (!take_batch(h, &b, c, max, &n))
				break; /* c[] is full: the rest of this entry at the next call */
			continue;
		}
		if (q.op == SRD_CQ_RECV_INLINE) {
			int more = take_inline(h, &q, used, ready, &c[n]);

			if (more < 0)
				break; /* no slot for it until the app gives messages back */
			used += (uint32_t)more;
			n++;
			continue;
		}
		n += translate(h, &q, &c[n]);
	}
	if (used) {
		h->cq_head += used;
		/* pairs with the daemon's srd_load_acquire(&cq->head) in srd_ring_space_cached */
		srd_store_release(&h->cq->head, h->cq_head);
	}
	if (n) {
		disarm(h);
		return n;
	}
	if (used || max == 0 || checked)
		return 0;
	if (srdc_gone(h, 0)) {
		checked = 1; /* what it posted before it went is still returned */
		if (cq_ready(h, &corrupt))
			goto again;
		return -ENOTCONN;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The spin before srdc_wait() sleeps: look at the completion ring, giving the CPU away
 * between looks, until the window after the last completion closes (or the wait's own
 * deadline, `until`, comes).  Completions taken by srdc_poll() since the previous wait
 * returned count as just now: the window then starts at this call.  Returns 1 if a
 * completion is ready. */
static int spin_wait(struct srdc *h, uint64_t now, uint64_t until)
{
	uint64_t last = h->cq_head != h->wait_head ? now : h->ready_ns;
	uint64_t end = last + h->spin_ns;
	int corrupt = 0;

	if (end > until)
		end = until;
	while (now < end) {
		if (cq_ready(h, &corrupt) || corrupt)
			return 1;
		sched_yield();
		now = mono_ns();
	}
	return 0;
}

/* srdc_wait() returns: remember when and where, for the next one's spin. */
static int wait_done(struct srdc *h, int rc)
{
	if (rc == 0)
		h->ready_ns = mono_ns();
	h->wait_head = h->cq_head;
	return rc;
}

int srdc_wait(struct srdc *h, int timeout_ms)
{
	uint64_t t0, cnt;
	int corrupt = 0;

	if (!h)
		return -EINVAL;
	t0 = mono_ns();
	if (timeout_ms != 0 && h->spin_ns && !h->dead) {
		(void)ret_flush(h, 0); /* the daemon gets its buffers before we spin */
		if (spin_wait(h, t0, timeout_ms < 0 ? UINT64_MAX :
						      t0 + (uint64_t)timeout_ms * 1000000u))
			return wait_done(h, 0);
	}
	for (;;) {
		struct epoll_event ev[2];
		long left = -1;
		int r;

		(void)!read(h->efd, &cnt, sizeof(cnt)); /* reset the eventfd (non-blocking) */
		if (cq_ready(h, &corrupt) || corrupt) {
			disarm(h);
			return wait_done(h, 0);
		}
		if (srdc_gone(h, 1)) {
			disarm(h);
			return wait_done(h, cq_ready(h, &corrupt) ? 0 : -ENOTCONN);
		}
		(void)ret_flush(h, 1); /* about to sleep: the daemon gets its buffers first */
		/* ask for a signal, then look once more (srd_barrier.h, "waiter") */
		srd_store_release(&h->hdr->app_waiting, 1);
		h->armed = 1;
		srd_fence_seq_cst();
		if (cq_ready(h, &corrupt)) {
			disarm(h);
			return wait_done(h, 0);
		}
		if (timeout_ms >= 0) {
			left = timeout_ms - (long)((mono_ns() - t0) / 1000000u);
			if (left <= 0) {
				if (timeout_ms > 0)
					disarm(h); /* timeout 0: stay armed for srdc_fd() */
				return wait_done(h, -ETIMEDOUT);
			}
		}
		r = epoll_wait(h->epfd, ev, 2, (int)left);
		if (r < 0 && errno == EINTR) {
			disarm(h);
			return wait_done(h, -EINTR);
		}
	}
}

int srdc_set_spin(struct srdc *h, unsigned us)
{
	if (!h || us > SRDC_SPIN_MAX_US)
		return -EINVAL;
	h->spin_ns = (uint64_t)us * 1000u;
	return 0;
}

/* Submit the buffers given back so far, if the ring has room (wait: yield for room up to
 * about 10,000 times).  Returns 0, -EAGAIN (no room: they stay in the batch) or -ENOTCONN. */
static int ret_flush(struct srdc *h, int wait)
{
	struct srd_sqe *e;

	if (h->nret == 0)
		return 0;
	for (int tries = 0; sq_room(h) == 0; tries++) {
		/* the daemon takes buffer returns every loop, whatever else waits: room comes
		   soon */
		if (srdc_gone(h, 0))
			return -ENOTCONN;
		if (!wait || tries == 10000)
			return -EAGAIN;
		sched_yield();
	}
	e = &h->sqes[h->sq_tail & (h->sq_entries - 1)];
	memset(e, 0, offsetof(struct srd_sqe, iov));
	e->user_data = SRDC_UD_RXRET | h->ret[0];
	e->op = SRD_SQ_RX_RETURN;
	e->niov = (uint8_t)h->nret;
	for (uint32_t i = 0; i < h->nret; i++)
		e->iov[i] = (struct srd_shm_iov){ .off = h->ret[i], .len = 0 };
	h->nret = 0;
	h->sq_tail++;
	sq_publish(h);
	return 0;
}

int srdc_recv_done(struct srdc *h, void *buf)
{
	uintptr_t p = (uintptr_t)buf, rx;
	uint64_t i;
	int rc;

	if (!h || !buf)
		return -EINVAL;
	rx = (uintptr_t)h->base + h->rx_off;
	if (p < rx || p - rx >= h->rx_size) { /* a small message received inline? */
		rc = srdc_rxpool_put(&h->rxpool, buf);
		return rc ? rc : h->dead ? -ENOTCONN : 0; /* taken back either way */
	}
	if ((p - rx) % (1u << SRDC_RX_ALIGN_SHIFT))
		return -EINVAL;
	i = (p - rx) >> SRDC_RX_ALIGN_SHIFT;
	if (!lent_test(h, i))
		return -EINVAL;
	if (h->dead)
		return -ENOTCONN;
	if (h->nret == SRDC_RET_BATCH) {
		rc = ret_flush(h, 1);
		if (rc)
			return rc;
	}
	h->ret[h->nret++] = (uint32_t)(h->rx_off + (p - rx));
	h->lent[i / 64] &= ~(1ull << (i % 64));
	if (h->nret == SRDC_RET_BATCH)
		(void)ret_flush(h, 0); /* no room now: the next call or poll submits it */
	return 0;
}
