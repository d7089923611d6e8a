/*
 * srd_copy.c — memcpy or streaming stores, picked by their measured cost (srd_copy.h).
 */
#include "srd_copy.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#include <x86intrin.h>
#endif

#define TIME_EVERY 16u   /* every 16th copy of the way in use is timed */
#define TRIAL_EVERY 256u /* every 256th copy goes the other way, timed */

void srd_copy_stream(void *dst, const void *src, size_t len)
{
#if defined(__SSE2__)
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t head = (size_t)(-(uintptr_t)d & 15u), i;

	if (len < 256) {
		memcpy(dst, src, len);
		return;
	}
	memcpy(d, s, head); /* the streaming stores need 16-byte alignment */
	for (i = head; i + 64 <= len; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));

		_mm_stream_si128((__m128i *)(void *)(d + i), a);
		_mm_stream_si128((__m128i *)(void *)(d + i + 16), b);
		_mm_stream_si128((__m128i *)(void *)(d + i + 32), c);
		_mm_stream_si128((__m128i *)(void *)(d + i + 48), e);
	}
	memcpy(d + i, s + i, len - i);
	/* weakly ordered: visible before whatever the caller stores next */
	_mm_sfence();
#else
	memcpy(dst, src, len);
#endif
}

void srd_copy_pick_init(struct srd_copy_pick *p, bool reader_reads_all)
{
	*p = (struct srd_copy_pick){ .above = reader_reads_all ? 4 : 9 };
}

void srd_copy_pick_note(struct srd_copy_pick *p, bool stream, uint64_t ticks, size_t len)
{
	uint64_t per_kib, avg = p->cost[stream];
	uint8_t way;

	if (!len)
		return;
	per_kib = ticks * 1024 / len;
	if (avg && per_kib > 4 * avg)
		per_kib = 4 * avg; /* an interrupt or a preemption inside the copy: clamped */
	if (!avg)
		avg = per_kib;
	else if (stream == p->stream)
		avg = (3 * avg + per_kib) / 4; /* samples of the way in use are frequent */
	else
		avg = (avg + per_kib) / 2;     /* trials are rare: each weighs more */
	p->cost[stream] = avg ? avg : 1;
	if (!p->cost[0] || !p->cost[1])
		return;
	way = 2 * p->cost[0] > p->above * p->cost[1];
	if (way != p->stream) {
		p->stream = way;
		p->switches++;
	}
}

void srd_copy_picked(struct srd_copy_pick *p, void *dst, const void *src, size_t len)
{
#if defined(__SSE2__)
	uint64_t n = ++p->chunks, t0;
	bool trial = n % TRIAL_EVERY == 0, stream = p->stream != trial;

	if (!trial && n % TIME_EVERY != 0) {
		if (stream)
			srd_copy_stream(dst, src, len);
		else
			memcpy(dst, src, len);
		return;
	}
	t0 = __rdtsc();
	if (stream)
		srd_copy_stream(dst, src, len);
	else
		memcpy(dst, src, len);
	srd_copy_pick_note(p, stream, __rdtsc() - t0, len);
#else
	(void)p;
	memcpy(dst, src, len);
#endif
}

void srd_copy_picked_chunks(struct srd_copy_pick *p, void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (len) {
		size_t n = len < SRD_COPY_PICK_CHUNK ? len : SRD_COPY_PICK_CHUNK;

		srd_copy_picked(p, d, s, n);
		d += n;
		s += n;
		len -= n;
	}
}
