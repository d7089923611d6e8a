/*
 * tx.c — sends: fi_send and friends, fi_tsend and friends.
 *
 * A send becomes one srdd message (the provider's header, then the bytes) or, above the
 * domain's segment size, several: pieces of `segment` bytes that carry the whole length
 * and their offset, so that the receiver reassembles them into the one buffer that matched
 * the first.  The bytes are copied into the shared region as each piece is taken, so an
 * application's buffer is free again once all pieces are taken: by libsrd, or, for a
 * message of SRD_COPY_PICK_MIN bytes or more, by the provider itself, into a buffer it
 * takes from the region (struct srdfi_bounce) and srdd sends from without a copy in
 * libsrd.  The provider's copy streams (non-temporal stores) or uses memcpy as the
 * domain's copies measure cheaper (srd_copy.h says why: where srdd's worker, which read the
 * region's lines last, sits).
 *
 * Resource management (FI_RM_ENABLED): when srdd's rings or the region's send area are
 * full, a send waits on the endpoint's queue (an injected one in a copy of ours) and goes
 * at the next progress; later sends queue behind it, so the order of the calls is the
 * order on the wire.  -FI_EAGAIN only when the endpoint already holds tx_size sends.
 *
 * Completion: FI_TRANSMIT_COMPLETE (the default, and what FI_INJECT_COMPLETE gets: a
 * stronger level is allowed) when srdd reports every piece delivered to the peer's
 * daemon; FI_DELIVERY_COMPLETE once the peer's provider has also matched the message and
 * sent a DACK back.  fi_inject has no completion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srdfi.h"

const char srdfi_dack_ctx = 'D';

int srdfi_tx_init(struct srdfi_ep *ep)
{
	srdfi_list_init(&ep->tx_free);
	srdfi_list_init(&ep->tx_queue);
	srdfi_list_init(&ep->tx_flight);
	srdfi_list_init(&ep->dacks);
	srdfi_list_init(&ep->bounces);
	ep->txs = calloc(ep->tx_size, sizeof(*ep->txs));
	if (!ep->txs)
		return -FI_ENOMEM;
	for (size_t i = 0; i < ep->tx_size; i++)
		srdfi_list_add_tail(&ep->tx_free, &ep->txs[i].link);
	return 0;
}

/* Give a streamed piece's buffer back to the region and forget it. */
static void bounce_free(struct srdfi_ep *ep, struct srdfi_bounce *b)
{
	srdc_buf_free(ep->dom->h, b->buf);
	srdfi_list_del(&b->link);
	free(b);
}

void srdfi_tx_fini(struct srdfi_ep *ep)
{
	if (!ep->txs)
		return;
	while (ep->bounces.next && !srdfi_list_empty(&ep->bounces))
		bounce_free(ep, srdfi_container(ep->bounces.next, struct srdfi_bounce, link));
	for (size_t i = 0; i < ep->tx_size; i++)
		free(ep->txs[i].copy);
	while (ep->dacks.next && !srdfi_list_empty(&ep->dacks)) {
		struct srdfi_dack *k = srdfi_container(ep->dacks.next, struct srdfi_dack, link);

		srdfi_list_del(&k->link);
		free(k);
	}
	free(ep->txs);
	ep->txs = NULL;
}

static struct srdfi_tx *tx_get(struct srdfi_ep *ep)
{
	struct srdfi_tx *tx;

	if (srdfi_list_empty(&ep->tx_free))
		return NULL;
	tx = srdfi_container(ep->tx_free.next, struct srdfi_tx, link);
	srdfi_list_del(&tx->link);
	ep->tx_used++;
	return tx;
}

static void tx_put(struct srdfi_tx *tx)
{
	struct srdfi_ep *ep = tx->ep;

	free(tx->copy);
	tx->copy = NULL;
	srdfi_list_del(&tx->link);
	srdfi_list_add_tail(&ep->tx_free, &tx->link);
	ep->tx_used--;
}

/* Up to max pieces of iov covering [off, off + len) into out; returns how many. */
static unsigned gather(const struct iovec *iov, size_t count, uint64_t off, uint64_t len,
		       struct srdc_iov *out, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < count && len && n < max; i++) {
		uint64_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		out[n].base = (const uint8_t *)iov[i].iov_base + off;
		out[n++].len = take;
		len -= take;
		off = 0;
	}
	return n;
}

/*
 * The context of an srdd send names a struct srdfi_tx (libsrd copied the piece) or a
 * struct srdfi_bounce (the provider did): both are allocated with at least 8-byte
 * alignment, so the low bit tells which.
 */
#define BOUNCE_BIT ((uintptr_t)1)

static void *bounce_ctx(struct srdfi_bounce *b)
{
	return (void *)((uintptr_t)b | BOUNCE_BIT);
}

/* Send one piece of a message of SRD_COPY_PICK_MIN bytes or more through a buffer the
 * provider fills itself: iov[0] is its header, iov[1..n) its payload, piece bytes.
 * Returns srdc_send's answer (-EAGAIN also when the region has no room). */
static int send_bounced(struct srdfi_tx *tx, const struct srdc_iov *iov, unsigned n,
			uint64_t piece)
{
	struct srdfi_ep *ep = tx->ep;
	size_t len = iov[0].len + piece, at = 0;
	struct srdfi_bounce *b = malloc(sizeof(*b));
	struct srdc_iov whole;
	uint8_t *buf;
	int rc;

	if (!b)
		return -ENOMEM;
	buf = srdc_buf_alloc(ep->dom->h, len);
	if (!buf) {
		free(b);
		return -EAGAIN; /* the region's send area is full until sends complete */
	}
	for (unsigned i = 0; i < n; at += iov[i].len, i++) {
		if (i == 0)
			memcpy(buf, iov[0].base, iov[0].len); /* the provider's header */
		else
			srd_copy_picked_chunks(&ep->dom->tx_pick, buf + at, iov[i].base,
					       iov[i].len);
	}
	whole.base = buf;
	whole.len = len;
	b->tx = tx;
	b->buf = buf;
	srdfi_list_add_tail(&ep->bounces, &b->link);
	rc = srdc_send(ep->sep, &tx->dst, &whole, 1, tx->tag,
		       (tx->flags & FI_REMOTE_CQ_DATA) ? tx->data : 0, bounce_ctx(b));
	if (rc)
		bounce_free(ep, b); /* -EAGAIN (a full submission ring: rare) copies again later */
	return rc;
}

/* Hand the rest of tx to srdd, piece by piece.  Returns 0 (all handed), -FI_EAGAIN
 * (srdd is full: the rest waits), or another negative error for the message. */
static int tx_push(struct srdfi_tx *tx)
{
	struct srdfi_ep *ep = tx->ep;
	size_t segment = ep->dom->segment;
	bool seg = tx->len > segment, own_copy = tx->len >= SRD_COPY_PICK_MIN;

	do {
		uint64_t piece = seg ? (tx->len - tx->sent < segment ? tx->len - tx->sent : segment)
				     : tx->len;
		struct srdfi_hdr h = {
			.version = SRDFI_WIRE_VERSION,
			.op = tx->op,
			.flags = (uint16_t)(((tx->flags & FI_REMOTE_CQ_DATA) ? SRDFI_H_DATA : 0) |
					    (tx->dack_due ? SRDFI_H_DC : 0) | (seg ? SRDFI_H_SEG : 0)),
			.msg_id = tx->msg_id,
		};
		struct srdfi_seg s = { .total = tx->len, .offset = tx->sent };
		uint8_t hbuf[SRDFI_HDR_LEN + SRDFI_SEG_LEN];
		struct srdc_iov iov[1 + SRDFI_IOV_LIMIT];
		unsigned n;
		int rc;

		iov[0].base = hbuf;
		iov[0].len = srdfi_hdr_encode(hbuf, &h, &s);
		n = 1 + gather(tx->iov, tx->iov_count, tx->sent - tx->iov_off, piece, iov + 1,
			       SRDFI_IOV_LIMIT);
		if (own_copy)
			rc = send_bounced(tx, iov, n, piece);
		else
			rc = srdc_send(ep->sep, &tx->dst, iov, n, tx->tag,
				       (tx->flags & FI_REMOTE_CQ_DATA) ? tx->data : 0, tx);
		if (rc == -EAGAIN)
			return -FI_EAGAIN;
		if (rc)
			return rc;
		tx->pieces_out++;
		tx->sent += piece;
	} while (tx->sent < tx->len);
	return 0;
}

/* Report tx if it is done (every piece taken and completed, and its DACK in if one is
 * due), and free its record. */
static void tx_finish(struct srdfi_tx *tx)
{
	struct srdfi_ep *ep = tx->ep;
	int err;

	if (tx->pieces_out || tx->queued || (tx->sent < tx->len && !tx->status) ||
	    (tx->dack_due && !tx->status))
		return;
	err = tx->status ? -tx->status : 0;
	srdfi_ep_complete_tx(ep, tx->context, tx->flags, tx->len, err, -tx->status);
	tx_put(tx);
}

void srdfi_tx_send_done(void *ctx, int status)
{
	struct srdfi_tx *tx = ctx;

	if ((uintptr_t)ctx & BOUNCE_BIT) {
		struct srdfi_bounce *b = (void *)((uintptr_t)ctx & ~BOUNCE_BIT);

		tx = b->tx;
		bounce_free(tx->ep, b);
	}
	if (tx->pieces_out)
		tx->pieces_out--;
	if (status && !tx->status)
		tx->status = status;
	tx_finish(tx);
}

void srdfi_tx_dack(struct srdfi_ep *ep, const struct srdc_addr *src, uint32_t msg_id,
		   bool dropped)
{
	for (struct srdfi_list *l = ep->tx_flight.next; l != &ep->tx_flight; l = l->next) {
		struct srdfi_tx *tx = srdfi_container(l, struct srdfi_tx, link);

		if (tx->msg_id == msg_id && tx->dack_due && tx->dst.ipv4 == src->ipv4 &&
		    tx->dst.ep == src->ep) {
			tx->dack_due = 0;
			if (dropped && !tx->status)
				tx->status = -ECANCELED; /* delivered, but nobody took it */
			tx_finish(tx);
			return;
		}
	}
	/* a DACK for nothing we wait for (a forged or late one): ignored */
}

/* Copy what an injected send still has to hand over, so the caller's buffer is free. */
static int tx_keep_copy(struct srdfi_tx *tx)
{
	uint64_t rest = tx->len - tx->sent;
	struct srdc_iov pieces[SRDFI_IOV_LIMIT];
	unsigned n = gather(tx->iov, tx->iov_count, tx->sent - tx->iov_off, rest, pieces,
			    SRDFI_IOV_LIMIT);
	uint8_t *p = malloc(rest ? rest : 1);

	if (!p)
		return -FI_ENOMEM;
	for (unsigned i = 0, off = 0; i < n; off += (unsigned)pieces[i].len, i++)
		memcpy(p + off, pieces[i].base, pieces[i].len);
	tx->copy = p;
	tx->iov[0].iov_base = p; /* bytes [sent, len) of the message */
	tx->iov[0].iov_len = rest;
	tx->iov_count = 1;
	tx->iov_off = tx->sent;
	return 0;
}

/* Fail a send that never fully went (its pieces already handed still complete). */
static void tx_fail(struct srdfi_tx *tx, int status)
{
	if (!tx->status)
		tx->status = status;
	if (tx->queued) {
		tx->queued = 0;
		srdfi_list_del(&tx->link);
		srdfi_list_add_tail(&tx->ep->tx_flight, &tx->link);
	}
	tx->dack_due = 0;
	tx_finish(tx);
}

static void dacks_flush(struct srdfi_ep *ep)
{
	while (!srdfi_list_empty(&ep->dacks)) {
		struct srdfi_dack *k = srdfi_container(ep->dacks.next, struct srdfi_dack, link);
		struct srdfi_hdr h = { .version = SRDFI_WIRE_VERSION, .op = SRDFI_OP_DACK,
				       .flags = k->dropped ? SRDFI_H_DROPPED : 0, .msg_id = k->msg_id };
		uint8_t hbuf[SRDFI_HDR_LEN];
		struct srdc_iov iov = { .base = hbuf, .len = srdfi_hdr_encode(hbuf, &h, NULL) };
		int rc = srdc_send(ep->sep, &k->dst, &iov, 1, 0, 0, (void *)&srdfi_dack_ctx);

		if (rc == -EAGAIN)
			return;
		if (rc == 0)
			ep->dacks_out++;
		srdfi_list_del(&k->link);
		free(k);
	}
}

void srdfi_tx_send_dack(struct srdfi_ep *ep, const struct srdc_addr *dst, uint32_t msg_id,
			bool dropped)
{
	struct srdfi_dack *k = malloc(sizeof(*k));

	if (!k) {
		ep->dom->lost_errors++;
		SRDFI_WARN(FI_LOG_EP_DATA, "out of memory for a delivery ack\n");
		return;
	}
	k->dst = *dst;
	k->msg_id = msg_id;
	k->dropped = dropped;
	srdfi_list_add_tail(&ep->dacks, &k->link);
	dacks_flush(ep);
}

void srdfi_tx_flush(struct srdfi_ep *ep)
{
	if (!ep->sep || ep->dom->dead)
		return;
	dacks_flush(ep);
	while (!srdfi_list_empty(&ep->tx_queue)) {
		struct srdfi_tx *tx = srdfi_container(ep->tx_queue.next, struct srdfi_tx, link);
		int rc = tx->status ? tx->status : tx_push(tx);

		if (rc == -FI_EAGAIN)
			return;
		tx->queued = 0;
		srdfi_list_del(&tx->link);
		srdfi_list_add_tail(&ep->tx_flight, &tx->link);
		if (rc)
			tx_fail(tx, rc);
		else
			tx_finish(tx);
	}
}

void srdfi_tx_fail_all(struct srdfi_ep *ep, int err)
{
	while (!srdfi_list_empty(&ep->tx_queue))
		tx_fail(srdfi_container(ep->tx_queue.next, struct srdfi_tx, link), -err);
	while (!srdfi_list_empty(&ep->tx_flight)) {
		struct srdfi_tx *tx = srdfi_container(ep->tx_flight.next, struct srdfi_tx, link);

		tx->pieces_out = 0; /* srdd is gone: no completion will come */
		tx_fail(tx, -err);
	}
	while (!srdfi_list_empty(&ep->bounces))
		bounce_free(ep, srdfi_container(ep->bounces.next, struct srdfi_bounce, link));
	while (!srdfi_list_empty(&ep->dacks)) {
		struct srdfi_dack *k = srdfi_container(ep->dacks.next, struct srdfi_dack, link);

		srdfi_list_del(&k->link);
		free(k);
	}
}

/* ---- posting ---- */

#define SRDFI_TX_FLAGS (FI_COMPLETION | FI_INJECT | FI_INJECT_COMPLETE | FI_TRANSMIT_COMPLETE | \
			FI_DELIVERY_COMPLETE | FI_REMOTE_CQ_DATA | FI_MORE | FI_FENCE)

static ssize_t tx_post(struct srdfi_ep *ep, uint8_t op, const struct iovec *iov, size_t count,
		       fi_addr_t dest, uint64_t tag, uint64_t data, void *context,
		       uint64_t flags)
{
	struct srdfi_domain *d = ep->dom;
	struct srdfi_tx *tx;
	uint64_t len = 0;
	int rc;

	if (count > SRDFI_IOV_LIMIT || (count && !iov) || (flags & ~(SRDFI_TX_FLAGS |
									  SRDFI_TX_SILENT)))
		return -FI_EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -FI_EINVAL;
		len += iov[i].iov_len;
	}
	if (len > SRDFI_MAX_MSG)
		return -FI_EMSGSIZE;
	if ((flags & FI_INJECT) && len > SRDFI_INJECT_SIZE)
		return -FI_EMSGSIZE;
	srdfi_lock(d);
	if (!ep->enabled) {
		srdfi_unlock(d);
		return -FI_EOPBADSTATE;
	}
	if (d->dead) {
		srdfi_unlock(d);
		return -FI_ENOTCONN;
	}
	tx = tx_get(ep);
	if (!tx) {
		srdfi_progress(d); /* completions free records */
		tx = tx_get(ep);
		if (!tx) {
			srdfi_unlock(d);
			return -FI_EAGAIN;
		}
	}
	memset(tx, 0, sizeof(*tx));
	srdfi_list_init(&tx->link);
	tx->ep = ep;
	tx->op = op;
	tx->context = context;
	tx->flags = flags | FI_SEND | (op == SRDFI_OP_TAGGED ? FI_TAGGED : FI_MSG);
	tx->tag = tag;
	tx->data = data;
	tx->len = len;
	tx->iov_count = count;
	memcpy(tx->iov, iov, count * sizeof(*iov));
	tx->msg_id = ep->next_msg_id++;
	tx->dack_due = (flags & FI_DELIVERY_COMPLETE) ? 1 : 0;
	if (srdfi_av_get(ep->av, dest, &tx->dst)) {
		srdfi_list_add_tail(&ep->tx_flight, &tx->link);
		tx_put(tx);
		srdfi_unlock(d);
		return -FI_EINVAL; /* not an address of the AV */
	}
	rc = srdfi_list_empty(&ep->tx_queue) ? tx_push(tx) : -FI_EAGAIN;
	if (rc == -FI_EAGAIN) {
		/* srdd is full, or earlier sends wait: this one waits behind them */
		if ((flags & FI_INJECT) && tx_keep_copy(tx)) {
			srdfi_list_add_tail(&ep->tx_flight, &tx->link);
			tx->status = -ENOMEM;
			tx_finish(tx);
			srdfi_unlock(d);
			return -FI_ENOMEM;
		}
		tx->queued = 1;
		srdfi_list_add_tail(&ep->tx_queue, &tx->link);
		srdfi_progress(d);
		srdfi_unlock(d);
		return 0;
	}
	srdfi_list_add_tail(&ep->tx_flight, &tx->link);
	if (rc) {
		/* nothing of it went, or srdd refused a piece: the call fails if none went */
		if (tx->pieces_out == 0) {
			tx_put(tx);
			if (rc == -ENOTCONN)
				srdfi_progress(d); /* learns that srdd is gone: fails the rest */
			srdfi_unlock(d);
			return rc;
		}
		tx_fail(tx, rc);
	}
	srdfi_unlock(d);
	return 0;
}

/* The completion level and FI_COMPLETION of a call without flags. */
static uint64_t default_flags(const struct srdfi_ep *ep)
{
	return ep->tx_op_flags & (FI_COMPLETION | FI_INJECT_COMPLETE | FI_TRANSMIT_COMPLETE |
				  FI_DELIVERY_COMPLETE | FI_INJECT);
}

static struct srdfi_ep *ep_of(struct fid_ep *fid)
{
	return srdfi_container(fid, struct srdfi_ep, fid);
}

/* ---- fi_ops_msg ---- */

static ssize_t msg_send(struct fid_ep *fid, const void *buf, size_t len, void *desc,
			fi_addr_t dest, void *context)
{
	struct iovec iov = { (void *)buf, len };

	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_MSG, &iov, 1, dest, 0, 0, context,
		       default_flags(ep_of(fid)));
}

static ssize_t msg_sendv(struct fid_ep *fid, const struct iovec *iov, void **desc,
			 size_t count, fi_addr_t dest, void *context)
{
	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_MSG, iov, count, dest, 0, 0, context,
		       default_flags(ep_of(fid)));
}

static ssize_t msg_sendmsg(struct fid_ep *fid, const struct fi_msg *msg, uint64_t flags)
{
	if (!msg)
		return -FI_EINVAL;
	return tx_post(ep_of(fid), SRDFI_OP_MSG, msg->msg_iov, msg->iov_count, msg->addr, 0,
		       msg->data, msg->context, flags);
}

static ssize_t msg_senddata(struct fid_ep *fid, const void *buf, size_t len, void *desc,
			    uint64_t data, fi_addr_t dest, void *context)
{
	struct iovec iov = { (void *)buf, len };

	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_MSG, &iov, 1, dest, 0, data, context,
		       default_flags(ep_of(fid)) | FI_REMOTE_CQ_DATA);
}

static ssize_t msg_inject(struct fid_ep *fid, const void *buf, size_t len, fi_addr_t dest)
{
	struct iovec iov = { (void *)buf, len };

	return tx_post(ep_of(fid), SRDFI_OP_MSG, &iov, 1, dest, 0, 0, NULL,
		       FI_INJECT | SRDFI_TX_SILENT);
}

static ssize_t msg_injectdata(struct fid_ep *fid, const void *buf, size_t len, uint64_t data,
			      fi_addr_t dest)
{
	struct iovec iov = { (void *)buf, len };

	return tx_post(ep_of(fid), SRDFI_OP_MSG, &iov, 1, dest, 0, data, NULL,
		       FI_INJECT | FI_REMOTE_CQ_DATA | SRDFI_TX_SILENT);
}

static ssize_t msg_recv(struct fid_ep *fid, void *buf, size_t len, void *desc, fi_addr_t src,
			void *context)
{
	struct iovec iov = { buf, len };

	(void)desc;
	return srdfi_rx_post(ep_of(fid), &iov, 1, src, 0, 0, context,
			     ep_of(fid)->rx_op_flags | FI_MSG);
}

static ssize_t msg_recvv(struct fid_ep *fid, const struct iovec *iov, void **desc,
			 size_t count, fi_addr_t src, void *context)
{
	(void)desc;
	return srdfi_rx_post(ep_of(fid), iov, count, src, 0, 0, context,
			     ep_of(fid)->rx_op_flags | FI_MSG);
}

static ssize_t msg_recvmsg(struct fid_ep *fid, const struct fi_msg *msg, uint64_t flags)
{
	if (!msg)
		return -FI_EINVAL;
	return srdfi_rx_post(ep_of(fid), msg->msg_iov, msg->iov_count, msg->addr, 0, 0,
			     msg->context, flags | FI_MSG);
}

const struct fi_ops_msg srdfi_msg_ops = {
	.size = sizeof(struct fi_ops_msg),
	.recv = msg_recv,
	.recvv = msg_recvv,
	.recvmsg = msg_recvmsg,
	.send = msg_send,
	.sendv = msg_sendv,
	.sendmsg = msg_sendmsg,
	.inject = msg_inject,
	.senddata = msg_senddata,
	.injectdata = msg_injectdata,
};

/* ---- fi_ops_tagged ---- */

static ssize_t tag_send(struct fid_ep *fid, const void *buf, size_t len, void *desc,
			fi_addr_t dest, uint64_t tag, void *context)
{
	struct iovec iov = { (void *)buf, len };

	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, &iov, 1, dest, tag, 0, context,
		       default_flags(ep_of(fid)));
}

static ssize_t tag_sendv(struct fid_ep *fid, const struct iovec *iov, void **desc,
			 size_t count, fi_addr_t dest, uint64_t tag, void *context)
{
	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, iov, count, dest, tag, 0, context,
		       default_flags(ep_of(fid)));
}

static ssize_t tag_sendmsg(struct fid_ep *fid, const struct fi_msg_tagged *msg, uint64_t flags)
{
	if (!msg)
		return -FI_EINVAL;
	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, msg->msg_iov, msg->iov_count, msg->addr,
		       msg->tag, msg->data, msg->context, flags);
}

static ssize_t tag_senddata(struct fid_ep *fid, const void *buf, size_t len, void *desc,
			    uint64_t data, fi_addr_t dest, uint64_t tag, void *context)
{
	struct iovec iov = { (void *)buf, len };

	(void)desc;
	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, &iov, 1, dest, tag, data, context,
		       default_flags(ep_of(fid)) | FI_REMOTE_CQ_DATA);
}

static ssize_t tag_inject(struct fid_ep *fid, const void *buf, size_t len, fi_addr_t dest,
			  uint64_t tag)
{
	struct iovec iov = { (void *)buf, len };

	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, &iov, 1, dest, tag, 0, NULL,
		       FI_INJECT | SRDFI_TX_SILENT);
}

static ssize_t tag_injectdata(struct fid_ep *fid, const void *buf, size_t len, uint64_t data,
			      fi_addr_t dest, uint64_t tag)
{
	struct iovec iov = { (void *)buf, len };

	return tx_post(ep_of(fid), SRDFI_OP_TAGGED, &iov, 1, dest, tag, data, NULL,
		       FI_INJECT | FI_REMOTE_CQ_DATA | SRDFI_TX_SILENT);
}

static ssize_t tag_recv(struct fid_ep *fid, void *buf, size_t len, void *desc, fi_addr_t src,
			uint64_t tag, uint64_t ignore, void *context)
{
	struct iovec iov = { buf, len };

	(void)desc;
	return srdfi_rx_post(ep_of(fid), &iov, 1, src, tag, ignore, context,
			     ep_of(fid)->rx_op_flags | FI_TAGGED);
}

static ssize_t tag_recvv(struct fid_ep *fid, const struct iovec *iov, void **desc,
			 size_t count, fi_addr_t src, uint64_t tag, uint64_t ignore,
			 void *context)
{
	(void)desc;
	return srdfi_rx_post(ep_of(fid), iov, count, src, tag, ignore, context,
			     ep_of(fid)->rx_op_flags | FI_TAGGED);
}

static ssize_t tag_recvmsg(struct fid_ep *fid, const struct fi_msg_tagged *msg, uint64_t flags)
{
	if (!msg)
		return -FI_EINVAL;
	return srdfi_rx_post(ep_of(fid), msg->msg_iov, msg->iov_count, msg->addr, msg->tag,
			     msg->ignore, msg->context, flags | FI_TAGGED);
}

const struct fi_ops_tagged srdfi_tagged_ops = {
	.size = sizeof(struct fi_ops_tagged),
	.recv = tag_recv,
	.recvv = tag_recvv,
	.recvmsg = tag_recvmsg,
	.send = tag_send,
	.sendv = tag_sendv,
	.sendmsg = tag_sendmsg,
	.inject = tag_inject,
	.senddata = tag_senddata,
	.injectdata = tag_injectdata,
};
