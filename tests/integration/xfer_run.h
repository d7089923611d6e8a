/*
 * xfer_run.h — start xfer processes (tests/integration/xfer.c) against a daemon under test
 * and check how they ended.  Header-only, for the cmocka integration tests (include
 * <cmocka.h>, "proc.h" and "daemon.h" first).  XFER_BIN names the program.
 */
#ifndef SRD_TEST_XFER_RUN_H
#define SRD_TEST_XFER_RUN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "proc.h"

/* Start an xfer receiver on local address `local` (flag: an extra option or NULL);
 * returns its pid, its address in to. */
static inline pid_t start_recv_flag(struct daemon *d, const char *local, uint32_t count,
			     const char *seed, const char *out, char *to, size_t tolen,
			     const char *flag)
{
	char addr_file[160], count_s[16];
	char *argv[] = { (char *)bin("XFER_BIN", "build/tests/xfer"), "recv", "--socket", d->socket,
			 "--local", (char *)local, "--addr-file", addr_file, "--count", count_s,
			 "--seed", (char *)seed, "--timeout-ms", "120000", (char *)flag, NULL };
	pid_t pid;

	snprintf(addr_file, sizeof(addr_file), "%s/addr-%s", d->dir, seed);
	snprintf(count_s, sizeof(count_s), "%u", count);
	pid = proc_start(argv, out);
	assert_true(pid > 0);
	if (proc_wait_line(addr_file, 10000, to, tolen)) {
		char *log = proc_read_file(out);

		fail_msg("receiver did not start:\n%s", log ? log : "(no output)");
	}
	return pid;
}

static inline pid_t start_recv(struct daemon *d, const char *local, uint32_t count, const char *seed,
			const char *out, char *to, size_t tolen)
{
	return start_recv_flag(d, local, count, seed, out, to, tolen, NULL);
}

static inline pid_t start_send_flag(struct daemon *d, const char *local, const char *to,
			     uint32_t count, const char *seed, const char *out, const char *flag)
{
	char count_s[16];
	char *argv[] = { (char *)bin("XFER_BIN", "build/tests/xfer"), "send", "--socket", d->socket,
			 "--local", (char *)local, "--to", (char *)to, "--count", count_s,
			 "--seed", (char *)seed, "--timeout-ms", "120000", (char *)flag, NULL };

	snprintf(count_s, sizeof(count_s), "%u", count);
	return proc_start(argv, out);
}

static inline pid_t start_send(struct daemon *d, const char *local, const char *to, uint32_t count,
			const char *seed, const char *out)
{
	return start_send_flag(d, local, to, count, seed, out, NULL);
}

/* Wait for an xfer (or badapp) process, print its output and return its JSON line; fail
 * unless it exited 0.  The caller frees the JSON. */
static inline json_t *expect_xfer_json(pid_t pid, const char *out, const char *what)
{
	int rc = proc_wait(pid, 180000);
	json_t *j = proc_last_json(out);
	char *text = proc_read_file(out);

	if (rc != 0 || !j) {
		/* said here and freed: fail_msg() does not return (LeakSanitizer would report
		 * the output as a leak on top of the failure) */
		print_error("%s exited with %d:\n%s", what, rc, text ? text : "(no output)");
		free(text);
		json_decref(j);
		fail_msg("%s failed", what);
		return NULL; /* not reached */
	}
	printf("  %s: %s", what, text);
	free(text);
	return j;
}

/* The same, for when only success matters. */
static inline void expect_xfer_ok(pid_t pid, const char *out, const char *what)
{
	json_decref(expect_xfer_json(pid, out, what));
}

#endif /* SRD_TEST_XFER_RUN_H */
