/*
 * mpi_check.h — what the checks of mpi_check share: options, the per-rank context, failure
 * reporting, deterministic payload patterns and status checks.
 *
 * Every check runs on all ranks of its own duplicate of MPI_COMM_WORLD and either returns
 * (the check passed on this rank) or calls mc_fail(), which prints one line naming the check,
 * the rank and what differed, and aborts the whole job with exit code 1.
 */
#ifndef MPI_CHECK_H
#define MPI_CHECK_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* What the command line sets; the defaults are the full run. */
struct mc_options {
	size_t max_size;     /* largest message of the size check, bytes (default 64 MiB) */
	int window;          /* order check: messages in flight per sender and receiver per phase */
	int rounds;          /* order check: how often its five receive patterns are repeated */
	int allreduce_len;   /* doubles in the large MPI_Allreduce */
	uint64_t seed;       /* seed of the schedules and payload patterns */
	const char *only;    /* comma-separated names of the checks to run (NULL: all) */
};

/* One rank's view of the run. */
struct mc_ctx {
	int rank;                      /* this process's rank in MPI_COMM_WORLD */
	int size;                      /* ranks in MPI_COMM_WORLD (>= 2) */
	const struct mc_options *opt;  /* the command line */
	const char *check;             /* name of the check running now, for failure messages */
	char summary[160];             /* what the check did, printed by rank 0 when it passes */
};

/* Prints "mpi_check: FAIL <check> (rank R): <message>" and aborts every rank with code 1. */
void mc_fail(const struct mc_ctx *ctx, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Sets ctx->summary (printed after the check's name when the check passes). */
void mc_summary(struct mc_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* calloc that fails the check instead of returning NULL (len 0 still gives a valid pointer). */
void *mc_alloc(const struct mc_ctx *ctx, size_t len);

/* A 64-bit seed naming one message: the run's seed mixed with four identifiers. */
uint64_t mc_seed(const struct mc_ctx *ctx, uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* A well-mixed 64-bit value of x (splitmix64's finaliser). */
uint64_t mc_mix(uint64_t x);

/* Fills len bytes with the pattern of seed: every byte depends on the seed and its offset. */
void mc_fill(void *buf, size_t len, uint64_t seed);

/* Fails the check unless buf holds the pattern mc_fill(seed) wrote; `what` names the message. */
void mc_verify(const struct mc_ctx *ctx, const void *buf, size_t len, uint64_t seed,
	       const char *what);

/* Fails the check unless the status says source `src`, tag `tag` and `count` bytes. */
void mc_expect_status(const struct mc_ctx *ctx, const MPI_Status *st, int src, int tag,
		      int count, const char *what);

/* The byte count of a status (MPI_Get_count with MPI_BYTE); fails on MPI_UNDEFINED. */
int mc_count(const struct mc_ctx *ctx, const MPI_Status *st);

/* The checks (each in its own file or section); all ranks call each with the same comm. */
void mc_check_order(struct mc_ctx *ctx, MPI_Comm comm);        /* mpi_check_order.c */
void mc_check_any_source(struct mc_ctx *ctx, MPI_Comm comm);   /* mpi_check_order.c */
void mc_check_probe(struct mc_ctx *ctx, MPI_Comm comm);        /* mpi_check_p2p.c */
void mc_check_ssend(struct mc_ctx *ctx, MPI_Comm comm);        /* mpi_check_p2p.c */
void mc_check_truncate(struct mc_ctx *ctx, MPI_Comm comm);     /* mpi_check_p2p.c */
void mc_check_sizes(struct mc_ctx *ctx, MPI_Comm comm);        /* mpi_check_p2p.c */

#endif
