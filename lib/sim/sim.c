/*
 * sim.c — the simulated world: queue + fabric + hosts, and the event loop (see sim.h).
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* A pending sim_at() callback. */
struct sim_call {
	sim_fn fn;  /* what to call */
	void *arg;  /* its argument */
};

/* The world. */
struct sim {
	uint64_t now;               /* virtual time, ns */
	uint64_t events;            /* events handled */
	int stop;                   /* sim_stop() was called during this run */
	int destroying;             /* sim_destroy() is running: sim_at() refuses */
	struct srd_rng rng;         /* derives seeds (hosts at creation, restarts) */
	struct sim_evq *q;          /* the event queue */
	struct sim_fabric *fab;     /* the two-host network (NULL on a topology) */
	struct sim_net *net;        /* the topology's network (NULL on the fabric) */
	uint32_t nhosts;            /* hosts */
	struct sim_host **hosts;    /* nhosts hosts (entries NULL while being destroyed) */
	uint16_t *epochs;           /* each host's current engine epoch */
	struct sim_fabric_cb obs;   /* the scenario's fabric observer */
};

void sim_config_default(struct sim_config *cfg, uint32_t hosts, uint32_t npaths)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	sim_fabric_config_default(&cfg->fabric, hosts, npaths);
	srd_config_default(&cfg->engine);
	cfg->net = NULL;
	cfg->host_engine = NULL;
}

/* The wire hooks of the two networks (host.h). */
static int wire_fabric_send(void *net, uint64_t now, int src, int dst, uint16_t entropy,
			    int ect, const uint8_t *pkt, uint32_t len)
{
	return sim_fabric_send(net, now, src, dst, entropy, ect, pkt, len);
}

static int wire_net_send(void *net, uint64_t now, int src, int dst, uint16_t entropy, int ect,
			 const uint8_t *pkt, uint32_t len)
{
	return sim_net_send(net, now, src, dst, entropy, ect, pkt, len);
}

/* ---- fabric callbacks -------------------------------------------------------------- */

static void on_deliver(void *user, int src, int dst, uint64_t now, const uint8_t *pkt,
		       uint32_t len, int ce)
{
	struct sim *sim = user;

	if (sim->obs.deliver)
		sim->obs.deliver(sim->obs.user, src, dst, now, pkt, len, ce);
	if (sim->hosts[dst])
		sim_host_recv(sim->hosts[dst], now, src, pkt, len, ce);
}

static void on_drop(void *user, int src, int dst, uint64_t now, int where, int reason)
{
	struct sim *sim = user;

	if (sim->obs.drop)
		sim->obs.drop(sim->obs.user, src, dst, now, where, reason);
}

/* ---- creation ------------------------------------------------------------------------ */

/* Create the network (fabric or topology) and say how hosts plug into it. */
static int world_network(struct sim *sim, const struct sim_config *cfg,
			 const struct sim_fabric_cb *fcb, struct sim_wire *wire,
			 uint64_t *rate_bps, uint32_t *overhead, char *err, size_t errlen)
{
	uint64_t seed = srd_rng_next(&sim->rng);
	int rc;

	if (cfg->net) {
		struct sim_net_config ncfg = *cfg->net;

		ncfg.seed = seed;
		rc = sim_net_create(&ncfg, sim->q, fcb, &sim->net, err, errlen);
		if (rc)
			return rc;
		*wire = (struct sim_wire){ .net = sim->net, .send = wire_net_send,
					   .hosts = sim_net_topo(sim->net)->hosts };
		*rate_bps = ncfg.link_rate_bps;
		*overhead = ncfg.overhead_bytes;
	} else {
		struct sim_fabric_config fcfg = cfg->fabric;

		fcfg.seed = seed;
		rc = sim_fabric_create(&fcfg, sim->q, fcb, &sim->fab, err, errlen);
		if (rc)
			return rc;
		*wire = (struct sim_wire){ .net = sim->fab, .send = wire_fabric_send,
					   .hosts = fcfg.hosts };
		*rate_bps = fcfg.host_rate_bps;
		*overhead = fcfg.overhead_bytes;
	}
	return 0;
}

int sim_create(const struct sim_config *cfg, struct sim **out, char *err, size_t errlen)
{
	struct sim_fabric_cb fcb = { .deliver = on_deliver, .drop = on_drop };
	struct sim_wire wire;
	struct sim *sim;
	uint64_t epoch_base, rate_bps;
	uint32_t overhead;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	rc = cfg->net ? sim_net_config_check(cfg->net, err, errlen) :
			sim_fabric_config_check(&cfg->fabric, err, errlen);
	if (rc)
		return rc;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		goto fail_nomem;
	fcb.user = sim;
	srd_rng_seed(&sim->rng, cfg->seed);
	rc = sim_evq_create(&sim->q);
	if (rc)
		goto fail_free_sim;
	/* fixed derivation order: network seed, epoch base, then one seed per host */
	rc = world_network(sim, cfg, &fcb, &wire, &rate_bps, &overhead, err, errlen);
	if (rc)
		goto fail_free_evq;
	epoch_base = srd_rng_next(&sim->rng);
	sim->nhosts = wire.hosts;
	rc = -ENOMEM;
	sim->hosts = calloc(wire.hosts, sizeof(*sim->hosts));
	if (!sim->hosts)
		goto fail_free_network;
	sim->epochs = calloc(wire.hosts, sizeof(*sim->epochs));
	if (!sim->epochs)
		goto fail_free_hosts;
	for (uint32_t i = 0; i < wire.hosts; i++) {
		struct sim_host_config hc = {
			.index = (int)i,
			.rate_bps = rate_bps,
			.overhead_bytes = overhead,
		};

		hc.engine = cfg->host_engine ? cfg->host_engine[i] : cfg->engine;
		hc.engine.epoch = (uint16_t)(1 + (epoch_base + i) % 65535u);
		hc.engine.seed = srd_rng_next(&sim->rng);
		sim->epochs[i] = hc.engine.epoch;
		rc = sim_host_create(&hc, sim->q, &wire, &sim->hosts[i], err, errlen);
		if (rc)
			goto fail_destroy_hosts;
	}
	*out = sim;
	return 0;

fail_destroy_hosts:
	for (uint32_t i = wire.hosts; i-- > 0;) {
		sim_host_destroy(sim->hosts[i]);
		sim->hosts[i] = NULL;
	}
	free(sim->epochs);
fail_free_hosts:
	free(sim->hosts);
fail_free_network:
	sim_fabric_destroy(sim->fab);
	sim_net_destroy(sim->net);
fail_free_evq:
	sim_evq_destroy(sim->q);
fail_free_sim:
	free(sim);
	if (rc != -ENOMEM)
		return rc;
fail_nomem:
	if (errlen > 0 && (rc == -ENOMEM || !err[0]))
		snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void sim_destroy(struct sim *sim)
{
	struct sim_event ev;

	if (!sim)
		return;
	sim->destroying = 1;
	for (uint32_t i = 0; i < sim->nhosts; i++) {
		struct sim_host *h = sim->hosts[i];

		sim->hosts[i] = NULL; /* callbacks during its teardown see it gone */
		sim_host_destroy(h);
	}
	while (sim_evq_pop(sim->q, &ev) == 0) {
		if (ev.type == SIM_EV_CALL)
			free(ev.p);
	}
	sim_fabric_destroy(sim->fab);
	sim_net_destroy(sim->net);
	sim_evq_destroy(sim->q);
	free(sim->epochs);
	free(sim->hosts);
	free(sim);
}

/* ---- the loop ----------------------------------------------------------------------- */

uint64_t sim_now(const struct sim *sim)
{
	return sim->now;
}

uint32_t sim_hosts(const struct sim *sim)
{
	return sim->nhosts;
}

uint64_t sim_events(const struct sim *sim)
{
	return sim->events;
}

int sim_step(struct sim *sim)
{
	struct sim_event ev;

	if (sim_evq_pop(sim->q, &ev))
		return 0;
	sim->now = ev.time_ns;
	sim->events++;
	switch (sim_ev_owner(ev.type)) {
	case SIM_EV_FABRIC_BASE: {
		int rc = sim_fabric_handle(sim->fab, &ev);

		return rc < 0 ? rc : 1;
	}
	case SIM_EV_NET_BASE: {
		int rc = sim->net ? sim_net_handle(sim->net, &ev) : -EINVAL;

		return rc < 0 ? rc : 1;
	}
	case SIM_EV_HOST_BASE: {
		int rc;

		if (ev.a < 0 || (uint32_t)ev.a >= sim->nhosts || !sim->hosts[ev.a])
			return -EINVAL;
		rc = sim_host_handle(sim->hosts[ev.a], &ev);
		return rc < 0 ? rc : 1;
	}
	case SIM_EV_WORLD_BASE:
		if (ev.type == SIM_EV_CALL && ev.p) {
			struct sim_call c = *(struct sim_call *)ev.p;

			free(ev.p); /* before the call: it may schedule (and allocate) again */
			c.fn(sim, c.arg);
			return 1;
		}
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

int sim_run_until(struct sim *sim, uint64_t t_end)
{
	if (t_end < sim->now)
		return -EINVAL;
	sim->stop = 0;
	while (!sim->stop && sim_evq_size(sim->q) > 0 && sim_evq_peek_time(sim->q) <= t_end) {
		int rc = sim_step(sim);

		if (rc < 0)
			return rc;
	}
	if (!sim->stop && t_end != SIM_NEVER)
		sim->now = t_end;
	return 0;
}

void sim_stop(struct sim *sim)
{
	sim->stop = 1;
}

int sim_at(struct sim *sim, uint64_t t, sim_fn fn, void *arg)
{
	struct sim_call *c;
	int rc;

	if (!fn || t < sim->now)
		return -EINVAL;
	if (sim->destroying)
		return -ENODEV;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	rc = sim_evq_push(sim->q, t, SIM_EV_CALL, 0, 0, c);
	if (rc)
		free(c);
	return rc;
}

/* ---- hosts -------------------------------------------------------------------------- */

static struct sim_host *host_of(const struct sim *sim, int host)
{
	if (host < 0 || (uint32_t)host >= sim->nhosts)
		return NULL;
	return sim->hosts[host];
}

int sim_set_callbacks(struct sim *sim, int host, const struct srd_callbacks *cb)
{
	struct sim_host *h = host_of(sim, host);

	if (!h)
		return -EINVAL;
	sim_host_set_callbacks(h, cb);
	return 0;
}

int sim_host_send(struct sim *sim, int host, const struct srd_send_req *req)
{
	struct sim_host *h;

	if (host < 0 || (uint32_t)host >= sim->nhosts)
		return -EINVAL;
	h = sim->hosts[host];
	if (!h)
		return -ENODEV;
	return sim_host_submit(h, sim->now, req);
}

int sim_kick(struct sim *sim, int host)
{
	struct sim_host *h = host_of(sim, host);

	if (!h)
		return -EINVAL;
	return sim_host_kick(h, sim->now);
}

int sim_restart_host(struct sim *sim, int host)
{
	struct sim_host *h = host_of(sim, host);
	uint16_t epoch;
	int rc;

	if (!h)
		return -EINVAL;
	epoch = (uint16_t)(sim->epochs[host] % 65535u + 1u);
	rc = sim_host_restart(h, sim->now, epoch, srd_rng_next(&sim->rng), NULL, 0);
	if (rc == 0 || sim_host_engine(h) == NULL)
		sim->epochs[host] = epoch; /* the old incarnation is gone either way */
	return rc;
}

struct srd_engine *sim_engine(const struct sim *sim, int host)
{
	struct sim_host *h = host_of(sim, host);

	return h ? sim_host_engine(h) : NULL;
}

uint16_t sim_host_epoch(const struct sim *sim, int host)
{
	if (host < 0 || (uint32_t)host >= sim->nhosts)
		return 0;
	return sim->epochs[host];
}

struct sim_host *sim_get_host(const struct sim *sim, int host)
{
	return host_of(sim, host);
}

int sim_get_host_stats(const struct sim *sim, int host, struct sim_host_stats *st)
{
	struct sim_host *h = host_of(sim, host);

	if (!h)
		return -EINVAL;
	sim_host_get_stats(h, st);
	return 0;
}

struct sim_fabric *sim_get_fabric(const struct sim *sim)
{
	return sim->fab;
}

struct sim_net *sim_get_net(const struct sim *sim)
{
	return sim->net;
}

void sim_set_observer(struct sim *sim, const struct sim_fabric_cb *obs)
{
	if (obs)
		sim->obs = *obs;
	else
		memset(&sim->obs, 0, sizeof(sim->obs));
}
