/*
 * test_srdd.c — srdd end to end on the crossed loopback pair, with real app processes
 * (tests/integration/xfer.c) attached through libsrd:
 *   - 10,000 messages, sizes log-uniform 1 B .. 1 MiB, contents checked, each delivered
 *     exactly once; the same with the impairment stage at 5% loss on every path and one
 *     of 8 paths blackholed;
 *   - an app SIGKILLed mid-transfer: the daemon's counters (apps, endpoints, buffers,
 *     sends, connections) return to their idle values within a second, and another app's
 *     transfer is unaffected;
 *   - configs with an unknown key, a wrong type, a missing port: srdd exits non-zero and
 *     names the problem;
 *   - the adaptive idle policy: a transfer goes through, and once it is over the idle
 *     daemon uses far less CPU than a busy-polling one (a correctness property, not a
 *     timing: a worker that never stopped spinning would use as much).
 *
 * No hugepages, no NIC: --no-huge --no-pci, a --file-prefix and a control socket of the
 * test's own.  SRDD_BIN and XFER_BIN name the programs (meson sets them).
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
#include "daemon.h"
#include "xfer_run.h"

#define MSGS 10000u

/* A transfer of n messages from 10.77.0.1 to an app on 10.77.0.2 through d (seed: the
 * messages' contents, and the name of the apps' files: one per transfer on a daemon). */
static void transfer_on(struct daemon *d, unsigned n, const char *seed)
{
	char to[64], out_r[160], out_s[160];
	pid_t r, s;

	snprintf(out_r, sizeof(out_r), "%s/recv%s.out", d->dir, seed);
	snprintf(out_s, sizeof(out_s), "%s/send%s.out", d->dir, seed);
	r = start_recv(d, "10.77.0.2", n, seed, out_r, to, sizeof(to));
	s = start_send(d, "10.77.0.1", to, n, seed, out_s);
	assert_true(s > 0);
	expect_xfer_ok(s, out_s, "sender");
	expect_xfer_ok(r, out_r, "receiver");
}

/* A transfer of MSGS messages on a fresh daemon, every 16th of them empty (an empty
 * message travels packed with small ones, and is taken without a buffer: it must arrive). */
static void transfer(const char *impair)
{
	struct daemon d;

	daemon_start(&d, impair);
	assert_int_equal(setenv("XFER_EMPTY_EVERY", "16", 1), 0); /* both ends inherit it */
	transfer_on(&d, MSGS, "7");
	unsetenv("XFER_EMPTY_EVERY");
	daemon_stop(&d);
}

static void test_loopback_transfer(void **state)
{
	(void)state;
	transfer(NULL);
}

static void test_loopback_impaired(void **state)
{
	(void)state;
	transfer("{ \"enabled\": true, \"paths\": 8, \"seed\": 3, \"loss\": 0.05, \"blackhole\": [3] }");
}

/* An ordered endpoint over a lossy, multipath fabric: every message arrives after all those
 * sent before it (the receiver counts arrivals out of order). */
static void test_ordered(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	pid_t r, s;

	(void)state;
	daemon_start(&d, "{ \"enabled\": true, \"paths\": 8, \"seed\": 5, \"loss\": 0.05 }");
	snprintf(out_r, sizeof(out_r), "%s/recv.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/send.out", d.dir);
	r = start_recv_flag(&d, "10.77.0.2", 1000, "9", out_r, to, sizeof(to), "--expect-order");
	s = start_send_flag(&d, "10.77.0.1", to, 1000, "9", out_s, "--ordered");
	expect_xfer_ok(s, out_s, "ordered sender");
	expect_xfer_ok(r, out_r, "in-order receiver");
	daemon_stop(&d);
}

/* Two apps on the same address: the packets never leave the port (hairpin). */
static void test_hairpin(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	pid_t r, s;

	(void)state;
	daemon_start(&d, NULL);
	snprintf(out_r, sizeof(out_r), "%s/recv.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/send.out", d.dir);
	r = start_recv(&d, "10.77.0.1", 1000, "13", out_r, to, sizeof(to));
	s = start_send(&d, "10.77.0.1", to, 1000, "13", out_s);
	expect_xfer_ok(s, out_s, "sender");
	expect_xfer_ok(r, out_r, "receiver on the same address");
	json_t *st = proc_telemetry(d.prefix, "/srd/stats");

	assert_non_null(st);
	assert_true(proc_json_int(st, "worker", "hairpin") > 0);
	json_decref(st);
	daemon_stop(&d);
}

/* The telemetry commands answer with the daemon's ports, connections and paths. */
static void test_telemetry(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	json_t *ports, *conns, *paths;
	pid_t r, s;

	(void)state;
	daemon_start(&d, NULL);
	snprintf(out_r, sizeof(out_r), "%s/recv.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/send.out", d.dir);
	r = start_recv(&d, "10.77.0.2", 200, "4", out_r, to, sizeof(to));
	s = start_send(&d, "10.77.0.1", to, 200, "4", out_s);
	expect_xfer_ok(s, out_s, "sender");
	expect_xfer_ok(r, out_r, "receiver");
	/* connections close 500 ms after the transfer: look at once */
	ports = proc_telemetry(d.prefix, "/srd/ports");
	conns = proc_telemetry(d.prefix, "/srd/conns");
	paths = proc_telemetry(d.prefix, "/srd/paths,lo0,10.77.0.2");
	assert_non_null(ports);
	assert_non_null(conns);
	assert_non_null(paths);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ports, "lo0"), "ip")),
			    "10.77.0.1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ports, "lo1"), "link")),
			    "up");
	assert_true(proc_json_int(conns, "count", NULL) >= 1);
	assert_int_equal(proc_json_int(paths, "npaths", NULL), 16);
	assert_non_null(json_object_get(paths, "path15"));
	json_decref(ports);
	json_decref(conns);
	json_decref(paths);
	daemon_stop(&d);
}

/* Messages to an endpoint nobody has open fail at the sender with -ENXIO (the receiving
 * side refuses them), over the pair and on one address; an endpoint id of a worker the daemon
 * does not run fails at once with -EADDRNOTAVAIL.  Nothing is reported delivered. */
static void expect_send_fails(struct daemon *d, const char *local, const char *to, int status,
			      const char *what)
{
	char out[160];
	pid_t s;
	int rc;
	json_t *j;

	snprintf(out, sizeof(out), "%s/send-%d.out", d->dir, -status);
	s = start_send(d, local, to, 20, "5", out);
	assert_true(s > 0);
	rc = proc_wait(s, 60000);
	j = proc_last_json(out);
	assert_non_null(j);
	printf("  %s: exit %d, failed %lld, first_error %lld\n", what, rc,
	       proc_json_int(j, "failed", NULL), proc_json_int(j, "first_error", NULL));
	assert_int_equal(rc, 1);
	assert_int_equal(proc_json_int(j, "ok", NULL), 0);
	assert_int_equal(proc_json_int(j, "failed", NULL), 20);
	assert_int_equal(proc_json_int(j, "first_error", NULL), status);
	json_decref(j);
}

static void test_no_endpoint(void **state)
{
	struct daemon d;
	json_t *st;

	(void)state;
	daemon_start(&d, NULL);
	expect_send_fails(&d, "10.77.0.1", "10.77.0.2:77", -ENXIO, "to a closed endpoint");
	expect_send_fails(&d, "10.77.0.1", "10.77.0.1:78", -ENXIO, "same address, closed endpoint");
	expect_send_fails(&d, "10.77.0.1", "10.77.0.1:4097", -EADDRNOTAVAIL, "worker 1 of 1");
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	assert_true(proc_json_int(st, "engine_drops", "no_endpoint") >= 40);
	assert_int_equal(proc_json_int(st, "worker", "tx_no_worker"), 20);
	json_decref(st);
	daemon_stop(&d);
}

/* An app killed mid-transfer: what it held is freed within a second; another app's
 * transfer goes on unharmed. */
static void test_sigkill_app(void **state)
{
	struct daemon d;
	char to_b[64], to_k[64], out_b[160], out_c[160], out_k[160], out_v[160];
	struct daemon_counts idle, now;
	pid_t b, c, k, victim;
	int64_t end;

	(void)state;
	daemon_start(&d, NULL);
	snprintf(out_b, sizeof(out_b), "%s/b.out", d.dir);
	snprintf(out_c, sizeof(out_c), "%s/c.out", d.dir);
	snprintf(out_k, sizeof(out_k), "%s/k.out", d.dir);
	snprintf(out_v, sizeof(out_v), "%s/v.out", d.dir);

	/* B receives from C (the transfer that must not notice) */
	b = start_recv(&d, "10.77.0.2", 2000, "11", out_b, to_b, sizeof(to_b));
	for (end = proc_now_ms() + 5000; (idle = daemon_counts(&d)).apps < 0; proc_sleep_ms(50))
		assert_true(proc_now_ms() < end);
	c = start_send(&d, "10.77.0.1", to_b, 2000, "11", out_c);

	/* the victim sends to a receiver K; both die, the victim first, mid-transfer */
	k = start_recv(&d, "10.77.0.2", 100000, "12", out_k, to_k, sizeof(to_k));
	victim = start_send(&d, "10.77.0.1", to_k, 100000, "12", out_v);
	proc_sleep_ms(300);
	assert_int_equal(proc_stop(victim, SIGKILL, 2000), 128 + SIGKILL);
	assert_int_equal(proc_stop(k, SIGKILL, 2000), 128 + SIGKILL);

	expect_xfer_ok(c, out_c, "bystander sender");
	expect_xfer_ok(b, out_b, "bystander receiver");

	/* with B and C gone too, everything returns to nothing within a second (connections
	 * close after the configured 500 ms of idleness) */
	end = proc_now_ms() + 1000;
	do {
		proc_sleep_ms(50);
		now = daemon_counts(&d);
	} while ((now.apps || now.endpoints || now.rx_bufs || now.sends || now.conns) &&
		 proc_now_ms() < end);
	printf("  after the kill: apps %lld endpoints %lld rx buffers %lld sends %lld conns %lld\n",
	       now.apps, now.endpoints, now.rx_bufs, now.sends, now.conns);
	assert_int_equal(now.apps, 0);
	assert_int_equal(now.endpoints, 0);
	assert_int_equal(now.rx_bufs, 0);
	assert_int_equal(now.sends, 0);
	assert_int_equal(now.conns, 0);
	daemon_stop(&d);
}

/* srdd --check-config on a bad config: exit 1, and the message names file, key, reason. */
static void expect_config_refused(const char *json, const char *want)
{
	char path[] = "/tmp/srdd-badcfg-XXXXXX", out[64];
	char *argv[] = { (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "--check-config", path, NULL };
	int fd = mkstemp(path);
	char *text;
	pid_t pid;
	int rc;

	assert_true(fd >= 0);
	assert_true(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
	close(fd);
	snprintf(out, sizeof(out), "%s.out", path);
	pid = proc_start(argv, out);
	rc = proc_wait(pid, 10000);
	text = proc_read_file(out);
	printf("  %s", text ? text : "(no output)\n");
	assert_int_equal(rc, 1);
	assert_non_null(text);
	assert_non_null(strstr(text, path));
	assert_non_null(strstr(text, want));
	free(text);
	unlink(out);
	unlink(path);
}

static void test_adaptive_idle(void **state)
{
	struct daemon d;
	double busy, idle;

	(void)state;
	daemon_start_idle(&d, NULL, 1, "{ \"policy\": \"busy\" }");
	proc_sleep_ms(300);
	busy = daemon_cpu_share(d.pid, 1000);
	daemon_stop(&d);

	daemon_start_idle(&d, NULL, 1, "{ \"policy\": \"adaptive\" }");
	transfer_on(&d, 1000, "7");
	proc_sleep_ms(700); /* the connection closes (conn_idle_ms 500): nothing is due */
	idle = daemon_cpu_share(d.pid, 2000);
	printf("  CPU share: busy-polling daemon %.1f%%, idle adaptive daemon %.1f%%\n", busy,
	       idle);
	/* loose on purpose: busy is ~100% on a quiet machine and still tens of percent on a
	 * loaded one; an idle adaptive worker sleeps up to deep_sleep_us (~2%) */
	assert_true(idle < busy / 3);
	transfer_on(&d, 100, "8"); /* and it wakes up for the next one */
	daemon_stop(&d);
}

static void test_bad_configs(void **state)
{
	(void)state;
	expect_config_refused("{ \"ports\": [ { \"type\": \"loopback_pair\", \"addresses\": "
			      "[\"10.1.0.1/24\", \"10.1.0.2/24\"] } ], \"wrokers\": 1 }",
			      "wrokers");
	expect_config_refused("{ \"workers\": \"one\", \"ports\": [ { \"type\": \"loopback_pair\","
			      " \"addresses\": [\"10.1.0.1/24\", \"10.1.0.2/24\"] } ] }",
			      "workers");
	expect_config_refused("{ \"workers\": 1 }", "ports");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_configs, daemon_teardown),
		cmocka_unit_test_teardown(test_loopback_transfer, daemon_teardown),
		cmocka_unit_test_teardown(test_loopback_impaired, daemon_teardown),
		cmocka_unit_test_teardown(test_sigkill_app, daemon_teardown),
		cmocka_unit_test_teardown(test_ordered, daemon_teardown),
		cmocka_unit_test_teardown(test_telemetry, daemon_teardown),
		cmocka_unit_test_teardown(test_hairpin, daemon_teardown),
		cmocka_unit_test_teardown(test_no_endpoint, daemon_teardown),
		cmocka_unit_test_teardown(test_adaptive_idle, daemon_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
