/*
 * dp_shm_data.c — the daemon's data path over the shared-memory channels (see dp_shm.h):
 * taking and checking submissions, posting completions (with an overflow queue in daemon
 * memory), and lending receive buffers.
 *
 * Descriptor checks (each failure completes the submission with SRD_CQ_SQE_ERROR and its
 * user_data; the next submission is processed as usual):
 *   -EINVAL    unknown op; unknown flags; SEND with niov 0 or above SRD_SHM_MAX_IOV (an
 *              inline SEND: niov not 0 or inline_len above SRD_SQE_INLINE_MAX), an
 *              endpoint that is not open or not this app's, destination ip or ep 0;
 *              RX_RETURN with niov 0 or above SRD_SHM_MAX_IOV, or of an offset that is
 *              not the start of a buffer lent to this app, or of one buffer twice (the
 *              whole return is refused: none of its buffers comes back)
 *   -EFAULT    a SEND piece that is not entirely inside the app's tx area: in the header,
 *              the rings or the rx area (a "foreign buffer"), past the end of the region,
 *              or wrapping around (all offsets are checked in 64-bit arithmetic)
 *   -EMSGSIZE  a SEND of more than 16 MiB in total
 * An SQ tail more than sq_entries ahead of our head detaches the app (ring_corrupt).
 *
 * A send that succeeds completes gathered with others, SRD_CQE_SENDS to a ring entry
 * (SRD_CQ_SEND_BATCH): the batch waits in the app's record and is posted when full and at
 * every dp_shm_flush(), before the tail is published.  Only the first cache line of an SQE
 * is read unless it says the second is used (srd_sqe_bytes()).
 *
 * A message of at most SRD_CQE_INLINE_MAX bytes arrives into a staging slot in daemon
 * memory and is delivered in the completion ring itself (SRD_CQ_RECV_INLINE: a header
 * entry and the message's bytes in the entries after it), so no buffer is lent and none
 * comes back: the buddy allocator, the lent-buffer checks and the app's RX_RETURN are
 * skipped.  When the staging slots are all in use a small message takes a buffer as any.
 *
 * Completions never get lost.  A received message's completion goes into the app's ring,
 * in the shared region, never into daemon memory: a slot of the ring is reserved when its
 * buffer is lent (the message is refused, RNR, while the ring has no free slot), because
 * the peer is told the message arrived and a daemon that died with the completion in its
 * own memory would lose it.  A send's completion may wait in the overflow queue (room for
 * it is reserved when the send is taken, so posting never allocates): if the daemon dies
 * the app learns so, and the send's outcome is unknown, as any send's then.  An app that
 * lets a full CQ's worth of completions pile up is not served new sends (its buffer
 * returns still are) until it reaps them.
 */
#include "dp_shm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Write completion *src into ring slot dst of app a.  The slot's cache line was last read
 * by the app's core: an ordinary store must first take the line back from it (a read for
 * ownership).  A few such stores sit in the store buffer while the worker goes on, but a
 * burst of them (a packed packet delivers up to pack_msgs completions at once) fills it,
 * and the worker stalls on those reads: about 45 ns per received message on the bench's
 * two CPUs, the largest single cost of srdd's per-message work.  A whole-line
 * non-temporal store needs no read: it replaces the line wherever it is, but leaves it in
 * no cache, so the app's read of it comes from memory (about 0.1 us later than from the
 * worker's cache: on a ping-pong's critical path).  So the first DP_SHM_CQE_PLAIN entries
 * after each publish of the tail are stored as usual (what a conversation posts), the rest
 * streamed (a burst).  Streaming stores are weakly ordered: dp_shm_flush fences them
 * (srd_fence_stream) before it publishes the tail.  Slots are 64-byte aligned (the ring's
 * entries start after its two-line index header, at a page-aligned offset). */
static inline void cqe_store(struct dp_shm_app *a, struct srd_cqe *dst, const void *src)
{
#if defined(__SSE2__)
	const __m128i *from = (const __m128i *)(const void *)src;
	__m128i *to = (__m128i *)(void *)dst;

	if (a->cq_tail - a->cq_tail_pub >= DP_SHM_CQE_PLAIN) {
		_mm_stream_si128(to, _mm_loadu_si128(from));
		_mm_stream_si128(to + 1, _mm_loadu_si128(from + 1));
		_mm_stream_si128(to + 2, _mm_loadu_si128(from + 2));
		_mm_stream_si128(to + 3, _mm_loadu_si128(from + 3));
		a->cq_streamed = 1;
		return;
	}
#endif
	memcpy(dst, src, sizeof(*dst));
}

int dp_shm_app_reserve(struct dp_shm_app *a, uint32_t more)
{
	uint64_t need = (uint64_t)a->ovf_count + a->sends_inflight + (a->sends_done.count != 0) +
			more;
	uint32_t cap = a->ovf_cap ? a->ovf_cap : 16;
	struct srd_cqe *q;

	if (need <= a->ovf_cap)
		return 0;
	if (need > (1u << 28))
		return -ENOMEM;
	while (cap < need)
		cap <<= 1;
	q = malloc((size_t)cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->ovf_count; i++)
		q[i] = a->ovf[(a->ovf_head + i) & (a->ovf_cap - 1)];
	free(a->ovf);
	a->ovf = q;
	a->ovf_cap = cap;
	a->ovf_head = 0;
	return 0;
}

/* Put c in the ring (room checked by the caller) with cqe_store; dp_shm_flush publishes it, with the rest
 * of the loop's completions: the app polls the tail's cache line, which each store would
 * take away from it. */
static void ring_post(struct dp_shm_app *a, const void *c)
{
	cqe_store(a, &a->cqes[a->cq_tail & (a->cq_entries - 1)], c);
	a->cq_tail++;
	a->need_signal = 1;
}

/* Ring slots free beyond those reserved for messages being received (the app's head is
 * read again if fewer than want seem free). */
static uint32_t ring_free(struct dp_shm_app *a, uint32_t want)
{
	uint32_t space = srd_ring_space_cached(a->cq, a->cq_tail, a->cq_entries,
					       &a->cq_head_seen, a->cq_reserved + want);

	return space > a->cq_reserved ? space - a->cq_reserved : 0;
}

void dp_shm_app_post(struct dp_shm *s, struct dp_shm_app *a, const struct srd_cqe *c)
{
	if (a->ovf_count == 0 && ring_free(a, 1)) {
		ring_post(a, c);
		return;
	}
	/* room reserved ahead (dp_shm_app_reserve) */
	a->ovf[(a->ovf_head + a->ovf_count) & (a->ovf_cap - 1)] = *c;
	a->ovf_count++;
	s->st.cq_overflow++;
}

/* Post the gathered send completions of a (at least one) as one SRD_CQ_SEND_BATCH. */
static void sends_done_post(struct dp_shm *s, struct dp_shm_app *a)
{
	struct srd_cqe c;

	a->sends_done.op = SRD_CQ_SEND_BATCH;
	memcpy(&c, &a->sends_done, sizeof(c));
	a->sends_done.count = 0; /* before posting: the reservation it held passes to c */
	dp_shm_app_post(s, a, &c);
}

void dp_shm_rx_free(struct dp_shm *s, struct dp_shm_app *a, uint64_t area_off)
{
	uint64_t size = srd_buddy_block_size(&a->rxa, area_off);

	if (srd_buddy_tag(&a->rxa, area_off) == DP_SHM_RX_FILLING) {
		a->rx_filling--;
		a->cq_reserved--;
	} else
		a->rx_lent--;
	a->rx_bytes -= size;
	s->st.rx_bufs_lent--;
	s->st.rx_bytes_lent -= size;
	srd_buddy_put(&a->rxa, area_off);
}

/* Check SEND e of app a into *o.  Returns 0 or the negative errno of its SQE_ERROR. */
static int check_send(struct dp_shm *s, struct dp_shm_app *a, const struct srd_sqe *e,
		      struct dp_shm_send *o)
{
	const struct dp_shm_ep *ep = dp_shm_ep_by_id(s, e->ep);
	uint64_t tx_end = a->tx_off + a->tx_size, total = 0;

	if (e->flags & ~(SRD_SQE_INLINE | SRD_SQE_SILENT))
		return -EINVAL;
	if (e->flags & SRD_SQE_INLINE) {
		if (e->niov != 0 || e->inline_len > SRD_SQE_INLINE_MAX)
			return -EINVAL;
	} else if (e->niov == 0 || e->niov > SRD_SHM_MAX_IOV) {
		return -EINVAL;
	}
	if (!ep || ep->app != a || e->dst_ep == 0 || e->dst_ip == 0)
		return -EINVAL;
	if (e->flags & SRD_SQE_INLINE) {
		memcpy(o->inline_data, e->data, e->inline_len);
		total = e->inline_len;
	}
	for (uint32_t i = 0; i < e->niov; i++) {
		uint64_t off = e->iov[i].off, len = e->iov[i].len;

		if (off < a->tx_off || off + len > tx_end)
			return -EFAULT;
		o->iov[i].base = a->base + off;
		o->iov[i].len = (uint32_t)len;
		total += len;
	}
	if (total > DP_SHM_MAX_MSG)
		return -EMSGSIZE;
	o->app = a;
	o->user_data = e->user_data;
	o->ep = e->ep;
	o->src_ip = ep->ipv4;
	o->dst_ip = e->dst_ip;
	o->dst_ep = e->dst_ep;
	o->ordered = ep->ordered;
	o->tag = e->tag;
	o->imm = e->imm;
	o->silent = (e->flags & SRD_SQE_SILENT) != 0;
	o->niov = e->niov;
	o->len = (uint32_t)total;
	return 0;
}

/* Whether RX_RETURN e of app a is good: 1..SRD_SHM_MAX_IOV offsets, each the start of a
 * buffer lent to a, none twice. */
static int rx_return_ok(const struct dp_shm_app *a, const struct srd_sqe *e)
{
	if (e->flags || e->niov == 0 || e->niov > SRD_SHM_MAX_IOV)
		return 0;
	for (uint32_t i = 0; i < e->niov; i++) {
		uint64_t off = e->iov[i].off;

		if (off < a->rx_off || off >= a->rx_off + a->rx_size ||
		    srd_buddy_tag(&a->rxa, off - a->rx_off) != DP_SHM_RX_LENT)
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (e->iov[j].off == e->iov[i].off)
				return 0;
	}
	return 1;
}

/* RX_RETURN e of app a: every buffer comes back, or (a bad return) none. */
static int rx_return(struct dp_shm *s, struct dp_shm_app *a, const struct srd_sqe *e)
{
	if (!rx_return_ok(a, e))
		return -EINVAL;
	for (uint32_t i = 0; i < e->niov; i++)
		dp_shm_rx_free(s, a, e->iov[i].off - a->rx_off);
	return 0;
}

static void post_sqe_error(struct dp_shm *s, struct dp_shm_app *a, const struct srd_sqe *e,
			   int status)
{
	struct srd_cqe c;

	memset(&c, 0, sizeof(c));
	c.user_data = e->user_data;
	c.status = status;
	c.op = SRD_CQ_SQE_ERROR;
	c.flags = e->op == SRD_SQ_SEND && (e->flags & SRD_SQE_SILENT) ? SRD_CQE_SILENT : 0;
	c.ep = e->ep;
	s->st.bad_sqe++;
	dp_shm_app_post(s, a, &c);
}

/* Take app a's ready submissions into out[0..max).  A throttled app (too many completions
 * held for it) only gets its valid buffer returns processed: we stop at the first
 * submission that would need a completion.  Returns how many sends, or -1 if the app was
 * detached (its ring is corrupt; the app list changed). */
static int take_app(struct dp_shm *s, struct dp_shm_app *a, struct dp_shm_send *out, int max,
		    int throttled)
{
	uint32_t mask = a->sq_entries - 1, ready, took = 0;
	int corrupt = 0, n = 0;

	ready = srd_ring_ready(a->sq, a->sq_head, a->sq_entries, &corrupt);
	if (corrupt) {
		s->st.ring_corrupt++;
		dp_shm_app_detach(s, a);
		return -1;
	}
	for (uint32_t i = 0; i < ready && i < DP_SHM_SQ_PREFETCH; i++)
		__builtin_prefetch(&a->sqes[(a->sq_head + i) & mask]);
	/* room for a completion of each (once for all: it only grows a queue's capacity) */
	if (ready && dp_shm_app_reserve(a, ready))
		ready = 0; /* no memory for their completions: they wait in the ring */
	for (; took < ready; took++) {
		const struct srd_sqe *slot;
		struct srd_sqe e;
		int rc;

		/* One copy, then checks on the copy only: the app may rewrite the slot meanwhile.
		   The compiler barrier keeps the compiler from re-reading shared memory.  The
		   second cache line is read only if the first says it is used (srd_sqe_bytes):
		   a short submission moves one line between the cores. */
		slot = &a->sqes[(a->sq_head + took) & mask];
		if (took + DP_SHM_SQ_PREFETCH < ready) /* the app's core wrote them: overlap */
			__builtin_prefetch(&a->sqes[(a->sq_head + took + DP_SHM_SQ_PREFETCH) & mask]);
		memcpy(&e, slot, SRD_SQE_LINE);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (srd_sqe_bytes(&e) > SRD_SQE_LINE) {
			memcpy((uint8_t *)&e + SRD_SQE_LINE, (const uint8_t *)slot + SRD_SQE_LINE,
			       sizeof(e) - SRD_SQE_LINE);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		}
		if (throttled && (e.op != SRD_SQ_RX_RETURN || rx_return(s, a, &e)))
			break; /* leave it in the ring until the app reaps its completions */
		if (throttled)
			continue; /* returned */
		if (e.op == SRD_SQ_SEND) {
			if (n == max)
				break; /* no room for more sends now: it waits in the ring */
			rc = check_send(s, a, &e, &out[n]);
			if (rc == 0) {
				n++;
				a->sends_inflight++;
				s->st.sends_inflight++;
			}
		} else if (e.op == SRD_SQ_RX_RETURN) {
			rc = rx_return(s, a, &e);
		} else {
			rc = -EINVAL;
		}
		if (rc)
			post_sqe_error(s, a, &e, rc);
	}
	if (took) {
		a->sq_head += took;
		/* pairs with the app's srd_load_acquire(&sq->head) in srd_ring_space_cached */
		srd_store_release(&a->sq->head, a->sq_head);
	}
	return n;
}

int dp_shm_take(struct dp_shm *s, struct dp_shm_send *out, int max)
{
	uint32_t napps = s->napps, start = s->rr;
	int n = 0;

	/* every app, even once max sends are taken: buffer returns ahead of a send that must
	 * wait are still taken */
	for (uint32_t k = 0; k < napps; k++) {
		struct dp_shm_app *a = s->apps[(start + k) % napps];
		int got;

		if (a->dead)
			continue;
		got = take_app(s, a, out + n, max - n, a->ovf_count >= a->cq_entries);
		if (got < 0)
			return n; /* the app list changed: start again next call */
		n += got;
	}
	if (s->napps)
		s->rr = (start + 1) % s->napps;
	return n;
}

void dp_shm_complete(struct dp_shm *s, struct dp_shm_app *a, uint16_t ep,
		     uint64_t user_data, int silent, int status)
{
	struct srd_cqe c;

	if (a->sends_inflight == 0)
		return; /* not a send we gave out */
	a->sends_inflight--;
	s->st.sends_inflight--;
	if (a->dead) {
		dp_shm_app_maybe_free(s, a);
		return;
	}
	if (silent && status == 0)
		return; /* asked for no completion: done */
	if (status == 0) {
		/* gathered: one ring entry per SRD_CQE_SENDS (its room: this send's reservation,
		   which passes to the batch) */
		struct srd_cqe_sends *b = &a->sends_done;

		if (b->count < 3)
			b->user_data[b->count] = user_data;
		else
			b->user_data_more[b->count - 3] = user_data;
		if (++b->count == SRD_CQE_SENDS)
			sends_done_post(s, a);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.user_data = user_data;
	c.status = status;
	c.op = SRD_CQ_SEND;
	c.flags = silent ? SRD_CQE_SILENT : 0;
	c.ep = ep;
	dp_shm_app_post(s, a, &c);
}

void dp_shm_complete_send(struct dp_shm *s, const struct dp_shm_send *snd, int status)
{
	dp_shm_complete(s, snd->app, snd->ep, snd->user_data, snd->silent, status);
}

int dp_shm_stage_init(struct dp_shm_stage *st, uint32_t n)
{
	memset(st, 0, sizeof(*st));
	if (n == 0)
		return 0;
	st->slots = aligned_alloc(64, (size_t)n * SRD_CQE_INLINE_MAX);
	st->held = calloc(n, sizeof(*st->held));
	st->free = calloc(n, sizeof(*st->free));
	if (!st->slots || !st->held || !st->free) {
		dp_shm_stage_fini(st);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		st->free[i] = n - 1 - i; /* slot 0 first */
	st->nfree = st->n = n;
	return 0;
}

void dp_shm_stage_fini(struct dp_shm_stage *st)
{
	free(st->slots);
	free(st->held);
	free(st->free);
	memset(st, 0, sizeof(*st));
}

/* A free staging slot of app a (a->stage.nfree > 0) for a message that holds `entries`
 * CQ slots until it is delivered or aborted. */
static void *stage_get(struct dp_shm *s, struct dp_shm_app *a, uint32_t entries)
{
	uint32_t i = a->stage.free[--a->stage.nfree];

	a->stage.held[i] = (uint8_t)entries;
	a->rx_staged++;
	a->cq_reserved += entries;
	s->st.rx_inline_filling++;
	return a->stage.slots + (size_t)i * SRD_CQE_INLINE_MAX;
}

/* The index of buf if it is a staging slot of a in use, else -1. */
static int64_t stage_index(const struct dp_shm_app *a, const void *buf)
{
	const uint8_t *p = buf, *slots = a->stage.slots;
	size_t i;

	if (!slots || p < slots || p >= slots + (size_t)a->stage.n * SRD_CQE_INLINE_MAX ||
	    (size_t)(p - slots) % SRD_CQE_INLINE_MAX)
		return -1;
	i = (size_t)(p - slots) / SRD_CQE_INLINE_MAX;
	return a->stage.held[i] ? (int64_t)i : -1;
}

/* Free staging slot i of a and the CQ slots its message held. */
static void stage_put(struct dp_shm *s, struct dp_shm_app *a, uint32_t i)
{
	a->cq_reserved -= a->stage.held[i];
	a->stage.held[i] = 0;
	a->stage.free[a->stage.nfree++] = i;
	a->rx_staged--;
	s->st.rx_inline_filling--;
}

void *dp_shm_rx_alloc(struct dp_shm *s, uint32_t dst_ip, uint16_t dst_ep, uint32_t len,
		      void **app_ctx, int *no_ep)
{
	struct dp_shm_ep *e = dp_shm_ep_find(s, dst_ip, dst_ep);
	struct dp_shm_app *a;
	uint64_t size;
	int64_t off;

	*no_ep = 0;
	if (!e) {
		*no_ep = 1;
		s->st.rx_no_endpoint++;
		return NULL;
	}
	a = e->app;
	if (len <= SRD_CQE_INLINE_MAX && a->stage.nfree) {
		uint32_t entries = 1 + srd_cqe_inline_entries(len);

		if (ring_free(a, entries) < entries) {
			s->st.rx_no_buffer++; /* RNR, as below */
			return NULL;
		}
		*app_ctx = a;
		return stage_get(s, a, entries);
	}
	if (len > DP_SHM_MAX_MSG || !ring_free(a, 1)) {
		/* no slot of its ring left for the completion: the sender retries (RNR) */
		s->st.rx_no_buffer++;
		return NULL;
	}
	off = srd_buddy_get(&a->rxa, len, DP_SHM_RX_FILLING);
	if (off < 0) {
		s->st.rx_no_buffer++;
		return NULL;
	}
	size = srd_buddy_block_size(&a->rxa, (uint64_t)off);
	a->rx_filling++;
	a->cq_reserved++;
	a->rx_bytes += size;
	s->st.rx_bufs_lent++;
	s->st.rx_bytes_lent += size;
	*app_ctx = a;
	return a->base + a->rx_off + (uint64_t)off;
}

/* The receive-area offset of buf if it is a buffer of a being filled, else -1. */
static int64_t filling_off(const struct dp_shm_app *a, const void *buf)
{
	const uint8_t *p = buf, *area = a->base + a->rx_off;

	if (p < area || p >= area + a->rx_size ||
	    srd_buddy_tag(&a->rxa, (uint64_t)(p - area)) != DP_SHM_RX_FILLING)
		return -1;
	return p - area;
}

/* Post header *hdr (op SRD_CQ_RECV_INLINE) and the hdr->len bytes at msg in the entries
 * after it (their room: the message's reservation). */
static void post_inline(struct dp_shm_app *a, const struct srd_cqe *hdr, const uint8_t *msg)
{
	uint32_t len = hdr->len, full = len / (uint32_t)sizeof(*hdr), rest = len % sizeof(*hdr);

	ring_post(a, hdr);
	for (uint32_t k = 0; k < full; k++)
		ring_post(a, msg + k * sizeof(*hdr));
	if (rest) {
		struct srd_cqe last;

		memcpy(&last, msg + full * sizeof(*hdr), rest);
		memset((uint8_t *)&last + rest, 0, sizeof(last) - rest);
		ring_post(a, &last);
	}
}

/* Post the message in staging slot i of a: header *c and its c->len bytes. */
static void deliver_inline(struct dp_shm *s, struct dp_shm_app *a, uint32_t i,
			   const struct srd_cqe *c)
{
	post_inline(a, c, a->stage.slots + (size_t)i * SRD_CQE_INLINE_MAX);
	stage_put(s, a, i); /* its reserved slots are taken now */
	s->st.rx_inline++;
}

/* *c: a received message's completion (RECV or RECV_INLINE), buf_off still 0. */
static void recv_cqe(struct srd_cqe *c, uint8_t op, uint32_t len, uint32_t src_ip,
		     uint16_t src_ep, uint16_t dst_ep, uint64_t tag, uint64_t imm)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->tag = tag;
	c->imm = imm;
	c->ep = dst_ep;
	c->len = len;
	c->src_ip = src_ip;
	c->src_ep = src_ep;
}

int dp_shm_rx_take(struct dp_shm *s, uint32_t dst_ip, uint16_t dst_ep, uint32_t len,
		   void **app_ctx, int *no_ep)
{
	struct dp_shm_ep *e;
	uint32_t entries = 1 + srd_cqe_inline_entries(len);

	*no_ep = 0;
	if (len > SRD_CQE_INLINE_MAX)
		return 0;
	e = dp_shm_ep_find(s, dst_ip, dst_ep);
	if (!e) {
		*no_ep = 1;
		s->st.rx_no_endpoint++;
		return -1;
	}
	if (ring_free(e->app, entries) < entries) {
		s->st.rx_no_buffer++; /* RNR, as dp_shm_rx_alloc */
		return -1;
	}
	e->app->cq_reserved += entries;
	*app_ctx = e->app;
	return 1;
}

void dp_shm_deliver_taken(struct dp_shm *s, void *app_ctx, const void *data, uint32_t len,
			  uint32_t src_ip, uint16_t src_ep, uint16_t dst_ep, uint64_t tag,
			  uint64_t imm)
{
	struct dp_shm_app *a = app_ctx;
	struct srd_cqe c;

	/* taken and delivered inside one srd_recv(): the endpoint and the app are as
	   dp_shm_rx_take found them (only the control path closes or detaches) */
	a->cq_reserved -= 1 + srd_cqe_inline_entries(len); /* taken now */
	recv_cqe(&c, SRD_CQ_RECV_INLINE, len, src_ip, src_ep, dst_ep, tag, imm);
	post_inline(a, &c, data);
	s->st.rx_inline++;
}

void dp_shm_rx_untake(void *app_ctx, uint32_t len)
{
	struct dp_shm_app *a = app_ctx;

	a->cq_reserved -= 1 + srd_cqe_inline_entries(len);
}

void dp_shm_deliver(struct dp_shm *s, void *app_ctx, void *buf, uint32_t len,
		    uint32_t src_ip, uint16_t src_ep, uint16_t dst_ep, uint64_t tag, uint64_t imm)
{
	struct dp_shm_app *a = app_ctx;
	const struct dp_shm_ep *e = dp_shm_ep_by_id(s, dst_ep);
	int64_t slot = stage_index(a, buf), off = slot >= 0 ? -1 : filling_off(a, buf);
	int fits;
	struct srd_cqe c;

	if (slot < 0 && off < 0)
		return; /* not ours to deliver */
	fits = slot >= 0 ? 1 + srd_cqe_inline_entries(len) <= a->stage.held[slot]
			 : len <= srd_buddy_block_size(&a->rxa, (uint64_t)off);
	if (a->dead || !e || e->app != a || !fits) {
		if (!a->dead)
			s->st.rx_no_endpoint++; /* closed while the message was arriving */
		if (slot >= 0)
			stage_put(s, a, (uint32_t)slot);
		else
			dp_shm_rx_free(s, a, (uint64_t)off);
		dp_shm_app_maybe_free(s, a);
		return;
	}
	recv_cqe(&c, slot >= 0 ? SRD_CQ_RECV_INLINE : SRD_CQ_RECV, len, src_ip, src_ep, dst_ep,
		 tag, imm);
	if (slot >= 0) {
		deliver_inline(s, a, (uint32_t)slot, &c);
		return;
	}
	srd_buddy_set_tag(&a->rxa, (uint64_t)off, DP_SHM_RX_LENT);
	a->rx_filling--; /* its reserved ring slot is taken now: */
	a->cq_reserved--;
	a->rx_lent++;
	c.buf_off = (uint32_t)(a->rx_off + (uint64_t)off);
	ring_post(a, &c); /* room reserved at dp_shm_rx_alloc: never in daemon memory */
}

void dp_shm_place(void *app_ctx, void *dst, const void *src, size_t len, uint32_t msg_len)
{
	struct dp_shm_app *a = app_ctx;

	if (msg_len >= SRD_COPY_PICK_MIN)
		srd_copy_picked(&a->rx_pick, dst, src, len);
	else
		memcpy(dst, src, len);
}

void dp_shm_rx_abort(struct dp_shm *s, void *app_ctx, void *buf)
{
	struct dp_shm_app *a = app_ctx;
	int64_t off = stage_index(a, buf);

	if (off >= 0) {
		stage_put(s, a, (uint32_t)off);
		dp_shm_app_maybe_free(s, a);
		return;
	}
	off = filling_off(a, buf);
	if (off < 0)
		return;
	dp_shm_rx_free(s, a, (uint64_t)off);
	dp_shm_app_maybe_free(s, a);
}

/* Post a's gathered send completions and what waits in its overflow queue (where its ring
 * has room), and publish its ring's tail if it moved. */
static void publish_app(struct dp_shm *s, struct dp_shm_app *a)
{
	if (a->sends_done.count)
		sends_done_post(s, a);
	while (a->ovf_count &&
	       srd_ring_space_cached(a->cq, a->cq_tail, a->cq_entries, &a->cq_head_seen,
				     a->cq_reserved + 1) > a->cq_reserved) {
		cqe_store(a, &a->cqes[a->cq_tail & (a->cq_entries - 1)], &a->ovf[a->ovf_head]);
		a->ovf_head = (a->ovf_head + 1) & (a->ovf_cap - 1);
		a->ovf_count--;
		a->cq_tail++;
		a->need_signal = 1;
	}
	if (a->cq_tail == a->cq_tail_pub)
		return;
	if (a->cq_streamed) /* the entries' streaming stores (cqe_store) first */
		srd_fence_stream();
	a->cq_streamed = 0;
	/* pairs with the app's srd_load_acquire(&cq->tail) */
	srd_store_release(&a->cq->tail, a->cq_tail);
	a->cq_tail_pub = a->cq_tail;
	/* the next entries are ordinary stores (cqe_store) to lines the app's core read last:
	   ask for them now, not at the store */
	for (uint32_t k = 0; k < DP_SHM_CQE_PLAIN; k++)
		srd_prefetch_write(&a->cqes[(a->cq_tail + k) & (a->cq_entries - 1)]);
}

void dp_shm_publish(struct dp_shm *s)
{
	for (uint32_t i = 0; i < s->napps; i++)
		if (!s->apps[i]->dead)
			publish_app(s, s->apps[i]);
}

void dp_shm_flush(struct dp_shm *s)
{
	int any = 0;

	for (uint32_t i = 0; i < s->napps; i++) {
		struct dp_shm_app *a = s->apps[i];

		if (a->dead)
			continue;
		publish_app(s, a);
		any |= a->need_signal;
	}
	if (!any)
		return;
	/* pairs with the app's fence between setting app_waiting and re-checking its CQ
	   (srd_barrier.h): either it sees our tail, or we see its app_waiting */
	srd_fence_seq_cst();
	for (uint32_t i = 0; i < s->napps; i++) {
		struct dp_shm_app *a = s->apps[i];
		uint64_t one = 1;

		if (!a->need_signal || a->dead)
			continue;
		a->need_signal = 0;
		if (srd_load_relaxed(&a->hdr->app_waiting))
			(void)!write(a->efd, &one, sizeof(one));
	}
}
