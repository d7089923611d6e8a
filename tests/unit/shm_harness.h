/*
 * shm_harness.h — the shared-memory channel end to end, without DPDK and without srdd: a
 * dp_shm server runs in the test process, driven by a "pump" thread that also plays the
 * worker (every taken send is delivered by dp_shm_rx_take + dp_shm_deliver_taken when small,
 * else dp_shm_rx_alloc + copy + dp_shm_deliver, then
 * completed with status 0; a send to no endpoint completes with -ECONNREFUSED).  The main
 * thread is the applications (libsrd, or a raw client that writes descriptors by hand);
 * forked children play apps that must be another uid or must die.
 *
 * The pump holds F.mu for each iteration; the main thread takes it to read counters, to
 * change what the pump holds back, and around fork() (so that the child never inherits a
 * lock the pump was holding inside the allocator).
 */
#ifndef SHM_HARNESS_H
#define SHM_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp_net.h"
#include "dp_shm.h"
#include "srd.h"
#include "srd_shm.h"

#define IP_A 0x0a000001u /* 10.0.0.1: the daemon's first address */
#define IP_B 0x0a000002u /* 10.0.0.2 */
#define MIB (1u << 20)
#define BUF_MSG (SRD_CQE_INLINE_MAX + 72) /* a message too long to come inline: a buffer */

#define WAIT_UNTIL(cond, ms)                                                   \
	do {                                                                   \
		uint64_t end_ = mono_ns() + (uint64_t)(ms) * 1000000ull;       \
		while (!(cond)) {                                              \
			if (mono_ns() > end_)                                  \
				fail_msg("timed out waiting for %s", #cond);   \
			usleep(200);                                           \
		}                                                              \
	} while (0)

/* The server and the pump that plays its worker (one per test process). */
struct shm_fixture {
	struct dp_shm *s;             /* the server */
	pthread_t thr;                /* the pump */
	int running;                  /* thr exists */
	pthread_mutex_t mu;           /* held by the pump for each iteration */
	int stop;                     /* ask the pump to end */
	uint16_t hold_ep;             /* sends from this endpoint wait ... */
	uint64_t release_ns;          /* ... until then (0: until hold_ep changes) */
	struct dp_shm_send *q;        /* taken, not yet delivered */
	size_t nq, capq;
	uint64_t sum;                 /* of all payload bytes read (keeps the reads real) */
	int keep_frames;              /* 1: each delivered send leaves a frame naming its
	                                 payload (dp_shm_frame_get), as srdd's queued frames do,
	                                 until frames_free() */
	uint32_t *frames[64];         /* the counts those frames drop (dp_shm_frame_put) */
	struct dp_shm_app *frames_app; /* the app the last of them names */
	size_t nframes;
	int frames_misfound;          /* payloads dp_shm_send_area_app() put in the wrong app */
};

extern struct shm_fixture F;
extern char g_dir[64];   /* mkdtemp */
extern char g_path[100]; /* g_dir/run/srdd.sock */

struct raw {
	int sock;                  /* control socket */
	int efd;                   /* eventfd from the WELCOME */
	uint8_t *base;             /* the region */
	struct srd_shm_hdr h;      /* copy of its header */
	struct srd_shm_ring *sq;   /* submission ring */
	struct srd_shm_ring *cq;   /* completion ring */
	struct srd_sqe *sqes;
	struct srd_cqe *cqes;
	uint32_t sq_tail;          /* our producer index */
	uint32_t cq_head;          /* our consumer index */
	uint16_t ep;               /* an endpoint it opened */
};

/* CLOCK_MONOTONIC in ns. */
uint64_t mono_ns(void);

/* A small server configuration on g_path: 48 MiB regions, rings of 64, one worker. */
void cfg_default(struct dp_config *c);

/* Create the server from c and start the pump. */
void srv_start(const struct dp_config *c);

/* Stop the pump (the server stays). */
void srv_stop(void);

/* Stop the pump and destroy the server. */
void srv_destroy(void);

/* The server's counters, read under the pump's lock. */
struct dp_shm_stats stats_now(void);

/* Sends from endpoint ep wait in the pump until release_ns (0: until hold() again). */
void hold(uint16_t ep, uint64_t release_ns);

/* Keep (1) or stop keeping frames naming the delivered sends' payloads; frames_free()
 * frees those kept (dp_shm_frame_put), as the port would. */
void keep_frames(int on);
void frames_free(void);

/* fork() while the pump is parked outside the allocator. */
pid_t fork_quiet(void);

/* Wait for child pid: its exit status, or 128 + the signal that killed it. */
int child_status(pid_t pid);

/* Poll h until one completion arrives (1), ms pass (0), or an error (<0). */
int next_comp(struct srdc *h, struct srdc_completion *c, int ms);

/* Attach to the server as name and open one endpoint. */
void attach_with_ep(const char *name, struct srdc **h, struct srdc_ep **ep);

/* Do x and y name the same endpoint? */
int same_addr(struct srdc_addr x, struct srdc_addr y);

/* srdc_recv_done(), waiting while the submission ring is full. */
void give_back(struct srdc *h, void *buf);

/* Send iov[0..n) from ea to eb and check everything about its arrival. */
void xfer(struct srdc_ep *ea, struct srdc *hb, struct srdc_ep *eb, const struct srdc_iov *iov,
	  unsigned n, uint64_t tag);

/* The SEND completion of a send with ctx tag + 1 on h. */
void expect_send_done(struct srdc *h, struct srdc_ep *ep, uint64_t tag, int status);

/* Fill p[0..n) with a pattern of seed. */
void fill(uint8_t *p, size_t n, uint32_t seed);

/* A control socket connected to the server. */
int raw_connect(void);

/* A control message of op with sequence seq, the rest zero. */
void ctl_fill(struct srd_ctl *m, uint16_t op, uint32_t seq);

/* Connect, HELLO, map the region from the WELCOME and open one endpoint (r->ep). */
void raw_attach(struct raw *r);

/* Write e into the submission ring and publish it. */
void raw_push(struct raw *r, const struct srd_sqe *e);

/* Completions ready in r's ring. */
uint32_t raw_pending(const struct raw *r);

/* Collect want completions of r (within a few seconds). */
void raw_reap(struct raw *r, struct srd_cqe *out, int want);

/* Unmap r's region and close its descriptors. */
void raw_close(struct raw *r);

/* Wait until the server closes fd; returns the status of an ERROR it sent first (or 1). */
int expect_closed(int fd, int ms);

/* cmocka teardown of every test: destroys a server a failed test left running. */
int shm_teardown(void **state);
/* Make the socket's folder, run the group, remove the folder.  Returns cmocka's result. */
int shm_run_tests(const char *name, const struct CMUnitTest *tests, size_t n);

#endif /* SHM_HARNESS_H */
