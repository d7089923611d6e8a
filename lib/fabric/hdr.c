/*
 * hdr.c — the provider's bytes: the header in front of every message it sends through
 * srdd, and an endpoint's name.  Fields are little-endian, written a byte at a time, so
 * alignment never matters; decoding trusts nothing (a malformed header is a counted drop
 * at the receiver, never a crash).  Layouts: docs/libfabric.md, "On the wire".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "srdfi.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t srdfi_hdr_encode(uint8_t *buf, const struct srdfi_hdr *h, const struct srdfi_seg *s)
{
	buf[0] = h->version;
	buf[1] = h->op;
	put16(buf + 2, h->flags);
	put32(buf + 4, h->msg_id);
	if (!(h->flags & SRDFI_H_SEG))
		return SRDFI_HDR_LEN;
	put64(buf + 8, s->total);
	put64(buf + 16, s->offset);
	return SRDFI_HDR_LEN + SRDFI_SEG_LEN;
}

int srdfi_hdr_decode(const uint8_t *buf, size_t len, struct srdfi_hdr *h, struct srdfi_seg *s)
{
	if (len < SRDFI_HDR_LEN)
		return -FI_EINVAL;
	h->version = buf[0];
	h->op = buf[1];
	h->flags = get16(buf + 2);
	h->msg_id = get32(buf + 4);
	if (h->version != SRDFI_WIRE_VERSION || h->op < SRDFI_OP_MSG || h->op > SRDFI_OP_DACK)
		return -FI_EINVAL;
	/* a DACK has its one flag and nothing after the header; a message its own flags */
	if (h->op == SRDFI_OP_DACK ? (h->flags & ~SRDFI_H_DROPPED) || len != SRDFI_HDR_LEN :
				     (h->flags & ~SRDFI_H_ALL))
		return -FI_EINVAL;
	if (!(h->flags & SRDFI_H_SEG)) {
		s->total = len - SRDFI_HDR_LEN;
		s->offset = 0;
		return SRDFI_HDR_LEN;
	}
	if (len < SRDFI_HDR_LEN + SRDFI_SEG_LEN)
		return -FI_EINVAL;
	s->total = get64(buf + 8);
	s->offset = get64(buf + 16);
	/* the piece lies inside its message: offset + piece <= total, without overflow */
	if (s->total > SRDFI_MAX_MSG || s->offset > s->total ||
	    len - SRDFI_HDR_LEN - SRDFI_SEG_LEN > s->total - s->offset)
		return -FI_EINVAL;
	return SRDFI_HDR_LEN + SRDFI_SEG_LEN;
}

void srdfi_name_encode(uint8_t *buf, const struct srdc_addr *a)
{
	buf[0] = SRDFI_NAME_MAGIC;
	buf[1] = SRDFI_WIRE_VERSION;
	put16(buf + 2, a->ep);
	put32(buf + 4, a->ipv4);
}

int srdfi_name_decode(const void *buf, size_t len, struct srdc_addr *a)
{
	const uint8_t *p = buf;

	if (!buf || len < SRDFI_NAME_LEN || p[0] != SRDFI_NAME_MAGIC || p[1] != SRDFI_WIRE_VERSION)
		return -FI_EINVAL;
	a->ep = get16(p + 2);
	a->ipv4 = get32(p + 4);
	return 0;
}

int srdfi_addr_format(uint32_t asked)
{
	switch (asked) {
	case FI_FORMAT_UNSPEC:
		return FI_FORMAT_UNSPEC;
	case FI_SOCKADDR:
	case FI_SOCKADDR_IN:
		return FI_SOCKADDR_IN;
	default:
		return -1;
	}
}

size_t srdfi_fmt_len(uint32_t fmt)
{
	return fmt == FI_SOCKADDR_IN ? sizeof(struct sockaddr_in) : SRDFI_NAME_LEN;
}

void srdfi_fmt_encode(uint32_t fmt, void *buf, const struct srdc_addr *a)
{
	struct sockaddr_in sin;

	if (fmt != FI_SOCKADDR_IN) {
		srdfi_name_encode(buf, a);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(a->ep);
	sin.sin_addr.s_addr = htonl(a->ipv4);
	memcpy(buf, &sin, sizeof(sin));
}

int srdfi_fmt_decode(uint32_t fmt, const void *buf, size_t len, struct srdc_addr *a)
{
	struct sockaddr_in sin;

	if (fmt != FI_SOCKADDR_IN)
		return srdfi_name_decode(buf, len, a);
	if (!buf || len < sizeof(sin))
		return -FI_EINVAL;
	memcpy(&sin, buf, sizeof(sin));
	if (sin.sin_family != AF_INET)
		return -FI_EINVAL;
	a->ep = ntohs(sin.sin_port);
	a->ipv4 = ntohl(sin.sin_addr.s_addr);
	return 0;
}
