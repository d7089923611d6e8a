/*
 * client_int.h — private to libsrd: the handle, endpoints, the send slots, the tx-area
 * allocator.  client.c: attach, control requests, endpoints, addresses, liveness;
 * io.c: send, poll, wait, received buffers; rxpool.c: the slots of small messages received
 * inline.  The tx-area allocator is lib/shm/srd_buddy.
 *
 * The client trusts the daemon's layout only after checking it (sizes, offsets inside the
 * region, no overlaps, powers of two) and keeps its own copy: every offset a completion
 * carries is checked against that copy before it becomes a pointer.
 */
#ifndef SRDC_CLIENT_INT_H
#define SRDC_CLIENT_INT_H

#include <stdint.h>

#include "srd.h"
#include "srd_buddy.h"
#include "srd_shm.h"

#define SRDC_MAX_MSG (16u << 20)          /* longest message */
#define SRDC_CTL_TIMEOUT_MS 5000          /* a control reply later than this: daemon gone */
#define SRDC_LIVENESS_NS 1000000ull       /* srdc_poll checks the socket at most this often */
#define SRDC_CLOSE_DRAIN_MS 10            /* srdc_ep_close waits this long for the daemon to
                                             take the sends published before it */
#define SRDC_RX_ALIGN_SHIFT 6u            /* received buffers are 64-byte aligned */
#define SRDC_TX_MIN_SHIFT 6u              /* smallest tx block: 64 bytes */
#define SRDC_UD_RXRET (1ull << 63)        /* user_data of SRD_SQ_RX_RETURN submissions */
#define SRDC_RET_BATCH SRD_SHM_MAX_IOV    /* received buffers given back per submission */
#define SRDC_SPIN_DEFAULT_US 50u          /* srdc_wait()'s spin window unless srdc_set_spin() */
#define SRDC_SPIN_MAX_US 1000000u         /* longest window srdc_set_spin() takes */
#define SRDC_INLINE_CHUNK 1024u           /* inline-message slots allocated at a time */

/* Tags of tx-area blocks. */
enum srdc_tx_tag {
	SRDC_TX_USER = 1,   /* from srdc_buf_alloc(): the app frees it */
	SRDC_TX_BOUNCE = 2, /* a copy of a send's pieces: freed with its completion */
};



/* SRDC_INLINE_CHUNK slots of SRD_CQE_INLINE_MAX bytes for small received messages. */
struct srdc_rxchunk {
	uint8_t *slots;                           /* 64-byte aligned */
	uint64_t lent[SRDC_INLINE_CHUNK / 64];    /* bitmap of the slots the app holds */
};

/* Where srdc_poll() puts the messages delivered inside the completion ring (rxpool.c). */
struct srdc_rxpool {
	struct srdc_rxchunk *chunks;  /* nchunks of them */
	uint32_t nchunks;
	uint32_t max_chunks;          /* the most it grows to */
	uint32_t *free;               /* free slots, chunk * SRDC_INLINE_CHUNK + index (a stack
	                                 with room for every slot) */
	uint32_t nfree;               /* entries in free */
	uint32_t last;                /* the chunk srdc_rxpool_put() found last */
};

/* A send between srdc_send() and its completion; user_data = gen << 32 | index. */
struct srdc_slot {
	void *ctx;              /* the caller's */
	struct srdc_ep *ep;     /* sending endpoint (NULL once it is closed) */
	int64_t bounce;         /* tx-area offset of its bounce buffer, or -1 */
	uint32_t gen;           /* bumped at each reuse (31 bits) */
	uint32_t next_free;     /* free list link (index), while unused */
	uint8_t used;           /* a send is outstanding */
	uint8_t cancelled;      /* its endpoint was closed: errors read -ECANCELED */
};

/* An endpoint. */
struct srdc_ep {
	struct srdc *h;         /* its attachment */
	uint32_t ipv4;          /* address (host byte order) */
	uint16_t id;            /* endpoint id */
	unsigned flags;         /* SRDC_ORDERED or 0 */
	struct srdc_ep *next;   /* the handle's list */
};

/* An attachment. */
struct srdc {
	int sock;               /* control socket (SOCK_SEQPACKET) */
	int efd;                /* completion eventfd (from the daemon) */
	int epfd;               /* epoll of efd and sock: srdc_fd() */
	uint8_t dead;           /* the daemon is gone (hang-up, EOF, reply timeout) */
	uint8_t armed;          /* we set hdr->app_waiting and have not cleared it */
	uint32_t seq;           /* last control request number */
	uint32_t app_id;        /* the daemon's number for us */
	uint32_t max_msg;       /* longest message (from WELCOME) */
	uint32_t naddrs;        /* the daemon's local addresses (from WELCOME) */
	uint32_t addrs[SRDC_MAX_ADDRS];
	uint64_t next_check_ns; /* CLOCK_MONOTONIC_COARSE: next liveness check of srdc_poll */
	/* srdc_wait()'s spin (io.c) */
	uint64_t spin_ns;       /* window after the last completion in which it spins */
	uint64_t ready_ns;      /* CLOCK_MONOTONIC: the last srdc_wait() that found one ready */
	uint32_t wait_head;     /* cq_head when the last srdc_wait() returned (moved since:
	                           srdc_poll() took completions after it) */
	/* the region (layout checked at attach, then only these copies are used) */
	uint8_t *base;          /* our mapping */
	uint64_t region_size;   /* bytes */
	struct srd_shm_hdr *hdr;/* base */
	struct srd_shm_ring *sq;/* submission ring indices */
	struct srd_shm_ring *cq;/* completion ring indices */
	struct srd_sqe *sqes;   /* submission entries */
	struct srd_cqe *cqes;   /* completion entries */
	uint32_t sq_entries;    /* power of two */
	uint32_t cq_entries;    /* power of two */
	uint32_t sq_tail;       /* our producer index */
	uint32_t sq_head_seen;  /* the daemon's SQ head as last read (srd_ring_space_cached) */
	uint32_t cq_head;       /* our consumer index */
	uint32_t cq_sub;        /* of the SEND_BATCH entry at cq_head: sends already returned
	                           (srdc_poll() had room for fewer than it held) */
	uint64_t tx_off;        /* our send area */
	uint64_t tx_size;
	uint64_t rx_off;        /* the daemon's receive area */
	uint64_t rx_size;
	struct srd_buddy txa;   /* allocator of the tx area */
	uint64_t *lent;         /* bitmap of received buffers we hold, by rx offset / 64 */
	uint32_t ret[SRDC_RET_BATCH]; /* buffers given back by the app, not yet submitted */
	uint32_t nret;          /* entries in ret */
	struct srdc_rxpool rxpool; /* small messages received inline, lent to the app */
	/* outstanding sends */
	struct srdc_slot *slots;/* nslots entries */
	uint32_t nslots;
	uint32_t free_slot;     /* first unused slot, or UINT32_MAX */
	/* endpoints */
	struct srdc_ep *eps;    /* open endpoints */
	struct srdc_ep *last_ep;/* the last one a completion named (lookup cache) */
};

/* client.c */
int srdc_gone(struct srdc *h, int force);

/* io.c */
/* Wait until the daemon has taken every submission published so far, the daemon is gone,
 * or timeout_ms pass.  Returns 0, -ENOTCONN or -ETIMEDOUT. */
int srdc_sq_drain(struct srdc *h, int timeout_ms);
struct srdc_ep *srdc_ep_lookup(struct srdc *h, uint16_t id);

/* rxpool.c */
/* An empty pool that grows to max_chunks chunks at most (0: 1). */
void srdc_rxpool_init(struct srdc_rxpool *p, uint32_t max_chunks);
void srdc_rxpool_fini(struct srdc_rxpool *p);
/* A slot of SRD_CQE_INLINE_MAX bytes, now lent; NULL if the pool is at its limit or out of
 * memory. */
void *srdc_rxpool_get(struct srdc_rxpool *p);
/* Take back slot buf.  Returns 0, or -EINVAL (not a slot of p, or not lent). */
int srdc_rxpool_put(struct srdc_rxpool *p, const void *buf);

#endif /* SRDC_CLIENT_INT_H */
