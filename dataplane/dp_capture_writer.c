/*
 * dp_capture_writer.c — the thread that turns a session's copies into pcapng (see
 * dp_capture.h and dp_capture_int.h).
 *
 * The workers only copy; every rte_pcapng call happens here, on one thread (the library
 * keeps its clock conversion in static state that is not safe to share).  Each copy
 * becomes an Enhanced Packet Block through rte_pcapng_copy(); then three fields are put
 * right, in the block's documented pcapng layout, because DPDK 22.11 cannot say them:
 *   - the timestamp: srdd's own conversion of the worker's TSC reading against the wall
 *     clock taken at the start (the library's stamps from Debian 12's 22.11.11 land in
 *     the year 2251);
 *   - the original length: the frame's, not the snapped copy's;
 *   - a comment option on a frame the impairment stage dropped, saying why and on which
 *     path (22.11's rte_pcapng_copy() has no comment parameter).
 * Then rte_pcapng_write_packets() writes a batch.  At the end, one Interface Statistics
 * Block per captured port (frames written, frames the capture dropped) and the stream is
 * closed: the reader sees its end.
 */
/* rte_pcapng is experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#include "dp_capture_int.h"
#include "dp_impair.h"
#include "dp_port.h"

/* Enhanced Packet Block fields (pcapng, section 4.3), in the writer's byte order. */
#define EPB_TOTAL_LEN 4u     /* block total length (also the block's last 4 bytes) */
#define EPB_TS_HIGH 12u      /* timestamp, upper 32 bits (ns: rte_pcapng's if_tsresol) */
#define EPB_TS_LOW 16u       /* timestamp, lower 32 bits */
#define EPB_ORIG_LEN 24u     /* original packet length */
#define PCAPNG_OPT_COMMENT 1u /* opt_comment: UTF-8 text */
#define CAP_IDLE_POLL_MS 5   /* the writer's wait for copies or for the reader */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Wall-clock ns of TSC reading tsc. */
static uint64_t tsc_to_real_ns(const struct dp_cap_session *s, uint64_t tsc)
{
	uint64_t d = tsc >= s->tsc0 ? tsc - s->tsc0 : s->tsc0 - tsc;
	uint64_t ns = d / s->tsc_hz * 1000000000ull + d % s->tsc_hz * 1000000000ull / s->tsc_hz;

	return tsc >= s->tsc0 ? s->real0_ns + ns : s->real0_ns - ns;
}

static uint64_t real_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Set block b's timestamp and original length, and add comment (NULL: none).  Returns 0,
 * or -EINVAL (not a one-segment block) / -ENOSPC (no room for the comment). */
static int epb_amend(struct rte_mbuf *b, uint64_t ns, uint32_t orig_len, const char *comment)
{
	uint8_t *p = rte_pktmbuf_mtod(b, uint8_t *);
	uint32_t total = get32(p + EPB_TOTAL_LEN);

	if (b->nb_segs != 1 || total != rte_pktmbuf_data_len(b) || total < 32)
		return -EINVAL;
	put32(p + EPB_TS_HIGH, (uint32_t)(ns >> 32));
	put32(p + EPB_TS_LOW, (uint32_t)ns);
	put32(p + EPB_ORIG_LEN, orig_len);
	if (comment) {
		uint16_t code = PCAPNG_OPT_COMMENT, len = (uint16_t)strlen(comment);
		uint32_t padded = (len + 3u) & ~3u, opt = 4u + padded;
		/* the option goes where the trailing length was; the length moves past it */
		uint8_t *o = p + total - 4;

		if (!rte_pktmbuf_append(b, (uint16_t)opt))
			return -ENOSPC;
		memcpy(o, &code, 2);
		memcpy(o + 2, &len, 2);
		memcpy(o + 4, comment, len);
		memset(o + 4 + len, 0, padded - len);
		total += opt;
		put32(p + EPB_TOTAL_LEN, total);
		put32(p + total - 4, total);
	}
	return 0;
}

static const char *why_name(uint8_t why)
{
	switch (why) {
	case DP_IMPAIR_LOSS:
		return "random loss";
	case DP_IMPAIR_BLACKHOLE:
		return "blackhole";
	case DP_IMPAIR_QUEUE_FULL:
		return "delay queue full";
	case DP_IMPAIR_BYPASS_FULL:
		return "bypass queue full";
	}
	return "unknown reason";
}

/* The comment of a dropped frame (the dissector, tools/wireshark/srd.lua, reads it). */
static void drop_comment(const struct cap_meta *m, char *buf, size_t len)
{
	if (m->path == UINT16_MAX)
		snprintf(buf, len, "srd: dropped by the impairment stage (%s)", why_name(m->why));
	else
		snprintf(buf, len, "srd: dropped by the impairment stage (%s, path %u)",
			 why_name(m->why), m->path);
}

/* Write copies in[0..n) (freed here), up to the session's count.  Returns 0, or a
 * negative errno when the stream failed. */
static int write_batch(struct dp_cap_session *s, struct rte_mbuf **in, unsigned n)
{
	struct rte_mbuf *out[CAP_BURST];
	uint16_t port_idx[CAP_BURST];
	uint64_t written = atomic_load(&s->written);
	unsigned k = 0;
	ssize_t rc;

	for (unsigned i = 0; i < n; i++) {
		const struct cap_meta *m = rte_mbuf_to_priv(in[i]);
		char comment[CAP_COMMENT_MAX];
		struct rte_mbuf *b = NULL;

		if (!s->req.count || written + k < s->req.count)
			b = rte_pcapng_copy(m->port_id, m->queue, in[i], s->out_pool, UINT32_MAX,
					    m->tsc, (enum rte_pcapng_direction)m->dir);
		if (b) {
			if (m->why)
				drop_comment(m, comment, sizeof(comment));
			if (epb_amend(b, tsc_to_real_ns(s, m->tsc), m->orig_len,
				      m->why ? comment : NULL) == 0) {
				port_idx[k] = m->port_idx;
				out[k++] = b;
			} else {
				rte_pktmbuf_free(b);
			}
		}
		rte_pktmbuf_free(in[i]);
	}
	if (k == 0)
		return 0;
	rc = rte_pcapng_write_packets(s->pcapng, out, (uint16_t)k);
	rte_pktmbuf_free_bulk(out, k); /* 22.11 leaves them to the caller */
	if (rc < 0)
		return -rte_errno;
	for (unsigned i = 0; i < k; i++)
		s->written_port[port_idx[i]]++;
	atomic_store(&s->written, written + k);
	atomic_store(&s->bytes, atomic_load(&s->bytes) + (uint64_t)rc);
	return 0;
}

/* Has the reader shut its side down (or gone)?  Waits up to ms for it. */
static int reader_done(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char buf[64];

	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR))
		return 1;
	/* the reader has nothing to say: what it writes is read away; end of file ends */
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0;
}

/* One Interface Statistics Block per captured port. */
static void write_stats(struct dp_cap_session *s)
{
	for (uint32_t i = 0; i < s->nports; i++) {
		uint64_t dropped = 0;

		if (!(s->req.port_mask >> i & 1))
			continue;
		for (uint32_t k = 0; k < DP_MAX_WORKERS; k++)
			dropped += __atomic_load_n(&s->count[k][i].dropped, __ATOMIC_RELAXED);
		rte_pcapng_write_stats(s->pcapng, s->port_id[i],
				       dropped ? "frames dropped by the capture: its ring was full" :
						 NULL,
				       s->start_ns, s->end_ns, s->written_port[i], dropped);
	}
}

/* Write copies in[0..n) if the stream is still good; a failure makes it bad and says why
 * in why (len bytes).  Returns the stream's state: 1 good, 0 bad. */
static int write_or_fail(struct dp_cap_session *s, struct rte_mbuf **in, unsigned n, int ok,
			 char *why, size_t len)
{
	int rc;

	if (!ok) {
		rte_pktmbuf_free_bulk(in, n);
		return 0;
	}
	rc = write_batch(s, in, n);
	if (rc)
		snprintf(why, len, "write error: %s", strerror(-rc));
	return rc == 0;
}

void *dp_cap_writer_main(void *arg)
{
	struct dp_cap_session *s = arg;
	struct rte_mbuf *in[CAP_BURST];
	const char *end = NULL;
	char why[96] = "";
	int stream_ok = 1;
	unsigned n;

	pthread_setname_np(pthread_self(), "srd-capture");
	while (!end) {
		if (atomic_load(&s->stop)) {
			end = "stopped by request";
			break;
		}
		n = rte_ring_sc_dequeue_burst(s->ring, (void **)in, CAP_BURST, NULL);
		if (n == 0) {
			if (reader_done(s->fd, CAP_IDLE_POLL_MS))
				end = "stopped by the reader";
			continue;
		}
		stream_ok = write_or_fail(s, in, n, stream_ok, why, sizeof(why));
		if (!stream_ok)
			end = why;
		else if (s->req.count && atomic_load(&s->written) >= s->req.count)
			end = "count reached";
	}
	/* no new copies after this; those in the ring still go out (up to the count) */
	dp_cap_detach(s);
	while ((n = rte_ring_sc_dequeue_burst(s->ring, (void **)in, CAP_BURST, NULL)) > 0) {
		int was_ok = stream_ok;

		stream_ok = write_or_fail(s, in, n, stream_ok, why, sizeof(why));
		if (was_ok && !stream_ok)
			end = why;
	}
	s->end_ns = real_now_ns();
	if (stream_ok)
		write_stats(s);
	dp_cap_release(s);
	pthread_mutex_lock(&s->svc->lock);
	snprintf(s->end, sizeof(s->end), "%s", end);
	dp_cap_close_stream(s); /* the reader sees the end of the stream */
	atomic_store(&s->finished, 1);
	pthread_mutex_unlock(&s->svc->lock);
	return NULL;
}

int dp_cap_open_stream(struct dp_cap_session *s, char *err, size_t errlen)
{
	char comment[512], filter[48], os[160] = "";
	struct utsname u;
	size_t off;

	dp_capture_filter_str(&s->req, filter, sizeof(filter));
	off = (size_t)snprintf(comment, sizeof(comment), "srdd capture %u: snap length %u, "
			       "filter %s, ports", s->id, s->req.snaplen, filter);
	for (uint32_t i = 0; i < s->nports && off < sizeof(comment); i++) {
		const struct dp_port *p = &s->svc->ports->port[i];

		if (!(s->req.port_mask >> i & 1))
			continue;
		off += (size_t)snprintf(comment + off, sizeof(comment) - off,
					" %s (%u.%u.%u.%u) = DPDK port %u", p->cfg->name,
					p->cfg->ipv4 >> 24, p->cfg->ipv4 >> 16 & 255,
					p->cfg->ipv4 >> 8 & 255, p->cfg->ipv4 & 255, p->port_id);
	}
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	s->pcapng = rte_pcapng_fdopen(s->fd, os[0] ? os : NULL, NULL, "srdd (srd-dataplane)",
				      comment);
	if (!s->pcapng) {
		snprintf(err, errlen, "cannot write the pcapng header to %s: %s", s->req.sock,
			 rte_strerror(rte_errno));
		return -EIO;
	}
	return 0;
}
