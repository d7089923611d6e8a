/*
 * dp_telemetry.c — srdd's rte_telemetry commands (see dp_telemetry.h).
 *
 * Threads.  DPDK runs a command's callback on a telemetry thread (one per connected
 * client, so callbacks may run concurrently).  Only a worker touches its engines, its
 * counters and its ports' impairment stages, so a callback never reads them: it posts a
 * request to every worker and each answers it between two iterations
 * (dp_telemetry_service()) by copying what was asked for into its own snapshot; the
 * callback then merges the snapshots (sums, or the connections one after the other) and
 * formats the result.  The handshake with each worker, and the barriers it relies on:
 *
 *   callback (holds t->lock)                    worker (dp_telemetry_service)
 *   writes req_port / req_peer
 *   req = seq << 8 | cmd        (release) ───►  exchange(req, 0)            (acquire)
 *                                               fills t->snap
 *   done == seq ?               (acquire) ◄───  done = seq                  (release)
 *   formats t->snap
 *
 * t->lock serializes callbacks, so one request at most is posted (to each worker) and a
 * snapshot is written only while its requester waits.  A callback that waits more than TEL_WAIT_NS withdraws
 * its request (compare-exchange req: seq → 0) and reports a timeout; if the worker took the
 * request just before, it finishes filling while nobody reads (the next requester reads only
 * after its own sequence number comes back), so that is harmless too.
 *
 * Why a static pointer.  rte_telemetry_register_cmd() callbacks get no user pointer, so the
 * module keeps one: g_tel, set once by dp_telemetry_start() and cleared by
 * dp_telemetry_stop().  One instance at a time (a second start returns -EBUSY).  Commands
 * cannot be unregistered: after stop they stay registered and answer
 * {"error": "srdd is stopping"}.
 *
 * Stopping.  Every callback counts itself in g_users before it loads g_tel, and out when it
 * returns; stop clears g_tel and then waits for g_users to reach 0 before it frees.  All
 * four accesses are sequentially consistent (a store-load pair on each side, as in
 * Dekker's algorithm): either stop sees the callback's count and waits for it, or the
 * callback sees g_tel cleared and never touches the instance.  t->stopping makes a waiting
 * callback give up at once.  The caller stops calling dp_telemetry_service() before
 * dp_telemetry_stop() (srdd clears worker.tel first, on the worker's own thread).
 *
 * Output.  The replies and DPDK's limits on them: see dp_telemetry_fmt.c.
 */
#include "dp_telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "dp_telemetry_int.h"

/* The instance the callbacks serve (forced by the DPDK API: callbacks carry no user
 * pointer).  Set by start, cleared by stop; see the top of the file. */
static _Atomic(struct dp_telemetry *) g_tel;
/* Callbacks running now (stop waits for 0 before it frees). */
static atomic_uint g_users;
/* Commands registered so far (bit per entry of tel_cmds[]; DPDK cannot unregister). */
static unsigned g_registered;

/* ---- the worker's side ---- */

static void snap_stats(const struct tel_worker *tw, struct tel_snap *s)
{
	const struct dp_worker *w = tw->w;

	s->wst = w->st;
	memset(&s->est, 0, sizeof(s->est));
	for (uint32_t i = 0; i < w->nports; i++) {
		struct srd_stats st;

		if (!w->wp[i].eng)
			continue;
		srd_get_stats(w->wp[i].eng, &st);
		for (size_t f = 0; f < dp_tel_nengine_fields; f++)
			field_add(&s->est, dp_tel_engine_fields[f].off,
				  field(&st, dp_tel_engine_fields[f].off));
		for (unsigned r = 0; r < SRD_DROP_MAX; r++)
			s->est.drops[r] += st.drops[r];
	}
	s->has_shm = w->shm != NULL;
	if (w->shm)
		dp_shm_get_stats(w->shm, &s->sst);
}

static void snap_ports(const struct dp_telemetry *t, const struct tel_worker *tw,
		       struct tel_snap *s)
{
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct dp_wport *wp = tw->wp[i];
		struct tel_port_snap *ps = &s->port[i];

		memset(ps, 0, sizeof(*ps));
		if (!wp)
			continue;
		ps->neigh_misses = wp->neigh.misses;
		if (wp->eng)
			ps->conns = srd_conn_peers(wp->eng, NULL, 0);
		if (!wp->impair)
			continue;
		ps->impair = 1;
		ps->impair_paths = wp->port->cfg->impair.npaths;
		for (uint32_t p = 0; p < ps->impair_paths; p++) {
			struct dp_impair_path_stats st;

			if (dp_impair_path_stats(wp->impair, p, &st))
				continue;
			ps->imp.pkts_in += st.pkts_in;
			ps->imp.pkts_out += st.pkts_out;
			ps->imp.drops_loss += st.drops_loss;
			ps->imp.drops_black += st.drops_black;
			ps->imp.drops_queue += st.drops_queue;
			ps->imp.ce_marked += st.ce_marked;
			ps->imp.queued += st.queued;
		}
	}
}

static void snap_conns(const struct dp_telemetry *t, const struct tel_worker *tw,
		       struct tel_snap *s)
{
	s->nconns = 0;
	s->conns_total = 0;
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct srd_engine *eng = tw->wp[i] ? tw->wp[i]->eng : NULL;
		uint32_t n;

		if (!eng)
			continue;
		n = srd_conn_peers(eng, tw->peers, TEL_MAX_CONNS);
		s->conns_total += n;
		for (uint32_t c = 0; c < n && c < TEL_MAX_CONNS && s->nconns < TEL_MAX_CONNS; c++) {
			struct tel_conn_snap *cs = &s->conns[s->nconns];

			if (srd_conn_info(eng, tw->peers[c], &cs->info, NULL, 0) < 0)
				continue;
			cs->port = i;
			cs->worker = tw->w->index;
			s->nconns++;
		}
	}
}

static void snap_paths(const struct dp_telemetry *t, const struct tel_worker *tw,
		       struct tel_snap *s)
{
	s->found = 0;
	s->npaths = 0;
	if (t->req_worker >= 0 && (uint32_t)t->req_worker != tw->w->index)
		return;
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct srd_engine *eng = tw->wp[i] ? tw->wp[i]->eng : NULL;

		if (!eng || (t->req_port >= 0 && (uint32_t)t->req_port != i))
			continue;
		for (uint32_t pw = 0; pw < DP_MAX_WORKERS; pw++) {
			int n;

			if (t->req_peer_worker >= 0 && (uint32_t)t->req_peer_worker != pw)
				continue;
			n = srd_conn_info(eng, dp_peer_key(t->req_ip, pw), &s->conn.info, s->paths,
					  TEL_MAX_PATHS);
			if (n < 0)
				continue;
			s->found = 1;
			s->conn.port = i;
			s->conn.worker = tw->w->index;
			s->npaths = (uint32_t)n < TEL_MAX_PATHS ? (uint32_t)n : TEL_MAX_PATHS;
			return;
		}
	}
}

void dp_telemetry_service(struct dp_telemetry *t, uint32_t worker)
{
	struct tel_worker *tw;
	uint64_t r;

	if (!t || worker >= t->nworkers)
		return;
	tw = &t->wk[worker];
	/* the common case: nobody asks (pairs with nothing: a request seen one iteration
	 * late is answered one iteration late) */
	if (atomic_load_explicit(&tw->req, memory_order_relaxed) == 0)
		return;
	/* take it (acquire: pairs with the requester's release store of req, so that the
	 * parameters written before it are visible) */
	r = atomic_exchange_explicit(&tw->req, 0, memory_order_acquire);
	if (r == 0)
		return; /* withdrawn meanwhile */
	switch ((enum tel_cmd)(r & 0xff)) {
	case TEL_STATS:
		snap_stats(tw, &tw->snap);
		break;
	case TEL_PORTS:
		snap_ports(t, tw, &tw->snap);
		break;
	case TEL_CONNS:
		snap_conns(t, tw, &tw->snap);
		break;
	case TEL_PATHS:
		snap_paths(t, tw, &tw->snap);
		break;
	}
	/* release: pairs with the requester's acquire load of done, so the snapshot is
	 * complete when it sees its sequence number */
	atomic_store_explicit(&tw->done, r >> 8, memory_order_release);
}

/* ---- merging the workers' answers (the requester, under t->lock) ---- */

/* Sum the workers' counters (t->req_worker >= 0: that worker's alone). */
static void merge_stats(struct dp_telemetry *t)
{
	struct tel_snap *m = &t->snap;

	memset(&m->wst, 0, sizeof(m->wst));
	memset(&m->est, 0, sizeof(m->est));
	memset(&m->sst, 0, sizeof(m->sst));
	m->has_shm = 0;
	for (uint32_t k = 0; k < t->nworkers; k++) {
		const struct tel_snap *s = &t->wk[k].snap;

		if (t->req_worker >= 0 && (uint32_t)t->req_worker != k)
			continue;
		for (size_t f = 0; f < dp_tel_nworker_fields; f++)
			field_add(&m->wst, dp_tel_worker_fields[f].off,
				  field(&s->wst, dp_tel_worker_fields[f].off));
		for (unsigned r = 0; r < DP_DROP_MAX; r++)
			m->wst.rx_drops[r] += s->wst.rx_drops[r];
		for (size_t f = 0; f < dp_tel_nengine_fields; f++)
			field_add(&m->est, dp_tel_engine_fields[f].off,
				  field(&s->est, dp_tel_engine_fields[f].off));
		for (unsigned r = 0; r < SRD_DROP_MAX; r++)
			m->est.drops[r] += s->est.drops[r];
		if (!s->has_shm)
			continue;
		m->has_shm = 1;
		for (size_t f = 0; f < dp_tel_nshm_fields; f++)
			field_add(&m->sst, dp_tel_shm_fields[f].off,
				  field(&s->sst, dp_tel_shm_fields[f].off));
	}
}

static void merge_ports(struct dp_telemetry *t)
{
	for (uint32_t i = 0; i < t->nports; i++) {
		struct tel_port_snap *m = &t->snap.port[i];
		const struct dp_port *p = t->port[i].port;

		memset(m, 0, sizeof(*m));
		/* worker 0 polls the link (dp_port_poll_link() stores these atomically) */
		m->link_up = __atomic_load_n(&p->link_up, __ATOMIC_RELAXED);
		m->link_changes = __atomic_load_n(&p->link_changes, __ATOMIC_RELAXED);
		/* the mempool's counts may be read from any thread */
		m->mbufs_total = p->pool ? p->pool->size : 0;
		m->mbufs_avail = p->pool ? rte_mempool_avail_count(p->pool) : 0;
		for (uint32_t k = 0; k < t->nworkers; k++) {
			const struct tel_port_snap *s = &t->wk[k].snap.port[i];

			m->impair |= s->impair;
			m->impair_paths = s->impair_paths > m->impair_paths ? s->impair_paths :
									       m->impair_paths;
			m->imp.pkts_in += s->imp.pkts_in;
			m->imp.pkts_out += s->imp.pkts_out;
			m->imp.drops_loss += s->imp.drops_loss;
			m->imp.drops_black += s->imp.drops_black;
			m->imp.drops_queue += s->imp.drops_queue;
			m->imp.ce_marked += s->imp.ce_marked;
			m->imp.queued += s->imp.queued;
			m->neigh_misses += s->neigh_misses;
			m->conns += s->conns;
		}
	}
}

static void merge_conns(struct dp_telemetry *t)
{
	struct tel_snap *m = &t->snap;

	m->nconns = 0;
	m->conns_total = 0;
	for (uint32_t k = 0; k < t->nworkers; k++) {
		const struct tel_snap *s = &t->wk[k].snap;

		m->conns_total += s->conns_total;
		for (uint32_t c = 0; c < s->nconns && m->nconns < TEL_MAX_CONNS; c++)
			m->conns[m->nconns++] = s->conns[c];
	}
}

static void merge_paths(struct dp_telemetry *t)
{
	struct tel_snap *m = &t->snap;

	m->found = 0;
	m->npaths = 0;
	for (uint32_t k = 0; k < t->nworkers; k++) {
		const struct tel_snap *s = &t->wk[k].snap;

		if (!s->found)
			continue;
		m->found = 1;
		m->conn = s->conn;
		m->npaths = s->npaths;
		memcpy(m->paths, s->paths, s->npaths * sizeof(*m->paths));
		return;
	}
}

/* ---- the callbacks' side ---- */

/* Port index for a name, a key or a decimal index; -1 if none. */
static int find_port(const struct dp_telemetry *t, const char *s, size_t len)
{
	char *end;
	unsigned long v;

	for (uint32_t i = 0; i < t->nports; i++) {
		const char *name = t->port[i].port->cfg->name;

		if ((strlen(name) == len && !memcmp(name, s, len)) ||
		    (strlen(t->port[i].key) == len && !memcmp(t->port[i].key, s, len)))
			return (int)i;
	}
	if (len == 0 || len > 3)
		return -1;
	v = strtoul(s, &end, 10);
	return end == s + len && v < t->nports ? (int)v : -1;
}

/* A leading "wN/" that names local worker N, when more follows with its own separator
 * (so that a port named "w1" still works in "w1/10_0_0_2").  Returns the rest of params
 * and sets *worker (-1 without one), or NULL for a worker out of range. */
static const char *local_worker(const char *params, int *worker)
{
	char *end;
	unsigned long v;

	*worker = -1;
	if (params[0] != 'w' || params[1] < '0' || params[1] > '9')
		return params;
	v = strtoul(params + 1, &end, 10);
	if (*end != '/' || !strpbrk(end + 1, ",/"))
		return params;
	if (v >= DP_MAX_WORKERS)
		return NULL;
	*worker = (int)v;
	return end + 1;
}

/* Parse "PEER" or "PORT,PEER" ("PORT/PEER", and '_' for '.' in PEER, as /srd/conns
 * prints it), either after "wN/" for local worker N.  Returns 0, or -EINVAL with the
 * reason in err. */
static int parse_target(const struct dp_telemetry *t, const char *params, int *port,
			uint32_t *ip_out, int *peer_worker, int *worker, char *err, size_t errlen)
{
	char buf[128], ipbuf[32], *colon, *end;
	const char *sep, *ip = buf;
	size_t len;
	struct in_addr a;

	while (*params == ' ')
		params++;
	params = local_worker(params, worker);
	if (!params) {
		snprintf(err, errlen, "bad local worker (want w0..w%u)", DP_MAX_WORKERS - 1);
		return -EINVAL;
	}
	len = strlen(params);
	while (len && (params[len - 1] == ' ' || params[len - 1] == '\n'))
		len--;
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "parameter too long");
		return -EINVAL;
	}
	memcpy(buf, params, len);
	buf[len] = '\0';
	*port = -1;
	sep = strrchr(buf, ',');
	if (!sep)
		sep = strrchr(buf, '/');
	if (sep) {
		*port = find_port(t, buf, (size_t)(sep - buf));
		if (*port < 0) {
			snprintf(err, errlen, "no port %.*s", (int)(sep - buf), buf);
			return -EINVAL;
		}
		ip = sep + 1;
	}
	if (strlen(ip) >= sizeof(ipbuf)) {
		snprintf(err, errlen, "bad peer address");
		return -EINVAL;
	}
	strcpy(ipbuf, ip);
	*peer_worker = -1;
	colon = strchr(ipbuf, ':');
	if (colon) {
		unsigned long v = strtoul(colon + 1, &end, 10);

		if (end == colon + 1 || *end || v >= DP_MAX_WORKERS) {
			snprintf(err, errlen, "bad peer worker %.8s (want 0..%u)", colon + 1,
				 DP_MAX_WORKERS - 1);
			return -EINVAL;
		}
		*peer_worker = (int)v;
		*colon = '\0';
	}
	for (char *p = ipbuf; *p; p++)
		if (*p == '_')
			*p = '.';
	if (inet_pton(AF_INET, ipbuf, &a) != 1) {
		snprintf(err, errlen, "bad peer address %.31s (want an IPv4 address)", ip);
		return -EINVAL;
	}
	*ip_out = ntohl(a.s_addr);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Post cmd to every worker and wait for all their answers (t->lock held).  Returns 0,
 * -ESHUTDOWN (stopping) or -ETIMEDOUT (withdrawn). */
static int ask_workers(struct dp_telemetry *t, enum tel_cmd cmd)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = TEL_POLL_NS };
	uint64_t seq = ++t->seq & (UINT64_MAX >> 8), deadline;
	uint64_t mine;
	uint32_t answered;

	if (seq == 0)
		seq = t->seq = 1;
	mine = seq << 8 | (uint64_t)cmd;
	/* release: the parameters (req_port, req_ip, ...) before the request */
	for (uint32_t k = 0; k < t->nworkers; k++)
		atomic_store_explicit(&t->wk[k].req, mine, memory_order_release);
	deadline = mono_ns() + TEL_WAIT_NS;
	for (;;) {
		answered = 0;
		/* acquire: pairs with the worker's release store of done (the snapshot) */
		for (uint32_t k = 0; k < t->nworkers; k++)
			answered += atomic_load_explicit(&t->wk[k].done, memory_order_acquire) == seq;
		if (answered == t->nworkers)
			return 0;
		if (atomic_load(&t->stopping) || mono_ns() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	/* withdraw; a worker that took it meanwhile fills its snapshot unread */
	for (uint32_t k = 0; k < t->nworkers; k++) {
		uint64_t expect = mine;

		atomic_compare_exchange_strong(&t->wk[k].req, &expect, 0);
	}
	return atomic_load(&t->stopping) ? -ESHUTDOWN : -ETIMEDOUT;
}

/* Does params start with word, followed by a comma or its end? */
static const char *verb(const char *params, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(params, word, n) || (params[n] && params[n] != ','))
		return NULL;
	return params[n] ? params + n + 1 : params + n;
}

/* /srd/capture (no parameter: status), /srd/capture,start,KEY=VALUE,...,
 * /srd/capture,stop[,ID].  Runs without t->lock: the capture service has its own. */
static int tel_capture(struct dp_telemetry *t, const char *params, struct rte_tel_data *d)
{
	struct dp_capture_status st;
	struct dp_capture_req req;
	const char *rest;
	char err[192];
	uint32_t id;

	if (!t->cap)
		return dp_tel_error(d, "capture is not available in this process");
	if (!params)
		params = "";
	if ((rest = verb(params, "start"))) {
		if (dp_capture_parse(t->cap, rest, &req, err, sizeof(err)) ||
		    dp_capture_start(t->cap, &req, &id, err, sizeof(err)))
			return dp_tel_error(d, err);
	} else if ((rest = verb(params, "stop"))) {
		char *end;

		id = (uint32_t)strtoul(rest, &end, 10);
		if (*end || dp_capture_stop(t->cap, id))
			return dp_tel_error(d, "no such capture is running");
	} else if (*params) {
		return dp_tel_error(d, "usage: /srd/capture[,start,sock=PATH[,port=P][,count=N]"
				       "[,snaplen=S][,peer=IP|,conn=ID]|,stop[,ID]]");
	}
	dp_capture_get_status(t->cap, &st);
	return dp_tel_fmt_capture(t, &st, d);
}

static int tel_handle(struct dp_telemetry *t, const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	enum tel_cmd which;
	int port = -1, peer_worker = -1, worker = -1, rc;
	uint32_t ip = 0;
	char err[96], *end;

	if (!strcmp(cmd, "/srd/capture"))
		return tel_capture(t, params, d);
	if (!strcmp(cmd, "/srd/stats"))
		which = TEL_STATS;
	else if (!strcmp(cmd, "/srd/ports"))
		which = TEL_PORTS;
	else if (!strcmp(cmd, "/srd/conns"))
		which = TEL_CONNS;
	else if (!strcmp(cmd, "/srd/paths"))
		which = params && *params ? TEL_PATHS : TEL_CONNS;
	else
		return -1;
	if (which == TEL_PATHS &&
	    parse_target(t, params, &port, &ip, &peer_worker, &worker, err, sizeof(err)))
		return dp_tel_error(d, err);
	if (which == TEL_STATS && params && *params) {
		/* /srd/stats,W: worker W's counters alone */
		unsigned long v = strtoul(params, &end, 10);

		if (end == params || *end || v >= t->nworkers) {
			snprintf(err, sizeof(err), "no worker %.16s (this daemon has 0..%u)", params,
				 t->nworkers - 1);
			return dp_tel_error(d, err);
		}
		worker = (int)v;
	}

	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->stopping)) {
		rc = dp_tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	t->req_port = port;
	t->req_ip = ip;
	t->req_peer_worker = peer_worker;
	t->req_worker = worker;
	rc = ask_workers(t, which);
	if (rc == -ESHUTDOWN) {
		rc = dp_tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	if (rc == -ETIMEDOUT) {
		rc = dp_tel_error(d, "a worker did not answer within 1 s");
		goto out_unlock;
	}
	if (which == TEL_STATS)
		merge_stats(t);
	else if (which == TEL_PORTS)
		merge_ports(t);
	else if (which == TEL_PATHS)
		merge_paths(t);
	else
		merge_conns(t);
	if (which == TEL_STATS)
		rc = dp_tel_fmt_stats(t, cmd, d);
	else if (which == TEL_PORTS)
		rc = dp_tel_fmt_ports(t, cmd, d);
	else if (which == TEL_PATHS)
		rc = dp_tel_fmt_paths(t, cmd, d);
	else if (!strcmp(cmd, "/srd/paths"))
		rc = dp_tel_fmt_paths_list(t, cmd, d);
	else
		rc = dp_tel_fmt_conns(t, cmd, d);
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* The callback of every command (DPDK's telemetry thread). */
static int tel_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_telemetry *t;
	int rc;

	/* seq_cst, both: see "Stopping" at the top */
	atomic_fetch_add(&g_users, 1);
	t = atomic_load(&g_tel);
	if (!t)
		rc = dp_tel_error(d, "srdd is stopping");
	else
		rc = tel_handle(t, cmd, params, d);
	atomic_fetch_sub(&g_users, 1);
	return rc;
}

/* ---- start and stop ---- */

static const struct {
	const char *cmd;
	const char *help; /* under 64 bytes (DPDK's limit) */
} tel_cmds[] = {
	{ "/srd/stats", "srdd counters (parameter W: worker W alone)" },
	{ "/srd/ports", "srdd ports: address, MAC, MTU, link, offloads, impairment" },
	{ "/srd/conns", "srdd connections: peer, ids, window, RTT, RTO, messages" },
	{ "/srd/paths", "Paths of a connection. Parameter: PEER or PORT,PEER" },
	{ "/srd/capture", "pcapng capture (srdctl capture): start,KEY=V,...|stop" },
};

/* Copy name into a dict key: letters, digits, '_' and '/' only. */
static void make_key(char *key, size_t len, const char *name)
{
	size_t i = 0;

	for (; name[i] && i + 1 < len; i++) {
		char c = name[i];

		key[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '/') ? c : '_';
	}
	key[i] = '\0';
}

static void setup_ports(struct dp_telemetry *t, struct dp_ports *ports)
{
	for (uint32_t i = 0; i < ports->n && i < DP_MAX_PORTS; i++) {
		struct tel_port *tp = &t->port[t->nports];

		tp->port = &ports->port[i];
		for (uint32_t k = 0; k < t->nworkers; k++) {
			const struct dp_worker *w = t->wk[k].w;

			for (uint32_t j = 0; j < w->nports; j++)
				if (w->wp[j].port == tp->port)
					t->wk[k].wp[t->nports] = &w->wp[j];
		}
		make_key(tp->key, sizeof(tp->key) - 4, tp->port->cfg->name);
		if (!tp->key[0])
			snprintf(tp->key, sizeof(tp->key), "port%u", i);
		for (uint32_t k = 0; k < t->nports; k++)
			if (!strcmp(t->port[k].key, tp->key)) {
				snprintf(tp->key + strlen(tp->key), 4, "_%u", i);
				break;
			}
		t->nports++;
	}
}

/* Free a snapshot's arrays. */
static void snap_free(struct tel_snap *s)
{
	free(s->conns);
	free(s->paths);
	s->conns = NULL;
	s->paths = NULL;
}

static int snap_alloc(struct tel_snap *s)
{
	s->conns = calloc(TEL_MAX_CONNS, sizeof(*s->conns));
	s->paths = calloc(TEL_MAX_PATHS, sizeof(*s->paths));
	return s->conns && s->paths ? 0 : -ENOMEM;
}

static void tel_free(struct dp_telemetry *t)
{
	for (uint32_t k = 0; k < DP_MAX_WORKERS; k++) {
		snap_free(&t->wk[k].snap);
		free(t->wk[k].peers);
	}
	snap_free(&t->snap);
	free(t);
}

/*
 * Called before the workers run (they read nothing of it until their first
 * dp_telemetry_service()).  Returns 0, -EINVAL, -ENOMEM, -EBUSY (another instance is
 * running), or the error rte_telemetry_register_cmd() gave.
 */
int dp_telemetry_start(struct dp_worker *workers, uint32_t nworkers, struct dp_ports *ports,
		       struct dp_capture *cap, struct dp_telemetry **out)
{
	struct dp_telemetry *t, *none = NULL;
	int rc;

	*out = NULL;
	if (nworkers == 0 || nworkers > DP_MAX_WORKERS)
		return -EINVAL;
	if (atomic_load(&g_tel))
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = snap_alloc(&t->snap);
	for (uint32_t k = 0; k < nworkers && !rc; k++) {
		t->wk[k].w = &workers[k];
		t->wk[k].peers = calloc(TEL_MAX_CONNS, sizeof(*t->wk[k].peers));
		rc = t->wk[k].peers ? snap_alloc(&t->wk[k].snap) : -ENOMEM;
	}
	if (rc)
		goto err_free;
	rc = -pthread_mutex_init(&t->lock, NULL);
	if (rc)
		goto err_free;
	t->nworkers = nworkers;
	t->cap = cap;
	setup_ports(t, ports);

	for (unsigned i = 0; i < TEL_DIM(tel_cmds); i++) {
		if (g_registered & 1u << i)
			continue;
		rc = rte_telemetry_register_cmd(tel_cmds[i].cmd, tel_cb, tel_cmds[i].help);
		if (rc)
			goto err_mutex;
		g_registered |= 1u << i;
	}
	if (!atomic_compare_exchange_strong(&g_tel, &none, t)) {
		rc = -EBUSY;
		goto err_mutex;
	}
	*out = t;
	return 0;

err_mutex:
	pthread_mutex_destroy(&t->lock);
err_free:
	tel_free(t);
	return rc;
}

void dp_telemetry_stop(struct dp_telemetry *t)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = 1000000 };
	struct dp_telemetry *expect = t;

	if (!t)
		return;
	atomic_store(&t->stopping, 1);
	/* seq_cst, then the load of g_users: see "Stopping" at the top */
	atomic_compare_exchange_strong(&g_tel, &expect, NULL);
	while (atomic_load(&g_users) != 0)
		nanosleep(&pause, NULL);
	pthread_mutex_destroy(&t->lock);
	tel_free(t);
}
