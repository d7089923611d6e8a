/*
 * srd_core.h — the sans-I/O SRD protocol core: public API.
 *
 * An engine holds the connections of one host (or one daemon worker) to its peers.  It does
 * no I/O, reads no clock and allocates nothing after srd_engine_create(): the caller passes
 * the time (ns, any monotonic origin) into every call, feeds received packets in with
 * srd_recv(), pulls packets to transmit with srd_poll_tx(), and asks for the next deadline
 * with srd_next_deadline(), calling srd_on_timer() when it has passed.  Peers are named by an
 * opaque 64-bit key of the caller's choosing (the daemon packs an IPv4 address and a port,
 * the simulator a host number).
 *
 * Delivery is reliable and unordered: every message accepted by srd_send() is delivered to
 * the peer exactly once, or completes at the sender with an error status.  A message sent
 * with SRD_SEND_ORDERED is delivered only after every message its connection carried
 * before it (send-after-send order), without waiting for them to be acknowledged first.  Packets of a
 * connection are sprayed over many paths (entropy values, which the caller puts in the UDP
 * source port), and retransmitted on a different path when lost.
 *
 * The caller's loop: after srd_send(), srd_recv() or srd_on_timer(), call srd_poll_tx()
 * until it returns 0 (or the NIC is full, and again once it has room); sleep until
 * srd_next_deadline() or the next received packet.
 *
 * Errors are negative errno values; packet drops are negative enum srd_drop_reason values.
 */
#ifndef SRD_CORE_H
#define SRD_CORE_H

#include <stddef.h>
#include <stdint.h>

#define SRD_MAX_PATHS 256u        /* entropy values per connection, at most */
#define SRD_MAX_IOV 8u            /* scatter-gather entries per message */
#define SRD_MSG_SIZE_LIMIT (1u << 30) /* largest max_msg_size a config may ask for */
#define SRD_NO_DEADLINE UINT64_MAX
#define SRD_SEND_ORDERED 0x1u     /* srd_send_req.flags: deliver after every earlier message */
#define SRD_PACK_MAX_MSGS 64u     /* most messages one packed DATA packet carries (the wire's
                                     bound; srd_config.pack_msgs is the sender's) */

/* Packet types on the wire (srd_tx_meta.type; layouts in docs/wire-format.md). */
enum srd_pkt_type {
	SRD_PKT_DATA = 1,  /* a segment of a message */
	SRD_PKT_ACK = 2,   /* cumulative PSN + SACK bitmap + echoed timestamp + path */
	SRD_PKT_NACK = 3,  /* the receiver knows a packet cannot be taken (RNR, too big) */
	SRD_PKT_PROBE = 4, /* path probe, and its reply */
	SRD_PKT_RESET = 5, /* "I do not know this connection": the peer restarted or dropped it */
};

/* Why a received packet was dropped.  srd_recv() returns the negated value; srd_stats
 * counts each.  Names for logs and telemetry: srd_drop_reason_name(). */
enum srd_drop_reason {
	SRD_DROP_NONE = 0,
	SRD_DROP_TRUNCATED,       /* shorter than its header */
	SRD_DROP_BAD_VERSION,     /* version is not ours */
	SRD_DROP_BAD_TYPE,        /* unknown packet type */
	SRD_DROP_BAD_HEADER,      /* unknown flags, reserved bits set, impossible field values */
	SRD_DROP_BAD_LENGTH,      /* length disagrees with the header (oversized, short payload) */
	SRD_DROP_BAD_OFFSET,      /* segment lies beyond its message */
	SRD_DROP_MSG_TOO_BIG,     /* message longer than max_msg_size (the sender is NACKed) */
	SRD_DROP_UNKNOWN_CONN,    /* no connection has this id */
	SRD_DROP_STALE_CONN,      /* id of an earlier incarnation (epoch) of a connection */
	SRD_DROP_PEER_MISMATCH,   /* connection id belongs to another peer */
	SRD_DROP_CONN_TABLE_FULL, /* a new peer, and no free connection */
	SRD_DROP_PSN_WINDOW,      /* PSN outside the receive window */
	SRD_DROP_DUPLICATE,       /* PSN already received (re-acknowledged, not re-delivered) */
	SRD_DROP_ACK_UNSENT,      /* ack or nack for a PSN never sent */
	SRD_DROP_MSG_MISMATCH,    /* segment disagrees with earlier segments of its message */
	SRD_DROP_NO_BUFFER,       /* no buffer for a new message (the sender is told RNR) */
	SRD_DROP_UNEXPECTED,      /* well formed, but not expected now (e.g. a stray probe reply) */
	SRD_DROP_NO_ENDPOINT,     /* message for an endpoint rx_alloc says does not exist (the
	                             sender is NACKed and fails it with -ENXIO) */
	SRD_DROP_NEED_COOKIE,     /* a new peer's set-up without a valid cookie while the
	                             table is nearly full (answered RESET SETUP_COOKIE) */
	SRD_DROP_MAX
};

/* Path spraying policy. */
enum srd_path_mode {
	SRD_MODE_MULTIPATH = 0, /* spray packets over `paths` entropy values, steer by path state */
	SRD_MODE_SINGLE = 1,    /* one hashed entropy per connection: the classic ECMP baseline */
	SRD_MODE_SPRAY = 2,     /* spray packets round robin over `paths` entropy values whatever
	                           their state (oblivious spraying: the baseline of the spraying
	                           literature; a failed path is never replaced) */
};

/* Congestion controller. */
enum srd_cc_algo {
	SRD_CC_SWIFT = 0, /* delay-based: target delay, AI, MD scaled by the excess delay */
	SRD_CC_DCTCP = 1, /* ECN-based: MD by the EWMA of the marked fraction */
};

/* Congestion-control parameters (window in packets, fixed point with 8 fraction bits). */
struct srd_cc_config {
	enum srd_cc_algo algo;       /* which controller */
	uint32_t init_cwnd;          /* initial window, packets << 8 (min_cwnd..max_cwnd) */
	uint32_t min_cwnd;           /* smallest window, packets << 8, 1..2^24 (below 1 packet:
	                                paced) */
	uint32_t max_cwnd;           /* largest window, packets << 8 (min_cwnd..2^24) */
	uint32_t ai;                 /* additive increase per RTT, packets << 8 (1..2^20) */
	uint64_t target_delay_ns;    /* Swift: queueing delay allowed above the base RTT
	                                (100 ns..1 s); small windows get up to as much again
	                                (flow scaling) */
	uint64_t base_rtt_ns;        /* Swift: the fabric's unloaded RTT (0: each connection's
	                                smallest measured RTT, which flows that start into a
	                                standing queue overestimate — set it where known) */
	uint32_t beta_pct;           /* Swift: MD strength, percent (0..100) */
	uint32_t max_mdf_pct;        /* largest multiplicative decrease at once, percent (1..99) */
	uint32_t dctcp_g_shift;      /* DCTCP: EWMA gain g = 1 / 2^g_shift (1..16) */
	uint32_t pacing_gain_pct;    /* pacing rate = gain * cwnd / srtt (0: no pacing above 1
	                                packet; 0..1000) */
};

/* Engine configuration.  srd_config_default() fills every field; srd_config_check() says
 * what is wrong with one. */
struct srd_config {
	uint16_t epoch;              /* incarnation of this engine: choose a new one at every start
	                                (peers tell a restarted engine's connections from the old
	                                ones by it) */
	uint64_t seed;               /* seed of the engine's PRNG (entropy values) */
	uint32_t max_conns;          /* connections at once (1..65535) */
	uint32_t setup_cookie_pct;   /* once this percentage of max_conns is in use, a new peer
	                                must echo a cookie before it gets a connection, so
	                                set-ups from spoofed addresses cannot fill the rest
	                                (0: always, 100: never; 0..100) */
	uint64_t cookie_key[2];      /* key of the set-up cookies: random, from the host (both
	                                0: derived from seed, which is guessable) */
	enum srd_path_mode mode;     /* multipath or single-path */
	uint32_t paths;              /* entropy values per connection in multipath mode (1..256) */
	uint32_t seg_size;           /* payload bytes per packet (64..65000) */
	uint32_t tx_window;          /* PSNs in flight per connection (power of two, 16..4096) */
	uint32_t rx_window;          /* PSNs beyond the cumulative PSN a receiver accepts (power
	                                of two, 64..4096) */
	uint64_t rx_credit_bytes;    /* bytes in flight a receiver shares among the connections
	                                sending to it: with two or more, each ack grants its
	                                sender an equal share, which caps its window (about one
	                                and a half bandwidth-delay products of the receiver's
	                                link: one in the pipe, half of one queued; 0: 1.5 times
	                                cc.init_cwnd packets of seg_size; 0..2^40) */
	uint32_t pack_msgs;          /* most messages one DATA packet carries: one-packet
	                                messages already queued to the same endpoint go out
	                                together, under one PSN (1: never pack; 1..SRD_PACK_MAX_MSGS) */
	uint32_t max_tx_msgs;        /* messages queued or in flight per connection (power of two,
	                                1..4096; default 512 = tx_window, so that a stream of
	                                one-packet messages is held back by the windows, not by
	                                its message slots) */
	uint32_t rx_slots;           /* messages under reassembly at once, whole engine (1..2^24) */
	uint32_t max_msg_size;       /* longest message sent or accepted (1 B..1 GiB) */
	uint64_t min_rto_ns;         /* retransmission timeout floor (1 µs..1 s) */
	uint64_t max_rto_ns;         /* retransmission timeout ceiling after backoff (min_rto..60 s) */
	uint64_t min_tlp_ns;         /* tail loss probe floor: a flight's probe waits the larger of
	                                two smoothed RTTs and this, plus the ack delay, after its
	                                latest send (0: no floor; else with ack_delay below
	                                min_rto).  A host that stalls (a shared CPU) holds acks
	                                longer than its RTT shows */
	uint64_t init_rtt_ns;        /* RTT assumed before the first sample (100 ns..1 s) */
	uint32_t max_retries;        /* timeouts in a row without progress, and timeout-driven resends of
	                                one packet, before the connection fails (1..255) */
	uint32_t max_rnr_retries;    /* receiver-not-ready retries in a row before it fails
	                                (1..65535; 0: never, while the peer answers); the wait
	                                doubles at each, from the peer's rnr delay up to 1024
	                                times it */
	uint64_t rnr_delay_ns;       /* how long a receiver asks a sender to wait after RNR
	                                (1 µs..1 s) */
	uint64_t ack_delay_ns;       /* longest an ack is held to coalesce it with others (0..1 s) */
	uint32_t ack_every;          /* ack at once after this many unacked data packets (1..64) */
	uint32_t reorder_pct;        /* RACK reordering window, percent of the minimum RTT
	                                (0..1000; it widens by itself after needless resends) */
	uint32_t path_fail_losses;   /* consecutive losses on a path that fail it (1..255) */
	uint64_t conn_idle_ns;       /* close a connection with nothing to do for this long
	                                (0: never); longer than the retry budget (the sum of
	                                backed-off RTOs over max_retries), so that nothing the
	                                peer could still be resending is forgotten */
	struct srd_cc_config cc;     /* congestion control */
};

/* Fill *cfg with the defaults (multipath, 16 paths, Swift, 4 KiB segments, 16 MiB messages). */
void srd_config_default(struct srd_config *cfg);

/* Check *cfg.  Returns 0, or -EINVAL with a sentence naming the field and the reason in
 * err (errlen bytes, always terminated when errlen > 0). */
int srd_config_check(const struct srd_config *cfg, char *err, size_t errlen);

/* A message being received: its buffer is asked for with rx_alloc when its first packet (of
 * any segment) arrives, and handed back with rx_deliver or rx_abort. */
struct srd_rx_msg {
	uint64_t peer;    /* sender's peer key */
	uint16_t src_ep;  /* sending endpoint */
	uint16_t dst_ep;  /* receiving endpoint */
	uint64_t tag;     /* application tag */
	uint64_t imm;     /* immediate data (valid at rx_deliver only) */
	uint32_t len;     /* message length in bytes */
	void *buf;        /* where the message is placed (NULL inside rx_alloc, and for a
	                     message rx_take took) */
	void *buf_ctx;    /* caller's value set by rx_alloc or rx_take, returned with the
	                     buffer */
	const void *data; /* a message rx_take took: its bytes, in the packet being handled
	                     (valid during rx_deliver or rx_abort only; NULL if len is 0) */
	uint8_t no_endpoint; /* set by rx_alloc (returning NULL) when nobody will ever take the
	                        message: it is refused, not retried */
	uint8_t taken;    /* rx_take took it (no buffer; its bytes in data) */
};

/* What the caller tells the engine.  Callbacks run inside srd_recv(), srd_on_timer(),
 * srd_poll_tx() or srd_engine_destroy() (never srd_send()), and must not call back into the
 * engine; they may run while the engine is part way through handling a packet. */
struct srd_callbacks {
	void *user; /* passed to every callback */
	/* Return a buffer of at least msg->len bytes for a new message and set msg->buf_ctx if
	 * you like; return NULL if none can be had now (the sender is asked to retry later).
	 * For an empty message (len 0) NULL is fine: it is delivered with buf NULL.  If
	 * msg->dst_ep names no endpoint, set msg->no_endpoint and return NULL: the message is
	 * refused and fails at the sender with -ENXIO. */
	void *(*rx_alloc)(void *user, struct srd_rx_msg *msg);
	/* Optional, asked before rx_alloc for a message whose bytes are all in the packet at
	 * hand and that is delivered before srd_recv() returns (one of a packed packet's, not
	 * waiting for an earlier PSN): make room for it without a buffer, so that rx_deliver
	 * gets the bytes in msg->data instead of a copy in msg->buf (srdd puts a small message
	 * straight into the app's completion ring).  Return 1 (room made; msg->buf_ctx as you
	 * like), 0 (ask rx_alloc instead), or -1 as rx_alloc's NULL (msg->no_endpoint set or
	 * not).  A message it took comes to rx_deliver, or to rx_abort if the engine gives it
	 * up, with msg->taken set.  Requires rx_abort. */
	int (*rx_take)(void *user, struct srd_rx_msg *msg);
	/* A message is complete: msg->buf holds msg->len bytes; the buffer is the caller's again.
	 * An ordered message comes once every earlier PSN of its connection has arrived, or
	 * when its connection resets (it was acknowledged, so it is delivered, not dropped). */
	void (*rx_deliver)(void *user, const struct srd_rx_msg *msg);
	/* A partly received message was abandoned (its connection reset, or the engine was
	 * destroyed, which also abandons ordered messages still waiting for an earlier PSN),
	 * or a packed packet, whose messages are taken all or none, was refused after some of
	 * its messages got their buffers (another got none: the sender resends the packet
	 * later, and rx_alloc is asked again): the buffer is the caller's again, and the
	 * message was not delivered. May be NULL. */
	void (*rx_abort)(void *user, const struct srd_rx_msg *msg);
	/* Store len bytes of msg's payload (one packet's) at byte off of msg->buf, which has
	 * room for them: the caller's own copy (srdd picks ordinary or non-temporal stores by
	 * their cost, lib/shm/srd_copy.h).  Not for the messages of a packed packet (small,
	 * memcpy'd).  May be NULL: memcpy. */
	void (*rx_place)(void *user, const struct srd_rx_msg *msg, size_t off, const void *src,
			 size_t len);
	/* A message accepted by srd_send() is done: status 0 (the peer has all of it), or
	 * -ETIMEDOUT (retry budget spent: peer unreachable), -ECONNRESET (peer restarted or
	 * forgot the connection), -ECONNREFUSED (peer's connection table was full),
	 * -EMSGSIZE (peer refused its size), -ENXIO (no such endpoint at the peer),
	 * -ENOBUFS (peer had no buffer for too long),
	 * -ECANCELED (engine destroyed).  The caller's buffers are its own
	 * again. */
	void (*tx_done)(void *user, void *ctx, int status);
};

/* One piece of a message to send.  The bytes must stay valid until tx_done. */
struct srd_iov {
	const void *base; /* first byte */
	uint32_t len;     /* bytes */
};

/* A message to send. */
struct srd_send_req {
	uint64_t peer;              /* destination peer key */
	uint16_t src_ep;            /* sending endpoint id */
	uint16_t dst_ep;            /* receiving endpoint id */
	uint64_t tag;               /* application tag */
	uint64_t imm;               /* immediate data */
	const struct srd_iov *iov;  /* the message, in order */
	uint32_t iovcnt;            /* entries in iov (1..SRD_MAX_IOV) */
	uint32_t flags;             /* SRD_SEND_ORDERED: the receiver delivers it only after
	                               every message sent before it on the connection (those
	                               refused or failed included) has been received; else 0 */
	void *ctx;                  /* handed back in tx_done */
};

/* Where and how to send a packet produced by srd_poll_tx(). */
struct srd_tx_meta {
	uint64_t peer;      /* destination peer key */
	uint16_t entropy;   /* path entropy: put it in the UDP source port */
	uint8_t path;       /* path index within the connection (for statistics) */
	uint8_t type;       /* packet type (enum srd_pkt_type) */
	uint8_t ect;        /* 1: mark the packet ECN-capable (ECT(0)) */
	uint32_t ref_len;   /* srd_poll_tx_ref(): the packet goes on with these bytes at ref,
	                       a data segment's payload left in its message (0: none) */
	const void *ref;
};

/* Smallest payload srd_poll_tx_ref() leaves in its message: below it a copy costs less
 * than a second buffer would. */
#define SRD_TX_REF_MIN 1024u

/* Counters of one engine. */
struct srd_stats {
	uint64_t tx_pkts;            /* packets produced by srd_poll_tx() */
	uint64_t tx_data_pkts;       /* of which data (first transmissions and retransmissions) */
	uint64_t tx_retx_pkts;       /* of which data retransmissions */
	uint64_t tx_acks;            /* acks sent */
	uint64_t tx_nacks;           /* nacks sent */
	uint64_t tx_probes;          /* probes and probe replies sent */
	uint64_t tx_resets;          /* resets sent */
	uint64_t tx_payload_bytes;   /* payload bytes sent, retransmissions included */
	uint64_t tx_packed_pkts;     /* data packets that carried several messages (first
	                                transmissions) */
	uint64_t tx_packed_msgs;     /* messages sent in them: packed with others */
	uint64_t rx_pkts;            /* packets given to srd_recv() */
	uint64_t rx_data_pkts;       /* data packets accepted (placed) */
	uint64_t rx_payload_bytes;   /* payload bytes placed (each byte once) */
	uint64_t rx_packed_msgs;     /* messages taken from packed data packets */
	uint64_t rx_ce_pkts;         /* data packets that arrived with a CE mark */
	uint64_t rx_acks;            /* acks accepted */
	uint64_t rx_nacks;           /* nacks accepted */
	uint64_t rack_losses;        /* packets declared lost by time (RACK) */
	uint64_t rto_losses;         /* packets declared lost by the retransmission timeout */
	uint64_t rto_events;         /* retransmission timeouts */
	uint64_t tlp_probes;         /* tail loss probes: the latest packet resent after two RTTs
	                                without an ack */
	uint64_t rnr_received;       /* receiver-not-ready nacks received */
	uint64_t msgs_accepted;      /* srd_send() calls that returned 0 */
	uint64_t msgs_completed;     /* tx_done with status 0 */
	uint64_t msgs_failed;        /* tx_done with an error */
	uint64_t msgs_delivered;     /* rx_deliver calls */
	uint64_t msgs_aborted;       /* partly received messages given up (rx_abort calls, but
	                                for the buffers of a packed packet refused whole) */
	uint64_t msgs_held;          /* ordered messages complete before an earlier PSN of their
	                                connection arrived, delivered once it did */
	uint64_t path_failures;      /* paths declared failed */
	uint64_t path_replacements;  /* fresh entropy values taken for failed paths */
	uint64_t path_recycles;      /* fresh entropy values taken for persistently congested
	                                paths (multipath mode) */
	uint64_t conns_created;      /* connections created */
	uint64_t conns_reset;        /* connections reset (peer restart, retry budget spent) */
	uint64_t conns_timed_out;    /* of those, the ones that spent their retry budget: the
	                                peer looked unreachable (messages failed -ETIMEDOUT) */
	uint64_t conns_closed;       /* connections closed after conn_idle_ns of idleness */
	uint64_t conns_resumed;      /* connections the peer had closed, re-opened with their
	                                unfinished messages sent again */
	uint64_t cookies_sent;       /* set-up cookies sent to new peers (RESET SETUP_COOKIE) */
	uint64_t cookies_taken;      /* cookies received from peers, set-ups started again */
	uint64_t challenges;         /* probes asking a peer's known incarnation whether it is
	                                alive, after a set-up from another incarnation */
	uint64_t conns_active;       /* connections in use now */
	uint64_t rx_slots_used;      /* messages under reassembly now */
	uint64_t ctrl_dropped;       /* control replies (resets, probe replies) not sent: ring full */
	uint64_t drops[SRD_DROP_MAX]; /* packets dropped, by reason */
};

/* Path states. */
enum srd_path_state {
	SRD_PATH_GOOD = 0,    /* in use */
	SRD_PATH_SUSPECT = 1, /* lost a packet lately: used only when no good path will do */
	SRD_PATH_PROBING = 2, /* fresh entropy after a failure: not used until a probe returns */
};

/* One path of a connection, as srd_conn_info() reports it. */
struct srd_path_info {
	uint16_t entropy;       /* current entropy value */
	uint8_t state;          /* enum srd_path_state */
	uint32_t inflight;      /* packets sent on it and not yet acked or lost */
	uint64_t srtt_ns;       /* smoothed RTT (0 before the first sample) */
	uint32_t ecn_permille;  /* recent fraction of CE-marked acks, per mille */
	uint64_t tx_pkts;       /* packets sent on this path index */
	uint32_t replacements;  /* times this path index got a fresh entropy value */
};

/* One connection, as srd_conn_info() reports it. */
struct srd_conn_info {
	uint64_t peer;          /* peer key */
	uint32_t local_id;      /* our connection id */
	uint32_t peer_id;       /* the peer's connection id (0 until known) */
	uint32_t npaths;        /* paths in use */
	uint32_t inflight;      /* packets in flight */
	uint32_t cwnd;          /* congestion window, packets << 8 */
	uint64_t srtt_ns;       /* smoothed RTT over all paths */
	uint64_t min_rtt_ns;    /* smallest RTT seen */
	uint64_t rto_ns;        /* current retransmission timeout */
	uint32_t tx_msgs;       /* messages queued or in flight */
	uint64_t retransmits;   /* data retransmissions */
	uint32_t rx_partial;    /* messages under reassembly */
	uint32_t rx_held;       /* ordered messages complete, waiting for an earlier PSN */
};

struct srd_engine;

/*
 * Create an engine: all memory it will use is allocated here.
 * Returns 0 and sets *out, or -EINVAL (bad config: the reason is written to err), or
 * -ENOMEM.  cb->rx_alloc, cb->rx_deliver and cb->tx_done are required.
 */
int srd_engine_create(const struct srd_config *cfg, const struct srd_callbacks *cb,
		      struct srd_engine **out, char *err, size_t errlen);

/* Destroy an engine: every message not yet done completes with -ECANCELED, every partial
 * receive (and every ordered message still waiting for an earlier one) is handed back
 * through rx_abort, then all memory is freed.  NULL is ignored. */
void srd_engine_destroy(struct srd_engine *eng);

/*
 * Accept a message for reliable delivery to req->peer (creating the connection if needed).
 * Returns 0 (tx_done follows later, exactly once), or
 *   -EINVAL   iov is NULL, iovcnt is 0 or above SRD_MAX_IOV, an entry has a NULL base
 *             and a length, or flags has an unknown bit;
 *   -EMSGSIZE the message is longer than max_msg_size;
 *   -EAGAIN   the connection's message queue (max_tx_msgs) is full: retry after a tx_done;
 *   -ENOSPC   a new connection is needed and the table is full.
 */
int srd_send(struct srd_engine *eng, uint64_t now, const struct srd_send_req *req);

/*
 * Produce the next packet to transmit into buf (cap bytes) and describe it in *meta.
 * Control replies owed without a connection (resets, probe replies) come first; then the
 * connections take turns (round robin, one packet each), each offering its owed ack or
 * nack, else a probe, else a retransmission, else new data, within its congestion and
 * flow-control windows and pacing.  May complete messages (tx_done) when a connection
 * fails while being served.
 * Returns the packet length (> 0), 0 if nothing may be sent now (see srd_next_deadline()),
 * or -ENOSPC if cap is smaller than srd_max_packet_len().
 */
int srd_poll_tx(struct srd_engine *eng, uint64_t now, uint8_t *buf, uint32_t cap,
		struct srd_tx_meta *meta);

/*
 * As srd_poll_tx(), but the payload of a data segment of at least SRD_TX_REF_MIN bytes that
 * one iov entry holds is not copied: the packet is the returned length at buf followed by
 * meta->ref_len bytes at meta->ref, the message's own bytes (srd_send_req.iov).  They are
 * the caller's again at the message's tx_done; one who hands them to a device must keep
 * them readable until the device is done with every packet that names them (a resent
 * packet may still be queued after its message completed: the receiver drops that copy
 * as a duplicate, whatever it then carries).
 */
int srd_poll_tx_ref(struct srd_engine *eng, uint64_t now, uint8_t *buf, uint32_t cap,
		    struct srd_tx_meta *meta);

/*
 * Take a received packet (len bytes at pkt) from peer; ce is 1 if its IP header carried a
 * CE mark.  The bytes may be anything: a packet that cannot be taken is dropped and counted.
 * Returns 0 if the packet was taken, or the negated enum srd_drop_reason.
 */
int srd_recv(struct srd_engine *eng, uint64_t now, uint64_t peer, const uint8_t *pkt,
	     uint32_t len, unsigned ce);

/*
 * srd_recv() of a packet in two pieces: hlen bytes at hdr, then plen bytes at payload (a
 * frame built from srd_poll_tx_ref()'s two parts).  A data segment whose headers are all of
 * hdr is taken where it lies; any other split is joined in the engine's own buffer first
 * (a packet longer than srd_max_packet_len() is dropped as srd_recv() drops it).
 */
int srd_recv_split(struct srd_engine *eng, uint64_t now, uint64_t peer, const uint8_t *hdr,
		   uint32_t hlen, const uint8_t *payload, uint32_t plen, unsigned ce);

/* Earliest time at which srd_on_timer() has work (or srd_poll_tx() may have a packet that
 * pacing held back), or SRD_NO_DEADLINE.  Packets that can go now are not deadlines: call
 * srd_poll_tx() after every srd_send(), srd_recv() and srd_on_timer(). */
uint64_t srd_next_deadline(const struct srd_engine *eng);

/* Run every timer due at or before now (loss detection, retransmission timeouts, delayed
 * acks, probes, pacing).  Packets it makes are picked up by srd_poll_tx(). */
void srd_on_timer(struct srd_engine *eng, uint64_t now);

/*
 * The caller has just resumed running the engine after a pause it did not choose (its
 * thread lost the CPU, or the process was stopped) of pause_ns that ended at now (at most
 * the time since its previous call).  The engine's clock leaves the pause out: to it no
 * time passed, so the packets and acks that waited meanwhile are no RTT samples of that
 * length, no timer expires for it, and it does not count toward any connection's idleness.
 * (Without this, an 800 ms SIGSTOP of srdd made an 800 ms smoothed RTT that paced a sender
 * to a crawl, and a receiver whose own worker stalled longer than conn_idle_ns closed
 * connections its peers were still using.)  Only the pause's length is forgiven: a host
 * that keeps pausing still closes idle connections after conn_idle_ns of running time.
 * srd_next_deadline() answers on the caller's clock, as every call takes it.
 */
void srd_note_pause(struct srd_engine *eng, uint64_t now, uint64_t pause_ns);

/* Largest packet srd_poll_tx() may produce: seg_size plus the largest header. */
uint32_t srd_max_packet_len(const struct srd_engine *eng);

/* Copy the engine's counters into *st. */
void srd_get_stats(const struct srd_engine *eng, struct srd_stats *st);

/*
 * Describe the connection to peer in *info and up to max_paths of its paths in paths[]
 * (paths may be NULL).  Returns the number of paths of the connection, or -ENOENT if there
 * is no connection to peer.
 */
int srd_conn_info(const struct srd_engine *eng, uint64_t peer, struct srd_conn_info *info,
		  struct srd_path_info *paths, uint32_t max_paths);

/* The longest a sender keeps resending before its connection fails with -ETIMEDOUT, for
 * cfg (RTO at its floor, doubling up to max_rto over max_retries + 1 timeouts). */
uint64_t srd_retry_budget_ns(const struct srd_config *cfg);

/* Store the peer keys of up to max connections in peers[].  Returns how many
 * connections there are (which may exceed max). */
uint32_t srd_conn_peers(const struct srd_engine *eng, uint64_t *peers, uint32_t max);

/* Bytes of per-connection state for a config: the connection, its paths and its receive
 * bitmap.  Excluded: the retransmission buffers (one record per PSN of the transmit window,
 * one slot per message in flight) and the engine-wide reassembly pool. */
size_t srd_conn_state_bytes(const struct srd_config *cfg);

/* Name of a drop reason ("truncated", ...), given as the reason or its negation (as
 * srd_recv() returns it), or "unknown". */
const char *srd_drop_reason_name(int reason);

#endif /* SRD_CORE_H */
