/*
 * dp_config_json.c — the config loader's typed JSON reading (see dp_config_int.h): the
 * "FILE: KEY: REASON" messages and the path they name, unknown keys ("did you mean"), and
 * the getters that check a value's JSON type and range.  Used by dp_config.c (the top level
 * and its sections) and dp_config_ports.c (the ports).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dp_config_int.h"

/* ---- messages and the path ---- */

/* Write "FILE: PATH[.key]: reason" (or "FILE: reason" at the top level) and return -EINVAL.
 * key may be NULL (the value at the current path is meant). */
int dp_cfg_bad(struct ld *l, const char *key, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (l->errlen == 0)
		return -EINVAL;
	if (key && l->plen)
		snprintf(l->err, l->errlen, "%s: %s.%s: %s", l->file, l->path, key, reason);
	else if (key)
		snprintf(l->err, l->errlen, "%s: %s: %s", l->file, key, reason);
	else if (l->plen)
		snprintf(l->err, l->errlen, "%s: %s: %s", l->file, l->path, reason);
	else
		snprintf(l->err, l->errlen, "%s: %s", l->file, reason);
	return -EINVAL;
}

int dp_cfg_oom(struct ld *l)
{
	if (l->errlen)
		snprintf(l->err, l->errlen, "%s: out of memory", l->file);
	return -ENOMEM;
}

/* Descend into key (an object member).  Returns the length to restore with dp_cfg_path_pop(). */
size_t dp_cfg_path_key(struct ld *l, const char *key)
{
	size_t old = l->plen;

	snprintf(l->path + old, sizeof(l->path) - old, old ? ".%s" : "%s", key);
	l->plen = strlen(l->path);
	return old;
}

/* Descend into element i of the array at the current path. */
size_t dp_cfg_path_idx(struct ld *l, size_t i)
{
	size_t old = l->plen;

	snprintf(l->path + old, sizeof(l->path) - old, "[%zu]", i);
	l->plen = strlen(l->path);
	return old;
}

void dp_cfg_path_pop(struct ld *l, size_t old)
{
	l->plen = old;
	l->path[old] = '\0';
}

const char *dp_cfg_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/* ---- unknown keys ---- */

/* Edit distance of two short strings (for "did you mean"); large if either is long. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Refuse any member of obj not in keys (NULL-terminated).  "comment" (a string or an
 * array of strings) is allowed in every object and ignored. */
int dp_cfg_only_keys(struct ld *l, json_t *obj, const char *const *keys)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *near = NULL;
		unsigned near_d = 3;
		bool known = false;

		if (strcmp(key, "comment") == 0) {
			size_t i;
			json_t *s;

			if (json_is_string(v))
				continue;
			if (!json_is_array(v))
				return dp_cfg_bad(l, key, "expected a string or an array of "
							  "strings, got %s", dp_cfg_type_name(v));
			json_array_foreach(v, i, s) {
				if (!json_is_string(s))
					return dp_cfg_bad(l, key, "element %zu: expected a string, "
								  "got %s", i, dp_cfg_type_name(s));
			}
			continue;
		}
		for (const char *const *k = keys; *k; k++) {
			unsigned d;

			if (strcmp(key, *k) == 0) {
				known = true;
				break;
			}
			d = edit_distance(key, *k);
			if (d < near_d) {
				near_d = d;
				near = *k;
			}
		}
		if (known)
			continue;
		if (near)
			return dp_cfg_bad(l, key, "unknown key (did you mean \"%s\"?)", near);
		return dp_cfg_bad(l, key, "unknown key");
	}
	return 0;
}

/* ---- typed values: check_* read a value v (its name: key under the current path, or the
 * current path itself when key is NULL); get_* look key up in obj and leave *out alone
 * when it is absent ---- */

int dp_cfg_check_int(struct ld *l, const char *key, json_t *v, long long lo, long long hi,
			    long long *out)
{
	long long x = 0;

	if (!json_is_integer(v))
		return dp_cfg_bad(l, key, "expected an integer, got %s", dp_cfg_type_name(v));
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return dp_cfg_bad(l, key, "%lld is out of range [%lld, %lld]", x, lo, hi);
	*out = x;
	return 0;
}

int dp_cfg_get_seed(struct ld *l, json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	long long x = 0;
	int rc;

	if (!v)
		return 0;
	rc = dp_cfg_check_int(l, key, v, 0, INT64_MAX, &x);
	if (rc == 0)
		*out = (uint64_t)x;
	return rc;
}

int dp_cfg_get_u32(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
			  uint32_t *out)
{
	json_t *v = json_object_get(obj, key);
	long long x = 0;
	int rc;

	if (!v)
		return 0;
	rc = dp_cfg_check_int(l, key, v, lo, hi, &x);
	if (rc == 0)
		*out = (uint32_t)x;
	return rc;
}

/* An integer that must be a power of two. */
int dp_cfg_get_pow2(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
			   uint32_t *out)
{
	uint32_t x = *out;
	int rc = dp_cfg_get_u32(l, obj, key, lo, hi, &x);

	if (rc)
		return rc;
	if (x & (x - 1))
		return dp_cfg_bad(l, key, "%u is not a power of two", x);
	*out = x;
	return 0;
}

/* A number (integer or real) in [lo, hi]. */
static int check_num(struct ld *l, const char *key, json_t *v, double lo, double hi,
		     double *out)
{
	double x;

	if (!json_is_number(v))
		return dp_cfg_bad(l, key, "expected a number, got %s", dp_cfg_type_name(v));
	x = json_number_value(v);
	if (!(x >= lo && x <= hi))
		return dp_cfg_bad(l, key, "%g is out of range [%g, %g]", x, lo, hi);
	*out = x;
	return 0;
}

int dp_cfg_get_num(struct ld *l, json_t *obj, const char *key, double lo, double hi,
			  double *out)
{
	json_t *v = json_object_get(obj, key);

	return v ? check_num(l, key, v, lo, hi, out) : 0;
}

/* A duration in µs (fractions allowed) stored in ns. */
int dp_cfg_get_us(struct ld *l, json_t *obj, const char *key, double lo, double hi,
			 uint64_t *ns)
{
	double us = 0;
	json_t *v = json_object_get(obj, key);
	int rc;

	if (!v)
		return 0;
	rc = check_num(l, key, v, lo, hi, &us);
	if (rc == 0)
		*ns = (uint64_t)(us * 1000.0 + 0.5);
	return rc;
}

int dp_cfg_get_bool(struct ld *l, json_t *obj, const char *key, uint8_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return dp_cfg_bad(l, key, "expected true or false, got %s", dp_cfg_type_name(v));
	*out = json_is_true(v) ? 1 : 0;
	return 0;
}

/* A non-empty string of at most maxlen bytes without NUL bytes. */
int dp_cfg_check_str(struct ld *l, const char *key, json_t *v, size_t maxlen,
			    const char **out)
{
	const char *s;

	if (!json_is_string(v))
		return dp_cfg_bad(l, key, "expected a string, got %s", dp_cfg_type_name(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return dp_cfg_bad(l, key, "contains a NUL character");
	if (s[0] == '\0')
		return dp_cfg_bad(l, key, "empty string");
	if (strlen(s) > maxlen)
		return dp_cfg_bad(l, key, "\"%.40s...\" is longer than %zu bytes", s, maxlen);
	*out = s;
	return 0;
}

int dp_cfg_get_str(struct ld *l, json_t *obj, const char *key, size_t maxlen,
			  const char **out)
{
	json_t *v = json_object_get(obj, key);

	return v ? dp_cfg_check_str(l, key, v, maxlen, out) : 0;
}

/* One of names[0..n) (a string); *out is its index. */
int dp_cfg_get_enum(struct ld *l, json_t *obj, const char *key, const char *const *names,
			   int n, int *out)
{
	const char *s = NULL;
	char list[160] = "";
	int rc;

	rc = dp_cfg_get_str(l, obj, key, 64, &s);
	if (rc || !s)
		return rc;
	for (int i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", names[i]);
	}
	return dp_cfg_bad(l, key, "\"%s\" is not one of %s", s, list);
}

/* The member key of obj, which must be an object (NULL when absent). */
int dp_cfg_get_obj(struct ld *l, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return dp_cfg_bad(l, key, "expected an object, got %s", dp_cfg_type_name(v));
	*out = v;
	return 0;
}

/* The member key of obj, which must be an array of at most max elements (NULL: absent). */
int dp_cfg_get_arr(struct ld *l, json_t *obj, const char *key, size_t max, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return dp_cfg_bad(l, key, "expected an array, got %s", dp_cfg_type_name(v));
	if (json_array_size(v) > max)
		return dp_cfg_bad(l, key, "%zu elements, at most %zu", json_array_size(v), max);
	*out = v;
	return 0;
}
