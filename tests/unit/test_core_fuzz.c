/*
 * test_core_fuzz.c — the receive path of a real engine (srd_recv()) fed random and mutated
 * input, under live traffic.
 *
 * Requirement: whatever bytes srd_recv() is given, it takes the packet or drops it under
 * exactly one reason, never crashes, never reads or writes out of bounds, and never corrupts
 * or duplicates a message; once the bad input stops, every message accepted by srd_send()
 * completes exactly once and clean traffic is delivered intact.
 *
 * Seeded robustness runs: 200k random and mutated inputs each into engines with an
 * established connection and live traffic, every packet given from a heap copy of exactly
 * its length and every receive buffer allocated with exactly msg->len bytes, so that
 * AddressSanitizer catches a read or write past either.  Mutations start from templates
 * captured on the link (packets of the real connection), changed field by field near their
 * valid values or damaged byte by byte.  The harness is in harness_recv.h; the per-reason
 * tests of the same receive path are in test_badinput.c.
 *
 * Run one test: SRD_TEST_FILTER=test_fuzz_robustness_single ./test_core_fuzz
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

#include "harness_recv.h"
#include "link.h"
#include "srd_core.h"
#include "wire.h"

/* ---- robustness: 200k random and mutated inputs ---- */

#define FUZZ_INPUTS 200000u
#define FUZZ_SEED 0x5eed0badc0ffee11ull
#define TMPL_PER 16u
#define TMPL_CAP 512u
#define FZ_BUF 70000u

struct tmpl {
	uint32_t len;
	uint8_t b[TMPL_CAP];
};

struct fuzz {
	uint64_t rng;
	struct tmpl pool[2][6][TMPL_PER]; /* [from side][type][k] */
	uint32_t npool[2][6];
	uint32_t ids[4];      /* ids of the A-B connection when the pools were filled */
	uint64_t fed[2], taken[2];
	uint64_t by_reason[SRD_DROP_MAX];
	uint8_t buf[FZ_BUF];
};

static void fuzz_capture(struct env *v, int from, const struct srd_tx_meta *m,
			 const uint8_t *pkt, uint32_t len)
{
	struct fuzz *f = v->capture_arg;
	uint32_t t = m->type < 6 ? m->type : 0, k;

	if (len > TMPL_CAP)
		return;
	k = f->npool[from][t] < TMPL_PER ? f->npool[from][t]++ : (uint32_t)(xrand(&f->rng) % TMPL_PER);
	f->pool[from][t][k].len = len;
	memcpy(f->pool[from][t][k].b, pkt, len);
}

static uint32_t rnd(struct fuzz *f, uint32_t bound)
{
	return (uint32_t)(xrand(&f->rng) % bound);
}

static int32_t between(struct fuzz *f, int32_t lo, int32_t hi)
{
	return lo + (int32_t)rnd(f, (uint32_t)(hi - lo + 1));
}

/* Encode *p into f->buf with a payload of the right length (now and then a wrong one). */
static uint32_t fz_encode(struct fuzz *f, const struct srd_pkt *p)
{
	uint64_t want = 0, off = 0;
	int hlen = srd_wire_encode(p, f->buf, FZ_BUF);

	assert_true(hlen > 0);
	if (p->type == SRD_PKT_DATA && p->u.data.packed) {
		/* packed: its messages, small, now and then one whose length is off */
		uint32_t at = (uint32_t)hlen;

		for (uint32_t i = 0; i < p->u.data.packed; i++) {
			struct srd_pack_msg m = { .msg_id = rnd(f, 64), .len = rnd(f, 100),
						  .tag = p->u.data.tag + i, .imm = xrand(&f->rng) };
			uint32_t n = m.len;

			if (at + SRD_PACK_SUB_LEN + n > FZ_BUF)
				break;
			if (rnd(f, 64) == 0)
				m.len = (uint32_t)((int32_t)m.len + between(f, -2, 2));
			srd_wire_pack_put(f->buf + at, &m);
			at += SRD_PACK_SUB_LEN;
			for (uint32_t j = 0; j < n; j++)
				f->buf[at + j] = pattern(m.tag, j);
			at += n;
		}
		return at;
	}
	if (p->type == SRD_PKT_DATA) {
		const struct srd_data_fields *d = &p->u.data;

		off = (uint64_t)(p->psn - d->msg_psn) * d->seg_size;
		if (off < d->msg_len) {
			want = d->msg_len - off;
			if (want > d->seg_size)
				want = d->seg_size;
		}
		if (rnd(f, 64) == 0)
			want = (want + (uint64_t)between(f, -2, 2)) & 0xfff;
	}
	if ((uint64_t)hlen + want > FZ_BUF)
		want = FZ_BUF - (uint64_t)hlen;
	for (uint64_t i = 0; i < want; i++)
		f->buf[hlen + i] = rnd(f, 8) ? pattern(p->u.data.tag, (uint32_t)(off + i))
					     : (uint8_t)rnd(f, 256);
	return (uint32_t)(hlen + want);
}

/* A plausible change to a decoded packet: fields near their valid values, so the packet
 * often passes the codec and the id checks and reaches the connection code. */
static void fz_struct(struct fuzz *f, struct env *v, int target, struct srd_pkt *p)
{
	if (rnd(f, 8) == 0) {
		/* change the type, keep the ids and the PSN */
		static const uint8_t types[] = { SRD_PKT_DATA, SRD_PKT_ACK, SRD_PKT_NACK,
						 SRD_PKT_PROBE, SRD_PKT_PROBE, SRD_PKT_RESET };
		uint8_t t = types[rnd(f, rnd(f, 40) ? 5 : 6)]; /* RESET rarely: it kills the connection */

		if (t != p->type) {
			uint32_t psn = p->psn;

			memset(&p->u, 0, sizeof(p->u));
			p->type = t;
			p->flags &= SRD_F_SYN;
			if (t == SRD_PKT_DATA) {
				p->u.data = (struct srd_data_fields){ .msg_id = rnd(f, 64), .msg_len = rnd(f, 200),
								      .msg_psn = psn, .seg_size = 64, .tag = rnd(f, 4) };
			} else if (t == SRD_PKT_ACK) {
				p->u.ack = (struct srd_ack_fields){ .acked_psn = psn - 1, .sack_base = psn + 1,
								    .credit = 64, .pkt_count = 1,
								    .max_msg = 1u << 24 };
			} else if (t == SRD_PKT_NACK) {
				p->u.nack = (struct srd_nack_fields){ .cum_psn = psn, .reason = (uint8_t)(1 + rnd(f, 2)),
								      .retry_ns = rnd(f, 100000) };
			} else if (t == SRD_PKT_PROBE) {
				p->flags = (uint8_t)(p->flags | (rnd(f, 2) ? SRD_F_REPLY : 0));
			} else {
				p->flags = 0;
				p->u.reset.reason = 1 + rnd(f, 2);
			}
		}
	}
	switch (p->type) {
	case SRD_PKT_DATA: {
		struct srd_data_fields *d = &p->u.data;
		uint32_t cnt, k;

		switch (rnd(f, 10)) {
		case 0: /* another PSN of the same message layout */
		{
			int32_t dl = between(f, -4, 70);
			p->psn += (uint32_t)dl;
			d->msg_psn += (uint32_t)dl;
			break;
		}
		case 1: /* a new message */
			d->msg_id = rnd(f, 4) ? d->msg_id + (uint32_t)between(f, -2, 3) : (uint32_t)xrand(&f->rng);
			d->msg_len = rnd(f, 8) ? rnd(f, 2200) : (uint32_t)xrand(&f->rng);
			d->seg_size = (uint16_t)(rnd(f, 4) ? v->cfg[SIDE_A].seg_size : 1 + rnd(f, 300));
			if (d->msg_len == 0)
				d->seg_size = (uint16_t)(rnd(f, 2) ? 0 : d->seg_size);
			cnt = srd_wire_seg_count(d->msg_len, d->seg_size);
			k = rnd(f, cnt < 80 ? cnt : 80);
			p->psn += (uint32_t)between(f, -2, 40);
			d->msg_psn = p->psn - k;
			break;
		case 2: /* another segment of the same message */
			cnt = srd_wire_seg_count(d->msg_len, d->seg_size);
			p->psn = d->msg_psn + rnd(f, cnt < 100 ? cnt : 100);
			break;
		case 3:
			d->tag ^= 1ull << rnd(f, 64);
			break;
		case 4:
			d->msg_len += (uint32_t)between(f, -70, 70);
			break;
		case 5:
			d->seg_size = (uint16_t)(d->seg_size + between(f, -3, 3));
			break;
		case 6: /* connection set-up games */
			if (rnd(f, 2)) {
				p->flags |= SRD_F_SYN;
				if (rnd(f, 2))
					p->dst_conn = 0;
			}
			if (rnd(f, 4) == 0)
				p->src_conn ^= 1u << rnd(f, 32);
			break;
		case 7:
			d->src_ep = (uint16_t)(d->src_ep + rnd(f, 2));
			d->dst_ep = (uint16_t)(d->dst_ep + rnd(f, 2));
			break;
		case 8: /* packed, or no longer */
			d->packed = (uint8_t)(rnd(f, 3) ? 0 : 2 + rnd(f, 8));
			d->msg_psn = p->psn;
			break;
		default:
			p->flags = (uint8_t)(rnd(f, 32) & (SRD_F_SYN | SRD_F_RETX | SRD_F_ACKREQ));
			break;
		}
		d->imm = xrand(&f->rng);
		d->tx_ts = (uint32_t)xrand(&f->rng);
		break;
	}
	case SRD_PKT_ACK: {
		struct srd_ack_fields *a = &p->u.ack;

		switch (rnd(f, 7)) {
		case 0:
			p->psn += (uint32_t)between(f, -10, 10);
			break;
		case 1:
			a->acked_psn += (uint32_t)between(f, -10, 10);
			break;
		case 2:
			a->sack_base = p->psn + (uint32_t)between(f, -70, 70);
			a->sack = xrand(&f->rng) & xrand(&f->rng);
			break;
		case 3:
			a->credit = (uint16_t)(rnd(f, 4) ? 1 + rnd(f, 1024) : xrand(&f->rng) | 1);
			/* and the grant: none, a share, or anything */
			a->grant = (uint16_t)(rnd(f, 2) ? 0 : rnd(f, 2) ? 1 + rnd(f, 64) : xrand(&f->rng));
			break;
		case 4:
			a->echo_ts = (uint32_t)xrand(&f->rng);
			a->ack_delay_ns = rnd(f, 2) ? rnd(f, 100000) : (uint32_t)xrand(&f->rng);
			break;
		case 5:
			a->pkt_count = (uint16_t)rnd(f, 100);
			a->ce_count = (uint16_t)rnd(f, (uint32_t)a->pkt_count + 1);
			p->flags ^= SRD_F_ECE;
			break;
		default:
			a->sack_base += 0x80000000u + (uint32_t)between(f, -64, 64);
			a->sack = xrand(&f->rng);
			break;
		}
		p->path = (uint8_t)(rnd(f, 4) ? p->path : rnd(f, 256));
		break;
	}
	case SRD_PKT_NACK:
		p->psn += (uint32_t)between(f, -10, 10);
		p->u.nack.reason = (uint8_t)(1 + rnd(f, 2));
		p->u.nack.retry_ns = rnd(f, 8) ? rnd(f, 200000) : (uint32_t)xrand(&f->rng);
		break;
	case SRD_PKT_PROBE: {
		struct srd_path_info pi[SRD_MAX_PATHS];
		struct srd_conn_info ci;
		int np = srd_conn_info(v->e[target], (uint64_t)(1 - target), &ci, pi, SRD_MAX_PATHS);
		uint32_t path = rnd(f, 20);

		if (rnd(f, 2))
			p->flags ^= SRD_F_REPLY;
		if (np > 0 && rnd(f, 2)) {
			/* a reply that matches a path: preferably one that waits for its probe */
			path = rnd(f, (uint32_t)np);
			for (int q = 0; q < np; q++)
				if (pi[q].state == SRD_PATH_PROBING)
					path = (uint32_t)q;
			p->u.probe.cookie = path << 16 | pi[path].entropy;
			p->flags |= SRD_F_REPLY;
		} else {
			p->u.probe.cookie = path << 16 | rnd(f, 65536);
		}
		p->u.probe.tx_ts = (uint32_t)v->l->now - rnd(f, 100000);
		break;
	}
	default:
		p->u.reset.reason = 1 + rnd(f, 2);
		break;
	}
}

/* Raw damage to len bytes of f->buf.  Returns the new length. */
static uint32_t fz_raw(struct fuzz *f, uint32_t len)
{
	switch (rnd(f, 7)) {
	case 0: /* one byte */
		if (len)
			f->buf[rnd(f, len)] = (uint8_t)rnd(f, 256);
		break;
	case 1: /* a few bytes */
		for (uint32_t n = 2 + rnd(f, 7); n && len; n--)
			f->buf[rnd(f, len)] = (uint8_t)rnd(f, 256);
		break;
	case 2: /* one bit, in the header mostly */
		if (len) {
			uint32_t at = rnd(f, len < 56 ? len : (rnd(f, 4) ? 56 : len));
			f->buf[at] ^= (uint8_t)(1u << rnd(f, 8));
		}
		break;
	case 3: /* truncate */
		len = len ? rnd(f, len) : 0;
		break;
	case 4: /* extend */
		for (uint32_t n = 1 + rnd(f, 16); n && len < FZ_BUF; n--)
			f->buf[len++] = (uint8_t)rnd(f, 256);
		break;
	case 5: /* cut one byte */
		if (len)
			len--;
		break;
	default: /* a 32-bit field set to something near or far */
		if (len >= 4) {
			uint32_t at = 4 * rnd(f, len / 4 < 14 ? len / 4 : 14);
			wr32(f->buf + at, rnd(f, 2) ? (uint32_t)xrand(&f->rng) : rnd(f, 3));
		}
		break;
	}
	return len;
}

/* The host's buffers agree with the engine's reassembly slots. */
static void fz_check_hosts(struct env *v)
{
	for (int s = 0; s < 2; s++) {
		struct srd_stats st = stats(v, s);
		const struct host *h = &v->h[s];

		assert_int_equal(h->live, st.rx_slots_used);
		assert_int_equal(h->allocs + h->empty_nobuf, h->delivered + h->aborted + h->live);
		assert_int_equal(st.msgs_delivered, h->delivered);
		assert_int_equal(st.msgs_aborted, h->aborted);
		assert_int_equal(st.msgs_completed + st.msgs_failed, h->tx_done);
		assert_int_equal(st.msgs_accepted, h->ntx);
		assert_true(st.rx_slots_used <= v->cfg[s].rx_slots);
	}
}

static void tweak_fuzz(struct srd_config *a, struct srd_config *b)
{
	struct srd_config *c[2] = { a, b };

	for (int s = 0; s < 2; s++) {
		c[s]->seg_size = 64;
		c[s]->max_msg_size = 2048;
		c[s]->tx_window = 64;
		c[s]->rx_window = 64;
		c[s]->max_tx_msgs = 16;
		c[s]->rx_slots = 32;
		c[s]->paths = 8;
		c[s]->max_conns = 4;
		c[s]->max_retries = 6;
		c[s]->max_rnr_retries = 8;
	}
}

#define LEGIT_TAG 0x4c45474900000000ull /* "LEGI" */

static void tweak_fuzz_single(struct srd_config *a, struct srd_config *b)
{
	struct srd_config *c[2] = { a, b };

	tweak_fuzz(a, b);
	for (int s = 0; s < 2; s++) {
		c[s]->mode = SRD_MODE_SINGLE;
		c[s]->cc.algo = SRD_CC_DCTCP;
		c[s]->seg_size = 100;
		c[s]->tx_window = 32;
		c[s]->rx_window = 128;
		c[s]->rx_slots = 8;
		c[s]->ack_every = 1;
		c[s]->cc.pacing_gain_pct = 200;
	}
}

static void fuzz_run(tweak_fn tweak, uint64_t seed)
{
	struct env *v = env_new(tweak);
	struct fuzz *f = calloc(1, sizeof(*f));
	uint64_t legit = 0;

	assert_non_null(f);
	g_free = f;
	f->rng = seed;
	v->capture = fuzz_capture;
	v->capture_arg = f;
	v->loss_permille = 10; /* some loss: retransmissions, failed paths, probes */
	v->loss_rng = seed ^ 1;
	for (int s = 0; s < 2; s++)
		v->h[s].keep = 0;

	for (uint32_t it = 0; it < FUZZ_INPUTS; it++) {
		if (it % 32 == 0) {
			uint64_t t0 = v->l->now;
			struct srd_conn_info ci[2];
			uint32_t ids[4] = { 0 };

			/* legit traffic both ways keeps packets in flight and templates fresh */
			for (int s = 0; s < 2; s++) {
				if (rnd(f, 2) && v->h[s].ntx < HOST_MAX_TX - 1000)
					(void)send_msg(v, s, rnd(f, 4) ? rnd(f, 300) : rnd(f, 2049),
						       LEGIT_TAG | legit++);
				v->h[s].fail_alloc = rnd(f, 24) == 0; /* now and then no buffers */
			}
			for (int k = 0; k < 256 && v->l->now < t0 + 5000; k++)
				if (!link_step(v->l))
					break;
			/* a connection was reset: templates with the old ids only meet the
			 * stale-id check; start collecting afresh */
			for (int s = 0; s < 2; s++)
				if (srd_conn_info(v->e[s], (uint64_t)(1 - s), &ci[s], NULL, 0) > 0) {
					ids[2 * s] = ci[s].local_id;
					ids[2 * s + 1] = ci[s].peer_id;
				}
			if (memcmp(ids, f->ids, sizeof(ids))) {
				memcpy(f->ids, ids, sizeof(ids));
				memset(f->npool, 0, sizeof(f->npool));
			}
			if (it % 1024 == 0)
				fz_check_hosts(v);
		}

		uint32_t len = 0;
		int target = rnd(f, 2), from = 1 - target;
		uint64_t peer = (uint64_t)from;
		uint32_t kind = rnd(f, 100);
		static const uint8_t want_type[] = { SRD_PKT_DATA, SRD_PKT_DATA, SRD_PKT_DATA,
						     SRD_PKT_ACK, SRD_PKT_ACK, SRD_PKT_NACK,
						     SRD_PKT_PROBE };
		uint8_t t = want_type[rnd(f, sizeof(want_type))];

		if (kind < 4 || f->npool[from][t] == 0) {
			/* random bytes, 0..200 */
			len = rnd(f, 201);
			for (uint32_t i = 0; i < len; i++)
				f->buf[i] = (uint8_t)rnd(f, 256);
			if (len && rnd(f, 2))
				f->buf[0] = (uint8_t)(SRD_WIRE_VERSION << 4 | (1 + rnd(f, 5)));
		} else {
			const struct tmpl *tp = &f->pool[from][t][rnd(f, f->npool[from][t])];
			struct srd_pkt pk;

			memcpy(f->buf, tp->b, tp->len);
			len = tp->len;
			if (kind < 70 && srd_wire_decode(tp->b, tp->len, &pk) == 0) {
				fz_struct(f, v, target, &pk);
				len = fz_encode(f, &pk);
				if (rnd(f, 4) == 0)
					len = fz_raw(f, len);
			} else if (kind < 95) {
				len = fz_raw(f, len);
				if (rnd(f, 3) == 0)
					len = fz_raw(f, len);
			} /* else: a replay as is */
		}
		if (rnd(f, 20) == 0)
			target = 1 - target; /* the wrong way */
		if (rnd(f, 25) == 0)
			peer = rnd(f, 8); /* from someone else */

		/* A credit of 0 stalls the sender for good (test_ack_zero_credit shows it): kept
		 * out here so that the liveness check after the run tests everything else. */
		if (len >= SRD_HDR_ACK_LEN && f->buf[0] == (SRD_WIRE_VERSION << 4 | SRD_PKT_ACK) &&
		    !(f->buf[30] | f->buf[31]))
			f->buf[31] = 1; /* the credit: bytes 30-31 (28-29 are the grant) */

		/* feed it from a heap copy of exactly len bytes: a read past it is an ASan report */
		uint8_t *in = malloc(len ? len : 1);
		struct srd_stats b, a;
		int rc;

		assert_non_null(in);
		memcpy(in, f->buf, len);
		srd_get_stats(v->e[target], &b);
		rc = srd_recv(v->e[target], v->l->now, peer, in, len, rnd(f, 8) == 0);
		srd_get_stats(v->e[target], &a);
		free(in);

		/* taken, or dropped under exactly one reason */
		assert_true(rc <= 0 && rc > -(int)SRD_DROP_MAX);
		assert_int_equal(a.rx_pkts, b.rx_pkts + 1);
		assert_int_equal(a.drops[SRD_DROP_NONE], 0);
		for (int r = 1; r < SRD_DROP_MAX; r++)
			assert_int_equal(a.drops[r], b.drops[r] + (rc == -r ? 1 : 0));
		f->fed[target]++;
		if (rc == 0)
			f->taken[target]++;
		else
			f->by_reason[-rc]++;
	}
	fz_check_hosts(v);

	/* packets fed == taken + dropped, per engine (fuzz inputs; the link's own as well) */
	uint64_t total_fed = f->fed[0] + f->fed[1], total_drops = 0;
	for (int r = 1; r < SRD_DROP_MAX; r++)
		total_drops += f->by_reason[r];
	assert_int_equal(total_fed, FUZZ_INPUTS);
	assert_int_equal(f->taken[0] + f->taken[1] + total_drops, total_fed);
	printf("[   INFO   ] fuzz: %u inputs, %llu taken; drops by reason:",
	       FUZZ_INPUTS, (unsigned long long)(f->taken[0] + f->taken[1]));
	for (int r = 1; r < SRD_DROP_MAX; r++)
		printf(" %s=%llu", srd_drop_reason_name(r), (unsigned long long)f->by_reason[r]);
	printf("\n");
	/* the mutations reach deep: most reasons are hit */
	int hit = 0;
	for (int r = 1; r < SRD_DROP_MAX; r++)
		hit += f->by_reason[r] > 0;
	assert_true(hit >= SRD_DROP_MAX - 3);

	/* stop fuzzing: every message accepted by srd_send() completes, exactly once */
	v->capture = NULL;
	v->loss_permille = 0;
	v->h[0].fail_alloc = v->h[1].fail_alloc = 0;
	{
		uint64_t lim = v->l->now + 60ull * 1000000000ull;

		while ((v->h[0].tx_done < v->h[0].ntx || v->h[1].tx_done < v->h[1].ntx) &&
		       v->l->now < lim && link_step(v->l))
			;
		if (v->h[0].tx_done < v->h[0].ntx || v->h[1].tx_done < v->h[1].ntx)
			fail_msg("after fuzzing, messages never complete: A %llu of %u, B %llu of %u",
				 (unsigned long long)v->h[0].tx_done, v->h[0].ntx,
				 (unsigned long long)v->h[1].tx_done, v->h[1].ntx);
	}
	settle(v);
	fz_check_hosts(v);
	printf("[   INFO   ] fuzz: legit messages A %llu/%u ok, B %llu/%u ok; delivered A %llu B %llu, "
	       "aborted A %llu B %llu; conns reset A %llu B %llu\n",
	       (unsigned long long)v->h[0].tx_ok, v->h[0].ntx, (unsigned long long)v->h[1].tx_ok,
	       v->h[1].ntx, (unsigned long long)v->h[0].delivered,
	       (unsigned long long)v->h[1].delivered, (unsigned long long)v->h[0].aborted,
	       (unsigned long long)v->h[1].aborted, (unsigned long long)stats(v, 0).conns_reset,
	       (unsigned long long)stats(v, 1).conns_reset);

	for (int s = 0; s < 2; s++) {
		uint32_t hist[8] = { 0 };

		for (uint32_t k = 0; k < v->h[s].ntx; k++) {
			int x = -v->h[s].tx_status[k];

			hist[x == 0 ? 0 : x == ECONNRESET ? 1 : x == ETIMEDOUT ? 2 : x == EMSGSIZE ? 3
			     : x == ENOBUFS ? 4 : x == ECONNREFUSED ? 5 : x == ENXIO ? 6 : 7]++;
		}
		assert_int_equal(hist[7], 0); /* no status beyond the documented ones */
		printf("[   INFO   ] fuzz: %s sent %u: ok %u, econnreset %u, etimedout %u, emsgsize %u, "
		       "enobufs %u, econnrefused %u, enxio %u\n", s ? "B" : "A", v->h[s].ntx, hist[0],
		       hist[1], hist[2], hist[3], hist[4], hist[5], hist[6]);
	}

	/* and clean traffic afterwards is delivered intact: once the PSNs the fuzzer may have
	 * taken ahead of the sender (at most a receive window) are passed, every message */
	for (int s = 0; s < 2; s++)
		v->h[s].keep = 1;
	for (uint32_t k = 0; k < 2 * v->cfg[0].rx_window + 20; k++) {
		for (int s = 0; s < 2; s++) {
			uint64_t tag = LEGIT_TAG | 0x80000000ull | (uint64_t)k << 1 | (uint64_t)s;
			uint32_t len = 1 + (k * 37) % 64; /* one segment each */
			uint64_t d0 = v->h[1 - s].delivered;
			int i = send_msg(v, s, len, tag);

			assert_true(i >= 0);
			RUN_UNTIL(v, v->h[s].tx_calls[i]);
			settle(v);
			if (k >= 2 * v->cfg[0].rx_window) {
				assert_int_equal(v->h[s].tx_status[i], 0);
				assert_int_equal(v->h[1 - s].delivered, d0 + 1);
				check_last_delivery(v, 1 - s, len, tag);
			}
		}
	}
	fz_check_hosts(v);
	g_free = NULL;
	free(f);
	env_free(v);
}

/* Multipath, Swift, 64-byte segments. */
static void test_fuzz_robustness(void **state)
{
	(void)state;
	fuzz_run(tweak_fuzz, FUZZ_SEED);
}

/* Single path, DCTCP with pacing, other window sizes. */
static void test_fuzz_robustness_single(void **state)
{
	(void)state;
	fuzz_run(tweak_fuzz_single, FUZZ_SEED ^ 0x9e3779b97f4a7c15ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fuzz_robustness, teardown_env),
		cmocka_unit_test_teardown(test_fuzz_robustness_single, teardown_env),
	};

	if (getenv("SRD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SRD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
