/*
 * rng.h — a small seeded PRNG (xoshiro256**, seeded through splitmix64).
 *
 * Deterministic: the same seed gives the same sequence on every machine, which the
 * simulator relies on for bit-for-bit repeatable runs.  Not for cryptography.
 */
#ifndef SRD_RNG_H
#define SRD_RNG_H

#include <stdint.h>

/* Generator state. */
struct srd_rng {
	uint64_t s[4]; /* xoshiro256** state, never all zero */
};

static inline uint64_t srd_rng_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Seed *r from seed (any value, 0 included). */
static inline void srd_rng_seed(struct srd_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = srd_rng_splitmix(&seed);
}

static inline uint64_t srd_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
static inline uint64_t srd_rng_next(struct srd_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = srd_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = srd_rng_rotl(s[3], 45);
	return result;
}

/* Uniform integer in [0, bound) (bound > 0), by Lemire's multiply-shift (tiny bias is fine here). */
static inline uint32_t srd_rng_below(struct srd_rng *r, uint32_t bound)
{
	return (uint32_t)(((srd_rng_next(r) >> 32) * (uint64_t)bound) >> 32);
}

/* Uniform double in [0, 1). */
static inline double srd_rng_unit(struct srd_rng *r)
{
	return (double)(srd_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif /* SRD_RNG_H */
