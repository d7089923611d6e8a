/*
 * dp_shm_int.h — private to dp_shm.c (control plane: socket, handshake, endpoints,
 * hang-ups) and dp_shm_data.c (data plane: submissions, completions, receive buffers).
 *
 * Trust: everything in an app's region (header, ring indices, descriptors) is written by
 * the app and is read once, copied, then checked.  The layout values, the ring indices this
 * side owns, the receive allocator and the list of lent buffers live here, in daemon memory.
 */
#ifndef DP_SHM_INT_H
#define DP_SHM_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "dp_config.h"
#include "dp_net.h"
#include "srd_buddy.h"
#include "srd_copy.h"
#include "dp_shm.h"

#define DP_SHM_MAX_MSG (16u << 20)                /* longest message (as libsrd) */
#define DP_SHM_MAX_EP DP_EP_PER_WORKER            /* endpoints of one server (worker) */
#define DP_SHM_HELLO_TIMEOUT_NS 1000000000ull     /* a new connection's time to say HELLO */
#define DP_SHM_MAX_PENDING 64u                    /* connections waiting for their HELLO */
#define DP_SHM_CTL_BUDGET 16u                     /* control messages per app per poll */
#define DP_SHM_RX_MIN_SHIFT 8u                    /* smallest receive buffer: 256 bytes */
#define DP_SHM_MAX_RING 65536u                    /* largest sq/cq ring */
#define DP_SHM_STAGE_MAX 256u                     /* small messages an app may have arriving
                                                     at once into staging slots (more: they
                                                     get receive buffers) */
#define DP_SHM_MIN_AREA (64u << 10)               /* smallest tx / rx area */
#define DP_SHM_CQE_PLAIN 4u                       /* CQ entries after each publish written
                                                     with ordinary stores (cqe_store) */
#define DP_SHM_SQ_PREFETCH 8u                     /* SQ entries take_app asks the memory
                                                     for ahead of the one it reads (the
                                                     app's core wrote them: each read is a
                                                     cross-core miss; asked together, they
                                                     overlap) */
#define DP_SHM_SOCK_TMP ".new"                    /* suffix of the socket's name until it listens */

/* What an epoll event's data.ptr points at (each object starts with its kind). */
enum dp_shm_kind {
	DP_SHM_K_LISTEN = 1,  /* the listening socket */
	DP_SHM_K_TIMER = 2,   /* the timerfd of handshake deadlines */
	DP_SHM_K_PENDING = 3, /* a connection before its HELLO */
	DP_SHM_K_APP = 4,     /* an attached app's control socket */
};

/* Receive-buffer tags in the app's srd_buddy. */
enum dp_shm_rx_tag {
	DP_SHM_RX_FILLING = 1, /* given to the core by dp_shm_rx_alloc, not delivered yet */
	DP_SHM_RX_LENT = 2,    /* delivered: the app holds it until SRD_SQ_RX_RETURN */
};

/* Daemon memory where the core places a small message (at most SRD_CQE_INLINE_MAX bytes)
 * while it arrives; dp_shm_deliver copies it into the app's completion ring
 * (SRD_CQ_RECV_INLINE), so no receive buffer is lent for it. */
struct dp_shm_stage {
	uint8_t *slots;               /* n slots of SRD_CQE_INLINE_MAX bytes, 64-byte aligned */
	uint8_t *held;                /* per slot: 0 free, else the CQ entries it reserved */
	uint32_t *free;               /* indices of the free slots (a stack) */
	uint32_t nfree;               /* entries in free */
	uint32_t n;                   /* slots */
};

/* A connection that has not said HELLO yet. */
struct dp_shm_pending {
	uint32_t kind;                /* DP_SHM_K_PENDING (first: epoll data points here) */
	int fd;                       /* the accepted socket */
	uid_t uid;                    /* its peer's credentials (SO_PEERCRED) */
	pid_t pid;
	uint64_t deadline_ns;         /* CLOCK_MONOTONIC: closed if no HELLO by then */
	struct dp_shm_pending *prev;  /* the server's FIFO (deadlines ascending) */
	struct dp_shm_pending *next;
};

/* An open endpoint. */
struct dp_shm_ep {
	struct dp_shm_app *app;       /* the owner */
	uint32_t ipv4;                /* its local address (host byte order) */
	uint16_t id;                  /* worker << 12 | 1..4095: unique in the daemon */
	uint8_t ordered;              /* SRD_EP_ORDERED was asked for */
	struct dp_shm_ep *next;       /* the owner's list */
};

/* One attached app (or a detached one still draining its sends / filling buffers). */
struct dp_shm_app {
	uint32_t kind;                /* DP_SHM_K_APP (first: epoll data points here) */
	uint32_t id;                  /* the daemon's number for it (WELCOME, header) */
	uint32_t list_idx;            /* index in the server's apps[] */
	char name[SRD_SHM_NAME_MAX];  /* from its HELLO, NUL-terminated */
	int sock;                     /* control socket; -1 once detached */
	int efd;                      /* completion eventfd; -1 once detached */
	uint8_t dead;                 /* detached: no completions, no submissions */
	uint8_t need_signal;          /* completions published since the last flush */
	/* the region, as mapped here, and the layout as this side wrote it */
	uint8_t *base;                /* daemon's mapping */
	uint64_t region_size;         /* bytes mapped */
	struct srd_shm_hdr *hdr;      /* base (only app_waiting is ever read back) */
	struct srd_shm_ring *sq;      /* submission ring indices */
	struct srd_shm_ring *cq;      /* completion ring indices */
	struct srd_sqe *sqes;         /* submission entries */
	struct srd_cqe *cqes;         /* completion entries */
	uint32_t sq_entries;          /* power of two */
	uint32_t cq_entries;          /* power of two */
	uint32_t sq_head;             /* consumer index of the SQ (ours, authoritative) */
	uint32_t cq_tail;             /* producer index of the CQ (ours, authoritative) */
	uint32_t cq_head_seen;        /* the app's CQ head as last read (srd_ring_space_cached) */
	uint32_t cq_tail_pub;         /* cq_tail as last published (entries since: not visible) */
	uint8_t cq_streamed;          /* an entry since then was streamed (cqe_store): fence */
	uint64_t tx_off;              /* the app's send area */
	uint64_t tx_size;
	uint64_t rx_off;              /* the receive area (srd_buddy offsets add to this) */
	uint64_t rx_size;
	struct srd_buddy rxa;        /* receive buffers; tags say filling or lent */
	struct srd_copy_pick rx_pick; /* how large messages are placed in them (dp_shm_place) */
	struct dp_shm_stage stage;    /* small messages arriving (SRD_CQ_RECV_INLINE) */
	/* successful send completions gathered into one SRD_CQ_SEND_BATCH entry, posted when
	   full and at every dp_shm_flush (before the tail is published) */
	struct srd_cqe_sends sends_done;
	/* send completions that did not fit the CQ, oldest first; capacity is reserved ahead
	   so that posting never allocates: ovf_cap >= ovf_count + sends_inflight + (1 while
	   sends_done holds any) (received messages never wait here: each holds a slot of the
	   ring from dp_shm_rx_alloc) */
	struct srd_cqe *ovf;          /* ring of ovf_cap entries (power of two) */
	uint32_t ovf_cap;
	uint32_t ovf_head;            /* oldest held completion */
	uint32_t ovf_count;           /* held completions */
	uint32_t sends_inflight;      /* taken, not completed */
	uint32_t rx_filling;          /* buffers the core is filling: each holds a CQ slot */
	uint32_t rx_staged;           /* staging slots the core is filling (stage.held) */
	uint32_t cq_reserved;         /* CQ slots held for messages arriving: one per filling
	                                 buffer, 1 + srd_cqe_inline_entries(len) per staged one */
	uint32_t rx_lent;             /* buffers delivered and not returned */
	uint64_t rx_bytes;            /* bytes of rx_filling + rx_lent buffers */
	struct dp_shm_ep *eps;        /* its open endpoints */
	/* frames naming bytes of its send area (srdd sends payloads from there): the region
	   stays mapped while any is queued.  Taken by this worker into frame_refs[frame_cur],
	   dropped by whichever lcore frees the frame (atomic).  Two counts so that a fence can
	   wait for the frames taken before it while later ones go on (dp_shm_frames_fence):
	   while no fence runs, frame_refs[frame_cur ^ 1] is 0 */
	uint32_t frame_refs[2];
	uint8_t frame_cur;            /* the count new frames take */
	uint64_t fence_started;       /* fences begun (frame_cur flipped) */
	uint64_t fence_done;          /* of which the frames counted before are all freed */
	uint64_t fence_wanted;        /* latest ticket handed out */
};

/* Where things go in every app's region (computed once, from the configuration). */
struct dp_shm_layout {
	uint64_t sq_off;              /* submission ring (indices, then entries) */
	uint64_t cq_off;              /* completion ring */
	uint64_t tx_off;              /* the app's send area, 4 KiB aligned */
	uint64_t tx_size;
	uint64_t rx_off;              /* the receive area, 4 KiB aligned */
	uint64_t rx_size;
};

/* The server. */
struct dp_shm {
	/* configuration (copied) */
	uint32_t worker;              /* the worker this server feeds (its endpoint ids) */
	uint32_t nworkers;            /* servers sharing the control socket */
	char path[108];               /* the socket's path */
	uid_t allowed_uids[DP_MAX_IDS];
	uint32_t nallowed_uids;
	gid_t allowed_gids[DP_MAX_IDS];
	uint32_t nallowed_gids;
	uint64_t region_bytes;        /* per app, a multiple of 4 KiB */
	uint32_t sq_entries;          /* per app */
	uint32_t cq_entries;
	uint32_t max_apps;            /* app records at once (draining ones included) */
	uint32_t max_endpoints;       /* open endpoints at once */
	uint32_t *addrs;              /* local addresses (host byte order) */
	uint32_t max_msg;             /* protocol.max_msg_mb in bytes (told apps in WELCOME) */
	uint32_t naddrs;
	struct dp_shm_layout lay;     /* every app's region layout */
	dev_t sock_dev;               /* the socket file we bound (unlinked only if still it) */
	ino_t sock_ino;
	/* descriptors */
	int lfd;                      /* listening socket (worker 0's, or a dup of it) */
	uint8_t owns_path;            /* this server bound the socket file (unlinks it) */
	atomic_uint *turn;            /* accepts so far, all servers: server w accepts when
	                                 *turn % nworkers == w (worker 0's own_turn) */
	atomic_uint own_turn;
	atomic_uint *full;            /* bit w: server w has no room for another app (apps and
	                                 pending handshakes at max_apps); shared like turn */
	atomic_uint own_full;
	int epfd;                     /* epoll: lfd, tfd, pending and app sockets */
	int tfd;                      /* timerfd: the first pending connection's deadline */
	uint32_t lfd_kind;            /* DP_SHM_K_LISTEN (epoll data for lfd) */
	uint32_t tfd_kind;            /* DP_SHM_K_TIMER (epoll data for tfd) */
	uint64_t tfd_armed_ns;        /* deadline tfd is set to (0: disarmed) */
	/* connections waiting for HELLO */
	struct dp_shm_pending *pend_head; /* oldest */
	struct dp_shm_pending *pend_tail;
	uint32_t npending;
	/* apps */
	struct dp_shm_app **apps;     /* apps[0..napps): dense, max_apps slots */
	uint32_t napps;
	uint32_t area_hint;           /* apps[] index dp_shm_send_area_app() found last */
	uint32_t rr;                  /* dp_shm_take starts here */
	uint32_t next_app_id;         /* for the next WELCOME */
	/* endpoints */
	struct dp_shm_ep **eps;       /* by id's low 12 bits (index 0 unused),
	                                 DP_SHM_MAX_EP + 1 slots */
	uint32_t neps;                /* open */
	uint32_t next_ep;             /* where the search for a free slot starts */
	struct dp_shm_stats st;       /* counters (apps, endpoints and the sums kept live) */
};

/* dp_shm.c */
void dp_shm_app_detach(struct dp_shm *s, struct dp_shm_app *a);
void dp_shm_app_maybe_free(struct dp_shm *s, struct dp_shm_app *a);
/* The endpoint with this id, or NULL (also for another worker's id). */
struct dp_shm_ep *dp_shm_ep_by_id(const struct dp_shm *s, uint16_t id);
/* Same, if it is open on ipv4. */
struct dp_shm_ep *dp_shm_ep_find(const struct dp_shm *s, uint32_t ipv4, uint16_t id);

/* dp_shm_data.c */
int dp_shm_app_reserve(struct dp_shm_app *a, uint32_t more);
void dp_shm_app_post(struct dp_shm *s, struct dp_shm_app *a, const struct srd_cqe *c);
void dp_shm_rx_free(struct dp_shm *s, struct dp_shm_app *a, uint64_t area_off);
/* Staging slots for n messages (0: none, every message gets a buffer).  Returns 0 or
 * -ENOMEM. */
int dp_shm_stage_init(struct dp_shm_stage *st, uint32_t n);
void dp_shm_stage_fini(struct dp_shm_stage *st);

#endif /* DP_SHM_INT_H */
