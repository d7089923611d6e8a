/*
 * test_srdd_workers.c — srdd with two workers on the crossed loopback pair.
 *
 * Apps are spread over the workers in turn (the first to attach gets worker 0, the next
 * worker 1, ...), and an endpoint's id carries its worker (id >> 12).  Four apps:
 *
 *   R  receiver on 10.77.0.2   worker 0
 *   H  receiver on 10.77.0.1   worker 1
 *   S1 sender on 10.77.0.1     worker 0  -> H: same address, other worker (a frame handed
 *                                           from worker 0's to worker 1's inbox)
 *   S2 sender on 10.77.0.1     worker 1  -> R: over the pair; a loopback port delivers on
 *                                           the sender's queue (1), so worker 1 of the
 *                                           receiving side hands the data to worker 0 and
 *                                           the acks come back the same way
 *
 * Every message arrives exactly once with its contents (xfer checks), clean and with the
 * impairment stage on; telemetry shows the hand-overs and connections of both workers.
 * A config asking for more workers than EAL lcores is refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "proc.h"
#include "daemon.h"
#include "xfer_run.h"

#define MSGS 4000u

/* The endpoint id of an "a.b.c.d:ep" address. */
static unsigned addr_ep(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	assert_non_null(colon);
	return (unsigned)strtoul(colon + 1, NULL, 10);
}

/* The number of connections in a /srd/conns reply owned by `worker`. */
static int conns_of_worker(json_t *conns, long long worker)
{
	const char *key;
	json_t *v;
	int n = 0;

	json_object_foreach(conns, key, v)
		if (json_is_object(v) && json_integer_value(json_object_get(v, "worker")) == worker)
			n++;
	return n;
}

/* Wait (up to 180 s) for an app to end without reaping it; if it failed, print the
 * daemon's counters, so that a failure says what the protocol saw. */
static void dump_stats_if_failed(struct daemon *d, pid_t pid)
{
	siginfo_t info = { 0 };
	json_t *st;
	char *text;

	for (int64_t end = proc_now_ms() + 180000; proc_now_ms() < end; proc_sleep_ms(5)) {
		info.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    info.si_pid == pid)
			break;
	}
	if (info.si_pid != pid || (info.si_code == CLD_EXITED && info.si_status == 0))
		return;
	st = proc_telemetry(d->prefix, "/srd/stats");
	text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	printf("  srdd counters after a failed app: %s\n", text ? text : "(none)");
	free(text);
	json_decref(st);
}

static void two_workers(const char *impair)
{
	struct daemon d;
	char to_r[64], to_h[64], out_r[160], out_h[160], out_s1[160], out_s2[160];
	json_t *st, *conns;
	pid_t r, h, s1, s2;

	daemon_start_workers(&d, impair, 2);
	snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
	snprintf(out_h, sizeof(out_h), "%s/h.out", d.dir);
	snprintf(out_s1, sizeof(out_s1), "%s/s1.out", d.dir);
	snprintf(out_s2, sizeof(out_s2), "%s/s2.out", d.dir);
	/* attach one at a time: the order decides the workers */
	r = start_recv(&d, "10.77.0.2", MSGS, "21", out_r, to_r, sizeof(to_r));
	h = start_recv(&d, "10.77.0.1", MSGS, "22", out_h, to_h, sizeof(to_h));
	assert_int_equal(addr_ep(to_r) >> 12, 0);
	assert_int_equal(addr_ep(to_h) >> 12, 1);
	s1 = start_send(&d, "10.77.0.1", to_h, MSGS, "22", out_s1);
	assert_true(s1 > 0);
	proc_sleep_ms(200); /* S1 attached (worker 0) before S2 (worker 1) */
	s2 = start_send(&d, "10.77.0.1", to_r, MSGS, "21", out_s2);
	assert_true(s2 > 0);
	dump_stats_if_failed(&d, s1);
	dump_stats_if_failed(&d, s2);
	expect_xfer_ok(s1, out_s1, "sender on worker 0 to worker 1, same address");
	expect_xfer_ok(s2, out_s2, "sender on worker 1 to worker 0, over the pair");
	expect_xfer_ok(h, out_h, "receiver on worker 1");
	expect_xfer_ok(r, out_r, "receiver on worker 0");

	st = proc_telemetry(d.prefix, "/srd/stats");
	conns = proc_telemetry(d.prefix, "/srd/conns");
	assert_non_null(st);
	assert_non_null(conns);
	printf("  steered_out %lld, steered_in %lld, steer_drops %lld, hairpin %lld\n",
	       proc_json_int(st, "worker", "steered_out"), proc_json_int(st, "worker", "steered_in"),
	       proc_json_int(st, "worker", "steer_drops"), proc_json_int(st, "worker", "hairpin"));
	assert_true(proc_json_int(st, "worker", "steered_out") > 0);
	assert_true(proc_json_int(st, "worker", "steered_in") > 0);
	assert_true(proc_json_int(st, "worker", "hairpin") > 0);
	assert_int_equal(proc_json_int(st, "shm", "apps"), 0);
	/* connections close 500 ms after the transfer; both workers have had some */
	assert_true(proc_json_int(st, "engine", "conns_created") >= 4);
	json_decref(st);
	json_decref(conns);
	daemon_stop(&d);
}

static void test_two_workers(void **state)
{
	(void)state;
	two_workers(NULL);
}

static void test_two_workers_impaired(void **state)
{
	(void)state;
	two_workers("{ \"enabled\": true, \"paths\": 8, \"seed\": 4, \"loss\": 0.05, "
		    "\"blackhole\": [3] }");
}

/* While apps are attached, /srd/conns and /srd/paths name each connection's worker and its
 * peer's worker. */
static void test_worker_telemetry(void **state)
{
	struct daemon d;
	char to_r[64], out_r[160], out_s[160], out_x[160], to_x[64];
	json_t *conns, *paths;
	pid_t r, x, s;

	(void)state;
	daemon_start_workers(&d, NULL, 2);
	snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
	snprintf(out_x, sizeof(out_x), "%s/x.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/s.out", d.dir);
	/* R on worker 0; a receiver X on worker 1 that stays idle; the sender on worker 0
	 * sends to R */
	r = start_recv(&d, "10.77.0.2", 2000, "31", out_r, to_r, sizeof(to_r));
	x = start_recv(&d, "10.77.0.2", 1, "32", out_x, to_x, sizeof(to_x));
	s = start_send(&d, "10.77.0.1", to_r, 2000, "31", out_s);
	assert_true(s > 0);
	/* look while the connections exist: during the transfer, or within the 500 ms before
	 * they close after it (however slow this build is) */
	conns = paths = NULL;
	for (int64_t end = proc_now_ms() + 60000; proc_now_ms() < end; proc_sleep_ms(20)) {
		json_decref(conns);
		json_decref(paths);
		conns = proc_telemetry(d.prefix, "/srd/conns");
		paths = proc_telemetry(d.prefix, "/srd/paths,lo1,10.77.0.1:0");
		if (conns && conns_of_worker(conns, 0) >= 2 && paths &&
		    proc_json_int(paths, "npaths", NULL) == 16)
			break;
	}
	expect_xfer_ok(s, out_s, "sender on worker 0");
	expect_xfer_ok(r, out_r, "receiver on worker 0");
	assert_non_null(conns);
	assert_true(conns_of_worker(conns, 0) >= 2); /* both directions, worker 0 to worker 0 */
	assert_non_null(paths);
	assert_int_equal(proc_json_int(paths, "worker", NULL), 0);
	assert_int_equal(proc_json_int(paths, "peer_worker", NULL), 0);
	assert_int_equal(proc_json_int(paths, "npaths", NULL), 16);
	json_decref(paths);
	paths = proc_telemetry(d.prefix, "/srd/paths,lo1,10.77.0.1:1");
	assert_non_null(paths);
	assert_non_null(json_object_get(paths, "error")); /* no such connection */
	json_decref(paths);
	json_decref(conns);
	proc_stop(x, SIGTERM, 5000);
	daemon_stop(&d);
}

/* More workers than EAL lcores: refused, and the message says why. */
static void test_too_few_lcores(void **state)
{
	struct daemon d;
	char *argv[] = { (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "-c", d.config, NULL };
	char *log, *text, *at;
	FILE *f;
	pid_t pid;

	(void)state;
	strcpy(d.dir, "/tmp/srdd-test-XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.config, sizeof(d.config), "%s/srdd.json", d.dir);
	snprintf(d.socket, sizeof(d.socket), "%s/srdd.sock", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/srdd.log", d.dir);
	snprintf(d.prefix, sizeof(d.prefix), "srdtest-%d", (int)getpid());
	/* one lcore ("-l 0-0"), two workers */
	write_config(&d, NULL, 1);
	text = proc_read_file(d.config);
	assert_non_null(text);
	at = strstr(text, "\"workers\": 1");
	assert_non_null(at);
	at[strlen("\"workers\": ")] = '2';
	f = fopen(d.config, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(text);
	pid = proc_start(argv, d.log);
	assert_true(pid > 0);
	assert_int_equal(proc_wait(pid, 20000), 1);
	log = proc_read_file(d.log);
	assert_non_null(log);
	if (!strstr(log, "workers: 2 workers need 2 EAL lcores"))
		fail_msg("unexpected output:\n%s", log);
	free(log);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s /var/run/dpdk/%s", d.dir, d.prefix);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_too_few_lcores, daemon_teardown),
		cmocka_unit_test_teardown(test_two_workers, daemon_teardown),
		cmocka_unit_test_teardown(test_two_workers_impaired, daemon_teardown),
		cmocka_unit_test_teardown(test_worker_telemetry, daemon_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
