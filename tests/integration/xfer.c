/*
 * xfer — the application the integration tests run against srdd, through libsrd only.
 *
 *   xfer recv --socket S [--local IP] --addr-file F --count N [--seed X] [--timeout-ms T]
 *             [--expect-order] [--extra E]
 *   xfer send --socket S [--local IP] --to IP:EP --count N [--seed X] [--max-size B]
 *             [--window W] [--ordered] [--timeout-ms T]
 *
 * Message i (the tag) has a size drawn log-uniformly in [1, max-size] and bytes that are a
 * function of (seed, i), so the receiver checks every byte and counts every message's
 * deliveries: exactly once, intact.  Half the messages go zero-copy from region buffers,
 * half from the heap (copied), some in 3 pieces.  Each side prints one JSON line at the
 * end; the exit status is 0 only if everything it saw was right.
 *
 * --extra E: the receiver also waits for E messages from another app (badapp): an extra
 * message has bit 63 of its tag set, its length as immediate data and byte b equal to
 * XFER_EXTRA_BYTE(b).  They are counted apart from the transfer; without --extra such a
 * message counts as bad.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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
	int ordered;           /* send: SRDC_ORDERED endpoint; recv: count arrivals out of order */
	int64_t timeout_ms;    /* give up after this long */
	uint32_t extra;        /* recv: messages from other apps to wait for (see above) */
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Size of message i: log-uniform in [1, max]. */
static uint32_t msg_size(const struct opts *o, uint32_t i)
{
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
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->count = 100;
	o->seed = 1;
	o->max_size = 1u << 20;
	o->window = 32;
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
		default: return -EINVAL;
		}
	}
	if (!o->socket || !o->count || !o->max_size || !o->window || o->max_size > (16u << 20))
		return -EINVAL;
	if (o->send ? o->to.ipv4 == 0 : o->addr_file == NULL)
		return -EINVAL;
	return 0;
}

/* One send in flight. */
struct pending {
	void *region_buf; /* zero-copy buffer to free at completion, or NULL */
	uint8_t *heap;    /* copied buffer, or NULL */
	int busy;
};

static int do_send(struct srdc *h, struct srdc_ep *ep, const struct opts *o)
{
	struct pending *pend = calloc(o->window, sizeof(*pend));
	struct srdc_completion comp[32];
	uint32_t next = 0, done = 0, ok = 0, failed = 0, inflight = 0;
	int64_t deadline = now_ms() + o->timeout_ms;
	int first_err = 0, rc = 0;

	if (!pend)
		return -ENOMEM;
	while (done < o->count && now_ms() < deadline) {
		while (next < o->count && inflight < o->window) {
			uint32_t slot = 0, len = msg_size(o, next);
			struct srdc_iov iov[3];
			unsigned niov = 1;
			uint8_t *p;

			while (pend[slot].busy)
				slot++;
			/* even messages zero-copy from the region, odd ones copied from the heap */
			if (next % 2 == 0 && (p = srdc_buf_alloc(h, len)) != NULL) {
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
			rc = srdc_send(ep, &o->to, iov, niov, next, (uint64_t)next * 7, &pend[slot]);
			if (rc == -EAGAIN) {
				srdc_buf_free(h, pend[slot].region_buf);
				free(pend[slot].heap);
				pend[slot] = (struct pending){ 0 };
				break;
			}
			if (rc)
				goto out;
			/* a copied message's bytes may be reused at once */
			free(pend[slot].heap);
			pend[slot].heap = NULL;
			pend[slot].busy = 1;
			next++;
			inflight++;
		}
		int n = srdc_poll(h, comp, 32);

		if (n < 0) {
			rc = n;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct pending *pd = comp[i].ctx;

			if (comp[i].kind != SRDC_SEND)
				continue;
			if (comp[i].status == 0) {
				ok++;
			} else {
				failed++;
				if (!first_err)
					first_err = comp[i].status;
			}
			srdc_buf_free(h, pd->region_buf);
			*pd = (struct pending){ 0 };
			inflight--;
			done++;
		}
		if (n == 0 && inflight)
			srdc_wait(h, 10);
	}
	rc = 0;
out:
	printf("{\"role\":\"send\",\"count\":%u,\"sent\":%u,\"ok\":%u,\"failed\":%u,\"first_error\":%d,"
	       "\"rc\":%d}\n", o->count, next, ok, failed, first_err, rc);
	fflush(stdout);
	for (uint32_t s = 0; s < o->window; s++)
		if (pend[s].busy)
			srdc_buf_free(h, pend[s].region_buf);
	free(pend);
	return rc == 0 && ok == o->count ? 0 : 1;
}

static int do_recv(struct srdc *h, const struct opts *o)
{
	uint8_t *seen = calloc(o->count, 1);
	struct srdc_completion comp[32];
	uint32_t got = 0, bad = 0, dups = 0, out_of_order = 0, extra = 0, extra_bad = 0;
	uint64_t next_expected = 0;
	int64_t deadline = now_ms() + o->timeout_ms;
	int rc = 0;

	if (!seen)
		return -ENOMEM;
	while ((got < o->count || extra < o->extra) && now_ms() < deadline) {
		int n = srdc_poll(h, comp, 32);

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
					srdc_recv_done(h, c->buf);
				continue;
			}
			ok = idx < o->count && c->len == msg_size(o, (uint32_t)idx) &&
			     c->imm == idx * 7;
			for (uint32_t b = 0; ok && b < c->len; b++)
				ok = ((const uint8_t *)c->buf)[b] == msg_byte(o, (uint32_t)idx, b);
			if (!ok)
				bad++;
			else if (seen[idx]++)
				dups++;
			else
				got++;
			if (ok && o->ordered) {
				/* send-after-send: every message arrives after all those sent before */
				if (idx != next_expected)
					out_of_order++;
				next_expected = idx + 1;
			}
			srdc_recv_done(h, c->buf);
		}
		if (n == 0)
			srdc_wait(h, 10);
	}
	printf("{\"role\":\"recv\",\"count\":%u,\"received\":%u,\"bad\":%u,\"duplicates\":%u,"
	       "\"out_of_order\":%u,\"extra\":%u,\"extra_bad\":%u,\"rc\":%d}\n", o->count, got,
	       bad, dups, out_of_order, extra, extra_bad, rc);
	fflush(stdout);
	free(seen);
	return got == o->count && bad == 0 && dups == 0 && out_of_order == 0 &&
	       extra == o->extra && extra_bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct srdc *h;
	struct srdc_ep *ep;
	struct opts o;
	int rc;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: xfer send|recv --socket S ... (see the source)\n");
		return 2;
	}
	rc = srdc_attach(o.socket, o.send ? "xfer-send" : "xfer-recv", &h);
	if (rc) {
		fprintf(stderr, "xfer: attach %s: %s\n", o.socket, strerror(-rc));
		return 1;
	}
	rc = srdc_ep_open(h, o.local, o.ordered ? SRDC_ORDERED : 0, &ep);
	if (rc) {
		fprintf(stderr, "xfer: endpoint: %s\n", strerror(-rc));
		srdc_detach(h);
		return 1;
	}
	if (!o.send) {
		char buf[SRDC_ADDR_STRLEN];
		struct srdc_addr me = srdc_ep_addr(ep);
		FILE *f = fopen(o.addr_file, "w");

		srdc_addr_format(&me, buf, sizeof(buf));
		if (!f || fprintf(f, "%s\n", buf) < 0 || fclose(f)) {
			fprintf(stderr, "xfer: %s: %s\n", o.addr_file, strerror(errno));
			srdc_detach(h);
			return 1;
		}
		rc = do_recv(h, &o);
	} else {
		rc = do_send(h, ep, &o);
	}
	srdc_ep_close(ep);
	srdc_detach(h);
	return rc;
}
