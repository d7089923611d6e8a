/*
 * test_wire.c — unit tests of the wire codec (lib/core/wire.c).
 *
 * Every decode here runs on a heap copy of exactly the packet's length, so that a read one
 * byte too far is caught by AddressSanitizer rather than hidden by a larger stack buffer.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "siphash.h"
#include "wire.h"

#define BUF_CAP 256u /* room for any header plus the small payloads used here */

/* ---- helpers ---- */

/* Decode len bytes of buf from a heap copy of exactly len bytes. */
static int decode_exact(const uint8_t *buf, size_t len, struct srd_pkt *pkt)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	rc = srd_wire_decode(copy, len, pkt);
	/* The payload pointer must point into the copy, which is about to go away. */
	if (rc == 0 && pkt->payload) {
		assert_true(pkt->payload >= copy && pkt->payload + pkt->payload_len <= copy + len);
		pkt->payload = buf + (pkt->payload - copy);
	}
	free(copy);
	return rc;
}

/* A DATA segment k of a message of msg_len bytes cut into seg pieces, starting at msg_psn. */
static void make_data(struct srd_pkt *p, uint32_t msg_len, uint16_t seg, uint32_t msg_psn,
		      uint32_t k)
{
	uint64_t left;

	memset(p, 0, sizeof(*p));
	p->type = SRD_PKT_DATA;
	p->flags = SRD_F_ACKREQ;
	p->path = 7;
	p->dst_conn = 0x00030001u;
	p->src_conn = 0x00050002u;
	p->psn = msg_psn + k;
	p->u.data.tx_ts = 0xa1b2c3d4u;
	p->u.data.msg_id = 42;
	p->u.data.msg_len = msg_len;
	p->u.data.msg_psn = msg_psn;
	p->u.data.seg_size = seg;
	p->u.data.src_ep = 0x1234;
	p->u.data.dst_ep = 0xfedc;
	p->u.data.entropy = 0xbeef;
	p->u.data.tag = 0x0102030405060708ull;
	p->u.data.imm = k == 0 ? 0xdeadbeefcafef00dull : 0;
	left = msg_len - (uint64_t)k * seg;
	p->payload_len = msg_len == 0 ? 0 : (uint32_t)(left < seg ? left : seg);
}

/* A valid packet of the given type with every field set to something recognisable. */
static void make_pkt(struct srd_pkt *p, uint8_t type)
{
	if (type == SRD_PKT_DATA) {
		make_data(p, 100, 40, 1000, 1); /* a middle segment, 40 bytes */
		return;
	}
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->path = 200;
	p->dst_conn = 0x00030001u;
	p->src_conn = 0x00050002u;
	p->psn = 0x89abcdefu;
	switch (type) {
	case SRD_PKT_ACK:
		p->flags = SRD_F_ECE;
		p->u.ack = (struct srd_ack_fields){ .echo_ts = 0x11223344u, .acked_psn = 0x55667788u,
			.sack_base = 0x99aabbccu, .credit = 256, .sack = 0x8000000000000001ull,
			.ce_count = 3, .pkt_count = 9, .ack_delay_ns = 12345,
			.max_msg = 16u << 20 };
		break;
	case SRD_PKT_NACK:
		p->flags = SRD_F_ECE;
		p->u.nack = (struct srd_nack_fields){ .echo_ts = 0x01020304u, .cum_psn = 77,
			.reason = SRD_NACK_RNR, .retry_ns = 50000 };
		break;
	case SRD_PKT_PROBE:
		p->flags = SRD_F_REPLY;
		p->u.probe.tx_ts = 0xfeedface;
		p->u.probe.cookie = 0x0000beef;
		break;
	case SRD_PKT_RESET:
		p->u.reset.reason = SRD_RESET_UNKNOWN_CONN;
		break;
	}
}

/* Encode p, append payload_len pattern bytes, return the packet length. */
static size_t build(const struct srd_pkt *p, uint8_t *buf)
{
	int hlen = srd_wire_encode(p, buf, BUF_CAP);

	assert_true(hlen > 0);
	assert_int_equal((uint32_t)hlen, srd_wire_hdr_len(p));
	assert_true(hlen + p->payload_len <= BUF_CAP);
	for (uint32_t i = 0; i < p->payload_len; i++)
		buf[hlen + i] = (uint8_t)(i * 7 + 1);
	return (size_t)hlen + p->payload_len;
}

/* Every decoded field equals the encoded one. */
static void assert_same(const struct srd_pkt *a, const struct srd_pkt *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->path, b->path);
	assert_int_equal(a->dst_conn, b->dst_conn);
	assert_int_equal(a->src_conn, b->src_conn);
	assert_int_equal(a->psn, b->psn);
	assert_int_equal(a->payload_len, b->payload_len);
	switch (a->type) {
	case SRD_PKT_DATA:
		assert_int_equal(a->u.data.tx_ts, b->u.data.tx_ts);
		assert_int_equal(a->u.data.msg_id, b->u.data.msg_id);
		assert_int_equal(a->u.data.msg_len, b->u.data.msg_len);
		assert_int_equal(a->u.data.msg_psn, b->u.data.msg_psn);
		assert_int_equal(a->u.data.seg_size, b->u.data.seg_size);
		assert_int_equal(a->u.data.src_ep, b->u.data.src_ep);
		assert_int_equal(a->u.data.dst_ep, b->u.data.dst_ep);
		assert_int_equal(a->u.data.entropy, b->u.data.entropy);
		assert_int_equal(a->u.data.tag, b->u.data.tag);
		assert_int_equal(a->u.data.imm, b->u.data.imm);
		break;
	case SRD_PKT_ACK:
		assert_memory_equal(&a->u.ack, &b->u.ack, sizeof(a->u.ack));
		break;
	case SRD_PKT_NACK:
		assert_int_equal(a->u.nack.echo_ts, b->u.nack.echo_ts);
		assert_int_equal(a->u.nack.cum_psn, b->u.nack.cum_psn);
		assert_int_equal(a->u.nack.reason, b->u.nack.reason);
		assert_int_equal(a->u.nack.retry_ns, b->u.nack.retry_ns);
		break;
	case SRD_PKT_PROBE:
		assert_int_equal(a->u.probe.tx_ts, b->u.probe.tx_ts);
		assert_int_equal(a->u.probe.cookie, b->u.probe.cookie);
		break;
	case SRD_PKT_RESET:
		assert_int_equal(a->u.reset.reason, b->u.reset.reason);
		break;
	}
}

/* Encode, decode, compare; the payload must be the bytes right after the header. */
static void round_trip(const struct srd_pkt *p)
{
	uint8_t buf[BUF_CAP];
	struct srd_pkt q;
	size_t len = build(p, buf);

	assert_int_equal(decode_exact(buf, len, &q), 0);
	assert_same(p, &q);
	if (p->payload_len == 0) {
		assert_null(q.payload);
	} else {
		assert_ptr_equal(q.payload, buf + srd_wire_hdr_len(p));
	}
}

/* Encode p, apply no change, and expect decode of len bytes to give rc. */
static void expect_len(const struct srd_pkt *p, size_t len, int rc)
{
	uint8_t buf[BUF_CAP];
	struct srd_pkt q;

	build(p, buf);
	assert_int_equal(decode_exact(buf, len, &q), rc);
}

/* Encode p, set byte off to val, and expect decode of the whole packet to give rc. */
static void expect_poke(const struct srd_pkt *p, size_t off, uint8_t val, int rc)
{
	uint8_t buf[BUF_CAP];
	struct srd_pkt q;
	size_t len = build(p, buf);

	buf[off] = val;
	assert_int_equal(decode_exact(buf, len, &q), rc);
}

static const uint8_t all_types[] = { SRD_PKT_DATA, SRD_PKT_ACK, SRD_PKT_NACK, SRD_PKT_PROBE,
				     SRD_PKT_RESET };
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

/* ---- round trips ---- */

static void test_roundtrip_control(void **state)
{
	struct srd_pkt p;

	(void)state;
	for (size_t i = 1; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		round_trip(&p);
	}
	/* The other legal reasons and flags. */
	make_pkt(&p, SRD_PKT_NACK);
	p.u.nack.reason = SRD_NACK_TOO_BIG;
	p.flags = SRD_F_SYN;
	round_trip(&p);
	make_pkt(&p, SRD_PKT_RESET);
	p.u.reset.reason = SRD_RESET_TABLE_FULL;
	round_trip(&p);
	make_pkt(&p, SRD_PKT_PROBE);
	p.flags = SRD_F_SYN;
	p.dst_conn = 0;
	round_trip(&p);
	make_pkt(&p, SRD_PKT_ACK);
	p.u.ack.ce_count = p.u.ack.pkt_count; /* equal is fine */
	round_trip(&p);
}

static void test_roundtrip_data_seg0_imm(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	make_data(&p, 100, 40, 1000, 0);
	p.flags = SRD_F_SYN | SRD_F_ACKREQ | SRD_F_RETX | SRD_F_ORDERED;
	p.dst_conn = 0; /* connection set-up */
	assert_int_equal(srd_wire_hdr_len(&p), SRD_HDR_MAX_LEN);
	assert_int_equal(srd_wire_encode(&p, buf, sizeof(buf)), 56);
	/* The immediate is at 48, big-endian. */
	assert_int_equal(buf[48], 0xde);
	assert_int_equal(buf[55], 0x0d);
	round_trip(&p);
}

static void test_roundtrip_data_segk_no_imm(void **state)
{
	struct srd_pkt p, q;
	uint8_t buf[BUF_CAP];
	size_t len;

	(void)state;
	make_data(&p, 100, 40, 1000, 1);
	assert_int_equal(srd_wire_hdr_len(&p), SRD_HDR_DATA_LEN);
	round_trip(&p);
	/* An imm set by the caller in a later segment is not sent, and decodes as 0. */
	p.u.data.imm = 0x1111;
	len = build(&p, buf);
	assert_int_equal(len, 48 + 40);
	assert_int_equal(decode_exact(buf, len, &q), 0);
	assert_int_equal(q.u.data.imm, 0);
}

static void test_roundtrip_data_empty(void **state)
{
	struct srd_pkt p;

	(void)state;
	make_data(&p, 0, 0, 5, 0); /* seg_size 0 is allowed for an empty message */
	round_trip(&p);
	make_data(&p, 0, 4096, 5, 0); /* and so is a non-zero seg_size */
	round_trip(&p);
}

static void test_roundtrip_data_last_short(void **state)
{
	struct srd_pkt p;

	(void)state;
	make_data(&p, 100, 40, 1000, 2); /* 40 + 40 + 20 */
	assert_int_equal(p.payload_len, 20);
	round_trip(&p);
	make_data(&p, 120, 40, 1000, 2); /* exact multiple: the last is full */
	assert_int_equal(p.payload_len, 40);
	round_trip(&p);
	make_data(&p, 1, 65535, 0, 0); /* one byte, largest seg_size */
	round_trip(&p);
}

static void test_roundtrip_data_psn_wrap(void **state)
{
	struct srd_pkt p;

	(void)state;
	/* Segments at psn 0xfffffffe, 0xffffffff, 0, 1. */
	for (uint32_t k = 0; k < 4; k++) {
		make_data(&p, 130, 40, 0xfffffffeu, k);
		assert_int_equal(p.psn, 0xfffffffeu + k);
		assert_int_equal(srd_wire_hdr_len(&p), k == 0 ? 56 : 48);
		assert_int_equal(p.payload_len, k == 3 ? 10 : 40);
		round_trip(&p);
	}
}

/* ---- packed DATA ---- */

/* A packed DATA packet of n messages of lens[i] bytes into buf (cap bytes): the header from
 * srd_wire_encode, each message from srd_wire_pack_put and pattern bytes.  Returns its
 * length. */
static size_t build_packed(uint8_t *buf, size_t cap, uint32_t n, const uint32_t *lens)
{
	struct srd_pkt p;
	size_t at;
	int h;

	memset(&p, 0, sizeof(p));
	p.type = SRD_PKT_DATA;
	p.flags = SRD_F_ACKREQ | SRD_F_ORDERED;
	p.path = 9;
	p.dst_conn = 0x00030001u;
	p.src_conn = 0x00050002u;
	p.psn = 0x7000;
	p.u.data.tx_ts = 0xa1b2c3d4u;
	p.u.data.src_ep = 0x1234;
	p.u.data.dst_ep = 0xfedc;
	p.u.data.entropy = 0xbeef;
	p.u.data.packed = (uint8_t)n;
	h = srd_wire_encode(&p, buf, cap);
	assert_int_equal(h, SRD_HDR_PACK_LEN);
	assert_int_equal(srd_wire_hdr_len(&p), SRD_HDR_PACK_LEN);
	at = (size_t)h;
	for (uint32_t i = 0; i < n; i++) {
		struct srd_pack_msg m = { .msg_id = 100 + i, .len = lens[i],
					  .tag = 0x0102030405060708ull + i, .imm = 0xdead0000ull + i };

		assert_true(at + SRD_PACK_SUB_LEN + lens[i] <= cap);
		srd_wire_pack_put(buf + at, &m);
		at += SRD_PACK_SUB_LEN;
		for (uint32_t j = 0; j < lens[i]; j++)
			buf[at + j] = (uint8_t)(i * 31 + j);
		at += lens[i];
	}
	return at;
}

/* srd_wire_decode_split() of buf (len bytes) cut after hlen, each piece a heap copy of
 * exactly its length (a read past either is caught by AddressSanitizer). */
static int decode_split_exact(const uint8_t *buf, size_t len, size_t hlen, struct srd_pkt *pkt,
			      const uint8_t **payload_copy)
{
	uint8_t *h = malloc(hlen ? hlen : 1), *pl = malloc(len - hlen ? len - hlen : 1);
	int rc;

	assert_non_null(h);
	assert_non_null(pl);
	memcpy(h, buf, hlen);
	memcpy(pl, buf + hlen, len - hlen);
	rc = srd_wire_decode_split(h, hlen, pl, len - hlen, pkt);
	*payload_copy = rc == 0 && pkt->payload == pl ? buf + hlen : NULL;
	if (rc == 0 && pkt->payload)
		pkt->payload = *payload_copy; /* the copies are about to go away */
	free(h);
	free(pl);
	return rc;
}

/* A data segment in two pieces cut at its header decodes as whole, its payload where the
 * second piece is; any other cut, or any other packet, is left to be joined (1); a wrong
 * payload length is dropped as it would be whole. */
static void test_decode_split(void **state)
{
	struct srd_pkt p, whole, split;
	uint8_t buf[BUF_CAP];
	const uint8_t *at;
	size_t len, hlen;

	(void)state;
	for (uint32_t k = 0; k < 3; k++) { /* segment 0 carries the immediate data */
		make_data(&p, 100, 40, 1000, k);
		len = build(&p, buf);
		hlen = srd_wire_hdr_len(&p);
		assert_int_equal(decode_exact(buf, len, &whole), 0);
		assert_int_equal(decode_split_exact(buf, len, hlen, &split, &at), 0);
		assert_same(&whole, &split);
		assert_ptr_equal(split.payload, buf + hlen);
		assert_int_equal(split.payload_len, len - hlen);
		for (size_t cut = 0; cut <= len; cut++)
			if (cut != hlen)
				assert_int_equal(decode_split_exact(buf, len, cut, &split, &at), 1);
		/* the payload one byte short or long: as whole */
		assert_int_equal(decode_split_exact(buf, len - 1, hlen, &split, &at),
				 -SRD_DROP_BAD_LENGTH);
		assert_int_equal(decode_exact(buf, len - 1, &whole), -SRD_DROP_BAD_LENGTH);
	}
	for (size_t t = 0; t < sizeof(all_types); t++) {
		if (all_types[t] == SRD_PKT_DATA)
			continue;
		make_pkt(&p, all_types[t]);
		len = build(&p, buf);
		for (size_t cut = 0; cut <= len; cut++)
			assert_int_equal(decode_split_exact(buf, len, cut, &split, &at), 1);
	}
	{
		static const uint32_t lens[3] = { 5, 0, 17 };

		len = build_packed(buf, sizeof(buf), 3, lens);
		for (size_t cut = 0; cut <= len; cut++)
			assert_int_equal(decode_split_exact(buf, len, cut, &split, &at), 1);
	}
}


/* A packed packet decodes as DATA with its count, and each message reads back. */
static void test_roundtrip_packed(void **state)
{
	static const uint32_t lens[] = { 64, 0, 1, 13 };
	uint8_t buf[BUF_CAP];
	struct srd_pkt q;
	size_t len = build_packed(buf, sizeof(buf), 4, lens);
	const uint8_t *p;

	(void)state;
	assert_int_equal(len, 28 + 4 * 24 + 64 + 0 + 1 + 13);
	assert_int_equal(buf[3], 4); /* byte 3 counts the messages */
	assert_int_equal(decode_exact(buf, len, &q), 0);
	assert_int_equal(q.type, SRD_PKT_DATA);
	assert_int_equal(q.flags, SRD_F_ACKREQ | SRD_F_ORDERED);
	assert_int_equal(q.psn, 0x7000);
	assert_int_equal(q.u.data.packed, 4);
	assert_int_equal(q.u.data.msg_psn, 0x7000);
	assert_int_equal(q.u.data.tx_ts, 0xa1b2c3d4u);
	assert_int_equal(q.u.data.src_ep, 0x1234);
	assert_int_equal(q.u.data.dst_ep, 0xfedc);
	assert_int_equal(q.u.data.entropy, 0xbeef);
	assert_ptr_equal(q.payload, buf + 28);
	assert_int_equal(q.payload_len, len - 28);
	p = q.payload;
	for (uint32_t i = 0; i < 4; i++) {
		struct srd_pack_msg m;

		p = srd_wire_pack_read(p, &m);
		assert_int_equal(m.msg_id, 100 + i);
		assert_int_equal(m.len, lens[i]);
		assert_true(m.tag == 0x0102030405060708ull + i);
		assert_true(m.imm == 0xdead0000ull + i);
		if (lens[i] == 0)
			assert_null(m.payload);
		for (uint32_t j = 0; j < lens[i]; j++)
			assert_int_equal(m.payload[j], (uint8_t)(i * 31 + j));
	}
	assert_ptr_equal(p, buf + len);
	/* the largest count */
	{
		uint32_t many[SRD_PACK_MAX_MSGS] = { 0 };
		uint8_t big[SRD_HDR_PACK_LEN + SRD_PACK_MAX_MSGS * SRD_PACK_SUB_LEN];

		len = build_packed(big, sizeof(big), SRD_PACK_MAX_MSGS, many);
		assert_int_equal(decode_exact(big, len, &q), 0);
		assert_int_equal(q.u.data.packed, SRD_PACK_MAX_MSGS);
	}
}

/* Every drop rule of the packed layout. */
static void test_drop_packed(void **state)
{
	static const uint32_t lens[] = { 10, 20, 0 };
	uint8_t buf[BUF_CAP], tmp[BUF_CAP];
	struct srd_pkt q, p;
	size_t len = build_packed(buf, sizeof(buf), 3, lens);

	(void)state;
	/* a count of 1 (one message is an ordinary DATA packet) or above the bound */
	memcpy(tmp, buf, len);
	tmp[3] = 1;
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_HEADER);
	tmp[3] = SRD_PACK_MAX_MSGS + 1;
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_HEADER);
	/* a count that disagrees with the messages there: too many runs out of bytes, too
	 * few leaves bytes over */
	tmp[3] = 4;
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_TRUNCATED);
	tmp[3] = 2;
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_LENGTH);
	/* reserved bytes 26-27 */
	for (size_t off = 26; off < 28; off++) {
		memcpy(tmp, buf, len);
		tmp[off] = 0x01;
		assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_HEADER);
	}
	/* shorter than the packed header */
	for (size_t l = 16; l < 28; l++)
		assert_int_equal(decode_exact(buf, l, &q), -SRD_DROP_TRUNCATED);
	/* cut anywhere: a sub-header cut short is truncated, a message cut short is a length
	 * mismatch */
	for (size_t l = 28; l < len; l++) {
		int rc = decode_exact(buf, l, &q);

		assert_true(rc == -SRD_DROP_TRUNCATED || rc == -SRD_DROP_BAD_LENGTH);
	}
	assert_int_equal(decode_exact(buf, 28 + 24 + 5, &q), -SRD_DROP_BAD_LENGTH);
	assert_int_equal(decode_exact(buf, 28 + 24 + 10 + 3, &q), -SRD_DROP_TRUNCATED);
	/* a byte past the last message */
	buf[len] = 0;
	assert_int_equal(decode_exact(buf, len + 1, &q), -SRD_DROP_BAD_LENGTH);
	/* a message length running past the end, up to one that would wrap 32 bits */
	static const uint32_t bad_len[] = { 47, 200, 0x7fffffffu, 0xffffffffu };
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		memcpy(tmp, buf, len);
		tmp[28 + 24 + 10 + 4] = (uint8_t)(bad_len[i] >> 24);
		tmp[28 + 24 + 10 + 5] = (uint8_t)(bad_len[i] >> 16);
		tmp[28 + 24 + 10 + 6] = (uint8_t)(bad_len[i] >> 8);
		tmp[28 + 24 + 10 + 7] = (uint8_t)bad_len[i];
		assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_LENGTH);
	}
	/* the common rules hold: flags, dst_conn 0 without SYN */
	memcpy(tmp, buf, len);
	tmp[1] = SRD_F_ECE;
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_HEADER);
	memcpy(tmp, buf, len);
	memset(tmp + 4, 0, 4);
	assert_int_equal(decode_exact(tmp, len, &q), -SRD_DROP_BAD_HEADER);
	tmp[1] |= SRD_F_SYN; /* a set-up may be packed */
	assert_int_equal(decode_exact(tmp, len, &q), 0);
	/* the encoder refuses a count of 1 or above the bound */
	memset(&p, 0, sizeof(p));
	p.type = SRD_PKT_DATA;
	p.dst_conn = p.src_conn = 1;
	p.u.data.packed = 1;
	assert_int_equal(srd_wire_encode(&p, tmp, sizeof(tmp)), -EINVAL);
	p.u.data.packed = SRD_PACK_MAX_MSGS + 1;
	assert_int_equal(srd_wire_encode(&p, tmp, sizeof(tmp)), -EINVAL);
	p.u.data.packed = 2;
	assert_int_equal(srd_wire_encode(&p, tmp, SRD_HDR_PACK_LEN - 1), -ENOSPC);
}

/* An ACK carries 1..8 SACK words: byte 3 counts the further ones, each 8 bytes big-endian
 * after the 52-byte layout; the length must be exactly that. */
static void test_ack_sack_words(void **state)
{
	uint8_t buf[BUF_CAP];
	struct srd_pkt p, q;

	(void)state;
	for (uint8_t n = 0; n <= SRD_SACK_MORE_MAX; n++) {
		size_t len;

		make_pkt(&p, SRD_PKT_ACK);
		p.u.ack.sack_more_n = n;
		for (uint8_t k = 0; k < n; k++)
			p.u.ack.sack_more[k] = 0x0102030405060708ull * (k + 1) ^ 0x8000000000000001ull;
		len = build(&p, buf);
		assert_int_equal(len, SRD_HDR_ACK_LEN + 8u * n);
		assert_int_equal(buf[3], n);
		if (n)
			assert_memory_equal(buf + 52, "\x81\x02\x03\x04\x05\x06\x07\x09", 8);
		round_trip(&p);
		assert_int_equal(srd_ack_sack_word(&p.u.ack, 0), p.u.ack.sack);
		if (n)
			assert_int_equal(srd_ack_sack_word(&p.u.ack, n), p.u.ack.sack_more[n - 1]);
		/* one byte short, one byte long */
		assert_int_equal(decode_exact(buf, len - 1, &q), -SRD_DROP_TRUNCATED);
		buf[len] = 0;
		assert_int_equal(decode_exact(buf, len + 1, &q), -SRD_DROP_BAD_LENGTH);
	}
	assert_int_equal(SRD_HDR_ACK_MAX_LEN, 108);
	assert_int_equal(SRD_SACK_BITS, 512);
	/* more words than the format has: refused by the encoder */
	make_pkt(&p, SRD_PKT_ACK);
	p.u.ack.sack_more_n = SRD_SACK_MORE_MAX + 1;
	assert_int_equal(srd_wire_encode(&p, buf, BUF_CAP), -EINVAL);
}

/* Field offsets are the documented ones. */
static void test_layout_offsets(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	make_data(&p, 100, 40, 1000, 1);
	build(&p, buf);
	assert_int_equal(buf[0], 0x11);
	assert_int_equal(buf[1], SRD_F_ACKREQ);
	assert_int_equal(buf[2], 7);
	assert_int_equal(buf[3], 0);
	assert_memory_equal(buf + 4, "\x00\x03\x00\x01\x00\x05\x00\x02\x00\x00\x03\xe9", 12);
	assert_memory_equal(buf + 16, "\xa1\xb2\xc3\xd4\x00\x00\x00\x2a\x00\x00\x00\x64", 12);
	assert_memory_equal(buf + 28, "\x00\x00\x03\xe8\x00\x28\x12\x34\xfe\xdc\xbe\xef", 12);
	assert_memory_equal(buf + 40, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);

	make_pkt(&p, SRD_PKT_ACK);
	build(&p, buf);
	assert_int_equal(buf[0], 0x12);
	assert_memory_equal(buf + 40, "\x00\x03\x00\x09\x00\x00\x30\x39", 8);
	make_pkt(&p, SRD_PKT_NACK);
	build(&p, buf);
	assert_memory_equal(buf + 24, "\x01\x00\x00\x00\x00\x00\xc3\x50", 8);
	make_pkt(&p, SRD_PKT_RESET);
	build(&p, buf);
	assert_memory_equal(buf + 16, "\x00\x00\x00\x01", 4);
}

/* ---- encoder errors ---- */

static void test_encode_errors(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	make_pkt(&p, SRD_PKT_ACK);
	p.type = 0;
	assert_int_equal(srd_wire_encode(&p, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(srd_wire_hdr_len(&p), 0);
	p.type = 6;
	assert_int_equal(srd_wire_encode(&p, buf, sizeof(buf)), -EINVAL);
	for (size_t i = 0; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		uint32_t h = srd_wire_hdr_len(&p);

		assert_int_equal(srd_wire_encode(&p, buf, h - 1), -ENOSPC);
		/* Not one byte is written past the header: the payload follows there. */
		memset(buf, 0xaa, sizeof(buf));
		assert_int_equal(srd_wire_encode(&p, buf, h), (int)h);
		for (size_t j = h; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 0xaa);
	}
	make_data(&p, 10, 10, 0, 0);
	assert_int_equal(srd_wire_encode(&p, buf, 55), -ENOSPC);
}

/* ---- drops ---- */

static void test_drop_truncated(void **state)
{
	struct srd_pkt p;

	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		uint32_t h = srd_wire_hdr_len(&p);

		for (size_t len = 0; len < h; len++)
			expect_len(&p, len, -SRD_DROP_TRUNCATED);
	}
	/* Segment 0's layout includes the immediate: 48..55 bytes are short too. */
	make_data(&p, 0, 0, 9, 0);
	for (size_t len = 0; len < 56; len++)
		expect_len(&p, len, -SRD_DROP_TRUNCATED);
	expect_len(&p, 56, 0);
}

static void test_drop_bad_version(void **state)
{
	static const uint8_t vers[] = { 0, 2, 15 };
	struct srd_pkt p;

	(void)state;
	for (size_t i = 0; i < sizeof(vers); i++) {
		make_pkt(&p, SRD_PKT_ACK);
		expect_poke(&p, 0, (uint8_t)(vers[i] << 4 | SRD_PKT_ACK), -SRD_DROP_BAD_VERSION);
		/* The version is checked before the type and before the layout length. */
		expect_poke(&p, 0, (uint8_t)(vers[i] << 4), -SRD_DROP_BAD_VERSION);
	}
}

static void test_drop_bad_type(void **state)
{
	static const uint8_t types[] = { 0, 6, 15 };
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];
	struct srd_pkt q;

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		make_pkt(&p, SRD_PKT_ACK);
		expect_poke(&p, 0, (uint8_t)(0x10 | types[i]), -SRD_DROP_BAD_TYPE);
		/* 16 bytes suffice to say the type is bad. */
		build(&p, buf);
		buf[0] = (uint8_t)(0x10 | types[i]);
		assert_int_equal(decode_exact(buf, 16, &q), -SRD_DROP_BAD_TYPE);
	}
}

static void test_drop_unknown_flags(void **state)
{
	struct srd_pkt p;

	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		uint8_t allowed;

		switch (all_types[i]) {
		case SRD_PKT_DATA:
			allowed = SRD_F_SYN | SRD_F_RETX | SRD_F_ACKREQ | SRD_F_ABANDON |
				  SRD_F_COOKIE | SRD_F_ORDERED;
			break;
		case SRD_PKT_ACK:
		case SRD_PKT_NACK:
			allowed = SRD_F_SYN | SRD_F_ECE;
			break;
		case SRD_PKT_PROBE:
			allowed = SRD_F_SYN | SRD_F_REPLY;
			break;
		default:
			allowed = 0;
			break;
		}
		make_pkt(&p, all_types[i]);
		for (unsigned bit = 0; bit < 8; bit++) {
			uint8_t f = (uint8_t)(1u << bit);

			/* a cookie rides only on a set-up */
			expect_poke(&p, 1, f, (f & allowed) && f != SRD_F_COOKIE ? 0 :
					      -SRD_DROP_BAD_HEADER);
		}
		expect_poke(&p, 1, allowed, 0);
	}
	/* and is never 0 */
	make_pkt(&p, SRD_PKT_DATA);
	p.flags = SRD_F_SYN;
	p.dst_conn = 0;
	expect_poke(&p, 1, SRD_F_SYN | SRD_F_COOKIE, -SRD_DROP_BAD_HEADER);
	p.dst_conn = 0x12345678u;
	expect_poke(&p, 1, SRD_F_SYN | SRD_F_COOKIE, 0);
}

/* SipHash-2-4, the set-up cookies' keyed hash: the reference vector of 16 bytes. */
static void test_siphash_vector(void **state)
{
	const uint64_t k[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

	(void)state;
	assert_int_equal(srd_siphash_2w(k, k[0], k[1]), 0x3f2acc7f57c29bdbull);
}

static void test_drop_reserved(void **state)
{
	struct srd_pkt p;

	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		/* in an ACK byte 3 counts further SACK words: one more than it has is short */
		expect_poke(&p, 3, 0x01, all_types[i] == SRD_PKT_ACK ? -SRD_DROP_TRUNCATED :
								       -SRD_DROP_BAD_HEADER);
		expect_poke(&p, 3, 0x80, -SRD_DROP_BAD_HEADER);
	}
	make_pkt(&p, SRD_PKT_ACK);
	expect_poke(&p, 3, SRD_SACK_MORE_MAX + 1, -SRD_DROP_BAD_HEADER);
	/* bytes 38-39 of DATA are its entropy value now: any value decodes */
	make_pkt(&p, SRD_PKT_DATA);
	expect_poke(&p, 38, 0xff, 0);
	expect_poke(&p, 39, 0x01, 0);
	make_pkt(&p, SRD_PKT_NACK);
	for (size_t off = 25; off < 28; off++)
		expect_poke(&p, off, 0x01, -SRD_DROP_BAD_HEADER);
}

static void test_drop_src_conn_zero(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		p.src_conn = 0;
		expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
		if (all_types[i] == SRD_PKT_RESET)
			continue; /* RESET may not carry SYN */
		p.flags |= SRD_F_SYN; /* SYN excuses dst_conn 0, never src_conn 0 */
		expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
	}
}

static void test_drop_dst_zero_without_syn(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	for (size_t i = 0; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		p.dst_conn = 0;
		p.flags &= (uint8_t)~SRD_F_SYN;
		expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
		if (all_types[i] == SRD_PKT_RESET)
			continue;
		p.flags |= SRD_F_SYN;
		expect_len(&p, build(&p, buf), 0);
		p.dst_conn = 0x00010001u; /* SYN with a known dst is allowed too */
		expect_len(&p, build(&p, buf), 0);
	}
	/* RESET answers a packet whose src it names: dst 0 is never valid, SYN never either. */
	make_pkt(&p, SRD_PKT_RESET);
	p.dst_conn = 0;
	p.flags = SRD_F_SYN;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
}

static void test_drop_seg_size_zero(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	make_data(&p, 100, 40, 1000, 0);
	p.u.data.seg_size = 0;
	p.payload_len = 0;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
	p.payload_len = 100; /* whatever the payload */
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
}

static void test_drop_bad_offset(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	/* 100 bytes in 40-byte segments: 3 segments, index 3 is beyond. */
	make_data(&p, 100, 40, 1000, 3);
	p.payload_len = 0;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	p.payload_len = 40;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	/* A psn before msg_psn is a huge modular index. */
	make_data(&p, 100, 40, 1000, 0);
	p.psn = 999;
	p.payload_len = 40;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	/* Across the wrap too. */
	make_data(&p, 100, 40, 0xffffffffu, 3);
	assert_int_equal(p.psn, 2);
	p.payload_len = 40;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	/* An empty message has only segment 0. */
	make_data(&p, 0, 40, 1000, 1);
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	/* Largest index: seg_size 1, msg_len 2^32-1, k = 2^32-1 is beyond, k-1 is not. */
	make_data(&p, UINT32_MAX, 1, 0, UINT32_MAX);
	p.payload_len = 1;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_OFFSET);
	make_data(&p, UINT32_MAX, 1, 0, UINT32_MAX - 1);
	round_trip(&p);
}

static void test_drop_payload_length(void **state)
{
	static const struct { uint32_t msg_len; uint16_t seg; uint32_t k; } cases[] = {
		{ 100, 40, 0 }, /* full segment 0 */
		{ 100, 40, 1 }, /* full middle segment */
		{ 100, 40, 2 }, /* short last segment */
		{ 0, 40, 0 },   /* empty message */
		{ 0, 0, 0 },    /* empty message, seg_size 0 */
	};
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_data(&p, cases[i].msg_len, cases[i].seg, 1000, cases[i].k);
		size_t len = build(&p, buf);

		expect_len(&p, len, 0);
		if (p.payload_len > 0)
			expect_len(&p, len - 1, -SRD_DROP_BAD_LENGTH);
		p.payload_len++; /* one byte long */
		expect_len(&p, build(&p, buf), -SRD_DROP_BAD_LENGTH);
		p.payload_len += 60; /* well past */
		expect_len(&p, build(&p, buf), -SRD_DROP_BAD_LENGTH);
	}
}

static void test_drop_oversized_control(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	for (size_t i = 1; i < NTYPES; i++) {
		make_pkt(&p, all_types[i]);
		size_t len = build(&p, buf);

		memset(buf + len, 0, 8);
		struct srd_pkt q;

		assert_int_equal(decode_exact(buf, len + 1, &q), -SRD_DROP_BAD_LENGTH);
		assert_int_equal(decode_exact(buf, len + 8, &q), -SRD_DROP_BAD_LENGTH);
	}
}

static void test_drop_nack_reason(void **state)
{
	static const uint8_t bad[] = { 0, 4, 255 };
	struct srd_pkt p;

	(void)state;
	make_pkt(&p, SRD_PKT_NACK);
	for (size_t i = 0; i < sizeof(bad); i++)
		expect_poke(&p, 24, bad[i], -SRD_DROP_BAD_HEADER);
	expect_poke(&p, 24, SRD_NACK_TOO_BIG, 0);
	expect_poke(&p, 24, SRD_NACK_NO_EP, 0);
}

static void test_drop_reset_reason(void **state)
{
	struct srd_pkt p;

	(void)state;
	make_pkt(&p, SRD_PKT_RESET);
	expect_poke(&p, 19, 0, -SRD_DROP_BAD_HEADER);
	expect_poke(&p, 19, 5, -SRD_DROP_BAD_HEADER);
	expect_poke(&p, 19, 4, 0); /* SETUP_COOKIE */
	expect_poke(&p, 19, 3, 0); /* IDLE_CLOSED */
	expect_poke(&p, 16, 1, -SRD_DROP_BAD_HEADER); /* 0x01000001 */
	expect_poke(&p, 19, 2, 0);
}

static void test_drop_ce_over_pkt_count(void **state)
{
	struct srd_pkt p;
	uint8_t buf[BUF_CAP];

	(void)state;
	make_pkt(&p, SRD_PKT_ACK);
	p.u.ack.ce_count = 10;
	p.u.ack.pkt_count = 9;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
	p.u.ack.ce_count = 0xffff;
	p.u.ack.pkt_count = 0;
	expect_len(&p, build(&p, buf), -SRD_DROP_BAD_HEADER);
}

/* ---- names ---- */

static void test_drop_reason_names(void **state)
{
	(void)state;
	assert_string_equal(srd_drop_reason_name(0), "none");
	assert_string_equal(srd_drop_reason_name(SRD_DROP_TRUNCATED), "truncated");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_TRUNCATED), "truncated");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_BAD_OFFSET), "bad_offset");
	assert_string_equal(srd_drop_reason_name(SRD_DROP_STALE_CONN), "stale_conn");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_CONN_TABLE_FULL), "conn_table_full");
	assert_string_equal(srd_drop_reason_name(SRD_DROP_UNEXPECTED), "unexpected");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_UNEXPECTED), "unexpected");
	assert_string_equal(srd_drop_reason_name(SRD_DROP_MAX), "unknown");
	assert_string_equal(srd_drop_reason_name(-SRD_DROP_MAX), "unknown");
	assert_string_equal(srd_drop_reason_name(INT_MAX), "unknown");
	assert_string_equal(srd_drop_reason_name(INT_MIN), "unknown");
	for (int r = 0; r < SRD_DROP_MAX; r++)
		assert_string_not_equal(srd_drop_reason_name(r), "unknown");
}

/* ---- robustness ---- */

/* xorshift64: small, seeded, deterministic. */
static uint64_t xs_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/*
 * A decode that succeeds must describe the packet completely: re-encoding the result gives
 * the same header bytes, and header plus payload is the whole packet.
 */
static void check_decoded(const uint8_t *buf, size_t len, const struct srd_pkt *q)
{
	uint8_t out[BUF_CAP];
	int h = srd_wire_encode(q, out, sizeof(out));

	assert_true(h > 0);
	assert_int_equal((size_t)h + q->payload_len, len);
	assert_memory_equal(out, buf, (size_t)h);
	if (q->payload_len)
		assert_ptr_equal(q->payload, buf + h);
	else
		assert_null(q->payload);
}

static void fuzz_one(const uint8_t *buf, size_t len)
{
	struct srd_pkt q;
	int rc = decode_exact(buf, len, &q);

	assert_true(rc == 0 || (rc < 0 && rc > -SRD_DROP_MAX));
	assert_string_not_equal(srd_drop_reason_name(rc), "unknown");
	if (rc == 0)
		check_decoded(buf, len, &q);
}

static void test_fuzz_random(void **state)
{
	uint64_t s = 0x5eed5eed12345678ull;
	uint8_t buf[BUF_CAP];

	(void)state;
	for (int i = 0; i < 100000; i++) {
		size_t len = (size_t)(xs_next(&s) % 201);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)xs_next(&s);
		/* Half the time give byte 0 a valid version and a small type, to get deeper. */
		if (len && (xs_next(&s) & 1))
			buf[0] = (uint8_t)(0x10 | (xs_next(&s) % 7));
		fuzz_one(buf, len);
	}
}

static void test_fuzz_mutations(void **state)
{
	uint64_t s = 0x0123456789abcdefull;
	static const uint32_t packed_lens[] = { 7, 0, 30 };
	struct srd_pkt seeds[9];
	uint8_t buf[BUF_CAP], packed[BUF_CAP];
	size_t packed_len = build_packed(packed, sizeof(packed), 3, packed_lens);
	int ok = 0;

	(void)state;
	for (size_t i = 0; i < NTYPES; i++)
		make_pkt(&seeds[i], all_types[i]);
	make_data(&seeds[5], 100, 40, 1000, 0);
	make_data(&seeds[6], 100, 40, 1000, 2);
	make_data(&seeds[7], 0, 0, 0xffffffffu, 0);
	make_data(&seeds[8], 130, 40, 0xfffffffeu, 3);

	for (int i = 0; i < 100000; i++) {
		uint32_t pick = (uint32_t)(xs_next(&s) % 10);
		size_t len;
		struct srd_pkt q;

		if (pick == 9) { /* the packed seed */
			len = packed_len;
			memcpy(buf, packed, len);
		} else {
			len = build(&seeds[pick], buf);
		}

		buf[xs_next(&s) % len] = (uint8_t)xs_next(&s);
		fuzz_one(buf, len);
		ok += decode_exact(buf, len, &q) == 0;
	}
	/* Mutations of fields without rules (timestamps, tags...) still decode. */
	assert_true(ok > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_control),
		cmocka_unit_test(test_roundtrip_data_seg0_imm),
		cmocka_unit_test(test_roundtrip_data_segk_no_imm),
		cmocka_unit_test(test_roundtrip_data_empty),
		cmocka_unit_test(test_roundtrip_data_last_short),
		cmocka_unit_test(test_roundtrip_data_psn_wrap),
		cmocka_unit_test(test_roundtrip_packed),
		cmocka_unit_test(test_decode_split),
		cmocka_unit_test(test_drop_packed),
		cmocka_unit_test(test_layout_offsets),
		cmocka_unit_test(test_ack_sack_words),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_drop_truncated),
		cmocka_unit_test(test_drop_bad_version),
		cmocka_unit_test(test_drop_bad_type),
		cmocka_unit_test(test_drop_unknown_flags),
		cmocka_unit_test(test_drop_reserved),
		cmocka_unit_test(test_drop_src_conn_zero),
		cmocka_unit_test(test_drop_dst_zero_without_syn),
		cmocka_unit_test(test_drop_seg_size_zero),
		cmocka_unit_test(test_drop_bad_offset),
		cmocka_unit_test(test_drop_payload_length),
		cmocka_unit_test(test_drop_oversized_control),
		cmocka_unit_test(test_drop_nack_reason),
		cmocka_unit_test(test_drop_reset_reason),
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_drop_ce_over_pkt_count),
		cmocka_unit_test(test_drop_reason_names),
		cmocka_unit_test(test_fuzz_random),
		cmocka_unit_test(test_fuzz_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
