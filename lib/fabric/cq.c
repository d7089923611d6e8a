/*
 * cq.c — completion queues and counters.
 *
 * A CQ keeps its entries as fi_cq_tagged_entry (every format is a prefix of it) in a ring
 * that grows rather than drop a completion, and error entries on a list of their own:
 * fi_cq_read says -FI_EAVAIL while one waits.  A CQ with a wait object (FI_WAIT_FD or
 * UNSPEC) has an epoll fd (fi_control FI_GETWAIT) joining srdd's completion fd and an
 * eventfd the provider writes when the CQ goes from empty to not empty; fi_trywait arms
 * srdd's signal before an application sleeps on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noop.h"
#include "srdfi.h"

/* ---- completion queues ---- */

static size_t format_size(enum fi_cq_format f)
{
	switch (f) {
	case FI_CQ_FORMAT_CONTEXT: return sizeof(struct fi_cq_entry);
	case FI_CQ_FORMAT_MSG: return sizeof(struct fi_cq_msg_entry);
	case FI_CQ_FORMAT_DATA: return sizeof(struct fi_cq_data_entry);
	case FI_CQ_FORMAT_TAGGED: return sizeof(struct fi_cq_tagged_entry);
	default: return 0;
	}
}

size_t srdfi_cq_pending(const struct srdfi_cq *cq)
{
	return cq->count + !srdfi_list_empty(&cq->errs);
}

static int cq_grow(struct srdfi_cq *cq)
{
	size_t cap = cq->cap * 2;
	struct srdfi_cqe *r = malloc(cap * sizeof(*r));

	if (!r)
		return -FI_ENOMEM;
	for (size_t i = 0; i < cq->count; i++)
		r[i] = cq->ring[(cq->head + i) % cq->cap];
	free(cq->ring);
	cq->ring = r;
	cq->cap = cap;
	cq->head = 0;
	return 0;
}

int srdfi_cq_write(struct srdfi_cq *cq, const struct srdfi_cqe *c)
{
	bool was_empty = srdfi_cq_pending(cq) == 0;

	if (cq->count == cq->cap && cq_grow(cq))
		return -FI_ENOMEM;
	cq->ring[(cq->head + cq->count) % cq->cap] = *c;
	cq->count++;
	if (was_empty)
		srdfi_waiter_signal(&cq->w);
	return 0;
}

int srdfi_cq_write_err(struct srdfi_cq *cq, void *context, uint64_t flags, size_t len,
		       uint64_t tag, uint64_t data, size_t olen, int err, int prov_errno,
		       fi_addr_t src, const char *text)
{
	bool was_empty = srdfi_cq_pending(cq) == 0;
	struct srdfi_cq_err *e = calloc(1, sizeof(*e));

	if (!e)
		return -FI_ENOMEM;
	e->e = (struct fi_cq_err_entry){
		.op_context = context,
		.flags = flags,
		.len = len,
		.data = data,
		.tag = tag,
		.olen = olen,
		.err = err,
		.prov_errno = prov_errno,
	};
	e->src = src;
	if (text)
		snprintf(e->text, sizeof(e->text), "srd: %s", text);
	srdfi_list_add_tail(&cq->errs, &e->link);
	if (was_empty)
		srdfi_waiter_signal(&cq->w);
	return 0;
}

static ssize_t cq_take(struct srdfi_cq *cq, void *buf, size_t count, fi_addr_t *src)
{
	uint8_t *out = buf;
	size_t n;

	if (!srdfi_list_empty(&cq->errs))
		return -FI_EAVAIL;
	n = count < cq->count ? count : cq->count;
	for (size_t i = 0; i < n; i++) {
		const struct srdfi_cqe *c = &cq->ring[cq->head];

		memcpy(out + i * cq->entry_size, &c->e, cq->entry_size);
		if (src)
			src[i] = c->src;
		cq->head = (cq->head + 1) % cq->cap;
		cq->count--;
	}
	return n ? (ssize_t)n : -FI_EAGAIN;
}

static ssize_t cq_readfrom(struct fid_cq *fid, void *buf, size_t count, fi_addr_t *src)
{
	struct srdfi_cq *cq = srdfi_container(fid, struct srdfi_cq, fid);
	ssize_t n;
	bool yield;

	if (!buf && count)
		return -FI_EINVAL;
	srdfi_lock(cq->dom);
	srdfi_progress(cq->dom);
	n = cq_take(cq, buf, count, src);
	/* a read for progress alone (count 0) found something if entries wait */
	yield = srdfi_read_idle(cq->dom, n != -FI_EAGAIN || (count == 0 && cq->count > 0));
	srdfi_unlock(cq->dom);
	if (yield)
		srdfi_yield(cq->dom);
	return n;
}

static ssize_t cq_read(struct fid_cq *fid, void *buf, size_t count)
{
	return cq_readfrom(fid, buf, count, NULL);
}

static ssize_t cq_readerr(struct fid_cq *fid, struct fi_cq_err_entry *buf, uint64_t flags)
{
	struct srdfi_cq *cq = srdfi_container(fid, struct srdfi_cq, fid);
	bool api15 = FI_VERSION_GE(cq->dom->fab->api_version, FI_VERSION(1, 5));
	struct srdfi_cq_err *e;
	size_t user_size;
	void *user_data;

	if (!buf || flags)
		return -FI_EINVAL;
	user_size = api15 ? buf->err_data_size : 0;
	user_data = api15 ? buf->err_data : NULL;
	srdfi_lock(cq->dom);
	if (srdfi_list_empty(&cq->errs)) {
		srdfi_unlock(cq->dom);
		return -FI_EAGAIN;
	}
	e = srdfi_container(cq->errs.next, struct srdfi_cq_err, link);
	srdfi_list_del(&e->link);
	free(cq->last_err); /* its err_data was valid until this read */
	cq->last_err = e;
	if (api15) {
		*buf = e->e;
		if (!e->text[0]) {
			/* the error says it all (FI_ETRUNC, FI_ENOMSG, FI_ECANCELED): no err_data,
			 * and the caller's err_data is not touched (some pass it uninitialised) */
			buf->err_data = NULL;
			buf->err_data_size = 0;
		} else if (user_size && user_data) {
			size_t n = strlen(e->text) + 1;

			n = n < user_size ? n : user_size;
			memcpy(user_data, e->text, n);
			buf->err_data = user_data;
			buf->err_data_size = n;
		} else {
			buf->err_data = e->text;
			buf->err_data_size = strlen(e->text) + 1;
		}
	} else {
		/* before 1.5 the entry ends at err_data (no err_data_size) */
		memcpy(buf, &e->e, offsetof(struct fi_cq_err_entry, err_data));
		buf->err_data = e->text[0] ? e->text : NULL;
	}
	srdfi_unlock(cq->dom);
	return 1;
}

struct cq_cond {
	struct srdfi_cq *cq;
	size_t threshold;
};

static bool cq_ready(void *arg)
{
	struct cq_cond *c = arg;

	return !srdfi_list_empty(&c->cq->errs) || c->cq->count >= c->threshold ||
	       c->cq->signaled;
}

static ssize_t cq_sreadfrom(struct fid_cq *fid, void *buf, size_t count, fi_addr_t *src,
			    const void *cond, int timeout)
{
	struct srdfi_cq *cq = srdfi_container(fid, struct srdfi_cq, fid);
	struct cq_cond c = { .cq = cq, .threshold = 1 };
	ssize_t n;
	int rc;

	if (!buf && count)
		return -FI_EINVAL;
	if (cq->wait_cond == FI_CQ_COND_THRESHOLD && cond) {
		c.threshold = *(const size_t *)cond;
		if (c.threshold == 0 || c.threshold > count)
			c.threshold = count ? count : 1;
	}
	srdfi_lock(cq->dom);
	rc = srdfi_domain_block(cq->dom, cq->w.wait_fd >= 0 ? &cq->w : NULL, timeout,
				cq_ready, &c);
	n = cq_take(cq, buf, count, src);
	if (n == -FI_EAGAIN)
		cq->signaled = false; /* the signal woke this read: it is spent */
	srdfi_unlock(cq->dom);
	if (n == -FI_EAGAIN && rc == -FI_EINTR)
		return -FI_EINTR;
	return n;
}

static ssize_t cq_sread(struct fid_cq *fid, void *buf, size_t count, const void *cond,
			int timeout)
{
	return cq_sreadfrom(fid, buf, count, NULL, cond, timeout);
}

static int cq_signal(struct fid_cq *fid)
{
	struct srdfi_cq *cq = srdfi_container(fid, struct srdfi_cq, fid);

	srdfi_lock(cq->dom);
	cq->signaled = true;
	srdfi_unlock(cq->dom);
	srdfi_waiter_signal(&cq->w);
	return 0;
}

static const char *cq_strerror(struct fid_cq *fid, int prov_errno, const void *err_data,
			       char *buf, size_t len)
{
	const char *s = err_data ? (const char *)err_data : srdfi_strerror(prov_errno);

	(void)fid;
	if (buf && len) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	return s;
}

static int cq_control(struct fid *fid, int command, void *arg)
{
	return srdfi_waiter_control(&srdfi_container(fid, struct srdfi_cq, fid.fid)->w, command,
				    arg);
}

static int cq_close(struct fid *fid)
{
	struct srdfi_cq *cq = srdfi_container(fid, struct srdfi_cq, fid.fid);
	struct srdfi_domain *d = cq->dom;

	srdfi_lock(d);
	if (cq->refs) {
		srdfi_unlock(d);
		return -FI_EBUSY;
	}
	srdfi_waiter_close(&cq->w);
	while (!srdfi_list_empty(&cq->errs)) {
		struct srdfi_cq_err *e = srdfi_container(cq->errs.next, struct srdfi_cq_err, link);

		srdfi_list_del(&e->link);
		free(e);
	}
	d->refs--;
	srdfi_unlock(d);
	free(cq->last_err);
	free(cq->ring);
	free(cq);
	return 0;
}

static struct fi_ops cq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = cq_close,
	.bind = srdfi_no_bind,
	.control = cq_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_cq cq_ops = {
	.size = sizeof(struct fi_ops_cq),
	.read = cq_read,
	.readfrom = cq_readfrom,
	.readerr = cq_readerr,
	.sread = cq_sread,
	.sreadfrom = cq_sreadfrom,
	.signal = cq_signal,
	.strerror = cq_strerror,
};

/* FI_WAIT_UNSPEC and FI_WAIT_FD get an fd; NONE and YIELD spin (sread still works). */
static int wait_obj_check(enum fi_wait_obj w, bool *has_fd)
{
	switch (w) {
	case FI_WAIT_NONE:
	case FI_WAIT_YIELD:
		*has_fd = false;
		return 0;
	case FI_WAIT_UNSPEC:
	case FI_WAIT_FD:
		*has_fd = true;
		return 0;
	default:
		return -FI_ENOSYS; /* wait sets, mutex/cond, pollfd: not offered */
	}
}

int srdfi_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr, struct fid_cq **out,
		  void *context)
{
	struct srdfi_domain *d = srdfi_container(domain, struct srdfi_domain, fid);
	enum fi_cq_format format;
	struct srdfi_cq *cq;
	bool has_fd;
	int rc;

	if (!attr || !out)
		return -FI_EINVAL;
	format = attr->format == FI_CQ_FORMAT_UNSPEC ? FI_CQ_FORMAT_CONTEXT : attr->format;
	if (!format_size(format) || (attr->flags & ~(uint64_t)FI_AFFINITY))
		return -FI_EINVAL;
	if (attr->wait_cond != FI_CQ_COND_NONE && attr->wait_cond != FI_CQ_COND_THRESHOLD)
		return -FI_EINVAL;
	rc = wait_obj_check(attr->wait_obj, &has_fd);
	if (rc)
		return rc;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -FI_ENOMEM;
	cq->dom = d;
	cq->format = format;
	cq->entry_size = format_size(format);
	cq->w.obj = attr->wait_obj == FI_WAIT_UNSPEC ? FI_WAIT_FD : attr->wait_obj;
	cq->wait_cond = attr->wait_cond;
	cq->cap = attr->size ? attr->size : SRDFI_CQ_DEFAULT;
	cq->ring = malloc(cq->cap * sizeof(*cq->ring));
	srdfi_list_init(&cq->errs);
	cq->w.wait_fd = cq->w.signal_fd = -1;
	srdfi_list_init(&cq->w.link);
	if (!cq->ring) {
		free(cq);
		return -FI_ENOMEM;
	}
	srdfi_lock(d);
	rc = has_fd ? srdfi_waiter_open(d, &cq->w) : 0;
	if (!rc)
		d->refs++;
	srdfi_unlock(d);
	if (rc) {
		free(cq->ring);
		free(cq);
		return rc;
	}
	cq->fid.fid.fclass = FI_CLASS_CQ;
	cq->fid.fid.context = context;
	cq->fid.fid.ops = &cq_fi_ops;
	cq->fid.ops = &cq_ops;
	*out = &cq->fid;
	return 0;
}

/* ---- counters ---- */

void srdfi_cntr_inc(struct srdfi_cntr *c)
{
	c->value++;
	srdfi_waiter_signal(&c->w);
}

void srdfi_cntr_inc_err(struct srdfi_cntr *c)
{
	c->err++;
	srdfi_waiter_signal(&c->w);
}

static uint64_t cntr_read(struct fid_cntr *fid)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);
	uint64_t v;
	bool yield;

	srdfi_lock(c->dom);
	srdfi_progress(c->dom);
	v = c->value;
	/* a counter that has not moved since the last read found nothing */
	yield = srdfi_read_idle(c->dom, v != c->last_read);
	c->last_read = v;
	srdfi_unlock(c->dom);
	if (yield)
		srdfi_yield(c->dom);
	return v;
}

static uint64_t cntr_readerr(struct fid_cntr *fid)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);
	uint64_t v;

	srdfi_lock(c->dom);
	srdfi_progress(c->dom);
	v = c->err;
	srdfi_unlock(c->dom);
	return v;
}

static int cntr_change(struct fid_cntr *fid, uint64_t *field, uint64_t v, bool add)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);

	srdfi_lock(c->dom);
	*field = add ? *field + v : v;
	srdfi_unlock(c->dom);
	srdfi_waiter_signal(&c->w);
	return 0;
}

static int cntr_add(struct fid_cntr *fid, uint64_t v)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);

	return cntr_change(fid, &c->value, v, true);
}

static int cntr_set(struct fid_cntr *fid, uint64_t v)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);

	return cntr_change(fid, &c->value, v, false);
}

static int cntr_adderr(struct fid_cntr *fid, uint64_t v)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);

	return cntr_change(fid, &c->err, v, true);
}

static int cntr_seterr(struct fid_cntr *fid, uint64_t v)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);

	return cntr_change(fid, &c->err, v, false);
}

struct cntr_cond {
	struct srdfi_cntr *c;
	uint64_t threshold, err0;
};

static bool cntr_ready(void *arg)
{
	struct cntr_cond *k = arg;

	return k->c->value >= k->threshold || k->c->err != k->err0;
}

static int cntr_wait(struct fid_cntr *fid, uint64_t threshold, int timeout)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid);
	struct cntr_cond k = { .c = c, .threshold = threshold };
	int rc;

	srdfi_lock(c->dom);
	k.err0 = c->err;
	rc = srdfi_domain_block(c->dom, c->w.wait_fd >= 0 ? &c->w : NULL, timeout, cntr_ready,
				&k);
	if (c->value >= threshold)
		rc = 0;
	else if (c->err != k.err0)
		rc = -FI_EAVAIL; /* an operation failed: fi_cntr_readerr says how many */
	else if (rc == -FI_EAGAIN)
		rc = -FI_ETIMEDOUT;
	srdfi_unlock(c->dom);
	return rc;
}

static int cntr_control(struct fid *fid, int command, void *arg)
{
	return srdfi_waiter_control(&srdfi_container(fid, struct srdfi_cntr, fid.fid)->w, command,
				    arg);
}

static int cntr_close(struct fid *fid)
{
	struct srdfi_cntr *c = srdfi_container(fid, struct srdfi_cntr, fid.fid);
	struct srdfi_domain *d = c->dom;

	srdfi_lock(d);
	if (c->refs) {
		srdfi_unlock(d);
		return -FI_EBUSY;
	}
	srdfi_waiter_close(&c->w);
	d->refs--;
	srdfi_unlock(d);
	free(c);
	return 0;
}

static struct fi_ops cntr_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = cntr_close,
	.bind = srdfi_no_bind,
	.control = cntr_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_cntr cntr_ops = {
	.size = sizeof(struct fi_ops_cntr),
	.read = cntr_read,
	.readerr = cntr_readerr,
	.add = cntr_add,
	.set = cntr_set,
	.wait = cntr_wait,
	.adderr = cntr_adderr,
	.seterr = cntr_seterr,
};

int srdfi_cntr_open(struct fid_domain *domain, struct fi_cntr_attr *attr,
		    struct fid_cntr **out, void *context)
{
	struct srdfi_domain *d = srdfi_container(domain, struct srdfi_domain, fid);
	struct fi_cntr_attr def = { .events = FI_CNTR_EVENTS_COMP, .wait_obj = FI_WAIT_UNSPEC };
	struct srdfi_cntr *c;
	bool has_fd;
	int rc;

	if (!out)
		return -FI_EINVAL;
	if (!attr)
		attr = &def;
	if (attr->events != FI_CNTR_EVENTS_COMP || attr->flags)
		return -FI_EINVAL;
	rc = wait_obj_check(attr->wait_obj, &has_fd);
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -FI_ENOMEM;
	c->dom = d;
	c->w.obj = attr->wait_obj == FI_WAIT_UNSPEC ? FI_WAIT_FD : attr->wait_obj;
	c->w.wait_fd = c->w.signal_fd = -1;
	srdfi_list_init(&c->w.link);
	srdfi_lock(d);
	rc = has_fd ? srdfi_waiter_open(d, &c->w) : 0;
	if (!rc)
		d->refs++;
	srdfi_unlock(d);
	if (rc) {
		free(c);
		return rc;
	}
	c->fid.fid.fclass = FI_CLASS_CNTR;
	c->fid.fid.context = context;
	c->fid.fid.ops = &cntr_fi_ops;
	c->fid.ops = &cntr_ops;
	*out = &c->fid;
	return 0;
}
