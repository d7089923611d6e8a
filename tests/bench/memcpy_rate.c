/*
 * memcpy_rate — the cost ceiling of moving a message: copy SIZE-byte messages from a
 * sender's buffer into the slots of a ring (as a send copies into the shared region) for
 * SECONDS, and print million copies per second as JSON.  One core, no other work.
 *
 *   memcpy_rate SIZE SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	double secs = argc > 2 ? strtod(argv[2], NULL) : 1.0;
	uint8_t *src, *ring;
	uint64_t copies = 0, t0, end, sum = 0;

	if (size == 0 || size > (1u << 20) || secs <= 0) {
		fprintf(stderr, "usage: memcpy_rate SIZE(1..1M) SECONDS\n");
		return 2;
	}
	src = malloc(size * 64);
	ring = malloc(size * SLOTS);
	if (!src || !ring)
		return 1;
	memset(src, 0x5a, size * 64);
	memset(ring, 0, size * SLOTS);
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		for (unsigned i = 0; i < 4096; i++, copies++)
			memcpy(ring + (copies % SLOTS) * size, src + (copies % 64) * size, size);
		sum += ring[(copies % SLOTS) * size]; /* keep the copies observable */
	}
	printf("{\"size\":%zu,\"copies\":%llu,\"seconds\":%.3f,\"mcopies\":%.2f,\"check\":%llu}\n",
	       size, (unsigned long long)copies, (double)(now_ns() - t0) / 1e9,
	       (double)copies / ((double)(now_ns() - t0) / 1e3), (unsigned long long)(sum & 1));
	free(src);
	free(ring);
	return 0;
}
