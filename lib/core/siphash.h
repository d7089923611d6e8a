/*
 * siphash.h — SipHash-2-4 (Aumasson and Bernstein) of two 64-bit words under a 128-bit key:
 * the keyed function behind the set-up cookies.  A cookie must not be forgeable by a sender
 * that only sees the cookies of its own addresses, so a plain mixing hash will not do.
 */
#ifndef SRD_SIPHASH_H
#define SRD_SIPHASH_H

#include <stdint.h>

static inline uint64_t srd_sip_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void srd_sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = srd_sip_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = srd_sip_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = srd_sip_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = srd_sip_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = srd_sip_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = srd_sip_rotl(v[2], 32);
}

/* SipHash-2-4 of the 16-byte message m0 || m1 (each word taken little-endian, as the
 * reference reads bytes) under key k. */
static inline uint64_t srd_siphash_2w(const uint64_t k[2], uint64_t m0, uint64_t m1)
{
	uint64_t v[4] = {
		k[0] ^ 0x736f6d6570736575ull,
		k[1] ^ 0x646f72616e646f6dull,
		k[0] ^ 0x6c7967656e657261ull,
		k[1] ^ 0x7465646279746573ull,
	};
	const uint64_t m[3] = { m0, m1, (uint64_t)16 << 56 }; /* last block: the length */

	for (int i = 0; i < 3; i++) {
		v[3] ^= m[i];
		srd_sip_round(v);
		srd_sip_round(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		srd_sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#endif /* SRD_SIPHASH_H */
