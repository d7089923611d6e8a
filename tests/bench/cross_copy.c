/*
 * cross_copy — what a copy of one buffer costs right after another CPU touched it: the
 * shared region's hand-overs, measured alone.
 *
 * Through the libfabric provider, each message's bytes are written into a buffer of the
 * shared region by one side and read by the other, and the buffer is then reused: the
 * sending app copies into a bounce block srdd's worker read last time, srdd copies into a
 * receive block the receiving app read last time.  Two threads, pinned to CPU 0 ("srdd")
 * and CPU 1 ("app"), take turns on one buffer; each case is a sequence of steps and the
 * last one is timed (the median of REPS, in microseconds per MiB).  Run it beside
 * `handover spin` to know how far apart the two CPUs are (a VM's vCPUs may sit on cores of
 * one L3 or of two, as the host places them).
 *
 *   cross_copy [REPS [BYTES]]     (default 21 repetitions of 1 MiB)
 *
 * Prints one line per case: the median, 10th and 90th percentiles.
 */
#ifndef _GNU_SOURCE /* the build defines it; pthread_setaffinity_np needs it */
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srd_copy.h"

#define MIB (1u << 20)
#define EVICT_BYTES (96u * MIB) /* more than the L3 of either CPU */
#define MAX_REPS 101

enum op { READ, COPY_IN, STREAM_IN, COPY_OUT, READ_OTHER };

/* A case: steps (CPU, operation on the shared buffer), the last one timed. */
struct xcase {
	const char *name;   /* what it models */
	int n;              /* steps */
	int cpu[3];         /* who makes each step: 0 or 1 */
	enum op op[3];      /* what it does */
};

static const struct xcase cases[] = {
	{ "app copies into a buffer it wrote last (local)", 2, { 1, 1 }, { COPY_IN, COPY_IN } },
	{ "srdd read it, app copies in (the sender's bounce copy)", 2, { 0, 1 },
	  { READ, COPY_IN } },
	{ "srdd read it, app copies in with streaming stores", 2, { 0, 1 }, { READ, STREAM_IN } },
	{ "srdd read it and 96 MiB more, app copies in", 3, { 0, 0, 1 },
	  { READ, READ_OTHER, COPY_IN } },
	{ "app read it, srdd copies in (srdd's placement)", 2, { 1, 0 }, { COPY_OUT, COPY_IN } },
	{ "app read it, srdd copies in with streaming stores", 2, { 1, 0 },
	  { COPY_OUT, STREAM_IN } },
	{ "srdd wrote it, app copies out (the receiver's copy)", 2, { 0, 1 },
	  { COPY_IN, COPY_OUT } },
	{ "srdd streamed it, app copies out", 2, { 0, 1 }, { STREAM_IN, COPY_OUT } },
	{ "app wrote it, srdd reads it (srdd's send copy)", 2, { 1, 0 }, { COPY_IN, READ } },
	{ "app streamed it, srdd reads it", 2, { 1, 0 }, { STREAM_IN, READ } },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The two threads' shared state: a step is posted by main and done by its CPU's thread. */
struct bench {
	uint8_t *buf;              /* the shared buffer */
	uint8_t *own[2];           /* each thread's private source / destination */
	uint8_t *evict;            /* EVICT_BYTES read to push the buffer out of a cache */
	size_t len;                /* bytes per copy */
	_Atomic int step_cpu;      /* the CPU whose turn it is, -1: none, -2: quit */
	enum op step_op;           /* what it does */
	double took_us;            /* how long the last step took */
	volatile uint64_t sink;    /* keeps the reads */
};

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static uint64_t read_lines(const uint8_t *p, size_t len)
{
	uint64_t x = 0;

	for (size_t i = 0; i < len; i += 64)
		x += p[i];
	return x;
}

static void run_op(struct bench *b, int cpu, enum op op)
{
	switch (op) {
	case READ: b->sink += read_lines(b->buf, b->len); break;
	case COPY_IN: memcpy(b->buf, b->own[cpu], b->len); break;
	case STREAM_IN: srd_copy_stream(b->buf, b->own[cpu], b->len); break;
	case COPY_OUT: memcpy(b->own[cpu], b->buf, b->len); break;
	case READ_OTHER: b->sink += read_lines(b->evict, EVICT_BYTES); break;
	}
}

struct thread_arg {
	struct bench *b;
	int cpu;
};

static void *worker(void *p)
{
	struct thread_arg *a = p;
	struct bench *b = a->b;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		fprintf(stderr, "cross_copy: cannot pin a thread to CPU %d\n", a->cpu);
		exit(1);
	}
	for (;;) {
		int who = atomic_load(&b->step_cpu);
		double t0;

		if (who == -2)
			return NULL;
		if (who != a->cpu)
			continue;
		t0 = now_us();
		run_op(b, a->cpu, b->step_op);
		b->took_us = now_us() - t0;
		atomic_store(&b->step_cpu, -1);
	}
}

static void step(struct bench *b, int cpu, enum op op)
{
	b->step_op = op;
	atomic_store(&b->step_cpu, cpu);
	while (atomic_load(&b->step_cpu) != -1)
		;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return (a > c) - (a < c);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 21;
	struct bench b = { .len = argc > 2 ? strtoul(argv[2], NULL, 0) : MIB };
	struct thread_arg args[2] = { { &b, 0 }, { &b, 1 } };
	pthread_t th[2];

	if (reps < 1 || reps > MAX_REPS || b.len < 4096 || b.len > 64 * MIB) {
		fprintf(stderr, "usage: cross_copy [REPS (1-%d) [BYTES (4 KiB-64 MiB)]]\n",
			MAX_REPS);
		return 2;
	}
	b.buf = aligned_alloc(4096, b.len);
	b.own[0] = aligned_alloc(4096, b.len);
	b.own[1] = aligned_alloc(4096, b.len);
	b.evict = aligned_alloc(4096, EVICT_BYTES);
	if (!b.buf || !b.own[0] || !b.own[1] || !b.evict) {
		fprintf(stderr, "cross_copy: out of memory\n");
		return 1;
	}
	memset(b.buf, 1, b.len);
	memset(b.own[0], 2, b.len);
	memset(b.own[1], 3, b.len);
	memset(b.evict, 4, EVICT_BYTES);
	atomic_store(&b.step_cpu, -1);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, worker, &args[i])) {
			fprintf(stderr, "cross_copy: cannot start a thread\n");
			return 1;
		}
	for (size_t c = 0; c < NCASES; c++) {
		const struct xcase *x = &cases[c];
		double us[MAX_REPS], per_mib;

		for (int r = 0; r < reps; r++) {
			for (int s = 0; s < x->n; s++)
				step(&b, x->cpu[s], x->op[s]);
			us[r] = b.took_us;
		}
		qsort(us, (size_t)reps, sizeof(us[0]), cmp_double);
		per_mib = us[reps / 2] * MIB / (double)b.len;
		printf("%-58s %7.1f us per MiB (p10 %.1f, p90 %.1f)\n", x->name, per_mib,
		       us[reps / 10] * MIB / (double)b.len, us[reps * 9 / 10] * MIB / (double)b.len);
	}
	atomic_store(&b.step_cpu, -2);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	free(b.buf);
	free(b.own[0]);
	free(b.own[1]);
	free(b.evict);
	return 0;
}
