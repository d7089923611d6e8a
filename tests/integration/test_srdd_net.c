/*
 * test_srdd_net.c — srdd over real(er) links:
 *   - two daemons joined by net_memif, each with its own --file-prefix and control socket:
 *     a transfer of 10,000 messages (1 B .. 1 MiB) from an app on one to an app on the
 *     other, ARP resolving each side's neighbour;
 *   - one daemon with two net_tap ports inside a network namespace the test creates, the
 *     namespace's kernel routing between the ports' subnets: each port reaches the other
 *     through its gateway, so ARP (for the gateway, and the kernel's for us) and routes are
 *     exercised, and a transfer completes; then the first tap's link goes down (srdd sees
 *     it; sends fail with -ETIMEDOUT rather than hang) and up again (transfers work).  The
 *     namespace is removed however the test ends;
 *   - the memif pair again, with a retry budget longer than a daemon restart, and daemon B
 *     killed (SIGKILL) and started again in the middle of a transfer: first B holds the
 *     receiving app, then the sending one; the apps reattach (xfer --reattach).  Messages
 *     may fail, but none arrives twice, every one reported ok arrived once, the transfer
 *     goes on after the restart, and A notices B's new incarnation.
 *
 * SRDD_BIN and XFER_BIN name the programs (meson sets them).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proc.h"

static char tmpdir[64];
static char netns[32];
static char prefixes[2][48]; /* EAL file prefixes of the test's daemons (teardown removes them) */

static const char *bin(const char *env, const char *fallback)
{
	const char *v = getenv(env);

	return v ? v : fallback;
}

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Write a daemon config: ports is the JSON of the "ports" array; extra (or NULL) more
 * top-level members, e.g. "\"protocol\": {...},". */
static void write_config(const char *path, const char *prefix, const char *sock,
			 const char *ports, const char *extra)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"{ \"eal\": [\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix\", \"%s\","
		" \"-l\", \"0\", \"--log-level\", \"lib.eal:error\"],\n"
		"  \"idle\": { \"policy\": \"sleep\", \"max_sleep_us\": 50 },\n"
		"  \"control\": { \"socket\": \"%s\" },\n"
		"  \"apps\": { \"region_mb\": 96 },\n"
		"  %s\"ports\": %s }\n",
		prefix, sock, extra ? extra : "", ports);
	fclose(f);
}

/* Start srdd (inside netns ns if not NULL) and wait for its control socket. */
static pid_t start_srdd(const char *config, const char *sock, const char *log, const char *ns)
{
	char *plain[] = { (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "-c", (char *)config, NULL };
	char *in_ns[] = { "ip", "netns", "exec", (char *)ns, plain[0], "-c", (char *)config, NULL };
	pid_t pid = proc_start(ns ? in_ns : plain, log);
	struct stat st;

	assert_true(pid > 0);
	for (int64_t end = proc_now_ms() + 15000; stat(sock, &st) != 0; proc_sleep_ms(20)) {
		if (proc_now_ms() > end || proc_wait(pid, 0) != -ETIMEDOUT) {
			char *text = proc_read_file(log);

			fail_msg("srdd did not start:\n%s", text ? text : "(no log)");
		}
	}
	return pid;
}

static void stop_srdd(pid_t pid, const char *log)
{
	int rc = proc_stop(pid, SIGTERM, 10000);

	if (rc != 0) {
		char *text = proc_read_file(log);

		fail_msg("srdd exited with %d:\n%s", rc, text ? text : "(no log)");
	}
}

/* Print what the sender (output file out_s) and the receiver (out_r) said. */
static void print_outputs(const char *out_s, const char *out_r)
{
	char *text = proc_read_file(out_s);

	printf("  %s", text ? text : "(no sender output)\n");
	free(text);
	text = proc_read_file(out_r);
	printf("  %s", text ? text : "(no receiver output)\n");
	free(text);
}

/* Transfer count messages from an app on daemon socket sock_s (local address local_s) to an
 * app on sock_r (local_r); both must succeed. */
static void transfer(const char *sock_s, const char *local_s, const char *sock_r,
		     const char *local_r, uint32_t count)
{
	char addr_file[128], to[64], out_r[128], out_s[128], count_s[16];
	char *recv_argv[] = { (char *)bin("XFER_BIN", "build/tests/xfer"), "recv", "--socket",
			      (char *)sock_r, "--local", (char *)local_r, "--addr-file", addr_file,
			      "--count", count_s, "--seed", "21", "--timeout-ms", "120000", NULL };
	char *send_argv[] = { recv_argv[0], "send", "--socket", (char *)sock_s, "--local",
			      (char *)local_s, "--to", to, "--count", count_s, "--seed", "21",
			      "--timeout-ms", "120000", NULL };
	pid_t r, s;
	int rc_r, rc_s;

	snprintf(addr_file, sizeof(addr_file), "%s/addr", tmpdir);
	snprintf(out_r, sizeof(out_r), "%s/recv.out", tmpdir);
	snprintf(out_s, sizeof(out_s), "%s/send.out", tmpdir);
	snprintf(count_s, sizeof(count_s), "%u", count);
	unlink(addr_file);
	r = proc_start(recv_argv, out_r);
	assert_int_equal(proc_wait_line(addr_file, 10000, to, sizeof(to)), 0);
	s = proc_start(send_argv, out_s);
	rc_s = proc_wait(s, 180000);
	rc_r = proc_wait(r, 30000);
	print_outputs(out_s, out_r);
	assert_int_equal(rc_s, 0);
	assert_int_equal(rc_r, 0);
}

/* Wait (up to 3 s) until /srd/ports says port `name` has link `state`. */
static void expect_link(const char *prefix, const char *name, const char *state)
{
	const char *now = "?";

	for (int64_t end = proc_now_ms() + 3000; proc_now_ms() < end; proc_sleep_ms(50)) {
		json_t *ports = proc_telemetry(prefix, "/srd/ports");
		const char *v = ports ? json_string_value(json_object_get(
						json_object_get(ports, name), "link")) : NULL;
		int ok = v && !strcmp(v, state);

		now = ok ? state : v ? (strcmp(v, "up") ? "down" : "up") : "?";
		json_decref(ports);
		if (ok)
			return;
	}
	fail_msg("port %s: link %s, want %s", name, now, state);
}

/* Send count messages that must all fail with status. */
static void send_expect_fail(const char *sock, const char *local, const char *to,
			     uint32_t count, int status)
{
	char out[128], count_s[16];
	char *argv[] = { (char *)bin("XFER_BIN", "build/tests/xfer"), "send", "--socket",
			 (char *)sock, "--local", (char *)local, "--to", (char *)to, "--count",
			 count_s, "--seed", "3", "--timeout-ms", "60000", NULL };
	json_t *j;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/fail.out", tmpdir);
	snprintf(count_s, sizeof(count_s), "%u", count);
	pid = proc_start(argv, out);
	assert_true(pid > 0);
	assert_int_equal(proc_wait(pid, 70000), 1);
	j = proc_last_json(out);
	assert_non_null(j);
	printf("  while down: failed %lld, first_error %lld\n", proc_json_int(j, "failed", NULL),
	       proc_json_int(j, "first_error", NULL));
	assert_int_equal(proc_json_int(j, "failed", NULL), count);
	assert_int_equal(proc_json_int(j, "first_error", NULL), status);
	json_decref(j);
}

/* ---- two daemons over net_memif ---- */

/* Daemons A (memif server, 10.99.0.1) and B (client, 10.99.0.2). */
struct memif_pair {
	char cfg_a[128], cfg_b[128], sock_a[128], sock_b[128], log_a[128], log_b[128];
	char prefix_a[48], prefix_b[48];
	pid_t a, b;
};

/* Write the pair's configs (extra: as write_config's) and start A, then B. */
static void memif_start(struct memif_pair *m, const char *extra)
{
	char memif_sock[128], ports[512];

	snprintf(memif_sock, sizeof(memif_sock), "%s/memif.sock", tmpdir);
	snprintf(m->prefix_a, sizeof(m->prefix_a), "srdmemA-%d", (int)getpid());
	snprintf(m->prefix_b, sizeof(m->prefix_b), "srdmemB-%d", (int)getpid());
	snprintf(prefixes[0], sizeof(prefixes[0]), "%s", m->prefix_a);
	snprintf(prefixes[1], sizeof(prefixes[1]), "%s", m->prefix_b);
	snprintf(m->cfg_a, sizeof(m->cfg_a), "%s/a.json", tmpdir);
	snprintf(m->cfg_b, sizeof(m->cfg_b), "%s/b.json", tmpdir);
	snprintf(m->sock_a, sizeof(m->sock_a), "%s/a.sock", tmpdir);
	snprintf(m->sock_b, sizeof(m->sock_b), "%s/b.sock", tmpdir);
	snprintf(m->log_a, sizeof(m->log_a), "%s/a.log", tmpdir);
	snprintf(m->log_b, sizeof(m->log_b), "%s/b.log", tmpdir);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"m\", \"type\": \"vdev\", \"device\": \"net_memif0,role=server,"
		 "socket=%s,socket-abstract=no,mac=02:00:00:99:00:01\", \"address\": \"10.99.0.1/24\","
		 " \"mtu\": 1500 } ]", memif_sock);
	write_config(m->cfg_a, m->prefix_a, m->sock_a, ports, extra);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"m\", \"type\": \"vdev\", \"device\": \"net_memif0,role=client,"
		 "socket=%s,socket-abstract=no,mac=02:00:00:99:00:02\", \"address\": \"10.99.0.2/24\","
		 " \"mtu\": 1500 } ]", memif_sock);
	write_config(m->cfg_b, m->prefix_b, m->sock_b, ports, extra);

	m->a = start_srdd(m->cfg_a, m->sock_a, m->log_a, NULL); /* the memif server first */
	m->b = start_srdd(m->cfg_b, m->sock_b, m->log_b, NULL);
}

static void memif_stop(struct memif_pair *m)
{
	stop_srdd(m->b, m->log_b);
	stop_srdd(m->a, m->log_a);
	sh("rm -rf /var/run/dpdk/%s /var/run/dpdk/%s", m->prefix_a, m->prefix_b);
}

/* Frames the daemon with EAL prefix `prefix` sent with their payload read from an app's
 * memory (worker.tx_ref_frames), or -1. */
static long long tx_ref_frames(const char *prefix)
{
	json_t *st = proc_telemetry(prefix, "/srd/stats");
	long long v = st ? proc_json_int(st, "worker", "tx_ref_frames") : -1;

	json_decref(st);
	return v;
}

/* (the port copies each frame into memif's ring, the payload straight from the sending
 * app's memory: xfer checks every byte) */
static void test_memif(void **state)
{
	struct memif_pair m;

	(void)state;
	/* both daemons share CPU 0 with the apps: on a loaded 2-core machine a stall can
	 * outlast the default retry budget (about 0.1 s), so allow about 0.6 s */
	memif_start(&m, "\"protocol\": { \"max_rto_us\": 50000, \"conn_idle_ms\": 2000 },");
	transfer(m.sock_a, "10.99.0.1", m.sock_b, "10.99.0.2", 10000);
	printf("  frames sent from the app's memory: %lld\n", tx_ref_frames(m.prefix_a));
	assert_true(tx_ref_frames(m.prefix_a) > 0);
	memif_stop(&m);
}

/* ---- a peer daemon restarted in the middle of a transfer ---- */

/* Read count result bytes (xfer --results) from path. */
static uint8_t *read_results(const char *path, uint32_t count)
{
	uint8_t *r = malloc(count);
	FILE *f = fopen(path, "r");

	if (!r || !f || fread(r, 1, count, f) != count)
		fail_msg("%s: cannot read %u results", path, count);
	fclose(f);
	return r;
}

/* The /srd/stats counters a restart concerns: groups, then their members. */
static const char *const restart_groups[] = { "engine", "engine_drops" };
static const char *const restart_keys[][10] = {
	{ "msgs_delivered", "msgs_failed", "msgs_aborted", "conns_created", "conns_reset",
	  "conns_closed", "conns_resumed", "tx_resets", "challenges", NULL },
	{ "unknown_conn", "stale_conn", "peer_mismatch", "need_cookie", "no_endpoint",
	  "duplicate", NULL },
};

static long long stat_of(json_t *st, const char *group, const char *key)
{
	return st ? proc_json_int(st, group, key) : -1;
}

/* /srd/stats of the daemon with EAL prefix `prefix` (retried for up to 3 s: a daemon that
 * has just started may not answer yet), or NULL. */
static json_t *stats(const char *prefix)
{
	for (int64_t end = proc_now_ms() + 3000;; proc_sleep_ms(20)) {
		json_t *st = proc_telemetry(prefix, "/srd/stats");

		if (stat_of(st, "engine", "msgs_delivered") >= 0 || proc_now_ms() > end)
			return st;
		json_decref(st);
	}
}

static long long delivered(const char *prefix)
{
	json_t *st = stats(prefix);
	long long v = stat_of(st, "engine", "msgs_delivered");

	json_decref(st);
	return v;
}

/* Print the changes of restart_keys between two /srd/stats of daemon `name`; returns the
 * change of conns_reset (-1: no such counter). */
static long long print_stat_changes(const char *name, json_t *before, json_t *after)
{
	long long resets = -1;

	printf("  %s:", name);
	for (int g = 0; g < 2; g++) {
		printf(" %s", restart_groups[g]);
		for (const char *const *k = restart_keys[g]; *k; k++) {
			long long b = stat_of(before, restart_groups[g], *k);
			long long a = stat_of(after, restart_groups[g], *k);

			if (a < 0 || b < 0)
				continue;
			printf(" %s +%lld", *k, a - b);
			if (!strcmp(*k, "conns_reset"))
				resets = a - b;
		}
		printf(g ? "\n" : ";");
	}
	return resets;
}

/*
 * One transfer from an app on one daemon to an app on the other, both with --reattach; once
 * some messages have arrived, daemon B is killed (SIGKILL) and started again.  sender_on_b:
 * B holds the sender (else the receiver).  Checks the apps' per-message results.
 */
static void restart_round(struct memif_pair *m, int sender_on_b, uint32_t count,
			  const char *seed, int ordered)
{
	const char *what = sender_on_b ? "sender's daemon restarted" : "receiver's daemon restarted";
	long long out_of_order;
	const char *prefix_r = sender_on_b ? m->prefix_a : m->prefix_b;
	char addr_file[128], to[64], out_r[128], out_s[128], res_r[128], res_s[128], count_s[16];
	char *recv_argv[] = { (char *)bin("XFER_BIN", "build/tests/xfer"), "recv", "--socket",
			      sender_on_b ? m->sock_a : m->sock_b, "--local",
			      sender_on_b ? "10.99.0.1" : "10.99.0.2", "--addr-file", addr_file,
			      "--count", count_s, "--seed", (char *)seed, "--max-size", "65536",
			      "--timeout-ms", "60000", "--reattach", "--results", res_r,
			      ordered ? "--expect-order" : NULL, NULL };
	char *send_argv[] = { recv_argv[0], "send", "--socket", sender_on_b ? m->sock_b : m->sock_a,
			      "--local", sender_on_b ? "10.99.0.2" : "10.99.0.1", "--to", to,
			      "--count", count_s, "--seed", (char *)seed, "--max-size", "65536",
			      "--window", "32", "--timeout-ms", "60000", "--reattach", "--results",
			      res_s, ordered ? "--ordered" : NULL, NULL };
	uint32_t ok = 0, failed = 0, unsent = 0, undecided = 0, once = 0, dups = 0, lost = 0;
	uint32_t failed_arrived = 0, ok_after = 0;
	long long base, at_kill, resets, resumed_at, after_reattach, reattached;
	json_t *a_before, *a_after, *js, *jr;
	uint8_t *rs, *rr;
	pid_t r, s;
	char *text;
	int rc_s = -ETIMEDOUT, rc_r;

	printf("  -- %s%s\n", what, ordered ? ", ordered endpoints" : "");
	snprintf(addr_file, sizeof(addr_file), "%s/addr", tmpdir);
	snprintf(out_r, sizeof(out_r), "%s/recv-%s.out", tmpdir, seed);
	snprintf(out_s, sizeof(out_s), "%s/send-%s.out", tmpdir, seed);
	snprintf(res_r, sizeof(res_r), "%s/recv-%s.res", tmpdir, seed);
	snprintf(res_s, sizeof(res_s), "%s/send-%s.res", tmpdir, seed);
	snprintf(count_s, sizeof(count_s), "%u", count);
	unlink(addr_file);
	a_before = stats(m->prefix_a);
	base = delivered(prefix_r);
	assert_true(base >= 0);

	r = proc_start(recv_argv, out_r);
	assert_true(r > 0);
	assert_int_equal(proc_wait_line(addr_file, 10000, to, sizeof(to)), 0);
	s = proc_start(send_argv, out_s);
	assert_true(s > 0);
	/* let an eighth of the messages through, then kill B */
	for (int64_t end = proc_now_ms() + 20000; (at_kill = delivered(prefix_r)) < base + count / 8;
	     proc_sleep_ms(2)) {
		if (proc_now_ms() > end)
			fail_msg("no progress before the kill: %lld delivered", at_kill - base);
		if ((rc_s = proc_wait(s, 0)) != -ETIMEDOUT)
			fail_msg("the sender ended (%d) before the kill", rc_s);
	}
	kill(m->b, SIGKILL);
	assert_int_equal(proc_wait(m->b, 5000), 128 + SIGKILL);
	/* srdd replaces a stale control socket, but start_srdd waits for the file to appear */
	unlink(m->sock_b);
	m->b = start_srdd(m->cfg_b, m->sock_b, m->log_b, NULL);

	rc_s = proc_wait(s, 90000);
	proc_sleep_ms(500); /* the last messages' way to the receiver */
	rc_r = proc_stop(r, SIGTERM, 5000);
	print_outputs(out_s, out_r);
	if (rc_s != 0 || rc_r != 0) {
		char *la = proc_read_file(m->log_a), *lb = proc_read_file(m->log_b);

		fail_msg("sender exited with %d, receiver with %d\nA:\n%sB:\n%s", rc_s, rc_r,
			 la ? la : "(no log)\n", lb ? lb : "(no log)\n");
	}
	js = proc_last_json(out_s);
	jr = proc_last_json(out_r);
	assert_non_null(js);
	assert_non_null(jr);

	rs = read_results(res_s, count);
	rr = read_results(res_r, count);
	for (uint32_t i = 0; i < count; i++) {
		ok += rs[i] == 1;
		failed += rs[i] == 2;
		unsent += rs[i] == 0;
		undecided += rs[i] == 3;
		once += rr[i] == 1;
		dups += rr[i] > 1;
		lost += rs[i] == 1 && rr[i] != 1;
		failed_arrived += rs[i] == 2 && rr[i] > 0;
	}
	resumed_at = proc_json_int(js, "resumed_at", NULL);
	after_reattach = proc_json_int(jr, "after_reattach", NULL);
	reattached = proc_json_int(sender_on_b ? js : jr, "reattached", NULL);
	out_of_order = proc_json_int(jr, "out_of_order", NULL);
	for (long long i = resumed_at < 0 ? count : resumed_at; i < count; i++)
		ok_after += rs[i] == 1;
	text = json_dumps(json_object_get(js, "errors"), JSON_COMPACT);
	printf("  killed after %lld delivered; sender: ok %u, failed %u %s (of which arrived %u), "
	       "unsent %u, undecided %u; receiver: once %u, more than once %u, after its reattach "
	       "%lld; ok but not arrived once %u; sender resumed at %lld, ok since %u\n",
	       at_kill - base, ok, failed, text ? text : "{}", failed_arrived, unsent, undecided,
	       once, dups, after_reattach, lost, resumed_at, ok_after);
	free(text);
	a_after = stats(m->prefix_a);
	resets = print_stat_changes("A", a_before, a_after);
	json_decref(a_before);
	json_decref(a_after);
	json_decref(js);
	json_decref(jr);
	free(rs);
	free(rr);

	assert_int_equal(dups, 0);   /* nothing delivered twice */
	if (ordered)
		assert_int_equal(out_of_order, 0); /* nor after a message sent later */
	assert_int_equal(lost, 0);   /* every ok delivered exactly once */
	assert_int_equal(unsent + undecided, 0);
	assert_true(reattached >= 1); /* B's app saw its daemon go */
	/* and the transfer went on through the new incarnation */
	assert_true(sender_on_b ? ok_after > 0 : after_reattach > 0);
	if (resets >= 0)
		assert_true(resets >= 1); /* A noticed B's restart */
}

static void test_memif_peer_restart(void **state)
{
	struct memif_pair m;

	(void)state;
	/* retries (20 timeouts of up to 200 ms: 2.6 s) outlast a restart; an idle connection
	   must outlive the retries */
	memif_start(&m, "\"protocol\": { \"max_rto_us\": 200000, \"max_retries\": 20,"
		    " \"conn_idle_ms\": 5000 },\n  ");
	restart_round(&m, 0, 20000, "31", 0);
	restart_round(&m, 1, 20000, "32", 0);
	restart_round(&m, 1, 10000, "33", 1);
	memif_stop(&m);
}

/* ---- one daemon, two taps, the namespace's kernel routing between them ---- */

static void test_tap_routed(void **state)
{
	char cfg[128], sock[128], log[128], prefix[48], ports[1024], tap_a[16], tap_b[16];
	pid_t d;

	(void)state;
	snprintf(netns, sizeof(netns), "srdtest-%d", (int)getpid());
	snprintf(tap_a, sizeof(tap_a), "srdA%d", (int)getpid() % 100000);
	snprintf(tap_b, sizeof(tap_b), "srdB%d", (int)getpid() % 100000);
	snprintf(prefix, sizeof(prefix), "srdtap-%d", (int)getpid());
	snprintf(prefixes[0], sizeof(prefixes[0]), "%s", prefix);
	snprintf(cfg, sizeof(cfg), "%s/tap.json", tmpdir);
	snprintf(sock, sizeof(sock), "%s/tap.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/tap.log", tmpdir);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"ta\", \"type\": \"vdev\", \"device\": \"net_tap0,iface=%s\","
		 "    \"address\": \"10.88.1.2/24\", \"gateway\": \"10.88.1.1\", \"mtu\": 1500 },"
		 "  { \"name\": \"tb\", \"type\": \"vdev\", \"device\": \"net_tap1,iface=%s\","
		 "    \"address\": \"10.88.2.2/24\", \"gateway\": \"10.88.2.1\", \"mtu\": 1500 } ]",
		 tap_a, tap_b);
	write_config(cfg, prefix, sock, ports, NULL);

	sh("ip netns add %s", netns);
	sh("ip netns exec %s sysctl -q -w net.ipv4.ip_forward=1", netns);
	d = start_srdd(cfg, sock, log, netns);
	/* the kernel's side of each tap: the gateway of its subnet */
	sh("ip -n %s addr add 10.88.1.1/24 dev %s && ip -n %s link set %s up", netns, tap_a, netns,
	   tap_a);
	sh("ip -n %s addr add 10.88.2.1/24 dev %s && ip -n %s link set %s up", netns, tap_b, netns,
	   tap_b);
	transfer(sock, "10.88.1.2", sock, "10.88.2.2", 300);
	/* ARP resolved both ways: the kernel knows srdd's two addresses */
	sh("ip -n %s neigh show | grep -q '10.88.1.2 dev %s lladdr'", netns, tap_a);
	sh("ip -n %s neigh show | grep -q '10.88.2.2 dev %s lladdr'", netns, tap_b);

	/* link down: srdd sees it, drops what it would send there (counted), and sends fail
	 * with a timeout instead of hanging; link up: it flushes what it learned, resolves
	 * again, and transfers work */
	sh("ip -n %s link set %s down", netns, tap_a);
	expect_link(prefix, "ta", "down");
	send_expect_fail(sock, "10.88.1.2", "10.88.2.2:1", 5, -ETIMEDOUT);
	{
		json_t *st = proc_telemetry(prefix, "/srd/stats");

		assert_non_null(st);
		assert_true(proc_json_int(st, "worker", "tx_link_down") > 0);
		assert_true(proc_json_int(st, "worker", "link_changes") >= 1);
		json_decref(st);
	}
	sh("ip -n %s link set %s up", netns, tap_a);
	expect_link(prefix, "ta", "up");
	transfer(sock, "10.88.1.2", sock, "10.88.2.2", 300);
	stop_srdd(d, log);
	sh("rm -rf /var/run/dpdk/%s", prefix);
}

/* ---- net_af_packet above ethdev's 1500 ---- */

/* Start srdd expecting it to refuse its config: it exits non-zero and its log says why. */
static void expect_refused(const char *config, const char *log, const char *ns,
			   const char *reason)
{
	char *argv[] = { "ip", "netns", "exec", (char *)ns,
			 (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "-c", (char *)config, NULL };
	pid_t pid = proc_start(argv, log);
	int rc;
	char *text;

	assert_true(pid > 0);
	rc = proc_wait(pid, 15000);
	text = proc_read_file(log);
	printf("  refused (exit %d): %s\n", rc,
	       text && strstr(text, reason) ? strstr(text, reason) : "(reason not in the log)");
	assert_true(rc != 0 && rc != -ETIMEDOUT);
	assert_non_null(text);
	assert_non_null(strstr(text, reason));
	free(text);
}

/* Bytes per frame the kernel interface dev (in namespace ns) sent. */
static long long frame_bytes(const char *ns, const char *dev)
{
	char cmd[256], out[64];
	long long bytes = 0, pkts = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s sh -c 'cat /sys/class/net/%s/statistics/"
		 "tx_bytes /sys/class/net/%s/statistics/tx_packets'", ns, dev, dev);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fgets(out, sizeof(out), f))
		bytes = atoll(out);
	if (fgets(out, sizeof(out), f))
		pkts = atoll(out);
	pclose(f);
	return pkts ? bytes / pkts : 0;
}

/*
 * Start tshark on both ends of a veth pair (namespace ns), writing "SOURCE\tUDP-CHECKSUM"
 * per UDP frame to out, and return its pid once it captures.  Both: a frame af_packet sends
 * bypasses the qdisc and with it the taps of its own interface, so each frame is seen
 * once, where it arrives.
 */
static pid_t start_checksum_capture(const char *ns, char ifs[2][16], const char *out)
{
	char *argv[] = { "ip", "netns", "exec", (char *)ns, "tshark", "-l", "-n", "-s", "64",
			 "-f", "udp", "-i", ifs[0], "-i", ifs[1], "-a", "duration:60", "-T",
			 "fields", "-e", "ip.src", "-e", "udp.checksum", NULL };
	pid_t pid = proc_start(argv, out);
	int64_t end = proc_now_ms() + 20000;
	char *text = NULL;

	assert_true(pid > 0);
	while (proc_now_ms() < end) {
		text = proc_read_file(out);
		if (text && strstr(text, "Capturing on"))
			break;
		free(text);
		text = NULL;
		proc_sleep_ms(50);
	}
	assert_non_null(text);
	free(text);
	return pid;
}

/* Count the captured frames from src whose UDP checksum is 0 (*none) and not 0 (*some). */
static void count_checksums(const char *out, const char *src, int *none, int *some)
{
	char *text = proc_read_file(out), *save = NULL;
	size_t srclen = strlen(src);

	assert_non_null(text);
	*none = *some = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, src, srclen) != 0 || line[srclen] != '\t')
			continue;
		if (strtoul(line + srclen + 1, NULL, 16) == 0)
			(*none)++;
		else
			(*some)++;
	}
	free(text);
}

/*
 * Two daemons on net_af_packet over a veth pair, MTU 9000 (ethdev allows the port 1500;
 * srdd carries the rest itself, docs/config.md): refused while the kernel interface carries
 * 1500, then a transfer in jumbo frames once it carries 9000.  The sender, daemon 0, sums
 * UDP checksums in software (af_packet has no offload) over each frame's two segments (the
 * payload read from the app's memory), and daemon 1 checks them; daemon 1 is configured to
 * send none: the frames on the veth say so, and no frame is dropped for its checksum.
 */
static void test_af_packet_jumbo(void **state)
{
	char cfg[2][128], sock[2][128], log[2][128], ports[512], ifs[2][16], cap[128];
	int none[2], some[2];
	pid_t d[2], tshark;

	(void)state;
	snprintf(netns, sizeof(netns), "srdtest-%d", (int)getpid());
	sh("ip netns add %s", netns);
	for (int i = 0; i < 2; i++) {
		snprintf(ifs[i], sizeof(ifs[i]), "srdV%c%d", 'a' + i, (int)getpid() % 100000);
		snprintf(prefixes[i], sizeof(prefixes[i]), "srdafp%c-%d", 'a' + i, (int)getpid());
		snprintf(cfg[i], sizeof(cfg[i]), "%s/afp%d.json", tmpdir, i);
		snprintf(sock[i], sizeof(sock[i]), "%s/afp%d.sock", tmpdir, i);
		snprintf(log[i], sizeof(log[i]), "%s/afp%d.log", tmpdir, i);
		snprintf(ports, sizeof(ports),
			 "[ { \"name\": \"v\", \"type\": \"vdev\", \"device\": \"net_af_packet%d,"
			 "iface=%s,blocksz=36864,framesz=9216,framecnt=512\", \"address\": "
			 "\"10.125.0.%d/24\", \"mac\": \"02:00:00:7d:00:0%d\", \"mtu\": 9000%s } ]",
			 i, ifs[i], 11 + i, 1 + i, i == 1 ? ", \"udp_checksum\": false" : "");
		write_config(cfg[i], prefixes[i], sock[i], ports,
			     "\"protocol\": { \"max_rto_us\": 50000, \"conn_idle_ms\": 2000 },");
	}
	sh("ip -n %s link add %s mtu 1500 type veth peer name %s mtu 1500", netns, ifs[0], ifs[1]);
	sh("ip -n %s link set %s up && ip -n %s link set %s up", netns, ifs[0], netns, ifs[1]);
	expect_refused(cfg[0], log[0], netns, "carries 1500");

	sh("ip -n %s link set %s mtu 9000 && ip -n %s link set %s mtu 9000", netns, ifs[0], netns,
	   ifs[1]);
	for (int i = 0; i < 2; i++)
		d[i] = start_srdd(cfg[i], sock[i], log[i], netns);
	snprintf(cap, sizeof(cap), "%s/afp-capture.txt", tmpdir);
	tshark = start_checksum_capture(netns, ifs, cap);
	transfer(sock[0], "10.125.0.11", sock[1], "10.125.0.12", 2000);
	assert_int_equal(proc_stop(tshark, SIGINT, 10000), 0);
	count_checksums(cap, "10.125.0.11", &none[0], &some[0]);
	count_checksums(cap, "10.125.0.12", &none[1], &some[1]);
	printf("  UDP checksums on the veth: from daemon 0 %d none, %d set; from daemon 1 "
	       "(udp_checksum false) %d none, %d set\n", none[0], some[0], none[1], some[1]);
	assert_true(some[0] > 0 && none[0] == 0);
	assert_true(none[1] > 0 && some[1] == 0);
	{
		json_t *st = proc_telemetry(prefixes[1], "/srd/stats");

		assert_non_null(st);
		printf("  frames daemon 1 dropped for their UDP checksum: %lld\n",
		       proc_json_int(st, "net_drops", "udp_csum"));
		assert_int_equal(proc_json_int(st, "net_drops", "udp_csum"), 0);
		json_decref(st);
	}
	{
		json_t *p = proc_telemetry(prefixes[0], "/srd/ports");
		long long per_frame = frame_bytes(netns, ifs[0]);

		assert_non_null(p);
		printf("  port mtu %lld; %lld bytes per frame sent\n",
		       proc_json_int(p, "v", "mtu"), per_frame);
		assert_int_equal(proc_json_int(p, "v", "mtu"), 9000);
		assert_true(per_frame > 1514); /* more than a 1500-byte MTU's frame could hold */
		json_decref(p);
		/* the port copied the payloads into its ring from the sending app's memory */
		printf("  frames sent from the app's memory: %lld\n", tx_ref_frames(prefixes[0]));
		assert_true(tx_ref_frames(prefixes[0]) > 0);
	}
	for (int i = 1; i >= 0; i--)
		stop_srdd(d[i], log[i]);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/srdd-net-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	proc_cleanup();
	for (int i = 0; i < 2; i++) {
		if (prefixes[i][0]) {
			snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s", prefixes[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove /var/run/dpdk/%s\n", prefixes[i]);
			prefixes[i][0] = '\0';
		}
	}
	if (netns[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", netns);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove namespace %s\n", netns);
		netns[0] = '\0';
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memif, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memif_peer_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tap_routed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_af_packet_jumbo, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
