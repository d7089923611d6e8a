/*
 * fuzz_core — libFuzzer target for the protocol core's receive path, driven as a whole:
 * two engines, A and B, joined by a wire the input controls.  The input is a script of
 * one-byte operations (and their arguments): send a message either way, move packets
 * across (delivered in order or out of it, dropped, duplicated, or with a byte changed),
 * inject raw bytes, move time forward and run the timers, make rx_alloc fail (no buffer,
 * or no such endpoint).  Then both engines are destroyed.
 *
 * What must hold, whatever the input: nothing crashes (ASan and UBSan watch); every
 * message srd_send() accepted completes exactly once (at the latest with -ECANCELED when
 * its engine is destroyed); every buffer rx_alloc lent comes back exactly once (delivered
 * or aborted); srd_recv() refuses with a drop reason or takes the packet.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srd_core.h"

#define MAX_MSGS 64u     /* messages sent per run */
#define MAX_QUEUE 64u    /* packets on the wire per direction */
#define MAX_PKT 2048u    /* seg_size 1024 + headers */
#define MAX_BUFS 128u    /* receive buffers out at once */

/* A packet on the wire. */
struct wpkt {
	uint32_t len;
	unsigned ce;
	uint8_t b[MAX_PKT];
};

/* One side. */
struct side {
	struct srd_engine *eng;
	int fail_alloc;          /* rx_alloc: 0 give, 1 no buffer, 2 no endpoint */
	struct wpkt q[MAX_QUEUE];/* packets it sent, not yet delivered */
	uint32_t nq;
	void *bufs[MAX_BUFS];    /* buffers lent by rx_alloc, not returned */
	uint32_t nbufs;
	uint32_t taken;          /* messages rx_take took, not yet delivered or aborted */
	uint32_t read_sum;       /* their bytes, read */
};

struct world {
	struct side s[2];
	uint64_t now;
	uint8_t sent[MAX_MSGS];  /* per message: 1 accepted, 2 completed */
	uint32_t nmsgs;
	uint8_t payload[8192];
	const uint8_t *in;       /* the script */
	size_t left;
};

static uint32_t take(struct world *w, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && w->left; i++, w->left--)
		v = v << 8 | *w->in++;
	return v;
}

static void *cb_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct side *s = user;
	void *b;

	if (s->fail_alloc == 2) {
		msg->no_endpoint = 1;
		return NULL;
	}
	if (s->fail_alloc == 1 || s->nbufs == MAX_BUFS)
		return NULL;
	b = malloc(msg->len ? msg->len : 1);
	if (b)
		s->bufs[s->nbufs++] = b;
	return b;
}

/* rx_take: messages of up to 64 bytes to an odd endpoint come without a buffer (the rest as
 * rx_alloc says), refused as rx_alloc refuses. */
static int cb_rx_take(void *user, struct srd_rx_msg *msg)
{
	struct side *s = user;

	if (msg->buf || msg->data || msg->taken)
		abort();
	if (msg->len > 64 || !(msg->dst_ep & 1))
		return 0;
	if (s->fail_alloc) {
		msg->no_endpoint = s->fail_alloc == 2;
		return -1;
	}
	s->taken++;
	return 1;
}

/* A taken message back (delivered or aborted): exactly once, its bytes still in the packet
 * being handled (read: the sanitizer sees a packet already gone). */
static void give_back_taken(struct side *s, const struct srd_rx_msg *msg)
{
	const volatile uint8_t *p = msg->data;
	uint8_t sum = 0;

	if (msg->buf || s->taken == 0 || (msg->len && !p))
		abort();
	for (uint32_t i = 0; i < msg->len; i++)
		sum = (uint8_t)(sum + p[i]);
	s->read_sum += sum;
	s->taken--;
}

/* Take buf back from the side's lent list: exactly once. */
static void give_back(struct side *s, void *buf)
{
	for (uint32_t i = 0; i < s->nbufs; i++) {
		if (s->bufs[i] == buf) {
			s->bufs[i] = s->bufs[--s->nbufs];
			free(buf);
			return;
		}
	}
	if (buf)
		abort(); /* a buffer returned twice, or never lent */
}

static void cb_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	if (msg->taken)
		give_back_taken(user, msg);
	else
		give_back(user, msg->buf);
}

static void cb_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	if (msg->taken)
		give_back_taken(user, msg);
	else
		give_back(user, msg->buf);
}

static void cb_tx_done(void *user, void *ctx, int status)
{
	uint8_t *state = ctx;

	(void)user;
	(void)status;
	if (*state != 1)
		abort(); /* completed twice, or never accepted */
	*state = 2;
}

static void send_msg(struct world *w, int from)
{
	uint32_t len = take(w, 2) % sizeof(w->payload);
	uint16_t dst_ep = (uint16_t)take(w, 1);
	struct srd_iov iov = { w->payload, len };
	struct srd_send_req req = {
		.peer = (uint64_t)(1 - from), .src_ep = 1, .dst_ep = dst_ep, .tag = w->nmsgs,
		.iov = &iov, .iovcnt = 1, .ctx = &w->sent[w->nmsgs],
	};

	if (w->nmsgs == MAX_MSGS)
		return;
	w->sent[w->nmsgs] = 1; /* before: tx_done never runs inside srd_send() */
	if (srd_send(w->s[from].eng, w->now, &req) == 0)
		w->nmsgs++;
	else
		w->sent[w->nmsgs] = 0;
}

/* Let side `from` produce packets onto its wire queue (up to n). */
static void produce(struct world *w, int from, uint32_t n)
{
	struct side *s = &w->s[from];

	for (uint32_t i = 0; i < n && s->nq < MAX_QUEUE; i++) {
		struct srd_tx_meta meta;
		int len = srd_poll_tx(s->eng, w->now, s->q[s->nq].b, MAX_PKT, &meta);

		if (len <= 0)
			break;
		s->q[s->nq].len = (uint32_t)len;
		s->q[s->nq].ce = 0;
		s->nq++;
	}
}

static void check_recv(int rc)
{
	if (rc > 0 || rc <= -(int)SRD_DROP_MAX)
		abort();
}

/* Deliver (or drop, duplicate, corrupt) queued packet k of side `from` to the other. */
static void deliver(struct world *w, int from, uint32_t k, uint32_t fate)
{
	struct side *s = &w->s[from];
	struct wpkt p;

	if (s->nq == 0)
		return;
	k %= s->nq;
	p = s->q[k];
	switch (fate % 8) {
	case 0: /* drop */
		break;
	case 1: /* corrupt one byte */
		p.b[take(w, 2) % p.len] ^= (uint8_t)(take(w, 1) | 1);
		check_recv(srd_recv(w->s[1 - from].eng, w->now, (uint64_t)from, p.b, p.len, 0));
		break;
	case 2: /* duplicate: deliver and keep */
		check_recv(srd_recv(w->s[1 - from].eng, w->now, (uint64_t)from, p.b, p.len, 1));
		return;
	case 3: /* truncate */
		check_recv(srd_recv(w->s[1 - from].eng, w->now, (uint64_t)from, p.b,
				    take(w, 2) % p.len, 0));
		break;
	default: /* deliver */
		check_recv(srd_recv(w->s[1 - from].eng, w->now, (uint64_t)from, p.b, p.len,
				    fate % 8 == 4));
		break;
	}
	s->q[k] = s->q[--s->nq];
}

static void tick(struct world *w, uint64_t dt_ns)
{
	w->now += dt_ns;
	for (int i = 0; i < 2; i++)
		if (srd_next_deadline(w->s[i].eng) <= w->now)
			srd_on_timer(w->s[i].eng, w->now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	struct srd_config cfg;
	char err[256];

	memset(&w, 0, sizeof(w));
	w.in = data;
	w.left = size;
	w.now = 1000000;
	for (uint32_t i = 0; i < sizeof(w.payload); i++)
		w.payload[i] = (uint8_t)(i * 7);
	srd_config_default(&cfg);
	cfg.max_conns = 4;
	cfg.paths = 4;
	cfg.seg_size = 1024;
	cfg.tx_window = 16;
	cfg.rx_window = 64;
	cfg.max_tx_msgs = 8;
	cfg.rx_slots = 8;
	cfg.max_msg_size = 6000; /* some sends are too big for the peer */
	cfg.max_retries = 4;
	for (int i = 0; i < 2; i++) {
		struct srd_callbacks cb = {
			.user = &w.s[i], .rx_alloc = cb_rx_alloc, .rx_take = cb_rx_take,
			.rx_deliver = cb_rx_deliver, .rx_abort = cb_rx_abort, .tx_done = cb_tx_done,
		};

		cfg.seed = (uint64_t)i + 1;
		cfg.epoch = (uint16_t)(i + 1);
		if (srd_engine_create(&cfg, &cb, &w.s[i].eng, err, sizeof(err)))
			abort();
	}
	while (w.left) {
		uint32_t op = take(&w, 1), side = op >> 7 & 1;

		switch (op % 8) {
		case 0:
		case 1:
			send_msg(&w, (int)side);
			break;
		case 2:
			produce(&w, (int)side, 1 + (op >> 3 & 15));
			break;
		case 3:
		case 4:
			deliver(&w, (int)side, take(&w, 1), take(&w, 1));
			break;
		case 5: /* time: up to ~65 ms */
			tick(&w, (uint64_t)take(&w, 2) * 1000u);
			break;
		case 6: { /* raw bytes from either peer, or from a stranger */
			uint8_t raw[256];
			uint32_t n = take(&w, 1), i;

			for (i = 0; i < n && w.left; i++)
				raw[i] = (uint8_t)take(&w, 1);
			check_recv(srd_recv(w.s[side].eng, w.now, take(&w, 1) % 3, raw, i, 0));
			break;
		}
		case 7:
			w.s[side].fail_alloc = (int)(op >> 3 & 3) % 3;
			break;
		}
	}
	/* let the rest settle a little, then tear down: everything must be accounted for */
	for (int r = 0; r < 32; r++) {
		produce(&w, 0, 16);
		produce(&w, 1, 16);
		while (w.s[0].nq)
			deliver(&w, 0, 0, 5);
		while (w.s[1].nq)
			deliver(&w, 1, 0, 5);
		tick(&w, 200000);
	}
	for (int i = 0; i < 2; i++)
		srd_engine_destroy(w.s[i].eng);
	for (uint32_t m = 0; m < w.nmsgs; m++)
		if (w.sent[m] != 2)
			abort(); /* accepted and never completed */
	for (int i = 0; i < 2; i++)
		if (w.s[i].nbufs || w.s[i].taken)
			abort(); /* a receive buffer or a taken message never came back */
	return 0;
}
