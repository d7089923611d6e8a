/*
 * test_net.c — unit tests of Ethernet/IPv4/UDP framing (dataplane/dp_net.c): build and
 * parse round trips, checksums, drop reasons, and a random-input fuzz of the parser.  ARP,
 * route lookup and the neighbour table are in test_neigh.c; shared helpers in net_harness.h.
 *
 * Every parse runs on a heap copy of exactly the frame's length, so that a read one byte
 * too far is caught by AddressSanitizer.  Checksums are checked against a reference written
 * differently from the one under test (sums of even and odd bytes reduced modulo 0xffff,
 * rather than 16-bit words with end-around carries), and against a packet whose bytes
 * were computed by hand.
 */
#include <errno.h>

#include "net_harness.h"

#include "rng.h"

/* ---- helpers ---- */

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
	f.src_port = (uint16_t)(0xc000u + (plen * 13u + ecn) % 0x4000u);
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
/* DP_CSUM_UDP_NONE: the UDP checksum is 0 ("none"), the IP checksum still right, and the
 * receiver takes it without checking the payload. */
static void test_udp_csum_none(void **state)
{
	struct dp_flow f = flow_default();
	struct dp_net_local l = local_default();
	struct dp_rx_info info;
	uint32_t len;
	uint8_t *b = make_srd(&f, 100, DP_CSUM_UDP_NONE, &len), *ip = b + DP_ETH_HLEN;

	(void)state;
	assert_int_equal(rd16(ip + DP_IP_HLEN + 6), 0);
	assert_int_equal(rd16(ip + 10), ref_ip_csum(ip));
	assert_int_equal(parse_exact(b, len, &l, &info), DP_RX_SRD);
	assert_int_equal(info.len, 100);
	free(b);
}

/* A datagram whose payload goes on in a second buffer gets the headers, lengths and
 * checksums of the joined frame, wherever it is cut (odd cuts: the second buffer's words
 * start one byte later), under every checksum choice. */
static void test_build_ref(void **state)
{
	static const unsigned flags[] = { 0, DP_CSUM_IP_OFFLOAD, DP_CSUM_UDP_OFFLOAD,
					  DP_CSUM_UDP_NONE };
	static const uint32_t plens[] = { 1, 2, 63, 64, 1024, 8949 };
	struct dp_flow f = flow_default();

	(void)state;
	for (size_t fl = 0; fl < sizeof(flags) / sizeof(flags[0]); fl++) {
		for (size_t pi = 0; pi < sizeof(plens) / sizeof(plens[0]); pi++) {
			uint32_t plen = plens[pi], len;
			uint8_t *whole = make_srd(&f, plen, flags[fl], &len);

			for (uint32_t cut = 0; cut <= plen; cut += cut < 8 ? 1 : plen / 7 + 1) {
				uint8_t *hdr = malloc(DP_HDRS_LEN + cut);
				uint8_t *rest = malloc(plen - cut + 1);

				assert_non_null(hdr);
				assert_non_null(rest);
				memcpy(hdr + DP_HDRS_LEN, whole + DP_HDRS_LEN, cut);
				memcpy(rest, whole + DP_HDRS_LEN + cut, plen - cut);
				assert_int_equal(dp_net_build_ref(hdr, &f, cut, rest, plen - cut,
								  flags[fl]), 0);
				assert_memory_equal(hdr, whole, DP_HDRS_LEN);
				free(hdr);
				free(rest);
			}
			free(whole);
		}
	}
}

/* A frame whose rest lies elsewhere may be parsed from its first bytes only when parsing
 * reads nothing past them: all three headers there, no IP options, no UDP checksum to
 * check (none sent, or the NIC's). */
static void test_headers_suffice(void **state)
{
	struct dp_flow f = flow_default();
	uint32_t len, olen;
	uint8_t *none = make_srd(&f, 100, DP_CSUM_UDP_NONE, &len);
	uint8_t *summed = make_srd(&f, 100, 0, &len);
	uint8_t *opts = make_srd_opts(&f, 100, 8, &olen);

	(void)state;
	assert_true(dp_net_headers_suffice(none, DP_HDRS_LEN, 0));
	assert_false(dp_net_headers_suffice(none, DP_HDRS_LEN - 1, 0));
	assert_false(dp_net_headers_suffice(summed, len, 0));
	assert_true(dp_net_headers_suffice(summed, DP_HDRS_LEN, DP_CSUM_UDP_OFFLOAD));
	assert_false(dp_net_headers_suffice(opts, olen, DP_CSUM_UDP_OFFLOAD));
	none[12] = 0x08, none[13] = 0x06; /* ARP */
	assert_false(dp_net_headers_suffice(none, len, DP_CSUM_UDP_OFFLOAD));
	free(none);
	free(summed);
	free(opts);
}

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

/* A UDP port value and what parsing a datagram with it must give. */
struct port_case {
	uint16_t port;
	int rc;
};

/* Parse a datagram per case, with the case's port as source (is_src) or destination. */
static void expect_port_cases(const struct port_case *cases, size_t n, int is_src)
{
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	for (size_t i = 0; i < n; i++) {
		struct dp_flow f = flow_default();
		uint32_t len;
		uint8_t *b;

		if (is_src)
			f.src_port = cases[i].port;
		else
			f.dst_port = cases[i].port;
		b = make_srd(&f, 8, 0, &len);
		assert_int_equal(parse_exact(b, len, &l, &info), cases[i].rc);
		free(b);
	}
}

static void test_drop_wrong_port(void **state)
{
	static const struct port_case cases[] = {
		{ PORT_LO, DP_RX_SRD }, { PORT_LO + 1, DP_RX_SRD }, { PORT_HI, DP_RX_SRD },
		{ PORT_LO - 1, -DP_DROP_WRONG_PORT }, { PORT_HI + 1, -DP_DROP_WRONG_PORT },
		{ 0, -DP_DROP_WRONG_PORT }, { 53, -DP_DROP_WRONG_PORT },
		{ 0xffff, -DP_DROP_WRONG_PORT },
	};
	struct dp_net_local l = local_default();
	struct dp_rx_info info;

	(void)state;
	expect_port_cases(cases, sizeof(cases) / sizeof(cases[0]), 0);
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

static void test_drop_src_port(void **state)
{
	static const struct port_case cases[] = {
		{ 0xc000, DP_RX_SRD }, { 0xffff, DP_RX_SRD }, { 0xc7ff, DP_RX_SRD },
		{ 0xbfff, -DP_DROP_SRC_PORT }, { 0, -DP_DROP_SRC_PORT }, { 53, -DP_DROP_SRC_PORT },
	};

	(void)state;
	expect_port_cases(cases, sizeof(cases) / sizeof(cases[0]), 1);
}

/* Worker addressing: endpoint ids, source ports and peer keys carry the worker index. */
static void test_worker_addressing(void **state)
{
	(void)state;
	assert_int_equal(dp_ep_worker(1), 0);
	assert_int_equal(dp_ep_worker(4095), 0);
	assert_int_equal(dp_ep_worker(4096 + 1), 1);
	assert_int_equal(dp_ep_worker(0xffff), 15);
	for (uint32_t w = 0; w < DP_MAX_WORKERS; w++) {
		for (uint32_t e = 0; e < 0x10000; e += 97) {
			uint16_t sp = dp_src_port(w, e);

			assert_true(sp >= DP_SRC_PORT_BASE);
			assert_int_equal(dp_src_port_worker(sp), (int)w);
			assert_int_equal(sp & DP_SRC_PORT_ENTROPY, e & DP_SRC_PORT_ENTROPY);
		}
		assert_int_equal(dp_peer_worker(dp_peer_key(0x0a000001u, w)), w);
		assert_int_equal(dp_peer_ip(dp_peer_key(0x0a000001u, w)), 0x0a000001u);
	}
	assert_int_equal(dp_src_port_worker(0xbfff), -1);
	assert_int_equal(dp_peer_key(0xffffffffu, 0), 0xffffffffull);
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
		cmocka_unit_test(test_udp_csum_none),
		cmocka_unit_test(test_build_ref),
		cmocka_unit_test(test_headers_suffice),
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
		cmocka_unit_test(test_drop_src_port),
		cmocka_unit_test(test_worker_addressing),
		cmocka_unit_test(test_drop_udp_csum),
		cmocka_unit_test(test_padded_frame),
		cmocka_unit_test(test_ip_options),
		cmocka_unit_test(test_fuzz_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
