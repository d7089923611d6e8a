/*
 * eq.c — event queues.  An RDM endpoint has no connection events; srd's EQs carry what
 * the application writes (fi_eq_write) and the completions of AV insertions made with
 * FI_EVENT.  Their fd (FI_GETWAIT) is an eventfd that is readable while events wait.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "noop.h"
#include "srdfi.h"

/* Keep the eventfd readable exactly while events wait (called with the lock held). */
static void eq_sync_fd(struct srdfi_eq *eq)
{
	uint64_t v = 1;

	if (srdfi_list_empty(&eq->events))
		(void)!read(eq->signal_fd, &v, sizeof(v));
	else
		(void)!write(eq->signal_fd, &v, sizeof(v));
}

static int eq_push(struct srdfi_eq *eq, uint32_t event, const void *buf, size_t len,
		   const struct fi_eq_err_entry *err)
{
	struct srdfi_eq_entry *e = calloc(1, sizeof(*e) + len);

	if (!e)
		return -FI_ENOMEM;
	e->event = event;
	e->is_err = err != NULL;
	e->len = len;
	if (len)
		memcpy(e->buf, buf, len);
	if (err)
		e->err = *err;
	pthread_mutex_lock(&eq->lock);
	srdfi_list_add_tail(&eq->events, &e->link);
	eq_sync_fd(eq);
	pthread_mutex_unlock(&eq->lock);
	return 0;
}

int srdfi_eq_post(struct srdfi_eq *eq, uint32_t event, const void *buf, size_t len)
{
	return eq_push(eq, event, buf, len, NULL);
}

int srdfi_eq_post_err(struct srdfi_eq *eq, fid_t fid, void *context, uint64_t data, int err)
{
	struct fi_eq_err_entry e = { .fid = fid, .context = context, .data = data, .err = err,
				     .prov_errno = err };

	return eq_push(eq, 0, NULL, 0, &e);
}

/* The first entry, if it is an event (an error first makes fi_eq_read say -FI_EAVAIL). */
static ssize_t eq_take(struct srdfi_eq *eq, uint32_t *event, void *buf, size_t len,
		       uint64_t flags)
{
	struct srdfi_eq_entry *e;
	ssize_t n;

	if (srdfi_list_empty(&eq->events))
		return -FI_EAGAIN;
	e = srdfi_container(eq->events.next, struct srdfi_eq_entry, link);
	if (e->is_err)
		return -FI_EAVAIL;
	if (len < e->len)
		return -FI_ETOOSMALL;
	if (event)
		*event = e->event;
	memcpy(buf, e->buf, e->len);
	n = (ssize_t)e->len;
	if (!(flags & FI_PEEK)) {
		srdfi_list_del(&e->link);
		free(e);
		eq_sync_fd(eq);
	}
	return n;
}

static ssize_t eq_read(struct fid_eq *fid, uint32_t *event, void *buf, size_t len,
		       uint64_t flags)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid);
	ssize_t n;

	if ((flags & ~(uint64_t)FI_PEEK) || (!buf && len))
		return -FI_EINVAL;
	pthread_mutex_lock(&eq->lock);
	n = eq_take(eq, event, buf, len, flags);
	pthread_mutex_unlock(&eq->lock);
	return n;
}

static ssize_t eq_readerr(struct fid_eq *fid, struct fi_eq_err_entry *buf, uint64_t flags)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid);
	struct srdfi_eq_entry *e;

	if (!buf || (flags & ~(uint64_t)FI_PEEK))
		return -FI_EINVAL;
	pthread_mutex_lock(&eq->lock);
	if (srdfi_list_empty(&eq->events) ||
	    !srdfi_container(eq->events.next, struct srdfi_eq_entry, link)->is_err) {
		pthread_mutex_unlock(&eq->lock);
		return -FI_EAGAIN;
	}
	e = srdfi_container(eq->events.next, struct srdfi_eq_entry, link);
	*buf = e->err;
	buf->err_data = NULL;
	buf->err_data_size = 0;
	if (!(flags & FI_PEEK)) {
		srdfi_list_del(&e->link);
		free(eq->last_err);
		eq->last_err = e;
		eq_sync_fd(eq);
	}
	pthread_mutex_unlock(&eq->lock);
	return sizeof(*buf);
}

static ssize_t eq_write(struct fid_eq *fid, uint32_t event, const void *buf, size_t len,
			uint64_t flags)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid);
	int rc;

	if (flags || (!buf && len))
		return -FI_EINVAL;
	rc = eq_push(eq, event, buf, len, NULL);
	return rc ? rc : (ssize_t)len;
}

static ssize_t eq_sread(struct fid_eq *fid, uint32_t *event, void *buf, size_t len,
			int timeout, uint64_t flags)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = eq_read(fid, event, buf, len, flags);
		struct pollfd p = { .fd = eq->signal_fd, .events = POLLIN };
		long left = -1;

		if (n != -FI_EAGAIN)
			return n;
		if (timeout >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			left = timeout - ((t.tv_sec - t0.tv_sec) * 1000 +
					  (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0)
				return -FI_EAGAIN;
		}
		if (poll(&p, 1, (int)left) < 0 && errno == EINTR)
			return -FI_EINTR;
	}
}

static const char *eq_strerror(struct fid_eq *fid, int prov_errno, const void *err_data,
			       char *buf, size_t len)
{
	const char *s = fi_strerror(prov_errno);

	(void)fid, (void)err_data;
	if (buf && len) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	return s;
}

static int eq_control(struct fid *fid, int command, void *arg)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid.fid);

	switch (command) {
	case FI_GETWAIT:
		if (eq->wait_obj != FI_WAIT_FD)
			return -FI_ENODATA;
		*(int *)arg = eq->signal_fd;
		return 0;
	case FI_GETWAITOBJ:
		*(enum fi_wait_obj *)arg = eq->wait_obj;
		return 0;
	default:
		return -FI_ENOSYS;
	}
}

static int eq_close(struct fid *fid)
{
	struct srdfi_eq *eq = srdfi_container(fid, struct srdfi_eq, fid.fid);

	pthread_mutex_lock(&eq->lock);
	if (eq->refs) {
		pthread_mutex_unlock(&eq->lock);
		return -FI_EBUSY;
	}
	while (!srdfi_list_empty(&eq->events)) {
		struct srdfi_eq_entry *e = srdfi_container(eq->events.next, struct srdfi_eq_entry,
							   link);

		srdfi_list_del(&e->link);
		free(e);
	}
	pthread_mutex_unlock(&eq->lock);
	free(eq->last_err);
	close(eq->signal_fd);
	pthread_mutex_destroy(&eq->lock);
	eq->fab->refs--;
	free(eq);
	return 0;
}

static struct fi_ops eq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = eq_close,
	.bind = srdfi_no_bind,
	.control = eq_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_eq eq_ops = {
	.size = sizeof(struct fi_ops_eq),
	.read = eq_read,
	.readerr = eq_readerr,
	.write = eq_write,
	.sread = eq_sread,
	.strerror = eq_strerror,
};

int srdfi_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr, struct fid_eq **out,
		  void *context)
{
	struct srdfi_fabric *f = srdfi_container(fabric, struct srdfi_fabric, fid);
	struct srdfi_eq *eq;

	if (!attr || !out || (attr->flags & ~(uint64_t)(FI_WRITE | FI_AFFINITY)))
		return -FI_EINVAL;
	if (attr->wait_obj != FI_WAIT_NONE && attr->wait_obj != FI_WAIT_UNSPEC &&
	    attr->wait_obj != FI_WAIT_FD && attr->wait_obj != FI_WAIT_YIELD)
		return -FI_ENOSYS;
	eq = calloc(1, sizeof(*eq));
	if (!eq)
		return -FI_ENOMEM;
	eq->signal_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (eq->signal_fd < 0) {
		free(eq);
		return -FI_EMFILE;
	}
	pthread_mutex_init(&eq->lock, NULL);
	srdfi_list_init(&eq->events);
	eq->fab = f;
	eq->wait_obj = attr->wait_obj == FI_WAIT_UNSPEC ? FI_WAIT_FD : attr->wait_obj;
	eq->fid.fid.fclass = FI_CLASS_EQ;
	eq->fid.fid.context = context;
	eq->fid.fid.ops = &eq_fi_ops;
	eq->fid.ops = &eq_ops;
	f->refs++;
	*out = &eq->fid;
	return 0;
}
