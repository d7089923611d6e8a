/*
 * wire.c — the SRD v1 wire codec (see wire.h and docs/wire-format.md).
 *
 * Plain C11 and libc: no DPDK, no system calls, so the same file serves the engine, the
 * simulator and the fuzzers.  Multi-byte fields are big-endian and are read and written one
 * byte at a time, which is correct on every host and never makes an unaligned access.
 *
 * The decoder's checks run in a fixed order (documented in wire.h and the format document):
 * the shortest-header test, version, type, the type's layout length, the common header
 * fields, the type's own fields, and last the packet length against what the header says.
 */
#include "wire.h"

#include <errno.h>
#include <string.h>

/* Offsets in the common header. */
#define OFF_VER_TYPE 0u  /* version << 4 | type */
#define OFF_FLAGS 1u     /* SRD_F_* */
#define OFF_PATH 2u      /* path index */
#define OFF_RSVD 3u      /* reserved, zero; in an ACK the number of further SACK words */
#define OFF_DST_CONN 4u  /* receiver's connection id */
#define OFF_SRC_CONN 8u  /* sender's connection id */
#define OFF_PSN 12u      /* packet sequence number */

/* Offsets in a DATA header. */
#define OFF_D_TX_TS 16u
#define OFF_D_MSG_ID 20u
#define OFF_D_MSG_LEN 24u
#define OFF_D_MSG_PSN 28u
#define OFF_D_SEG_SIZE 32u
#define OFF_D_SRC_EP 34u
#define OFF_D_DST_EP 36u
#define OFF_D_ENTROPY 38u /* u16 */
#define OFF_D_TAG 40u
#define OFF_D_IMM 48u    /* segment 0 only */

/* Offsets in a packed DATA header (byte 3: the number of messages), and in each message's
 * sub-header after it. */
#define OFF_K_TX_TS 16u
#define OFF_K_SRC_EP 20u
#define OFF_K_DST_EP 22u
#define OFF_K_ENTROPY 24u
#define OFF_K_RSVD 26u    /* u16, zero */
#define OFF_KM_MSG_ID 0u
#define OFF_KM_LEN 4u
#define OFF_KM_TAG 8u
#define OFF_KM_IMM 16u

/* Offsets in an ACK header. */
#define OFF_A_ECHO_TS 16u
#define OFF_A_ACKED_PSN 20u
#define OFF_A_SACK_BASE 24u
#define OFF_A_GRANT 28u
#define OFF_A_CREDIT 30u
#define OFF_A_SACK 32u
#define OFF_A_CE_COUNT 40u
#define OFF_A_PKT_COUNT 42u
#define OFF_A_ACK_DELAY 44u
#define OFF_A_MAX_MSG 48u
#define OFF_A_SACK_MORE 52u /* further SACK words, 8 bytes each */

/* Offsets in a NACK header. */
#define OFF_N_ECHO_TS 16u
#define OFF_N_CUM_PSN 20u
#define OFF_N_REASON 24u  /* u8; bytes 25..27 reserved, zero */
#define OFF_N_RSVD 25u
#define OFF_N_RETRY 28u

/* Offsets in a PROBE header. */
#define OFF_P_TX_TS 16u
#define OFF_P_COOKIE 20u

/* Offsets in a RESET header. */
#define OFF_R_REASON 16u

#define SRD_PKT_TYPE_LAST SRD_PKT_RESET

/* Fixed layout length of each type (DATA: without the segment-0 immediate). */
static const uint8_t layout_len[SRD_PKT_TYPE_LAST + 1] = {
	[SRD_PKT_DATA] = SRD_HDR_DATA_LEN,
	[SRD_PKT_ACK] = SRD_HDR_ACK_LEN,
	[SRD_PKT_NACK] = SRD_HDR_NACK_LEN,
	[SRD_PKT_PROBE] = SRD_HDR_PROBE_LEN,
	[SRD_PKT_RESET] = SRD_HDR_RESET_LEN,
};

/* Flag bits each type may carry; any other bit is a malformed header. */
static const uint8_t allowed_flags[SRD_PKT_TYPE_LAST + 1] = {
	[SRD_PKT_DATA] = SRD_F_SYN | SRD_F_RETX | SRD_F_ACKREQ | SRD_F_ABANDON | SRD_F_COOKIE |
			 SRD_F_ORDERED,
	[SRD_PKT_ACK] = SRD_F_SYN | SRD_F_ECE,
	[SRD_PKT_NACK] = SRD_F_SYN | SRD_F_ECE,
	[SRD_PKT_PROBE] = SRD_F_SYN | SRD_F_REPLY,
	[SRD_PKT_RESET] = 0,
};

/* ---- big-endian byte access ---- */

/* Whole loads and stores, byte-swapped where the compiler says the host is little-endian
 * (GCC and clang define __BYTE_ORDER__): one instruction each.  Built from single bytes,
 * GCC assembled every 64-bit field of a packed message's sub-header with shifts and ors
 * on the stack, then copied the header out with loads that straddled those stores. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(v) __builtin_bswap16(v)
#define BE32(v) __builtin_bswap32(v)
#define BE64(v) __builtin_bswap64(v)
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BE16(v) (v)
#define BE32(v) (v)
#define BE64(v) (v)
#endif

#ifdef BE16
/* rd<bits>() and wr<bits>(): a field of that many bits at p, big-endian on the wire */
#define BE_ACCESS(bits)                                                                    \
	static inline uint##bits##_t rd##bits(const uint8_t *p)                            \
	{                                                                                  \
		uint##bits##_t v;                                                          \
		memcpy(&v, p, sizeof(v));                                                  \
		return BE##bits(v);                                                        \
	}                                                                                  \
	static inline void wr##bits(uint8_t *p, uint##bits##_t v)                          \
	{                                                                                  \
		v = BE##bits(v);                                                           \
		memcpy(p, &v, sizeof(v));                                                  \
	}
BE_ACCESS(16)
BE_ACCESS(32)
BE_ACCESS(64)
#else /* byte order unknown: one byte at a time */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)(v >> 32));
	wr32(p + 4, (uint32_t)v);
}
#endif

/* ---- shared rules ---- */

static inline int type_known(unsigned type)
{
	return type >= SRD_PKT_DATA && type <= SRD_PKT_TYPE_LAST;
}

/* Header length of a DATA segment with index k: the immediate rides in segment 0 only. */
static inline uint32_t data_hdr_len(uint32_t k)
{
	return SRD_HDR_DATA_LEN + (k == 0 ? SRD_HDR_IMM_LEN : 0);
}

/*
 * Payload bytes segment k of a message must carry: a full seg_size, or what is left for the
 * last one.  The caller has checked k < seg_count, so k * seg_size < msg_len (or both are 0
 * for an empty message); 64-bit arithmetic keeps k * seg_size from wrapping.
 */
static inline uint64_t data_seg_len(const struct srd_data_fields *d, uint32_t k)
{
	uint64_t left = (uint64_t)d->msg_len - (uint64_t)k * d->seg_size;

	return left < d->seg_size ? left : d->seg_size;
}

/* Length of an ACK carrying `more` further SACK words. */
static inline uint32_t ack_len(uint32_t more)
{
	return SRD_HDR_ACK_LEN + 8u * more;
}

uint32_t srd_wire_hdr_len(const struct srd_pkt *pkt)
{
	if (!type_known(pkt->type))
		return 0;
	if (pkt->type == SRD_PKT_DATA && pkt->u.data.packed)
		return SRD_HDR_PACK_LEN;
	if (pkt->type == SRD_PKT_DATA)
		return data_hdr_len(pkt->psn - pkt->u.data.msg_psn); /* modular segment index */
	if (pkt->type == SRD_PKT_ACK)
		return ack_len(pkt->u.ack.sack_more_n <= SRD_SACK_MORE_MAX ? pkt->u.ack.sack_more_n :
								       SRD_SACK_MORE_MAX);
	return layout_len[pkt->type];
}

/* ---- decode ---- */

/* Common header fields, and the rules that hold for every type. */
static int decode_common(const uint8_t *buf, struct srd_pkt *pkt)
{
	pkt->flags = buf[OFF_FLAGS];
	pkt->path = buf[OFF_PATH];
	pkt->dst_conn = rd32(buf + OFF_DST_CONN);
	pkt->src_conn = rd32(buf + OFF_SRC_CONN);
	pkt->psn = rd32(buf + OFF_PSN);

	if (pkt->flags & ~allowed_flags[pkt->type])
		return -SRD_DROP_BAD_HEADER;
	/* byte 3: reserved, but an ACK's further SACK words and a packed DATA's messages */
	if (pkt->type == SRD_PKT_DATA) {
		if (buf[OFF_RSVD] == 1 || buf[OFF_RSVD] > SRD_PACK_MAX_MSGS)
			return -SRD_DROP_BAD_HEADER;
	} else if (buf[OFF_RSVD] > (pkt->type == SRD_PKT_ACK ? SRD_SACK_MORE_MAX : 0)) {
		return -SRD_DROP_BAD_HEADER;
	}
	if (pkt->src_conn == 0)
		return -SRD_DROP_BAD_HEADER;
	/* Only a sender that has not yet learned the receiver's id may leave dst_conn 0.  This
	 * also rejects a RESET without a destination, since RESET may not carry SYN. */
	if (pkt->dst_conn == 0 && !(pkt->flags & SRD_F_SYN))
		return -SRD_DROP_BAD_HEADER;
	/* a cookie only rides on a set-up, in place of the unknown id, and is never 0 */
	if ((pkt->flags & SRD_F_COOKIE) && (!(pkt->flags & SRD_F_SYN) || pkt->dst_conn == 0))
		return -SRD_DROP_BAD_HEADER;
	return 0;
}

/*
 * A packed DATA packet: its header, then byte 3 (checked to be 2..SRD_PACK_MAX_MSGS)
 * messages, each a sub-header and its bytes, ending exactly at the end of the packet.
 */
static int decode_packed(const uint8_t *buf, size_t len, struct srd_pkt *pkt)
{
	struct srd_data_fields *d = &pkt->u.data;
	size_t at = SRD_HDR_PACK_LEN; /* len >= it was checked by srd_wire_decode() */

	d->tx_ts = rd32(buf + OFF_K_TX_TS);
	d->src_ep = rd16(buf + OFF_K_SRC_EP);
	d->dst_ep = rd16(buf + OFF_K_DST_EP);
	d->entropy = rd16(buf + OFF_K_ENTROPY);
	d->packed = buf[OFF_RSVD];
	d->msg_id = d->msg_len = 0;
	d->msg_psn = pkt->psn;
	d->seg_size = 0;
	d->tag = d->imm = 0;
	if (rd16(buf + OFF_K_RSVD) != 0)
		return -SRD_DROP_BAD_HEADER;
	for (uint32_t i = 0; i < d->packed; i++) {
		if (len - at < SRD_PACK_SUB_LEN)
			return -SRD_DROP_TRUNCATED;
		/* 64-bit: a length near 2^32 cannot wrap the sum */
		uint64_t end = (uint64_t)at + SRD_PACK_SUB_LEN + rd32(buf + at + OFF_KM_LEN);

		if (end > len)
			return -SRD_DROP_BAD_LENGTH;
		at = (size_t)end;
	}
	if (at != len)
		return -SRD_DROP_BAD_LENGTH;
	pkt->payload = buf + SRD_HDR_PACK_LEN;
	pkt->payload_len = (uint32_t)(len - SRD_HDR_PACK_LEN);
	return 0;
}

const uint8_t *srd_wire_pack_read(const uint8_t *p, struct srd_pack_msg *m)
{
	m->msg_id = rd32(p + OFF_KM_MSG_ID);
	m->len = rd32(p + OFF_KM_LEN);
	m->tag = rd64(p + OFF_KM_TAG);
	m->imm = rd64(p + OFF_KM_IMM);
	m->payload = m->len ? p + SRD_PACK_SUB_LEN : NULL;
	return p + SRD_PACK_SUB_LEN + m->len;
}

void srd_wire_pack_put(uint8_t *p, const struct srd_pack_msg *m)
{
	wr32(p + OFF_KM_MSG_ID, m->msg_id);
	wr32(p + OFF_KM_LEN, m->len);
	wr64(p + OFF_KM_TAG, m->tag);
	wr64(p + OFF_KM_IMM, m->imm);
}

static int decode_data(const uint8_t *buf, size_t len, struct srd_pkt *pkt)
{
	struct srd_data_fields *d = &pkt->u.data;
	uint32_t k, hlen;
	uint64_t want;

	if (buf[OFF_RSVD])
		return decode_packed(buf, len, pkt);
	d->packed = 0;

	d->tx_ts = rd32(buf + OFF_D_TX_TS);
	d->msg_id = rd32(buf + OFF_D_MSG_ID);
	d->msg_len = rd32(buf + OFF_D_MSG_LEN);
	d->msg_psn = rd32(buf + OFF_D_MSG_PSN);
	d->seg_size = rd16(buf + OFF_D_SEG_SIZE);
	d->src_ep = rd16(buf + OFF_D_SRC_EP);
	d->dst_ep = rd16(buf + OFF_D_DST_EP);
	d->entropy = rd16(buf + OFF_D_ENTROPY);
	d->tag = rd64(buf + OFF_D_TAG);

	if (d->seg_size == 0 && d->msg_len > 0)
		return -SRD_DROP_BAD_HEADER;

	/* Segment index; PSNs wrap, so this is modular (a psn "before" msg_psn is huge). */
	k = pkt->psn - d->msg_psn;
	if (k >= srd_wire_seg_count(d->msg_len, d->seg_size))
		return -SRD_DROP_BAD_OFFSET;

	hlen = data_hdr_len(k); /* len >= hlen was checked by srd_wire_decode() */
	d->imm = k == 0 ? rd64(buf + OFF_D_IMM) : 0;

	/* The payload must be exactly the segment: this also rejects oversized packets. */
	want = data_seg_len(d, k);
	if ((uint64_t)(len - hlen) != want)
		return -SRD_DROP_BAD_LENGTH;
	pkt->payload_len = (uint32_t)want;
	pkt->payload = want ? buf + hlen : NULL;
	return 0;
}

static int decode_ack(const uint8_t *buf, struct srd_pkt *pkt)
{
	struct srd_ack_fields *a = &pkt->u.ack;

	memset(a, 0, sizeof(*a)); /* its padding too: a decoded ACK compares whole */
	a->echo_ts = rd32(buf + OFF_A_ECHO_TS);
	a->acked_psn = rd32(buf + OFF_A_ACKED_PSN);
	a->sack_base = rd32(buf + OFF_A_SACK_BASE);
	a->grant = rd16(buf + OFF_A_GRANT);
	a->credit = rd16(buf + OFF_A_CREDIT);
	a->sack = rd64(buf + OFF_A_SACK);
	a->ce_count = rd16(buf + OFF_A_CE_COUNT);
	a->pkt_count = rd16(buf + OFF_A_PKT_COUNT);
	a->ack_delay_ns = rd32(buf + OFF_A_ACK_DELAY);
	a->max_msg = rd32(buf + OFF_A_MAX_MSG);
	a->sack_more_n = buf[OFF_RSVD]; /* checked by decode_common, length by min_len */
	for (uint32_t k = 0; k < a->sack_more_n; k++)
		a->sack_more[k] = rd64(buf + OFF_A_SACK_MORE + 8 * k);

	/* The marked packets are a subset of the counted ones; every receiver takes 1 byte. */
	if (a->ce_count > a->pkt_count || a->max_msg == 0)
		return -SRD_DROP_BAD_HEADER;
	return 0;
}

static int decode_nack(const uint8_t *buf, struct srd_pkt *pkt)
{
	struct srd_nack_fields *n = &pkt->u.nack;

	n->echo_ts = rd32(buf + OFF_N_ECHO_TS);
	n->cum_psn = rd32(buf + OFF_N_CUM_PSN);
	n->reason = buf[OFF_N_REASON];
	n->retry_ns = rd32(buf + OFF_N_RETRY);

	if (n->reason != SRD_NACK_RNR && n->reason != SRD_NACK_TOO_BIG && n->reason != SRD_NACK_NO_EP)
		return -SRD_DROP_BAD_HEADER;
	if (buf[OFF_N_RSVD] | buf[OFF_N_RSVD + 1] | buf[OFF_N_RSVD + 2])
		return -SRD_DROP_BAD_HEADER;
	return 0;
}

static int decode_probe(const uint8_t *buf, struct srd_pkt *pkt)
{
	pkt->u.probe.tx_ts = rd32(buf + OFF_P_TX_TS);
	pkt->u.probe.cookie = rd32(buf + OFF_P_COOKIE);
	return 0;
}

static int decode_reset(const uint8_t *buf, struct srd_pkt *pkt)
{
	uint32_t r = rd32(buf + OFF_R_REASON);

	pkt->u.reset.reason = r;
	if (r < SRD_RESET_UNKNOWN_CONN || r > SRD_RESET_SETUP_COOKIE)
		return -SRD_DROP_BAD_HEADER;
	return 0;
}

/*
 * Shortest length the packet's type allows.  A DATA segment 0 also carries the immediate;
 * its index is read from psn and msg_psn, which lie inside the 48 bytes already checked.
 */
static size_t min_len(const uint8_t *buf, size_t len, unsigned type)
{
	if (type == SRD_PKT_ACK && buf[OFF_RSVD] <= SRD_SACK_MORE_MAX)
		return ack_len(buf[OFF_RSVD]); /* a larger count fails in decode_common */
	if (type == SRD_PKT_DATA && buf[OFF_RSVD])
		return SRD_HDR_PACK_LEN; /* packed: each sub-header is checked as it is read */
	if (len < layout_len[type] || type != SRD_PKT_DATA)
		return layout_len[type];
	return data_hdr_len(rd32(buf + OFF_PSN) - rd32(buf + OFF_D_MSG_PSN));
}

/* The type's own fields, then the length: only DATA may carry bytes past its header. */
static int decode_body(const uint8_t *buf, size_t len, struct srd_pkt *pkt)
{
	int rc;

	switch (pkt->type) {
	case SRD_PKT_DATA:
		return decode_data(buf, len, pkt);
	case SRD_PKT_ACK:
		rc = decode_ack(buf, pkt);
		break;
	case SRD_PKT_NACK:
		rc = decode_nack(buf, pkt);
		break;
	case SRD_PKT_PROBE:
		rc = decode_probe(buf, pkt);
		break;
	default: /* SRD_PKT_RESET: the type was checked by the caller */
		rc = decode_reset(buf, pkt);
		break;
	}
	if (rc == 0 && len > (pkt->type == SRD_PKT_ACK ? ack_len(pkt->u.ack.sack_more_n) :
						       layout_len[pkt->type]))
		rc = -SRD_DROP_BAD_LENGTH;
	return rc;
}

int srd_wire_decode(const uint8_t *buf, size_t len, struct srd_pkt *pkt)
{
	unsigned type;
	int rc;

	/* Every field the packet's type has is written below (the other members of the union
	 * are left alone: nothing reads them), so the struct is not cleared first: clearing
	 * its ~150 bytes cost more than the rest of the decode.  A failed decode clears it
	 * all, never leaving stale fields behind. */
	pkt->payload = NULL;
	pkt->payload_len = 0;
	if (len < SRD_HDR_COMMON_LEN) {
		rc = -SRD_DROP_TRUNCATED;
		goto fail;
	}
	if ((buf[OFF_VER_TYPE] >> 4) != SRD_WIRE_VERSION) {
		rc = -SRD_DROP_BAD_VERSION;
		goto fail;
	}
	type = buf[OFF_VER_TYPE] & 0x0fu;
	if (!type_known(type)) {
		rc = -SRD_DROP_BAD_TYPE;
		goto fail;
	}
	if (len < min_len(buf, len, type)) {
		rc = -SRD_DROP_TRUNCATED;
		goto fail;
	}

	pkt->type = (uint8_t)type;
	rc = decode_common(buf, pkt);
	if (rc == 0)
		rc = decode_body(buf, len, pkt);
	if (rc == 0)
		return 0;
fail:
	memset(pkt, 0, sizeof(*pkt));
	return rc;
}

bool srd_wire_splits(const uint8_t *hdr, size_t hlen)
{
	/* a plain DATA segment whose header is exactly hdr (each read in hdr's first bytes) */
	return hlen >= SRD_HDR_DATA_LEN &&
	       hdr[OFF_VER_TYPE] == (SRD_WIRE_VERSION << 4 | SRD_PKT_DATA) &&
	       hdr[OFF_RSVD] == 0 &&
	       data_hdr_len(rd32(hdr + OFF_PSN) - rd32(hdr + OFF_D_MSG_PSN)) == hlen;
}

int srd_wire_decode_split(const uint8_t *hdr, size_t hlen, const uint8_t *payload,
			  size_t plen, struct srd_pkt *pkt)
{
	int rc;

	if (!srd_wire_splits(hdr, hlen))
		return 1;
	rc = srd_wire_decode(hdr, hlen + plen, pkt); /* every read stays in the header */
	if (rc == 0 && pkt->payload_len)
		pkt->payload = payload;
	return rc;
}

/* ---- encode ---- */

static void encode_common(const struct srd_pkt *pkt, uint8_t *buf)
{
	buf[OFF_VER_TYPE] = (uint8_t)(SRD_WIRE_VERSION << 4 | pkt->type);
	buf[OFF_FLAGS] = pkt->flags;
	buf[OFF_PATH] = pkt->path;
	wr32(buf + OFF_DST_CONN, pkt->dst_conn);
	wr32(buf + OFF_SRC_CONN, pkt->src_conn);
	wr32(buf + OFF_PSN, pkt->psn);
}

static void encode_data(const struct srd_pkt *pkt, uint8_t *buf)
{
	const struct srd_data_fields *d = &pkt->u.data;

	if (d->packed) {
		buf[OFF_RSVD] = d->packed;
		wr32(buf + OFF_K_TX_TS, d->tx_ts);
		wr16(buf + OFF_K_SRC_EP, d->src_ep);
		wr16(buf + OFF_K_DST_EP, d->dst_ep);
		wr16(buf + OFF_K_ENTROPY, d->entropy);
		return;
	}

	wr32(buf + OFF_D_TX_TS, d->tx_ts);
	wr32(buf + OFF_D_MSG_ID, d->msg_id);
	wr32(buf + OFF_D_MSG_LEN, d->msg_len);
	wr32(buf + OFF_D_MSG_PSN, d->msg_psn);
	wr16(buf + OFF_D_SEG_SIZE, d->seg_size);
	wr16(buf + OFF_D_SRC_EP, d->src_ep);
	wr16(buf + OFF_D_DST_EP, d->dst_ep);
	wr16(buf + OFF_D_ENTROPY, d->entropy);
	wr64(buf + OFF_D_TAG, d->tag);
	if (pkt->psn == d->msg_psn) /* segment 0 */
		wr64(buf + OFF_D_IMM, d->imm);
}

static void encode_ack(const struct srd_pkt *pkt, uint8_t *buf)
{
	const struct srd_ack_fields *a = &pkt->u.ack;

	wr32(buf + OFF_A_ECHO_TS, a->echo_ts);
	wr32(buf + OFF_A_ACKED_PSN, a->acked_psn);
	wr32(buf + OFF_A_SACK_BASE, a->sack_base);
	wr16(buf + OFF_A_GRANT, a->grant);
	wr16(buf + OFF_A_CREDIT, a->credit);
	wr64(buf + OFF_A_SACK, a->sack);
	wr16(buf + OFF_A_CE_COUNT, a->ce_count);
	wr16(buf + OFF_A_PKT_COUNT, a->pkt_count);
	wr32(buf + OFF_A_ACK_DELAY, a->ack_delay_ns);
	wr32(buf + OFF_A_MAX_MSG, a->max_msg);
	buf[OFF_RSVD] = a->sack_more_n;
	for (uint32_t k = 0; k < a->sack_more_n; k++)
		wr64(buf + OFF_A_SACK_MORE + 8 * k, a->sack_more[k]);
}

static void encode_nack(const struct srd_pkt *pkt, uint8_t *buf)
{
	const struct srd_nack_fields *n = &pkt->u.nack;

	wr32(buf + OFF_N_ECHO_TS, n->echo_ts);
	wr32(buf + OFF_N_CUM_PSN, n->cum_psn);
	buf[OFF_N_REASON] = n->reason;
	wr32(buf + OFF_N_RETRY, n->retry_ns);
}

int srd_wire_encode(const struct srd_pkt *pkt, uint8_t *buf, size_t cap)
{
	uint32_t hlen;

	if (!type_known(pkt->type) ||
	    (pkt->type == SRD_PKT_ACK && pkt->u.ack.sack_more_n > SRD_SACK_MORE_MAX) ||
	    (pkt->type == SRD_PKT_DATA &&
	     (pkt->u.data.packed == 1 || pkt->u.data.packed > SRD_PACK_MAX_MSGS)))
		return -EINVAL;
	hlen = srd_wire_hdr_len(pkt);
	if (cap < hlen)
		return -ENOSPC;

	memset(buf, 0, hlen); /* every reserved byte goes out as zero */
	encode_common(pkt, buf);
	switch (pkt->type) {
	case SRD_PKT_DATA:
		encode_data(pkt, buf);
		break;
	case SRD_PKT_ACK:
		encode_ack(pkt, buf);
		break;
	case SRD_PKT_NACK:
		encode_nack(pkt, buf);
		break;
	case SRD_PKT_PROBE:
		wr32(buf + OFF_P_TX_TS, pkt->u.probe.tx_ts);
		wr32(buf + OFF_P_COOKIE, pkt->u.probe.cookie);
		break;
	default: /* SRD_PKT_RESET */
		wr32(buf + OFF_R_REASON, pkt->u.reset.reason);
		break;
	}
	return (int)hlen;
}

/* ---- drop reason names ---- */

static const char *const drop_names[SRD_DROP_MAX] = {
	[SRD_DROP_NONE] = "none",
	[SRD_DROP_TRUNCATED] = "truncated",
	[SRD_DROP_BAD_VERSION] = "bad_version",
	[SRD_DROP_BAD_TYPE] = "bad_type",
	[SRD_DROP_BAD_HEADER] = "bad_header",
	[SRD_DROP_BAD_LENGTH] = "bad_length",
	[SRD_DROP_BAD_OFFSET] = "bad_offset",
	[SRD_DROP_MSG_TOO_BIG] = "msg_too_big",
	[SRD_DROP_NO_ENDPOINT] = "no_endpoint",
	[SRD_DROP_UNKNOWN_CONN] = "unknown_conn",
	[SRD_DROP_STALE_CONN] = "stale_conn",
	[SRD_DROP_PEER_MISMATCH] = "peer_mismatch",
	[SRD_DROP_CONN_TABLE_FULL] = "conn_table_full",
	[SRD_DROP_PSN_WINDOW] = "psn_window",
	[SRD_DROP_DUPLICATE] = "duplicate",
	[SRD_DROP_ACK_UNSENT] = "ack_unsent",
	[SRD_DROP_MSG_MISMATCH] = "msg_mismatch",
	[SRD_DROP_NO_BUFFER] = "no_buffer",
	[SRD_DROP_UNEXPECTED] = "unexpected",
	[SRD_DROP_NEED_COOKIE] = "need_cookie",
};

/* A new reason added to the enum without a name here breaks the build, not a log line. */
_Static_assert(SRD_DROP_NEED_COOKIE + 1 == SRD_DROP_MAX, "drop_names[] misses a reason");

const char *srd_drop_reason_name(int reason)
{
	/* Accept the negated value that srd_recv() returns.  The range test comes before the
	 * negation so that INT_MIN is never negated. */
	if (reason < 0 && reason > -(int)SRD_DROP_MAX)
		reason = -reason;
	if (reason < 0 || reason >= (int)SRD_DROP_MAX || !drop_names[reason])
		return "unknown";
	return drop_names[reason];
}
