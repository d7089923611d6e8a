/*
 * dp_port.c — the ports srdd owns through DPDK (see dp_port.h).
 *
 * Each configured port becomes an ethdev in one of three ways:
 *  - DP_PORT_LOOPBACK: two consecutive config entries make a crossed pair.  We create one
 *    SP/SC rte_ring per loopback port and queue; port A's TX queue q is ring "A q" and
 *    port B's RX queue q is the same ring, and the other way round.  The ethdevs come
 *    from rte_eth_from_rings() (librte_net_ring, which pkg-config's libdpdk does not
 *    link: the build adds -lrte_net_ring); rte_eth_from_rings("srd_loN") names the ethdev
 *    and its vdev "net_ring_srd_loN".  net_ring's own nodeaction cannot cross two ports.
 *  - DP_PORT_VDEV: the ethdev named like the devargs up to the first comma ("net_tap0"
 *    for "net_tap0,iface=srd0"); probed with rte_dev_probe() unless --vdev already made it.
 *  - DP_PORT_PCI: the same with the PCI address (normally already probed by the EAL).
 * The PMDs themselves are plugins that the EAL loads from its built-in driver directory
 * (RTE_EAL_PMD_PATH, .../dpdk/pmds-23.0 on Debian 12): no -d is needed.
 *
 * Then every port is configured the DPDK-examples way (port_init): device info, NUMA
 * socket, mempool, offloads, MTU, queues, MAC, start, link state.  Errors come back as a
 * negative errno with "port NAME: reason" in the caller's buffer; what was set up is undone.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <numa.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_log.h"
#include "dp_net.h"
#include "dp_port.h"

#define DP_PORT_DEFAULT_MTU 1500u
#define DP_PORT_DEFAULT_MBUFS 8191u
#define DP_PORT_LO_RING 1024u          /* loopback ring size when rx/tx_desc are 0 */
#define DP_PORT_VLAN_ROOM 4u           /* data room for one VLAN tag */
#define DP_PORT_START_WAIT_MS 5000u    /* net_memif clients: wait this long for the server */

/* Write "port NAME: reason" into err. */
static int fail(char *err, size_t errlen, const struct dp_port_cfg *pc, int rc,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const struct dp_port_cfg *pc, int rc,
		const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return rc;
	n = snprintf(err, errlen, "port %s: ", pc->name[0] ? pc->name : "?");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A DPDK return code (negative errno, or -1 with rte_errno) as a negative errno. */
static int neg_errno(int rc)
{
	if (rc < -1)
		return rc;
	return rte_errno > 0 ? -rte_errno : -EIO;
}

/*
 * The NUMA socket for a port's memory.  DPDK knows it for PCI devices; for vdevs (and NICs
 * on machines without NUMA information) rte_eth_dev_socket_id() says SOCKET_ID_ANY, and we
 * take the node of the main lcore's CPU from libnuma: worker 0 runs on the main lcore, and
 * the EAL allocates its own memory there first.  Without libnuma (numa_available() < 0,
 * e.g. a kernel without NUMA support) we fall back to the EAL's view of that lcore.
 */
static int main_lcore_socket(void)
{
	unsigned main_lcore = rte_get_main_lcore();
	int s;

	if (numa_available() >= 0) {
		s = numa_node_of_cpu(rte_lcore_to_cpu_id((int)main_lcore));
		if (s >= 0)
			return s;
	}
	s = (int)rte_lcore_to_socket_id(main_lcore);
	return s >= 0 ? s : 0;
}

static int port_socket(uint16_t port_id)
{
	int s = rte_eth_dev_socket_id(port_id);

	return s >= 0 ? s : main_lcore_socket();
}

/* Largest MTU the device accepts: DPDK 22.11 checks both max_mtu and max_rx_pktlen, with
 * the same overhead rule as rte_eth_dev_configure(). */
static uint32_t dev_max_mtu(const struct rte_eth_dev_info *di)
{
	uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	uint32_t m = di->max_mtu;

	if (di->max_mtu != UINT16_MAX && di->max_rx_pktlen > di->max_mtu)
		overhead = di->max_rx_pktlen - di->max_mtu;
	if (di->max_rx_pktlen > overhead && di->max_rx_pktlen - overhead < m)
		m = di->max_rx_pktlen - overhead;
	return m;
}

/*
 * net_af_packet above 1500.  DPDK 22.11's af_packet port reports 1518-byte frames at most,
 * so ethdev refuses any larger MTU, yet the port itself moves frames up to its ring's frame
 * size (devargs framesz=, 2048 by default) through the kernel interface, which carries what
 * its own MTU allows.  A jumbo MTU on such a port is therefore srdd's alone: ethdev is
 * configured at 1500 and never told more (its set_mtu would lower the kernel interface),
 * the kernel interface must already carry the MTU (`ip link set IFACE mtu N`, on both ends
 * of a veth pair), and each ring frame must hold a frame of that MTU plus the ring's own
 * header (AF_PACKET_RING_HDR).
 */
#define AF_PACKET_RING_HDR 128u /* room the kernel's TPACKET_V2 header and alignment take */

/* A devargs key's value as a number ("framesz=9216" in "net_af_packet0,iface=x,framesz=9216");
 * dflt if absent, 0 if the arguments do not parse. */
static uint32_t devargs_uint(const char *dev, const char *key, uint32_t dflt)
{
	const char *args = strchr(dev, ',');
	struct rte_kvargs *kv;
	const char *v;
	uint32_t n;

	if (!args)
		return dflt;
	kv = rte_kvargs_parse(args + 1, NULL);
	if (!kv)
		return 0;
	v = rte_kvargs_get(kv, key);
	n = v ? (uint32_t)strtoul(v, NULL, 10) : dflt;
	rte_kvargs_free(kv);
	return n;
}

/* The MTU of the kernel interface named ifname (0: unknown). */
static uint32_t kernel_if_mtu(const char *ifname)
{
	struct ifreq ifr;
	int fd, rc;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = ioctl(fd, SIOCGIFMTU, &ifr);
	close(fd);
	return rc == 0 && ifr.ifr_mtu > 0 ? (uint32_t)ifr.ifr_mtu : 0;
}

/* For an af_packet port asked for more than ethdev allows: 0 if the port can carry
 * want_mtu (*ring_frame: its ring's frame size), else fail()'s error naming what to change. */
static int af_packet_jumbo_check(const struct dp_port_cfg *pc, const struct rte_eth_dev_info *di,
				 uint32_t want_mtu, uint32_t *ring_frame, char *err, size_t errlen)
{
	uint32_t frame = devargs_uint(pc->dev, "framesz", 2048);
	uint32_t need = want_mtu + RTE_ETHER_HDR_LEN + DP_PORT_VLAN_ROOM + AF_PACKET_RING_HDR;
	char ifname[IF_NAMESIZE];
	uint32_t kmtu = 0;

	if (di->if_index && if_indextoname(di->if_index, ifname))
		kmtu = kernel_if_mtu(ifname);
	else
		snprintf(ifname, sizeof(ifname), "?");
	if (frame < need)
		return fail(err, errlen, pc, -EINVAL, "mtu %u on net_af_packet needs ring frames "
			    "of %u bytes or more (devargs framesz=%u, with blocksz= a multiple of it "
			    "and of the page size): it has %u", want_mtu, need,
			    (need + 1023) / 1024 * 1024, frame);
	if (frame > UINT16_MAX - RTE_PKTMBUF_HEADROOM) /* each frame goes into one mbuf */
		return fail(err, errlen, pc, -EINVAL, "net_af_packet's framesz=%u is larger than "
			    "an mbuf can hold (%u): use framesz=%u", frame,
			    UINT16_MAX - RTE_PKTMBUF_HEADROOM, (need + 1023) / 1024 * 1024);
	if (kmtu < want_mtu)
		return fail(err, errlen, pc, -EINVAL, "mtu %u on net_af_packet: the kernel "
			    "interface %s carries %u (ip link set %s mtu %u, and its peer's)",
			    want_mtu, ifname, kmtu, ifname, want_mtu);
	*ring_frame = frame;
	return 0;
}

/* ---- link state ---- */

/* Record state up; count it if it changed.  Called from workers and the interrupt thread. */
static void link_set(struct dp_port *p, uint8_t up)
{
	uint8_t old = __atomic_exchange_n(&p->link_up, up, __ATOMIC_RELAXED);

	if (old != up)
		__atomic_fetch_add(&p->link_changes, 1, __ATOMIC_RELAXED);
}

void dp_port_poll_link(struct dp_port *p)
{
	struct rte_eth_link link;

	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(p->port_id, &link) == 0)
		link_set(p, link.link_status == RTE_ETH_LINK_UP);
}

/* RTE_ETH_EVENT_INTR_LSC callback (EAL interrupt thread). */
static int lsc_event(uint16_t port_id, enum rte_eth_event_type type, void *arg, void *ret)
{
	struct dp_port *p = arg;
	uint64_t before = __atomic_load_n(&p->link_changes, __ATOMIC_RELAXED);

	(void)type;
	(void)ret;
	if (p->port_id != port_id)
		return 0;
	dp_port_poll_link(p);
	if (__atomic_load_n(&p->link_changes, __ATOMIC_RELAXED) != before)
		DP_LOG(NOTICE, "port %s: link %s", p->cfg->name, p->link_up ? "up" : "down");
	return 0;
}

/* ---- creating the ethdevs ---- */

/* Find (or probe) the ethdev of a PCI or vdev port. */
static int port_attach(const struct dp_port_cfg *pc, uint16_t *port_id, char *err,
		       size_t errlen)
{
	char name[RTE_DEV_NAME_MAX_LEN];
	struct rte_dev_iterator it;
	uint16_t pid;
	size_t len = strcspn(pc->dev, ",");
	int rc;

	if (pc->dev[0] == '\0')
		return fail(err, errlen, pc, -EINVAL, "no device given");
	if (len >= sizeof(name))
		return fail(err, errlen, pc, -ENAMETOOLONG, "device name too long in \"%s\"",
			    pc->dev);
	memcpy(name, pc->dev, len);
	name[len] = '\0';
	if (rte_eth_dev_get_port_by_name(name, port_id) == 0)
		return 0;  /* already there (--vdev, or a PCI device the EAL probed) */
	rc = rte_dev_probe(pc->dev);
	if (rc < 0)
		return fail(err, errlen, pc, neg_errno(rc), "cannot probe \"%s\": %s (see the "
			    "EAL messages above)", pc->dev, rte_strerror(-neg_errno(rc)));
	if (rte_eth_dev_get_port_by_name(name, port_id) == 0)
		return 0;
	/* a PCI device whose ethdev has another name (several ports per device) */
	RTE_ETH_FOREACH_MATCHING_DEV(pid, pc->dev, &it) {
		*port_id = pid;
		rte_eth_iterator_cleanup(&it);
		return 0;
	}
	return fail(err, errlen, pc, -ENODEV, "\"%s\" was probed but is no ethdev", pc->dev);
}

/* Round up to a power of two (at least 2, at most 2^30). */
static uint32_t pow2_up(uint32_t v)
{
	uint32_t p = 2;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/*
 * Create the crossed pair from config entries i and i+1: rings "srd_loK_qQ" carry what
 * loopback port K sends on queue Q; the ethdevs get ports->port[i] and [i+1].  On error,
 * what exists is left in ports (n, lo_rings) for dp_ports_close().
 */
static int lo_pair_create(const struct dp_config *cfg, uint32_t i, uint16_t nq, int socket,
			  struct dp_ports *ports, char *err, size_t errlen)
{
	const struct dp_port_cfg *pa = &cfg->ports[i], *pb = &cfg->ports[i + 1];
	struct rte_ring *tx[2][DP_MAX_QUEUES]; /* tx[e][q]: ring end e sends into on queue q */
	uint32_t first = ports->nlo_rings;     /* lo_rings index of this pair's first ring */
	char name[RTE_RING_NAMESIZE];

	if (ports->nlo_rings + 2u * nq > RTE_DIM(ports->lo_rings))
		return fail(err, errlen, pa, -ENOSPC, "too many loopback rings");
	for (uint32_t e = 0; e < 2; e++) {
		const struct dp_port_cfg *snd = e ? pb : pa, *rcv = e ? pa : pb;
		uint32_t size = snd->tx_desc > rcv->rx_desc ? snd->tx_desc : rcv->rx_desc;

		size = size ? pow2_up(size) : DP_PORT_LO_RING;
		for (uint16_t q = 0; q < nq; q++) {
			snprintf(name, sizeof(name), "srd_lo%u_q%u", first / nq + e, q);
			tx[e][q] = rte_ring_create(name, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!tx[e][q])
				return fail(err, errlen, snd, -rte_errno, "cannot create ring %s: %s",
					    name, rte_strerror(rte_errno));
			ports->lo_rings[ports->nlo_rings++] = tx[e][q];
		}
	}
	for (uint32_t e = 0; e < 2; e++) {
		const struct dp_port_cfg *pc = e ? pb : pa;
		struct dp_port *p = &ports->port[i + e];
		int rc;

		snprintf(name, sizeof(name), "srd_lo%u", first / nq + e);
		/* this end receives what the other end sends, and sends into its own rings */
		rc = rte_eth_from_rings(name, tx[!e], nq, tx[e], nq, (unsigned)socket);
		if (rc < 0)
			return fail(err, errlen, pc, neg_errno(rc), "cannot create ethdev net_ring_%s:"
				    " %s", name, rte_strerror(-neg_errno(rc)));
		p->cfg = pc;
		p->port_id = (uint16_t)rc;
		ports->n = i + e + 1;
	}
	return 0;
}

/* ---- configuring one port ---- */

/*
 * Can frames of this port name an app's bytes in a second segment (srdd sends payloads
 * from the apps' memory)?  Only where the port reads frames by virtual address in this
 * process: the crossed pair (its rings move pointers to this process's own workers), and
 * the vdevs that copy each frame out in their transmit call (af_packet into its ring, tap
 * with writev, pcap into its file, memif into the shared ring, unless in zero-copy mode,
 * where the peer reads the frame's own memory, which must then be a region it maps).  A
 * PCI device would need the apps' regions mapped for its DMA, and vhost-user ports the same
 * for the backend: srdd does neither, and copies.
 */
static bool tx_reads_by_va(const struct dp_port_cfg *pc, const struct rte_eth_dev_info *di)
{
	static const char *const drivers[] = { "net_af_packet", "net_tap", "net_pcap",
					       "net_memif" };

	if (pc->kind == DP_PORT_LOOPBACK)
		return true;
	if (pc->kind != DP_PORT_VDEV || !(di->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
		return false;
	if (strcmp(di->driver_name, "net_memif") == 0 && strstr(pc->dev, "zero-copy=yes"))
		return false;
	for (size_t k = 0; k < RTE_DIM(drivers); k++)
		if (strcmp(di->driver_name, drivers[k]) == 0)
			return true;
	return false;
}

/* Start the port; a net_memif client cannot start before its server listens, so it is
 * given DP_PORT_START_WAIT_MS to appear. */
static int port_start(struct dp_port *p)
{
	int waited = 0;
	int rc;

	while ((rc = rte_eth_dev_start(p->port_id)) != 0) {
		if (p->cfg->kind != DP_PORT_VDEV || strncmp(p->cfg->dev, "net_memif", 9) != 0 ||
		    !strstr(p->cfg->dev, "role=client") || waited >= (int)DP_PORT_START_WAIT_MS)
			return rc;
		if (waited == 0)
			DP_LOG(NOTICE, "port %s: waiting for the memif server", p->cfg->name);
		usleep(100 * 1000);
		waited += 100;
	}
	return 0;
}

/*
 * Configure and start p (its ethdev exists): the DPDK examples' port_init.  On error what
 * this function started is undone; the ethdev and p->pool stay for dp_ports_close(),
 * which closes the one (its queues hold mbufs of the pool) before freeing the other.
 */
static int port_setup(struct dp_port *p, uint32_t idx, uint32_t mbufs, uint16_t nq,
		      char *err, size_t errlen)
{
	const struct dp_port_cfg *pc = p->cfg;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info di;
	struct rte_eth_rxconf rxc;
	struct rte_eth_txconf txc;
	struct rte_ether_addr mac;
	uint16_t nrx = (uint16_t)pc->rx_desc, ntx = (uint16_t)pc->tx_desc, mtu;
	uint32_t want_mtu = pc->mtu ? pc->mtu : DP_PORT_DEFAULT_MTU, room, cache;
	char name[RTE_MEMPOOL_NAMESIZE];
	const char *what;  /* the step that failed */
	int soft_mac = 0;  /* 1: the device kept its own MAC, ours is in software */
	uint32_t dev_mtu, ring_frame = 0; /* the MTU ethdev is told; af_packet's frame size */
	int rc;

	rc = rte_eth_dev_info_get(p->port_id, &di);
	if (rc)
		return fail(err, errlen, pc, rc, "cannot read device info: %s", rte_strerror(-rc));
	if (nq > di.max_rx_queues || nq > di.max_tx_queues)
		return fail(err, errlen, pc, -EINVAL, "%u queue pairs (one per worker) but %s has "
			    "at most %u RX / %u TX queues%s", nq, di.driver_name, di.max_rx_queues,
			    di.max_tx_queues, strstr(di.driver_name, "af_packet") ?
			    " (add qpairs=N to its devargs)" : "");
	dev_mtu = want_mtu;
	if (want_mtu > dev_max_mtu(&di) && strcmp(di.driver_name, "net_af_packet") == 0) {
		rc = af_packet_jumbo_check(pc, &di, want_mtu, &ring_frame, err, errlen);
		if (rc)
			return rc;
		dev_mtu = dev_max_mtu(&di);
	}
	if (dev_mtu > dev_max_mtu(&di) || dev_mtu < di.min_mtu)
		return fail(err, errlen, pc, -EINVAL, "mtu %u is outside what %s accepts [%u, %u]: "
			    "lower the port's mtu", want_mtu, di.driver_name, di.min_mtu,
			    dev_max_mtu(&di));
	p->socket = port_socket(p->port_id);
	p->nqueues = nq;

	/* the mempool, on the port's socket (the EAL may have memory elsewhere only, e.g.
	 * with --no-huge: then anywhere) */
	room = RTE_PKTMBUF_HEADROOM + want_mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN +
	       DP_PORT_VLAN_ROOM;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	if (room < RTE_PKTMBUF_HEADROOM + ring_frame) /* af_packet copies a whole ring frame's
							  room into one mbuf */
		room = RTE_PKTMBUF_HEADROOM + ring_frame;
	if (!mbufs)
		mbufs = DP_PORT_DEFAULT_MBUFS;
	cache = mbufs / 8 < 256 ? mbufs / 8 : 256;
	snprintf(name, sizeof(name), "srd_mp%u", idx);
	p->pool = rte_pktmbuf_pool_create(name, mbufs, cache, 0, (uint16_t)room, p->socket);
	if (!p->pool && rte_errno == ENOMEM) {
		DP_LOG(WARNING, "port %s: no memory on socket %d for its mbufs, using any",
		       pc->name, p->socket);
		p->pool = rte_pktmbuf_pool_create(name, mbufs, cache, 0, (uint16_t)room,
						  SOCKET_ID_ANY);
	}
	if (!p->pool)
		return fail(err, errlen, pc, -rte_errno, "cannot create mempool %s (%u mbufs of %u "
			    "bytes): %s", name, mbufs, room, rte_strerror(rte_errno));

	/* offloads: checksums where the device has them (dp_net computes the others) */
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = dev_mtu;
	p->csum_tx = p->csum_rx = 0;
	/* no UDP checksum (0, which IPv4 allows) where frames never cross a wire: the crossed
	 * loopback pair, and net_memif, whose frames go from one process's memory to another's
	 * on this host (summing 1.4 KB frames in software took 9% of two daemons' CPU); and
	 * where the config says so (an af_packet port on a veth pair between namespaces, where
	 * the kernel's own TCP and UDP sum nothing either) */
	if (pc->udp_checksum >= 0)
		p->csum_none = pc->udp_checksum ? 0 : DP_CSUM_UDP_NONE;
	else
		p->csum_none = pc->kind == DP_PORT_LOOPBACK ||
					       strcmp(di.driver_name, "net_memif") == 0 ?
				       DP_CSUM_UDP_NONE : 0;
	/* payloads sent from the apps' memory, a second segment per frame, where it is safe */
	p->tx_ref = tx_reads_by_va(pc, &di);
	if (p->tx_ref && (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		p->csum_tx |= DP_CSUM_IP_OFFLOAD;
	}
	if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		p->csum_tx |= DP_CSUM_UDP_OFFLOAD;
	}
	if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
		p->csum_rx |= DP_CSUM_IP_OFFLOAD;
	}
	if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
		p->csum_rx |= DP_CSUM_UDP_OFFLOAD;
	}
	/* several queues: let RSS spread over them where the device can (the workers steer
	 * each packet to the worker that owns its connection anyway) */
	if (nq > 1 && di.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
	}
	conf.intr_conf.lsc = (*di.dev_flags & RTE_ETH_DEV_INTR_LSC) ? 1 : 0;

	what = "rte_eth_dev_configure";
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf);
	if (rc)
		goto err_report;
	if (nrx || ntx) {
		uint16_t r = nrx ? nrx : 1024, t = ntx ? ntx : 1024;

		what = "rte_eth_dev_adjust_nb_rx_tx_desc";
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &r, &t);
		if (rc)
			goto err_report;
		nrx = nrx ? r : 0;  /* 0: the device's default */
		ntx = ntx ? t : 0;
	}
	rxc = di.default_rxconf;
	rxc.offloads = conf.rxmode.offloads;
	txc = di.default_txconf;
	txc.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; q < nq; q++) {
		what = "rte_eth_rx_queue_setup";
		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx, (unsigned)p->socket, &rxc, p->pool);
		if (rc)
			goto err_report;
		what = "rte_eth_tx_queue_setup";
		rc = rte_eth_tx_queue_setup(p->port_id, q, ntx, (unsigned)p->socket, &txc);
		if (rc)
			goto err_report;
	}
	/* the MTU: configure() recorded rxmode.mtu; set_mtu also tells the device (a tap's
	 * kernel side, a NIC).  Devices without the operation (net_ring, net_memif) keep the
	 * recorded value. */
	if (dev_mtu == want_mtu) {
		what = "rte_eth_dev_set_mtu";
		rc = rte_eth_dev_set_mtu(p->port_id, (uint16_t)want_mtu);
		if (rc && rc != -ENOTSUP)
			goto err_report;
		if (rte_eth_dev_get_mtu(p->port_id, &mtu) != 0)
			mtu = (uint16_t)want_mtu;
	} else {
		mtu = (uint16_t)want_mtu; /* af_packet above ethdev's limit: checked above */
	}
	p->mtu = mtu;
	what = "rte_eth_macaddr_get";
	rc = rte_eth_macaddr_get(p->port_id, &mac);
	if (rc)
		goto err_report;
	memcpy(p->mac, mac.addr_bytes, sizeof(p->mac));
	if (pc->has_mac || pc->kind == DP_PORT_LOOPBACK) {
		/* net_ring gives every port the same (zero) address: the pair's ends get
		 * locally administered ones, 02:53:52:44:00:<config index + 1> ("SRD") */
		static const uint8_t lo_mac[6] = { 0x02, 0x53, 0x52, 0x44, 0x00, 0x00 };

		memcpy(mac.addr_bytes, pc->has_mac ? pc->mac : lo_mac, sizeof(mac.addr_bytes));
		if (!pc->has_mac)
			mac.addr_bytes[5] = (uint8_t)(idx + 1);
		what = "rte_eth_dev_default_mac_addr_set";
		rc = rte_eth_dev_default_mac_addr_set(p->port_id, &mac);
		if (rc == -ENOTSUP) {
			/* a device that cannot change it (net_ring): the address is ours in
			 * software, in every frame we build and check; promiscuous below, so
			 * that a device filtering by its own address still lets ours in */
			soft_mac = 1;
			rc = 0;
		}
		if (rc)
			goto err_report;
		memcpy(p->mac, mac.addr_bytes, sizeof(p->mac));
	}

	if (conf.intr_conf.lsc) {
		what = "rte_eth_dev_callback_register";
		rc = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_INTR_LSC, lsc_event, p);
		if (rc)
			goto err_report;
	}
	what = "rte_eth_dev_start";
	rc = port_start(p);
	if (rc)
		goto err_unregister;
	what = soft_mac ? "rte_eth_promiscuous_enable" : "rte_eth_promiscuous_disable";
	rc = soft_mac ? rte_eth_promiscuous_enable(p->port_id) :
			rte_eth_promiscuous_disable(p->port_id);
	if (rc && rc != -ENOTSUP)
		goto err_stop;
	p->link_up = 0;
	dp_port_poll_link(p);
	__atomic_store_n(&p->link_changes, 0, __ATOMIC_RELAXED);  /* the first state is no change */
	DP_LOG(INFO, "port %s: ethdev %u (%s), socket %d, %u queue pair%s, mtu %u, checksum "
	       "offload tx %#x rx %#x, UDP checksum %s, payloads sent %s, link %s (%s)", pc->name,
	       p->port_id, di.driver_name, p->socket, nq, nq == 1 ? "" : "s", p->mtu, p->csum_tx,
	       p->csum_rx, p->csum_none ? "none (0)" : "on",
	       p->tx_ref ? "from the apps' memory" : "copied into frames",
	       p->link_up ? "up" : "down", conf.intr_conf.lsc ? "interrupt" : "polled");
	return 0;

err_stop:
	rte_eth_dev_stop(p->port_id);
err_unregister:
	if (conf.intr_conf.lsc)
		rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC, lsc_event, p);
err_report:
	/* p->pool stays: the queues hold its mbufs until the ethdev is closed, so
	 * dp_ports_close() closes the ethdev first and frees the pool after */
	rc = neg_errno(rc);
	return fail(err, errlen, pc, rc, "%s failed on %s (%u queue pair%s, mtu %u): %s", what,
		    di.driver_name, nq, nq == 1 ? "" : "s", want_mtu, rte_strerror(-rc));
}

/* ---- all ports ---- */

int dp_ports_init(const struct dp_config *cfg, uint16_t nqueues, struct dp_ports *ports,
		  char *err, size_t errlen)
{
	int rc = 0;

	memset(ports, 0, sizeof(*ports));
	if (err && errlen)
		err[0] = '\0';
	if (nqueues == 0 || nqueues > DP_MAX_QUEUES || cfg->nports > DP_MAX_PORTS) {
		if (err && errlen)
			snprintf(err, errlen, "ports: %u queue pairs and %u ports asked (at most "
				 "%u, %u)", nqueues, cfg->nports, DP_MAX_QUEUES, DP_MAX_PORTS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->nports; i++) {
		const struct dp_port_cfg *pc = &cfg->ports[i];
		uint32_t n = 1;

		if (pc->kind == DP_PORT_LOOPBACK) {
			if (i + 1 >= cfg->nports || cfg->ports[i + 1].kind != DP_PORT_LOOPBACK) {
				rc = fail(err, errlen, pc, -EINVAL, "a loopback port needs a loopback "
					  "peer as the next port");
				goto err_close;
			}
			/* rings and ethdevs of no device: the main lcore's node */
			rc = lo_pair_create(cfg, i, nqueues, main_lcore_socket(), ports, err, errlen);
			if (rc)
				goto err_close;
			n = 2;
		} else if (pc->kind == DP_PORT_VDEV || pc->kind == DP_PORT_PCI) {
			rc = port_attach(pc, &ports->port[i].port_id, err, errlen);
			if (rc)
				goto err_close;
			ports->port[i].cfg = pc;
			ports->n = i + 1;
		} else {
			rc = fail(err, errlen, pc, -EINVAL, "unknown kind %d", (int)pc->kind);
			goto err_close;
		}
		for (uint32_t k = i; k < i + n; k++) {
			for (uint32_t j = 0; j < k; j++) {
				if (ports->port[j].port_id == ports->port[k].port_id) {
					rc = fail(err, errlen, &cfg->ports[k], -EEXIST, "same device as "
						  "port %s", cfg->ports[j].name);
					ports->n = k;  /* not ours to close twice */
					goto err_close;
				}
			}
			rc = port_setup(&ports->port[k], k, cfg->mbufs, nqueues, err, errlen);
			if (rc)
				goto err_close;
		}
		i += n - 1;
	}
	return 0;

err_close:
	dp_ports_close(ports);
	return rc;
}

/* Free the mbufs a loopback ring still holds (sent, never received). */
static void lo_ring_drain(struct rte_ring *r)
{
	void *objs[32];
	unsigned n;

	while ((n = rte_ring_dequeue_burst(r, objs, RTE_DIM(objs), NULL)) > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

void dp_ports_stop(struct dp_ports *ports)
{
	if (!ports)
		return;
	/* 1. the ethdevs: stop, close (their queues give mbufs back), and remove the devices
	 * we own (vdevs and the loopback pair: a tap interface or memif socket goes away) */
	for (uint32_t i = ports->n; i-- > 0;) {
		struct dp_port *p = &ports->port[i];
		struct rte_eth_dev_info di;
		struct rte_device *dev = NULL;

		if (!p->cfg || p->closed)
			continue;
		p->closed = 1;
		if (rte_eth_dev_info_get(p->port_id, &di) == 0)
			dev = di.device;
		for (int tries = 0; tries < 100; tries++) {
			if (rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC,
							    lsc_event, p) != -EAGAIN)
				break;
			usleep(1000);  /* the callback is running */
		}
		rte_eth_dev_stop(p->port_id);
		rte_eth_dev_close(p->port_id);
		if (dev && p->cfg->kind != DP_PORT_PCI && rte_dev_remove(dev) != 0)
			DP_LOG(WARNING, "port %s: could not remove its device", p->cfg->name);
	}
	/* 2. mbufs still in the loopback rings (from either pool) */
	for (uint32_t i = 0; i < ports->nlo_rings; i++)
		lo_ring_drain(ports->lo_rings[i]);
}

void dp_ports_close(struct dp_ports *ports)
{
	if (!ports)
		return;
	dp_ports_stop(ports);
	/* 3. the pools */
	for (uint32_t i = 0; i < ports->n; i++) {
		struct dp_port *p = &ports->port[i];
		const char *name = p->cfg ? p->cfg->name : "?";

		if (p->pool) {
			/* every mbuf should be back by now (worker fini, ethdev close, the drain
			 * above): one still out is a leak somewhere upstream */
			unsigned int out = rte_mempool_in_use_count(p->pool);

			if (out > 0)
				DP_LOG(WARNING, "port %s: %u mbufs still in use at shutdown", name, out);
			else
				DP_LOG(INFO, "port %s: all mbufs returned", name);
		}
		rte_mempool_free(p->pool);
		p->pool = NULL;
	}
	/* 4. the rings */
	for (uint32_t i = 0; i < ports->nlo_rings; i++) {
		rte_ring_free(ports->lo_rings[i]);
		ports->lo_rings[i] = NULL;
	}
	ports->nlo_rings = 0;
	ports->n = 0;
}
