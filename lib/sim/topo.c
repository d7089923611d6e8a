/*
 * topo.c — fat-tree and leaf-spine builders, route lengths and names (see topo.h).
 */
#include "topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int topo_fail(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "topology: %s", msg);
	return -EINVAL;
}

int sim_topo_config_check(const struct sim_topo_config *cfg, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	switch (cfg->kind) {
	case SIM_TOPO_FATTREE:
		if (cfg->k < 2 || cfg->k > 64 || cfg->k % 2)
			return topo_fail(err, errlen, "fat-tree k must be even, 2..64");
		return 0;
	case SIM_TOPO_LEAFSPINE:
		if (cfg->leaves < 1 || cfg->leaves > 4096 || cfg->leaf_hosts < 1 ||
		    cfg->leaf_hosts > 4096)
			return topo_fail(err, errlen, "leaf-spine needs 1..4096 leaves of 1..4096 hosts");
		if ((uint64_t)cfg->leaves * cfg->leaf_hosts > SIM_TOPO_MAX_HOSTS)
			return topo_fail(err, errlen, "more than 65536 hosts");
		if (cfg->oversub < 1 || cfg->leaf_hosts % cfg->oversub)
			return topo_fail(err, errlen,
					 "the oversubscription ratio must divide the hosts per leaf");
		return 0;
	}
	return topo_fail(err, errlen, "unknown kind");
}

uint32_t sim_topo_host_count(const struct sim_topo_config *cfg)
{
	if (sim_topo_config_check(cfg, NULL, 0))
		return 0;
	if (cfg->kind == SIM_TOPO_FATTREE)
		return cfg->k * cfg->k * cfg->k / 4;
	return cfg->leaves * cfg->leaf_hosts;
}

/* Storage for a topology of the given sizes (nodes and cables zeroed). */
static struct sim_topo *topo_alloc(uint32_t hosts, uint32_t switches, uint32_t cables)
{
	struct sim_topo *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->hosts = hosts;
	t->nodes = hosts + switches;
	t->cables = cables;
	t->node = calloc(t->nodes, sizeof(*t->node));
	t->cable = calloc(cables, sizeof(*t->cable));
	/* every cable is a down port at its upper node and an up port at its lower node */
	t->ports = calloc(2 * (size_t)cables, sizeof(*t->ports));
	if (!t->node || !t->cable || !t->ports) {
		sim_topo_destroy(t);
		return NULL;
	}
	return t;
}

void sim_topo_destroy(struct sim_topo *t)
{
	if (!t)
		return;
	free(t->node);
	free(t->cable);
	free(t->ports);
	free(t);
}

/* Describe node n: tier, index, host range, child size. */
static void node_set(struct sim_topo *t, uint32_t n, uint8_t tier, uint32_t index,
		     uint32_t lo, uint32_t hi, uint32_t child_hosts)
{
	struct sim_topo_node *nd = &t->node[n];

	nd->tier = tier;
	nd->index = index;
	nd->lo = lo;
	nd->hi = hi;
	nd->child_hosts = child_hosts;
	nd->down_first = nd->up_first = SIM_TOPO_NONE;
}

/* Join lower and upper with cable c of tier. */
static void cable_set(struct sim_topo *t, uint32_t c, uint32_t lower, uint32_t upper,
		      uint8_t tier)
{
	t->cable[c] = (struct sim_topo_cable){ .lower = lower, .upper = upper, .tier = tier };
}

/*
 * Lay out the port table: every node's down ports (its cables to the nodes below, in the
 * order of the hosts they lead to) and up ports (its cables to the nodes above, in cable
 * order).  Down ports are sorted by the lower node's host range, which is what
 * sim_topo_route() indexes by.
 */
static void ports_layout(struct sim_topo *t)
{
	uint32_t at = 0;

	for (uint32_t c = 0; c < t->cables; c++) {
		t->node[t->cable[c].upper].n_down++;
		t->node[t->cable[c].lower].n_up++;
	}
	for (uint32_t n = 0; n < t->nodes; n++) {
		struct sim_topo_node *nd = &t->node[n];

		nd->down_first = at;
		at += nd->n_down;
		nd->up_first = at;
		at += nd->n_up;
		nd->n_down = nd->n_up = 0; /* refilled below */
	}
	for (uint32_t c = 0; c < t->cables; c++) {
		struct sim_topo_node *up = &t->node[t->cable[c].upper];
		struct sim_topo_node *lo = &t->node[t->cable[c].lower];
		uint32_t slot = (lo->lo - up->lo) / up->child_hosts;

		t->ports[up->down_first + slot] = 2 * c + 1;
		up->n_down++;
		t->ports[lo->up_first + lo->n_up++] = 2 * c;
	}
}

static struct sim_topo *build_fattree(uint32_t k)
{
	uint32_t h = k / 2, hosts = k * k * k / 4, pods = k;
	uint32_t edges = k * h, aggs = k * h, cores = h * h;
	uint32_t edge0 = hosts, agg0 = edge0 + edges, core0 = agg0 + aggs;
	uint32_t pod_hosts = h * h;
	struct sim_topo *t = topo_alloc(hosts, edges + aggs + cores, 3 * hosts);

	if (!t)
		return NULL;
	for (uint32_t i = 0; i < hosts; i++)
		node_set(t, i, 0, i, i, i + 1, 1);
	for (uint32_t p = 0; p < pods; p++) {
		for (uint32_t e = 0; e < h; e++) {
			uint32_t lo = p * pod_hosts + e * h;

			node_set(t, edge0 + p * h + e, 1, p * h + e, lo, lo + h, 1);
			node_set(t, agg0 + p * h + e, 2, p * h + e, p * pod_hosts,
				 (p + 1) * pod_hosts, h);
		}
	}
	for (uint32_t c = 0; c < cores; c++)
		node_set(t, core0 + c, 3, c, 0, hosts, pod_hosts);
	t->tier_first[SIM_TIER_HOST] = 0;
	t->tier_first[SIM_TIER_AGG] = hosts;
	t->tier_first[SIM_TIER_CORE] = 2 * hosts;
	t->tier_first[SIM_TIER_COUNT] = 3 * hosts;
	for (uint32_t i = 0; i < hosts; i++)
		cable_set(t, i, i, edge0 + i / h, SIM_TIER_HOST);
	for (uint32_t e = 0; e < edges; e++) {
		uint32_t p = e / h;

		for (uint32_t a = 0; a < h; a++)
			cable_set(t, hosts + e * h + a, edge0 + e, agg0 + p * h + a, SIM_TIER_AGG);
	}
	for (uint32_t a = 0; a < aggs; a++) {
		uint32_t j = a % h; /* the agg's position in its pod picks its core group */

		for (uint32_t i = 0; i < h; i++)
			cable_set(t, 2 * hosts + a * h + i, agg0 + a, core0 + j * h + i,
				  SIM_TIER_CORE);
	}
	t->max_hops = 6; /* there are always two pods or more */
	ports_layout(t);
	return t;
}

static struct sim_topo *build_leafspine(uint32_t leaves, uint32_t per_leaf, uint32_t oversub)
{
	uint32_t hosts = leaves * per_leaf, spines = per_leaf / oversub;
	uint32_t leaf0 = hosts, spine0 = hosts + leaves;
	struct sim_topo *t = topo_alloc(hosts, leaves + spines, hosts + leaves * spines);

	if (!t)
		return NULL;
	for (uint32_t i = 0; i < hosts; i++)
		node_set(t, i, 0, i, i, i + 1, 1);
	for (uint32_t l = 0; l < leaves; l++)
		node_set(t, leaf0 + l, 1, l, l * per_leaf, (l + 1) * per_leaf, 1);
	for (uint32_t s = 0; s < spines; s++)
		node_set(t, spine0 + s, 2, s, 0, hosts, per_leaf);
	t->tier_first[SIM_TIER_HOST] = 0;
	t->tier_first[SIM_TIER_AGG] = hosts;
	t->tier_first[SIM_TIER_CORE] = hosts + leaves * spines;
	t->tier_first[SIM_TIER_COUNT] = hosts + leaves * spines;
	for (uint32_t i = 0; i < hosts; i++)
		cable_set(t, i, i, leaf0 + i / per_leaf, SIM_TIER_HOST);
	for (uint32_t l = 0; l < leaves; l++)
		for (uint32_t s = 0; s < spines; s++)
			cable_set(t, hosts + l * spines + s, leaf0 + l, spine0 + s, SIM_TIER_AGG);
	t->max_hops = leaves > 1 ? 4 : 2;
	ports_layout(t);
	return t;
}

int sim_topo_build(const struct sim_topo_config *cfg, struct sim_topo **out, char *err,
		   size_t errlen)
{
	struct sim_topo *t;
	int rc = sim_topo_config_check(cfg, err, errlen);

	if (rc)
		return rc;
	if (cfg->kind == SIM_TOPO_FATTREE)
		t = build_fattree(cfg->k);
	else
		t = build_leafspine(cfg->leaves, cfg->leaf_hosts, cfg->oversub);
	if (!t) {
		if (errlen > 0)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->cfg = *cfg;
	*out = t;
	return 0;
}

/* Climb from host a until a node whose range holds b; report hops and path count. */
static void climb(const struct sim_topo *t, uint32_t a, uint32_t b, uint32_t *hops,
		  uint32_t *paths)
{
	uint32_t n = a, up = 0, ways = 1;

	while (!(b >= t->node[n].lo && b < t->node[n].hi) && t->node[n].n_up) {
		if (n != a)
			ways *= t->node[n].n_up;
		n = sim_topo_link_to(t, t->ports[t->node[n].up_first]);
		up++;
	}
	*hops = 2 * up;
	*paths = ways;
}

uint32_t sim_topo_hops(const struct sim_topo *t, uint32_t a, uint32_t b)
{
	uint32_t hops, paths;

	if (a == b)
		return 0;
	climb(t, a, b, &hops, &paths);
	return hops;
}

uint32_t sim_topo_paths(const struct sim_topo *t, uint32_t a, uint32_t b)
{
	uint32_t hops, paths;

	if (a == b)
		return 1;
	climb(t, a, b, &hops, &paths);
	return paths;
}

const char *sim_topo_node_name(const struct sim_topo *t, uint32_t n, char *buf, size_t len)
{
	const struct sim_topo_node *nd = &t->node[n];
	uint32_t h = t->cfg.k / 2;

	if (nd->tier == 0)
		snprintf(buf, len, "host %u", nd->index);
	else if (t->cfg.kind == SIM_TOPO_LEAFSPINE)
		snprintf(buf, len, "%s %u", nd->tier == 1 ? "leaf" : "spine", nd->index);
	else if (nd->tier == 3)
		snprintf(buf, len, "core %u", nd->index);
	else
		snprintf(buf, len, "%s %u.%u", nd->tier == 1 ? "edge" : "agg", nd->index / h,
			 nd->index % h);
	return buf;
}

const char *sim_topo_cable_name(const struct sim_topo *t, uint32_t c, char *buf, size_t len)
{
	char a[32], b[32];

	snprintf(buf, len, "%s - %s", sim_topo_node_name(t, t->cable[c].lower, a, sizeof(a)),
		 sim_topo_node_name(t, t->cable[c].upper, b, sizeof(b)));
	return buf;
}

const char *sim_tier_name(enum sim_tier tier)
{
	static const char *const names[SIM_TIER_COUNT] = { "host", "agg", "core" };

	return tier < SIM_TIER_COUNT ? names[tier] : "?";
}

int sim_topo_parse_cable(const struct sim_topo *t, const char *s, uint32_t *cable)
{
	const char *colon = strchr(s, ':');
	uint32_t lo = 0, hi = t->cables;
	unsigned long v;
	char *end;

	if (colon) {
		size_t n = (size_t)(colon - s);
		int tier = -1;

		for (int i = 0; i < SIM_TIER_COUNT; i++)
			if (strlen(sim_tier_name((enum sim_tier)i)) == n &&
			    !strncmp(s, sim_tier_name((enum sim_tier)i), n))
				tier = i;
		if (tier < 0)
			return -EINVAL;
		lo = t->tier_first[tier];
		hi = t->tier_first[tier + 1];
		s = colon + 1;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v >= hi - lo)
		return -EINVAL;
	*cable = lo + (uint32_t)v;
	return 0;
}
