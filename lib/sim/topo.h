/*
 * topo.h — multi-tier Clos topologies for the network simulator (net.h): nodes, cables,
 * ports and the routing structure every switch forwards by.
 *
 * Two families, both built with hosts numbered so that every switch reaches a contiguous
 * range of hosts downward:
 *   fat-tree k      the 3-tier k-ary fat-tree: k pods of k/2 edge and k/2 aggregation
 *                   switches, (k/2)^2 core switches, k^3/4 hosts; full bisection bandwidth,
 *                   (k/2)^2 equal-cost paths between hosts of different pods;
 *   leaf-spine LxH:O  L leaves of H hosts each and H/O spines, one cable from every leaf to
 *                   every spine at the host rate: O:1 oversubscribed (O = 1: none).
 *
 * Node numbers: hosts 0..hosts-1 first, then the switches tier by tier (edge/leaf, then
 * aggregation/spine, then core).  A cable joins a lower node to an upper one; its two
 * directions are the links 2c (up) and 2c + 1 (down).  Cables are numbered tier by tier too:
 * first the host cables (cable h joins host h to its edge or leaf), then edge-aggregation
 * (or leaf-spine), then aggregation-core.  sim_topo_cable_name() names one.
 *
 * Routing is the structure itself, O(1) per hop and the same for both families: a switch
 * whose host range [lo, hi) holds the destination sends it down the port to the child
 * holding it (one choice); any other destination goes up, to one of its n_up equal-cost
 * ports chosen by the switch's 5-tuple hash (net.c).  A link that is down stays in the
 * equal-cost set: routing protocols take seconds to converge, and the simulated times are
 * far shorter, so a dead link is a blackhole for the packets hashed onto it.
 */
#ifndef SIM_TOPO_H
#define SIM_TOPO_H

#include <stddef.h>
#include <stdint.h>

#define SIM_TOPO_MAX_HOSTS 65536u /* hosts in a topology, at most */
#define SIM_TOPO_NONE UINT32_MAX  /* "no such node / port" */

/* Topology families. */
enum sim_topo_kind {
	SIM_TOPO_FATTREE = 1,   /* 3-tier k-ary fat-tree */
	SIM_TOPO_LEAFSPINE = 2, /* 2-tier leaf-spine */
};

/* Tiers of cables (and of the nodes at their upper end). */
enum sim_tier {
	SIM_TIER_HOST = 0, /* host - edge (or leaf) */
	SIM_TIER_AGG = 1,  /* edge - aggregation (or leaf - spine) */
	SIM_TIER_CORE = 2, /* aggregation - core (fat-tree only) */
	SIM_TIER_COUNT = 3,
};

/* What to build. */
struct sim_topo_config {
	enum sim_topo_kind kind; /* family */
	uint32_t k;              /* fat-tree: switch radix, even, 2..64 */
	uint32_t leaves;         /* leaf-spine: leaves (1..4096) */
	uint32_t leaf_hosts;     /* leaf-spine: hosts per leaf (1..4096) */
	uint32_t oversub;        /* leaf-spine: oversubscription O:1; spines = leaf_hosts / O
	                            (O must divide leaf_hosts) */
};

/* One node (host or switch). */
struct sim_topo_node {
	uint8_t tier;         /* 0 host, 1 edge/leaf, 2 aggregation/spine, 3 core */
	uint32_t index;       /* position among the nodes of its tier (for names) */
	uint32_t lo;          /* first host reachable downward (a host: itself) */
	uint32_t hi;          /* one past the last */
	uint32_t child_hosts; /* hosts below each down port (1 at an edge or leaf) */
	uint32_t down_first;  /* its down links: ports[down_first .. + n_down) */
	uint32_t n_down;      /* down ports (0 at a host) */
	uint32_t up_first;    /* its up links: ports[up_first .. + n_up) */
	uint32_t n_up;        /* up ports: the equal-cost choices (1 at a host, 0 at a core
	                         or spine) */
};

/* One cable (both directions). */
struct sim_topo_cable {
	uint32_t lower;   /* node at the lower end */
	uint32_t upper;   /* node at the upper end */
	uint8_t tier;     /* enum sim_tier */
};

/* A built topology (read-only once built). */
struct sim_topo {
	struct sim_topo_config cfg;   /* as given */
	uint32_t hosts;               /* hosts (nodes 0..hosts-1) */
	uint32_t nodes;               /* hosts and switches */
	uint32_t cables;              /* cables (links = 2 * cables) */
	uint32_t tier_first[SIM_TIER_COUNT + 1]; /* cables of tier t: [tier_first[t],
	                                            tier_first[t + 1]) */
	uint32_t max_hops;            /* links on the longest host-to-host route */
	struct sim_topo_node *node;   /* nodes entries */
	struct sim_topo_cable *cable; /* cables entries */
	uint32_t *ports;              /* link ids, indexed by the nodes' down/up ranges */
};

/* Check *cfg.  Returns 0, or -EINVAL with a sentence in err. */
int sim_topo_config_check(const struct sim_topo_config *cfg, char *err, size_t errlen);

/* Hosts of the topology *cfg describes (0 if it is not valid). */
uint32_t sim_topo_host_count(const struct sim_topo_config *cfg);

/* Build the topology of *cfg into *out (freed with sim_topo_destroy()).  Returns 0, or
 * -EINVAL (bad config, reason in err) or -ENOMEM. */
int sim_topo_build(const struct sim_topo_config *cfg, struct sim_topo **out, char *err,
		   size_t errlen);

/* Free a topology.  NULL is ignored. */
void sim_topo_destroy(struct sim_topo *t);

/* The link a packet for host dst takes out of switch (or host) node, choosing among the
 * equal-cost up ports with hash (any 32-bit value; net.c passes the switch's 5-tuple
 * hash). */
static inline uint32_t sim_topo_route(const struct sim_topo *t, uint32_t node, uint32_t dst,
				      uint32_t hash)
{
	const struct sim_topo_node *n = &t->node[node];

	if (dst >= n->lo && dst < n->hi && n->n_down)
		return t->ports[n->down_first + (dst - n->lo) / n->child_hosts];
	return t->ports[n->up_first + (uint32_t)(((uint64_t)hash * n->n_up) >> 32)];
}

/* The node at the far end of link l. */
static inline uint32_t sim_topo_link_to(const struct sim_topo *t, uint32_t l)
{
	const struct sim_topo_cable *c = &t->cable[l >> 1];

	return (l & 1) ? c->lower : c->upper;
}

/* Links on the route between two hosts (0 for a host to itself). */
uint32_t sim_topo_hops(const struct sim_topo *t, uint32_t a, uint32_t b);

/* Equal-cost paths between two different hosts. */
uint32_t sim_topo_paths(const struct sim_topo *t, uint32_t a, uint32_t b);

/* Write a name for node n ("host 5", "edge 1.2", "agg 0.1", "core 3", "leaf 2", "spine 0")
 * into buf.  Returns buf. */
const char *sim_topo_node_name(const struct sim_topo *t, uint32_t n, char *buf, size_t len);

/* Write a name for cable c ("agg 0.1 - core 2") into buf.  Returns buf. */
const char *sim_topo_cable_name(const struct sim_topo *t, uint32_t c, char *buf, size_t len);

/* Name of a tier of cables ("host", "agg", "core"), as the CLI's cable names use it. */
const char *sim_tier_name(enum sim_tier tier);

/*
 * Parse a cable reference: a cable number, or TIER:N, the N-th cable of a tier ("host:5",
 * "agg:3", "core:0").  Returns 0 and sets *cable, or -EINVAL.
 */
int sim_topo_parse_cable(const struct sim_topo *t, const char *s, uint32_t *cable);

#endif /* SIM_TOPO_H */
