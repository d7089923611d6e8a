/*
 * fuzz_wire — libFuzzer target for the wire codec: any bytes decode or are refused with a
 * drop reason; what decodes encodes back to the same header bytes and decodes again to
 * the same packet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Decoding the bytes in two pieces, cut after cut bytes (the header piece a heap copy of
 * exactly that, so a read past it is caught), agrees with decoding them whole. */
static void check_split(const uint8_t *data, size_t size, size_t cut)
{
	struct srd_pkt split, whole;
	uint8_t *hdr;
	int rc, rc_whole;

	if (cut > size || !(hdr = malloc(cut ? cut : 1)))
		return;
	memcpy(hdr, data, cut);
	rc = srd_wire_decode_split(hdr, cut, data + cut, size - cut, &split);
	rc_whole = srd_wire_decode(data, size, &whole);
	if (rc != 1 && rc != rc_whole)
		abort(); /* taken in pieces: the same verdict as whole */
	if (rc == 0 && (split.type != SRD_PKT_DATA || split.u.data.packed ||
			split.psn != whole.psn || split.payload_len != whole.payload_len ||
			split.payload_len != size - cut ||
			(split.payload_len && split.payload != data + cut)))
		abort();
	free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srd_pkt pkt, again;
	/* room for the longest header: an ACK with every SACK word, or a DATA segment 0 */
	uint8_t buf[(SRD_HDR_ACK_MAX_LEN > SRD_HDR_MAX_LEN ? SRD_HDR_ACK_MAX_LEN : SRD_HDR_MAX_LEN) + 16];
	int rc = srd_wire_decode(data, size, &pkt), hlen;

	check_split(data, size, SRD_HDR_DATA_LEN);
	check_split(data, size, SRD_HDR_MAX_LEN);

	if (rc < 0) {
		if (-rc <= SRD_DROP_NONE || -rc >= SRD_DROP_MAX)
			abort(); /* every refusal has a reason */
		return 0;
	}
	if (rc != 0)
		abort();
	hlen = srd_wire_encode(&pkt, buf, sizeof(buf));
	if (hlen <= 0 || (size_t)hlen > size || memcmp(buf, data, (size_t)hlen) != 0)
		abort(); /* the header re-encodes to the same bytes */
	if (pkt.type == SRD_PKT_DATA) {
		/* with its payload behind it, the packet decodes to the same fields */
		uint8_t *whole = malloc((size_t)hlen + pkt.payload_len + 1);

		if (!whole)
			return 0;
		memcpy(whole, buf, (size_t)hlen);
		if (pkt.payload_len)
			memcpy(whole + hlen, pkt.payload, pkt.payload_len);
		if (srd_wire_decode(whole, (size_t)hlen + pkt.payload_len, &again) != 0 ||
		    again.psn != pkt.psn || again.u.data.msg_id != pkt.u.data.msg_id ||
		    again.payload_len != pkt.payload_len || again.u.data.packed != pkt.u.data.packed)
			abort();
		free(whole);
	}
	if (pkt.type == SRD_PKT_DATA && pkt.u.data.packed) {
		/* packed: the messages the decoder checked read back and end at the packet's end */
		const uint8_t *p = pkt.payload, *end = pkt.payload + pkt.payload_len;

		if (pkt.u.data.packed < 2 || pkt.u.data.packed > SRD_PACK_MAX_MSGS)
			abort();
		for (uint32_t i = 0; i < pkt.u.data.packed; i++) {
			struct srd_pack_msg m;

			if (end - p < (ptrdiff_t)SRD_PACK_SUB_LEN)
				abort();
			p = srd_wire_pack_read(p, &m);
			if (p > end || (m.len && m.payload + m.len != p))
				abort();
		}
		if (p != end)
			abort();
	}
	return 0;
}
