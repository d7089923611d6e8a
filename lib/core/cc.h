/*
 * cc.h — congestion control: two controllers behind one interface.
 *
 * The window is counted in packets with 8 fraction bits (256 = one packet), so a window
 * below one packet is possible; the connection then paces one packet per srtt * 256 / cwnd.
 * Controllers only compute: the connection calls them with what an ack told it and reads
 * the window and the pacing gap back.  They read no clock: time comes in the event.
 */
#ifndef SRD_CC_H
#define SRD_CC_H

#include <stdint.h>

#include "srd_core.h"

#define SRD_CWND_ONE 256u /* one packet in the fixed-point window */

/* Per-connection congestion state (part of the connection, keep it small). */
struct srd_cc {
	uint32_t cwnd;             /* window, packets << 8, within [min_cwnd, max_cwnd] */
	uint32_t alpha;            /* DCTCP: EWMA of the marked fraction, Q16 (65536 = 1.0) */
	uint64_t last_decrease_ns; /* time of the last multiplicative decrease */
	uint32_t win_acked;        /* DCTCP: packets acked in the current observation window */
	uint32_t win_marked;       /* DCTCP: of which CE-marked */
	uint32_t win_end;          /* DCTCP: the window ends when the cumulative PSN passes this */
	uint8_t win_started;       /* DCTCP: 1 once win_end is valid */
	uint8_t slow_start;        /* 1 until the first decrease: the window grows by one packet
	                              per packet acked (doubling per RTT) instead of ai per RTT */
	uint16_t reserved;         /* zero */
	uint32_t ai_rem;           /* additive-increase remainder carried between acks (< cwnd), so
	                              growth stays exact when ai * acked * 256 < cwnd */
};

/* What one ack reports to the controller. */
struct srd_cc_ack {
	uint64_t now;         /* time the ack was processed */
	uint32_t acked;       /* packets newly acknowledged by this ack (may be 0) */
	uint64_t rtt_ns;      /* RTT sample of the acked packet, ack delay removed (0: none) */
	uint64_t standing_rtt_ns; /* the standing RTT of that packet's path: its smallest sample
	                             of the last one to two RTTs (0: use rtt_ns) */
	uint64_t conn_standing_ns; /* the connection's standing RTT: its smallest sample over
	                              every path in the last one to two RTTs (0: use
	                              standing_rtt_ns) */
	uint64_t base_rtt_ns; /* smallest RTT seen on the connection (0: none yet) */
	uint64_t srtt_ns;     /* smoothed RTT of the connection */
	uint32_t ce_count;    /* CE-marked packets the ack reports */
	uint32_t pkt_count;   /* packets the ack reports (ce_count <= pkt_count) */
	uint32_t cum_psn;     /* the ack's cumulative PSN */
	uint32_t snd_nxt;     /* next PSN the sender will use */
	uint32_t flight;      /* packets in flight before this ack (0: unknown): a Swift
	                         decrease cuts the smaller of this and the window */
	uint8_t window_unused; /* 1: the sender had less than 3/4 of its window in flight (the
	                          NIC or the application held it back): Swift does not grow
	                          it (DCTCP does: its additive growth is slow enough) */
};

/* A controller.  Every function tolerates any event values (no division by zero, no
 * overflow) and keeps cwnd within [cfg->min_cwnd, cfg->max_cwnd]. */
struct srd_cc_ops {
	const char *name; /* "swift", "dctcp" */
	/* Start a connection's state at cfg->init_cwnd. */
	void (*init)(struct srd_cc *cc, const struct srd_cc_config *cfg);
	/* React to one ack. */
	void (*on_ack)(struct srd_cc *cc, const struct srd_cc_config *cfg,
		       const struct srd_cc_ack *ev);
	/* React to a retransmission timeout (severe congestion or path loss) at time now. */
	void (*on_rto)(struct srd_cc *cc, const struct srd_cc_config *cfg, uint64_t now);
};

/* The controller for algo, or NULL if algo is unknown. */
const struct srd_cc_ops *srd_cc_ops_get(enum srd_cc_algo algo);

/* A connection's first flight: its window becomes at most init_cwnd / sending, its share
 * of what one host starts with when `sending` connections (itself included) have messages
 * to send, but not below two packets (TCP's smallest initial window for segments this
 * large, RFC 3390: a host with a hundred busy connections of two-packet messages would
 * otherwise wait a round trip for each message's second packet) nor min_cwnd.  It never
 * grows the window; sending 0 or 1 leaves it alone. */
void srd_cc_start_share(struct srd_cc *cc, const struct srd_cc_config *cfg, uint32_t sending);

/* Time to leave between two packets at window cwnd and smoothed RTT srtt_ns: below one
 * packet srtt * 256 / cwnd; otherwise srtt / (cwnd * gain) when cfg->pacing_gain_pct is not
 * 0, else 0 (not paced).  Returns 0 when srtt_ns is 0. */
uint64_t srd_cc_pacing_gap_ns(const struct srd_cc *cc, const struct srd_cc_config *cfg,
			      uint64_t srtt_ns);

#endif /* SRD_CC_H */
