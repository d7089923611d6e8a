/*
 * dp_log.h — srdd's log type ("srd", registered by srdd at start-up, level from the config
 * or --log-level=srd:debug) and the macro every dataplane module logs with.
 */
#ifndef DP_LOG_H
#define DP_LOG_H

#include <rte_log.h>

/* The registered log type (set once by srdd's main before any worker runs). */
extern int dp_logtype;

#define DP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, dp_logtype, "srd: " fmt "\n", ##__VA_ARGS__)

#endif /* DP_LOG_H */
