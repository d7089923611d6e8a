/*
 * srdfi.h — the libfabric provider "srd" (libsrd-fi.so): private types shared by its
 * modules.  The provider's public interface is libfabric's own (rdma/fabric.h and
 * friends); this header is not installed.
 *
 *   prov.c    fi_prov_ini, parameters, the fabric, fi_getinfo
 *   info.c    the attributes the provider offers, checked against hints
 *   domain.c  domains: the daemon attachment (libsrd), progress, locking, memory regions
 *   av.c      address vectors (FI_AV_MAP and FI_AV_TABLE)
 *   cq.c      completion queues and counters
 *   eq.c      event queues
 *   ep.c      endpoints: bind, enable, names, options, cancel, close
 *   tx.c      sends: segmentation, queueing (FI_RM_ENABLED), completions, delivery acks
 *   rx.c      receives: matching, the unexpected queue, peek/claim, multi-receive,
 *             reassembly of segmented messages
 *
 * Every message the provider sends through srdd carries a small header (struct
 * srdfi_hdr) in front of the payload; the libfabric tag travels in srdd's 64-bit tag and
 * the remote CQ data in its immediate data (docs/libfabric.md, "On the wire").
 *
 * Locking: one mutex per domain guards the domain and everything opened on it (endpoints,
 * AVs, CQs, counters, MRs); it is taken only when the domain's threading level is
 * FI_THREAD_SAFE (else the application serialises, as FI_THREAD_DOMAIN promises).  Event
 * queues belong to the fabric and have a mutex of their own.
 */
#ifndef SRDFI_H
#define SRDFI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_atomic.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>
#include <rdma/providers/fi_log.h>
#include <rdma/providers/fi_prov.h>

#include "srd.h"
#include "srd_copy.h"

/* ---- identity and limits ---- */

#define SRDFI_NAME "srd"
#define SRDFI_PROV_VERSION FI_VERSION(0, 1)
#define SRDFI_API_VERSION FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION)
#define SRDFI_IOV_LIMIT 7u           /* user pieces per send (srdd takes 8: one is the header) */
#define SRDFI_RX_IOV_LIMIT 8u        /* pieces of a receive buffer */
#define SRDFI_MAX_MSG (1ull << 32)   /* largest message (segmented above srdd's limit) */
#define SRDFI_TX_SIZE 1024u          /* operations an endpoint accepts before -FI_EAGAIN */
#define SRDFI_RX_SIZE 1024u          /* receives an endpoint keeps posted */
#define SRDFI_INJECT_SIZE 4096u      /* largest fi_inject */
#define SRDFI_CQ_DEFAULT 1024u       /* a CQ's initial size when the attribute says 0 */
#define SRDFI_MIN_MULTI_RECV 64u     /* FI_OPT_MIN_MULTI_RECV's default */
#define SRDFI_ERR_DATA_MAX 96u       /* bytes of an error entry's err_data (a sentence) */
#define SRDFI_YIELD_AUTO (-1)        /* FI_SRD_YIELD unset: yield once reads spun spin_us */
#define SRDFI_DEFAULT_SPIN_US 5u     /* FI_SRD_SPIN_US's default */

/* The provider object libfabric's core loads (prov.c); FI_LOG macros need it. */
extern struct fi_provider srdfi_prov;

/* Provider parameters (FI_SRD_*), read once by fi_getinfo / fi_fabric. */
struct srdfi_params {
	char socket[108];        /* FI_SRD_SOCKET: srdd's control socket */
	char addr[16];           /* FI_SRD_ADDR: the local address to use ("" : every one) */
	size_t segment;          /* FI_SRD_SEGMENT: bytes per srdd message of a segmented one */
	size_t unexp_hold;       /* FI_SRD_UNEXP_HOLD: unexpected bytes kept in srdd's buffers
	                            before they are copied out to free them */
	int yield;               /* FI_SRD_YIELD: give the CPU away when a CQ read finds nothing
	                            (processes sharing a core, as Open MPI's yield_when_idle):
	                            SRDFI_YIELD_AUTO (unset), 0 never, 1 always */
	size_t spin_us;          /* FI_SRD_SPIN_US: under SRDFI_YIELD_AUTO, how long reads that
	                            find nothing spin before they yield */
};
void srdfi_params_get(struct srdfi_params *p);

/* ---- on the wire (inside an srdd message) ---- */

#define SRDFI_WIRE_VERSION 1u

enum srdfi_op {
	SRDFI_OP_MSG = 1,    /* a message for an FI_MSG receive */
	SRDFI_OP_TAGGED = 2, /* a message for an FI_TAGGED receive (srdd's tag is its tag) */
	SRDFI_OP_DACK = 3,   /* delivery acknowledgement of msg_id (FI_DELIVERY_COMPLETE) */
};

#define SRDFI_H_DATA 0x1u /* srdd's immediate data is the remote CQ data */
#define SRDFI_H_DC 0x2u   /* the sender waits for a DACK (FI_DELIVERY_COMPLETE) */
#define SRDFI_H_SEG 0x4u  /* one piece of a segmented message: struct srdfi_seg follows */
#define SRDFI_H_ALL (SRDFI_H_DATA | SRDFI_H_DC | SRDFI_H_SEG)
#define SRDFI_H_DROPPED 0x8u /* DACK only: the endpoint closed without taking the message */

/* In front of every message (8 bytes, little-endian fields written byte by byte). */
struct srdfi_hdr {
	uint8_t version;  /* SRDFI_WIRE_VERSION */
	uint8_t op;       /* enum srdfi_op */
	uint16_t flags;   /* SRDFI_H_* */
	uint32_t msg_id;  /* the sending endpoint's number for the message */
};
#define SRDFI_HDR_LEN 8u

/* After the header of a segmented message's piece (16 bytes). */
struct srdfi_seg {
	uint64_t total;   /* the whole message's length */
	uint64_t offset;  /* where this piece goes */
};
#define SRDFI_SEG_LEN 16u

/* Encode / decode.  decode returns the header length (8 or 24), or -FI_EINVAL for a
 * malformed header (short, another version, unknown op or flags, a piece outside its
 * message). */
size_t srdfi_hdr_encode(uint8_t *buf, const struct srdfi_hdr *h, const struct srdfi_seg *s);
int srdfi_hdr_decode(const uint8_t *buf, size_t len, struct srdfi_hdr *h, struct srdfi_seg *s);

/* An endpoint's name (fi_getname, fi_av_insert): 8 bytes. */
#define SRDFI_NAME_LEN 8u
#define SRDFI_NAME_MAGIC 0x53u /* 'S' */
#define SRDFI_NAME_MAX 16u     /* the longest name in any format (a struct sockaddr_in) */
void srdfi_name_encode(uint8_t *buf, const struct srdc_addr *a);
int srdfi_name_decode(const void *buf, size_t len, struct srdc_addr *a);

/*
 * A name in address format fmt: FI_FORMAT_UNSPEC, srd's own (above); or FI_SOCKADDR_IN, for
 * applications that ask for socket addresses, a struct sockaddr_in whose port is the
 * endpoint id.  srdfi_addr_format() maps what an application may ask for onto these two
 * (FI_SOCKADDR is taken as FI_SOCKADDR_IN), or returns -1 for a format srd cannot give.
 */
int srdfi_addr_format(uint32_t asked);
size_t srdfi_fmt_len(uint32_t fmt);
void srdfi_fmt_encode(uint32_t fmt, void *buf, const struct srdc_addr *a);
int srdfi_fmt_decode(uint32_t fmt, const void *buf, size_t len, struct srdc_addr *a);

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t srdfi_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- lists (intrusive, doubly linked, circular with a head) ---- */

struct srdfi_list {
	struct srdfi_list *prev, *next;
};

static inline void srdfi_list_init(struct srdfi_list *l) { l->prev = l->next = l; }
static inline bool srdfi_list_empty(const struct srdfi_list *l) { return l->next == l; }
static inline void srdfi_list_add_tail(struct srdfi_list *head, struct srdfi_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}
static inline void srdfi_list_del(struct srdfi_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}
#define srdfi_container(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- objects ---- */

struct srdfi_fabric {
	struct fid_fabric fid;      /* what the application holds */
	uint32_t api_version;       /* the version fi_fabric was asked for */
	struct srdfi_params params; /* FI_SRD_* at open */
	uint32_t refs;              /* domains and event queues open on it */
};

struct srdfi_ep;
struct srdfi_cq;

/* A memory region: registration is accepted, never required (mr_mode 0). */
struct srdfi_mr {
	struct fid_mr mr_fid;       /* what the application holds (key, desc) */
	struct srdfi_domain *dom;
	struct srdfi_list link;     /* the domain's regions (keys are unique) */
	uint64_t access;            /* FI_SEND, FI_RECV, ... as registered */
};

struct srdfi_domain {
	struct fid_domain fid;        /* what the application holds */
	struct srdfi_fabric *fab;
	struct fi_info *info;         /* a copy of the info it was opened with */
	uint32_t ipv4;                /* its local address (0: srdd's first) */
	pthread_mutex_t lock;         /* see the top of this file */
	bool thread_safe;             /* FI_THREAD_SAFE: take lock */
	struct srdc *h;               /* the attachment to srdd (NULL until an endpoint) */
	struct srdc_info dinfo;       /* srdd's limits, from the attachment */
	int dead;                     /* srdd went away: every call fails with -FI_ENOTCONN */
	size_t segment;               /* payload bytes per srdd message of a segmented one */
	size_t unexp_hold;            /* see struct srdfi_params */
	uint32_t addr_format;         /* its names: FI_FORMAT_UNSPEC or FI_SOCKADDR_IN */
	int yield;                    /* see struct srdfi_params */
	uint64_t spin_ns;             /* ... its spin_us */
	uint64_t idle_since_ns;       /* CLOCK_MONOTONIC of the first read of the current run
	                                 that found nothing (0: the last read found something) */
	int cpu_shared;               /* under SRDFI_YIELD_AUTO: a yield lately gave the CPU to
	                                 another process, so reads that find nothing yield at
	                                 once (relaxed atomics: read and set outside the lock) */
	int quick_yields;             /* yields in a row since that returned at once */
	uint64_t probe_after_ns;      /* not shared: a wait's next yield, to look again */
	struct srd_copy_pick tx_pick; /* how its sends of SRD_COPY_PICK_MIN bytes or more are
	                                 copied into the region (tx.c, srd_copy.h) */
	struct srdfi_list eps;        /* its endpoints */
	struct srdfi_ep *last_ep;     /* the endpoint the last completion named (a cache) */
	struct srdfi_list mrs;        /* its memory regions */
	struct srdfi_list waiters;    /* CQs and counters with a wait fd (srdd's fd joins it) */
	uint32_t refs;                /* objects open on it (endpoints, AVs, CQs, counters, MRs) */
	uint64_t bad_msgs;            /* received messages with a malformed header (dropped) */
	uint64_t lost_errors;         /* failures of operations with no context to report them */
};

void srdfi_lock(struct srdfi_domain *d);
void srdfi_unlock(struct srdfi_domain *d);
/* Attach to srdd if not yet (the first endpoint).  Returns 0 or a negative FI error. */
int srdfi_domain_attach(struct srdfi_domain *d);
/* Take srdd's completions and hand them to the endpoints; retry queued sends.  Returns 0,
 * or -FI_ENOTCONN once srdd is gone (every operation then completed with an error). */
int srdfi_progress(struct srdfi_domain *d);
/* A CQ or counter read found something (busy 1) or nothing (0): returns whether the caller
 * should give the CPU away (sched_yield, after unlocking) by FI_SRD_YIELD and FI_SRD_SPIN_US.
 * Under the domain's lock. */
bool srdfi_read_idle(struct srdfi_domain *d, bool busy);
/* Give the CPU away as srdfi_read_idle() said, noting under SRDFI_YIELD_AUTO whether
 * another process took it (the core is shared) or not.  Not under the lock. */
void srdfi_yield(struct srdfi_domain *d);
/* What srdfi_yield() learnt: a yield took took_ns, ending at now (CLOCK_MONOTONIC ns). */
void srdfi_yield_note(struct srdfi_domain *d, uint64_t took_ns, uint64_t now);
/* Arm srdd's completion signal (fi_trywait): 0 if the caller may sleep on the wait fd,
 * -FI_EAGAIN if completions are ready. */
int srdfi_domain_arm(struct srdfi_domain *d);
struct srdfi_waiter;
/* Open w's fds (wait_fd, signal_fd) and list it: srdd's fd joins wait_fd now if the
 * domain is attached, else when it attaches.  Returns 0 or a negative FI error. */
int srdfi_waiter_open(struct srdfi_domain *d, struct srdfi_waiter *w);
/* Unlist w and close its fds (a w never opened has fds -1: nothing to do). */
void srdfi_waiter_close(struct srdfi_waiter *w);
/* fi_control's FI_GETWAIT and FI_GETWAITOBJ for an object with waiter w. */
int srdfi_waiter_control(const struct srdfi_waiter *w, int command, void *arg);
/* Wake w's sleepers (signal_fd); srdfi_waiter_drain() reads it empty again. */
void srdfi_waiter_signal(struct srdfi_waiter *w);
void srdfi_waiter_drain(struct srdfi_waiter *w);
/* The blocking calls (fi_cq_sread, fi_cntr_wait): progress until ready(arg) says so,
 * sleeping on w's wait fd (NULL: srdd's fd alone) between tries, for at most timeout_ms
 * (-1: no limit).  Called and returns with the lock held (it is dropped while sleeping).
 * Returns 0 (ready), -FI_EAGAIN (timed out), -FI_ENOTCONN (srdd gone and not ready),
 * -FI_EINTR. */
int srdfi_domain_block(struct srdfi_domain *d, struct srdfi_waiter *w, int timeout_ms,
		       bool (*ready)(void *arg), void *arg);
int srdfi_mr_reg(struct fid *fid, const void *buf, size_t len, uint64_t access,
		 uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
		 void *context);
int srdfi_mr_regv(struct fid *fid, const struct iovec *iov, size_t count, uint64_t access,
		  uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
		  void *context);
int srdfi_mr_regattr(struct fid *fid, const struct fi_mr_attr *attr, uint64_t flags,
		     struct fid_mr **mr);

/* What a CQ or counter with a wait object sleeps on. */
struct srdfi_waiter {
	struct srdfi_list link;       /* the domain's waiters (srdd's fd joins wait_fd) */
	int wait_fd;                  /* epoll of signal_fd and srdd's fd (FI_GETWAIT); -1 */
	int signal_fd;                /* eventfd: written when the object gets something; -1 */
	enum fi_wait_obj obj;         /* what the application asked for (FI_GETWAITOBJ) */
};

/* An address vector. */
struct srdfi_av_entry {
	struct srdc_addr addr;        /* the endpoint */
	uint8_t used;                 /* 0: a hole (removed, or never filled) */
};

struct srdfi_av {
	struct fid_av fid;            /* what the application holds */
	struct srdfi_domain *dom;
	enum fi_av_type type;         /* FI_AV_MAP or FI_AV_TABLE (fi_addr_t is the index) */
	uint64_t flags;               /* FI_EVENT: insertions complete on the bound EQ */
	struct srdfi_eq *eq;          /* bound event queue (FI_EVENT) */
	struct srdfi_av_entry *tab;   /* entries [0, n) */
	size_t n, cap;
	uint32_t *hash;               /* open addressing: address -> index + 1 (0: empty) */
	size_t hash_cap;              /* power of two, at least 2 * n */
	uint32_t refs;                /* endpoints bound to it */
};

int srdfi_av_open(struct fid_domain *domain, struct fi_av_attr *attr, struct fid_av **av,
		  void *context);
/* The address of fi_addr, or -FI_EINVAL. */
int srdfi_av_get(const struct srdfi_av *av, fi_addr_t fi_addr, struct srdc_addr *out);
/* The fi_addr of an address (the first inserted), or FI_ADDR_NOTAVAIL. */
fi_addr_t srdfi_av_find(const struct srdfi_av *av, const struct srdc_addr *a);

/* A completion, as the CQ keeps it (every format is a prefix of fi_cq_tagged_entry). */
struct srdfi_cqe {
	struct fi_cq_tagged_entry e;  /* context, flags, len, buf, data, tag */
	fi_addr_t src;                /* source (FI_SOURCE), else FI_ADDR_NOTAVAIL */
};

/* An error completion. */
struct srdfi_cq_err {
	struct srdfi_list link;
	struct fi_cq_err_entry e;     /* err_data is filled in at readerr */
	fi_addr_t src;
	char text[SRDFI_ERR_DATA_MAX];/* what err_data says */
};

struct srdfi_cq {
	struct fid_cq fid;            /* what the application holds */
	struct srdfi_domain *dom;
	enum fi_cq_format format;
	size_t entry_size;            /* bytes of one entry in that format */
	enum fi_cq_wait_cond wait_cond; /* FI_CQ_COND_THRESHOLD: sread's cond is a count */
	bool signaled;                /* fi_cq_signal was called: the next (or a blocked)
	                                 sread returns -FI_EAGAIN at once */
	struct srdfi_cqe *ring;       /* entries, oldest at head; grows, never drops */
	size_t cap, head, count;
	struct srdfi_list errs;       /* error completions, oldest first */
	struct srdfi_cq_err *last_err;/* the one readerr returned last (its err_data) */
	struct srdfi_waiter w;        /* FI_WAIT_FD / UNSPEC (signal: empty -> non-empty) */
	uint32_t refs;                /* endpoints bound to it */
};

int srdfi_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr, struct fid_cq **cq,
		  void *context);
/* Queue a completion (never fails: the ring grows; -FI_ENOMEM only if it cannot). */
int srdfi_cq_write(struct srdfi_cq *cq, const struct srdfi_cqe *c);
/* Queue an error completion: err (positive FI errno), prov_errno, and a sentence for its
 * err_data (NULL: none, for the errors that say everything: FI_ETRUNC, FI_ENOMSG, ...). */
int srdfi_cq_write_err(struct srdfi_cq *cq, void *context, uint64_t flags, size_t len,
		       uint64_t tag, uint64_t data, size_t olen, int err, int prov_errno,
		       fi_addr_t src, const char *text);
/* Entries waiting (errors included). */
size_t srdfi_cq_pending(const struct srdfi_cq *cq);

/* A counter. */
struct srdfi_cntr {
	struct fid_cntr fid;          /* what the application holds */
	struct srdfi_domain *dom;
	uint64_t value, err;          /* completions, failed ones */
	uint64_t last_read;           /* value at the last fi_cntr_read (srdfi_read_idle) */
	struct srdfi_waiter w;        /* waitable counters (signal: each change) */
	uint32_t refs;                /* endpoints bound to it */
};

int srdfi_cntr_open(struct fid_domain *domain, struct fi_cntr_attr *attr,
		    struct fid_cntr **cntr, void *context);
void srdfi_cntr_inc(struct srdfi_cntr *c);
void srdfi_cntr_inc_err(struct srdfi_cntr *c);

/* An event queue (belongs to the fabric). */
struct srdfi_eq_entry {
	struct srdfi_list link;
	uint32_t event;               /* FI_* event */
	uint8_t is_err;               /* an error entry (err below) */
	struct fi_eq_err_entry err;   /* error entries */
	size_t len;                   /* bytes of buf */
	uint8_t buf[];                /* the event's data */
};

struct srdfi_eq {
	struct fid_eq fid;            /* what the application holds */
	struct srdfi_fabric *fab;
	pthread_mutex_t lock;
	struct srdfi_list events;     /* oldest first */
	struct srdfi_eq_entry *last_err; /* the error entry readerr returned last */
	int signal_fd;                /* eventfd: readable while events wait (FI_GETWAIT) */
	enum fi_wait_obj wait_obj;
	uint32_t refs;                /* AVs bound to it */
};

int srdfi_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr, struct fid_eq **eq,
		  void *context);
/* Queue an event (AV insertion completions).  Returns 0 or -FI_ENOMEM. */
int srdfi_eq_post(struct srdfi_eq *eq, uint32_t event, const void *buf, size_t len);
/* Queue an error entry for the object fid (an AV: a failed insertion, data its index). */
int srdfi_eq_post_err(struct srdfi_eq *eq, fid_t fid, void *context, uint64_t data, int err);

/* ---- endpoints ---- */

/* Internal flag of a send that reports nothing on a CQ (fi_inject: its counter still counts
 * it), outside libfabric's operation flags. */
#define SRDFI_TX_SILENT (1ULL << 63)

/* A send between its call and its completion. */
struct srdfi_tx {
	struct srdfi_list link;       /* the endpoint's queue (waiting to go) or in-flight list */
	struct srdfi_ep *ep;
	void *context;                /* the application's */
	uint64_t flags;               /* FI_SEND | FI_MSG or FI_TAGGED, FI_COMPLETION, FI_INJECT,
	                                 FI_REMOTE_CQ_DATA, FI_*_COMPLETE */
	uint8_t op;                   /* enum srdfi_op */
	struct srdc_addr dst;
	uint64_t tag, data;
	struct iovec iov[SRDFI_IOV_LIMIT]; /* the bytes (the application's, or copy) */
	size_t iov_count;
	uint64_t iov_off;             /* message offset where iov begins (0; a copy: where it
	                                 was taken) */
	void *copy;                   /* our copy of an injected message that had to wait */
	uint64_t len;                 /* bytes of the message */
	uint64_t sent;                /* bytes handed to srdd so far */
	uint32_t msg_id;
	uint32_t pieces_out;          /* srdd sends not completed yet */
	int status;                   /* 0, or the first failure (negative errno) */
	uint8_t queued;               /* on the endpoint's queue */
	uint8_t dack_due;             /* FI_DELIVERY_COMPLETE: waiting for the peer's DACK */
};

/* One piece of a send of SRD_COPY_PICK_MIN bytes or more: the provider copied it into a
 * buffer of the shared region itself (with streaming stores or memcpy: srd_copy.h), and
 * srdd sends that buffer without another copy in libsrd. */
struct srdfi_bounce {
	struct srdfi_list link;       /* the endpoint's bounces (freed if srdd goes away) */
	struct srdfi_tx *tx;          /* the send it is a piece of */
	void *buf;                    /* srdc_buf_alloc()'d: header and payload */
};

/* A posted receive. */
struct srdfi_rx {
	struct srdfi_list link;       /* the posted queue */
	struct srdfi_ep *ep;
	void *context;
	uint64_t flags;               /* FI_RECV | FI_MSG or FI_TAGGED, FI_COMPLETION,
	                                 FI_MULTI_RECV */
	fi_addr_t src;                /* FI_ADDR_UNSPEC: any sender */
	uint64_t tag, ignore;
	struct iovec iov[SRDFI_RX_IOV_LIMIT];
	size_t iov_count;
	size_t len;                   /* capacity */
	size_t used;                  /* FI_MULTI_RECV: bytes taken by messages */
	uint32_t users;               /* FI_MULTI_RECV: messages still being written into it */
	uint8_t posted;               /* on the posted queue */
	uint8_t released;             /* FI_MULTI_RECV: the buffer is given back */
};

/* A piece of a segmented unexpected message, left in srdd's buffer. */
struct srdfi_piece {
	void *dbuf;                   /* srdd's buffer (payload at +hoff) */
	size_t hoff;
	uint64_t offset;              /* where in the message */
	size_t len;
};

/* A message that arrived before a receive matched it. */
struct srdfi_unexp {
	struct srdfi_list link;       /* the unexpected queue, in arrival order */
	struct srdc_addr src_addr;
	fi_addr_t src;                /* its fi_addr (FI_ADDR_NOTAVAIL: not in the AV) */
	uint64_t tag, data;
	uint16_t hflags;              /* SRDFI_H_* */
	uint32_t msg_id;
	uint64_t len;                 /* the whole message */
	void *dbuf;                   /* srdd's buffer holding it (payload at +hoff), or NULL */
	size_t hoff;
	struct srdfi_piece *pieces;   /* segmented: the pieces here, in srdd's buffers */
	uint32_t npieces, pieces_cap;
	uint8_t *heap;                /* or our copy (copied out of srdd's buffers) */
	struct srdfi_reasm *reasm;    /* pieces still to come (segmented), or NULL */
	void *claim;                  /* FI_CLAIM: the context that claimed it */
};

/* A segmented message being received: where its pieces go. */
struct srdfi_reasm {
	struct srdfi_list link;       /* the endpoint's list */
	struct srdc_addr src_addr;
	uint32_t msg_id;
	uint64_t total, received;     /* bytes */
	struct srdfi_rx *rx;          /* the receive it fills, or NULL */
	size_t rx_off;                /* FI_MULTI_RECV: where in rx's buffer */
	struct srdfi_unexp *ux;       /* or the unexpected entry that collects them */
	uint64_t tag, data;
	uint16_t hflags;
	fi_addr_t src;
};

/* Posted receives and unexpected messages of one kind (FI_MSG or FI_TAGGED). */
struct srdfi_rxq {
	struct srdfi_list posted;     /* in posting order */
	struct srdfi_list unexp;      /* in arrival order */
	size_t nposted;
};

/* A delivery acknowledgement waiting for room to go. */
struct srdfi_dack {
	struct srdfi_list link;
	struct srdc_addr dst;
	uint32_t msg_id;
	bool dropped;                 /* SRDFI_H_DROPPED */
};

struct srdfi_ep {
	struct fid_ep fid;            /* what the application holds */
	struct srdfi_domain *dom;
	struct srdfi_list link;       /* the domain's endpoints */
	struct fi_info *info;         /* a copy of its info */
	uint64_t caps;
	uint64_t tx_op_flags, rx_op_flags; /* defaults for calls without flags */
	bool ordered;                 /* FI_ORDER_SAS asked: srdd endpoint SRDC_ORDERED */
	bool enabled;
	struct srdc_ep *sep;          /* srdd's endpoint */
	struct srdc_addr addr;        /* its name */
	struct srdfi_av *av;
	struct srdfi_cq *tx_cq, *rx_cq;
	bool tx_selective, rx_selective; /* FI_SELECTIVE_COMPLETION on the binding */
	struct srdfi_cntr *cntr_send, *cntr_recv;
	struct srdfi_cntr *cntr_rma[4]; /* bound for FI_READ, FI_WRITE, FI_REMOTE_*: never
	                                 counted (srd has no RMA), kept to be released */
	struct srdfi_eq *eq;
	bool closing;                 /* fi_close is draining srdd: report nothing more */
	size_t min_multi_recv;        /* FI_OPT_MIN_MULTI_RECV */
	/* sending */
	struct srdfi_tx *txs;         /* the pool: tx_size records */
	struct srdfi_list tx_free;
	size_t tx_size, tx_used;
	struct srdfi_list tx_queue;   /* waiting for srdd (order kept) */
	struct srdfi_list tx_flight;  /* handed to srdd, or waiting for a DACK */
	struct srdfi_list bounces;    /* streamed pieces srdd has not completed yet */
	uint32_t next_msg_id;
	struct srdfi_list dacks;      /* DACKs waiting for room */
	uint32_t dacks_out;           /* DACKs handed to srdd, not completed yet */
	/* receiving */
	struct srdfi_rx *rxs;         /* the pool of posted receives: rx_size records */
	struct srdfi_list rx_free;
	struct srdfi_rxq rxq[2];      /* [0] FI_MSG, [1] FI_TAGGED */
	struct srdfi_list reasm;      /* segmented messages being received */
	size_t unexp_held;            /* bytes of unexpected messages in srdd's buffers */
	uint64_t unexp_taken;         /* unexpected messages matched, discarded or dropped */
	uint64_t trim_taken;          /* unexp_taken when the endpoint was last seen over
	                                 unexp_hold (srdfi_rx_trim) ... */
	uint64_t trim_since_ns;       /* ... and since when it has taken none */
	size_t rx_size;               /* receives it may have posted */
};

int srdfi_endpoint(struct fid_domain *domain, struct fi_info *info, struct fid_ep **ep,
		   void *context);

/* tx.c */
extern const struct fi_ops_msg srdfi_msg_ops;
extern const struct fi_ops_tagged srdfi_tagged_ops;
int srdfi_tx_init(struct srdfi_ep *ep);
void srdfi_tx_fini(struct srdfi_ep *ep);
/* srdd finished one piece of a send: ctx is what tx.c gave srdc_send (status 0 or a
 * negative errno). */
void srdfi_tx_send_done(void *ctx, int status);
/* A DACK for msg_id arrived from src (dropped: the peer closed without taking it). */
void srdfi_tx_dack(struct srdfi_ep *ep, const struct srdc_addr *src, uint32_t msg_id,
		   bool dropped);
/* Hand queued sends and DACKs to srdd while it takes them. */
void srdfi_tx_flush(struct srdfi_ep *ep);
/* Queue (or send) a DACK of msg_id to dst (dropped: see SRDFI_H_DROPPED). */
void srdfi_tx_send_dack(struct srdfi_ep *ep, const struct srdc_addr *dst, uint32_t msg_id,
			bool dropped);
/* srdd is gone: every send completes with -FI_ENOTCONN. */
void srdfi_tx_fail_all(struct srdfi_ep *ep, int err);
/* Sentinel context of DACK sends (their completions are ignored). */
extern const char srdfi_dack_ctx;

/* rx.c */
int srdfi_rx_init(struct srdfi_ep *ep);
void srdfi_rx_fini(struct srdfi_ep *ep);
/* A message srdd delivered to ep (buf: its buffer, len bytes). */
void srdfi_rx_arrive(struct srdfi_ep *ep, const struct srdc_addr *src, uint64_t tag,
		     uint64_t imm, void *buf, size_t len);
/* Post a receive (fi_recv*, fi_trecv*), or handle FI_PEEK / FI_CLAIM. */
ssize_t srdfi_rx_post(struct srdfi_ep *ep, const struct iovec *iov, size_t count,
		      fi_addr_t src, uint64_t tag, uint64_t ignore, void *context,
		      uint64_t flags);
/* fi_cancel of a posted receive: 0 (an FI_ECANCELED completion follows) or -FI_ENOENT. */
int srdfi_rx_cancel(struct srdfi_ep *ep, void *context);
/* srdd is gone: every posted receive completes with err. */
void srdfi_rx_fail_all(struct srdfi_ep *ep, int err);
/* The endpoint closes: tell the senders of unexpected messages waiting for a DACK that
 * they were dropped. */
void srdfi_rx_drop_unexpected(struct srdfi_ep *ep);
/* Copy unexpected messages out of srdd's buffers when they hold more than allowed. */
/* An endpoint over unexp_hold that has taken no unexpected message for this long has its
 * oldest copied out of srdd's buffers (rx.c says why). */
#define SRDFI_UNEXP_STALL_NS 1000000ull
void srdfi_rx_trim(struct srdfi_ep *ep);

/* ep.c */
/* Report a completion of ep's: to its CQ (unless selective and not asked) and counter. */
void srdfi_ep_complete_tx(struct srdfi_ep *ep, void *context, uint64_t flags, size_t len,
			  int err, int prov_errno);
void srdfi_ep_complete_rx(struct srdfi_ep *ep, uint64_t op_flags, const struct srdfi_cqe *c,
			  int err, size_t olen, int prov_errno);
/* The fi_addr of a source (FI_SOURCE or directed receive), or FI_ADDR_NOTAVAIL. */
fi_addr_t srdfi_ep_src(const struct srdfi_ep *ep, const struct srdc_addr *a);

/* info.c */
/* Build the infos fi_getinfo returns for the daemon whose limits are *di. */
int srdfi_info_build(uint32_t version, const char *node, const char *service,
		     uint64_t flags, const struct fi_info *hints, const struct srdc_info *di,
		     const struct srdfi_params *params, struct fi_info **out);

/* Errors: a negative errno from libsrd as a sentence for err_data and logs. */
const char *srdfi_strerror(int err);

#define SRDFI_WARN(subsys, ...) FI_WARN(&srdfi_prov, subsys, __VA_ARGS__)
#define SRDFI_INFO(subsys, ...) FI_INFO(&srdfi_prov, subsys, __VA_ARGS__)

#endif /* SRDFI_H */
