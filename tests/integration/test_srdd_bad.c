/*
 * test_srdd_bad.c — srdd's descriptor checks end to end (issue 4: "a descriptor with an
 * out-of-range offset, a foreign buffer, a length past the region: an error completion,
 * nothing else disturbed").
 *
 * srdd on the crossed loopback pair; an xfer receiver on 10.77.0.2 and an xfer sender on
 * 10.77.0.1 move 2000 messages while badapp (tests/integration/badapp.c), a third app,
 * writes three bad SEND descriptors straight into its submission ring and then sends one
 * valid message to the receiver.  Expected: badapp gets an error completion (-EFAULT) for
 * each bad one and success for the valid one; the transfer completes intact and the
 * receiver gets badapp's message too; /srd/stats counts shm.bad_sqe == 3; the daemon stops
 * cleanly with every mbuf back in its pool.
 *
 * SRDD_BIN, XFER_BIN and BADAPP_BIN name the programs (meson sets them).
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

#define MSGS 2000u

static long long stat_of(const struct daemon *d, const char *group, const char *key)
{
	json_t *st = proc_telemetry(d->prefix, "/srd/stats");
	long long v = st ? proc_json_int(st, group, key) : -1;

	json_decref(st);
	return v;
}

static void test_bad_descriptors(void **state)
{
	struct daemon d;
	char to[64], addr_file[160], out_r[160], out_s[160], out_b[160], count_s[16];
	const char *xfer = bin("XFER_BIN", "build/tests/xfer");
	json_t *bad, *recv;
	int64_t end;
	pid_t r, s, b;
	char *text;
	int sender_running;

	(void)state;
	daemon_start(&d, NULL);
	snprintf(addr_file, sizeof(addr_file), "%s/addr-recv", d.dir);
	snprintf(out_r, sizeof(out_r), "%s/recv.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/send.out", d.dir);
	snprintf(out_b, sizeof(out_b), "%s/badapp.out", d.dir);
	snprintf(count_s, sizeof(count_s), "%u", MSGS);

	/* the receiver: the transfer's messages and one from badapp */
	{
		char *argv[] = { (char *)xfer, "recv", "--socket", d.socket, "--local", "10.77.0.2",
				 "--addr-file", addr_file, "--count", count_s, "--seed", "21",
				 "--timeout-ms", "120000", "--extra", "1", NULL };

		r = proc_start(argv, out_r);
		assert_true(r > 0);
	}
	if (proc_wait_file(addr_file, 10000)) {
		text = proc_read_file(out_r);
		fail_msg("receiver did not start:\n%s", text ? text : "(no output)");
	}
	text = proc_read_file(addr_file);
	assert_non_null(text);
	snprintf(to, sizeof(to), "%s", text);
	to[strcspn(to, "\n")] = '\0';
	free(text);

	/* the transfer that must not notice */
	{
		char *argv[] = { (char *)xfer, "send", "--socket", d.socket, "--local", "10.77.0.1",
				 "--to", to, "--count", count_s, "--seed", "21", "--timeout-ms",
				 "120000", NULL };

		s = proc_start(argv, out_s);
		assert_true(s > 0);
	}
	/* under way: messages are arriving */
	for (end = proc_now_ms() + 10000; stat_of(&d, "engine", "msgs_delivered") < 1;
	     proc_sleep_ms(5))
		assert_true(proc_now_ms() < end);

	/* badapp against the receiver, mid-transfer */
	{
		char *argv[] = { (char *)bin("BADAPP_BIN", "build/tests/badapp"), "--socket", d.socket,
				 "--local", "10.77.0.1", "--to", to, "--timeout-ms", "20000", NULL };

		b = proc_start(argv, out_b);
		assert_true(b > 0);
	}
	bad = expect_xfer_json(b, out_b, "badapp");
	sender_running = proc_wait(s, 0) == -ETIMEDOUT;
	printf("  the transfer was %s when badapp finished\n",
	       sender_running ? "still running" : "already over");
	assert_int_equal(proc_json_int(bad, "bad_offset", NULL), -EFAULT);
	assert_int_equal(proc_json_int(bad, "foreign_buffer", NULL), -EFAULT);
	assert_int_equal(proc_json_int(bad, "past_region", NULL), -EFAULT);
	assert_int_equal(proc_json_int(bad, "valid", NULL), 0);
	json_decref(bad);

	/* the transfer completed intact, and badapp's good message arrived */
	json_decref(expect_xfer_json(s, out_s, "sender"));
	recv = expect_xfer_json(r, out_r, "receiver");
	assert_int_equal(proc_json_int(recv, "received", NULL), MSGS);
	assert_int_equal(proc_json_int(recv, "bad", NULL), 0);
	assert_int_equal(proc_json_int(recv, "extra", NULL), 1);
	json_decref(recv);

	/* the daemon counted exactly the three refusals */
	{
		long long n = stat_of(&d, "shm", "bad_sqe");

		printf("  /srd/stats shm.bad_sqe = %lld\n", n);
		assert_int_equal(n, 3);
	}
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_descriptors, daemon_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
