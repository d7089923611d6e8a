/*
 * dp_config_int.h — private to the config loader: dp_config.c (defaults, load, free, the
 * top level, its sections and the checks across them), dp_config_json.c (typed JSON values
 * and the "FILE: KEY: REASON" messages) and dp_config_ports.c (the ports).
 *
 * Every function taking a struct ld reports a refusal with dp_cfg_bad() (-EINVAL) or
 * dp_cfg_oom() (-ENOMEM) and returns it; 0 means the value was read (or was absent).
 */
#ifndef DP_CONFIG_INT_H
#define DP_CONFIG_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"

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

/* ---- messages and the path (dp_config_json.c) ---- */

/* Write "FILE: PATH[.key]: reason" (or "FILE: reason" at the top level) and return -EINVAL.
 * key may be NULL (the value at the current path is meant). */
int dp_cfg_bad(struct ld *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write "FILE: out of memory" and return -ENOMEM. */
int dp_cfg_oom(struct ld *l);
/* Descend into key (an object member) or element i of the array at the current path.
 * Return the length to restore with dp_cfg_path_pop(). */
size_t dp_cfg_path_key(struct ld *l, const char *key);
size_t dp_cfg_path_idx(struct ld *l, size_t i);
void dp_cfg_path_pop(struct ld *l, size_t old);
/* "an object", "a string", ... (for messages). */
const char *dp_cfg_type_name(const json_t *v);
/* Refuse any member of obj not in keys (NULL-terminated); "comment" is always allowed. */
int dp_cfg_only_keys(struct ld *l, json_t *obj, const char *const *keys);

/* ---- typed values (dp_config_json.c): check_* read a value v (named key under the
 * current path, or the current path itself when key is NULL); get_* look key up in obj
 * and leave *out alone when it is absent ---- */

int dp_cfg_check_int(struct ld *l, const char *key, json_t *v, long long lo, long long hi,
		     long long *out);
/* A seed: an integer in [0, 2^63-1], left as it is if the key is absent. */
int dp_cfg_get_seed(struct ld *l, json_t *obj, const char *key, uint64_t *out);
int dp_cfg_get_u32(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
		   uint32_t *out);
int dp_cfg_get_pow2(struct ld *l, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
		    uint32_t *out);
int dp_cfg_get_num(struct ld *l, json_t *obj, const char *key, double lo, double hi,
		   double *out);
int dp_cfg_get_us(struct ld *l, json_t *obj, const char *key, double lo, double hi,
		  uint64_t *ns);
int dp_cfg_get_bool(struct ld *l, json_t *obj, const char *key, uint8_t *out);
int dp_cfg_check_str(struct ld *l, const char *key, json_t *v, size_t maxlen,
		     const char **out);
int dp_cfg_get_str(struct ld *l, json_t *obj, const char *key, size_t maxlen,
		   const char **out);
int dp_cfg_get_enum(struct ld *l, json_t *obj, const char *key, const char *const *names,
		    int n, int *out);
int dp_cfg_get_obj(struct ld *l, json_t *obj, const char *key, json_t **out);
int dp_cfg_get_arr(struct ld *l, json_t *obj, const char *key, size_t max, json_t **out);

/* ---- the ports (dp_config_ports.c) ---- */

/* "ports" of root: each entry into cfg->ports (a loopback pair makes two), then their
 * uniqueness. */
int dp_cfg_parse_ports(struct ld *l, json_t *root, struct dp_config *cfg);

#endif /* DP_CONFIG_INT_H */
