/*
 * fabric.c — the simulated multipath network (see fabric.h for the model).
 *
 * Packets live in a pool of slots (an array that grows by doubling; each slot keeps its
 * byte buffer across uses, growing it when a longer packet comes).  Events carry the slot
 * index, never a pointer, so the pool may move.  A slot is taken in sim_fabric_send() and
 * given back when its packet is delivered or dropped.
 */
#include "fabric.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define FAB_SLOT_NONE UINT32_MAX
#define FAB_MIN_BUF 2048u

/* A FIFO queue with a serializer. */
struct fab_queue {
	uint64_t rate_bps;          /* serialization rate */
	uint64_t ecn_bytes;         /* CE-mark ECT packets when more than this is queued */
	uint64_t limit_bytes;       /* drop-tail limit */
	uint64_t busy_until;        /* end of serialization of the last packet enqueued */
	struct sim_queue_stats st;  /* counters, queue_bytes included */
};

/* A path: its queue, its config and its own generator (loss, jitter). */
struct fab_path {
	struct fab_queue q;         /* the path's queue */
	struct sim_path_config cfg; /* impairments and delays */
	struct srd_rng rng;         /* this path's random draws */
};

/* A packet in the fabric (or a free slot). */
struct fab_pkt {
	uint8_t *buf;      /* bytes (kept across uses of the slot) */
	uint32_t cap;      /* bytes allocated at buf */
	uint32_t len;      /* packet length */
	int src;           /* sending host */
	int dst;           /* receiving host */
	int path;          /* path chosen by ECMP */
	uint8_t ect;       /* 1: ECN-capable (may be marked CE) */
	uint8_t ce;        /* 1: marked CE on the way */
	uint8_t in_use;    /* 1: holds a packet in flight */
	uint32_t next_free; /* next free slot (free list), FAB_SLOT_NONE at the end */
};

/* The fabric. */
struct sim_fabric {
	struct sim_fabric_config cfg; /* as given */
	struct sim_evq *q;            /* where stages are scheduled (not owned) */
	struct sim_fabric_cb cb;      /* deliver / drop callbacks */
	uint32_t salt;                /* ECMP hash salt, from the seed */
	struct fab_path *paths;       /* cfg.npaths paths */
	struct fab_queue *dl;         /* cfg.hosts downlinks */
	struct fab_pkt *pkts;         /* packet slots */
	uint32_t npkts;               /* slots allocated */
	uint32_t free_head;           /* first free slot, FAB_SLOT_NONE if none */
	uint64_t in_flight;           /* slots in use */
};

uint64_t sim_ser_ns(uint64_t len, uint32_t overhead, uint64_t rate_bps)
{
	uint64_t bits = (len + overhead) * 8u;

	return (bits * 1000000000ull + rate_bps - 1) / rate_bps;
}

/* ---- configuration ---------------------------------------------------------------- */

void sim_fabric_config_default(struct sim_fabric_config *cfg, uint32_t hosts, uint32_t npaths)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hosts = hosts;
	cfg->host_rate_bps = 100000000000ull;
	cfg->dl_ecn_bytes = 64u * 1024u;
	cfg->dl_limit_bytes = 1024u * 1024u;
	cfg->overhead_bytes = SIM_FABRIC_DEFAULT_OVERHEAD;
	cfg->seed = 1;
	cfg->npaths = npaths;
	for (uint32_t i = 0; i < SIM_FABRIC_MAX_PATHS && i < npaths; i++) {
		struct sim_path_config *p = &cfg->path[i];

		p->rate_bps = 100000000000ull;
		p->prop_delay_ns = 1000;
		p->ecn_bytes = 64u * 1024u;
		p->limit_bytes = 1024u * 1024u;
		p->loss = 0.0;
		p->jitter_ns = 0;
		p->blackhole_ns = SIM_NEVER;
		p->flap_start_ns = 0;
		p->flap_period_ns = 0;
	}
}

static int cfg_fail(char *err, size_t errlen, const char *msg, long idx)
{
	if (errlen > 0) {
		if (idx >= 0)
			snprintf(err, errlen, "path[%ld]: %s", idx, msg);
		else
			snprintf(err, errlen, "%s", msg);
	}
	return -EINVAL;
}

int sim_fabric_config_check(const struct sim_fabric_config *cfg, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	if (cfg->hosts < 1 || cfg->hosts > SIM_FABRIC_MAX_HOSTS)
		return cfg_fail(err, errlen, "hosts must be 1..65536", -1);
	if (cfg->host_rate_bps == 0)
		return cfg_fail(err, errlen, "host_rate_bps must be > 0", -1);
	if (cfg->overhead_bytes > 65535)
		return cfg_fail(err, errlen, "overhead_bytes must be at most 65535", -1);
	if (cfg->npaths < 1 || cfg->npaths > SIM_FABRIC_MAX_PATHS)
		return cfg_fail(err, errlen, "npaths must be 1..64", -1);
	for (uint32_t i = 0; i < cfg->npaths; i++) {
		const struct sim_path_config *p = &cfg->path[i];

		if (p->rate_bps == 0)
			return cfg_fail(err, errlen, "rate_bps must be > 0", i);
		if (!(p->loss >= 0.0 && p->loss <= 1.0))
			return cfg_fail(err, errlen, "loss must be within 0..1", i);
		if (p->prop_delay_ns > UINT64_MAX / 4 || p->jitter_ns > UINT64_MAX / 4)
			return cfg_fail(err, errlen, "prop_delay_ns and jitter_ns must be below 2^62", i);
	}
	return 0;
}

/* ---- packet slots ------------------------------------------------------------------- */

/* Take a free slot able to hold len bytes.  Returns its index, or FAB_SLOT_NONE. */
static uint32_t slot_get(struct sim_fabric *fab, uint32_t len)
{
	struct fab_pkt *p;
	uint32_t i;

	if (fab->free_head == FAB_SLOT_NONE) {
		uint32_t ncap = fab->npkts ? fab->npkts * 2 : 64;
		struct fab_pkt *np;

		if (ncap <= fab->npkts || ncap >= FAB_SLOT_NONE || ncap > INT32_MAX)
			return FAB_SLOT_NONE;
		np = realloc(fab->pkts, (size_t)ncap * sizeof(*np));
		if (!np)
			return FAB_SLOT_NONE;
		memset(np + fab->npkts, 0, (size_t)(ncap - fab->npkts) * sizeof(*np));
		/* chain the new slots, lowest index first */
		for (uint32_t k = fab->npkts; k < ncap; k++)
			np[k].next_free = (k + 1 < ncap) ? k + 1 : FAB_SLOT_NONE;
		fab->free_head = fab->npkts;
		fab->pkts = np;
		fab->npkts = ncap;
	}
	i = fab->free_head;
	p = &fab->pkts[i];
	if (p->cap < len) {
		uint32_t ncap = len < FAB_MIN_BUF ? FAB_MIN_BUF : len;
		uint8_t *nb = realloc(p->buf, ncap);

		if (!nb)
			return FAB_SLOT_NONE;
		p->buf = nb;
		p->cap = ncap;
	}
	fab->free_head = p->next_free;
	p->next_free = FAB_SLOT_NONE;
	p->in_use = 1;
	fab->in_flight++;
	return i;
}

/* Give slot i back (its buffer is kept for the next packet). */
static void slot_put(struct sim_fabric *fab, uint32_t i)
{
	struct fab_pkt *p = &fab->pkts[i];

	p->in_use = 0;
	p->next_free = fab->free_head;
	fab->free_head = i;
	fab->in_flight--;
}

/* ---- creation --------------------------------------------------------------------- */

int sim_fabric_create(const struct sim_fabric_config *cfg, struct sim_evq *q,
		      const struct sim_fabric_cb *cb, struct sim_fabric **out,
		      char *err, size_t errlen)
{
	struct sim_fabric *fab;
	uint64_t x;
	int rc;

	rc = sim_fabric_config_check(cfg, err, errlen);
	if (rc)
		return rc;
	if (!cb || !cb->deliver || !q)
		return cfg_fail(err, errlen, "a queue and a deliver callback are required", -1);
	fab = calloc(1, sizeof(*fab));
	if (!fab)
		goto fail_nomem;
	fab->paths = calloc(cfg->npaths, sizeof(*fab->paths));
	if (!fab->paths)
		goto fail_free_fab;
	fab->dl = calloc(cfg->hosts, sizeof(*fab->dl));
	if (!fab->dl)
		goto fail_free_paths;
	fab->cfg = *cfg;
	fab->q = q;
	fab->cb = *cb;
	fab->free_head = FAB_SLOT_NONE;

	/* the salt and each path's generator, from the seed alone */
	x = cfg->seed;
	fab->salt = (uint32_t)(srd_rng_splitmix(&x) >> 32);
	for (uint32_t i = 0; i < cfg->npaths; i++) {
		struct fab_path *p = &fab->paths[i];

		p->cfg = cfg->path[i];
		p->q.rate_bps = p->cfg.rate_bps;
		p->q.ecn_bytes = p->cfg.ecn_bytes;
		p->q.limit_bytes = p->cfg.limit_bytes;
		srd_rng_seed(&p->rng, srd_rng_splitmix(&x));
	}
	for (uint32_t h = 0; h < cfg->hosts; h++) {
		fab->dl[h].rate_bps = cfg->host_rate_bps;
		fab->dl[h].ecn_bytes = cfg->dl_ecn_bytes;
		fab->dl[h].limit_bytes = cfg->dl_limit_bytes;
	}
	*out = fab;
	return 0;

fail_free_paths:
	free(fab->paths);
fail_free_fab:
	free(fab);
fail_nomem:
	if (errlen > 0)
		snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void sim_fabric_destroy(struct sim_fabric *fab)
{
	if (!fab)
		return;
	for (uint32_t i = 0; i < fab->npkts; i++)
		free(fab->pkts[i].buf);
	free(fab->pkts);
	free(fab->dl);
	free(fab->paths);
	free(fab);
}

/* ---- ECMP and path state ------------------------------------------------------------ */

/* murmur3 body step: fold 32 bits k into h. */
static inline uint32_t mm3_mix(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593u;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5u + 0xe6546b64u;
}

/* murmur3 finalizer: every input bit affects every output bit. */
static inline uint32_t mm3_fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

int sim_fabric_path_of(const struct sim_fabric *fab, int src, int dst, uint16_t entropy)
{
	uint32_t h = fab->salt;

	h = mm3_mix(h, (uint32_t)src);
	h = mm3_mix(h, (uint32_t)dst);
	h = mm3_mix(h, entropy);
	h = mm3_fmix(h ^ 12u); /* 12: bytes hashed, as murmur3 folds in the length */
	return (int)(h % fab->cfg.npaths);
}

static int path_is_up(const struct sim_path_config *c, uint64_t t)
{
	if (t >= c->blackhole_ns)
		return 0;
	if (c->flap_period_ns && t >= c->flap_start_ns) {
		uint64_t phase = (t - c->flap_start_ns) / c->flap_period_ns;

		if ((phase & 1) == 0) /* even phases are down, odd phases up */
			return 0;
	}
	return 1;
}

int sim_fabric_path_up(const struct sim_fabric *fab, int path, uint64_t t)
{
	if (path < 0 || (uint32_t)path >= fab->cfg.npaths)
		return -EINVAL;
	return path_is_up(&fab->paths[path].cfg, t);
}

/* ---- queues ------------------------------------------------------------------------- */

/*
 * Offer a packet of `wire` bytes to queue qu at now: drop-tail, then ECN marking, then
 * enqueue.  Returns the end of its serialization, or 0 if dropped by drop-tail (now + the
 * serialization time is never 0, the serialization time being at least 1 ns).
 */
static uint64_t queue_enqueue(struct fab_queue *qu, uint64_t now, uint64_t wire,
			      uint64_t ser_ns, int ect, uint8_t *ce)
{
	uint64_t start;

	if (qu->st.queue_bytes + wire > qu->limit_bytes ||
	    qu->st.queue_bytes + wire < wire /* overflow */) {
		qu->st.drops_queue++;
		return 0;
	}
	if (ect && qu->st.queue_bytes > qu->ecn_bytes) {
		qu->st.ce_marked++;
		*ce = 1;
	}
	qu->st.queue_bytes += wire;
	if (qu->st.queue_bytes > qu->st.peak_bytes)
		qu->st.peak_bytes = qu->st.queue_bytes;
	start = qu->busy_until > now ? qu->busy_until : now;
	qu->busy_until = start + ser_ns;
	return qu->busy_until;
}

/* The end of a packet's serialization on qu: it leaves the queue. */
static void queue_dequeue(struct fab_queue *qu, uint64_t wire)
{
	qu->st.queue_bytes -= wire;
}

static void report_drop(struct sim_fabric *fab, const struct fab_pkt *p, uint64_t now,
			int where, int reason)
{
	if (fab->cb.drop)
		fab->cb.drop(fab->cb.user, p->src, p->dst, now, where, reason);
}

/* ---- packet flow ------------------------------------------------------------------ */

int sim_fabric_send(struct sim_fabric *fab, uint64_t now, int src, int dst, uint16_t entropy,
		    int ect, const uint8_t *pkt, uint32_t len)
{
	struct fab_queue saved;
	struct fab_path *path;
	struct fab_pkt *p;
	uint64_t wire, done;
	uint32_t slot;
	int pi, rc;

	if (src < 0 || (uint32_t)src >= fab->cfg.hosts || dst < 0 ||
	    (uint32_t)dst >= fab->cfg.hosts || len == 0 || len > SIM_FABRIC_MAX_PKT || !pkt)
		return -EINVAL;
	pi = sim_fabric_path_of(fab, src, dst, entropy);
	path = &fab->paths[pi];
	path->q.st.pkts_in++;
	if (!path_is_up(&path->cfg, now)) {
		struct fab_pkt tmp = { .src = src, .dst = dst };

		path->q.st.drops_down++;
		report_drop(fab, &tmp, now, pi, SIM_FATE_DROP_DOWN);
		return SIM_FATE_DROP_DOWN;
	}
	if (path->cfg.loss > 0.0 && srd_rng_unit(&path->rng) < path->cfg.loss) {
		struct fab_pkt tmp = { .src = src, .dst = dst };

		path->q.st.drops_loss++;
		report_drop(fab, &tmp, now, pi, SIM_FATE_DROP_LOSS);
		return SIM_FATE_DROP_LOSS;
	}
	slot = slot_get(fab, len);
	if (slot == FAB_SLOT_NONE)
		return -ENOMEM;
	p = &fab->pkts[slot];
	memcpy(p->buf, pkt, len);
	p->len = len;
	p->src = src;
	p->dst = dst;
	p->path = pi;
	p->ect = ect ? 1 : 0;
	p->ce = 0;
	saved = path->q;
	wire = (uint64_t)len + fab->cfg.overhead_bytes;
	done = queue_enqueue(&path->q, now, wire,
			     sim_ser_ns(len, fab->cfg.overhead_bytes, path->q.rate_bps), p->ect, &p->ce);
	if (done == 0) {
		report_drop(fab, p, now, pi, SIM_FATE_DROP_QUEUE);
		slot_put(fab, slot);
		return SIM_FATE_DROP_QUEUE;
	}
	rc = sim_evq_push(fab->q, done, SIM_EV_FAB_PATH_DONE, (int)slot, 0, NULL);
	if (rc) {
		path->q = saved; /* undo the enqueue (pkts_in stays counted) */
		slot_put(fab, slot);
		return rc;
	}
	return SIM_FATE_QUEUED;
}

/* Drop slot's packet after a failed push at queue qu (where: as in sim_drop_fn). */
static int drop_nomem(struct sim_fabric *fab, struct fab_queue *qu, uint32_t slot,
		      uint64_t now, int where)
{
	qu->st.drops_nomem++;
	report_drop(fab, &fab->pkts[slot], now, where, SIM_FATE_DROP_NOMEM);
	slot_put(fab, slot);
	return -ENOMEM;
}

/* End of serialization on the path: propagate (with jitter) to the downlink. */
static int on_path_done(struct sim_fabric *fab, uint32_t slot, uint64_t now)
{
	struct fab_pkt *p = &fab->pkts[slot];
	struct fab_path *path = &fab->paths[p->path];
	uint64_t wire = (uint64_t)p->len + fab->cfg.overhead_bytes;
	uint64_t jitter = 0;

	queue_dequeue(&path->q, wire);
	if (!path_is_up(&path->cfg, now)) {
		/* the link went down while the packet waited or serialized */
		path->q.st.drops_down++;
		report_drop(fab, p, now, p->path, SIM_FATE_DROP_DOWN);
		slot_put(fab, slot);
		return 0;
	}
	path->q.st.pkts_out++;
	path->q.st.bytes_out += p->len;
	if (path->cfg.jitter_ns)
		jitter = srd_rng_next(&path->rng) % (path->cfg.jitter_ns + 1);
	if (sim_evq_push(fab->q, now + path->cfg.prop_delay_ns + jitter, SIM_EV_FAB_DL_ARRIVE,
			 (int)slot, 0, NULL))
		return drop_nomem(fab, &path->q, slot, now, p->path);
	return 0;
}

/* Arrival at the destination's downlink queue. */
static int on_dl_arrive(struct sim_fabric *fab, uint32_t slot, uint64_t now)
{
	struct fab_pkt *p = &fab->pkts[slot];
	struct fab_queue *dl = &fab->dl[p->dst];
	uint64_t wire = (uint64_t)p->len + fab->cfg.overhead_bytes;
	struct fab_queue saved;
	uint64_t done;

	dl->st.pkts_in++;
	saved = *dl;
	done = queue_enqueue(dl, now, wire,
			     sim_ser_ns(p->len, fab->cfg.overhead_bytes, dl->rate_bps),
			     p->ect, &p->ce);
	if (done == 0) {
		report_drop(fab, p, now, -1 - p->dst, SIM_FATE_DROP_QUEUE);
		slot_put(fab, slot);
		return 0;
	}
	if (sim_evq_push(fab->q, done, SIM_EV_FAB_DL_DONE, (int)slot, 0, NULL)) {
		*dl = saved; /* undo the enqueue (pkts_in stays counted) */
		return drop_nomem(fab, dl, slot, now, -1 - p->dst);
	}
	return 0;
}

/* End of downlink serialization: hand the packet to the host. */
static int on_dl_done(struct sim_fabric *fab, uint32_t slot, uint64_t now)
{
	struct fab_pkt *p = &fab->pkts[slot];
	struct fab_queue *dl = &fab->dl[p->dst];
	uint64_t wire = (uint64_t)p->len + fab->cfg.overhead_bytes;
	const uint8_t *buf = p->buf; /* stays put even if deliver() grows the slot array */
	int src = p->src, dst = p->dst, ce = p->ce;
	uint32_t len = p->len;

	queue_dequeue(dl, wire);
	dl->st.pkts_out++;
	dl->st.bytes_out += len;
	/* the slot stays in use during the callback, so a send from inside it cannot take
	 * (and overwrite) this buffer */
	fab->cb.deliver(fab->cb.user, src, dst, now, buf, len, ce);
	slot_put(fab, slot);
	return 0;
}

int sim_fabric_handle(struct sim_fabric *fab, const struct sim_event *ev)
{
	uint32_t slot = (uint32_t)ev->a;

	if (ev->a < 0 || slot >= fab->npkts || !fab->pkts[slot].in_use)
		return -EINVAL;
	switch (ev->type) {
	case SIM_EV_FAB_PATH_DONE:
		return on_path_done(fab, slot, ev->time_ns);
	case SIM_EV_FAB_DL_ARRIVE:
		return on_dl_arrive(fab, slot, ev->time_ns);
	case SIM_EV_FAB_DL_DONE:
		return on_dl_done(fab, slot, ev->time_ns);
	default:
		return -EINVAL;
	}
}

/* ---- queries ------------------------------------------------------------------------ */

int sim_fabric_path_stats(const struct sim_fabric *fab, int path, struct sim_queue_stats *st)
{
	if (path < 0 || (uint32_t)path >= fab->cfg.npaths)
		return -EINVAL;
	*st = fab->paths[path].q.st;
	return 0;
}

int sim_fabric_downlink_stats(const struct sim_fabric *fab, int host,
			      struct sim_queue_stats *st)
{
	if (host < 0 || (uint32_t)host >= fab->cfg.hosts)
		return -EINVAL;
	*st = fab->dl[host].st;
	return 0;
}

const struct sim_fabric_config *sim_fabric_get_config(const struct sim_fabric *fab)
{
	return &fab->cfg;
}

uint64_t sim_fabric_in_flight(const struct sim_fabric *fab)
{
	return fab->in_flight;
}

void sim_fabric_reset_peaks(struct sim_fabric *fab)
{
	for (uint32_t p = 0; p < fab->cfg.npaths; p++)
		fab->paths[p].q.st.peak_bytes = fab->paths[p].q.st.queue_bytes;
	for (uint32_t h = 0; h < fab->cfg.hosts; h++)
		fab->dl[h].st.peak_bytes = fab->dl[h].st.queue_bytes;
}
