/*
 * xfer — the application the integration tests run against srdd, through libsrd only.
 *
 *   xfer recv --socket S [--local IP] --addr-file F --count N [--seed X] [--timeout-ms T]
 *             [--expect-order] [--extra E] [--reattach] [--results R]
 *   xfer send --socket S [--local IP] --to IP:EP --count N [--seed X] [--max-size B]
 *             [--window W] [--ordered] [--timeout-ms T] [--reattach] [--results R]
 *
 * Message i (the tag) has a size drawn log-uniformly in [1, max-size] (with
 * XFER_EMPTY_EVERY=K in the environment, every K-th is empty) and bytes that are a function of (seed, i), so the receiver checks every byte and counts
 * every message's deliveries: exactly once, intact.  Half the messages go zero-copy from
 * region buffers, half from the heap (copied), some in 3 pieces.  Each side prints one JSON
 * line at the end (the sender's says where it stalled: "stalls_ms"); the exit status is 0
 * only if everything it saw was right.
 *
 * --extra E: the receiver also waits for E messages from another app (badapp): an extra
 * message has bit 63 of its tag set, its length as immediate data and byte b equal to
 * XFER_EXTRA_BYTE(b).  They are counted apart from the transfer; without --extra such a
 * message counts as bad.
 *
 * --reattach: when libsrd says -ENOTCONN (the daemon died), take what srdc_poll still
 * returns, count the sends still pending as failed with -ENOTCONN (they may or may not have
 * arrived), detach, attach again every 50 ms until the daemon is back (or the timeout), reopen
 * the endpoint and go on: a sender with the messages it has not sent yet, a receiver on the
 * same address (a fresh daemon hands out endpoint 1 first; another address fails).  The
 * sender then succeeds once every message is decided, ok or failed; the receiver also stops
 * on SIGTERM (once it has taken what its completion ring holds) and succeeds without --count
 * messages, so long as none was bad or duplicated.
 * Both add "reattached" to their JSON; the sender also "errors", its failures by status, and
 * "resumed_at", the first message sent after the first reattach (-1: none); the receiver
 * "after_reattach", messages received after it reattached, and "addr_changed".
 *
 * --results R: at the end, write one byte per message to file R: the sender 0 (not sent),
 * 1 (ok), 2 (failed), 3 (sent, no completion before the timeout); the receiver how many
 * times it arrived (at most 255).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srd.h"

#define XFER_EXTRA_TAG (1ull << 63)
#define XFER_EXTRA_BYTE(b) ((uint8_t)(0xa5u ^ (uint8_t)(b)))

/* Command-line settings. */
struct opts {
	int send;              /* 1: send, 0: receive */
	const char *socket;    /* daemon's control socket */
	uint32_t local;        /* local address (0: the daemon's first) */
	const char *addr_file; /* recv: where to write our address */
	struct srdc_addr to;   /* send: destination */
	uint32_t count;        /* messages */
	uint64_t seed;         /* contents and sizes */
	uint32_t max_size;     /* largest message */
	uint32_t window;       /* sends outstanding */
	uint32_t empty_every;  /* every K-th message empty (0: none) */
	int ordered;           /* send: SRDC_ORDERED endpoint; recv: count arrivals out of order */
	int64_t timeout_ms;    /* give up after this long */
	uint32_t extra;        /* recv: messages from other apps to wait for (see above) */
	int reattach;          /* survive a daemon restart (see above) */
	const char *results;   /* file for the per-message results (see above) */
};

/* The attachment and its endpoint (replaced by --reattach). */
struct conn {
	struct srdc *h;
	struct srdc_ep *ep;
	uint32_t reattached; /* times */
};

static volatile sig_atomic_t stop; /* recv --reattach: SIGTERM */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Size of message i: log-uniform in [1, max], but with XFER_EMPTY_EVERY=K every K-th message is
 * empty (small ones travel packed, an empty one too). */
static uint32_t msg_size(const struct opts *o, uint32_t i)
{
	if (o->empty_every && i % o->empty_every == o->empty_every - 1)
		return 0;
	double u = (double)(mix(o->seed ^ ((uint64_t)i << 20) ^ 0x5151) >> 11) * 0x1.0p-53;
	double v = exp(u * log((double)o->max_size));
	uint32_t n = (uint32_t)v;

	return n < 1 ? 1 : n > o->max_size ? o->max_size : n;
}

static uint8_t msg_byte(const struct opts *o, uint32_t i, uint32_t off)
{
	return (uint8_t)(mix(o->seed * 31 + i) >> ((off % 8) * 8)) ^ (uint8_t)(off / 8);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' }, { "local", required_argument, NULL, 'l' },
		{ "addr-file", required_argument, NULL, 'a' }, { "to", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 'x' },
		{ "max-size", required_argument, NULL, 'm' }, { "window", required_argument, NULL, 'w' },
		{ "ordered", no_argument, NULL, 'o' }, { "timeout-ms", required_argument, NULL, 'T' },
		{ "expect-order", no_argument, NULL, 'o' }, { "extra", required_argument, NULL, 'e' },
		{ "reattach", no_argument, NULL, 'R' }, { "results", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->count = 100;
	o->seed = 1;
	o->max_size = 1u << 20;
	o->window = 32;
	if (getenv("XFER_EMPTY_EVERY")) /* both ends must agree: the tests set it for both */
		o->empty_every = (uint32_t)strtoul(getenv("XFER_EMPTY_EVERY"), NULL, 0);
	o->timeout_ms = 60000;
	if (argc < 2)
		return -EINVAL;
	o->send = !strcmp(argv[1], "send");
	if (!o->send && strcmp(argv[1], "recv"))
		return -EINVAL;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'l': {
			struct in_addr ia;

			if (inet_pton(AF_INET, optarg, &ia) != 1)
				return -EINVAL;
			o->local = ntohl(ia.s_addr);
			break;
		}
		case 'a': o->addr_file = optarg; break;
		case 't':
			if (srdc_addr_parse(optarg, &o->to))
				return -EINVAL;
			break;
		case 'n': o->count = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'x': o->seed = strtoull(optarg, NULL, 0); break;
		case 'm': o->max_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'w': o->window = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'o': o->ordered = 1; break;
		case 'T': o->timeout_ms = strtoll(optarg, NULL, 0); break;
		case 'e': o->extra = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'R': o->reattach = 1; break;
		case 'r': o->results = optarg; break;
		default: return -EINVAL;
		}
	}
	if (!o->socket || !o->count || !o->max_size || !o->window || o->max_size > (16u << 20))
		return -EINVAL;
	if (o->send ? o->to.ipv4 == 0 : o->addr_file == NULL)
		return -EINVAL;
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_results(const struct opts *o, const uint8_t *res)
{
	FILE *f;

	if (!o->results)
		return 0;
	f = fopen(o->results, "w");
	if (!f || fwrite(res, 1, o->count, f) != o->count || fclose(f)) {
		fprintf(stderr, "xfer: %s: %s\n", o->results, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* Attach to the daemon and open the endpoint.  quiet: say nothing on failure. */
static int conn_open(struct conn *c, const struct opts *o, int quiet)
{
	int rc = srdc_attach(o->socket, o->send ? "xfer-send" : "xfer-recv", &c->h);

	if (rc) {
		if (!quiet)
			fprintf(stderr, "xfer: attach %s: %s\n", o->socket, strerror(-rc));
		c->h = NULL;
		return rc;
	}
	rc = srdc_ep_open(c->h, o->local, o->ordered ? SRDC_ORDERED : 0, &c->ep);
	if (rc) {
		if (!quiet)
			fprintf(stderr, "xfer: endpoint: %s\n", strerror(-rc));
		srdc_detach(c->h);
		c->h = NULL;
	}
	return rc;
}

/* --reattach: the daemon is gone.  Detach, then attach again every 50 ms until it is back
 * (or the deadline, or SIGTERM), with a new endpoint. */
static int conn_reattach(struct conn *c, const struct opts *o, int64_t deadline)
{
	struct timespec pause = { 0, 50 * 1000000 };
	int rc;

	srdc_detach(c->h);
	c->h = NULL;
	c->ep = NULL;
	while ((rc = conn_open(c, o, 1)) != 0) {
		if (stop || now_ms() >= deadline) {
			fprintf(stderr, "xfer: reattach %s: %s\n", o->socket,
				stop ? "stopped" : strerror(-rc));
			return stop ? -EINTR : rc;
		}
		nanosleep(&pause, NULL);
	}
	c->reattached++;
	return 0;
}

/* One send in flight. */
struct pending {
	void *region_buf; /* zero-copy buffer to free at completion, or NULL */
	uint8_t *heap;    /* copied buffer, or NULL */
	uint32_t idx;     /* message index */
	int busy;
};

/* Sender's failures by status: errs[-status] (errs[0]: statuses out of range). */
#define XFER_NERRS 256

static void count_failure(uint32_t *errs, int status)
{
	errs[status < 0 && status > -XFER_NERRS ? -status : 0]++;
}

/* The sender's stalls: spells of STALL_MS or more with no submission accepted and no
 * completion reaped (srdd stopped, or something held the messages), as [start, length,
 * messages in flight during it] in ms from the start of the transfer (in flight below the
 * window: the app could not submit; at it: srdd held them); the first STALL_MAX of them. */
#define STALL_MS 200
#define STALL_MAX 8
struct stalls {
	int64_t start, last;     /* the transfer's start; the latest progress */
	int64_t at[STALL_MAX][3];
	uint32_t n;
};

static void stall_progress(struct stalls *st, uint32_t inflight)
{
	int64_t now = now_ms();

	if (now - st->last >= STALL_MS && st->n < STALL_MAX) {
		st->at[st->n][0] = st->last - st->start;
		st->at[st->n][1] = now - st->last;
		st->at[st->n][2] = inflight;
		st->n++;
	}
	st->last = now;
}

static int do_send(struct conn *c, const struct opts *o)
{
	struct pending *pend = calloc(o->window, sizeof(*pend));
	uint8_t *res = calloc(o->count, 1);
	uint32_t errs[XFER_NERRS] = { 0 };
	struct srdc_completion comp[32];
	uint32_t next = 0, done = 0, ok = 0, failed = 0, inflight = 0;
	int64_t deadline = now_ms() + o->timeout_ms, resumed_at = -1;
	struct stalls stalls = { .start = now_ms() };
	int first_err = 0, rc = 0;

	stalls.last = stalls.start;
	if (!pend || !res) {
		free(pend);
		free(res);
		return -ENOMEM;
	}
	while (done < o->count && now_ms() < deadline) {
		while (next < o->count && inflight < o->window) {
			uint32_t slot = 0, len = msg_size(o, next);
			struct srdc_iov iov[3];
			unsigned niov = 1;
			uint8_t *p;

			while (pend[slot].busy)
				slot++;
			/* even messages zero-copy from the region, odd ones copied from the heap */
			if (next % 2 == 0 && (p = srdc_buf_alloc(c->h, len)) != NULL) {
				pend[slot].region_buf = p;
			} else {
				p = malloc(len);
				pend[slot].heap = p;
				if (!p) {
					rc = -ENOMEM;
					goto out;
				}
			}
			for (uint32_t b = 0; b < len; b++)
				p[b] = msg_byte(o, next, b);
			if (next % 3 == 0 && len >= 3) { /* three pieces */
				iov[0] = (struct srdc_iov){ p, len / 3 };
				iov[1] = (struct srdc_iov){ p + len / 3, len / 3 };
				iov[2] = (struct srdc_iov){ p + 2 * (len / 3), len - 2 * (len / 3) };
				niov = 3;
			} else {
				iov[0] = (struct srdc_iov){ p, len };
			}
			rc = srdc_send(c->ep, &o->to, iov, niov, next, (uint64_t)next * 7, &pend[slot]);
			if (rc == -EAGAIN || (rc == -ENOTCONN && o->reattach)) {
				/* -ENOTCONN: srdc_poll says so too, once it has returned the rest */
				srdc_buf_free(c->h, pend[slot].region_buf);
				free(pend[slot].heap);
				pend[slot] = (struct pending){ 0 };
				break;
			}
			if (rc)
				goto out;
			/* a copied message's bytes may be reused at once */
			free(pend[slot].heap);
			pend[slot].heap = NULL;
			pend[slot].idx = next;
			pend[slot].busy = 1;
			res[next] = 3;
			next++;
			stall_progress(&stalls, inflight);
			inflight++;
		}
		int n = srdc_poll(c->h, comp, 32);

		if (n == -ENOTCONN && o->reattach) {
			/* the daemon died: the sends it did not complete may or may not have
			   arrived; they count as failed */
			for (uint32_t s = 0; s < o->window; s++) {
				if (!pend[s].busy)
					continue;
				srdc_buf_free(c->h, pend[s].region_buf);
				res[pend[s].idx] = 2;
				count_failure(errs, -ENOTCONN);
				if (!first_err)
					first_err = -ENOTCONN;
				pend[s] = (struct pending){ 0 };
				failed++;
				inflight--;
				done++;
			}
			rc = conn_reattach(c, o, deadline);
			if (rc)
				goto out;
			if (resumed_at < 0)
				resumed_at = next;
			continue;
		}
		if (n < 0) {
			rc = n;
			goto out;
		}
		if (n > 0)
			stall_progress(&stalls, inflight);
		for (int i = 0; i < n; i++) {
			struct pending *pd = comp[i].ctx;

			if (comp[i].kind != SRDC_SEND)
				continue;
			if (comp[i].status == 0) {
				ok++;
				res[pd->idx] = 1;
			} else {
				failed++;
				res[pd->idx] = 2;
				count_failure(errs, comp[i].status);
				if (!first_err)
					first_err = comp[i].status;
			}
			srdc_buf_free(c->h, pd->region_buf);
			*pd = (struct pending){ 0 };
			inflight--;
			done++;
		}
		if (n == 0 && inflight)
			srdc_wait(c->h, 10);
	}
	rc = 0;
out:
	printf("{\"role\":\"send\",\"count\":%u,\"sent\":%u,\"ok\":%u,\"failed\":%u,\"first_error\":%d,",
	       o->count, next, ok, failed, first_err);
	printf("\"stalls_ms\":[");
	for (uint32_t k = 0; k < stalls.n; k++)
		printf("%s[%lld,%lld,%lld]", k ? "," : "", (long long)stalls.at[k][0],
		       (long long)stalls.at[k][1], (long long)stalls.at[k][2]);
	printf("],");
	if (o->reattach || o->results) {
		const char *sep = "";

		printf("\"errors\":{");
		for (int k = 1; k < XFER_NERRS; k++) {
			if (errs[k]) {
				printf("%s\"%d\":%u", sep, -k, errs[k]);
				sep = ",";
			}
		}
		if (errs[0])
			printf("%s\"other\":%u", sep, errs[0]);
		printf("},\"reattached\":%u,\"resumed_at\":%" PRId64 ",", c->reattached, resumed_at);
	}
	printf("\"rc\":%d}\n", rc);
	fflush(stdout);
	for (uint32_t s = 0; s < o->window; s++)
		if (pend[s].busy)
			srdc_buf_free(c->h, pend[s].region_buf);
	free(pend);
	if (write_results(o, res) && !rc)
		rc = -EIO;
	free(res);
	if (o->reattach) /* failures allowed, but every message decided */
		return rc == 0 && ok + failed == o->count ? 0 : 1;
	return rc == 0 && ok == o->count ? 0 : 1;
}

static int do_recv(struct conn *cn, const struct opts *o)
{
	uint8_t *seen = calloc(o->count, 1);
	struct srdc_completion comp[32];
	struct srdc_addr me = srdc_ep_addr(cn->ep);
	uint32_t got = 0, bad = 0, dups = 0, out_of_order = 0, extra = 0, extra_bad = 0, after = 0;
	uint64_t next_expected = 0;
	int64_t deadline = now_ms() + o->timeout_ms;
	int rc = 0, moved = 0, wr;

	if (!seen)
		return -ENOMEM;
	while ((got < o->count || extra < o->extra) && now_ms() < deadline) {
		int n = srdc_poll(cn->h, comp, 32);

		/* SIGTERM: stop once the completion ring is empty.  What the daemon acked is in
		 * the ring already (it delivers before it acks), so a slow receiver stopped right
		 * after the sender finished must still take it, or it counts as lost */
		if (stop && n == 0)
			break;

		if (n == -ENOTCONN && o->reattach) {
			struct srdc_addr now;

			rc = conn_reattach(cn, o, deadline);
			if (rc) {
				if (stop)
					rc = 0;
				break;
			}
			now = srdc_ep_addr(cn->ep);
			if (now.ipv4 != me.ipv4 || now.ep != me.ep) {
				char buf[SRDC_ADDR_STRLEN];

				srdc_addr_format(&now, buf, sizeof(buf));
				fprintf(stderr, "xfer: reattached at another address, %s\n", buf);
				moved = 1;
				break;
			}
			continue;
		}
		if (n < 0) {
			rc = n;
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct srdc_completion *c = &comp[i];
			uint64_t idx = c->tag;
			int ok;

			if (c->kind != SRDC_RECV)
				continue;
			if (o->extra && (idx & XFER_EXTRA_TAG)) { /* another app's message */
				ok = c->status == 0 && c->imm == c->len;
				for (uint32_t b = 0; ok && b < c->len; b++)
					ok = ((const uint8_t *)c->buf)[b] == XFER_EXTRA_BYTE(b);
				if (ok)
					extra++;
				else
					extra_bad++;
				if (c->buf)
					srdc_recv_done(cn->h, c->buf);
				continue;
			}
			ok = idx < o->count && c->len == msg_size(o, (uint32_t)idx) &&
			     c->imm == idx * 7;
			for (uint32_t b = 0; ok && b < c->len; b++)
				ok = ((const uint8_t *)c->buf)[b] == msg_byte(o, (uint32_t)idx, b);
			if (!ok)
				bad++;
			else if (seen[idx])
				dups++;
			else
				got++;
			if (ok && cn->reattached)
				after++;
			if (ok && seen[idx] < 255)
				seen[idx]++;
			if (ok && o->ordered) {
				/* send-after-send: no message arrives after one sent later (one that
				 * failed at the sender may be missing: a restart) */
				if (idx < next_expected)
					out_of_order++;
				else
					next_expected = idx + 1;
			}
			srdc_recv_done(cn->h, c->buf);
		}
		if (n == 0)
			srdc_wait(cn->h, 10);
	}
	printf("{\"role\":\"recv\",\"count\":%u,\"received\":%u,\"bad\":%u,\"duplicates\":%u,"
	       "\"out_of_order\":%u,\"extra\":%u,\"extra_bad\":%u,", o->count, got, bad, dups,
	       out_of_order, extra, extra_bad);
	if (o->reattach)
		printf("\"reattached\":%u,\"after_reattach\":%u,\"addr_changed\":%d,",
		       cn->reattached, after, moved);
	printf("\"rc\":%d}\n", rc);
	fflush(stdout);
	wr = write_results(o, seen);
	free(seen);
	if (o->reattach) /* a short count is allowed: the daemon lost some */
		return rc == 0 && !wr && !moved && bad == 0 && dups == 0 && extra_bad == 0 ? 0 : 1;
	return !wr && got == o->count && bad == 0 && dups == 0 && out_of_order == 0 &&
	       extra == o->extra && extra_bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct conn c = { 0 };
	struct opts o;
	int rc;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: xfer send|recv --socket S ... (see the source)\n");
		return 2;
	}
	if (o.reattach && !o.send) {
		/* no SA_RESTART: srdc_wait returns -EINTR at once */
		struct sigaction sa = { .sa_handler = on_term };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (conn_open(&c, &o, 0))
		return 1;
	if (!o.send) {
		char buf[SRDC_ADDR_STRLEN];
		struct srdc_addr me = srdc_ep_addr(c.ep);
		FILE *f = fopen(o.addr_file, "w");

		srdc_addr_format(&me, buf, sizeof(buf));
		if (!f || fprintf(f, "%s\n", buf) < 0 || fclose(f)) {
			fprintf(stderr, "xfer: %s: %s\n", o.addr_file, strerror(errno));
			srdc_detach(c.h);
			return 1;
		}
		rc = do_recv(&c, &o);
	} else {
		rc = do_send(&c, &o);
	}
	if (c.h) {
		srdc_ep_close(c.ep);
		srdc_detach(c.h);
	}
	return rc;
}
