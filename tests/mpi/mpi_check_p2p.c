/*
 * mpi_check_p2p.c — the point-to-point checks besides ordering: probes and matched probes,
 * synchronous sends, truncation and message sizes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"

/* Tags; each check runs on its own communicator, so they only need to differ within one. */
enum {
	TAG_PROBE_BASE = 200,  /* probe: message j has tag TAG_PROBE_BASE + j */
	TAG_SSEND = 400,       /* ssend: the synchronous message */
	TAG_STARTED = 401,     /* ssend: "my MPI_Issend is posted" */
	TAG_PROBED = 402,      /* ssend: "I probed your message, my receive is not posted" */
	TAG_GO = 403,          /* ssend: "you may receive it now" */
	TAG_BOTH_WAYS = 410,   /* ssend: simultaneous MPI_Ssend to every peer */
	TAG_EARLY = 500,       /* sizes: receive posted before the send */
	TAG_LATE = 501,        /* sizes: receive posted after the message arrived */
};

#define PROBE_COUNT 16 /* messages from each rank to each other rank in the probe check */
#define PROBE_MAX (1 << 20)

static const int probe_lens[6] = {0, 5, 64, 4096, 70000, PROBE_MAX};

static int probe_len(int j)
{
	return probe_lens[j % 6];
}

/* The next rank after *cursor (cyclically) that still has probe messages for this rank. */
static int next_source(const struct mc_ctx *ctx, const int *next, int *cursor)
{
	for (int i = 1; i <= ctx->size; i++) {
		int s = (*cursor + i) % ctx->size;

		if (s != ctx->rank && next[s] < PROBE_COUNT) {
			*cursor = s;
			return s;
		}
	}
	mc_fail(ctx, "no source left with messages to probe");
}

/* Checks that a probe's status names the next message of a valid source; returns it. */
static int probed_source(const struct mc_ctx *ctx, const int *next, const MPI_Status *st,
			 const char *what)
{
	int s = st->MPI_SOURCE;

	if (s < 0 || s >= ctx->size || s == ctx->rank || next[s] >= PROBE_COUNT)
		mc_fail(ctx, "%s: found a message from unexpected source %d (tag %d)", what, s,
			st->MPI_TAG);
	mc_expect_status(ctx, st, s, TAG_PROBE_BASE + next[s], probe_len(next[s]), what);
	return s;
}

/*
 * probe: every rank sends PROBE_COUNT messages (0 B .. 1 MiB, tag 200 + j) to every other
 * rank; the receiver takes them in turn with MPI_Probe(ANY, ANY) + MPI_Recv,
 * MPI_Iprobe(source, tag) polled until found + MPI_Recv, MPI_Mprobe(source, ANY_TAG) +
 * MPI_Mrecv, and MPI_Improbe(ANY, ANY) polled + MPI_Imrecv.  Every probe's status must name
 * the sender's next message (source, tag, count); an Iprobe for a tag never sent finds nothing.
 */
void mc_check_probe(struct mc_ctx *ctx, MPI_Comm comm)
{
	int n = ctx->size, total = PROBE_COUNT * (n - 1), nreq = 0, cursor = ctx->rank;
	uint8_t *sbuf = mc_alloc(ctx, (size_t)total * PROBE_MAX);
	uint8_t *rbuf = mc_alloc(ctx, PROBE_MAX);
	MPI_Request *reqs = mc_alloc(ctx, sizeof(*reqs) * (size_t)total);
	int *next = mc_alloc(ctx, sizeof(*next) * (size_t)n);
	long polls = 0;

	for (int j = 0; j < PROBE_COUNT; j++)
		for (int i = 1; i < n; i++) {
			int d = (ctx->rank + i) % n;
			uint8_t *p = sbuf + (size_t)nreq * PROBE_MAX;

			mc_fill(p, (size_t)probe_len(j), mc_seed(ctx, 0x9b, (uint64_t)ctx->rank,
								  (uint64_t)d, (uint64_t)j));
			MPI_Isend(p, probe_len(j), MPI_BYTE, d, TAG_PROBE_BASE + j, comm, &reqs[nreq++]);
		}
	memset(next, 0, sizeof(*next) * (size_t)n);
	for (int i = 0; i < total; i++) {
		MPI_Status st, rst;
		MPI_Message msg;
		MPI_Request req;
		int s, flag = 0;
		char what[80];

		switch (i % 4) {
		case 0:
			snprintf(what, sizeof(what), "MPI_Probe(ANY_SOURCE, ANY_TAG) #%d", i);
			MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &st);
			s = probed_source(ctx, next, &st, what);
			MPI_Recv(rbuf, probe_len(next[s]), MPI_BYTE, s, st.MPI_TAG, comm, &rst);
			break;
		case 1:
			s = next_source(ctx, next, &cursor);
			snprintf(what, sizeof(what), "MPI_Iprobe(%d, %d) #%d", s,
				 TAG_PROBE_BASE + next[s], i);
			MPI_Iprobe(s, TAG_PROBE_BASE - 1, comm, &flag, &st);
			if (flag)
				mc_fail(ctx, "MPI_Iprobe(%d, tag %d) found a message never sent (source "
					"%d tag %d)", s, TAG_PROBE_BASE - 1, st.MPI_SOURCE, st.MPI_TAG);
			for (; !flag; polls++)
				MPI_Iprobe(s, TAG_PROBE_BASE + next[s], comm, &flag, &st);
			probed_source(ctx, next, &st, what);
			MPI_Recv(rbuf, probe_len(next[s]), MPI_BYTE, s, st.MPI_TAG, comm, &rst);
			break;
		case 2:
			s = next_source(ctx, next, &cursor);
			snprintf(what, sizeof(what), "MPI_Mprobe(%d, ANY_TAG) #%d", s, i);
			MPI_Mprobe(s, MPI_ANY_TAG, comm, &msg, &st);
			probed_source(ctx, next, &st, what);
			MPI_Mrecv(rbuf, PROBE_MAX, MPI_BYTE, &msg, &rst);
			if (msg != MPI_MESSAGE_NULL)
				mc_fail(ctx, "%s: MPI_Mrecv left the message handle set", what);
			break;
		default:
			snprintf(what, sizeof(what), "MPI_Improbe(ANY_SOURCE, ANY_TAG) #%d", i);
			for (; !flag; polls++)
				MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &msg, &st);
			s = probed_source(ctx, next, &st, what);
			MPI_Imrecv(rbuf, PROBE_MAX, MPI_BYTE, &msg, &req);
			MPI_Wait(&req, &rst);
			break;
		}
		strncat(what, ", its receive", sizeof(what) - strlen(what) - 1);
		mc_expect_status(ctx, &rst, s, TAG_PROBE_BASE + next[s], probe_len(next[s]), what);
		mc_verify(ctx, rbuf, (size_t)probe_len(next[s]),
			  mc_seed(ctx, 0x9b, (uint64_t)s, (uint64_t)ctx->rank, (uint64_t)next[s]), what);
		next[s]++;
	}
	MPI_Waitall(nreq, reqs, MPI_STATUSES_IGNORE);
	mc_summary(ctx, "%d messages (0 B..1 MiB) per rank through Probe, Iprobe, Mprobe+Mrecv, "
		   "Improbe+Imrecv (%ld polls): status and contents right", total, polls);
	free(next);
	free(reqs);
	free(rbuf);
	free(sbuf);
}

/*
 * One synchronous send from `sender` to `receiver`, the receive posted late, without
 * timing: the receiver posts nothing for the message until the sender says its MPI_Issend
 * is posted, then probes it (the message has arrived) and tells the sender, which checks that
 * MPI_Test still reports the send incomplete before letting the receiver receive it.  With
 * `blocking`, the sender uses MPI_Ssend after saying it starts, and the receiver probes
 * the message before receiving it.
 */
static void ssend_late(struct mc_ctx *ctx, MPI_Comm comm, int sender, int receiver, int len,
		       bool blocking, uint8_t *buf)
{
	uint64_t seed = mc_seed(ctx, 0x55, (uint64_t)sender, (uint64_t)receiver,
				(uint64_t)len << 1 | blocking);
	MPI_Request req;
	MPI_Status st;
	int flag = 0;
	char what[96];

	snprintf(what, sizeof(what), "%s of %d B from rank %d to rank %d",
		 blocking ? "MPI_Ssend" : "MPI_Issend", len, sender, receiver);
	if (ctx->rank == sender) {
		mc_fill(buf, (size_t)len, seed);
		if (blocking) {
			MPI_Send(NULL, 0, MPI_BYTE, receiver, TAG_STARTED, comm);
			MPI_Ssend(buf, len, MPI_BYTE, receiver, TAG_SSEND, comm);
			return;
		}
		MPI_Issend(buf, len, MPI_BYTE, receiver, TAG_SSEND, comm, &req);
		MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
		if (flag)
			mc_fail(ctx, "%s completed before the receiver posted a receive", what);
		MPI_Send(NULL, 0, MPI_BYTE, receiver, TAG_STARTED, comm);
		MPI_Recv(NULL, 0, MPI_BYTE, receiver, TAG_PROBED, comm, MPI_STATUS_IGNORE);
		for (int i = 0; i < 100; i++) {
			MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
			if (flag)
				mc_fail(ctx, "%s completed when the receiver had only probed it (test "
					"#%d)", what, i);
		}
		MPI_Send(NULL, 0, MPI_BYTE, receiver, TAG_GO, comm);
		MPI_Wait(&req, MPI_STATUS_IGNORE);
	} else if (ctx->rank == receiver) {
		MPI_Recv(NULL, 0, MPI_BYTE, sender, TAG_STARTED, comm, MPI_STATUS_IGNORE);
		MPI_Probe(sender, TAG_SSEND, comm, &st);
		mc_expect_status(ctx, &st, sender, TAG_SSEND, len, what);
		if (!blocking) {
			MPI_Send(NULL, 0, MPI_BYTE, sender, TAG_PROBED, comm);
			MPI_Recv(NULL, 0, MPI_BYTE, sender, TAG_GO, comm, MPI_STATUS_IGNORE);
		}
		MPI_Recv(buf, len, MPI_BYTE, sender, TAG_SSEND, comm, &st);
		mc_expect_status(ctx, &st, sender, TAG_SSEND, len, what);
		mc_verify(ctx, buf, (size_t)len, seed, what);
	}
}

/* Every rank MPI_Ssends to every other rank at once, receives pre-posted. */
static void ssend_both_ways(struct mc_ctx *ctx, MPI_Comm comm, int len, uint8_t *buf)
{
	int n = ctx->size;
	MPI_Request *reqs = mc_alloc(ctx, sizeof(*reqs) * (size_t)n);
	MPI_Status *stats = mc_alloc(ctx, sizeof(*stats) * (size_t)n);
	uint8_t *sbuf = buf + (size_t)n * (size_t)len;

	for (int s = 0; s < n; s++)
		if (s != ctx->rank)
			MPI_Irecv(buf + (size_t)s * (size_t)len, len, MPI_BYTE, s, TAG_BOTH_WAYS, comm,
				  &reqs[s]);
		else
			reqs[s] = MPI_REQUEST_NULL;
	for (int i = 1; i < n; i++) {
		int d = (ctx->rank + i) % n;

		mc_fill(sbuf, (size_t)len, mc_seed(ctx, 0x56, (uint64_t)ctx->rank, (uint64_t)d,
						   (uint64_t)len));
		MPI_Ssend(sbuf, len, MPI_BYTE, d, TAG_BOTH_WAYS, comm);
	}
	MPI_Waitall(n, reqs, stats);
	for (int s = 0; s < n; s++) {
		char what[80];

		if (s == ctx->rank)
			continue;
		snprintf(what, sizeof(what), "MPI_Ssend of %d B from rank %d, receive pre-posted",
			 len, s);
		mc_expect_status(ctx, &stats[s], s, TAG_BOTH_WAYS, len, what);
		mc_verify(ctx, buf + (size_t)s * (size_t)len, (size_t)len,
			  mc_seed(ctx, 0x56, (uint64_t)s, (uint64_t)ctx->rank, (uint64_t)len), what);
	}
	free(stats);
	free(reqs);
}

/*
 * The partner of `rank` in round `round` of a round-robin tournament of `n` ranks (the circle
 * method over n rounded up to even), or -1 if it sits this round out.  Over rounds 0 .. m-2
 * every pair meets exactly once.
 */
static int tournament_partner(int n, int round, int rank)
{
	int m = n + (n & 1), p;

	if (rank == m - 1)
		p = round;
	else if (rank == round)
		p = m - 1;
	else
		p = ((2 * round - rank) % (m - 1) + (m - 1)) % (m - 1);
	return p < n ? p : -1;
}

/* ssend: late receives for every ordered pair of ranks and size (disjoint pairs at once),
 * then all ranks at once. */
void mc_check_ssend(struct mc_ctx *ctx, MPI_Comm comm)
{
	static const int lens[] = {0, 64, 65536, 1 << 20};
	const int nlens = (int)(sizeof(lens) / sizeof(lens[0]));
	int n = ctx->size, rounds = n + (n & 1) - 1, pairs = 0;
	uint8_t *buf = mc_alloc(ctx, (size_t)(n + 1) << 20);

	for (int r = 0; r < rounds; r++) {
		int p = tournament_partner(n, r, ctx->rank);
		int lo = p < ctx->rank ? p : ctx->rank, hi = p < ctx->rank ? ctx->rank : p;

		if (p < 0)
			continue;
		if (tournament_partner(n, r, p) != ctx->rank)
			mc_fail(ctx, "tournament round %d: %d pairs with %d but not back", r,
				ctx->rank, p);
		for (int i = 0; i < nlens; i++)
			for (int blocking = 0; blocking < 2; blocking++) {
				ssend_late(ctx, comm, lo, hi, lens[i], blocking, buf);
				ssend_late(ctx, comm, hi, lo, lens[i], blocking, buf);
			}
		pairs++;
	}
	if (pairs != n - 1)
		mc_fail(ctx, "the tournament paired this rank with %d ranks, not %d", pairs, n - 1);
	for (int i = 0; i < nlens; i++)
		ssend_both_ways(ctx, comm, lens[i], buf);
	free(buf);
	mc_summary(ctx, "each rank with each of %d others, both ways, %d sizes (0 B..1 MiB): "
		   "Issend incomplete until its late receive; Ssend with late and pre-posted "
		   "receives", n - 1, nlens);
}

/* Fails unless rc is an error of class `want` (MPI_SUCCESS for success). */
static void expect_error(const struct mc_ctx *ctx, int rc, int want, const char *what)
{
	int cls = MPI_SUCCESS, len = 0;
	char text[MPI_MAX_ERROR_STRING] = "success";

	if (rc != MPI_SUCCESS) {
		MPI_Error_class(rc, &cls);
		MPI_Error_string(rc, text, &len);
	}
	if (cls != want)
		mc_fail(ctx, "%s returned error class %d (%s), expected %s", what, cls, text,
			want == MPI_SUCCESS ? "success" : "MPI_ERR_TRUNCATE");
}

/* truncate: the messages each rank sends to the next rank (tag, bytes). */
static const struct {
	int tag;  /* tag it is sent with */
	int len;  /* bytes sent */
} trunc_msgs[] = {
	{7, 1000}, {7, 300}, {8, (1 << 20) + 5}, {8, 100}, {9, 2000}, {9, 50}, {10, 64}, {10, 0},
};

#define TRUNC_NMSGS ((int)(sizeof(trunc_msgs) / sizeof(trunc_msgs[0])))
#define TRUNC_RBUF ((2 << 20) + 8192) /* receive area: room for an overrun of any message */
#define TRUNC_SECOND 8192              /* offset of the second receive of the Waitall case */
#define TRUNC_GUARD 0xa5               /* what the receive area holds where nothing may write */

/* Fails if MPI wrote into buf[from, to), which lies beyond a receive's count. */
static void expect_guard(const struct mc_ctx *ctx, const uint8_t *buf, size_t from, size_t to,
			 const char *what)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != TRUNC_GUARD)
			mc_fail(ctx, "%s: MPI wrote past the receive buffer (byte %zu, %zu bytes after "
				"its end)", what, i, i - from);
}

/* Receives trunc_msgs[i] (which must fit into `cap` bytes) and checks it. */
static void trunc_recv_ok(const struct mc_ctx *ctx, MPI_Comm comm, int left, int i, int cap,
			  uint8_t *buf)
{
	MPI_Status st;
	char what[96];

	snprintf(what, sizeof(what), "the %d B message after a truncated one (tag %d)",
		 trunc_msgs[i].len, trunc_msgs[i].tag);
	expect_error(ctx, MPI_Recv(buf, cap, MPI_BYTE, left, trunc_msgs[i].tag, comm, &st),
		     MPI_SUCCESS, what);
	mc_expect_status(ctx, &st, left, trunc_msgs[i].tag, trunc_msgs[i].len, what);
	mc_verify(ctx, buf, (size_t)trunc_msgs[i].len,
		  mc_seed(ctx, 0x77, (uint64_t)left, (uint64_t)ctx->rank, (uint64_t)i), what);
}

/* One truncated receive into `cap` bytes with MPI_Recv (or MPI_Irecv + MPI_Wait). */
static void trunc_recv_short(const struct mc_ctx *ctx, MPI_Comm comm, int src, int tag, int cap,
			     bool nonblocking, uint8_t *buf, const char *what)
{
	MPI_Request req;
	MPI_Status st;
	int rc;

	memset(buf, TRUNC_GUARD, TRUNC_RBUF);
	if (nonblocking) {
		MPI_Irecv(buf, cap, MPI_BYTE, src, tag, comm, &req);
		rc = MPI_Wait(&req, &st);
	} else {
		rc = MPI_Recv(buf, cap, MPI_BYTE, src, tag, comm, &st);
	}
	expect_error(ctx, rc, MPI_ERR_TRUNCATE, what);
	expect_guard(ctx, buf, (size_t)cap, TRUNC_RBUF, what);
}

/*
 * truncate: on a communicator with MPI_ERRORS_RETURN, each rank sends trunc_msgs to the next
 * rank, whose receives are too short for every other one: MPI_Recv, MPI_Wait and
 * MPI_Waitall (as MPI_ERR_IN_STATUS) must report MPI_ERR_TRUNCATE, write nothing past the
 * receive buffer, the sends succeed, and each following message arrives whole.
 */
void mc_check_truncate(struct mc_ctx *ctx, MPI_Comm comm)
{
	int n = ctx->size, right = (ctx->rank + 1) % n, left = (ctx->rank + n - 1) % n;
	uint8_t *sbuf = mc_alloc(ctx, (size_t)TRUNC_NMSGS << 21);
	uint8_t *rbuf = mc_alloc(ctx, TRUNC_RBUF);
	MPI_Request sreq[TRUNC_NMSGS], rreq[2];
	MPI_Status sts[2];
	int rc;

	MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
	for (int i = 0; i < TRUNC_NMSGS; i++) {
		uint8_t *p = sbuf + ((size_t)i << 21);

		mc_fill(p, (size_t)trunc_msgs[i].len,
			mc_seed(ctx, 0x77, (uint64_t)ctx->rank, (uint64_t)right, (uint64_t)i));
		expect_error(ctx, MPI_Isend(p, trunc_msgs[i].len, MPI_BYTE, right, trunc_msgs[i].tag,
					    comm, &sreq[i]), MPI_SUCCESS, "MPI_Isend");
	}

	trunc_recv_short(ctx, comm, left, 7, 100, false, rbuf, "MPI_Recv of 1000 B into 100 B");
	trunc_recv_ok(ctx, comm, left, 1, 4096, rbuf);
	trunc_recv_short(ctx, comm, left, 8, 4096, true, rbuf,
			 "MPI_Irecv + MPI_Wait of 1 MiB + 5 B into 4096 B");
	trunc_recv_ok(ctx, comm, left, 3, 4096, rbuf);

	/* MPI_Waitall over a truncated and a good receive of the same tag */
	memset(rbuf, TRUNC_GUARD, TRUNC_RBUF);
	MPI_Irecv(rbuf, 10, MPI_BYTE, left, 9, comm, &rreq[0]);
	MPI_Irecv(rbuf + TRUNC_SECOND, 4096, MPI_BYTE, left, 9, comm, &rreq[1]);
	rc = MPI_Waitall(2, rreq, sts);
	if (rc != MPI_ERR_IN_STATUS)
		expect_error(ctx, rc, MPI_ERR_IN_STATUS, "MPI_Waitall with a truncated receive");
	expect_error(ctx, sts[0].MPI_ERROR, MPI_ERR_TRUNCATE,
		     "MPI_Waitall status of 2000 B into 10 B");
	expect_guard(ctx, rbuf, 10, TRUNC_SECOND, "MPI_Waitall: 2000 B into 10 B");
	expect_error(ctx, sts[1].MPI_ERROR, MPI_SUCCESS, "MPI_Waitall status of the next 50 B");
	mc_expect_status(ctx, &sts[1], left, 9, 50, "MPI_Waitall: the 50 B after a truncated one");
	mc_verify(ctx, rbuf + TRUNC_SECOND, 50,
		  mc_seed(ctx, 0x77, (uint64_t)left, (uint64_t)ctx->rank, 5),
		  "MPI_Waitall: the 50 B after a truncated one");

	/* a wildcard receive of 0 bytes: 64 B truncated, then a 0 B message fits */
	trunc_recv_short(ctx, comm, MPI_ANY_SOURCE, MPI_ANY_TAG, 0, false, rbuf,
			 "MPI_Recv(ANY_SOURCE, ANY_TAG) of 64 B into 0 B");
	trunc_recv_ok(ctx, comm, left, 7, 0, rbuf);

	for (int i = 0; i < TRUNC_NMSGS; i++)
		expect_error(ctx, MPI_Wait(&sreq[i], MPI_STATUS_IGNORE), MPI_SUCCESS,
			     "MPI_Wait for a send whose receive was truncated");
	free(rbuf);
	free(sbuf);
	mc_summary(ctx, "MPI_ERR_TRUNCATE from Recv, Wait (1 MiB), Waitall (ERR_IN_STATUS) and "
		   "a 0 B wildcard receive, nothing written past a buffer; each next message intact");
}

/*
 * sizes: for each size, every rank sends to the next rank with the receive posted first
 * (a barrier between), then to the previous rank with the receive posted after MPI_Probe
 * saw the message (unexpected), into a buffer 8 bytes longer than the message.
 */
void mc_check_sizes(struct mc_ctx *ctx, MPI_Comm comm)
{
	static const size_t lens[] = {
		0, 1, 7, 64, 4096, 65535, 65536, 1 << 20, 16 << 20, (16 << 20) + 1, 64 << 20,
	};
	const int nlens = (int)(sizeof(lens) / sizeof(lens[0]));
	size_t max = ctx->opt->max_size;
	int n = ctx->size, right = (ctx->rank + 1) % n, left = (ctx->rank + n - 1) % n, done = 0;
	size_t largest = 0;
	uint8_t *sbuf = mc_alloc(ctx, max);
	uint8_t *rbuf = mc_alloc(ctx, max + 8);

	for (int i = 0; i <= nlens; i++) {
		/* the listed sizes up to --max-size, then --max-size itself if not listed */
		size_t len = i < nlens ? lens[i] : max;
		MPI_Request reqs[2];
		MPI_Status st, sts[2];
		char what[96];

		if (len > max || (i == nlens && len == largest))
			continue;
		largest = len;

		MPI_Irecv(rbuf, (int)len, MPI_BYTE, left, TAG_EARLY, comm, &reqs[0]);
		MPI_Barrier(comm);
		mc_fill(sbuf, len, mc_seed(ctx, 0x51, (uint64_t)ctx->rank, (uint64_t)right, len));
		MPI_Isend(sbuf, (int)len, MPI_BYTE, right, TAG_EARLY, comm, &reqs[1]);
		MPI_Waitall(2, reqs, sts);
		snprintf(what, sizeof(what), "%zu B from rank %d (receive pre-posted)", len, left);
		mc_expect_status(ctx, &sts[0], left, TAG_EARLY, (int)len, what);
		mc_verify(ctx, rbuf, len, mc_seed(ctx, 0x51, (uint64_t)left, (uint64_t)ctx->rank, len),
			  what);

		mc_fill(sbuf, len, mc_seed(ctx, 0x52, (uint64_t)ctx->rank, (uint64_t)left, len));
		MPI_Isend(sbuf, (int)len, MPI_BYTE, left, TAG_LATE, comm, &reqs[1]);
		MPI_Probe(right, TAG_LATE, comm, &st);
		snprintf(what, sizeof(what), "%zu B from rank %d (receive posted late)", len, right);
		mc_expect_status(ctx, &st, right, TAG_LATE, (int)len, what);
		MPI_Recv(rbuf, (int)len + 8, MPI_BYTE, right, TAG_LATE, comm, &st);
		mc_expect_status(ctx, &st, right, TAG_LATE, (int)len, what);
		mc_verify(ctx, rbuf, len, mc_seed(ctx, 0x52, (uint64_t)right, (uint64_t)ctx->rank, len),
			  what);
		MPI_Wait(&reqs[1], MPI_STATUS_IGNORE);
		done++;
	}
	free(rbuf);
	free(sbuf);
	mc_summary(ctx, "%d sizes from 0 B to %zu B, both directions, receives early and late: "
		   "contents right", done, largest);
}
