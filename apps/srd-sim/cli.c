/*
 * cli.c — srd-sim's number parsing (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parse a finite number >= 0 with an optional suffix from units[] (NULL: none allowed).
 * strtod() also takes "nan" and "inf": those, and products that overflow, are refused. */
int parse_scaled(const char *s, const struct unit *units, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !(v >= 0 && v <= DBL_MAX))
		return -EINVAL;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	for (; units && units->suffix; units++) {
		if (strcasecmp(end, units->suffix) == 0) {
			v *= units->mult;
			if (!(v <= DBL_MAX))
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

const struct unit rate_units[] = {
	{ "G", 1e9 }, { "Gbps", 1e9 }, { "M", 1e6 }, { "Mbps", 1e6 }, { "K", 1e3 }, { "T", 1e12 }, { NULL, 0 }
};
const struct unit time_units[] = {
	{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { NULL, 0 }
};
const struct unit size_units[] = {
	{ "K", 1024 }, { "KiB", 1024 }, { "M", 1048576 }, { "MiB", 1048576 }, { "G", 1073741824 },
	{ "GiB", 1073741824 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "B", 1 }, { NULL, 0 }
};

int parse_u64(const char *s, const struct unit *units, uint64_t *out)
{
	double v;

	if (parse_scaled(s, units, &v) || !(v >= 0 && v <= 1.8e19)) /* below 2^64 - 0.5 */
		return -EINVAL;
	*out = (uint64_t)(v + 0.5);
	return 0;
}

int parse_u32(const char *s, const struct unit *units, uint32_t lo, uint32_t hi,
		     uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, units, &v) || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int parse_prob(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		return -EINVAL;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || !(v >= 0 && v <= 1)) /* NaN fails both */
		return -EINVAL;
	*out = v;
	return 0;
}


int cli_bad(const char *opt, const char *arg)
{
	fprintf(stderr, "srd-sim: invalid value for --%s: '%s'\n", opt, arg);
	return -EINVAL;
}

void cli_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}
