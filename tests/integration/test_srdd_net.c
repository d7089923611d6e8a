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
 *     namespace is removed however the test ends.
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

/* Write a daemon config: ports is the JSON of the "ports" array. */
static void write_config(const char *path, const char *prefix, const char *sock,
			 const char *ports)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"{ \"eal\": [\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix\", \"%s\","
		" \"-l\", \"0\", \"--log-level\", \"lib.eal:error\"],\n"
		"  \"idle\": { \"policy\": \"sleep\", \"max_sleep_us\": 50 },\n"
		"  \"control\": { \"socket\": \"%s\" },\n"
		"  \"apps\": { \"region_mb\": 96 },\n"
		"  \"ports\": %s }\n",
		prefix, sock, ports);
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
	char *text;
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
	text = proc_read_file(out_s);
	printf("  %s", text ? text : "(no sender output)\n");
	free(text);
	text = proc_read_file(out_r);
	printf("  %s", text ? text : "(no receiver output)\n");
	free(text);
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

static void test_memif(void **state)
{
	char cfg_a[128], cfg_b[128], sock_a[128], sock_b[128], log_a[128], log_b[128];
	char memif_sock[128], prefix_a[48], prefix_b[48], ports[512];
	pid_t a, b;

	(void)state;
	snprintf(memif_sock, sizeof(memif_sock), "%s/memif.sock", tmpdir);
	snprintf(prefix_a, sizeof(prefix_a), "srdmemA-%d", (int)getpid());
	snprintf(prefix_b, sizeof(prefix_b), "srdmemB-%d", (int)getpid());
	snprintf(cfg_a, sizeof(cfg_a), "%s/a.json", tmpdir);
	snprintf(cfg_b, sizeof(cfg_b), "%s/b.json", tmpdir);
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", tmpdir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", tmpdir);
	snprintf(log_a, sizeof(log_a), "%s/a.log", tmpdir);
	snprintf(log_b, sizeof(log_b), "%s/b.log", tmpdir);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"m\", \"type\": \"vdev\", \"device\": \"net_memif0,role=server,"
		 "socket=%s,socket-abstract=no,mac=02:00:00:99:00:01\", \"address\": \"10.99.0.1/24\","
		 " \"mtu\": 1500 } ]", memif_sock);
	write_config(cfg_a, prefix_a, sock_a, ports);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"m\", \"type\": \"vdev\", \"device\": \"net_memif0,role=client,"
		 "socket=%s,socket-abstract=no,mac=02:00:00:99:00:02\", \"address\": \"10.99.0.2/24\","
		 " \"mtu\": 1500 } ]", memif_sock);
	write_config(cfg_b, prefix_b, sock_b, ports);

	a = start_srdd(cfg_a, sock_a, log_a, NULL); /* the memif server first */
	b = start_srdd(cfg_b, sock_b, log_b, NULL);
	transfer(sock_a, "10.99.0.1", sock_b, "10.99.0.2", 10000);
	stop_srdd(b, log_b);
	stop_srdd(a, log_a);
	sh("rm -rf /var/run/dpdk/%s /var/run/dpdk/%s", prefix_a, prefix_b);
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
	snprintf(cfg, sizeof(cfg), "%s/tap.json", tmpdir);
	snprintf(sock, sizeof(sock), "%s/tap.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/tap.log", tmpdir);
	snprintf(ports, sizeof(ports),
		 "[ { \"name\": \"ta\", \"type\": \"vdev\", \"device\": \"net_tap0,iface=%s\","
		 "    \"address\": \"10.88.1.2/24\", \"gateway\": \"10.88.1.1\", \"mtu\": 1500 },"
		 "  { \"name\": \"tb\", \"type\": \"vdev\", \"device\": \"net_tap1,iface=%s\","
		 "    \"address\": \"10.88.2.2/24\", \"gateway\": \"10.88.2.1\", \"mtu\": 1500 } ]",
		 tap_a, tap_b);
	write_config(cfg, prefix, sock, ports);

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
		cmocka_unit_test_setup_teardown(test_tap_routed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
