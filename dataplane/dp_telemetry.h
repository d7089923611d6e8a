/*
 * dp_telemetry.h — srdd's rte_telemetry commands, readable with dpdk-telemetry.py:
 *
 *   /srd/stats   worker, engine (drops by reason included) and channel counters
 *   /srd/ports   ports: name, address, MAC, MTU, link, offloads, impairment
 *   /srd/conns   connections: peer, ids, RTT, RTO, window, messages, retransmissions
 *   /srd/paths   every connection's paths: entropy, state, RTT, ECN, packets
 *   /srd/capture packet capture to pcapng (dp_capture.h): start, stop, status
 *
 * Telemetry callbacks run on DPDK's telemetry thread, which must not touch the engines.
 * A callback posts a request to every worker; each answers it between two iterations by
 * filling its snapshot (dp_telemetry_service(), one relaxed load per iteration when nobody
 * asks); the callback waits for all (up to 1 s), sums or joins the snapshots and
 * formats the result.
 */
#ifndef DP_TELEMETRY_H
#define DP_TELEMETRY_H

#include <stdint.h>

struct dp_capture;
struct dp_worker;
struct dp_ports;
struct dp_telemetry;

/* Register the commands for workers[0..nworkers) (each with its apps, w->shm) over ports,
 * and /srd/capture for cap (NULL: capture not available; it must outlive the telemetry).
 * Returns 0, -EINVAL, -ENOMEM, -EBUSY (one instance per process: the DPDK callbacks carry
 * no context), or the error rte_telemetry_register_cmd() gave (e.g. when telemetry is
 * disabled). */
int dp_telemetry_start(struct dp_worker *workers, uint32_t nworkers, struct dp_ports *ports,
		       struct dp_capture *cap, struct dp_telemetry **out);

/* Answer worker's pending request, if any (called by that worker between iterations). */
void dp_telemetry_service(struct dp_telemetry *t, uint32_t worker);

/* Stop answering (commands then report that srdd is stopping) and free.  NULL ignored. */
void dp_telemetry_stop(struct dp_telemetry *t);

#endif /* DP_TELEMETRY_H */
