/*
 * daemon.h — one srdd under test on the crossed loopback pair (10.77.0.1 and 10.77.0.2):
 * a temporary directory with its config, control socket and log, a --file-prefix of its
 * own; started and waited for, stopped with SIGTERM and checked for a clean shutdown.
 * Header-only, for the cmocka integration tests (include <cmocka.h> and "proc.h" first).
 *
 * SRDD_BIN names the daemon (meson sets it; bin() falls back to the build tree's path).
 */
#ifndef SRD_TEST_DAEMON_H
#define SRD_TEST_DAEMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* One daemon under test and its files. */
struct daemon {
	char dir[64];       /* temporary directory */
	char config[128];   /* its config file */
	char socket[128];   /* its control socket */
	char prefix[64];    /* its EAL file prefix */
	char log[128];      /* its output */
	pid_t pid;
};

/* The directories of the daemons this test process started and has not stopped: what a
 * failed test leaves behind, for daemon_teardown(). */
#define DAEMON_MAX_LIVE 8
__attribute__((unused)) static char daemon_live_dirs[DAEMON_MAX_LIVE][64];

static inline void daemon_live_set(const char *dir, int live)
{
	for (int i = 0; i < DAEMON_MAX_LIVE; i++) {
		if (live && !daemon_live_dirs[i][0]) {
			snprintf(daemon_live_dirs[i], sizeof(daemon_live_dirs[i]), "%s", dir);
			return;
		}
		if (!live && strcmp(daemon_live_dirs[i], dir) == 0) {
			daemon_live_dirs[i][0] = '\0';
			return;
		}
	}
}

/* cmocka teardown: kill what the test started (proc_cleanup()), then remove the files of
 * the daemons it did not stop (their directories and the EAL's runtime files), so that a
 * failed test leaves nothing behind. */
static inline int daemon_teardown(void **state)
{
	char cmd[160];

	proc_teardown(state);
	for (int i = 0; i < DAEMON_MAX_LIVE; i++) {
		if (!daemon_live_dirs[i][0])
			continue;
		snprintf(cmd, sizeof(cmd), "rm -rf %.63s", daemon_live_dirs[i]);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", daemon_live_dirs[i]);
		daemon_live_dirs[i][0] = '\0';
	}
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/srdtest-%d", (int)getpid());
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove /var/run/dpdk/srdtest-%d\n", (int)getpid());
	return 0;
}

static inline const char *bin(const char *env, const char *fallback)
{
	const char *v = getenv(env);

	return v ? v : fallback;
}

/* Write d's config (impair: a JSON object for the pair's "impair" key, or NULL; workers on
 * EAL lcores 0..workers-1; idle: the "idle" object, NULL for the sleep policy with 50 µs
 * sleeps; protocol: the "protocol" object, NULL for conn_idle_ms 500 alone).  The log
 * level ("notice") lets srdd's warnings through: daemon_stop() reads them. */
static inline void write_config_full(struct daemon *d, const char *impair, unsigned workers,
				     const char *idle, const char *protocol)
{
	FILE *f = fopen(d->config, "w");

	assert_non_null(f);
	fprintf(f,
		"{\n"
		" \"eal\": [\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix\", \"%s\","
		" \"-l\", \"0-%u\", \"--log-level\", \"lib.eal:error\"],\n"
		" \"workers\": %u,\n"
		" \"idle\": %s,\n"
		" \"control\": { \"socket\": \"%s\", \"mode\": \"0660\" },\n"
		" \"apps\": { \"region_mb\": 96 },\n"
		" \"log_level\": \"notice\",\n"
		" \"protocol\": %s,\n"
		" \"ports\": [ { \"name\": \"lo\", \"type\": \"loopback_pair\",\n"
		"   \"addresses\": [\"10.77.0.1/24\", \"10.77.0.2/24\"],\n"
		"   \"macs\": [\"02:00:00:77:00:01\", \"02:00:00:77:00:02\"],\n"
		"   \"mtu\": 9000%s%s } ]\n"
		"}\n",
		d->prefix, workers - 1, workers,
		idle ? idle : "{ \"policy\": \"sleep\", \"max_sleep_us\": 50 }", d->socket,
		protocol ? protocol : "{ \"conn_idle_ms\": 500 }",
		impair ? ",\n   \"impair\": " : "", impair ? impair : "");
	fclose(f);
}

static inline void write_config_idle(struct daemon *d, const char *impair, unsigned workers,
				     const char *idle)
{
	write_config_full(d, impair, workers, idle, NULL);
}

static inline void write_config(struct daemon *d, const char *impair, unsigned workers)
{
	write_config_idle(d, impair, workers, NULL);
}

/* Start srdd with `workers` workers on the loopback pair (idle, protocol: as
 * write_config_full) and wait until it listens. */
static inline void daemon_start_full(struct daemon *d, const char *impair, unsigned workers,
				     const char *idle, const char *protocol)
{
	char *argv[] = { (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "-c", d->config, NULL };
	struct stat st;
	int64_t end;

	strcpy(d->dir, "/tmp/srdd-test-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	daemon_live_set(d->dir, 1);
	snprintf(d->config, sizeof(d->config), "%s/srdd.json", d->dir);
	snprintf(d->socket, sizeof(d->socket), "%s/srdd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/srdd.log", d->dir);
	snprintf(d->prefix, sizeof(d->prefix), "srdtest-%d", (int)getpid());
	write_config_full(d, impair, workers, idle, protocol);
	d->pid = proc_start(argv, d->log);
	assert_true(d->pid > 0);
	/* ready when the control socket exists */
	for (end = proc_now_ms() + 10000; stat(d->socket, &st) != 0; proc_sleep_ms(20)) {
		if (proc_now_ms() > end || proc_wait(d->pid, 0) != -ETIMEDOUT) {
			char *log = proc_read_file(d->log);

			fail_msg("srdd did not start:\n%s", log ? log : "(no log)");
		}
	}
}

static inline void daemon_start_idle(struct daemon *d, const char *impair, unsigned workers,
				     const char *idle)
{
	daemon_start_full(d, impair, workers, idle, NULL);
}

static inline void daemon_start_workers(struct daemon *d, const char *impair, unsigned workers)
{
	daemon_start_idle(d, impair, workers, NULL);
}

static inline void daemon_start(struct daemon *d, const char *impair)
{
	daemon_start_workers(d, impair, 1);
}

/* Stop the daemon with SIGTERM: it must exit 0 (a clean shutdown) and must not report
 * mbufs left out of their pools (dp_ports_close() logs "still in use at shutdown"). */
static inline void daemon_stop(struct daemon *d)
{
	char cmd[256];
	int rc = proc_stop(d->pid, SIGTERM, 10000);
	char *log = proc_read_file(d->log);

	if (rc != 0)
		fail_msg("srdd exited with %d:\n%s", rc, log ? log : "(no log)");
	if (log && strstr(log, "still in use at shutdown"))
		fail_msg("srdd did not get every mbuf back:\n%s", log);
	free(log);
	snprintf(cmd, sizeof(cmd), "rm -rf %s /var/run/dpdk/%s", d->dir, d->prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d->dir);
	daemon_live_set(d->dir, 0);
}

/* The daemon's counters of what apps hold, and its connections (-1: no answer). */
struct daemon_counts {
	long long apps, endpoints, rx_bufs, sends, conns;
};

static inline struct daemon_counts daemon_counts(const struct daemon *d)
{
	json_t *st = proc_telemetry(d->prefix, "/srd/stats");
	struct daemon_counts c = { -1, -1, -1, -1, -1 };

	if (!st)
		return c;
	c.apps = proc_json_int(st, "shm", "apps");
	c.endpoints = proc_json_int(st, "shm", "endpoints");
	c.rx_bufs = proc_json_int(st, "shm", "rx_bufs_lent");
	c.sends = proc_json_int(st, "shm", "sends_inflight");
	c.conns = proc_json_int(st, "engine", "conns_active");
	json_decref(st);
	return c;
}

/* CPU time (user + system) the process has used, in ms, from /proc/PID/stat (-1: gone). */
static inline long long daemon_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	/* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime(14) stime(15) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* The share of one CPU (percent) the process uses over the next ms milliseconds. */
static inline double daemon_cpu_share(pid_t pid, int ms)
{
	long long c0 = daemon_cpu_ms(pid), c1;
	int64_t t0 = proc_now_ms(), t1;

	proc_sleep_ms(ms);
	c1 = daemon_cpu_ms(pid);
	t1 = proc_now_ms();
	assert_true(c0 >= 0 && c1 >= 0);
	return 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
}

#endif /* SRD_TEST_DAEMON_H */
