/*
 * host.c — a simulated host: SRD engine + serializing NIC + one timer (see host.h).
 */
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_GEN_MASK 0x7fffffffu /* timer generations travel in an event's int b */

/* A host. */
struct sim_host {
	struct sim_host_config cfg; /* as given (engine epoch and seed of the current engine) */
	struct sim_evq *q;          /* shared event queue (not owned) */
	struct sim_wire wire;       /* the network (not owned) */
	int nhosts;                 /* hosts in the fabric: valid peer keys are 0..nhosts-1 */
	struct srd_engine *eng;     /* the engine, NULL after a failed restart */
	struct srd_callbacks app;   /* the owner's callbacks (what the trampolines call) */
	int in_engine;              /* depth of calls into the engine now running */

	uint8_t *txbuf;             /* the packet on the NIC */
	uint32_t txcap;             /* bytes at txbuf */
	int nic_busy;               /* 1: txbuf is being serialized */
	uint32_t tx_len;            /* length of the packet in txbuf */
	struct srd_tx_meta tx_meta; /* where it goes */
	uint64_t tx_ser_ns;         /* its serialization time */

	uint32_t timer_gen;         /* generation of the live timer event */
	uint64_t timer_at;          /* time of the live timer event, SIM_NEVER if none */
	uint32_t stall_streak;      /* consecutive timer runs that left a deadline still due */

	struct sim_host_stats st;   /* counters */
};

/* ---- engine callback trampolines ------------------------------------------------------ */

static void *tr_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	struct sim_host *h = user;

	return h->app.rx_alloc ? h->app.rx_alloc(h->app.user, msg) : NULL;
}

static void tr_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct sim_host *h = user;

	if (h->app.rx_deliver)
		h->app.rx_deliver(h->app.user, msg);
}

static void tr_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	struct sim_host *h = user;

	if (h->app.rx_abort)
		h->app.rx_abort(h->app.user, msg);
}

static void tr_tx_done(void *user, void *ctx, int status)
{
	struct sim_host *h = user;

	if (h->app.tx_done)
		h->app.tx_done(h->app.user, ctx, status);
}

/* Create h->eng from h->cfg.engine and size the transmit buffer for it. */
static int host_engine_start(struct sim_host *h, char *err, size_t errlen)
{
	struct srd_callbacks cb = {
		.user = h,
		.rx_alloc = tr_rx_alloc,
		.rx_deliver = tr_rx_deliver,
		.rx_abort = tr_rx_abort,
		.tx_done = tr_tx_done,
	};
	struct srd_engine *eng;
	uint32_t need;
	int rc;

	rc = srd_engine_create(&h->cfg.engine, &cb, &eng, err, errlen);
	if (rc)
		return rc;
	need = srd_max_packet_len(eng);
	if (need > h->txcap) {
		/* a packet on the NIC is kept: realloc preserves it */
		uint8_t *nb = realloc(h->txbuf, need);

		if (!nb) {
			srd_engine_destroy(eng);
			if (errlen > 0)
				snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		h->txbuf = nb;
		h->txcap = need;
	}
	h->eng = eng;
	return 0;
}

static void host_engine_stop(struct sim_host *h)
{
	struct srd_engine *eng = h->eng;

	if (!eng)
		return;
	h->in_engine++;
	srd_engine_destroy(eng); /* tx_done(-ECANCELED) and rx_abort run here */
	h->in_engine--;
	h->eng = NULL;
}

int sim_host_create(const struct sim_host_config *cfg, struct sim_evq *q,
		    const struct sim_wire *wire, struct sim_host **out, char *err, size_t errlen)
{
	struct sim_host *h;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (cfg->rate_bps == 0 || cfg->index < 0 || (uint32_t)cfg->index >= wire->hosts) {
		if (errlen > 0)
			snprintf(err, errlen, "host: rate_bps must be > 0 and index a fabric host");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		if (errlen > 0)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->cfg = *cfg;
	h->q = q;
	h->wire = *wire;
	h->nhosts = (int)wire->hosts;
	h->timer_at = SIM_NEVER;
	rc = host_engine_start(h, err, errlen);
	if (rc)
		goto fail_free_host;
	*out = h;
	return 0;

fail_free_host:
	free(h->txbuf);
	free(h);
	return rc;
}

void sim_host_destroy(struct sim_host *h)
{
	if (!h)
		return;
	host_engine_stop(h);
	free(h->txbuf);
	free(h);
}

void sim_host_set_callbacks(struct sim_host *h, const struct srd_callbacks *cb)
{
	if (cb)
		h->app = *cb;
	else
		memset(&h->app, 0, sizeof(h->app));
}

/* ---- NIC and timer -------------------------------------------------------------------- */

/* If the NIC is idle, pull one packet and start serializing it. */
static int nic_pull(struct sim_host *h, uint64_t now)
{
	int n;

	if (h->nic_busy || !h->eng)
		return 0;
	h->in_engine++;
	n = srd_poll_tx(h->eng, now, h->txbuf, h->txcap, &h->tx_meta);
	h->in_engine--;
	if (n < 0) {
		h->st.tx_errors++;
		return 0;
	}
	if (n == 0)
		return 0; /* sleep until kicked */
	h->tx_len = (uint32_t)n;
	h->tx_ser_ns = sim_ser_ns((uint64_t)n, h->cfg.overhead_bytes, h->cfg.rate_bps);
	if (sim_evq_push(h->q, now + h->tx_ser_ns, SIM_EV_HOST_TX_DONE, h->cfg.index, 0, NULL)) {
		h->st.sched_errors++; /* the packet is lost; the engine will retransmit */
		return -ENOMEM;
	}
	h->nic_busy = 1;
	return 0;
}

/* Keep exactly one live timer event at the engine's deadline.  just_fired: the timer ran
 * at now, so a deadline still at or before now would fire again at once and forever; it is
 * moved to now + 2^k ns instead, k the number of such runs in a row (at most 10: 1024 ns).
 * The row ends at a timer run that leaves nothing due, or at a kick (sim_host_kick()). */
static int timer_resched(struct sim_host *h, uint64_t now, int just_fired)
{
	uint64_t d = h->eng ? srd_next_deadline(h->eng) : SIM_NEVER;

	if (d != SIM_NEVER && d < now)
		d = now;
	if (just_fired) {
		if (d == now) {
			uint32_t k = h->stall_streak < 10 ? h->stall_streak : 10;

			d = now + (1ull << k);
			h->stall_streak++;
			h->st.timer_stalls++;
		} else {
			h->stall_streak = 0;
		}
	}
	if (d == h->timer_at)
		return 0; /* the live event already fires then */
	h->timer_gen = (h->timer_gen + 1) & HOST_GEN_MASK;
	h->timer_at = SIM_NEVER;
	if (d == SIM_NEVER)
		return 0;
	if (sim_evq_push(h->q, d, SIM_EV_HOST_TIMER, h->cfg.index, (int)h->timer_gen, NULL)) {
		h->st.sched_errors++;
		return -ENOMEM;
	}
	h->timer_at = d;
	return 0;
}

int sim_host_kick(struct sim_host *h, uint64_t now)
{
	int rc, rc2;

	/* the engine was called since the last timer run: a deadline due now is news, not a
	 * stall, so the next timer run that leaves one due starts the backoff at 1 ns again */
	h->stall_streak = 0;
	rc = nic_pull(h, now);
	rc2 = timer_resched(h, now, 0);
	return rc ? rc : rc2;
}

/* End of serialization: the packet goes to the fabric, and the NIC pulls the next one. */
static int on_tx_done(struct sim_host *h, uint64_t now)
{
	uint64_t peer = h->tx_meta.peer;
	int rc;

	if (!h->nic_busy)
		return -EINVAL;
	h->nic_busy = 0;
	h->st.tx_busy_ns += h->tx_ser_ns;
	if (peer >= (uint64_t)h->nhosts) {
		h->st.tx_bad_peer++;
	} else {
		rc = h->wire.send(h->wire.net, now, h->cfg.index, (int)peer, h->tx_meta.entropy,
				     h->tx_meta.ect, h->txbuf, h->tx_len);
		if (rc < 0) {
			h->st.tx_errors++; /* the fabric never took it: not a packet sent */
		} else {
			h->st.tx_pkts++;
			h->st.tx_bytes += h->tx_len;
			if (rc > 0)
				h->st.tx_fabric_drops++;
		}
	}
	return sim_host_kick(h, now);
}

static int on_timer(struct sim_host *h, uint64_t now, int gen)
{
	int rc, rc2;

	if ((uint32_t)gen != h->timer_gen || h->timer_at == SIM_NEVER) {
		h->st.timer_stale++;
		return 0;
	}
	h->timer_at = SIM_NEVER;
	h->st.timer_fires++;
	if (h->eng) {
		h->in_engine++;
		srd_on_timer(h->eng, now);
		h->in_engine--;
	}
	rc = nic_pull(h, now);
	rc2 = timer_resched(h, now, 1);
	return rc ? rc : rc2;
}

int sim_host_handle(struct sim_host *h, const struct sim_event *ev)
{
	if (ev->a != h->cfg.index)
		return -EINVAL;
	switch (ev->type) {
	case SIM_EV_HOST_TX_DONE:
		return on_tx_done(h, ev->time_ns);
	case SIM_EV_HOST_TIMER:
		return on_timer(h, ev->time_ns, ev->b);
	default:
		return -EINVAL;
	}
}

/* ---- engine calls ----------------------------------------------------------------------- */

int sim_host_submit(struct sim_host *h, uint64_t now, const struct srd_send_req *req)
{
	int rc, rc2;

	if (h->in_engine)
		return -EBUSY;
	if (!h->eng)
		return -ENODEV;
	h->in_engine++;
	rc = srd_send(h->eng, now, req);
	h->in_engine--;
	rc2 = sim_host_kick(h, now);
	return rc ? rc : rc2;
}

int sim_host_recv(struct sim_host *h, uint64_t now, int src, const uint8_t *pkt, uint32_t len,
		  int ce)
{
	int rc;

	h->st.rx_pkts++;
	h->st.rx_bytes += len;
	if (!h->eng || h->in_engine) {
		h->st.rx_dropped++;
		return h->eng ? -EBUSY : -ENODEV;
	}
	h->in_engine++;
	rc = srd_recv(h->eng, now, (uint64_t)src, pkt, len, ce ? 1u : 0u);
	h->in_engine--;
	if (rc < 0)
		h->st.rx_dropped++;
	sim_host_kick(h, now); /* a scheduling failure is counted in sched_errors */
	return rc;
}

int sim_host_restart(struct sim_host *h, uint64_t now, uint16_t epoch, uint64_t seed,
		     char *err, size_t errlen)
{
	int rc;

	if (h->in_engine)
		return -EBUSY;
	host_engine_stop(h);
	/* forget the old engine's timer */
	h->timer_gen = (h->timer_gen + 1) & HOST_GEN_MASK;
	h->timer_at = SIM_NEVER;
	h->cfg.engine.epoch = epoch;
	h->cfg.engine.seed = seed;
	rc = host_engine_start(h, err, errlen);
	if (rc)
		return rc;
	h->st.restarts++;
	return sim_host_kick(h, now);
}

/* ---- queries ------------------------------------------------------------------------ */

struct srd_engine *sim_host_engine(const struct sim_host *h)
{
	return h->eng;
}

void sim_host_get_stats(const struct sim_host *h, struct sim_host_stats *st)
{
	*st = h->st;
}

int sim_host_index(const struct sim_host *h)
{
	return h->cfg.index;
}
