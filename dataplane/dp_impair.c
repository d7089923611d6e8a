/*
 * dp_impair.c — the fabric-impairment stage (see dp_impair.h).
 *
 * Model of one path: a switch port with a FIFO that serializes at rate_bps, followed by a
 * wire of delay_ns.  A packet hashed to the path is first dropped by the blackhole or by
 * random loss (it then never occupies the queue); otherwise it starts serializing when
 * the path is free,
 *     start = max(now, busy_until),  busy_until = start + pkt_len * 8 / rate,
 * and leaves the stage at due = busy_until + delay.  Per path the packets wait in a
 * fixed-size circular array of {mbuf, due}; due times only grow within a path (now only
 * grows), so the head is always the next to leave.
 *
 * ECN: the path's queue is its backlog — the bytes not yet serialized when the packet
 * arrives, (busy_until - now) * rate — or, on a path without a rate (nothing serializes),
 * the bytes held in its delay line.  When that exceeds ecn_bytes and the packet is ECT(0)
 * or ECT(1), it is marked CE and its IPv4 header checksum recomputed, unless the mbuf asks
 * the NIC for it (RTE_MBUF_F_TX_IP_CKSUM).  The UDP checksum does not cover the TOS byte.
 *
 * Frames that are not IPv4/UDP (ARP, fragments past the first, anything the stage cannot
 * parse in the first segment) are not impaired: they wait in a bypass FIFO released first
 * by the next dequeue, in their order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp_impair.h"
#include "dp_net.h"
#include "rng.h"

/* One packet held by the stage. */
struct dp_impair_slot {
	struct rte_mbuf *m; /* the packet */
	uint64_t due;       /* TSC time it leaves */
};

/* A FIFO of held packets. */
struct dp_impair_fifo {
	struct dp_impair_slot *slot; /* [mask + 1] */
	uint32_t head;               /* next to leave (free-running, masked on access) */
	uint32_t tail;               /* next free */
	uint64_t bytes;              /* pkt_len summed over what it holds */
};

/* One path: its parameters in TSC units, its FIFO and counters. */
struct dp_impair_q {
	struct dp_impair_fifo f;         /* packets waiting to leave */
	uint64_t busy_until;             /* TSC time its serializer becomes free */
	uint64_t delay_tsc;              /* wire delay */
	uint64_t rate_bps;               /* serialization rate (0: none) */
	uint64_t ecn_bytes;              /* marking threshold (0: never) */
	double loss;                     /* drop probability */
	uint8_t blackhole;               /* drop everything */
	struct dp_impair_path_stats st;  /* counters */
};

struct dp_impair {
	uint32_t npaths;           /* paths */
	uint32_t cap;              /* packets per FIFO (queue_pkts) */
	uint32_t mask;             /* FIFO slots - 1 (slots: a power of two >= cap) */
	uint32_t rr;               /* path dequeue starts its round at */
	uint64_t tsc_hz;           /* TSC ticks per second */
	uint64_t bypass_drops;     /* non-UDP frames dropped: the bypass FIFO was full */
	struct srd_rng rng;        /* loss draws */
	struct dp_impair_fifo bypass;    /* frames the stage does not impair */
	struct dp_impair_q path[];       /* [npaths] */
};

/* ---- FIFO ---- */

static inline uint32_t fifo_count(const struct dp_impair_fifo *f)
{
	return f->tail - f->head;
}

static inline void fifo_push(struct dp_impair_fifo *f, uint32_t mask, struct rte_mbuf *m,
			     uint64_t due)
{
	struct dp_impair_slot *s = &f->slot[f->tail++ & mask];

	s->m = m;
	s->due = due;
	f->bytes += m->pkt_len;
}

static inline struct rte_mbuf *fifo_pop(struct dp_impair_fifo *f, uint32_t mask)
{
	struct rte_mbuf *m = f->slot[f->head++ & mask].m;

	f->bytes -= m->pkt_len;
	return m;
}

static void fifo_free_all(struct dp_impair_fifo *f, uint32_t mask)
{
	while (fifo_count(f))
		rte_pktmbuf_free(fifo_pop(f, mask));
}

static void fifo_replace_all(struct dp_impair_fifo *f, uint32_t mask,
			     struct rte_mbuf *(*fn)(struct rte_mbuf *m, void *ctx), void *ctx)
{
	for (uint32_t i = f->head; i != f->tail; i++)
		f->slot[i & mask].m = fn(f->slot[i & mask].m, ctx);
}

/* ---- parsing ---- */

/* The path of a UDP source port: a multiplicative hash (what matters is that nearby ports
 * spread, as an ECMP switch's hash would spread them), reduced to [0, npaths). */
static inline uint32_t path_of(uint16_t sport, uint32_t npaths)
{
	uint32_t h = (uint32_t)sport * 0x9e3779b1u;

	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return (uint32_t)(((uint64_t)h * npaths) >> 32);
}

/* The IPv4 header of an IPv4/UDP frame (first fragment or unfragmented) with its UDP
 * header in the first segment, and the UDP source port; NULL for anything else. */
static struct rte_ipv4_hdr *parse_udp(struct rte_mbuf *m, uint16_t *sport)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), ihl;
	struct rte_ipv4_hdr *ip;

	if (len < DP_ETH_HLEN + DP_IP_HLEN + DP_UDP_HLEN ||
	    d[12] != 0x08 || d[13] != 0x00)  /* ethertype IPv4 */
		return NULL;
	ip = (struct rte_ipv4_hdr *)(d + DP_ETH_HLEN);
	ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4u;
	if ((ip->version_ihl >> 4) != 4 || ihl < DP_IP_HLEN ||
	    len < DP_ETH_HLEN + ihl + DP_UDP_HLEN || ip->next_proto_id != IPPROTO_UDP ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) != 0)
		return NULL;
	*sport = (uint16_t)(d[DP_ETH_HLEN + ihl] << 8 | d[DP_ETH_HLEN + ihl + 1]);
	return ip;
}

/* Mark an ECT packet CE; returns 1 if it was ECT. */
static int mark_ce(struct rte_mbuf *m, struct rte_ipv4_hdr *ip)
{
	uint8_t ecn = ip->type_of_service & 0x3;

	if (ecn != 0x1 && ecn != DP_ECN_ECT0)
		return 0;  /* Not-ECT stays unmarked; CE already is */
	ip->type_of_service |= DP_ECN_CE;
	if (!(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM)) {
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	return 1;
}

/* ---- the stage ---- */

int dp_impair_create(const struct dp_impair_cfg *cfg, uint32_t queue_pkts, int socket,
		     uint64_t tsc_hz, struct dp_impair **out)
{
	struct dp_impair *im;
	struct dp_impair_slot *slots;
	uint32_t slots_per = 1;
	size_t head, total;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg || !cfg->enabled || cfg->npaths == 0 || cfg->npaths > DP_MAX_IMPAIR_PATHS ||
	    queue_pkts == 0 || queue_pkts > (1u << 24) || tsc_hz == 0)
		return -EINVAL;
	for (uint32_t p = 0; p < cfg->npaths; p++)
		if (!(cfg->path[p].loss >= 0.0 && cfg->path[p].loss <= 1.0))
			return -EINVAL;
	while (slots_per < queue_pkts)
		slots_per <<= 1;

	head = sizeof(*im) + (size_t)cfg->npaths * sizeof(im->path[0]);
	head = RTE_ALIGN_CEIL(head, RTE_CACHE_LINE_SIZE);
	total = head + (size_t)(cfg->npaths + 1) * slots_per * sizeof(*slots);
	im = rte_zmalloc_socket("dp_impair", total, RTE_CACHE_LINE_SIZE, socket);
	if (!im && socket != SOCKET_ID_ANY)
		im = rte_zmalloc_socket("dp_impair", total, RTE_CACHE_LINE_SIZE, SOCKET_ID_ANY);
	if (!im)
		return -ENOMEM;
	slots = (struct dp_impair_slot *)((uint8_t *)im + head);

	im->npaths = cfg->npaths;
	im->cap = queue_pkts;
	im->mask = slots_per - 1;
	im->tsc_hz = tsc_hz;
	srd_rng_seed(&im->rng, cfg->seed);
	im->bypass.slot = slots + (size_t)cfg->npaths * slots_per;
	for (uint32_t p = 0; p < cfg->npaths; p++) {
		const struct dp_impair_path *c = &cfg->path[p];
		struct dp_impair_q *q = &im->path[p];

		q->f.slot = slots + (size_t)p * slots_per;
		q->delay_tsc = (uint64_t)((double)c->delay_ns * (double)tsc_hz / 1e9 + 0.5);
		q->rate_bps = c->rate_bps;
		q->ecn_bytes = c->ecn_bytes;
		q->loss = c->loss;
		q->blackhole = c->blackhole;
	}
	*out = im;
	return 0;
}

void dp_impair_destroy(struct dp_impair *im)
{
	if (!im)
		return;
	for (uint32_t p = 0; p < im->npaths; p++)
		fifo_free_all(&im->path[p].f, im->mask);
	fifo_free_all(&im->bypass, im->mask);
	rte_free(im);
}

void dp_impair_replace_held(struct dp_impair *im,
			    struct rte_mbuf *(*fn)(struct rte_mbuf *m, void *ctx), void *ctx)
{
	for (uint32_t p = 0; p < im->npaths; p++)
		fifo_replace_all(&im->path[p].f, im->mask, fn, ctx);
	fifo_replace_all(&im->bypass, im->mask, fn, ctx);
}

/* Bytes waiting in path q's queue when a packet arrives at now (see the top). */
static uint64_t backlog(const struct dp_impair_q *q, uint64_t now, uint64_t tsc_hz)
{
	if (q->rate_bps == 0)
		return q->f.bytes;
	if (q->busy_until <= now)
		return 0;
	return (uint64_t)((double)(q->busy_until - now) * (double)q->rate_bps /
			  (8.0 * (double)tsc_hz));
}

/* Drop m: free it, or hand it back in dropped[(*nd)++]. */
static inline void drop(struct rte_mbuf *m, uint8_t why, uint16_t path,
			struct dp_impair_drop *dropped, uint16_t *nd)
{
	if (dropped)
		dropped[*nd] = (struct dp_impair_drop){ .m = m, .why = why, .path = path };
	else
		rte_pktmbuf_free(m);
	(*nd)++;
}

uint16_t dp_impair_enqueue(struct dp_impair *im, struct rte_mbuf **pkts, uint16_t n,
			   uint64_t now, struct dp_impair_drop *dropped)
{
	uint16_t nd = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct rte_ipv4_hdr *ip;
		struct dp_impair_q *q;
		uint16_t sport, p;
		uint64_t start;

		ip = parse_udp(m, &sport);
		if (!ip) {
			if (fifo_count(&im->bypass) >= im->cap) {
				im->bypass_drops++;
				drop(m, DP_IMPAIR_BYPASS_FULL, UINT16_MAX, dropped, &nd);
			} else {
				fifo_push(&im->bypass, im->mask, m, now);
			}
			continue;
		}
		p = (uint16_t)path_of(sport, im->npaths);
		q = &im->path[p];
		q->st.pkts_in++;
		if (q->blackhole) {
			q->st.drops_black++;
			drop(m, DP_IMPAIR_BLACKHOLE, p, dropped, &nd);
			continue;
		}
		if (q->loss > 0.0 && srd_rng_unit(&im->rng) < q->loss) {
			q->st.drops_loss++;
			drop(m, DP_IMPAIR_LOSS, p, dropped, &nd);
			continue;
		}
		if (fifo_count(&q->f) >= im->cap) {
			q->st.drops_queue++;
			drop(m, DP_IMPAIR_QUEUE_FULL, p, dropped, &nd);
			continue;
		}
		if (q->ecn_bytes && backlog(q, now, im->tsc_hz) > q->ecn_bytes && mark_ce(m, ip))
			q->st.ce_marked++;
		start = q->busy_until > now ? q->busy_until : now;
		if (q->rate_bps)
			start += ((uint64_t)m->pkt_len * 8u * im->tsc_hz + q->rate_bps - 1) /
				 q->rate_bps;
		q->busy_until = start;
		fifo_push(&q->f, im->mask, m, start + q->delay_tsc);
	}
	return nd;
}

uint16_t dp_impair_dequeue(struct dp_impair *im, struct rte_mbuf **pkts, uint16_t max,
			   uint64_t now)
{
	uint16_t n = 0;
	int progress = 1;

	while (n < max && fifo_count(&im->bypass))
		pkts[n++] = fifo_pop(&im->bypass, im->mask);
	/* one packet per path per round, starting where the last call stopped */
	while (n < max && progress) {
		progress = 0;
		for (uint32_t k = 0; k < im->npaths && n < max; k++) {
			uint32_t p = im->rr + k < im->npaths ? im->rr + k : im->rr + k - im->npaths;
			struct dp_impair_q *q = &im->path[p];

			if (!fifo_count(&q->f) || q->f.slot[q->f.head & im->mask].due > now)
				continue;
			pkts[n++] = fifo_pop(&q->f, im->mask);
			q->st.pkts_out++;
			progress = 1;
			if (n == max)
				im->rr = p + 1 < im->npaths ? p + 1 : 0;
		}
	}
	return n;
}

uint64_t dp_impair_next_due(const struct dp_impair *im)
{
	uint64_t due = UINT64_MAX;

	if (fifo_count(&im->bypass))
		return im->bypass.slot[im->bypass.head & im->mask].due;
	for (uint32_t p = 0; p < im->npaths; p++) {
		const struct dp_impair_q *q = &im->path[p];

		if (fifo_count(&q->f) && q->f.slot[q->f.head & im->mask].due < due)
			due = q->f.slot[q->f.head & im->mask].due;
	}
	return due;
}

int dp_impair_path_stats(const struct dp_impair *im, uint32_t p, struct dp_impair_path_stats *st)
{
	if (!im || !st || p >= im->npaths)
		return -EINVAL;
	*st = im->path[p].st;
	st->queued = fifo_count(&im->path[p].f);
	return 0;
}
