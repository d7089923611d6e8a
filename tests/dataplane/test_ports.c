/*
 * test_ports.c — dataplane/dp_port.c in a real EAL without hugepages or PCI: the crossed
 * loopback pair (frames cross on every queue, both ways; jumbo frames), link state
 * (net_ring; net_tap in a network namespace of the test's own), checksum offloads recorded, errors with the port named and nothing left behind, and
 * dp_ports_close() giving every byte of DPDK memory back (pools, rings, devices).
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_config.h"
#include "dp_net.h"
#include "dp_port.h"

int dp_logtype = RTE_LOGTYPE_USER1;  /* dp_log.h's log type (srdd's main defines it) */

#define MBUFS 1023u

static struct dp_config cfg;
static struct dp_ports ports;
static char err[256];
static char runtime_dir[256];  /* the EAL's, removed at the end */
static int have_netns;         /* 1: the test runs in a network namespace of its own */
static char memif_sock[64];    /* a memif socket path of this process */

/* ---- helpers ---- */

/* DPDK heap in use, all sockets: what dp_ports_close() must give back. */
static void heap_use(unsigned *count, size_t *bytes)
{
	*count = 0;
	*bytes = 0;
	for (unsigned i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0) {
			*count += st.alloc_count;
			*bytes += st.heap_allocsz_bytes;
		}
	}
}

/* A config with a loopback pair (ports 0, 1), as a JSON file would give it. */
static void cfg_loopback(uint16_t mtu)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 2;
	cfg.mbufs = MBUFS;
	cfg.nports = 2;
	for (int i = 0; i < 2; i++) {
		struct dp_port_cfg *p = &cfg.ports[i];

		snprintf(p->name, sizeof(p->name), "lo%c", 'a' + i);
		p->kind = DP_PORT_LOOPBACK;
		p->ipv4 = 0x0a000001u + (uint32_t)i;
		p->prefix_len = 24;
		p->mtu = mtu;
	}
}

/* Add a vdev port. */
static struct dp_port_cfg *cfg_add_vdev(const char *name, const char *dev, uint16_t mtu)
{
	struct dp_port_cfg *p = &cfg.ports[cfg.nports++];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = DP_PORT_VDEV;
	snprintf(p->dev, sizeof(p->dev), "%s", dev);
	p->mtu = mtu;
	return p;
}

/* A frame of len bytes from port src's pool, its bytes a function of tag. */
static struct rte_mbuf *frame(const struct dp_port *src, uint32_t len, uint8_t tag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(src->pool);
	uint8_t *d;

	if (!m) {
		fail_msg("port %s: its pool is empty", src->cfg->name);
		return NULL;
	}
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (!d) {  /* (not assert_non_null: the compiler must see that d is used non-NULL) */
		rte_pktmbuf_free(m);
		fail_msg("no room for %u bytes", len);
		return NULL;
	}
	for (int i = 0; i < 6; i++) {
		d[i] = 0xff;                /* broadcast */
		d[6 + i] = src->mac[i];
	}
	d[12] = 0x88;                       /* a local experimental ethertype */
	d[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		d[i] = (uint8_t)(tag + i);
	return m;
}

static void check_frame(struct rte_mbuf *m, const struct dp_port *src, uint32_t len,
			uint8_t tag)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	assert_int_equal(rte_pktmbuf_pkt_len(m), len);
	assert_int_equal(m->nb_segs, 1);
	assert_memory_equal(d + 6, src->mac, 6);
	for (uint32_t i = 14; i < len; i++)
		if (d[i] != (uint8_t)(tag + i))
			fail_msg("byte %u of the frame differs", i);
}

/* Send one frame on (a, q); it must arrive on (b, q) and nowhere else. */
static void cross(struct dp_port *a, struct dp_port *b, uint16_t q, uint32_t len, uint8_t tag)
{
	struct rte_mbuf *m = frame(a, len, tag), *rx[4];

	assert_int_equal(rte_eth_tx_burst(a->port_id, q, &m, 1), 1);
	for (uint16_t oq = 0; oq < b->nqueues; oq++)
		if (oq != q)
			assert_int_equal(rte_eth_rx_burst(b->port_id, oq, rx, 4), 0);
	for (uint16_t oq = 0; oq < a->nqueues; oq++)
		assert_int_equal(rte_eth_rx_burst(a->port_id, oq, rx, 4), 0);
	assert_int_equal(rte_eth_rx_burst(b->port_id, q, rx, 4), 1);
	check_frame(rx[0], a, len, tag);
	rte_pktmbuf_free(rx[0]);
}

/* Wait up to ms for p->link_up to become up (LSC callback or polling). */
static int wait_link(struct dp_port *p, uint8_t up, int ms, int poll)
{
	for (int t = 0; t < ms; t++) {
		if (poll)
			dp_port_poll_link(p);
		if (p->link_up == up)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* Set a kernel interface up or down (SIOCSIFFLAGS); 0 or -errno. */
static int if_set_up(const char *name, int up)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else {
		ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

static int test_setup(void **state)
{
	(void)state;
	memset(&ports, 0, sizeof(ports));
	err[0] = '\0';
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	dp_ports_close(&ports);  /* after a failed assertion: nothing may stay behind */
	return 0;
}

/* ---- tests ---- */

/* The pair comes up; frames cross on each of 2 queues, both ways; close frees all. */
static void test_loopback_pair(void **state)
{
	struct dp_port *a, *b;
	unsigned c0, c1;
	size_t b0, b1;

	(void)state;
	cfg_loopback(1500);
	/* a first round, so that DPDK's own one-time allocations are made */
	assert_int_equal(dp_ports_init(&cfg, 2, &ports, err, sizeof(err)), 0);
	dp_ports_close(&ports);
	heap_use(&c0, &b0);

	assert_int_equal(dp_ports_init(&cfg, 2, &ports, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(ports.n, 2);
	a = &ports.port[0];
	b = &ports.port[1];
	assert_ptr_equal(a->cfg, &cfg.ports[0]);
	assert_ptr_equal(b->cfg, &cfg.ports[1]);
	assert_int_not_equal(a->port_id, b->port_id);
	assert_int_equal(a->nqueues, 2);
	assert_int_equal(b->nqueues, 2);
	assert_int_equal(a->mtu, 1500);
	assert_true(a->socket >= 0);
	assert_non_null(a->pool);
	assert_non_null(b->pool);
	assert_ptr_not_equal(a->pool, b->pool);
	assert_int_equal(rte_mempool_avail_count(a->pool), MBUFS);
	assert_memory_equal(a->mac, "\x02\x53\x52\x44\x00\x01", 6);
	assert_memory_equal(b->mac, "\x02\x53\x52\x44\x00\x02", 6);
	assert_int_equal(a->csum_tx, 0);  /* net_ring computes no checksum */
	assert_int_equal(a->csum_rx, 0);
	assert_int_equal(a->link_up, 1);
	assert_int_equal(b->link_up, 1);
	assert_int_equal(ports.nlo_rings, 4);

	for (uint16_t q = 0; q < 2; q++) {
		cross(a, b, q, 60, (uint8_t)(q * 16 + 1));
		cross(b, a, q, 1514, (uint8_t)(q * 16 + 2));
	}
	/* a burst on one queue, in order */
	{
		struct rte_mbuf *tx[32], *rx[32];
		uint16_t n = 0;

		for (int i = 0; i < 32; i++)
			tx[i] = frame(a, 100, (uint8_t)i);
		assert_int_equal(rte_eth_tx_burst(a->port_id, 1, tx, 32), 32);
		while (n < 32) {
			uint16_t k = rte_eth_rx_burst(b->port_id, 1, rx + n, (uint16_t)(32 - n));

			assert_int_not_equal(k, 0);
			n += k;
		}
		for (int i = 0; i < 32; i++)
			check_frame(rx[i], a, 100, (uint8_t)i);
		rte_pktmbuf_free_bulk(rx, 32);
	}
	assert_int_equal(rte_mempool_avail_count(a->pool), MBUFS);
	assert_int_equal(rte_mempool_avail_count(b->pool), MBUFS);

	/* frames left in the rings at close are freed with everything else */
	for (int i = 0; i < 5; i++) {
		struct rte_mbuf *m = frame(i % 2 ? b : a, 64, 0);

		assert_int_equal(rte_eth_tx_burst((i % 2 ? b : a)->port_id, 0, &m, 1), 1);
	}
	dp_ports_close(&ports);
	assert_int_equal(ports.n, 0);
	assert_null(rte_mempool_lookup("srd_mp0"));
	assert_null(rte_mempool_lookup("srd_mp1"));
	assert_null(rte_ring_lookup("srd_lo0_q0"));
	assert_int_equal(rte_eth_dev_count_avail(), 0);
	heap_use(&c1, &b1);
	assert_int_equal(c1, c0);
	assert_int_equal(b1, b0);
	dp_ports_close(&ports);  /* twice is harmless */
}

/* Jumbo frames: an MTU of 9000 and a 9014-byte frame in one segment. */
static void test_loopback_jumbo(void **state)
{
	(void)state;
	cfg_loopback(9000);
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), 0);
	assert_int_equal(ports.port[0].mtu, 9000);
	assert_true(rte_pktmbuf_data_room_size(ports.port[0].pool) >=
		    RTE_PKTMBUF_HEADROOM + 9000 + 14);
	cross(&ports.port[0], &ports.port[1], 0, 9014, 7);
	cross(&ports.port[1], &ports.port[0], 0, 9014, 9);
	dp_ports_close(&ports);
}

/* Link state by polling (net_ring raises no interrupt). */
static void test_loopback_link_poll(void **state)
{
	struct dp_port *a;

	(void)state;
	cfg_loopback(1500);
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), 0);
	a = &ports.port[0];
	assert_int_equal(a->link_up, 1);
	assert_int_equal(a->link_changes, 0);
	dp_port_poll_link(a);
	assert_int_equal(a->link_changes, 0);
	assert_int_equal(rte_eth_dev_set_link_down(a->port_id), 0);
	dp_port_poll_link(a);
	dp_port_poll_link(a);
	assert_int_equal(a->link_up, 0);
	assert_int_equal(a->link_changes, 1);
	assert_int_equal(rte_eth_dev_set_link_up(a->port_id), 0);
	dp_port_poll_link(a);
	assert_int_equal(a->link_up, 1);
	assert_int_equal(a->link_changes, 2);
	dp_ports_close(&ports);
}

/* Errors name the port, and leave nothing behind. */
static void test_errors(void **state)
{
	struct dp_port_cfg *p;
	struct stat st;
	unsigned c0, c1;
	size_t b0, b1;

	(void)state;
	heap_use(&c0, &b0);

	/* a loopback port without its peer */
	cfg_loopback(1500);
	cfg.nports = 1;
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port loa: "));
	assert_int_equal(ports.n, 0);

	/* no queues, too many queues */
	cfg_loopback(1500);
	assert_int_equal(dp_ports_init(&cfg, 0, &ports, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_ports_init(&cfg, DP_MAX_QUEUES + 1, &ports, err, sizeof(err)),
			 -EINVAL);

	/* a vdev no driver knows, after a pair that was set up: the pair is undone */
	cfg_loopback(1500);
	cfg_add_vdev("bogus", "net_nosuchdriver0,x=1", 1500);
	assert_true(dp_ports_init(&cfg, 2, &ports, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "port bogus: "));
	assert_non_null(strstr(err, "net_nosuchdriver0"));
	assert_int_equal(ports.n, 0);
	assert_int_equal(rte_eth_dev_count_avail(), 0);
	assert_null(rte_mempool_lookup("srd_mp0"));
	assert_null(rte_ring_lookup("srd_lo0_q0"));
	/* all DPDK memory back (the vdevs below leak some of their own in DPDK 22.11: net_memif
	 * 3-6 allocations per probe, net_null 2 per queue set-up; so they are checked by their
	 * devices going away instead) */
	heap_use(&c1, &b1);
	assert_int_equal(c1, c0);
	assert_int_equal(b1, b0);

	/* an MTU the device cannot take (net_memif: at most 1500 in DPDK 22.11): refused,
	 * and the probed vdev removed again (its listener socket gone) */
	cfg_loopback(1500);
	cfg.nports = 0;
	unlink(memif_sock);
	{
		char dev[128];

		snprintf(dev, sizeof(dev), "net_memif0,role=server,socket=%s,socket-abstract=no",
			 memif_sock);
		p = cfg_add_vdev("memif", dev, 9000);
	}
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port memif: mtu 9000"));
	assert_int_equal(ports.n, 0);
	assert_int_not_equal(stat(memif_sock, &st), 0);
	assert_int_equal(rte_eth_dev_count_avail(), 0);

	/* the same device at 1500 works, and goes away at close */
	p->mtu = 1500;
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), 0);
	assert_int_equal(ports.port[0].mtu, 1500);
	assert_int_equal(ports.port[0].link_up, 0);  /* no client attached */
	assert_int_equal(stat(memif_sock, &st), 0);
	dp_ports_close(&ports);
	assert_int_not_equal(stat(memif_sock, &st), 0);
	assert_int_equal(rte_eth_dev_count_avail(), 0);

	/* the same device twice */
	cfg.nports = 0;
	cfg_add_vdev("n1", "net_null0", 1500);
	cfg_add_vdev("n2", "net_null0", 1500);
	assert_int_equal(dp_ports_init(&cfg, 1, &ports, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "port n2: same device as port n1"));
	assert_int_equal(rte_eth_dev_count_avail(), 0);
}

/* net_tap in the test's own network namespace: MAC, MTU and checksum offloads recorded,
 * link changes from either side seen, the kernel interface removed at close. */
static void test_tap(void **state)
{
	struct dp_port_cfg *pc;
	struct dp_port *p;

	(void)state;
	if (!have_netns)
		skip();
	cfg.nports = 0;
	cfg.mbufs = MBUFS;
	pc = cfg_add_vdev("tap", "net_tap0,iface=srdtst0", 1400);
	pc->has_mac = 1;
	pc->rx_desc = pc->tx_desc = 256;  /* net_tap fills its RX rings from the pool */
	memcpy(pc->mac, "\x02\x53\x52\x44\x00\x01", 6);
	assert_int_equal(dp_ports_init(&cfg, 2, &ports, err, sizeof(err)), 0);
	p = &ports.port[0];
	assert_int_not_equal(if_nametoindex("srdtst0"), 0);
	assert_memory_equal(p->mac, "\x02\x53\x52\x44\x00\x01", 6);
	assert_int_equal(p->mtu, 1400);
	assert_int_equal(p->nqueues, 2);
	assert_int_equal(p->csum_tx, DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD);
	assert_int_equal(p->csum_rx, DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD);
	assert_int_equal(p->link_up, 1);
	assert_int_equal(p->link_changes, 0);
	/* down and up from DPDK, then from the kernel side.  net_tap (22.11) advertises
	 * link-state interrupts, but its netlink handler only refreshes the ethdev's link
	 * data and never raises RTE_ETH_EVENT_INTR_LSC: the change is seen by polling. */
	assert_int_equal(rte_eth_dev_set_link_down(p->port_id), 0);
	assert_true(wait_link(p, 0, 2000, 1));
	assert_int_equal(rte_eth_dev_set_link_up(p->port_id), 0);
	assert_true(wait_link(p, 1, 2000, 1));
	assert_int_equal(p->link_changes, 2);
	assert_int_equal(if_set_up("srdtst0", 0), 0);
	assert_true(wait_link(p, 0, 2000, 1));
	assert_int_equal(if_set_up("srdtst0", 1), 0);
	assert_true(wait_link(p, 1, 2000, 1));
	assert_int_equal(p->link_changes, 4);
	dp_ports_close(&ports);
	assert_int_equal(if_nametoindex("srdtst0"), 0);
	assert_int_equal(rte_eth_dev_count_avail(), 0);
}

/* ---- EAL ---- */

static int eal_down(void **state)
{
	(void)state;
	rte_eal_cleanup();
	if (runtime_dir[0])
		rmdir(runtime_dir);
	unlink(memif_sock);
	return 0;
}

static int eal_up(void **state)
{
	char prefix[64];
	/* --no-shconf: one process, no files in the runtime directory (removed at the end) */
	char *argv[] = { "test_ports", "--no-huge", "--no-pci", "-m", "256", "--file-prefix",
			 prefix, "--log-level=lib.eal:error", "--no-telemetry", "--no-shconf",
			 "-l", "0", NULL };

	(void)state;
	/* a network namespace of our own, for the tap (root only; else that test skips) */
	have_netns = unshare(CLONE_NEWNET) == 0;
	snprintf(prefix, sizeof(prefix), "srdtest-ports-%d", (int)getpid());
	snprintf(memif_sock, sizeof(memif_sock), "/tmp/srdtest-ports-%d.sock", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0)
		return -1;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loopback_pair, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_loopback_jumbo, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_loopback_link_poll, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_errors, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_tap, test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("ports", tests, eal_up, eal_down);
}
