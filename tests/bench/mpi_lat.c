/*
 * mpi_lat.c — MPI ping-pong latency between ranks 0 and 1 (the benchmark of Open MPI over
 * the srd provider against Open MPI's own TCP transport, tests/bench/bench.py).
 *
 *   mpirun -np 2 mpi_lat [SIZE [ITERS]]
 *
 * Rank 0 times each round trip with MPI_Wtime and prints one JSON line: one-way latency
 * (round trip / 2) in microseconds, as min, p50, p99, p99.9, max and mean.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rank, n, size = argc > 1 ? atoi(argv[1]) : 64, iters = argc > 2 ? atoi(argv[2]) : 20000;
	int warmup = iters / 10 + 1;
	char *buf;
	double *lat;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	buf = calloc(1, (size_t)size + 1);
	lat = calloc((size_t)iters, sizeof(*lat));
	if (n < 2 || !buf || !lat || size < 0 || iters < 1) {
		fprintf(stderr, "mpi_lat: needs 2 ranks, a size and an iteration count\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	for (int i = -warmup; i < iters; i++) {
		double t0 = MPI_Wtime();

		if (rank == 0) {
			MPI_Send(buf, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
			MPI_Recv(buf, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == 1) {
			MPI_Recv(buf, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(buf, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
		}
		if (i >= 0)
			lat[i] = (MPI_Wtime() - t0) / 2 * 1e6;
	}
	if (rank == 0) {
		double sum = 0;

		for (int i = 0; i < iters; i++)
			sum += lat[i];
		qsort(lat, (size_t)iters, sizeof(*lat), cmp);
		printf("{\"test\":\"mpi_lat\",\"size\":%d,\"iters\":%d,\"min_us\":%.3f,\"p50_us\":%.3f,"
		       "\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f}\n", size,
		       iters, lat[0], lat[iters / 2], lat[(int)(iters * 0.99)],
		       lat[(int)(iters * 0.999)], lat[iters - 1], sum / iters);
	}
	free(lat);
	free(buf);
	MPI_Finalize();
	return 0;
}
