/*
 * domain.c — a domain: one attachment to srdd (made when the first endpoint opens, so that
 * AVs, CQs and counters work without a daemon), the progress engine that hands srdd's
 * completions to the endpoints, the blocking waits, and memory regions.
 *
 * Progress is manual: every data call and every CQ or counter read runs it.  A completion
 * names a send (its context is the provider's send record) or a received message (the
 * endpoint is found by srdd's endpoint handle).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "noop.h"
#include "srdfi.h"

#define SRDFI_POLL_BATCH 64 /* completions taken from srdd per srdc_poll */

void srdfi_lock(struct srdfi_domain *d)
{
	if (d->thread_safe)
		pthread_mutex_lock(&d->lock);
}

void srdfi_unlock(struct srdfi_domain *d)
{
	if (d->thread_safe)
		pthread_mutex_unlock(&d->lock);
}

/* A yield that returns later than this gave the CPU to another process. */
#define SRDFI_YIELD_SHARED_NS 1000u
/* Yields in a row that return at once before the core is taken for the caller's own. */
#define SRDFI_QUICK_YIELDS 64
/* On a core of its own, a wait yields (to see whether that is still so) this often. */
#define SRDFI_PROBE_NS 50000u

/*
 * Under FI_SRD_YIELD unset, a process that shares its core (with its peer, or with srdd:
 * three busy processes on two CPUs) must give the CPU away at once, or a message waits for
 * the scheduler's time slice (milliseconds), while one with a core of its own should spin.
 * Which it is shows in the yields themselves: one that returns at once (about 0.15 µs)
 * found nobody else to run.  So a wait (reads that find nothing) spins FI_SRD_SPIN_US, then
 * yields once to see; if that yield took longer than SRDFI_YIELD_SHARED_NS, empty reads
 * yield at once from then on, until SRDFI_QUICK_YIELDS yields in a row have returned at
 * once; if not, the wait spins on, yielding once every SRDFI_PROBE_NS to look again.
 */
bool srdfi_read_idle(struct srdfi_domain *d, bool busy)
{
	uint64_t now;

	if (d->yield != SRDFI_YIELD_AUTO)
		return d->yield && !busy;
	if (busy) {
		d->idle_since_ns = 0;
		return false;
	}
	if (__atomic_load_n(&d->cpu_shared, __ATOMIC_RELAXED))
		return true;
	/* the clock only on reads that find nothing: a run of them is a wait */
	now = srdfi_now_ns() | 1; /* never 0 */
	if (d->idle_since_ns == 0)
		d->idle_since_ns = now;
	return now - d->idle_since_ns >= d->spin_ns &&
	       now >= __atomic_load_n(&d->probe_after_ns, __ATOMIC_RELAXED);
}

void srdfi_yield_note(struct srdfi_domain *d, uint64_t took_ns, uint64_t now)
{
	if (took_ns > SRDFI_YIELD_SHARED_NS) {
		__atomic_store_n(&d->quick_yields, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&d->cpu_shared, 1, __ATOMIC_RELAXED);
	} else if (!__atomic_load_n(&d->cpu_shared, __ATOMIC_RELAXED)) {
		__atomic_store_n(&d->probe_after_ns, now + SRDFI_PROBE_NS, __ATOMIC_RELAXED);
	} else if (__atomic_add_fetch(&d->quick_yields, 1, __ATOMIC_RELAXED) >=
		   SRDFI_QUICK_YIELDS) {
		__atomic_store_n(&d->cpu_shared, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&d->probe_after_ns, now + SRDFI_PROBE_NS, __ATOMIC_RELAXED);
	}
}

void srdfi_yield(struct srdfi_domain *d)
{
	uint64_t t0, t1;

	if (d->yield != SRDFI_YIELD_AUTO) {
		sched_yield();
		return;
	}
	t0 = srdfi_now_ns();
	sched_yield();
	t1 = srdfi_now_ns();
	srdfi_yield_note(d, t1 - t0, t1);
}

/* ---- the attachment ---- */

/* Join srdd's fd to a waiter's epoll. */
static int watch_fd(int wait_fd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (epoll_ctl(wait_fd, EPOLL_CTL_ADD, fd, &ev) && errno != EEXIST)
		return -errno;
	return 0;
}

int srdfi_waiter_open(struct srdfi_domain *d, struct srdfi_waiter *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	w->signal_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->signal_fd < 0 || w->wait_fd < 0 ||
	    epoll_ctl(w->wait_fd, EPOLL_CTL_ADD, w->signal_fd, &ev)) {
		rc = -errno;
		goto err;
	}
	if (d->h && (rc = watch_fd(w->wait_fd, srdc_fd(d->h))))
		goto err;
	srdfi_list_add_tail(&d->waiters, &w->link);
	return 0;
err:
	if (w->signal_fd >= 0)
		close(w->signal_fd);
	if (w->wait_fd >= 0)
		close(w->wait_fd);
	w->signal_fd = w->wait_fd = -1;
	srdfi_list_init(&w->link);
	return rc;
}

void srdfi_waiter_close(struct srdfi_waiter *w)
{
	if (w->wait_fd < 0)
		return;
	srdfi_list_del(&w->link);
	close(w->signal_fd);
	close(w->wait_fd);
	w->signal_fd = w->wait_fd = -1;
}

int srdfi_waiter_control(const struct srdfi_waiter *w, int command, void *arg)
{
	switch (command) {
	case FI_GETWAIT:
		if (w->wait_fd < 0)
			return -FI_ENODATA;
		*(int *)arg = w->wait_fd;
		return 0;
	case FI_GETWAITOBJ:
		*(enum fi_wait_obj *)arg = w->obj;
		return 0;
	default:
		return -FI_ENOSYS;
	}
}

void srdfi_waiter_signal(struct srdfi_waiter *w)
{
	uint64_t one = 1;

	if (w->signal_fd >= 0)
		(void)!write(w->signal_fd, &one, sizeof(one));
}

void srdfi_waiter_drain(struct srdfi_waiter *w)
{
	uint64_t v;

	if (w->signal_fd >= 0)
		(void)!read(w->signal_fd, &v, sizeof(v));
}

int srdfi_domain_attach(struct srdfi_domain *d)
{
	char name[32];
	size_t seg;
	int rc;

	if (d->h)
		return 0;
	if (d->dead)
		return -FI_ENOTCONN;
	snprintf(name, sizeof(name), "libfabric-%d", (int)getpid());
	rc = srdc_attach(d->fab->params.socket, name, &d->h);
	if (rc) {
		SRDFI_WARN(FI_LOG_DOMAIN, "cannot attach to srdd at %s: %s\n",
			   d->fab->params.socket, strerror(-rc));
		d->h = NULL;
		return rc == -ENOENT || rc == -ECONNREFUSED ? -FI_ENODEV : rc;
	}
	srdc_info(d->h, &d->dinfo);
	/* a piece with its header is one srdd message of at most `segment` bytes (srdd's
	 * buffers are powers of two: a power-of-two segment wastes none), and several fit the
	 * shared region's areas at once */
	seg = d->fab->params.segment;
	if (seg > d->dinfo.max_msg)
		seg = d->dinfo.max_msg;
	if (seg > d->dinfo.tx_area / 4)
		seg = d->dinfo.tx_area / 4;
	d->segment = seg - 64; /* the header's room, keeping the payload 64-byte aligned */
	d->unexp_hold = d->fab->params.unexp_hold;
	if (d->unexp_hold > d->dinfo.rx_area / 2)
		d->unexp_hold = d->dinfo.rx_area / 2;
	for (struct srdfi_list *l = d->waiters.next; l != &d->waiters; l = l->next)
		watch_fd(srdfi_container(l, struct srdfi_waiter, link)->wait_fd, srdc_fd(d->h));
	return 0;
}

/* srdd went away: every operation completes with an error, later calls fail. */
static void domain_dead(struct srdfi_domain *d)
{
	if (d->dead)
		return;
	d->dead = 1;
	SRDFI_WARN(FI_LOG_DOMAIN, "srdd went away: failing every operation of domain %s\n",
		   d->info->domain_attr->name);
	for (struct srdfi_list *l = d->eps.next; l != &d->eps; l = l->next) {
		struct srdfi_ep *ep = srdfi_container(l, struct srdfi_ep, link);

		srdfi_tx_fail_all(ep, FI_ENOTCONN);
		srdfi_rx_fail_all(ep, FI_ENOTCONN);
	}
}

static struct srdfi_ep *ep_of(struct srdfi_domain *d, const struct srdc_ep *sep)
{
	if (d->last_ep && d->last_ep->sep == sep)
		return d->last_ep;
	for (struct srdfi_list *l = d->eps.next; l != &d->eps; l = l->next) {
		struct srdfi_ep *ep = srdfi_container(l, struct srdfi_ep, link);

		if (ep->sep == sep)
			return d->last_ep = ep;
	}
	return NULL;
}

static void dispatch(struct srdfi_domain *d, const struct srdc_completion *c)
{
	struct srdfi_ep *ep;

	if (c->kind == SRDC_SEND) {
		if (c->ctx == &srdfi_dack_ctx) {
			ep = ep_of(d, c->ep);
			if (ep && ep->dacks_out)
				ep->dacks_out--;
			if (c->status) {
				d->lost_errors++; /* the peer's send then waits for ever: said */
				SRDFI_WARN(FI_LOG_EP_DATA, "a delivery ack was lost: %s\n",
					   srdfi_strerror(c->status));
			}
			return;
		}
		srdfi_tx_send_done(c->ctx, c->status);
		return;
	}
	if (c->status) {
		d->bad_msgs++; /* srdd named a buffer we cannot use: nothing to give back */
		return;
	}
	ep = ep_of(d, c->ep);
	if (!ep) {
		srdc_recv_done(d->h, c->buf); /* its endpoint is closing */
		return;
	}
	srdfi_rx_arrive(ep, &c->src, c->tag, c->imm, c->buf, c->len);
}

int srdfi_progress(struct srdfi_domain *d)
{
	struct srdc_completion c[SRDFI_POLL_BATCH];
	int n;

	if (d->dead)
		return -FI_ENOTCONN;
	if (!d->h)
		return 0;
	do {
		n = srdc_poll(d->h, c, SRDFI_POLL_BATCH);
		if (n < 0) {
			domain_dead(d);
			return -FI_ENOTCONN;
		}
		for (int i = 0; i < n; i++)
			dispatch(d, &c[i]);
	} while (n == SRDFI_POLL_BATCH);
	for (struct srdfi_list *l = d->eps.next; l != &d->eps; l = l->next) {
		struct srdfi_ep *ep = srdfi_container(l, struct srdfi_ep, link);

		srdfi_tx_flush(ep);
		srdfi_rx_trim(ep);
	}
	return 0;
}

int srdfi_domain_arm(struct srdfi_domain *d)
{
	int rc;

	if (!d->h || d->dead)
		return d->dead ? -FI_EAGAIN : 0; /* dead: the caller should read its errors */
	rc = srdc_wait(d->h, 0);
	if (rc == -ETIMEDOUT)
		return 0; /* armed: srdd signals the fd at its next completion */
	return -FI_EAGAIN; /* completions are ready, or srdd is gone (read to learn it) */
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int srdfi_domain_block(struct srdfi_domain *d, struct srdfi_waiter *w, int timeout_ms,
		       bool (*ready)(void *arg), void *arg)
{
	int64_t end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .events = POLLIN };
		int left = -1, rc;

		if (w)
			srdfi_waiter_drain(w); /* what it said is checked just below */
		srdfi_progress(d);
		if (ready(arg))
			return 0;
		if (d->dead)
			return -FI_ENOTCONN;
		if (end >= 0) {
			int64_t l = end - now_ms();

			if (l <= 0)
				return -FI_EAGAIN;
			left = (int)(l > 1000 ? 1000 : l);
		}
		if (srdfi_domain_arm(d))
			continue; /* something came meanwhile */
		p.fd = w && w->wait_fd >= 0 ? w->wait_fd : d->h ? srdc_fd(d->h) : -1;
		srdfi_unlock(d);
		if (p.fd >= 0) {
			rc = poll(&p, 1, left < 0 ? 1000 : left);
		} else {
			/* nothing can complete before an endpoint exists: sleep a little */
			struct timespec ts = { 0, 1000000 };

			rc = nanosleep(&ts, NULL);
		}
		srdfi_lock(d);
		if (rc < 0 && errno == EINTR)
			return -FI_EINTR;
	}
}

/* ---- memory regions (registration accepted, never required) ---- */

static int mr_close(struct fid *fid)
{
	struct srdfi_mr *mr = srdfi_container(fid, struct srdfi_mr, mr_fid.fid);
	struct srdfi_domain *d = mr->dom;

	srdfi_lock(d);
	srdfi_list_del(&mr->link);
	d->refs--;
	srdfi_unlock(d);
	free(mr);
	return 0;
}

static int mr_control(struct fid *fid, int command, void *arg)
{
	(void)fid, (void)arg;
	return command == FI_ENABLE ? 0 : -FI_ENOSYS;
}

static struct fi_ops mr_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = mr_close,
	.bind = srdfi_no_bind,
	.control = mr_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

#define SRDFI_MR_ACCESS (FI_SEND | FI_RECV | FI_READ | FI_WRITE | FI_REMOTE_READ | \
			 FI_REMOTE_WRITE)

int srdfi_mr_regattr(struct fid *fid, const struct fi_mr_attr *attr, uint64_t flags,
		     struct fid_mr **out)
{
	struct srdfi_domain *d = srdfi_container(fid, struct srdfi_domain, fid.fid);
	struct srdfi_mr *mr;

	if (fid->fclass != FI_CLASS_DOMAIN || !attr || !out)
		return -FI_EINVAL;
	if ((attr->access & ~SRDFI_MR_ACCESS) || flags || attr->iface != FI_HMEM_SYSTEM)
		return -FI_EINVAL;
	if (attr->iov_count > SRDFI_RX_IOV_LIMIT || (attr->iov_count && !attr->mr_iov))
		return -FI_EINVAL;
	srdfi_lock(d);
	for (struct srdfi_list *l = d->mrs.next; l != &d->mrs; l = l->next) {
		if (srdfi_container(l, struct srdfi_mr, link)->mr_fid.key == attr->requested_key) {
			srdfi_unlock(d);
			return -FI_ENOKEY;
		}
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		srdfi_unlock(d);
		return -FI_ENOMEM;
	}
	mr->mr_fid.fid.fclass = FI_CLASS_MR;
	mr->mr_fid.fid.context = attr->context;
	mr->mr_fid.fid.ops = &mr_fi_ops;
	mr->mr_fid.mem_desc = mr;
	mr->mr_fid.key = attr->requested_key;
	mr->dom = d;
	mr->access = attr->access;
	srdfi_list_add_tail(&d->mrs, &mr->link);
	d->refs++;
	srdfi_unlock(d);
	*out = &mr->mr_fid;
	return 0;
}

int srdfi_mr_regv(struct fid *fid, const struct iovec *iov, size_t count, uint64_t access,
		  uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
		  void *context)
{
	struct fi_mr_attr attr = {
		.mr_iov = iov,
		.iov_count = count,
		.access = access,
		.offset = offset,
		.requested_key = requested_key,
		.context = context,
		.iface = FI_HMEM_SYSTEM,
	};

	return srdfi_mr_regattr(fid, &attr, flags, mr);
}

int srdfi_mr_reg(struct fid *fid, const void *buf, size_t len, uint64_t access,
		 uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
		 void *context)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return srdfi_mr_regv(fid, &iov, 1, access, offset, requested_key, flags, mr, context);
}

/* ---- the domain ---- */

static int domain_close(struct fid *fid)
{
	struct srdfi_domain *d = srdfi_container(fid, struct srdfi_domain, fid.fid);

	if (d->refs)
		return -FI_EBUSY;
	srdc_detach(d->h);
	if (d->thread_safe)
		pthread_mutex_destroy(&d->lock);
	d->fab->refs--;
	fi_freeinfo(d->info);
	free(d);
	return 0;
}

static int no_scalable_ep(struct fid_domain *domain, struct fi_info *info, struct fid_ep **sep,
			  void *context)
{
	(void)domain, (void)info, (void)sep, (void)context;
	return -FI_ENOSYS; /* one transmit and one receive context per endpoint */
}

static int no_poll_open(struct fid_domain *domain, struct fi_poll_attr *attr,
			struct fid_poll **pollset)
{
	(void)domain, (void)attr, (void)pollset;
	return -FI_ENOSYS; /* poll sets: each CQ and counter has its own fd */
}

static int no_stx_ctx(struct fid_domain *domain, struct fi_tx_attr *attr, struct fid_stx **stx,
		      void *context)
{
	(void)domain, (void)attr, (void)stx, (void)context;
	return -FI_ENOSYS; /* no shared contexts (ep_attr tx_ctx_cnt is 1) */
}

static int no_srx_ctx(struct fid_domain *domain, struct fi_rx_attr *attr, struct fid_ep **rx,
		      void *context)
{
	(void)domain, (void)attr, (void)rx, (void)context;
	return -FI_ENOSYS;
}

static int no_query_atomic(struct fid_domain *domain, enum fi_datatype dt, enum fi_op op,
			   struct fi_atomic_attr *attr, uint64_t flags)
{
	(void)domain, (void)dt, (void)op, (void)attr, (void)flags;
	return -FI_EOPNOTSUPP; /* FI_ATOMIC is not a capability of srd */
}

static int no_query_collective(struct fid_domain *domain, enum fi_collective_op coll,
			       struct fi_collective_attr *attr, uint64_t flags)
{
	(void)domain, (void)coll, (void)attr, (void)flags;
	return -FI_EOPNOTSUPP;
}

static int domain_endpoint2(struct fid_domain *domain, struct fi_info *info,
			    struct fid_ep **ep, uint64_t flags, void *context)
{
	if (flags)
		return -FI_EINVAL;
	return srdfi_endpoint(domain, info, ep, context);
}

static struct fi_ops domain_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = domain_close,
	.bind = srdfi_no_bind,
	.control = srdfi_no_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_domain domain_ops = {
	.size = sizeof(struct fi_ops_domain),
	.av_open = srdfi_av_open,
	.cq_open = srdfi_cq_open,
	.endpoint = srdfi_endpoint,
	.scalable_ep = no_scalable_ep,
	.cntr_open = srdfi_cntr_open,
	.poll_open = no_poll_open,
	.stx_ctx = no_stx_ctx,
	.srx_ctx = no_srx_ctx,
	.query_atomic = no_query_atomic,
	.query_collective = no_query_collective,
	.endpoint2 = domain_endpoint2,
};

static struct fi_ops_mr domain_mr_ops = {
	.size = sizeof(struct fi_ops_mr),
	.reg = srdfi_mr_reg,
	.regv = srdfi_mr_regv,
	.regattr = srdfi_mr_regattr,
};

int srdfi_domain_open(struct srdfi_fabric *fab, struct fi_info *info,
		      struct fid_domain **dom, void *context);

int srdfi_domain_open(struct srdfi_fabric *fab, struct fi_info *info,
		      struct fid_domain **dom, void *context)
{
	struct srdfi_domain *d;
	struct in_addr ia;

	if (!info || !info->domain_attr || !info->domain_attr->name || !dom)
		return -FI_EINVAL;
	if (info->domain_attr->control_progress == FI_PROGRESS_AUTO ||
	    info->domain_attr->data_progress == FI_PROGRESS_AUTO)
		return -FI_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -FI_ENOMEM;
	d->info = fi_dupinfo(info);
	if (!d->info) {
		free(d);
		return -FI_ENOMEM;
	}
	srd_copy_pick_init(&d->tx_pick, true); /* srdd reads every byte it is sent */
	if (inet_pton(AF_INET, info->domain_attr->name, &ia) == 1)
		d->ipv4 = ntohl(ia.s_addr);
	else if (strcmp(info->domain_attr->name, SRDFI_NAME)) {
		fi_freeinfo(d->info);
		free(d);
		return -FI_EINVAL; /* not one of ours */
	}
	if (srdfi_addr_format(info->addr_format) < 0) {
		fi_freeinfo(d->info);
		free(d);
		return -FI_EINVAL; /* names srd cannot give */
	}
	d->addr_format = (uint32_t)srdfi_addr_format(info->addr_format);
	d->thread_safe = info->domain_attr->threading != FI_THREAD_DOMAIN;
	if (d->thread_safe)
		pthread_mutex_init(&d->lock, NULL);
	d->fab = fab;
	d->yield = fab->params.yield;
	d->spin_ns = (uint64_t)fab->params.spin_us * 1000u;
	srdfi_list_init(&d->eps);
	srdfi_list_init(&d->mrs);
	srdfi_list_init(&d->waiters);
	d->fid.fid.fclass = FI_CLASS_DOMAIN;
	d->fid.fid.context = context;
	d->fid.fid.ops = &domain_fi_ops;
	d->fid.ops = &domain_ops;
	d->fid.mr = &domain_mr_ops;
	fab->refs++;
	*dom = &d->fid;
	return 0;
}
