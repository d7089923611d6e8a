/*
 * dp_capture.h — packet capture from a running srdd into pcapng, written with DPDK's
 * rte_pcapng: what ports send and receive, and what the impairment stage drops (each such
 * frame carries a pcapng comment saying why and on which path).  `srdctl capture` drives
 * it through the /srd/capture telemetry command; docs/observability.md tells the whole
 * story.
 *
 * One session at a time.  Its frames go to a UNIX stream socket that the requester
 * listens on (srdctl): the daemon connects to it, writes the pcapng stream, and closes
 * it when the session ends (COUNT frames written, a stop request, or the reader shutting
 * its side down).  So the file is created and owned by whoever asked, never opened by the
 * daemon by name, and the end of the stream tells the reader that the capture is complete.
 *
 * Cost.  A worker reads one shared word per loop iteration (dp_capture_sync(): has the
 * capture changed?) and tests one pointer of its own per burst (w->cap.sess).  When a
 * session runs, the worker copies each selected frame (up to the snap length) into a
 * buffer of the session's pool and puts it in the session's ring; the writer thread,
 * not the worker, formats and writes.  A full ring or an empty pool loses the copy
 * (counted as a capture drop), never the frame.
 */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct dp_capture;
struct dp_cap_session;
struct dp_impair_drop;
struct dp_ports;
struct dp_worker;
struct dp_wport;
struct rte_mbuf;

#define DP_CAPTURE_SOCK_MAX 108u    /* a UNIX socket path, its NUL included */

/* Which frames of the selected ports a session keeps. */
enum dp_capture_filter {
	DP_CAPTURE_ALL = 0,   /* every frame */
	DP_CAPTURE_PEER = 1,  /* IPv4 (or ARP) frames from or to peer_ip */
	DP_CAPTURE_CONN = 2,  /* SRD packets whose source or destination connection id is
	                         conn_id */
};

/* A capture request. */
struct dp_capture_req {
	uint32_t port_mask;          /* ports to capture (bit i: dp_ports port[i]); 0: all */
	uint32_t snaplen;            /* bytes kept of each frame; 0: whole frames */
	uint64_t count;              /* frames to write before the session ends; 0: no limit */
	enum dp_capture_filter filter; /* which frames */
	uint32_t peer_ip;            /* DP_CAPTURE_PEER: the address (host byte order) */
	uint32_t conn_id;            /* DP_CAPTURE_CONN: the connection id */
	char sock[DP_CAPTURE_SOCK_MAX]; /* absolute path of the listening socket to write to */
};

/* Where a session is. */
enum dp_capture_state {
	DP_CAPTURE_NONE = 0,     /* no session yet */
	DP_CAPTURE_RUNNING = 1,  /* capturing */
	DP_CAPTURE_DONE = 2,     /* ended: the stream is complete and closed */
};

/* What /srd/capture reports about the current or last session. */
struct dp_capture_status {
	uint32_t id;                 /* session number (1, 2, ...; 0: none yet) */
	enum dp_capture_state state; /* where it is */
	struct dp_capture_req req;   /* what it captures (snaplen: the effective one) */
	uint64_t written;            /* frames written to the stream */
	uint64_t bytes;              /* bytes written to the stream */
	uint64_t dropped;            /* frames not captured: the ring was full or no copy buffer
	                                was free (the frames themselves went their way) */
	char end[96];                /* DONE: why it ended */
};

/* What a worker knows of the capture (a member of struct dp_worker). */
struct dp_capture_tap {
	struct dp_capture *svc;      /* the daemon's capture service (NULL: none) */
	uint64_t gen;                /* the service's generation this worker applied last */
	struct dp_cap_session *sess; /* the session this worker feeds; NULL: capture off (the
	                                one test per burst) */
};

/* The part of struct dp_capture that workers read at every iteration (its first member). */
struct dp_capture_head {
	uint64_t gen;                /* bumped at every change: odd while a session runs */
};

/*
 * The capture service for workers[0..nworkers) over ports (both outlive it).  Sets each
 * worker's cap.svc.  Returns 0, -EINVAL or -ENOMEM.
 */
int dp_capture_create(struct dp_worker *workers, uint32_t nworkers, const struct dp_ports *ports,
		      struct dp_capture **out);

/* End a running session (its stream is completed and closed) and free the service.  Only
 * once no worker runs any more.  NULL is ignored. */
void dp_capture_destroy(struct dp_capture *c);

/*
 * Parse the parameters of "/srd/capture,start,...": comma-separated KEY=VALUE with keys
 * sock (required: an absolute path), port (a port name or index; repeatable), count,
 * snaplen, peer (an IPv4 address) or conn (a connection id, decimal or 0x hex).  Returns 0,
 * or -EINVAL with the reason in err.
 */
int dp_capture_parse(const struct dp_capture *c, const char *params, struct dp_capture_req *req,
		     char *err, size_t errlen);

/*
 * Start a session: connect to req->sock, write the pcapng header blocks there, start the
 * writer and wait until every worker captures (so that the caller's next packet is in).
 * Returns 0 with the session number in *id, or a negative errno with the reason in err:
 * -EBUSY (a session runs), -EINVAL, -ENOMEM, -ETIMEDOUT (a worker did not answer), or the
 * connect error.
 */
int dp_capture_start(struct dp_capture *c, const struct dp_capture_req *req, uint32_t *id,
		     char *err, size_t errlen);

/* Ask the running session (id 0: whichever runs) to end; it completes its stream first.
 * Returns 0, or -ENOENT if no such session runs. */
int dp_capture_stop(struct dp_capture *c, uint32_t id);

/* The current or last session. */
void dp_capture_get_status(struct dp_capture *c, struct dp_capture_status *st);

/* The filter as text ("all", "peer 10.0.0.2", "conn 0x12340001"), into buf. */
void dp_capture_filter_str(const struct dp_capture_req *req, char *buf, size_t len);

/* ---- the worker's side ---- */

/* Take up what changed since the last call: the session to feed, or none. */
void dp_capture_apply(struct dp_capture *c, struct dp_worker *w);

/* Called by worker w between two iterations: one relaxed load when nothing changed. */
static inline void dp_capture_sync(struct dp_capture_tap *tap, struct dp_worker *w)
{
	if (tap->svc &&
	    __atomic_load_n(&((struct dp_capture_head *)tap->svc)->gen, __ATOMIC_RELAXED) != tap->gen)
		dp_capture_apply(tap->svc, w);
}

/* Direction of a captured frame (the values of pcapng's EPB flags). */
enum dp_capture_dir {
	DP_CAPTURE_IN = 1,           /* received by the port */
	DP_CAPTURE_OUT = 2,          /* handed to the port, or dropped by the impairment stage
	                                on its way there */
};

/* Copy frames pkts[0..n) of port wp (direction dir) for w's session (w->cap.sess set). */
void dp_capture_frames(struct dp_worker *w, const struct dp_wport *wp, struct rte_mbuf *const *pkts,
		       uint16_t n, enum dp_capture_dir dir);

/* Copy the frames of port wp that its impairment stage dropped, each marked with why. */
void dp_capture_dropped(struct dp_worker *w, const struct dp_wport *wp,
			const struct dp_impair_drop *drops, uint16_t n);

#endif /* DP_CAPTURE_H */
