/*
 * perf_pair_bw.c — srd-perf bw|rate --pair: one thread holds both ends of a one-way stream.
 *
 * End A (the sender) is an endpoint on --local, end B (the receiver) one on the --pair
 * address of the same daemon, each with an attachment of its own, as two apps would have:
 * A's handle carries the submissions and the send completions, B's the receive completions.
 * The thread keeps -w messages in flight from A to B (as a client thread of bw and rate
 * does), polls A's handle for completions and B's for arrivals, and gives every arrival back
 * at once.  On a machine with fewer cores than busy processes (srdd and two apps on two
 * cores) this is the rate a core per app would give, without two apps trading a CPU.
 *
 * The run is timed as bw's client times it: first send to last completion (--inject: first
 * to last arrival at B, as the server's clock does it).  Then it waits until everything a
 * completed send delivered has arrived, and checks that B received each exactly once: as
 * many arrivals as sends completed (--inject: as sends that did not fail), each of the size
 * sent, and none out of send order with --ordered.
 *
 * --poll: spin, or yield (sched_yield when a round sent nothing and neither handle had a
 * completion), or sleep: poll (yielding) while the last completion on either handle is
 * under --spin-us old (libsrd's default 50 µs), then arm both handles (srdc_wait(h, 0))
 * and sleep in poll(2) on both srdc_fd()s, 1 ms at most: srdc_wait() itself watches one.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "perf.h"
#include "perf_pair.h"

#define CTX_DATA ((void *)1)
#define BATCH 64u                       /* completions per poll; --inject: sends per round */
#define DRAIN_TIMEOUT_NS 5000000000ull  /* the last arrivals after the last completion */
#define DEFAULT_SPIN_NS 50000ull        /* libsrd's srdc_set_spin() default */

/* A run's state. */
struct pbw {
	const struct perf_opts *o;
	struct pair_end e[2];        /* e[0]: the sender A, e[1]: the receiver B */
	uint32_t size;               /* of the current run */
	uint64_t sent;               /* sends accepted (srdc_send or srdc_inject) */
	uint64_t inflight;           /* of those, not completed yet (not --inject) */
	struct perf_flow out;        /* sends completed (--inject: failures only, until the end) */
	uint64_t rx_msgs, rx_bytes;  /* DATA arrived at B */
	struct perf_order order;     /* arrivals out of send order */
	uint64_t t0_ns, last_done_ns;
	uint64_t rx_first_ns, rx_last_ns;
	uint64_t poll_ns;            /* when the batch being handled was polled */
	uint64_t now_ns;             /* the clock as last read (a poll that found completions,
	                                a round that did nothing): one read a round at most */
	uint64_t spin_ns;            /* --poll sleep: poll this long after a completion */
	uint64_t empty;              /* --poll spin: rounds that found nothing */
	int rc;                      /* the first error a completion showed */
};

static void note_error(struct pbw *p, int rc)
{
	if (!p->rc)
		p->rc = rc;
}

/* A's completions: its sends'. */
static void on_sender(struct pbw *p, const struct srdc_completion *c)
{
	if (c->kind != SRDC_SEND) { /* nobody sends to A */
		srdc_recv_done(p->e[0].h, c->buf);
		fprintf(stderr, "srd-perf: a message (tag %#" PRIx64 ") arrived at the sending end\n",
			c->tag);
		note_error(p, -EPROTO);
		return;
	}
	if (!p->o->inject) {
		p->inflight--;
		p->last_done_ns = p->poll_ns;
	}
	if (c->status) {
		if (p->out.failed++ == 0)
			fprintf(stderr, "srd-perf: a send failed: %s\n", strerror(-c->status));
	} else if (!p->o->inject) {
		p->out.msgs++;
		p->out.bytes += p->size;
	}
}

/* B's completions: arrivals. */
static void on_receiver(struct pbw *p, const struct srdc_completion *c)
{
	int rc;

	if (c->kind != SRDC_RECV)
		return; /* B sends nothing */
	if (c->ep != p->e[1].ep || PERF_TAG_KIND(c->tag) != PERF_T_DATA) {
		fprintf(stderr, "srd-perf: an unexpected message (tag %#" PRIx64 ")\n", c->tag);
		note_error(p, -EPROTO);
	} else {
		if (p->rx_msgs++ == 0)
			p->rx_first_ns = p->poll_ns;
		p->rx_last_ns = p->poll_ns;
		p->rx_bytes += c->len;
		perf_order_note(&p->order, c->tag);
		if (c->len != p->size && !p->rc) {
			fprintf(stderr, "srd-perf: %zu bytes arrived, %u were sent\n", c->len, p->size);
			p->rc = -EPROTO;
		}
	}
	rc = srdc_recv_done(p->e[1].h, c->buf);
	if (rc)
		note_error(p, rc);
}

/* Poll A's handle, then B's, and handle what came (timed by one clock read).  Returns how
 * many completions, or a negative errno (-ENOTCONN: the daemon is gone). */
static int poll_both(struct pbw *p)
{
	struct srdc_completion ca[BATCH], cb[BATCH];
	int na = srdc_poll(p->e[0].h, ca, BATCH), nb;

	if (na < 0)
		return na;
	nb = srdc_poll(p->e[1].h, cb, BATCH);
	if (nb < 0)
		return nb;
	if (na + nb == 0)
		return 0;
	p->poll_ns = p->now_ns = perf_now_ns();
	for (int i = 0; i < na; i++)
		on_sender(p, &ca[i]);
	for (int i = 0; i < nb; i++)
		on_receiver(p, &cb[i]);
	return na + nb;
}

/* Neither handle had anything: wait as --poll says (see the top of the file).  Returns 0, or
 * -ENOTCONN. */
static int idle(struct pbw *p)
{
	struct pollfd fd[2];

	if (p->o->wait == PERF_WAIT_SPIN) {
		/* the clock costs as much as the two polls: read it every 64 empty rounds (a few
		   µs late for -D's end at most) */
		if (++p->empty % 64 == 0)
			p->now_ns = perf_now_ns();
		return 0;
	}
	p->now_ns = perf_now_ns();
	if (p->o->wait == PERF_WAIT_YIELD || p->now_ns - p->poll_ns < p->spin_ns) {
		sched_yield();
		return 0;
	}
	for (int k = 0; k < 2; k++) {
		int rc = srdc_wait(p->e[k].h, 0); /* none ready: it stays armed for srdc_fd() */

		if (rc == 0 || rc == -ENOTCONN)
			return rc;
		fd[k] = (struct pollfd){ .fd = srdc_fd(p->e[k].h), .events = POLLIN };
	}
	(void)poll(fd, 2, 1); /* an interruption or the timeout: the caller looks again */
	return 0;
}

/* Send until -n or -D is up (and SIGINT stops it), keeping -w in flight (--inject: BATCH
 * sends a round), taking completions and arrivals between rounds; then until every send
 * completed.  Returns 0 or the first error (a send's, a completion's, the daemon gone). */
static int send_loop(struct pbw *p)
{
	const struct perf_opts *o = p->o;
	struct pair_end *a = &p->e[0];
	const struct srdc_addr *to = &p->e[1].addr;
	struct srdc_iov iov = { a->buf, p->size };
	uint64_t deadline = p->t0_ns + o->duration_ns;
	struct perf_progress prog;
	unsigned rounds = 0;

	perf_progress_start(&prog);
	for (;;) {
		bool more = !perf_stop && !p->rc &&
			    (o->iters ? p->sent < o->iters : p->now_ns < deadline);
		uint64_t room = o->inject ? BATCH : o->window - p->inflight;
		uint64_t before = p->sent;
		int n;

		while (more && p->sent - before < room) {
			uint64_t tag = PERF_DATA_TAG(0, p->sent);
			int rc = o->inject ? srdc_inject(a->ep, to, a->buf, p->size, tag, 0, CTX_DATA) :
					     srdc_send(a->ep, to, &iov, 1, tag, 0, CTX_DATA);

			if (rc == -EAGAIN)
				break;
			if (rc) {
				fprintf(stderr, "srd-perf: cannot send: %s\n", strerror(-rc));
				note_error(p, rc);
				more = false;
				break;
			}
			p->sent++;
			more = !o->iters || p->sent < o->iters;
		}
		if (!o->inject)
			p->inflight += p->sent - before;
		if (!more && p->inflight == 0)
			break;
		n = poll_both(p);
		if (n == 0 && p->sent == before)
			n = idle(p); /* it reads the clock (spinning: now and then) */
		else if (n == 0)
			p->now_ns = perf_now_ns(); /* -D ends even if nothing comes back */
		if (n < 0) {
			note_error(p, n); /* the daemon is gone: no completion will come */
			break;
		}
		if (++rounds % 256 == 0) /* it reads the clock */
			perf_progress(o, &prog, o->inject ? p->sent - p->out.failed : p->out.msgs,
				      o->inject ? (p->sent - p->out.failed) * p->size : p->out.bytes);
	}
	return p->rc;
}

/* After the last completion: wait until B has what the sends delivered (every completed
 * send; --inject: every send that did not fail), DRAIN_TIMEOUT_NS at most. */
static int drain(struct pbw *p)
{
	uint64_t end = perf_now_ns() + DRAIN_TIMEOUT_NS, want;

	for (;;) {
		int n;

		want = p->o->inject ? p->sent - p->out.failed : p->out.msgs;
		if (p->rx_msgs >= want || p->rc)
			return p->rc;
		if (perf_stop)
			return -EINTR;
		n = poll_both(p);
		if (n == 0) {
			if (perf_now_ns() > end)
				break;
			n = idle(p);
		}
		if (n < 0)
			return n;
	}
	fprintf(stderr, "srd-perf: %" PRIu64 " of %" PRIu64 " sends %s arrived at the receiving "
			"end within %llu s of the last completion\n", p->rx_msgs, want,
		p->o->inject ? "that did not fail" : "completed", DRAIN_TIMEOUT_NS / 1000000000ull);
	return -ETIMEDOUT;
}

/* Every message B was owed arrived exactly once: -EPROTO (said) if not. */
static int check_exactly_once(const struct pbw *p)
{
	/* a failed send may or may not have been delivered: only completed ones are owed */
	uint64_t owed = p->out.msgs, most = p->out.msgs + p->out.failed;

	if (p->rx_msgs >= owed && p->rx_msgs <= most)
		return 0;
	fprintf(stderr, "srd-perf: the receiving end got %" PRIu64 " messages, %" PRIu64
			" sends %s\n", p->rx_msgs, owed, p->o->inject ? "did not fail" : "completed");
	return -EPROTO;
}

static int run(struct pbw *p, uint32_t size, bool header)
{
	const struct perf_opts *o = p->o;
	int rc;

	p->size = size;
	p->sent = p->inflight = p->rx_msgs = p->rx_bytes = 0;
	p->rx_first_ns = p->rx_last_ns = 0;
	p->out = (struct perf_flow){ 0 };
	memset(&p->order, 0, sizeof(p->order));
	p->rc = 0;
	rc = pair_buf(&p->e[0], size, 0xa5);
	if (rc)
		return rc;
	p->t0_ns = p->last_done_ns = p->poll_ns = p->now_ns = perf_now_ns();
	rc = send_loop(p);
	if (!rc)
		rc = drain(p);
	if (o->inject) {
		/* no completions: what arrived, timed from the first arrival to the last */
		p->out.msgs = p->sent - p->out.failed;
		p->out.bytes = p->out.msgs * size;
		p->out.seconds = (double)(p->rx_last_ns - p->rx_first_ns) / 1e9;
	} else {
		p->out.seconds = (double)(p->last_done_ns - p->t0_ns) / 1e9;
	}
	p->out.out_of_order = p->order.late;
	if (!rc)
		rc = check_exactly_once(p);
	perf_report_bw(o, header, size, o->window, &p->out, NULL);
	if (!rc && o->ordered && p->order.late) {
		fprintf(stderr, "srd-perf: %" PRIu64 " messages arrived out of order\n",
			p->order.late);
		rc = -EPROTO;
	}
	return rc ? rc : p->out.failed ? -EIO : 0;
}

int perf_pair_bw(const struct perf_opts *o)
{
	struct pbw p = { .o = o };
	int rc = pair_open(o, true, p.e);

	p.spin_ns = o->spin_us >= 0 ? (uint64_t)o->spin_us * 1000u : DEFAULT_SPIN_NS;
	if (!rc) {
		if (o->sweep)
			for (uint32_t s = 64; s <= PERF_MAX_SIZE && !rc && !perf_stop; s *= 2)
				rc = run(&p, s, s == 64);
		else
			rc = run(&p, o->size, true);
	}
	pair_close(p.e);
	return rc ? 1 : 0;
}
