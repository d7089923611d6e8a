/*
 * mpi_check — checks the MPI point-to-point semantics a transport must keep under Open MPI
 * (written for the OFI MTL over the project's libfabric provider `srd`, but plain MPI: it runs
 * over any transport).  Run with 2 or more ranks:
 *
 *   mpirun -np N mpi_check [--quick] [--max-size BYTES] [--window N] [--rounds N]
 *                          [--allreduce-len N] [--seed N] [--only CHECK,...]
 *
 * Checks, in order (each on its own duplicate of MPI_COMM_WORLD):
 *   order       non-overtaking order, every rank to every rank, many tags, two communicators,
 *               many nonblocking sends in flight, specific and wildcard receives mixed
 *   any_source  MPI_ANY_SOURCE (and ANY_TAG) receives of several senders' streams, in order
 *   probe       MPI_Probe, MPI_Iprobe, MPI_Mprobe + MPI_Mrecv, MPI_Improbe + MPI_Imrecv
 *   ssend       MPI_Issend does not complete before its receive is matched; MPI_Ssend both ways
 *   truncate    a short receive buffer reports MPI_ERR_TRUNCATE; the next message still arrives
 *   sizes       0 B .. 64 MiB, contents checked byte for byte, receives posted early and late
 *   allreduce   MPI_Allreduce (large and small vectors) and MPI_Barrier
 * Rank 0 prints one line per passed check and "mpi_check: all N checks passed".  The first
 * failure prints "mpi_check: FAIL <check> (rank R): ..." and aborts the job (exit code 1).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"

void mc_fail(const struct mc_ctx *ctx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mpi_check: FAIL %s (rank %d of %d): %s\n", ctx->check, ctx->rank,
		ctx->size, msg);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1); /* MPI_Abort does not return; this keeps the compiler sure of it */
}

void mc_summary(struct mc_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->summary, sizeof(ctx->summary), fmt, ap);
	va_end(ap);
}

void *mc_alloc(const struct mc_ctx *ctx, size_t len)
{
	void *p = calloc(1, len ? len : 1); /* zeroed: nothing reads stale bytes */

	if (!p)
		mc_fail(ctx, "out of memory allocating %zu bytes", len);
	return p;
}

uint64_t mc_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t mc_seed(const struct mc_ctx *ctx, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return mc_mix(mc_mix(mc_mix(mc_mix(ctx->opt->seed ^ a) ^ b) ^ c) ^ d);
}

/* Word i of the pattern of seed (bytes are taken from it little end first). */
static uint64_t pattern_word(uint64_t seed, size_t i)
{
	return mc_mix(seed + (uint64_t)i * 0xd1b54a32d192ed03ull);
}

void mc_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = pattern_word(seed, off / 8);
		size_t n = len - off < 8 ? len - off : 8;

		for (size_t k = 0; k < n; k++)
			p[off + k] = (uint8_t)(w >> (8 * k));
	}
}

void mc_verify(const struct mc_ctx *ctx, const void *buf, size_t len, uint64_t seed,
	       const char *what)
{
	const uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = pattern_word(seed, off / 8);
		size_t n = len - off < 8 ? len - off : 8;

		for (size_t k = 0; k < n; k++) {
			uint8_t want = (uint8_t)(w >> (8 * k));

			if (p[off + k] != want)
				mc_fail(ctx, "%s: byte %zu of %zu is 0x%02x, expected 0x%02x", what,
					off + k, len, p[off + k], want);
		}
	}
}

int mc_count(const struct mc_ctx *ctx, const MPI_Status *st)
{
	int count = -1;

	MPI_Get_count(st, MPI_BYTE, &count);
	if (count == MPI_UNDEFINED || count < 0)
		mc_fail(ctx, "MPI_Get_count gave %d", count);
	return count;
}

void mc_expect_status(const struct mc_ctx *ctx, const MPI_Status *st, int src, int tag,
		      int count, const char *what)
{
	int got = mc_count(ctx, st);

	if (st->MPI_SOURCE != src || st->MPI_TAG != tag || got != count)
		mc_fail(ctx, "%s: status says source %d tag %d count %d, expected source %d tag %d "
			"count %d", what, st->MPI_SOURCE, st->MPI_TAG, got, src, tag, count);
}

/*
 * allreduce: a sum over allreduce_len doubles (values chosen so that the sum is exact in
 * any order of addition), a small integer sum and max, then MPI_Barrier.
 */
static void check_allreduce(struct mc_ctx *ctx, MPI_Comm comm)
{
	int len = ctx->opt->allreduce_len;
	double *in = mc_alloc(ctx, sizeof(double) * (size_t)len);
	double *out = mc_alloc(ctx, sizeof(double) * (size_t)len);
	int n = ctx->size;

	for (int i = 0; i < len; i++) {
		in[i] = ctx->rank + 0.5 * i;
		out[i] = -1.0;
	}
	MPI_Allreduce(in, out, len, MPI_DOUBLE, MPI_SUM, comm);
	for (int i = 0; i < len; i++) {
		double want = n * (n - 1) / 2.0 + n * 0.5 * i;

		if (out[i] != want)
			mc_fail(ctx, "MPI_Allreduce(SUM of %d doubles): element %d is %.17g, "
				"expected %.17g", len, i, out[i], want);
	}
	free(in);
	free(out);

	int small_in[3] = {ctx->rank, 1, -3 * ctx->rank};
	int small_out[3] = {0, 0, 0};
	int max_out = -1;

	MPI_Allreduce(small_in, small_out, 3, MPI_INT, MPI_SUM, comm);
	if (small_out[0] != n * (n - 1) / 2 || small_out[1] != n ||
	    small_out[2] != -3 * n * (n - 1) / 2)
		mc_fail(ctx, "MPI_Allreduce(SUM of 3 ints) gave {%d, %d, %d}, expected {%d, %d, %d}",
			small_out[0], small_out[1], small_out[2], n * (n - 1) / 2, n,
			-3 * n * (n - 1) / 2);
	MPI_Allreduce(&ctx->rank, &max_out, 1, MPI_INT, MPI_MAX, comm);
	if (max_out != n - 1)
		mc_fail(ctx, "MPI_Allreduce(MAX of ranks) gave %d, expected %d", max_out, n - 1);
	MPI_Barrier(comm);
	mc_summary(ctx, "SUM of %d doubles and of 3 ints, MAX, barrier: results exact", len);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mpirun -np N mpi_check [options]   (N >= 2)\n"
		"  --quick            lighter run: --max-size 16M+1 --window 64 --rounds 1\n"
		"                     --allreduce-len 65536 (options after it override these)\n"
		"  --max-size BYTES   largest message of the size check (K/M/G suffix, +N;\n"
		"                     default 64M, at most 1G)\n"
		"  --window N         order check: sends in flight per sender and receiver (128)\n"
		"  --rounds N         order check: repetitions of its 5 receive patterns (2)\n"
		"  --allreduce-len N  doubles in the large MPI_Allreduce (1048576)\n"
		"  --seed N           seed of schedules and payloads (1)\n"
		"  --only A,B         run only the named checks: order, any_source, probe,\n"
		"                     ssend, truncate, sizes, allreduce\n");
}

/* Parses an unsigned number with an optional K/M/G suffix (powers of 1024); false if bad. */
static bool parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!s || *s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 0);
	if (*end == 'K' || *end == 'k')
		mult = 1ull << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ull << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ull << 30;
	if (mult != 1)
		end++;
	if (*end == '+') { /* "16M+1" */
		unsigned long long extra = strtoull(end + 1, &end, 0);

		if (v > max / mult || v * mult > max - extra)
			return false;
		v = v * mult + extra;
		mult = 1;
	}
	if (*end != '\0' || v > max / mult)
		return false;
	*out = v * mult;
	return true;
}

/* What parse_options() found. */
enum parse_result { PARSE_RUN, PARSE_HELP, PARSE_BAD };

/* Fills *opt from argv; PARSE_BAD (after printing why) if the command line is bad. */
static enum parse_result parse_options(int argc, char **argv, bool speak,
				       struct mc_options *opt)
{
	*opt = (struct mc_options){
		.max_size = 64u << 20, .window = 128, .rounds = 2, .allreduce_len = 1 << 20,
		.seed = 1,
	};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t v = 0;

		if (!strcmp(arg, "--quick")) {
			opt->max_size = (16u << 20) + 1;
			opt->window = 64;
			opt->rounds = 1;
			opt->allreduce_len = 65536;
			continue;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			if (speak)
				usage(stdout);
			return PARSE_HELP;
		}
		if (!strcmp(arg, "--max-size") && parse_size(val, 1u << 30, &v))
			opt->max_size = v;
		else if (!strcmp(arg, "--window") && parse_size(val, 4096, &v) && v >= 1)
			opt->window = (int)v;
		else if (!strcmp(arg, "--rounds") && parse_size(val, 1000, &v) && v >= 1)
			opt->rounds = (int)v;
		else if (!strcmp(arg, "--allreduce-len") && parse_size(val, 1u << 28, &v) && v >= 1)
			opt->allreduce_len = (int)v;
		else if (!strcmp(arg, "--seed") && parse_size(val, UINT64_MAX, &v))
			opt->seed = v;
		else if (!strcmp(arg, "--only") && val)
			opt->only = val;
		else {
			if (speak) {
				fprintf(stderr, "mpi_check: bad option %s%s%s\n", arg, val ? " " : "",
					val ? val : "");
				usage(stderr);
			}
			return PARSE_BAD;
		}
		i++; /* the option's value */
	}
	return PARSE_RUN;
}

/* One check: its name and the function every rank runs. */
struct mc_check {
	const char *name;                           /* printed in ok and FAIL lines */
	void (*run)(struct mc_ctx *ctx, MPI_Comm);  /* returns only if it passed on this rank */
};

static const struct mc_check checks[] = {
	{"order", mc_check_order},         {"any_source", mc_check_any_source},
	{"probe", mc_check_probe},         {"ssend", mc_check_ssend},
	{"truncate", mc_check_truncate},   {"sizes", mc_check_sizes},
	{"allreduce", check_allreduce},
};

#define NCHECKS ((int)(sizeof(checks) / sizeof(checks[0])))

/* True if `name` is one of the comma-separated names in `list`. */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* True if every name of the --only list names a check (else prints the first bad one). */
static bool only_list_valid(const char *list, bool speak)
{
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t len = strcspn(p, ",");
		bool known = false;

		for (int i = 0; i < NCHECKS; i++)
			known |= strlen(checks[i].name) == len && !strncmp(p, checks[i].name, len);
		if (!known) {
			if (speak)
				fprintf(stderr, "mpi_check: --only: no check named '%.*s'\n", (int)len, p);
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	struct mc_options opt;
	struct mc_ctx ctx = {.opt = &opt, .check = "init"};
	int passed = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &ctx.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &ctx.size);
	enum parse_result parsed = parse_options(argc, argv, ctx.rank == 0, &opt);

	if (parsed == PARSE_RUN && opt.only && !only_list_valid(opt.only, ctx.rank == 0))
		parsed = PARSE_BAD;
	if (parsed != PARSE_RUN) {
		MPI_Finalize();
		return parsed == PARSE_HELP ? 0 : 2;
	}
	if (ctx.size < 2) {
		fprintf(stderr, "mpi_check: needs at least 2 ranks, got %d\n", ctx.size);
		MPI_Finalize();
		return 2;
	}
	if (ctx.rank == 0) {
		printf("mpi_check: %d ranks, max size %zu, window %d, rounds %d, allreduce %d, "
		       "seed %llu\n", ctx.size, opt.max_size, opt.window, opt.rounds,
		       opt.allreduce_len, (unsigned long long)opt.seed);
		fflush(stdout);
	}

	double start = MPI_Wtime();

	for (int i = 0; i < NCHECKS; i++) {
		MPI_Comm comm;
		double t0 = MPI_Wtime();

		if (opt.only && !in_list(opt.only, checks[i].name))
			continue;
		ctx.check = checks[i].name;
		ctx.summary[0] = '\0';
		MPI_Comm_dup(MPI_COMM_WORLD, &comm);
		checks[i].run(&ctx, comm);
		MPI_Barrier(comm);
		MPI_Comm_free(&comm);
		passed++;
		if (ctx.rank == 0) {
			printf("mpi_check: ok %-10s %s (%.2f s)\n", checks[i].name, ctx.summary,
			       MPI_Wtime() - t0);
			fflush(stdout);
		}
	}
	if (ctx.rank == 0)
		printf("mpi_check: all %d checks passed (%d ranks, %.2f s)\n", passed, ctx.size,
		       MPI_Wtime() - start);
	MPI_Finalize();
	return 0;
}
