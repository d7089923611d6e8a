/*
 * test_credit.c — receiver-driven credit (lib/core/credit.c), with time moved by hand: how a
 * receiver counts the connections sending to it, the share each ack grants, and how a
 * sender's window and pacing follow the grant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h"
#include "wire.h"

#define US 1000ull
#define NCONN 130
#define RTT (14 * US)               /* the fabric's base RTT (cc.base_rtt_ns) */
#define BUDGET (256u * 1024u)        /* rx_credit_bytes */
#define EPOCH (4 * RTT)              /* the shortest epoch: four base RTTs */

static struct srd_engine eng;
static struct srd_conn conns[NCONN];
static uint32_t rest[NCONN]; /* bytes of each sender's message from its next packet on */

static int setup(void **state)
{
	(void)state;
	memset(&eng, 0, sizeof(eng));
	memset(conns, 0, sizeof(conns));
	srd_config_default(&eng.cfg);
	eng.cfg.cc.base_rtt_ns = RTT;
	eng.cfg.rx_credit_bytes = BUDGET;
	eng.seg_size = eng.cfg.seg_size;
	for (uint32_t i = 0; i < NCONN; i++) {
		conns[i].rx_head = 0; /* a message under reassembly: mid-transfer */
		conns[i].cc.cwnd = 64 * SRD_CWND_ONE;
		rest[i] = 64 * 1024; /* within the budget: every sender weighs the same */
	}
	return 0;
}

/* Connections [first, first + n) each send a packet at time now: segment 10 of a message
 * of which rest[i] bytes are left from that segment on. */
static void send_from(uint32_t first, uint32_t n, uint64_t now)
{
	for (uint32_t i = first; i < first + n; i++) {
		struct srd_pkt pkt = { .type = SRD_PKT_DATA, .psn = 1010 };

		pkt.u.data.msg_psn = 1000;
		pkt.u.data.seg_size = 4096;
		pkt.u.data.msg_len = 10 * 4096 + rest[i];
		credit_on_data(&eng, &conns[i], now, &pkt);
		credit_after_data(&eng, &conns[i]);
	}
}

/* The grant (units) of a budget shared among n senders: none for one. */
static uint16_t share(uint64_t budget, uint32_t n)
{
	return n <= 1 ? 0 : (uint16_t)(budget / n / SRD_GRANT_UNIT);
}

/* One sender is never limited: permutations and two-host runs behave as without credit. */
static void test_one_sender_no_grant(void **state)
{
	(void)state;
	for (uint64_t t = 1; t < 40 * EPOCH; t += RTT) {
		send_from(0, 1, t);
		assert_int_equal(credit_grant(&eng, &conns[0]), 0);
	}
}

/* N senders each get budget / N. */
static void test_equal_shares(void **state)
{
	(void)state;
	send_from(0, 2, 1);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 2));
	send_from(2, 14, 2);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 16));
	/* a sender counts once per epoch, however many packets it sends */
	for (int k = 0; k < 5; k++)
		send_from(0, 16, 3 + (uint64_t)k);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 16));
	/* 128 senders: 2 KiB each, half a 4 KiB packet */
	send_from(16, 112, 10);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 128));
}

/* The grant never reaches 0 (which means "no limit") and saturates at the field's top. */
static void test_grant_bounds(void **state)
{
	(void)state;
	eng.cfg.rx_credit_bytes = 1000; /* 7 bytes each among 130: below one unit */
	send_from(0, NCONN, 1);
	assert_int_equal(credit_grant(&eng, &conns[0]), 1);
	eng.cfg.rx_credit_bytes = 1ull << 40;
	assert_int_equal(credit_grant(&eng, &conns[0]), SRD_GRANT_MAX);
}

/* 0: one and a half times the initial window's bytes. */
static void test_default_budget(void **state)
{
	(void)state;
	eng.cfg.rx_credit_bytes = 0;
	send_from(0, 2, 1);
	assert_int_equal(credit_grant(&eng, &conns[0]),
			 share((uint64_t)eng.cfg.cc.init_cwnd / SRD_CWND_ONE * eng.cfg.seg_size * 3 / 2,
			       2));
}

/* A sender whose message is complete (nothing under reassembly) leaves the count at once,
 * from this epoch and the one before; its next packet counts it again. */
static void test_finished_sender_leaves(void **state)
{
	(void)state;
	send_from(0, 4, 1);
	send_from(0, 4, 1 + EPOCH + 1); /* a new epoch: counted in both */
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 4));
	for (uint32_t i = 1; i < 4; i++) {
		conns[i].rx_head = SRD_NIL32; /* its last packet completed its message */
		send_from(i, 1, 2 + EPOCH + i);
		assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 4 - i));
	}
	conns[3].rx_head = 0; /* a new message */
	send_from(3, 1, 3 + EPOCH + 4);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 2));
	/* leaving twice changes nothing */
	conns[3].rx_head = SRD_NIL32;
	credit_after_data(&eng, &conns[3]);
	credit_after_data(&eng, &conns[3]);
	assert_int_equal(credit_grant(&eng, &conns[0]), 0);
}

/* A sender seen in the previous epoch still counts; one silent for two epochs does not,
 * nor do all after a whole epoch in which nobody sent. */
static void test_epochs(void **state)
{
	uint64_t t = 1;

	(void)state;
	send_from(0, 8, t);
	t += EPOCH; /* epoch 2: only 0 and 1 send */
	send_from(0, 2, t);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 8));
	t += EPOCH; /* epoch 3: 2..7 last sent two epochs ago */
	send_from(0, 2, t);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 2));
	t += 3 * EPOCH; /* a silent epoch in between: the previous count is gone */
	send_from(0, 1, t);
	assert_int_equal(credit_grant(&eng, &conns[0]), 0);
	/* one that sent before the gap and leaves now takes nothing off the newcomers */
	send_from(4, 2, t + 1);
	conns[1].rx_head = SRD_NIL32;
	credit_after_data(&eng, &conns[1]);
	assert_int_equal(credit_grant(&eng, &conns[0]), share(BUDGET, 3));
}

/* When the shares are below a packet, an epoch lasts two packet gaps of a sender paced at
 * its share, so that every one of them is seen in every epoch, however their sends are
 * spread (with four-RTT epochs, shorter than a gap, each epoch would miss some). */
static void test_epoch_stretches(void **state)
{
	const uint64_t budget = BUDGET / 2;
	uint64_t gap, t = 1;

	(void)state;
	eng.cfg.rx_credit_bytes = budget;
	send_from(0, NCONN, t); /* 130 senders: a quarter of a packet each */
	t += EPOCH;
	send_from(0, NCONN, t); /* the next epoch knows the count */
	gap = RTT * eng.cfg.seg_size / (budget / NCONN);
	assert_true(gap > EPOCH);
	assert_true(eng.credit_epoch_len_ns >= 2 * gap - RTT / 10);
	/* paced at the share, each sends once per gap, spread evenly over it */
	for (uint64_t k = 1; k <= 6; k++)
		for (uint32_t i = 0; i < NCONN; i++) {
			send_from(i, 1, t + k * gap + i * gap / NCONN);
			assert_int_equal(credit_grant(&eng, &conns[0]), share(budget, NCONN));
		}
}

/* A sender whose message has more left than the budget gets a share in inverse proportion
 * to what is left (never below 1/64 of a full one), the shortest rest the largest: the
 * receiver serves the message nearest its end first, softly. */
static void test_shortest_rest_larger_share(void **state)
{
	uint64_t t = 1;

	(void)state;
	rest[0] = 4 * BUDGET; /* weighs a quarter: 63 of 255 */
	send_from(0, 2, t);
	assert_int_equal(credit_grant(&eng, &conns[0]), BUDGET * 63 / 318 / SRD_GRANT_UNIT);
	assert_int_equal(credit_grant(&eng, &conns[1]), BUDGET * 255 / 318 / SRD_GRANT_UNIT);
	/* its rest falls as it sends: its weight follows within the epoch */
	rest[0] = 2 * BUDGET;
	send_from(0, 1, t + 1);
	assert_int_equal(credit_grant(&eng, &conns[0]), BUDGET * 127 / 382 / SRD_GRANT_UNIT);
	assert_int_equal(credit_grant(&eng, &conns[1]), BUDGET * 255 / 382 / SRD_GRANT_UNIT);
	/* a huge message weighs about 1/64 of a full one (4 of 255), not less */
	rest[0] = 1000 * BUDGET;
	send_from(0, 1, t + 2);
	assert_int_equal(credit_grant(&eng, &conns[0]), BUDGET * 4 / 259 / SRD_GRANT_UNIT);
	assert_int_equal(credit_grant(&eng, &conns[1]), BUDGET * 255 / 259 / SRD_GRANT_UNIT);
	/* the next epoch: the weights carried over, and the short one leaving leaves the
	 * long one the whole budget (no grant: it is the only sender) */
	t += EPOCH;
	send_from(0, 2, t);
	assert_int_equal(credit_grant(&eng, &conns[0]), BUDGET * 4 / 259 / SRD_GRANT_UNIT);
	conns[1].rx_head = SRD_NIL32;
	send_from(1, 1, t + 1);
	assert_int_equal(credit_grant(&eng, &conns[0]), 0);
	assert_int_equal(eng.credit_weight, 4);
	assert_int_equal(eng.credit_weight_prev, 4);
}

/* The sender: no grant, or one above the congestion window, leaves the controller's pacing
 * alone; a smaller one paces at one packet per srtt / grant window. */
static void test_sender_follows_grant(void **state)
{
	struct srd_conn *c = &conns[0];

	(void)state;
	c->srtt_ns = 20 * US;
	c->cc.cwnd = 10 * SRD_CWND_ONE + 128; /* 10.5 packets */
	c->peer_grant = 0;
	assert_int_equal(credit_pacing_gap_ns(&eng, c),
			 srd_cc_pacing_gap_ns(&c->cc, &eng.cfg.cc, c->srtt_ns));
	c->peer_grant = 64 * 4096 / SRD_GRANT_UNIT; /* 64 packets: above the window */
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 0);
	c->peer_grant = (4096 * 5 / 2) / SRD_GRANT_UNIT; /* 2.5 packets */
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 8 * US); /* 20 us / 2.5 */
	c->peer_grant = 2048 / SRD_GRANT_UNIT; /* half a packet: one every two srtt */
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 40 * US);
	c->peer_grant = 1; /* the smallest grant: 1/16 packet */
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 320 * US);
	/* a window below one packet, no grant: the controller's pacing */
	c->peer_grant = 0;
	c->cc.cwnd = SRD_CWND_ONE / 4;
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 80 * US);
	/* below the grant: the controller's */
	c->peer_grant = 2048 / SRD_GRANT_UNIT;
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 80 * US);
	/* no RTT sample yet: nothing to pace by */
	c->srtt_ns = 0;
	assert_int_equal(credit_pacing_gap_ns(&eng, c), 0);
}

/* On the wire the grant is the credit word's high half: an ACK from a receiver without it
 * (credit = rx_window, a 32-bit word below 2^16) reads as no grant. */
static void test_wire_grant(void **state)
{
	struct srd_pkt in = { .type = SRD_PKT_ACK, .dst_conn = 1, .src_conn = 2, .psn = 7 }, out;
	uint8_t buf[SRD_HDR_ACK_MAX_LEN];
	int len;

	(void)state;
	in.u.ack = (struct srd_ack_fields){ .acked_psn = 6, .sack_base = 8, .grant = 0x1234,
					    .credit = 512, .max_msg = 1 };
	len = srd_wire_encode(&in, buf, sizeof(buf));
	assert_int_equal(len, SRD_HDR_ACK_LEN);
	assert_int_equal(buf[28], 0x12);
	assert_int_equal(buf[29], 0x34);
	assert_int_equal(buf[30], 0x02);
	assert_int_equal(buf[31], 0x00);
	assert_int_equal(srd_wire_decode(buf, (uint32_t)len, &out), 0);
	assert_int_equal(out.u.ack.grant, 0x1234);
	assert_int_equal(out.u.ack.credit, 512);
	buf[28] = buf[29] = 0; /* an older receiver's ACK */
	assert_int_equal(srd_wire_decode(buf, (uint32_t)len, &out), 0);
	assert_int_equal(out.u.ack.grant, 0);
	assert_int_equal(out.u.ack.credit, 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_one_sender_no_grant, setup),
		cmocka_unit_test_setup(test_equal_shares, setup),
		cmocka_unit_test_setup(test_grant_bounds, setup),
		cmocka_unit_test_setup(test_default_budget, setup),
		cmocka_unit_test_setup(test_finished_sender_leaves, setup),
		cmocka_unit_test_setup(test_epochs, setup),
		cmocka_unit_test_setup(test_epoch_stretches, setup),
		cmocka_unit_test_setup(test_shortest_rest_larger_share, setup),
		cmocka_unit_test_setup(test_sender_follows_grant, setup),
		cmocka_unit_test_setup(test_wire_grant, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
