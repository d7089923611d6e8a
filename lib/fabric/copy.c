/*
 * copy.c — the provider's payload copies: memcpy, or, for large messages, streaming
 * (non-temporal) stores.
 *
 * A message of at least SRDFI_STREAM_MIN bytes is larger than a core's cache share, so
 * the lines a copy writes are evicted before anyone reads them whatever it does.  An
 * ordinary store first reads each destination line into the cache (a read for ownership):
 * half of the copy's memory traffic, and, where the line was last touched by another core
 * (the send area's blocks by srdd's worker, which read them to build packets), a wait for
 * that core to give it up, across the host's fabric when the two vCPUs sit in different
 * L3 domains.  A non-temporal store replaces the line wherever it is, without reading it.
 * glibc's memcpy switches to such stores only above its own threshold, which it derives
 * from the cache size the CPU reports (on this project's VM: 240 MiB, never reached).
 * srdd's worker does the same for the messages it places (lib/core/rx.c,
 * SRD_RX_STREAM_MIN).  The stores are the compiler's SSE2 intrinsics (part of every x86-64
 * target, no library); elsewhere every copy is memcpy.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "srdfi.h"

void srdfi_copy(void *dst, const void *src, size_t len, bool stream)
{
#if defined(__SSE2__)
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t head, i;

	if (!stream || len < 256) {
		memcpy(dst, src, len);
		return;
	}
	head = (size_t)(-(uintptr_t)d & 15u); /* the streaming stores need 16-byte alignment */
	memcpy(d, s, head);
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
	/* streaming stores are weakly ordered: visible before whatever the caller stores next
	 * (the submission that hands the buffer to srdd, the completion the app reads) */
	_mm_sfence();
#else
	(void)stream;
	memcpy(dst, src, len);
#endif
}
