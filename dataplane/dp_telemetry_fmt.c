/*
 * dp_telemetry_fmt.c — formatting the snapshot the worker filled (dp_telemetry.c) into
 * the rte_telemetry replies of /srd/stats, /srd/ports, /srd/conns and /srd/paths.
 *
 * Output.  DPDK 22.11 limits what a callback may return, and this module keeps within it:
 *   - dict keys: letters, digits, '_' and '/' only (others are refused with -EINVAL), so
 *     connection keys are "PORT/10_0_0_2" and port keys are port names with any other
 *     character replaced by '_' (the exact name and address are values inside);
 *   - one level of nesting: a dict's values may be dicts or arrays of scalars, no deeper;
 *   - 256 entries per dict, 512 per array, strings up to 127 bytes;
 *   - the whole reply is at most 16384 bytes of JSON, and DPDK silently drops entries past
 *     that.  This module counts an upper bound of the text as it adds entries, stops
 *     before the limit, and says so with "truncated": 1 (there is no boolean type in
 *     22.11: 0 or 1, which reads as false or true).
 *
 *   /srd/stats   {"ports": N, "workers": N, "worker": {...}, "net_drops": {"short": ...},
 *                 "engine": {...summed over ports}, "engine_drops": {"truncated": ...},
 *                 "shm": {...} or "none"}; "/srd/stats,W": worker W's alone, with
 *                 "worker_index": W
 *   /srd/ports   {"lo0": {"name", "port_id", "ip", "prefix_len", "mac", "mtu", "link",
 *                 "link_changes", "csum_tx_ip", ..., "impair", "impair_paths",
 *                 "impair_pkts_in", ..., "neigh_misses", "conns"}, ...}
 *   /srd/conns   {"lo0/10_0_0_2": {"port", "peer", "local_id", "peer_id", "paths",
 *                 "inflight", "cwnd_pkts", "cwnd_x256", "srtt_ns", "min_rtt_ns", "rto_ns",
 *                 "tx_msgs", "retransmits", "rx_partial", "rx_held"}, ..., "count": N,
 *                 "truncated": 0}
 *   /srd/capture {"id", "state": "none"|"running"|"done", "ports": "lo0,lo1", "filter",
 *                 "snaplen", "count", "written", "bytes", "dropped", "end" (done: why)}
 *   /srd/paths   no parameter: {"conns": ["lo0,10.0.0.2", ...], "count", "truncated",
 *                 "usage"};  "/srd/paths,PEER" or "/srd/paths,PORT,PEER", either after
 *                 "wN/" to name the local worker N (PORT a name or
 *                 an index; "PORT/10_0_0_2" as /srd/conns prints it works too):
 *                 {"port", "peer", "local_id", "peer_id", "npaths", "path0": {"entropy",
 *                 "state", "inflight", "srtt_ns", "ecn_permille", "tx_pkts",
 *                 "replacements"}, ..., "truncated"}
 * Errors (bad parameter, no such connection, no answer, stopping) are {"error": "..."}.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dp_telemetry_int.h"

/* ---- counter tables: names and offsets, so that each field is listed once ---- */

#define TEL_F(type, f) { #f, offsetof(type, f) }

const struct tel_field dp_tel_worker_fields[] = {
	TEL_F(struct dp_worker_stats, loops),
	TEL_F(struct dp_worker_stats, idle_loops),
	TEL_F(struct dp_worker_stats, pauses),
	TEL_F(struct dp_worker_stats, rx_pkts),
	TEL_F(struct dp_worker_stats, rx_srd),
	TEL_F(struct dp_worker_stats, rx_arp),
	TEL_F(struct dp_worker_stats, tx_pkts),
	TEL_F(struct dp_worker_stats, tx_full),
	TEL_F(struct dp_worker_stats, tx_no_mbuf),
	TEL_F(struct dp_worker_stats, tx_no_route),
	TEL_F(struct dp_worker_stats, tx_no_neigh),
	TEL_F(struct dp_worker_stats, arp_requests),
	TEL_F(struct dp_worker_stats, arp_replies),
	TEL_F(struct dp_worker_stats, sends),
	TEL_F(struct dp_worker_stats, send_errors),
	TEL_F(struct dp_worker_stats, hairpin),
	TEL_F(struct dp_worker_stats, tx_ref_frames),
	TEL_F(struct dp_worker_stats, rx_joined),
	TEL_F(struct dp_worker_stats, tx_errors_deferred),
	TEL_F(struct dp_worker_stats, tx_ref_unshared),
	TEL_F(struct dp_worker_stats, link_changes),
	TEL_F(struct dp_worker_stats, tx_link_down),
	TEL_F(struct dp_worker_stats, steered_out),
	TEL_F(struct dp_worker_stats, steered_in),
	TEL_F(struct dp_worker_stats, steer_drops),
	TEL_F(struct dp_worker_stats, tx_no_worker),
	TEL_F(struct dp_worker_stats, capture_pkts),
	TEL_F(struct dp_worker_stats, capture_drops),
	TEL_F(struct dp_worker_stats, delivered),
	TEL_F(struct dp_worker_stats, rx_to_app),
	TEL_F(struct dp_worker_stats, rx_to_app_ns),
	TEL_F(struct dp_worker_stats, app_to_tx),
	TEL_F(struct dp_worker_stats, app_to_tx_ns),
};
const size_t dp_tel_nworker_fields = TEL_DIM(dp_tel_worker_fields);

const struct tel_field dp_tel_engine_fields[] = {
	TEL_F(struct srd_stats, tx_pkts),
	TEL_F(struct srd_stats, tx_data_pkts),
	TEL_F(struct srd_stats, tx_retx_pkts),
	TEL_F(struct srd_stats, tx_acks),
	TEL_F(struct srd_stats, tx_nacks),
	TEL_F(struct srd_stats, tx_probes),
	TEL_F(struct srd_stats, tx_resets),
	TEL_F(struct srd_stats, tx_payload_bytes),
	TEL_F(struct srd_stats, tx_packed_pkts),
	TEL_F(struct srd_stats, tx_packed_msgs),
	TEL_F(struct srd_stats, rx_pkts),
	TEL_F(struct srd_stats, rx_data_pkts),
	TEL_F(struct srd_stats, rx_payload_bytes),
	TEL_F(struct srd_stats, rx_packed_msgs),
	TEL_F(struct srd_stats, rx_ce_pkts),
	TEL_F(struct srd_stats, rx_acks),
	TEL_F(struct srd_stats, rx_nacks),
	TEL_F(struct srd_stats, rack_losses),
	TEL_F(struct srd_stats, rto_losses),
	TEL_F(struct srd_stats, rto_events),
	TEL_F(struct srd_stats, tlp_probes),
	TEL_F(struct srd_stats, rnr_received),
	TEL_F(struct srd_stats, msgs_accepted),
	TEL_F(struct srd_stats, msgs_completed),
	TEL_F(struct srd_stats, msgs_failed),
	TEL_F(struct srd_stats, msgs_delivered),
	TEL_F(struct srd_stats, msgs_aborted),
	TEL_F(struct srd_stats, msgs_held),
	TEL_F(struct srd_stats, path_failures),
	TEL_F(struct srd_stats, path_replacements),
	TEL_F(struct srd_stats, path_recycles),
	TEL_F(struct srd_stats, conns_created),
	TEL_F(struct srd_stats, conns_reset),
	TEL_F(struct srd_stats, conns_timed_out),
	TEL_F(struct srd_stats, conns_closed),
	TEL_F(struct srd_stats, conns_resumed),
	TEL_F(struct srd_stats, cookies_sent),
	TEL_F(struct srd_stats, cookies_taken),
	TEL_F(struct srd_stats, challenges),
	TEL_F(struct srd_stats, conns_active),
	TEL_F(struct srd_stats, rx_slots_used),
	TEL_F(struct srd_stats, ctrl_dropped),
};

const struct tel_field dp_tel_shm_fields[] = {
	TEL_F(struct dp_shm_stats, apps),
	TEL_F(struct dp_shm_stats, endpoints),
	TEL_F(struct dp_shm_stats, sends_inflight),
	TEL_F(struct dp_shm_stats, rx_bufs_lent),
	TEL_F(struct dp_shm_stats, rx_bytes_lent),
	TEL_F(struct dp_shm_stats, attaches),
	TEL_F(struct dp_shm_stats, refused),
	TEL_F(struct dp_shm_stats, bad_sqe),
	TEL_F(struct dp_shm_stats, rx_no_endpoint),
	TEL_F(struct dp_shm_stats, rx_no_buffer),
	TEL_F(struct dp_shm_stats, cq_overflow),
	TEL_F(struct dp_shm_stats, ring_corrupt),
	TEL_F(struct dp_shm_stats, rx_inline),
	TEL_F(struct dp_shm_stats, rx_inline_filling),
};
const size_t dp_tel_nshm_fields = TEL_DIM(dp_tel_shm_fields);

/* A counter added to one of these structs without a line above breaks the build here, not
 * the telemetry silently.  (Every field is a uint64_t, the arrays included.) */
_Static_assert(sizeof(struct dp_worker_stats) ==
		       sizeof(uint64_t) * (TEL_DIM(dp_tel_worker_fields) + DP_DROP_MAX),
	       "dp_tel_worker_fields[] misses a field of struct dp_worker_stats");
_Static_assert(sizeof(struct srd_stats) ==
		       sizeof(uint64_t) * (TEL_DIM(dp_tel_engine_fields) + SRD_DROP_MAX),
	       "dp_tel_engine_fields[] misses a field of struct srd_stats");
_Static_assert(sizeof(struct dp_shm_stats) == sizeof(uint64_t) * TEL_DIM(dp_tel_shm_fields),
	       "dp_tel_shm_fields[] misses a field of struct dp_shm_stats");

/* Names of the framing checks' drop reasons (enum dp_net_drop). */
static const char *const net_drop_names[DP_DROP_MAX] = {
	[DP_DROP_SHORT] = "short",
	[DP_DROP_NOT_IPV4] = "not_ipv4",
	[DP_DROP_BAD_IP] = "bad_ip",
	[DP_DROP_IP_CSUM] = "ip_csum",
	[DP_DROP_NOT_UDP] = "not_udp",
	[DP_DROP_NOT_FOR_US] = "not_for_us",
	[DP_DROP_WRONG_PORT] = "wrong_port",
	[DP_DROP_BAD_UDP] = "bad_udp",
	[DP_DROP_SRC_PORT] = "src_port",
	[DP_DROP_UDP_CSUM] = "udp_csum",
	[DP_DROP_BAD_ARP] = "bad_arp",
};
_Static_assert(DP_DROP_SRC_PORT + 1 == DP_DROP_MAX, "net_drop_names[] misses a reason");
const size_t dp_tel_nengine_fields = TEL_DIM(dp_tel_engine_fields);

/* ---- building replies within DPDK's limits ---- */

/* A dict being filled, with an upper bound of the JSON text it becomes. */
struct tel_dict {
	struct rte_tel_data *d; /* the dict */
	size_t bytes;           /* upper bound of its JSON text */
	size_t limit;           /* most bytes it may take */
	uint32_t n;             /* entries */
};

static size_t dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Bytes of a string once DPDK has escaped it for JSON (at most). */
static size_t json_str_len(const char *s)
{
	size_t n = 2;

	for (; *s; s++)
		n += (unsigned char)*s < 0x20 ? 6 : (*s == '"' || *s == '\\') ? 2 : 1;
	return n;
}

static void td_init(struct tel_dict *td, struct rte_tel_data *d, size_t limit)
{
	rte_tel_data_start_dict(d);
	*td = (struct tel_dict){ .d = d, .bytes = 2, .limit = limit };
}

/* Each entry costs ,"name": plus its value. */
static void td_u64(struct tel_dict *td, const char *name, uint64_t v)
{
	if (rte_tel_data_add_dict_u64(td->d, name, v) == 0) {
		td->bytes += strlen(name) + 4 + dec_len(v);
		td->n++;
	}
}

static void td_str(struct tel_dict *td, const char *name, const char *v)
{
	if (rte_tel_data_add_dict_string(td->d, name, v) >= 0) {
		td->bytes += strlen(name) + 4 + json_str_len(v);
		td->n++;
	}
}

/* A new dict for td_nest(), or NULL. */
static struct rte_tel_data *td_child(struct tel_dict *child, size_t limit)
{
	struct rte_tel_data *d = rte_tel_data_alloc();

	if (d)
		td_init(child, d, limit);
	return d;
}

/* Add child (a dict or an array of bytes JSON bytes) under name if it fits, keeping
 * reserve_entries entries free.  Returns 0, or -ENOSPC (child freed). */
static int td_nest(struct tel_dict *td, const char *name, struct rte_tel_data *child,
		   size_t bytes, uint32_t reserve_entries)
{
	size_t cost = strlen(name) + 4 + bytes;

	if (td->n + 1 + reserve_entries > RTE_TEL_MAX_DICT_ENTRIES ||
	    td->bytes + cost > td->limit ||
	    rte_tel_data_add_dict_container(td->d, name, child, 0) != 0) {
		rte_tel_data_free(child);
		return -ENOSPC;
	}
	td->bytes += cost;
	td->n++;
	return 0;
}

/* The top-level dict of a reply to cmd. */
static void td_top(struct tel_dict *td, struct rte_tel_data *d, const char *cmd)
{
	/* the reply is {"CMD":DICT} plus a terminating NUL */
	td_init(td, d, TEL_OUTPUT_MAX - (strlen(cmd) + 5) - TEL_TAIL_RESERVE);
}

int dp_tel_error(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

static void ip_str(char *buf, size_t len, uint64_t ip)
{
	if (ip > UINT32_MAX)
		snprintf(buf, len, "%llu", (unsigned long long)ip);
	else
		snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(ip >> 24) & 255,
			 (unsigned)(ip >> 16) & 255, (unsigned)(ip >> 8) & 255, (unsigned)ip & 255);
}

/* Key of a connection: "PORTKEY/10_0_0_2" between two workers 0; with other workers
 * "w1/PORTKEY/10_0_0_2_w3" (local worker 1, the peer's worker 3). */
static void conn_key(char *buf, size_t len, const struct tel_port *tp, uint32_t worker,
		     uint64_t peer)
{
	uint32_t ip = dp_peer_ip(peer), pw = dp_peer_worker(peer);
	char lw[8] = "", rw[8] = "";

	if (worker)
		snprintf(lw, sizeof(lw), "w%u/", worker % 100);
	if (pw)
		snprintf(rw, sizeof(rw), "_w%u", pw % 100);
	snprintf(buf, len, "%s%.40s/%u_%u_%u_%u%s", lw, tp->key, ip >> 24 & 255, ip >> 16 & 255,
		 ip >> 8 & 255, ip & 255, rw);
}

/* A peer as text: "10.0.0.2", or "10.0.0.2:3" for its worker 3 (as /srd/paths takes it). */
static void peer_str(char *buf, size_t len, uint64_t peer)
{
	char ip[20];

	ip_str(ip, sizeof(ip), dp_peer_ip(peer));
	if (dp_peer_worker(peer))
		snprintf(buf, len, "%s:%u", ip, dp_peer_worker(peer) % 100);
	else
		snprintf(buf, len, "%s", ip);
}

/* ---- formatting the snapshot ---- */

static void add_fields(struct tel_dict *td, const void *base, const struct tel_field *f,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		td_u64(td, f[i].name, field(base, f[i].off));
}

int dp_tel_fmt_stats(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct tel_dict top, c;
	struct rte_tel_data *cd;

	td_top(&top, d, cmd);
	td_u64(&top, "ports", t->nports);
	td_u64(&top, "workers", t->nworkers);
	if (t->req_worker >= 0)
		td_u64(&top, "worker_index", (uint64_t)t->req_worker);
	if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->wst, dp_tel_worker_fields, TEL_DIM(dp_tel_worker_fields));
		td_nest(&top, "worker", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		for (unsigned r = 1; r < DP_DROP_MAX; r++)
			td_u64(&c, net_drop_names[r], s->wst.rx_drops[r]);
		td_nest(&top, "net_drops", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->est, dp_tel_engine_fields, TEL_DIM(dp_tel_engine_fields));
		td_nest(&top, "engine", cd, c.bytes, 0);
	}
	if ((cd = td_child(&c, top.limit))) {
		for (int r = SRD_DROP_NONE + 1; r < SRD_DROP_MAX; r++)
			td_u64(&c, srd_drop_reason_name(r), s->est.drops[r]);
		td_nest(&top, "engine_drops", cd, c.bytes, 0);
	}
	if (!s->has_shm)
		td_str(&top, "shm", "none");
	else if ((cd = td_child(&c, top.limit))) {
		add_fields(&c, &s->sst, dp_tel_shm_fields, TEL_DIM(dp_tel_shm_fields));
		td_nest(&top, "shm", cd, c.bytes, 0);
	}
	return 0;
}

int dp_tel_fmt_ports(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	struct tel_dict top, c;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	for (uint32_t i = 0; i < t->nports; i++) {
		const struct tel_port *tp = &t->port[i];
		const struct dp_port *p = tp->port;
		const struct tel_port_snap *ps = &t->snap.port[i];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char buf[32];

		if (!cd)
			break;
		td_str(&c, "name", p->cfg->name);
		td_u64(&c, "port_id", p->port_id);
		ip_str(buf, sizeof(buf), p->cfg->ipv4);
		td_str(&c, "ip", buf);
		td_u64(&c, "prefix_len", p->cfg->prefix_len);
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1],
			 p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
		td_str(&c, "mac", buf);
		td_u64(&c, "mtu", p->mtu);
		td_str(&c, "link", ps->link_up ? "up" : "down");
		td_u64(&c, "link_changes", ps->link_changes);
		td_u64(&c, "csum_tx_ip", !!(p->csum_tx & DP_CSUM_IP_OFFLOAD));
		td_u64(&c, "csum_tx_udp", !!(p->csum_tx & DP_CSUM_UDP_OFFLOAD));
		td_u64(&c, "csum_rx_ip", !!(p->csum_rx & DP_CSUM_IP_OFFLOAD));
		td_u64(&c, "csum_rx_udp", !!(p->csum_rx & DP_CSUM_UDP_OFFLOAD));
		td_str(&c, "impair", ps->impair ? "on" : "off");
		td_u64(&c, "impair_paths", ps->impair_paths);
		td_u64(&c, "impair_pkts_in", ps->imp.pkts_in);
		td_u64(&c, "impair_pkts_out", ps->imp.pkts_out);
		td_u64(&c, "impair_drops_loss", ps->imp.drops_loss);
		td_u64(&c, "impair_drops_black", ps->imp.drops_black);
		td_u64(&c, "impair_drops_queue", ps->imp.drops_queue);
		td_u64(&c, "impair_ce_marked", ps->imp.ce_marked);
		td_u64(&c, "impair_queued", ps->imp.queued);
		td_u64(&c, "neigh_misses", ps->neigh_misses);
		td_u64(&c, "conns", ps->conns);
		td_u64(&c, "mbufs_total", ps->mbufs_total);
		td_u64(&c, "mbufs_avail", ps->mbufs_avail);
		if (td_nest(&top, tp->key, cd, c.bytes, 1))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "truncated", shown < t->nports);
	return 0;
}

int dp_tel_fmt_conns(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct tel_dict top, c;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	for (uint32_t i = 0; i < s->nconns; i++) {
		const struct tel_conn_snap *cs = &s->conns[i];
		const struct srd_conn_info *ci = &cs->info;
		const struct tel_port *tp = &t->port[cs->port];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char key[TEL_KEY_LEN], ip[32];

		if (!cd)
			break;
		ip_str(ip, sizeof(ip), dp_peer_ip(ci->peer));
		conn_key(key, sizeof(key), tp, cs->worker, ci->peer);
		td_str(&c, "port", tp->port->cfg->name);
		td_u64(&c, "worker", cs->worker);
		td_str(&c, "peer", ip);
		td_u64(&c, "peer_worker", dp_peer_worker(ci->peer));
		td_u64(&c, "local_id", ci->local_id);
		td_u64(&c, "peer_id", ci->peer_id);
		td_u64(&c, "paths", ci->npaths);
		td_u64(&c, "inflight", ci->inflight);
		td_u64(&c, "cwnd_pkts", ci->cwnd >> 8);
		td_u64(&c, "cwnd_x256", ci->cwnd);
		td_u64(&c, "srtt_ns", ci->srtt_ns);
		td_u64(&c, "min_rtt_ns", ci->min_rtt_ns);
		td_u64(&c, "rto_ns", ci->rto_ns);
		td_u64(&c, "tx_msgs", ci->tx_msgs);
		td_u64(&c, "retransmits", ci->retransmits);
		td_u64(&c, "rx_partial", ci->rx_partial);
		td_u64(&c, "rx_held", ci->rx_held);
		/* keep two entries for count and truncated */
		if (td_nest(&top, key, cd, c.bytes, 2))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "count", s->conns_total);
	td_u64(&top, "truncated", shown < s->conns_total);
	return 0;
}

/* /srd/paths without a parameter: the connections it can be asked about. */
int dp_tel_fmt_paths_list(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	struct rte_tel_data *arr = rte_tel_data_alloc();
	size_t bytes = 2;
	struct tel_dict top;
	uint32_t shown = 0;

	td_top(&top, d, cmd);
	td_str(&top, "usage", "/srd/paths,[wN/][PORT,]PEER (PEER: IP or IP:WORKER; wN: local worker)");
	if (arr) {
		rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
		for (uint32_t i = 0; i < s->nconns && shown < RTE_TEL_MAX_ARRAY_ENTRIES; i++) {
			char ip[32], item[TEL_KEY_LEN];

			peer_str(ip, sizeof(ip), s->conns[i].info.peer);
			snprintf(item, sizeof(item), "%.31s,%s",
				 t->port[s->conns[i].port].port->cfg->name, ip);
			/* ,"item" */
			if (top.bytes + 10 + bytes + 1 + json_str_len(item) > top.limit ||
			    rte_tel_data_add_array_string(arr, item) != 0)
				break;
			bytes += 1 + json_str_len(item);
			shown++;
		}
		if (td_nest(&top, "conns", arr, bytes, 2))
			shown = 0;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "count", s->conns_total);
	td_u64(&top, "truncated", shown < s->conns_total);
	return 0;
}

static const char *path_state_name(uint8_t st)
{
	switch (st) {
	case SRD_PATH_GOOD:
		return "good";
	case SRD_PATH_SUSPECT:
		return "suspect";
	case SRD_PATH_PROBING:
		return "probing";
	}
	return "unknown";
}

int dp_tel_fmt_paths(struct dp_telemetry *t, const char *cmd, struct rte_tel_data *d)
{
	const struct tel_snap *s = &t->snap;
	const struct srd_conn_info *ci = &s->conn.info;
	struct tel_dict top, c;
	uint32_t shown = 0;
	char ip[32];

	if (!s->found) {
		char msg[96];

		if (t->req_peer_worker >= 0)
			peer_str(ip, sizeof(ip), dp_peer_key(t->req_ip, (uint32_t)t->req_peer_worker));
		else
			ip_str(ip, sizeof(ip), t->req_ip);
		snprintf(msg, sizeof(msg), "no connection to %s%s%s", ip,
			 t->req_port >= 0 ? " on port " : "",
			 t->req_port >= 0 ? t->port[t->req_port].port->cfg->name : "");
		return dp_tel_error(d, msg);
	}
	ip_str(ip, sizeof(ip), dp_peer_ip(ci->peer));
	td_top(&top, d, cmd);
	td_str(&top, "port", t->port[s->conn.port].port->cfg->name);
	td_u64(&top, "worker", s->conn.worker);
	td_str(&top, "peer", ip);
	td_u64(&top, "peer_worker", dp_peer_worker(ci->peer));
	td_u64(&top, "local_id", ci->local_id);
	td_u64(&top, "peer_id", ci->peer_id);
	td_u64(&top, "npaths", ci->npaths);
	for (uint32_t p = 0; p < s->npaths; p++) {
		const struct srd_path_info *pi = &s->paths[p];
		struct rte_tel_data *cd = td_child(&c, top.limit);
		char key[16];

		if (!cd)
			break;
		td_u64(&c, "entropy", pi->entropy);
		td_str(&c, "state", path_state_name(pi->state));
		td_u64(&c, "inflight", pi->inflight);
		td_u64(&c, "srtt_ns", pi->srtt_ns);
		td_u64(&c, "ecn_permille", pi->ecn_permille);
		td_u64(&c, "tx_pkts", pi->tx_pkts);
		td_u64(&c, "replacements", pi->replacements);
		snprintf(key, sizeof(key), "path%u", p);
		if (td_nest(&top, key, cd, c.bytes, 1))
			break;
		shown++;
	}
	top.limit += TEL_TAIL_RESERVE;
	td_u64(&top, "truncated", shown < ci->npaths);
	return 0;
}

int dp_tel_fmt_capture(struct dp_telemetry *t, const struct dp_capture_status *st,
		       struct rte_tel_data *d)
{
	static const char *const states[] = { "none", "running", "done" };
	char ports[TEL_KEY_LEN * DP_MAX_PORTS] = "", filter[48];
	size_t off = 0;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "id", st->id);
	rte_tel_data_add_dict_string(d, "state", states[st->state]);
	if (st->state == DP_CAPTURE_NONE)
		return 0;
	for (uint32_t i = 0; i < t->nports && off < sizeof(ports); i++)
		if (st->req.port_mask >> i & 1)
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%s",
						off ? "," : "", t->port[i].port->cfg->name);
	dp_capture_filter_str(&st->req, filter, sizeof(filter));
	rte_tel_data_add_dict_string(d, "ports", ports);
	rte_tel_data_add_dict_string(d, "filter", filter);
	rte_tel_data_add_dict_u64(d, "snaplen", st->req.snaplen);
	rte_tel_data_add_dict_u64(d, "count", st->req.count);
	rte_tel_data_add_dict_u64(d, "written", st->written);
	rte_tel_data_add_dict_u64(d, "bytes", st->bytes);
	rte_tel_data_add_dict_u64(d, "dropped", st->dropped);
	if (st->state == DP_CAPTURE_DONE)
		rte_tel_data_add_dict_string(d, "end", st->end);
	return 0;
}
