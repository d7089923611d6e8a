/*
 * link.h — a test harness joining two protocol-core engines back to back, with time moved by
 * hand: packets take `delay_ns` to cross; a filter may drop, mark or delay each one
 * (loss masks, blackholed entropy values, reordering).  Header-only, for unit tests.
 */
#ifndef SRD_TEST_LINK_H
#define SRD_TEST_LINK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srd_core.h"

#define LINK_MAX_PKTS 65536u
#define LINK_PKT_CAP (65000u + 128u)

/* A packet crossing the link. */
struct link_pkt {
	uint64_t at;       /* arrival time */
	int to;            /* 0: engine A, 1: engine B */
	uint32_t len;      /* bytes */
	unsigned ce;       /* CE mark */
	uint8_t *data;     /* bytes (malloc) */
	const uint8_t *ref; /* then ref_len bytes here (srd_poll_tx_ref(): the sender's) */
	uint32_t ref_len;
};

/* What a filter decides for one packet. */
enum link_verdict { LINK_PASS, LINK_DROP };

struct link;
/* Called for every packet sent; may set *extra_delay or *ce.  n counts packets sent so far. */
typedef enum link_verdict (*link_filter_fn)(struct link *l, int from, const struct srd_tx_meta *m,
					    const uint8_t *pkt, uint32_t len, uint64_t n,
					    uint64_t *extra_delay, unsigned *ce);

/* Two engines and the packets between them. */
struct link {
	struct srd_engine *eng[2]; /* A = 0, B = 1 (peer keys are 0 and 1) */
	uint64_t now;              /* current time */
	uint64_t delay_ns;         /* one-way delay */
	uint64_t gap_ns;           /* serialization time per packet */
	uint64_t busy_until[2];    /* each side's NIC is busy until then */
	link_filter_fn filter;     /* NULL: every packet passes */
	void *filter_arg;          /* for the filter */
	uint64_t sent;             /* packets sent */
	uint64_t dropped;          /* packets the filter dropped */
	struct link_pkt q[LINK_MAX_PKTS]; /* packets on the wire (unordered) */
	uint32_t nq;               /* entries in q */
	uint8_t buf[LINK_PKT_CAP]; /* scratch for srd_poll_tx */
	int ref;                   /* 1: send with srd_poll_tx_ref(), payloads by reference */
	uint64_t ref_pkts;         /* packets sent with a payload by reference */
	uint32_t split;            /* > 0: hand every packet without a reference to
	                              srd_recv_split() cut at a point that moves by this much */
	uint32_t split_at;         /* where the next cut falls (modulo the packet's length) */
};

static inline void link_init(struct link *l, struct srd_engine *a, struct srd_engine *b)
{
	memset(l, 0, sizeof(*l));
	l->eng[0] = a;
	l->eng[1] = b;
	l->delay_ns = 2000;
	l->gap_ns = 100;
}

/* Drain both engines' transmit queues at the current time, as far as the NICs allow. */
static inline void link_pump_tx(struct link *l)
{
	for (int side = 0; side < 2; side++) {
		while (l->busy_until[side] <= l->now && l->nq < LINK_MAX_PKTS) {
			struct srd_tx_meta m;
			int len = l->ref ? srd_poll_tx_ref(l->eng[side], l->now, l->buf,
							   sizeof(l->buf), &m) :
					   srd_poll_tx(l->eng[side], l->now, l->buf, sizeof(l->buf), &m);
			uint64_t extra = 0;
			unsigned ce = 0;

			if (len <= 0)
				break;
			l->busy_until[side] = l->now + l->gap_ns;
			if (l->filter &&
			    l->filter(l, side, &m, l->buf, (uint32_t)len, l->sent, &extra, &ce) == LINK_DROP) {
				l->sent++;
				l->dropped++;
				continue;
			}
			l->sent++;
			struct link_pkt *p = &l->q[l->nq++];
			p->at = l->now + l->delay_ns + extra;
			p->to = 1 - side;
			p->len = (uint32_t)len;
			p->ce = ce;
			p->data = malloc((size_t)len);
			memcpy(p->data, l->buf, (size_t)len);
			p->ref = m.ref;
			p->ref_len = m.ref_len;
			l->ref_pkts += m.ref_len > 0;
		}
	}
}

/* Advance to the next event (arrival, deadline, NIC free) and handle it.  Returns 0 when
 * nothing is left to happen. */
static inline int link_step(struct link *l)
{
	uint64_t next = UINT64_MAX;

	link_pump_tx(l);
	for (uint32_t i = 0; i < l->nq; i++)
		if (l->q[i].at < next)
			next = l->q[i].at;
	for (int side = 0; side < 2; side++) {
		uint64_t d = srd_next_deadline(l->eng[side]);

		if (d <= l->now) /* already due: needs the NIC (pacing, control replies) */
			d = l->busy_until[side] > l->now ? l->busy_until[side] : l->now + 1;
		if (d < next)
			next = d;
		if (l->busy_until[side] > l->now && l->busy_until[side] < next)
			next = l->busy_until[side];
	}
	if (next == UINT64_MAX)
		return 0;
	if (next > l->now)
		l->now = next;
	for (uint32_t i = 0; i < l->nq;) {
		if (l->q[i].at <= l->now) {
			struct link_pkt p = l->q[i];

			l->q[i] = l->q[--l->nq];
			if (p.ref_len) {
				srd_recv_split(l->eng[p.to], l->now, (uint64_t)(1 - p.to), p.data,
					       p.len, p.ref, p.ref_len, p.ce);
			} else if (l->split) {
				uint32_t cut = l->split_at % (p.len + 1);

				l->split_at += l->split;
				srd_recv_split(l->eng[p.to], l->now, (uint64_t)(1 - p.to), p.data, cut,
					       p.data + cut, p.len - cut, p.ce);
			} else {
				srd_recv(l->eng[p.to], l->now, (uint64_t)(1 - p.to), p.data, p.len,
					 p.ce);
			}
			/* spoilt before it goes: a callback still holding bytes of it (a message
			   rx_take took, past srd_recv) reads garbage, not a lucky copy */
			memset(p.data, 0xdb, p.len);
			free(p.data);
		} else {
			i++;
		}
	}
	for (int side = 0; side < 2; side++)
		srd_on_timer(l->eng[side], l->now);
	return 1;
}

/* Run until done() says so, nothing is left, or the time limit passes.  Returns 1 if done. */
static inline int link_run(struct link *l, int (*done)(void *), void *arg, uint64_t limit_ns)
{
	while (l->now < limit_ns) {
		if (done && done(arg))
			return 1;
		if (!link_step(l))
			break;
	}
	return done ? done(arg) : 1;
}

/* Free the packets still on the wire. */
static inline void link_clear(struct link *l)
{
	for (uint32_t i = 0; i < l->nq; i++)
		free(l->q[i].data);
	l->nq = 0;
}

#endif /* SRD_TEST_LINK_H */
