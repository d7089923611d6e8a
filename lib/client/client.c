/*
 * client.c — libsrd: attaching to srdd (handshake, region, eventfd), control requests
 * (endpoints), addresses as text, and noticing that the daemon is gone.  The data path is
 * io.c.  See srd.h for the API and srd_shm.h for the channel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP, MSG_CMSG_CLOEXEC */
#endif
#include "client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4 /* room to receive (and close) more fds than the two expected */

static void ctl_init(struct srd_ctl *m, uint16_t op)
{
	memset(m, 0, sizeof(*m));
	m->magic = SRD_CTL_MAGIC;
	m->version = SRD_SHM_VERSION;
	m->op = op;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* ---- liveness ---- */

int srdc_gone(struct srdc *h, int force)
{
	struct pollfd p = { .fd = h->sock, .events = POLLIN | POLLRDHUP };
	struct srd_ctl m;
	ssize_t n;

	if (h->dead)
		return 1;
	if (!force) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (now < h->next_check_ns)
			return 0;
		h->next_check_ns = now + SRDC_LIVENESS_NS;
	}
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) {
		h->dead = 1;
		return 1;
	}
	/* POLLIN without hang-up: the daemon sends nothing unasked, so this is a message
	   outside any request (discarded) or EOF */
	n = recv(h->sock, &m, sizeof(m), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		h->dead = 1;
	return h->dead;
}

/* ---- control requests ---- */

/* Send *req, wait for its reply (op want, or ERROR) into *rep.  Returns the reply's status
 * (0 or a negative errno), -ENOTCONN, -ETIMEDOUT (the daemon is then taken for gone), or
 * -EPROTO (a reply that is not the answer to this request). */
static int ctl_call(struct srdc *h, struct srd_ctl *req, uint16_t want, struct srd_ctl *rep)
{
	struct timespec t0, t;
	ssize_t n;

	if (h->dead)
		return -ENOTCONN;
	req->seq = ++h->seq;
	if (send(h->sock, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req)) {
		h->dead = 1;
		return -ENOTCONN;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = h->sock, .events = POLLIN };
		long left;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = SRDC_CTL_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
					      (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			h->dead = 1; /* a daemon that does not answer is as good as gone */
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue; /* timeout: checked above */
		n = recv(h->sock, rep, sizeof(*rep), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			h->dead = 1;
			return -ENOTCONN;
		}
		break;
	}
	if (n != (ssize_t)sizeof(*rep) || rep->magic != SRD_CTL_MAGIC ||
	    rep->version != SRD_SHM_VERSION || rep->seq != req->seq)
		return -EPROTO;
	if (rep->op == SRD_CTL_ERROR)
		return rep->status < 0 ? rep->status : -EPROTO;
	if (rep->op != want || rep->status > 0)
		return -EPROTO;
	return rep->status;
}

/* ---- attach ---- */

/* Receive the reply to HELLO (seq) into *m with up to two fds.  Returns 0 (WELCOME with
 * exactly two fds in fds[]), the status of an ERROR, or a negative errno. */
static int recv_welcome(int sock, uint32_t seq, struct srd_ctl *m, int fds[2])
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int got[MAX_FDS], ngot = 0, rc;
	ssize_t n;

	do
		rc = poll(&p, 1, SRDC_CTL_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return -ETIMEDOUT;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ECONNRESET) {
		/* a daemon that refused us and closed before reading our HELLO: the reset is
		   reported first, its ERROR is still queued behind it */
		msg.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0)
			return -ECONNRESET;
	}
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET; /* closed without a word */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < MAX_FDS; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	rc = 0;
	if ((msg.msg_flags & MSG_CTRUNC) || n != (ssize_t)sizeof(*m) ||
	    m->magic != SRD_CTL_MAGIC)
		rc = -EPROTO;
	else if (m->op == SRD_CTL_ERROR) /* refusals before HELLO carry seq 0 */
		rc = m->status < 0 && (m->seq == seq || m->seq == 0) ? m->status : -EPROTO;
	else if (m->version != SRD_SHM_VERSION || m->op != SRD_CTL_WELCOME || m->seq != seq ||
		 m->status != 0 || ngot != 2)
		rc = -EPROTO;
	if (rc) {
		for (int i = 0; i < ngot; i++)
			close(got[i]);
		return rc;
	}
	fds[0] = got[0];
	fds[1] = got[1];
	return 0;
}

struct range {
	uint64_t off; /* start */
	uint64_t len; /* bytes */
};

/* Check the header the daemon wrote (copied into *c first) and take our copy of it. */
static int check_layout(struct srdc *h, const struct srd_shm_hdr *shared, uint32_t app_id)
{
	struct srd_shm_hdr c;
	struct range r[4];

	memcpy(&c, shared, sizeof(c));
	if (c.magic != SRD_SHM_MAGIC || c.version != SRD_SHM_VERSION || c.app_id != app_id ||
	    c.region_size != h->region_size)
		return -EPROTO;
	if (!is_pow2(c.sq_entries) || !is_pow2(c.cq_entries) || c.sq_entries > (1u << 24) ||
	    c.cq_entries > (1u << 24))
		return -EPROTO;
	r[0] = (struct range){ c.sq_off, sizeof(struct srd_shm_ring) +
					 (uint64_t)c.sq_entries * sizeof(struct srd_sqe) };
	r[1] = (struct range){ c.cq_off, sizeof(struct srd_shm_ring) +
					 (uint64_t)c.cq_entries * sizeof(struct srd_cqe) };
	r[2] = (struct range){ c.tx_area_off, c.tx_area_size };
	r[3] = (struct range){ c.rx_area_off, c.rx_area_size };
	for (int i = 0; i < 4; i++) {
		if (r[i].off < SRD_SHM_HDR_SIZE || r[i].off % 64 || r[i].len < 64 ||
		    r[i].off > h->region_size || r[i].len > h->region_size - r[i].off)
			return -EPROTO;
		for (int j = 0; j < i; j++)
			if (r[i].off < r[j].off + r[j].len && r[j].off < r[i].off + r[i].len)
				return -EPROTO;
	}
	h->hdr = (struct srd_shm_hdr *)h->base;
	h->sq = (struct srd_shm_ring *)(h->base + c.sq_off);
	h->cq = (struct srd_shm_ring *)(h->base + c.cq_off);
	h->sqes = SRD_RING_ENTRIES(h->base, c.sq_off, struct srd_sqe);
	h->cqes = SRD_RING_ENTRIES(h->base, c.cq_off, struct srd_cqe);
	h->sq_entries = c.sq_entries;
	h->cq_entries = c.cq_entries;
	h->tx_off = c.tx_area_off;
	h->tx_size = c.tx_area_size;
	h->rx_off = c.rx_area_off;
	h->rx_size = c.rx_area_size;
	h->sq_tail = srd_load_acquire(&h->sq->tail);
	h->cq_head = srd_load_acquire(&h->cq->head);
	return 0;
}

/* Map the region (memfd) and set up everything that hangs off it. */
static int map_region(struct srdc *h, int memfd, const struct srd_ctl *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat st;
	int rc;

	h->region_size = w->u.welcome.region_size;
	h->app_id = w->u.welcome.app_id;
	h->max_msg = w->u.welcome.max_msg && w->u.welcome.max_msg < SRDC_MAX_MSG ?
			     w->u.welcome.max_msg : SRDC_MAX_MSG;
	h->naddrs = w->u.welcome.naddrs < SRDC_MAX_ADDRS ? w->u.welcome.naddrs : SRDC_MAX_ADDRS;
	memcpy(h->addrs, w->u.welcome.addrs, h->naddrs * sizeof(h->addrs[0]));
	if (h->region_size < SRD_SHM_HDR_SIZE || h->region_size > (1ull << 32) ||
	    fstat(memfd, &st) || (uint64_t)st.st_size < h->region_size)
		return -EPROTO;
	h->base = mmap(NULL, h->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (h->base == MAP_FAILED) {
		h->base = NULL;
		return -errno;
	}
	rc = check_layout(h, (const struct srd_shm_hdr *)h->base, h->app_id);
	if (rc)
		goto unmap_region;
	rc = -ENOMEM;
	/* blocks up to 16 MiB: a bounce buffer holds a whole message */
	if (srd_buddy_init(&h->txa, h->tx_size, SRDC_TX_MIN_SHIFT, 24 - SRDC_TX_MIN_SHIFT))
		goto unmap_region;
	h->lent = calloc((h->rx_size >> SRDC_RX_ALIGN_SHIFT) / 64 + 1, sizeof(uint64_t));
	/* as many small messages held at once as the rx area's smallest blocks (256 bytes) */
	srdc_rxpool_init(&h->rxpool, (uint32_t)(h->rx_size / 256 / SRDC_INLINE_CHUNK));
	h->nslots = 64;
	h->slots = calloc(h->nslots, sizeof(*h->slots));
	if (!h->lent || !h->slots)
		goto free_tables;
	for (uint32_t i = 0; i < h->nslots; i++)
		h->slots[i].next_free = i + 1 < h->nslots ? i + 1 : UINT32_MAX;
	h->free_slot = 0;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		rc = -errno;
		goto free_tables;
	}
	ev.data.u32 = 0;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->efd, &ev))
		goto close_epoll;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u32 = 1;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->sock, &ev))
		goto close_epoll;
	return 0;

close_epoll:
	rc = -errno;
	close(h->epfd);
	h->epfd = -1;
free_tables:
	free(h->lent);
	free(h->slots);
	srdc_rxpool_fini(&h->rxpool);
	srd_buddy_fini(&h->txa);
unmap_region:
	munmap(h->base, h->region_size);
	h->base = NULL;
	return rc;
}

int srdc_attach(const char *socket_path, const char *name, struct srdc **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct srd_ctl m;
	struct srdc *h;
	int fds[2] = { -1, -1 }, rc;

	if (!socket_path || !out)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->efd = h->epfd = -1;
	h->spin_ns = SRDC_SPIN_DEFAULT_US * 1000ull;
	h->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (h->sock < 0) {
		rc = -errno;
		goto free_handle;
	}
	if (connect(h->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto close_socket;
	}
	ctl_init(&m, SRD_CTL_HELLO);
	m.seq = ++h->seq;
	if (name)
		snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", name);
	/* a daemon that refused us at once may have closed already: read its reason anyway */
	if (send(h->sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m) &&
	    errno != EPIPE && errno != ECONNRESET) {
		rc = -errno;
		goto close_socket;
	}
	rc = recv_welcome(h->sock, h->seq, &m, fds);
	if (rc)
		goto close_socket;
	h->efd = fds[1];
	rc = map_region(h, fds[0], &m);
	close(fds[0]); /* the mapping keeps the region */
	if (rc)
		goto close_eventfd;
	*out = h;
	return 0;

close_eventfd:
	close(h->efd);
close_socket:
	close(h->sock);
free_handle:
	free(h);
	return rc;
}

void srdc_detach(struct srdc *h)
{
	if (!h)
		return;
	/* closing the socket makes the daemon close our endpoints and cancel our sends */
	while (h->eps) {
		struct srdc_ep *ep = h->eps;

		h->eps = ep->next;
		free(ep);
	}
	close(h->epfd);
	close(h->efd);
	close(h->sock);
	munmap(h->base, h->region_size);
	srd_buddy_fini(&h->txa);
	free(h->lent);
	free(h->slots);
	srdc_rxpool_fini(&h->rxpool);
	free(h);
}

int srdc_fd(const struct srdc *h)
{
	return h ? h->epfd : -EINVAL;
}

/* ---- endpoints ---- */

int srdc_ep_open(struct srdc *h, uint32_t ipv4, unsigned flags, struct srdc_ep **out)
{
	struct srd_ctl req, rep;
	struct srdc_ep *ep;
	int rc;

	if (!h || !out || (flags & ~SRDC_ORDERED))
		return -EINVAL;
	if (h->dead)
		return -ENOTCONN;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ctl_init(&req, SRD_CTL_EP_OPEN);
	req.u.ep_open.ipv4 = ipv4;
	req.u.ep_open.flags = (flags & SRDC_ORDERED) ? SRD_EP_ORDERED : 0;
	rc = ctl_call(h, &req, SRD_CTL_EP_OPENED, &rep);
	if (rc == 0 && rep.u.ep_opened.ep == 0)
		rc = -EPROTO;
	if (rc) {
		free(ep);
		return rc;
	}
	ep->h = h;
	ep->ipv4 = rep.u.ep_opened.ipv4;
	ep->id = rep.u.ep_opened.ep;
	ep->flags = flags;
	ep->next = h->eps;
	h->eps = ep;
	*out = ep;
	return 0;
}

void srdc_ep_close(struct srdc_ep *ep)
{
	struct srd_ctl req, rep;
	struct srdc *h;
	struct srdc_ep **pp;

	if (!ep)
		return;
	h = ep->h;
	for (pp = &h->eps; *pp && *pp != ep; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ep->next;
	if (h->last_ep == ep)
		h->last_ep = NULL;
	for (uint32_t i = 0; i < h->nslots; i++) {
		if (h->slots[i].used && h->slots[i].ep == ep) {
			h->slots[i].ep = NULL;
			h->slots[i].cancelled = 1;
		}
	}
	/* sends published before the close go out: the daemon must take them while the
	 * endpoint still exists, or refuse them as naming no endpoint.  It takes submissions
	 * before it reads its control sockets in each loop; this covers a send published
	 * while a loop ran between the two (not one it cannot take: its queue full) */
	(void)srdc_sq_drain(h, SRDC_CLOSE_DRAIN_MS);
	if (!h->dead) {
		ctl_init(&req, SRD_CTL_EP_CLOSE);
		req.u.ep_close.ep = ep->id;
		(void)ctl_call(h, &req, SRD_CTL_EP_CLOSED, &rep);
	}
	free(ep);
}

struct srdc_ep *srdc_ep_lookup(struct srdc *h, uint16_t id)
{
	struct srdc_ep *ep = h->last_ep;

	if (ep && ep->id == id)
		return ep;
	for (ep = h->eps; ep && ep->id != id; ep = ep->next)
		;
	if (ep)
		h->last_ep = ep;
	return ep;
}

void srdc_info(const struct srdc *h, struct srdc_info *info)
{
	memset(info, 0, sizeof(*info));
	info->max_msg = h->max_msg;
	info->naddrs = h->naddrs;
	memcpy(info->addrs, h->addrs, h->naddrs * sizeof(h->addrs[0]));
	info->tx_area = h->tx_size;
	info->rx_area = h->rx_size;
}

struct srdc_addr srdc_ep_addr(const struct srdc_ep *ep)
{
	struct srdc_addr a = { 0, 0 };

	if (ep) {
		a.ipv4 = ep->ipv4;
		a.ep = ep->id;
	}
	return a;
}

/* ---- addresses ---- */

int srdc_addr_format(const struct srdc_addr *a, char *buf, size_t len)
{
	char tmp[SRDC_ADDR_STRLEN + 8];
	int n;

	if (!a || !buf)
		return -EINVAL;
	n = snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u:%u", a->ipv4 >> 24, (a->ipv4 >> 16) & 0xff,
		     (a->ipv4 >> 8) & 0xff, a->ipv4 & 0xff, a->ep);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

/* A decimal number without sign, spaces or leading zeros, at most max.  Returns the
 * character after it, or NULL. */
static const char *parse_dec(const char *s, uint32_t max, uint32_t *v)
{
	uint32_t x = 0;
	const char *p = s;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (uint32_t)(*p - '0');
		if (x > max)
			return NULL;
	}
	*v = x;
	return p;
}

int srdc_addr_parse(const char *s, struct srdc_addr *a)
{
	uint32_t ip = 0, v;

	if (!s || !a)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		s = parse_dec(s, 255, &v);
		if (!s || *s != (i < 3 ? '.' : ':'))
			return -EINVAL;
		ip = ip << 8 | v;
		s++;
	}
	s = parse_dec(s, 65535, &v);
	if (!s || *s != '\0' || v == 0) /* endpoint ids are 1..65535 */
		return -EINVAL;
	a->ipv4 = ip;
	a->ep = (uint16_t)v;
	return 0;
}
