/*
 * dp_worker_send.c — the worker's side of the apps' sends and receives: the engines'
 * callbacks (receive buffers in the apps' regions, deliveries and completions to their
 * rings), the records that carry a send through its engine, and the held queue of sends an
 * engine could not take yet (see dp_worker_int.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "dp_worker_int.h"

#define DP_HELD_MAX 1024u       /* app sends waiting for room in an engine */
#define DP_NRECS 16384u         /* app sends in flight in the engines */

/* An app send in an engine: what its tx_done needs to complete it. */
struct dp_sendrec {
	struct dp_shm_app *app; /* whose */
	uint64_t user_data;     /* the app's context */
	uint16_t ep;            /* sending endpoint */
	uint8_t silent;         /* no completion if it succeeds */
	uint8_t inline_msg;     /* the message is inline_data: no frame names app bytes */
	uint32_t next;          /* free list, or the deferred list */
	int32_t status;         /* a deferred failure: its error */
	uint64_t fence;         /* ... and the frames fence it waits for */
	uint8_t inline_data[SRD_SQE_INLINE_MAX]; /* an inline send's message: the engine reads
	                                            it until the send is done */
};

/* ---- engine callbacks ---- */

static void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct dp_wport *wp = user;
	void *app_ctx = NULL;
	int no_ep = 0;
	void *buf = NULL;

	if (wp->w->shm)
		buf = dp_shm_rx_alloc(wp->w->shm, wp->port->cfg->ipv4, msg->dst_ep, msg->len,
				      &app_ctx, &no_ep);
	else
		no_ep = 1;
	if (buf) {
		msg->buf_ctx = app_ctx;
		return buf;
	}
	/* nobody listens there: refused, the sender's message fails with -ENXIO; or the app's
	 * receive area is full: the sender is told to retry later */
	msg->no_endpoint = (uint8_t)no_ep;
	return NULL;
}

static int cb_rx_take(void *user, struct srd_rx_msg *msg)
{
	struct dp_wport *wp = user;
	void *app_ctx = NULL;
	int no_ep = 0, took;

	if (!wp->w->shm)
		return 0; /* rx_alloc says why not */
	took = dp_shm_rx_take(wp->w->shm, wp->port->cfg->ipv4, msg->dst_ep, msg->len, &app_ctx,
			      &no_ep);
	msg->buf_ctx = app_ctx;
	msg->no_endpoint = (uint8_t)no_ep;
	return took;
}

static void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct dp_wport *wp = user;

	wp->w->st.delivered++;
	if (msg->taken) {
		dp_shm_deliver_taken(wp->w->shm, msg->buf_ctx, msg->data, msg->len,
				     dp_peer_ip(msg->peer), msg->src_ep, msg->dst_ep, msg->tag,
				     msg->imm);
		return;
	}
	dp_shm_deliver(wp->w->shm, msg->buf_ctx, msg->buf, msg->len, dp_peer_ip(msg->peer),
		       msg->src_ep, msg->dst_ep, msg->tag, msg->imm);
}

static void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct dp_wport *wp = user;

	if (msg->taken)
		dp_shm_rx_untake(msg->buf_ctx, msg->len);
	else if (msg->buf_ctx)
		dp_shm_rx_abort(wp->w->shm, msg->buf_ctx, msg->buf);
}

static void cb_rx_place(void *user, const struct srd_rx_msg *msg, size_t off, const void *src,
			size_t len)
{
	(void)user;
	dp_shm_place(msg->buf_ctx, (uint8_t *)msg->buf + off, src, len, msg->len);
}

static void rec_free(struct dp_worker *w, struct dp_sendrec *r);

/*
 * A send is done.  A failed one whose bytes frames may still name (a resent copy, or one
 * the impairment stage holds) completes only once they are all freed: the app would write
 * its bytes again at the completion, and such a frame, reaching a receiver that had not yet
 * seen it, would deliver them as the message.  (After a success the receiver has every
 * segment: frames left are duplicates it drops unread.)
 */
static void cb_tx_done(void *user, void *ctx, int status)
{
	struct dp_wport *wp = user;
	struct dp_worker *w = wp->w;
	struct dp_sendrec *r = ctx;

	w->tx_dones++;
	if (status != 0 && w->shm && !r->inline_msg) {
		r->fence = dp_shm_frames_fence(r->app);
		if (!dp_shm_frames_passed(r->app, r->fence)) {
			r->status = status;
			r->next = UINT32_MAX;
			if (w->deferred_head == UINT32_MAX)
				w->deferred_head = (uint32_t)(r - w->recs);
			else
				w->recs[w->deferred_tail].next = (uint32_t)(r - w->recs);
			w->deferred_tail = (uint32_t)(r - w->recs);
			w->st.tx_errors_deferred++;
			w->unshare_held = 1; /* not from here: the engine may be mid-send */
			return;
		}
	}
	dp_shm_complete(w->shm, r->app, r->ep, r->user_data, r->silent, status);
	rec_free(w, r);
}

int dp_worker_complete_deferred(struct dp_worker *w)
{
	uint32_t i = w->deferred_head, prev = UINT32_MAX;
	struct dp_shm_app *waits = NULL; /* an app whose failure has not passed */
	int done = 0;

	if (w->unshare_held) {
		dp_worker_unshare_held(w);
		w->unshare_held = 0;
	}
	while (i != UINT32_MAX) {
		struct dp_sendrec *r = &w->recs[i];
		uint32_t next = r->next;

		/* an app's tickets grow along the list: behind one that waits, its others do */
		if (r->app == waits || !dp_shm_frames_passed(r->app, r->fence)) {
			waits = r->app;
			prev = i;
			i = next;
			continue;
		}
		if (prev == UINT32_MAX)
			w->deferred_head = next;
		else
			w->recs[prev].next = next;
		if (w->deferred_tail == i)
			w->deferred_tail = prev;
		dp_shm_complete(w->shm, r->app, r->ep, r->user_data, r->silent, r->status);
		rec_free(w, r);
		w->tx_dones++; /* a record for a held send */
		done++;
		i = next;
	}
	return done;
}

/* ---- send records ---- */

static struct dp_sendrec *rec_alloc(struct dp_worker *w)
{
	struct dp_sendrec *r;

	if (w->rec_free == UINT32_MAX)
		return NULL;
	r = &w->recs[w->rec_free];
	w->rec_free = r->next;
	return r;
}

static void rec_free(struct dp_worker *w, struct dp_sendrec *r)
{
	r->next = w->rec_free;
	w->rec_free = (uint32_t)(r - w->recs);
}

/* The worker's port for a local address, or NULL. */
static struct dp_wport *wport_by_addr(struct dp_worker *w, uint32_t ipv4)
{
	for (uint32_t i = 0; i < w->nports; i++)
		if (w->wp[i].port->cfg->ipv4 == ipv4)
			return &w->wp[i];
	return NULL;
}

/*
 * Hand one app send to its engine.  Returns 1 if it was taken (or failed for good and was
 * completed), 0 if it must wait (engine queue full, or no record).  An ordered endpoint's
 * sends go as fast as the others: the receiving engine puts them in order.
 */
static int submit_send(struct dp_worker *w, const struct dp_shm_send *s)
{
	struct dp_wport *wp = wport_by_addr(w, s->src_ip);
	struct srd_iov iov[SRD_SHM_MAX_IOV];
	struct dp_sendrec *r;
	int rc;

	if (!wp) {
		dp_shm_complete_send(w->shm, s, -EADDRNOTAVAIL);
		return 1;
	}
	if (dp_ep_worker(s->dst_ep) >= w->nworkers && wport_by_addr(w, s->dst_ip)) {
		/* an endpoint of this daemon that cannot exist: no worker owns that id */
		w->st.tx_no_worker++;
		dp_shm_complete_send(w->shm, s, -EADDRNOTAVAIL);
		return 1;
	}
	r = rec_alloc(w);
	if (!r)
		return 0;
	r->app = s->app;
	r->user_data = s->user_data;
	r->ep = s->ep;
	r->silent = s->silent;
	r->inline_msg = s->niov == 0;
	for (uint32_t i = 0; i < s->niov; i++)
		iov[i] = (struct srd_iov){ s->iov[i].base, s->iov[i].len };
	if (s->niov == 0) { /* inline: the ring slot is the app's again, keep a copy */
		memcpy(r->inline_data, s->inline_data, s->len);
		iov[0] = (struct srd_iov){ r->inline_data, s->len };
	}
	rc = srd_send(wp->eng, w->now, &(struct srd_send_req){
		.peer = dp_peer_key(s->dst_ip, dp_ep_worker(s->dst_ep)),
		.src_ep = s->ep,
		.dst_ep = s->dst_ep,
		.tag = s->tag,
		.imm = s->imm,
		.iov = iov,
		.iovcnt = s->niov ? s->niov : 1,
		.flags = s->ordered ? SRD_SEND_ORDERED : 0,
		.ctx = r,
	});
	if (rc == -EAGAIN) {
		rec_free(w, r);
		return 0;
	}
	if (rc) {
		rec_free(w, r);
		w->st.send_errors++;
		dp_shm_complete_send(w->shm, s, rc);
		return 1;
	}
	w->st.sends++;
	return 1;
}

/* Whether sends of endpoint ep must wait in the held queue: some of its sends wait there
 * already (an endpoint's sends go in order), or too many endpoints do to tell. */
static int held_waits(const struct dp_worker *w, uint16_t ep)
{
	if (w->held_neps == RTE_DIM(w->held_eps))
		return 1;
	for (uint32_t b = 0; b < w->held_neps; b++)
		if (w->held_eps[b] == ep)
			return 1;
	return 0;
}

/* Endpoint ep has sends in the held queue from now on. */
static void held_note(struct dp_worker *w, uint16_t ep)
{
	if (!held_waits(w, ep))
		w->held_eps[w->held_neps++] = ep;
}

/*
 * Submit held sends in order, each endpoint's first waiting send first: an endpoint whose
 * send is refused keeps its later ones waiting.  A send waits for a message slot of its
 * connection or a record, which only a finished send frees, so the queue is walked again
 * only once a send has finished, and only as far as an endpoint with a waiting send may
 * still be found untried; sends that go from its front move its head, nothing is copied
 * (walking and compacting a full queue every loop made each loop tens of microseconds
 * long, which the congestion control then took for a queue on the wire).
 * Returns how many went.
 */
static int submit_held(struct dp_worker *w)
{
	uint32_t n = w->held_n, cap = w->held_cap, kept = 0, went = 0, front = 0;
	uint32_t neps = w->held_neps, i;

	if (w->held_tried_at == w->tx_dones)
		return 0;
	w->held_tried_at = w->tx_dones; /* before: a send finished meanwhile brings us back */
	w->held_neps = 0; /* rebuilt: the endpoints refused again (after the walk, those with
			     sends still waiting) */
	for (i = 0; i < n; i++) {
		struct dp_shm_send *s = &w->held[(w->held_head + i) % cap];

		if (neps && neps < RTE_DIM(w->held_eps) && w->held_neps == neps)
			break; /* every endpoint in the queue was refused: the rest waits */
		if (!held_waits(w, s->ep) && submit_send(w, s)) {
			went++;
			front += kept == 0;
			continue;
		}
		held_note(w, s->ep);
		if (front + kept != i) /* below it, one went: close the gap */
			w->held[(w->held_head + front + kept) % cap] = *s;
		kept++;
	}
	for (; i < n; i++, kept++) /* not walked: still every one waiting, in order */
		if (front + kept != i)
			w->held[(w->held_head + front + kept) % cap] = w->held[(w->held_head + i) % cap];
	w->held_head = (w->held_head + front) % cap;
	w->held_n = kept;
	return (int)went;
}

int dp_worker_take_sends(struct dp_worker *w)
{
	struct dp_shm_send batch[DP_BURST];
	uint32_t room;
	int n, done = 0;

	if (!w->shm)
		return 0;
	if (w->held_n)
		done += submit_held(w);
	room = w->held_cap - w->held_n;
	n = dp_shm_take(w->shm, batch, (int)(room < DP_BURST ? room : DP_BURST));
	for (int i = 0; i < n; i++) {
		if (!held_waits(w, batch[i].ep) && submit_send(w, &batch[i])) {
			done++;
			continue;
		}
		held_note(w, batch[i].ep);
		w->held[(w->held_head + w->held_n) % w->held_cap] = batch[i];
		w->held_n++;
	}
	return done + n;
}

void dp_worker_callbacks(struct dp_wport *wp, struct srd_callbacks *cb)
{
	*cb = (struct srd_callbacks){
		.user = wp,
		.rx_alloc = cb_rx_alloc,
		.rx_take = cb_rx_take,
		.rx_deliver = cb_rx_deliver,
		.rx_abort = cb_rx_abort,
		.rx_place = cb_rx_place,
		.tx_done = cb_tx_done,
	};
}

int dp_worker_sends_init(struct dp_worker *w)
{
	w->held_cap = DP_HELD_MAX;
	w->held = calloc(DP_HELD_MAX, sizeof(*w->held));
	w->recs = calloc(DP_NRECS, sizeof(*w->recs));
	if (!w->held || !w->recs) {
		free(w->held);
		free(w->recs);
		w->held = NULL;
		w->recs = NULL;
		return -ENOMEM;
	}
	w->nrecs = DP_NRECS;
	w->deferred_head = w->deferred_tail = UINT32_MAX;
	for (uint32_t i = 0; i < DP_NRECS; i++)
		w->recs[i].next = i + 1 < DP_NRECS ? i + 1 : UINT32_MAX;
	w->rec_free = 0;
	return 0;
}

void dp_worker_sends_fini(struct dp_worker *w)
{
	/* sends taken but never handed to an engine (only taken when there are apps) */
	for (uint32_t i = 0; i < w->held_n; i++)
		dp_shm_complete_send(w->shm, &w->held[(w->held_head + i) % w->held_cap], -ECANCELED);
	w->held_n = 0;
	/* failures waiting for frames: the ports send nothing more */
	for (uint32_t i = w->recs ? w->deferred_head : UINT32_MAX; i != UINT32_MAX;
	     i = w->recs[i].next)
		dp_shm_complete(w->shm, w->recs[i].app, w->recs[i].ep, w->recs[i].user_data,
				w->recs[i].silent, w->recs[i].status);
	w->deferred_head = w->deferred_tail = UINT32_MAX;
	free(w->held);
	free(w->recs);
	w->held = NULL;
	w->recs = NULL;
}
