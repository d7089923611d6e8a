/*
 * test_clos.c — the Clos topologies (lib/sim/topo.c) and the packet network over them
 * (lib/sim/net.c): sizes, routes, per-switch ECMP, queue timing, ECN, drop-tail, link
 * schedules, determinism.  Virtual time: every figure is exact.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "plan.h"

#define US 1000ull

/* ---- topologies ---- */

static struct sim_topo *build(struct sim_topo_config tc)
{
	struct sim_topo *t = NULL;
	char err[128];

	assert_int_equal(sim_topo_build(&tc, &t, err, sizeof(err)), 0);
	return t;
}

static void test_fattree_sizes(void **state)
{
	struct sim_topo *t = build((struct sim_topo_config){ .kind = SIM_TOPO_FATTREE, .k = 8 });

	(void)state;
	assert_int_equal(t->hosts, 128);
	assert_int_equal(t->nodes, 128 + 32 + 32 + 16);
	assert_int_equal(t->cables, 3 * 128);
	assert_int_equal(t->tier_first[SIM_TIER_AGG], 128);
	assert_int_equal(t->tier_first[SIM_TIER_CORE], 256);
	/* same edge, same pod, other pod */
	assert_int_equal(sim_topo_hops(t, 0, 1), 2);
	assert_int_equal(sim_topo_paths(t, 0, 1), 1);
	assert_int_equal(sim_topo_hops(t, 0, 4), 4);
	assert_int_equal(sim_topo_paths(t, 0, 4), 4);
	assert_int_equal(sim_topo_hops(t, 0, 127), 6);
	assert_int_equal(sim_topo_paths(t, 0, 127), 16);
	assert_int_equal(sim_topo_hops(t, 5, 5), 0);
	sim_topo_destroy(t);
}

static void test_leafspine_sizes(void **state)
{
	struct sim_topo *t = build((struct sim_topo_config){
		.kind = SIM_TOPO_LEAFSPINE, .leaves = 4, .leaf_hosts = 8, .oversub = 2 });
	struct sim_topo_config bad = { .kind = SIM_TOPO_LEAFSPINE, .leaves = 4, .leaf_hosts = 8,
				       .oversub = 3 };
	char err[128];

	(void)state;
	assert_int_equal(t->hosts, 32);
	assert_int_equal(t->nodes, 32 + 4 + 4); /* 8 hosts per leaf / 2: 4 spines */
	assert_int_equal(t->cables, 32 + 16);
	assert_int_equal(sim_topo_hops(t, 0, 7), 2);
	assert_int_equal(sim_topo_hops(t, 0, 8), 4);
	assert_int_equal(sim_topo_paths(t, 0, 8), 4);
	sim_topo_destroy(t);
	assert_int_equal(sim_topo_config_check(&bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "oversubscription"));
	bad = (struct sim_topo_config){ .kind = SIM_TOPO_FATTREE, .k = 7 };
	assert_int_equal(sim_topo_config_check(&bad, err, sizeof(err)), -EINVAL);
	assert_int_equal(sim_topo_host_count(&bad), 0);
}

/* From every host to every host, whatever the switches' hashes choose, a packet reaches its
 * destination in exactly the route's number of hops. */
static void test_routes_reach(void **state)
{
	struct sim_topo *t = build((struct sim_topo_config){ .kind = SIM_TOPO_FATTREE, .k = 4 });
	uint32_t h = 0x9e3779b9u;

	(void)state;
	for (uint32_t a = 0; a < t->hosts; a++) {
		for (uint32_t b = 0; b < t->hosts; b++) {
			uint32_t n = a, hops = 0;

			if (a == b)
				continue;
			while (n != b && hops < 10) {
				h = h * 1664525u + 1013904223u;
				n = sim_topo_link_to(t, sim_topo_route(t, n, b, h));
				hops++;
			}
			assert_int_equal(n, b);
			assert_int_equal(hops, sim_topo_hops(t, a, b));
		}
	}
	sim_topo_destroy(t);
}

static void test_cable_names(void **state)
{
	struct sim_topo *t = build((struct sim_topo_config){ .kind = SIM_TOPO_FATTREE, .k = 8 });
	char name[64];
	uint32_t c;

	(void)state;
	assert_int_equal(sim_topo_parse_cable(t, "core:5", &c), 0);
	assert_int_equal(c, 256 + 5);
	assert_string_equal(sim_topo_cable_name(t, c, name, sizeof(name)), "agg 0.1 - core 5");
	assert_int_equal(sim_topo_parse_cable(t, "host:3", &c), 0);
	assert_string_equal(sim_topo_cable_name(t, c, name, sizeof(name)), "host 3 - edge 0.0");
	assert_int_equal(sim_topo_parse_cable(t, "200", &c), 0);
	assert_int_equal(c, 200);
	assert_int_equal(sim_topo_parse_cable(t, "core:128", &c), -EINVAL);
	assert_int_equal(sim_topo_parse_cable(t, "spine:0", &c), -EINVAL);
	assert_int_equal(sim_topo_parse_cable(t, "384", &c), -EINVAL);
	assert_int_equal(sim_topo_parse_cable(t, "-1", &c), -EINVAL);
	sim_topo_destroy(t);
}

/* ---- the network ---- */

/* A delivered or dropped packet, as the callbacks saw it. */
struct seen {
	uint64_t t[16];    /* delivery times */
	int ce[16];        /* CE marks */
	uint32_t len[16];  /* packet lengths */
	uint32_t n;        /* deliveries */
	uint32_t drops[8]; /* drops by reason */
};

static void on_deliver(void *user, int src, int dst, uint64_t now, const uint8_t *pkt,
		       uint32_t len, int ce)
{
	struct seen *s = user;

	(void)src, (void)dst, (void)pkt;
	if (s->n < 16) {
		s->t[s->n] = now;
		s->ce[s->n] = ce;
		s->len[s->n] = len;
	}
	s->n++;
}

static void on_drop(void *user, int src, int dst, uint64_t now, int where, int reason)
{
	struct seen *s = user;

	(void)src, (void)dst, (void)now, (void)where;
	s->drops[reason]++;
}

struct world {
	struct sim_evq *q;
	struct sim_net *net;
	struct seen seen;
};

static void world_new(struct world *w, const struct sim_net_config *cfg)
{
	struct sim_fabric_cb cb = { .user = &w->seen, .deliver = on_deliver, .drop = on_drop };
	char err[128];

	memset(w, 0, sizeof(*w));
	assert_int_equal(sim_evq_create(&w->q), 0);
	assert_int_equal(sim_net_create(cfg, w->q, &cb, &w->net, err, sizeof(err)), 0);
}

static void world_run(struct world *w)
{
	struct sim_event ev;

	while (sim_evq_pop(w->q, &ev) == 0)
		assert_true(sim_net_handle(w->net, &ev) >= 0);
}

static void world_free(struct world *w)
{
	sim_net_destroy(w->net);
	sim_evq_destroy(w->q);
}

static struct sim_net_config k4(void)
{
	struct sim_topo_config tc = { .kind = SIM_TOPO_FATTREE, .k = 4 };
	struct sim_net_config c;

	sim_net_config_default(&c, &tc);
	return c;
}

/* One packet across the fabric: a hop delay per link, and each switch's store-and-forward
 * serialization (the NIC's is the sender's). */
static void test_one_packet_timing(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w;
	uint8_t pkt[1000] = { 1 };
	uint64_t ser = 86; /* (1000 + 66) * 8 bits at 100 Gbit/s: 85.28 ns, rounded up */

	(void)state;
	world_new(&w, &cfg);
	assert_int_equal(sim_net_send(w.net, 5000, 0, 15, 7, 1, pkt, sizeof(pkt)), SIM_FATE_QUEUED);
	world_run(&w);
	assert_int_equal(w.seen.n, 1);
	assert_int_equal(w.seen.t[0], 5000 + 6 * US + 5 * ser);
	assert_int_equal(w.seen.ce[0], 0);
	assert_int_equal(sim_net_in_flight(w.net), 0);
	assert_int_equal(sim_net_send(w.net, 0, 0, 0, 7, 1, pkt, sizeof(pkt)), -EINVAL);
	assert_int_equal(sim_net_send(w.net, 0, 0, 16, 7, 1, pkt, sizeof(pkt)), -EINVAL);
	world_free(&w);
}

/* Two senders into one receiver at once: the receiver's edge downlink queues the second
 * packet for one serialization; past the ECN threshold packets are marked, past the
 * drop-tail limit dropped. */
static void test_queue_ecn_droptail(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w;
	uint8_t pkt[1000] = { 1 };
	uint64_t ser = 86;

	(void)state;
	world_new(&w, &cfg);
	assert_int_equal(sim_net_send(w.net, 0, 1, 0, 1, 1, pkt, sizeof(pkt)), SIM_FATE_QUEUED);
	assert_int_equal(sim_net_send(w.net, 0, 2, 0, 1, 1, pkt, sizeof(pkt)), SIM_FATE_QUEUED);
	world_run(&w);
	assert_int_equal(w.seen.n, 2);
	/* hosts 1 and 0 share an edge, 2 is on the other edge of the pod: 2 and 4 hops */
	assert_int_equal(w.seen.t[0], 2 * US + ser);
	assert_int_equal(w.seen.t[1], 4 * US + 3 * ser);
	world_free(&w);

	/* a tiny queue: four packets reach host 0's edge at once; the third finds it above
	 * the ECN threshold, the fourth would take it past the limit (the backlog is known
	 * from time, each packet's serialization rounded up to a whole ns: a few bytes over) */
	cfg.ecn_bytes = 1500;
	cfg.limit_bytes = 3 * 1066 + 50;
	world_new(&w, &cfg);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sim_net_send(w.net, 0, 1, 0, 1, 1, pkt, sizeof(pkt)),
				 SIM_FATE_QUEUED);
	world_run(&w);
	struct sim_link_stats st;

	assert_int_equal(w.seen.n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(w.seen.t[i], 2 * US + (i + 1) * ser);
		assert_int_equal(w.seen.ce[i], i == 2);
	}
	assert_int_equal(w.seen.drops[SIM_FATE_DROP_QUEUE], 1);
	assert_int_equal(sim_net_link_stats(w.net, 1 /* host 0's cable, down */, &st), 0);
	assert_int_equal(st.drops_queue, 1);
	assert_int_equal(st.ce_marked, 1);
	assert_int_equal(st.pkts, 3);
	assert_in_range(st.peak_bytes, 3 * 1066, 3 * 1066 + 50);
	world_free(&w);
}

/* A cable taken down loses what crosses it and drops what is sent into it later (counted,
 * with the time of the last one); up again, it carries traffic. */
/* Four data packets (ECN-capable), an ack-sized control packet and a fifth data packet
 * reach host 0's edge downlink at once: with ctrl_priority the control packet goes first,
 * ahead of the queued data, and the data queued after it waits for its serialization; with
 * one FIFO it waits behind the four. */
static void test_ctrl_priority(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w;
	uint8_t pkt[1000] = { 1 }, ack[100] = { 2 };
	uint64_t ser = 86, ack_ser = 14; /* (100 + 66) * 8 bits at 100 Gbit/s: 13.28 ns */

	(void)state;
	assert_int_equal(cfg.ctrl_priority, 1); /* the default */
	for (int prio = 1; prio >= 0; prio--) {
		cfg.ctrl_priority = (uint8_t)prio;
		world_new(&w, &cfg);
		for (int i = 0; i < 4; i++)
			assert_int_equal(sim_net_send(w.net, 0, 1, 0, 1, 1, pkt, sizeof(pkt)),
					 SIM_FATE_QUEUED);
		assert_int_equal(sim_net_send(w.net, 0, 1, 0, 1, 0, ack, sizeof(ack)),
				 SIM_FATE_QUEUED);
		assert_int_equal(sim_net_send(w.net, 0, 1, 0, 1, 1, pkt, sizeof(pkt)),
				 SIM_FATE_QUEUED);
		world_run(&w);
		assert_int_equal(w.seen.n, 6);
		if (prio) {
			assert_int_equal(w.seen.len[0], sizeof(ack));
			assert_int_equal(w.seen.t[0], 2 * US + ack_ser);
			for (uint32_t i = 1; i <= 4; i++)
				assert_int_equal(w.seen.t[i], 2 * US + i * ser);
		} else {
			for (uint32_t i = 0; i < 4; i++)
				assert_int_equal(w.seen.t[i], 2 * US + (i + 1) * ser);
			assert_int_equal(w.seen.len[4], sizeof(ack));
			assert_int_equal(w.seen.t[4], 2 * US + 4 * ser + ack_ser);
		}
		assert_int_equal(w.seen.len[5], sizeof(pkt));
		assert_int_equal(w.seen.t[5], 2 * US + 5 * ser + ack_ser);
		world_free(&w);
	}
}

static void test_link_down_up(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w;
	uint8_t pkt[100] = { 1 };
	struct sim_link_stats st;

	(void)state;
	cfg.nevents = 2;
	cfg.events[0] = (struct sim_link_event){ .at_ns = 500, .cable = 0, .change = SIM_LINK_DOWN };
	cfg.events[1] = (struct sim_link_event){ .at_ns = 20 * US, .cable = 0, .change = SIM_LINK_UP };
	world_new(&w, &cfg);
	/* crossing host 0's cable when it goes down */
	assert_int_equal(sim_net_send(w.net, 0, 0, 15, 1, 1, pkt, sizeof(pkt)), SIM_FATE_QUEUED);
	struct sim_event ev;

	assert_int_equal(sim_evq_pop(w.q, &ev), 0); /* the link event comes first, at 500 */
	assert_int_equal(ev.time_ns, 500);
	assert_int_equal(sim_net_handle(w.net, &ev), 0);
	assert_int_equal(sim_net_send(w.net, 700, 0, 15, 1, 1, pkt, sizeof(pkt)),
			 SIM_FATE_DROP_DOWN);
	world_run(&w); /* the first packet is lost on arrival, the link comes back */
	assert_int_equal(w.seen.n, 0);
	assert_int_equal(w.seen.drops[SIM_FATE_DROP_DOWN], 2);
	assert_int_equal(sim_net_link_stats(w.net, 0, &st), 0);
	assert_int_equal(st.drops_down, 2);
	assert_int_equal(st.last_dead_send_ns, 700);
	assert_int_equal(st.last_dead_ect_ns, 700);
	assert_int_equal(sim_net_send(w.net, 30 * US, 0, 15, 1, 1, pkt, sizeof(pkt)),
			 SIM_FATE_QUEUED);
	world_run(&w);
	assert_int_equal(w.seen.n, 1);
	world_free(&w);

	/* a rate change on a host cable is refused: a host's rate is its NIC's */
	cfg = k4();
	cfg.nevents = 1;
	cfg.events[0] = (struct sim_link_event){ .at_ns = 0, .cable = 0, .change = SIM_LINK_RATE,
						  .rate_factor = 0.5 };
	struct sim_fabric_cb cb = { .deliver = on_deliver };
	struct sim_evq *q;
	struct sim_net *net;
	char err[128];

	assert_int_equal(sim_evq_create(&q), 0);
	assert_int_equal(sim_net_create(&cfg, q, &cb, &net, err, sizeof(err)), -EINVAL);
	cfg.events[0].cable = 20; /* an edge-aggregation cable */
	assert_int_equal(sim_net_create(&cfg, q, &cb, &net, err, sizeof(err)), 0);
	sim_net_destroy(net);
	sim_evq_destroy(q);
}

/* A degraded link serializes at its new rate. */
static void test_link_rate(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w;
	uint8_t pkt[1000] = { 1 };
	uint32_t up;

	(void)state;
	/* host 0 -> host 1 (same edge) goes down host 1's cable: degrade the edge-agg cables
	 * instead and send across the pod, where every route takes one of them */
	cfg.nevents = 4;
	for (uint32_t a = 0; a < 2; a++)
		for (uint32_t b = 0; b < 2; b++)
			cfg.events[2 * a + b] = (struct sim_link_event){
				.at_ns = 0, .cable = 16 + 2 * a + b, .change = SIM_LINK_RATE,
				.rate_factor = 0.25 };
	world_new(&w, &cfg);
	world_run(&w);
	assert_int_equal(sim_net_send(w.net, 0, 0, 2, 3, 1, pkt, sizeof(pkt)), SIM_FATE_QUEUED);
	world_run(&w);
	/* 4 hops: edge->agg and agg->edge at 25 Gbit/s (342 ns each), edge->host at 100 (86) */
	assert_int_equal(w.seen.n, 1);
	assert_int_equal(w.seen.t[0], 4 * US + 2 * 342 + 86);
	up = sim_net_next_link(w.net, 16, 0, 2, 3);
	assert_true(up / 2 >= 16 && up / 2 < 32);
	world_free(&w);
}

/* Each switch hashes the 5-tuple with its own seed: the same flow takes the same route, the
 * entropy values of one pair spread over every up port, and another seed routes them
 * differently. */
static void test_ecmp_per_switch(void **state)
{
	struct sim_net_config cfg = k4();
	struct world w, w2;
	uint32_t count[2][2] = { { 0 } }, edge0 = 16, same = 0;

	(void)state;
	world_new(&w, &cfg);
	cfg.seed = 2;
	world_new(&w2, &cfg);
	for (uint16_t e = 0; e < 1000; e++) {
		uint32_t l = sim_net_next_link(w.net, edge0, 0, 15, e);

		assert_int_equal(l, sim_net_next_link(w.net, edge0, 0, 15, e));
		assert_true(l % 2 == 0); /* up */
		count[0][(l / 2 - 16) % 2]++;
		same += l == sim_net_next_link(w2.net, edge0, 0, 15, e);
	}
	assert_in_range(count[0][0], 400, 600);
	assert_in_range(same, 350, 650); /* independent choices agree half the time */
	world_free(&w);
	world_free(&w2);
}

/* ---- plans ---- */

static void test_plans(void **state)
{
	struct sim_wl_config wl = { .kind = SIM_WL_PERM, .size = 1000 };
	struct sim_plan *p;
	char err[128];

	(void)state;
	assert_int_equal(sim_plan_build(&wl, 16, 100000000000ull, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p->nx, 16);
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t into = 0;

		assert_int_not_equal(p->x[i].src, p->x[i].dst);
		for (uint32_t j = 0; j < 16; j++)
			into += p->x[j].dst == i;
		assert_int_equal(into, 1); /* a permutation */
	}
	sim_plan_destroy(p);

	wl = (struct sim_wl_config){ .kind = SIM_WL_ALLREDUCE, .size = 1000, .ranks = 8 };
	assert_int_equal(sim_plan_build(&wl, 16, 100000000000ull, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p->nx, 8 * 14);
	assert_int_equal(p->nroots, 8);
	sim_plan_destroy(p);

	wl = (struct sim_wl_config){ .kind = SIM_WL_ALLTOALL, .size = 1000, .ranks = 8,
				     .inflight = 2 };
	assert_int_equal(sim_plan_build(&wl, 16, 100000000000ull, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p->nx, 8 * 7);
	assert_int_equal(p->nroots, 8 * 2);
	sim_plan_destroy(p);

	wl = (struct sim_wl_config){ .kind = SIM_WL_MOE, .size = 1000, .ranks = 8, .tokens = 4,
				     .topk = 3 };
	assert_int_equal(sim_plan_build(&wl, 16, 100000000000ull, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p->nx, 2 * 8 * 4 * 3);
	assert_int_equal(p->nroots, 8 * 4 * 3);
	sim_plan_destroy(p);

	/* Poisson at 50% load for 1 ms on 128 hosts: the offered bytes are about half of what
	 * the hosts can send in that time */
	wl = (struct sim_wl_config){ .kind = SIM_WL_WEBSEARCH, .load = 0.5, .duration_ns = 1000000 };
	assert_int_equal(sim_plan_build(&wl, 128, 100000000000ull, 1, &p, err, sizeof(err)), 0);
	assert_in_range(p->total_bytes / 1000000, 500, 1100); /* 800 MB expected */
	for (uint32_t i = 1; i < p->nroots; i++)
		assert_true(p->x[p->roots[i]].release_ns >= p->x[p->roots[i - 1]].release_ns);
	sim_plan_destroy(p);
	assert_in_range((uint64_t)sim_flowdist_mean(SIM_WL_WEBSEARCH), 1600000, 1800000);

	wl = (struct sim_wl_config){ .kind = SIM_WL_MOE, .size = 1000, .ranks = 8, .tokens = 4,
				     .topk = 8 };
	assert_int_equal(sim_plan_build(&wl, 16, 100000000000ull, 1, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "topk"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fattree_sizes),
		cmocka_unit_test(test_leafspine_sizes),
		cmocka_unit_test(test_routes_reach),
		cmocka_unit_test(test_cable_names),
		cmocka_unit_test(test_one_packet_timing),
		cmocka_unit_test(test_queue_ecn_droptail),
		cmocka_unit_test(test_ctrl_priority),
		cmocka_unit_test(test_link_down_up),
		cmocka_unit_test(test_link_rate),
		cmocka_unit_test(test_ecmp_per_switch),
		cmocka_unit_test(test_plans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
