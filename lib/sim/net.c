/*
 * net.c — packets through the switches of a topology (see net.h for the model).
 *
 * Packets live in a pool of slots (an array that grows by doubling; a slot keeps its byte
 * buffer across uses).  Events carry the slot index, so the pool may move.  A slot is taken
 * in sim_net_send() and given back when its packet is delivered or dropped.
 */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define NET_SLOT_NONE UINT32_MAX
#define NET_MIN_BUF 256u

/* One directed link: the output queue of the node at its near end. */
struct net_link {
	uint64_t busy_until;      /* end of serialization of the last packet queued on it */
	uint64_t ctrl_until;      /* end of serialization of the last control packet queued on it
	                             (ctrl_priority) */
	uint64_t rate_bps;        /* current rate (nominal unless a schedule changed it) */
	uint32_t epoch;           /* times it went down: a packet queued in an earlier epoch
	                             was lost with the queue */
	uint8_t up;               /* 1: carries traffic */
	struct sim_link_stats st; /* counters */
};

/* A packet in the network (or a free slot). */
struct net_pkt {
	uint8_t *buf;       /* bytes (kept across uses of the slot) */
	uint32_t cap;       /* bytes allocated at buf */
	uint32_t len;       /* packet length */
	uint32_t src;       /* sending host */
	uint32_t dst;       /* receiving host */
	uint32_t link;      /* link it is queued on or crossing */
	uint32_t epoch;     /* that link's epoch when it was queued */
	uint32_t next_free; /* next free slot, NET_SLOT_NONE at the end */
	uint16_t entropy;   /* UDP source port */
	uint8_t ect;        /* 1: ECN-capable */
	uint8_t ce;         /* 1: marked CE on the way */
	uint8_t in_use;     /* 1: holds a packet */
};

/* The network. */
struct sim_net {
	struct sim_net_config cfg; /* as given */
	struct sim_topo *topo;     /* nodes, cables, routes */
	struct sim_evq *q;         /* where hops are scheduled (not owned) */
	struct sim_fabric_cb cb;   /* deliver / drop */
	uint64_t *node_seed;       /* each node's hash seed */
	struct net_link *links;    /* 2 * cables directed links */
	struct net_pkt *pkts;      /* packet slots */
	uint32_t npkts;            /* slots allocated */
	uint32_t free_head;        /* first free slot */
	uint64_t in_flight;        /* slots in use */
};

/* ---- configuration ---------------------------------------------------------------- */

static uint64_t ser_ns(uint64_t wire, uint64_t rate_bps)
{
	return (wire * 8u * 1000000000ull + rate_bps - 1) / rate_bps;
}

static uint32_t topo_max_hops(const struct sim_topo_config *t)
{
	if (t->kind == SIM_TOPO_LEAFSPINE)
		return t->leaves > 1 ? 4 : 2;
	return 6;
}

uint64_t sim_net_base_rtt(const struct sim_net_config *cfg, uint32_t data_bytes,
			  uint32_t ack_bytes)
{
	uint64_t hops = topo_max_hops(&cfg->topo);
	uint64_t data = ser_ns((uint64_t)data_bytes + cfg->overhead_bytes, cfg->link_rate_bps);
	uint64_t ack = ser_ns((uint64_t)ack_bytes + cfg->overhead_bytes, cfg->link_rate_bps);

	return hops * (data + ack + 2 * cfg->hop_delay_ns);
}

void sim_net_config_default(struct sim_net_config *cfg, const struct sim_topo_config *topo)
{
	uint64_t bdp;

	memset(cfg, 0, sizeof(*cfg));
	cfg->topo = *topo;
	cfg->link_rate_bps = 100000000000ull;
	cfg->hop_delay_ns = 1000;
	cfg->overhead_bytes = SIM_FABRIC_DEFAULT_OVERHEAD;
	cfg->seed = 1;
	bdp = sim_net_base_rtt(cfg, 4096 + 56, 52) * (cfg->link_rate_bps / 8) / 1000000000ull;
	cfg->limit_bytes = bdp;
	cfg->ecn_bytes = bdp / 5;
	cfg->ctrl_priority = 1;
}

static int net_fail(char *err, size_t errlen, const char *msg, long idx)
{
	if (errlen > 0) {
		if (idx >= 0)
			snprintf(err, errlen, "link schedule entry %ld: %s", idx, msg);
		else
			snprintf(err, errlen, "network: %s", msg);
	}
	return -EINVAL;
}

int sim_net_config_check(const struct sim_net_config *cfg, char *err, size_t errlen)
{
	int rc = sim_topo_config_check(&cfg->topo, err, errlen);

	if (rc)
		return rc;
	if (cfg->link_rate_bps < 1000000 || cfg->link_rate_bps > 10000000000000ull)
		return net_fail(err, errlen, "link rate must be 1 Mbit/s..10 Tbit/s", -1);
	if (cfg->hop_delay_ns > 1000000000ull)
		return net_fail(err, errlen, "hop delay must be at most 1 s", -1);
	if (cfg->limit_bytes == 0)
		return net_fail(err, errlen, "the queue limit must be > 0", -1);
	if (cfg->overhead_bytes > 65535)
		return net_fail(err, errlen, "overhead must be at most 65535 bytes", -1);
	if (cfg->nevents > SIM_NET_MAX_EVENTS)
		return net_fail(err, errlen, "too many link schedule entries", -1);
	return 0;
}

/* Check the schedule against the built topology (cable numbers, host cables). */
static int check_events(const struct sim_net_config *cfg, const struct sim_topo *t, char *err,
			size_t errlen)
{
	for (uint32_t i = 0; i < cfg->nevents; i++) {
		const struct sim_link_event *e = &cfg->events[i];

		if (e->cable >= t->cables)
			return net_fail(err, errlen, "no such cable", i);
		if (e->change != SIM_LINK_DOWN && e->change != SIM_LINK_UP &&
		    e->change != SIM_LINK_RATE)
			return net_fail(err, errlen, "unknown change", i);
		if (e->change == SIM_LINK_RATE &&
		    (t->cable[e->cable].tier == SIM_TIER_HOST ||
		     !(e->rate_factor > 0.0 && e->rate_factor <= 1.0)))
			return net_fail(err, errlen,
					"a rate change needs a switch cable and a factor in (0, 1]", i);
	}
	return 0;
}

/* ---- creation ------------------------------------------------------------------------ */

int sim_net_create(const struct sim_net_config *cfg, struct sim_evq *q,
		   const struct sim_fabric_cb *cb, struct sim_net **out, char *err, size_t errlen)
{
	struct sim_net *net;
	uint64_t x;
	int rc;

	rc = sim_net_config_check(cfg, err, errlen);
	if (rc)
		return rc;
	if (!cb || !cb->deliver || !q)
		return net_fail(err, errlen, "a queue and a deliver callback are required", -1);
	net = calloc(1, sizeof(*net));
	if (!net)
		goto fail_nomem;
	net->cfg = *cfg;
	net->q = q;
	net->cb = *cb;
	net->free_head = NET_SLOT_NONE;
	rc = sim_topo_build(&cfg->topo, &net->topo, err, errlen);
	if (rc)
		goto fail_free;
	rc = check_events(cfg, net->topo, err, errlen);
	if (rc)
		goto fail_free;
	net->node_seed = calloc(net->topo->nodes, sizeof(*net->node_seed));
	net->links = calloc(2 * (size_t)net->topo->cables, sizeof(*net->links));
	if (!net->node_seed || !net->links)
		goto fail_nomem_free;
	x = cfg->seed;
	for (uint32_t n = 0; n < net->topo->nodes; n++)
		net->node_seed[n] = srd_rng_splitmix(&x);
	for (uint32_t l = 0; l < 2 * net->topo->cables; l++) {
		net->links[l].rate_bps = cfg->link_rate_bps;
		net->links[l].up = 1;
	}
	for (uint32_t i = 0; i < cfg->nevents; i++) {
		rc = sim_evq_push(q, cfg->events[i].at_ns, SIM_EV_NET_LINK, (int)i, 0, NULL);
		if (rc)
			goto fail_nomem_free;
	}
	*out = net;
	return 0;

fail_nomem_free:
	rc = -ENOMEM;
	if (errlen > 0)
		snprintf(err, errlen, "out of memory");
fail_free:
	sim_net_destroy(net);
	return rc;
fail_nomem:
	if (errlen > 0)
		snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void sim_net_destroy(struct sim_net *net)
{
	if (!net)
		return;
	for (uint32_t i = 0; i < net->npkts; i++)
		free(net->pkts[i].buf);
	free(net->pkts);
	free(net->links);
	free(net->node_seed);
	sim_topo_destroy(net->topo);
	free(net);
}

/* ---- packet slots ---------------------------------------------------------------------- */

/* Take a free slot able to hold len bytes.  Returns its index, or NET_SLOT_NONE. */
static uint32_t slot_get(struct sim_net *net, uint32_t len)
{
	struct net_pkt *p;
	uint32_t i;

	if (net->free_head == NET_SLOT_NONE) {
		uint32_t ncap = net->npkts ? net->npkts * 2 : 256;
		struct net_pkt *np;

		if (ncap <= net->npkts || ncap > INT32_MAX)
			return NET_SLOT_NONE;
		np = realloc(net->pkts, (size_t)ncap * sizeof(*np));
		if (!np)
			return NET_SLOT_NONE;
		memset(np + net->npkts, 0, (size_t)(ncap - net->npkts) * sizeof(*np));
		for (uint32_t k = net->npkts; k < ncap; k++)
			np[k].next_free = k + 1 < ncap ? k + 1 : NET_SLOT_NONE;
		net->free_head = net->npkts;
		net->pkts = np;
		net->npkts = ncap;
	}
	i = net->free_head;
	p = &net->pkts[i];
	if (p->cap < len) {
		uint32_t ncap = len < NET_MIN_BUF ? NET_MIN_BUF : len;
		uint8_t *nb = realloc(p->buf, ncap);

		if (!nb)
			return NET_SLOT_NONE;
		p->buf = nb;
		p->cap = ncap;
	}
	net->free_head = p->next_free;
	p->next_free = NET_SLOT_NONE;
	p->in_use = 1;
	net->in_flight++;
	return i;
}

static void slot_put(struct sim_net *net, uint32_t i)
{
	struct net_pkt *p = &net->pkts[i];

	p->in_use = 0;
	p->next_free = net->free_head;
	net->free_head = i;
	net->in_flight--;
}

static void drop(struct sim_net *net, uint32_t slot, uint64_t now, uint32_t link, int reason)
{
	const struct net_pkt *p = &net->pkts[slot];

	if (net->cb.drop)
		net->cb.drop(net->cb.user, (int)p->src, (int)p->dst, now, (int)link, reason);
	slot_put(net, slot);
}

/* ---- forwarding --------------------------------------------------------------------------- */

/* The switch's hash of a packet's 5-tuple (addresses, source port; the destination port
 * and protocol are the same for every SRD packet), with the switch's seed. */
static inline uint32_t flow_hash(uint64_t seed, uint32_t src, uint32_t dst, uint16_t entropy)
{
	uint64_t x = seed ^ ((uint64_t)src << 40) ^ ((uint64_t)dst << 16) ^ entropy;

	return (uint32_t)(srd_rng_splitmix(&x) >> 32);
}

uint32_t sim_net_next_link(const struct sim_net *net, uint32_t node, int src, int dst,
			   uint16_t entropy)
{
	return sim_topo_route(net->topo, node, (uint32_t)dst,
			      flow_hash(net->node_seed[node], (uint32_t)src, (uint32_t)dst, entropy));
}

/* Wire bytes waiting or serializing on link lk at now. */
static inline uint64_t backlog(const struct net_link *lk, uint64_t now)
{
	if (lk->busy_until <= now)
		return 0;
	return (uint64_t)((unsigned __int128)(lk->busy_until - now) * lk->rate_bps /
			  8000000000ull);
}

/* Schedule slot's packet, queued on link l, to arrive at the far end when it has been
 * serialized (at end) and has crossed the cable.  Returns 0, or -ENOMEM (dropped). */
static int depart(struct sim_net *net, uint32_t slot, uint32_t l, uint64_t end, uint64_t now)
{
	struct net_pkt *p = &net->pkts[slot];

	p->link = l;
	p->epoch = net->links[l].epoch;
	if (sim_evq_push(net->q, end + net->cfg.hop_delay_ns, SIM_EV_NET_ARRIVE, (int)slot, 0,
			 NULL)) {
		drop(net, slot, now, l, SIM_FATE_DROP_NOMEM);
		return -ENOMEM;
	}
	return 0;
}

/* Queue a control packet (not ECN-capable) on link l ahead of its data (ctrl_priority):
 * it waits only for the control packets before it, and the data queued after it waits for
 * it (see net.h).  Returns 0, or -ENOMEM. */
static int enqueue_ctrl(struct sim_net *net, uint32_t slot, uint32_t l, uint64_t now,
			uint64_t wire)
{
	struct net_link *lk = &net->links[l];
	uint64_t ser = ser_ns(wire, lk->rate_bps), start;

	start = lk->ctrl_until > now ? lk->ctrl_until : now;
	if ((uint64_t)((unsigned __int128)(start - now) * lk->rate_bps / 8000000000ull) + wire >
	    net->cfg.limit_bytes) {
		lk->st.drops_queue++;
		drop(net, slot, now, l, SIM_FATE_DROP_QUEUE);
		return 0;
	}
	lk->ctrl_until = start + ser;
	lk->busy_until = (lk->busy_until > now ? lk->busy_until : now) + ser;
	return depart(net, slot, l, lk->ctrl_until, now);
}

/* Queue slot's packet on link l at now (or drop it).  Returns 0, or -ENOMEM. */
static int enqueue(struct sim_net *net, uint32_t slot, uint32_t l, uint64_t now)
{
	struct net_pkt *p = &net->pkts[slot];
	struct net_link *lk = &net->links[l];
	uint64_t wire = (uint64_t)p->len + net->cfg.overhead_bytes, q, start;

	if (!lk->up) {
		lk->st.drops_down++;
		lk->st.last_dead_send_ns = now;
		if (p->ect)
			lk->st.last_dead_ect_ns = now;
		drop(net, slot, now, l, SIM_FATE_DROP_DOWN);
		return 0;
	}
	if (net->cfg.ctrl_priority && !p->ect)
		return enqueue_ctrl(net, slot, l, now, wire);
	q = backlog(lk, now);
	if (q + wire > net->cfg.limit_bytes) {
		lk->st.drops_queue++;
		drop(net, slot, now, l, SIM_FATE_DROP_QUEUE);
		return 0;
	}
	if (p->ect && q > net->cfg.ecn_bytes) {
		lk->st.ce_marked++;
		p->ce = 1;
	}
	if (q + wire > lk->st.peak_bytes)
		lk->st.peak_bytes = q + wire;
	start = lk->busy_until > now ? lk->busy_until : now;
	lk->busy_until = start + ser_ns(wire, lk->rate_bps);
	return depart(net, slot, l, lk->busy_until, now);
}

int sim_net_send(struct sim_net *net, uint64_t now, int src, int dst, uint16_t entropy,
		 int ect, const uint8_t *pkt, uint32_t len)
{
	const struct sim_topo *t = net->topo;
	struct net_link *lk;
	struct net_pkt *p;
	uint32_t slot, l;

	if (src < 0 || (uint32_t)src >= t->hosts || dst < 0 || (uint32_t)dst >= t->hosts ||
	    src == dst || len == 0 || len > SIM_FABRIC_MAX_PKT || !pkt)
		return -EINVAL;
	l = t->ports[t->node[src].up_first];
	lk = &net->links[l];
	if (!lk->up) {
		struct sim_fabric_cb *cb = &net->cb;

		lk->st.drops_down++;
		lk->st.last_dead_send_ns = now;
		if (ect)
			lk->st.last_dead_ect_ns = now;
		if (cb->drop)
			cb->drop(cb->user, src, dst, now, (int)l, SIM_FATE_DROP_DOWN);
		return SIM_FATE_DROP_DOWN;
	}
	slot = slot_get(net, len);
	if (slot == NET_SLOT_NONE)
		return -ENOMEM;
	p = &net->pkts[slot];
	memcpy(p->buf, pkt, len);
	p->len = len;
	p->src = (uint32_t)src;
	p->dst = (uint32_t)dst;
	p->entropy = entropy;
	p->ect = ect ? 1 : 0;
	p->ce = 0;
	p->link = l;
	p->epoch = lk->epoch;
	/* the NIC (host.c) serialized it at the cable's rate: it only has to cross the cable */
	if (sim_evq_push(net->q, now + net->cfg.hop_delay_ns, SIM_EV_NET_ARRIVE, (int)slot, 0,
			 NULL)) {
		slot_put(net, slot);
		return -ENOMEM;
	}
	return SIM_FATE_QUEUED;
}

/* A packet reached the far end of its link: deliver it, or forward it. */
static int on_arrive(struct sim_net *net, uint32_t slot, uint64_t now)
{
	struct net_pkt *p = &net->pkts[slot];
	struct net_link *lk = &net->links[p->link];
	uint32_t node;

	if (p->epoch != lk->epoch) {
		/* the link went down while the packet was queued on it or crossing it */
		lk->st.drops_down++;
		drop(net, slot, now, p->link, SIM_FATE_DROP_DOWN);
		return 0;
	}
	lk->st.pkts++;
	lk->st.bytes += (uint64_t)p->len + net->cfg.overhead_bytes;
	node = sim_topo_link_to(net->topo, p->link);
	if (node == p->dst) {
		/* the slot stays in use during the callback, so a send from inside it cannot take
		 * (and overwrite) this buffer */
		net->cb.deliver(net->cb.user, (int)p->src, (int)p->dst, now, p->buf, p->len, p->ce);
		slot_put(net, slot);
		return 0;
	}
	return enqueue(net, slot, sim_net_next_link(net, node, (int)p->src, (int)p->dst, p->entropy),
		       now);
}

/* A schedule entry is due: change both directions of its cable. */
static void on_link_event(struct sim_net *net, const struct sim_link_event *e, uint64_t now)
{
	for (uint32_t d = 0; d < 2; d++) {
		struct net_link *lk = &net->links[2 * e->cable + d];

		switch (e->change) {
		case SIM_LINK_DOWN:
			if (lk->up) {
				lk->up = 0;
				lk->epoch++;        /* what is queued or crossing is lost */
				lk->busy_until = now;
				lk->ctrl_until = now;
			}
			break;
		case SIM_LINK_UP:
			lk->up = 1;
			break;
		case SIM_LINK_RATE:
			lk->rate_bps = (uint64_t)((double)net->cfg.link_rate_bps * e->rate_factor);
			if (lk->rate_bps == 0)
				lk->rate_bps = 1;
			break;
		}
	}
}

int sim_net_handle(struct sim_net *net, const struct sim_event *ev)
{
	switch (ev->type) {
	case SIM_EV_NET_ARRIVE:
		if (ev->a < 0 || (uint32_t)ev->a >= net->npkts || !net->pkts[ev->a].in_use)
			return -EINVAL;
		return on_arrive(net, (uint32_t)ev->a, ev->time_ns);
	case SIM_EV_NET_LINK:
		if (ev->a < 0 || (uint32_t)ev->a >= net->cfg.nevents)
			return -EINVAL;
		on_link_event(net, &net->cfg.events[ev->a], ev->time_ns);
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- queries ------------------------------------------------------------------------------ */

const struct sim_topo *sim_net_topo(const struct sim_net *net)
{
	return net->topo;
}

const struct sim_net_config *sim_net_get_config(const struct sim_net *net)
{
	return &net->cfg;
}

int sim_net_link_stats(const struct sim_net *net, uint32_t link, struct sim_link_stats *st)
{
	if (link >= 2 * net->topo->cables)
		return -EINVAL;
	*st = net->links[link].st;
	return 0;
}

uint64_t sim_net_link_rate(const struct sim_net *net, uint32_t link)
{
	(void)link;
	return net->cfg.link_rate_bps;
}

uint64_t sim_net_in_flight(const struct sim_net *net)
{
	return net->in_flight;
}
