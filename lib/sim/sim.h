/*
 * sim.h — the simulated world: an event queue, a multipath fabric and H hosts, each
 * running one SRD engine, in virtual time.
 *
 * A run is a function of the config alone: the sim seed derives the fabric's seed and every
 * host's engine seed and epoch, events at the same time run in the order they were
 * scheduled, and nothing reads a clock.  Same config, same seed: the same run, bit for bit.
 *
 * A scenario (flows, messages, metrics) sits on top:
 *   sim_create()            build the world;
 *   sim_set_callbacks()     route a host's engine callbacks (rx_alloc, rx_deliver, rx_abort,
 *                           tx_done) to the scenario, with its own user pointer;
 *   sim_at()                schedule the scenario's own callbacks in virtual time;
 *   sim_host_send()         srd_send() on a host at the current time (NIC kicked, timer
 *                           rescheduled);
 *   sim_run_until()/sim_step()  advance time;
 *   sim_engine(), sim_get_fabric(), sim_get_host_stats()  read counters;
 *   sim_destroy()           tear down (pending messages complete with -ECANCELED).
 *
 * Engine callbacks run inside engine calls and must not call into the engine of the same
 * host: sim_host_send() returns -EBUSY there.  To react to a completion or a delivery (a
 * reply, the next message of a closed loop), schedule it: sim_at(sim, sim_now(sim), fn, arg)
 * runs fn after the current event, at the same virtual time.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"
#include "fabric.h"
#include "host.h"
#include "net.h"
#include "srd_core.h"

/* World event types (owned by sim.c). */
enum sim_world_ev {
	SIM_EV_CALL = SIM_EV_WORLD_BASE, /* a sim_at() callback; p = its record */
};

/* How to build a world. */
struct sim_config {
	uint64_t seed;                        /* the one seed everything random derives from */
	struct sim_fabric_config fabric;      /* the network when net is NULL (its seed is
	                                         replaced by one derived from `seed`);
	                                         fabric.hosts hosts */
	const struct sim_net_config *net;     /* optional: a multi-tier topology instead of
	                                         the fabric (copied; its seed is replaced
	                                         likewise); its hosts are the world's */
	struct srd_config engine;             /* every host's engine config (epoch and seed
	                                         replaced per host) */
	const struct srd_config *host_engine; /* optional: fabric.hosts configs, one per host,
	                                         used instead of `engine` (epoch and seed
	                                         replaced); NULL: `engine` for all */
};

struct sim;

/* A scenario callback scheduled with sim_at(); sim_now(sim) is its time. */
typedef void (*sim_fn)(struct sim *sim, void *arg);

/* Fill *cfg: seed 1, sim_fabric_config_default(hosts, npaths), no net,
 * srd_config_default(). */
void sim_config_default(struct sim_config *cfg, uint32_t hosts, uint32_t npaths);

/*
 * Build the world: the event queue, the fabric, and one host per fabric host, host i with
 * engine epoch 1 + (base + i) % 65535 (base drawn from the seed: distinct per host, never
 * 0) and its own engine seed.  Time starts at 0.  Returns 0 and sets *out, or -EINVAL (bad
 * fabric or engine config, reason in err) or -ENOMEM.
 */
int sim_create(const struct sim_config *cfg, struct sim **out, char *err, size_t errlen);

/* Destroy the world: hosts first (engines complete pending messages with -ECANCELED and
 * abort partial receives through the scenario's callbacks; sim_at() refuses then with
 * -ENODEV), then every pending event (sim_at() records are freed, never run), the fabric
 * and the queue.  NULL is ignored. */
void sim_destroy(struct sim *sim);

/* Current virtual time, ns. */
uint64_t sim_now(const struct sim *sim);

/* Number of hosts. */
uint32_t sim_hosts(const struct sim *sim);

/* Events handled so far. */
uint64_t sim_events(const struct sim *sim);

/*
 * Handle the next event (time moves to its time).  Returns 1 if an event was handled, 0
 * if the queue is empty, or a negative error from the handler: -ENOMEM (an event could not
 * be scheduled; the run continues consistently but something was dropped), -EINVAL (an
 * event of unknown type or for an unknown host).
 */
int sim_step(struct sim *sim);

/*
 * Handle every event due at or before t_end, in order, then set the time to t_end (unless
 * t_end is SIM_NEVER, which runs until no event is left, or sim_stop() was called).
 * Returns 0, -EINVAL if t_end is before now, or the first error of sim_step() (time stays
 * at that event).
 */
int sim_run_until(struct sim *sim, uint64_t t_end);

/* Make the running sim_run_until() return after the current event (callable from any
 * callback).  The next sim_run_until() clears it. */
void sim_stop(struct sim *sim);

/*
 * Call fn(sim, arg) at virtual time t (after every event already scheduled for t).
 * Returns 0, or -EINVAL (fn is NULL or t is before now), -ENODEV (sim_destroy() is
 * running), or -ENOMEM.
 */
int sim_at(struct sim *sim, uint64_t t, sim_fn fn, void *arg);

/* Route host's engine callbacks to *cb (copied; cb->user goes to each; NULL entries are
 * "no buffer" / ignored; NULL cb clears).  Returns 0, or -EINVAL for a bad host. */
int sim_set_callbacks(struct sim *sim, int host, const struct srd_callbacks *cb);

/*
 * srd_send(req) on host's engine at sim_now(), then kick its NIC and reschedule its timer.
 * Returns srd_send()'s result (0, -EINVAL, -EMSGSIZE, -EAGAIN, -ENOSPC), or
 *   -EINVAL   host is not a host;
 *   -EBUSY    called inside one of this host's engine callbacks (use sim_at());
 *   -ENODEV   the host has no engine (failed restart, or the world is being destroyed).
 */
int sim_host_send(struct sim *sim, int host, const struct srd_send_req *req);

/* After calling into sim_engine(sim, host) directly: kick the NIC and reschedule the timer
 * at sim_now().  Returns 0, -EINVAL for a bad host, or -ENOMEM. */
int sim_kick(struct sim *sim, int host);

/*
 * Restart host at sim_now(): its engine is destroyed (pending messages fail with
 * -ECANCELED) and recreated with the next epoch (never 0) and a fresh seed from the sim's
 * generator.  Returns 0, -EINVAL (bad host, or engine creation refused), -EBUSY (inside
 * this host's callbacks), or -ENOMEM.
 */
int sim_restart_host(struct sim *sim, int host);

/* Host's engine (for srd_get_stats(), srd_conn_info()), or NULL for a bad host. */
struct srd_engine *sim_engine(const struct sim *sim, int host);

/* Host's epoch now, or 0 for a bad host. */
uint16_t sim_host_epoch(const struct sim *sim, int host);

/* Host object (for the sim_host_* calls of host.h), or NULL for a bad host. */
struct sim_host *sim_get_host(const struct sim *sim, int host);

/* Copy host's NIC counters into *st.  Returns 0, or -EINVAL for a bad host. */
int sim_get_host_stats(const struct sim *sim, int host, struct sim_host_stats *st);

/* The fabric (for sim_fabric_path_stats(), sim_fabric_downlink_stats(), path_of...), or
 * NULL in a world built on a topology. */
struct sim_fabric *sim_get_fabric(const struct sim *sim);

/* The topology's network (sim_net_link_stats(), sim_net_topo()...), or NULL in a world
 * built on the two-host fabric. */
struct sim_net *sim_get_net(const struct sim *sim);

/*
 * Watch the fabric (or network): obs->deliver (if set) sees every packet just before its
 * host gets it, obs->drop (if set) every drop; obs->user goes to both.  NULL obs stops
 * watching.
 */
void sim_set_observer(struct sim *sim, const struct sim_fabric_cb *obs);

#endif /* SIM_SIM_H */
