/*
 * dp_telemetry_int.h — private to dp_telemetry.c (registration, the request/answer
 * handshake with the worker, the snapshot the worker fills) and dp_telemetry_fmt.c
 * (formatting a snapshot into rte_tel_data within DPDK's limits).
 */
#ifndef DP_TELEMETRY_INT_H
#define DP_TELEMETRY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dp_capture.h"
#include "dp_impair.h"
#include "dp_port.h"
#include "dp_shm.h"
#include "dp_worker.h"
#include "srd_core.h"

#define TEL_WAIT_NS 1000000000ull  /* how long a callback waits for the worker: 1 s (a loaded
                                      host can keep a worker off its CPU for 100 ms) */
#define TEL_POLL_NS 50000l         /* between two looks at the answer: 50 µs */
#define TEL_MAX_CONNS 256u         /* connections snapshotted per worker, and in all (a
                                      reply of 16 KB shows fewer anyway) */
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

/* ---- counter tables (dp_telemetry_fmt.c) ---- */

/* A uint64_t counter of a struct, by name. */
struct tel_field {
	const char *name; /* telemetry key */
	size_t off;       /* offset in its struct */
};

/* The engine counters, by name (the worker sums them over its ports). */
extern const struct tel_field dp_tel_engine_fields[];
extern const size_t dp_tel_nengine_fields;
/* The worker's and the shm server's counters, by name (summed over the workers). */
extern const struct tel_field dp_tel_worker_fields[];
extern const size_t dp_tel_nworker_fields;
extern const struct tel_field dp_tel_shm_fields[];
extern const size_t dp_tel_nshm_fields;

/* The uint64_t at base + off (structs of counters), and adding to it. */
static inline uint64_t field(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static inline void field_add(void *base, size_t off, uint64_t v)
{
	memcpy((char *)base + off, &(uint64_t){ field(base, off) + v }, sizeof(v));
}

/* ---- state ---- */

/* One port as the output names it (set at start, read-only afterwards). */
struct tel_port {
	const struct dp_port *port;  /* the port */
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
	uint32_t mbufs_total;               /* its mempool's size */
	uint32_t mbufs_avail;               /* free in it now (lcore caches included) */
};

/* A connection the worker copied. */
struct tel_conn_snap {
	uint32_t port;              /* index in t->port[] */
	uint32_t worker;            /* the local worker (whose engine) */
	struct srd_conn_info info;  /* as srd_conn_info() said (peer: a dp_peer_key()) */
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
	struct tel_conn_snap *conns;              /* TEL_CONNS: TEL_MAX_CONNS */
	int found;                                /* TEL_PATHS: the connection exists */
	struct tel_conn_snap conn;                /* TEL_PATHS: it */
	uint32_t npaths;                          /* TEL_PATHS: paths[0..npaths) */
	struct srd_path_info *paths;              /* TEL_PATHS: TEL_MAX_PATHS */
};

/* One worker as telemetry asks it. */
struct tel_worker {
	struct dp_worker *w;               /* the worker (set at start) */
	const struct dp_wport *wp[DP_MAX_PORTS]; /* its side of t->port[i] (set at start) */
	_Atomic uint64_t req;              /* posted request: seq << 8 | enum tel_cmd; 0: none */
	_Atomic uint64_t done;             /* sequence number of the last request answered */
	struct tel_snap snap;              /* its answer */
	uint64_t *peers;                   /* scratch for srd_conn_peers(): TEL_MAX_CONNS */
};

struct dp_telemetry {
	/* set at start, read-only afterwards */
	struct tel_worker wk[DP_MAX_WORKERS]; /* the workers that answer */
	uint32_t nworkers;
	struct tel_port port[DP_MAX_PORTS];/* the ports, in config order */
	uint32_t nports;
	struct dp_capture *cap;            /* /srd/capture's service (NULL: none) */
	/* requests */
	pthread_mutex_t lock;              /* one request at a time (callbacks run on one
	                                      thread per telemetry client) */
	uint64_t seq;                      /* last sequence number posted (under lock) */
	int req_port;                      /* TEL_PATHS: index in port[], -1: any (under lock;
	                                      published by the release store of req) */
	uint32_t req_ip;                   /* TEL_PATHS: the peer's address */
	int req_peer_worker;               /* TEL_PATHS: the peer's worker, -1: any */
	int req_worker;                    /* TEL_PATHS: the local worker, TEL_STATS: the worker
	                                      to report alone; -1: any, all (under lock) */
	atomic_int stopping;               /* set by stop: waiting callbacks give up */
	/* the requester's (under lock) */
	struct tel_snap snap;              /* the workers' answers merged */
};

/* ---- formatting (dp_telemetry_fmt.c): each fills d with the reply to cmd from t->snap,
 * which the worker has just filled; returns 0 ---- */

int dp_tel_fmt_stats(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d);
int dp_tel_fmt_ports(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d);
int dp_tel_fmt_conns(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d);
/* /srd/paths without a parameter: the connections it can be asked about. */
int dp_tel_fmt_paths_list(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d);
/* /srd/paths with one: the connection t->req_port / t->req_ip and its paths. */
int dp_tel_fmt_paths(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d);
/* /srd/capture: a session's status. */
int dp_tel_fmt_capture(struct dp_telemetry *t, const struct dp_capture_status *st,
		       struct rte_tel_data *d);
/* The reply {"error": msg}; returns 0. */
int dp_tel_error(struct rte_tel_data *d, const char *msg);

#endif /* DP_TELEMETRY_INT_H */
