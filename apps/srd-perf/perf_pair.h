/*
 * perf_pair.h — what srd-perf's --pair runs share (perf_pair.c: lat; perf_pair_bw.c: bw and
 * rate): their two ends, endpoint A on --local and endpoint B on the --pair address (another
 * address of the same daemon), each with its payload buffer in the shared region.
 */
#ifndef SRD_PERF_PAIR_H
#define SRD_PERF_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "perf.h"

/* One end of a --pair run. */
struct pair_end {
	struct srdc *h;        /* its attachment (lat: both ends share one) */
	bool own_h;            /* h is this end's to detach */
	struct srdc_ep *ep;
	struct srdc_addr addr; /* the endpoint's address */
	void *buf;             /* payload, in h's region (pair_buf()) */
	uint32_t buf_len;
};

/* Attach and open end[0] (A) on o->local_ip and end[1] (B) on o->pair_ip, SRDC_ORDERED with
 * --ordered.  two_apps: each end attaches on its own, as two apps would (its own rings and
 * completions); otherwise one attachment holds both.  Prints what failed.  Returns 0 or a
 * negative errno; pair_close() releases what was made either way. */
int pair_open(const struct perf_opts *o, bool two_apps, struct pair_end end[2]);

/* Detach (the endpoints close and the buffers go with the regions). */
void pair_close(struct pair_end end[2]);

/* Make e's payload buffer at least len bytes, filled with the byte fill (nothing may be in
 * flight from the old one).  Returns 0 or -ENOMEM (said on stderr). */
int pair_buf(struct pair_end *e, uint32_t len, uint8_t fill);

/* bw and rate --pair (perf_pair_bw.c): the exit code, as perf_pair()'s. */
int perf_pair_bw(const struct perf_opts *o);

#endif /* SRD_PERF_PAIR_H */
