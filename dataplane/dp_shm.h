/*
 * dp_shm.h — the daemon's side of the shared-memory channels: the control socket (UNIX
 * SOCK_SEQPACKET, SO_PEERCRED checked against the allowed uids/gids, a versioned
 * handshake), one memfd region per app (passed with SCM_RIGHTS), endpoints, and the data
 * path: taking submissions (every descriptor checked) and posting completions.
 *
 * No DPDK here.  The worker drives it: dp_shm_poll_control() for sockets (accept,
 * requests, hang-ups), dp_shm_take() for submissions, dp_shm_complete_send() /
 * dp_shm_rx_alloc() / dp_shm_deliver() / dp_shm_rx_abort() when the protocol core calls
 * back.  Everything runs on one thread (the worker that owns the apps); nothing locks.
 *
 * Several workers: one server per worker, all on the same control socket.  Worker 0's
 * server binds it; the others share it and the servers take turns accepting (round
 * robin), so an app belongs to one worker, which serves its rings, its endpoints (ids
 * worker << 12 | 1..4095, see dp_net.h) and their connections.
 *
 * An app that hangs up (or dies) is detached: its endpoints close at once, messages still
 * arriving for it are dropped (counted), and its region stays mapped until the last of
 * its sends in flight completes (the core re-reads payload from it on retransmission);
 * then everything it held is freed and the counters are back where they were.
 */
#ifndef DP_SHM_H
#define DP_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"
#include "srd_shm.h"

struct dp_shm;     /* the server */
struct dp_shm_app; /* one attached app */

/* A send taken from an app's submission ring, checked, ready for srd_send(). */
struct dp_shm_send {
	struct dp_shm_app *app;       /* whose */
	uint64_t user_data;           /* the app's context, for its completion */
	uint16_t ep;                  /* sending endpoint */
	uint32_t src_ip;              /* the endpoint's address (host byte order) */
	uint32_t dst_ip;              /* destination (host byte order) */
	uint16_t dst_ep;              /* destination endpoint */
	uint8_t ordered;              /* the endpoint asked for send-after-send order */
	uint64_t tag;                 /* tag */
	uint64_t imm;                 /* immediate data */
	uint8_t silent;               /* no completion if it succeeds (SRD_SQE_SILENT) */
	uint32_t niov;                /* pieces (0: inline, the message is inline_data) */
	struct {
		const void *base;     /* in the daemon's mapping of the app's region */
		uint32_t len;         /* bytes */
	} iov[SRD_SHM_MAX_IOV];
	uint32_t len;                 /* total bytes */
	uint8_t inline_data[SRD_SQE_INLINE_MAX]; /* an inline send's message (len bytes),
	                                            copied out of the app's ring */
};

/* Counters (also the idle-state check of the tests: all back to 0 with no app). */
struct dp_shm_stats {
	uint64_t apps;              /* attached now (dead ones draining included) */
	uint64_t endpoints;         /* open now */
	uint64_t sends_inflight;    /* taken and not yet completed */
	uint64_t rx_bufs_lent;      /* receive buffers held by apps or being filled */
	uint64_t rx_bytes_lent;     /* their bytes */
	uint64_t attaches;          /* handshakes completed (total) */
	uint64_t refused;           /* connections refused (credentials, protocol, limits) */
	uint64_t bad_sqe;           /* submissions refused with SRD_CQ_SQE_ERROR */
	uint64_t rx_no_endpoint;    /* messages for no open endpoint (dropped) */
	uint64_t rx_no_buffer;      /* receive buffers refused (app's rx area full) */
	uint64_t cq_overflow;       /* completions held back because an app's ring was full */
	uint64_t ring_corrupt;      /* apps detached for writing impossible ring indices */
	uint64_t rx_inline;         /* messages delivered in the completion ring (total) */
	uint64_t rx_inline_filling; /* small messages arriving into staging slots now */
};

/*
 * Create worker's server.  Worker 0 (first NULL) binds and listens on cfg->socket_path
 * (replacing a stale socket file, permissions cfg->socket_mode); worker w > 0 passes worker
 * 0's server as first and shares its socket (cfg->workers servers take turns).
 * addrs[0..naddrs) are the daemon's local addresses (endpoints may open on them).  Returns
 * 0, or a negative errno with the reason in err.
 */
int dp_shm_create(const struct dp_config *cfg, const uint32_t *addrs, uint32_t naddrs,
		  uint32_t worker, struct dp_shm *first, struct dp_shm **out, char *err,
		  size_t errlen);

/* Close every app (without waiting for sends: the caller destroys the engines first, which
 * completes them), unlink the socket (worker 0's server), free everything.  Destroy worker
 * 0's server last.  NULL is ignored. */
void dp_shm_destroy(struct dp_shm *s);

/* A descriptor to wait on (epoll: readable when a control socket needs attention). */
int dp_shm_fd(const struct dp_shm *s);

/* Handle control traffic without blocking: new apps, handshakes, endpoint requests,
 * hang-ups.  Returns the number of events handled (0: none). */
int dp_shm_poll_control(struct dp_shm *s);

/*
 * Take up to max ready sends from the apps (round robin), checking every descriptor: a bad
 * one completes at once with SRD_CQ_SQE_ERROR and is not returned.  RX_RETURN submissions
 * are handled inside, in every app's ring up to its first send that must wait, whatever
 * max is (0 included): a buffer return never waits behind another app's sends.  Returns
 * how many sends were stored in out[].
 */
int dp_shm_take(struct dp_shm *s, struct dp_shm_send *out, int max);

/*
 * The app whose send area holds the len bytes at p (a payload srd_poll_tx_ref() named), or
 * NULL.  A frame that goes on naming them takes a reference (dp_shm_frame_get) first: the
 * app's region stays mapped, even after the app is gone, until every such frame is freed.
 */
struct dp_shm_app *dp_shm_send_area_app(struct dp_shm *s, const void *p, uint32_t len);
/* Returns the count the frame drops when it is freed: its dp_shm_frame_put() opaque. */
uint32_t *dp_shm_frame_get(struct dp_shm_app *app);
/* A frame that named an app's bytes at addr is freed (from any lcore; the signature of
 * DPDK's external-buffer free callback, count being what dp_shm_frame_get() returned). */
void dp_shm_frame_put(void *addr, void *count);

/*
 * A send of app's that failed must not be completed while frames of it are queued: the app
 * would write its bytes again, and a frame the receiver had not yet seen would deliver
 * them as the message.  dp_shm_frames_fence() returns a ticket; once
 * dp_shm_frames_passed() says the ticket has passed, every frame that named app's bytes
 * when it was taken has been freed.  Frames taken since hold it back at most until the
 * fence running when it was taken (if one was) ends: never for long, however many frames
 * keep coming.
 */
uint64_t dp_shm_frames_fence(struct dp_shm_app *app);
int dp_shm_frames_passed(struct dp_shm_app *app, uint64_t ticket);

/* A taken send is done (status 0 or a negative errno): post its completion. */
void dp_shm_complete_send(struct dp_shm *s, const struct dp_shm_send *snd, int status);

/* Same, given only the application, user data and whether the send was silent (for the
 * engine's tx_done, whose ctx is the caller's own record).  A silent send that succeeded
 * posts nothing. */
void dp_shm_complete(struct dp_shm *s, struct dp_shm_app *app, uint16_t ep,
		     uint64_t user_data, int silent, int status);

/*
 * A message of len bytes is arriving for endpoint dst_ep on local address dst_ip: return a
 * buffer for it in the owning app's rx area (a message of at most SRD_CQE_INLINE_MAX
 * bytes: a staging slot in daemon memory, delivered in the completion ring) and set
 * *app_ctx (pass it to dp_shm_deliver or dp_shm_rx_abort).  Returns NULL if no endpoint is
 * open there (*no_ep set: the core refuses the message and it fails at the sender with
 * -ENXIO), or if the app's rx area or completion ring has no room (the core then tells the
 * sender to retry later).
 */
void *dp_shm_rx_alloc(struct dp_shm *s, uint32_t dst_ip, uint16_t dst_ep, uint32_t len,
		      void **app_ctx, int *no_ep);

/*
 * The core's rx_take for a message to dst_ip:dst_ep whose len bytes it holds in a packet
 * and will deliver before its srd_recv() returns: for len up to SRD_CQE_INLINE_MAX, room
 * in the owning app's completion ring is reserved and *app_ctx set; returns 1, then
 * dp_shm_deliver_taken posts it (a RECV_INLINE, straight from the packet: no staging slot,
 * no copy in between) or dp_shm_rx_untake gives the room back.  Returns 0 for a longer
 * message (use dp_shm_rx_alloc), -1 as dp_shm_rx_alloc's NULL (*no_ep as there).
 */
int dp_shm_rx_take(struct dp_shm *s, uint32_t dst_ip, uint16_t dst_ep, uint32_t len,
		   void **app_ctx, int *no_ep);
void dp_shm_deliver_taken(struct dp_shm *s, void *app_ctx, const void *data, uint32_t len,
			  uint32_t src_ip, uint16_t src_ep, uint16_t dst_ep, uint64_t tag,
			  uint64_t imm);
void dp_shm_rx_untake(void *app_ctx, uint32_t len);

/* The message in buf (from dp_shm_rx_alloc) is complete: post a RECV completion. */
void dp_shm_deliver(struct dp_shm *s, void *app_ctx, void *buf, uint32_t len,
		    uint32_t src_ip, uint16_t src_ep, uint16_t dst_ep, uint64_t tag, uint64_t imm);

/* The message will never complete: take the buffer back. */
void dp_shm_rx_abort(struct dp_shm *s, void *app_ctx, void *buf);

/*
 * Store len bytes of a message of msg_len bytes at dst, in a buffer dp_shm_rx_alloc gave
 * for app_ctx.  The app reads what is stored there, on its own core, then hands the buffer
 * back, and it is reused: for a message of SRD_COPY_PICK_MIN bytes or more the stores are
 * ordinary or non-temporal as they measure cheaper for this app (srd_copy.h: they depend
 * on whether the app's core shares a cache with ours, which the host may change).
 */
void dp_shm_place(void *app_ctx, void *dst, const void *src, size_t len, uint32_t msg_len);

/* Publish the completions posted since the last call, post held-back completions where rings
 * have room, signal apps that sleep.  Call once per worker loop iteration (and after
 * completing sends outside it). */
void dp_shm_flush(struct dp_shm *s);

/* dp_shm_flush without waking the apps that sleep (no full fence, no eventfd): the
 * completions are in the rings for every app to see; the next dp_shm_flush wakes the
 * sleepers among those they are for. */
void dp_shm_publish(struct dp_shm *s);

/* Copy the counters into *st. */
void dp_shm_get_stats(const struct dp_shm *s, struct dp_shm_stats *st);

#endif /* DP_SHM_H */
