/*
 * perf_pair.c — srd-perf lat --pair: one thread holds both ends of the ping-pong; and the
 * two ends every --pair run opens (perf_pair.h; bw and rate --pair: perf_pair_bw.c).
 *
 * It opens endpoint A on the daemon address --local and endpoint B on the --pair address
 * (another address of the same daemon, e.g. the far side of a crossed loopback pair), and
 * bounces each message A -> B -> A through srdd.  Every message takes the whole path two
 * apps would (submission ring, srdd's worker, the wire or the loopback pair, the peer's
 * completion ring), but no second process waits for a CPU: on a machine with fewer cores
 * than busy processes (srdd plus two apps on two cores) this is the latency a core per
 * process would give, measured instead of estimated.  One-way = round trip / 2, as lat.
 * Both endpoints share one attachment here: one poll takes either end's completions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "perf.h"
#include "perf_pair.h"

#define PONG_TIMEOUT_NS 10000000000ull /* one round trip, at most */

/* The ping-pong's state, both ends. */
struct pair {
	const struct perf_opts *o;
	struct pair_end e[2];        /* the pinging end A and the echoing end B */
	struct srdc *h;              /* their attachment */
	uint32_t size;               /* of the current run */
	uint64_t want;               /* the PING/PONG number awaited */
	bool ping_seen, pong_seen;   /* this round trip's PING reached B, PONG reached A */
	int rc;                      /* the first error met by a completion */
};

static void on_comp(void *arg, const struct srdc_completion *c)
{
	struct pair *p = arg;

	if (c->kind == SRDC_SEND) {
		if (c->status && !p->rc) {
			fprintf(stderr, "srd-perf: a send failed: %s\n", strerror(-c->status));
			p->rc = c->status;
		}
		return;
	}
	if (c->tag == PERF_TAG(PERF_T_PING, p->want) && c->ep == p->e[1].ep)
		p->ping_seen = true;
	else if (c->tag == PERF_TAG(PERF_T_PONG, p->want) && c->ep == p->e[0].ep)
		p->pong_seen = true;
	else if (!p->rc) {
		fprintf(stderr, "srd-perf: an unexpected message (tag %#" PRIx64 ")\n", c->tag);
		p->rc = -EPROTO;
	}
	if (c->len != p->size && !p->rc) {
		fprintf(stderr, "srd-perf: %zu bytes arrived, %u were sent\n", c->len, p->size);
		p->rc = -EPROTO;
	}
	srdc_recv_done(p->h, c->buf);
}

/* Poll until *seen (or an error, or the timeout: -ETIMEDOUT). */
static int await(struct pair *p, const bool *seen)
{
	uint64_t end = perf_now_ns() + PONG_TIMEOUT_NS;
	struct srdc_completion c[16];

	while (!*seen && !p->rc) {
		int n = perf_poll(p->h, c, 16, p->o->wait);

		if (n < 0)
			return n;
		if (perf_stop)
			return -EINTR;
		for (int i = 0; i < n; i++)
			on_comp(p, &c[i]);
		if (!*seen && perf_now_ns() > end)
			return -ETIMEDOUT;
	}
	return p->rc;
}

/* One round trip, number i: PING A -> B, PONG B -> A (perf_lat_loop()'s round trip). */
static int round_trip(void *arg, uint64_t i)
{
	struct pair *p = arg;
	int rc;

	p->want = i;
	p->ping_seen = p->pong_seen = false;
	rc = perf_send(p->h, p->e[0].ep, &p->e[1].addr, p->e[0].buf, p->size,
		       PERF_TAG(PERF_T_PING, i), NULL, p->o->wait, on_comp, p);
	if (!rc)
		rc = await(p, &p->ping_seen);
	if (!rc)
		rc = perf_send(p->h, p->e[1].ep, &p->e[0].addr, p->e[1].buf, p->size,
			       PERF_TAG(PERF_T_PONG, i), NULL, p->o->wait, on_comp, p);
	if (!rc)
		rc = await(p, &p->pong_seen);
	return rc;
}

static int run(struct pair *p, uint32_t size, bool header)
{
	uint64_t failed;
	int rc;

	p->size = size;
	rc = pair_buf(&p->e[0], size, 0xa5);
	if (!rc)
		rc = pair_buf(&p->e[1], size, 0x5a);
	if (!rc) /* both ends are ours: a failure is not the network's to retry */
		rc = perf_lat_loop(p->o, size, header, true, round_trip, p, &failed);
	return rc;
}

/* ---- the two ends (perf_pair.h) ---- */

static int attach(const struct perf_opts *o, const char *name, struct srdc **h)
{
	int rc = srdc_attach(o->socket, name, h);

	if (rc) {
		fprintf(stderr, "srd-perf: cannot attach to srdd at %s: %s\n", o->socket,
			strerror(-rc));
		return rc;
	}
	if (o->spin_us >= 0)
		srdc_set_spin(*h, (unsigned)o->spin_us);
	return 0;
}

int pair_open(const struct perf_opts *o, bool two_apps, struct pair_end end[2])
{
	const uint32_t ip[2] = { o->local_ip, o->pair_ip };
	int rc;

	memset(end, 0, 2 * sizeof(*end));
	rc = attach(o, two_apps ? "srd-perf-pair-a" : "srd-perf-pair", &end[0].h);
	end[0].own_h = !rc;
	if (!rc && two_apps) {
		rc = attach(o, "srd-perf-pair-b", &end[1].h);
		end[1].own_h = !rc;
	} else {
		end[1].h = end[0].h;
	}
	for (int k = 0; k < 2 && !rc; k++) {
		rc = srdc_ep_open(end[k].h, ip[k], o->ordered ? SRDC_ORDERED : 0, &end[k].ep);
		if (rc)
			fprintf(stderr, "srd-perf: cannot open the pair's endpoints: %s\n",
				strerror(-rc));
		else
			end[k].addr = srdc_ep_addr(end[k].ep);
	}
	return rc;
}

void pair_close(struct pair_end end[2])
{
	for (int k = 1; k >= 0; k--)
		if (end[k].own_h)
			srdc_detach(end[k].h); /* closes its endpoint, frees its buffer */
	memset(end, 0, 2 * sizeof(*end));
}

int pair_buf(struct pair_end *e, uint32_t len, uint8_t fill)
{
	if (len <= e->buf_len)
		return 0;
	if (e->buf)
		srdc_buf_free(e->h, e->buf);
	e->buf = srdc_buf_alloc(e->h, len);
	e->buf_len = e->buf ? len : 0;
	if (!e->buf) {
		fprintf(stderr, "srd-perf: no room for a %u-byte message in the shared region "
				"(srdd's apps.region_mb)\n", len);
		return -ENOMEM;
	}
	memset(e->buf, fill, len);
	return 0;
}

/* ---- lat --pair ---- */

int perf_pair(const struct perf_opts *o)
{
	struct pair p = { .o = o };
	int rc;

	if (o->test != PERF_LAT)
		return perf_pair_bw(o);
	rc = pair_open(o, false, p.e);
	p.h = p.e[0].h;
	if (!rc) {
		if (o->sweep)
			for (uint32_t s = 64; s <= 65536u && !rc && !perf_stop; s *= 2)
				rc = run(&p, s, s == 64);
		else
			rc = run(&p, o->size, true);
	}
	pair_close(p.e);
	return rc ? 1 : 0;
}
