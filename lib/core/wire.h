/*
 * wire.h — the SRD v1 wire codec: packet layouts, encode and decode.
 *
 * Every SRD packet is carried in one UDP datagram (the UDP destination port is fixed, the
 * UDP source port carries the path entropy; neither is part of this codec).  All multi-byte
 * fields are big-endian.  docs/wire-format.md draws every packet byte by byte.
 *
 * Decoding never trusts the input: srd_wire_decode() checks the version, the type, the
 * fixed lengths and every field whose value can be checked without connection state, and
 * returns the reason for a drop as a negative enum srd_drop_reason.  Fields that need state
 * (connection ids, PSN windows, message ids) are checked by the connection code.
 *
 * The codec is a module of its own so that another wire profile (e.g. the Ultra Ethernet
 * PDS format) can be added beside it without touching the connection logic.
 */
#ifndef SRD_WIRE_H
#define SRD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srd_core.h"

#define SRD_WIRE_VERSION 1u

/* Packet types (enum srd_pkt_type, srd_core.h) sit in the low nibble of byte 0; the high
 * nibble is the version. */

/* Flags (byte 1). Bits not listed must be zero. */
#define SRD_F_SYN 0x01u   /* sender does not know the receiver's connection id yet (dst_conn is 0) */
#define SRD_F_ECE 0x02u   /* ACK/NACK: the acked packet arrived with a CE mark */
#define SRD_F_REPLY 0x04u /* PROBE: this is the answer to a probe */
#define SRD_F_RETX 0x08u  /* DATA: a retransmission (informational) */
#define SRD_F_ACKREQ 0x10u /* DATA: please acknowledge at once (last segment of a burst or message) */
#define SRD_F_ABANDON 0x20u /* DATA: the receiver refused this message (NACK NO_EP): take the
                               PSN, deliver nothing */
#define SRD_F_COOKIE 0x40u /* DATA with SYN: dst_conn carries the receiver's set-up cookie
                              (RESET SETUP_COOKIE), not a connection id */
#define SRD_F_ORDERED 0x80u /* DATA: deliver this message only after every PSN its connection
                              sent before it has been received (send-after-send order) */
#define SRD_F_ALL (SRD_F_SYN | SRD_F_ECE | SRD_F_REPLY | SRD_F_RETX | SRD_F_ACKREQ | \
		   SRD_F_ABANDON | SRD_F_COOKIE | SRD_F_ORDERED)

/* Fixed sizes of each layout, in bytes. */
#define SRD_HDR_COMMON_LEN 16u
#define SRD_HDR_DATA_LEN 48u     /* common + data fields */
#define SRD_HDR_IMM_LEN 8u       /* immediate data, present only in segment 0 */
#define SRD_HDR_ACK_LEN 52u      /* an ACK with one SACK word; each further word adds 8 */
#define SRD_SACK_MORE_MAX 7u     /* further SACK words an ACK may carry (byte 3) */
#define SRD_SACK_BITS (64u * (1u + SRD_SACK_MORE_MAX)) /* PSNs one ACK can report: 512 */
#define SRD_HDR_ACK_MAX_LEN (SRD_HDR_ACK_LEN + 8u * SRD_SACK_MORE_MAX)
#define SRD_GRANT_UNIT 256u      /* bytes per unit of an ACK's grant (up to 16 MiB) */
#define SRD_GRANT_MAX 0xffffu    /* largest grant the field holds */
#define SRD_HDR_NACK_LEN 32u
#define SRD_HDR_PROBE_LEN 24u
#define SRD_HDR_RESET_LEN 20u
/* Largest header the encoder writes (data segment 0 with the message header). */
#define SRD_HDR_MAX_LEN (SRD_HDR_DATA_LEN + SRD_HDR_IMM_LEN)
/* A packed DATA packet (byte 3 = the number of messages it carries, 2..SRD_PACK_MAX_MSGS,
 * srd_core.h):
 * a 28-byte header, then each message as a 24-byte sub-header and its bytes. */
#define SRD_HDR_PACK_LEN 28u
#define SRD_PACK_SUB_LEN 24u

/* Reasons carried by a NACK. */
enum srd_nack_reason {
	SRD_NACK_RNR = 1,      /* receiver not ready: no buffer for the message; retry later */
	SRD_NACK_TOO_BIG = 2,  /* message longer than the receiver accepts: fail the message */
	SRD_NACK_NO_EP = 3,    /* no such destination endpoint: fail the message */
};

/* Reasons carried by a RESET. */
enum srd_reset_reason {
	SRD_RESET_UNKNOWN_CONN = 1, /* no such connection (never existed, or the receiver restarted) */
	SRD_RESET_TABLE_FULL = 2,   /* receiver cannot create a connection now */
	SRD_RESET_IDLE_CLOSED = 3,  /* the receiver closed this connection after a long idle
	                               time: nothing sent on it since was seen, so the sender
	                               sends it again on a fresh connection */
	SRD_RESET_SETUP_COOKIE = 4, /* the receiver keeps no state for a new peer now (its table
	                               is nearly full): src_conn carries a cookie that the
	                               sender's set-up must echo (SRD_F_COOKIE) */
};

/* Fields of a DATA packet after the common header. */
struct srd_data_fields {
	uint32_t tx_ts;    /* sender's clock, ns modulo 2^32, echoed in the ack */
	uint32_t msg_id;   /* sender-assigned message id, unique per connection */
	uint32_t msg_len;  /* total message length in bytes */
	uint32_t msg_psn;  /* PSN of the message's first segment (segment index = psn - msg_psn) */
	uint16_t seg_size; /* payload bytes of every segment but the last (0 only if msg_len is 0) */
	uint16_t src_ep;   /* sending endpoint id */
	uint16_t dst_ep;   /* receiving endpoint id */
	uint16_t entropy;  /* entropy value (UDP source port) the ACK or NACK answering it goes
	                      back on: the value the packet was sent with, or another of the
	                      sender's values whose acks come back (0: not given, the
	                      receiver picks) */
	uint64_t tag;      /* application tag (in every segment, so a receiver can match early) */
	uint64_t imm;      /* immediate data (carried in segment 0 only; decoded as 0 elsewhere) */
	uint8_t packed;    /* 0: the packet is one segment of one message (the fields above).
	                      2..SRD_PACK_MAX_MSGS: it carries that many whole messages, each in
	                      a sub-header (read them with srd_wire_pack_read() from payload);
	                      only tx_ts, src_ep, dst_ep and entropy above are valid, msg_psn is
	                      the packet's psn and the other fields are 0 */
};

/* One message of a packed DATA packet: a whole message of its own, at PSN pkt.psn. */
struct srd_pack_msg {
	uint32_t msg_id;        /* sender-assigned message id, unique per connection */
	uint32_t len;           /* message length in bytes */
	uint64_t tag;           /* application tag */
	uint64_t imm;           /* immediate data */
	const uint8_t *payload; /* its len bytes (in the packet), NULL when len is 0 */
};

/* Fields of an ACK after the common header (whose psn is the cumulative PSN: every PSN
 * before it has been received). */
struct srd_ack_fields {
	uint32_t echo_ts;      /* tx_ts of the packet that triggered this ack */
	uint32_t acked_psn;    /* PSN of that packet; the common header's path is its path */
	uint32_t sack_base;    /* first PSN covered by the SACK bitmap */
	uint16_t grant;        /* bytes in flight the receiver grants this sender, in units of
	                          SRD_GRANT_UNIT (0: no limit): its share of what its port
	                          holds among the senders it serves (credit.c) */
	uint16_t credit;       /* flow control: PSNs the sender may use beyond the cumulative PSN */
	uint64_t sack;         /* bit i set: PSN sack_base + i has been received */
	uint8_t sack_more_n;   /* further SACK words (0..SRD_SACK_MORE_MAX), in byte 3 */
	uint64_t sack_more[SRD_SACK_MORE_MAX]; /* word k: bit i set: PSN sack_base + 64 (k + 1)
	                                          + i has been received */
	uint16_t ce_count;     /* data packets with a CE mark since the previous ack */
	uint16_t pkt_count;    /* data packets received since the previous ack */
	uint32_t ack_delay_ns; /* time the receiver held the triggering packet before acking */
	uint32_t max_msg;      /* the receiver's max_msg_size (>= 1): longer messages are refused */
};

/* Fields of a NACK after the common header (whose psn is the refused PSN). */
struct srd_nack_fields {
	uint32_t echo_ts;  /* tx_ts of the refused packet */
	uint32_t cum_psn;  /* receiver's cumulative PSN */
	uint8_t reason;    /* enum srd_nack_reason */
	uint32_t retry_ns; /* RNR: how long the sender should wait before retrying */
};

/* Fields of a PROBE after the common header (psn is the probe sequence number). */
struct srd_probe_fields {
	uint32_t tx_ts; /* prober's clock, echoed unchanged in the reply */
	uint32_t cookie; /* prober's value, echoed unchanged in the reply */
};

/* Fields of a RESET after the common header. */
struct srd_reset_fields {
	uint32_t reason; /* enum srd_reset_reason */
};

/* A decoded packet.  Pointers point into the caller's buffer. */
struct srd_pkt {
	uint8_t type;      /* enum srd_pkt_type */
	uint8_t flags;     /* SRD_F_* */
	uint8_t path;      /* path index the data/probe was sent on; in ACK/NACK the acked packet's */
	uint32_t dst_conn; /* receiver's connection id, 0 when unknown (SRD_F_SYN), or the
	                      set-up cookie (SRD_F_COOKIE) */
	uint32_t src_conn; /* sender's connection id, never 0 */
	uint32_t psn;      /* see each type */
	union {
		struct srd_data_fields data;
		struct srd_ack_fields ack;
		struct srd_nack_fields nack;
		struct srd_probe_fields probe;
		struct srd_reset_fields reset;
	} u;
	const uint8_t *payload; /* DATA: payload bytes (NULL when payload_len is 0); packed
	                           DATA: the first sub-header */
	uint32_t payload_len;   /* DATA: payload bytes after the headers (packed: the bytes of
	                           every sub-header and message) */
};

/*
 * Decode the packet in buf[0..len).
 * Returns 0 and fills *pkt, or a negative enum srd_drop_reason:
 *   -SRD_DROP_TRUNCATED    len is shorter than the layout of the packet's type (for a DATA
 *                          segment 0, the layout includes the immediate; for an ACK, the
 *                          further SACK words its byte 3 counts);
 *   -SRD_DROP_BAD_VERSION  the version nibble is not SRD_WIRE_VERSION;
 *   -SRD_DROP_BAD_TYPE     unknown packet type;
 *   -SRD_DROP_BAD_HEADER   unknown flag bits, non-zero reserved bytes, src_conn of 0,
 *                          dst_conn of 0 without SRD_F_SYN, or a field out of its range
 *                          (seg_size 0 with a non-empty message, a NACK or RESET reason
 *                          unknown, an ACK's ce_count above its pkt_count or more than 7 further
 *                          SACK words);
 *   -SRD_DROP_BAD_LENGTH   a non-DATA packet longer than its layout, or a DATA payload whose
 *                          length does not match its segment (see below);
 *   -SRD_DROP_BAD_OFFSET   the DATA segment index (psn - msg_psn) lies beyond the message.
 * A DATA packet's segment k = psn - msg_psn must satisfy k < ceil(msg_len / seg_size) (k = 0
 * for an empty message) and carry exactly min(seg_size, msg_len - k * seg_size) bytes.
 * A packed DATA packet (byte 3 non-zero) must count 2..SRD_PACK_MAX_MSGS messages
 * (-SRD_DROP_BAD_HEADER), have its reserved bytes 26-27 zero (-SRD_DROP_BAD_HEADER), hold
 * every sub-header whole (-SRD_DROP_TRUNCATED) and end exactly with the last message's
 * bytes (-SRD_DROP_BAD_LENGTH: a message running past the end, or bytes left over).
 */
int srd_wire_decode(const uint8_t *buf, size_t len, struct srd_pkt *pkt);

/*
 * srd_wire_decode() of hlen bytes at hdr followed by plen bytes at payload, without joining
 * them, for a DATA segment (not packed) whose header is exactly hdr: then the same result,
 * pkt->payload pointing into payload.  Returns 1, reading nothing past the header, for any
 * other packet or split (join the pieces and decode that).
 */
int srd_wire_decode_split(const uint8_t *hdr, size_t hlen, const uint8_t *payload,
			  size_t plen, struct srd_pkt *pkt);

/* Whether srd_wire_decode_split() takes a packet whose first piece is hlen bytes at hdr
 * (a DATA segment, not packed, whose header is exactly those bytes). */
bool srd_wire_splits(const uint8_t *hdr, size_t hlen);

/*
 * Encode the headers of *pkt into buf (cap bytes).  For DATA the payload is not copied: the
 * caller writes pkt->payload_len payload bytes right after the returned header length.  The
 * immediate data is written when the segment index (psn - msg_psn) is 0.  A packed DATA
 * packet (u.data.packed 2..SRD_PACK_MAX_MSGS) gets its 28-byte header only: the caller
 * appends each message with srd_wire_pack_put() and its bytes.
 * An ACK carries 1 + sack_more_n SACK words.
 * Returns the header length in bytes, or -EINVAL if the type is unknown, an ACK's
 * sack_more_n is above SRD_SACK_MORE_MAX or a DATA packet's packed count is 1 or above
 * SRD_PACK_MAX_MSGS, or -ENOSPC if cap is too small for the header.
 */
int srd_wire_encode(const struct srd_pkt *pkt, uint8_t *buf, size_t cap);

/* Read the message whose sub-header starts at p, in a packed DATA packet that
 * srd_wire_decode() accepted (p: its payload, then each value this returns): fills *m and
 * returns where the next sub-header starts.  Checks nothing: the decoder checked them all. */
const uint8_t *srd_wire_pack_read(const uint8_t *p, struct srd_pack_msg *m);

/* Write the sub-header of a message of a packed DATA packet at p (SRD_PACK_SUB_LEN bytes);
 * its m->len bytes follow it (m->payload is not read). */
void srd_wire_pack_put(uint8_t *p, const struct srd_pack_msg *m);

/* Header length that srd_wire_encode() writes for *pkt (same rules, no bounds; 0 if the
 * type is unknown). */
uint32_t srd_wire_hdr_len(const struct srd_pkt *pkt);

/* Word k (0..sack_more_n) of an ACK's SACK bitmap: bit i covers PSN sack_base + 64k + i. */
static inline uint64_t srd_ack_sack_word(const struct srd_ack_fields *a, uint32_t k)
{
	return k == 0 ? a->sack : a->sack_more[k - 1];
}

/* Number of segments of a message of msg_len bytes cut into seg_size pieces (1 if empty). */
static inline uint32_t srd_wire_seg_count(uint32_t msg_len, uint32_t seg_size)
{
	if (msg_len <= seg_size || seg_size == 0)
		return 1; /* most messages: no division on the per-message path */
	return (uint32_t)(((uint64_t)msg_len + seg_size - 1) / seg_size);
}

#endif /* SRD_WIRE_H */
