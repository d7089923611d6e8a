/*
 * dp_worker_int.h — what the worker's two modules share: dp_worker.c (the loop, packet
 * receive and transmit, set-up) and dp_worker_send.c (the apps' sends and receives as the
 * engines see them).  Internal to the worker.
 */
#ifndef DP_WORKER_INT_H
#define DP_WORKER_INT_H

#include "dp_worker.h"

#define DP_BURST 32u /* packets per receive or transmit burst, sends taken per iteration */

/* Engine time (ns since the worker started) of TSC value tsc. */
uint64_t dp_worker_tsc_to_ns(const struct dp_worker *w, uint64_t tsc);

/* The engine callbacks of port wp: receive buffers from the apps' regions, deliveries and
 * send completions to their rings. */
void dp_worker_callbacks(struct dp_wport *wp, struct srd_callbacks *cb);

/* Allocate the send records and the held queue.  Returns 0 or -ENOMEM. */
int dp_worker_sends_init(struct dp_worker *w);

/* Complete the held sends with -ECANCELED and the deferred failures with their errors (not
 * yet published: dp_shm_flush), and free what dp_worker_sends_init allocated.  Only after
 * the engines are destroyed: their last completions free records. */
void dp_worker_sends_fini(struct dp_worker *w);

/* Complete the failed sends whose frames have all been freed since.  Returns how many. */
int dp_worker_complete_deferred(struct dp_worker *w);

/* Replace the frames this worker holds (the ports' backlogs, the impairment stages) that
 * name an app's bytes with copies, so that a failed send's completion waits only for
 * frames on their way: those held could wait for a port that takes nothing. */
void dp_worker_unshare_held(struct dp_worker *w);

/* Take the apps' submissions: sends while the held queue has room (beyond that the rings
 * push back), buffer returns always (one app's waiting sends, e.g. an ordered endpoint's,
 * must not keep another app's buffers from coming back).  A send goes to its engine at once
 * unless its endpoint has sends waiting; refused, it waits in the held queue.  Returns the
 * work done (sends taken or submitted). */
int dp_worker_take_sends(struct dp_worker *w);

#endif /* DP_WORKER_INT_H */
