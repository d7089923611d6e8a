/*
 * rx.c — receives: matching arrivals against posted receives, the unexpected queue,
 * FI_PEEK / FI_CLAIM / FI_DISCARD, FI_MULTI_RECV, cancel, and the reassembly of segmented
 * messages.
 *
 * Matching follows libfabric's rules: receives of one kind (FI_MSG or FI_TAGGED) match in
 * the order they were posted, messages in the order they arrived; a tagged receive takes a
 * message whose tag equals its own outside the ignore bits; with FI_DIRECTED_RECV a
 * receive posted for an fi_addr takes only that sender's messages.  A message arrives when
 * its first piece does (every piece carries the tag and the length), so a segmented
 * message is matched once and its later pieces go straight to the same buffer.
 *
 * Copies: a message that finds its receive posted is copied once, from srdd's buffer into
 * the application's (memcpy: the application reads it next, on its own core).  An
 * unexpected one stays in srdd's buffer until it is matched.  While
 * the application takes them, a backlog fills srdd's receive area and srdd answers the
 * senders RNR: that is the flow control that keeps a fast sender from burying a slower
 * receiver (whose copies would then run from memory rather than cache).  But an
 * application waiting for a message that srdd has no room for would wait forever: so when
 * an endpoint holds more than unexp_hold bytes that way and has taken none of them for
 * SRDFI_UNEXP_STALL_NS, the oldest are copied out to free srdd's buffers.  Segmented
 * unexpected messages are assembled in a buffer of ours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srdfi.h"

#define RXQ_MSG 0
#define RXQ_TAGGED 1
#define SRDFI_RX_FLAGS (FI_COMPLETION | FI_MULTI_RECV | FI_PEEK | FI_CLAIM | FI_DISCARD | \
			FI_MSG | FI_TAGGED | FI_RECV | FI_REMOTE_CQ_DATA)

/* What the first piece of an arriving message says about it. */
struct arrival {
	struct srdc_addr src_addr;  /* its sender */
	fi_addr_t src;              /* the sender's fi_addr (FI_ADDR_NOTAVAIL: not in the AV) */
	uint64_t tag, data;
	uint16_t hflags;            /* SRDFI_H_* */
	uint32_t msg_id;
	uint64_t total;             /* the whole message */
	uint64_t offset;            /* where this piece goes */
	const uint8_t *payload;     /* this piece */
	size_t plen;
};

int srdfi_rx_init(struct srdfi_ep *ep)
{
	for (int k = 0; k < 2; k++) {
		srdfi_list_init(&ep->rxq[k].posted);
		srdfi_list_init(&ep->rxq[k].unexp);
		ep->rxq[k].nposted = 0;
	}
	srdfi_list_init(&ep->reasm);
	srdfi_list_init(&ep->rx_free);
	ep->rxs = calloc(ep->rx_size, sizeof(*ep->rxs));
	if (!ep->rxs)
		return -FI_ENOMEM;
	for (size_t i = 0; i < ep->rx_size; i++)
		srdfi_list_add_tail(&ep->rx_free, &ep->rxs[i].link);
	return 0;
}

/* Give the srdd buffers of an unexpected message's pieces back. */
static void unexp_release_pieces(struct srdfi_ep *ep, struct srdfi_unexp *ux)
{
	for (uint32_t i = 0; i < ux->npieces; i++) {
		ep->unexp_held -= ux->pieces[i].len + ux->pieces[i].hoff;
		if (ep->dom->h)
			srdc_recv_done(ep->dom->h, ux->pieces[i].dbuf);
	}
	free(ux->pieces);
	ux->pieces = NULL;
	ux->npieces = ux->pieces_cap = 0;
}

/* Keep a piece of segmented unexpected message ux in srdd's buffer dbuf (false: no memory
 * to note it). */
static bool unexp_keep_piece(struct srdfi_ep *ep, struct srdfi_unexp *ux, void *dbuf,
			     size_t hoff, uint64_t offset, size_t len)
{
	if (ux->npieces == ux->pieces_cap) {
		uint32_t cap = ux->pieces_cap ? 2 * ux->pieces_cap : 4;
		struct srdfi_piece *p = realloc(ux->pieces, cap * sizeof(*p));

		if (!p)
			return false;
		ux->pieces = p;
		ux->pieces_cap = cap;
	}
	ux->pieces[ux->npieces++] = (struct srdfi_piece){ dbuf, hoff, offset, len };
	ep->unexp_held += len + hoff;
	return true;
}

/* Give an unexpected message's storage back (srdd's buffers or ours) and free it. */
static void unexp_free(struct srdfi_ep *ep, struct srdfi_unexp *ux)
{
	if (ux->dbuf) {
		ep->unexp_held -= ux->len + ux->hoff;
		if (ep->dom->h)
			srdc_recv_done(ep->dom->h, ux->dbuf);
	}
	unexp_release_pieces(ep, ux);
	free(ux->heap);
	srdfi_list_del(&ux->link);
	free(ux);
	ep->unexp_taken++;
}

/* Copy unexpected message ux out of srdd's buffers into one of ours, and give those back
 * (false: no memory; it stays where it is). */
static bool unexp_to_heap(struct srdfi_ep *ep, struct srdfi_unexp *ux)
{
	uint8_t *copy = malloc(ux->len ? ux->len : 1);

	if (!copy)
		return false;
	if (ux->dbuf) {
		memcpy(copy, (const uint8_t *)ux->dbuf + ux->hoff, ux->len);
		ep->unexp_held -= ux->len + ux->hoff;
		srdc_recv_done(ep->dom->h, ux->dbuf);
		ux->dbuf = NULL;
	}
	for (uint32_t i = 0; i < ux->npieces; i++)
		memcpy(copy + ux->pieces[i].offset,
		       (const uint8_t *)ux->pieces[i].dbuf + ux->pieces[i].hoff, ux->pieces[i].len);
	unexp_release_pieces(ep, ux);
	ux->heap = copy;
	return true;
}

/* Drop an unexpected message (FI_DISCARD): pieces still to come are dropped as they come. */
static void unexp_drop(struct srdfi_ep *ep, struct srdfi_unexp *ux)
{
	if (ux->reasm) {
		ux->reasm->ux = NULL;
		ux->reasm = NULL;
	}
	unexp_free(ep, ux);
}

void srdfi_rx_fini(struct srdfi_ep *ep)
{
	for (int k = 0; k < 2; k++)
		while (ep->rxq[k].unexp.next && !srdfi_list_empty(&ep->rxq[k].unexp))
			unexp_free(ep, srdfi_container(ep->rxq[k].unexp.next, struct srdfi_unexp,
						       link));
	while (ep->reasm.next && !srdfi_list_empty(&ep->reasm)) {
		struct srdfi_reasm *r = srdfi_container(ep->reasm.next, struct srdfi_reasm, link);

		srdfi_list_del(&r->link);
		free(r);
	}
	free(ep->rxs);
	ep->rxs = NULL;
}

/* ---- posted receive records ---- */

static struct srdfi_rx *rx_get(struct srdfi_ep *ep)
{
	struct srdfi_rx *rx;

	if (srdfi_list_empty(&ep->rx_free))
		return NULL;
	rx = srdfi_container(ep->rx_free.next, struct srdfi_rx, link);
	srdfi_list_del(&rx->link);
	memset(rx, 0, sizeof(*rx));
	srdfi_list_init(&rx->link);
	rx->ep = ep;
	return rx;
}

static void rx_put(struct srdfi_rx *rx)
{
	struct srdfi_ep *ep = rx->ep;

	if (rx->posted) {
		ep->rxq[(rx->flags & FI_TAGGED) ? RXQ_TAGGED : RXQ_MSG].nposted--;
		rx->posted = 0;
	}
	srdfi_list_del(&rx->link);
	srdfi_list_add_tail(&ep->rx_free, &rx->link);
}

/* Take rx off its posted queue (it stays allocated). */
static void rx_unpost(struct srdfi_rx *rx)
{
	if (!rx->posted)
		return;
	rx->ep->rxq[(rx->flags & FI_TAGGED) ? RXQ_TAGGED : RXQ_MSG].nposted--;
	rx->posted = 0;
	srdfi_list_del(&rx->link);
}

/* Copy len bytes to byte `off` of rx's buffer, as far as it reaches. */
static void rx_copy(const struct srdfi_rx *rx, uint64_t off, const uint8_t *p, uint64_t len)
{
	for (size_t i = 0; i < rx->iov_count && len; i++) {
		uint64_t n;

		if (off >= rx->iov[i].iov_len) {
			off -= rx->iov[i].iov_len;
			continue;
		}
		n = rx->iov[i].iov_len - off < len ? rx->iov[i].iov_len - off : len;
		memcpy((uint8_t *)rx->iov[i].iov_base + off, p, n);
		p += n;
		len -= n;
		off = 0;
	}
}

/* ---- matching ---- */

static bool rx_matches(const struct srdfi_ep *ep, const struct srdfi_rx *rx, fi_addr_t src,
		       uint64_t tag)
{
	if ((ep->caps & FI_DIRECTED_RECV) && rx->src != FI_ADDR_UNSPEC && rx->src != src)
		return false;
	return !(rx->flags & FI_TAGGED) || !((rx->tag ^ tag) & ~rx->ignore);
}

static struct srdfi_rx *match_posted(struct srdfi_ep *ep, int k, fi_addr_t src, uint64_t tag)
{
	struct srdfi_list *q = &ep->rxq[k].posted;

	for (struct srdfi_list *l = q->next; l != q; l = l->next) {
		struct srdfi_rx *rx = srdfi_container(l, struct srdfi_rx, link);

		if (rx_matches(ep, rx, src, tag))
			return rx;
	}
	return NULL;
}

static struct srdfi_unexp *match_unexp(struct srdfi_ep *ep, int k, fi_addr_t src,
				       uint64_t tag, uint64_t ignore, bool directed)
{
	struct srdfi_list *q = &ep->rxq[k].unexp;

	for (struct srdfi_list *l = q->next; l != q; l = l->next) {
		struct srdfi_unexp *ux = srdfi_container(l, struct srdfi_unexp, link);

		if (ux->claim)
			continue; /* claimed by a peek: only its FI_CLAIM receive takes it */
		if (directed && src != FI_ADDR_UNSPEC && ux->src != src)
			continue;
		if (k == RXQ_TAGGED && ((ux->tag ^ tag) & ~ignore))
			continue;
		return ux;
	}
	return NULL;
}

/* ---- completing a receive ---- */

/* The completion of a receive with this context and flags that carries no message (an error,
 * a peek, a discard): its kind from flags, the tag asked for or found. */
static struct srdfi_cqe rx_cqe(void *context, uint64_t flags, uint64_t tag)
{
	return (struct srdfi_cqe){
		.e = { .op_context = context, .flags = FI_RECV | (flags & (FI_TAGGED | FI_MSG)),
		       .tag = tag },
		.src = FI_ADDR_NOTAVAIL,
	};
}

/* Report a message placed (len bytes kept of total) at byte `at` of rx, and release rx
 * unless it is a multi-receive buffer that still has room. */
static void rx_complete(struct srdfi_ep *ep, struct srdfi_rx *rx, const struct arrival *a,
			uint64_t at, uint64_t len)
{
	struct srdfi_cqe c = {
		.e = {
			.op_context = rx->context,
			.flags = FI_RECV | (rx->flags & (FI_TAGGED | FI_MSG)) |
				 ((a->hflags & SRDFI_H_DATA) ? FI_REMOTE_CQ_DATA : 0),
			.len = len,
			.buf = rx->iov_count ? (uint8_t *)rx->iov[0].iov_base + at : NULL,
			.data = a->data,
			.tag = a->tag,
		},
		.src = (ep->caps & FI_SOURCE) ? a->src : FI_ADDR_NOTAVAIL,
	};
	bool multi = rx->flags & FI_MULTI_RECV;

	if (multi) {
		if (rx->users)
			rx->users--;
		if (!rx->users && !rx->posted) {
			c.e.flags |= FI_MULTI_RECV; /* the buffer is the application's again */
			rx->released = 1;
		}
	}
	if (len < a->total)
		srdfi_ep_complete_rx(ep, rx->flags, &c, FI_ETRUNC, a->total - len, 0);
	else
		srdfi_ep_complete_rx(ep, rx->flags, &c, 0, 0, 0);
	if (a->hflags & SRDFI_H_DC)
		srdfi_tx_send_dack(ep, &a->src_addr, a->msg_id, false);
	if (!multi || rx->released)
		rx_put(rx);
}

/* Where a message goes in rx: byte `at`, with room for *room bytes.  A multi-receive
 * buffer gives the next part of itself and leaves the posted queue once what is left is
 * below the endpoint's minimum. */
static uint64_t rx_place(struct srdfi_ep *ep, struct srdfi_rx *rx, uint64_t total,
			 uint64_t *room)
{
	uint64_t at = 0;

	if (!(rx->flags & FI_MULTI_RECV)) {
		rx_unpost(rx);
		*room = rx->len;
		return 0;
	}
	at = rx->used;
	*room = rx->len - rx->used;
	rx->used += total < *room ? total : *room;
	rx->used = (rx->used + 7) & ~(uint64_t)7; /* the next message starts aligned */
	if (rx->used > rx->len)
		rx->used = rx->len;
	rx->users++;
	if (rx->len - rx->used < ep->min_multi_recv)
		rx_unpost(rx);
	return at;
}

/* Pieces of a segmented message still to come: where they go. */
static struct srdfi_reasm *reasm_new(struct srdfi_ep *ep, const struct arrival *a)
{
	struct srdfi_reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->src_addr = a->src_addr;
	r->msg_id = a->msg_id;
	r->total = a->total;
	r->received = a->plen;
	r->tag = a->tag;
	r->data = a->data;
	r->hflags = a->hflags;
	r->src = a->src;
	srdfi_list_add_tail(&ep->reasm, &r->link);
	return r;
}

static struct srdfi_reasm *reasm_find(struct srdfi_ep *ep, const struct srdc_addr *src,
				      uint32_t msg_id)
{
	for (struct srdfi_list *l = ep->reasm.next; l != &ep->reasm; l = l->next) {
		struct srdfi_reasm *r = srdfi_container(l, struct srdfi_reasm, link);

		if (r->msg_id == msg_id && r->src_addr.ipv4 == src->ipv4 &&
		    r->src_addr.ep == src->ep)
			return r;
	}
	return NULL;
}

static void arrival_of_reasm(const struct srdfi_reasm *r, struct arrival *a)
{
	*a = (struct arrival){ .src_addr = r->src_addr, .src = r->src, .tag = r->tag,
			       .data = r->data, .hflags = r->hflags, .msg_id = r->msg_id,
			       .total = r->total };
}

/* Put the first piece of a message into rx, and complete it or note where the other
 * pieces go (without memory for that, the receive completes with FI_ENOMEM). */
static void rx_fill(struct srdfi_ep *ep, struct srdfi_rx *rx, const struct arrival *a)
{
	uint64_t room, at = rx_place(ep, rx, a->total, &room);
	uint64_t keep = a->total < room ? a->total : room;

	if (a->offset < keep)
		rx_copy(rx, at + a->offset, a->payload,
			a->plen < keep - a->offset ? a->plen : keep - a->offset);
	if (a->plen < a->total) {
		struct srdfi_reasm *r = reasm_new(ep, a);

		if (r) {
			r->rx = rx;
			r->rx_off = at;
			return;
		}
		/* no memory to follow its pieces: fail the receive; the pieces are dropped */
		struct srdfi_cqe c = rx_cqe(rx->context, rx->flags, a->tag);

		srdfi_ep_complete_rx(ep, rx->flags, &c, FI_ENOMEM, 0, ENOMEM);
		if (rx->users)
			rx->users--;
		if (!(rx->flags & FI_MULTI_RECV) || (!rx->users && !rx->posted))
			rx_put(rx);
		return;
	}
	rx_complete(ep, rx, a, at, keep);
}

/* A later piece of a segmented message, in srdd's buffer dbuf (payload at +hoff).  True
 * if an unexpected entry keeps that buffer; else the caller gives it back. */
static bool reasm_piece(struct srdfi_ep *ep, struct srdfi_reasm *r, void *dbuf, size_t hoff,
			uint64_t offset, size_t len)
{
	const uint8_t *p = (const uint8_t *)dbuf + hoff;
	bool kept = false;
	struct arrival a;

	if (offset > r->total || len > r->total - offset || r->received + len > r->total) {
		ep->dom->bad_msgs++; /* a piece that does not fit its message: dropped */
		return false;
	}
	if (r->rx) {
		uint64_t room = (r->rx->flags & FI_MULTI_RECV) ? r->rx->len - r->rx_off : r->rx->len;
		uint64_t keep = r->total < room ? r->total : room;

		if (offset < keep)
			rx_copy(r->rx, r->rx_off + offset, p, len < keep - offset ? len : keep - offset);
	} else if (r->ux && r->ux->heap) {
		memcpy(r->ux->heap + offset, p, len);
	} else if (r->ux && !unexp_keep_piece(ep, r->ux, dbuf, hoff, offset, len)) {
		/* no memory to note where it is: copy the message out to hold it ourselves,
		 * or, without memory for that either, lose all of it (said, as unexp_add does) */
		if (unexp_to_heap(ep, r->ux)) {
			memcpy(r->ux->heap + offset, p, len);
		} else {
			ep->dom->lost_errors++;
			SRDFI_WARN(FI_LOG_EP_DATA, "out of memory: an unexpected message of %llu "
				   "bytes lost\n", (unsigned long long)r->total);
			unexp_drop(ep, r->ux);
		}
	} else {
		kept = r->ux != NULL;
	}
	r->received += len;
	if (r->received < r->total)
		return kept;
	srdfi_list_del(&r->link);
	if (r->rx) {
		uint64_t room = (r->rx->flags & FI_MULTI_RECV) ? r->rx->len - r->rx_off : r->rx->len;

		arrival_of_reasm(r, &a);
		rx_complete(ep, r->rx, &a, r->rx_off, r->total < room ? r->total : room);
	} else if (r->ux) {
		r->ux->reasm = NULL; /* whole now */
	}
	free(r);
	return kept;
}

/* ---- arrivals ---- */

/* Keep an arrival no receive wanted.  The first piece of a segmented message starts our
 * copy of it; a whole message stays in srdd's buffer (dbuf) for now. */
static void unexp_add(struct srdfi_ep *ep, int k, const struct arrival *a, void *dbuf,
		      size_t hoff)
{
	struct srdfi_unexp *ux = calloc(1, sizeof(*ux));

	if (!ux)
		goto drop;
	ux->src_addr = a->src_addr;
	ux->src = a->src;
	ux->tag = a->tag;
	ux->data = a->data;
	ux->hflags = a->hflags;
	ux->msg_id = a->msg_id;
	ux->len = a->total;
	if (a->plen < a->total) {
		/* its pieces stay in srdd's buffers, as a whole message does */
		ux->reasm = reasm_new(ep, a);
		if (!ux->reasm || !unexp_keep_piece(ep, ux, dbuf, hoff, a->offset, a->plen)) {
			if (ux->reasm) {
				srdfi_list_del(&ux->reasm->link);
				free(ux->reasm);
			}
			free(ux);
			goto drop;
		}
		ux->reasm->ux = ux;
	} else {
		ux->dbuf = dbuf;
		ux->hoff = hoff;
		ep->unexp_held += a->total + hoff;
	}
	srdfi_list_add_tail(&ep->rxq[k].unexp, &ux->link);
	return;
drop:
	/* srdd delivered it: losing it here is a failure we must say */
	ep->dom->lost_errors++;
	SRDFI_WARN(FI_LOG_EP_DATA, "out of memory: an unexpected message of %llu bytes lost\n",
		   (unsigned long long)a->total);
	srdc_recv_done(ep->dom->h, dbuf);
}

void srdfi_rx_arrive(struct srdfi_ep *ep, const struct srdc_addr *src, uint64_t tag,
		     uint64_t imm, void *buf, size_t len)
{
	struct srdfi_hdr h;
	struct srdfi_seg s;
	struct srdfi_reasm *r;
	struct arrival a;
	struct srdfi_rx *rx;
	int k, hl = srdfi_hdr_decode(buf, len, &h, &s);

	if (hl < 0 || ep->closing) {
		if (hl < 0) {
			ep->dom->bad_msgs++;
			FI_WARN_SPARSE(&srdfi_prov, FI_LOG_EP_DATA,
				       "dropped a message with a malformed header (%zu bytes)\n", len);
		}
		srdc_recv_done(ep->dom->h, buf);
		return;
	}
	if (h.op == SRDFI_OP_DACK) {
		srdfi_tx_dack(ep, src, h.msg_id, h.flags & SRDFI_H_DROPPED);
		srdc_recv_done(ep->dom->h, buf);
		return;
	}
	a = (struct arrival){
		.src_addr = *src,
		.src = FI_ADDR_NOTAVAIL,
		.tag = h.op == SRDFI_OP_TAGGED ? tag : 0,
		.data = (h.flags & SRDFI_H_DATA) ? imm : 0,
		.hflags = h.flags,
		.msg_id = h.msg_id,
		.total = s.total,
		.offset = s.offset,
		.payload = (const uint8_t *)buf + hl,
		.plen = len - (size_t)hl,
	};
	if ((h.flags & SRDFI_H_SEG) && (r = reasm_find(ep, src, h.msg_id))) {
		if (!reasm_piece(ep, r, buf, (size_t)hl, a.offset, a.plen))
			srdc_recv_done(ep->dom->h, buf);
		return;
	}
	if (ep->caps & (FI_SOURCE | FI_DIRECTED_RECV))
		a.src = srdfi_ep_src(ep, src);
	k = h.op == SRDFI_OP_TAGGED ? RXQ_TAGGED : RXQ_MSG;
	rx = match_posted(ep, k, a.src, a.tag);
	if (!rx) {
		unexp_add(ep, k, &a, buf, (size_t)hl);
		return;
	}
	rx_fill(ep, rx, &a);
	srdc_recv_done(ep->dom->h, buf);
}

void srdfi_rx_trim(struct srdfi_ep *ep)
{
	uint64_t now;

	if (ep->unexp_held <= ep->dom->unexp_hold) {
		ep->trim_since_ns = 0;
		return;
	}
	now = srdfi_now_ns();
	if (!ep->trim_since_ns || ep->unexp_taken != ep->trim_taken) {
		/* the application is taking them: leave the backlog to srdd's flow control */
		ep->trim_taken = ep->unexp_taken;
		ep->trim_since_ns = now;
		return;
	}
	if (now - ep->trim_since_ns < SRDFI_UNEXP_STALL_NS)
		return;
	for (int k = 0; k < 2 && ep->unexp_held > ep->dom->unexp_hold; k++) {
		struct srdfi_list *q = &ep->rxq[k].unexp;

		for (struct srdfi_list *l = q->next; l != q && ep->unexp_held > ep->dom->unexp_hold;
		     l = l->next) {
			struct srdfi_unexp *ux = srdfi_container(l, struct srdfi_unexp, link);

			if ((ux->dbuf || ux->npieces) && !unexp_to_heap(ep, ux))
				return; /* it stays in srdd's buffers: nothing is lost */
		}
	}
}

/* ---- posting ---- */

/* Deliver unexpected message ux into rx (which matched it), and free ux. */
static void unexp_deliver(struct srdfi_ep *ep, struct srdfi_unexp *ux, struct srdfi_rx *rx)
{
	struct arrival a = {
		.src_addr = ux->src_addr, .src = ux->src, .tag = ux->tag, .data = ux->data,
		.hflags = ux->hflags, .msg_id = ux->msg_id, .total = ux->len, .offset = 0,
		.payload = ux->dbuf ? (const uint8_t *)ux->dbuf + ux->hoff : ux->heap,
		.plen = ux->len,
	};
	struct srdfi_reasm *r = ux->reasm;
	uint64_t room, at, keep;

	if (!r && !ux->npieces) {
		rx_fill(ep, rx, &a); /* whole, in one buffer */
		unexp_free(ep, ux);
		return;
	}
	/* segmented: copy the pieces here (from our copy, gaps too: their pieces overwrite
	 * them when they come), and send those still to come to rx */
	at = rx_place(ep, rx, a.total, &room);
	keep = a.total < room ? a.total : room;
	if (ux->heap)
		rx_copy(rx, at, ux->heap, keep);
	for (uint32_t i = 0; i < ux->npieces; i++) {
		const struct srdfi_piece *p = &ux->pieces[i];

		if (p->offset < keep)
			rx_copy(rx, at + p->offset, (const uint8_t *)p->dbuf + p->hoff,
				p->len < keep - p->offset ? p->len : keep - p->offset);
	}
	if (r) {
		r->ux = NULL;
		r->rx = rx;
		r->rx_off = at;
		ux->reasm = NULL;
	} else {
		rx_complete(ep, rx, &a, at, keep);
	}
	unexp_free(ep, ux);
}

/* FI_PEEK: is a matching message there?  Completes with its description, or with
 * FI_ENOMSG; with FI_CLAIM it is kept for the receive that names the same context, with
 * FI_DISCARD it is dropped. */
static void rx_peek(struct srdfi_ep *ep, int k, fi_addr_t src, uint64_t tag, uint64_t ignore,
		    void *context, uint64_t flags)
{
	struct srdfi_unexp *ux = match_unexp(ep, k, src, tag, ignore,
					     ep->caps & FI_DIRECTED_RECV);
	struct srdfi_cqe c = rx_cqe(context, flags, tag);

	if (!ux) {
		srdfi_ep_complete_rx(ep, flags | FI_COMPLETION, &c, FI_ENOMSG, 0, 0);
		return;
	}
	c.e.flags |= (ux->hflags & SRDFI_H_DATA) ? FI_REMOTE_CQ_DATA : 0;
	c.e.len = ux->len;
	c.e.tag = ux->tag;
	c.e.data = ux->data;
	c.src = (ep->caps & FI_SOURCE) ? ux->src : FI_ADDR_NOTAVAIL;
	if (flags & FI_CLAIM)
		ux->claim = context;
	else if (flags & FI_DISCARD)
		unexp_drop(ep, ux);
	srdfi_ep_complete_rx(ep, flags | FI_COMPLETION, &c, 0, 0, 0);
}

static struct srdfi_unexp *find_claimed(struct srdfi_ep *ep, int k, void *context)
{
	struct srdfi_list *q = &ep->rxq[k].unexp;

	for (struct srdfi_list *l = q->next; l != q; l = l->next) {
		struct srdfi_unexp *ux = srdfi_container(l, struct srdfi_unexp, link);

		if (ux->claim == context)
			return ux;
	}
	return NULL;
}

ssize_t srdfi_rx_post(struct srdfi_ep *ep, const struct iovec *iov, size_t count,
		      fi_addr_t src, uint64_t tag, uint64_t ignore, void *context,
		      uint64_t flags)
{
	struct srdfi_domain *d = ep->dom;
	int k = (flags & FI_TAGGED) ? RXQ_TAGGED : RXQ_MSG;
	struct srdfi_unexp *ux = NULL;
	struct srdfi_rx *rx;
	size_t len = 0;

	if (count > SRDFI_RX_IOV_LIMIT || (count && !iov) || (flags & ~SRDFI_RX_FLAGS))
		return -FI_EINVAL;
	if ((flags & FI_MULTI_RECV) && (k == RXQ_TAGGED || (flags & (FI_PEEK | FI_CLAIM))))
		return -FI_EINVAL;
	if ((flags & FI_DISCARD) && !(flags & (FI_PEEK | FI_CLAIM)))
		return -FI_EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -FI_EINVAL;
		len += iov[i].iov_len;
	}
	srdfi_lock(d);
	if (!ep->enabled || d->dead) {
		srdfi_unlock(d);
		return d->dead ? -FI_ENOTCONN : -FI_EOPBADSTATE;
	}
	srdfi_progress(d); /* what srdd has for us is matched before this receive */
	if (flags & FI_PEEK) {
		rx_peek(ep, k, src, tag, ignore, context, flags);
		srdfi_unlock(d);
		return 0;
	}
	if (flags & FI_CLAIM) {
		ux = find_claimed(ep, k, context);
		if (!ux) {
			srdfi_unlock(d);
			return -FI_EINVAL; /* no message was claimed with this context */
		}
		if (flags & FI_DISCARD) {
			struct srdfi_cqe c = rx_cqe(context, flags, ux->tag);

			unexp_drop(ep, ux);
			srdfi_ep_complete_rx(ep, flags, &c, 0, 0, 0);
			srdfi_unlock(d);
			return 0;
		}
	}
	rx = rx_get(ep);
	if (!rx) {
		srdfi_unlock(d);
		return -FI_EAGAIN;
	}
	rx->context = context;
	rx->flags = flags | FI_RECV;
	rx->src = (ep->caps & FI_DIRECTED_RECV) ? src : FI_ADDR_UNSPEC;
	rx->tag = tag;
	rx->ignore = ignore;
	rx->iov_count = count;
	memcpy(rx->iov, iov, count * sizeof(*iov));
	rx->len = len;
	if (flags & FI_CLAIM) {
		unexp_deliver(ep, ux, rx);
		srdfi_unlock(d);
		return 0;
	}
	/* posted from the start so that a multi-receive buffer can leave the queue */
	rx->posted = 1;
	ep->rxq[k].nposted++;
	srdfi_list_add_tail(&ep->rxq[k].posted, &rx->link);
	while (rx->posted &&
	       (ux = match_unexp(ep, k, rx->src, tag, ignore, ep->caps & FI_DIRECTED_RECV)))
		unexp_deliver(ep, ux, rx);
	srdfi_unlock(d);
	return 0;
}

int srdfi_rx_cancel(struct srdfi_ep *ep, void *context)
{
	for (int k = 0; k < 2; k++) {
		struct srdfi_list *q = &ep->rxq[k].posted;

		for (struct srdfi_list *l = q->next; l != q; l = l->next) {
			struct srdfi_rx *rx = srdfi_container(l, struct srdfi_rx, link);
			struct srdfi_cqe c;

			if (rx->context != context)
				continue;
			if (rx->users)
				return -FI_EBUSY; /* a message is being written into it */
			c = rx_cqe(context, rx->flags, rx->tag);
			c.e.flags |= rx->flags & FI_MULTI_RECV;
			srdfi_ep_complete_rx(ep, rx->flags | FI_COMPLETION, &c, FI_ECANCELED, 0, 0);
			rx_put(rx);
			return 0;
		}
	}
	return -FI_ENOENT;
}

void srdfi_rx_drop_unexpected(struct srdfi_ep *ep)
{
	for (int k = 0; k < 2; k++) {
		struct srdfi_list *q = &ep->rxq[k].unexp;

		for (struct srdfi_list *l = q->next; l != q; l = l->next) {
			struct srdfi_unexp *ux = srdfi_container(l, struct srdfi_unexp, link);

			if (ux->hflags & SRDFI_H_DC)
				srdfi_tx_send_dack(ep, &ux->src_addr, ux->msg_id, true);
		}
	}
}

void srdfi_rx_fail_all(struct srdfi_ep *ep, int err)
{
	/* receives whose pieces are still coming, then the posted ones */
	while (!srdfi_list_empty(&ep->reasm)) {
		struct srdfi_reasm *r = srdfi_container(ep->reasm.next, struct srdfi_reasm, link);

		srdfi_list_del(&r->link);
		if (r->rx) {
			struct srdfi_cqe c = rx_cqe(r->rx->context, r->rx->flags, r->tag);

			srdfi_ep_complete_rx(ep, r->rx->flags | FI_COMPLETION, &c, err, 0, err);
			if (r->rx->users)
				r->rx->users--;
			if (!(r->rx->flags & FI_MULTI_RECV) || (!r->rx->users && !r->rx->posted))
				rx_put(r->rx);
		} else if (r->ux) {
			r->ux->reasm = NULL;
			unexp_free(ep, r->ux); /* it will never be whole */
		}
		free(r);
	}
	for (int k = 0; k < 2; k++) {
		while (!srdfi_list_empty(&ep->rxq[k].posted)) {
			struct srdfi_rx *rx = srdfi_container(ep->rxq[k].posted.next,
							      struct srdfi_rx, link);
			struct srdfi_cqe c = rx_cqe(rx->context, rx->flags, rx->tag);

			srdfi_ep_complete_rx(ep, rx->flags | FI_COMPLETION, &c, err, 0, err);
			rx_put(rx);
		}
	}
}
