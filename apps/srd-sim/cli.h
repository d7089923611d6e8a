/*
 * cli.h — srd-sim's command-line number parsing (rates, times, sizes, probabilities),
 * shared by the two-host mode (main.c) and the fabric mode (fabric_cli.c).
 */
#ifndef SRD_SIM_CLI_H
#define SRD_SIM_CLI_H

#include <stdint.h>
#include <stdio.h>

/* A unit suffix and its multiplier. */
struct unit {
	const char *suffix; /* e.g. "us" (case-insensitive), NULL ends a table */
	double mult;        /* what one unit is worth */
};

extern const struct unit rate_units[]; /* G, Gbps, M, Mbps, K, T (decimal) */
extern const struct unit time_units[]; /* ns, us, ms, s */
extern const struct unit size_units[]; /* K/KiB, M/MiB, G/GiB (binary), KB, MB, GB
                                          (decimal), B */

/* Parse a finite number >= 0 with an optional suffix from units[] (NULL: none allowed).
 * strtod() also takes "nan" and "inf": those, and products that overflow, are refused.
 * Returns 0 or -EINVAL. */
int parse_scaled(const char *s, const struct unit *units, double *out);

/* The same, rounded to an integer below 2^64.  Returns 0 or -EINVAL. */
int parse_u64(const char *s, const struct unit *units, uint64_t *out);

/* The same, within [lo, hi].  Returns 0 or -EINVAL. */
int parse_u32(const char *s, const struct unit *units, uint32_t lo, uint32_t hi,
	      uint32_t *out);

/* A probability: 0..1, or N%.  Returns 0 or -EINVAL. */
int parse_prob(const char *s, double *out);

/* Report a bad value of --opt on stderr.  Returns -EINVAL. */
int cli_bad(const char *opt, const char *arg);

/* Print a JSON string (quotes and escapes) to out. */
void cli_json_string(FILE *out, const char *s);

#endif /* SRD_SIM_CLI_H */
