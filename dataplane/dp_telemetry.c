/*
 * dp_telemetry.c — srdd's rte_telemetry commands (see dp_telemetry.h).
 *
 * Threads.  DPDK runs a command's callback on a telemetry thread (one per connected
 * client, so callbacks may run concurrently).  Only the worker touches its engines, its
 * counters and its ports' impairment stages, so a callback never reads them: it posts a
 * request and the worker answers it between two iterations (dp_telemetry_service()) by
 * copying what was asked for into a snapshot this module owns; the callback then formats
 * the snapshot.  The handshake, and the barriers it relies on:
 *
 *   callback (holds t->lock)                    worker (dp_telemetry_service)
 *   writes req_port / req_peer
 *   req = seq << 8 | cmd        (release) ───►  exchange(req, 0)            (acquire)
 *                                               fills t->snap
 *   done == seq ?               (acquire) ◄───  done = seq                  (release)
 *   formats t->snap
 *
 * t->lock serializes callbacks, so one request at most is posted and the snapshot is
 * written only while its requester waits.  A callback that waits more than 100 ms withdraws
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

static void snap_stats(struct dp_telemetry *t)
{
	struct tel_snap *s = &t->snap;
	const struct dp_worker *w = t->w;

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
	s->has_shm = t->shm != NULL;
	if (t->shm)
		dp_shm_get_stats(t->shm, &s->sst);
}

static void snap_ports(struct dp_telemetry *t)
{
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct tel_port *tp = &t->port[i];
		struct tel_port_snap *ps = &t->snap.port[i];

		memset(ps, 0, sizeof(*ps));
		/* the link-state callback updates these from another thread, atomically */
		ps->link_up = __atomic_load_n(&tp->port->link_up, __ATOMIC_RELAXED);
		ps->link_changes = __atomic_load_n(&tp->port->link_changes, __ATOMIC_RELAXED);
		if (!tp->wp)
			continue;
		ps->neigh_misses = tp->wp->neigh.misses;
		if (tp->wp->eng)
			ps->conns = srd_conn_peers(tp->wp->eng, NULL, 0);
		if (!tp->wp->impair)
			continue;
		ps->impair = 1;
		ps->impair_paths = tp->port->cfg->impair.npaths;
		for (uint32_t p = 0; p < ps->impair_paths; p++) {
			struct dp_impair_path_stats st;

			if (dp_impair_path_stats(tp->wp->impair, p, &st))
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

static void snap_conns(struct dp_telemetry *t)
{
	struct tel_snap *s = &t->snap;

	s->nconns = 0;
	s->conns_total = 0;
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct srd_engine *eng = t->port[i].wp ? t->port[i].wp->eng : NULL;
		uint32_t n;

		if (!eng)
			continue;
		n = srd_conn_peers(eng, t->peers, TEL_MAX_CONNS);
		s->conns_total += n;
		for (uint32_t c = 0; c < n && c < TEL_MAX_CONNS; c++) {
			struct tel_conn_snap *cs = &s->conns[s->nconns];

			if (srd_conn_info(eng, t->peers[c], &cs->info, NULL, 0) < 0)
				continue;
			cs->port = i;
			s->nconns++;
		}
	}
}

static void snap_paths(struct dp_telemetry *t)
{
	struct tel_snap *s = &t->snap;

	s->found = 0;
	s->npaths = 0;
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct srd_engine *eng = t->port[i].wp ? t->port[i].wp->eng : NULL;
		int n;

		if (!eng || (t->req_port >= 0 && (uint32_t)t->req_port != i))
			continue;
		n = srd_conn_info(eng, t->req_peer, &s->conn.info, s->paths, TEL_MAX_PATHS);
		if (n < 0)
			continue;
		s->found = 1;
		s->conn.port = i;
		s->npaths = (uint32_t)n < TEL_MAX_PATHS ? (uint32_t)n : TEL_MAX_PATHS;
		return;
	}
}

void dp_telemetry_service(struct dp_telemetry *t)
{
	uint64_t r;

	/* the common case: nobody asks (pairs with nothing: a request seen one iteration
	 * late is answered one iteration late) */
	if (!t || atomic_load_explicit(&t->req, memory_order_relaxed) == 0)
		return;
	/* take it (acquire: pairs with the requester's release store of req, so that the
	 * parameters written before it are visible) */
	r = atomic_exchange_explicit(&t->req, 0, memory_order_acquire);
	if (r == 0)
		return; /* withdrawn meanwhile */
	switch ((enum tel_cmd)(r & 0xff)) {
	case TEL_STATS:
		snap_stats(t);
		break;
	case TEL_PORTS:
		snap_ports(t);
		break;
	case TEL_CONNS:
		snap_conns(t);
		break;
	case TEL_PATHS:
		snap_paths(t);
		break;
	}
	/* release: pairs with the requester's acquire load of done, so the snapshot is
	 * complete when it sees its sequence number */
	atomic_store_explicit(&t->done, r >> 8, memory_order_release);
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

/* Parse "PEER" or "PORT,PEER" ("PORT/PEER", and '_' for '.' in PEER, as /srd/conns
 * prints it).  Returns 0, or -EINVAL with the reason in err. */
static int parse_target(const struct dp_telemetry *t, const char *params, int *port,
			uint64_t *peer, char *err, size_t errlen)
{
	char buf[128], ipbuf[32];
	const char *sep, *ip = buf;
	size_t len;
	struct in_addr a;

	while (*params == ' ')
		params++;
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
	for (char *p = ipbuf; *p; p++)
		if (*p == '_')
			*p = '.';
	if (inet_pton(AF_INET, ipbuf, &a) != 1) {
		snprintf(err, errlen, "bad peer address %.31s (want an IPv4 address)", ip);
		return -EINVAL;
	}
	*peer = ntohl(a.s_addr);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Post cmd and wait for the worker's answer (t->lock held).  Returns 0, -ESHUTDOWN
 * (stopping) or -ETIMEDOUT (withdrawn). */
static int ask_worker(struct dp_telemetry *t, enum tel_cmd cmd)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = TEL_POLL_NS };
	uint64_t seq = ++t->seq & (UINT64_MAX >> 8), deadline;
	uint64_t mine;

	if (seq == 0)
		seq = t->seq = 1;
	mine = seq << 8 | (uint64_t)cmd;
	/* release: the parameters (req_port, req_peer) before the request */
	atomic_store_explicit(&t->req, mine, memory_order_release);
	deadline = mono_ns() + TEL_WAIT_NS;
	for (;;) {
		/* acquire: pairs with the worker's release store of done (the snapshot) */
		if (atomic_load_explicit(&t->done, memory_order_acquire) == seq)
			return 0;
		if (atomic_load(&t->stopping) || mono_ns() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	/* withdraw; if the worker took it meanwhile it fills the snapshot unread */
	atomic_compare_exchange_strong(&t->req, &mine, 0);
	return atomic_load(&t->stopping) ? -ESHUTDOWN : -ETIMEDOUT;
}

static int tel_handle(struct dp_telemetry *t, const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	enum tel_cmd which;
	int port = -1, rc;
	uint64_t peer = 0;
	char err[96];

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
	if (which == TEL_PATHS && parse_target(t, params, &port, &peer, err, sizeof(err)))
		return dp_tel_error(d, err);

	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->stopping)) {
		rc = dp_tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	t->req_port = port;
	t->req_peer = peer;
	rc = ask_worker(t, which);
	if (rc == -ESHUTDOWN) {
		rc = dp_tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	if (rc == -ETIMEDOUT) {
		rc = dp_tel_error(d, "the worker did not answer within 100 ms");
		goto out_unlock;
	}
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
	{ "/srd/stats", "srdd counters: worker, drops by reason, engines, apps" },
	{ "/srd/ports", "srdd ports: address, MAC, MTU, link, offloads, impairment" },
	{ "/srd/conns", "srdd connections: peer, ids, window, RTT, RTO, messages" },
	{ "/srd/paths", "Paths of a connection. Parameter: PEER or PORT,PEER" },
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

static void setup_ports(struct dp_telemetry *t, struct dp_worker *w, struct dp_ports *ports)
{
	uint32_t n = ports ? ports->n : w->nports;

	for (uint32_t i = 0; i < n && i < DP_MAX_PORTS; i++) {
		struct tel_port *tp = &t->port[t->nports];

		tp->port = ports ? &ports->port[i] : w->wp[i].port;
		for (uint32_t k = 0; k < w->nports; k++)
			if (w->wp[k].port == tp->port)
				tp->wp = &w->wp[k];
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

/*
 * Called on the worker's thread before it runs (or between its iterations): reads the
 * worker's port list.  Returns 0, -ENOMEM, -EBUSY (another instance is running), or the
 * error rte_telemetry_register_cmd() gave.
 */
int dp_telemetry_start(struct dp_worker *w, struct dp_ports *ports, struct dp_shm *shm,
		       struct dp_telemetry **out)
{
	struct dp_telemetry *t, *none = NULL;
	int rc;

	*out = NULL;
	if (atomic_load(&g_tel))
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->snap.conns = calloc(DP_MAX_PORTS * TEL_MAX_CONNS, sizeof(*t->snap.conns));
	t->snap.paths = calloc(TEL_MAX_PATHS, sizeof(*t->snap.paths));
	t->peers = calloc(TEL_MAX_CONNS, sizeof(*t->peers));
	if (!t->snap.conns || !t->snap.paths || !t->peers) {
		rc = -ENOMEM;
		goto err_free;
	}
	rc = -pthread_mutex_init(&t->lock, NULL);
	if (rc)
		goto err_free;
	t->w = w;
	t->shm = shm;
	setup_ports(t, w, ports);

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
	free(t->peers);
	free(t->snap.paths);
	free(t->snap.conns);
	free(t);
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
	free(t->peers);
	free(t->snap.paths);
	free(t->snap.conns);
	free(t);
}
