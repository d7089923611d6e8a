/*
 * srd_shm.h — the shared-memory channel between an application (libsrd) and the daemon
 * (srdd): the control messages on the UNIX socket, the layout of the per-app region, the
 * single-producer/single-consumer rings and their descriptors.  Both sides include it;
 * nothing here depends on DPDK.
 *
 * The region is a memfd the daemon creates and passes with SCM_RIGHTS.  Descriptors hold
 * offsets into the region, never pointers.  The daemon trusts nothing the app writes: it
 * keeps its own copy of the layout, checks every index and every descriptor, and fails a
 * bad request with an error completion.
 *
 *   offset 0                    struct srd_shm_hdr (one page)
 *   hdr.sq_off                  submission ring: app -> daemon, struct srd_sqe entries
 *   hdr.cq_off                  completion ring: daemon -> app, struct srd_cqe entries
 *   hdr.tx_area_off             the app's buffers: messages to send (the app allocates)
 *   hdr.rx_area_off             the daemon's buffers: received messages, lent to the app
 *                               in RECV completions and returned with SRD_SQ_RX_RETURN
 *                               (messages of at most SRD_CQE_INLINE_MAX bytes come in the
 *                               completion ring itself instead: SRD_CQ_RECV_INLINE)
 */
#ifndef SRD_SHM_H
#define SRD_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "srd_barrier.h"

#define SRD_SHM_MAGIC 0x5352445348ull /* "SRDSH" */
#define SRD_SHM_VERSION 4u      /* 2: inline and silent sends, batched buffer returns;
                                   3: send completions batched (SRD_CQ_SEND_BATCH);
                                   4: small messages received inline (SRD_CQ_RECV_INLINE) */
#define SRD_CTL_MAGIC 0x5344434cu     /* "SDCL" */
#define SRD_SHM_MAX_IOV 8u            /* scatter-gather entries in one send */
#define SRD_SHM_HDR_SIZE 4096u        /* bytes reserved for struct srd_shm_hdr */
#define SRD_SHM_NAME_MAX 32u          /* application name in the handshake, with its NUL */
#define SRD_SHM_WELCOME_ADDRS 7u      /* local addresses a WELCOME lists, at most */

/* ---- control messages (SOCK_SEQPACKET, one struct srd_ctl per message) ---- */

enum srd_ctl_op {
	SRD_CTL_HELLO = 1,     /* app -> daemon: first message: version, name */
	SRD_CTL_WELCOME = 2,   /* daemon -> app: + SCM_RIGHTS [region memfd, completion eventfd] */
	SRD_CTL_EP_OPEN = 3,   /* app -> daemon: open an endpoint */
	SRD_CTL_EP_OPENED = 4, /* daemon -> app: its id and address (or an error status) */
	SRD_CTL_EP_CLOSE = 5,  /* app -> daemon: close an endpoint (its sends complete first) */
	SRD_CTL_EP_CLOSED = 6, /* daemon -> app */
	SRD_CTL_ERROR = 7,     /* daemon -> app: the request was refused (status says why) */
};

/* Endpoint flags (SRD_CTL_EP_OPEN). */
#define SRD_EP_ORDERED 0x1u /* messages from this endpoint to one destination are delivered
                               in the order they were sent (send-after-send) */

/* One control message. */
struct srd_ctl {
	uint32_t magic;   /* SRD_CTL_MAGIC */
	uint16_t version; /* SRD_SHM_VERSION */
	uint16_t op;      /* enum srd_ctl_op */
	int32_t status;   /* replies: 0 or a negative errno */
	uint32_t seq;     /* the request's number, echoed in its reply */
	union {
		struct {
			char name[SRD_SHM_NAME_MAX]; /* for logs and telemetry */
			uint32_t flags;              /* 0 */
		} hello;
		struct {
			uint64_t region_size; /* bytes of the memfd */
			uint32_t app_id;      /* the daemon's number for this app */
			uint32_t max_msg;     /* longest message the daemon sends or accepts (bytes;
			                         0 from daemons before it was added: 16 MiB) */
			uint32_t naddrs;      /* the daemon's local addresses, in addrs (0: not
			                         said; more than fit: the first ones) */
			uint32_t addrs[SRD_SHM_WELCOME_ADDRS]; /* IPv4, host byte order, ports' order */
		} welcome;
		struct {
			uint32_t ipv4;  /* local address (host byte order); 0: the first port's */
			uint32_t flags; /* SRD_EP_* */
		} ep_open;
		struct {
			uint32_t ipv4;  /* the endpoint's address (host byte order) */
			uint16_t ep;    /* its id */
			uint16_t reserved;
		} ep_opened;
		struct {
			uint16_t ep; /* endpoint to close */
			uint16_t reserved[3];
		} ep_close;
		uint8_t raw[48];
	} u;
};

/* ---- the region ---- */

/* A ring's indices, each on its own cache line.  Entries follow the struct. */
struct srd_shm_ring {
	uint32_t tail;        /* producer's index (free-running; masked on access) */
	uint8_t pad0[60];
	uint32_t head;        /* consumer's index */
	uint8_t pad1[60];
};

/* The region's first page (written by the daemon before the app maps the region). */
struct srd_shm_hdr {
	uint64_t magic;        /* SRD_SHM_MAGIC */
	uint32_t version;      /* SRD_SHM_VERSION */
	uint32_t app_id;       /* as in the WELCOME */
	uint64_t region_size;  /* bytes */
	uint64_t sq_off;       /* struct srd_shm_ring of the submission ring */
	uint32_t sq_entries;   /* power of two */
	uint32_t cq_entries;   /* power of two */
	uint64_t cq_off;       /* struct srd_shm_ring of the completion ring */
	uint64_t tx_area_off;  /* the app's buffer area */
	uint64_t tx_area_size;
	uint64_t rx_area_off;  /* the daemon's receive area */
	uint64_t rx_area_size;
	uint8_t pad[64];
	uint32_t app_waiting;  /* app: 1 while it sleeps on the completion eventfd (see
	                          srd_barrier.h); the daemon signals the eventfd only then */
	uint8_t pad2[60];
};

/* Submission ops. */
enum srd_sq_op {
	SRD_SQ_SEND = 1,      /* send a message (completion: SRD_CQ_SEND) */
	SRD_SQ_RX_RETURN = 2, /* give back niov received buffers, iov[i].off each (all or none:
	                         no completion unless refused) */
};

/* SEND flags (srd_sqe.flags). */
#define SRD_SQE_INLINE 0x1u   /* the message is data[0..inline_len) of the SQE itself (niov
                                 0): the app keeps nothing, the daemon copies it at once */
#define SRD_SQE_SILENT 0x2u   /* no completion if it succeeds; a failure completes as usual,
                                 marked SRD_CQE_SILENT, user_data being all the app has */
#define SRD_SQE_INLINE_MAX 88u /* bytes an inline SEND carries */

/* A (offset, length) piece of the region. */
struct srd_shm_iov {
	uint32_t off; /* from the region's start */
	uint32_t len; /* bytes */
};

/* A submission (128 bytes). */
struct srd_sqe {
	uint64_t user_data;    /* returned in the completion */
	uint8_t op;            /* enum srd_sq_op */
	uint8_t niov;          /* entries in iov (1..SRD_SHM_MAX_IOV; inline SEND: 0) */
	uint16_t ep;           /* SEND: sending endpoint */
	uint32_t flags;        /* SEND: SRD_SQE_*; RX_RETURN: 0 */
	uint32_t dst_ip;       /* SEND: destination IPv4, host byte order */
	uint16_t dst_ep;       /* SEND: destination endpoint */
	uint16_t inline_len;   /* SEND with SRD_SQE_INLINE: bytes in data */
	uint64_t tag;          /* SEND: tag */
	uint64_t imm;          /* SEND: immediate data */
	union {
		struct {
			struct srd_shm_iov iov[SRD_SHM_MAX_IOV]; /* SEND: pieces of the tx area,
			                                            in order; RX_RETURN: the
			                                            buffers (off only) */
			uint8_t pad[24];
		};
		uint8_t data[SRD_SQE_INLINE_MAX]; /* SEND with SRD_SQE_INLINE: the message */
	};
};

/* Completion ops. */
enum srd_cq_op {
	SRD_CQ_SEND = 1, /* a send is done: status 0 (delivered) or an error */
	SRD_CQ_RECV = 2, /* a message arrived: it is at buf_off, len bytes, until returned */
	SRD_CQ_SQE_ERROR = 3, /* a submission was refused (status says why; user_data is its) */
	SRD_CQ_SEND_BATCH = 4, /* struct srd_cqe_sends: 1..SRD_CQE_SENDS sends are done, each
	                          delivered (status 0); failures always complete one by one */
	SRD_CQ_RECV_INLINE = 5, /* a message of len <= SRD_CQE_INLINE_MAX bytes arrived: it is
	                           in the srd_cqe_inline_entries(len) ring entries that follow
	                           this one (buf_off 0; nothing to return) */
};

/* Completion flags (srd_cqe.flags). */
#define SRD_CQE_SILENT 0x1u /* SEND, SQE_ERROR: the failure of a SRD_SQE_SILENT send */

/* A completion (64 bytes). */
struct srd_cqe {
	uint64_t user_data; /* SEND, SQE_ERROR: the submission's; RECV: 0 */
	uint64_t tag;       /* RECV: tag */
	uint64_t imm;       /* RECV: immediate data */
	int32_t status;     /* 0 or a negative errno */
	uint8_t op;         /* enum srd_cq_op */
	uint8_t flags;      /* SRD_CQE_* */
	uint16_t ep;        /* local endpoint */
	uint32_t len;       /* RECV, RECV_INLINE: message bytes */
	uint32_t buf_off;   /* RECV: where the message is (in the rx area); RECV_INLINE: 0 */
	uint32_t src_ip;    /* RECV, RECV_INLINE: sender IPv4, host byte order */
	uint16_t src_ep;    /* RECV, RECV_INLINE: sender endpoint */
	uint16_t reserved;
	uint8_t pad[16];
};

/*
 * An SQE's first cache line (SRD_SQE_LINE bytes) holds everything of a SEND of at most
 * SRD_SQE_SHORT_IOV pieces, of an inline SEND of at most SRD_SQE_SHORT_INLINE bytes and of
 * an RX_RETURN of at most SRD_SQE_SHORT_IOV buffers: the app writes, and the daemon reads,
 * only that line for them (srd_sqe_bytes()), so such a submission moves one cache line
 * between the cores instead of two.  The second line's bytes are then meaningless.
 */
#define SRD_SQE_LINE 64u
#define SRD_SQE_SHORT_IOV 3u     /* iov entries within the first line */
#define SRD_SQE_SHORT_INLINE 24u /* inline bytes within the first line */

/* The bytes of *e that carry meaning, judged from its first line only: SRD_SQE_LINE or
 * sizeof(struct srd_sqe).  (The daemon calls it on its own copy of the first line.) */
static inline uint32_t srd_sqe_bytes(const struct srd_sqe *e)
{
	int short_send = e->op == SRD_SQ_SEND &&
			 ((e->flags & SRD_SQE_INLINE) ? e->inline_len <= SRD_SQE_SHORT_INLINE
						      : e->niov <= SRD_SQE_SHORT_IOV);
	int short_ret = e->op == SRD_SQ_RX_RETURN && e->niov <= SRD_SQE_SHORT_IOV;

	return short_send || short_ret ? SRD_SQE_LINE : (uint32_t)sizeof(struct srd_sqe);
}

_Static_assert(sizeof(struct srd_sqe) == 128, "srd_sqe is 128 bytes");
_Static_assert(offsetof(struct srd_sqe, iov) + SRD_SQE_SHORT_IOV * sizeof(struct srd_shm_iov) ==
	       SRD_SQE_LINE, "three pieces fill the first line");
_Static_assert(offsetof(struct srd_sqe, data) + SRD_SQE_SHORT_INLINE == SRD_SQE_LINE,
	       "the short inline bytes fill the first line");
/* SRD_CQ_SEND_BATCH: the successful completions of up to SRD_CQE_SENDS sends (not silent
 * ones: those complete only if they fail) in one ring entry, so that a stream of sends
 * costs the app a cache line per SRD_CQE_SENDS completions.  Read as a struct srd_cqe, its
 * op is where an srd_cqe's is (the app looks at op first). */
#define SRD_CQE_SENDS 7u
struct srd_cqe_sends {
	uint64_t user_data[3];  /* the first three sends' user_data */
	int32_t status;         /* 0 */
	uint8_t op;             /* SRD_CQ_SEND_BATCH */
	uint8_t count;          /* sends in this entry: 1..SRD_CQE_SENDS */
	uint16_t reserved;      /* 0 */
	uint64_t user_data_more[SRD_CQE_SENDS - 3]; /* the fourth to seventh sends' */
};

/* SRD_CQ_RECV_INLINE: a small received message travels in the completion ring, so the
 * daemon lends no receive buffer and the app returns none (no SRD_SQ_RX_RETURN): the
 * entry (tag, imm, ep, len, src_ip, src_ep as a RECV's) is followed by
 * srd_cqe_inline_entries(len) entries holding the message's bytes in order, 64 to an
 * entry (the last one's bytes past len are 0), wrapping around the ring's end like any
 * entries.  The daemon publishes the tail past all of them at once, and reserves their room
 * when the message starts to arrive, as it reserves a RECV's one entry.  The app copies
 * the bytes out before it moves its head past them.  Longer messages, and any message
 * when the daemon's staging room is short, come as SRD_CQ_RECV. */
#define SRD_CQE_INLINE_MAX 128u

/* Ring entries holding the bytes of an inline message of len bytes (after its header). */
static inline uint32_t srd_cqe_inline_entries(uint32_t len)
{
	return (len + (uint32_t)sizeof(struct srd_cqe) - 1) / (uint32_t)sizeof(struct srd_cqe);
}

/* The i-th user_data (i < count) of batch b. */
static inline uint64_t srd_cqe_sends_ud(const struct srd_cqe_sends *b, uint32_t i)
{
	return i < 3 ? b->user_data[i] : b->user_data_more[i - 3];
}

_Static_assert(sizeof(struct srd_cqe) == 64, "srd_cqe is 64 bytes");
_Static_assert(sizeof(struct srd_cqe_sends) == sizeof(struct srd_cqe), "a batch is one entry");
_Static_assert(offsetof(struct srd_cqe_sends, op) == offsetof(struct srd_cqe, op),
	       "op sits where an srd_cqe's does");
_Static_assert(SRD_SQE_INLINE_MAX == sizeof(struct srd_sqe) - 40, "data fills the SQE's tail");
_Static_assert(sizeof(struct srd_shm_ring) == 128, "ring indices take two cache lines");
_Static_assert(sizeof(struct srd_shm_hdr) <= SRD_SHM_HDR_SIZE, "header fits its page");

/* ---- ring access (hot path, inline; each side passes its own trusted mask) ---- */

/* Ask for the cache line at p in a state fit for writing, ahead of the stores: a ring slot
 * was last read by the other side's core, and an ordinary store to it must first take the
 * line back (a read for ownership, a cross-core round trip); asked for early, that wait
 * overlaps other work.  PREFETCHW on x86 (a no-op on CPUs without it), elsewhere the
 * compiler's write prefetch.  Only a hint: no effect on what memory holds. */
static inline void srd_prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* Entries of ring r (which lives at byte offset ring_off of region base). */
#define SRD_RING_ENTRIES(base, ring_off, type) \
	((type *)((uint8_t *)(base) + (ring_off) + sizeof(struct srd_shm_ring)))

/* Producer: free slots, given its private tail and the consumer's head. */
static inline uint32_t srd_ring_space(const struct srd_shm_ring *r, uint32_t tail,
				      uint32_t entries)
{
	uint32_t used = tail - srd_load_acquire(&r->head);

	return used > entries ? 0 : entries - used; /* a bogus head reads as full */
}

/* Producer: free slots, reading the consumer's head (a cache line the consumer writes: a
 * miss each time it moved) only when the value read last (*head_seen) leaves fewer than want
 * free.  A head only moves forward, so an old one is a safe lower bound on the room. */
static inline uint32_t srd_ring_space_cached(const struct srd_shm_ring *r, uint32_t tail,
					     uint32_t entries, uint32_t *head_seen, uint32_t want)
{
	uint32_t used = tail - *head_seen;

	if (used <= entries && entries - used >= want)
		return entries - used;
	*head_seen = srd_load_acquire(&r->head);
	used = tail - *head_seen;
	return used > entries ? 0 : entries - used; /* a bogus head reads as full */
}

/* Consumer: entries ready, given its private head and the producer's tail. */
static inline uint32_t srd_ring_ready(const struct srd_shm_ring *r, uint32_t head,
				      uint32_t entries, int *corrupt)
{
	uint32_t ready = srd_load_acquire(&r->tail) - head;

	if (ready > entries) {
		*corrupt = 1; /* the producer wrote an impossible tail */
		return 0;
	}
	return ready;
}

#endif /* SRD_SHM_H */
