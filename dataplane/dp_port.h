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
	unsigned csum_rx;              /* DP_CSUM_* the port verifies on receive */
	uint16_t mtu;                  /* IP MTU in effect */
	volatile uint8_t link_up;      /* updated by the link-state callback */
	uint64_t link_changes;         /* link up/down events seen */
};

/* All ports, and what must be freed with them. */
struct dp_ports {
	struct dp_port port[DP_MAX_PORTS];   /* port[0..n) in config order */
	uint32_t n;
	struct rte_ring *lo_rings[64];       /* rings of the crossed loopback pair */
	uint32_t nlo_rings;
};

/*
 * After rte_eal_init(): probe every configured device (rte_dev_probe for vdevs and PCI
 * addresses not yet present), create the loopback pair's rings and ethdevs, and configure
 * each port: nqueues queue pairs, its mempool (cfg->mbufs mbufs, data room for the MTU),
 * offloads, MTU, promiscuous off, start, and a link-state callback.  Returns 0, or a
 * negative errno with the port's name and the reason in err (everything set up so far is
 * released).
 */
int dp_ports_init(const struct dp_config *cfg, uint16_t nqueues, struct dp_ports *ports,
		  char *err, size_t errlen);

/* Stop and close every port, free the mempools and rings.  Safe on a partly set up
 * struct (zeroed fields are skipped). */
void dp_ports_close(struct dp_ports *ports);

#endif /* DP_PORT_H */
