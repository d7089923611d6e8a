/*
 * dp_config.c — srdd's JSON configuration (docs/config.md): defaults, the loader and its
 * checks.  Read with jansson; no DPDK (the loader runs before the EAL, and in
 * srdd --check-config).
 *
 * The loader walks the document with a "where am I" path (e.g. "ports[1].impair.loss") so
 * that every refusal names the file, the key and the reason: "FILE: KEY: REASON".  Every
 * object is checked for unknown keys before its values are read; every value for its JSON
 * type, then its range; then the values that depend on each other (ports against ports,
 * ports against workers and mbufs, the apps' region against the message size); last, the
 * protocol core's own srd_config_check() on the engine configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_config.h"
#include "srd_shm.h" /* the app region's rings, for the region size check */
#include "wire.h" /* SRD_HDR_MAX_LEN: the largest SRD header, for the segment size */

#define DP_CFG_FILE_MAX (1u << 20)  /* a config file larger than this is refused */
#define DP_EAL_ARG_MAX 1024u        /* longest EAL argument */
#define DP_NAME_MAX 31u             /* longest port name (struct dp_port_cfg.name) */
#define DP_IP_UDP_HLEN (20u + 8u)   /* IPv4 + UDP headers inside the MTU */
#define DP_MIN_MTU 576u
#define DP_MAX_MTU 9000u
#define DP_MAX_MSG_MB 16u           /* longest message the shared-memory API carries, MiB */
#define MIB (1ull << 20)
#define CWND_ONE 256.0             /* one packet in struct srd_cc_config's windows (packets << 8) */

/* Where the loader is, and where its messages go. */
struct ld {
	const char *file; /* the file name, first in every message */
	char *err;        /* the caller's buffer */
	size_t errlen;
	char path[256];   /* JSON path of the value being read, e.g. "ports[0].impair" */
	size_t plen;      /* strlen(path) */
};

/* ---- messages and the path ---- */

/* Write "FILE: PATH[.key]: reason" (or "FILE: reason" at the top level) and return -EINVAL.
 * key may be NULL (the value at the current path is meant). */
static int bad(struct ld *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct ld *l, const char *key, const char *fmt, ...)
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

static int oom(struct ld *l)
{
	if (l->errlen)
		snprintf(l->err, l->errlen, "%s: out of memory", l->file);
	return -ENOMEM;
}

/* Descend into key (an object member).  Returns the length to restore with path_pop(). */
static size_t path_key(struct ld *l, const char *key)
{
	size_t old = l->plen;

	snprintf(l->path + old, sizeof(l->path) - old, old ? ".%s" : "%s", key);
	l->plen = strlen(l->path);
	return old;
}

/* Descend into element i of the array at the current path. */
static size_t path_idx(struct ld *l, size_t i)
{
	size_t old = l->plen;

	snprintf(l->path + old, sizeof(l->path) - old, "[%zu]", i);
	l->plen = strlen(l->path);
	return old;
}

static void path_pop(struct ld *l, size_t old)
{
	l->plen = old;
	l->path[old] = '\0';
}

static const char *type_name(const json_t *v)
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
static int only_keys(struct ld *l, json_t *obj, const char *const *keys)
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
				return bad(l, key, "expected a string or an array of strings, "
						   "got %s", type_name(v));
			json_array_foreach(v, i, s) {
				if (!json_is_string(s))
					return bad(l, key, "element %zu: expected a string, got %s",
						   i, type_name(s));
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
			return bad(l, key, "unknown key (did you mean \"%s\"?)", near);
		return bad(l, key, "unknown key");
	}
	return 0;
}

/* ---- typed values: check_* read a value v (its name: key under the current path, or the
 * current path itself when key is NULL); get_* look key up in obj and leave *out alone
 * when it is absent ---- */

static int check_int(struct ld *l, const char *key, json_t *v, long long lo, long long hi,
		     long long *out)
{
	long long x = 0;

	if (!json_is_integer(v))
		return bad(l, key, "expected an integer, got %s", type_name(v));
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return bad(l, key, "%lld is out of range [%lld, %lld]", x, lo, hi);
	*out = x;
	return 0;
}

static int get_u32(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
		   uint32_t *out)
{
	json_t *v = json_object_get(obj, key);
	long long x = 0;
	int rc;

	if (!v)
		return 0;
	rc = check_int(l, key, v, lo, hi, &x);
	if (rc == 0)
		*out = (uint32_t)x;
	return rc;
}

/* An integer that must be a power of two. */
static int get_pow2(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
		    uint32_t *out)
{
	uint32_t x = *out;
	int rc = get_u32(l, obj, key, lo, hi, &x);

	if (rc)
		return rc;
	if (x & (x - 1))
		return bad(l, key, "%u is not a power of two", x);
	*out = x;
	return 0;
}

/* A number (integer or real) in [lo, hi]. */
static int check_num(struct ld *l, const char *key, json_t *v, double lo, double hi,
		     double *out)
{
	double x;

	if (!json_is_number(v))
		return bad(l, key, "expected a number, got %s", type_name(v));
	x = json_number_value(v);
	if (!(x >= lo && x <= hi))
		return bad(l, key, "%g is out of range [%g, %g]", x, lo, hi);
	*out = x;
	return 0;
}

static int get_num(struct ld *l, json_t *obj, const char *key, double lo, double hi,
		   double *out)
{
	json_t *v = json_object_get(obj, key);

	return v ? check_num(l, key, v, lo, hi, out) : 0;
}

/* A duration in µs (fractions allowed) stored in ns. */
static int get_us(struct ld *l, json_t *obj, const char *key, double lo, double hi,
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

static int get_bool(struct ld *l, json_t *obj, const char *key, uint8_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad(l, key, "expected true or false, got %s", type_name(v));
	*out = json_is_true(v) ? 1 : 0;
	return 0;
}

/* A non-empty string of at most maxlen bytes without NUL bytes. */
static int check_str(struct ld *l, const char *key, json_t *v, size_t maxlen,
		     const char **out)
{
	const char *s;

	if (!json_is_string(v))
		return bad(l, key, "expected a string, got %s", type_name(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return bad(l, key, "contains a NUL character");
	if (s[0] == '\0')
		return bad(l, key, "empty string");
	if (strlen(s) > maxlen)
		return bad(l, key, "\"%.40s...\" is longer than %zu bytes", s, maxlen);
	*out = s;
	return 0;
}

static int get_str(struct ld *l, json_t *obj, const char *key, size_t maxlen,
		   const char **out)
{
	json_t *v = json_object_get(obj, key);

	return v ? check_str(l, key, v, maxlen, out) : 0;
}

/* One of names[0..n) (a string); *out is its index. */
static int get_enum(struct ld *l, json_t *obj, const char *key, const char *const *names,
		    int n, int *out)
{
	const char *s = NULL;
	char list[160] = "";
	int rc;

	rc = get_str(l, obj, key, 64, &s);
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
	return bad(l, key, "\"%s\" is not one of %s", s, list);
}

/* The member key of obj, which must be an object (NULL when absent). */
static int get_obj(struct ld *l, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return bad(l, key, "expected an object, got %s", type_name(v));
	*out = v;
	return 0;
}

/* The member key of obj, which must be an array of at most max elements (NULL: absent). */
static int get_arr(struct ld *l, json_t *obj, const char *key, size_t max, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return bad(l, key, "expected an array, got %s", type_name(v));
	if (json_array_size(v) > max)
		return bad(l, key, "%zu elements, at most %zu", json_array_size(v), max);
	*out = v;
	return 0;
}

/* ---- addresses ---- */

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* A dotted-quad IPv4 address (host byte order). */
static int parse_ip(struct ld *l, const char *key, const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return bad(l, key, "\"%s\" is not an IPv4 address (a.b.c.d)", s);
	*ip = ntohl(a.s_addr);
	return 0;
}

/* "a.b.c.d/len" with len in [minlen, 32]. */
static int parse_prefix(struct ld *l, const char *key, const char *s, uint8_t minlen,
			uint32_t *ip, uint8_t *len)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	const char *p;
	unsigned n = 0;
	size_t alen;

	if (!slash || slash[1] == '\0')
		return bad(l, key, "\"%s\" is not an address with a prefix length (a.b.c.d/len)",
			   s);
	alen = (size_t)(slash - s);
	if (alen >= sizeof(addr))
		return bad(l, key, "\"%s\" is not an IPv4 address (a.b.c.d)", s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	for (p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || p - slash > 2)
			return bad(l, key, "\"%s\": the prefix length must be a number in "
					   "[%u, 32]", s, minlen);
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n < minlen || n > 32)
		return bad(l, key, "\"%s\": the prefix length %u is out of range [%u, 32]", s, n,
			   minlen);
	*len = (uint8_t)n;
	if (parse_ip(l, key, addr, ip))
		return bad(l, key, "\"%s\" is not an IPv4 address with a prefix length "
				   "(a.b.c.d/len)", s);
	return 0;
}

static void ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* A local address: unicast, not loopback, and (on subnets of more than two addresses) not
 * the subnet's own address or its broadcast address. */
static int check_host(struct ld *l, const char *key, const char *s, uint32_t ip, uint8_t len)
{
	uint32_t host = ip & ~prefix_mask(len);

	if ((ip >> 24) == 0 || (ip >> 24) == 127 || ip >= 0xe0000000u)
		return bad(l, key, "\"%s\" is not a unicast address", s);
	if (len <= 30 && (host == 0 || host == ~prefix_mask(len)))
		return bad(l, key, "\"%s\" is the %s address of its subnet, not a host", s,
			   host == 0 ? "network" : "broadcast");
	return 0;
}

/* "xx:xx:xx:xx:xx:xx", unicast and not zero. */
static int parse_mac(struct ld *l, const char *key, const char *s, uint8_t mac[6])
{
	bool zero = true;

	if (strlen(s) != 17)
		goto bad_form;
	for (int i = 0; i < 6; i++) {
		unsigned b = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[3 * i + k];

			if (c >= '0' && c <= '9')
				b = b * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				b = b * 16 + (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				b = b * 16 + (unsigned)(c - 'A' + 10);
			else
				goto bad_form;
		}
		if (i < 5 && s[3 * i + 2] != ':')
			goto bad_form;
		mac[i] = (uint8_t)b;
		zero = zero && b == 0;
	}
	if (zero)
		return bad(l, key, "\"%s\" is the zero MAC address", s);
	if (mac[0] & 1)
		return bad(l, key, "\"%s\" is a multicast MAC address, not a unicast one", s);
	return 0;
bad_form:
	return bad(l, key, "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", s);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A PCI address, [DDDD:]BB:DD.F, optionally followed by ",devargs". */
static int check_pci(struct ld *l, const char *key, const char *s)
{
	size_t n = strcspn(s, ",");
	const char *p = s;

	if (n == 12 && s[4] == ':')
		p = s + 5; /* skip the domain after checking it */
	else if (n != 7)
		goto bad_form;
	for (const char *q = s; q < p - 1; q++)
		if (!is_hex(*q))
			goto bad_form;
	if (!is_hex(p[0]) || !is_hex(p[1]) || p[2] != ':' || !is_hex(p[3]) || !is_hex(p[4]) ||
	    p[5] != '.' || p[6] < '0' || p[6] > '7')
		goto bad_form;
	if (p[3] > '1') /* device numbers are 5 bits: 00..1f */
		goto bad_form;
	return 0;
bad_form:
	return bad(l, key, "\"%s\" is not a PCI address (DDDD:BB:DD.F)", s);
}

/* A vdev string: a driver instance name of [a-z0-9_], then optionally ",key=value...". */
static int check_vdev(struct ld *l, const char *key, const char *s)
{
	size_t n = strcspn(s, ",");

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			goto bad_form;
	}
	if (n == 0 || strpbrk(s, " \t\n") != NULL)
		goto bad_form;
	return 0;
bad_form:
	return bad(l, key, "\"%s\" is not a DPDK vdev string (e.g. \"net_tap0,iface=srd0\")",
		   s);
}

/* ---- sections ---- */

/* "eal": the EAL arguments, copied (dp_config_free() frees them). */
static int parse_eal(struct ld *l, json_t *root, struct dp_config *cfg)
{
	json_t *arr, *v;
	size_t i, old;
	int rc = get_arr(l, root, "eal", DP_MAX_EAL_ARGS, &arr);

	if (rc || !arr)
		return rc;
	old = path_key(l, "eal");
	json_array_foreach(arr, i, v) {
		const char *s = NULL;
		size_t o = path_idx(l, i);

		rc = check_str(l, NULL, v, DP_EAL_ARG_MAX, &s);
		path_pop(l, o);
		if (rc)
			break;
		cfg->eal_argv[cfg->eal_argc] = strdup(s);
		if (!cfg->eal_argv[cfg->eal_argc]) {
			rc = oom(l);
			break;
		}
		cfg->eal_argc++;
	}
	path_pop(l, old);
	return rc;
}

/* "idle": how idle workers wait. */
static int parse_idle(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "policy", "max_sleep_us", NULL };
	static const char *const policies[] = { "busy", "pause", "sleep" };
	int policy = (int)cfg->idle;
	json_t *o;
	size_t old;
	int rc = get_obj(l, root, "idle", &o);

	if (rc || !o)
		return rc;
	old = path_key(l, "idle");
	if ((rc = only_keys(l, o, keys)) ||
	    (rc = get_enum(l, o, "policy", policies, 3, &policy)) ||
	    (rc = get_u32(l, o, "max_sleep_us", 1, 10000, &cfg->idle_sleep_max_us)))
		goto out;
	cfg->idle = (enum dp_idle_policy)policy;
out:
	path_pop(l, old);
	return rc;
}

/* An array of uids or gids (0 .. 2^32-2). */
static int parse_ids(struct ld *l, json_t *o, const char *key, uint32_t *ids, uint32_t *n)
{
	json_t *arr, *v;
	size_t i, old;
	int rc = get_arr(l, o, key, DP_MAX_IDS, &arr);

	if (rc || !arr)
		return rc;
	old = path_key(l, key);
	*n = 0;
	json_array_foreach(arr, i, v) {
		long long x = 0;
		size_t o2 = path_idx(l, i);

		rc = check_int(l, NULL, v, 0, 4294967294ll, &x);
		path_pop(l, o2);
		if (rc)
			break;
		ids[(*n)++] = (uint32_t)x;
	}
	path_pop(l, old);
	return rc;
}

/* "control": the socket apps attach through, and who may. */
static int parse_control(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "socket", "mode", "allowed_uids", "allowed_gids",
					    NULL };
	uint32_t uids[DP_MAX_IDS], gids[DP_MAX_IDS];
	const char *sock = NULL, *mode = NULL;
	json_t *o, *mv;
	size_t old;
	int rc = get_obj(l, root, "control", &o);

	if (rc || !o)
		return rc;
	old = path_key(l, "control");
	if ((rc = only_keys(l, o, keys)) ||
	    (rc = get_str(l, o, "socket", sizeof(cfg->socket_path) - 1, &sock)))
		goto out;
	if (sock) {
		if (sock[0] != '/') {
			rc = bad(l, "socket", "\"%s\" is not an absolute path", sock);
			goto out;
		}
		snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", sock);
	}
	mv = json_object_get(o, "mode");
	if (mv && !json_is_string(mv)) {
		rc = bad(l, "mode", "expected an octal string such as \"0660\", got %s",
			 type_name(mv));
		goto out;
	}
	if ((rc = get_str(l, o, "mode", 8, &mode)))
		goto out;
	if (mode) {
		unsigned long m = 0;

		for (const char *p = mode; *p; p++) {
			if (*p < '0' || *p > '7') {
				rc = bad(l, "mode", "\"%s\" is not an octal mode such as \"0660\"",
					 mode);
				goto out;
			}
			m = m * 8 + (unsigned long)(*p - '0');
		}
		if (m > 0777) {
			rc = bad(l, "mode", "\"%s\" is out of range [\"0000\", \"0777\"]", mode);
			goto out;
		}
		cfg->socket_mode = (uint32_t)m;
	}
	if ((rc = parse_ids(l, o, "allowed_uids", uids, &cfg->nallowed_uids)))
		goto out;
	for (uint32_t i = 0; i < cfg->nallowed_uids; i++)
		cfg->allowed_uids[i] = (uid_t)uids[i];
	if ((rc = parse_ids(l, o, "allowed_gids", gids, &cfg->nallowed_gids)))
		goto out;
	for (uint32_t i = 0; i < cfg->nallowed_gids; i++)
		cfg->allowed_gids[i] = (gid_t)gids[i];
out:
	path_pop(l, old);
	return rc;
}

/* "apps": each attached app's region and rings, and the daemon's limits. */
static int parse_apps(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "region_mb", "sq_entries", "cq_entries", "max_apps",
					    "max_endpoints", NULL };
	uint32_t region_mb = (uint32_t)(cfg->app_region_bytes / MIB);
	json_t *o;
	size_t old;
	int rc = get_obj(l, root, "apps", &o);

	if (rc || !o)
		return rc;
	old = path_key(l, "apps");
	if ((rc = only_keys(l, o, keys)) ||
	    (rc = get_u32(l, o, "region_mb", 2, 4095, &region_mb)) ||
	    (rc = get_pow2(l, o, "sq_entries", 16, 65536, &cfg->sq_entries)) ||
	    (rc = get_pow2(l, o, "cq_entries", 16, 65536, &cfg->cq_entries)) ||
	    (rc = get_u32(l, o, "max_apps", 1, 256, &cfg->max_apps)) ||
	    (rc = get_u32(l, o, "max_endpoints", 1, 65535, &cfg->max_endpoints)))
		goto out;
	cfg->app_region_bytes = (uint64_t)region_mb * MIB;
out:
	path_pop(l, old);
	return rc;
}

/* A window in packets (fractions allowed) to the core's fixed point (1/256 packet). */
static int get_cwnd(struct ld *l, json_t *o, const char *key, double hi, uint32_t *fixed)
{
	double pkts = *fixed / CWND_ONE;
	int rc = get_num(l, o, key, 1.0 / CWND_ONE, hi, &pkts);

	if (rc == 0)
		*fixed = (uint32_t)(pkts * CWND_ONE + 0.5);
	return rc;
}

/* "protocol": the engine configuration (durations in µs, windows in packets), and the
 * connection idle timeout. */
static int parse_protocol(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = {
		"mode", "paths", "cc", "max_conns", "tx_window", "rx_window", "max_tx_msgs",
		"rx_slots", "max_msg_mb", "min_rto_us", "max_rto_us", "init_rtt_us",
		"max_retries", "max_rnr_retries", "rnr_delay_us", "ack_delay_us", "ack_every",
		"reorder_pct", "path_fail_losses", "conn_idle_ms", "cc_target_delay_us",
		"cc_base_rtt_us", "cc_init_cwnd", "cc_min_cwnd", "cc_max_cwnd", "cc_ai",
		"cc_beta_pct", "cc_max_mdf_pct", "cc_dctcp_g_shift", "cc_pacing_gain_pct", NULL
	};
	static const char *const modes[] = { "multipath", "single" };
	static const char *const ccs[] = { "swift", "dctcp" };
	struct srd_config *e = &cfg->engine;
	struct srd_cc_config *cc = &e->cc;
	int mode = (int)e->mode, algo = (int)cc->algo;
	uint32_t msg_mb = e->max_msg_size / (uint32_t)MIB;
	uint32_t idle_ms = (uint32_t)(cfg->engine.conn_idle_ns / 1000000u);
	json_t *o;
	size_t old;
	int rc = get_obj(l, root, "protocol", &o);

	if (rc || !o)
		return rc;
	old = path_key(l, "protocol");
	if ((rc = only_keys(l, o, keys)) ||
	    (rc = get_enum(l, o, "mode", modes, 2, &mode)) ||
	    (rc = get_u32(l, o, "paths", 1, SRD_MAX_PATHS, &e->paths)) ||
	    (rc = get_enum(l, o, "cc", ccs, 2, &algo)) ||
	    (rc = get_u32(l, o, "max_conns", 1, 65535, &e->max_conns)) ||
	    (rc = get_pow2(l, o, "tx_window", 16, 4096, &e->tx_window)) ||
	    (rc = get_pow2(l, o, "rx_window", 64, 4096, &e->rx_window)) ||
	    (rc = get_pow2(l, o, "max_tx_msgs", 1, 4096, &e->max_tx_msgs)) ||
	    (rc = get_u32(l, o, "rx_slots", 1, 1u << 24, &e->rx_slots)) ||
	    (rc = get_u32(l, o, "max_msg_mb", 1, DP_MAX_MSG_MB, &msg_mb)) ||
	    (rc = get_us(l, o, "min_rto_us", 1, 1e6, &e->min_rto_ns)) ||
	    (rc = get_us(l, o, "max_rto_us", 1, 6e7, &e->max_rto_ns)) ||
	    (rc = get_us(l, o, "init_rtt_us", 0.1, 1e6, &e->init_rtt_ns)) ||
	    (rc = get_u32(l, o, "max_retries", 1, 255, &e->max_retries)) ||
	    (rc = get_u32(l, o, "max_rnr_retries", 1, 65535, &e->max_rnr_retries)) ||
	    (rc = get_us(l, o, "rnr_delay_us", 1, 1e6, &e->rnr_delay_ns)) ||
	    (rc = get_us(l, o, "ack_delay_us", 0, 1e6, &e->ack_delay_ns)) ||
	    (rc = get_u32(l, o, "ack_every", 1, 64, &e->ack_every)) ||
	    (rc = get_u32(l, o, "reorder_pct", 0, 1000, &e->reorder_pct)) ||
	    (rc = get_u32(l, o, "path_fail_losses", 1, 255, &e->path_fail_losses)) ||
	    (rc = get_u32(l, o, "conn_idle_ms", 1, 86400000, &idle_ms)) ||
	    (rc = get_us(l, o, "cc_target_delay_us", 0.1, 1e6, &cc->target_delay_ns)) ||
	    (rc = get_us(l, o, "cc_base_rtt_us", 0, 1e6, &cc->base_rtt_ns)) ||
	    (rc = get_cwnd(l, o, "cc_init_cwnd", 65536, &cc->init_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_min_cwnd", 65536, &cc->min_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_max_cwnd", 65536, &cc->max_cwnd)) ||
	    (rc = get_cwnd(l, o, "cc_ai", 4096, &cc->ai)) ||
	    (rc = get_u32(l, o, "cc_beta_pct", 0, 100, &cc->beta_pct)) ||
	    (rc = get_u32(l, o, "cc_max_mdf_pct", 1, 99, &cc->max_mdf_pct)) ||
	    (rc = get_u32(l, o, "cc_dctcp_g_shift", 1, 16, &cc->dctcp_g_shift)) ||
	    (rc = get_u32(l, o, "cc_pacing_gain_pct", 0, 1000, &cc->pacing_gain_pct)))
		goto out;
	e->mode = (enum srd_path_mode)mode;
	cc->algo = (enum srd_cc_algo)algo;
	e->max_msg_size = msg_mb * (uint32_t)MIB;
	cfg->engine.conn_idle_ns = (uint64_t)idle_ms * 1000000u;
	/* Relations between the keys, said in the file's units (srd_config_check() would
	 * say them in the core's). */
	if (e->max_rto_ns < e->min_rto_ns)
		rc = bad(l, "max_rto_us", "%g is below min_rto_us (%g)", e->max_rto_ns / 1e3,
			 e->min_rto_ns / 1e3);
	else if (cc->max_cwnd < cc->min_cwnd)
		rc = bad(l, "cc_max_cwnd", "%g is below cc_min_cwnd (%g)",
			 cc->max_cwnd / CWND_ONE,
			 cc->min_cwnd / CWND_ONE);
	else if (cc->init_cwnd < cc->min_cwnd || cc->init_cwnd > cc->max_cwnd)
		rc = bad(l, "cc_init_cwnd", "%g is out of range [cc_min_cwnd %g, cc_max_cwnd %g]",
			 cc->init_cwnd / CWND_ONE,
			 cc->min_cwnd / CWND_ONE,
			 cc->max_cwnd / CWND_ONE);
out:
	path_pop(l, old);
	return rc;
}

/* ---- one port ---- */

/* The settings of one impairment path (the defaults of all, or a per_path override). */
static int parse_impair_path(struct ld *l, json_t *o, struct dp_impair_path *p)
{
	double rate = p->rate_bps / 1e9;
	uint32_t ecn_kb = (uint32_t)(p->ecn_bytes / 1024);
	int rc;

	if ((rc = get_us(l, o, "delay_us", 0, 1e6, &p->delay_ns)) ||
	    (rc = get_num(l, o, "loss", 0, 1, &p->loss)) ||
	    (rc = get_num(l, o, "rate_gbps", 0, 1000, &rate)) ||
	    (rc = get_u32(l, o, "ecn_kb", 0, 1u << 20, &ecn_kb)))
		return rc;
	if (rate != 0 && rate < 0.001)
		return bad(l, "rate_gbps", "%g is out of range: 0 (unlimited) or [0.001, 1000]",
			   rate);
	p->rate_bps = (uint64_t)(rate * 1e9 + 0.5);
	p->ecn_bytes = (uint64_t)ecn_kb * 1024u;
	return 0;
}

/* "impair" of the port at the current path: every path gets the stage's settings, then
 * "blackhole" marks paths, then each "per_path" entry overrides the keys it gives. */
static int parse_impair(struct ld *l, json_t *port, struct dp_impair_cfg *im)
{
	static const char *const keys[] = { "enabled", "paths", "seed", "delay_us", "loss",
					    "rate_gbps", "ecn_kb", "blackhole", "per_path", NULL };
	static const char *const pkeys[] = { "path", "delay_us", "loss", "rate_gbps", "ecn_kb",
					     "blackhole", NULL };
	struct dp_impair_path dflt = { 0 };
	bool seen[DP_MAX_IMPAIR_PATHS] = { false };
	json_t *o, *arr, *v, *seed;
	size_t i, old, o2;
	int rc = get_obj(l, port, "impair", &o);

	if (rc || !o)
		return rc;
	old = path_key(l, "impair");
	im->enabled = 1; /* the section is there: on unless it says "enabled": false */
	im->npaths = 8;
	im->seed = 1;
	if ((rc = only_keys(l, o, keys)) || (rc = get_bool(l, o, "enabled", &im->enabled)) ||
	    (rc = get_u32(l, o, "paths", 1, DP_MAX_IMPAIR_PATHS, &im->npaths)))
		goto out;
	seed = json_object_get(o, "seed");
	if (seed) {
		long long x = 0;

		if ((rc = check_int(l, "seed", seed, 0, INT64_MAX, &x)))
			goto out;
		im->seed = (uint64_t)x;
	}
	if ((rc = parse_impair_path(l, o, &dflt)))
		goto out;
	for (i = 0; i < im->npaths; i++)
		im->path[i] = dflt;
	if ((rc = get_arr(l, o, "blackhole", DP_MAX_IMPAIR_PATHS, &arr)))
		goto out;
	if (arr) {
		o2 = path_key(l, "blackhole");
		json_array_foreach(arr, i, v) {
			long long k = 0;
			size_t o3 = path_idx(l, i);

			rc = check_int(l, NULL, v, 0, im->npaths - 1, &k);
			path_pop(l, o3);
			if (rc)
				break;
			im->path[k].blackhole = 1;
		}
		path_pop(l, o2);
		if (rc)
			goto out;
	}
	if ((rc = get_arr(l, o, "per_path", DP_MAX_IMPAIR_PATHS, &arr)) || !arr)
		goto out;
	o2 = path_key(l, "per_path");
	json_array_foreach(arr, i, v) {
		size_t o3 = path_idx(l, i);
		json_t *pv;
		long long k = 0;

		if (!json_is_object(v))
			rc = bad(l, NULL, "expected an object, got %s", type_name(v));
		else if (!(pv = json_object_get(v, "path")))
			rc = bad(l, NULL, "missing key \"path\"");
		else if (!(rc = only_keys(l, v, pkeys)) &&
			 !(rc = check_int(l, "path", pv, 0, im->npaths - 1, &k))) {
			if (seen[k])
				rc = bad(l, "path", "path %lld is set twice in per_path", k);
			else if (!(rc = parse_impair_path(l, v, &im->path[k])))
				rc = get_bool(l, v, "blackhole", &im->path[k].blackhole);
			seen[k] = true;
		}
		path_pop(l, o3);
		if (rc)
			break;
	}
	path_pop(l, o2);
out:
	path_pop(l, old);
	return rc;
}

/* The port's subnet (for messages). */
static void subnet_str(const struct dp_port_cfg *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	ip_str(p->ipv4 & prefix_mask(p->prefix_len), a);
	snprintf(buf, len, "%s/%u", a, p->prefix_len);
}

static bool on_link(const struct dp_port_cfg *p, uint32_t ip)
{
	uint32_t m = prefix_mask(p->prefix_len);

	return (ip & m) == (p->ipv4 & m);
}

/* A next hop (gateway, route via, static neighbour): an address on the port's subnet that is
 * not one of the port's own (own[0..nown)). */
static int check_next_hop(struct ld *l, const char *key, const char *s,
			  const struct dp_port_cfg *p, const uint32_t *own, int nown, uint32_t *ip)
{
	char net[40];
	int rc = parse_ip(l, key, s, ip);

	if (rc)
		return rc;
	if (!on_link(p, *ip)) {
		subnet_str(p, net, sizeof(net));
		return bad(l, key, "%s is not on the port's subnet %s", s, net);
	}
	for (int i = 0; i < nown; i++)
		if (*ip == own[i])
			return bad(l, key, "%s is the port's own address", s);
	return check_host(l, key, s, *ip, p->prefix_len);
}

/* "routes" of port p (its address already parsed): prefixes and their next hops. */
static int parse_routes(struct ld *l, json_t *port, struct dp_port_cfg *p, const uint32_t *own,
			int nown)
{
	static const char *const keys[] = { "to", "via", NULL };
	json_t *arr, *v;
	size_t i, old;
	int rc = get_arr(l, port, "routes", DP_MAX_ROUTES, &arr);

	if (rc || !arr)
		return rc;
	old = path_key(l, "routes");
	json_array_foreach(arr, i, v) {
		struct dp_route *r = &p->routes[p->nroutes];
		const char *to = NULL, *via = NULL;
		size_t o2 = path_idx(l, i);

		if (!json_is_object(v))
			rc = bad(l, NULL, "expected an object, got %s", type_name(v));
		else if (!json_object_get(v, "to"))
			rc = bad(l, NULL, "missing key \"to\"");
		else if (!(rc = only_keys(l, v, keys)) &&
			 !(rc = get_str(l, v, "to", 64, &to)) &&
			 !(rc = parse_prefix(l, "to", to, 0, &r->prefix, &r->len)) &&
			 !(rc = get_str(l, v, "via", 64, &via))) {
			if (r->prefix & ~prefix_mask(r->len))
				rc = bad(l, "to", "\"%s\" has bits set beyond its prefix length",
					 to);
			for (uint32_t k = 0; !rc && k < p->nroutes; k++)
				if (p->routes[k].prefix == r->prefix && p->routes[k].len == r->len)
					rc = bad(l, "to", "\"%s\" is the same as routes[%u]", to,
						 k);
			r->next_hop = 0;
			if (!rc && via)
				rc = check_next_hop(l, "via", via, p, own, nown, &r->next_hop);
		}
		path_pop(l, o2);
		if (rc)
			break;
		p->nroutes++;
	}
	path_pop(l, old);
	return rc;
}

/* "neighbors" of port p: static ARP entries on its subnet. */
static int parse_neighbors(struct ld *l, json_t *port, struct dp_port_cfg *p,
			   const uint32_t *own, int nown)
{
	static const char *const keys[] = { "ip", "mac", NULL };
	json_t *arr, *v;
	size_t i, old;
	int rc = get_arr(l, port, "neighbors", DP_MAX_NEIGH, &arr);

	if (rc || !arr)
		return rc;
	old = path_key(l, "neighbors");
	json_array_foreach(arr, i, v) {
		struct dp_neigh *n = &p->neigh[p->nneigh];
		const char *ip = NULL, *mac = NULL;
		size_t o2 = path_idx(l, i);

		if (!json_is_object(v))
			rc = bad(l, NULL, "expected an object, got %s", type_name(v));
		else if (!json_object_get(v, "ip"))
			rc = bad(l, NULL, "missing key \"ip\"");
		else if (!json_object_get(v, "mac"))
			rc = bad(l, NULL, "missing key \"mac\"");
		else if (!(rc = only_keys(l, v, keys)) && !(rc = get_str(l, v, "ip", 64, &ip)) &&
			 !(rc = check_next_hop(l, "ip", ip, p, own, nown, &n->ipv4)) &&
			 !(rc = get_str(l, v, "mac", 64, &mac)) &&
			 !(rc = parse_mac(l, "mac", mac, n->mac))) {
			for (uint32_t k = 0; !rc && k < p->nneigh; k++)
				if (p->neigh[k].ipv4 == n->ipv4)
					rc = bad(l, "ip", "%s is already neighbors[%u]", ip, k);
		}
		path_pop(l, o2);
		if (rc)
			break;
		p->nneigh++;
	}
	path_pop(l, old);
	return rc;
}

/* The local address(es) and MAC(s) of the port at the current path: "address" and "mac"
 * for pci/vdev, "addresses" (two) and "macs" (two, optional) for a loopback pair. */
static int parse_local(struct ld *l, json_t *port, bool pair, uint32_t ip[2], uint8_t len[2],
		       uint8_t mac[2][6], bool *has_mac)
{
	const char *akey = pair ? "addresses" : "address", *mkey = pair ? "macs" : "mac";
	const char *wrong_a = pair ? "address" : "addresses", *wrong_m = pair ? "mac" : "macs";
	int n = pair ? 2 : 1;
	json_t *av, *mv;
	int rc = 0;

	if (json_object_get(port, wrong_a))
		return bad(l, wrong_a, "not allowed for this type (it takes \"%s\"%s)", akey,
			   pair ? ", two of them" : "");
	if (json_object_get(port, wrong_m))
		return bad(l, wrong_m, "not allowed for this type (it takes \"%s\"%s)", mkey,
			   pair ? ", two of them" : "");
	av = json_object_get(port, akey);
	if (!av)
		return bad(l, NULL, "missing key \"%s\"", akey);
	mv = json_object_get(port, mkey);
	*has_mac = mv != NULL;
	for (int k = 0; k < 2; k++) {
		json_t *arr = k ? mv : av, *v;
		const char *key = k ? mkey : akey;
		size_t old = path_key(l, key);

		if (!arr) {
			path_pop(l, old);
			continue;
		}
		if (pair && !json_is_array(arr))
			rc = bad(l, NULL, "expected an array of two strings, got %s",
				 type_name(arr));
		else if (pair && json_array_size(arr) != 2)
			rc = bad(l, NULL, "%zu elements, a loopback_pair takes exactly 2",
				 json_array_size(arr));
		for (int i = 0; !rc && i < n; i++) {
			const char *s = NULL;
			size_t o2 = pair ? path_idx(l, (size_t)i) : l->plen;

			v = pair ? json_array_get(arr, (size_t)i) : arr;
			rc = check_str(l, NULL, v, 64, &s);
			if (!rc && k == 0)
				rc = parse_prefix(l, NULL, s, 1, &ip[i], &len[i]);
			if (!rc && k == 0)
				rc = check_host(l, NULL, s, ip[i], len[i]);
			if (!rc && k == 1)
				rc = parse_mac(l, NULL, s, mac[i]);
			path_pop(l, o2);
		}
		if (!rc && pair && k == 0 && ip[0] == ip[1])
			rc = bad(l, NULL, "both ends have the address %s",
				 json_string_value(json_array_get(arr, 0)));
		if (!rc && pair && k == 0 &&
		    (len[0] != len[1] ||
		     (ip[0] & prefix_mask(len[0])) != (ip[1] & prefix_mask(len[1]))))
			rc = bad(l, NULL, "the two ends must be on one subnet (they are wired "
					  "back to back)");
		if (!rc && pair && k == 1 && !memcmp(mac[0], mac[1], 6))
			rc = bad(l, NULL, "both ends have the same MAC address");
		path_pop(l, old);
		if (rc)
			return rc;
	}
	return 0;
}

/* Parse ports[idx] (the current path) into cfg->ports[cfg->nports ...]. */
static int parse_port(struct ld *l, json_t *port, size_t idx, struct dp_config *cfg)
{
	static const char *const keys[] = { "name", "type", "device", "address", "addresses",
					    "mac", "macs", "gateway", "routes", "neighbors", "mtu",
					    "rx_desc", "tx_desc", "impair", NULL };
	static const char *const types[] = { "pci", "vdev", "loopback_pair" };
	const char *name = NULL, *dev = NULL, *gw = NULL;
	char base[DP_NAME_MAX + 1];
	uint32_t ip[2] = { 0, 0 }, mtu = 1500;
	uint8_t len[2] = { 0, 0 }, mac[2][6];
	struct dp_port_cfg *p;
	bool pair, has_mac = false;
	int type = -1, rc;

	if (!json_is_object(port))
		return bad(l, NULL, "expected an object, got %s", type_name(port));
	if ((rc = only_keys(l, port, keys)))
		return rc;
	if (!json_object_get(port, "type"))
		return bad(l, NULL, "missing key \"type\"");
	if ((rc = get_enum(l, port, "type", types, 3, &type)))
		return rc;
	pair = type == 2;
	if (cfg->nports + (pair ? 2u : 1u) > DP_MAX_PORTS)
		return bad(l, NULL, "one port too many: at most %u (a loopback_pair counts as two)",
			   DP_MAX_PORTS);
	p = &cfg->ports[cfg->nports];
	memset(p, 0, sizeof(*p));
	p->kind = pair ? DP_PORT_LOOPBACK : type == 0 ? DP_PORT_PCI : DP_PORT_VDEV;
	p->rx_desc = 1024;
	p->tx_desc = 1024;

	if ((rc = get_str(l, port, "name", pair ? DP_NAME_MAX - 1 : DP_NAME_MAX, &name)))
		return rc;
	for (const char *c = name; c && *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
			return bad(l, "name", "\"%s\" is not a name (letters, digits, '_', '-', "
					   "'.')",
				   name);
	if (name)
		snprintf(base, sizeof(base), "%s", name);
	else
		snprintf(base, sizeof(base), "port%zu", idx);
	if (pair)
		snprintf(p->name, sizeof(p->name), "%.30s0", base);
	else
		snprintf(p->name, sizeof(p->name), "%s", base);

	if (pair && json_object_get(port, "device"))
		return bad(l, "device", "not allowed for a loopback_pair (srdd makes its rings)");
	if (!pair && !json_object_get(port, "device"))
		return bad(l, NULL, "missing key \"device\"");
	if ((rc = get_str(l, port, "device", DP_PATH_MAX - 1, &dev)))
		return rc;
	if (dev && (rc = type == 0 ? check_pci(l, "device", dev) : check_vdev(l, "device", dev)))
		return rc;
	if (dev)
		snprintf(p->dev, sizeof(p->dev), "%s", dev);

	if ((rc = parse_local(l, port, pair, ip, len, mac, &has_mac)))
		return rc;
	p->ipv4 = ip[0];
	p->prefix_len = len[0];
	if ((rc = get_u32(l, port, "mtu", DP_MIN_MTU, DP_MAX_MTU, &mtu)) ||
	    (rc = get_pow2(l, port, "rx_desc", 64, 32768, &p->rx_desc)) ||
	    (rc = get_pow2(l, port, "tx_desc", 64, 32768, &p->tx_desc)) ||
	    (rc = get_str(l, port, "gateway", 64, &gw)))
		return rc;
	p->mtu = (uint16_t)mtu;
	if (gw && (rc = check_next_hop(l, "gateway", gw, p, ip, pair ? 2 : 1, &p->gateway)))
		return rc;
	if ((rc = parse_routes(l, port, p, ip, pair ? 2 : 1)) ||
	    (rc = parse_neighbors(l, port, p, ip, pair ? 2 : 1)) ||
	    (rc = parse_impair(l, port, &p->impair)))
		return rc;
	if (has_mac) {
		memcpy(p->mac, mac[0], 6);
		p->has_mac = 1;
	}
	if (pair) {
		struct dp_port_cfg *q = p + 1;

		*q = *p;
		snprintf(q->name, sizeof(q->name), "%.30s1", base);
		q->ipv4 = ip[1];
		q->prefix_len = len[1];
		if (has_mac)
			memcpy(q->mac, mac[1], 6);
	}
	return 0;
}

/* Is port n's name, address, MAC or device already used by an earlier port? */
static int check_unique(struct ld *l, const struct dp_config *cfg, uint32_t n)
{
	const struct dp_port_cfg *p = &cfg->ports[n];
	size_t dlen = strcspn(p->dev, ",");

	for (uint32_t k = 0; k < n; k++) {
		const struct dp_port_cfg *q = &cfg->ports[k];
		char a[INET_ADDRSTRLEN];

		if (strcmp(p->name, q->name) == 0)
			return bad(l, "name", "\"%s\" is already the name of another port",
				   p->name);
		if (p->ipv4 == q->ipv4) {
			ip_str(p->ipv4, a);
			return bad(l, p->kind == DP_PORT_LOOPBACK ? "addresses" : "address",
				   "%s is already the address of port \"%s\"", a, q->name);
		}
		if (p->has_mac && q->has_mac && memcmp(p->mac, q->mac, 6) == 0)
			return bad(l, p->kind == DP_PORT_LOOPBACK ? "macs" : "mac",
				   "already the MAC address of port \"%s\"", q->name);
		if (dlen && dlen == strcspn(q->dev, ",") && strncmp(p->dev, q->dev, dlen) == 0)
			return bad(l, "device", "\"%.*s\" is already the device of port \"%s\"",
				   (int)dlen, p->dev, q->name);
	}
	return 0;
}

/* "ports": each entry (a loopback pair makes two), then their uniqueness. */
static int parse_ports(struct ld *l, json_t *root, struct dp_config *cfg)
{
	json_t *arr = json_object_get(root, "ports"), *v;
	size_t i, old;
	int rc = 0;

	if (!arr)
		return bad(l, NULL, "missing key \"ports\" (at least one port is needed)");
	if (!json_is_array(arr))
		return bad(l, "ports", "expected an array, got %s", type_name(arr));
	if (json_array_size(arr) == 0)
		return bad(l, "ports", "empty (at least one port is needed)");
	old = path_key(l, "ports");
	json_array_foreach(arr, i, v) {
		size_t o2 = path_idx(l, i);
		uint32_t first = cfg->nports, n;

		rc = parse_port(l, v, i, cfg);
		n = rc ? first : first + (cfg->ports[first].kind == DP_PORT_LOOPBACK ? 2u : 1u);
		for (uint32_t k = first; !rc && k < n; k++)
			rc = check_unique(l, cfg, k);
		path_pop(l, o2);
		if (rc)
			break;
		cfg->nports = n;
	}
	path_pop(l, old);
	return rc;
}

/* ---- the whole file ---- */

/* Values that depend on more than one section. */
static int check_across(struct ld *l, struct dp_config *cfg)
{
	uint32_t min_mtu = DP_MAX_MTU;
	uint64_t rings, area;

	if ((uint32_t)cfg->udp_port + cfg->workers - 1 > 65535)
		return bad(l, "udp_port", "%u + %u workers - 1 is beyond 65535 (worker w listens "
					  "on udp_port + w)", cfg->udp_port, cfg->workers);
	/* An app's region holds its header and rings, then a send area and a receive area of
	 * half the rest each (dataplane/dp_shm.c); each must hold the longest message.  The
	 * estimate allows a page of alignment per ring. */
	rings = SRD_SHM_HDR_SIZE + 2 * (sizeof(struct srd_shm_ring) + 4096) +
		(uint64_t)cfg->sq_entries * sizeof(struct srd_sqe) +
		(uint64_t)cfg->cq_entries * sizeof(struct srd_cqe);
	area = cfg->app_region_bytes > rings ? (cfg->app_region_bytes - rings) / 2 : 0;
	if (area < cfg->engine.max_msg_size)
		return bad(l, "apps.region_mb", "%llu MiB leaves send and receive areas of %.1f "
						"MiB each, less than protocol.max_msg_mb (%u MiB)",
			   (unsigned long long)(cfg->app_region_bytes / MIB), area / (double)MIB,
			   cfg->engine.max_msg_size / (uint32_t)MIB);
	for (uint32_t i = 0; i < cfg->nports; i++) {
		const struct dp_port_cfg *p = &cfg->ports[i];
		uint64_t need = (uint64_t)cfg->workers * (p->rx_desc + p->tx_desc);

		if (cfg->mbufs < need)
			return bad(l, "mbufs", "%u is fewer than port \"%s\" holds in its rings "
					       "(%u workers x (%u rx_desc + %u tx_desc) = %llu)",
				   cfg->mbufs, p->name, cfg->workers, p->rx_desc, p->tx_desc,
				   (unsigned long long)need);
		if (p->kind == DP_PORT_PCI)
			for (int k = 0; k < cfg->eal_argc; k++)
				if (strcmp(cfg->eal_argv[k], "--no-pci") == 0)
					return bad(l, "eal", "\"--no-pci\" leaves port \"%s\" (%s) "
							     "without its device", p->name, p->dev);
		if (p->mtu < min_mtu)
			min_mtu = p->mtu;
	}
	/* A segment fills the smallest MTU: IPv4 + UDP + the largest SRD header + payload. */
	cfg->engine.seg_size = min_mtu - DP_IP_UDP_HLEN - SRD_HDR_MAX_LEN;
	return 0;
}

/*
 * A worker that sleeps when idle holds packets up to max_sleep_us (more, as the kernel
 * rounds sleeps up) at each end before it sees them: Swift would take that for queueing
 * and keep its window at the minimum.  The target delay covers it: at least
 * 4 * max_sleep_us + 200 us under the sleep policy (docs/config.md, "protocol").
 */
static void sleep_aware_target(struct dp_config *cfg)
{
	uint64_t floor_ns = 4ull * cfg->idle_sleep_max_us * 1000u + 200000u;

	if (cfg->idle == DP_IDLE_SLEEP && cfg->engine.cc.target_delay_ns < floor_ns)
		cfg->engine.cc.target_delay_ns = floor_ns;
}

/* The top-level object, then the checks across sections and the core's own check. */
static int parse_root(struct ld *l, json_t *root, struct dp_config *cfg)
{
	static const char *const keys[] = { "eal", "workers", "idle", "udp_port", "mbufs",
					    "control", "apps", "log_level", "protocol", "ports",
					    NULL };
	static const char *const levels[] = { "emerg", "alert", "crit", "err", "warning",
					      "notice", "info", "debug" };
	uint32_t port = cfg->udp_port;
	int level = cfg->log_level - 1;
	char msg[256];
	int rc;

	if ((rc = only_keys(l, root, keys)) || (rc = parse_eal(l, root, cfg)) ||
	    (rc = get_u32(l, root, "workers", 1, 16, &cfg->workers)) ||
	    (rc = parse_idle(l, root, cfg)) ||
	    (rc = get_u32(l, root, "udp_port", 1, 65535, &port)) ||
	    (rc = get_u32(l, root, "mbufs", 1024, 1u << 24, &cfg->mbufs)) ||
	    (rc = parse_control(l, root, cfg)) || (rc = parse_apps(l, root, cfg)) ||
	    (rc = get_enum(l, root, "log_level", levels, 8, &level)) ||
	    (rc = parse_protocol(l, root, cfg)) || (rc = parse_ports(l, root, cfg)))
		return rc;
	cfg->udp_port = (uint16_t)port;
	cfg->log_level = level + 1; /* RTE_LOG_EMERG is 1 ... RTE_LOG_DEBUG is 8 */
	if ((rc = check_across(l, cfg)))
		return rc;
	sleep_aware_target(cfg);
	if (srd_config_check(&cfg->engine, msg, sizeof(msg)))
		return bad(l, "protocol", "%s", msg);
	return 0;
}

/* Read the whole file into a NUL-terminated heap buffer. */
static int read_file(struct ld *l, const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? -ENOENT : (errno == EACCES || errno == EPERM) ? -EACCES
										   : -EIO;
		if (l->errlen)
			snprintf(l->err, l->errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EIO;
		if (l->errlen)
			snprintf(l->err, l->errlen, "%s: not a regular file", path);
		goto close_fd;
	}
	if (st.st_size > (off_t)DP_CFG_FILE_MAX) {
		rc = bad(l, NULL, "larger than %u bytes: not a configuration file",
			 DP_CFG_FILE_MAX);
		goto close_fd;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = oom(l);
		goto close_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -EIO;
			if (l->errlen)
				snprintf(l->err, l->errlen, "%s: cannot read: %s", path,
					 n < 0 ? strerror(errno) : "file shrank while read");
			goto free_buf;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*outlen = got;
	return 0;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return rc;
}

void dp_config_default(struct dp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->idle = DP_IDLE_BUSY;
	cfg->idle_sleep_max_us = 100;
	cfg->udp_port = 9371;
	cfg->mbufs = 8192;
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", "/run/srd/srdd.sock");
	cfg->socket_mode = 0660;
	cfg->app_region_bytes = 64 * MIB;
	cfg->sq_entries = 1024;
	cfg->cq_entries = 4096;
	cfg->max_apps = 16;
	cfg->max_endpoints = 1024;
	cfg->engine.conn_idle_ns = 500ull * 1000000u;
	cfg->log_level = 7; /* RTE_LOG_INFO */
	srd_config_default(&cfg->engine);
}

int dp_config_load(const char *path, struct dp_config *cfg, char *err, size_t errlen)
{
	struct ld l = { .file = path, .err = err, .errlen = errlen };
	json_error_t je;
	json_t *root;
	size_t len = 0;
	char *buf = NULL;
	int rc;

	dp_config_default(cfg);
	if (errlen)
		err[0] = '\0';
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	rc = read_file(&l, path, &buf, &len);
	if (rc)
		return rc;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return oom(&l);
		return bad(&l, NULL, "line %d, column %d: %s", je.line, je.column, je.text);
	}
	if (!json_is_object(root))
		rc = bad(&l, NULL, "the top level must be an object, got %s", type_name(root));
	else
		rc = parse_root(&l, root, cfg);
	json_decref(root);
	if (rc)
		dp_config_free(cfg);
	return rc;
}

void dp_config_free(struct dp_config *cfg)
{
	for (int i = 0; i < cfg->eal_argc; i++) {
		free(cfg->eal_argv[i]);
		cfg->eal_argv[i] = NULL;
	}
	cfg->eal_argc = 0;
}
