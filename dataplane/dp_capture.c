/*
 * dp_capture.c — the capture service: sessions, their start and end, and the workers'
 * side (see dp_capture.h).  The writer thread is in dp_capture_writer.c.
 *
 * Threads.  start, stop and status run on DPDK's telemetry thread (/srd/capture), the
 * writer on a thread of its own, the copies on the workers.  A worker never takes a
 * lock: it learns of a change through the service's generation number, which it reads
 * once per loop iteration, and says it has taken the change up by storing that number
 * in its ack slot:
 *
 *   controller (holds c->lock)               worker (dp_capture_apply)
 *   live = s                    (relaxed)
 *   gen = odd                   (release) ──► gen                        (acquire)
 *                                             sess = gen odd ? live : NULL
 *   ack[w] >= gen ?             (acquire) ◄── ack[w] = gen               (release)
 *
 * A worker whose ack is at least the new generation feeds the new session (odd) or no
 * session at all (even), so once every ack has caught up after "gen = even" no worker
 * touches the old session again, and it can be freed.  The per-session counters are
 * written by their worker only (relaxed stores) and read by others with relaxed loads;
 * after the detach they are final (the ack's release/acquire pair orders them).
 */
/* rte_pcapng is experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API

#include "dp_capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_capture_int.h"
#include "dp_impair.h"
#include "dp_log.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_worker.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_us(long us)
{
	const struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- the workers' side ---- */

void dp_capture_apply(struct dp_capture *c, struct dp_worker *w)
{
	/* acquire: pairs with the controller's release store of gen (live before it) */
	uint64_t g = __atomic_load_n(&c->head.gen, __ATOMIC_ACQUIRE);

	w->cap.sess = (g & 1) ? __atomic_load_n(&c->live, __ATOMIC_RELAXED) : NULL;
	w->cap.gen = g;
	/* release: pairs with wait_acks()'s acquire load; the counters before it are final */
	__atomic_store_n(&c->ack[w->index], g, __ATOMIC_RELEASE);
}

/* Does frame d[0..len) pass s's filter? */
static int cap_match(const struct dp_cap_session *s, const uint8_t *d, uint32_t len)
{
	uint32_t ihl, a, b;
	const uint8_t *srd;

	switch (s->req.filter) {
	case DP_CAPTURE_ALL:
		return 1;
	case DP_CAPTURE_PEER:
		if (len >= DP_ETH_HLEN + DP_IP_HLEN && d[12] == 0x08 && d[13] == 0x00) {
			a = (uint32_t)d[26] << 24 | (uint32_t)d[27] << 16 | (uint32_t)d[28] << 8 | d[29];
			b = (uint32_t)d[30] << 24 | (uint32_t)d[31] << 16 | (uint32_t)d[32] << 8 | d[33];
		} else if (len >= DP_ARP_FRAME_LEN && d[12] == 0x08 && d[13] == 0x06) {
			a = (uint32_t)d[28] << 24 | (uint32_t)d[29] << 16 | (uint32_t)d[30] << 8 | d[31];
			b = (uint32_t)d[38] << 24 | (uint32_t)d[39] << 16 | (uint32_t)d[40] << 8 | d[41];
		} else {
			return 0;
		}
		return a == s->req.peer_ip || b == s->req.peer_ip;
	case DP_CAPTURE_CONN:
		if (len < DP_ETH_HLEN + DP_IP_HLEN || d[12] != 0x08 || d[13] != 0x00 || d[23] != 17)
			return 0;
		ihl = (uint32_t)(d[14] & 0x0f) * 4u;
		if (len < DP_ETH_HLEN + ihl + DP_UDP_HLEN + 12)
			return 0;
		srd = d + DP_ETH_HLEN + ihl + DP_UDP_HLEN;
		a = (uint32_t)srd[4] << 24 | (uint32_t)srd[5] << 16 | (uint32_t)srd[6] << 8 | srd[7];
		b = (uint32_t)srd[8] << 24 | (uint32_t)srd[9] << 16 | (uint32_t)srd[10] << 8 | srd[11];
		return a == s->req.conn_id || b == s->req.conn_id;
	}
	return 0;
}

/* Copy m for s with metadata meta (orig_len filled here) into out[*nout]; a frame with no
 * copy buffer is counted in *drops. */
static void cap_copy(struct dp_cap_session *s, struct rte_mbuf *m, const struct cap_meta *meta,
		     struct rte_mbuf **out, uint16_t *nout, uint64_t *drops)
{
	struct rte_mbuf *c;
	struct cap_meta *cm;

	if (!cap_match(s, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m)))
		return;
	c = rte_pktmbuf_copy(m, s->pool, 0, s->req.snaplen);
	if (!c) {
		(*drops)++;
		return;
	}
	cm = rte_mbuf_to_priv(c);
	*cm = *meta;
	cm->orig_len = rte_pktmbuf_pkt_len(m);
	out[(*nout)++] = c;
}

/* Put copies[0..n) in the ring and count them, and the drops, for port idx. */
static void cap_publish(struct dp_worker *w, struct dp_cap_session *s, uint16_t idx,
			struct rte_mbuf **copies, uint16_t n, uint64_t drops)
{
	struct cap_count *cnt = &s->count[w->index][idx];
	unsigned k = n ? rte_ring_mp_enqueue_burst(s->ring, (void **)copies, n, NULL) : 0;

	if (k < n) {
		rte_pktmbuf_free_bulk(copies + k, n - k);
		drops += n - k;
	}
	__atomic_store_n(&cnt->copied, cnt->copied + k, __ATOMIC_RELAXED);
	__atomic_store_n(&cnt->dropped, cnt->dropped + drops, __ATOMIC_RELAXED);
	w->st.capture_pkts += k;
	w->st.capture_drops += drops;
}

static uint16_t wport_index(const struct dp_worker *w, const struct dp_wport *wp)
{
	return (uint16_t)(wp - w->wp);
}

/* Copy n frames of port wp (direction dir) for w's session: pkts[i], or, for frames the
 * impairment stage dropped, dropped[i].m marked with why and where. */
static void cap_burst(struct dp_worker *w, const struct dp_wport *wp, enum dp_capture_dir dir,
		      struct rte_mbuf *const *pkts, const struct dp_impair_drop *dropped,
		      uint16_t n)
{
	struct dp_cap_session *s = w->cap.sess;
	uint16_t idx = wport_index(w, wp);
	struct cap_meta meta = {
		.tsc = rte_rdtsc(), .port_id = wp->port->port_id, .queue = wp->queue,
		.port_idx = idx, .dir = (uint8_t)dir,
	};
	struct rte_mbuf *copies[CAP_BURST];

	if (!(s->req.port_mask >> idx & 1))
		return;
	for (uint16_t i = 0; i < n;) {
		uint16_t nc = 0;
		uint64_t drops = 0;

		for (uint16_t end = (uint16_t)(i + CAP_BURST < n ? i + CAP_BURST : n); i < end; i++) {
			if (dropped) {
				meta.why = dropped[i].why;
				meta.path = dropped[i].path;
			}
			cap_copy(s, dropped ? dropped[i].m : pkts[i], &meta, copies, &nc, &drops);
		}
		cap_publish(w, s, idx, copies, nc, drops);
	}
}

void dp_capture_frames(struct dp_worker *w, const struct dp_wport *wp, struct rte_mbuf *const *pkts,
		       uint16_t n, enum dp_capture_dir dir)
{
	cap_burst(w, wp, dir, pkts, NULL, n);
}

void dp_capture_dropped(struct dp_worker *w, const struct dp_wport *wp,
			const struct dp_impair_drop *dropped, uint16_t n)
{
	cap_burst(w, wp, DP_CAPTURE_OUT, NULL, dropped, n);
}

/* ---- generations ---- */

/* Wait until every worker has applied generation gen (unbounded when timeout_ns is 0).
 * Returns 0, or -ETIMEDOUT. */
static int wait_acks(struct dp_capture *c, uint64_t gen, uint64_t timeout_ns)
{
	uint64_t deadline = timeout_ns ? mono_ns() + timeout_ns : UINT64_MAX;

	for (;;) {
		uint32_t done = 0;

		if (atomic_load(&c->workers_gone))
			return 0;
		for (uint32_t k = 0; k < c->nworkers; k++)
			done += __atomic_load_n(&c->ack[k], __ATOMIC_ACQUIRE) >= gen;
		if (done == c->nworkers)
			return 0;
		if (mono_ns() >= deadline)
			return -ETIMEDOUT;
		pause_us(50);
	}
}

/* Publish s (or none) to the workers; returns the new generation.  c->lock held. */
static uint64_t publish(struct dp_capture *c, struct dp_cap_session *s)
{
	uint64_t g = c->head.gen + 1;

	if ((g & 1) != (s != NULL))
		g++;
	__atomic_store_n(&c->live, s, __ATOMIC_RELAXED);
	/* release: pairs with dp_capture_apply()'s acquire load (live before it) */
	__atomic_store_n(&c->head.gen, g, __ATOMIC_RELEASE);
	return g;
}

void dp_cap_detach(struct dp_cap_session *s)
{
	struct dp_capture *c = s->svc;
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	if (__atomic_load_n(&c->live, __ATOMIC_RELAXED) != s || !(c->head.gen & 1)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	g = publish(c, NULL);
	pthread_mutex_unlock(&c->lock);
	/* a worker answers within an iteration; only a daemon that stops ends this early */
	wait_acks(c, g, 0);
}

/* ---- sessions ---- */

void dp_cap_release(struct dp_cap_session *s)
{
	struct rte_mbuf *m;

	while (s->ring && rte_ring_sc_dequeue(s->ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(s->ring);
	rte_mempool_free(s->pool);
	rte_mempool_free(s->out_pool);
	s->ring = NULL;
	s->pool = NULL;
	s->out_pool = NULL;
}

/* Close s's stream (rte_pcapng_close() closes the fd it took).  c->lock held, or no other
 * thread left that could use s. */
void dp_cap_close_stream(struct dp_cap_session *s)
{
	if (s->pcapng)
		rte_pcapng_close(s->pcapng);
	else if (s->fd >= 0)
		close(s->fd);
	s->pcapng = NULL;
	s->fd = -1;
	s->fd_closed = 1;
}

/* Free s: join its writer (which closes the stream and releases the buffers), or do
 * that here for a session that failed to start. */
static void session_free(struct dp_cap_session *s)
{
	if (!s)
		return;
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	dp_cap_close_stream(s);
	dp_cap_release(s);
	rte_free(s);
}

/* The largest frame a port's mbufs hold (the snap length of whole frames). */
static uint32_t max_frame(const struct dp_ports *ports)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < ports->n; i++) {
		uint32_t room = rte_pktmbuf_data_room_size(ports->port[i].pool) - RTE_PKTMBUF_HEADROOM;

		if (room > m)
			m = room;
	}
	return m;
}

/* Connect to the requester's socket.  Returns the fd, or a negative errno. */
static int connect_stream(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* non-blocking connect: a listener that is not accepting must not hang the
	 * telemetry thread (EAGAIN); the stream then blocks, the writer's thread only */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* The copy pool, the writer's pool and the ring of session s. */
static int session_buffers(struct dp_capture *c, struct dp_cap_session *s, char *err,
			   size_t errlen)
{
	int socket = c->ports->n ? c->ports->port[0].socket : SOCKET_ID_ANY;
	uint32_t elt = (uint32_t)sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM + s->req.snaplen +
		       RTE_ALIGN((uint32_t)sizeof(struct cap_meta), RTE_MBUF_PRIV_ALIGN);
	uint32_t ring = CAP_RING_MAX, out_room;
	char name[RTE_RING_NAMESIZE];

	while (ring > CAP_RING_MIN && (uint64_t)ring * elt > CAP_RING_BYTES)
		ring /= 2;
	snprintf(name, sizeof(name), "srd_cap%u", s->id);
	s->ring = rte_ring_create(name, ring, socket, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "srd_capc%u", s->id);
	s->pool = rte_pktmbuf_pool_create(name, ring + c->nworkers * CAP_POOL_CACHE * 3 / 2 + 1,
					  CAP_POOL_CACHE,
					  RTE_ALIGN(sizeof(struct cap_meta), RTE_MBUF_PRIV_ALIGN),
					  (uint16_t)(RTE_PKTMBUF_HEADROOM + s->req.snaplen), socket);
	/* the block: what rte_pcapng_mbuf_size() asks, room for the options it may add
	 * beyond that (an RSS hash, a VLAN tag put back) and for our comment */
	out_room = rte_pcapng_mbuf_size(s->req.snaplen) + 64 + 4 + CAP_COMMENT_MAX;
	snprintf(name, sizeof(name), "srd_capo%u", s->id);
	s->out_pool = out_room <= UINT16_MAX ?
		      rte_pktmbuf_pool_create(name, CAP_OUT_POOL, 0, 0, (uint16_t)out_room, socket) :
		      NULL;
	if (!s->ring || !s->pool || !s->out_pool) {
		snprintf(err, errlen, "capture buffers (%u copies of %u bytes): %s", ring, elt,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

/* Start s's writer with every signal blocked (SIGPIPE above all: a reader that goes
 * away must be an error on write, not the daemon's end). */
static int start_writer(struct dp_cap_session *s)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->writer, NULL, dp_cap_writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	s->writer_started = 1;
	return 0;
}

/* Wall clock and TSC at the same moment (the TSC is read on both sides of the clock). */
static void clock_pair(struct dp_cap_session *s)
{
	struct timespec ts;
	uint64_t t1 = rte_rdtsc(), t2;

	clock_gettime(CLOCK_REALTIME, &ts);
	t2 = rte_rdtsc();
	s->tsc0 = t1 + (t2 - t1) / 2;
	s->real0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->tsc_hz = rte_get_tsc_hz();
	s->start_ns = s->real0_ns;
}

int dp_capture_start(struct dp_capture *c, const struct dp_capture_req *req, uint32_t *id,
		     char *err, size_t errlen)
{
	struct dp_cap_session *s;
	uint64_t g;
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->sess && !atomic_load(&c->sess->finished)) {
		snprintf(err, errlen, "capture %u is running (stop it first)", c->sess->id);
		rc = -EBUSY;
		goto out_unlock;
	}
	session_free(c->sess);
	c->sess = NULL;
	s = rte_zmalloc("srd_capture", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_unlock;
	}
	s->svc = c;
	s->id = ++c->next_id;
	s->req = *req;
	s->fd = -1;
	s->nports = c->ports->n;
	for (uint32_t i = 0; i < s->nports; i++)
		s->port_id[i] = c->ports->port[i].port_id;
	if (s->req.port_mask == 0)
		s->req.port_mask = (uint32_t)((1ull << s->nports) - 1);
	if (s->req.snaplen == 0 || s->req.snaplen > max_frame(c->ports))
		s->req.snaplen = max_frame(c->ports);
	c->sess = s; /* from here on, a failure leaves it as a finished session */
	rc = session_buffers(c, s, err, errlen);
	if (rc)
		goto out_failed;
	s->fd = connect_stream(s->req.sock);
	if (s->fd < 0) {
		rc = s->fd;
		snprintf(err, errlen, "cannot connect to %s: %s", s->req.sock, strerror(-rc));
		goto out_failed;
	}
	clock_pair(s);
	rc = dp_cap_open_stream(s, err, errlen);
	if (rc)
		goto out_failed;
	rc = start_writer(s);
	if (rc) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(-rc));
		goto out_failed;
	}
	g = publish(c, s);
	*id = s->id;
	rc = wait_acks(c, g, CAP_ACK_WAIT_NS);
	if (rc) {
		/* the writer ends the session (detach waits for the late worker) */
		atomic_store(&s->stop, 1);
		snprintf(err, errlen, "a worker did not take the capture up within 1 s");
	}
	pthread_mutex_unlock(&c->lock);
	return rc;

out_failed:
	/* no worker saw it: keep it for its status, without its stream and buffers */
	dp_cap_close_stream(s);
	dp_cap_release(s);
	snprintf(s->end, sizeof(s->end), "failed to start: %s", err);
	atomic_store(&s->finished, 1);
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Unblock a writer stuck in a write to a reader that does not read.  c->lock held. */
static void force_end(struct dp_cap_session *s)
{
	if (!s->fd_closed && s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
}

int dp_capture_stop(struct dp_capture *c, uint32_t id)
{
	struct dp_cap_session *s;
	uint64_t deadline = mono_ns() + CAP_ACK_WAIT_NS;

	pthread_mutex_lock(&c->lock);
	s = c->sess;
	if (!s || atomic_load(&s->finished) || (id && s->id != id)) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	atomic_store(&s->stop, 1);
	pthread_mutex_unlock(&c->lock);
	/* the writer completes the stream; a reader that does not read cannot hold it */
	while (!atomic_load(&s->finished) && mono_ns() < deadline)
		pause_us(1000);
	pthread_mutex_lock(&c->lock);
	if (c->sess == s && !atomic_load(&s->finished))
		force_end(s);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void dp_capture_get_status(struct dp_capture *c, struct dp_capture_status *st)
{
	const struct dp_cap_session *s;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&c->lock);
	s = c->sess;
	if (s) {
		st->id = s->id;
		st->state = atomic_load(&s->finished) ? DP_CAPTURE_DONE : DP_CAPTURE_RUNNING;
		st->req = s->req;
		st->written = atomic_load(&s->written);
		st->bytes = atomic_load(&s->bytes);
		for (uint32_t k = 0; k < c->nworkers; k++)
			for (uint32_t i = 0; i < s->nports; i++)
				st->dropped += __atomic_load_n(&s->count[k][i].dropped,
							       __ATOMIC_RELAXED);
		if (st->state == DP_CAPTURE_DONE)
			snprintf(st->end, sizeof(st->end), "%s", s->end);
	}
	pthread_mutex_unlock(&c->lock);
}

void dp_capture_filter_str(const struct dp_capture_req *req, char *buf, size_t len)
{
	switch (req->filter) {
	case DP_CAPTURE_PEER:
		snprintf(buf, len, "peer %u.%u.%u.%u", req->peer_ip >> 24, req->peer_ip >> 16 & 255,
			 req->peer_ip >> 8 & 255, req->peer_ip & 255);
		return;
	case DP_CAPTURE_CONN:
		snprintf(buf, len, "conn 0x%08x", req->conn_id);
		return;
	case DP_CAPTURE_ALL:
		break;
	}
	snprintf(buf, len, "all");
}

/* ---- parameters ---- */

/* Port index for a name or a decimal index; -1 if none. */
static int port_index(const struct dp_capture *c, const char *s)
{
	char *end;
	unsigned long v;

	for (uint32_t i = 0; i < c->ports->n; i++)
		if (!strcmp(c->ports->port[i].cfg->name, s))
			return (int)i;
	v = strtoul(s, &end, 10);
	return *s && !*end && v < c->ports->n ? (int)v : -1;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int dp_capture_parse(const struct dp_capture *c, const char *params, struct dp_capture_req *req,
		     char *err, size_t errlen)
{
	char buf[512], *save = NULL, *kv;
	uint64_t v;

	memset(req, 0, sizeof(*req));
	if (strlen(params) >= sizeof(buf)) {
		snprintf(err, errlen, "parameters too long");
		return -EINVAL;
	}
	strcpy(buf, params);
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		struct in_addr a;
		int p;

		if (!val) {
			snprintf(err, errlen, "%.32s: want KEY=VALUE", kv);
			return -EINVAL;
		}
		*val++ = '\0';
		if (!strcmp(kv, "sock")) {
			if (val[0] != '/' || strlen(val) >= sizeof(req->sock)) {
				snprintf(err, errlen, "sock: want an absolute path under %zu bytes",
					 sizeof(req->sock));
				return -EINVAL;
			}
			strcpy(req->sock, val);
		} else if (!strcmp(kv, "port")) {
			p = port_index(c, val);
			if (p < 0) {
				snprintf(err, errlen, "port: no port %.32s", val);
				return -EINVAL;
			}
			req->port_mask |= 1u << p;
		} else if (!strcmp(kv, "count") || !strcmp(kv, "snaplen")) {
			int is_count = kv[0] == 'c';

			if (parse_u64(val, is_count ? UINT64_MAX : UINT16_MAX, &v)) {
				snprintf(err, errlen, "%s: bad number %.32s", kv, val);
				return -EINVAL;
			}
			if (is_count)
				req->count = v;
			else
				req->snaplen = (uint32_t)v;
		} else if (!strcmp(kv, "peer") || !strcmp(kv, "conn")) {
			if (req->filter != DP_CAPTURE_ALL) {
				snprintf(err, errlen, "one filter at most (peer or conn)");
				return -EINVAL;
			}
			if (kv[0] == 'p') {
				if (inet_pton(AF_INET, val, &a) != 1) {
					snprintf(err, errlen, "peer: want an IPv4 address, not %.32s", val);
					return -EINVAL;
				}
				req->filter = DP_CAPTURE_PEER;
				req->peer_ip = ntohl(a.s_addr);
			} else {
				if (parse_u64(val, UINT32_MAX, &v) || v == 0) {
					snprintf(err, errlen, "conn: want a connection id, not %.32s", val);
					return -EINVAL;
				}
				req->filter = DP_CAPTURE_CONN;
				req->conn_id = (uint32_t)v;
			}
		} else {
			snprintf(err, errlen, "unknown key %.32s (sock, port, count, snaplen, peer, "
				 "conn)", kv);
			return -EINVAL;
		}
	}
	if (!req->sock[0]) {
		snprintf(err, errlen, "sock=PATH is required (srdctl capture passes it)");
		return -EINVAL;
	}
	return 0;
}

/* ---- the service ---- */

int dp_capture_create(struct dp_worker *workers, uint32_t nworkers, const struct dp_ports *ports,
		      struct dp_capture **out)
{
	struct dp_capture *c;
	int rc;

	*out = NULL;
	if (!workers || !ports || nworkers == 0 || nworkers > DP_MAX_WORKERS ||
	    ports->n > DP_MAX_PORTS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = -pthread_mutex_init(&c->lock, NULL);
	if (rc) {
		free(c);
		return rc;
	}
	c->workers = workers;
	c->nworkers = nworkers;
	c->ports = ports;
	for (uint32_t k = 0; k < nworkers; k++)
		workers[k].cap = (struct dp_capture_tap){ .svc = c };
	*out = c;
	return 0;
}

void dp_capture_destroy(struct dp_capture *c)
{
	uint64_t deadline = mono_ns() + CAP_ACK_WAIT_NS;
	struct dp_cap_session *s;

	if (!c)
		return;
	atomic_store(&c->workers_gone, 1);
	pthread_mutex_lock(&c->lock);
	s = c->sess;
	c->sess = NULL;
	if (s)
		atomic_store(&s->stop, 1);
	pthread_mutex_unlock(&c->lock);
	/* the writer completes the stream if the reader reads; one that does not must not
	 * keep the daemon from stopping */
	while (s && !atomic_load(&s->finished) && mono_ns() < deadline)
		pause_us(1000);
	pthread_mutex_lock(&c->lock);
	if (s && !atomic_load(&s->finished))
		force_end(s);
	pthread_mutex_unlock(&c->lock);
	session_free(s);
	for (uint32_t k = 0; k < c->nworkers; k++)
		c->workers[k].cap = (struct dp_capture_tap){ 0 };
	pthread_mutex_destroy(&c->lock);
	free(c);
}
