/*
 * badapp — an application that writes bad descriptors into its submission ring, for the
 * integration test of srdd's descriptor checks (test_srdd_bad.c).
 *
 *   badapp --socket S --to IP:EP [--local IP] [--timeout-ms T]
 *
 * It attaches with libsrd and opens an endpoint, then goes behind the library's back
 * (client_int.h: the mapped region, the ring indices, the send slots) to publish three raw
 * SRD_SQ_SEND submissions that the daemon must refuse:
 *   bad_offset      an iov offset past the end of the region
 *   foreign_buffer  an iov in the rx area (the daemon's buffers, not the app's to send)
 *   past_region     an iov that starts in the tx area and whose length runs past the region
 * and then sends one valid small message to IP:EP with srdc_send().  Each raw submission
 * takes a libsrd send slot first, so that the daemon's SRD_CQ_SQE_ERROR for it comes back
 * through srdc_poll() as an SRDC_SEND completion with the error status (io.c: translate()).
 *
 * The valid message follows xfer's convention for messages from another app (xfer recv
 * --extra): tag bit 63 set, its length as immediate data, byte b = 0xa5 ^ b.
 *
 * Prints one JSON line with the four statuses (1: no completion came); exits 0 iff the three
 * bad sends completed with an error and the valid one with success.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srd.h"
#include "client_int.h"

#define EXTRA_TAG (1ull << 63) /* as XFER_EXTRA_TAG in xfer.c */
#define VALID_LEN 100u

enum { BAD_OFFSET, FOREIGN_BUFFER, PAST_REGION, VALID, NSENDS };

static const char *const names[NSENDS] = {
	[BAD_OFFSET] = "bad_offset",
	[FOREIGN_BUFFER] = "foreign_buffer",
	[PAST_REGION] = "past_region",
	[VALID] = "valid",
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Publish a SEND of the single piece (off, len) of the region, unchecked.  Takes a send slot
 * as srdc_send() does (io.c slot_get: the head of the free list, no bounce buffer) so that
 * its completion reaches the caller with ctx.
 */
static int raw_send(struct srdc *h, struct srdc_ep *ep, const struct srdc_addr *to,
		    uint64_t off, uint64_t len, void *ctx)
{
	struct srdc_slot *s;
	struct srd_sqe e;
	uint32_t idx;

	if (h->free_slot == UINT32_MAX)
		return -ENOMEM; /* 64 slots at attach: never here with 3 sends */
	if (srd_ring_space(h->sq, h->sq_tail, h->sq_entries) == 0)
		return -EAGAIN;
	idx = h->free_slot;
	s = &h->slots[idx];
	h->free_slot = s->next_free;
	s->used = 1;
	s->cancelled = 0;
	s->ctx = ctx;
	s->ep = ep;
	s->bounce = -1;

	memset(&e, 0, sizeof(e));
	e.user_data = (uint64_t)s->gen << 32 | idx;
	e.op = SRD_SQ_SEND;
	e.niov = 1;
	e.ep = ep->id;
	e.dst_ip = to->ipv4; /* a good destination: only the piece is wrong */
	e.dst_ep = to->ep;
	e.iov[0].off = off > UINT32_MAX ? UINT32_MAX : (uint32_t)off;
	e.iov[0].len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	h->sqes[h->sq_tail & (h->sq_entries - 1)] = e;
	h->sq_tail++;
	/* pairs with the daemon's srd_load_acquire(&sq->tail) in srd_ring_ready */
	srd_store_release(&h->sq->tail, h->sq_tail);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' }, { "to", required_argument, NULL, 't' },
		{ "local", required_argument, NULL, 'l' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	struct srdc_addr to = { 0, 0 };
	uint32_t local = 0;
	int64_t timeout_ms = 20000, deadline;
	int status[NSENDS], ctxs[NSENDS], done = 0, rc = 0, ok, c;
	uint8_t msg[VALID_LEN];
	struct srdc *h;
	struct srdc_ep *ep;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 't':
			if (srdc_addr_parse(optarg, &to))
				to.ipv4 = 0;
			break;
		case 'l': {
			struct in_addr ia;

			if (inet_pton(AF_INET, optarg, &ia) != 1)
				goto usage;
			local = ntohl(ia.s_addr);
			break;
		}
		case 'T': timeout_ms = strtoll(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!sock || to.ipv4 == 0)
		goto usage;

	rc = srdc_attach(sock, "badapp", &h);
	if (rc) {
		fprintf(stderr, "badapp: attach %s: %s\n", sock, strerror(-rc));
		return 1;
	}
	rc = srdc_ep_open(h, local, 0, &ep);
	if (rc) {
		fprintf(stderr, "badapp: endpoint: %s\n", strerror(-rc));
		srdc_detach(h);
		return 1;
	}
	for (int i = 0; i < NSENDS; i++) {
		status[i] = 1; /* no completion yet */
		ctxs[i] = i;
	}

	/* the three bad descriptors, then a good send behind them */
	rc = raw_send(h, ep, &to, h->region_size + 4096, 64, &ctxs[BAD_OFFSET]);
	if (!rc)
		rc = raw_send(h, ep, &to, h->rx_off, 64, &ctxs[FOREIGN_BUFFER]);
	if (!rc) {
		uint64_t off = h->tx_off + h->tx_size - 64; /* a tx-area block... */

		rc = raw_send(h, ep, &to, off, h->region_size - off + 4096, /* ...and beyond */
			      &ctxs[PAST_REGION]);
	}
	if (!rc) {
		struct srdc_iov iov = { msg, sizeof(msg) };

		for (uint32_t b = 0; b < sizeof(msg); b++)
			msg[b] = (uint8_t)(0xa5u ^ (uint8_t)b);
		rc = srdc_send(ep, &to, &iov, 1, EXTRA_TAG | 1, sizeof(msg), &ctxs[VALID]);
	}

	/* their four completions */
	deadline = now_ms() + timeout_ms;
	while (!rc && done < NSENDS && now_ms() < deadline) {
		struct srdc_completion comp[16];
		int n = srdc_poll(h, comp, 16);

		if (n < 0) {
			rc = n;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (comp[i].kind == SRDC_RECV) { /* nobody should send to us */
				srdc_recv_done(h, comp[i].buf);
				continue;
			}
			status[*(int *)comp[i].ctx] = comp[i].status;
			done++;
		}
		if (n == 0)
			srdc_wait(h, 10);
	}

	ok = rc == 0 && done == NSENDS;
	for (int i = 0; i < NSENDS; i++)
		ok = ok && (i == VALID ? status[i] == 0 : status[i] < 0);
	printf("{\"role\":\"badapp\"");
	for (int i = 0; i < NSENDS; i++)
		printf(",\"%s\":%d", names[i], status[i]);
	printf(",\"region_size\":%llu,\"tx_off\":%llu,\"rx_off\":%llu,\"rc\":%d}\n",
	       (unsigned long long)h->region_size, (unsigned long long)h->tx_off,
	       (unsigned long long)h->rx_off, rc);
	fflush(stdout);
	srdc_ep_close(ep);
	srdc_detach(h);
	return ok ? 0 : 1;

usage:
	fprintf(stderr, "usage: badapp --socket S --to IP:EP [--local IP] [--timeout-ms T]\n");
	return 2;
}
