/*
 * dp_shm.c — the daemon's control plane for the shared-memory channels (see dp_shm.h):
 * the listening socket, credentials and handshakes, each app's region, endpoints, and
 * hang-ups.  The data plane (submissions, completions, receive buffers) is dp_shm_data.c.
 *
 * A connection is accepted, its SO_PEERCRED checked (root, our own uid, or an allowed uid
 * or gid; otherwise ERROR -EACCES and close), then it has DP_SHM_HELLO_TIMEOUT_NS to send
 * one well-formed HELLO.  Anything else (silence, EOF, garbage, a short or long message, a
 * wrong magic) closes it; a wrong version or unknown flags get ERROR -EPROTO first, a full
 * house ERROR -EUSERS.  Every such connection counts in `refused`.  Nothing here blocks.
 *
 * Each app gets its own sealed memfd (it cannot shrink it under the daemon's mapping), so
 * an app can only ever touch its own region.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS, accept4, struct ucred */
#endif
#include "dp_shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Send one control message without blocking.  Returns 0 or a negative errno. */
static int ctl_send(int fd, const struct srd_ctl *m)
{
	ssize_t n = send(fd, m, sizeof(*m), MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(*m))
		return 0;
	return n < 0 ? -errno : -EIO;
}

static void ctl_init(struct srd_ctl *m, uint16_t op, uint32_t seq, int32_t status)
{
	memset(m, 0, sizeof(*m));
	m->magic = SRD_CTL_MAGIC;
	m->version = SRD_SHM_VERSION;
	m->op = op;
	m->seq = seq;
	m->status = status;
}

/* Close a connection we refuse.  Its unread messages are drained first: closing a UNIX
 * socket with data still queued makes the peer's next recv fail with ECONNRESET before it
 * can read the ERROR we sent. */
static void close_refused(int fd)
{
	char buf[sizeof(struct srd_ctl)];

	for (int i = 0; i < 8 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

/* Best effort: tell a connection we are about to close why. */
static void send_error(int fd, uint32_t seq, int status)
{
	struct srd_ctl m;

	ctl_init(&m, SRD_CTL_ERROR, seq, status);
	(void)ctl_send(fd, &m);
}

/* ---- creation ---- */

/* The layout of every region, or -EINVAL if the configuration cannot hold one. */
static int compute_layout(const struct dp_config *cfg, struct dp_shm_layout *l,
			  uint64_t *region, char *err, size_t errlen)
{
	uint64_t size = align_up(cfg->app_region_bytes, PAGE), rest;

	if (!is_pow2(cfg->sq_entries) || cfg->sq_entries < 2 || cfg->sq_entries > DP_SHM_MAX_RING)
		return fail(err, errlen, -EINVAL, "sq_entries %u: not a power of two in [2, %u]",
			    cfg->sq_entries, DP_SHM_MAX_RING);
	if (!is_pow2(cfg->cq_entries) || cfg->cq_entries < 2 || cfg->cq_entries > DP_SHM_MAX_RING)
		return fail(err, errlen, -EINVAL, "cq_entries %u: not a power of two in [2, %u]",
			    cfg->cq_entries, DP_SHM_MAX_RING);
	if (size > (1ull << 32)) /* descriptors carry 32-bit offsets */
		return fail(err, errlen, -EINVAL, "app_region_bytes %llu: above 4 GiB",
			    (unsigned long long)cfg->app_region_bytes);
	l->sq_off = SRD_SHM_HDR_SIZE;
	l->cq_off = align_up(l->sq_off + sizeof(struct srd_shm_ring) +
			     (uint64_t)cfg->sq_entries * sizeof(struct srd_sqe), PAGE);
	l->tx_off = align_up(l->cq_off + sizeof(struct srd_shm_ring) +
			     (uint64_t)cfg->cq_entries * sizeof(struct srd_cqe), PAGE);
	rest = size > l->tx_off ? size - l->tx_off : 0;
	l->tx_size = (rest / 2) & ~(uint64_t)(PAGE - 1);
	l->rx_off = l->tx_off + l->tx_size;
	l->rx_size = (size - l->rx_off) & ~(uint64_t)(PAGE - 1);
	if (rest < 2ull * DP_SHM_MIN_AREA || l->tx_size < DP_SHM_MIN_AREA ||
	    l->rx_size < DP_SHM_MIN_AREA)
		return fail(err, errlen, -EINVAL,
			    "app_region_bytes %llu: too small for the rings and two %u KiB areas",
			    (unsigned long long)cfg->app_region_bytes, DP_SHM_MIN_AREA >> 10);
	*region = size;
	return 0;
}

/* mkdir -p of path's parent directory (mode 0755 for what it creates). */
static int mkdir_parents(const char *path, char *err, size_t errlen)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return fail(err, errlen, -errno, "%s: mkdir: %s", buf, strerror(errno));
		*p = '/';
	}
	return 0;
}

/* Remove a stale socket file at path; refuse if a live server answers there. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err,
		       size_t errlen)
{
	struct stat st;
	int probe, rc;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return fail(err, errlen, -EEXIST, "%s: exists and is not a socket", path);
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return fail(err, errlen, -errno, "socket: %s", strerror(errno));
	rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) ? errno : 0;
	close(probe);
	if (rc != ECONNREFUSED) /* connected, backlog full (EAGAIN), other type, ... */
		return fail(err, errlen, -EADDRINUSE, "%s: a server is listening there", path);
	if (unlink(path) && errno != ENOENT)
		return fail(err, errlen, -errno, "%s: unlink stale socket: %s", path,
			    strerror(errno));
	return 0;
}

/* Listen on s->path.  The socket is bound under a temporary name (the path plus
 * DP_SHM_SOCK_TMP) and renamed into place once it listens: whoever sees the path can
 * connect (between bind and listen a connect would be refused, and an app started as soon
 * as the path exists would fail). */
static int open_listener(struct dp_shm *s, uint32_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sa, tmp;
	struct stat st;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	tmp = sa;
	memcpy(tmp.sun_path + strlen(s->path), DP_SHM_SOCK_TMP, sizeof(DP_SHM_SOCK_TMP));
	rc = mkdir_parents(s->path, err, errlen);
	if (rc)
		return rc;
	rc = clear_stale(s->path, &sa, err, errlen);
	if (rc)
		return rc;
	if (unlink(tmp.sun_path) && errno != ENOENT) /* left by a daemon that died starting */
		return fail(err, errlen, -errno, "%s: unlink: %s", tmp.sun_path, strerror(errno));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp))) {
		rc = fail(err, errlen, -errno, "%s: bind: %s", tmp.sun_path, strerror(errno));
		goto close_socket;
	}
	if (chmod(tmp.sun_path, mode) || stat(tmp.sun_path, &st)) {
		rc = fail(err, errlen, -errno, "%s: chmod: %s", tmp.sun_path, strerror(errno));
		goto unlink_tmp;
	}
	if (listen(fd, 64)) {
		rc = fail(err, errlen, -errno, "%s: listen: %s", tmp.sun_path, strerror(errno));
		goto unlink_tmp;
	}
	if (rename(tmp.sun_path, s->path)) {
		rc = fail(err, errlen, -errno, "%s: rename to %s: %s", tmp.sun_path, s->path,
			  strerror(errno));
		goto unlink_tmp;
	}
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	s->lfd = fd;
	return 0;

unlink_tmp:
	unlink(tmp.sun_path);
close_socket:
	close(fd);
	return rc;
}

static int watch(struct dp_shm *s, int fd, uint32_t events, void *obj)
{
	struct epoll_event ev = { .events = events, .data.ptr = obj };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Share first's listening socket (a dup, so that each server closes its own). */
static int share_listener(struct dp_shm *s, struct dp_shm *first, char *err, size_t errlen)
{
	s->lfd = fcntl(first->lfd, F_DUPFD_CLOEXEC, 0);
	if (s->lfd < 0)
		return fail(err, errlen, -errno, "%s: dup: %s", s->path, strerror(errno));
	s->turn = first->turn;
	s->full = first->full;
	return 0;
}

/* Publish whether this server has room for another app (see accept_all). */
static void room_changed(struct dp_shm *s)
{
	unsigned bit = 1u << s->worker;

	if (s->napps + s->npending >= s->max_apps)
		atomic_fetch_or_explicit(s->full, bit, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(s->full, ~bit, memory_order_relaxed);
}

int dp_shm_create(const struct dp_config *cfg, const uint32_t *addrs, uint32_t naddrs,
		  uint32_t worker, struct dp_shm *first, struct dp_shm **out, char *err,
		  size_t errlen)
{
	struct dp_shm *s;
	size_t plen = strnlen(cfg->socket_path, sizeof(cfg->socket_path));
	int rc;

	_Static_assert(DP_SOCKET_PATH_MAX + sizeof(DP_SHM_SOCK_TMP) <= sizeof(s->path),
		       "the socket's temporary name must fit sun_path");
	if (plen == 0 || plen > DP_SOCKET_PATH_MAX)
		return fail(err, errlen, -EINVAL, "socket_path: empty or longer than %u bytes",
			    DP_SOCKET_PATH_MAX);
	if (cfg->max_apps == 0 || cfg->max_endpoints == 0 || cfg->max_endpoints > DP_SHM_MAX_EP)
		return fail(err, errlen, -EINVAL, "max_apps / max_endpoints out of range");
	if (cfg->nallowed_uids > DP_MAX_IDS || cfg->nallowed_gids > DP_MAX_IDS)
		return fail(err, errlen, -EINVAL, "too many allowed uids / gids");
	if (cfg->workers == 0 || cfg->workers > DP_MAX_WORKERS || worker >= cfg->workers ||
	    !first != !worker)
		return fail(err, errlen, -EINVAL, "worker %u of %u (%s)", worker, cfg->workers,
			    worker && !first ? "needs worker 0's server" : "out of range");
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, errlen, -ENOMEM, "out of memory");
	s->lfd = s->epfd = s->tfd = -1;
	rc = compute_layout(cfg, &s->lay, &s->region_bytes, err, errlen);
	if (rc)
		goto free_server;
	memcpy(s->path, cfg->socket_path, plen + 1);
	memcpy(s->allowed_uids, cfg->allowed_uids, sizeof(s->allowed_uids));
	memcpy(s->allowed_gids, cfg->allowed_gids, sizeof(s->allowed_gids));
	s->nallowed_uids = cfg->nallowed_uids;
	s->nallowed_gids = cfg->nallowed_gids;
	s->sq_entries = cfg->sq_entries;
	s->cq_entries = cfg->cq_entries;
	s->max_apps = cfg->max_apps;
	s->max_endpoints = cfg->max_endpoints;
	s->lfd_kind = DP_SHM_K_LISTEN;
	s->tfd_kind = DP_SHM_K_TIMER;
	s->worker = worker;
	s->nworkers = cfg->workers;
	s->next_app_id = worker + 1; /* app ids stay unique: each server steps by nworkers */
	s->next_ep = 1;
	atomic_init(&s->own_turn, 0);
	s->turn = &s->own_turn;
	atomic_init(&s->own_full, 0);
	s->full = &s->own_full;
	rc = fail(err, errlen, -ENOMEM, "out of memory");
	s->addrs = calloc(naddrs ? naddrs : 1, sizeof(*s->addrs));
	s->apps = calloc(cfg->max_apps, sizeof(*s->apps));
	s->eps = calloc(DP_SHM_MAX_EP + 1, sizeof(*s->eps));
	if (!s->addrs || !s->apps || !s->eps)
		goto free_tables;
	if (naddrs)
		memcpy(s->addrs, addrs, naddrs * sizeof(*addrs));
	s->naddrs = naddrs;
	s->max_msg = cfg->engine.max_msg_size;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = fail(err, errlen, -errno, "epoll_create1: %s", strerror(errno));
		goto free_tables;
	}
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd < 0) {
		rc = fail(err, errlen, -errno, "timerfd_create: %s", strerror(errno));
		goto close_epoll;
	}
	rc = first ? share_listener(s, first, err, errlen) :
		     open_listener(s, cfg->socket_mode, err, errlen);
	if (rc)
		goto close_timer;
	s->owns_path = !first;
	rc = watch(s, s->lfd, EPOLLIN, &s->lfd_kind);
	if (!rc)
		rc = watch(s, s->tfd, EPOLLIN, &s->tfd_kind);
	if (rc) {
		fail(err, errlen, rc, "epoll_ctl: %s", strerror(-rc));
		goto close_listener;
	}
	*out = s;
	return 0;

close_listener:
	close(s->lfd);
	if (s->owns_path)
		unlink(s->path);
close_timer:
	close(s->tfd);
close_epoll:
	close(s->epfd);
free_tables:
	free(s->addrs);
	free(s->apps);
	free(s->eps);
free_server:
	free(s);
	return rc;
}

int dp_shm_fd(const struct dp_shm *s)
{
	return s->epfd;
}

/* ---- connections before HELLO ---- */

static void timer_rearm(struct dp_shm *s)
{
	uint64_t want = s->pend_head ? s->pend_head->deadline_ns : 0;
	struct itimerspec its;

	if (want == s->tfd_armed_ns)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(want / 1000000000ull);
	its.it_value.tv_nsec = (long)(want % 1000000000ull);
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->tfd_armed_ns = want;
}

static void pending_unlink(struct dp_shm *s, struct dp_shm_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->pend_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		s->pend_tail = p->prev;
	s->npending--;
	room_changed(s);
}

/* Close a connection that never became an app (counted as refused). */
static void pending_close(struct dp_shm *s, struct dp_shm_pending *p)
{
	pending_unlink(s, p);
	s->st.refused++; /* before the app can see the close */
	close_refused(p->fd); /* also leaves the epoll set */
	free(p);
}

static int cred_allowed(const struct dp_shm *s, const struct ucred *c)
{
	if (c->uid == 0 || c->uid == geteuid())
		return 1;
	for (uint32_t i = 0; i < s->nallowed_uids; i++)
		if (s->allowed_uids[i] == c->uid)
			return 1;
	for (uint32_t i = 0; i < s->nallowed_gids; i++)
		if (s->allowed_gids[i] == c->gid)
			return 1;
	return 0;
}

/* Accept every waiting connection.  Returns how many. */
/* Accept new connections while it is this server's turn (the servers of all workers
 * share the socket and take it in turns, so apps spread over the workers).  A server with
 * no room passes its turn on, unless every server is full: then it accepts and refuses. */
static int accept_all(struct dp_shm *s)
{
	unsigned all = s->nworkers >= 32 ? ~0u : (1u << s->nworkers) - 1;
	int handled = 0;

	for (int i = 0; i < 64; i++) {
		struct dp_shm_pending *p;
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		unsigned turn = atomic_load_explicit(s->turn, memory_order_relaxed);
		unsigned full = atomic_load_explicit(s->full, memory_order_relaxed);
		int fd;

		if (turn % s->nworkers != s->worker)
			break;
		if ((full >> s->worker & 1) && (full | ~all) != ~0u) {
			atomic_compare_exchange_strong(s->turn, &turn, turn + 1);
			break;
		}
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break; /* EAGAIN, or an aborted connection: nothing to do */
		/* the next connection is the next server's (a server that lost a race for
		 * this one gets EAGAIN and waits for its turn) */
		atomic_compare_exchange_strong(s->turn, &turn, turn + 1);
		handled++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) || !cred_allowed(s, &cred)) {
			send_error(fd, 0, -EACCES);
			goto refuse;
		}
		if (s->npending >= DP_SHM_MAX_PENDING)
			goto refuse;
		p = calloc(1, sizeof(*p));
		if (!p)
			goto refuse;
		p->kind = DP_SHM_K_PENDING;
		p->fd = fd;
		p->uid = cred.uid;
		p->pid = cred.pid;
		p->deadline_ns = now_ns() + DP_SHM_HELLO_TIMEOUT_NS;
		if (watch(s, fd, EPOLLIN | EPOLLRDHUP, p)) {
			free(p);
			goto refuse;
		}
		p->prev = s->pend_tail;
		if (s->pend_tail)
			s->pend_tail->next = p;
		else
			s->pend_head = p;
		s->pend_tail = p;
		s->npending++;
		room_changed(s);
		continue;
refuse:
		s->st.refused++; /* before the app can see the close */
		close_refused(fd);
	}
	return handled;
}

static int expire_pending(struct dp_shm *s)
{
	uint64_t now = now_ns();
	int n = 0;

	while (s->pend_head && s->pend_head->deadline_ns <= now) {
		pending_close(s, s->pend_head);
		n++;
	}
	return n;
}

/* ---- apps ---- */

/* Create the region of app a and write its header.  Returns the memfd or -errno. */
static int region_create(struct dp_shm *s, struct dp_shm_app *a)
{
	const struct dp_shm_layout *l = &s->lay;
	struct srd_shm_hdr *h;
	char name[32];
	int fd, rc;

	snprintf(name, sizeof(name), "srd-app-%u", a->id);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* sealed: the app cannot shrink the file under our mapping (SIGBUS in the daemon) */
	if (ftruncate(fd, (off_t)s->region_bytes) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		rc = -errno;
		goto close_memfd;
	}
	a->base = mmap(NULL, s->region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a->base == MAP_FAILED) {
		rc = -errno;
		a->base = NULL;
		goto close_memfd;
	}
	a->region_size = s->region_bytes;
	/* 16 MiB messages take one block: order log2(16 MiB / 256) */
	rc = srd_buddy_init(&a->rxa, l->rx_size, DP_SHM_RX_MIN_SHIFT, 16);
	if (rc)
		goto unmap_region;
	/* each staged message holds two CQ entries or more: more slots could never fill */
	rc = dp_shm_stage_init(&a->stage, s->cq_entries / 2 < DP_SHM_STAGE_MAX ?
					  s->cq_entries / 2 : DP_SHM_STAGE_MAX);
	if (rc) {
		srd_buddy_fini(&a->rxa);
		goto unmap_region;
	}
	a->hdr = h = (struct srd_shm_hdr *)a->base;
	a->sq = (struct srd_shm_ring *)(a->base + l->sq_off);
	a->cq = (struct srd_shm_ring *)(a->base + l->cq_off);
	a->sqes = SRD_RING_ENTRIES(a->base, l->sq_off, struct srd_sqe);
	a->cqes = SRD_RING_ENTRIES(a->base, l->cq_off, struct srd_cqe);
	a->sq_entries = s->sq_entries;
	a->cq_entries = s->cq_entries;
	a->tx_off = l->tx_off;
	a->tx_size = l->tx_size;
	a->rx_off = l->rx_off;
	a->rx_size = l->rx_size;
	h->magic = SRD_SHM_MAGIC;
	h->version = SRD_SHM_VERSION;
	h->app_id = a->id;
	h->region_size = s->region_bytes;
	h->sq_off = l->sq_off;
	h->sq_entries = s->sq_entries;
	h->cq_entries = s->cq_entries;
	h->cq_off = l->cq_off;
	h->tx_area_off = l->tx_off;
	h->tx_area_size = l->tx_size;
	h->rx_area_off = l->rx_off;
	h->rx_area_size = l->rx_size;
	return fd;

unmap_region:
	munmap(a->base, s->region_bytes);
	a->base = NULL;
close_memfd:
	close(fd);
	return rc;
}

static int send_welcome(const struct dp_shm *s, struct dp_shm_app *a, int memfd, uint32_t seq)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct srd_ctl m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c;
	int fds[2] = { memfd, a->efd };

	ctl_init(&m, SRD_CTL_WELCOME, seq, 0);
	m.u.welcome.region_size = a->region_size;
	m.u.welcome.app_id = a->id;
	m.u.welcome.max_msg = s->max_msg;
	m.u.welcome.naddrs = s->naddrs < SRD_SHM_WELCOME_ADDRS ? s->naddrs :
									SRD_SHM_WELCOME_ADDRS;
	memcpy(m.u.welcome.addrs, s->addrs, m.u.welcome.naddrs * sizeof(uint32_t));
	memset(&cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(a->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(m))
		return -EIO;
	return 0;
}

/* Turn pending connection p, which sent a valid HELLO, into an app.  Returns 0, or a
 * negative errno to send back before closing it. */
static int app_create(struct dp_shm *s, struct dp_shm_pending *p, const struct srd_ctl *hello)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct dp_shm_app *a;
	int memfd, rc;

	if (s->napps >= s->max_apps)
		return -EUSERS;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->kind = DP_SHM_K_APP;
	/* an app may never read what it receives (srd-perf's do not) */
	srd_copy_pick_init(&a->rx_pick, false);
	a->id = s->next_app_id;
	s->next_app_id += s->nworkers;
	memcpy(a->name, hello->u.hello.name, SRD_SHM_NAME_MAX - 1);
	a->sock = p->fd;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		rc = -errno;
		goto free_app;
	}
	memfd = region_create(s, a);
	if (memfd < 0) {
		rc = memfd;
		goto close_eventfd;
	}
	rc = send_welcome(s, a, memfd, hello->seq);
	close(memfd); /* the app has its copy; our mapping stays */
	if (rc)
		goto free_region;
	ev.data.ptr = a;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, a->sock, &ev)) {
		rc = -errno;
		goto free_region;
	}
	pending_unlink(s, p);
	free(p);
	a->list_idx = s->napps;
	s->apps[s->napps++] = a;
	room_changed(s);
	s->st.apps = s->napps;
	s->st.attaches++;
	return 0;

free_region:
	dp_shm_stage_fini(&a->stage);
	srd_buddy_fini(&a->rxa);
	munmap(a->base, a->region_size);
close_eventfd:
	close(a->efd);
free_app:
	free(a);
	return rc;
}

/* Read the HELLO of pending connection p. */
static void pending_input(struct dp_shm *s, struct dp_shm_pending *p)
{
	struct srd_ctl m;
	ssize_t n = recv(p->fd, &m, sizeof(m), MSG_TRUNC | MSG_DONTWAIT);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m) || m.magic != SRD_CTL_MAGIC || m.op != SRD_CTL_HELLO) {
		pending_close(s, p); /* EOF, error, garbage, truncated or oversized */
		return;
	}
	if (m.version != SRD_SHM_VERSION || m.u.hello.flags != 0) {
		send_error(p->fd, m.seq, -EPROTO);
		pending_close(s, p);
		return;
	}
	rc = app_create(s, p, &m);
	if (rc) {
		send_error(p->fd, m.seq, rc);
		pending_close(s, p);
	}
}

struct dp_shm_ep *dp_shm_ep_by_id(const struct dp_shm *s, uint16_t id)
{
	return dp_ep_worker(id) == s->worker ? s->eps[id & DP_SHM_MAX_EP] : NULL;
}

struct dp_shm_ep *dp_shm_ep_find(const struct dp_shm *s, uint32_t ipv4, uint16_t id)
{
	struct dp_shm_ep *e = dp_shm_ep_by_id(s, id);

	return e && e->ipv4 == ipv4 ? e : NULL;
}

static void ep_free(struct dp_shm *s, struct dp_shm_ep *e)
{
	struct dp_shm_ep **pp = &e->app->eps;

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	s->eps[e->id & DP_SHM_MAX_EP] = NULL;
	s->neps--;
	s->st.endpoints = s->neps;
	free(e);
}

static int ep_open(struct dp_shm *s, struct dp_shm_app *a, const struct srd_ctl *m,
		   struct srd_ctl *r)
{
	uint32_t ip = m->u.ep_open.ipv4, i;
	struct dp_shm_ep *e;

	if (m->u.ep_open.flags & ~SRD_EP_ORDERED)
		return -EINVAL;
	if (ip == 0 && s->naddrs)
		ip = s->addrs[0];
	for (i = 0; i < s->naddrs && s->addrs[i] != ip; i++)
		;
	if (i == s->naddrs)
		return -EADDRNOTAVAIL;
	if (s->neps >= s->max_endpoints)
		return -EMFILE;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	while (s->eps[s->next_ep]) /* a free slot exists: neps < max_endpoints <= 4095 */
		s->next_ep = s->next_ep % DP_SHM_MAX_EP + 1;
	e->id = (uint16_t)(s->worker << DP_EP_WORKER_SHIFT | s->next_ep);
	s->next_ep = s->next_ep % DP_SHM_MAX_EP + 1; /* ids are reused as late as possible */
	e->app = a;
	e->ipv4 = ip;
	e->ordered = !!(m->u.ep_open.flags & SRD_EP_ORDERED);
	e->next = a->eps;
	a->eps = e;
	s->eps[e->id & DP_SHM_MAX_EP] = e;
	s->neps++;
	s->st.endpoints = s->neps;
	r->u.ep_opened.ipv4 = ip;
	r->u.ep_opened.ep = e->id;
	return 0;
}

/* Handle app a's control messages (a bounded number per call). */
static void app_input(struct dp_shm *s, struct dp_shm_app *a)
{
	for (uint32_t i = 0; i < DP_SHM_CTL_BUDGET; i++) {
		struct srd_ctl m, r;
		ssize_t n = recv(a->sock, &m, sizeof(m), MSG_TRUNC | MSG_DONTWAIT);
		struct dp_shm_ep *e;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EOF or a dead connection */
			dp_shm_app_detach(s, a);
			return;
		}
		if (n != (ssize_t)sizeof(m) || m.magic != SRD_CTL_MAGIC ||
		    m.version != SRD_SHM_VERSION) {
			ctl_init(&r, SRD_CTL_ERROR, n >= 16 ? m.seq : 0, -EPROTO);
		} else if (m.op == SRD_CTL_EP_OPEN) {
			ctl_init(&r, SRD_CTL_EP_OPENED, m.seq, 0);
			r.status = ep_open(s, a, &m, &r);
		} else if (m.op == SRD_CTL_EP_CLOSE) {
			e = dp_shm_ep_by_id(s, m.u.ep_close.ep);
			ctl_init(&r, SRD_CTL_EP_CLOSED, m.seq, e && e->app == a ? 0 : -ENOENT);
			r.u.ep_close.ep = m.u.ep_close.ep;
			if (e && e->app == a)
				ep_free(s, e);
		} else {
			ctl_init(&r, SRD_CTL_ERROR, m.seq, -EINVAL);
		}
		if (ctl_send(a->sock, &r)) { /* an app that does not read its replies */
			dp_shm_app_detach(s, a);
			return;
		}
	}
}

static uint32_t frames_in(const struct dp_shm_app *a, uint32_t which)
{
	return __atomic_load_n(&a->frame_refs[which], __ATOMIC_ACQUIRE);
}

/* Frames queued that name a's bytes (either count). */
static uint32_t frames_out(const struct dp_shm_app *a)
{
	return frames_in(a, 0) + frames_in(a, 1);
}

/* Free everything of app a now (its sends and filling buffers are forgotten). */
static void app_free(struct dp_shm *s, struct dp_shm_app *a)
{
	struct dp_shm_app *last = s->apps[--s->napps];

	last->list_idx = a->list_idx;
	s->apps[a->list_idx] = last;
	s->apps[s->napps] = NULL;
	if (s->rr >= s->napps)
		s->rr = 0;
	s->st.apps = s->napps;
	room_changed(s);
	s->st.sends_inflight -= a->sends_inflight;
	s->st.rx_bufs_lent -= a->rx_filling + a->rx_lent;
	s->st.rx_bytes_lent -= a->rx_bytes;
	s->st.rx_inline_filling -= a->rx_staged;
	dp_shm_stage_fini(&a->stage);
	srd_buddy_fini(&a->rxa);
	munmap(a->base, a->region_size);
	free(a->ovf);
	free(a);
}

void dp_shm_app_maybe_free(struct dp_shm *s, struct dp_shm_app *a)
{
	if (a->dead && a->sends_inflight == 0 && a->rx_filling == 0 && a->rx_staged == 0 &&
	    frames_out(a) == 0)
		app_free(s, a);
}

struct dp_shm_app *dp_shm_send_area_app(struct dp_shm *s, const void *p, uint32_t len)
{
	const uint8_t *b = p;

	/* asked once per frame, and frames come in runs from one app: start at the last
	 * one found, so that the common case looks at one app, however many there are */
	uint32_t start = s->area_hint < s->napps ? s->area_hint : 0;

	for (uint32_t k = 0, i = start; k < s->napps; k++, i = i + 1 < s->napps ? i + 1 : 0) {
		struct dp_shm_app *a = s->apps[i];
		const uint8_t *area = a->base + a->tx_off;

		if (b >= area && (uint64_t)(b - area) + len <= a->tx_size) {
			s->area_hint = i;
			return a;
		}
	}
	return NULL;
}

uint32_t *dp_shm_frame_get(struct dp_shm_app *a)
{
	uint32_t *count = &a->frame_refs[a->frame_cur];

	__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
	return count;
}

void dp_shm_frame_put(void *addr, void *count)
{
	(void)addr;
	__atomic_fetch_sub((uint32_t *)count, 1, __ATOMIC_RELEASE);
}

/* Begin a fence: the frames counted so far are in the count new ones no longer take. */
static void fence_begin(struct dp_shm_app *a)
{
	a->frame_cur ^= 1;
	a->fence_started++;
}

uint64_t dp_shm_frames_fence(struct dp_shm_app *a)
{
	if (a->fence_started == a->fence_done) {
		/* no fence runs: every frame is in frame_refs[frame_cur] */
		if (frames_in(a, a->frame_cur) == 0)
			return a->fence_done;
		fence_begin(a);
		return a->fence_started;
	}
	/* one runs, for frames taken before it began: ours may have been taken since, so
	   the next one, begun when this one ends, is ours */
	a->fence_wanted = a->fence_started + 1;
	return a->fence_wanted;
}

int dp_shm_frames_passed(struct dp_shm_app *a, uint64_t ticket)
{
	if (a->fence_started != a->fence_done && frames_in(a, a->frame_cur ^ 1) == 0)
		a->fence_done = a->fence_started;
	if (a->fence_started == a->fence_done && a->fence_wanted > a->fence_done) {
		if (frames_in(a, a->frame_cur) == 0) {
			a->fence_started = a->fence_done = a->fence_wanted; /* nothing to wait for */
		} else {
			fence_begin(a);
			if (frames_in(a, a->frame_cur ^ 1) == 0) /* freed meanwhile */
				a->fence_done = a->fence_started;
		}
	}
	return a->fence_done >= ticket;
}

/* Free the gone apps whose last frame has been freed since (by any lcore). */
static void free_drained_apps(struct dp_shm *s)
{
	for (uint32_t i = s->napps; i-- > 0;) /* app_free moves the last one into i */
		if (s->apps[i]->dead)
			dp_shm_app_maybe_free(s, s->apps[i]);
}

void dp_shm_app_detach(struct dp_shm *s, struct dp_shm_app *a)
{
	if (a->dead)
		return;
	a->dead = 1;
	a->need_signal = 0;
	close(a->sock); /* also leaves the epoll set */
	close(a->efd);
	a->sock = a->efd = -1;
	while (a->eps)
		ep_free(s, a->eps);
	a->ovf_count = 0;
	a->ovf_head = 0;
	/* Buffers the app held are ours again (a linear walk: this is rare). */
	for (uint32_t b = 0; b < a->rxa.nblocks && a->rx_lent; b++) {
		uint64_t off = (uint64_t)b << a->rxa.min_shift;

		if (srd_buddy_tag(&a->rxa, off) == DP_SHM_RX_LENT)
			dp_shm_rx_free(s, a, off);
	}
	dp_shm_app_maybe_free(s, a);
}

int dp_shm_poll_control(struct dp_shm *s)
{
	struct epoll_event ev[32];
	int n = epoll_wait(s->epfd, ev, 32, 0), handled = 0;
	uint64_t expirations;

	for (int i = 0; i < n; i++) {
		switch (*(uint32_t *)ev[i].data.ptr) {
		case DP_SHM_K_LISTEN:
			handled += accept_all(s);
			break;
		case DP_SHM_K_TIMER:
			(void)!read(s->tfd, &expirations, sizeof(expirations));
			s->tfd_armed_ns = 0; /* it fired: set it again below */
			break;
		case DP_SHM_K_PENDING:
			pending_input(s, ev[i].data.ptr);
			handled++;
			break;
		case DP_SHM_K_APP:
			app_input(s, ev[i].data.ptr);
			handled++;
			break;
		}
	}
	handled += expire_pending(s);
	free_drained_apps(s);
	timer_rearm(s);
	return handled;
}

void dp_shm_destroy(struct dp_shm *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->pend_head)
		pending_close(s, s->pend_head);
	while (s->napps) {
		struct dp_shm_app *a = s->apps[0];
		/* every frame naming an app's bytes was freed before this, with the workers
		   and the ports (dp_ports_stop) */
		int draining = a->sends_inflight || a->rx_filling || a->rx_staged ||
			       frames_out(a);

		dp_shm_app_detach(s, a);
		if (draining)
			app_free(s, a); /* the engines are gone: nothing will complete */
	}
	close(s->lfd);
	close(s->tfd);
	close(s->epfd);
	if (s->owns_path && stat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		unlink(s->path);
	free(s->addrs);
	free(s->apps);
	free(s->eps);
	free(s);
}

void dp_shm_get_stats(const struct dp_shm *s, struct dp_shm_stats *st)
{
	*st = s->st;
}
