/*
 * dp_config.c — srdd's JSON configuration (docs/config.md): defaults, the loader and its
 * checks.  Read with jansson; no DPDK (the loader runs before the EAL, and in
 * srdd --check-config).
 *
 * The loader walks the document with a "where am I" path (e.g. "ports[1].impair.loss") so
 * that every refusal names the file, the key and the reason: "FILE: KEY: REASON".  Every
 * object is checked for unknown keys before its values are read; every value for its JSON
 * type, then its range; then the values that depend on each other (ports against ports,
 * ports against workers and mbufs, the apps' region against the message size); last, the
 * protocol core's own srd_config_check() on the engine configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_config.h"
#include "dp_config_int.h"
#include "dp_net.h" /* DP_ETH_HLEN, for the impairment stage's longest hold */
#include "srd_shm.h" /* the app region's rings, for the region size check */
#include "wire.h" /* SRD_HDR_MAX_LEN: the largest SRD header, for the segment size */

/* ---- sections ---- */

/* "eal": the EAL arguments, copied (dp_config_free() frees them). */
static int parse_eal(struct ld *l, json_t *root, struct dp_config *cfg)
{
	json_t *arr, *v;
	size_t i, old;
	int rc = dp_cfg_get_arr(l, root, "eal", DP_MAX_EAL_ARGS, &arr);

	if (rc || !arr)
		return rc;
	old = dp_cfg_path_key(l, "eal");
	json_array_foreach(arr, i, v) {
		const char *s = NULL;
		size_t o = dp_cfg_path_idx(l, i);

		rc = dp_cfg_check_str(l, NULL, v, DP_EAL_ARG_MAX, &s);
		dp_cfg_path_pop(l, o);
		if (rc)
			break;
		cfg->eal_argv[cfg->eal_argc] = strdup(s);
		if (!cfg->eal_argv[cfg->eal_argc]) {
			rc = dp_cfg_oom(l);
			break;
		}
		cfg->eal_argc++;
	}
	dp_cfg_path_pop(l, old);
	return rc;
}

/* "idle": how idle workers wait. */
static int parse_idle(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "policy", "max_sleep_us", "spin_us", "deep_sleep_us",
					    NULL };
	static const char *const policies[] = { "busy", "pause", "sleep", "adaptive" };
	static const char *const adaptive_only[] = { "spin_us", "deep_sleep_us" };
	int policy = (int)cfg->idle;
	json_t *o;
	size_t old;
	int rc = dp_cfg_get_obj(l, root, "idle", &o);

	if (rc || !o)
		return rc;
	old = dp_cfg_path_key(l, "idle");
	if ((rc = dp_cfg_only_keys(l, o, keys)) ||
	    (rc = dp_cfg_get_enum(l, o, "policy", policies, 4, &policy)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_sleep_us", 1, 10000, &cfg->idle_sleep_max_us)) ||
	    (rc = dp_cfg_get_u32(l, o, "spin_us", 0, 1000000, &cfg->idle_spin_us)) ||
	    (rc = dp_cfg_get_u32(l, o, "deep_sleep_us", 1, 1000000, &cfg->idle_deep_sleep_us)))
		goto out;
	/* a key the policy would ignore is a mistake worth saying */
	for (size_t i = 0; i < sizeof(adaptive_only) / sizeof(adaptive_only[0]); i++)
		if (policy != DP_IDLE_ADAPTIVE && json_object_get(o, adaptive_only[i])) {
			rc = dp_cfg_bad(l, adaptive_only[i], "only the adaptive policy has it "
					"(policy is \"%s\")", policies[policy]);
			goto out;
		}
	if (!json_object_get(o, "deep_sleep_us")) {
		if (cfg->idle_deep_sleep_us < cfg->idle_sleep_max_us)
			cfg->idle_deep_sleep_us = cfg->idle_sleep_max_us;
	} else if (cfg->idle_deep_sleep_us < cfg->idle_sleep_max_us) {
		rc = dp_cfg_bad(l, "deep_sleep_us", "%u is below max_sleep_us (%u)",
				cfg->idle_deep_sleep_us, cfg->idle_sleep_max_us);
		goto out;
	}
	cfg->idle = (enum dp_idle_policy)policy;
out:
	dp_cfg_path_pop(l, old);
	return rc;
}

/* An array of uids or gids (0 .. 2^32-2). */
static int parse_ids(struct ld *l, json_t *o, const char *key, uint32_t *ids, uint32_t *n)
{
	json_t *arr, *v;
	size_t i, old;
	int rc = dp_cfg_get_arr(l, o, key, DP_MAX_IDS, &arr);

	if (rc || !arr)
		return rc;
	old = dp_cfg_path_key(l, key);
	*n = 0;
	json_array_foreach(arr, i, v) {
		long long x = 0;
		size_t o2 = dp_cfg_path_idx(l, i);

		rc = dp_cfg_check_int(l, NULL, v, 0, 4294967294ll, &x);
		dp_cfg_path_pop(l, o2);
		if (rc)
			break;
		ids[(*n)++] = (uint32_t)x;
	}
	dp_cfg_path_pop(l, old);
	return rc;
}

/* "control": the socket apps attach through, and who may. */
static int parse_control(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "socket", "mode", "allowed_uids", "allowed_gids",
					    NULL };
	uint32_t uids[DP_MAX_IDS], gids[DP_MAX_IDS];
	const char *sock = NULL, *mode = NULL;
	json_t *o, *mv;
	size_t old;
	int rc = dp_cfg_get_obj(l, root, "control", &o);

	if (rc || !o)
		return rc;
	old = dp_cfg_path_key(l, "control");
	if ((rc = dp_cfg_only_keys(l, o, keys)) ||
	    (rc = dp_cfg_get_str(l, o, "socket", DP_SOCKET_PATH_MAX, &sock)))
		goto out;
	if (sock) {
		if (sock[0] != '/') {
			rc = dp_cfg_bad(l, "socket", "\"%s\" is not an absolute path", sock);
			goto out;
		}
		snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", sock);
	}
	mv = json_object_get(o, "mode");
	if (mv && !json_is_string(mv)) {
		rc = dp_cfg_bad(l, "mode", "expected an octal string such as \"0660\", got %s",
				dp_cfg_type_name(mv));
		goto out;
	}
	if ((rc = dp_cfg_get_str(l, o, "mode", 8, &mode)))
		goto out;
	if (mode) {
		unsigned long m = 0;

		for (const char *p = mode; *p; p++) {
			if (*p < '0' || *p > '7') {
				rc = dp_cfg_bad(l, "mode", "\"%s\" is not an octal mode such as "
							   "\"0660\"", mode);
				goto out;
			}
			m = m * 8 + (unsigned long)(*p - '0');
		}
		if (m > 0777) {
			rc = dp_cfg_bad(l, "mode", "\"%s\" is out of range [\"0000\", \"0777\"]",
					mode);
			goto out;
		}
		cfg->socket_mode = (uint32_t)m;
	}
	if ((rc = parse_ids(l, o, "allowed_uids", uids, &cfg->nallowed_uids)))
		goto out;
	for (uint32_t i = 0; i < cfg->nallowed_uids; i++)
		cfg->allowed_uids[i] = (uid_t)uids[i];
	if ((rc = parse_ids(l, o, "allowed_gids", gids, &cfg->nallowed_gids)))
		goto out;
	for (uint32_t i = 0; i < cfg->nallowed_gids; i++)
		cfg->allowed_gids[i] = (gid_t)gids[i];
out:
	dp_cfg_path_pop(l, old);
	return rc;
}

/* "apps": each attached app's region and rings, and the daemon's limits. */
static int parse_apps(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "region_mb", "sq_entries", "cq_entries", "max_apps",
					    "max_endpoints", NULL };
	uint32_t region_mb = (uint32_t)(cfg->app_region_bytes / MIB);
	json_t *o;
	size_t old;
	int rc = dp_cfg_get_obj(l, root, "apps", &o);

	if (rc || !o)
		return rc;
	old = dp_cfg_path_key(l, "apps");
	if ((rc = dp_cfg_only_keys(l, o, keys)) ||
	    (rc = dp_cfg_get_u32(l, o, "region_mb", 2, 4095, &region_mb)) ||
	    (rc = dp_cfg_get_pow2(l, o, "sq_entries", 16, 65536, &cfg->sq_entries)) ||
	    (rc = dp_cfg_get_pow2(l, o, "cq_entries", 16, 65536, &cfg->cq_entries)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_apps", 1, 256, &cfg->max_apps)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_endpoints", 1, 4095, &cfg->max_endpoints)))
		goto out;
	cfg->app_region_bytes = (uint64_t)region_mb * MIB;
out:
	dp_cfg_path_pop(l, old);
	return rc;
}

/* A window in packets (fractions allowed) to the core's fixed point (1/256 packet). */
static int get_cwnd(struct ld *l, json_t *o, const char *key, double hi, uint32_t *fixed)
{
	double pkts = *fixed / CWND_ONE;
	int rc = dp_cfg_get_num(l, o, key, 1.0 / CWND_ONE, hi, &pkts);

	if (rc == 0)
		*fixed = (uint32_t)(pkts * CWND_ONE + 0.5);
	return rc;
}

/* "protocol": the engine configuration (durations in µs, windows in packets), and the
 * connection idle timeout. */
static int parse_protocol(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = {
		"mode", "paths", "cc", "max_conns", "setup_cookie_pct", "tx_window", "rx_window",
		"rx_credit_kb", "max_tx_msgs", "pack_msgs", "rx_slots", "max_msg_mb", "min_rto_us",
		"max_rto_us", "min_tlp_us", "init_rtt_us",
		"max_retries", "max_rnr_retries", "rnr_delay_us", "ack_delay_us", "ack_every",
		"reorder_pct", "path_fail_losses", "conn_idle_ms", "cc_target_delay_us",
		"cc_base_rtt_us", "cc_init_cwnd", "cc_min_cwnd", "cc_max_cwnd", "cc_ai",
		"cc_beta_pct", "cc_max_mdf_pct", "cc_dctcp_g_shift", "cc_pacing_gain_pct", "seed",
		NULL
	};
	static const char *const modes[] = { "multipath", "single", "spray" };
	static const char *const ccs[] = { "swift", "dctcp" };
	struct srd_config *e = &cfg->engine;
	struct srd_cc_config *cc = &e->cc;
	int mode = (int)e->mode, algo = (int)cc->algo;
	uint32_t msg_mb = e->max_msg_size / (uint32_t)MIB;
	uint32_t idle_ms = (uint32_t)(cfg->engine.conn_idle_ns / 1000000u);
	uint32_t credit_kb = (uint32_t)(cfg->engine.rx_credit_bytes / 1024u);
	json_t *o;
	size_t old;
	int rc = dp_cfg_get_obj(l, root, "protocol", &o);

	if (rc || !o)
		return rc;
	old = dp_cfg_path_key(l, "protocol");
	if ((rc = dp_cfg_only_keys(l, o, keys)) ||
	    (rc = dp_cfg_get_enum(l, o, "mode", modes, 3, &mode)) ||
	    (rc = dp_cfg_get_u32(l, o, "paths", 1, SRD_MAX_PATHS, &e->paths)) ||
	    (rc = dp_cfg_get_enum(l, o, "cc", ccs, 2, &algo)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_conns", 1, 65535, &e->max_conns)) ||
	    (rc = dp_cfg_get_u32(l, o, "setup_cookie_pct", 0, 100, &e->setup_cookie_pct)) ||
	    (rc = dp_cfg_get_pow2(l, o, "tx_window", 16, 4096, &e->tx_window)) ||
	    (rc = dp_cfg_get_pow2(l, o, "rx_window", 64, 4096, &e->rx_window)) ||
	    (rc = dp_cfg_get_u32(l, o, "rx_credit_kb", 0, 1u << 30, &credit_kb)) ||
	    (rc = dp_cfg_get_pow2(l, o, "max_tx_msgs", 1, 4096, &e->max_tx_msgs)) ||
	    (rc = dp_cfg_get_u32(l, o, "pack_msgs", 1, SRD_PACK_MAX_MSGS, &e->pack_msgs)) ||
	    (rc = dp_cfg_get_u32(l, o, "rx_slots", 1, 1u << 24, &e->rx_slots)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_msg_mb", 1, DP_MAX_MSG_MB, &msg_mb)) ||
	    (rc = dp_cfg_get_us(l, o, "min_rto_us", 1, 1e6, &e->min_rto_ns)) ||
	    (rc = dp_cfg_get_us(l, o, "max_rto_us", 1, 6e7, &e->max_rto_ns)) ||
	    (rc = dp_cfg_get_us(l, o, "min_tlp_us", 0, 1e6, &e->min_tlp_ns)) ||
	    (rc = dp_cfg_get_us(l, o, "init_rtt_us", 0.1, 1e6, &e->init_rtt_ns)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_retries", 1, 255, &e->max_retries)) ||
	    (rc = dp_cfg_get_u32(l, o, "max_rnr_retries", 0, 65535, &e->max_rnr_retries)) ||
	    (rc = dp_cfg_get_us(l, o, "rnr_delay_us", 1, 1e6, &e->rnr_delay_ns)) ||
	    (rc = dp_cfg_get_us(l, o, "ack_delay_us", 0, 1e6, &e->ack_delay_ns)) ||
	    (rc = dp_cfg_get_u32(l, o, "ack_every", 1, 64, &e->ack_every)) ||
	    (rc = dp_cfg_get_u32(l, o, "reorder_pct", 0, 1000, &e->reorder_pct)) ||
	    (rc = dp_cfg_get_u32(l, o, "path_fail_losses", 1, 255, &e->path_fail_losses)) ||
	    (rc = dp_cfg_get_u32(l, o, "conn_idle_ms", 1, 86400000, &idle_ms)) ||
	    (rc = dp_cfg_get_us(l, o, "cc_target_delay_us", 0.1, 1e6, &cc->target_delay_ns)) ||
	    (rc = dp_cfg_get_us(l, o, "cc_base_rtt_us", 0, 1e6, &cc->base_rtt_ns)) ||
	    (rc = get_cwnd(l, o, "cc_init_cwnd", 65536, &cc->init_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_min_cwnd", 65536, &cc->min_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_max_cwnd", 65536, &cc->max_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_ai", 4096, &cc->ai)) ||
	    (rc = dp_cfg_get_u32(l, o, "cc_beta_pct", 0, 100, &cc->beta_pct)) ||
	    (rc = dp_cfg_get_u32(l, o, "cc_max_mdf_pct", 1, 99, &cc->max_mdf_pct)) ||
	    (rc = dp_cfg_get_u32(l, o, "cc_dctcp_g_shift", 1, 16, &cc->dctcp_g_shift)) ||
	    (rc = dp_cfg_get_u32(l, o, "cc_pacing_gain_pct", 0, 1000, &cc->pacing_gain_pct)))
		goto out;
	if ((rc = dp_cfg_get_seed(l, o, "seed", &cfg->protocol_seed)))
		goto out;
	e->mode = (enum srd_path_mode)mode;
	cc->algo = (enum srd_cc_algo)algo;
	e->max_msg_size = msg_mb * (uint32_t)MIB;
	cfg->engine.conn_idle_ns = (uint64_t)idle_ms * 1000000u;
	e->rx_credit_bytes = (uint64_t)credit_kb * 1024u;
	/* srdd's probe floor, when the file leaves it, stays well below the RTO floor */
	if (!json_object_get(o, "min_tlp_us") && e->min_tlp_ns > e->min_rto_ns / 4)
		e->min_tlp_ns = e->min_rto_ns / 4;
	/* Relations between the keys, said in the file's units (srd_config_check() would
	 * say them in the core's). */
	if (e->max_rto_ns < e->min_rto_ns)
		rc = dp_cfg_bad(l, "max_rto_us", "%g is below min_rto_us (%g)", e->max_rto_ns / 1e3,
				e->min_rto_ns / 1e3);
	else if (cc->max_cwnd < cc->min_cwnd)
		rc = dp_cfg_bad(l, "cc_max_cwnd", "%g is below cc_min_cwnd (%g)",
				cc->max_cwnd / CWND_ONE,
				cc->min_cwnd / CWND_ONE);
	else if (cc->init_cwnd < cc->min_cwnd || cc->init_cwnd > cc->max_cwnd)
		rc = dp_cfg_bad(l, "cc_init_cwnd",
				"%g is out of range [cc_min_cwnd %g, cc_max_cwnd %g]",
				cc->init_cwnd / CWND_ONE,
				cc->min_cwnd / CWND_ONE,
				cc->max_cwnd / CWND_ONE);
out:
	dp_cfg_path_pop(l, old);
	return rc;
}

/* ---- the whole file ---- */

/*
 * The longest port p's impairment stage can hold a packet (its delay, and a full queue
 * serialized at its rate) must be below conn_idle_ns: a packet held longer than the
 * receiver remembers the connection (a set-up resent and delivered meanwhile) would open
 * a fresh one there and be delivered again.  A real fabric holds a packet microseconds.
 */
static int check_impair_hold(struct ld *l, const struct dp_port_cfg *p, uint64_t conn_idle_ns)
{
	for (uint32_t k = 0; k < p->impair.npaths; k++) {
		const struct dp_impair_path *q = &p->impair.path[k];
		double queue_ns = q->rate_bps ? (double)DP_IMPAIR_QUEUE_PKTS *
						(p->mtu + DP_ETH_HLEN) * 8e9 / (double)q->rate_bps :
						0;

		if ((double)q->delay_ns + queue_ns >= (double)conn_idle_ns)
			return dp_cfg_bad(l, "impair",
					  "path %u can hold a packet %.1f ms (delay_us %g, then %u "
					  "frames queued at rate_gbps %g), not less than "
					  "protocol.conn_idle_ms (%g): a packet held longer than "
					  "the receiver remembers its connection would be delivered "
					  "again", k, ((double)q->delay_ns + queue_ns) / 1e6,
					  q->delay_ns / 1e3, DP_IMPAIR_QUEUE_PKTS,
					  q->rate_bps / 1e9, conn_idle_ns / 1e6);
	}
	return 0;
}

/* Values that depend on more than one section. */
static int check_across(struct ld *l, struct dp_config *cfg)
{
	uint32_t min_mtu = DP_MAX_MTU;
	uint64_t rings, area;
	int rc;

	/* a peer may run up to 16 workers: worker w listens on udp_port + w */
	if ((uint32_t)cfg->udp_port + DP_MAX_WORKERS - 1 > 65535)
		return dp_cfg_bad(l, "udp_port", "%u + %u is beyond 65535 (a daemon's worker w, "
				  "up to %u, listens on udp_port + w)", cfg->udp_port,
				  DP_MAX_WORKERS - 1, DP_MAX_WORKERS - 1);
	/* An app's region holds its header and rings, then a send area and a receive area of
	 * half the rest each (dataplane/dp_shm.c); each must hold the longest message.  The
	 * estimate allows a page of alignment per ring. */
	rings = SRD_SHM_HDR_SIZE + 2 * (sizeof(struct srd_shm_ring) + 4096) +
		(uint64_t)cfg->sq_entries * sizeof(struct srd_sqe) +
		(uint64_t)cfg->cq_entries * sizeof(struct srd_cqe);
	area = cfg->app_region_bytes > rings ? (cfg->app_region_bytes - rings) / 2 : 0;
	if (area < cfg->engine.max_msg_size)
		return dp_cfg_bad(l, "apps.region_mb",
				  "%llu MiB leaves send and receive areas of %.1f MiB each, less "
				  "than protocol.max_msg_mb (%u MiB)",
				  (unsigned long long)(cfg->app_region_bytes / MIB),
				  area / (double)MIB, cfg->engine.max_msg_size / (uint32_t)MIB);
	for (uint32_t i = 0; i < cfg->nports; i++) {
		const struct dp_port_cfg *p = &cfg->ports[i];
		uint64_t need = (uint64_t)cfg->workers * (p->rx_desc + p->tx_desc);

		if (cfg->mbufs < need)
			return dp_cfg_bad(l, "mbufs", "%u is fewer than port \"%s\" holds in its "
						      "rings (%u workers x (%u rx_desc + "
						      "%u tx_desc) = %llu)",
					  cfg->mbufs, p->name, cfg->workers, p->rx_desc, p->tx_desc,
					  (unsigned long long)need);
		if (p->kind == DP_PORT_PCI)
			for (int k = 0; k < cfg->eal_argc; k++)
				if (strcmp(cfg->eal_argv[k], "--no-pci") == 0)
					return dp_cfg_bad(l, "eal", "\"--no-pci\" leaves port "
								    "\"%s\" (%s) without its "
								    "device", p->name, p->dev);
		if (p->mtu < min_mtu)
			min_mtu = p->mtu;
		if (p->impair.enabled) {
			size_t o1 = dp_cfg_path_key(l, "ports"), o2 = dp_cfg_path_idx(l, i);

			rc = check_impair_hold(l, p, cfg->engine.conn_idle_ns);
			dp_cfg_path_pop(l, o2);
			dp_cfg_path_pop(l, o1);
			if (rc)
				return rc;
		}
	}
	/* A segment fills the smallest MTU: IPv4 + UDP + the largest SRD header + payload. */
	cfg->engine.seg_size = min_mtu - DP_IP_UDP_HLEN - SRD_HDR_MAX_LEN;
	return 0;
}

/*
 * A worker that sleeps when idle holds packets up to max_sleep_us (more, as the kernel
 * rounds sleeps up) at each end before it sees them.  Swift would take that for queueing
 * and keep its window at the minimum, and a short retransmission timeout would fire on it
 * again and again (a loopback run: 15,000 timeouts, most of its resends needless).  Under
 * the sleep policy the target delay and the tail loss probe's floor are at least
 * 2 * max_sleep_us + 100 us and the RTO floor at least 4 * max_sleep_us + 200 us
 * (docs/config.md, "protocol").
 */
static void sleep_aware_target(struct dp_config *cfg)
{
	uint64_t sleep_ns = (uint64_t)cfg->idle_sleep_max_us * 1000u;
	uint64_t target = 2 * sleep_ns + 100000u, rto = 4 * sleep_ns + 200000u;

	if (cfg->idle != DP_IDLE_SLEEP)
		return;
	if (cfg->engine.cc.target_delay_ns < target)
		cfg->engine.cc.target_delay_ns = target;
	if (cfg->engine.min_tlp_ns < target)
		cfg->engine.min_tlp_ns = target;
	if (cfg->engine.min_rto_ns < rto)
		cfg->engine.min_rto_ns = rto;
	if (cfg->engine.max_rto_ns < cfg->engine.min_rto_ns)
		cfg->engine.max_rto_ns = cfg->engine.min_rto_ns;
}

/* The top-level object, then the checks across sections and the core's own check. */
static int parse_root(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "eal", "workers", "idle", "udp_port", "mbufs",
					    "control", "apps", "log_level", "protocol", "ports",
					    NULL };
	static const char *const levels[] = { "emerg", "alert", "crit", "err", "warning",
					      "notice", "info", "debug" };
	uint32_t port = cfg->udp_port;
	int level = cfg->log_level - 1;
	char msg[256];
	int rc;

	if ((rc = dp_cfg_only_keys(l, root, keys)) || (rc = parse_eal(l, root, cfg)) ||
	    (rc = dp_cfg_get_u32(l, root, "workers", 1, 16, &cfg->workers)) ||
	    (rc = parse_idle(l, root, cfg)) ||
	    (rc = dp_cfg_get_u32(l, root, "udp_port", 1, 65535, &port)) ||
	    (rc = dp_cfg_get_u32(l, root, "mbufs", 1024, 1u << 24, &cfg->mbufs)) ||
	    (rc = parse_control(l, root, cfg)) || (rc = parse_apps(l, root, cfg)) ||
	    (rc = dp_cfg_get_enum(l, root, "log_level", levels, 8, &level)) ||
	    (rc = parse_protocol(l, root, cfg)) || (rc = dp_cfg_parse_ports(l, root, cfg)))
		return rc;
	cfg->udp_port = (uint16_t)port;
	cfg->log_level = level + 1; /* RTE_LOG_EMERG is 1 ... RTE_LOG_DEBUG is 8 */
	if ((rc = check_across(l, cfg)))
		return rc;
	sleep_aware_target(cfg);
	if (srd_config_check(&cfg->engine, msg, sizeof(msg)))
		return dp_cfg_bad(l, "protocol", "%s", msg);
	return 0;
}

/* Read the whole file into a NUL-terminated heap buffer. */
static int read_file(struct ld *l, const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? -ENOENT : (errno == EACCES || errno == EPERM) ? -EACCES
										   : -EIO;
		if (l->errlen)
			snprintf(l->err, l->errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EIO;
		if (l->errlen)
			snprintf(l->err, l->errlen, "%s: not a regular file", path);
		goto close_fd;
	}
	if (st.st_size > (off_t)DP_CFG_FILE_MAX) {
		rc = dp_cfg_bad(l, NULL, "larger than %u bytes: not a configuration file",
				DP_CFG_FILE_MAX);
		goto close_fd;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = dp_cfg_oom(l);
		goto close_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -EIO;
			if (l->errlen)
				snprintf(l->err, l->errlen, "%s: cannot read: %s", path,
					 n < 0 ? strerror(errno) : "file shrank while read");
			goto free_buf;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*outlen = got;
	return 0;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return rc;
}

void dp_config_default(struct dp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->idle = DP_IDLE_BUSY;
	cfg->idle_sleep_max_us = 100;
	cfg->idle_spin_us = 100;
	cfg->idle_deep_sleep_us = 1000;
	cfg->udp_port = 9371;
	cfg->mbufs = 8192;
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", "/run/srd/srdd.sock");
	cfg->socket_mode = 0660;
	cfg->app_region_bytes = 64 * MIB;
	cfg->sq_entries = 1024;
	cfg->cq_entries = 4096;
	cfg->max_apps = 16;
	cfg->max_endpoints = 1024;
	cfg->log_level = 7; /* RTE_LOG_INFO */
	srd_config_default(&cfg->engine);
	/* a daemon frees what dead apps held: idle connections close (the core never does
	 * by default) */
	cfg->engine.conn_idle_ns = 500ull * 1000000u;
	/* a worker on a shared CPU stalls for tens of us now and then, and both ends of the
	 * loopback pair with it: the tail loss probe waits at least 20 us (at most a quarter
	 * of min_rto_us unless the file sets it; parse_protocol()).  The loopback main job's
	 * probes, all needless: 134-357 per run without the floor, 95-121 with it, most of
	 * those in its 1 MiB run; in its 64 B latency run, 34-123 against 8-12 */
	cfg->engine.min_tlp_ns = 20000;
	/* one software worker drains at most a few Gbit/s: a window of 64 jumbo packets
	 * (576 KB) covers that and a 100 Gbit/s NIC's BDP at tens of µs, where a larger one
	 * only builds queues that time out under CPU contention */
	cfg->engine.cc.max_cwnd = 64u * 256u;
	/* with that window, 64 message slots per connection (the core's default is 512, for
	 * one-packet messages at full windows) */
	cfg->engine.max_tx_msgs = 64;
	if (cfg->engine.cc.init_cwnd > cfg->engine.cc.max_cwnd)
		cfg->engine.cc.init_cwnd = cfg->engine.cc.max_cwnd;
}

int dp_config_load(const char *path, struct dp_config *cfg, char *err, size_t errlen)
{
	struct ld l = { .file = path, .err = err, .errlen = errlen };
	json_error_t je;
	json_t *root;
	size_t len = 0;
	char *buf = NULL;
	int rc;

	dp_config_default(cfg);
	if (errlen)
		err[0] = '\0';
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	rc = read_file(&l, path, &buf, &len);
	if (rc)
		return rc;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return dp_cfg_oom(&l);
		return dp_cfg_bad(&l, NULL, "line %d, column %d: %s", je.line, je.column, je.text);
	}
	if (!json_is_object(root))
		rc = dp_cfg_bad(&l, NULL, "the top level must be an object, got %s",
				dp_cfg_type_name(root));
	else
		rc = parse_root(&l, root, cfg);
	json_decref(root);
	if (rc)
		dp_config_free(cfg);
	return rc;
}

void dp_config_free(struct dp_config *cfg)
{
	for (int i = 0; i < cfg->eal_argc; i++) {
		free(cfg->eal_argv[i]);
		cfg->eal_argv[i] = NULL;
	}
	cfg->eal_argc = 0;
}
