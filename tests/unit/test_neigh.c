/*
 * test_neigh.c — unit tests of ARP (build and parse), route lookup and the neighbour table
 * (dataplane/dp_net.c).  Framing is in test_net.c; shared helpers in net_harness.h.
 */
#include <errno.h>

#include "net_harness.h"

#include "rng.h"

/* ---- ARP ---- */

static void test_arp(void **state)
{
	static const uint8_t expect_req[DP_ARP_FRAME_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
	};
	static const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x09 };
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint8_t fr[DP_ARP_FRAME_LEN];

	(void)state;
	/* Request: broadcast, "who has 10.0.0.2? tell 10.0.0.1". */
	memset(fr, 0xcc, sizeof(fr));
	dp_net_arp_request(fr, PEER_MAC, PEER_IP, LOCAL_IP);
	assert_memory_equal(fr, expect_req, sizeof(fr));
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), DP_RX_ARP);
	assert_int_equal(info.kind, DP_RX_ARP);
	assert_int_equal(info.arp_op, 1);
	assert_memory_equal(info.arp_sha, PEER_MAC, 6);
	assert_int_equal(info.arp_spa, PEER_IP);
	assert_int_equal(info.arp_tpa, LOCAL_IP);

	/* Reply: to the asker. */
	memset(fr, 0xcc, sizeof(fr));
	dp_net_arp_reply(fr, LOCAL_MAC, LOCAL_IP, PEER_MAC, PEER_IP);
	assert_memory_equal(fr, PEER_MAC, 6);
	assert_memory_equal(fr + 6, LOCAL_MAC, 6);
	assert_int_equal(rd16(fr + 12), 0x0806);
	assert_int_equal(rd16(fr + 20), 2);
	assert_memory_equal(fr + 32, PEER_MAC, 6); /* tha */
	l = local_default();
	memcpy(l.mac, PEER_MAC, 6);
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), DP_RX_ARP);
	assert_int_equal(info.arp_op, 2);
	assert_memory_equal(info.arp_sha, LOCAL_MAC, 6);
	assert_int_equal(info.arp_spa, LOCAL_IP);
	assert_int_equal(info.arp_tpa, PEER_IP);
	/* Unicast to someone else. */
	memcpy(l.mac, other, 6);
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), -DP_DROP_NOT_FOR_US);

	/* Malformed. */
	static const struct {
		unsigned off;
		uint8_t val;
	} bad[] = {
		{ 14, 0x01 }, { 15, 0x06 },   /* hardware type 0x0106 (not Ethernet) */
		{ 15, 0x00 },                 /* hardware type 0 */
		{ 16, 0x86 },                 /* protocol 0x8600 */
		{ 17, 0xdd },                 /* protocol 0x08dd */
		{ 18, 8 }, { 18, 0 },         /* hardware length */
		{ 19, 16 }, { 19, 6 },        /* protocol length */
		{ 21, 0 }, { 21, 3 }, { 21, 4 }, { 20, 1 }, /* operation 0, 3 (RARP), 4, 0x101 */
	};
	l = local_default();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dp_net_arp_request(fr, PEER_MAC, PEER_IP, LOCAL_IP);
		fr[bad[i].off] = bad[i].val;
		assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), -DP_DROP_BAD_ARP);
	}
}

/* ---- routes ---- */

static void add_route(struct dp_port_cfg *p, uint32_t prefix, uint8_t len, uint32_t hop)
{
	assert_true(p->nroutes < DP_MAX_ROUTES);
	p->routes[p->nroutes].prefix = prefix;
	p->routes[p->nroutes].len = len;
	p->routes[p->nroutes].next_hop = hop;
	p->nroutes++;
}

static void port_default(struct dp_port_cfg *p)
{
	memset(p, 0, sizeof(*p));
	p->ipv4 = LOCAL_IP;
	p->prefix_len = 24;
	p->gateway = IP4(10, 0, 0, 1);
}

static void test_route_onlink_and_gateway(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 77)), IP4(10, 0, 0, 77));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 255)), IP4(10, 0, 0, 255));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 1, 1)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(8, 8, 8, 8)), IP4(10, 0, 0, 1));
	/* No gateway, no route: nothing. */
	p->gateway = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(8, 8, 8, 8)), 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 9)), IP4(10, 0, 0, 9));
	/* Other subnet sizes. */
	p->prefix_len = 16;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 200, 9)), IP4(10, 0, 200, 9));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 0, 9)), 0);
	p->prefix_len = 32;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 3)), 0);
	p->prefix_len = 31;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 3)), IP4(10, 0, 0, 3));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 4)), 0);
	free(p);
}

static void test_route_longest_prefix(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	/* Overlapping routes, deliberately not in length order. */
	add_route(p, IP4(10, 0, 0, 0), 8, IP4(10, 0, 0, 10));
	add_route(p, IP4(10, 1, 2, 0), 24, IP4(10, 0, 0, 30));
	add_route(p, IP4(10, 1, 0, 0), 16, IP4(10, 0, 0, 20));
	add_route(p, IP4(10, 1, 2, 128), 25, 0);                 /* on-link */
	add_route(p, IP4(192, 168, 5, 0), 24, 0);                /* on-link */
	add_route(p, IP4(172, 16, 0, 9), 32, IP4(10, 0, 0, 40)); /* a host route */
	add_route(p, IP4(10, 1, 2, 0), 24, IP4(10, 0, 0, 31));   /* same as above: first wins */

	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 3)), IP4(10, 0, 0, 30));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 127)), IP4(10, 0, 0, 30));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 128)), IP4(10, 1, 2, 128));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 200)), IP4(10, 1, 2, 200));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 3, 3)), IP4(10, 0, 0, 20));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 9, 9, 9)), IP4(10, 0, 0, 10));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 5)); /* subnet */
	assert_int_equal(dp_net_next_hop(p, IP4(192, 168, 5, 7)), IP4(192, 168, 5, 7));
	assert_int_equal(dp_net_next_hop(p, IP4(192, 168, 6, 7)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(172, 16, 0, 9)), IP4(10, 0, 0, 40));
	assert_int_equal(dp_net_next_hop(p, IP4(172, 16, 0, 8)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), IP4(10, 0, 0, 1));
	p->gateway = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 200, 0, 1)), IP4(10, 0, 0, 10));

	/* A /0 route is a default route: it matches everything, before the gateway. */
	p->gateway = IP4(10, 0, 0, 1);
	add_route(p, 0, 0, IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(255, 255, 255, 254)), IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 3, 3)), IP4(10, 0, 0, 20));
	free(p);
}

/* The port's own subnet takes part in the match like a connected route: a longer route
 * inside it wins, one of the same length does not. */
static void test_route_inside_subnet(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	add_route(p, IP4(10, 0, 0, 0), 24, IP4(10, 0, 0, 50));
	add_route(p, IP4(10, 0, 0, 128), 25, IP4(10, 0, 0, 60));
	add_route(p, IP4(10, 0, 0, 7), 32, 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 5));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 200)), IP4(10, 0, 0, 60));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 7)), IP4(10, 0, 0, 7));
	/* A port without an address has no subnet. */
	p->ipv4 = 0;
	p->prefix_len = 0;
	p->nroutes = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 1));
	/* A /32 route: that host only. */
	add_route(p, IP4(203, 0, 113, 5), 32, IP4(10, 0, 0, 70));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 5)), IP4(10, 0, 0, 70));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 4)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 6)), IP4(10, 0, 0, 1));
	free(p);
}

/* The lookup against a brute-force scan, over random tables. */
static void test_route_random(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct srd_rng rng;

	(void)state;
	assert_non_null(p);
	srd_rng_seed(&rng, 77);
	for (int round = 0; round < 2000; round++) {
		memset(p, 0, sizeof(*p));
		p->ipv4 = IP4(10, 0, 0, 2);
		p->prefix_len = (uint8_t)(8 + srd_rng_below(&rng, 25));
		p->gateway = srd_rng_below(&rng, 2) ? IP4(10, 0, 0, 1) : 0;
		p->nroutes = srd_rng_below(&rng, DP_MAX_ROUTES + 1);
		for (uint32_t i = 0; i < p->nroutes; i++) {
			uint8_t len = (uint8_t)srd_rng_below(&rng, 33);
			uint32_t m = len ? 0xffffffffu << (32 - len) : 0;

			p->routes[i].len = len;
			p->routes[i].prefix = (IP4(10, 0, 0, 0) | (uint32_t)srd_rng_below(&rng, 1u << 20) << 4) & m;
			p->routes[i].next_hop = srd_rng_below(&rng, 3) ? (uint32_t)srd_rng_next(&rng) | 1 : 0;
		}
		for (int q = 0; q < 50; q++) {
			uint32_t dst = IP4(10, 0, 0, 0) | (uint32_t)srd_rng_below(&rng, 1u << 24);
			uint32_t sm = 0xffffffffu << (32 - p->prefix_len);
			int best = -1;
			uint32_t hop = 0, expect;

			if (((dst ^ p->ipv4) & sm) == 0)
				best = p->prefix_len;
			for (uint32_t i = 0; i < p->nroutes; i++) {
				uint32_t m = p->routes[i].len ? 0xffffffffu << (32 - p->routes[i].len) : 0;

				if ((dst & m) == p->routes[i].prefix && (int)p->routes[i].len > best) {
					best = p->routes[i].len;
					hop = p->routes[i].next_hop;
				}
			}
			expect = best < 0 ? p->gateway : (hop ? hop : dst);
			assert_int_equal(dp_net_next_hop(p, dst), expect);
		}
	}
	free(p);
}

/* ---- neighbour table ---- */

static void mac_of(uint32_t ip, uint8_t tag, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = tag;
	wr32(mac + 2, ip);
}

/* The state of ipv4's entry, FREE if it has none; also checks no key appears twice. */
static int neigh_state(const struct dp_neigh_table *t, uint32_t ipv4)
{
	int found = DP_NEIGH_FREE, n = 0;

	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		if (t->e[i].state != DP_NEIGH_FREE && t->e[i].ipv4 == ipv4) {
			found = t->e[i].state;
			n++;
		}
	assert_true(n <= 1);
	return found;
}

static uint32_t neigh_used(const struct dp_neigh_table *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		n += t->e[i].state != DP_NEIGH_FREE;
	return n;
}

static void test_neigh_defaults(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6];
	int send = 7;

	(void)state;
	memset(&t, 0xab, sizeof(t));
	dp_neigh_init(&t, NULL);
	assert_int_equal(t.expire_ns, 60 * SEC);
	assert_int_equal(t.retry_ns, 100 * MS);
	assert_int_equal(t.misses, 0);
	assert_int_equal(neigh_used(&t), 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, 0, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(t.misses, 1);
	/* send_request may be NULL. */
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 9), 0, mac, NULL), -EAGAIN);
	assert_int_equal(t.misses, 2);
}

static void test_neigh_static(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct dp_neigh_table t;
	uint8_t mac[6], want[6], junk[6];
	int send;

	(void)state;
	assert_non_null(p);
	port_default(p);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		p->neigh[i].ipv4 = IP4(10, 0, (uint8_t)(i / 8), (uint8_t)(i % 8 * 32 + 1));
		mac_of(p->neigh[i].ipv4, 0x51, p->neigh[i].mac);
	}
	p->nneigh = DP_MAX_NEIGH;
	dp_neigh_init(&t, p);
	assert_int_equal(neigh_used(&t), DP_MAX_NEIGH);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		uint32_t ip = p->neigh[i].ipv4;

		assert_int_equal(neigh_state(&t, ip), DP_NEIGH_STATIC);
		mac_of(ip, 0x99, junk);
		dp_neigh_learn(&t, ip, junk, 5 * SEC); /* never replaces a static entry */
		send = 7;
		assert_int_equal(dp_neigh_lookup(&t, ip, 1000 * SEC, mac, &send), 0);
		mac_of(ip, 0x51, want);
		assert_memory_equal(mac, want, 6);
		assert_int_equal(send, 0);
		assert_int_equal(neigh_state(&t, ip), DP_NEIGH_STATIC);
	}
	assert_int_equal(t.misses, 0);
	free(p);
}

static void test_neigh_resolve_cycle(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6], m1[6], m2[6];
	uint64_t t0 = 5 * SEC, tl;
	int send;

	(void)state;
	dp_neigh_init(&t, NULL);
	mac_of(PEER_IP, 1, m1);
	mac_of(PEER_IP, 2, m2);

	/* Unknown: ask, then hold off for retry_ns. */
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 100 * MS - 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 100 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 150 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 200 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(t.misses, 6);

	/* The reply. */
	tl = t0 + 210 * MS;
	dp_neigh_learn(&t, PEER_IP, m1, tl);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_RESOLVED);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl, mac, &send), 0);
	assert_memory_equal(mac, m1, 6);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 45 * SEC - 1, mac, &send), 0);
	assert_int_equal(send, 0);
	/* the last quarter of its life: still answered, and asked again (rate-limited) so that
	 * a live neighbour's answer comes before it expires */
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 45 * SEC, mac, &send), 0);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 45 * SEC + 100 * MS - 1, mac, &send), 0);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 45 * SEC + 100 * MS, mac, &send), 0);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC - 1, mac, &send), 0);
	assert_memory_equal(mac, m1, 6);
	assert_int_equal(t.misses, 6);
	/* the answer: a fresh life, no more requests */
	dp_neigh_learn(&t, PEER_IP, m1, tl + 50 * SEC);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC, mac, &send), 0);
	assert_int_equal(send, 0);
	tl += 20 * SEC;

	/* A new MAC (gratuitous ARP, a replaced NIC) replaces the old one and refreshes it. */
	tl += 30 * SEC;
	dp_neigh_learn(&t, PEER_IP, m2, tl);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC - 1, mac, &send), 0);
	assert_memory_equal(mac, m2, 6);

	/* Expired: ask again (at once), then rate-limited again. */
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC + 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	dp_neigh_learn(&t, PEER_IP, m2, tl + 61 * SEC);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 61 * SEC, mac, &send), 0);
	assert_memory_equal(mac, m2, 6);

	/* The intervals are public: a test (or the daemon) may change them. */
	t.retry_ns = 10;
	t.expire_ns = 1000;
	dp_neigh_learn(&t, IP4(10, 0, 0, 7), m1, 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 999, mac, &send), 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1000, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1009, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1010, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);

	/* Nonsense is not learned: a probe's 0.0.0.0, group and zero MACs. */
	{
		static const uint8_t group[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
		static const uint8_t zero[6];

		dp_neigh_learn(&t, 0, m1, 0);
		assert_int_equal(neigh_state(&t, 0), DP_NEIGH_FREE);
		dp_neigh_learn(&t, IP4(10, 0, 0, 8), group, 0);
		dp_neigh_learn(&t, IP4(10, 0, 0, 8), zero, 0);
		assert_int_equal(neigh_state(&t, IP4(10, 0, 0, 8)), DP_NEIGH_FREE);
	}
}

static void test_neigh_full(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint64_t now = 1 * SEC;
	int send;

	(void)state;
	dp_neigh_init(&t, NULL);
	/* 256 pending addresses fill the table. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 1, 0, 0) + i, now, mac, &send), -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	send = 7;
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 2, 0, 0), now, mac, &send), -ENOSPC);
	assert_int_equal(send, 0);
	assert_int_equal(t.misses, DP_NEIGH_SLOTS + 1);
	/* Learning an address with no slot is ignored. */
	mac_of(IP4(10, 2, 0, 0), 3, m);
	dp_neigh_learn(&t, IP4(10, 2, 0, 0), m, now);
	assert_int_equal(neigh_state(&t, IP4(10, 2, 0, 0)), DP_NEIGH_FREE);
	/* Everything present is still found, and resolves. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		mac_of(IP4(10, 1, 0, 0) + i, 3, m);
		dp_neigh_learn(&t, IP4(10, 1, 0, 0) + i, m, now + 1);
	}
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		mac_of(IP4(10, 1, 0, 0) + i, 3, m);
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 1, 0, 0) + i, now + 2, mac, &send), 0);
		assert_memory_equal(mac, m, 6);
	}
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 2, 0, 0), now + 2, mac, &send), -ENOSPC);

	/* Pending entries nobody asks for again go stale too, and their slots are reused. */
	dp_neigh_init(&t, NULL);
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 3, 0, 0) + i, now, mac, &send), -EAGAIN);
	/* Refreshed by retries, one stays busy... */
	for (uint64_t k = 1; k <= 600; k++)
		dp_neigh_lookup(&t, IP4(10, 3, 0, 0), now + k * 100 * MS, mac, &send);
	/* ...the other 255 are stale 60 s after their only request. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS - 1; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 4, 0, 0) + i, now + 60 * SEC, mac, &send),
				 -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_state(&t, IP4(10, 3, 0, 0)), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 3, 0, 1), now + 60 * SEC, mac, &send), -ENOSPC);
}

static void test_neigh_reuse_expired(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint32_t nlearn = DP_NEIGH_SLOTS - DP_MAX_NEIGH;
	int send;

	(void)state;
	assert_non_null(p);
	port_default(p);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		p->neigh[i].ipv4 = IP4(192, 168, 0, 0) + i;
		mac_of(p->neigh[i].ipv4, 0x51, p->neigh[i].mac);
	}
	p->nneigh = DP_MAX_NEIGH;
	dp_neigh_init(&t, p);
	/* 64 static + 192 learned at t = 0: full. */
	for (uint32_t i = 0; i < nlearn; i++) {
		mac_of(IP4(10, 5, 0, 0) + i * 256u, 4, m);
		dp_neigh_learn(&t, IP4(10, 5, 0, 0) + i * 256u, m, 0);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 6, 0, 0), 60 * SEC - 1, mac, &send), -ENOSPC);
	/* 60 s later every learned entry has expired: 192 new addresses take their slots. */
	for (uint32_t i = 0; i < nlearn; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 6, 0, 0) + i, 60 * SEC, mac, &send),
				 -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	/* The statics stayed; the old learned ones are gone and there is no room to ask. */
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(192, 168, 0, 0) + i, 60 * SEC, mac, &send), 0);
		mac_of(IP4(192, 168, 0, 0) + i, 0x51, m);
		assert_memory_equal(mac, m, 6);
	}
	for (uint32_t i = 0; i < nlearn; i++)
		assert_int_equal(neigh_state(&t, IP4(10, 5, 0, 0) + i * 256u), DP_NEIGH_FREE);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 5, 0, 0), 60 * SEC, mac, &send), -ENOSPC);

	/* A learned entry expired in place is renewed in its own slot. */
	dp_neigh_init(&t, NULL);
	mac_of(PEER_IP, 9, m);
	dp_neigh_learn(&t, PEER_IP, m, 0);
	dp_neigh_learn(&t, IP4(10, 7, 0, 0), m, 0);
	dp_neigh_learn(&t, PEER_IP, m, 100 * SEC);
	assert_int_equal(neigh_used(&t), 2);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, 100 * SEC, mac, &send), 0);
	free(p);
}

/* The home slot of ip, read from the table (the hash is private). */
static uint32_t home_slot(uint32_t ip)
{
	static struct dp_neigh_table t;
	uint8_t m[6];

	dp_neigh_init(&t, NULL);
	mac_of(ip, 0, m);
	dp_neigh_learn(&t, ip, m, 0);
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		if (t.e[i].state != DP_NEIGH_FREE)
			return i;
	fail();
	return 0;
}

static void test_neigh_collisions(void **state)
{
	enum { WANT = 40 };
	static const uint32_t homes[] = { 3, DP_NEIGH_SLOTS - 2 }; /* one run wraps around */
	uint32_t ips[2][WANT], extra[WANT / 2], n[2] = { 0, 0 }, nx = 0;
	uint8_t seen[DP_NEIGH_SLOTS];
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint32_t distinct;
	int send;

	(void)state;
	/* The hash spreads a /24 and addresses differing only in their first octet. */
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < 256; i++)
		seen[home_slot(IP4(10, 0, 0, 0) + i)] = 1;
	distinct = 0;
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		distinct += seen[i];
	assert_true(distinct >= 140); /* 256 balls in 256 bins: ~162 expected */
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < 256; i++)
		seen[home_slot(i << 24 | 1u)] = 1;
	distinct = 0;
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		distinct += seen[i];
	assert_true(distinct >= 140);

	/* Find WANT addresses for each of two home slots. */
	for (uint32_t ip = IP4(10, 8, 0, 0); n[0] < WANT || n[1] < WANT || nx < WANT / 2; ip++) {
		uint32_t h = home_slot(ip);

		if (h == homes[0] && n[0] == WANT && nx < WANT / 2)
			extra[nx++] = ip;
		for (int k = 0; k < 2; k++)
			if (h == homes[k] && n[k] < WANT)
				ips[k][n[k]++] = ip;
	}
	dp_neigh_init(&t, NULL);
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < WANT; i++) {
			mac_of(ips[k][i], (uint8_t)k, m);
			if (i % 2)
				dp_neigh_learn(&t, ips[k][i], m, 0);
			else
				assert_int_equal(dp_neigh_lookup(&t, ips[k][i], 0, mac, &send), -EAGAIN);
		}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < WANT; i++) {
			mac_of(ips[k][i], (uint8_t)k, m);
			dp_neigh_learn(&t, ips[k][i], m, 1);
			assert_int_equal(dp_neigh_lookup(&t, ips[k][i], 2, mac, &send), 0);
			assert_memory_equal(mac, m, 6);
			assert_int_equal(neigh_state(&t, ips[k][i]), DP_NEIGH_RESOLVED);
		}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	/* The two runs (3..42, 254..255 then on past 0 into the first run) merged. */
	for (uint32_t i = 0; i < 2 * WANT; i++)
		assert_int_not_equal(t.e[(homes[1] + i) % DP_NEIGH_SLOTS].state, DP_NEIGH_FREE);
	/* 100 s later, refresh the even half of the first chain: its odd half (slots 3..42)
	 * and the whole second chain are stale.  New keys of the same home take the stale
	 * slots first on their way (the odd ones), leaving the second chain alone. */
	for (uint32_t i = 0; i < WANT; i += 2) {
		mac_of(ips[0][i], 0, m);
		dp_neigh_learn(&t, ips[0][i], m, 100 * SEC);
	}
	for (uint32_t i = 0; i < WANT / 2; i++) {
		assert_int_equal(dp_neigh_lookup(&t, extra[i], 100 * SEC, mac, &send), -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	for (uint32_t i = 0; i < WANT; i++) {
		mac_of(ips[0][i], 0, m);
		if (i % 2) {
			assert_int_equal(neigh_state(&t, ips[0][i]), DP_NEIGH_FREE);
			continue;
		}
		assert_int_equal(dp_neigh_lookup(&t, ips[0][i], 100 * SEC, mac, &send), 0);
		assert_memory_equal(mac, m, 6);
	}
	for (uint32_t i = 0; i < WANT / 2; i++)
		assert_int_equal(neigh_state(&t, extra[i]), DP_NEIGH_PENDING);
	for (uint32_t i = 0; i < WANT; i++)
		assert_int_equal(neigh_state(&t, ips[1][i]), DP_NEIGH_RESOLVED);
	/* The second chain is stale: its keys are asked for again, in place. */
	assert_int_equal(dp_neigh_lookup(&t, ips[1][WANT - 1], 100 * SEC, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_used(&t), 2 * WANT);
}

/* Random learns and lookups against a model of the contract.  Which stale entry a new
 * address displaces depends on the private hash, so the model lets the table choose and
 * checks that whatever disappeared was stale. */
struct model_ent {
	uint32_t ip;
	uint8_t state;
	uint8_t mac[6];
	uint64_t updated;
	uint64_t asked;   /* RESOLVED: last refresh request (0: none) */
};

static int model_stale(const struct dp_neigh_table *t, const struct model_ent *e, uint64_t now)
{
	return (e->state == DP_NEIGH_RESOLVED || e->state == DP_NEIGH_PENDING) &&
	       now - e->updated >= t->expire_ns;
}

static void test_neigh_model(void **state)
{
	enum { POOL = 400, MAXE = DP_NEIGH_SLOTS + 1 };
	struct model_ent *md = calloc(MAXE, sizeof(*md));
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	uint32_t pool[POOL], nm = 0;
	static struct dp_neigh_entry snap[DP_NEIGH_SLOTS];
	struct dp_neigh_table t;
	struct srd_rng rng;
	uint64_t now = 0;

	(void)state;
	assert_non_null(md);
	assert_non_null(p);
	srd_rng_seed(&rng, 2024);
	for (uint32_t i = 0; i < POOL; i++) /* subnets, strides, and high octets */
		pool[i] = i < 150 ? IP4(10, 0, 0, 0) + i
			: i < 300 ? IP4(10, 0, 0, 0) + (i - 150) * 4096u : ((i - 300) << 24 | 7u);
	for (uint32_t i = 0; i < 20; i++) {
		p->neigh[i].ipv4 = pool[i * 17];
		mac_of(pool[i * 17], 0xee, p->neigh[i].mac);
		md[nm].ip = pool[i * 17];
		md[nm].state = DP_NEIGH_STATIC;
		memcpy(md[nm].mac, p->neigh[i].mac, 6);
		nm++;
	}
	p->nneigh = 20;
	dp_neigh_init(&t, p);
	t.expire_ns = 5000;
	t.retry_ns = 300;

	for (int step = 0; step < 200000; step++) {
		uint32_t ip = pool[srd_rng_below(&rng, POOL)];
		struct model_ent *e = NULL;
		int any_room, rc, send = 7;
		uint8_t mac[6];
		uint32_t changed = 0;

		memcpy(snap, t.e, sizeof(snap));
		now += srd_rng_below(&rng, 8) == 0 ? srd_rng_below(&rng, 3000) : srd_rng_below(&rng, 20);
		for (uint32_t i = 0; i < nm; i++)
			if (md[i].ip == ip)
				e = &md[i];
		any_room = nm < DP_NEIGH_SLOTS;
		for (uint32_t i = 0; i < nm && !any_room; i++)
			any_room = model_stale(&t, &md[i], now);

		if (srd_rng_below(&rng, 3) == 0) {
			uint8_t m[6];

			mac_of(ip, (uint8_t)srd_rng_below(&rng, 4), m);
			dp_neigh_learn(&t, ip, m, now);
			if (e && e->state == DP_NEIGH_STATIC) {
				/* unchanged */
			} else if (e || any_room) {
				if (!e) {
					e = &md[nm++];
					e->ip = ip;
				}
				e->state = DP_NEIGH_RESOLVED;
				memcpy(e->mac, m, 6);
				e->updated = now;
				e->asked = 0;
			}
		} else {
			uint64_t misses = t.misses;

			rc = dp_neigh_lookup(&t, ip, now, mac, &send);
			if (e && (e->state == DP_NEIGH_STATIC ||
				  (e->state == DP_NEIGH_RESOLVED && !model_stale(&t, e, now)))) {
				int refresh = e->state == DP_NEIGH_RESOLVED &&
					      now - e->updated >= t.expire_ns - t.expire_ns / 4 &&
					      (e->asked == 0 || now - e->asked >= t.retry_ns);

				assert_int_equal(rc, 0);
				assert_memory_equal(mac, e->mac, 6);
				assert_int_equal(send, refresh);
				assert_int_equal(t.misses, misses);
				if (refresh)
					e->asked = now;
			} else if (e && e->state == DP_NEIGH_PENDING && now - e->updated < t.retry_ns) {
				assert_int_equal(rc, -EAGAIN);
				assert_int_equal(send, 0);
				assert_int_equal(t.misses, misses + 1);
			} else if (e || any_room) {
				assert_int_equal(rc, -EAGAIN);
				assert_int_equal(send, 1);
				assert_int_equal(t.misses, misses + 1);
				if (!e) {
					e = &md[nm++];
					e->ip = ip;
					memset(e->mac, 0, 6);
				}
				e->state = DP_NEIGH_PENDING;
				e->updated = now;
			} else {
				assert_int_equal(rc, -ENOSPC);
				assert_int_equal(send, 0);
				assert_int_equal(t.misses, misses + 1);
			}
		}
		/* A slot that changed hands held a stale entry, and at most one did. */
		for (uint32_t s = 0; s < DP_NEIGH_SLOTS; s++) {
			uint32_t gone = UINT32_MAX;

			if (snap[s].state == DP_NEIGH_FREE || snap[s].ipv4 == t.e[s].ipv4)
				continue;
			assert_int_equal(t.e[s].ipv4, ip);
			assert_int_equal(++changed, 1);
			for (uint32_t i = 0; i < nm; i++)
				if (md[i].ip == snap[s].ipv4)
					gone = i;
			assert_int_not_equal(gone, UINT32_MAX);
			assert_true(model_stale(&t, &md[gone], now));
			md[gone] = md[--nm];
		}
		assert_true(nm <= DP_NEIGH_SLOTS);
		/* The table holds exactly the model. */
		if (step % 64 == 0) {
			assert_int_equal(neigh_used(&t), nm);
			for (uint32_t i = 0; i < nm; i++) {
				const struct dp_neigh_entry *te = NULL;

				for (uint32_t s = 0; s < DP_NEIGH_SLOTS; s++)
					if (t.e[s].state != DP_NEIGH_FREE && t.e[s].ipv4 == md[i].ip)
						te = &t.e[s];
				assert_non_null(te);
				assert_int_equal(te->state, md[i].state);
				if (md[i].state != DP_NEIGH_PENDING)
					assert_memory_equal(te->mac, md[i].mac, 6);
				if (md[i].state != DP_NEIGH_STATIC)
					assert_int_equal(te->updated_ns, md[i].updated);
			}
		}
	}
	free(md);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_route_onlink_and_gateway),
		cmocka_unit_test(test_route_longest_prefix),
		cmocka_unit_test(test_route_inside_subnet),
		cmocka_unit_test(test_route_random),
		cmocka_unit_test(test_neigh_defaults),
		cmocka_unit_test(test_neigh_static),
		cmocka_unit_test(test_neigh_resolve_cycle),
		cmocka_unit_test(test_neigh_full),
		cmocka_unit_test(test_neigh_reuse_expired),
		cmocka_unit_test(test_neigh_collisions),
		cmocka_unit_test(test_neigh_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
