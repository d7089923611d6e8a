/*
 * handover — what it costs to hand a CPU from one process to another, measured alone.
 *
 * srd-perf's two apps share one CPU on a 2-core machine (srdd's worker has the other): a
 * message from one app to the other is not seen until the sender gives the CPU away
 * (sched_yield at its empty poll) and the receiver is scheduled.  This program measures that
 * trade with nothing else in the way: two processes ping-pong a counter in one shared cache
 * line, each waiting for its turn.
 *
 *   yield  both processes on CPU_A (CPU_B is ignored); each calls sched_yield at every look
 *          that finds it is not its turn, as srd-perf --poll yield does
 *   spin   process A on CPU_A, process B on CPU_B, each spinning (cpu_relax): the cost of
 *          one cache line crossing cores, for contrast
 *
 * A sample is one round trip / 2 (one hand-over each way), as srd-perf lat and sockperf
 * count one-way latency.  Prints one JSON object: min, p50, p99, p99.9, max and mean in
 * microseconds.  With CSV it also writes every sample (ns) as "sample,rtt_ns,one_way_ns".
 *
 *   handover yield|spin ITERS CPU_A CPU_B [CSV]
 */
#ifndef _GNU_SOURCE /* the build defines it; sched_setaffinity needs it */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

#define WARMUP 1000u                   /* round trips not counted first */
#define WAIT_LIMIT_NS 5000000000ull    /* a peer silent this long is gone: fail, never hang */
#define MAX_ITERS 50000000ul

/* The one cache line the two processes trade. */
struct shared {
	_Alignas(64) _Atomic uint64_t turn; /* 2i+1: B's turn in round i; 2i+2: A's turn */
	char pad[64 - sizeof(uint64_t)];    /* nothing else on the line */
};

/* How a process waits for its turn. */
enum wait_mode { WAIT_YIELD, WAIT_SPIN };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

/*
 * Wait until turn holds want.  Pairs: this acquire load with the peer's release store of
 * want, so what the peer wrote before its store is visible after ours returns.  Returns 0,
 * or -ETIMEDOUT when the peer has not answered within WAIT_LIMIT_NS.
 */
static int wait_turn(struct shared *s, uint64_t want, enum wait_mode mode)
{
	uint64_t start = 0;

	for (uint32_t looks = 1;; looks++) {
		if (atomic_load_explicit(&s->turn, memory_order_acquire) == want)
			return 0;
		if (mode == WAIT_YIELD)
			sched_yield();
		else
			cpu_relax();
		if ((looks & 1023u) == 0) {
			uint64_t t = now_ns();

			if (start == 0)
				start = t;
			else if (t - start > WAIT_LIMIT_NS)
				return -ETIMEDOUT;
		}
	}
}

/* Process B: answer each of A's turns. */
static int run_b(struct shared *s, uint64_t rounds, enum wait_mode mode)
{
	for (uint64_t i = 0; i < rounds; i++) {
		int rc = wait_turn(s, 2 * i + 1, mode);

		if (rc)
			return rc;
		atomic_store_explicit(&s->turn, 2 * i + 2, memory_order_release);
	}
	return 0;
}

/* Process A: time each round trip; rtt[] gets the counted ones (after WARMUP). */
static int run_a(struct shared *s, uint64_t *rtt, uint64_t iters, enum wait_mode mode)
{
	for (uint64_t i = 0; i < WARMUP + iters; i++) {
		uint64_t t0 = now_ns();
		int rc;

		atomic_store_explicit(&s->turn, 2 * i + 1, memory_order_release);
		rc = wait_turn(s, 2 * i + 2, mode);
		if (rc)
			return rc;
		if (i >= WARMUP)
			rtt[i - WARMUP] = now_ns() - t0;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The q-th percentile (0 < q <= 100) of n sorted samples, one-way (rtt / 2), in µs. */
static double pct_us(const uint64_t *sorted, uint64_t n, double q)
{
	uint64_t k = (uint64_t)((q / 100.0) * (double)n + 0.999999);

	if (k == 0)
		k = 1;
	if (k > n)
		k = n;
	return (double)sorted[k - 1] / 2e3;
}

static int write_csv(const char *path, const uint64_t *rtt, uint64_t n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "sample,rtt_ns,one_way_ns\n");
	for (uint64_t i = 0; i < n; i++)
		fprintf(f, "%llu,%llu,%llu\n", (unsigned long long)i, (unsigned long long)rtt[i],
			(unsigned long long)(rtt[i] / 2));
	return fclose(f) == 0 ? 0 : -EIO;
}

static void report(const char *mode, int cpu_a, int cpu_b, uint64_t *rtt, uint64_t n)
{
	double sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += (double)rtt[i];
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("{\"mode\":\"%s\",\"cpu_a\":%d,\"cpu_b\":%d,\"iters\":%llu,\"min_us\":%.3f,"
	       "\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,"
	       "\"mean_us\":%.3f,\"one_way\":true}\n",
	       mode, cpu_a, cpu_b, (unsigned long long)n, (double)rtt[0] / 2e3,
	       pct_us(rtt, n, 50), pct_us(rtt, n, 99), pct_us(rtt, n, 99.9),
	       (double)rtt[n - 1] / 2e3, sum / (double)n / 2e3);
}

static int usage(void)
{
	fprintf(stderr, "usage: handover yield|spin ITERS CPU_A CPU_B [CSV]\n"
			"  yield: both processes on CPU_A, sched_yield while waiting\n"
			"  spin:  A on CPU_A, B on CPU_B, spinning while waiting\n");
	return 2;
}

int main(int argc, char **argv)
{
	enum wait_mode mode;
	struct shared *s;
	uint64_t *rtt = NULL;
	unsigned long iters;
	int cpu_a, cpu_b, rc, status;
	pid_t child;
	char *end;

	if (argc < 5 || argc > 6)
		return usage();
	if (strcmp(argv[1], "yield") == 0)
		mode = WAIT_YIELD;
	else if (strcmp(argv[1], "spin") == 0)
		mode = WAIT_SPIN;
	else
		return usage();
	errno = 0;
	iters = strtoul(argv[2], &end, 10);
	if (errno || *end || iters == 0 || iters > MAX_ITERS)
		return usage();
	cpu_a = atoi(argv[3]);
	cpu_b = mode == WAIT_YIELD ? cpu_a : atoi(argv[4]);

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		perror("handover: mmap");
		return 1;
	}
	atomic_init(&s->turn, 0);
	rtt = malloc(iters * sizeof(*rtt));
	if (!rtt) {
		fprintf(stderr, "handover: no memory for %lu samples\n", iters);
		rc = -ENOMEM;
		goto out_unmap;
	}
	child = fork();
	if (child < 0) {
		rc = -errno;
		fprintf(stderr, "handover: fork: %s\n", strerror(-rc));
		goto out_free;
	}
	if (child == 0) {
		/* B: dies with A, so a killed run leaves nothing spinning */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		rc = pin(cpu_b);
		if (rc == 0)
			rc = run_b(s, WARMUP + iters, mode);
		_exit(rc == 0 ? 0 : 1);
	}
	rc = pin(cpu_a);
	if (rc)
		fprintf(stderr, "handover: cannot pin to CPU %d: %s\n", cpu_a, strerror(-rc));
	else if ((rc = run_a(s, rtt, iters, mode)) != 0)
		fprintf(stderr, "handover: the other process stopped answering\n");
	if (rc)
		kill(child, SIGKILL);
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!rc)
			fprintf(stderr, "handover: the other process failed (CPU %d?)\n", cpu_b);
		rc = rc ? rc : -ECHILD;
	}
	if (rc == 0 && argc == 6 && (rc = write_csv(argv[5], rtt, iters)) != 0)
		fprintf(stderr, "handover: cannot write %s: %s\n", argv[5], strerror(-rc));
	if (rc == 0)
		report(argv[1], cpu_a, cpu_b, rtt, iters);
out_free:
	free(rtt);
out_unmap:
	munmap(s, sizeof(*s));
	return rc == 0 ? 0 : 1;
}
