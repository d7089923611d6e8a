/*
 * test_net.c — unit tests of Ethernet/IPv4/UDP framing, ARP, route lookup and the
 * neighbour table (dataplane/dp_net.c).
 *
 * Every parse runs on a heap copy of exactly the frame's length, so that a read one byte
 * too far is caught by AddressSanitizer.  Checksums are checked against a reference written
 * differently from the one under test (sums of even and odd bytes reduced modulo 0xffff,
 * rather than 16-bit words with end-around carries), and against a packet whose bytes
 * were computed by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_net.h"
#include "rng.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

#define LOCAL_IP IP4(10, 0, 0, 2)
#define PEER_IP IP4(10, 0, 0, 1)
#define PORT_LO 5000u
#define PORT_HI 5003u
#define MS 1000000ull
#define SEC 1000000000ull

static const uint8_t LOCAL_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* ---- helpers ---- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reference one's-complement sum: even-offset bytes weigh 256, odd ones 1; the total is
 * reduced modulo 0xffff (a non-zero multiple of 0xffff folds to 0xffff, "negative zero"). */
static uint64_t ref_raw(const uint8_t *b, size_t n)
{
	uint64_t hi = 0, lo = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0)
			hi += b[i];
		else
			lo += b[i];
	}
	return hi * 256u + lo;
}

static uint16_t ref_fold(uint64_t s)
{
	uint64_t r;

	if (s == 0)
		return 0;
	r = s % 0xffffu;
	return (uint16_t)(r ? r : 0xffffu);
}

/* The raw sum of the UDP pseudo-header of the IPv4 header at ip for udp_len. */
static uint64_t ref_phdr(const uint8_t *ip, uint16_t udp_len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	wr16(ph + 10, udp_len);
	return ref_raw(ph, sizeof(ph));
}

/* The IPv4 header checksum the header at ip should carry (its own field ignored). */
static uint16_t ref_ip_csum(const uint8_t *ip)
{
	unsigned ihl = (ip[0] & 0xfu) * 4u;
	uint8_t tmp[60];

	memcpy(tmp, ip, ihl);
	tmp[10] = tmp[11] = 0;
	return (uint16_t)~ref_fold(ref_raw(tmp, ihl));
}

/* The UDP checksum the datagram of udp_len bytes at udp (after the IPv4 header at ip)
 * should carry, 0 mapped to 0xffff. */
static uint16_t ref_udp_csum(const uint8_t *ip, const uint8_t *udp, uint16_t udp_len)
{
	uint64_t s = ref_phdr(ip, udp_len);
	uint16_t c;

	s += ref_raw(udp, udp_len) - ((uint64_t)udp[6] * 256u + udp[7]);
	c = (uint16_t)~ref_fold(s);
	return c ? c : 0xffffu;
}

/* Recompute the checksums of an IPv4/UDP frame after a test changed it (UDP over the IP
 * payload, whatever the UDP length field says). */
static void fix_ip_csum(uint8_t *frame)
{
	uint8_t *ip = frame + DP_ETH_HLEN;

	wr16(ip + 10, ref_ip_csum(ip));
}

static void fix_udp_csum(uint8_t *frame)
{
	uint8_t *ip = frame + DP_ETH_HLEN;
	unsigned ihl = (ip[0] & 0xfu) * 4u;
	uint16_t ulen = (uint16_t)(rd16(ip + 2) - ihl);

	wr16(ip + ihl + 6, ref_udp_csum(ip, ip + ihl, ulen));
}

static struct dp_net_local local_default(void)
{
	struct dp_net_local l;

	memset(&l, 0, sizeof(l));
	memcpy(l.mac, LOCAL_MAC, 6);
	l.ipv4 = LOCAL_IP;
	l.port_lo = PORT_LO;
	l.port_hi = PORT_HI;
	l.csum_checked = 0;
	return l;
}

static struct dp_flow flow_default(void)
{
	struct dp_flow f;

	memset(&f, 0, sizeof(f));
	memcpy(f.src_mac, PEER_MAC, 6);
	memcpy(f.dst_mac, LOCAL_MAC, 6);
	f.src_ip = PEER_IP;
	f.dst_ip = LOCAL_IP;
	f.src_port = 0xc001;
	f.dst_port = PORT_LO;
	f.ecn = DP_ECN_ECT0;
	f.ttl = 0;
	return f;
}

static uint8_t pattern(uint32_t i, uint32_t seed)
{
	return (uint8_t)(i * 131u + seed * 7u + 11u);
}

/* A frame of exactly DP_HDRS_LEN + plen bytes (heap), payload patterned, headers built. */
static uint8_t *make_srd(const struct dp_flow *f, uint32_t plen, unsigned flags, uint32_t *len)
{
	uint8_t *b = malloc(DP_HDRS_LEN + plen);

	assert_non_null(b);
	for (uint32_t i = 0; i < plen; i++)
		b[DP_HDRS_LEN + i] = pattern(i, plen);
	assert_int_equal(dp_net_build(b, f, plen, flags), 0);
	*len = DP_HDRS_LEN + plen;
	return b;
}

/* The same datagram with optlen (multiple of 4, <= 40) bytes of IP options. */
static uint8_t *make_srd_opts(const struct dp_flow *f, uint32_t plen, uint32_t optlen,
			      uint32_t *len)
{
	uint32_t l0;
	uint8_t *plain = make_srd(f, plen, 0, &l0);
	uint8_t *b = malloc(l0 + optlen);
	uint8_t *ip = b + DP_ETH_HLEN;

	assert_non_null(b);
	memcpy(b, plain, DP_ETH_HLEN + DP_IP_HLEN);
	for (uint32_t i = 0; i < optlen; i++) /* NOPs, a made-up option, then EOL */
		ip[DP_IP_HLEN + i] = i + 1 == optlen ? 0x00 : (i < 2 ? 0x01 : (uint8_t)(0x40 + i));
	memcpy(ip + DP_IP_HLEN + optlen, plain + DP_ETH_HLEN + DP_IP_HLEN,
	       l0 - DP_ETH_HLEN - DP_IP_HLEN);
	ip[0] = (uint8_t)(0x40 | (5u + optlen / 4u));
	wr16(ip + 2, (uint16_t)(rd16(ip + 2) + optlen));
	fix_ip_csum(b);
	free(plain);
	*len = l0 + optlen;
	return b;
}

/* Parse a heap copy of exactly len bytes of buf. */
static int parse_exact(const uint8_t *buf, uint32_t len, const struct dp_net_local *l,
		       struct dp_rx_info *info)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	rc = dp_net_parse(copy, len, l, info);
	if (rc == DP_RX_SRD)
		assert_true(info->off + info->len <= len);
	free(copy);
	return rc;
}

static int parse_default(const uint8_t *buf, uint32_t len)
{
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	return parse_exact(buf, len, &l, &info);
}

/* ---- build and parse ---- */

static void check_roundtrip(uint32_t plen, uint8_t ecn, uint8_t ttl)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint32_t len;
	uint8_t *b, *ip, *udp;

	f.ecn = ecn;
	f.ttl = ttl;
	f.src_port = (uint16_t)(0x8000u + plen * 13u + ecn);
	f.dst_port = (uint16_t)(PORT_LO + plen % 4u);
	b = make_srd(&f, plen, 0, &len);
	ip = b + DP_ETH_HLEN;
	udp = ip + DP_IP_HLEN;

	/* Ethernet, IPv4 and UDP fields. */
	assert_memory_equal(b, LOCAL_MAC, 6);
	assert_memory_equal(b + 6, PEER_MAC, 6);
	assert_int_equal(rd16(b + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], ecn); /* DSCP 0 */
	assert_int_equal(rd16(ip + 2), 28u + plen);
	assert_int_equal(rd16(ip + 4), 0);
	assert_int_equal(rd16(ip + 6), 0x4000); /* DF, no fragment */
	assert_int_equal(ip[8], ttl ? ttl : 64);
	assert_int_equal(ip[9], 17);
	assert_int_equal(rd16(udp), f.src_port);
	assert_int_equal(rd16(udp + 2), f.dst_port);
	assert_int_equal(rd16(udp + 4), 8u + plen);
	/* Checksums, against the reference. */
	assert_int_equal(rd16(ip + 10), ref_ip_csum(ip));
	assert_int_equal(rd16(udp + 6), ref_udp_csum(ip, udp, (uint16_t)(8u + plen)));

	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.kind, DP_RX_SRD);
	assert_int_equal(info.off, DP_HDRS_LEN);
	assert_int_equal(info.len, plen);
	assert_memory_equal(info.flow.src_mac, PEER_MAC, 6);
	assert_memory_equal(info.flow.dst_mac, LOCAL_MAC, 6);
	assert_int_equal(info.flow.src_ip, PEER_IP);
	assert_int_equal(info.flow.dst_ip, LOCAL_IP);
	assert_int_equal(info.flow.src_port, f.src_port);
	assert_int_equal(info.flow.dst_port, f.dst_port);
	assert_int_equal(info.flow.ecn, ecn);
	assert_int_equal(info.flow.ttl, ttl ? ttl : 64);
	for (uint32_t i = 0; i < plen; i++)
		assert_int_equal(b[info.off + i], pattern(i, plen));
	free(b);
}

static void test_roundtrip(void **state)
{
	static const uint32_t lens[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 100,
					 1000, 1471, 1472, 1473, 4000, 8971, 8972 };
	static const uint8_t ttls[] = { 0, 1, 64, 255 };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (uint8_t ecn = 0; ecn < 4; ecn++)
			for (size_t t = 0; t < sizeof(ttls); t++)
				check_roundtrip(lens[i], ecn, ttls[t]);
}

/* Only the two ECN bits reach the TOS byte, whatever else the caller left in ecn. */
static void test_ecn_masked(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_rx_info info;
	struct dp_net_local l = local_default();
	uint32_t len;
	uint8_t *b;

	(void)state;
	f.ecn = 0xfe;
	b = make_srd(&f, 10, 0, &len);
	assert_int_equal(b[DP_ETH_HLEN + 1], 2);
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.flow.ecn, DP_ECN_ECT0);
	/* A CE mark set on the way (IP checksum updated, as a router does) is reported. */
	b[DP_ETH_HLEN + 1] |= DP_ECN_CE;
	fix_ip_csum(b);
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.flow.ecn, DP_ECN_CE);
	/* DSCP bits from a remarking router are ignored; the ECN field is still read. */
	b[DP_ETH_HLEN + 1] = (uint8_t)(46u << 2 | DP_ECN_CE);
	fix_ip_csum(b);
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.flow.ecn, DP_ECN_CE);
	free(b);
}

/* One packet whose bytes were computed by hand (checked with python3):
 *   IP header sum 0x4502+0x0021+0x4000+0x4011+0x0a00+0x0001+0x0a00+0x0002 = 0xd937,
 *   checksum ~0xd937 = 0x26c8; pseudo-header sum 0x1421; UDP checksum 0x01d4. */
static const uint8_t kat_frame[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
	0x45, 0x02, 0x00, 0x21, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0xc8, 0x0a, 0x00,
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	0xc0, 0x01, 0x13, 0x88, 0x00, 0x0d, 0x01, 0xd4,
	0x53, 0x52, 0x44, 0x21, 0x7f,
};

static void test_known_answer(void **state)
{
	struct dp_flow f = flow_default();
	uint8_t b[sizeof(kat_frame)];

	(void)state;
	f.src_port = 0xc001;
	f.dst_port = 5000;
	f.ecn = DP_ECN_ECT0;
	f.ttl = 64;
	memset(b, 0xee, sizeof(b));
	memcpy(b + DP_HDRS_LEN, "SRD!\x7f", 5);
	assert_int_equal(dp_net_build(b, &f, 5, 0), 0);
	assert_memory_equal(b, kat_frame, sizeof(kat_frame));
	assert_int_equal(parse_default(b, sizeof(b)), DP_RX_SRD);

	/* IP checksum offloaded: the field is left 0; the rest unchanged. */
	memset(b, 0xee, DP_HDRS_LEN);
	assert_int_equal(dp_net_build(b, &f, 5, DP_CSUM_IP_OFFLOAD), 0);
	assert_int_equal(rd16(b + 24), 0);
	assert_int_equal(rd16(b + 40), 0x01d4);
	assert_memory_equal(b, kat_frame, 24);
	assert_memory_equal(b + 26, kat_frame + 26, sizeof(kat_frame) - 26);

	/* UDP checksum offloaded: the pseudo-header sum 0x1421, not complemented. */
	memset(b, 0xee, DP_HDRS_LEN);
	assert_int_equal(dp_net_build(b, &f, 5, DP_CSUM_UDP_OFFLOAD), 0);
	assert_int_equal(rd16(b + 24), 0x26c8);
	assert_int_equal(rd16(b + 40), 0x1421);
	assert_memory_equal(b, kat_frame, 40);

	memset(b, 0xee, DP_HDRS_LEN);
	assert_int_equal(dp_net_build(b, &f, 5, DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD), 0);
	assert_int_equal(rd16(b + 24), 0);
	assert_int_equal(rd16(b + 40), 0x1421);
}

/* A datagram whose checksum computes to 0 carries 0xffff (RFC 768), which verifies. */
static void test_udp_csum_zero_sent_as_ffff(void **state)
{
	struct dp_flow f = flow_default();
	uint8_t b[DP_HDRS_LEN + 2];
	uint16_t c0;

	(void)state;
	memset(b + DP_HDRS_LEN, 0, 2);
	assert_int_equal(dp_net_build(b, &f, 2, 0), 0);
	c0 = rd16(b + 40);
	assert_int_not_equal(c0, 0xffff);
	/* A payload word equal to that checksum makes the sum 0xffff: checksum 0. */
	wr16(b + DP_HDRS_LEN, c0);
	assert_int_equal(dp_net_build(b, &f, 2, 0), 0);
	assert_int_equal(rd16(b + 40), 0xffff);
	assert_int_equal(parse_default(b, sizeof(b)), DP_RX_SRD);
}

/* With the UDP offload the field holds the pseudo-header sum; a NIC completing it the
 * way hardware does produces a datagram the software check accepts. */
static void test_udp_offload_seed(void **state)
{
	static const uint32_t lens[] = { 0, 1, 2, 3, 100, 1472, 8971, 8972 };
	struct srd_rng rng;

	(void)state;
	srd_rng_seed(&rng, 4);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct dp_flow f = flow_default();
		struct dp_net_local l = local_default();
		struct dp_rx_info info;
		uint32_t len;
		uint8_t *b, *ip, *udp;
		uint16_t ulen = (uint16_t)(8u + lens[i]), seed, c;

		f.src_ip = (uint32_t)srd_rng_next(&rng);
		f.dst_ip = (uint32_t)srd_rng_next(&rng);
		l.ipv4 = f.dst_ip;
		b = make_srd(&f, lens[i], DP_CSUM_UDP_OFFLOAD, &len);
		ip = b + DP_ETH_HLEN;
		udp = ip + DP_IP_HLEN;
		seed = rd16(udp + 6);
		assert_int_equal(seed, ref_fold(ref_phdr(ip, ulen)));
		assert_int_equal(rd16(ip + 10), ref_ip_csum(ip)); /* IP still in software */
		/* The NIC: the one's-complement sum of the UDP datagram as it stands (the seed
		 * included), complemented, 0 sent as 0xffff. */
		c = (uint16_t)~ref_fold(ref_raw(udp, ulen));
		wr16(udp + 6, c ? c : 0xffff);
		assert_int_equal(rd16(udp + 6), ref_udp_csum(ip, udp, ulen));
		assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
		assert_int_equal(info.len, lens[i]);
		free(b);
	}
}

/* With the IP offload the field is 0: the software check refuses that, unless the NIC
 * says it verified it. */
static void test_ip_offload(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint32_t len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, 33, DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD, &len);
	assert_int_equal(rd16(b + 24), 0);
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_IP_CSUM);
	l.csum_checked = DP_CSUM_IP_OFFLOAD;
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM); /* seed only */
	l.csum_checked = DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD;
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.len, 33);
	free(b);
}

static void test_build_size_limit(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_rx_info info;
	struct dp_net_local l = local_default();
	uint32_t max = 65535u - 28u, len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, max, 0, &len);
	assert_int_equal(rd16(b + 16), 65535);
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.len, max);
	assert_int_equal(dp_net_build(b, &f, max + 1, 0), -EMSGSIZE);
	assert_int_equal(dp_net_build(b, &f, UINT32_MAX, 0), -EMSGSIZE);
	free(b);
}

/* ---- drops ---- */

static void test_drop_short(void **state)
{
	struct dp_flow f = flow_default();
	uint8_t arp[DP_ARP_FRAME_LEN];
	uint32_t len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, 0, 0, &len);
	assert_int_equal(len, DP_HDRS_LEN);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	for (uint32_t n = 0; n < len; n++)
		assert_int_equal(parse_default(b, n), -DP_DROP_SHORT);
	free(b);

	b = make_srd(&f, 200, 0, &len);
	for (uint32_t n = 0; n < DP_HDRS_LEN; n++)
		assert_int_equal(parse_default(b, n), -DP_DROP_SHORT);
	for (uint32_t n = DP_HDRS_LEN; n < len; n++) /* headers whole, datagram cut */
		assert_int_equal(parse_default(b, n), -DP_DROP_BAD_IP);
	free(b);

	dp_net_arp_request(arp, PEER_MAC, PEER_IP, LOCAL_IP);
	assert_int_equal(parse_default(arp, sizeof(arp)), DP_RX_ARP);
	for (uint32_t n = 0; n < sizeof(arp); n++)
		assert_int_equal(parse_default(arp, n), -DP_DROP_SHORT);

	/* With 4 bytes of options the UDP header ends 4 bytes later. */
	b = make_srd_opts(&f, 4, 4, &len);
	assert_int_equal(len, 50);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	for (uint32_t n = 0; n < 46; n++)
		assert_int_equal(parse_default(b, n), -DP_DROP_SHORT);
	for (uint32_t n = 46; n < len; n++)
		assert_int_equal(parse_default(b, n), -DP_DROP_BAD_IP);
	free(b);
}

static void test_drop_ethertype(void **state)
{
	static const uint16_t types[] = { 0x8100, 0x88a8, 0x86dd, 0x8035, 0x0000, 0x05dc, 0xffff,
					  0x0801, 0x0807 };
	struct dp_flow f = flow_default();
	uint32_t len;
	uint8_t *b, *vlan;

	(void)state;
	b = make_srd(&f, 20, 0, &len);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		wr16(b + 12, types[i]);
		assert_int_equal(parse_default(b, len), -DP_DROP_NOT_IPV4);
		assert_int_equal(parse_default(b, 14), -DP_DROP_NOT_IPV4);
	}
	wr16(b + 12, 0x0800);
	/* A real 802.1Q-tagged copy of the valid frame. */
	vlan = malloc(len + 4);
	assert_non_null(vlan);
	memcpy(vlan, b, 12);
	wr16(vlan + 12, 0x8100);
	wr16(vlan + 14, 0x0064);
	memcpy(vlan + 16, b + 12, len - 12);
	assert_int_equal(parse_default(vlan, len + 4), -DP_DROP_NOT_IPV4);
	free(vlan);
	free(b);
}

static void test_drop_bad_ip(void **state)
{
	struct dp_flow f = flow_default();
	uint32_t len;
	uint8_t *b, *ip;
	uint8_t save[DP_HDRS_LEN];

	(void)state;
	b = make_srd(&f, 40, 0, &len);
	ip = b + DP_ETH_HLEN;
	memcpy(save, b, sizeof(save));

	/* Version. */
	for (unsigned v = 0; v < 16; v++) {
		if (v == 4)
			continue;
		ip[0] = (uint8_t)(v << 4 | 5);
		fix_ip_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	}
	/* Header length below 20 bytes. */
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		memcpy(b, save, sizeof(save));
		ip[0] = (uint8_t)(0x40 | ihl);
		fix_ip_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	}
	/* Total length past the frame, and shorter than the header. */
	memcpy(b, save, sizeof(save));
	wr16(ip + 2, (uint16_t)(len - DP_ETH_HLEN + 1));
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	wr16(ip + 2, 0xffff);
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	wr16(ip + 2, 19);
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	wr16(ip + 2, 0);
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	/* Fragments: more-fragments, or any offset (with or without DF). */
	static const uint16_t frags[] = { 0x2000, 0x6000, 0x0001, 0x4001, 0x1fff, 0x2010, 0x0100 };
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		memcpy(b, save, sizeof(save));
		wr16(ip + 6, frags[i]);
		fix_ip_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_IP);
	}
	/* DF clear and no fragment: a whole datagram, accepted. */
	memcpy(b, save, sizeof(save));
	wr16(ip + 6, 0);
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	free(b);
}

static void test_drop_ip_csum(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint32_t len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, 64, 0, &len);
	b[24] ^= 0x01; /* the checksum itself */
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_IP_CSUM);
	b[24] ^= 0x01;
	b[DP_ETH_HLEN + 8]--; /* a TTL decremented without the checksum updated */
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_IP_CSUM);
	l.csum_checked = DP_CSUM_IP_OFFLOAD; /* the NIC said it was good: not checked */
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	l.csum_checked = DP_CSUM_UDP_OFFLOAD;
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_IP_CSUM);
	/* Every single-bit error in the header is caught. */
	l.csum_checked = 0;
	b[DP_ETH_HLEN + 8]++;
	for (unsigned bit = 0; bit < DP_IP_HLEN * 8; bit++) {
		int rc;

		b[DP_ETH_HLEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = parse_exact(b, len, &l, &info);
		assert_int_not_equal(rc, DP_RX_SRD);
		b[DP_ETH_HLEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	free(b);
}

static void test_drop_not_udp(void **state)
{
	static const uint8_t protos[] = { 0, 1, 6, 16, 18, 47, 132, 255 };
	struct dp_flow f = flow_default();
	uint32_t len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, 30, 0, &len);
	for (size_t i = 0; i < sizeof(protos); i++) {
		b[DP_ETH_HLEN + 9] = protos[i];
		fix_ip_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_NOT_UDP);
	}
	free(b);
}

static void test_drop_not_for_us(void **state)
{
	static const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct dp_flow f = flow_default();
	uint32_t len;
	uint8_t *b;

	(void)state;
	/* Another IP (checksums correct for it). */
	f.dst_ip = IP4(10, 0, 0, 3);
	b = make_srd(&f, 12, 0, &len);
	assert_int_equal(parse_default(b, len), -DP_DROP_NOT_FOR_US);
	free(b);
	f.dst_ip = IP4(255, 255, 255, 255);
	b = make_srd(&f, 12, 0, &len);
	assert_int_equal(parse_default(b, len), -DP_DROP_NOT_FOR_US);
	free(b);

	/* Another MAC, broadcast, multicast. */
	f = flow_default();
	memcpy(f.dst_mac, other, 6);
	b = make_srd(&f, 12, 0, &len);
	assert_int_equal(parse_default(b, len), -DP_DROP_NOT_FOR_US);
	memcpy(b, bcast, 6);
	assert_int_equal(parse_default(b, len), -DP_DROP_NOT_FOR_US);
	memcpy(b, mcast, 6);
	assert_int_equal(parse_default(b, len), -DP_DROP_NOT_FOR_US);
	memcpy(b, LOCAL_MAC, 6);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	free(b);
}

static void test_drop_wrong_port(void **state)
{
	static const struct {
		uint16_t port;
		int rc;
	} cases[] = {
		{ PORT_LO, DP_RX_SRD }, { PORT_LO + 1, DP_RX_SRD }, { PORT_HI, DP_RX_SRD },
		{ PORT_LO - 1, -DP_DROP_WRONG_PORT }, { PORT_HI + 1, -DP_DROP_WRONG_PORT },
		{ 0, -DP_DROP_WRONG_PORT }, { 53, -DP_DROP_WRONG_PORT },
		{ 0xffff, -DP_DROP_WRONG_PORT },
	};
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dp_flow f = flow_default();
		uint32_t len;
		uint8_t *b;

		f.dst_port = cases[i].port;
		b = make_srd(&f, 8, 0, &len);
		assert_int_equal(parse_exact(b, len, &l, &info), cases[i].rc);
		free(b);
	}
	/* A range of one port. */
	{
		struct dp_flow f = flow_default();
		uint32_t len;
		uint8_t *b;

		l.port_lo = l.port_hi = 7000;
		f.dst_port = 7000;
		b = make_srd(&f, 8, 0, &len);
		assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
		wr16(b + 36, 7001);
		fix_udp_csum(b);
		assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_WRONG_PORT);
		free(b);
	}
}

static void test_drop_bad_udp(void **state)
{
	struct dp_flow f = flow_default();
	uint32_t len;
	uint8_t *b, *ip, *udp;

	(void)state;
	b = make_srd(&f, 100, 0, &len);
	ip = b + DP_ETH_HLEN;
	udp = ip + DP_IP_HLEN;
	/* UDP length one more, one less, far less, zero. */
	static const uint16_t ulens[] = { 109, 107, 8, 7, 0, 0xffff };
	for (size_t i = 0; i < sizeof(ulens) / sizeof(ulens[0]); i++) {
		wr16(udp + 4, ulens[i]);
		fix_udp_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_UDP);
	}
	wr16(udp + 4, 108);
	fix_udp_csum(b);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	/* An IP payload too short for a UDP header (the frame itself is long enough), even
	 * when the UDP length agrees with it or the port is wrong: nothing past the IP payload
	 * is read as UDP. */
	for (uint16_t tl = 20; tl < 28; tl++) {
		wr16(ip + 2, tl);
		fix_ip_csum(b);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_UDP);
		wr16(udp + 4, (uint16_t)(tl - 20));
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_UDP);
		wr16(udp + 2, 80);
		assert_int_equal(parse_default(b, len), -DP_DROP_BAD_UDP);
		wr16(udp + 2, PORT_LO);
		wr16(udp + 4, 108);
	}
	/* An IP total length shorter than the frame, UDP length still the old one. */
	wr16(ip + 2, 28 + 50);
	fix_ip_csum(b);
	assert_int_equal(parse_default(b, len), -DP_DROP_BAD_UDP);
	wr16(udp + 4, 58);
	fix_udp_csum(b);
	assert_int_equal(parse_default(b, len), DP_RX_SRD);
	free(b);
}

static void test_drop_udp_csum(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint32_t len;
	uint8_t *b;

	(void)state;
	b = make_srd(&f, 301, 0, &len);
	b[len - 1] ^= 0x40; /* the odd last byte */
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM);
	l.csum_checked = DP_CSUM_UDP_OFFLOAD;
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	l.csum_checked = DP_CSUM_IP_OFFLOAD;
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM);
	l.csum_checked = 0;
	b[len - 1] ^= 0x40;
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	/* The pseudo-header is covered: the source address changed, IP checksum fixed. */
	b[DP_ETH_HLEN + 12] ^= 0x80;
	fix_ip_csum(b);
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM);
	b[DP_ETH_HLEN + 12] ^= 0x80;
	fix_ip_csum(b);
	/* Header: the source port. */
	b[34] ^= 0x01;
	assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM);
	/* A checksum of 0 means none: accepted even though the data changed. */
	wr16(b + 40, 0);
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.len, 301);
	/* Every single-bit error in the payload is caught. */
	fix_udp_csum(b);
	for (uint32_t i = DP_HDRS_LEN; i < len; i += 7) {
		b[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_UDP_CSUM);
		b[i] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	free(b);
}

/* A short frame padded to Ethernet's 60 bytes: the IP total length decides the payload. */
static void test_padded_frame(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	(void)state;
	for (uint32_t plen = 0; plen <= 18; plen++) {
		uint32_t len;
		uint8_t *b = make_srd(&f, plen, 0, &len);
		uint8_t pad[60];

		memset(pad, 0xa5, sizeof(pad));
		memcpy(pad, b, len);
		assert_int_equal(parse_exact(pad, sizeof(pad), &l, &info), DP_RX_SRD);
		assert_int_equal(info.off, DP_HDRS_LEN);
		assert_int_equal(info.len, plen);
		free(b);
	}
	/* And an ARP packet padded the same way. */
	{
		uint8_t pad[60];

		memset(pad, 0x5a, sizeof(pad));
		dp_net_arp_request(pad, PEER_MAC, PEER_IP, LOCAL_IP);
		assert_int_equal(parse_exact(pad, sizeof(pad), &l, &info), DP_RX_ARP);
		assert_int_equal(info.arp_tpa, LOCAL_IP);
	}
}

static void test_ip_options(void **state)
{
	static const uint32_t opts[] = { 4, 8, 12, 20, 40 };
	static const uint32_t lens[] = { 0, 5, 100 };
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			uint32_t len;
			uint8_t *b = make_srd_opts(&f, lens[j], opts[i], &len);

			assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
			assert_int_equal(info.off, DP_HDRS_LEN + opts[i]);
			assert_int_equal(info.len, lens[j]);
			assert_int_equal(info.flow.src_port, f.src_port);
			for (uint32_t k = 0; k < lens[j]; k++)
				assert_int_equal(b[info.off + k], pattern(k, lens[j]));
			/* The header checksum covers the options. */
			b[DP_ETH_HLEN + DP_IP_HLEN + opts[i] - 2] ^= 0x10;
			assert_int_equal(parse_exact(b, len, &l, &info), -DP_DROP_IP_CSUM);
			free(b);
		}
	}
}

/* ---- ARP ---- */

static void test_arp(void **state)
{
	static const uint8_t expect_req[DP_ARP_FRAME_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
	};
	static const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x09 };
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint8_t fr[DP_ARP_FRAME_LEN];

	(void)state;
	/* Request: broadcast, "who has 10.0.0.2? tell 10.0.0.1". */
	memset(fr, 0xcc, sizeof(fr));
	dp_net_arp_request(fr, PEER_MAC, PEER_IP, LOCAL_IP);
	assert_memory_equal(fr, expect_req, sizeof(fr));
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), DP_RX_ARP);
	assert_int_equal(info.kind, DP_RX_ARP);
	assert_int_equal(info.arp_op, 1);
	assert_memory_equal(info.arp_sha, PEER_MAC, 6);
	assert_int_equal(info.arp_spa, PEER_IP);
	assert_int_equal(info.arp_tpa, LOCAL_IP);

	/* Reply: to the asker. */
	memset(fr, 0xcc, sizeof(fr));
	dp_net_arp_reply(fr, LOCAL_MAC, LOCAL_IP, PEER_MAC, PEER_IP);
	assert_memory_equal(fr, PEER_MAC, 6);
	assert_memory_equal(fr + 6, LOCAL_MAC, 6);
	assert_int_equal(rd16(fr + 12), 0x0806);
	assert_int_equal(rd16(fr + 20), 2);
	assert_memory_equal(fr + 32, PEER_MAC, 6); /* tha */
	l = local_default();
	memcpy(l.mac, PEER_MAC, 6);
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), DP_RX_ARP);
	assert_int_equal(info.arp_op, 2);
	assert_memory_equal(info.arp_sha, LOCAL_MAC, 6);
	assert_int_equal(info.arp_spa, LOCAL_IP);
	assert_int_equal(info.arp_tpa, PEER_IP);
	/* Unicast to someone else. */
	memcpy(l.mac, other, 6);
	assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), -DP_DROP_NOT_FOR_US);

	/* Malformed. */
	static const struct {
		unsigned off;
		uint8_t val;
	} bad[] = {
		{ 14, 0x01 }, { 15, 0x06 },   /* hardware type 0x0106 (not Ethernet) */
		{ 15, 0x00 },                 /* hardware type 0 */
		{ 16, 0x86 },                 /* protocol 0x8600 */
		{ 17, 0xdd },                 /* protocol 0x08dd */
		{ 18, 8 }, { 18, 0 },         /* hardware length */
		{ 19, 16 }, { 19, 6 },        /* protocol length */
		{ 21, 0 }, { 21, 3 }, { 21, 4 }, { 20, 1 }, /* operation 0, 3 (RARP), 4, 0x101 */
	};
	l = local_default();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dp_net_arp_request(fr, PEER_MAC, PEER_IP, LOCAL_IP);
		fr[bad[i].off] = bad[i].val;
		assert_int_equal(parse_exact(fr, sizeof(fr), &l, &info), -DP_DROP_BAD_ARP);
	}
}

/* ---- routes ---- */

static void add_route(struct dp_port_cfg *p, uint32_t prefix, uint8_t len, uint32_t hop)
{
	assert_true(p->nroutes < DP_MAX_ROUTES);
	p->routes[p->nroutes].prefix = prefix;
	p->routes[p->nroutes].len = len;
	p->routes[p->nroutes].next_hop = hop;
	p->nroutes++;
}

static void port_default(struct dp_port_cfg *p)
{
	memset(p, 0, sizeof(*p));
	p->ipv4 = LOCAL_IP;
	p->prefix_len = 24;
	p->gateway = IP4(10, 0, 0, 1);
}

static void test_route_onlink_and_gateway(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 77)), IP4(10, 0, 0, 77));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 255)), IP4(10, 0, 0, 255));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 1, 1)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(8, 8, 8, 8)), IP4(10, 0, 0, 1));
	/* No gateway, no route: nothing. */
	p->gateway = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(8, 8, 8, 8)), 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 9)), IP4(10, 0, 0, 9));
	/* Other subnet sizes. */
	p->prefix_len = 16;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 200, 9)), IP4(10, 0, 200, 9));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 0, 9)), 0);
	p->prefix_len = 32;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 3)), 0);
	p->prefix_len = 31;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 3)), IP4(10, 0, 0, 3));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 4)), 0);
	free(p);
}

static void test_route_longest_prefix(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	/* Overlapping routes, deliberately not in length order. */
	add_route(p, IP4(10, 0, 0, 0), 8, IP4(10, 0, 0, 10));
	add_route(p, IP4(10, 1, 2, 0), 24, IP4(10, 0, 0, 30));
	add_route(p, IP4(10, 1, 0, 0), 16, IP4(10, 0, 0, 20));
	add_route(p, IP4(10, 1, 2, 128), 25, 0);                 /* on-link */
	add_route(p, IP4(192, 168, 5, 0), 24, 0);                /* on-link */
	add_route(p, IP4(172, 16, 0, 9), 32, IP4(10, 0, 0, 40)); /* a host route */
	add_route(p, IP4(10, 1, 2, 0), 24, IP4(10, 0, 0, 31));   /* same as above: first wins */

	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 3)), IP4(10, 0, 0, 30));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 127)), IP4(10, 0, 0, 30));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 128)), IP4(10, 1, 2, 128));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 2, 200)), IP4(10, 1, 2, 200));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 3, 3)), IP4(10, 0, 0, 20));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 9, 9, 9)), IP4(10, 0, 0, 10));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 5)); /* subnet */
	assert_int_equal(dp_net_next_hop(p, IP4(192, 168, 5, 7)), IP4(192, 168, 5, 7));
	assert_int_equal(dp_net_next_hop(p, IP4(192, 168, 6, 7)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(172, 16, 0, 9)), IP4(10, 0, 0, 40));
	assert_int_equal(dp_net_next_hop(p, IP4(172, 16, 0, 8)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), IP4(10, 0, 0, 1));
	p->gateway = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 200, 0, 1)), IP4(10, 0, 0, 10));

	/* A /0 route is a default route: it matches everything, before the gateway. */
	p->gateway = IP4(10, 0, 0, 1);
	add_route(p, 0, 0, IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(11, 0, 0, 1)), IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(255, 255, 255, 254)), IP4(10, 0, 0, 99));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 1, 3, 3)), IP4(10, 0, 0, 20));
	free(p);
}

/* The port's own subnet takes part in the match like a connected route: a longer route
 * inside it wins, one of the same length does not. */
static void test_route_inside_subnet(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	port_default(p);
	add_route(p, IP4(10, 0, 0, 0), 24, IP4(10, 0, 0, 50));
	add_route(p, IP4(10, 0, 0, 128), 25, IP4(10, 0, 0, 60));
	add_route(p, IP4(10, 0, 0, 7), 32, 0);
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 5));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 200)), IP4(10, 0, 0, 60));
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 7)), IP4(10, 0, 0, 7));
	/* A port without an address has no subnet. */
	p->ipv4 = 0;
	p->prefix_len = 0;
	p->nroutes = 0;
	assert_int_equal(dp_net_next_hop(p, IP4(10, 0, 0, 5)), IP4(10, 0, 0, 1));
	/* A /32 route: that host only. */
	add_route(p, IP4(203, 0, 113, 5), 32, IP4(10, 0, 0, 70));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 5)), IP4(10, 0, 0, 70));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 4)), IP4(10, 0, 0, 1));
	assert_int_equal(dp_net_next_hop(p, IP4(203, 0, 113, 6)), IP4(10, 0, 0, 1));
	free(p);
}

/* The lookup against a brute-force scan, over random tables. */
static void test_route_random(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct srd_rng rng;

	(void)state;
	assert_non_null(p);
	srd_rng_seed(&rng, 77);
	for (int round = 0; round < 2000; round++) {
		memset(p, 0, sizeof(*p));
		p->ipv4 = IP4(10, 0, 0, 2);
		p->prefix_len = (uint8_t)(8 + srd_rng_below(&rng, 25));
		p->gateway = srd_rng_below(&rng, 2) ? IP4(10, 0, 0, 1) : 0;
		p->nroutes = srd_rng_below(&rng, DP_MAX_ROUTES + 1);
		for (uint32_t i = 0; i < p->nroutes; i++) {
			uint8_t len = (uint8_t)srd_rng_below(&rng, 33);
			uint32_t m = len ? 0xffffffffu << (32 - len) : 0;

			p->routes[i].len = len;
			p->routes[i].prefix = (IP4(10, 0, 0, 0) | (uint32_t)srd_rng_below(&rng, 1u << 20) << 4) & m;
			p->routes[i].next_hop = srd_rng_below(&rng, 3) ? (uint32_t)srd_rng_next(&rng) | 1 : 0;
		}
		for (int q = 0; q < 50; q++) {
			uint32_t dst = IP4(10, 0, 0, 0) | (uint32_t)srd_rng_below(&rng, 1u << 24);
			uint32_t sm = 0xffffffffu << (32 - p->prefix_len);
			int best = -1;
			uint32_t hop = 0, expect;

			if (((dst ^ p->ipv4) & sm) == 0)
				best = p->prefix_len;
			for (uint32_t i = 0; i < p->nroutes; i++) {
				uint32_t m = p->routes[i].len ? 0xffffffffu << (32 - p->routes[i].len) : 0;

				if ((dst & m) == p->routes[i].prefix && (int)p->routes[i].len > best) {
					best = p->routes[i].len;
					hop = p->routes[i].next_hop;
				}
			}
			expect = best < 0 ? p->gateway : (hop ? hop : dst);
			assert_int_equal(dp_net_next_hop(p, dst), expect);
		}
	}
	free(p);
}

/* ---- neighbour table ---- */

static void mac_of(uint32_t ip, uint8_t tag, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = tag;
	wr32(mac + 2, ip);
}

/* The state of ipv4's entry, FREE if it has none; also checks no key appears twice. */
static int neigh_state(const struct dp_neigh_table *t, uint32_t ipv4)
{
	int found = DP_NEIGH_FREE, n = 0;

	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		if (t->e[i].state != DP_NEIGH_FREE && t->e[i].ipv4 == ipv4) {
			found = t->e[i].state;
			n++;
		}
	assert_true(n <= 1);
	return found;
}

static uint32_t neigh_used(const struct dp_neigh_table *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		n += t->e[i].state != DP_NEIGH_FREE;
	return n;
}

static void test_neigh_defaults(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6];
	int send = 7;

	(void)state;
	memset(&t, 0xab, sizeof(t));
	dp_neigh_init(&t, NULL);
	assert_int_equal(t.expire_ns, 60 * SEC);
	assert_int_equal(t.retry_ns, 100 * MS);
	assert_int_equal(t.misses, 0);
	assert_int_equal(neigh_used(&t), 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, 0, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(t.misses, 1);
	/* send_request may be NULL. */
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 9), 0, mac, NULL), -EAGAIN);
	assert_int_equal(t.misses, 2);
}

static void test_neigh_static(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct dp_neigh_table t;
	uint8_t mac[6], want[6], junk[6];
	int send;

	(void)state;
	assert_non_null(p);
	port_default(p);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		p->neigh[i].ipv4 = IP4(10, 0, (uint8_t)(i / 8), (uint8_t)(i % 8 * 32 + 1));
		mac_of(p->neigh[i].ipv4, 0x51, p->neigh[i].mac);
	}
	p->nneigh = DP_MAX_NEIGH;
	dp_neigh_init(&t, p);
	assert_int_equal(neigh_used(&t), DP_MAX_NEIGH);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		uint32_t ip = p->neigh[i].ipv4;

		assert_int_equal(neigh_state(&t, ip), DP_NEIGH_STATIC);
		mac_of(ip, 0x99, junk);
		dp_neigh_learn(&t, ip, junk, 5 * SEC); /* never replaces a static entry */
		send = 7;
		assert_int_equal(dp_neigh_lookup(&t, ip, 1000 * SEC, mac, &send), 0);
		mac_of(ip, 0x51, want);
		assert_memory_equal(mac, want, 6);
		assert_int_equal(send, 0);
		assert_int_equal(neigh_state(&t, ip), DP_NEIGH_STATIC);
	}
	assert_int_equal(t.misses, 0);
	free(p);
}

static void test_neigh_resolve_cycle(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6], m1[6], m2[6];
	uint64_t t0 = 5 * SEC, tl;
	int send;

	(void)state;
	dp_neigh_init(&t, NULL);
	mac_of(PEER_IP, 1, m1);
	mac_of(PEER_IP, 2, m2);

	/* Unknown: ask, then hold off for retry_ns. */
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 100 * MS - 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 100 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 150 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, t0 + 200 * MS, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(t.misses, 6);

	/* The reply. */
	tl = t0 + 210 * MS;
	dp_neigh_learn(&t, PEER_IP, m1, tl);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_RESOLVED);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl, mac, &send), 0);
	assert_memory_equal(mac, m1, 6);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC - 1, mac, &send), 0);
	assert_int_equal(t.misses, 6);

	/* A new MAC (gratuitous ARP, a replaced NIC) replaces the old one and refreshes it. */
	tl += 30 * SEC;
	dp_neigh_learn(&t, PEER_IP, m2, tl);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC - 1, mac, &send), 0);
	assert_memory_equal(mac, m2, 6);

	/* Expired: ask again (at once), then rate-limited again. */
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_state(&t, PEER_IP), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 60 * SEC + 1, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	dp_neigh_learn(&t, PEER_IP, m2, tl + 61 * SEC);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, tl + 61 * SEC, mac, &send), 0);
	assert_memory_equal(mac, m2, 6);

	/* The intervals are public: a test (or the daemon) may change them. */
	t.retry_ns = 10;
	t.expire_ns = 1000;
	dp_neigh_learn(&t, IP4(10, 0, 0, 7), m1, 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 999, mac, &send), 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1000, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1009, mac, &send), -EAGAIN);
	assert_int_equal(send, 0);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 0, 0, 7), 1010, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);

	/* Nonsense is not learned: a probe's 0.0.0.0, group and zero MACs. */
	{
		static const uint8_t group[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
		static const uint8_t zero[6];

		dp_neigh_learn(&t, 0, m1, 0);
		assert_int_equal(neigh_state(&t, 0), DP_NEIGH_FREE);
		dp_neigh_learn(&t, IP4(10, 0, 0, 8), group, 0);
		dp_neigh_learn(&t, IP4(10, 0, 0, 8), zero, 0);
		assert_int_equal(neigh_state(&t, IP4(10, 0, 0, 8)), DP_NEIGH_FREE);
	}
}

static void test_neigh_full(void **state)
{
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint64_t now = 1 * SEC;
	int send;

	(void)state;
	dp_neigh_init(&t, NULL);
	/* 256 pending addresses fill the table. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 1, 0, 0) + i, now, mac, &send), -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	send = 7;
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 2, 0, 0), now, mac, &send), -ENOSPC);
	assert_int_equal(send, 0);
	assert_int_equal(t.misses, DP_NEIGH_SLOTS + 1);
	/* Learning an address with no slot is ignored. */
	mac_of(IP4(10, 2, 0, 0), 3, m);
	dp_neigh_learn(&t, IP4(10, 2, 0, 0), m, now);
	assert_int_equal(neigh_state(&t, IP4(10, 2, 0, 0)), DP_NEIGH_FREE);
	/* Everything present is still found, and resolves. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		mac_of(IP4(10, 1, 0, 0) + i, 3, m);
		dp_neigh_learn(&t, IP4(10, 1, 0, 0) + i, m, now + 1);
	}
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		mac_of(IP4(10, 1, 0, 0) + i, 3, m);
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 1, 0, 0) + i, now + 2, mac, &send), 0);
		assert_memory_equal(mac, m, 6);
	}
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 2, 0, 0), now + 2, mac, &send), -ENOSPC);

	/* Pending entries nobody asks for again go stale too, and their slots are reused. */
	dp_neigh_init(&t, NULL);
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 3, 0, 0) + i, now, mac, &send), -EAGAIN);
	/* Refreshed by retries, one stays busy... */
	for (uint64_t k = 1; k <= 600; k++)
		dp_neigh_lookup(&t, IP4(10, 3, 0, 0), now + k * 100 * MS, mac, &send);
	/* ...the other 255 are stale 60 s after their only request. */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS - 1; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 4, 0, 0) + i, now + 60 * SEC, mac, &send),
				 -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_state(&t, IP4(10, 3, 0, 0)), DP_NEIGH_PENDING);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 3, 0, 1), now + 60 * SEC, mac, &send), -ENOSPC);
}

static void test_neigh_reuse_expired(void **state)
{
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint32_t nlearn = DP_NEIGH_SLOTS - DP_MAX_NEIGH;
	int send;

	(void)state;
	assert_non_null(p);
	port_default(p);
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		p->neigh[i].ipv4 = IP4(192, 168, 0, 0) + i;
		mac_of(p->neigh[i].ipv4, 0x51, p->neigh[i].mac);
	}
	p->nneigh = DP_MAX_NEIGH;
	dp_neigh_init(&t, p);
	/* 64 static + 192 learned at t = 0: full. */
	for (uint32_t i = 0; i < nlearn; i++) {
		mac_of(IP4(10, 5, 0, 0) + i * 256u, 4, m);
		dp_neigh_learn(&t, IP4(10, 5, 0, 0) + i * 256u, m, 0);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 6, 0, 0), 60 * SEC - 1, mac, &send), -ENOSPC);
	/* 60 s later every learned entry has expired: 192 new addresses take their slots. */
	for (uint32_t i = 0; i < nlearn; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(10, 6, 0, 0) + i, 60 * SEC, mac, &send),
				 -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), DP_NEIGH_SLOTS);
	/* The statics stayed; the old learned ones are gone and there is no room to ask. */
	for (uint32_t i = 0; i < DP_MAX_NEIGH; i++) {
		assert_int_equal(dp_neigh_lookup(&t, IP4(192, 168, 0, 0) + i, 60 * SEC, mac, &send), 0);
		mac_of(IP4(192, 168, 0, 0) + i, 0x51, m);
		assert_memory_equal(mac, m, 6);
	}
	for (uint32_t i = 0; i < nlearn; i++)
		assert_int_equal(neigh_state(&t, IP4(10, 5, 0, 0) + i * 256u), DP_NEIGH_FREE);
	assert_int_equal(dp_neigh_lookup(&t, IP4(10, 5, 0, 0), 60 * SEC, mac, &send), -ENOSPC);

	/* A learned entry expired in place is renewed in its own slot. */
	dp_neigh_init(&t, NULL);
	mac_of(PEER_IP, 9, m);
	dp_neigh_learn(&t, PEER_IP, m, 0);
	dp_neigh_learn(&t, IP4(10, 7, 0, 0), m, 0);
	dp_neigh_learn(&t, PEER_IP, m, 100 * SEC);
	assert_int_equal(neigh_used(&t), 2);
	assert_int_equal(dp_neigh_lookup(&t, PEER_IP, 100 * SEC, mac, &send), 0);
	free(p);
}

/* The home slot of ip, read from the table (the hash is private). */
static uint32_t home_slot(uint32_t ip)
{
	static struct dp_neigh_table t;
	uint8_t m[6];

	dp_neigh_init(&t, NULL);
	mac_of(ip, 0, m);
	dp_neigh_learn(&t, ip, m, 0);
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		if (t.e[i].state != DP_NEIGH_FREE)
			return i;
	fail();
	return 0;
}

static void test_neigh_collisions(void **state)
{
	enum { WANT = 40 };
	static const uint32_t homes[] = { 3, DP_NEIGH_SLOTS - 2 }; /* one run wraps around */
	uint32_t ips[2][WANT], extra[WANT / 2], n[2] = { 0, 0 }, nx = 0;
	uint8_t seen[DP_NEIGH_SLOTS];
	struct dp_neigh_table t;
	uint8_t mac[6], m[6];
	uint32_t distinct;
	int send;

	(void)state;
	/* The hash spreads a /24 and addresses differing only in their first octet. */
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < 256; i++)
		seen[home_slot(IP4(10, 0, 0, 0) + i)] = 1;
	distinct = 0;
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		distinct += seen[i];
	assert_true(distinct >= 140); /* 256 balls in 256 bins: ~162 expected */
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < 256; i++)
		seen[home_slot(i << 24 | 1u)] = 1;
	distinct = 0;
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++)
		distinct += seen[i];
	assert_true(distinct >= 140);

	/* Find WANT addresses for each of two home slots. */
	for (uint32_t ip = IP4(10, 8, 0, 0); n[0] < WANT || n[1] < WANT || nx < WANT / 2; ip++) {
		uint32_t h = home_slot(ip);

		if (h == homes[0] && n[0] == WANT && nx < WANT / 2)
			extra[nx++] = ip;
		for (int k = 0; k < 2; k++)
			if (h == homes[k] && n[k] < WANT)
				ips[k][n[k]++] = ip;
	}
	dp_neigh_init(&t, NULL);
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < WANT; i++) {
			mac_of(ips[k][i], (uint8_t)k, m);
			if (i % 2)
				dp_neigh_learn(&t, ips[k][i], m, 0);
			else
				assert_int_equal(dp_neigh_lookup(&t, ips[k][i], 0, mac, &send), -EAGAIN);
		}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < WANT; i++) {
			mac_of(ips[k][i], (uint8_t)k, m);
			dp_neigh_learn(&t, ips[k][i], m, 1);
			assert_int_equal(dp_neigh_lookup(&t, ips[k][i], 2, mac, &send), 0);
			assert_memory_equal(mac, m, 6);
			assert_int_equal(neigh_state(&t, ips[k][i]), DP_NEIGH_RESOLVED);
		}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	/* The two runs (3..42, 254..255 then on past 0 into the first run) merged. */
	for (uint32_t i = 0; i < 2 * WANT; i++)
		assert_int_not_equal(t.e[(homes[1] + i) % DP_NEIGH_SLOTS].state, DP_NEIGH_FREE);
	/* 100 s later, refresh the even half of the first chain: its odd half (slots 3..42)
	 * and the whole second chain are stale.  New keys of the same home take the stale
	 * slots first on their way (the odd ones), leaving the second chain alone. */
	for (uint32_t i = 0; i < WANT; i += 2) {
		mac_of(ips[0][i], 0, m);
		dp_neigh_learn(&t, ips[0][i], m, 100 * SEC);
	}
	for (uint32_t i = 0; i < WANT / 2; i++) {
		assert_int_equal(dp_neigh_lookup(&t, extra[i], 100 * SEC, mac, &send), -EAGAIN);
		assert_int_equal(send, 1);
	}
	assert_int_equal(neigh_used(&t), 2 * WANT);
	for (uint32_t i = 0; i < WANT; i++) {
		mac_of(ips[0][i], 0, m);
		if (i % 2) {
			assert_int_equal(neigh_state(&t, ips[0][i]), DP_NEIGH_FREE);
			continue;
		}
		assert_int_equal(dp_neigh_lookup(&t, ips[0][i], 100 * SEC, mac, &send), 0);
		assert_memory_equal(mac, m, 6);
	}
	for (uint32_t i = 0; i < WANT / 2; i++)
		assert_int_equal(neigh_state(&t, extra[i]), DP_NEIGH_PENDING);
	for (uint32_t i = 0; i < WANT; i++)
		assert_int_equal(neigh_state(&t, ips[1][i]), DP_NEIGH_RESOLVED);
	/* The second chain is stale: its keys are asked for again, in place. */
	assert_int_equal(dp_neigh_lookup(&t, ips[1][WANT - 1], 100 * SEC, mac, &send), -EAGAIN);
	assert_int_equal(send, 1);
	assert_int_equal(neigh_used(&t), 2 * WANT);
}

/* Random learns and lookups against a model of the contract.  Which stale entry a new
 * address displaces depends on the private hash, so the model lets the table choose and
 * checks that whatever disappeared was stale. */
struct model_ent {
	uint32_t ip;
	uint8_t state;
	uint8_t mac[6];
	uint64_t updated;
};

static int model_stale(const struct dp_neigh_table *t, const struct model_ent *e, uint64_t now)
{
	return (e->state == DP_NEIGH_RESOLVED || e->state == DP_NEIGH_PENDING) &&
	       now - e->updated >= t->expire_ns;
}

static void test_neigh_model(void **state)
{
	enum { POOL = 400, MAXE = DP_NEIGH_SLOTS + 1 };
	struct model_ent *md = calloc(MAXE, sizeof(*md));
	struct dp_port_cfg *p = calloc(1, sizeof(*p));
	uint32_t pool[POOL], nm = 0;
	static struct dp_neigh_entry snap[DP_NEIGH_SLOTS];
	struct dp_neigh_table t;
	struct srd_rng rng;
	uint64_t now = 0;

	(void)state;
	assert_non_null(md);
	assert_non_null(p);
	srd_rng_seed(&rng, 2024);
	for (uint32_t i = 0; i < POOL; i++) /* subnets, strides, and high octets */
		pool[i] = i < 150 ? IP4(10, 0, 0, 0) + i
			: i < 300 ? IP4(10, 0, 0, 0) + (i - 150) * 4096u : ((i - 300) << 24 | 7u);
	for (uint32_t i = 0; i < 20; i++) {
		p->neigh[i].ipv4 = pool[i * 17];
		mac_of(pool[i * 17], 0xee, p->neigh[i].mac);
		md[nm].ip = pool[i * 17];
		md[nm].state = DP_NEIGH_STATIC;
		memcpy(md[nm].mac, p->neigh[i].mac, 6);
		nm++;
	}
	p->nneigh = 20;
	dp_neigh_init(&t, p);
	t.expire_ns = 5000;
	t.retry_ns = 300;

	for (int step = 0; step < 200000; step++) {
		uint32_t ip = pool[srd_rng_below(&rng, POOL)];
		struct model_ent *e = NULL;
		int any_room, rc, send = 7;
		uint8_t mac[6];
		uint32_t changed = 0;

		memcpy(snap, t.e, sizeof(snap));
		now += srd_rng_below(&rng, 8) == 0 ? srd_rng_below(&rng, 3000) : srd_rng_below(&rng, 20);
		for (uint32_t i = 0; i < nm; i++)
			if (md[i].ip == ip)
				e = &md[i];
		any_room = nm < DP_NEIGH_SLOTS;
		for (uint32_t i = 0; i < nm && !any_room; i++)
			any_room = model_stale(&t, &md[i], now);

		if (srd_rng_below(&rng, 3) == 0) {
			uint8_t m[6];

			mac_of(ip, (uint8_t)srd_rng_below(&rng, 4), m);
			dp_neigh_learn(&t, ip, m, now);
			if (e && e->state == DP_NEIGH_STATIC) {
				/* unchanged */
			} else if (e || any_room) {
				if (!e) {
					e = &md[nm++];
					e->ip = ip;
				}
				e->state = DP_NEIGH_RESOLVED;
				memcpy(e->mac, m, 6);
				e->updated = now;
			}
		} else {
			uint64_t misses = t.misses;

			rc = dp_neigh_lookup(&t, ip, now, mac, &send);
			if (e && (e->state == DP_NEIGH_STATIC ||
				  (e->state == DP_NEIGH_RESOLVED && !model_stale(&t, e, now)))) {
				assert_int_equal(rc, 0);
				assert_memory_equal(mac, e->mac, 6);
				assert_int_equal(send, 0);
				assert_int_equal(t.misses, misses);
			} else if (e && e->state == DP_NEIGH_PENDING && now - e->updated < t.retry_ns) {
				assert_int_equal(rc, -EAGAIN);
				assert_int_equal(send, 0);
				assert_int_equal(t.misses, misses + 1);
			} else if (e || any_room) {
				assert_int_equal(rc, -EAGAIN);
				assert_int_equal(send, 1);
				assert_int_equal(t.misses, misses + 1);
				if (!e) {
					e = &md[nm++];
					e->ip = ip;
					memset(e->mac, 0, 6);
				}
				e->state = DP_NEIGH_PENDING;
				e->updated = now;
			} else {
				assert_int_equal(rc, -ENOSPC);
				assert_int_equal(send, 0);
				assert_int_equal(t.misses, misses + 1);
			}
		}
		/* A slot that changed hands held a stale entry, and at most one did. */
		for (uint32_t s = 0; s < DP_NEIGH_SLOTS; s++) {
			uint32_t gone = UINT32_MAX;

			if (snap[s].state == DP_NEIGH_FREE || snap[s].ipv4 == t.e[s].ipv4)
				continue;
			assert_int_equal(t.e[s].ipv4, ip);
			assert_int_equal(++changed, 1);
			for (uint32_t i = 0; i < nm; i++)
				if (md[i].ip == snap[s].ipv4)
					gone = i;
			assert_int_not_equal(gone, UINT32_MAX);
			assert_true(model_stale(&t, &md[gone], now));
			md[gone] = md[--nm];
		}
		assert_true(nm <= DP_NEIGH_SLOTS);
		/* The table holds exactly the model. */
		if (step % 64 == 0) {
			assert_int_equal(neigh_used(&t), nm);
			for (uint32_t i = 0; i < nm; i++) {
				const struct dp_neigh_entry *te = NULL;

				for (uint32_t s = 0; s < DP_NEIGH_SLOTS; s++)
					if (t.e[s].state != DP_NEIGH_FREE && t.e[s].ipv4 == md[i].ip)
						te = &t.e[s];
				assert_non_null(te);
				assert_int_equal(te->state, md[i].state);
				if (md[i].state != DP_NEIGH_PENDING)
					assert_memory_equal(te->mac, md[i].mac, 6);
				if (md[i].state != DP_NEIGH_STATIC)
					assert_int_equal(te->updated_ns, md[i].updated);
			}
		}
	}
	free(md);
	free(p);
}

/* ---- robustness ---- */

static void test_fuzz_random(void **state)
{
	struct srd_rng rng;
	struct dp_flow f = flow_default();
	uint32_t counts[3] = { 0, 0, 0 };
	uint32_t valid_len;
	uint8_t *valid = make_srd(&f, 1500, 0, &valid_len);
	uint8_t arp[60];

	(void)state;
	srd_rng_seed(&rng, 0x5eed);
	dp_net_arp_request(arp, PEER_MAC, PEER_IP, LOCAL_IP);
	memset(arp + DP_ARP_FRAME_LEN, 0, sizeof(arp) - DP_ARP_FRAME_LEN);
	for (int it = 0; it < 200000; it++) {
		uint32_t kind = srd_rng_below(&rng, 4), len;
		uint8_t *b;
		struct dp_net_local l = local_default();
		struct dp_rx_info info;
		int rc;

		l.csum_checked = srd_rng_below(&rng, 4);
		if (kind == 0) { /* random bytes */
			len = srd_rng_below(&rng, 8) == 0 ? srd_rng_below(&rng, 9100)
							  : srd_rng_below(&rng, 120);
			b = malloc(len ? len : 1);
			assert_non_null(b);
			for (uint32_t i = 0; i < len; i++)
				b[i] = (uint8_t)srd_rng_next(&rng);
			if (len >= 14 && srd_rng_below(&rng, 2))
				wr16(b + 12, srd_rng_below(&rng, 2) ? 0x0800 : 0x0806);
			if (len >= 6 && srd_rng_below(&rng, 2))
				memcpy(b, LOCAL_MAC, 6);
		} else { /* a valid frame, cut and with a few bytes changed */
			const uint8_t *src = kind == 3 ? arp : valid;
			uint32_t slen = kind == 3 ? sizeof(arp) : valid_len;
			uint32_t nflip = srd_rng_below(&rng, 4);

			len = srd_rng_below(&rng, 2) ? slen : srd_rng_below(&rng, slen + 1);
			b = malloc(len ? len : 1);
			assert_non_null(b);
			memcpy(b, src, len);
			for (uint32_t k = 0; k < nflip && len; k++) {
				/* mostly in the headers, where the checks are */
				uint32_t at = srd_rng_below(&rng, len < 64 ? len : 64);

				b[at] = (uint8_t)srd_rng_next(&rng);
			}
			if (kind == 2 && len >= DP_HDRS_LEN && (b[14] & 0xfu) >= 5 &&
			    len >= DP_ETH_HLEN + (b[14] & 0xfu) * 4u && srd_rng_below(&rng, 2))
				fix_ip_csum(b); /* reach the checks after the IP checksum */
		}
		rc = dp_net_parse(b, len, &l, &info);
		if (rc == DP_RX_SRD) {
			assert_true(info.off >= DP_HDRS_LEN);
			assert_true(info.off + info.len <= len);
			counts[0]++;
		} else if (rc == DP_RX_ARP) {
			assert_true(len >= DP_ARP_FRAME_LEN);
			counts[1]++;
		} else {
			assert_true(rc < 0 && -rc >= DP_DROP_SHORT && -rc < DP_DROP_MAX);
			counts[2]++;
		}
		free(b);
	}
	/* The mix reached every outcome. */
	assert_true(counts[0] > 1000);
	assert_true(counts[1] > 1000);
	assert_true(counts[2] > 1000);
	free(valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_ecn_masked),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_udp_csum_zero_sent_as_ffff),
		cmocka_unit_test(test_udp_offload_seed),
		cmocka_unit_test(test_ip_offload),
		cmocka_unit_test(test_build_size_limit),
		cmocka_unit_test(test_drop_short),
		cmocka_unit_test(test_drop_ethertype),
		cmocka_unit_test(test_drop_bad_ip),
		cmocka_unit_test(test_drop_ip_csum),
		cmocka_unit_test(test_drop_not_udp),
		cmocka_unit_test(test_drop_not_for_us),
		cmocka_unit_test(test_drop_wrong_port),
		cmocka_unit_test(test_drop_bad_udp),
		cmocka_unit_test(test_drop_udp_csum),
		cmocka_unit_test(test_padded_frame),
		cmocka_unit_test(test_ip_options),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_route_onlink_and_gateway),
		cmocka_unit_test(test_route_longest_prefix),
		cmocka_unit_test(test_route_inside_subnet),
		cmocka_unit_test(test_route_random),
		cmocka_unit_test(test_neigh_defaults),
		cmocka_unit_test(test_neigh_static),
		cmocka_unit_test(test_neigh_resolve_cycle),
		cmocka_unit_test(test_neigh_full),
		cmocka_unit_test(test_neigh_reuse_expired),
		cmocka_unit_test(test_neigh_collisions),
		cmocka_unit_test(test_neigh_model),
		cmocka_unit_test(test_fuzz_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
