/*
 * perf.h — srd-perf's pieces: the options, the little protocol a client and a server speak
 * over SRD itself (tags in the message's tag field), and the entry points of each role.
 *
 * A server opens one endpoint per thread (-t) and prints the first one's address.  A client
 * sends HELLO there; the server answers READY with every thread's address.  Then:
 *   lat   the client sends PING, the server returns PONG of the same size, one at a time;
 *   bw    the client keeps a window of DATA in flight (and the server too with -b); a send's
 *         completion means the peer has the whole message, so the sender's clock measures
 *         delivered bytes;
 *   rate  as bw, with small messages, from several threads at once.
 * Each client thread ends with FIN; the server thread answers RESULT with what it received
 * and sent since the last FIN.
 */
#ifndef SRD_PERF_H
#define SRD_PERF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "srd.h"

#define PERF_MAX_THREADS 16u
#define PERF_MAGIC 0x53524450u /* "SRDP" */
#define PERF_MIN_SIZE 16u       /* lat/bw/rate messages carry at least a sequence number */
#define PERF_MAX_SIZE (16u << 20)

enum perf_test { PERF_LAT = 1, PERF_BW = 2, PERF_RATE = 3 };

/* How an app waits for completions (--poll). */
enum perf_wait {
	PERF_WAIT_SLEEP = 0, /* srdc_wait(): spin (yielding) while completions are recent,
	                        then sleep on the eventfd (the default) */
	PERF_WAIT_SPIN = 1,  /* spin: lowest latency with a core to itself */
	PERF_WAIT_YIELD = 2, /* spin, yielding the CPU each empty poll: apps sharing a core */
};

/* Message tags (the low byte; bytes above carry a thread or sequence number). */
enum perf_tag {
	PERF_T_HELLO = 1,  /* client -> server thread 0: struct perf_hello */
	PERF_T_READY = 2,  /* server -> client: struct perf_ready */
	PERF_T_PING = 3,   /* lat: client -> server */
	PERF_T_PONG = 4,   /* lat: server -> client, same size */
	PERF_T_DATA = 5,   /* bw/rate: either way */
	PERF_T_FIN = 6,    /* client -> server thread: this run is over */
	PERF_T_RESULT = 7, /* server -> client: struct perf_result */
};

#define PERF_TAG(t, hi) ((uint64_t)(hi) << 8 | (uint64_t)(t))
#define PERF_TAG_KIND(tag) ((unsigned)((tag) & 0xff))
/* DATA: the sending thread in bits 8..15, the message's sequence number from bit 16 (the
 * receiver counts arrivals whose number is not above the last one from that thread) */
#define PERF_DATA_TAG(thread, seq) PERF_TAG(PERF_T_DATA, (uint64_t)(thread) | (uint64_t)(seq) << 8)
#define PERF_DATA_THREAD(tag) ((unsigned)((tag) >> 8 & 0xff))
#define PERF_DATA_SEQ(tag) ((tag) >> 16)

/* Arrivals of DATA out of send order, per sending thread. */
struct perf_order {
	uint64_t next[PERF_MAX_THREADS]; /* sequence number expected next (1 + the last seen) */
	uint64_t late;                   /* arrivals below it */
};

/* Count an arrival of DATA with tag into *ord. */
static inline void perf_order_note(struct perf_order *ord, uint64_t tag)
{
	unsigned th = PERF_DATA_THREAD(tag) % PERF_MAX_THREADS;
	uint64_t seq = PERF_DATA_SEQ(tag);

	if (seq < ord->next[th])
		ord->late++;
	else
		ord->next[th] = seq + 1;
}

/* HELLO: what the client will run. */
struct perf_hello {
	uint32_t magic;
	uint32_t test;     /* enum perf_test */
	uint32_t size;     /* message bytes */
	uint32_t window;   /* messages in flight */
	uint32_t bidir;    /* bw: the server sends too */
	uint32_t threads;  /* client threads */
	uint64_t iters;    /* messages per thread (0: duration) */
	uint64_t duration_ns;
};

/* READY: the server's endpoints. */
struct perf_ready {
	uint32_t magic;
	uint32_t nthreads;
	struct { uint32_t ipv4; uint32_t ep; } addr[PERF_MAX_THREADS];
};

/* FIN: the run is over; last: the client is done with the server (a server without
 * --forever exits after it). */
struct perf_fin {
	uint32_t magic;
	uint32_t last;
	uint64_t expect;  /* --inject: answer once this many DATA have arrived (0: now) */
};

/* RESULT: what a server thread saw since the previous FIN. */
struct perf_result {
	uint32_t magic;
	uint32_t pad;
	uint64_t rx_msgs, rx_bytes;   /* DATA/PING received */
	uint64_t tx_msgs, tx_bytes;   /* DATA/PONG sent and completed */
	uint64_t tx_failed;           /* sends that completed with an error */
	uint64_t tx_ns;               /* bidir: first send to last completion */
	uint64_t rx_out_of_order;     /* DATA that arrived after a later one of its thread */
	uint64_t rx_ns;               /* first to last DATA arrival */
};

/* The command line. */
struct perf_opts {
	enum perf_test test;
	const char *socket;       /* srdd's control socket */
	const char *server;       /* the server's address (client), or NULL (server) */
	uint32_t local_ip;        /* local address to open endpoints on (0: the daemon's first) */
	uint32_t pair_ip;         /* --pair: the second end's daemon address (lat: the echoing
	                             end, bw/rate: the receiving end; 0: not a pair run) */
	uint32_t size;            /* -s */
	uint64_t iters;           /* -n (0: use duration) */
	uint64_t duration_ns;     /* -D */
	uint32_t window;          /* -w */
	uint32_t threads;         /* -t */
	uint64_t warmup;          /* lat: round trips not counted */
	uint64_t gap_ns;          /* lat --gap: idle time between round trips */
	bool sweep;               /* -a */
	bool bidir;               /* -b */
	bool json;                /* --json */
	bool histogram;           /* -H: print the percentile distribution */
	bool forever;             /* server: serve runs until SIGINT (default: one) */
	bool ordered;             /* --ordered: SRDC_ORDERED endpoints; arrivals out of order
	                             fail the run */
	bool inject;              /* --inject: bw/rate DATA by srdc_inject(), no completions */
	enum perf_wait wait;      /* --poll: how to wait for completions */
	int spin_us;              /* --spin-us: srdc_set_spin() for --poll sleep (-1: libsrd's
	                             default) */
	const char *csv;          /* lat: samples to this file */
	const char *addr_file;    /* server: write its address here */
};

/* Set by SIGINT/SIGTERM (the only global state: a signal handler's flag). */
extern volatile int perf_stop;

/* Monotonic time in ns. */
uint64_t perf_now_ns(void);

/* Wait for a completion on h the way `how` says, for about 1 ms at most.  Returns
 * srdc_poll()'s result for up to max completions (0: none came). */
int perf_poll(struct srdc *h, struct srdc_completion *c, int max, enum perf_wait how);

/* Send one message of len bytes from buf (in the shared region) with tag, retrying while
 * the rings are full (completions met meanwhile are handed to on_comp).  Returns 0 or a
 * negative errno. */
typedef void (*perf_comp_fn)(void *arg, const struct srdc_completion *c);
int perf_send(struct srdc *h, struct srdc_ep *ep, const struct srdc_addr *to, void *buf,
	      uint32_t len, uint64_t tag, void *ctx, enum perf_wait how, perf_comp_fn on_comp,
	      void *arg);

/* lat: open --csv FILE for one size's run (header: the first size, which truncates the file
 * and writes the column names); *out stays NULL without --csv.  Returns 0 or -EIO. */
int perf_lat_csv_open(const struct perf_opts *o, bool header, FILE **out);

/* lat --gap: stay idle between round trips (the next one meets sleeping waiters). */
void perf_lat_gap(const struct perf_opts *o);

/* One round trip of a lat run, number i (perf_lat_loop() times it): 0 or a negative errno. */
typedef int (*perf_round_trip_fn)(void *arg, uint64_t i);

/* lat (perf_lat.c): --warmup round trips, then -n of them (or for -D) by round_trip(arg, i),
 * each one-way time recorded, written to --csv and reported (a table row or JSON).  A failed
 * round trip is counted in *failed; the run goes on unless stop_on_failure, -ENOTCONN or
 * -EINTR.  Returns the last round trip's result (0: it succeeded), or -ENOMEM / -EIO before
 * the run. */
int perf_lat_loop(const struct perf_opts *o, uint32_t size, bool header, bool stop_on_failure,
		  perf_round_trip_fn round_trip, void *arg, uint64_t *failed);

/* Roles (perf_server.c, perf_client.c).  Return the process exit code. */
int perf_server(const struct perf_opts *o);
int perf_client(const struct perf_opts *o);
/* --pair (perf_pair.c, perf_pair_bw.c): one thread holds both ends; lat pings from --local
 * to --pair and echoes back, bw and rate send from --local to --pair. */
int perf_pair(const struct perf_opts *o);

/* Results (perf_report.c): a table row (with the header when header is set) or, with
 * --json, one JSON object per line. */
struct hist;
void perf_report_lat(const struct perf_opts *o, bool header, uint32_t size,
		     const struct hist *h, uint64_t failed, double seconds);

/* What one direction of a bw/rate run moved. */
struct perf_flow {
	uint64_t msgs, bytes;  /* completed without error */
	uint64_t failed;       /* completed with an error */
	uint64_t out_of_order; /* arrivals after a later message of the same thread */
	double seconds;        /* first send to last completion */
};
void perf_report_bw(const struct perf_opts *o, bool header, uint32_t size, uint32_t window,
		    const struct perf_flow *out, const struct perf_flow *back);

/* Progress of a run: call perf_progress() often with its totals; it prints a line to
 * stderr each second (the last second's rates) once the run has gone on for 3 s, or from
 * the start when its duration (-D) says it will. */
struct perf_progress {
	uint64_t start_ns, last_ns;
	uint64_t last_msgs, last_bytes;
};
void perf_progress_start(struct perf_progress *p);
void perf_progress(const struct perf_opts *o, struct perf_progress *p, uint64_t msgs,
		   uint64_t bytes);

#endif /* SRD_PERF_H */
