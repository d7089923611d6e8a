/*
 * metrics.c — srdctl metrics: srdd's counters and gauges in the Prometheus text
 * exposition format (version 0.0.4), for node_exporter's textfile collector or any
 * scraper that reads a file (docs/observability.md).
 *
 * What it asks the daemon, and what becomes of it:
 *   /srd/stats,W for each worker W   srd_worker_*, srd_engine_*, srd_shm_* {worker};
 *                                    srd_net_drops_total and srd_engine_drops_total
 *                                    {worker, reason}
 *   /srd/ports                       srd_port_* and srd_impair_* {port}
 *   /srd/conns                       srd_conn_* {port, worker, peer, peer_worker}
 *   /srd/paths,wW/PORT,PEER:PW       srd_path_* {port, worker, peer, peer_worker, path}
 *                                    for each connection
 * Counters end in _total; times are in seconds, sizes in bytes.  All the samples of a
 * family are printed together under one HELP and one TYPE line, as the format requires,
 * so everything is gathered first and printed at the end.  A counter this srdctl does not
 * know (a newer daemon) is still exported, with a generic HELP text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* One sample: its labels ('k="v",...', escaped) and its value. */
struct sample {
	char *labels;      /* 'key="value",...' (escaped), without braces; "" for none */
	double value;      /* the sample's value */
};

/* A metric family and its samples. */
struct family {
	char name[96];     /* metric name */
	const char *type;  /* "counter" or "gauge" */
	char help[160];    /* HELP text (escaped when printed) */
	struct sample *s;  /* samples[0..n) */
	size_t n, cap;     /* samples used, allocated */
};

/* Every family, in the order first seen. */
struct expo {
	struct family *f;  /* families[0..n) */
	size_t n, cap;     /* families used, allocated */
	int oom;           /* an allocation failed: nothing is printed */
};

static struct family *family(struct expo *e, const char *name, const char *type, const char *help)
{
	struct family *f;

	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->f[i].name, name))
			return &e->f[i];
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct family *nf = realloc(e->f, cap * sizeof(*nf));

		if (!nf) {
			e->oom = 1;
			return NULL;
		}
		e->f = nf;
		e->cap = cap;
	}
	f = &e->f[e->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->help, sizeof(f->help), "%s", help);
	f->type = type;
	return f;
}

/* Append label key="value" to buf (value escaped as the format asks). */
static void label(char *buf, size_t len, const char *key, const char *value)
{
	size_t off = strlen(buf);

	off += (size_t)snprintf(buf + off, len - off, "%s%s=\"", off ? "," : "", key);
	for (; *value && off + 3 < len; value++) {
		if (*value == '\\' || *value == '"') {
			buf[off++] = '\\';
			buf[off++] = *value;
		} else if (*value == '\n') {
			buf[off++] = '\\';
			buf[off++] = 'n';
		} else {
			buf[off++] = *value;
		}
	}
	snprintf(buf + off, len - off, "\"");
}

static void add(struct expo *e, const char *name, const char *type, const char *help,
		const char *labels, double value)
{
	struct family *f = family(e, name, type, help);

	if (!f)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct sample *ns = realloc(f->s, cap * sizeof(*ns));

		if (!ns) {
			e->oom = 1;
			return;
		}
		f->s = ns;
		f->cap = cap;
	}
	f->s[f->n].labels = strdup(labels);
	if (!f->s[f->n].labels) {
		e->oom = 1;
		return;
	}
	f->s[f->n++].value = value;
}

static void print_escaped_help(const char *help)
{
	for (; *help; help++) {
		if (*help == '\\')
			fputs("\\\\", stdout);
		else if (*help == '\n')
			fputs("\\n", stdout);
		else
			putchar(*help);
	}
}

static void print_expo(const struct expo *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct family *f = &e->f[i];

		printf("# HELP %s ", f->name);
		print_escaped_help(f->help);
		printf("\n# TYPE %s %s\n", f->name, f->type);
		for (size_t k = 0; k < f->n; k++) {
			double v = f->s[k].value;

			printf("%s%s%s%s ", f->name, f->s[k].labels[0] ? "{" : "", f->s[k].labels,
			       f->s[k].labels[0] ? "}" : "");
			if (v == floor(v) && fabs(v) < 9.007199254740992e15)
				printf("%.0f\n", v);
			else
				printf("%.9g\n", v);
		}
	}
}

static void free_expo(struct expo *e)
{
	for (size_t i = 0; i < e->n; i++) {
		for (size_t k = 0; k < e->f[i].n; k++)
			free(e->f[i].s[k].labels);
		free(e->f[i].s);
	}
	free(e->f);
}

/* ---- the daemon's counters ---- */

/* A counter group of /srd/stats: a key, whether it is a gauge, its HELP text. */
struct known {
	const char *key;   /* the key in /srd/stats */
	int gauge;         /* 1: a gauge (a level now), 0: a counter */
	const char *help;  /* HELP text */
};

static const struct known worker_known[] = {
	{ "loops", 0, "Worker loop iterations." },
	{ "idle_loops", 0, "Worker loop iterations that found nothing to do." },
	{ "pauses", 0, "Times the worker read its clock 10 ms or more late (it lost its CPU, "
		       "or srdd was stopped): connections were not counted idle meanwhile." },
	{ "rx_pkts", 0, "Frames received from the ports." },
	{ "rx_srd", 0, "SRD datagrams handed to an engine." },
	{ "rx_arp", 0, "ARP packets received." },
	{ "tx_pkts", 0, "Frames given to the ports." },
	{ "tx_full", 0, "Frames a port did not take at once (kept in the backlog)." },
	{ "tx_no_mbuf", 0, "Packets not built: the mempool was empty." },
	{ "tx_no_route", 0, "Packets for a destination without a route." },
	{ "tx_no_neigh", 0, "Packets dropped while their neighbour was resolved." },
	{ "arp_requests", 0, "ARP requests sent." },
	{ "arp_replies", 0, "ARP replies sent." },
	{ "sends", 0, "Application sends handed to an engine." },
	{ "send_errors", 0, "Application sends refused by the engine." },
	{ "hairpin", 0, "Packets for the port's own address, handed back without the wire." },
	{ "tx_ref_frames", 0, "Frames sent with their payload read from the application's memory, not copied." },
	{ "rx_joined", 0, "Frames received in several segments and joined into one buffer to be read." },
	{ "tx_errors_deferred", 0, "Failed sends completed once no queued frame named their bytes." },
	{ "tx_ref_unshared", 0, "Held frames naming an app's bytes, copied when a send failed." },
	{ "link_changes", 0, "Link up/down events seen." },
	{ "tx_link_down", 0, "Frames dropped because their port's link was down." },
	{ "steered_out", 0, "Frames handed to another worker's inbox." },
	{ "steered_in", 0, "Frames taken from this worker's inbox." },
	{ "steer_drops", 0, "Frames dropped: another worker's inbox was full." },
	{ "tx_no_worker", 0, "Sends to an endpoint of a worker this daemon does not run." },
	{ "capture_pkts", 0, "Frames copied for a packet capture." },
	{ "capture_drops", 0, "Frames a packet capture missed (its ring was full)." },
	{ "delivered", 0, "Messages delivered to applications." },
	{ "rx_to_app", 0, "Loop iterations that delivered messages." },
	{ "rx_to_app_ns", 0, "Time from a receive burst to its completions published, summed "
			     "over rx_to_app." },
	{ "app_to_tx", 0, "Loop iterations that took sends and sent packets." },
	{ "app_to_tx_ns", 0, "Time from taking submissions to their packets handed to the port, "
			     "summed over app_to_tx." },
	{ NULL, 0, NULL },
};

static const struct known engine_known[] = {
	{ "tx_pkts", 0, "SRD packets produced by the engines." },
	{ "tx_data_pkts", 0, "Data packets sent, retransmissions included." },
	{ "tx_retx_pkts", 0, "Data packets retransmitted." },
	{ "tx_acks", 0, "ACKs sent." },
	{ "tx_nacks", 0, "NACKs sent." },
	{ "tx_probes", 0, "Probes and probe replies sent." },
	{ "tx_resets", 0, "RESETs sent." },
	{ "tx_payload_bytes", 0, "Payload bytes sent, retransmissions included." },
	{ "tx_packed_pkts", 0, "Data packets that carried several messages (first sends)." },
	{ "tx_packed_msgs", 0, "Messages sent packed with others into one data packet." },
	{ "rx_pkts", 0, "SRD packets received by the engines." },
	{ "rx_data_pkts", 0, "Data packets accepted." },
	{ "rx_payload_bytes", 0, "Payload bytes placed (each byte once)." },
	{ "rx_packed_msgs", 0, "Messages taken from packed data packets." },
	{ "rx_ce_pkts", 0, "Data packets that arrived with a CE mark." },
	{ "rx_acks", 0, "ACKs accepted." },
	{ "rx_nacks", 0, "NACKs accepted." },
	{ "rack_losses", 0, "Packets declared lost by time (RACK)." },
	{ "rto_losses", 0, "Packets declared lost by the retransmission timeout." },
	{ "rto_events", 0, "Retransmission timeouts." },
	{ "rnr_received", 0, "Receiver-not-ready NACKs received." },
	{ "msgs_accepted", 0, "Messages accepted for sending." },
	{ "msgs_completed", 0, "Messages sent and acknowledged." },
	{ "msgs_failed", 0, "Messages that completed with an error." },
	{ "msgs_delivered", 0, "Messages delivered to applications." },
	{ "msgs_aborted", 0, "Partial receives aborted." },
	{ "path_failures", 0, "Paths declared failed." },
	{ "path_replacements", 0, "Fresh entropy values taken for failed paths." },
	{ "conns_created", 0, "Connections created." },
	{ "conns_reset", 0, "Connections reset." },
	{ "conns_timed_out", 0, "Connections reset after spending their retry budget." },
	{ "conns_closed", 0, "Connections closed after their idle time." },
	{ "conns_resumed", 0, "Connections closed by the peer, re-opened with their messages." },
	{ "cookies_sent", 0, "Set-up cookies sent to new peers." },
	{ "cookies_taken", 0, "Set-up cookies received from peers." },
	{ "challenges", 0, "Probes asking a peer's known incarnation whether it is alive." },
	{ "conns_active", 1, "Connections in use now." },
	{ "rx_slots_used", 1, "Messages under reassembly now." },
	{ "ctrl_dropped", 0, "Control replies not sent: their ring was full." },
	{ NULL, 0, NULL },
};

static const struct known shm_known[] = {
	{ "apps", 1, "Applications attached now." },
	{ "endpoints", 1, "Endpoints open now." },
	{ "sends_inflight", 1, "Application sends taken and not yet completed." },
	{ "rx_bufs_lent", 1, "Receive buffers held by applications or being filled." },
	{ "rx_bytes_lent", 1, "Bytes of the receive buffers lent." },
	{ "attaches", 0, "Application handshakes completed." },
	{ "refused", 0, "Application connections refused." },
	{ "bad_sqe", 0, "Submissions refused as invalid." },
	{ "rx_no_endpoint", 0, "Messages for no open endpoint." },
	{ "rx_no_buffer", 0, "Receive buffers refused (an application's receive area was full)." },
	{ "cq_overflow", 0, "Completions held back because an application's ring was full." },
	{ "ring_corrupt", 0, "Applications detached for writing impossible ring indices." },
	{ "rx_inline", 0, "Small messages delivered inside the completion ring (no buffer lent)." },
	{ "rx_inline_filling", 1, "Small messages arriving into the daemon's staging slots now." },
	{ NULL, 0, NULL },
};

static const struct known *lookup(const struct known *k, const char *key)
{
	for (; k->key; k++)
		if (!strcmp(k->key, key))
			return k;
	return NULL;
}

/* Every integer of stats[group] as srd_GROUP_KEY[_total]{labels}. */
static void add_group(struct expo *e, json_t *stats, const char *group, const struct known *known,
		      const char *labels)
{
	json_t *g = json_object_get(stats, group), *v;
	const char *key;

	json_object_foreach(g, key, v) {
		const struct known *k = lookup(known, key);
		size_t klen = strlen(key);
		int ns = klen > 3 && !strcmp(key + klen - 3, "_ns"); /* shown in seconds */
		double value = (double)json_integer_value(v) * (ns ? 1e-9 : 1.0);
		char name[96], help[160];

		if (!json_is_integer(v))
			continue;
		snprintf(name, sizeof(name), "srd_%s_%.*s%s%s", group, (int)(ns ? klen - 3 : klen), key,
			 ns ? "_seconds" : "", k && k->gauge ? "" : "_total");
		if (k)
			snprintf(help, sizeof(help), "%s", k->help);
		else
			snprintf(help, sizeof(help), "srdd %s counter %s.", group, key);
		add(e, name, k && k->gauge ? "gauge" : "counter", help, labels, value);
	}
}

/* stats[group] (drops by reason) as one counter family with a reason label. */
static void add_drops(struct expo *e, json_t *stats, const char *group, const char *name,
		      const char *help, const char *worker_labels)
{
	json_t *g = json_object_get(stats, group), *v;
	const char *key;

	json_object_foreach(g, key, v) {
		char labels[256];

		if (!json_is_integer(v))
			continue;
		snprintf(labels, sizeof(labels), "%s", worker_labels);
		label(labels, sizeof(labels), "reason", key);
		add(e, name, "counter", help, labels, (double)json_integer_value(v));
	}
}

static int add_stats(const struct ctl *c, struct expo *e)
{
	json_t *all = ctl_ask(c, "/srd/stats");
	long long workers;

	if (!all)
		return -1;
	workers = json_is_integer(json_object_get(all, "workers")) ? ctl_num(all, "workers") : 1;
	json_decref(all);
	add(e, "srd_workers", "gauge", "Workers (poll-mode lcores) of the daemon.", "",
	    (double)workers);
	for (long long w = 0; w < workers; w++) {
		char cmd[48], labels[64] = "", idx[24];
		json_t *st;

		snprintf(cmd, sizeof(cmd), "/srd/stats,%lld", w);
		snprintf(idx, sizeof(idx), "%lld", w);
		st = ctl_ask(c, cmd);
		if (!st)
			return -1;
		label(labels, sizeof(labels), "worker", idx);
		add_group(e, st, "worker", worker_known, labels);
		add_group(e, st, "engine", engine_known, labels);
		if (json_is_object(json_object_get(st, "shm")))
			add_group(e, st, "shm", shm_known, labels);
		add_drops(e, st, "net_drops", "srd_net_drops_total",
			  "Received frames dropped by the framing checks, by reason.", labels);
		add_drops(e, st, "engine_drops", "srd_engine_drops_total",
			  "SRD packets dropped by the engines, by reason.", labels);
		json_decref(st);
	}
	return 0;
}

static int add_ports(const struct ctl *c, struct expo *e)
{
	json_t *ports = ctl_ask(c, "/srd/ports"), *p;
	const char *key;

	if (!ports)
		return -1;
	json_object_foreach(ports, key, p) {
		char labels[160] = "", info[320];

		if (!json_is_object(p))
			continue;
		label(labels, sizeof(labels), "port", ctl_str(p, "name"));
		snprintf(info, sizeof(info), "%s", labels);
		label(info, sizeof(info), "ip", ctl_str(p, "ip"));
		label(info, sizeof(info), "mac", ctl_str(p, "mac"));
		add(e, "srd_port_info", "gauge", "A port's address and MAC (always 1).", info, 1);
		add(e, "srd_port_up", "gauge", "1 if the port's link is up.", labels,
		    !strcmp(ctl_str(p, "link"), "up"));
		add(e, "srd_port_link_changes_total", "counter", "Link up/down changes of the port.",
		    labels, (double)ctl_num(p, "link_changes"));
		add(e, "srd_port_mtu_bytes", "gauge", "IP MTU of the port.", labels,
		    (double)ctl_num(p, "mtu"));
		add(e, "srd_port_conns", "gauge", "Connections of the port's engines.", labels,
		    (double)ctl_num(p, "conns"));
		add(e, "srd_port_neigh_misses_total", "counter",
		    "Neighbour lookups without a usable entry.", labels,
		    (double)ctl_num(p, "neigh_misses"));
		add(e, "srd_port_mbufs", "gauge", "Size of the port's mbuf pool.", labels,
		    (double)ctl_num(p, "mbufs_total"));
		add(e, "srd_port_mbufs_free", "gauge", "Free mbufs of the port's pool.", labels,
		    (double)ctl_num(p, "mbufs_avail"));
		if (strcmp(ctl_str(p, "impair"), "on"))
			continue;
		add(e, "srd_impair_packets_in_total", "counter",
		    "Packets the impairment stage took.", labels, (double)ctl_num(p, "impair_pkts_in"));
		add(e, "srd_impair_packets_out_total", "counter",
		    "Packets the impairment stage released to the port.", labels,
		    (double)ctl_num(p, "impair_pkts_out"));
		{
			static const char *const why[3][2] = {
				{ "loss", "impair_drops_loss" },
				{ "blackhole", "impair_drops_black" },
				{ "queue", "impair_drops_queue" },
			};

			for (int i = 0; i < 3; i++) {
				char l2[200];

				snprintf(l2, sizeof(l2), "%s", labels);
				label(l2, sizeof(l2), "reason", why[i][0]);
				add(e, "srd_impair_drops_total", "counter",
				    "Packets the impairment stage dropped, by reason.", l2,
				    (double)ctl_num(p, why[i][1]));
			}
		}
		add(e, "srd_impair_ce_marked_total", "counter",
		    "Packets the impairment stage marked CE.", labels,
		    (double)ctl_num(p, "impair_ce_marked"));
		add(e, "srd_impair_queued_packets", "gauge",
		    "Packets held by the impairment stage now.", labels,
		    (double)ctl_num(p, "impair_queued"));
	}
	json_decref(ports);
	return 0;
}

/* The paths of the connection cn (its labels: labels). */
static void add_paths(const struct ctl *c, struct expo *e, json_t *cn, const char *labels)
{
	static const char *const states[] = { "good", "suspect", "probing" };
	char cmd[192];
	json_t *r, *p;
	const char *key;

	snprintf(cmd, sizeof(cmd), "/srd/paths,w%lld/%s,%s:%lld", ctl_num(cn, "worker"),
		 ctl_str(cn, "port"), ctl_str(cn, "peer"), ctl_num(cn, "peer_worker"));
	r = ctl_ask(c, cmd);
	if (!r)
		return; /* gone meanwhile: its connection's figures stand */
	json_object_foreach(r, key, p) {
		char l[320], idx[16];

		if (!json_is_object(p) || strncmp(key, "path", 4))
			continue;
		snprintf(l, sizeof(l), "%s", labels);
		snprintf(idx, sizeof(idx), "%s", key + 4);
		label(l, sizeof(l), "path", idx);
		add(e, "srd_path_srtt_seconds", "gauge",
		    "Smoothed RTT of a path (0 before its first sample).", l,
		    (double)ctl_num(p, "srtt_ns") / 1e9);
		add(e, "srd_path_inflight_packets", "gauge", "Packets in flight on a path.", l,
		    (double)ctl_num(p, "inflight"));
		add(e, "srd_path_ecn_ratio", "gauge", "Recent fraction of CE-marked ACKs of a path.",
		    l, (double)ctl_num(p, "ecn_permille") / 1000.0);
		add(e, "srd_path_tx_packets_total", "counter", "Packets sent on a path index.", l,
		    (double)ctl_num(p, "tx_pkts"));
		add(e, "srd_path_replacements_total", "counter",
		    "Times a path index got a fresh entropy value.", l,
		    (double)ctl_num(p, "replacements"));
		add(e, "srd_path_entropy", "gauge", "A path's entropy value (its UDP source port's "
		    "low bits).", l, (double)ctl_num(p, "entropy"));
		for (int s = 0; s < 3; s++) {
			char ls[352];

			snprintf(ls, sizeof(ls), "%s", l);
			label(ls, sizeof(ls), "state", states[s]);
			add(e, "srd_path_state", "gauge", "1 for a path's state (good, suspect, probing).",
			    ls, !strcmp(ctl_str(p, "state"), states[s]));
		}
	}
	json_decref(r);
}

static int add_conns(const struct ctl *c, struct expo *e)
{
	json_t *conns = ctl_ask(c, "/srd/conns"), *cn;
	const char *key;
	unsigned reported = 0;

	if (!conns)
		return -1;
	json_object_foreach(conns, key, cn) {
		char labels[256] = "", num[24];

		if (!json_is_object(cn))
			continue;
		reported++;
		label(labels, sizeof(labels), "port", ctl_str(cn, "port"));
		snprintf(num, sizeof(num), "%lld", ctl_num(cn, "worker"));
		label(labels, sizeof(labels), "worker", num);
		label(labels, sizeof(labels), "peer", ctl_str(cn, "peer"));
		snprintf(num, sizeof(num), "%lld", ctl_num(cn, "peer_worker"));
		label(labels, sizeof(labels), "peer_worker", num);
		add(e, "srd_conn_paths", "gauge", "Paths of a connection.", labels,
		    (double)ctl_num(cn, "paths"));
		add(e, "srd_conn_inflight_packets", "gauge", "Packets in flight on a connection.",
		    labels, (double)ctl_num(cn, "inflight"));
		add(e, "srd_conn_cwnd_packets", "gauge", "Congestion window of a connection.", labels,
		    (double)ctl_num(cn, "cwnd_x256") / 256.0);
		add(e, "srd_conn_srtt_seconds", "gauge", "Smoothed RTT of a connection.", labels,
		    (double)ctl_num(cn, "srtt_ns") / 1e9);
		add(e, "srd_conn_min_rtt_seconds", "gauge", "Smallest RTT seen on a connection.",
		    labels, (double)ctl_num(cn, "min_rtt_ns") / 1e9);
		add(e, "srd_conn_rto_seconds", "gauge", "Retransmission timeout of a connection.",
		    labels, (double)ctl_num(cn, "rto_ns") / 1e9);
		add(e, "srd_conn_messages_sent_total", "counter", "Messages sent on a connection.",
		    labels, (double)ctl_num(cn, "tx_msgs"));
		add(e, "srd_conn_retransmits_total", "counter",
		    "Packets retransmitted on a connection.", labels,
		    (double)ctl_num(cn, "retransmits"));
		add_paths(c, e, cn, labels);
	}
	add(e, "srd_conns_reported", "gauge",
	    "Connections in this report (fewer than srd_engine_conns_active when the daemon's "
	    "reply was truncated).", "", reported);
	json_decref(conns);
	return 0;
}

int ctl_metrics(const struct ctl *c)
{
	struct expo e = { 0 };
	int rc = 1;

	if (add_stats(c, &e) || add_ports(c, &e) || add_conns(c, &e))
		goto out;
	if (e.oom) {
		fprintf(stderr, "srdctl: out of memory\n");
		goto out;
	}
	add(&e, "srd_up", "gauge", "1: srdctl read the daemon's figures.", "", 1);
	print_expo(&e);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free_expo(&e);
	return rc;
}
