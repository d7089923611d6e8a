/*
 * dp_capture_int.h — private to dp_capture.c (the service: sessions, the workers' side,
 * starting and stopping) and dp_capture_writer.c (the writer thread that turns the
 * workers' copies into pcapng).
 */
#ifndef DP_CAPTURE_INT_H
#define DP_CAPTURE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <rte_pcapng.h>

#include "dp_capture.h"
#include "dp_config.h"

#define CAP_RING_MAX 4096u          /* copies in flight, at most */
#define CAP_RING_MIN 256u           /* ... and at least */
#define CAP_RING_BYTES (32u << 20)  /* memory the copies may take (bounds the ring for
                                       large snap lengths) */
#define CAP_POOL_CACHE 32u          /* per-lcore cache of the copy pool (the workers') */
#define CAP_OUT_POOL 64u            /* pcapng blocks the writer formats at once, at most */
#define CAP_BURST 32u               /* copies the writer takes at a time */
#define CAP_COMMENT_MAX 120u        /* a frame's pcapng comment, at most */
#define CAP_ACK_WAIT_NS 1000000000ull /* how long start waits for the workers */

/* What a worker stores with each copy (the copy's mbuf private area). */
struct cap_meta {
	uint64_t tsc;                /* when the worker saw the frame (TSC) */
	uint32_t orig_len;           /* the frame's length (the copy may be shorter) */
	uint16_t port_id;            /* DPDK port id */
	uint16_t queue;              /* the worker's queue on it */
	uint16_t port_idx;           /* index in dp_ports */
	uint16_t path;               /* dropped: the impairment path */
	uint8_t dir;                 /* enum dp_capture_dir */
	uint8_t why;                 /* enum dp_impair_why; 0: not dropped */
};

/* Frames of one port seen by one worker (written by that worker only; others read them
 * with relaxed loads). */
struct cap_count {
	uint64_t copied;             /* copies put in the ring */
	uint64_t dropped;            /* frames not captured: ring full, or no copy buffer */
};

/* One capture session. */
struct dp_cap_session {
	/* set by start, read-only while the session runs */
	struct dp_capture *svc;      /* the service */
	uint32_t id;                 /* session number */
	struct dp_capture_req req;   /* what it captures (snaplen: the effective one) */
	uint16_t port_id[DP_MAX_PORTS]; /* DPDK port id of each dp_ports index */
	uint32_t nports;             /* ports of the daemon */
	struct rte_ring *ring;       /* copies: the workers enqueue (MP), the writer dequeues */
	struct rte_mempool *pool;    /* the workers' copies */
	struct rte_mempool *out_pool; /* the writer's pcapng blocks */
	int fd;                      /* the stream (rte_pcapng closes it) */
	rte_pcapng_t *pcapng;        /* the pcapng writer on fd */
	uint64_t tsc_hz;             /* TSC ticks per second */
	uint64_t tsc0;               /* TSC at real0_ns */
	uint64_t real0_ns;           /* wall clock (CLOCK_REALTIME) at tsc0 */
	pthread_t writer;            /* the writer thread */
	int writer_started;          /* writer exists (joined when the session is freed) */
	/* the workers' */
	struct cap_count count[DP_MAX_WORKERS][DP_MAX_PORTS]; /* by worker and port */
	/* the writer's */
	uint64_t written_port[DP_MAX_PORTS]; /* frames written, by port */
	uint64_t start_ns, end_ns;   /* wall clock at start and end (pcapng statistics) */
	/* shared */
	atomic_int stop;             /* asked to end (stop or destroy) */
	atomic_int finished;         /* the stream is complete and closed (end is set) */
	int fd_closed;               /* under the service lock: fd is closed (no shutdown()) */
	_Atomic uint64_t written;    /* frames written (writer stores, status loads) */
	_Atomic uint64_t bytes;      /* bytes written */
	char end[96];                /* why it ended (written before finished) */
};

/* The capture service. */
struct dp_capture {
	struct dp_capture_head head; /* gen, which workers poll: must be first */
	struct dp_cap_session *live; /* the session workers feed while gen is odd (atomic
	                                access; published by the release store of gen) */
	uint64_t ack[DP_MAX_WORKERS]; /* the generation each worker applied (atomic access) */
	struct dp_worker *workers;   /* the workers (set at create) */
	uint32_t nworkers;
	const struct dp_ports *ports; /* the ports (set at create) */
	pthread_mutex_t lock;        /* start, stop, status, generation changes */
	struct dp_cap_session *sess; /* the current or last session (under lock) */
	uint32_t next_id;            /* number of the next session (under lock) */
	atomic_int workers_gone;     /* destroy: no worker runs, acks are not awaited */
};

/* ---- dp_capture.c, for the writer ---- */

/* Stop the workers feeding s (no-op if they do not) and wait until all have let go. */
void dp_cap_detach(struct dp_cap_session *s);

/* Free s's ring and pools (and the copies still in the ring).  No worker may feed s. */
void dp_cap_release(struct dp_cap_session *s);

/* Close s's stream, once.  The service's lock held (or no other thread left that could
 * use s). */
void dp_cap_close_stream(struct dp_cap_session *s);

/* The writer thread's body (dp_capture_writer.c); arg is the session. */
void *dp_cap_writer_main(void *arg);

/* Open the pcapng stream on s->fd: section header (with a comment naming the ports) and
 * interface blocks.  Returns 0 or a negative errno with the reason in err. */
int dp_cap_open_stream(struct dp_cap_session *s, char *err, size_t errlen);

#endif /* DP_CAPTURE_INT_H */
