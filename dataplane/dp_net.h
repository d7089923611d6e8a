/*
 * dp_net.h — Ethernet/IPv4/UDP framing of SRD packets, ARP, the neighbour table and route
 * lookup.  Works on byte buffers (the worker points it at mbuf data), so it is tested
 * without DPDK.  All addresses are host byte order in the API and network order on the
 * wire.
 */
#ifndef DP_NET_H
#define DP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"

#define DP_ETH_HLEN 14u
#define DP_IP_HLEN 20u
#define DP_UDP_HLEN 8u
#define DP_HDRS_LEN (DP_ETH_HLEN + DP_IP_HLEN + DP_UDP_HLEN) /* 42 */
#define DP_ARP_FRAME_LEN 42u     /* Ethernet + ARP for IPv4 */

/* ECN codepoints (low two bits of the IP TOS byte). */
#define DP_ECN_NOT_ECT 0u
#define DP_ECN_ECT0 2u
#define DP_ECN_CE 3u

/*
 * Addressing across workers.  Worker w of a daemon owns UDP destination port udp_port + w,
 * and with it the endpoints whose ids carry w in their top four bits, and the connections
 * of those endpoints.  A datagram names its sending worker in its UDP source port, whose
 * other bits carry the path entropy:
 *
 *   source port = 0xc000 | worker << 10 | entropy (10 bits)
 *
 * so that an ack finds its way back to the worker that sent the data, and a peer key (the
 * engines' name for the other end of a connection) is that worker's address:
 *
 *   peer key = worker << 32 | IPv4 address
 */
#define DP_EP_WORKER_SHIFT 12u      /* endpoint id = worker << 12 | 1..4095 */
#define DP_EP_PER_WORKER 4095u      /* endpoint ids of one worker */
#define DP_SRC_PORT_BASE 0xc000u    /* source ports 49152..65535 (the ephemeral range) */
#define DP_SRC_PORT_ENTROPY 0x3ffu  /* entropy bits of a source port */

/* The worker that owns endpoint id ep. */
static inline uint32_t dp_ep_worker(uint16_t ep)
{
	return (uint32_t)ep >> DP_EP_WORKER_SHIFT;
}

/* The UDP source port of worker's packet on the path with this entropy value. */
static inline uint16_t dp_src_port(uint32_t worker, uint32_t entropy)
{
	return (uint16_t)(DP_SRC_PORT_BASE | (worker & 0xfu) << 10 | (entropy & DP_SRC_PORT_ENTROPY));
}

/* The sending worker a UDP source port names, or -1 if it is not one SRD sends from. */
static inline int dp_src_port_worker(uint16_t src_port)
{
	return src_port >= DP_SRC_PORT_BASE ? (src_port >> 10) & 0xf : -1;
}

/* The peer key of worker on ipv4, and its parts. */
static inline uint64_t dp_peer_key(uint32_t ipv4, uint32_t worker)
{
	return (uint64_t)worker << 32 | ipv4;
}

static inline uint32_t dp_peer_ip(uint64_t peer)
{
	return (uint32_t)peer;
}

static inline uint32_t dp_peer_worker(uint64_t peer)
{
	return (uint32_t)(peer >> 32);
}

/* The addresses and ports of one SRD datagram. */
struct dp_flow {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port; /* carries the path entropy */
	uint16_t dst_port;
	uint8_t ecn;       /* DP_ECN_* for the IP header */
	uint8_t ttl;       /* 64 unless a test says otherwise */
};

/* Checksums the caller will leave to the NIC. */
#define DP_CSUM_IP_OFFLOAD 0x1u  /* the port computes the IPv4 header checksum */
#define DP_CSUM_UDP_OFFLOAD 0x2u /* the port computes the UDP checksum (the caller seeds the
                                   pseudo-header sum, as DPDK expects: see below) */
#define DP_CSUM_UDP_NONE 0x4u    /* dp_net_build: send UDP checksum 0, "none" (RFC 768): for
                                   frames that never reach a wire (dp_port_cfg's
                                   udp_checksum) */

/*
 * Write the Ethernet, IPv4 and UDP headers (DP_HDRS_LEN bytes) in front of payload_len
 * payload bytes that already follow them at hdr + DP_HDRS_LEN.  Checksums not offloaded
 * (csum_flags) are computed in software; with DP_CSUM_UDP_OFFLOAD the UDP checksum field
 * holds the pseudo-header sum the NIC completes.  Returns 0, or -EMSGSIZE if the datagram
 * would exceed 65535 bytes.
 */
int dp_net_build(uint8_t *hdr, const struct dp_flow *f, uint32_t payload_len,
		 unsigned csum_flags);

/* dp_net_build() of a datagram that goes on in a second buffer: payload_len bytes follow
 * the headers at hdr, then ref_len bytes at ref (read only for a UDP checksum summed here). */
int dp_net_build_ref(uint8_t *hdr, const struct dp_flow *f, uint32_t payload_len,
		     const uint8_t *ref, uint32_t ref_len, unsigned csum_flags);

/* What a received frame is. */
enum dp_rx_kind {
	DP_RX_SRD = 1, /* an SRD datagram for us: payload at off, len bytes */
	DP_RX_ARP = 2, /* an ARP packet */
};

/* Why a received frame was dropped (the worker counts each). */
enum dp_net_drop {
	DP_DROP_SHORT = 1,        /* shorter than its headers */
	DP_DROP_NOT_IPV4,         /* an ethertype other than IPv4 and ARP */
	DP_DROP_BAD_IP,           /* version, header length, total length, or a fragment */
	DP_DROP_IP_CSUM,          /* IPv4 header checksum wrong */
	DP_DROP_NOT_UDP,          /* another IP protocol */
	DP_DROP_NOT_FOR_US,       /* destination IP or MAC not ours */
	DP_DROP_WRONG_PORT,       /* UDP destination port outside SRD's range */
	DP_DROP_BAD_UDP,          /* UDP length disagrees with IP */
	DP_DROP_UDP_CSUM,         /* UDP checksum wrong (0 means none, accepted) */
	DP_DROP_BAD_ARP,          /* malformed or not Ethernet/IPv4 ARP */
	DP_DROP_SRC_PORT,         /* UDP source port below DP_SRC_PORT_BASE: not from SRD */
	DP_DROP_MAX
};

/* A parsed frame. */
struct dp_rx_info {
	enum dp_rx_kind kind;
	struct dp_flow flow;    /* SRD: addresses, ports, ecn as received */
	uint32_t off;           /* SRD: payload offset in the frame */
	uint32_t len;           /* SRD: payload bytes */
	uint16_t arp_op;        /* ARP: 1 request, 2 reply */
	uint8_t arp_sha[6];     /* ARP: sender hardware address */
	uint32_t arp_spa;       /* ARP: sender IPv4 */
	uint32_t arp_tpa;       /* ARP: target IPv4 */
};

/* What the receive side checks a frame against. */
struct dp_net_local {
	uint8_t mac[6];        /* the port's MAC */
	uint32_t ipv4;         /* the port's address */
	uint16_t port_lo;      /* SRD's UDP destination ports: [port_lo, port_hi] */
	uint16_t port_hi;
	unsigned csum_checked; /* DP_CSUM_* flags: checksums the NIC already verified */
};

/* May dp_net_parse() be given a frame whose first first_len bytes are at frame and whose
 * rest lies elsewhere (len then counting all of it)?  Only if it would read nothing past
 * them: an IPv4 frame without options, its Ethernet, IP and UDP headers all in those bytes,
 * and no UDP checksum left to check (0 sent, or DP_CSUM_UDP_OFFLOAD in csum_checked). */
bool dp_net_headers_suffice(const uint8_t *frame, uint32_t first_len, unsigned csum_checked);

/* Parse frame[0..len).  Returns DP_RX_SRD or DP_RX_ARP and fills *info, or the negated
 * enum dp_net_drop. */
int dp_net_parse(const uint8_t *frame, uint32_t len, const struct dp_net_local *local,
		 struct dp_rx_info *info);

/* Write an ARP request (who has tpa? tell spa) or reply into frame (DP_ARP_FRAME_LEN
 * bytes).  A request goes to the broadcast address; a reply to tha. */
void dp_net_arp_request(uint8_t *frame, const uint8_t sha[6], uint32_t spa, uint32_t tpa);
void dp_net_arp_reply(uint8_t *frame, const uint8_t sha[6], uint32_t spa,
		      const uint8_t tha[6], uint32_t tpa);

/* The next hop toward dst from port p: dst itself when on-link (in p's subnet or a route
 * with next hop 0), the longest matching route's next hop, else the gateway; 0 if none. */
uint32_t dp_net_next_hop(const struct dp_port_cfg *p, uint32_t dst);

/* ---- neighbour table (one per port; static entries never expire) ---- */

#define DP_NEIGH_SLOTS 256u /* entries, static ones included */

enum dp_neigh_state {
	DP_NEIGH_FREE = 0,
	DP_NEIGH_STATIC = 1,    /* from the config */
	DP_NEIGH_RESOLVED = 2,  /* learned from ARP; refreshed by traffic, expires */
	DP_NEIGH_PENDING = 3,   /* a request was sent; not answered yet */
};

struct dp_neigh_entry {
	uint32_t ipv4;          /* key */
	uint8_t mac[6];         /* valid when STATIC or RESOLVED */
	uint8_t state;          /* enum dp_neigh_state */
	uint8_t reserved;
	uint64_t updated_ns;    /* RESOLVED: learned; PENDING: last request sent */
	uint64_t asked_ns;      /* RESOLVED: last refresh request sent (0: none since learned) */
};

struct dp_neigh_table {
	struct dp_neigh_entry e[DP_NEIGH_SLOTS]; /* open addressing */
	uint64_t expire_ns;     /* RESOLVED entries older than this are re-resolved; from 3/4 of
	                           it on, lookups still answer but ask again (refresh), so that
	                           a live neighbour never expires */
	uint64_t retry_ns;      /* PENDING: at most one request per this interval */
	uint64_t misses;        /* lookups with no usable entry */
};

/* Start a table with the port's static neighbours. */
void dp_neigh_init(struct dp_neigh_table *t, const struct dp_port_cfg *p);

/*
 * The MAC for ipv4 at time now.  Returns 0 and fills mac, or -EAGAIN: unknown (or expired);
 * *send_request is set to 1 when the caller should send an ARP request now (rate-limited
 * by retry_ns): for an unknown entry, which becomes PENDING, and for a resolved one in the
 * last quarter of its life (the MAC is still returned).  -ENOSPC: the table is full.
 */
int dp_neigh_lookup(struct dp_neigh_table *t, uint32_t ipv4, uint64_t now, uint8_t mac[6],
		    int *send_request);

/* Forget every learned and pending entry (static ones stay): after the link comes back, the
 * neighbours may have moved. */
void dp_neigh_flush(struct dp_neigh_table *t);

/* Learn (or refresh) ipv4 at mac from ARP; static entries are never overwritten. */
void dp_neigh_learn(struct dp_neigh_table *t, uint32_t ipv4, const uint8_t mac[6],
		    uint64_t now);

#endif /* DP_NET_H */
