/*
 * net_harness.h — helpers shared by the tests of dataplane/dp_net.c: test_net.c (framing)
 * and test_neigh.c (ARP, route lookup, the neighbour table).  Header-only: static inline
 * helpers.
 *
 * Every parse runs on a heap copy of exactly the frame's length (parse_exact), so that a
 * read one byte too far is caught by AddressSanitizer.
 */
#ifndef SRD_TEST_NET_HARNESS_H
#define SRD_TEST_NET_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_net.h"

/* The test addresses (host order), ports and times. */
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

/* The big-endian 16-bit value at p. */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Store v at p, big-endian. */
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Store v at p, big-endian. */
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The local side of every test: LOCAL_MAC, LOCAL_IP, ports PORT_LO..PORT_HI, and no
 * checksums already verified by the NIC. */
static inline struct dp_net_local local_default(void)
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

/* Parse a heap copy of exactly len bytes of buf. */
static inline int parse_exact(const uint8_t *buf, uint32_t len, const struct dp_net_local *l,
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

#endif /* SRD_TEST_NET_HARNESS_H */
