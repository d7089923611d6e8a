/*
 * perf_pair.c — srd-perf lat --pair: one thread holds both ends of the ping-pong.
 *
 * It opens endpoint A on the daemon address --local and endpoint B on the --pair address
 * (another address of the same daemon, e.g. the far side of a crossed loopback pair), and
 * bounces each message A -> B -> A through srdd.  Every message takes the whole path two
 * apps would (submission ring, srdd's worker, the wire or the loopback pair, the peer's
 * completion ring), but no second process waits for a CPU: on a machine with fewer cores
 * than busy processes (srdd plus two apps on two cores) this is the latency a core per
 * process would give, measured instead of estimated.  One-way = round trip / 2, as lat.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "perf.h"

#define PONG_TIMEOUT_NS 10000000000ull /* one round trip, at most */

/* The ping-pong's state, both ends. */
struct pair {
	const struct perf_opts *o;
	struct srdc *h;
	struct srdc_ep *a, *b;       /* the pinging end and the echoing end */
	struct srdc_addr a_addr, b_addr;
	void *a_buf, *b_buf;         /* each end's payload, in the region */
	uint32_t buf_len;
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
	if (c->tag == PERF_TAG(PERF_T_PING, p->want) && c->ep == p->b)
		p->ping_seen = true;
	else if (c->tag == PERF_TAG(PERF_T_PONG, p->want) && c->ep == p->a)
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
	rc = perf_send(p->h, p->a, &p->b_addr, p->a_buf, p->size, PERF_TAG(PERF_T_PING, i),
		       NULL, p->o->wait, on_comp, p);
	if (!rc)
		rc = await(p, &p->ping_seen);
	if (!rc)
		rc = perf_send(p->h, p->b, &p->a_addr, p->b_buf, p->size,
			       PERF_TAG(PERF_T_PONG, i), NULL, p->o->wait, on_comp, p);
	if (!rc)
		rc = await(p, &p->pong_seen);
	return rc;
}

static int ensure_bufs(struct pair *p, uint32_t len)
{
	if (len <= p->buf_len)
		return 0;
	if (p->a_buf)
		srdc_buf_free(p->h, p->a_buf);
	if (p->b_buf)
		srdc_buf_free(p->h, p->b_buf);
	p->a_buf = srdc_buf_alloc(p->h, len);
	p->b_buf = srdc_buf_alloc(p->h, len);
	p->buf_len = p->a_buf && p->b_buf ? len : 0;
	if (!p->buf_len) {
		fprintf(stderr, "srd-perf: no room for two %u-byte messages in the shared region "
				"(srdd's apps.region_mb)\n", len);
		return -ENOMEM;
	}
	memset(p->a_buf, 0xa5, len);
	memset(p->b_buf, 0x5a, len);
	return 0;
}

static int run(struct pair *p, uint32_t size, bool header)
{
	uint64_t failed;
	int rc;

	p->size = size;
	rc = ensure_bufs(p, size);
	if (!rc) /* both ends are ours: a failure is not the network's to retry */
		rc = perf_lat_loop(p->o, size, header, true, round_trip, p, &failed);
	return rc;
}

int perf_pair(const struct perf_opts *o)
{
	struct pair p = { .o = o };
	int rc = srdc_attach(o->socket, "srd-perf-pair", &p.h);

	if (rc) {
		fprintf(stderr, "srd-perf: cannot attach to srdd at %s: %s\n", o->socket,
			strerror(-rc));
		return 1;
	}
	if (o->spin_us >= 0)
		srdc_set_spin(p.h, (unsigned)o->spin_us);
	rc = srdc_ep_open(p.h, o->local_ip, o->ordered ? SRDC_ORDERED : 0, &p.a);
	if (!rc)
		rc = srdc_ep_open(p.h, o->pair_ip, o->ordered ? SRDC_ORDERED : 0, &p.b);
	if (rc) {
		fprintf(stderr, "srd-perf: cannot open the pair's endpoints: %s\n", strerror(-rc));
	} else {
		p.a_addr = srdc_ep_addr(p.a);
		p.b_addr = srdc_ep_addr(p.b);
		if (o->sweep)
			for (uint32_t s = 64; s <= 65536u && !rc && !perf_stop; s *= 2)
				rc = run(&p, s, s == 64);
		else
			rc = run(&p, o->size, true);
	}
	srdc_detach(p.h); /* closes the endpoints and frees the buffers with the region */
	return rc ? 1 : 0;
}
