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
 * Output.  DPDK 22.11 limits what a callback may return, and this module keeps within it:
 *   - dict keys: letters, digits, '_' and '/' only (others are refused with -EINVAL), so
 *     connection keys are "PORT/10_0_0_2" and port keys are port names with any other
 *     character replaced by '_' (the exact name and address are values inside);
 *   - one level of nesting: a dict's values may be dicts or arrays of scalars, no deeper;
 *   - 256 entries per dict, 512 per array, strings up to 127 bytes;
 *   - the whole reply is at most 16384 bytes of JSON, and DPDK silently drops entries past
 *     that.  This module counts an upper bound of the text as it adds entries, stops
 *     before the limit, and says so with "truncated": 1 (there is no boolean type in
 *     22.11: 0 or 1, which reads as false or true).
 *
 *   /srd/stats   {"ports": N, "worker": {...}, "net_drops": {"short": ...},
 *                 "engine": {...summed over ports}, "engine_drops": {"truncated": ...},
 *                 "shm": {...} or "none"}
 *   /srd/ports   {"lo0": {"name", "port_id", "ip", "prefix_len", "mac", "mtu", "link",
 *                 "link_changes", "csum_tx_ip", ..., "impair", "impair_paths",
 *                 "impair_pkts_in", ..., "neigh_misses", "conns"}, ...}
 *   /srd/conns   {"lo0/10_0_0_2": {"port", "peer", "local_id", "peer_id", "paths",
 *                 "inflight", "cwnd_pkts", "cwnd_x256", "srtt_ns", "min_rtt_ns", "rto_ns",
 *                 "tx_msgs", "retransmits"}, ..., "count": N, "truncated": 0}
 *   /srd/paths   no parameter: {"conns": ["lo0,10.0.0.2", ...], "count", "truncated",
 *                 "usage"};  "/srd/paths,PEER" or "/srd/paths,PORT,PEER" (PORT a name or
 *                 an index; "PORT/10_0_0_2" as /srd/conns prints it works too):
 *                 {"port", "peer", "local_id", "peer_id", "npaths", "path0": {"entropy",
 *                 "state", "inflight", "srtt_ns", "ecn_permille", "tx_pkts",
 *                 "replacements"}, ..., "truncated"}
 * Errors (bad parameter, no such connection, no answer, stopping) are {"error": "..."}.
 */
#include "dp_telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_telemetry.h>

#include "dp_impair.h"
#include "dp_port.h"
#include "dp_shm.h"
#include "dp_worker.h"
#include "srd_core.h"

#define TEL_WAIT_NS 100000000ull   /* how long a callback waits for the worker: 100 ms */
#define TEL_POLL_NS 50000l         /* between two looks at the answer: 50 µs */
#define TEL_MAX_CONNS 256u         /* connections snapshotted per port */
#define TEL_MAX_PATHS 256u         /* paths snapshotted of one connection (srd max) */
#define TEL_OUTPUT_MAX 16384u      /* DPDK 22.11's reply buffer (MAX_OUTPUT_LEN) */
#define TEL_TAIL_RESERVE 96u       /* bytes kept for the entries added last (count, ...) */
#define TEL_KEY_LEN 64u            /* our dict keys (DPDK allows 127 bytes) */
#define TEL_DIM(a) (sizeof(a) / sizeof((a)[0]))

/* What a request asks the worker to copy. */
enum tel_cmd {
	TEL_STATS = 1, /* counters */
	TEL_PORTS = 2, /* ports */
	TEL_CONNS = 3, /* every connection (also /srd/paths without a parameter) */
	TEL_PATHS = 4, /* one connection and its paths */
};

/* ---- counter tables: names and offsets, so that each field is listed once ---- */

/* A uint64_t counter of a struct, by name. */
struct tel_field {
	const char *name; /* telemetry key */
	size_t off;       /* offset in its struct */
};

#define TEL_F(type, f) { #f, offsetof(type, f) }

static const struct tel_field worker_fields[] = {
	TEL_F(struct dp_worker_stats, loops),
	TEL_F(struct dp_worker_stats, idle_loops),
	TEL_F(struct dp_worker_stats, rx_pkts),
	TEL_F(struct dp_worker_stats, rx_srd),
	TEL_F(struct dp_worker_stats, rx_arp),
	TEL_F(struct dp_worker_stats, tx_pkts),
	TEL_F(struct dp_worker_stats, tx_full),
	TEL_F(struct dp_worker_stats, tx_no_mbuf),
	TEL_F(struct dp_worker_stats, tx_no_route),
	TEL_F(struct dp_worker_stats, tx_no_neigh),
	TEL_F(struct dp_worker_stats, arp_requests),
	TEL_F(struct dp_worker_stats, arp_replies),
	TEL_F(struct dp_worker_stats, sends),
	TEL_F(struct dp_worker_stats, send_errors),
	TEL_F(struct dp_worker_stats, rx_discarded),
	TEL_F(struct dp_worker_stats, link_changes),
};

static const struct tel_field engine_fields[] = {
	TEL_F(struct srd_stats, tx_pkts),
	TEL_F(struct srd_stats, tx_data_pkts),
	TEL_F(struct srd_stats, tx_retx_pkts),
	TEL_F(struct srd_stats, tx_acks),
	TEL_F(struct srd_stats, tx_nacks),
	TEL_F(struct srd_stats, tx_probes),
	TEL_F(struct srd_stats, tx_resets),
	TEL_F(struct srd_stats, tx_payload_bytes),
	TEL_F(struct srd_stats, rx_pkts),
	TEL_F(struct srd_stats, rx_data_pkts),
	TEL_F(struct srd_stats, rx_payload_bytes),
	TEL_F(struct srd_stats, rx_ce_pkts),
	TEL_F(struct srd_stats, rx_acks),
	TEL_F(struct srd_stats, rx_nacks),
	TEL_F(struct srd_stats, rack_losses),
	TEL_F(struct srd_stats, rto_losses),
	TEL_F(struct srd_stats, rto_events),
	TEL_F(struct srd_stats, rnr_received),
	TEL_F(struct srd_stats, msgs_accepted),
	TEL_F(struct srd_stats, msgs_completed),
	TEL_F(struct srd_stats, msgs_failed),
	TEL_F(struct srd_stats, msgs_delivered),
	TEL_F(struct srd_stats, msgs_aborted),
	TEL_F(struct srd_stats, path_failures),
	TEL_F(struct srd_stats, path_replacements),
	TEL_F(struct srd_stats, conns_created),
	TEL_F(struct srd_stats, conns_reset),
	TEL_F(struct srd_stats, conns_closed),
	TEL_F(struct srd_stats, conns_resumed),
	TEL_F(struct srd_stats, conns_active),
	TEL_F(struct srd_stats, rx_slots_used),
	TEL_F(struct srd_stats, ctrl_dropped),
};

static const struct tel_field shm_fields[] = {
	TEL_F(struct dp_shm_stats, apps),
	TEL_F(struct dp_shm_stats, endpoints),
	TEL_F(struct dp_shm_stats, sends_inflight),
	TEL_F(struct dp_shm_stats, rx_bufs_lent),
	TEL_F(struct dp_shm_stats, rx_bytes_lent),
	TEL_F(struct dp_shm_stats, attaches),
	TEL_F(struct dp_shm_stats, refused),
	TEL_F(struct dp_shm_stats, bad_sqe),
	TEL_F(struct dp_shm_stats, rx_no_endpoint),
	TEL_F(struct dp_shm_stats, rx_no_buffer),
	TEL_F(struct dp_shm_stats, cq_overflow),
	TEL_F(struct dp_shm_stats, ring_corrupt),
};

/* A counter added to one of these structs without a line above breaks the build here, not
 * the telemetry silently.  (Every field is a uint64_t, the arrays included.) */
_Static_assert(sizeof(struct dp_worker_stats) ==
		       sizeof(uint64_t) * (TEL_DIM(worker_fields) + DP_DROP_MAX),
	       "worker_fields[] misses a field of struct dp_worker_stats");
_Static_assert(sizeof(struct srd_stats) ==
		       sizeof(uint64_t) * (TEL_DIM(engine_fields) + SRD_DROP_MAX),
	       "engine_fields[] misses a field of struct srd_stats");
_Static_assert(sizeof(struct dp_shm_stats) == sizeof(uint64_t) * TEL_DIM(shm_fields),
	       "shm_fields[] misses a field of struct dp_shm_stats");

/* Names of the framing checks' drop reasons (enum dp_net_drop). */
static const char *const net_drop_names[DP_DROP_MAX] = {
	[DP_DROP_SHORT] = "short",
	[DP_DROP_NOT_IPV4] = "not_ipv4",
	[DP_DROP_BAD_IP] = "bad_ip",
	[DP_DROP_IP_CSUM] = "ip_csum",
	[DP_DROP_NOT_UDP] = "not_udp",
	[DP_DROP_NOT_FOR_US] = "not_for_us",
	[DP_DROP_WRONG_PORT] = "wrong_port",
	[DP_DROP_BAD_UDP] = "bad_udp",
	[DP_DROP_UDP_CSUM] = "udp_csum",
	[DP_DROP_BAD_ARP] = "bad_arp",
};
_Static_assert(DP_DROP_BAD_ARP + 1 == DP_DROP_MAX, "net_drop_names[] misses a reason");

static uint64_t field(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void field_add(void *base, size_t off, uint64_t v)
{
	memcpy((char *)base + off, &(uint64_t){ field(base, off) + v }, sizeof(v));
}

/* ---- state ---- */

/* One port as the output names it (set at start, read-only afterwards). */
struct tel_port {
	const struct dp_port *port;  /* the port */
	const struct dp_wport *wp;   /* the worker's side of it (engine, impairment), or NULL */
	char key[TEL_KEY_LEN];       /* its dict key: the name with only key characters */
};

/* What the worker copied for a port. */
struct tel_port_snap {
	uint8_t link_up;                    /* link state */
	uint64_t link_changes;              /* link up/down events */
	uint8_t impair;                     /* the impairment stage is on */
	uint32_t impair_paths;              /* its paths */
	struct dp_impair_path_stats imp;    /* their counters, summed */
	uint64_t neigh_misses;              /* neighbour lookups without a usable entry */
	uint32_t conns;                     /* connections of its engine */
};

/* A connection the worker copied. */
struct tel_conn_snap {
	uint32_t port;              /* index in t->port[] */
	struct srd_conn_info info;  /* as srd_conn_info() said */
};

/* What the worker copies for a request (written by the worker only while its requester
 * waits; read by the requester after the answer). */
struct tel_snap {
	struct dp_worker_stats wst;               /* TEL_STATS: the worker's counters */
	struct srd_stats est;                     /* TEL_STATS: engines' counters, summed */
	uint8_t has_shm;                          /* TEL_STATS: there is an shm server */
	struct dp_shm_stats sst;                  /* TEL_STATS: its counters */
	struct tel_port_snap port[DP_MAX_PORTS];  /* TEL_PORTS */
	uint32_t nconns;                          /* TEL_CONNS: conns[0..nconns) */
	uint64_t conns_total;                     /* TEL_CONNS: connections there are */
	struct tel_conn_snap *conns;              /* TEL_CONNS: DP_MAX_PORTS * TEL_MAX_CONNS */
	int found;                                /* TEL_PATHS: the connection exists */
	struct tel_conn_snap conn;                /* TEL_PATHS: it */
	uint32_t npaths;                          /* TEL_PATHS: paths[0..npaths) */
	struct srd_path_info *paths;              /* TEL_PATHS: TEL_MAX_PATHS */
};

struct dp_telemetry {
	/* set at start, read-only afterwards */
	struct dp_worker *w;               /* the worker that answers */
	struct dp_shm *shm;                /* the apps (NULL: none) */
	struct tel_port port[DP_MAX_PORTS];/* the ports, in config order */
	uint32_t nports;
	/* requests */
	pthread_mutex_t lock;              /* one request at a time (callbacks run on one
	                                      thread per telemetry client) */
	uint64_t seq;                      /* last sequence number posted (under lock) */
	int req_port;                      /* TEL_PATHS: index in port[], -1: any (under lock;
	                                      published by the release store of req) */
	uint64_t req_peer;                 /* TEL_PATHS: the peer */
	_Atomic uint64_t req;              /* posted request: seq << 8 | enum tel_cmd; 0: none */
	_Atomic uint64_t done;             /* sequence number of the last request answered */
	atomic_int stopping;               /* set by stop: waiting callbacks give up */
	/* the worker's */
	struct tel_snap snap;              /* the answer */
	uint64_t *peers;                   /* scratch for srd_conn_peers(): TEL_MAX_CONNS */
};

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
		for (size_t f = 0; f < TEL_DIM(engine_fields); f++)
			field_add(&s->est, engine_fields[f].off, field(&st, engine_fields[f].off));
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

/* ---- building replies within DPDK's limits ---- */

/* A dict being filled, with an upper bound of the JSON text it becomes. */
struct tel_dict {
	struct rte_tel_data *d; /* the dict */
	size_t bytes;           /* upper bound of its JSON text */
	size_t limit;           /* most bytes it may take */
	uint32_t n;             /* entries */
};

static size_t dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Bytes of a string once DPDK has escaped it for JSON (at most). */
static size_t json_str_len(const char *s)
{
	size_t n = 2;

	for (; *s; s++)
		n += (unsigned char)*s < 0x20 ? 6 : (*s == '"' || *s == '\\') ? 2 : 1;
	return n;
}

static void td_init(struct tel_dict *td, struct rte_tel_data *d, size_t limit)
{
	rte_tel_data_start_dict(d);
	*td = (struct tel_dict){ .d = d, .bytes = 2, .limit = limit };
}

/* Each entry costs ,"name": plus its value. */
static void td_u64(struct tel_dict *td, const char *name, uint64_t v)
{
	if (rte_tel_data_add_dict_u64(td->d, name, v) == 0) {
		td->bytes += strlen(name) + 4 + dec_len(v);
		td->n++;
	}
}

static void td_str(struct tel_dict *td, const char *name, const char *v)
{
	if (rte_tel_data_add_dict_string(td->d, name, v) >= 0) {
		td->bytes += strlen(name) + 4 + json_str_len(v);
		td->n++;
	}
}

/* A new dict for td_nest(), or NULL. */
static struct rte_tel_data *td_child(struct tel_dict *child, size_t limit)
{
	struct rte_tel_data *d = rte_tel_data_alloc();

	if (d)
		td_init(child, d, limit);
	return d;
}

/* Add child (a dict or an array of bytes JSON bytes) under name if it fits, keeping
 * reserve_entries entries free.  Returns 0, or -ENOSPC (child freed). */
static int td_nest(struct tel_dict *td, const char *name, struct rte_tel_data *child,
		   size_t bytes, uint32_t reserve_entries)
{
	size_t cost = strlen(name) + 4 + bytes;

	if (td->n + 1 + reserve_entries > RTE_TEL_MAX_DICT_ENTRIES ||
	    td->bytes + cost > td->limit ||
	    rte_tel_data_add_dict_container(td->d, name, child, 0) != 0) {
		rte_tel_data_free(child);
		return -ENOSPC;
	}
	td->bytes += cost;
	td->n++;
	return 0;
}

/* The top-level dict of a reply to cmd. */
static void td_top(struct tel_dict *td, struct rte_tel_data *d, const char *cmd)
{
	/* the reply is {"CMD":DICT} plus a terminating NUL */
	td_init(td, d, TEL_OUTPUT_MAX - (strlen(cmd) + 5) - TEL_TAIL_RESERVE);
}

static int tel_error(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

static void ip_str(char *buf, size_t len, uint64_t ip)
{
	if (ip > UINT32_MAX)
		snprintf(buf, len, "%llu", (unsigned long long)ip);
	else
		snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(ip >> 24) & 255,
			 (unsigned)(ip >> 16) & 255, (unsigned)(ip >> 8) & 255, (unsigned)ip & 255);
}

/* Key of a connection: "PORTKEY/10_0_0_2". */
static void conn_key(char *buf, size_t len, const struct tel_port *tp, uint64_t ip)
{
	if (ip > UINT32_MAX)
		snprintf(buf, len, "%.40s/%llu", tp->key, (unsigned long long)ip);
	else
		snprintf(buf, len, "%.40s/%u_%u_%u_%u", tp->key, (unsigned)(ip >> 24) & 255,
			 (unsigned)(ip >> 16) & 255, (unsigned)(ip >> 8) & 255, (unsigned)ip & 255);
}

/* ---- formatting the snapshot ---- */

static void add_fields(struct tel_dict *td, const void *base, const struct tel_field *f,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		td_u64(td, f[i].name, field(base, f[i].off));
}

static int fmt_stats(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct tel_dict top, c;
	struct rte_tel_data *cd;

	td_top(&top, d, cmd);
	td_u64(&top, "ports", t->nports);
	if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->wst, worker_fields, TEL_DIM(worker_fields));
		td_nest(&top, "worker", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		for (unsigned r = 1; r < DP_DROP_MAX; r++)
			td_u64(&c, net_drop_names[r], s->wst.rx_drops[r]);
		td_nest(&top, "net_drops", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->est, engine_fields, TEL_DIM(engine_fields));
		td_nest(&top, "engine", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		for (int r = SRD_DROP_NONE + 1; r < SRD_DROP_MAX; r++)
			td_u64(&c, srd_drop_reason_name(r), s->est.drops[r]);
		td_nest(&top, "engine_drops", cd, c.bytes, 0);
	}
	if (!s->has_shm)
		td_str(&top, "shm", "none");
	else if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->sst, shm_fields, TEL_DIM(shm_fields));
		td_nest(&top, "shm", cd, c.bytes, 0);
	}
	return 0;
}

static int fmt_ports(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	struct tel_dict top, c;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct tel_port *tp = &t->port[i];
		const struct dp_port *p = tp->port;
		const struct tel_port_snap *ps = &t->snap.port[i];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char buf[32];

		if (!cd)
			break;
		td_str(&c, "name", p->cfg->name);
		td_u64(&c, "port_id", p->port_id);
		ip_str(buf, sizeof(buf), p->cfg->ipv4);
		td_str(&c, "ip", buf);
		td_u64(&c, "prefix_len", p->cfg->prefix_len);
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1],
			 p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
		td_str(&c, "mac", buf);
		td_u64(&c, "mtu", p->mtu);
		td_str(&c, "link", ps->link_up ? "up" : "down");
		td_u64(&c, "link_changes", ps->link_changes);
		td_u64(&c, "csum_tx_ip", !!(p->csum_tx & DP_CSUM_IP_OFFLOAD));
		td_u64(&c, "csum_tx_udp", !!(p->csum_tx & DP_CSUM_UDP_OFFLOAD));
		td_u64(&c, "csum_rx_ip", !!(p->csum_rx & DP_CSUM_IP_OFFLOAD));
		td_u64(&c, "csum_rx_udp", !!(p->csum_rx & DP_CSUM_UDP_OFFLOAD));
		td_str(&c, "impair", ps->impair ? "on" : "off");
		td_u64(&c, "impair_paths", ps->impair_paths);
		td_u64(&c, "impair_pkts_in", ps->imp.pkts_in);
		td_u64(&c, "impair_pkts_out", ps->imp.pkts_out);
		td_u64(&c, "impair_drops_loss", ps->imp.drops_loss);
		td_u64(&c, "impair_drops_black", ps->imp.drops_black);
		td_u64(&c, "impair_drops_queue", ps->imp.drops_queue);
		td_u64(&c, "impair_ce_marked", ps->imp.ce_marked);
		td_u64(&c, "impair_queued", ps->imp.queued);
		td_u64(&c, "neigh_misses", ps->neigh_misses);
		td_u64(&c, "conns", ps->conns);
		if (td_nest(&top, tp->key, cd, c.bytes, 1))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "truncated", shown < t->nports);
	return 0;
}

static int fmt_conns(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct tel_dict top, c;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	for (uint32_t i = 0; i < s->nconns; i++) {
		const struct tel_conn_snap *cs = &s->conns[i];
		const struct srd_conn_info *ci = &cs->info;
		const struct tel_port *tp = &t->port[cs->port];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char key[TEL_KEY_LEN], ip[32];

		if (!cd)
			break;
		ip_str(ip, sizeof(ip), ci->peer);
		conn_key(key, sizeof(key), tp, ci->peer);
		td_str(&c, "port", tp->port->cfg->name);
		td_str(&c, "peer", ip);
		td_u64(&c, "local_id", ci->local_id);
		td_u64(&c, "peer_id", ci->peer_id);
		td_u64(&c, "paths", ci->npaths);
		td_u64(&c, "inflight", ci->inflight);
		td_u64(&c, "cwnd_pkts", ci->cwnd >> 8);
		td_u64(&c, "cwnd_x256", ci->cwnd);
		td_u64(&c, "srtt_ns", ci->srtt_ns);
		td_u64(&c, "min_rtt_ns", ci->min_rtt_ns);
		td_u64(&c, "rto_ns", ci->rto_ns);
		td_u64(&c, "tx_msgs", ci->tx_msgs);
		td_u64(&c, "retransmits", ci->retransmits);
		/* keep two entries for count and truncated */
		if (td_nest(&top, key, cd, c.bytes, 2))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "count", s->conns_total);
	td_u64(&top, "truncated", shown < s->conns_total);
	return 0;
}

/* /srd/paths without a parameter: the connections it can be asked about. */
static int fmt_paths_list(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct rte_tel_data *arr = rte_tel_data_alloc();
	size_t bytes = 2;
	struct tel_dict top;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	td_str(&top, "usage", "/srd/paths,PEER or /srd/paths,PORT,PEER");
	if (arr) {
		rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
		for (uint32_t i = 0; i < s->nconns && shown < RTE_TEL_MAX_ARRAY_ENTRIES; i++) {
			char ip[32], item[TEL_KEY_LEN];

			ip_str(ip, sizeof(ip), s->conns[i].info.peer);
			snprintf(item, sizeof(item), "%.31s,%s",
				 t->port[s->conns[i].port].port->cfg->name, ip);
			/* ,"item" */
			if (top.bytes + 10 + bytes + 1 + json_str_len(item) > top.limit ||
			    rte_tel_data_add_array_string(arr, item) != 0)
				break;
			bytes += 1 + json_str_len(item);
			shown++;
		}
		if (td_nest(&top, "conns", arr, bytes, 2))
			shown = 0;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "count", s->conns_total);
	td_u64(&top, "truncated", shown < s->conns_total);
	return 0;
}

static const char *path_state_name(uint8_t st)
{
	switch (st) {
	case SRD_PATH_GOOD:
		return "good";
	case SRD_PATH_SUSPECT:
		return "suspect";
	case SRD_PATH_PROBING:
		return "probing";
	}
	return "unknown";
}

static int fmt_paths(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	const struct srd_conn_info *ci = &s->conn.info;
	struct tel_dict top, c;
	uint32_t shown = 0;
	char ip[32];

	ip_str(ip, sizeof(ip), t->req_peer);
	if (!s->found) {
		char msg[96];

		snprintf(msg, sizeof(msg), "no connection to %s%s%s", ip,
			 t->req_port >= 0 ? " on port " : "",
			 t->req_port >= 0 ? t->port[t->req_port].port->cfg->name : "");
		return tel_error(d, msg);
	}
	td_top(&top, d, cmd);
	td_str(&top, "port", t->port[s->conn.port].port->cfg->name);
	td_str(&top, "peer", ip);
	td_u64(&top, "local_id", ci->local_id);
	td_u64(&top, "peer_id", ci->peer_id);
	td_u64(&top, "npaths", ci->npaths);
	for (uint32_t p = 0; p < s->npaths; p++) {
		const struct srd_path_info *pi = &s->paths[p];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char key[16];

		if (!cd)
			break;
		td_u64(&c, "entropy", pi->entropy);
		td_str(&c, "state", path_state_name(pi->state));
		td_u64(&c, "inflight", pi->inflight);
		td_u64(&c, "srtt_ns", pi->srtt_ns);
		td_u64(&c, "ecn_permille", pi->ecn_permille);
		td_u64(&c, "tx_pkts", pi->tx_pkts);
		td_u64(&c, "replacements", pi->replacements);
		snprintf(key, sizeof(key), "path%u", p);
		if (td_nest(&top, key, cd, c.bytes, 1))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "truncated", shown < ci->npaths);
	return 0;
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
		return tel_error(d, err);

	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->stopping)) {
		rc = tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	t->req_port = port;
	t->req_peer = peer;
	rc = ask_worker(t, which);
	if (rc == -ESHUTDOWN) {
		rc = tel_error(d, "srdd is stopping");
		goto out_unlock;
	}
	if (rc == -ETIMEDOUT) {
		rc = tel_error(d, "the worker did not answer within 100 ms");
		goto out_unlock;
	}
	if (which == TEL_STATS)
		rc = fmt_stats(t, cmd, d);
	else if (which == TEL_PORTS)
		rc = fmt_ports(t, cmd, d);
	else if (which == TEL_PATHS)
		rc = fmt_paths(t, cmd, d);
	else if (!strcmp(cmd, "/srd/paths"))
		rc = fmt_paths_list(t, cmd, d);
	else
		rc = fmt_conns(t, cmd, d);
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
		rc = tel_error(d, "srdd is stopping");
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
