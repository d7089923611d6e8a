/*
 * dp_config.h — srdd's configuration: the parsed form of the JSON file (docs/config.md),
 * and its loader.  Loading checks everything: an unknown key, a wrong type or a value out
 * of range is refused with a message naming the file, the key (as a JSON path) and the
 * reason.  No DPDK here: the loader runs before the EAL (and in srdd --check-config).
 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "srd_core.h"

#define DP_SOCKET_PATH_MAX 103u /* control socket path: sun_path less its NUL and the
                                   ".new" srdd binds it under until it listens */
#define DP_MAX_PORTS 8u          /* ports (a loopback pair counts as two) */
#define DP_MAX_WORKERS 16u       /* workers (four bits of worker index on the wire) */
#define DP_MAX_ROUTES 32u        /* routes per port */
#define DP_MAX_NEIGH 64u         /* static neighbours per port */
#define DP_MAX_EAL_ARGS 64u      /* EAL arguments from the file */
#define DP_MAX_IDS 16u           /* allowed uids, allowed gids */
#define DP_MAX_IMPAIR_PATHS 64u  /* paths of the impairment stage */
#define DP_IMPAIR_QUEUE_PKTS 4096u /* packets the impairment stage holds per path */
#define DP_PATH_MAX 256u         /* file names and device strings */

/* How a worker waits when it finds nothing to do. */
enum dp_idle_policy {
	DP_IDLE_BUSY = 0,  /* spin: lowest latency, a whole core */
	DP_IDLE_PAUSE = 1, /* spin with the CPU's pause instruction */
	DP_IDLE_SLEEP = 2, /* sleep, doubling from 1 µs up to idle_sleep_max_us (shares cores) */
	DP_IDLE_ADAPTIVE = 3, /* spin while work came within idle_spin_us, then sleep as
	                         DP_IDLE_SLEEP does, never past the worker's next deadline */
};

/* Where a port comes from. */
enum dp_port_kind {
	DP_PORT_PCI = 0,       /* a NIC by PCI address */
	DP_PORT_VDEV = 1,      /* a DPDK virtual device (net_tap, net_memif, net_af_packet, ...) */
	DP_PORT_LOOPBACK = 2,  /* one end of srdd's crossed loopback pair (two ports joined by
	                          rings in this process); always configured as a pair */
};

/* One route: destinations in prefix/len go through next_hop (0: directly connected). */
struct dp_route {
	uint32_t prefix;   /* host byte order, masked */
	uint8_t len;       /* prefix length, 0..32 */
	uint32_t next_hop; /* host byte order; 0: on-link */
};

/* A static neighbour: ipv4 is reached at mac. */
struct dp_neigh {
	uint32_t ipv4;   /* host byte order */
	uint8_t mac[6];  /* Ethernet address */
};

/* The fabric-impairment stage of one path (TX side, loopback testing). */
struct dp_impair_path {
	uint64_t delay_ns;     /* extra one-way delay */
	double loss;           /* drop probability, 0..1 */
	uint64_t rate_bps;     /* serialization rate (0: unlimited) */
	uint64_t ecn_bytes;    /* mark ECT packets CE above this queue (0: never) */
	uint8_t blackhole;     /* 1: drop everything */
};

/* The impairment stage of a port (off unless enabled). */
struct dp_impair_cfg {
	uint8_t enabled;       /* 0: packets go straight to the port */
	uint32_t npaths;       /* paths, chosen by hashing the UDP source port (1..64) */
	uint64_t seed;         /* for loss draws */
	struct dp_impair_path path[DP_MAX_IMPAIR_PATHS]; /* path[0..npaths) */
};

/* One port. */
struct dp_port_cfg {
	char name[32];             /* the config's name for it (logs, telemetry) */
	enum dp_port_kind kind;    /* where it comes from */
	char dev[DP_PATH_MAX];     /* PCI: "0000:3b:00.0"; VDEV: the --vdev string, e.g.
	                              "net_tap0,iface=srd0"; LOOPBACK: "" */
	uint32_t ipv4;             /* local address, host byte order */
	uint8_t prefix_len;        /* of the local subnet */
	uint32_t gateway;          /* default gateway (0: none) */
	struct dp_route routes[DP_MAX_ROUTES]; /* per-subnet next hops */
	uint32_t nroutes;
	struct dp_neigh neigh[DP_MAX_NEIGH];   /* static neighbours */
	uint32_t nneigh;
	uint16_t mtu;              /* IP MTU, 576..9000 */
	uint8_t mac[6];            /* set the port's MAC (when has_mac) */
	uint8_t has_mac;
	uint32_t rx_desc;          /* RX descriptors per queue */
	uint32_t tx_desc;          /* TX descriptors per queue */
	int8_t udp_checksum;       /* 1: UDP checksums on every frame sent; 0: none (field 0);
	                              -1: by kind (none on the loopback pair and net_memif) */
	struct dp_impair_cfg impair; /* fabric impairment on its TX path */
};

/* The whole daemon. */
struct dp_config {
	char file[DP_PATH_MAX];        /* where it was read from (for messages) */
	char *eal_argv[DP_MAX_EAL_ARGS]; /* EAL arguments from the file (owned; the command
	                                    line's, after --, are appended by srdd) */
	int eal_argc;
	uint32_t workers;              /* worker lcores (1..16); the first runs on the main lcore */
	uint64_t protocol_seed;        /* the engines' random seed (entropy values, ids); 0: from
	                                  the clock and the pid at each start */
	enum dp_idle_policy idle;      /* how idle workers wait */
	uint32_t idle_sleep_max_us;    /* longest sleep of DP_IDLE_SLEEP and DP_IDLE_ADAPTIVE
	                                  (1..10000) */
	uint32_t idle_spin_us;         /* DP_IDLE_ADAPTIVE: spin while the last work is at most
	                                  this old (0..1000000) */
	uint32_t idle_deep_sleep_us;   /* DP_IDLE_ADAPTIVE: longest sleep while nothing is due
	                                  (no connection open), max_sleep_us..1000000 */
	uint16_t udp_port;             /* SRD's UDP destination port (worker w listens on
	                                  udp_port + w) */
	uint32_t mbufs;                /* mbufs per port pool */
	char socket_path[108];         /* the control socket (sun_path; ≤ DP_SOCKET_PATH_MAX) */
	uint32_t socket_mode;          /* its permissions, e.g. 0660 */
	uid_t allowed_uids[DP_MAX_IDS];/* peers allowed to attach (by SO_PEERCRED) */
	uint32_t nallowed_uids;
	gid_t allowed_gids[DP_MAX_IDS];
	uint32_t nallowed_gids;        /* no uids and no gids: only root and the daemon's uid */
	uint64_t app_region_bytes;     /* per-app shared region */
	uint32_t sq_entries;           /* per-app submission ring (power of two) */
	uint32_t cq_entries;           /* per-app completion ring (power of two) */
	uint32_t max_apps;             /* apps attached at once, per worker */
	uint32_t max_endpoints;        /* endpoints open at once, per worker (1..4095) */
	int log_level;                 /* RTE_LOG level for the srd log type (1..8) */
	struct srd_config engine;      /* protocol core (seg_size follows the ports' MTU) */
	struct dp_port_cfg ports[DP_MAX_PORTS];
	uint32_t nports;
};

/* Fill *cfg with every default (no ports). */
void dp_config_default(struct dp_config *cfg);

/*
 * Read and check the JSON file at path into *cfg (defaults first).  Returns 0, or -ENOENT /
 * -EACCES / -EIO (the file), -EINVAL (content: err says "FILE: KEY: REASON", e.g.
 * "config/x.json: ports[0].mtu: 9600 is out of range [576, 9000]"), -ENOMEM.
 */
int dp_config_load(const char *path, struct dp_config *cfg, char *err, size_t errlen);

/* Free what dp_config_load() allocated (the EAL arguments). */
void dp_config_free(struct dp_config *cfg);

#endif /* DP_CONFIG_H */
