/*
 * test_impair.c — the fabric-impairment stage (dataplane/dp_impair.c) on real mbufs: path
 * hashing, FIFO order, delay and rate, loss, blackhole, ECN marking, frames that are not
 * UDP, and freeing.  Runs its own EAL without hugepages or PCI; time is TSC values the
 * tests choose (the stage never reads a clock).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_impair.h"
#include "dp_net.h"

#define POOL_N 8191u          /* mbufs in the test pool (cache 0: counts are exact) */
#define T0 1000000000ull      /* an arbitrary start time, TSC */
#define FOREVER (UINT64_MAX / 2)

static struct rte_mempool *pool;
static uint64_t hz;
static char runtime_dir[256];   /* the EAL's, removed at the end */
static unsigned pool_base;      /* mbufs available when the running test started */
static struct dp_impair *live[8]; /* stages the running test has not destroyed yet */

/* ---- frames ---- */

/* An Ethernet/IPv4/UDP frame of len bytes (>= 46) from source port sport, TOS ecn,
 * carrying seq in its first payload bytes; valid IPv4 checksum. */
static struct rte_mbuf *udp_frame(uint16_t sport, uint8_t ecn, uint32_t len, uint32_t seq)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *d;
	struct rte_ipv4_hdr *ip;

	if (!m) {
		fail_msg("the test pool is empty");
		return NULL;
	}
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (!d) {  /* (not assert_non_null: the compiler must see that d is used non-NULL) */
		rte_pktmbuf_free(m);
		fail_msg("no room for %u bytes", len);
		return NULL;
	}
	memset(d, 0, len);
	memcpy(d, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	ip = (struct rte_ipv4_hdr *)(d + 14);
	ip->version_ihl = 0x45;
	ip->type_of_service = ecn;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - 14));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 1));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 2));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	d[34] = (uint8_t)(sport >> 8);
	d[35] = (uint8_t)sport;
	d[36] = 0x12;  /* destination port 4791 */
	d[37] = 0xb7;
	d[38] = (uint8_t)((len - 34) >> 8);
	d[39] = (uint8_t)(len - 34);
	memcpy(d + 42, &seq, sizeof(seq));
	return m;
}

static uint32_t frame_seq(struct rte_mbuf *m)
{
	uint32_t seq;

	memcpy(&seq, rte_pktmbuf_mtod_offset(m, uint8_t *, 42), sizeof(seq));
	return seq;
}

static uint16_t frame_sport(struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	return (uint16_t)(d[34] << 8 | d[35]);
}

static struct rte_ipv4_hdr *frame_ip(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
}

/* Whether the IPv4 header checksum of m is right. */
static int ip_csum_ok(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr ip = *frame_ip(m);
	uint16_t got = ip.hdr_checksum;

	ip.hdr_checksum = 0;
	return rte_ipv4_cksum(&ip) == got;
}

/* ---- helpers ---- */

static void cfg_init(struct dp_impair_cfg *c, uint32_t npaths)
{
	memset(c, 0, sizeof(*c));
	c->enabled = 1;
	c->npaths = npaths;
	c->seed = 42;
}

static struct dp_impair *make(const struct dp_impair_cfg *c, uint32_t queue_pkts)
{
	struct dp_impair *im = NULL;

	assert_int_equal(dp_impair_create(c, queue_pkts, (int)rte_socket_id(), hz, &im), 0);
	assert_non_null(im);
	for (size_t i = 0; i < RTE_DIM(live); i++) {
		if (!live[i]) {
			live[i] = im;
			return im;
		}
	}
	fail_msg("more than %zu stages alive", RTE_DIM(live));
	return NULL;
}

/* dp_impair_destroy(), and forget it (a failed test's teardown destroys the rest). */
static void destroy(struct dp_impair *im)
{
	for (size_t i = 0; i < RTE_DIM(live); i++)
		if (live[i] == im)
			live[i] = NULL;
	dp_impair_destroy(im);
}

static struct dp_impair_path_stats stats(struct dp_impair *im, uint32_t p)
{
	struct dp_impair_path_stats st;

	assert_int_equal(dp_impair_path_stats(im, p, &st), 0);
	return st;
}

static void send1(struct dp_impair *im, struct rte_mbuf *m, uint64_t now)
{
	dp_impair_enqueue(im, &m, 1, now, NULL);
}

/* Dequeue everything due at now and free it; returns how many. */
static uint32_t drain(struct dp_impair *im, uint64_t now)
{
	struct rte_mbuf *out[32];
	uint32_t total = 0;
	uint16_t n;

	while ((n = dp_impair_dequeue(im, out, 32, now)) > 0) {
		rte_pktmbuf_free_bulk(out, n);
		total += n;
	}
	return total;
}

/* The path sport hashes to, found by sending one frame through a fresh stage. */
static uint32_t path_of(uint32_t npaths, uint16_t sport)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	uint32_t found = UINT32_MAX;

	cfg_init(&c, npaths);
	im = make(&c, 4);
	send1(im, udp_frame(sport, 0, 64, 0), T0);
	for (uint32_t p = 0; p < npaths; p++)
		if (stats(im, p).pkts_in == 1)
			found = p;
	assert_int_equal(drain(im, FOREVER), 1);
	destroy(im);
	assert_true(found < npaths);
	return found;
}

/* A delay in TSC ticks, rounded as the stage rounds it. */
static uint64_t delay_tsc(uint64_t ns)
{
	return (uint64_t)((double)ns * (double)hz / 1e9 + 0.5);
}

/* Every mbuf the test took is back. */
static void assert_pool_full(void)
{
	assert_int_equal(rte_mempool_avail_count(pool), pool_base);
}

static int test_setup(void **state)
{
	(void)state;
	memset(live, 0, sizeof(live));
	pool_base = rte_mempool_avail_count(pool);
	return 0;
}

/* After a failed assertion: free the stages (and the mbufs they hold) the test left. */
static int test_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < RTE_DIM(live); i++)
		destroy(live[i]);
	return 0;
}

/* ---- tests ---- */

static void test_create_rejects(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im = (struct dp_impair *)1;

	(void)state;
	cfg_init(&c, 0);
	assert_int_equal(dp_impair_create(&c, 16, 0, hz, &im), -EINVAL);
	assert_null(im);
	cfg_init(&c, DP_MAX_IMPAIR_PATHS + 1);
	assert_int_equal(dp_impair_create(&c, 16, 0, hz, &im), -EINVAL);
	cfg_init(&c, 4);
	c.enabled = 0;
	assert_int_equal(dp_impair_create(&c, 16, 0, hz, &im), -EINVAL);
	cfg_init(&c, 4);
	c.path[3].loss = 1.5;
	assert_int_equal(dp_impair_create(&c, 16, 0, hz, &im), -EINVAL);
	cfg_init(&c, 4);
	assert_int_equal(dp_impair_create(&c, 0, 0, hz, &im), -EINVAL);
	dp_impair_destroy(NULL);
	assert_int_equal(dp_impair_path_stats(NULL, 0, &(struct dp_impair_path_stats){ 0 }),
			 -EINVAL);
	im = make(&c, 16);
	assert_int_equal(dp_impair_path_stats(im, 4, &(struct dp_impair_path_stats){ 0 }),
			 -EINVAL);
	destroy(im);
}

/* Source ports spread over the paths; a port always takes the same path. */
static void test_hash_spreads(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	const uint32_t np = 8, nports = 4000;
	uint32_t clumped = 0;

	(void)state;
	cfg_init(&c, np);
	im = make(&c, 1024);
	for (uint32_t i = 0; i < nports; i++) {
		send1(im, udp_frame((uint16_t)(49152 + i), 0, 64, i), T0 + i);
		if (i % 512 == 511)
			drain(im, FOREVER);
	}
	drain(im, FOREVER);
	for (uint32_t p = 0; p < np; p++) {
		struct dp_impair_path_stats st = stats(im, p);

		/* 500 expected per path; a decent hash stays well within +-25% */
		assert_in_range(st.pkts_in, 375, 625);
		assert_int_equal(st.pkts_out, st.pkts_in);
		assert_int_equal(st.queued, 0);
	}
	destroy(im);

	/* consecutive ports do not all land together: 16 consecutive ports use >= 4 paths */
	for (uint16_t base = 1000; base < 1160; base += 16) {
		uint32_t used = 0, seen[8] = { 0 };

		for (uint16_t k = 0; k < 16; k++)
			seen[path_of(np, (uint16_t)(base + k))]++;
		for (uint32_t p = 0; p < np; p++)
			used += seen[p] != 0;
		if (used < 4)
			clumped++;
	}
	assert_int_equal(clumped, 0);
	/* the same port, the same path */
	assert_int_equal(path_of(np, 50000), path_of(np, 50000));
	/* one path: everything there */
	assert_int_equal(path_of(1, 12345), 0);
	assert_pool_full();
}

/* FIFO within a path, with each path its own delay. */
static void test_fifo_per_path(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	const uint32_t np = 4, n = 400;
	uint32_t last[4], got = 0, pathmap[64];
	uint64_t us = hz / 1000000;

	(void)state;
	cfg_init(&c, np);
	for (uint32_t p = 0; p < np; p++)
		c.path[p].delay_ns = 10000ull * (p + 1);  /* 10, 20, 30, 40 us */
	for (uint32_t s = 0; s < 64; s++)
		pathmap[s] = path_of(np, (uint16_t)(2000 + s));
	im = make(&c, 1024);
	/* packets from 64 source ports, one every 100 ns */
	for (uint32_t i = 0; i < n; i++)
		send1(im, udp_frame((uint16_t)(2000 + (i * 7) % 64), 0, 100, i), T0 + i * us / 10);
	memset(last, 0xff, sizeof(last));
	/* walk time forward 1 us at a time: whatever comes out is due and in order */
	for (uint64_t t = T0; got < n; t += us) {
		struct rte_mbuf *out[8];
		uint16_t k;

		assert_true(t < T0 + 200 * us);
		while ((k = dp_impair_dequeue(im, out, 8, t)) > 0) {
			for (uint16_t j = 0; j < k; j++) {
				uint32_t seq = frame_seq(out[j]);
				uint32_t p = pathmap[frame_sport(out[j]) - 2000];
				uint64_t due = T0 + seq * us / 10 + delay_tsc(c.path[p].delay_ns);

				assert_true(last[p] == UINT32_MAX || seq > last[p]);
				last[p] = seq;
				/* not before its time, and released within the 1 us step */
				assert_true(t >= due);
				assert_true(t < due + us);
			}
			rte_pktmbuf_free_bulk(out, k);
			got += k;
		}
	}
	assert_int_equal(dp_impair_next_due(im), UINT64_MAX);
	destroy(im);
	assert_pool_full();
}

/* Delay and rate: packet k of a burst leaves at t0 + (k+1) * size*8/rate + delay. */
static void test_delay_and_rate(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	struct rte_mbuf *out[4];
	const uint32_t len = 1000, n = 20;
	const uint64_t rate = 1000000000ull;  /* 1 Gbit/s: 8 us per 1000 bytes */
	const uint64_t delay_ns = 50000;       /* 50 us */
	uint64_t ser = (len * 8ull * hz + rate - 1) / rate;
	uint64_t delay = delay_tsc(delay_ns);

	(void)state;
	cfg_init(&c, 1);
	c.path[0].rate_bps = rate;
	c.path[0].delay_ns = delay_ns;
	im = make(&c, 64);
	assert_int_equal(dp_impair_next_due(im), UINT64_MAX);
	for (uint32_t i = 0; i < n; i++)
		send1(im, udp_frame(7, 0, len, i), T0);
	assert_int_equal(stats(im, 0).queued, n);
	for (uint32_t k = 0; k < n; k++) {
		uint64_t due = T0 + (k + 1) * ser + delay;

		assert_int_equal(dp_impair_next_due(im), due);
		assert_int_equal(dp_impair_dequeue(im, out, 4, due - 1), 0);
		assert_int_equal(dp_impair_dequeue(im, out, 4, due), 1);
		assert_int_equal(frame_seq(out[0]), k);
		rte_pktmbuf_free(out[0]);
	}
	/* an idle path starts serializing at now, not at its old busy time */
	send1(im, udp_frame(7, 0, len, 99), T0 + 10 * hz);
	assert_int_equal(dp_impair_next_due(im), T0 + 10 * hz + ser + delay);
	assert_int_equal(drain(im, T0 + 10 * hz + ser + delay), 1);
	/* a longer burst: half of it has left after half its serialization time */
	for (uint32_t i = 0; i < 60; i++)
		send1(im, udp_frame(7, 0, len, i), T0 + 20 * hz);
	assert_int_equal(stats(im, 0).queued, 60);
	assert_int_equal(dp_impair_next_due(im), T0 + 20 * hz + ser + delay);
	assert_int_equal(drain(im, T0 + 20 * hz + 30 * ser + delay), 30);
	assert_int_equal(drain(im, T0 + 20 * hz + 60 * ser + delay), 30);
	assert_int_equal(stats(im, 0).pkts_out, n + 61);
	destroy(im);
	assert_pool_full();
}

/* Loss: a fraction close to p over 20,000 packets, repeatable with the seed. */
static void test_loss(void **state)
{
	const double p[4] = { 0.0, 0.01, 0.1, 0.5 };
	uint64_t dropped_first[4] = { 0 };

	(void)state;
	for (int run = 0; run < 2; run++) {
		struct dp_impair_cfg c;
		struct dp_impair *im;
		uint32_t sport[4];

		cfg_init(&c, 4);
		for (uint32_t k = 0; k < 4; k++)
			c.path[k].loss = p[k];
		/* one source port per path */
		for (uint32_t k = 0; k < 4; k++) {
			uint16_t s = 3000;

			while (path_of(4, s) != k && s < 3100)
				s++;
			assert_true(s < 3100);
			sport[k] = s;
		}
		im = make(&c, 4096);
		for (uint32_t i = 0; i < 20000; i++) {
			for (uint32_t k = 0; k < 4; k++)
				send1(im, udp_frame((uint16_t)sport[k], 0, 64, i), T0 + i);
			if (i % 1000 == 999)
				drain(im, FOREVER);
		}
		drain(im, FOREVER);
		for (uint32_t k = 0; k < 4; k++) {
			struct dp_impair_path_stats st = stats(im, k);
			double frac = (double)st.drops_loss / 20000.0;
			/* binomial sd: sqrt(p(1-p)/n) <= 0.0036; allow 5 sd + a little */
			double tol = 5.0 * sqrt(p[k] * (1 - p[k]) / 20000.0) + 0.001;

			assert_int_equal(st.pkts_in, 20000);
			assert_int_equal(st.pkts_out + st.drops_loss, 20000);
			assert_true(frac >= p[k] - tol && frac <= p[k] + tol);
			if (run == 0)
				dropped_first[k] = st.drops_loss;
			else
				assert_int_equal(st.drops_loss, dropped_first[k]);
		}
		destroy(im);
	}
	assert_pool_full();
}

/* The blackhole drops everything on its path, nothing elsewhere. */
static void test_blackhole(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	const uint32_t np = 8, hole = 5;
	uint32_t total = 0;

	(void)state;
	cfg_init(&c, np);
	c.path[hole].blackhole = 1;
	im = make(&c, 4096);
	for (uint32_t i = 0; i < 3000; i++)
		send1(im, udp_frame((uint16_t)(10000 + i * 13), 0, 80, i), T0 + i);
	assert_int_equal(drain(im, FOREVER) + stats(im, hole).drops_black, 3000);
	for (uint32_t p = 0; p < np; p++) {
		struct dp_impair_path_stats st = stats(im, p);

		assert_true(st.pkts_in > 0);
		total += (uint32_t)st.pkts_in;
		if (p == hole) {
			assert_int_equal(st.drops_black, st.pkts_in);
			assert_int_equal(st.pkts_out, 0);
		} else {
			assert_int_equal(st.drops_black, 0);
			assert_int_equal(st.pkts_out, st.pkts_in);
		}
		assert_int_equal(st.drops_loss + st.drops_queue, 0);
	}
	assert_int_equal(total, 3000);
	destroy(im);
	assert_pool_full();
}

/* ECN: above the threshold ECT(0)/ECT(1) become CE with a valid checksum; Not-ECT and
 * packets below it are left alone; an offloaded checksum is not touched. */
static void test_ecn(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	struct rte_mbuf *out[64];
	const uint8_t kinds[4] = { DP_ECN_ECT0, 0x1 /* ECT(1) */, DP_ECN_NOT_ECT, DP_ECN_CE };
	uint32_t marked = 0;
	uint16_t n;

	(void)state;
	cfg_init(&c, 1);
	c.path[0].rate_bps = 1000000000ull;  /* 1000-byte frames: 8 us each */
	c.path[0].ecn_bytes = 5500;          /* > 5 frames waiting */
	im = make(&c, 64);
	/* 40 frames at once: frame i finds i frames (i * 1000 bytes) not yet serialized */
	for (uint32_t i = 0; i < 40; i++)
		send1(im, udp_frame(9, kinds[i % 4], 1000, i), T0);
	n = dp_impair_dequeue(im, out, 64, FOREVER);
	assert_int_equal(n, 40);
	for (uint32_t i = 0; i < 40; i++) {
		uint8_t ecn = frame_ip(out[i])->type_of_service & 3;

		assert_int_equal(frame_seq(out[i]), i);
		assert_true(ip_csum_ok(out[i]));
		if (i <= 5 || kinds[i % 4] == DP_ECN_NOT_ECT || kinds[i % 4] == DP_ECN_CE) {
			assert_int_equal(ecn, kinds[i % 4]);
		} else {
			assert_int_equal(ecn, DP_ECN_CE);
			marked++;
		}
	}
	assert_int_equal(stats(im, 0).ce_marked, marked);
	assert_int_equal(marked, 16);  /* ECT(0) or ECT(1) among frames 6..39 */
	rte_pktmbuf_free_bulk(out, n);

	/* the queue drains with time: a frame after the backlog is gone is not marked */
	send1(im, udp_frame(9, DP_ECN_ECT0, 1000, 100), FOREVER);
	assert_int_equal(dp_impair_dequeue(im, out, 64, UINT64_MAX), 1);
	assert_int_equal(frame_ip(out[0])->type_of_service & 3, DP_ECN_ECT0);
	rte_pktmbuf_free(out[0]);
	destroy(im);

	/* IP checksum offloaded: CE set, the checksum field left for the NIC */
	im = make(&c, 64);
	for (uint32_t i = 0; i < 8; i++) {
		struct rte_mbuf *m = udp_frame(9, DP_ECN_ECT0, 1000, i);

		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		frame_ip(m)->hdr_checksum = 0;
		send1(im, m, T0 + 100 * hz);
	}
	n = dp_impair_dequeue(im, out, 64, FOREVER);
	assert_int_equal(n, 8);
	for (uint32_t i = 0; i < 8; i++) {
		assert_int_equal(frame_ip(out[i])->type_of_service & 3,
				 i <= 5 ? DP_ECN_ECT0 : DP_ECN_CE);
		assert_int_equal(frame_ip(out[i])->hdr_checksum, 0);
	}
	rte_pktmbuf_free_bulk(out, n);
	destroy(im);

	/* without a rate, the threshold applies to the bytes held (the delay line) */
	cfg_init(&c, 1);
	c.path[0].delay_ns = 1000000;
	c.path[0].ecn_bytes = 2500;  /* more than 2 frames of 1000 bytes held */
	im = make(&c, 64);
	for (uint32_t i = 0; i < 6; i++)
		send1(im, udp_frame(9, DP_ECN_ECT0, 1000, i), T0);
	n = dp_impair_dequeue(im, out, 64, FOREVER);
	assert_int_equal(n, 6);
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(frame_ip(out[i])->type_of_service & 3,
				 i < 3 ? DP_ECN_ECT0 : DP_ECN_CE);
		assert_true(ip_csum_ok(out[i]));
	}
	rte_pktmbuf_free_bulk(out, n);
	assert_int_equal(stats(im, 0).ce_marked, 3);
	destroy(im);
	assert_pool_full();
}

/* Frames other than IPv4/UDP go through at once, unchanged and in order. */
static void test_non_udp_bypass(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	struct rte_mbuf *in[4], *out[8];
	uint8_t copy[4][64];
	uint16_t n;

	(void)state;
	cfg_init(&c, 2);
	c.path[0].delay_ns = c.path[1].delay_ns = 1000000000ull;
	c.path[0].blackhole = c.path[1].blackhole = 0;
	c.path[0].loss = c.path[1].loss = 1.0;  /* UDP would be lost */
	im = make(&c, 16);
	for (int i = 0; i < 4; i++) {
		in[i] = udp_frame(1, 0, 64, (uint32_t)i);
		if (i == 0) {  /* ARP */
			uint8_t *d = rte_pktmbuf_mtod(in[i], uint8_t *);

			d[12] = 0x08;
			d[13] = 0x06;
		} else if (i == 1) {  /* TCP */
			frame_ip(in[i])->next_proto_id = IPPROTO_TCP;
		} else if (i == 2) {  /* a UDP fragment past the first: no UDP header */
			frame_ip(in[i])->fragment_offset = rte_cpu_to_be_16(100);
		} else {  /* IPv6 */
			uint8_t *d = rte_pktmbuf_mtod(in[i], uint8_t *);

			d[12] = 0x86;
			d[13] = 0xdd;
		}
		memcpy(copy[i], rte_pktmbuf_mtod(in[i], uint8_t *), 64);
	}
	assert_int_equal(dp_impair_enqueue(im, in, 4, T0, NULL), 0);
	assert_int_equal(dp_impair_next_due(im), T0);
	n = dp_impair_dequeue(im, out, 8, T0);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(out[i], in[i]);
		assert_int_equal(rte_pktmbuf_pkt_len(out[i]), 64);
		assert_memory_equal(rte_pktmbuf_mtod(out[i], uint8_t *), copy[i], 64);
	}
	rte_pktmbuf_free_bulk(out, n);
	for (uint32_t p = 0; p < 2; p++)
		assert_int_equal(stats(im, p).pkts_in, 0);
	destroy(im);
	assert_pool_full();
}

/* A full path queue drops (counted); destroy frees everything still held. */
static void test_queue_full_and_destroy(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	uint32_t np = 4;

	(void)state;
	cfg_init(&c, np);
	for (uint32_t p = 0; p < np; p++)
		c.path[p].delay_ns = 1000000000ull;
	im = make(&c, 16);
	for (uint32_t i = 0; i < 40; i++)
		send1(im, udp_frame(4000, 0, 64, i), T0);
	{
		struct dp_impair_path_stats st = stats(im, path_of(np, 4000));

		assert_int_equal(st.pkts_in, 40);
		assert_int_equal(st.queued, 16);
		assert_int_equal(st.drops_queue, 24);
	}
	assert_int_equal(rte_mempool_avail_count(pool), pool_base - 16);
	/* more on every path, and non-UDP frames in the bypass */
	for (uint32_t i = 0; i < 200; i++)
		send1(im, udp_frame((uint16_t)(5000 + i), 0, 64, i), T0);
	for (uint32_t i = 0; i < 5; i++) {
		struct rte_mbuf *m = udp_frame(1, 0, 64, i);

		rte_pktmbuf_mtod(m, uint8_t *)[13] = 0x06;
		send1(im, m, T0);
	}
	assert_true(rte_mempool_avail_count(pool) < pool_base - 16);
	destroy(im);
	assert_pool_full();
}

/* With an array, dropped frames come back to the caller (not freed) with the reason and
 * the path: what packet capture needs to record them. */
static void test_drops_handed_back(void **state)
{
	struct dp_impair_cfg c;
	struct dp_impair *im;
	struct dp_impair_drop dropped[32];
	struct rte_mbuf *in[32];
	const uint32_t np = 4, hole = 1, lossy = 2;
	uint32_t loss = 0, black = 0;
	uint16_t nd;

	(void)state;
	cfg_init(&c, np);
	c.path[hole].blackhole = 1;
	c.path[lossy].loss = 1.0;
	im = make(&c, 4096);
	for (uint32_t i = 0; i < 32; i++)
		in[i] = udp_frame((uint16_t)(7000 + i * 7), 0, 64, i);
	nd = dp_impair_enqueue(im, in, 32, T0, dropped);
	assert_true(nd > 0 && nd < 32);
	/* nothing freed yet: the queued frames and the dropped ones are all out of the pool */
	assert_int_equal(rte_mempool_avail_count(pool), pool_base - 32);
	for (uint16_t i = 0; i < nd; i++) {
		assert_true(dropped[i].path == hole || dropped[i].path == lossy);
		assert_int_equal(dropped[i].why,
				 dropped[i].path == hole ? DP_IMPAIR_BLACKHOLE : DP_IMPAIR_LOSS);
		assert_non_null(dropped[i].m);
		if (dropped[i].why == DP_IMPAIR_LOSS)
			loss++;
		else
			black++;
		rte_pktmbuf_free(dropped[i].m);
	}
	assert_int_equal(loss, stats(im, lossy).drops_loss);
	assert_int_equal(black, stats(im, hole).drops_black);
	assert_int_equal(drain(im, FOREVER) + nd, 32);
	destroy(im);
	assert_pool_full();
}

/* ---- EAL ---- */

static int eal_down(void **state);

static int eal_up(void **state)
{
	char prefix[64];
	/* --no-shconf: one process, no files in the runtime directory (removed at the end) */
	char *argv[] = { "test_impair", "--no-huge", "--no-pci", "-m", "256", "--file-prefix",
			 prefix, "--log-level=lib.eal:error", "--no-telemetry", "--no-shconf",
			 "-l", "0", NULL };

	(void)state;
	snprintf(prefix, sizeof(prefix), "srdtest-impair-%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0)
		return -1;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	hz = rte_get_tsc_hz();
	pool = rte_pktmbuf_pool_create("impair_test", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool) {
		eal_down(state);
		return -1;
	}
	return 0;
}

static int eal_down(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	if (runtime_dir[0])
		rmdir(runtime_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_rejects, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_hash_spreads, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_fifo_per_path, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_delay_and_rate, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_loss, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_blackhole, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_ecn, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_non_udp_bypass, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_and_destroy, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_drops_handed_back, test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("impair", tests, eal_up, eal_down);
}
