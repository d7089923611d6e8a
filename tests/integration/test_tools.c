/*
 * test_tools.c — srd-perf and srdctl against a running srdd on the crossed loopback pair:
 *   - srd-perf lat, bw (one way and both ways, and a size sweep) and rate (two threads,
 *     with completions and with --inject), and --pair (one thread holds both ends) of lat,
 *     rate and bw:
 *     each run completes, --json prints one well-formed object per result, the figures are
 *     consistent (p50 <= p99 <= max, every message accounted for), the server exits after
 *     its client's last run;
 *   - srdctl stats, ports, conns, paths and watch, in text and JSON, while traffic flows;
 *     a wrong prefix or command gives a message and a non-zero exit.
 *
 * SRDD_BIN, PERF_BIN and SRDCTL_BIN name the programs (meson sets them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "daemon.h"

static const char *perf_bin(void)
{
	return bin("PERF_BIN", "build/apps/srd-perf/srd-perf");
}

static const char *ctl_bin(void)
{
	return bin("SRDCTL_BIN", "build/apps/srdctl/srdctl");
}

/* Start an srd-perf server for test on 10.77.0.2; its address goes to addr. */
static pid_t start_server(struct daemon *d, const char *test, const char *threads, char *addr,
			  size_t len)
{
	char addr_file[160], out[160];
	char *argv[] = { (char *)perf_bin(), (char *)test, "-S", d->socket, "-L", "10.77.0.2",
			 "-t", (char *)threads, "--addr-file", addr_file, NULL };
	pid_t pid;

	snprintf(addr_file, sizeof(addr_file), "%s/server-%s.addr", d->dir, test);
	snprintf(out, sizeof(out), "%s/server-%s.out", d->dir, test);
	unlink(addr_file); /* a previous server's */
	pid = proc_start(argv, out);
	assert_true(pid > 0);
	assert_int_equal(proc_wait_line(addr_file, 10000, addr, len), 0);
	return pid;
}

/* Run an srd-perf client (args: after the test name, NULL-terminated, up to 12) and return
 * every JSON line it printed, as an array. */
static json_t *run_client(struct daemon *d, const char *test, const char *addr, ...)
{
	char out[160];
	char *argv[24] = { (char *)perf_bin(), (char *)test, "-S", d->socket, "-L", "10.77.0.1",
			   "--json" };
	int argc = 7, rc;
	json_t *lines = json_array();
	char *text, *line, *save = NULL;
	va_list ap;

	va_start(ap, addr);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 22;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc++] = (char *)addr;
	argv[argc] = NULL;
	snprintf(out, sizeof(out), "%s/client-%s.out", d->dir, test);
	rc = proc_run(argv, out, 120000);
	text = proc_read_file(out);
	if (rc != 0)
		fail_msg("srd-perf %s exited with %d:\n%s", test, rc, text ? text : "");
	printf("  srd-perf %s:\n%s", test, text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;

		if (j)
			json_array_append_new(lines, j);
	}
	free(text);
	return lines;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("no number %s in the result", key);
	return json_number_value(v);
}

static void test_perf(void **state)
{
	struct daemon d;
	char addr[64];
	json_t *r, *o;
	pid_t srv;
	size_t i;

	(void)state;
	daemon_start(&d, NULL);

	/* lat */
	srv = start_server(&d, "lat", "1", addr, sizeof(addr));
	r = run_client(&d, "lat", addr, "-n", "2000", "-s", "256", NULL);
	assert_int_equal(json_array_size(r), 1);
	o = json_array_get(r, 0);
	assert_string_equal(json_string_value(json_object_get(o, "test")), "lat");
	assert_int_equal(num(o, "iters"), 2000);
	assert_int_equal(num(o, "size"), 256);
	assert_int_equal(num(o, "failed"), 0);
	assert_true(num(o, "min_us") > 0);
	assert_true(num(o, "min_us") <= num(o, "p50_us"));
	assert_true(num(o, "p50_us") <= num(o, "p99_us"));
	assert_true(num(o, "p99_us") <= num(o, "p999_us"));
	assert_true(num(o, "p999_us") <= num(o, "max_us"));
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0); /* the server served one client and left */

	/* lat --pair: no server, one thread holds both ends (run_client puts the "address"
	 * last, after --pair); a sweep of 64 B .. 64 KiB, every size answered */
	r = run_client(&d, "lat", "10.77.0.2", "-n", "2000", "-s", "256", "--pair", NULL);
	assert_int_equal(json_array_size(r), 1);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "iters"), 2000);
	assert_int_equal(num(o, "size"), 256);
	assert_int_equal(num(o, "failed"), 0);
	assert_true(num(o, "min_us") > 0 && num(o, "p50_us") <= num(o, "p999_us"));
	json_decref(r);
	r = run_client(&d, "lat", "10.77.0.2", "-n", "100", "-a", "--pair", NULL);
	assert_int_equal(json_array_size(r), 11); /* 64 B .. 64 KiB */
	json_array_foreach(r, i, o)
		assert_int_equal(num(o, "failed"), 0);
	json_decref(r);

	/* rate and bw --pair: one thread, two attachments, sending from 10.77.0.1 to an
	 * endpoint on 10.77.0.2; the run fails unless each completed send arrived once (with
	 * --ordered: in order), so msgs counts what the receiving end got */
	r = run_client(&d, "rate", "10.77.0.2", "-n", "5000", "-w", "128", "--pair", NULL);
	assert_int_equal(json_array_size(r), 1);
	o = json_array_get(r, 0);
	assert_true(json_is_true(json_object_get(o, "pair")));
	assert_int_equal(num(o, "window"), 128);
	assert_int_equal(num(o, "msgs"), 5000);
	assert_int_equal(num(o, "failed"), 0);
	assert_true(num(o, "mmsgs") > 0);
	json_decref(r);
	r = run_client(&d, "rate", "10.77.0.2", "-n", "5000", "--ordered", "--poll", "sleep",
		       "--pair", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "msgs"), 5000);
	assert_int_equal(num(o, "out_of_order"), 0);
	json_decref(r);
	r = run_client(&d, "rate", "10.77.0.2", "-n", "5000", "--inject", "--pair", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "msgs"), 5000);
	assert_int_equal(num(o, "failed"), 0);
	assert_true(num(o, "mmsgs") > 0);
	json_decref(r);
	r = run_client(&d, "bw", "10.77.0.2", "-n", "300", "-s", "64K", "--pair", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "msgs"), 300);
	assert_int_equal(num(o, "bytes"), 300 * 65536);
	assert_true(num(o, "gbps") > 0);
	json_decref(r);
	/* one thread, one way: more threads or both ways are refused, as is a server */
	{
		char out[160];
		char *t2[] = { (char *)perf_bin(), "rate", "-S", d.socket, "-t", "2", "--pair",
			       "10.77.0.2", NULL };
		char *bidir[] = { (char *)perf_bin(), "bw", "-S", d.socket, "-b", "--pair",
				  "10.77.0.2", NULL };
		char *server[] = { (char *)perf_bin(), "rate", "-S", d.socket, "--pair",
				   "10.77.0.2", "10.77.0.2:1", NULL };

		snprintf(out, sizeof(out), "%s/client-refused.out", d.dir);
		assert_int_equal(proc_run(t2, out, 10000), 2);
		assert_int_equal(proc_run(bidir, out, 10000), 2);
		assert_int_equal(proc_run(server, out, 10000), 2);
	}

	/* bw: one way, both ways, and a sweep (one server: --forever is not needed, the
	 * client's last FIN ends it) */
	srv = start_server(&d, "bw", "1", addr, sizeof(addr));
	r = run_client(&d, "bw", addr, "-n", "300", "-s", "64K", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "msgs"), 300);
	assert_int_equal(num(o, "bytes"), 300 * 65536);
	assert_true(num(o, "gbps") > 0);
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0);
	srv = start_server(&d, "bw", "1", addr, sizeof(addr));
	r = run_client(&d, "bw", addr, "-n", "200", "-s", "16K", "-b", NULL);
	o = json_array_get(r, 0);
	assert_true(json_is_true(json_object_get(o, "bidir")));
	assert_int_equal(num(o, "msgs"), 400); /* 200 each way */
	assert_true(num(o, "gbps_back") > 0);
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0);
	srv = start_server(&d, "bw", "1", addr, sizeof(addr));
	r = run_client(&d, "bw", addr, "-a", "-n", "20", NULL);
	assert_int_equal(json_array_size(r), 19); /* 64 B .. 16 MiB */
	json_array_foreach(r, i, o) {
		assert_int_equal(num(o, "size"), 64u << i);
		assert_int_equal(num(o, "msgs"), 20);
	}
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0);

	/* rate: two client threads to a two-endpoint server */
	srv = start_server(&d, "rate", "2", addr, sizeof(addr));
	r = run_client(&d, "rate", addr, "-t", "2", "-n", "20000", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "threads"), 2);
	assert_true(json_is_false(json_object_get(o, "pair")));
	assert_int_equal(num(o, "msgs"), 40000);
	assert_true(num(o, "mmsgs") > 0);
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0);

	/* rate --inject: silent sends from two threads, counted at the server (exactly) */
	srv = start_server(&d, "rate", "2", addr, sizeof(addr));
	r = run_client(&d, "rate", addr, "-t", "2", "-n", "20000", "--inject", NULL);
	o = json_array_get(r, 0);
	assert_int_equal(num(o, "msgs"), 40000);
	assert_int_equal(num(o, "failed"), 0);
	assert_true(num(o, "mmsgs") > 0);
	json_decref(r);
	assert_int_equal(proc_wait(srv, 10000), 0);
	daemon_stop(&d);
}

/* Run srdctl with args (NULL-terminated); returns its exit code, its output in *out. */
static int ctl(struct daemon *d, char **out, ...)
{
	char *argv[16] = { (char *)ctl_bin() }, path[160];
	int argc = 1, rc;
	va_list ap;

	va_start(ap, out);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 15;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(path, sizeof(path), "%s/srdctl.out", d->dir);
	rc = proc_run(argv, path, 20000);
	*out = proc_read_file(path);
	assert_non_null(*out);
	if (rc != 0) /* what srdctl said, for a failure to come */
		print_message("srdctl %s exited with %d:\n%s", argv[argc - 1], rc, *out);
	return rc;
}

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("expected \"%s\" in:\n%s", what, text);
}

static void test_srdctl(void **state)
{
	struct daemon d;
	char addr[64], args_out[160], *out;
	char *client_argv[] = { (char *)perf_bin(), "bw", "-S", NULL, "-L", "10.77.0.1", "-D", "4",
				"-s", "4K", NULL, NULL };
	json_t *j;
	pid_t srv, cli;

	(void)state;
	daemon_start(&d, NULL);
	srv = start_server(&d, "bw", "1", addr, sizeof(addr));
	client_argv[3] = d.socket;
	client_argv[10] = addr;
	snprintf(args_out, sizeof(args_out), "%s/bw-long.out", d.dir);
	cli = proc_start(client_argv, args_out);
	assert_true(cli > 0);
	proc_sleep_ms(500); /* traffic flows */

	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "stats", NULL), 0);
	expect_in(out, "engine.msgs_delivered");
	expect_in(out, "shm.apps");
	free(out);
	assert_int_equal(ctl(&d, &out, "-c", d.config, "ports", NULL), 0); /* prefix from config */
	expect_in(out, "10.77.0.1/24");
	expect_in(out, " up ");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "conns", NULL), 0);
	expect_in(out, "10.77.0.2");
	expect_in(out, "2 connections");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "paths", NULL), 0);
	expect_in(out, "lo0,10.77.0.2");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "paths", "lo0,10.77.0.2", NULL), 0);
	expect_in(out, "16 paths");
	expect_in(out, "path15");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "--json", "stats", NULL), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_true(json_integer_value(json_object_get(json_object_get(j, "shm"), "apps")) == 2);
	json_decref(j);
	free(out);
	/* watch: two refreshes, the second with rates */
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "--json", "-n", "2", "watch", "0.3", NULL), 0);
	{
		char *second = strchr(out, '\n');

		assert_non_null(second);
		j = json_loads(second + 1, 0, NULL);
		assert_non_null(j);
		assert_true(json_real_value(json_object_get(j, "engine_msgs_delivered_per_s")) > 0);
		json_decref(j);
	}
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "-n", "1", "watch", NULL), 0);
	expect_in(out, "tx Gbit/s");
	free(out);

	/* mistakes: a message and a non-zero exit */
	assert_int_equal(ctl(&d, &out, "-p", "no-such-srdd", "stats", NULL), 1);
	expect_in(out, "no srdd with file prefix \"no-such-srdd\"");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "paths", "10.9.9.9", NULL), 1);
	expect_in(out, "no connection to 10.9.9.9");
	free(out);
	assert_int_equal(ctl(&d, &out, "-p", d.prefix, "frobnicate", NULL), 2);
	expect_in(out, "unknown command");
	free(out);

	assert_int_equal(proc_wait(cli, 30000), 0);
	assert_int_equal(proc_wait(srv, 10000), 0);
	out = proc_read_file(args_out);
	assert_non_null(out);
	expect_in(out, "Gbit/s"); /* the progress lines of a 4 s run, on stderr */
	printf("  %s", out);
	free(out);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_perf, daemon_teardown),
		cmocka_unit_test_teardown(test_srdctl, daemon_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
