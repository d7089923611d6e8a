/*
 * fuzz_shm — libFuzzer target for the daemon's checks of what apps write into their
 * submission rings (dataplane/dp_shm_data.c): an app attached to a real dp_shm server
 * (same process; the handshake is done once) publishes whatever descriptors the input
 * holds — SENDs and RX_RETURNs with any offsets, lengths, endpoints and flags — and the
 * server takes them.
 *
 * What must hold: nothing crashes or reads outside the app's region (ASan); every send the
 * server accepts is one the checks passed (its pieces inside the app's send area); once
 * the accepted sends are completed, nothing is left in flight; the app stays attached (its
 * ring indices are written correctly here, so nothing justifies a detach).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "dp_shm.h"
#include "dp_shm_int.h"
#include "srd.h"
#include "srd_shm.h"

#define ADDR 0x0a000001u /* 10.0.0.1 */

static struct dp_shm *S;
static struct srdc *H;
static struct srdc_ep *EP;
static volatile int pumping;
static uint32_t lent[64];  /* region offsets of buffers this input had delivered */
static uint32_t nlent;

static void *pump(void *arg)
{
	(void)arg;
	while (pumping) {
		dp_shm_poll_control(S);
		usleep(100);
	}
	return NULL;
}

/* Once: a server and an app attached to it with one endpoint. */
static void setup(void)
{
	static const uint32_t addrs[1] = { ADDR };
	struct dp_config cfg;
	char err[256];
	pthread_t thr;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.socket_path, sizeof(cfg.socket_path), "/tmp/srd-fuzz-shm-%d.sock",
		 (int)getpid());
	cfg.socket_mode = 0600;
	cfg.app_region_bytes = 4u << 20;
	cfg.sq_entries = 64;
	cfg.cq_entries = 64;
	cfg.max_apps = 2;
	cfg.max_endpoints = 8;
	cfg.workers = 1;
	if (dp_shm_create(&cfg, addrs, 1, 0, NULL, &S, err, sizeof(err))) {
		fprintf(stderr, "fuzz_shm: %s\n", err);
		abort();
	}
	pumping = 1;
	pthread_create(&thr, NULL, pump, NULL);
	if (srdc_attach(cfg.socket_path, "fuzz", &H) || srdc_ep_open(H, 0, 0, &EP))
		abort();
	pumping = 0;
	pthread_join(thr, NULL);
	unlink(cfg.socket_path); /* the attachment lives on; no one else comes */
}

/* Drop every completion the server posted (the daemon's side is under test, not libsrd). */
static void drain_cq(void)
{
	uint32_t tail = __atomic_load_n(&H->cq->tail, __ATOMIC_ACQUIRE);

	H->cq_head = tail;
	__atomic_store_n(&H->cq->head, tail, __ATOMIC_RELEASE);
}

/* Publish e in the app's ring (room is made by dropping completions). */
static void publish(const struct srd_sqe *e)
{
	if (srd_ring_space(H->sq, H->sq_tail, H->sq_entries) == 0)
		drain_cq();
	if (srd_ring_space(H->sq, H->sq_tail, H->sq_entries) == 0)
		return;
	H->sqes[H->sq_tail & (H->sq_entries - 1)] = *e;
	H->sq_tail++;
	__atomic_store_n(&H->sq->tail, H->sq_tail, __ATOMIC_RELEASE);
}

/* Let the server take everything; complete what it accepted with status. */
static void serve(int status)
{
	struct dp_shm_send out[16];
	int n;

	do {
		n = dp_shm_take(S, out, 16);
		for (int i = 0; i < n; i++) {
			/* accepted: every piece lies inside the app's send area, as the server
			 * maps it */
			const struct dp_shm_app *a = out[i].app;
			const uint8_t *tx = a->base + a->tx_off;

			if (out[i].niov == 0 && out[i].len > SRD_SQE_INLINE_MAX)
				abort(); /* an inline send longer than its submission */
			for (uint32_t k = 0; k < out[i].niov; k++)
				if ((const uint8_t *)out[i].iov[k].base < tx ||
				    (const uint8_t *)out[i].iov[k].base + out[i].iov[k].len >
					    tx + a->tx_size)
					abort();
			dp_shm_complete_send(S, &out[i], status);
		}
		dp_shm_flush(S);
		drain_cq();
	} while (n > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t rec = 1 + sizeof(struct srd_sqe);
	struct dp_shm_stats st;

	if (!S)
		setup();
	for (size_t at = 0; at + rec <= size; at += rec) {
		uint8_t ctl = data[at];
		struct srd_sqe e;

		memcpy(&e, data + at + 1, sizeof(e));
		if (ctl & 1) {
			/* a message arrives first, so that a buffer is lent to the app */
			void *ctx;
			int no_ep;
			uint32_t len = ctl & 64 ? (uint32_t)(e.imm % (SRD_CQE_INLINE_MAX + 1))
					      : (uint32_t)(e.imm % 70000u) + 1;
			void *buf = dp_shm_rx_alloc(S, ADDR, srdc_ep_addr(EP).ep, len, &ctx, &no_ep);

			/* a small one arrives in daemon memory and is delivered in the ring
			   (SRD_CQ_RECV_INLINE): no buffer to return */
			int in_area = buf && (uintptr_t)buf >= (uintptr_t)S->apps[0]->base &&
				      (uintptr_t)buf < (uintptr_t)S->apps[0]->base + H->region_size;

			if (buf) {
				dp_shm_deliver(S, ctx, buf, len, ADDR, 9, srdc_ep_addr(EP).ep, 1, 2);
				if (nlent < 64 && in_area)
					lent[nlent++] = (uint32_t)((uint8_t *)buf -
								   S->apps[0]->base);
			}
			if (ctl & 2 && in_area) { /* and the input returns it, right */
				e.op = SRD_SQ_RX_RETURN;
				e.niov = 1;
				e.flags = 0;
				e.iov[0].off = (uint32_t)((uint8_t *)buf - S->apps[0]->base);
			}
		}
		if (ctl & 128 && nlent) {
			/* several lent buffers back at once, as libsrd batches them (maybe one
			   twice, maybe one already back: then none of them may come back) */
			e.op = SRD_SQ_RX_RETURN;
			e.niov = (uint8_t)(1 + e.niov % SRD_SHM_MAX_IOV);
			for (uint32_t k = 0; k < e.niov; k++)
				e.iov[k].off = lent[(e.iov[k].off) % nlent];
		}
		if (ctl & 4)
			e.ep = srdc_ep_addr(EP).ep; /* the app's own endpoint: deeper checks */
		if (ctl & 8)
			e.op = (ctl & 16) ? SRD_SQ_SEND : SRD_SQ_RX_RETURN;
		if (ctl & 32) { /* a piece inside the send area (the checks' other side) */
			e.iov[0].off = (uint32_t)(H->tx_off + e.iov[0].off % H->tx_size);
			e.iov[0].len %= 70000u;
		}
		publish(&e);
		serve((ctl & 64) ? -110 : 0);
	}
	/* give back what this input had delivered (returned twice: refused, harmlessly) */
	for (uint32_t i = 0; i < nlent; i++) {
		struct srd_sqe r;

		memset(&r, 0, sizeof(r));
		r.op = SRD_SQ_RX_RETURN;
		r.niov = 1;
		r.iov[0].off = lent[i];
		publish(&r);
		serve(0);
	}
	nlent = 0;
	dp_shm_get_stats(S, &st);
	if (st.sends_inflight != 0 || st.apps != 1 || st.ring_corrupt != 0)
		abort();
	return 0;
}
