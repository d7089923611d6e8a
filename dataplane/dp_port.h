/*
 * dp_port.h — the ports srdd owns through DPDK: probing PCI devices and vdevs, the
 * built-in crossed loopback pair, mempools on each port's NUMA socket, one RX/TX queue
 * pair per worker, checksum offloads where the port has them, MTU, link state.
 */
#ifndef DP_PORT_H
#define DP_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"

struct rte_mempool;
struct rte_ring;

#define DP_MAX_QUEUES 16u /* RX/TX queue pairs per port: one per worker (workers: 1..16) */

/* One port, ready for the workers. */
struct dp_port {
	const struct dp_port_cfg *cfg; /* its configuration */
	uint16_t port_id;              /* DPDK port id */
	int socket;                    /* NUMA socket of the device (libnuma when DPDK says
	                                  SOCKET_ID_ANY) */
	uint8_t mac[6];                /* its Ethernet address */
	struct rte_mempool *pool;      /* mbufs for this port, on its socket */
	uint16_t nqueues;              /* RX/TX queue pairs (one per worker) */
	unsigned csum_tx;              /* DP_CSUM_* the port computes on transmit */
	unsigned csum_rx;              /* DP_CSUM_* the port verifies on receive (enabled; each
	                                  mbuf's RTE_MBUF_F_RX_*_CKSUM_* flags say the verdict) */
	unsigned csum_none;            /* DP_CSUM_UDP_NONE where frames carry no UDP checksum
	                                  (udp_checksum false, or by default the crossed
	                                  loopback pair and net_memif, whose frames never leave
	                                  the host's memory), else 0 */
	uint16_t mtu;                  /* IP MTU in effect */
	volatile uint8_t link_up;      /* 1: link up; updated by the link-state callback or
	                                  dp_port_poll_link() */
	uint64_t link_changes;         /* link up/down changes seen (updated atomically) */
	uint8_t tx_ref;                /* frames may go out in two segments, the payload one
	                                  naming an app's bytes (srd_poll_tx_ref): the port
	                                  reads them by virtual address (a vdev that takes
	                                  multi-segment frames, or the loopback pair) */
	uint8_t closed;                /* dp_ports_stop() closed it */
};

/* All ports, and what must be freed with them. */
struct dp_ports {
	struct dp_port port[DP_MAX_PORTS];   /* port[0..n) in config order */
	uint32_t n;                          /* ports whose ethdev exists (after a successful
	                                        dp_ports_init(): every configured port) */
	struct rte_ring *lo_rings[DP_MAX_PORTS * DP_MAX_QUEUES]; /* rings of the crossed
	                                        loopback pairs: one per loopback port and queue
	                                        (the port's TX ring is its peer's RX ring) */
	uint32_t nlo_rings;
};

/*
 * After rte_eal_init(): probe every configured device (rte_dev_probe for vdevs and PCI
 * addresses not yet present), create the loopback pair's rings and ethdevs, and configure
 * each port: nqueues queue pairs, its mempool (cfg->mbufs mbufs, data room for the MTU),
 * offloads, MTU, MAC (loopback ends without one get 02:53:52:44:00:<index + 1>; a device
 * that cannot take it keeps it in software and runs promiscuous), promiscuous off
 * otherwise, start, and a link-state callback.  Returns 0, or a negative errno with the
 * port's name and the reason in err (everything set up so far is released).
 */
int dp_ports_init(const struct dp_config *cfg, uint16_t nqueues, struct dp_ports *ports,
		  char *err, size_t errlen);

/*
 * Read port p's link state without waiting (rte_eth_link_get_nowait) and update link_up,
 * counting a change in link_changes.  Ports whose device raises link-state interrupts
 * (most NICs) are also updated by a callback; the others only by this call: net_memif,
 * net_af_packet, net_ring (the loopback pair), and net_tap, which in DPDK 22.11 claims
 * RTE_ETH_DEV_INTR_LSC but never raises the event.  So every worker calls it
 * periodically.  Safe from any lcore, concurrently with the callback.
 */
void dp_port_poll_link(struct dp_port *p);

/* Stop and close every port and free the frames its queues and the loopback rings still
 * hold (frames may name apps' memory: before the apps' regions go).  Once per port. */
void dp_ports_stop(struct dp_ports *ports);

/* dp_ports_stop(), then free the mempools and rings.  Safe on a partly set up struct
 * (zeroed fields are skipped). */
void dp_ports_close(struct dp_ports *ports);

#endif /* DP_PORT_H */
