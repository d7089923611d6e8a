/*
 * config.c — engine configuration: defaults, validation, state size.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "conn.h"

void srd_config_default(struct srd_config *cfg)
{
	*cfg = (struct srd_config){
		.epoch = 1,
		.seed = 1,
		.max_conns = 256,
		.setup_cookie_pct = 75,
		.mode = SRD_MODE_MULTIPATH,
		.paths = 16,
		.seg_size = 4096,
		.tx_window = 512,
		.rx_window = 512,
		.max_tx_msgs = 512,
		.pack_msgs = 16,
		.rx_slots = 1024,
		.max_msg_size = 16u << 20,
		.min_rto_ns = 100000,
		.max_rto_ns = 10000000,
		.min_tlp_ns = 0,
		.init_rtt_ns = 20000,
		.max_retries = 40,
		.max_rnr_retries = 64,
		.rnr_delay_ns = 50000,
		.ack_delay_ns = 2000,
		.ack_every = 2,
		.reorder_pct = 25,
		.path_fail_losses = 2,
		.conn_idle_ns = 0,
		.cc = {
			.algo = SRD_CC_SWIFT,
			.init_cwnd = 32 * SRD_CWND_ONE,
			.min_cwnd = SRD_CWND_ONE / 16,
			.max_cwnd = 512 * SRD_CWND_ONE,
			.ai = SRD_CWND_ONE,
			.target_delay_ns = 10000,
			.base_rtt_ns = 0,
			.beta_pct = 80,
			.max_mdf_pct = 50,
			.dctcp_g_shift = 4,
			.pacing_gain_pct = 0,
		},
	};
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Is v within [lo, hi]?  If not, say so naming the field. */
static int check_range(const char *field, uint64_t v, uint64_t lo, uint64_t hi, char *err,
		       size_t errlen)
{
	if (v >= lo && v <= hi)
		return 0;
	return fail(err, errlen, "%s: %llu is out of range [%llu, %llu]", field,
		    (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
}

static int check_pow2(const char *field, uint32_t v, char *err, size_t errlen)
{
	return is_pow2(v) ? 0 : fail(err, errlen, "%s: %u is not a power of two", field, v);
}

/* Return from the enclosing function if a check fails. */
#define CHECK_RANGE(field, lo, hi)                                                       \
	do {                                                                             \
		int rc_ = check_range(#field, cfg->field, lo, hi, err, errlen);          \
		if (rc_)                                                                 \
			return rc_;                                                      \
	} while (0)
#define CHECK_POW2(field)                                                                \
	do {                                                                             \
		int rc_ = check_pow2(#field, cfg->field, err, errlen);                   \
		if (rc_)                                                                 \
			return rc_;                                                      \
	} while (0)

int srd_config_check(const struct srd_config *cfg, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	CHECK_RANGE(max_conns, 1, 65535);
	CHECK_RANGE(setup_cookie_pct, 0, 100);
	if (cfg->mode != SRD_MODE_MULTIPATH && cfg->mode != SRD_MODE_SINGLE &&
	    cfg->mode != SRD_MODE_SPRAY)
		return fail(err, errlen, "mode: %d is not multipath (0), single (1) or spray (2)",
			    (int)cfg->mode);
	CHECK_RANGE(paths, 1, SRD_MAX_PATHS);
	CHECK_RANGE(seg_size, 64, 65000);
	CHECK_RANGE(tx_window, 16, 4096);
	CHECK_POW2(tx_window);
	CHECK_RANGE(rx_window, 64, 4096);
	CHECK_POW2(rx_window);
	CHECK_RANGE(rx_credit_bytes, 0, 1ull << 40);
	CHECK_RANGE(pack_msgs, 1, SRD_PACK_MAX_MSGS);
	CHECK_RANGE(max_tx_msgs, 1, 4096);
	CHECK_POW2(max_tx_msgs);
	CHECK_RANGE(rx_slots, 1, 1u << 24);
	CHECK_RANGE(max_msg_size, 1, SRD_MSG_SIZE_LIMIT);
	CHECK_RANGE(min_rto_ns, 1000, 1000000000ull);
	CHECK_RANGE(max_rto_ns, cfg->min_rto_ns, 60000000000ull);
	CHECK_RANGE(min_tlp_ns, 0, 1000000000ull);
	if (cfg->min_tlp_ns && cfg->min_tlp_ns + cfg->ack_delay_ns >= cfg->min_rto_ns)
		return fail(err, errlen,
			    "min_tlp_ns: %llu plus ack_delay_ns (%llu) is not below min_rto_ns "
			    "(%llu): on short round trips the timeout would come before the probe",
			    (unsigned long long)cfg->min_tlp_ns,
			    (unsigned long long)cfg->ack_delay_ns,
			    (unsigned long long)cfg->min_rto_ns);
	CHECK_RANGE(init_rtt_ns, 100, 1000000000ull);
	CHECK_RANGE(max_retries, 1, 255);
	CHECK_RANGE(max_rnr_retries, 0, 65535);
	CHECK_RANGE(rnr_delay_ns, 1000, 1000000000ull);
	CHECK_RANGE(ack_delay_ns, 0, 1000000000ull);
	CHECK_RANGE(ack_every, 1, 64);
	CHECK_RANGE(reorder_pct, 0, 1000);
	CHECK_RANGE(path_fail_losses, 1, 255);
	if (cfg->conn_idle_ns && cfg->conn_idle_ns <= srd_retry_budget_ns(cfg))
		return fail(err, errlen,
			    "conn_idle_ns: %llu is not longer than the retry budget (%llu ns): a "
			    "peer could still be resending what an idle close forgets",
			    (unsigned long long)cfg->conn_idle_ns,
			    (unsigned long long)srd_retry_budget_ns(cfg));
	if (cfg->cc.algo != SRD_CC_SWIFT && cfg->cc.algo != SRD_CC_DCTCP)
		return fail(err, errlen, "cc.algo: %d is neither swift (0) nor dctcp (1)",
			    (int)cfg->cc.algo);
	CHECK_RANGE(cc.min_cwnd, 1, 1u << 24);
	CHECK_RANGE(cc.max_cwnd, cfg->cc.min_cwnd, 1u << 24);
	CHECK_RANGE(cc.init_cwnd, cfg->cc.min_cwnd, cfg->cc.max_cwnd);
	CHECK_RANGE(cc.ai, 1, 1u << 20);
	CHECK_RANGE(cc.target_delay_ns, 100, 1000000000ull);
	CHECK_RANGE(cc.base_rtt_ns, 0, 1000000000ull);
	CHECK_RANGE(cc.beta_pct, 0, 100);
	CHECK_RANGE(cc.max_mdf_pct, 1, 99);
	CHECK_RANGE(cc.dctcp_g_shift, 1, 16);
	CHECK_RANGE(cc.pacing_gain_pct, 0, 1000);
	return 0;
}

uint64_t srd_retry_budget_ns(const struct srd_config *cfg)
{
	uint64_t rto = 3 * cfg->init_rtt_ns, sum = 0;

	if (rto < cfg->min_rto_ns)
		rto = cfg->min_rto_ns;
	/* the longest a sender keeps trying: max_retries + 1 timeouts, doubling to max_rto */
	for (uint32_t i = 0; i <= cfg->max_retries; i++) {
		sum += rto < cfg->max_rto_ns ? rto : cfg->max_rto_ns;
		if (rto < cfg->max_rto_ns)
			rto *= 2;
	}
	return sum;
}

size_t srd_conn_state_bytes(const struct srd_config *cfg)
{
	return sizeof(struct srd_conn) + (size_t)srd_config_npaths(cfg) * sizeof(struct srd_path) +
	       (size_t)cfg->rx_window / 8;
}
