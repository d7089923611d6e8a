/*
 * conn.h — internal state of the protocol core: engine, connections, paths, packet and
 * message records.  Shared by engine.c (tables, scheduling, timers), paths.c (path choice
 * and path health), tx.c (the sending side) and rx.c (the receiving side).  Not installed.
 *
 * Memory: everything is allocated by srd_engine_create(); per-packet code only indexes
 * arrays.  Records link to each other by 16- or 32-bit indices, not pointers.
 */
#ifndef SRD_CONN_H
#define SRD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "cc.h"
#include "rng.h"
#include "srd_core.h"
#include "timerq.h"
#include "wire.h"

#define SRD_NIL16 0xffffu
#define SRD_NIL32 0xffffffffu

/* Lowest and highest set bit of a non-zero word. */
static inline uint32_t srd_ctz64(uint64_t v)
{
#if defined(__GNUC__)
	return (uint32_t)__builtin_ctzll(v);
#else
	uint32_t n = 0;

	while (!(v & 1)) {
		v >>= 1;
		n++;
	}
	return n;
#endif
}

static inline uint32_t srd_msb64(uint64_t v)
{
#if defined(__GNUC__)
	return 63u - (uint32_t)__builtin_clzll(v);
#else
	uint32_t n = 0;

	while (v >>= 1)
		n++;
	return n;
#endif
}

/* A 64-bit mix (splitmix64's finaliser) of x, for hashing and derived values. */
static inline uint64_t srd_mix64(uint64_t x)
{
	return srd_rng_splitmix(&x);
}

/* Paths a connection uses under cfg. */
static inline uint32_t srd_config_npaths(const struct srd_config *cfg)
{
	return cfg->mode == SRD_MODE_SINGLE ? 1 : cfg->paths;
}

/* Modular PSN comparisons (PSNs wrap at 2^32). */
static inline bool psn_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool psn_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

/* Reply routes of a connection: entropy values its peer's acks came back on lately
 * (paths_reply_entropy()). */
#define SRD_REPLY_ROUTES 4u
#define SRD_REPLY_TICK_NS 1024u /* time unit of the reply routes' 16-bit clocks (67 ms wrap) */
#define SRD_REPLY_OWN 16u /* txpkt.reply: answer on the packet's own value; else a slot in
                             bits 0-1 and that slot's generation in bits 2-3 */

/* One path (entropy value) of a connection: 28 bytes, part of the connection's state.
 * Packets with the same entropy value take the same route through FIFO queues, so they
 * arrive in the order they were sent: acked_sent is what tells a lost packet from one
 * that is merely slower than the packets sprayed over other paths. */
struct srd_path {
	uint16_t entropy;      /* UDP source port value that selects this path */
	uint8_t state;         /* enum srd_path_state */
	uint8_t losses;        /* consecutive packets lost on this path */
	uint16_t inflight;     /* packets sent on this path, not yet acked or declared lost */
	uint8_t ecn;           /* EWMA of CE echoes, 0..255 */
	uint8_t skips;         /* times the round robin passed over it since its last use */
	uint32_t srtt_ns;      /* smoothed RTT of this path (0: no sample; saturates) */
	union {
		uint32_t probe_ts;   /* PROBING: time (ns mod 2^32) the probe left; 0: not sent */
		uint32_t acked_sent; /* otherwise: send time (ns mod 2^32; 0: none yet) of the
		                        latest-sent packet acked that went only this way (never
		                        resent) with this entropy value */
	};
	uint32_t tx_pkts;      /* packets sent on this path index (wraps) */
	uint16_t replacements; /* fresh entropy values taken for this index (saturates) */
	uint8_t gen;           /* entropy generation: replacements, wrapping */
	uint8_t qwin;          /* the connection's delay window (qwin_seq) qmin_cur belongs to */
	uint16_t qmin_cur;     /* smallest RTT sample of that window, 128 ns units (0: none) */
	uint16_t qmin_prev;    /* smallest of the window before (0: none) */
};

/* Why a packet waits for retransmission.  Only timeouts spend the retry budget: a RACK
 * loss proves the peer reachable (a later packet got through), and an RNR is its answer. */
enum srd_loss_cause {
	SRD_LOSS_RACK = 0,
	SRD_LOSS_RTO = 1,
	SRD_LOSS_RNR = 2,
	SRD_LOSS_REFUSED = 3, /* the peer refused it (no such endpoint: resend it flagged
	                         ABANDON; or it wants a set-up cookie): not the path's fault */
	SRD_LOSS_PROBE = 4,   /* tail loss probe: nothing acked for two RTTs, resent on another
	                         path in case it was lost (neither the path's fault nor a retry) */
};
#define SRD_MAX_RESENDS 255u /* retransmissions of one packet, whatever the cause */

/* States of a transmitted packet record. */
enum srd_txpkt_state {
	TXPKT_FREE = 0,     /* slot unused (PSN not allocated, or acked and released) */
	TXPKT_INFLIGHT = 1, /* on the wire: in the send-order list */
	TXPKT_LOST = 2,     /* declared lost or refused: in the retransmit list */
	TXPKT_ACKED = 3,    /* acked, waiting for snd_una to pass it */
};

/* A data packet the sender has put a PSN on: one per PSN in [snd_una, snd_nxt), stored at
 * index psn & (tx_window - 1).  With the message it belongs to, it is the retransmission
 * buffer (the payload is re-read from the caller's iov). */
struct srd_txpkt {
	uint64_t sent_ns; /* time of its latest transmission */
	uint32_t seg;     /* segment index within its message */
	uint16_t msg;     /* message slot */
	uint16_t prev;    /* previous record in its list (send order or retransmit), or NIL */
	uint16_t next;    /* next record in its list, or NIL */
	uint8_t path;     /* path of its latest transmission */
	uint8_t state;    /* enum srd_txpkt_state */
	uint8_t retries;  /* retransmissions after timeouts: the retry budget (an unreachable peer) */
	uint8_t resends;  /* all retransmissions (a backstop: SRD_MAX_RESENDS) */
	uint8_t lost_by : 3; /* enum srd_loss_cause of its pending retransmission */
	uint8_t reply : 5;   /* which value its ack was asked to come back on: a slot of the
	                        connection's reply routes and its generation, or
	                        SRD_REPLY_OWN (paths.c) */
	uint8_t path_gen; /* that path's entropy generation when it was sent */
};

/* States of a message slot on the sending side. */
enum srd_txmsg_state {
	TXMSG_FREE = 0,    /* unused */
	TXMSG_ACTIVE = 1,  /* accepted; segments being sent and acked */
	TXMSG_REFUSED = 2, /* the peer refused its size: no new segments, done when the sent ones are acked */
	TXMSG_NO_EP = 3,   /* the peer has no such endpoint: the same, failing with -ENXIO */
};

/* A message accepted by srd_send(). */
struct srd_txmsg {
	struct srd_iov iov[SRD_MAX_IOV]; /* the caller's bytes */
	void *ctx;          /* caller's completion context */
	uint64_t tag;       /* application tag */
	uint64_t imm;       /* immediate data */
	uint32_t len;       /* total bytes */
	uint32_t msg_id;    /* id on the wire */
	uint32_t first_psn; /* PSN of segment 0 (valid once next_seg > 0) */
	uint32_t nseg;      /* segments */
	uint32_t next_seg;  /* segments given a PSN so far */
	uint32_t acked_segs;/* segments acked so far */
	uint16_t src_ep;    /* sending endpoint */
	uint16_t dst_ep;    /* receiving endpoint */
	uint8_t iovcnt;     /* entries in iov */
	uint8_t state;      /* enum srd_txmsg_state */
	uint8_t ordered;    /* SRD_SEND_ORDERED: its packets carry SRD_F_ORDERED */
	uint16_t link;      /* next slot on the free stack or in the send order, or NIL */
	uint16_t pack_next; /* next message packed into the same packet (the packet's record
	                       names the first), or NIL: the last, or not packed */
};

/* A message under reassembly (engine-wide pool). */
struct srd_rxslot {
	struct srd_rx_msg msg; /* what the caller sees: peer, endpoints, tag, imm, buffer */
	uint32_t msg_id;       /* sender's message id */
	uint32_t msg_psn;      /* PSN of segment 0 */
	uint32_t seg_size;     /* segment size */
	uint32_t bytes_left;   /* bytes not yet placed */
	uint32_t next;         /* next slot of the same list (the connection's reassembly or
	                          held list, or the free list) */
	uint8_t ordered;       /* SRD_F_ORDERED: delivered only once rcv_nxt reaches msg_psn */
};

/* A refused data packet, to be answered with a NACK. */
struct srd_nack_note {
	uint32_t psn;      /* refused PSN */
	uint32_t echo_ts;  /* its tx_ts */
	uint8_t reason;    /* enum srd_nack_reason */
	uint8_t path;      /* its path */
	uint16_t entropy;  /* the entropy value it came on (0: unknown) */
};
/* Refusals queued per connection: a burst of refused packets (a window of a message for a
 * missing endpoint) is answered packet by packet instead of by resends.  When full, the
 * oldest is forgotten: its packet is resent and refused again. */
#define SRD_NACK_QUEUE 8u

/* A reply the engine owes without a connection (reset, probe reply). */
struct srd_ctrl {
	uint64_t peer;     /* destination */
	struct srd_pkt pkt; /* what to encode */
	uint16_t entropy;  /* UDP source port to use */
};
/* Cookie of a challenge probe: a path probe's cookie is path << 16 | entropy, and no
 * connection has 0xffff paths. */
#define SRD_PROBE_CHALLENGE 0xffff0000u
#define SRD_CTRL_RING 32u /* pending control replies; more are dropped (counted) */

/*
 * A connection (one per peer).  The hot fields come first.  Sizes that vary with the
 * configuration (paths, rx bitmap) live in per-connection arrays beside it; together they
 * are what srd_conn_state_bytes() counts.
 */
struct srd_conn {
	/* identity */
	uint64_t peer;           /* peer key */
	uint32_t local_id;       /* our id: incarnation << 16 | (slot + 1) */
	uint32_t peer_id;        /* the peer's id, 0 until learned */
	uint16_t gen;            /* reuse count of this slot (makes incarnations differ) */
	uint8_t in_use;          /* 1 while allocated */
	uint8_t on_active;       /* 1 while on the engine's active (may-send) list */
	uint16_t npaths;         /* paths in use */
	uint16_t path_rr;        /* round-robin cursor over paths */
	uint16_t n_good;         /* paths in state GOOD */
	uint16_t n_probing;      /* paths in state PROBING */
	uint32_t act_prev;       /* active list links (connection slots) */
	uint32_t act_next;
	/* sending side */
	uint32_t snd_una;        /* oldest PSN not yet acked */
	uint32_t snd_nxt;        /* next PSN to allocate */
	uint32_t peer_credit;    /* PSNs beyond snd_una the receiver accepts */
	uint32_t peer_grant;     /* bytes in flight the receiver grants us, in SRD_GRANT_UNITs
	                            (0: no limit; credit.c) */
	uint32_t inflight;       /* packets on the wire (INFLIGHT) */
	uint32_t next_msg_id;    /* id of the next message */
	uint16_t order_head;     /* send order: first message with segments left, or NIL; only
	                            this one can be partly segmented */
	uint16_t order_tail;     /* send order: last accepted message, or NIL */
	uint16_t msg_free;       /* free message slots (a stack linked through link), or NIL */
	uint16_t msg_used;       /* message slots in use */
	uint32_t peer_max_msg;   /* longest message the peer accepts (from its acks) */
	uint32_t retired_peer_id;/* the peer's id before our last reset (0: none): set-ups from
	                            it are answered with RESET, never accepted again */
	uint32_t setup_cookie;   /* the peer's set-up cookie to echo until we learn its id (0:
	                            none asked) */
	uint32_t closed_id;      /* id of this slot's last connection closed for idleness (0:
	                            none): packets for it are answered RESET(IDLE_CLOSED) */
	uint32_t closed_psn;     /* its cumulative PSN at the close: every PSN before it was
	                            received, none after (sent in that RESET) */
	uint32_t rack_psn;       /* PSN of the packet rack_xmit_ns is the send time of (times
	                            tie within a burst: PSN orders them) */
	uint64_t last_active_ns; /* last send, receive or transmission on this connection */
	uint16_t so_head;        /* send-order list of INFLIGHT packets (oldest first) */
	uint16_t so_tail;
	uint16_t rt_head;        /* retransmit list of LOST packets (FIFO) */
	uint16_t rt_tail;
	uint64_t srtt_ns;        /* smoothed RTT over all paths */
	uint64_t rttvar_ns;      /* RTT variation */
	uint64_t min_rtt_ns;     /* smallest RTT seen (0: none) */
	uint64_t rack_xmit_ns;   /* send time of the most recently sent packet acked so far */
	uint64_t rack_rtt_ns;    /* RTT of that packet */
	uint64_t rack_timer_ns;  /* when a reordered packet becomes lost (0: none) */
	uint64_t pace_next_ns;   /* earliest time of the next data packet (pacing) */
	uint64_t rnr_until_ns;   /* no data before this time: the peer said RNR */
	uint64_t rnr_since_ns;   /* when the latest RNR wait began: a NACK for a packet sent
	                            before it is part of the same refusal (0: none yet) */
	uint64_t probe_deadline_ns; /* earliest probe timeout (SRD_NO_DEADLINE: none) */
	uint64_t challenge_ns;   /* when we last asked the peer's known incarnation whether it
	                            is alive (0: never); see conn_challenge() */
	uint8_t rto_backoff;     /* exponent of the RTO backoff */
	uint8_t reo_steps;       /* RACK window widening after spurious retransmissions */
	uint16_t reo_clean;      /* packets acked since the last spurious retransmission */
	uint8_t pace_wait;       /* 1: data is waiting for pace_next_ns */
	uint8_t qwin_seq;        /* current delay window (paths' qmin_cur, qmin_prev) */
	uint8_t tlp_sent;        /* 1: the tail loss probe of this flight went (reset by progress) */
	uint8_t window_fresh;    /* 1 until the first data packet of this incarnation: its window
	                            is then cut to its share of init_cwnd (tx_next_data()) */
	uint16_t rnr_retries;    /* RNR refusals in a row (one per wait, not per NACK) */
	uint16_t loss_rate;      /* EWMA of the fraction of packets lost by RACK (timeouts not), Q16
	                            with gain 1/64: the loss every path sees (paths_on_loss()) */
	uint32_t probe_seq;      /* sequence number of the next probe */
	uint64_t qwin_end_ns;    /* end of the current delay window (one smoothed RTT long) */
	uint32_t qmin_cur_ns;    /* smallest RTT sample of the current delay window, any path
	                            (0: none; saturates) */
	uint32_t qmin_prev_ns;   /* smallest of the window before (0: none) */
	uint16_t reply_val[SRD_REPLY_ROUTES]; /* reply routes: values acks are asked to come
	                                         back on (0: empty slot; paths.c) */
	uint16_t reply_us[SRD_REPLY_ROUTES];  /* when each last brought an ack, or took its
	                                         value (SRD_REPLY_TICK_NS units, wrapping) */
	uint8_t reply_mark[SRD_REPLY_ROUTES]; /* reply_acks when each last brought an ack */
	uint16_t reply_latest;   /* send time (SRD_REPLY_TICK_NS units) of the latest-sent
	                            packet whose ack came back on its reply value */
	uint8_t reply_acks;      /* acks that came back on a reply value (wraps) */
	uint8_t reply_gens;      /* 2 bits per slot: values it has taken (an ack for a packet
	                            sent before answers the value the slot held then) */
	uint8_t reply_stale;     /* bit k: reply_val[k] went without acks too long: unused
	                            until an ack it was asked for comes back */
	uint8_t reply_proven;    /* bit k: reply_val[k] brought an ack since it was taken */
	uint8_t reply_use;       /* reply values in use at the last choice (at least
	                            REPLY_MIN_USE, paths.c) */
	struct srd_cc cc;        /* congestion controller state */
	uint64_t retransmits;    /* data retransmissions (for srd_conn_info) */
	/* receiving side */
	uint32_t rcv_nxt;        /* every PSN before it has been received */
	uint32_t rx_head;        /* first reassembly slot of this connection, or NIL */
	uint32_t held_head;      /* ordered messages complete but waiting for an earlier PSN,
	                            by msg_psn, oldest first (reassembly slots), or NIL */
	uint32_t held_tail;      /* the newest of them, or NIL */
	uint32_t ack_psn;        /* PSN of the packet the next ack answers */
	uint32_t ack_echo_ts;    /* its tx_ts */
	uint64_t ack_arrival_ns; /* when it arrived */
	uint64_t ack_deadline_ns;/* latest time to send the owed ack (when ack_owed) */
	uint16_t ack_pkts;       /* data packets since the last ack */
	uint16_t ack_ce;         /* of which CE-marked */
	uint16_t ack_entropy;    /* entropy value that packet named for its answer (0: none) */
	uint8_t ack_path;        /* path index of the packet the next ack answers */
	uint8_t ack_flags;       /* SRD_F_ECE if that packet carried CE */
	uint8_t ack_now;         /* 1: send the ack at the next srd_poll_tx() */
	uint8_t ack_asked;       /* 1: the packet it answers asked for it at once (ACKREQ) */
	uint8_t ack_owed;        /* 1: an ack is owed (by ack_deadline_ns at the latest) */
	uint8_t nack_pending;    /* nacks queued in nacks[] (0..SRD_NACK_QUEUE) */
	uint8_t nack_head;       /* index of the oldest */
	uint8_t abandoned_set;   /* 1: abandoned_msg_id below is valid */
	struct srd_nack_note nacks[SRD_NACK_QUEUE]; /* refusals to send, oldest first (ring) */
	uint32_t abandoned_msg_id; /* the last message the peer gave up (ABANDON): its other
	                              segments still arriving are refused, not reassembled */
	uint32_t credit_epoch;   /* the engine's credit epoch in which the peer last sent us
	                            data (0: never, or it has left): counted once per epoch
	                            (credit.c) */
	uint8_t credit_in_prev;  /* 1: counted in the epoch before credit_epoch too */
	uint8_t credit_weight;   /* its weight in the epoch credit_epoch (credit.c: by what is
	                            left of its message), 0 when not counted */
	uint8_t credit_weight_prev; /* its weight in the epoch before, if counted there */
	/* per-connection arrays */
	struct srd_path *paths;  /* npaths entries */
	uint64_t *rx_bits;       /* rx_window bits: PSN p received, for p in [rcv_nxt, +rx_window) */
	struct srd_txpkt *txpkts;/* tx_window records (retransmission buffer) */
	struct srd_txmsg *txmsgs;/* max_tx_msgs message slots (retransmission buffer) */
};

/* The engine. */
struct srd_engine {
	struct srd_config cfg;        /* configuration (checked) */
	struct srd_callbacks cb;      /* caller's callbacks */
	const struct srd_cc_ops *cc;  /* congestion controller */
	struct srd_rng rng;           /* entropy values */
	uint64_t cookie_key[2];       /* key of the set-up cookies */
	struct srd_stats st;          /* counters */
	struct srd_conn *conns;       /* max_conns connections */
	uint32_t conns_used;          /* slots handed out so far (the high-water mark) */
	uint32_t conn_free;           /* closed slots free for reuse (linked by act_next) */
	uint32_t *conn_hash;          /* peer key -> connection slot (open addressing, NIL32 empty) */
	uint32_t conn_hash_mask;      /* hash table size - 1 */
	uint32_t act_head;            /* active list: connections that may have a packet */
	uint32_t act_tail;
	uint32_t conns_sending;       /* connections with a message in use (msg_used > 0) */
	uint32_t data_turns;          /* data turns taken (engine.c, pick_sender(): every
	                                 SRPT_FAIR_EVERY-th is the head's, round robin) */
	uint32_t credit_epoch;        /* number of the current credit epoch (credit.c) */
	uint32_t credit_senders;      /* connections that sent us data in it */
	uint32_t credit_senders_prev; /* in the epoch before it (0 if it was a whole epoch ago) */
	uint64_t credit_weight;       /* the weights of the connections counted in it */
	uint64_t credit_weight_prev;  /* of those counted in the epoch before it */
	uint64_t credit_epoch_end_ns; /* when the current epoch ends */
	uint64_t credit_epoch_len_ns; /* its length */
	uint64_t paused_ns;           /* pauses the caller noted (srd_note_pause()), in all: the
	                                 engine's clock is the caller's now minus this */
	uint64_t clock_ns;            /* the engine's clock at the latest call that gave a time */
	struct srd_timerq timers;     /* per-connection deadlines */
	struct srd_rxslot *rxslots;   /* reassembly pool */
	uint32_t rx_free;             /* free list of reassembly slots */
	struct srd_ctrl ctrl[SRD_CTRL_RING]; /* control replies owed */
	uint32_t ctrl_head;           /* free-running ring indices */
	uint32_t ctrl_tail;
	uint32_t seg_size;            /* cfg.seg_size, hot */
	uint32_t tx_mask;             /* tx_window - 1 */
	uint32_t rx_mask;             /* rx_window - 1 */
	uint32_t msg_mask;            /* max_tx_msgs - 1 */
	void *arena;                  /* the one allocation holding the per-connection arrays */
	uint8_t *rx_join;             /* srd_max_packet_len() bytes: srd_recv_split()'s pieces
	                                 joined, when they cannot be taken where they lie */
};

/* ---- engine.c: tables, scheduling, timers ---- */

/* First PSN of the connection whose id is conn_id (both sides compute it from the id). */
uint32_t srd_conn_isn(uint32_t conn_id);

/* Put c on the active list (idempotent): srd_poll_tx() will look at it. */
void conn_activate(struct srd_engine *eng, struct srd_conn *c);
/* Take c off the active list (nothing to send until conn_activate()). */
void conn_deactivate(struct srd_engine *eng, struct srd_conn *c);
/* Recompute c's deadline and update the timer queue. */
void conn_rearm(struct srd_engine *eng, struct srd_conn *c);

/*
 * The engine's clock at the caller's time now: the caller's clock less the pauses it noted.
 * Every time the engine keeps (send times, deadlines, last activity) is on this clock, so a
 * pause of the caller's is no time at all to it: no RTT sample, timeout or idleness spans
 * it.  Each entry point that takes a time converts it first, once.
 */
static inline uint64_t engine_clock(struct srd_engine *eng, uint64_t now)
{
	eng->clock_ns = now - eng->paused_ns;
	return eng->clock_ns;
}

/* Slot number of c. */
static inline uint32_t conn_slot(const struct srd_engine *eng, const struct srd_conn *c)
{
	return (uint32_t)(c - eng->conns);
}
/* Queue a control reply (reset, probe reply); drops and counts it if the ring is full. */
void engine_queue_ctrl(struct srd_engine *eng, uint64_t peer, uint16_t entropy,
		       const struct srd_pkt *pkt);
/* Reset c: every message fails with status, partial receives are aborted, the connection
 * takes a new incarnation and forgets the peer's id. */
void conn_reset(struct srd_engine *eng, struct srd_conn *c, int status);

/* ---- paths.c ---- */

/* Give every path of c its first entropy value (multipath: distinct random values; single:
 * one value hashed from the peer key). */
void paths_init(struct srd_engine *eng, struct srd_conn *c);
/* Choose the path for the next data packet of c, other than avoid (-1: none) if possible;
 * answered_only: a GOOD path an ack came back on lately and whose packets sent lately
 * arrive, if there is one (a resent packet). */
uint32_t paths_pick(struct srd_engine *eng, struct srd_conn *c, int avoid, bool answered_only);
/* A packet sent on path p was acked; rtt_ns is its RTT sample (0: none), ce its CE echo
 * (1 marked, 0 not, -1 no ECN information).  Returns the path's standing RTT: its smallest
 * sample over the current and the previous delay window (0 without a sample). */
uint64_t paths_on_ack(struct srd_conn *c, uint32_t p, uint64_t rtt_ns, int ce);
/* A packet sent on path p was declared lost: may mark it suspect, or fail and replace it.
 * silent: nothing sent on p's current entropy value since that packet has been acked and
 * p was already suspect for its silence (paths_on_silence()): the signature of a route
 * that drops everything, which fails the path at once. */
void paths_on_loss(struct srd_engine *eng, struct srd_conn *c, uint32_t p, bool silent);
/* Should the next packet on path p ask for an ack at once (SRD_F_ACKREQ)?  Yes when no ack
 * has come back on its value for two delay windows: coalesced acks answer every
 * ack_every-th packet, and sprayed round robin, some paths' packets were never the ones
 * answered, so that path_unanswered() took live routes for dead ones. */
bool paths_want_ack(const struct srd_engine *eng, const struct srd_conn *c, uint32_t p);
/* The entropy value the peer should answer a data packet on path p with (the DATA's
 * entropy field), and in *slot which one it is (txpkt.reply). */
uint16_t paths_reply_entropy(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
			     uint32_t p, uint8_t *slot, bool *ask);
/* An ack came back answering a packet sent at sent_ns whose answer was asked on reply
 * slot. */
void paths_on_reply(struct srd_conn *c, uint64_t now, uint8_t slot, uint64_t sent_ns);
/* Forget the reply routes (a timeout: maybe none of them answers any more). */
void paths_reply_reset(struct srd_conn *c);
/* A packet on path p's current entropy value is overdue (packets sent after it on other
 * paths were acked, and its own path's RTT has passed): stop sending on p until an ack
 * or a loss decides. */
void paths_on_silence(struct srd_engine *eng, struct srd_conn *c, uint32_t p);
/* A probe reply arrived; its cookie names the path and the entropy probed.  Returns 0, or
 * -SRD_DROP_UNEXPECTED if no such probe is outstanding. */
int paths_on_probe_reply(struct srd_conn *c, uint32_t cookie, uint64_t rtt_ns);
/* Probes that timed out are sent again on fresh entropy; recomputes probe_deadline_ns. */
void paths_on_timer(struct srd_engine *eng, struct srd_conn *c, uint64_t now);
/* If a path of c is waiting for its probe, fill *pkt and *entropy and return true. */
bool paths_next_probe(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		      struct srd_pkt *pkt, uint16_t *entropy);

/* ---- the packet records' lists: send order (INFLIGHT) and retransmit (LOST) ----
 * Doubly linked through the records (srd_txpkt.prev/next), so acking or losing a packet
 * is O(1) and loss detection only walks the packets it declares lost. */

/* Append record idx to the list (*head, *tail). */
static inline void txlist_append(struct srd_conn *c, uint16_t *head, uint16_t *tail,
				 uint16_t idx)
{
	struct srd_txpkt *r = &c->txpkts[idx];

	r->next = SRD_NIL16;
	r->prev = *tail;
	if (*tail == SRD_NIL16)
		*head = idx;
	else
		c->txpkts[*tail].next = idx;
	*tail = idx;
}

/* Take record idx off the list (*head, *tail). */
static inline void txlist_remove(struct srd_conn *c, uint16_t *head, uint16_t *tail,
				 uint16_t idx)
{
	struct srd_txpkt *r = &c->txpkts[idx];

	if (r->prev == SRD_NIL16)
		*head = r->next;
	else
		c->txpkts[r->prev].next = r->next;
	if (r->next == SRD_NIL16)
		*tail = r->prev;
	else
		c->txpkts[r->next].prev = r->prev;
	r->prev = r->next = SRD_NIL16;
}

/* Take an INFLIGHT record off the wire accounting and the send-order list. */
static inline void tx_unlink_inflight(struct srd_conn *c, uint16_t idx)
{
	struct srd_txpkt *r = &c->txpkts[idx];

	txlist_remove(c, &c->so_head, &c->so_tail, idx);
	c->inflight--;
	if (c->paths[r->path].inflight)
		c->paths[r->path].inflight--;
}


/* ---- loss.c: loss detection (RACK, tail loss probe, RTO) ---- */

/* Loss timers of c (RACK reorder timer, tail loss probe, RTO) at time now. */
void loss_on_timer(struct srd_engine *eng, struct srd_conn *c, uint64_t now);
/* Current retransmission timeout of c, backoff included. */
uint64_t loss_rto(const struct srd_engine *eng, const struct srd_conn *c);
/* Deadline of c's loss timers (SRD_NO_DEADLINE if none). */
uint64_t loss_deadline(const struct srd_engine *eng, const struct srd_conn *c);
/* RACK after an ack: declare lost what a later acked packet overtook long enough ago;
 * sets c's reorder timer for the rest. */
void loss_rack_detect(struct srd_engine *eng, struct srd_conn *c, uint64_t now);
/* Declare INFLIGHT record idx lost for cause: it goes to the retransmit list. */
void loss_mark(struct srd_engine *eng, struct srd_conn *c, uint16_t idx,
	       enum srd_loss_cause cause);
/* A retransmission proved needless: widen c's reordering window. */
void loss_reorder_widen(struct srd_conn *c);

/* ---- tx.c: the sending side ---- */

/* Produce c's next data packet (retransmission first) into buf, or return 0; with ref, a
 * segment's payload may be left in its message (meta->ref, srd_poll_tx_ref()). */
int tx_next_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now, uint8_t *buf,
		 uint32_t cap, struct srd_tx_meta *meta, bool ref);
/* Handle an ACK / NACK for c.  Return 0 or a negated drop reason. */
int tx_on_ack(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	      const struct srd_pkt *pkt);
int tx_on_nack(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	       const struct srd_pkt *pkt);
/* Forget every message slot of c: all free, nothing to send. */
void tx_msgs_init(struct srd_engine *eng, struct srd_conn *c);
/* Take a free message slot and queue it last in the send order.  Returns it, or SRD_NIL16
 * if every slot is in use. */
uint16_t tx_msg_alloc(struct srd_engine *eng, struct srd_conn *c);
/* The peer closed the connection while we had unfinished messages on it: forget every
 * packet record and make every unfinished message start over (in the order it was sent). */
void tx_restart_all(struct srd_engine *eng, struct srd_conn *c);
/* The peer says it received every PSN before cum (and nothing after): ack them.  Returns
 * false, changing nothing, if cum is not between snd_una and snd_nxt. */
bool tx_ack_cumulative(struct srd_engine *eng, struct srd_conn *c, uint32_t cum);
/* Resend every packet in flight now, without blaming its path. */
void tx_resend_inflight(struct srd_engine *eng, struct srd_conn *c);
/* Fail every message of c with status and forget every packet record. */
void tx_fail_all(struct srd_engine *eng, struct srd_conn *c, int status);
/* True if c has data (new or retransmission) it could send if windows and pacing allow. */
bool tx_has_data(const struct srd_conn *c);

/* ---- credit.c: receiver-driven credit ---- */

/* DATA packet pkt from c arrived at time now: count c among the connections sending to us,
 * weighted by what is left of pkt's message. */
void credit_on_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
		    const struct srd_pkt *pkt);
/* After c's DATA packet was taken: if nothing of c's is under reassembly any more, it has
 * stopped sending to us (for now) and no longer counts. */
void credit_after_data(struct srd_engine *eng, struct srd_conn *c);
/* The grant for an ACK to c (srd_ack_fields.grant): c's weighted share of the credit
 * budget among the connections sending to us (equal while every message's rest fits the
 * budget; else the shorter rest, the larger share), in SRD_GRANT_UNITs (at least 1), or 0
 * (no limit) when at most one is. */
uint16_t credit_grant(const struct srd_engine *eng, const struct srd_conn *c);
/* c's pacing gap: srd_cc_pacing_gap_ns() at its congestion window, or, when its receiver's
 * grant is smaller, srtt spread over the grant (one packet per srtt * 256 / grant window,
 * packets << 8): the grant paces the sender, the congestion window still caps what is in
 * flight. */
uint64_t credit_pacing_gap_ns(const struct srd_engine *eng, const struct srd_conn *c);

/* ---- rx.c: the receiving side ---- */

/* Handle a DATA packet for c.  Return 0 or a negated drop reason. */
int rx_on_data(struct srd_engine *eng, struct srd_conn *c, uint64_t now,
	       const struct srd_pkt *pkt, unsigned ce);
/* If c owes an ack or nack, encode it into buf and return its length, else 0. */
int rx_next_ack(struct srd_engine *eng, struct srd_conn *c, uint64_t now, uint8_t *buf,
		uint32_t cap, struct srd_tx_meta *meta);
/* True if nothing beyond the cumulative PSN has been received (no gap to fill). */
bool rx_contiguous(const struct srd_engine *eng, const struct srd_conn *c);
/* Abort every partial receive of c.  Ordered messages waiting for an earlier PSN were
 * acknowledged: deliver_held says whether they are delivered (the connection goes on under
 * a new incarnation) or aborted too (the engine is being destroyed). */
void rx_reset(struct srd_engine *eng, struct srd_conn *c, bool deliver_held);
/* True if c holds ordered messages waiting for an earlier PSN. */
static inline bool rx_holding(const struct srd_conn *c)
{
	return c->held_head != SRD_NIL32;
}
/* Delayed-ack timer of c. */
void rx_on_timer(struct srd_conn *c, uint64_t now);

#endif /* SRD_CONN_H */
