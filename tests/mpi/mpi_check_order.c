/*
 * mpi_check_order.c — MPI's non-overtaking rule under load.
 *
 * order: in each phase every rank starts `window` nonblocking sends to every other rank,
 * interleaved across receivers, over two communicators and five tags (0 .. 32767), of sizes
 * from 32 B to 64 KiB.  Each payload starts with a header naming the sender, receiver,
 * communicator, tag and the message's position in the sender's stream on that communicator.
 * The receiver knows the schedule (it is a function of the seed) and posts exactly as many
 * receives as messages, in one of five patterns:
 *   specific    every receive names (source, tag)
 *   any_source  MPI_ANY_SOURCE with a tag
 *   any_tag     a source with MPI_ANY_TAG
 *   any_any     MPI_ANY_SOURCE and MPI_ANY_TAG
 *   mixed       some specific receives, then ANY_SOURCE receives for one tag, then
 *               (source, ANY_TAG), then (ANY_SOURCE, ANY_TAG) for the rest
 * Receives are posted before the sends start (after a barrier) in one phase and after the
 * sends (the messages wait as unexpected) in the next.  The mixed order of posting (specific
 * first, then ever wider wildcards, with counts that each kind of receive is sure to find)
 * makes every pattern complete whatever the arrival timing.
 *
 * The check: every message arrives once with the right header, status and payload, and for
 * any two receives R1 posted before R2 that both could match both of two messages from one
 * sender on one communicator, R1 got the earlier one (MPI 4.0 §3.5 "Order": a receive cannot
 * take a message while an earlier matching one from that sender is pending, and a message
 * cannot satisfy a receive while an earlier-posted matching receive is pending).
 *
 * any_source: each rank in turn receives with blocking MPI_Recv(MPI_ANY_SOURCE, tag) and
 * then MPI_Recv(MPI_ANY_SOURCE, MPI_ANY_TAG) the streams of all other ranks, each of which
 * must arrive complete and in order.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"

#define ORDER_MAGIC 0x4f524452u /* "ORDR" */
#define ORDER_NCOMMS 2
#define ORDER_NTAGS 5
#define ORDER_MAX_LEN (65536 + 3)

/* The tags of the order check; 32767 is the largest tag MPI guarantees. */
static const int order_tags[ORDER_NTAGS] = {0, 1, 7, 1000, 32767};

/* Message sizes, each equally likely (the header needs the first 32 bytes). */
static const uint32_t order_lens[16] = {
	32, 33, 40, 64, 100, 128, 256, 512, 1000, 1024, 4000, 4096, 9000, 16385, 32, ORDER_MAX_LEN,
};

/* The start of every order payload; the rest is the pattern of the message's seed. */
struct order_header {
	uint32_t magic;     /* ORDER_MAGIC */
	int32_t src;        /* sender's rank */
	int32_t dst;        /* receiver's rank */
	int32_t comm;       /* index of the communicator it was sent on */
	int32_t tag;        /* tag it was sent with */
	uint32_t index;     /* position in the sender's schedule to this receiver */
	uint32_t comm_seq;  /* position among the sender's messages to this receiver on comm */
	uint32_t len;       /* whole message length in bytes */
};

/* One scheduled message from a sender to a receiver. */
struct order_msg {
	int comm;           /* communicator index */
	int tag_idx;        /* index into order_tags */
	uint32_t len;       /* bytes */
	uint32_t comm_seq;  /* position among the sender's messages to this receiver on comm */
};

/* The receive patterns of a phase. */
enum order_pattern { PAT_SPECIFIC, PAT_ANY_SOURCE, PAT_ANY_TAG, PAT_ANY_ANY, PAT_MIXED, PAT_N };

static const char *const pattern_names[PAT_N] = {
	"specific", "any_source", "any_tag", "any_any", "mixed",
};

/* One posted receive: what it asked for (src/tag may be MPI_ANY_*) and what it got. */
struct order_recv {
	int comm;           /* communicator index */
	int src;            /* source asked for */
	int tag;            /* tag asked for */
	int got_src;        /* sender of the message it received */
	int got_tag;        /* tag of the message it received */
	uint32_t got_seq;   /* comm_seq of the message it received */
};

/* State of one phase on one rank. */
struct order_phase {
	struct mc_ctx *ctx;           /* the run */
	MPI_Comm comms[ORDER_NCOMMS]; /* the two communicators */
	int phase;                    /* phase number (seeds the schedule) */
	enum order_pattern pattern;   /* how this rank posts its receives */
	int window;                   /* messages from each sender to each receiver */
	struct order_msg *sched;      /* [src * window + k]: what src sends to this rank */
	struct order_recv *recvs;     /* receives in posting order */
	int nrecvs;                   /* receives posted (== messages expected) */
	uint64_t rng;                 /* shuffle state */
};

static uint64_t rng_next(uint64_t *state)
{
	*state += 1;
	return mc_mix(*state);
}

/* Message k of the schedule from src to dst in a phase (comm_seq filled by the caller). */
static struct order_msg schedule_one(const struct mc_ctx *ctx, int phase, int src, int dst, int k)
{
	uint64_t r = mc_seed(ctx, 0x0bde, (uint64_t)phase, (uint64_t)src << 32 | (uint32_t)dst,
			     (uint64_t)k);

	return (struct order_msg){
		.comm = (int)(r & 1),
		.tag_idx = (int)((r >> 8) % ORDER_NTAGS),
		.len = order_lens[(r >> 16) & 15],
	};
}

/* Fills out[0..window) with the schedule from src to dst, comm_seq included. */
static void schedule(const struct mc_ctx *ctx, int phase, int src, int dst, int window,
		     struct order_msg *out)
{
	uint32_t seq[ORDER_NCOMMS] = {0};

	for (int k = 0; k < window; k++) {
		out[k] = schedule_one(ctx, phase, src, dst, k);
		out[k].comm_seq = seq[out[k].comm]++;
	}
}

static uint64_t payload_seed(const struct mc_ctx *ctx, int phase, int src, int dst, int k)
{
	return mc_seed(ctx, 0x0bd1, (uint64_t)phase, (uint64_t)src << 32 | (uint32_t)dst,
		       (uint64_t)k);
}

static void add_recv(struct order_phase *ph, int comm, int src, int tag, int count)
{
	for (int i = 0; i < count; i++)
		ph->recvs[ph->nrecvs++] = (struct order_recv){.comm = comm, .src = src, .tag = tag};
}

/* Shuffles recvs[from, nrecvs): order within a kind of receive does not matter. */
static void shuffle_from(struct order_phase *ph, int from)
{
	for (int i = ph->nrecvs - 1; i > from; i--) {
		int j = from + (int)(rng_next(&ph->rng) % (uint64_t)(i - from + 1));
		struct order_recv t = ph->recvs[i];

		ph->recvs[i] = ph->recvs[j];
		ph->recvs[j] = t;
	}
}

/*
 * Builds the receive list for ph->pattern in posting order: specific receives, then
 * (ANY_SOURCE, tag) for the tags in any_source_tags, then (source, ANY_TAG), then
 * (ANY_SOURCE, ANY_TAG).  Counts: specific receives take a prefix of their (source, tag)
 * stream; ANY_SOURCE receives of tag t take every other message of tag t; (source, ANY_TAG)
 * receives take at most the messages of that source whose tags no earlier kind covers; the
 * full wildcards take the rest.  Each kind is posted after the narrower ones that could take
 * its messages, so every receive finds a message whatever the timing.
 */
static void plan_receives(struct order_phase *ph)
{
	struct mc_ctx *ctx = ph->ctx;
	int n = ctx->size;
	/* messages no receive is planned for yet, per (source, comm, tag) */
	int (*left)[ORDER_NCOMMS][ORDER_NTAGS] = mc_alloc(ctx, sizeof(*left) * (size_t)n);
	bool any_source_tag[ORDER_NTAGS] = {false};
	int start;

	memset(left, 0, sizeof(*left) * (size_t)n);
	for (int s = 0; s < n; s++)
		for (int k = 0; s != ctx->rank && k < ph->window; k++) {
			const struct order_msg *m = &ph->sched[s * ph->window + k];

			left[s][m->comm][m->tag_idx]++;
		}
	ph->nrecvs = 0;

	/* specific (source, tag) */
	for (int s = 0; s < n; s++)
		for (int c = 0; c < ORDER_NCOMMS; c++)
			for (int t = 0; t < ORDER_NTAGS; t++) {
				int k = 0;

				if (ph->pattern == PAT_SPECIFIC)
					k = left[s][c][t];
				else if (ph->pattern == PAT_MIXED)
					k = (int)(rng_next(&ph->rng) % (uint64_t)(left[s][c][t] / 2 + 1));
				add_recv(ph, c, s, order_tags[t], k);
				left[s][c][t] -= k;
			}
	shuffle_from(ph, 0);

	/* (ANY_SOURCE, tag) */
	for (int t = 0; t < ORDER_NTAGS; t++)
		any_source_tag[t] = ph->pattern == PAT_ANY_SOURCE || (ph->pattern == PAT_MIXED && t == 0);
	start = ph->nrecvs;
	for (int c = 0; c < ORDER_NCOMMS; c++)
		for (int t = 0; t < ORDER_NTAGS; t++) {
			int k = 0;

			for (int s = 0; any_source_tag[t] && s < n; s++) {
				k += left[s][c][t];
				left[s][c][t] = 0;
			}
			add_recv(ph, c, MPI_ANY_SOURCE, order_tags[t], k);
		}
	shuffle_from(ph, start);

	/* (source, ANY_TAG) and (ANY_SOURCE, ANY_TAG) */
	start = ph->nrecvs;
	int rest[ORDER_NCOMMS] = {0};

	for (int s = 0; s < n; s++)
		for (int c = 0; c < ORDER_NCOMMS; c++) {
			int eligible = 0, k;

			for (int t = 0; t < ORDER_NTAGS; t++)
				eligible += left[s][c][t];
			if (ph->pattern == PAT_ANY_TAG)
				k = eligible;
			else if (ph->pattern == PAT_MIXED)
				k = (int)(rng_next(&ph->rng) % (uint64_t)(eligible + 1));
			else
				k = 0;
			add_recv(ph, c, s, MPI_ANY_TAG, k);
			rest[c] += eligible - k;
		}
	shuffle_from(ph, start);
	start = ph->nrecvs;
	for (int c = 0; c < ORDER_NCOMMS; c++)
		add_recv(ph, c, MPI_ANY_SOURCE, MPI_ANY_TAG, rest[c]);
	shuffle_from(ph, start);
	free(left);
}

/* Starts this rank's sends of the phase, interleaved across receivers. */
static void start_sends(struct order_phase *ph, uint8_t *sbuf, MPI_Request *reqs)
{
	struct mc_ctx *ctx = ph->ctx;
	int n = ctx->size, nreq = 0;
	struct order_msg *mine = mc_alloc(ctx, sizeof(*mine) * (size_t)ph->window * (size_t)n);

	for (int d = 0; d < n; d++)
		if (d != ctx->rank)
			schedule(ctx, ph->phase, ctx->rank, d, ph->window, &mine[d * ph->window]);
	for (int k = 0; k < ph->window; k++)
		for (int j = 1; j < n; j++) {
			int d = (ctx->rank + j) % n;
			const struct order_msg *m = &mine[d * ph->window + k];
			uint8_t *buf = sbuf + (size_t)nreq * ORDER_MAX_LEN;
			struct order_header h = {
				.magic = ORDER_MAGIC, .src = ctx->rank, .dst = d, .comm = m->comm,
				.tag = order_tags[m->tag_idx], .index = (uint32_t)k,
				.comm_seq = m->comm_seq, .len = m->len,
			};

			memcpy(buf, &h, sizeof(h));
			mc_fill(buf + sizeof(h), m->len - sizeof(h),
				payload_seed(ctx, ph->phase, ctx->rank, d, k));
			MPI_Isend(buf, (int)m->len, MPI_BYTE, d, h.tag, ph->comms[m->comm],
				  &reqs[nreq++]);
		}
	free(mine);
}

/* Checks one completed receive against the schedule and records what it got. */
static void check_received(struct order_phase *ph, struct order_recv *r, const uint8_t *buf,
			   const MPI_Status *st, bool *seen)
{
	struct mc_ctx *ctx = ph->ctx;
	struct order_header h;
	int count = mc_count(ctx, st);
	char what[96];

	if (count < (int)sizeof(h))
		mc_fail(ctx, "phase %d: a receive (src %d tag %d) got %d bytes, less than a header",
			ph->phase, r->src, r->tag, count);
	memcpy(&h, buf, sizeof(h));
	if (h.magic != ORDER_MAGIC || h.dst != ctx->rank || h.src < 0 || h.src >= ctx->size ||
	    h.src == ctx->rank || h.index >= (uint32_t)ph->window)
		mc_fail(ctx, "phase %d: received a bad header (magic 0x%x src %d dst %d index %u)",
			ph->phase, h.magic, h.src, h.dst, h.index);
	snprintf(what, sizeof(what), "phase %d message %u from rank %d", ph->phase, h.index,
		 h.src);

	const struct order_msg *m = &ph->sched[h.src * ph->window + (int)h.index];

	if (h.comm != m->comm || h.tag != order_tags[m->tag_idx] || h.len != m->len ||
	    h.comm_seq != m->comm_seq)
		mc_fail(ctx, "%s: header says comm %d tag %d len %u seq %u, schedule says comm %d "
			"tag %d len %u seq %u", what, h.comm, h.tag, h.len, h.comm_seq, m->comm,
			order_tags[m->tag_idx], m->len, m->comm_seq);
	if (h.comm != r->comm)
		mc_fail(ctx, "%s: sent on communicator %d, received by a receive on communicator %d",
			what, h.comm, r->comm);
	mc_expect_status(ctx, st, h.src, h.tag, (int)h.len, what);
	if ((r->src != MPI_ANY_SOURCE && r->src != h.src) ||
	    (r->tag != MPI_ANY_TAG && r->tag != h.tag))
		mc_fail(ctx, "%s (tag %d) matched a receive for source %d tag %d", what, h.tag,
			r->src, r->tag);
	if (seen[h.src * ph->window + (int)h.index])
		mc_fail(ctx, "%s received twice", what);
	seen[h.src * ph->window + (int)h.index] = true;
	mc_verify(ctx, buf + sizeof(h), h.len - sizeof(h),
		  payload_seed(ctx, ph->phase, h.src, ctx->rank, (int)h.index), what);
	r->got_src = h.src;
	r->got_tag = h.tag;
	r->got_seq = h.comm_seq;
}

static bool matches_tag(int want, int tag)
{
	return want == MPI_ANY_TAG || want == tag;
}

/*
 * The non-overtaking rule over the phase's receives in posting order: two receives that
 * got messages from one sender on one communicator, each of which could have matched the
 * other's message, got them in send order.
 */
static void check_order(struct order_phase *ph)
{
	for (int i = 0; i < ph->nrecvs; i++) {
		const struct order_recv *a = &ph->recvs[i];

		for (int j = i + 1; j < ph->nrecvs; j++) {
			const struct order_recv *b = &ph->recvs[j];

			if (a->comm != b->comm || a->got_src != b->got_src ||
			    !matches_tag(a->tag, b->got_tag) || !matches_tag(b->tag, a->got_tag))
				continue;
			if (a->got_seq >= b->got_seq)
				mc_fail(ph->ctx, "phase %d (%s receives): overtaking: receive #%d (src %d "
					"tag %d) got message %u of rank %d on comm %d, later receive #%d "
					"(src %d tag %d) got earlier message %u", ph->phase,
					pattern_names[ph->pattern], i, a->src, a->tag, a->got_seq,
					a->got_src, a->comm, j, b->src, b->tag, b->got_seq);
		}
	}
}

void mc_check_order(struct mc_ctx *ctx, MPI_Comm comm)
{
	int n = ctx->size, window = ctx->opt->window;
	int nmsg = window * (n - 1);
	struct order_phase ph = {.ctx = ctx, .window = window};
	uint8_t *sbuf = mc_alloc(ctx, (size_t)nmsg * ORDER_MAX_LEN);
	uint8_t *rbuf = mc_alloc(ctx, (size_t)nmsg * ORDER_MAX_LEN);
	MPI_Request *reqs = mc_alloc(ctx, sizeof(*reqs) * (size_t)nmsg * 2);
	MPI_Status *stats = mc_alloc(ctx, sizeof(*stats) * (size_t)nmsg * 2);
	bool *seen = mc_alloc(ctx, sizeof(*seen) * (size_t)window * (size_t)n);
	int phases = PAT_N * ctx->opt->rounds;

	ph.sched = mc_alloc(ctx, sizeof(*ph.sched) * (size_t)window * (size_t)n);
	ph.recvs = mc_alloc(ctx, sizeof(*ph.recvs) * (size_t)nmsg);
	for (int c = 0; c < ORDER_NCOMMS; c++)
		MPI_Comm_dup(comm, &ph.comms[c]);

	for (ph.phase = 0; ph.phase < phases; ph.phase++) {
		bool prepost = ph.phase % 2 == 0;
		MPI_Request *rreq = reqs, *sreq = reqs + nmsg;

		/* the ranks use different patterns in the same phase */
		ph.pattern = (enum order_pattern)((ph.phase + ctx->rank) % PAT_N);
		ph.rng = mc_seed(ctx, 0x5a5a, (uint64_t)ph.phase, (uint64_t)ctx->rank, 0);
		for (int s = 0; s < n; s++)
			if (s != ctx->rank)
				schedule(ctx, ph.phase, s, ctx->rank, window, &ph.sched[s * window]);
		plan_receives(&ph);
		if (ph.nrecvs != nmsg)
			mc_fail(ctx, "phase %d: planned %d receives for %d messages", ph.phase,
				ph.nrecvs, nmsg);
		if (!prepost)
			start_sends(&ph, sbuf, sreq);
		for (int i = 0; i < nmsg; i++) {
			const struct order_recv *r = &ph.recvs[i];

			MPI_Irecv(rbuf + (size_t)i * ORDER_MAX_LEN, ORDER_MAX_LEN, MPI_BYTE, r->src,
				  r->tag, ph.comms[r->comm], &rreq[i]);
		}
		/* a collective on a communicator with wildcard receives pending: they must not
		 * take its messages */
		MPI_Barrier(ph.comms[ph.phase % ORDER_NCOMMS]);
		if (prepost)
			start_sends(&ph, sbuf, sreq);
		MPI_Waitall(2 * nmsg, reqs, stats);
		/* nobody starts the next phase's sends while a rank still has receives of this
		 * one pending (its wildcards would take them) */
		MPI_Barrier(comm);
		memset(seen, 0, sizeof(*seen) * (size_t)window * (size_t)n);
		for (int i = 0; i < nmsg; i++)
			check_received(&ph, &ph.recvs[i], rbuf + (size_t)i * ORDER_MAX_LEN, &stats[i],
				       seen);
		check_order(&ph);
	}
	for (int c = 0; c < ORDER_NCOMMS; c++)
		MPI_Comm_free(&ph.comms[c]);
	mc_summary(ctx, "%d phases x %d messages per rank (%d in flight per peer, %d tags, %d "
		   "comms, 5 receive patterns, pre-posted and unexpected): in order", phases, nmsg,
		   window, ORDER_NTAGS, ORDER_NCOMMS);
	free(ph.sched);
	free(ph.recvs);
	free(seen);
	free(stats);
	free(reqs);
	free(rbuf);
	free(sbuf);
}

/*
 * any_source: rank `root` receives `count` messages from each other rank with blocking
 * receives from MPI_ANY_SOURCE (first with a fixed tag, then with MPI_ANY_TAG over three
 * tags); every sender's stream must arrive whole and in order.
 */
static void any_source_round(struct mc_ctx *ctx, MPI_Comm comm, int root, bool any_tag,
			     int count, uint8_t *buf)
{
	int n = ctx->size;
	const int len_max = 2048;

	if (ctx->rank != root) {
		MPI_Request *reqs = mc_alloc(ctx, sizeof(*reqs) * (size_t)count);

		for (int k = 0; k < count; k++) {
			uint8_t *p = buf + (size_t)k * len_max;
			int len = 8 + (int)(mc_seed(ctx, 0xa5, (uint64_t)root, (uint64_t)ctx->rank,
						    (uint64_t)k) % (len_max - 8));
			uint32_t hdr[2] = {(uint32_t)ctx->rank, (uint32_t)k};

			memcpy(p, hdr, sizeof(hdr));
			mc_fill(p + 8, (size_t)len - 8,
				mc_seed(ctx, 0xa6, (uint64_t)root, (uint64_t)ctx->rank, (uint64_t)k));
			MPI_Isend(p, len, MPI_BYTE, root, any_tag ? 301 + k % 3 : 300, comm,
				  &reqs[k]);
		}
		MPI_Waitall(count, reqs, MPI_STATUSES_IGNORE);
		free(reqs);
		return;
	}

	int *next = mc_alloc(ctx, sizeof(*next) * (size_t)n);

	memset(next, 0, sizeof(*next) * (size_t)n);
	for (int i = 0; i < count * (n - 1); i++) {
		MPI_Status st;
		uint32_t hdr[2];
		char what[96];

		MPI_Recv(buf, len_max, MPI_BYTE, MPI_ANY_SOURCE, any_tag ? MPI_ANY_TAG : 300, comm,
			 &st);
		int s = st.MPI_SOURCE;

		if (s < 0 || s >= n || s == root || next[s] >= count)
			mc_fail(ctx, "root %d: ANY_SOURCE receive #%d from unexpected source %d", root,
				i, s);
		int k = next[s]++;
		int len = 8 + (int)(mc_seed(ctx, 0xa5, (uint64_t)root, (uint64_t)s, (uint64_t)k) %
				    (len_max - 8));

		snprintf(what, sizeof(what), "root %d %s receive #%d", root,
			 any_tag ? "ANY_SOURCE+ANY_TAG" : "ANY_SOURCE", i);
		mc_expect_status(ctx, &st, s, any_tag ? 301 + k % 3 : 300, len, what);
		memcpy(hdr, buf, sizeof(hdr));
		if (hdr[0] != (uint32_t)s || hdr[1] != (uint32_t)k)
			mc_fail(ctx, "%s: got message %u of rank %u, expected message %d of rank %d "
				"(out of order)", what, hdr[1], hdr[0], k, s);
		mc_verify(ctx, buf + 8, (size_t)len - 8,
			  mc_seed(ctx, 0xa6, (uint64_t)root, (uint64_t)s, (uint64_t)k), what);
	}
	free(next);
}

void mc_check_any_source(struct mc_ctx *ctx, MPI_Comm comm)
{
	int count = ctx->opt->window;
	uint8_t *buf = mc_alloc(ctx, (size_t)count * 2048);

	for (int root = 0; root < ctx->size; root++)
		for (int any_tag = 0; any_tag < 2; any_tag++)
			any_source_round(ctx, comm, root, any_tag, count, buf);
	free(buf);
	mc_summary(ctx, "each rank took %d messages from each of %d senders with blocking "
		   "ANY_SOURCE, then ANY_SOURCE+ANY_TAG receives: complete and in order", count,
		   ctx->size - 1);
}
