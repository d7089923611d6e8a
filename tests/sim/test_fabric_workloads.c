/*
 * test_fabric_workloads.c — the protocol core over Clos fabrics (lib/sim/workload.c):
 * exactly-once delivery in every workload under every load balancing, and the fabric-scale
 * figures of issue 13 on sizes that run in seconds (S1 and S3 with 512 KiB flows instead
 * of 2 MB; S6 over 32 ranks instead of 128; S7 at full size).
 * Virtual time: the figures are deterministic and asserted.
 *
 * The bounds asserted here are the ones the reduced runs meet (seeds 1-3); the full-size
 * table and how it compares with the targets are in the README ("At fabric scale").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "workload.h"

static struct sim_fab_config cfg;
static struct sim_fab_result res;

/* A k-ary fat-tree with the defaults, the workload, the load balancing, a seed. */
static void setup(uint32_t k, struct sim_wl_config wl, enum sim_lb lb, uint32_t entropies,
		  uint64_t seed)
{
	struct sim_topo_config topo = { .kind = SIM_TOPO_FATTREE, .k = k };

	sim_fab_default(&cfg);
	sim_net_config_default(&cfg.net, &topo);
	cfg.wl = wl;
	cfg.lb = lb;
	cfg.entropies = entropies;
	cfg.seed = seed;
}

static void run(const char *what)
{
	char err[256] = "";
	int rc = sim_fab_run(&cfg, &res, err, sizeof(err));

	if (rc)
		fail_msg("%s: %s", what, err);
	printf("  %-34s %s fct/ideal mean %.3f max %.3f  completion/bound %.3f  retx %llu  "
	       "rto %llu\n",
	       what, sim_lb_name(cfg.lb), res.fct_norm.mean, res.fct_norm.max,
	       res.completion_ratio, (unsigned long long)res.retransmits,
	       (unsigned long long)res.rto_events);
}

/* Every transfer delivered once, intact, and completed without error. */
static void assert_exactly_once(void)
{
	assert_int_equal(res.delivered, res.xfers);
	assert_int_equal(res.sent, res.xfers);
	assert_int_equal(res.duplicates, 0);
	assert_int_equal(res.corrupted, 0);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.lost, 0);
	assert_int_equal(res.unfinished, 0);
}

static void done(void)
{
	sim_fab_result_free(&res);
}

/* Every workload, every load balancing: exactly once. */
static void test_every_workload_exactly_once(void **state)
{
	const struct sim_wl_config wls[] = {
		{ .kind = SIM_WL_PERM, .size = 256 * 1024 },
		{ .kind = SIM_WL_INCAST, .size = 256 * 1024, .ranks = 8 },
		{ .kind = SIM_WL_ALLREDUCE, .size = 64 * 1024, .ranks = 8 },
		{ .kind = SIM_WL_ALLTOALL, .size = 32 * 1024, .ranks = 8, .inflight = 2 },
		{ .kind = SIM_WL_MOE, .size = 7168, .ranks = 8, .tokens = 8, .topk = 3 },
		{ .kind = SIM_WL_WEBSEARCH, .load = 0.5, .duration_ns = 100000 },
		{ .kind = SIM_WL_HADOOP, .load = 0.5, .duration_ns = 100000 },
	};
	const enum sim_lb lbs[] = { SIM_LB_ECMP, SIM_LB_SPRAY, SIM_LB_SRD };
	char what[64];

	(void)state;
	for (size_t w = 0; w < sizeof(wls) / sizeof(wls[0]); w++) {
		for (size_t l = 0; l < 3; l++) {
			setup(4, wls[w], lbs[l], 16, 1);
			snprintf(what, sizeof(what), "%s", sim_wl_name(wls[w].kind));
			run(what);
			assert_true(res.xfers > 0);
			assert_exactly_once();
			done();
		}
	}
}

/* A collective's figures: the ring's steps and the bound they are measured against. */
static void test_collective_figures(void **state)
{
	(void)state;
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_ALLREDUCE, .size = 64 * 1024, .ranks = 8 },
	      SIM_LB_SRD, 0, 1);
	run("allreduce 8 ranks");
	assert_exactly_once();
	assert_int_equal(res.xfers, 8 * 14);
	assert_true(res.completion_ratio >= 1.0 && res.completion_ratio < 1.5);
	/* bus bandwidth 2(n-1) S / T */
	assert_float_equal(res.busbw_gbps, 14.0 * 65536 * 8 / (res.completion_us * 1e3), 1e-6);
	done();
}

/* S1 reduced: k = 8, permutation of 512 KiB.  Single-path ECMP shows the collisions (a
 * flow hashed onto a shared core link runs at half rate or less); spraying over 64 entropy
 * values keeps every flow near its ideal. */
static void test_s1_permutation(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct sim_wl_config wl = { .kind = SIM_WL_PERM, .size = 512 * 1024 };

		setup(8, wl, SIM_LB_ECMP, 0, seed);
		run("S1/512K ECMP");
		assert_exactly_once();
		assert_true(res.fct_norm.mean >= 1.8);
		assert_true(res.fct_norm.max >= 3.5);
		done();
		setup(8, wl, SIM_LB_SRD, 64, seed);
		run("S1/512K spraying");
		assert_exactly_once();
		/* the targets: 1.14-1.16 / 1.23-1.26 now, 1.19-1.22 / 1.30-1.35 with acks
		 * queued behind data and Swift's full allowance under ECN marks */
		assert_true(res.fct_norm.mean <= 1.20);
		assert_true(res.fct_norm.max <= 1.30);
		done();
	}
}

/* Oblivious spraying over 256 values, 1 MiB permutation: an ack that may be for a resent
 * packet's original (its echo names another copy, or it came sooner after the resend than
 * any round trip) does not date the resend (RFC 8985 6.2), and taking it for the resend's
 * made RACK resend packets by the hundred that were only behind other queues: 834 and 1402
 * resends on seeds 1 and 2, 2.5% and 4.1% of the data packets; 368 and 366 (1.1%) now,
 * most of them at flights' tails, where RACK waits one reordering window, not four
 * (80 and 103 with four: the price of recovering a real tail drop 40-50 us sooner). */
static void test_spray_needless_resends(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct sim_wl_config wl = { .kind = SIM_WL_PERM, .size = 1024 * 1024 };

		setup(8, wl, SIM_LB_SPRAY, 256, seed);
		run("S1/1M spray:256");
		assert_exactly_once();
		assert_true(res.retransmits * 200 <= 3 * res.data_pkts); /* 1.5% */
		done();
	}
}

/* S3 reduced: S1/512K with a core link at 25% of its rate from the start and another core
 * link down at 30 us: nothing lost or duplicated with path-aware spraying, and data stops
 * going into the dead link within 100 us (the bound); ECMP's flows hashed onto it fail with an error, never
 * silently. */
static void test_s3_degrade_and_fail(void **state)
{
	struct sim_wl_config wl = { .kind = SIM_WL_PERM, .size = 512 * 1024 };

	(void)state;
	setup(8, wl, SIM_LB_SRD, 64, 1);
	cfg.net.nevents = 2;
	cfg.net.events[0] = (struct sim_link_event){ .at_ns = 0, .cable = 256 + 0,
						     .change = SIM_LINK_RATE, .rate_factor = 0.25 };
	cfg.net.events[1] = (struct sim_link_event){ .at_ns = 30000, .cable = 256 + 5,
						     .change = SIM_LINK_DOWN };
	run("S3/512K spraying");
	assert_exactly_once();
	assert_int_equal(res.nfail, 1);
	assert_int_equal(res.fail[0].cable, 256 + 5);
	assert_true(res.fail[0].lost > 0);
	/* a path whose packets go unanswered stops carrying data within about an RTT and
	 * fails when the first loss is declared (82 us before that, 29 us after; 85 us since
	 * acks echo the data's entropy value, seeds 2 and 3 29 and 28 us: one flow's resent
	 * packet went to the path answered last, whose ack answered a packet sent before the
	 * failure; 25 us, seeds 2 and 3 30 and 31, since a resend goes where packets sent
	 * lately arrive); the slowest flow 3.3 times its ideal (5.8 before: 512 KiB flows
	 * mostly run while the link is slow), 2.62-2.75 on seeds 1-3 with RACK misled by acks
	 * of earlier copies and four reordering windows at a flight's tail, 1.88 (seeds 2 and
	 * 3: 2.30, 2.69) since.  No packet of any kind goes into the dead link after 100 us
	 * (63 us now, 74-86 on seeds 1-3 before reply routes) */
	assert_true(res.fail[0].failover_data_us > 0 && res.fail[0].failover_data_us <= 50.0);
	assert_true(res.fail[0].failover_us >= res.fail[0].failover_data_us &&
		    res.fail[0].failover_us <= 100.0);
	assert_true(res.fct_norm.max <= 2.2);
	done();

	cfg.lb = SIM_LB_ECMP;
	run("S3/512K ECMP");
	assert_int_equal(res.duplicates, 0);
	assert_int_equal(res.corrupted, 0);
	assert_int_equal(res.unfinished, 0);
	assert_true(res.failed > 0);  /* reported, not lost: every one delivered or failed */
	assert_int_equal(res.lost, 0);
	assert_true(res.delivered + res.failed >= res.xfers);
	done();
}

/* S7: 16 senders of 2 MiB into one host (full size: it runs in a tenth of a second): the
 * last one finishes within 5% of N * S / C, with no timeout collapse (at most two timeouts
 * per sender, while the initial windows overflow the receiver's queue).  Seed 11 is one
 * where, before the receiver's credit (credit.c), a sender lost its first window and every
 * resend until the others had finished (1.28); 128 senders on k = 16, seed 1, another
 * (1.08, 3,067 timeouts; now 1.007 with 154). */
static void test_s7_incast(void **state)
{
	static const struct {
		uint32_t k, senders;
		uint64_t seed;
	} runs[] = { { 8, 16, 1 }, { 8, 16, 2 }, { 8, 16, 3 }, { 8, 16, 11 }, { 16, 128, 1 } };

	(void)state;
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		char what[64];

		setup(runs[i].k, (struct sim_wl_config){ .kind = SIM_WL_INCAST,
							 .size = 2 * 1024 * 1024,
							 .ranks = runs[i].senders },
		      SIM_LB_SRD, 0, runs[i].seed);
		snprintf(what, sizeof(what), "S7 incast %u-to-1, 2 MiB, seed %llu",
			 runs[i].senders, (unsigned long long)runs[i].seed);
		run(what);
		assert_exactly_once();
		assert_true(res.completion_ratio <= 1.05);
		assert_true(res.rto_events <= 2 * runs[i].senders);
		done();
	}
}

/* S6 reduced: all-to-all over 32 ranks of a k = 8 fat-tree, 250 KB per pair, 4 in flight
 * per rank.  Every receiver is a 4-way incast of short transfers: a sender that started
 * each with a full BDP window overflowed the receivers' queues (ratio 1.54-1.81, 4-7 K
 * packets resent); with each new connection's first window its share of init_cwnd among
 * the host's sending connections, 1.24-1.39 with a few hundred resent and no timeout. */
static void test_s6_alltoall(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		setup(8, (struct sim_wl_config){ .kind = SIM_WL_ALLTOALL, .size = 250000,
						 .ranks = 32, .inflight = 4 },
		      SIM_LB_SRD, 0, seed);
		run("S6/32 all-to-all 250 KB, 4 in flight");
		assert_exactly_once();
		assert_true(res.completion_ratio <= 1.45);
		assert_true(res.retransmits <= 1000);
		assert_int_equal(res.rto_events, 0);
		done();
	}
}

/* Same seed, same run. */
static void test_deterministic(void **state)
{
	struct sim_fab_result first;

	(void)state;
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_WEBSEARCH, .load = 0.8,
					 .duration_ns = 100000 },
	      SIM_LB_SRD, 0, 7);
	run("websearch, first");
	first = res;
	res.link_util = NULL;
	run("websearch, again");
	assert_int_equal(res.events, first.events);
	assert_int_equal(res.retransmits, first.retransmits);
	assert_memory_equal(&res.fct_us, &first.fct_us, sizeof(first.fct_us));
	assert_memory_equal(res.link_util, first.link_util, res.nlinks * sizeof(double));
	sim_fab_result_free(&first);
	done();
}

static void test_bad_configs(void **state)
{
	char err[256];

	(void)state;
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_ALLREDUCE, .size = 1000, .ranks = 17 },
	      SIM_LB_SRD, 0, 1);
	assert_int_equal(sim_fab_run(&cfg, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ranks"));
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_PERM, .size = 0 }, SIM_LB_SRD, 0, 1);
	assert_int_equal(sim_fab_run(&cfg, &res, err, sizeof(err)), -EINVAL);
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_PERM, .size = 1000 }, SIM_LB_SRD, 300, 1);
	assert_int_equal(sim_fab_run(&cfg, &res, err, sizeof(err)), -EINVAL);
	setup(4, (struct sim_wl_config){ .kind = SIM_WL_PERM, .size = 1000 }, SIM_LB_SRD, 0, 1);
	cfg.net.nevents = 1;
	cfg.net.events[0] = (struct sim_link_event){ .cable = 4800, .change = SIM_LINK_DOWN };
	assert_int_equal(sim_fab_run(&cfg, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cable"));
	assert_int_equal(sim_fab_default_entropies(&cfg.net.topo), 16);
	cfg.net.topo.k = 16;
	assert_int_equal(sim_fab_default_entropies(&cfg.net.topo), 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_workload_exactly_once),
		cmocka_unit_test(test_collective_figures),
		cmocka_unit_test(test_s1_permutation),
		cmocka_unit_test(test_spray_needless_resends),
		cmocka_unit_test(test_s3_degrade_and_fail),
		cmocka_unit_test(test_s6_alltoall),
		cmocka_unit_test(test_s7_incast),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_bad_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
