/*
 * test_faults.c — srdd under faults, on the crossed loopback pair:
 *   - apps SIGKILLed at random points of sending and of receiving, many times (seeded):
 *     after each kill the daemon's counters of apps, endpoints, lent buffers and sends in
 *     flight come back to what the survivors hold, and at the end to nothing; srdd exits
 *     cleanly with every mbuf back;
 *   - a send that fails while the impairment stage still holds frames naming its bytes
 *     completes only once they are gone: what arrives later is what was sent;
 *   - sends followed at once by their endpoint's close all arrive;
 *   - srdd stopped under an attached app: the app's calls fail with -ENOTCONN instead of
 *     hanging; when srdd is back the app attaches again and goes on (and before that, a
 *     wait with nothing to come ends at its timeout, whether it spins first or not);
 *   - srdd stopped twice for longer than conn_idle mid-transfer: every message arrives once
 *     and no connection is closed as idle for the daemon's own silence;
 *   - isolation: a uid the config does not allow is refused (SO_PEERCRED, even with the
 *     socket file opened to everyone); malformed, truncated, oversized and silent
 *     handshakes are refused and counted, and the daemon goes on serving.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "daemon.h"
#include "srd.h"
#include "srd_shm.h"
#include "xfer_run.h"

#define ROUNDS 16

/* Wait up to 2 s for apps/endpoints to be `apps` and no buffers or sends to be left over
 * from the dead (the survivors may hold some: only the dead's must be gone). */
static struct daemon_counts settle(const struct daemon *d, long long apps)
{
	int64_t end = proc_now_ms() + 2000;
	struct daemon_counts c;

	do {
		proc_sleep_ms(20);
		c = daemon_counts(d);
	} while ((c.apps != apps || c.endpoints != apps) && proc_now_ms() < end);
	return c;
}

/* Kill senders and receivers at random moments of their transfers. */
static void test_random_kills(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	unsigned seed = 20261123;
	struct daemon_counts c;

	(void)state;
	daemon_start(&d, "{ \"enabled\": true, \"paths\": 8, \"seed\": 9, \"loss\": 0.02 }");
	snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/s.out", d.dir);
	for (int round = 0; round < ROUNDS; round++) {
		char rseed[16];
		int kill_receiver = round % 2, delay = (int)(rand_r(&seed) % 250);
		pid_t r, s;

		snprintf(rseed, sizeof(rseed), "%d", 100 + round);
		r = start_recv(&d, "10.77.0.2", 100000, rseed, out_r, to, sizeof(to));
		s = start_send(&d, "10.77.0.1", to, 100000, rseed, out_s);
		assert_true(s > 0);
		proc_sleep_ms(delay);
		/* one of the two dies mid-transfer, the other is stopped after */
		assert_int_equal(proc_stop(kill_receiver ? r : s, SIGKILL, 2000), 128 + SIGKILL);
		proc_sleep_ms((int)(rand_r(&seed) % 100));
		proc_stop(kill_receiver ? s : r, SIGKILL, 2000);
		c = settle(&d, 0);
		if (c.apps || c.endpoints || c.rx_bufs || c.sends)
			fail_msg("round %d (%s killed after %d ms): apps %lld endpoints %lld "
				 "buffers %lld sends %lld", round, kill_receiver ? "receiver" : "sender",
				 delay, c.apps, c.endpoints, c.rx_bufs, c.sends);
	}
	printf("  %d rounds: every kill left nothing behind\n", ROUNDS);
	/* and the daemon still works */
	{
		pid_t r = start_recv(&d, "10.77.0.2", 500, "7", out_r, to, sizeof(to));
		pid_t s = start_send(&d, "10.77.0.1", to, 500, "7", out_s);

		expect_xfer_ok(s, out_s, "sender after the kills");
		expect_xfer_ok(r, out_r, "receiver after the kills");
	}
	daemon_stop(&d); /* clean exit, every mbuf back */
}

/*
 * Payloads go out from the sending app's memory (frames name its bytes, srd_poll_tx_ref):
 * with the impairment stage holding every frame for 30 ms, a sender killed mid-transfer
 * leaves frames queued that name its region.  The region outlives the app until the last
 * of them is freed, then goes (apps back to 0); and srdd stopped with such frames queued
 * frees them before the regions, exiting cleanly (under AddressSanitizer in CI's run, a
 * frame read after its region went would fail).
 */
static void test_kill_with_frames_queued(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	struct daemon_counts c;
	json_t *st;
	pid_t r, s;

	(void)state;
	daemon_start(&d, "{ \"enabled\": true, \"paths\": 4, \"seed\": 3, \"delay_us\": 30000 }");
	snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/s.out", d.dir);
	r = start_recv(&d, "10.77.0.2", 1000000, "31", out_r, to, sizeof(to));
	s = start_send(&d, "10.77.0.1", to, 1000000, "31", out_s);
	assert_true(s > 0);
	proc_sleep_ms(400);
	assert_int_equal(proc_stop(s, SIGKILL, 2000), 128 + SIGKILL);
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	printf("  sender killed with frames queued: %lld frames so far named an app's bytes, "
	       "apps %lld\n", proc_json_int(st, "worker", "tx_ref_frames"),
	       proc_json_int(st, "shm", "apps"));
	assert_true(proc_json_int(st, "worker", "tx_ref_frames") > 0);
	json_decref(st);
	proc_stop(r, SIGKILL, 2000);
	c = settle(&d, 0);
	if (c.apps || c.endpoints || c.rx_bufs || c.sends)
		fail_msg("after the kill: apps %lld endpoints %lld buffers %lld sends %lld", c.apps,
			 c.endpoints, c.rx_bufs, c.sends);

	/* srdd stopped under a transfer, frames queued */
	r = start_recv(&d, "10.77.0.2", 1000000, "32", out_r, to, sizeof(to));
	s = start_send(&d, "10.77.0.1", to, 1000000, "32", out_s);
	assert_true(s > 0);
	proc_sleep_ms(400);
	daemon_stop(&d); /* clean exit, every mbuf back */
	proc_stop(s, SIGKILL, 2000);
	proc_stop(r, SIGKILL, 2000);
}

/*
 * A send that fails while frames naming its bytes are still queued: the impairment stage
 * holds every frame 30 ms, far past a retry budget of about a millisecond, so the message
 * fails with -ETIMEDOUT while its frames wait.  The app may then write its buffer again;
 * the held frames, arriving later, open the connection at the receiver and deliver the
 * message (a failed message may have arrived: its outcome is unknown), and what is
 * delivered must be what was sent, never the bytes written after the failure.  srdd holds
 * the error back until no frame names the app's bytes any more, and copies the frames it
 * holds itself (here the impairment stage's) so that the error need not wait for them.
 */
static void test_failed_send_frames_queued(void **state)
{
	enum { LEN = 4096 };
	struct daemon d;
	struct srdc *h;
	struct srdc_ep *a, *b;
	struct srdc_addr to;
	struct srdc_completion c[8];
	struct srdc_iov iov;
	int64_t t0, failed_ms = -1, end;
	long long deferred, unshared;
	int got = 0;
	uint8_t *buf;
	json_t *st;

	(void)state;
	daemon_start_full(&d, "{ \"enabled\": true, \"paths\": 4, \"seed\": 5, "
			  "\"delay_us\": 30000 }", 1, NULL,
			  "{ \"conn_idle_ms\": 500, \"max_retries\": 2, \"min_rto_us\": 100, "
			  "\"max_rto_us\": 200 }");
	assert_int_equal(srdc_attach(d.socket, "failsend", &h), 0);
	assert_int_equal(srdc_ep_open(h, 0x0a4d0001, 0, &a), 0);
	assert_int_equal(srdc_ep_open(h, 0x0a4d0002, 0, &b), 0);
	to = srdc_ep_addr(b);
	buf = srdc_buf_alloc(h, LEN);
	assert_non_null(buf);
	memset(buf, 'A', LEN);
	iov = (struct srdc_iov){ buf, LEN };
	t0 = proc_now_ms();
	assert_int_equal(srdc_send(a, &to, &iov, 1, 7, 0, NULL), 0);
	for (end = t0 + 3000; proc_now_ms() < end && (failed_ms < 0 || !got);) {
		int n = srdc_poll(h, c, 8);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			if (c[i].kind == SRDC_SEND) {
				assert_int_equal(c[i].status, -ETIMEDOUT);
				failed_ms = proc_now_ms() - t0;
				memset(buf, 'B', LEN); /* the app's bytes again */
				continue;
			}
			assert_int_equal(c[i].len, LEN);
			for (size_t k = 0; k < LEN; k++)
				if (((uint8_t *)c[i].buf)[k] != 'A')
					fail_msg("byte %zu delivered as '%c': written after the "
						 "send had failed", k, ((uint8_t *)c[i].buf)[k]);
			got++;
			srdc_recv_done(h, c[i].buf);
		}
		if (n == 0)
			srdc_wait(h, 5);
	}
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	deferred = proc_json_int(st, "worker", "tx_errors_deferred");
	unshared = proc_json_int(st, "worker", "tx_ref_unshared");
	json_decref(st);
	printf("  failed after %lld ms (frames held 30 ms; failures held back for their frames "
	       "%lld, held frames copied %lld), delivered %d time(s), as sent\n",
	       (long long)failed_ms, deferred, unshared, got);
	assert_true(failed_ms >= 0);
	assert_true(deferred >= 1);
	assert_true(unshared >= 1);
	assert_true(got <= 1);
	srdc_detach(h);
	daemon_stop(&d);
}

/*
 * An app that sends and closes its endpoint at once (fabtests' fi_msg_inject without -A
 * does): the sends published before the close go out, though srdd reads its control socket
 * before the submission rings.  Under the adaptive idle policy, whose sleeps leave both
 * waiting together, each of these sends used to be refused as naming no endpoint.
 */
static void test_send_then_close(void **state)
{
	enum { N = 40 };
	struct daemon d;
	struct srdc *hs, *hr;
	struct srdc_ep *b;
	struct srdc_addr to;
	struct srdc_completion c[8];
	int got = 0;
	long long bad;
	int64_t end;
	json_t *st;

	(void)state;
	daemon_start_full(&d, NULL, 1, "{ \"policy\": \"adaptive\" }", NULL);
	assert_int_equal(srdc_attach(d.socket, "closer-recv", &hr), 0);
	assert_int_equal(srdc_ep_open(hr, 0x0a4d0002, 0, &b), 0);
	to = srdc_ep_addr(b);
	assert_int_equal(srdc_attach(d.socket, "closer-send", &hs), 0);
	for (int i = 0; i < N; i++) {
		struct srdc_ep *a;
		char msg[32];
		struct srdc_iov iov = { msg, (size_t)snprintf(msg, sizeof(msg), "message %d", i) };

		assert_int_equal(srdc_ep_open(hs, 0x0a4d0001, 0, &a), 0);
		assert_int_equal(srdc_send(a, &to, &iov, 1, (uint64_t)i, 0, NULL), 0);
		srdc_ep_close(a);
		proc_sleep_ms(2); /* the daemon's loop falls asleep between two */
	}
	for (end = proc_now_ms() + 3000; got < N && proc_now_ms() < end;) {
		int n = srdc_poll(hr, c, 8);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			if (c[i].kind != SRDC_RECV)
				continue;
			got++;
			srdc_recv_done(hr, c[i].buf);
		}
		while (srdc_poll(hs, c, 8) > 0)
			;
		if (n == 0)
			srdc_wait(hr, 5);
	}
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	bad = proc_json_int(st, "shm", "bad_sqe");
	json_decref(st);
	printf("  %d sends each followed at once by its endpoint's close: %d arrived, %lld "
	       "refused\n", N, got, bad);
	assert_int_equal(got, N);
	assert_int_equal(bad, 0);
	srdc_detach(hs);
	srdc_detach(hr);
	daemon_stop(&d);
}

/* Poll h for up to ms; returns the first negative result, or 0. */
static int poll_for(struct srdc *h, int ms)
{
	struct srdc_completion c[8];
	int64_t end = proc_now_ms() + ms;

	while (proc_now_ms() < end) {
		int n = srdc_poll(h, c, 8);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			if (c[i].kind == SRDC_RECV)
				srdc_recv_done(h, c[i].buf);
		if (n == 0)
			srdc_wait(h, 20);
	}
	return 0;
}

/* srdd goes away under an attached app, then comes back. */
static void test_daemon_restart(void **state)
{
	struct daemon d;
	struct srdc *h;
	struct srdc_ep *ep, *ep2;
	struct srdc_addr me;
	struct srdc_iov iov = { "hello", 5 };
	struct srdc_completion comp[4];
	int rc, got = 0;
	int64_t end;

	(void)state;
	daemon_start(&d, NULL);
	assert_int_equal(srdc_attach(d.socket, "restart", &h), 0);
	assert_int_equal(srdc_ep_open(h, 0, 0, &ep), 0);
	me = srdc_ep_addr(ep);
	assert_int_equal(srdc_send(ep, &me, &iov, 1, 1, 0, NULL), 0);
	assert_int_equal(poll_for(h, 300), 0);

	/* the wait's spin window: bounded, and never longer than the wait's timeout */
	assert_int_equal(srdc_set_spin(NULL, 10), -EINVAL);
	assert_int_equal(srdc_set_spin(h, 1000001), -EINVAL);
	for (unsigned spin = 0; spin <= 200000; spin += 200000) {
		int64_t t0 = proc_now_ms(), took;

		assert_int_equal(srdc_set_spin(h, spin), 0);
		assert_int_equal(srdc_wait(h, 30), -ETIMEDOUT);
		took = proc_now_ms() - t0;
		printf("  srdc_wait(30 ms) with a %u us spin: -ETIMEDOUT after %lld ms\n", spin,
		       (long long)took);
		assert_true(took >= 29 && took < 1000);
	}

	/* srdd stops: the app's calls fail with -ENOTCONN, none hangs */
	assert_int_equal(proc_stop(d.pid, SIGTERM, 10000), 0);
	end = proc_now_ms() + 5000;
	rc = poll_for(h, 5000);
	printf("  after the daemon stopped: srdc_poll %d (%s) in %lld ms\n", rc, strerror(-rc),
	       (long long)(proc_now_ms() - end + 5000));
	assert_int_equal(rc, -ENOTCONN);
	assert_int_equal(srdc_send(ep, &me, &iov, 1, 2, 0, NULL), -ENOTCONN);
	assert_int_equal(srdc_ep_open(h, 0, 0, &ep2), -ENOTCONN);
	assert_int_equal(srdc_wait(h, 100), -ENOTCONN);
	srdc_detach(h);
	assert_true(srdc_attach(d.socket, "too-early", &h) < 0); /* nobody there */

	/* srdd is back (same config and socket): the app attaches again and goes on */
	{
		char *argv[] = { (char *)bin("SRDD_BIN", "build/apps/srdd/srdd"), "-c", d.config,
				 NULL };
		struct stat st;

		unlink(d.log);
		d.pid = proc_start(argv, d.log);
		assert_true(d.pid > 0);
		for (end = proc_now_ms() + 10000; stat(d.socket, &st) != 0; proc_sleep_ms(20))
			assert_true(proc_now_ms() < end);
	}
	assert_int_equal(srdc_attach(d.socket, "restart-again", &h), 0);
	assert_int_equal(srdc_ep_open(h, 0, 0, &ep), 0);
	me = srdc_ep_addr(ep);
	assert_int_equal(srdc_send(ep, &me, &iov, 1, 3, 0, NULL), 0);
	for (end = proc_now_ms() + 5000; got < 2 && proc_now_ms() < end;) {
		int n = srdc_poll(h, comp, 4);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			if (comp[i].kind == SRDC_RECV) {
				assert_int_equal(comp[i].len, 5);
				assert_memory_equal(comp[i].buf, "hello", 5);
				srdc_recv_done(h, comp[i].buf);
			} else {
				assert_int_equal(comp[i].status, 0);
			}
			got++;
		}
		if (n == 0)
			srdc_wait(h, 20);
	}
	assert_int_equal(got, 2); /* its send completed and the message arrived */
	srdc_detach(h);
	daemon_stop(&d);
}

/* A connection to the control socket that says `msg` (len bytes; NULL: nothing), then
 * waits for the daemon to close it.  Returns 1 if it was closed within 3 s. */
static int refused_handshake(const struct daemon *d, const void *msg, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 3 };
	char buf[512];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0), closed = 0;
	int64_t end = proc_now_ms() + 3000;

	assert_true(fd >= 0);
	assert_true(strlen(d->socket) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, d->socket, strlen(d->socket) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (msg)
		(void)!send(fd, msg, len, MSG_NOSIGNAL);
	while (!closed && proc_now_ms() < end) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
		/* an error reply may come first: the close follows */
	}
	close(fd);
	return closed;
}

/* Whether pid has exited (not reaped: expect_xfer_ok still waits for it). */
static int proc_exited(pid_t pid)
{
	siginfo_t info = { 0 };

	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

/* Print, with the ms since t0, any change of srdd's idle closes and resumes since *closed
 * (should one happen mid-transfer: when, and what srdd's counters said then). */
static void note_closes(const struct daemon *d, int64_t t0, long long *closed)
{
	json_t *st = proc_telemetry(d->prefix, "/srd/stats");
	long long now_closed = proc_json_int(st, "engine", "conns_closed");

	if (st && now_closed != *closed)
		printf("  at +%lld ms: idle closes %lld, resumed %lld, created %lld; rto_events %lld, "
		       "tlp %lld, probes %lld, path failures %lld, pauses %lld\n",
		       (long long)(proc_now_ms() - t0), now_closed,
		       proc_json_int(st, "engine", "conns_resumed"),
		       proc_json_int(st, "engine", "conns_created"),
		       proc_json_int(st, "engine", "rto_events"),
		       proc_json_int(st, "engine", "tlp_probes"),
		       proc_json_int(st, "engine", "tx_probes"),
		       proc_json_int(st, "engine", "path_failures"),
		       proc_json_int(st, "worker", "pauses"));
	if (st)
		*closed = now_closed;
	json_decref(st);
}

/*
 * srdd stopped (SIGSTOP) for longer than conn_idle mid-transfer, then continued: the worker
 * sees that it was paused and tells its engines, so no connection is closed as idle for a
 * silence that was its own.  (Before, the receiving side closed its connections at once,
 * and one holding a PSN beyond a gap, as 2% loss leaves, failed the sender's unfinished
 * messages with -ECONNRESET, some of them delivered.)
 */
static void test_daemon_paused(void **state)
{
	struct daemon d;
	char to[64], out_r[160], out_s[160];
	long long closed = 0;
	int64_t t0;
	json_t *st;
	pid_t r, s;

	(void)state;
	daemon_start(&d, "{ \"enabled\": true, \"paths\": 8, \"seed\": 5, \"loss\": 0.02 }");
	snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
	snprintf(out_s, sizeof(out_s), "%s/s.out", d.dir);
	r = start_recv(&d, "10.77.0.2", 30000, "31", out_r, to, sizeof(to));
	s = start_send(&d, "10.77.0.1", to, 30000, "31", out_s);
	assert_true(s > 0);
	t0 = proc_now_ms();
	proc_sleep_ms(100);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kill(d.pid, SIGSTOP), 0);
		printf("  +%lld ms: srdd stopped\n", (long long)(proc_now_ms() - t0));
		proc_sleep_ms(800); /* conn_idle is 500 ms */
		assert_int_equal(kill(d.pid, SIGCONT), 0);
		proc_sleep_ms(100);
		note_closes(&d, t0, &closed);
	}
	while (!proc_exited(s) && proc_now_ms() - t0 < 120000) {
		proc_sleep_ms(100);
		note_closes(&d, t0, &closed);
	}
	printf("  +%lld ms: the sender is done\n", (long long)(proc_now_ms() - t0));
	expect_xfer_ok(s, out_s, "sender across the pauses");
	expect_xfer_ok(r, out_r, "receiver across the pauses");
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	printf("  srdd stopped twice for 800 ms: worker pauses %lld, connections created %lld, "
	       "closed %lld, resumed %lld\n",
	       proc_json_int(st, "worker", "pauses"), proc_json_int(st, "engine", "conns_created"),
	       proc_json_int(st, "engine", "conns_closed"),
	       proc_json_int(st, "engine", "conns_resumed"));
	assert_true(proc_json_int(st, "worker", "pauses") >= 2);
	/* no connection closed during the transfer: one closed as idle mid-run is made again
	 * (a third connection) or resumed.  Closes after the transfer are legitimate: on a
	 * loaded machine the apps' exit and this query can take longer than conn_idle. */
	if (proc_json_int(st, "engine", "conns_created") != 2 ||
	    proc_json_int(st, "engine", "conns_resumed") != 0) {
		/* what a look at the cause needs (a950de8 fixed the last one: a stop that landed
		   between two reads of the worker's clock in one iteration) */
		char *all = json_dumps(st, JSON_COMPACT), *log = proc_read_file(d.log);

		printf("  a connection closed mid-transfer; srdd's counters: %s\n  srdd's log:\n%s\n",
		       all ? all : "?", log ? log : "(none)");
		free(all);
		free(log);
	}
	assert_int_equal(proc_json_int(st, "engine", "conns_created"), 2);
	assert_int_equal(proc_json_int(st, "engine", "conns_resumed"), 0);
	json_decref(st);
	daemon_stop(&d);
}

static void test_isolation(void **state)
{
	struct daemon d;
	struct srd_ctl hello;
	char junk[3 * sizeof(struct srd_ctl)];
	json_t *st;
	long long refused0;
	pid_t child;
	int wst = 0;

	(void)state;
	daemon_start(&d, NULL);
	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	refused0 = proc_json_int(st, "shm", "refused");
	json_decref(st);

	/* another uid, with the file's permissions out of the way: SO_PEERCRED refuses it */
	assert_int_equal(chmod(d.dir, 0711), 0);
	assert_int_equal(chmod(d.socket, 0666), 0);
	child = fork();
	if (child == 0) {
		struct srdc *h;
		int rc;

		if (setgid(65534) || setuid(65534))
			_exit(3);
		rc = srdc_attach(d.socket, "intruder", &h);
		_exit(rc == -EACCES ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &wst, 0), child);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0); /* -EACCES */
	/* counted by srdd itself; the app may see the refusal before the counter moves (the
	 * telemetry request can overtake it on a loaded machine), so look for a while */
	long long refused = refused0;

	for (int64_t end = proc_now_ms() + 5000; refused == refused0 && proc_now_ms() < end;
	     proc_sleep_ms(10)) {
		st = proc_telemetry(d.prefix, "/srd/stats");
		assert_non_null(st);
		refused = proc_json_int(st, "shm", "refused");
		json_decref(st);
	}
	assert_true(refused - refused0 >= 1);

	/* handshakes that are not one: garbage, truncated, oversized, wrong magic, silence */
	memset(&hello, 0, sizeof(hello));
	hello.magic = SRD_CTL_MAGIC;
	hello.version = SRD_SHM_VERSION;
	hello.op = SRD_CTL_HELLO;
	memset(junk, 0xa5, sizeof(junk));
	assert_true(refused_handshake(&d, junk, 7));
	assert_true(refused_handshake(&d, &hello, sizeof(hello) / 2));
	assert_true(refused_handshake(&d, junk, sizeof(junk)));
	hello.magic ^= 1;
	assert_true(refused_handshake(&d, &hello, sizeof(hello)));
	hello.magic ^= 1;
	hello.version += 1;
	assert_true(refused_handshake(&d, &hello, sizeof(hello)));
	assert_true(refused_handshake(&d, NULL, 0)); /* says nothing: closed after 1 s */

	st = proc_telemetry(d.prefix, "/srd/stats");
	assert_non_null(st);
	printf("  refused: %lld (the uid, then 6 handshakes)\n",
	       proc_json_int(st, "shm", "refused") - refused0);
	assert_true(proc_json_int(st, "shm", "refused") - refused0 >= 7);
	assert_int_equal(proc_json_int(st, "shm", "apps"), 0);
	json_decref(st);

	/* and the daemon serves the rest as before */
	{
		char to[64], out_r[160], out_s[160];
		pid_t r, s;

		snprintf(out_r, sizeof(out_r), "%s/r.out", d.dir);
		snprintf(out_s, sizeof(out_s), "%s/s.out", d.dir);
		r = start_recv(&d, "10.77.0.2", 300, "8", out_r, to, sizeof(to));
		s = start_send(&d, "10.77.0.1", to, 300, "8", out_s);
		expect_xfer_ok(s, out_s, "sender after the intruders");
		expect_xfer_ok(r, out_r, "receiver after the intruders");
	}
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_random_kills, daemon_teardown),
		cmocka_unit_test_teardown(test_kill_with_frames_queued, daemon_teardown),
		cmocka_unit_test_teardown(test_failed_send_frames_queued, daemon_teardown),
		cmocka_unit_test_teardown(test_send_then_close, daemon_teardown),
		cmocka_unit_test_teardown(test_daemon_restart, daemon_teardown),
		cmocka_unit_test_teardown(test_daemon_paused, daemon_teardown),
		cmocka_unit_test_teardown(test_isolation, daemon_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
