/*
 * ep.c — endpoints: creation (an srdd endpoint on the domain's address, ordered when the
 * application asked for FI_ORDER_SAS), binding to AVs, CQs, counters and EQs, enabling,
 * names, options, cancel, close, and how completions reach the CQ and counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "noop.h"
#include "srdfi.h"

#define SRDFI_CLOSE_DRAIN_MS 5000 /* longest fi_close waits for srdd to cancel our sends */

/* ---- completions ---- */

void srdfi_ep_complete_tx(struct srdfi_ep *ep, void *context, uint64_t flags, size_t len,
			  int err, int prov_errno)
{
	(void)len;
	if (ep->closing)
		return;
	if (!err) {
		/* an inject counts, and reports nothing */
		if (ep->tx_cq && !(flags & SRDFI_TX_SILENT) &&
		    (!ep->tx_selective || (flags & FI_COMPLETION))) {
			struct srdfi_cqe c = {
				.e = { .op_context = context,
				       .flags = flags & (FI_SEND | FI_MSG | FI_TAGGED) },
				.src = FI_ADDR_NOTAVAIL,
			};

			srdfi_cq_write(ep->tx_cq, &c);
		}
		if (ep->cntr_send)
			srdfi_cntr_inc(ep->cntr_send);
		return;
	}
	if (ep->cntr_send)
		srdfi_cntr_inc_err(ep->cntr_send);
	if (ep->tx_cq && context) {
		srdfi_cq_write_err(ep->tx_cq, context, flags & (FI_SEND | FI_MSG | FI_TAGGED), 0, 0,
				   0, 0, err, prov_errno, FI_ADDR_NOTAVAIL,
				   srdfi_strerror(prov_errno ? -prov_errno : err));
		return;
	}
	/* no context to report it with (an inject, or a send without FI_COMPLETION and
	 * context): counted and said, never silent */
	ep->dom->lost_errors++;
	SRDFI_WARN(FI_LOG_EP_DATA, "a send without a context failed: %s\n",
		   srdfi_strerror(prov_errno ? -prov_errno : err));
}

void srdfi_ep_complete_rx(struct srdfi_ep *ep, uint64_t op_flags, const struct srdfi_cqe *c,
			  int err, size_t olen, int prov_errno)
{
	if (ep->closing)
		return;
	if (!err) {
		if (ep->rx_cq && (!ep->rx_selective || (op_flags & FI_COMPLETION)))
			srdfi_cq_write(ep->rx_cq, c);
		if (ep->cntr_recv)
			srdfi_cntr_inc(ep->cntr_recv);
		return;
	}
	if (ep->cntr_recv)
		srdfi_cntr_inc_err(ep->cntr_recv);
	if (ep->rx_cq && c->e.op_context) {
		srdfi_cq_write_err(ep->rx_cq, c->e.op_context, c->e.flags, c->e.len, c->e.tag,
				   c->e.data, olen, err, prov_errno, c->src,
				   prov_errno ? srdfi_strerror(-prov_errno) : NULL);
		return;
	}
	ep->dom->lost_errors++;
	SRDFI_WARN(FI_LOG_EP_DATA, "a receive without a context failed: %s\n",
		   srdfi_strerror(err));
}

fi_addr_t srdfi_ep_src(const struct srdfi_ep *ep, const struct srdc_addr *a)
{
	return srdfi_av_find(ep->av, a);
}

/* ---- fid operations ---- */

static int cntr_bind(struct srdfi_ep *ep, struct srdfi_cntr *c, uint64_t flags)
{
	static const uint64_t rma[4] = { FI_READ, FI_WRITE, FI_REMOTE_READ, FI_REMOTE_WRITE };

	if (flags & ~(FI_SEND | FI_RECV | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE))
		return -FI_EINVAL;
	if (((flags & FI_SEND) && ep->cntr_send) || ((flags & FI_RECV) && ep->cntr_recv))
		return -FI_EINVAL;
	for (int i = 0; i < 4; i++)
		if ((flags & rma[i]) && ep->cntr_rma[i])
			return -FI_EINVAL;
	if (flags & FI_SEND) {
		ep->cntr_send = c;
		c->refs++;
	}
	if (flags & FI_RECV) {
		ep->cntr_recv = c;
		c->refs++;
	}
	for (int i = 0; i < 4; i++) {
		if (flags & rma[i]) {
			ep->cntr_rma[i] = c;
			c->refs++;
		}
	}
	return 0;
}

static int cq_bind(struct srdfi_ep *ep, struct srdfi_cq *cq, uint64_t flags)
{
	if (flags & ~(FI_TRANSMIT | FI_RECV | FI_SELECTIVE_COMPLETION))
		return -FI_EINVAL;
	if (((flags & FI_TRANSMIT) && ep->tx_cq) || ((flags & FI_RECV) && ep->rx_cq))
		return -FI_EINVAL;
	if (flags & FI_TRANSMIT) {
		ep->tx_cq = cq;
		ep->tx_selective = flags & FI_SELECTIVE_COMPLETION;
		cq->refs++;
	}
	if (flags & FI_RECV) {
		ep->rx_cq = cq;
		ep->rx_selective = flags & FI_SELECTIVE_COMPLETION;
		cq->refs++;
	}
	return 0;
}

static int ep_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);
	int rc = 0;

	if (!bfid)
		return -FI_EINVAL;
	srdfi_lock(ep->dom);
	if (ep->enabled && bfid->fclass != FI_CLASS_CNTR) {
		srdfi_unlock(ep->dom);
		return -FI_EOPBADSTATE;
	}
	switch (bfid->fclass) {
	case FI_CLASS_AV: {
		struct srdfi_av *av = srdfi_container(bfid, struct srdfi_av, fid.fid);

		if (ep->av || flags || av->dom != ep->dom) {
			rc = -FI_EINVAL;
			break;
		}
		ep->av = av;
		av->refs++;
		break;
	}
	case FI_CLASS_CQ: {
		struct srdfi_cq *cq = srdfi_container(bfid, struct srdfi_cq, fid.fid);

		rc = cq->dom == ep->dom ? cq_bind(ep, cq, flags) : -FI_EINVAL;
		break;
	}
	case FI_CLASS_CNTR: {
		struct srdfi_cntr *c = srdfi_container(bfid, struct srdfi_cntr, fid.fid);

		rc = c->dom == ep->dom ? cntr_bind(ep, c, flags) : -FI_EINVAL;
		break;
	}
	case FI_CLASS_EQ:
		if (ep->eq) {
			rc = -FI_EINVAL;
			break;
		}
		ep->eq = srdfi_container(bfid, struct srdfi_eq, fid.fid);
		pthread_mutex_lock(&ep->eq->lock);
		ep->eq->refs++;
		pthread_mutex_unlock(&ep->eq->lock);
		break;
	default:
		rc = -FI_EINVAL;
		break;
	}
	srdfi_unlock(ep->dom);
	return rc;
}

static int ep_control(struct fid *fid, int command, void *arg)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);
	uint64_t *flags = arg;
	int rc = 0;

	srdfi_lock(ep->dom);
	switch (command) {
	case FI_ENABLE:
		if (!ep->av)
			rc = -FI_ENOAV;
		else if (!ep->tx_cq && !ep->cntr_send)
			rc = -FI_ENOCQ;
		else if (!ep->rx_cq && !ep->cntr_recv)
			rc = -FI_ENOCQ;
		else
			ep->enabled = true;
		break;
	case FI_GETOPSFLAG:
		if (!flags || !(*flags & (FI_TRANSMIT | FI_RECV)) ||
		    (*flags & FI_TRANSMIT && *flags & FI_RECV))
			rc = -FI_EINVAL;
		else
			*flags = (*flags & FI_TRANSMIT) ? ep->tx_op_flags : ep->rx_op_flags;
		break;
	case FI_SETOPSFLAG:
		if (!flags || !(*flags & (FI_TRANSMIT | FI_RECV)))
			rc = -FI_EINVAL;
		else if (*flags & FI_TRANSMIT)
			ep->tx_op_flags = *flags & ~(uint64_t)FI_TRANSMIT;
		else
			ep->rx_op_flags = *flags & ~(uint64_t)FI_RECV;
		break;
	default:
		rc = -FI_ENOSYS;
		break;
	}
	srdfi_unlock(ep->dom);
	return rc;
}

static ssize_t ep_cancel(fid_t fid, void *context)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);
	int rc;

	srdfi_lock(ep->dom);
	rc = srdfi_rx_cancel(ep, context);
	srdfi_unlock(ep->dom);
	return rc;
}

static int ep_getopt(fid_t fid, int level, int optname, void *optval, size_t *optlen)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);

	if (level != FI_OPT_ENDPOINT)
		return -FI_ENOPROTOOPT;
	switch (optname) {
	case FI_OPT_MIN_MULTI_RECV:
		if (!optval || !optlen || *optlen < sizeof(size_t))
			return -FI_ETOOSMALL;
		*(size_t *)optval = ep->min_multi_recv;
		*optlen = sizeof(size_t);
		return 0;
	default:
		return -FI_ENOPROTOOPT;
	}
}

static int ep_setopt(fid_t fid, int level, int optname, const void *optval, size_t optlen)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);

	if (level != FI_OPT_ENDPOINT)
		return -FI_ENOPROTOOPT;
	switch (optname) {
	case FI_OPT_MIN_MULTI_RECV:
		if (!optval || optlen != sizeof(size_t))
			return -FI_EINVAL;
		ep->min_multi_recv = *(const size_t *)optval;
		return 0;
	default:
		return -FI_ENOPROTOOPT;
	}
}

static ssize_t ep_rx_size_left(struct fid_ep *fid)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid);
	size_t posted = ep->rxq[0].nposted + ep->rxq[1].nposted;

	return posted < ep->rx_size ? (ssize_t)(ep->rx_size - posted) : 0;
}

static ssize_t ep_tx_size_left(struct fid_ep *fid)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid);

	return (ssize_t)(ep->tx_size - ep->tx_used);
}

static int ep_no_ctx(struct fid_ep *sep, int index, void *attr, struct fid_ep **out,
		     void *context)
{
	(void)sep, (void)index, (void)attr, (void)out, (void)context;
	return -FI_ENOSYS; /* scalable endpoints only */
}

static int ep_tx_ctx(struct fid_ep *sep, int index, struct fi_tx_attr *attr,
		     struct fid_ep **tx, void *context)
{
	return ep_no_ctx(sep, index, attr, tx, context);
}

static int ep_rx_ctx(struct fid_ep *sep, int index, struct fi_rx_attr *attr,
		     struct fid_ep **rx, void *context)
{
	return ep_no_ctx(sep, index, attr, rx, context);
}

static int ep_getname(fid_t fid, void *addr, size_t *addrlen)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);
	size_t len;

	if (!addrlen)
		return -FI_EINVAL;
	len = *addrlen;
	*addrlen = srdfi_fmt_len(ep->dom->addr_format);
	if (!addr || len < *addrlen)
		return -FI_ETOOSMALL;
	srdfi_fmt_encode(ep->dom->addr_format, addr, &ep->addr);
	return 0;
}

static int ep_setname(fid_t fid, void *addr, size_t addrlen)
{
	(void)fid, (void)addr, (void)addrlen;
	return -FI_EOPNOTSUPP; /* srdd names its endpoints */
}

static int ep_getpeer(struct fid_ep *ep, void *addr, size_t *addrlen)
{
	(void)ep, (void)addr, (void)addrlen;
	return -FI_EOPNOTSUPP; /* connectionless */
}

/* Progress until done(ep) or SRDFI_CLOSE_DRAIN_MS pass (then say what is left). */
static void ep_progress_until(struct srdfi_ep *ep, bool (*done)(const struct srdfi_ep *ep),
			      const char *what)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done(ep) && !srdfi_progress(ep->dom)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    SRDFI_CLOSE_DRAIN_MS) {
			SRDFI_WARN(FI_LOG_EP_CTRL, "closing with %s after %d ms\n", what,
				   SRDFI_CLOSE_DRAIN_MS);
			return;
		}
		srdfi_unlock(ep->dom);
		srdc_wait(ep->dom->h, 10);
		srdfi_lock(ep->dom);
	}
}

/* Every DACK owed has been delivered (peers wait for them). */
static bool dacks_delivered(const struct srdfi_ep *ep)
{
	return !ep->dacks_out && srdfi_list_empty(&ep->dacks);
}

/* srdd has finished (or cancelled) every send of ep: no completion can name a send record
 * after it is freed. */
static bool sends_settled(const struct srdfi_ep *ep)
{
	for (const struct srdfi_list *l = ep->tx_flight.next; l != &ep->tx_flight; l = l->next)
		if (srdfi_container(l, struct srdfi_tx, link)->pieces_out)
			return false;
	return true;
}

static int ep_close(struct fid *fid)
{
	struct srdfi_ep *ep = srdfi_container(fid, struct srdfi_ep, fid.fid);
	struct srdfi_domain *d = ep->dom;

	srdfi_lock(d);
	srdfi_rx_drop_unexpected(ep);
	ep_progress_until(ep, dacks_delivered, "delivery acks undelivered");
	ep->closing = true;
	srdc_ep_close(ep->sep); /* its unfinished sends complete with -ECANCELED */
	ep->sep = NULL;
	ep_progress_until(ep, sends_settled, "sends srdd did not cancel");
	srdfi_list_del(&ep->link);
	if (d->last_ep == ep)
		d->last_ep = NULL;
	srdfi_rx_fini(ep);
	srdfi_tx_fini(ep);
	if (ep->av)
		ep->av->refs--;
	if (ep->tx_cq)
		ep->tx_cq->refs--;
	if (ep->rx_cq)
		ep->rx_cq->refs--;
	if (ep->cntr_send)
		ep->cntr_send->refs--;
	if (ep->cntr_recv)
		ep->cntr_recv->refs--;
	for (int i = 0; i < 4; i++)
		if (ep->cntr_rma[i])
			ep->cntr_rma[i]->refs--;
	d->refs--;
	srdfi_unlock(d);
	if (ep->eq) {
		pthread_mutex_lock(&ep->eq->lock);
		ep->eq->refs--;
		pthread_mutex_unlock(&ep->eq->lock);
	}
	fi_freeinfo(ep->info);
	free(ep);
	return 0;
}

static struct fi_ops ep_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ep_close,
	.bind = ep_bind,
	.control = ep_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_ep ep_ops = {
	.size = sizeof(struct fi_ops_ep),
	.cancel = ep_cancel,
	.getopt = ep_getopt,
	.setopt = ep_setopt,
	.tx_ctx = ep_tx_ctx,
	.rx_ctx = ep_rx_ctx,
	.rx_size_left = ep_rx_size_left,
	.tx_size_left = ep_tx_size_left,
};

static struct fi_ops_cm ep_cm_ops = {
	.size = sizeof(struct fi_ops_cm),
	.setname = ep_setname,
	.getname = ep_getname,
	.getpeer = ep_getpeer,
	.connect = srdfi_no_connect,
	.listen = srdfi_no_listen,
	.accept = srdfi_no_accept,
	.reject = srdfi_no_reject,
	.shutdown = srdfi_no_shutdown,
	.join = srdfi_no_join,
};

int srdfi_endpoint(struct fid_domain *domain, struct fi_info *info, struct fid_ep **out,
		   void *context)
{
	struct srdfi_domain *d = srdfi_container(domain, struct srdfi_domain, fid);
	struct srdfi_ep *ep;
	int rc;

	if (!info || !out || !info->ep_attr || info->ep_attr->type != FI_EP_RDM ||
	    !info->tx_attr || !info->rx_attr)
		return -FI_EINVAL;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -FI_ENOMEM;
	ep->info = fi_dupinfo(info);
	if (!ep->info) {
		free(ep);
		return -FI_ENOMEM;
	}
	ep->dom = d;
	ep->caps = info->caps ? info->caps : d->info->caps;
	ep->tx_op_flags = info->tx_attr->op_flags;
	ep->rx_op_flags = info->rx_attr->op_flags;
	ep->ordered = ((info->tx_attr->msg_order | info->rx_attr->msg_order) & FI_ORDER_SAS) != 0;
	ep->tx_size = info->tx_attr->size ? info->tx_attr->size : SRDFI_TX_SIZE;
	ep->rx_size = info->rx_attr->size ? info->rx_attr->size : SRDFI_RX_SIZE;
	ep->min_multi_recv = SRDFI_MIN_MULTI_RECV;
	srdfi_lock(d);
	rc = srdfi_domain_attach(d);
	if (!rc) {
		rc = srdc_ep_open(d->h, d->ipv4, ep->ordered ? SRDC_ORDERED : 0, &ep->sep);
		if (rc)
			SRDFI_WARN(FI_LOG_EP_CTRL, "srdd refused an endpoint: %s\n", strerror(-rc));
	}
	if (!rc)
		rc = srdfi_tx_init(ep);
	if (!rc)
		rc = srdfi_rx_init(ep);
	if (rc) {
		if (ep->sep)
			srdc_ep_close(ep->sep);
		srdfi_tx_fini(ep);
		srdfi_unlock(d);
		fi_freeinfo(ep->info);
		free(ep);
		return rc;
	}
	ep->addr = srdc_ep_addr(ep->sep);
	srdfi_list_add_tail(&d->eps, &ep->link);
	d->refs++;
	srdfi_unlock(d);
	ep->fid.fid.fclass = FI_CLASS_EP;
	ep->fid.fid.context = context;
	ep->fid.fid.ops = &ep_fi_ops;
	ep->fid.ops = &ep_ops;
	ep->fid.cm = &ep_cm_ops;
	ep->fid.msg = (struct fi_ops_msg *)&srdfi_msg_ops;
	ep->fid.tagged = (struct fi_ops_tagged *)&srdfi_tagged_ops;
	ep->fid.rma = &srdfi_no_rma_ops;
	ep->fid.atomic = &srdfi_no_atomic_ops;
	*out = &ep->fid;
	return 0;
}
