/*
 * dp_net.c — Ethernet/IPv4/UDP framing of SRD packets, ARP, route lookup and the
 * neighbour table (see dp_net.h).
 *
 * Plain C11 and libc: no DPDK, no system calls, no clock (time is an argument), so the unit
 * tests and the fuzzers drive exactly what the workers run.  Multi-byte fields are
 * big-endian on the wire and are read and written one byte at a time: correct on every
 * host, and never an unaligned access whatever the mbuf's data offset.
 *
 * Checksums (RFC 791, RFC 768, computed as in RFC 1071):
 *   - The IPv4 header checksum covers the header (options included).  With
 *     DP_CSUM_IP_OFFLOAD the field is left 0, which is what DPDK asks of a packet sent with
 *     RTE_MBUF_F_TX_IP_CKSUM.
 *   - The UDP checksum covers the pseudo-header (source, destination, zero, protocol, UDP
 *     length), the UDP header and the payload.  A computed 0 is sent as 0xffff; a received
 *     0 means "no checksum" and is accepted.
 *   - With DP_CSUM_UDP_OFFLOAD the UDP checksum field holds the pseudo-header sum, folded
 *     to 16 bits and NOT complemented, big-endian: the value rte_ipv4_phdr_cksum() returns
 *     for a packet without TSO (the NIC adds the UDP header and payload to it and stores the
 *     complement).  The worker therefore needs no DPDK helper for it.
 *   - With DP_CSUM_UDP_NONE the field is 0: no checksum, as RFC 768 allows over IPv4 (ports
 *     whose frames never reach a wire: the crossed loopback pair, net_memif, and any port
 *     configured with "udp_checksum": false).
 *
 * Receive checks, in this order (each failure is counted under its own reason):
 *   1. shorter than an Ethernet header                            DP_DROP_SHORT
 *   2. ethertype neither IPv4 nor ARP (VLAN tags included)        DP_DROP_NOT_IPV4
 *   3. shorter than Ethernet + IPv4 + UDP headers (+ options),
 *      or than Ethernet + ARP                                     DP_DROP_SHORT
 *   4. destination MAC not ours (ARP: ours or broadcast)          DP_DROP_NOT_FOR_US
 *   ARP: hardware type Ethernet, protocol IPv4, lengths 6 and 4,
 *        operation request or reply                               DP_DROP_BAD_ARP
 *   IPv4:
 *   5. version 4, header length >= 20 bytes                       DP_DROP_BAD_IP
 *   6. total length covers the header and fits in the frame
 *      (frames may be padded: the IP total length is used)        DP_DROP_BAD_IP
 *   7. not a fragment (MF set or a fragment offset)               DP_DROP_BAD_IP
 *   8. header checksum, unless csum_checked has DP_CSUM_IP_OFFLOAD  DP_DROP_IP_CSUM
 *   9. protocol UDP                                               DP_DROP_NOT_UDP
 *  10. destination IP ours                                        DP_DROP_NOT_FOR_US
 *  11. the IP payload holds a UDP header                          DP_DROP_BAD_UDP
 *  12. UDP destination port in [port_lo, port_hi]                 DP_DROP_WRONG_PORT
 *  13. UDP length equals the IP payload length                    DP_DROP_BAD_UDP
 *  14. UDP checksum (0: none), unless csum_checked has
 *      DP_CSUM_UDP_OFFLOAD                                        DP_DROP_UDP_CSUM
 *  15. UDP source port >= DP_SRC_PORT_BASE (it names the sending
 *      worker: see dp_net.h)                                      DP_DROP_SRC_PORT
 *
 * csum_checked is meant per packet: the worker sets a flag only when the NIC reported that
 * checksum GOOD (RTE_MBUF_F_RX_*_CKSUM_GOOD).  For BAD, UNKNOWN or NONE it leaves the flag
 * clear, the software check runs, and a bad checksum is dropped and counted here.
 *
 * The parser does not judge an ARP packet's addresses (target, gratuitous, probe): it
 * returns them and the worker decides whether to reply and what to learn.
 */
#include "dp_net.h"

#include <errno.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP 0x0806u
#define IPPROTO_UDP_NUM 17u
#define IP_FLAG_DF 0x4000u   /* don't fragment */
#define IP_FLAG_MF 0x2000u   /* more fragments */
#define IP_FRAG_OFF 0x1fffu  /* fragment offset, 8-byte units */
#define IP_TTL_DEFAULT 64u
#define IP_MAX_LEN 65535u

#define ARP_HTYPE_ETH 1u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY 2u
#define ARP_LEN 28u          /* the ARP packet for Ethernet/IPv4 */

/* Offsets in the Ethernet header. */
#define OFF_ETH_DST 0u
#define OFF_ETH_SRC 6u
#define OFF_ETH_TYPE 12u

/* Offsets in the IPv4 header (from its start). */
#define OFF_IP_VIHL 0u       /* version << 4 | header length in 32-bit words */
#define OFF_IP_TOS 1u        /* DSCP << 2 | ECN */
#define OFF_IP_LEN 2u        /* total length */
#define OFF_IP_ID 4u
#define OFF_IP_FRAG 6u       /* flags << 13 | fragment offset */
#define OFF_IP_TTL 8u
#define OFF_IP_PROTO 9u
#define OFF_IP_CSUM 10u
#define OFF_IP_SRC 12u
#define OFF_IP_DST 16u

/* Offsets in the UDP header. */
#define OFF_UDP_SPORT 0u
#define OFF_UDP_DPORT 2u
#define OFF_UDP_LEN 4u
#define OFF_UDP_CSUM 6u

/* Offsets in the ARP packet (from its start, after the Ethernet header). */
#define OFF_ARP_HTYPE 0u
#define OFF_ARP_PTYPE 2u
#define OFF_ARP_HLEN 4u
#define OFF_ARP_PLEN 5u
#define OFF_ARP_OP 6u
#define OFF_ARP_SHA 8u
#define OFF_ARP_SPA 14u
#define OFF_ARP_THA 18u
#define OFF_ARP_TPA 24u

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- byte order ---- */

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- Internet checksum ---- */

/* Fold an unfolded sum to 16 bits with end-around carries. */
static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Add len bytes at p, read as big-endian 16-bit words (an odd last byte padded with a zero
 * byte), to the unfolded one's-complement sum.  p must sit at an even offset of the data
 * being checksummed.  The bytes are summed as native 32-bit words, whole loads, into a
 * 64-bit total: 2^16 = 1 modulo 0xffff, so folding it gives the 16-bit one's-complement sum,
 * and that sum does not depend on byte order except by a swap of its two bytes (RFC 1071,
 * 2.B), made once at the end.  (Byte-by-byte big-endian reads cost af_packet's 9 KB frames
 * a seventh of both daemons' CPU.)
 */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t native = 0;
	uint32_t w32;
	uint16_t w16, folded;

	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		native += (uint64_t)lo + hi;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		native += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		native += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		const uint8_t last[2] = { p[0], 0 };

		memcpy(&w16, last, 2);
		native += w16;
	}
	folded = csum_fold(native);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = (uint16_t)(folded << 8 | folded >> 8);
#endif
	return sum + folded;
}

/* The unfolded sum of the UDP pseudo-header. */
static uint64_t phdr_sum(uint32_t src, uint32_t dst, uint16_t udp_len)
{
	return (uint64_t)(src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) +
	       IPPROTO_UDP_NUM + udp_len;
}

/* ---- transmit ---- */

int dp_net_build(uint8_t *hdr, const struct dp_flow *f, uint32_t payload_len,
		 unsigned csum_flags)
{
	return dp_net_build_ref(hdr, f, payload_len, NULL, 0, csum_flags);
}

int dp_net_build_ref(uint8_t *hdr, const struct dp_flow *f, uint32_t payload_len,
		     const uint8_t *ref, uint32_t ref_len, unsigned csum_flags)
{
	uint8_t *ip = hdr + DP_ETH_HLEN;
	uint8_t *udp = ip + DP_IP_HLEN;
	uint16_t udp_len, ip_len;
	uint64_t sum;

	if (payload_len > IP_MAX_LEN - DP_IP_HLEN - DP_UDP_HLEN ||
	    ref_len > IP_MAX_LEN - DP_IP_HLEN - DP_UDP_HLEN - payload_len)
		return -EMSGSIZE;
	udp_len = (uint16_t)(payload_len + ref_len + DP_UDP_HLEN);
	ip_len = (uint16_t)(udp_len + DP_IP_HLEN);

	memcpy(hdr + OFF_ETH_DST, f->dst_mac, 6);
	memcpy(hdr + OFF_ETH_SRC, f->src_mac, 6);
	put16(hdr + OFF_ETH_TYPE, ETHERTYPE_IPV4);

	ip[OFF_IP_VIHL] = 0x45;                  /* version 4, 5 words, no options */
	ip[OFF_IP_TOS] = (uint8_t)(f->ecn & 3u); /* DSCP 0 */
	put16(ip + OFF_IP_LEN, ip_len);
	put16(ip + OFF_IP_ID, 0);                /* DF set: the id is never used (RFC 6864) */
	put16(ip + OFF_IP_FRAG, IP_FLAG_DF);
	ip[OFF_IP_TTL] = (uint8_t)(f->ttl ? f->ttl : IP_TTL_DEFAULT);
	ip[OFF_IP_PROTO] = IPPROTO_UDP_NUM;
	put16(ip + OFF_IP_CSUM, 0);
	put32(ip + OFF_IP_SRC, f->src_ip);
	put32(ip + OFF_IP_DST, f->dst_ip);
	if (!(csum_flags & DP_CSUM_IP_OFFLOAD))
		put16(ip + OFF_IP_CSUM, (uint16_t)~csum_fold(csum_add(0, ip, DP_IP_HLEN)));

	put16(udp + OFF_UDP_SPORT, f->src_port);
	put16(udp + OFF_UDP_DPORT, f->dst_port);
	put16(udp + OFF_UDP_LEN, udp_len);
	put16(udp + OFF_UDP_CSUM, 0);
	sum = phdr_sum(f->src_ip, f->dst_ip, udp_len);
	if (csum_flags & DP_CSUM_UDP_NONE) {
		/* No checksum (0): the frame never reaches a wire. */
	} else if (csum_flags & DP_CSUM_UDP_OFFLOAD) {
		/* The NIC completes it: seed with the pseudo-header sum, not complemented. */
		put16(udp + OFF_UDP_CSUM, csum_fold(sum));
	} else {
		uint32_t first = DP_UDP_HLEN + payload_len;
		uint16_t c;

		sum = csum_add(sum, udp, first);
		if (ref_len) {
			/* the second buffer's words start one byte later after an odd first:
			 * its sum is then the byte-swapped one (RFC 1071, 2.B) */
			uint16_t part = csum_fold(csum_add(0, ref, ref_len));

			sum += first & 1u ? (uint16_t)(part << 8 | part >> 8) : part;
		}
		c = (uint16_t)~csum_fold(sum);
		put16(udp + OFF_UDP_CSUM, c ? c : 0xffffu);
	}
	return 0;
}

/* ---- receive ---- */

bool dp_net_headers_suffice(const uint8_t *frame, uint32_t first_len, unsigned csum_checked)
{
	const uint8_t *udp = frame + DP_ETH_HLEN + DP_IP_HLEN;

	return first_len >= DP_HDRS_LEN && get16(frame + OFF_ETH_TYPE) == ETHERTYPE_IPV4 &&
	       frame[DP_ETH_HLEN + OFF_IP_VIHL] == 0x45 &&
	       ((csum_checked & DP_CSUM_UDP_OFFLOAD) || get16(udp + OFF_UDP_CSUM) == 0);
}

/* The ARP packet of a frame of at least DP_ARP_FRAME_LEN bytes. */
static int parse_arp(const uint8_t *frame, struct dp_rx_info *info)
{
	const uint8_t *a = frame + DP_ETH_HLEN;
	uint16_t op = get16(a + OFF_ARP_OP);

	if (get16(a + OFF_ARP_HTYPE) != ARP_HTYPE_ETH || get16(a + OFF_ARP_PTYPE) != ETHERTYPE_IPV4 ||
	    a[OFF_ARP_HLEN] != 6 || a[OFF_ARP_PLEN] != 4 ||
	    (op != ARP_OP_REQUEST && op != ARP_OP_REPLY))
		return -DP_DROP_BAD_ARP;
	info->kind = DP_RX_ARP;
	info->arp_op = op;
	memcpy(info->arp_sha, a + OFF_ARP_SHA, 6);
	info->arp_spa = get32(a + OFF_ARP_SPA);
	info->arp_tpa = get32(a + OFF_ARP_TPA);
	return DP_RX_ARP;
}

int dp_net_parse(const uint8_t *frame, uint32_t len, const struct dp_net_local *local,
		 struct dp_rx_info *info)
{
	const uint8_t *ip = frame + DP_ETH_HLEN;
	const uint8_t *udp;
	uint32_t ihl, ip_len, udp_len, dst_ip;
	uint16_t type, frag, dport;

	memset(info, 0, sizeof(*info));
	if (len < DP_ETH_HLEN)
		return -DP_DROP_SHORT;
	type = get16(frame + OFF_ETH_TYPE);
	if (type == ETHERTYPE_ARP) {
		if (len < DP_ARP_FRAME_LEN)
			return -DP_DROP_SHORT;
		if (memcmp(frame + OFF_ETH_DST, local->mac, 6) != 0 &&
		    memcmp(frame + OFF_ETH_DST, bcast_mac, 6) != 0)
			return -DP_DROP_NOT_FOR_US;
		return parse_arp(frame, info);
	}
	if (type != ETHERTYPE_IPV4)
		return -DP_DROP_NOT_IPV4;
	if (len < DP_HDRS_LEN)
		return -DP_DROP_SHORT;
	if (memcmp(frame + OFF_ETH_DST, local->mac, 6) != 0)
		return -DP_DROP_NOT_FOR_US;

	/* IPv4 header. */
	if ((ip[OFF_IP_VIHL] >> 4) != 4)
		return -DP_DROP_BAD_IP;
	ihl = (uint32_t)(ip[OFF_IP_VIHL] & 0xfu) * 4u;
	if (ihl < DP_IP_HLEN)
		return -DP_DROP_BAD_IP;
	if (len < DP_ETH_HLEN + ihl + DP_UDP_HLEN)
		return -DP_DROP_SHORT; /* options leave no room for the UDP header */
	ip_len = get16(ip + OFF_IP_LEN);
	if (ip_len < ihl || ip_len > len - DP_ETH_HLEN)
		return -DP_DROP_BAD_IP;
	frag = get16(ip + OFF_IP_FRAG);
	if (frag & (IP_FLAG_MF | IP_FRAG_OFF))
		return -DP_DROP_BAD_IP;
	if (!(local->csum_checked & DP_CSUM_IP_OFFLOAD) &&
	    csum_fold(csum_add(0, ip, ihl)) != 0xffffu)
		return -DP_DROP_IP_CSUM;
	if (ip[OFF_IP_PROTO] != IPPROTO_UDP_NUM)
		return -DP_DROP_NOT_UDP;
	dst_ip = get32(ip + OFF_IP_DST);
	if (dst_ip != local->ipv4)
		return -DP_DROP_NOT_FOR_US;

	/* UDP header. */
	if (ip_len - ihl < DP_UDP_HLEN)
		return -DP_DROP_BAD_UDP;
	udp = ip + ihl;
	dport = get16(udp + OFF_UDP_DPORT);
	if (dport < local->port_lo || dport > local->port_hi)
		return -DP_DROP_WRONG_PORT;
	udp_len = get16(udp + OFF_UDP_LEN);
	if (udp_len != ip_len - ihl)
		return -DP_DROP_BAD_UDP;
	if (!(local->csum_checked & DP_CSUM_UDP_OFFLOAD) && get16(udp + OFF_UDP_CSUM) != 0) {
		uint64_t sum = phdr_sum(get32(ip + OFF_IP_SRC), dst_ip, (uint16_t)udp_len);

		if (csum_fold(csum_add(sum, udp, udp_len)) != 0xffffu)
			return -DP_DROP_UDP_CSUM;
	}
	if (dp_src_port_worker(get16(udp + OFF_UDP_SPORT)) < 0)
		return -DP_DROP_SRC_PORT;

	info->kind = DP_RX_SRD;
	memcpy(info->flow.dst_mac, frame + OFF_ETH_DST, 6);
	memcpy(info->flow.src_mac, frame + OFF_ETH_SRC, 6);
	info->flow.src_ip = get32(ip + OFF_IP_SRC);
	info->flow.dst_ip = dst_ip;
	info->flow.src_port = get16(udp + OFF_UDP_SPORT);
	info->flow.dst_port = dport;
	info->flow.ecn = (uint8_t)(ip[OFF_IP_TOS] & 3u);
	info->flow.ttl = ip[OFF_IP_TTL];
	info->off = DP_ETH_HLEN + ihl + DP_UDP_HLEN;
	info->len = udp_len - DP_UDP_HLEN;
	return DP_RX_SRD;
}

/* ---- ARP ---- */

static void arp_write(uint8_t *frame, uint16_t op, const uint8_t eth_dst[6],
		      const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t *a = frame + DP_ETH_HLEN;

	memcpy(frame + OFF_ETH_DST, eth_dst, 6);
	memcpy(frame + OFF_ETH_SRC, sha, 6);
	put16(frame + OFF_ETH_TYPE, ETHERTYPE_ARP);
	put16(a + OFF_ARP_HTYPE, ARP_HTYPE_ETH);
	put16(a + OFF_ARP_PTYPE, ETHERTYPE_IPV4);
	a[OFF_ARP_HLEN] = 6;
	a[OFF_ARP_PLEN] = 4;
	put16(a + OFF_ARP_OP, op);
	memcpy(a + OFF_ARP_SHA, sha, 6);
	put32(a + OFF_ARP_SPA, spa);
	memcpy(a + OFF_ARP_THA, tha, 6);
	put32(a + OFF_ARP_TPA, tpa);
}

void dp_net_arp_request(uint8_t *frame, const uint8_t sha[6], uint32_t spa, uint32_t tpa)
{
	static const uint8_t zero_mac[6];

	/* RFC 826: the target hardware address of a request is unknown, sent as zeros. */
	arp_write(frame, ARP_OP_REQUEST, bcast_mac, sha, spa, zero_mac, tpa);
}

void dp_net_arp_reply(uint8_t *frame, const uint8_t sha[6], uint32_t spa,
		      const uint8_t tha[6], uint32_t tpa)
{
	arp_write(frame, ARP_OP_REPLY, tha, sha, spa, tha, tpa);
}

/* ---- routes ---- */

static uint32_t prefix_mask(unsigned len)
{
	if (len == 0)
		return 0;
	if (len >= 32)
		return 0xffffffffu;
	return 0xffffffffu << (32 - len);
}

/*
 * Longest-prefix match in which the port's own subnet takes part as a directly connected
 * route of prefix_len bits (as in a kernel's table): a configured route longer than the
 * subnet wins over it, one of the same length or shorter does not.  Among routes of equal
 * length the first configured wins.  No match: the gateway, else 0.
 */
uint32_t dp_net_next_hop(const struct dp_port_cfg *p, uint32_t dst)
{
	int best_len = -1;
	uint32_t best_hop = 0;
	uint32_t n = p->nroutes < DP_MAX_ROUTES ? p->nroutes : DP_MAX_ROUTES;

	if (p->ipv4 != 0 && ((dst ^ p->ipv4) & prefix_mask(p->prefix_len)) == 0) {
		best_len = p->prefix_len > 32 ? 32 : p->prefix_len;
		best_hop = 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct dp_route *r = &p->routes[i];
		int rlen = r->len > 32 ? 32 : r->len;

		if (rlen <= best_len || ((dst ^ r->prefix) & prefix_mask((unsigned)rlen)) != 0)
			continue;
		best_len = rlen;
		best_hop = r->next_hop;
	}
	if (best_len < 0)
		return p->gateway;
	return best_hop ? best_hop : dst;
}

/* ---- neighbour table ---- */

#define NEIGH_EXPIRE_NS_DEFAULT 60000000000ull /* 60 s */
#define NEIGH_RETRY_NS_DEFAULT 100000000ull    /* 100 ms */

/* The home slot of ipv4: the murmur3 finaliser, whose every output bit depends on every
 * input bit, so addresses that differ only in their high octets spread as well as
 * consecutive ones. */
static uint32_t neigh_home(uint32_t ipv4)
{
	uint32_t h = ipv4;

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h & (DP_NEIGH_SLOTS - 1u);
}

_Static_assert((DP_NEIGH_SLOTS & (DP_NEIGH_SLOTS - 1u)) == 0, "DP_NEIGH_SLOTS: power of two");

/* A learned or pending entry nobody has refreshed for expire_ns: its slot may be given to
 * another address.  (A PENDING entry is refreshed by each request sent for it, so one
 * still looked up is not stale.) */
static int neigh_stale(const struct dp_neigh_table *t, const struct dp_neigh_entry *e,
		       uint64_t now)
{
	if (e->state != DP_NEIGH_RESOLVED && e->state != DP_NEIGH_PENDING)
		return 0;
	return now >= e->updated_ns && now - e->updated_ns >= t->expire_ns;
}

/*
 * Find ipv4's entry; NULL if it has none.  With room != NULL, also the slot a new entry for
 * it would take (the first stale slot on its probe sequence, else the free slot ending it;
 * NULL when the table is full).  Slots never become free again, so every address's entry
 * lies before the first free slot of its probe sequence, and a stale slot reused in place
 * keeps the sequences of the others unbroken.
 */
static struct dp_neigh_entry *neigh_find(struct dp_neigh_table *t, uint32_t ipv4, uint64_t now,
					 struct dp_neigh_entry **room)
{
	uint32_t i = neigh_home(ipv4);
	struct dp_neigh_entry *reuse = NULL;

	for (uint32_t n = 0; n < DP_NEIGH_SLOTS; n++, i = (i + 1u) & (DP_NEIGH_SLOTS - 1u)) {
		struct dp_neigh_entry *e = &t->e[i];

		if (e->state == DP_NEIGH_FREE) {
			if (room)
				*room = reuse ? reuse : e;
			return NULL;
		}
		if (e->ipv4 == ipv4)
			return e;
		if (!reuse && neigh_stale(t, e, now))
			reuse = e;
	}
	if (room)
		*room = reuse;
	return NULL;
}

void dp_neigh_init(struct dp_neigh_table *t, const struct dp_port_cfg *p)
{
	memset(t, 0, sizeof(*t));
	t->expire_ns = NEIGH_EXPIRE_NS_DEFAULT;
	t->retry_ns = NEIGH_RETRY_NS_DEFAULT;
	if (!p)
		return;
	for (uint32_t k = 0; k < p->nneigh && k < DP_MAX_NEIGH; k++) {
		struct dp_neigh_entry *room = NULL;
		struct dp_neigh_entry *e = neigh_find(t, p->neigh[k].ipv4, 0, &room);

		if (!e)
			e = room; /* never NULL: DP_MAX_NEIGH < DP_NEIGH_SLOTS */
		if (!e)
			continue;
		e->ipv4 = p->neigh[k].ipv4;
		memcpy(e->mac, p->neigh[k].mac, 6);
		e->state = DP_NEIGH_STATIC;
		e->updated_ns = 0;
	}
}

/* A resolved entry in the last quarter of its life, not asked about within retry_ns. */
static int neigh_refresh_due(const struct dp_neigh_table *t, const struct dp_neigh_entry *e,
			      uint64_t now)
{
	uint64_t age = now >= e->updated_ns ? now - e->updated_ns : 0;

	return age >= t->expire_ns - t->expire_ns / 4 &&
	       (e->asked_ns == 0 || now < e->asked_ns || now - e->asked_ns >= t->retry_ns);
}

int dp_neigh_lookup(struct dp_neigh_table *t, uint32_t ipv4, uint64_t now, uint8_t mac[6],
		    int *send_request)
{
	struct dp_neigh_entry *room = NULL;
	struct dp_neigh_entry *e = neigh_find(t, ipv4, now, &room);

	if (send_request)
		*send_request = 0;
	if (e) {
		if (e->state == DP_NEIGH_STATIC ||
		    (e->state == DP_NEIGH_RESOLVED && !neigh_stale(t, e, now))) {
			memcpy(mac, e->mac, 6);
			if (e->state == DP_NEIGH_RESOLVED && neigh_refresh_due(t, e, now)) {
				e->asked_ns = now;
				if (send_request)
					*send_request = 1;
			}
			return 0;
		}
		if (e->state == DP_NEIGH_PENDING && now >= e->updated_ns &&
		    now - e->updated_ns < t->retry_ns) {
			t->misses++;
			return -EAGAIN; /* asked recently: wait for the answer */
		}
		/* Expired, or pending and due another request. */
	} else {
		if (!room) {
			t->misses++;
			return -ENOSPC;
		}
		e = room;
		e->ipv4 = ipv4;
		memset(e->mac, 0, 6);
	}
	e->state = DP_NEIGH_PENDING;
	e->updated_ns = now;
	if (send_request)
		*send_request = 1;
	t->misses++;
	return -EAGAIN;
}

void dp_neigh_flush(struct dp_neigh_table *t)
{
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		if (t->e[i].state != DP_NEIGH_STATIC)
			memset(&t->e[i], 0, sizeof(t->e[i]));
}

void dp_neigh_learn(struct dp_neigh_table *t, uint32_t ipv4, const uint8_t mac[6],
		    uint64_t now)
{
	struct dp_neigh_entry *room = NULL;
	struct dp_neigh_entry *e;
	static const uint8_t zero_mac[6];

	/* 0.0.0.0 is an ARP probe's sender (RFC 5227), and a group or zero MAC is nobody's
	 * unicast address: neither is learned. */
	if (ipv4 == 0 || (mac[0] & 1u) || memcmp(mac, zero_mac, 6) == 0)
		return;
	e = neigh_find(t, ipv4, now, &room);
	if (e && e->state == DP_NEIGH_STATIC)
		return;
	if (!e) {
		if (!room)
			return; /* full: the next lookup reports -ENOSPC */
		e = room;
		e->ipv4 = ipv4;
	}
	memcpy(e->mac, mac, 6);
	e->state = DP_NEIGH_RESOLVED;
	e->updated_ns = now;
	e->asked_ns = 0;
}
