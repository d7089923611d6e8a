/*
 * srd.h — libsrd: what applications link to send and receive reliable datagrams through
 * srdd.  No DPDK: this header and libsrd are all an application needs.
 *
 *   struct srdc *h;  srdc_attach("/run/srd/srdd.sock", "myapp", &h);
 *   struct srdc_ep *ep;  srdc_ep_open(h, 0, 0, &ep);
 *   srdc_send(ep, &dst, iov, 1, tag, imm, ctx);          completion: SRDC_SEND, ctx
 *   n = srdc_poll(h, comps, 16);  or  srdc_wait(h, ms);  completions: SRDC_RECV, buffer
 *   srdc_recv_done(h, comp.buf);                          give the buffer back
 *
 * Delivery is reliable and unordered (in send order with SRDC_ORDERED): every message
 * srdc_send() accepts is delivered exactly once or completes with an error.
 * Messages up to 16 MiB.  Functions return 0 (or a count) or a negative errno; -ENOTCONN
 * always means the daemon is gone: detach, and attach again when it is back.
 *
 * Threads: a handle and its endpoints are for one thread at a time.
 */
#ifndef SRD_CLIENT_H
#define SRD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRDC_ORDERED 0x1u      /* srdc_ep_open flag: each message is delivered after every
                                  message sent before it to the same destination (pipelined:
                                  many may be in flight; the receiving daemon orders them) */
#define SRDC_ADDR_STRLEN 22u   /* "255.255.255.255:65535" and its NUL */
#define SRDC_MAX_ADDRS 7u      /* local addresses srdc_info() reports, at most */
#define SRDC_INJECT_MAX 88u    /* longest message srdc_inject() takes (bytes) */

/* An endpoint's address: the daemon's IPv4 address and the endpoint's id. */
struct srdc_addr {
	uint32_t ipv4; /* host byte order */
	uint16_t ep;   /* endpoint id */
};

/* What the daemon told an app when it attached. */
struct srdc_info {
	size_t max_msg;                  /* longest message it sends or accepts, bytes */
	unsigned naddrs;                 /* its local addresses in addrs (0: it did not say) */
	uint32_t addrs[SRDC_MAX_ADDRS];  /* IPv4, host byte order, the first is the default */
	size_t tx_area;                  /* bytes of the shared region's send area */
	size_t rx_area;                  /* bytes of its receive area */
};

struct srdc;    /* an attachment to the daemon */
struct srdc_ep; /* an endpoint */

/* One piece of a message to send: in the shared region (from srdc_buf_alloc(), sent
 * without a copy) or anywhere else (copied into the region once). */
struct srdc_iov {
	const void *base; /* first byte */
	size_t len;       /* bytes */
};

/* What a completion reports. */
enum srdc_kind {
	SRDC_SEND = 1, /* a send is done (status 0: delivered; else why not) */
	SRDC_RECV = 2, /* a message arrived in buf; give buf back with srdc_recv_done() */
};

/* One completion. */
struct srdc_completion {
	enum srdc_kind kind;  /* SRDC_SEND or SRDC_RECV */
	int status;           /* 0 or a negative errno: -ETIMEDOUT (peer unreachable),
	                         -ECONNRESET (peer restarted), -ECONNREFUSED (peer full),
	                         -ENXIO (no such endpoint there), -EADDRNOTAVAIL (no such
	                         local address or worker), -EMSGSIZE, -ENOBUFS (peer out of
	                         buffers), -EINVAL (bad request), -ECANCELED (endpoint
	                         closed) */
	void *ctx;            /* SRDC_SEND: the ctx given to srdc_send() */
	struct srdc_ep *ep;   /* local endpoint */
	struct srdc_addr src; /* SRDC_RECV: sender */
	uint64_t tag;         /* SRDC_RECV: tag */
	uint64_t imm;         /* SRDC_RECV: immediate data */
	void *buf;            /* SRDC_RECV: the message, in the shared region (a small one,
	                         up to 128 bytes: in libsrd's own memory) */
	size_t len;           /* SRDC_RECV: bytes */
};

/*
 * Attach to the daemon listening on socket_path; name appears in the daemon's logs.
 * Returns 0 and sets *out, or -ENOENT / -ECONNREFUSED (no daemon there), -EACCES (the
 * daemon refuses this uid/gid), -EPROTO (another protocol version, or a malformed reply),
 * -ENOMEM, or another negative errno from the system.
 */
int srdc_attach(const char *socket_path, const char *name, struct srdc **out);

/* The daemon's limits and addresses as it told them at attach. */
void srdc_info(const struct srdc *h, struct srdc_info *info);

/* Detach: close every endpoint (unfinished sends are cancelled), unmap the region, close
 * the socket.  Safe after the daemon died.  NULL is ignored. */
void srdc_detach(struct srdc *h);

/*
 * Open an endpoint on the daemon's address ipv4 (host byte order; 0: its first address)
 * with flags (SRDC_ORDERED or 0).  Returns 0 and sets *out, or -EADDRNOTAVAIL (not an
 * address of the daemon), -EMFILE (the daemon's endpoint limit), -EINVAL (unknown flags),
 * -ENOTCONN, -ENOMEM.
 */
int srdc_ep_open(struct srdc *h, uint32_t ipv4, unsigned flags, struct srdc_ep **out);

/* Close an endpoint.  Its sends go on (their completions report -ECANCELED if they fail;
 * a send the daemon could not take within 10 ms of the close is refused, so), the messages
 * still arriving for it are dropped by the daemon.  NULL is ignored. */
void srdc_ep_close(struct srdc_ep *ep);

/* The endpoint's address. */
struct srdc_addr srdc_ep_addr(const struct srdc_ep *ep);

/* Write a as "a.b.c.d:ep" into buf (len bytes, SRDC_ADDR_STRLEN is enough).  Returns the
 * length written, or -ENOSPC. */
int srdc_addr_format(const struct srdc_addr *a, char *buf, size_t len);

/* Parse "a.b.c.d:ep" into *a.  Returns 0, or -EINVAL. */
int srdc_addr_parse(const char *s, struct srdc_addr *a);

/* A buffer of len bytes in the shared region, for messages sent without a copy; NULL if
 * the region has no room (or len is 0 or above 16 MiB). */
void *srdc_buf_alloc(struct srdc *h, size_t len);

/* Give back a buffer from srdc_buf_alloc() (not while a send from it is unfinished). */
void srdc_buf_free(struct srdc *h, void *buf);

/*
 * Send the message made of iov[0..iovcnt) to dst, with a tag and immediate data; ctx comes
 * back in its SRDC_SEND completion.  Pieces in the shared region go without a copy and
 * must stay untouched until the completion; others are copied now (a message of at most
 * SRDC_INJECT_MAX bytes, none of it in the region, into the submission itself).
 * Returns 0, or -EINVAL (iovcnt 0 or above 8, a NULL base with a length, a piece that
 * straddles the region's edge), -EMSGSIZE (above 16 MiB), -EAGAIN (the submission ring
 * or the region's room for copies is full: poll completions and retry), -ENOTCONN.
 */
int srdc_send(struct srdc_ep *ep, const struct srdc_addr *dst, const struct srdc_iov *iov,
	      unsigned iovcnt, uint64_t tag, uint64_t imm, void *ctx);

/*
 * Send a small message (len <= SRDC_INJECT_MAX) with no completion if it succeeds: buf is
 * copied into the submission itself, so it may be reused at once, and libsrd keeps no
 * record of the send.  If it fails, an SRDC_SEND completion with the error and ctx says so
 * (ctx is only ever seen then).  The cheapest way to send many small messages.
 * Returns 0, or -EINVAL, -EMSGSIZE (len above SRDC_INJECT_MAX), -EAGAIN (the submission
 * ring is full: poll completions and retry), -ENOTCONN.
 */
int srdc_inject(struct srdc_ep *ep, const struct srdc_addr *dst, const void *buf, size_t len,
		uint64_t tag, uint64_t imm, void *ctx);

/* Take up to max completions into c[].  Returns how many (0: none yet), or -ENOTCONN
 * (the daemon is gone; completions it had posted are returned first). */
int srdc_poll(struct srdc *h, struct srdc_completion *c, int max);

/* Wait until a completion is ready, the daemon goes away, or timeout_ms passes (-1: no
 * limit).  While the last completion is recent (srdc_set_spin()) it polls, giving the CPU
 * away between looks (sched_yield), then it sleeps on the eventfd.  Returns 0 (a
 * completion is ready), -ETIMEDOUT, -ENOTCONN, or -EINTR. */
int srdc_wait(struct srdc *h, int timeout_ms);

/* How long srdc_wait() polls before it sleeps: while a completion came within the last us
 * microseconds (default 50; completions srdc_poll() took since the previous srdc_wait()
 * count as just now).  A waiter that polls takes a completion within about a microsecond;
 * one that sleeps pays the kernel's wake-up (tens of µs on a VM).  0: sleep at once.
 * Returns 0, or -EINVAL (h NULL, or us above 1,000,000). */
int srdc_set_spin(struct srdc *h, unsigned us);

/* Give a received buffer (SRDC_RECV's buf) back to the daemon.  Buffers go back eight to a
 * submission: when eight are given, and at the next srdc_poll() or srdc_wait() whatever
 * the number.  A small message's buffer (the daemon delivered it inside the completion
 * ring and libsrd copied it out) stays in libsrd: no submission (after the daemon is gone
 * it is taken back all the same, and -ENOTCONN says the daemon is gone).  An app that holds as many messages as the receive area has smallest
 * buffers gets no more until it gives some back.  If the submission ring is full it waits for room (the daemon takes buffer
 * returns whatever else waits, so this is short).  Returns 0, -EINVAL (not a buffer the
 * daemon lent), -EAGAIN (still no room after about 10,000 yields: retry), -ENOTCONN. */
int srdc_recv_done(struct srdc *h, void *buf);

/* A file descriptor that becomes readable when srdc_wait() would return, for an
 * application's own poll/epoll loop (read it with srdc_wait(h, 0)). */
int srdc_fd(const struct srdc *h);

#ifdef __cplusplus
}
#endif

#endif /* SRD_CLIENT_H */
