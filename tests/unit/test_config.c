/*
 * test_config.c — unit tests of srdd's configuration loader (dataplane/dp_config.c).
 *
 * Every shipped file under config/ must load, and so must the complete example in
 * docs/config.md.  The source tree is found through the environment variable
 * SRD_SOURCE_DIR (meson sets it; by hand: SRD_SOURCE_DIR=$PWD), "." when unset.  Each
 * refusal test writes its JSON to a temporary file (mkstemp, removed afterwards) and checks
 * -EINVAL and a message that starts with the file name and names the key and the reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp_config.h"

#define ERR_LEN 512u

/* ---- helpers ---- */

/* Load the shipped file config/name from the source tree. */
static int load_shipped(const char *name, struct dp_config *cfg, char *err)
{
	const char *dir = getenv("SRD_SOURCE_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/config/%s", dir && *dir ? dir : ".", name);
	return dp_config_load(path, cfg, err, ERR_LEN);
}

/* Write json to a new temporary file; its name goes to path (64 bytes). */
static void write_tmp(const char *json, char *path)
{
	size_t len = strlen(json);
	int fd;

	snprintf(path, 64, "/tmp/srd_test_config_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Load json from a temporary file; the message is copied to err.  Returns the result. */
static int load_json(const char *json, struct dp_config *cfg, char *err, char *path)
{
	int rc;

	write_tmp(json, path);
	rc = dp_config_load(path, cfg, err, ERR_LEN);
	unlink(path);
	return rc;
}

/* json must be refused with -EINVAL and a message "FILE: ..." that contains every
 * string of the NULL-terminated list (the key and the reason). */
static void expect_refused(const char *json, ...)
{
	struct dp_config cfg;
	char err[ERR_LEN], path[64];
	const char *want;
	va_list ap;
	int rc;

	rc = load_json(json, &cfg, err, path);
	if (rc != -EINVAL)
		print_error("loaded with %d, message \"%s\"\n", rc, err);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(cfg.eal_argc, 0); /* freed on failure */
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_true(strncmp(err + strlen(path), ": ", 2) == 0);
	va_start(ap, json);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (!strstr(err, want))
			print_error("message \"%s\" lacks \"%s\"\n", err, want);
		assert_non_null(strstr(err, want));
	}
	va_end(ap);
}

/* A port that is valid in every test that does not change it. */
#define TAP_PORT                                                                         \
	"{ \"name\": \"t0\", \"type\": \"vdev\", \"device\": \"net_tap0,iface=x\", "     \
	"\"address\": \"10.1.0.2/24\" }"

/* ---- the shipped files ---- */

static void test_loopback_json(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load_shipped("loopback.json", &cfg, err), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.nports, 2);
	assert_int_equal(cfg.ports[0].kind, DP_PORT_LOOPBACK);
	assert_int_equal(cfg.ports[1].kind, DP_PORT_LOOPBACK);
	assert_string_equal(cfg.ports[0].name, "lo0");
	assert_string_equal(cfg.ports[1].name, "lo1");
	assert_int_equal(cfg.ports[0].ipv4, 0x0a4d0001u);
	assert_int_equal(cfg.ports[1].ipv4, 0x0a4d0002u);
	assert_int_equal(cfg.ports[0].prefix_len, 24);
	assert_int_equal(cfg.ports[1].mtu, 9000);
	assert_int_equal(cfg.ports[0].has_mac, 1);
	assert_int_equal(cfg.ports[1].mac[5], 2);
	assert_int_equal(cfg.ports[0].impair.enabled, 0);
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(cfg.idle, DP_IDLE_ADAPTIVE);
	assert_int_equal(cfg.idle_spin_us, 100);
	assert_int_equal(cfg.idle_sleep_max_us, 100);
	assert_int_equal(cfg.idle_deep_sleep_us, 1000);
	assert_int_equal(cfg.engine.seg_size, 9000 - 20 - 8 - 56);
	assert_int_equal(cfg.engine.mode, SRD_MODE_MULTIPATH);
	assert_int_equal(cfg.engine.min_rto_ns, 100000); /* the adaptive policy raises nothing */
	assert_int_equal(cfg.engine.min_tlp_ns, 20000);  /* srdd's floor, not the core's 0 */
	assert_int_equal(cfg.engine.conn_idle_ns, 500000000ull);
	assert_int_equal(cfg.socket_mode, 0660);
	assert_int_equal(cfg.nallowed_uids, 1);
	assert_int_equal(cfg.allowed_uids[0], 0);
	assert_int_equal(cfg.log_level, 7);
	assert_true(cfg.eal_argc >= 2);
	assert_string_equal(cfg.eal_argv[0], "--no-huge");
	assert_int_equal(srd_config_check(&cfg.engine, err, sizeof(err)), 0);
	dp_config_free(&cfg);
	assert_int_equal(cfg.eal_argc, 0);
}

static void test_tap_json(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load_shipped("tap.json", &cfg, err), 0);
	assert_int_equal(cfg.nports, 1);
	assert_int_equal(cfg.ports[0].kind, DP_PORT_VDEV);
	assert_non_null(strstr(cfg.ports[0].dev, "net_tap"));
	assert_non_null(strstr(cfg.ports[0].dev, "iface=srd-tap0"));
	assert_int_equal(cfg.ports[0].ipv4, 0x0a580002u);
	assert_int_equal(cfg.ports[0].gateway, 0x0a580001u);
	assert_int_equal(cfg.ports[0].mtu, 1500);
	assert_int_equal(cfg.engine.seg_size, 1500 - 20 - 8 - 56);
	dp_config_free(&cfg);
}

/* The value after flag in the EAL arguments (NULL: absent). */
static const char *eal_value(const struct dp_config *cfg, const char *flag)
{
	for (int i = 0; i + 1 < cfg->eal_argc; i++)
		if (strcmp(cfg->eal_argv[i], flag) == 0)
			return cfg->eal_argv[i + 1];
	return NULL;
}

static void test_memif_json(void **state)
{
	struct dp_config a, b;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load_shipped("memif-a.json", &a, err), 0);
	assert_int_equal(load_shipped("memif-b.json", &b, err), 0);
	assert_non_null(eal_value(&a, "--file-prefix"));
	assert_non_null(eal_value(&b, "--file-prefix"));
	assert_string_not_equal(eal_value(&a, "--file-prefix"), eal_value(&b, "--file-prefix"));
	assert_string_not_equal(a.socket_path, b.socket_path);
	assert_non_null(strstr(a.ports[0].dev, "role=server"));
	assert_non_null(strstr(b.ports[0].dev, "role=client"));
	assert_non_null(strstr(a.ports[0].dev, "socket=/run/srd/memif.sock"));
	assert_non_null(strstr(b.ports[0].dev, "socket=/run/srd/memif.sock"));
	assert_int_equal(a.ports[0].ipv4, 0x0a630001u);
	assert_int_equal(b.ports[0].ipv4, 0x0a630002u);
	assert_int_equal(a.idle, DP_IDLE_ADAPTIVE);
	assert_int_equal(b.idle, DP_IDLE_ADAPTIVE);
	/* the two daemons share the machine's CPUs with the apps rather than one CPU */
	assert_null(eal_value(&a, "-l"));
	assert_string_equal(eal_value(&a, "--lcores"), "0@(0-1)");
	assert_string_equal(eal_value(&b, "--lcores"), "0@(0-1)");
	dp_config_free(&a);
	dp_config_free(&b);
}

static void test_veth_json(void **state)
{
	struct dp_config a, b;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load_shipped("veth-a.json", &a, err), 0);
	assert_int_equal(load_shipped("veth-b.json", &b, err), 0);
	assert_string_not_equal(eal_value(&a, "--file-prefix"), eal_value(&b, "--file-prefix"));
	assert_string_not_equal(a.socket_path, b.socket_path);
	/* jumbo frames: ring frames that hold them (dp_port.c, af_packet above 1500) */
	assert_string_equal(a.ports[0].dev, "net_af_packet0,iface=srd-veth-a,blocksz=36864,"
					    "framesz=9216,framecnt=512");
	assert_string_equal(b.ports[0].dev, "net_af_packet0,iface=srd-veth-b,blocksz=36864,"
					    "framesz=9216,framecnt=512");
	assert_int_equal(a.ports[0].mtu, 9000);
	assert_int_equal(b.ports[0].mtu, 9000);
	/* frames that never leave the veth pair: no UDP checksum, as the kernel's own sockets */
	assert_int_equal(a.ports[0].udp_checksum, 0);
	assert_int_equal(b.ports[0].udp_checksum, 0);
	assert_int_equal(a.ports[0].ipv4, 0x0a7c000bu);
	assert_int_equal(b.ports[0].ipv4, 0x0a7c000cu);
	assert_int_equal(a.idle, DP_IDLE_ADAPTIVE);
	assert_int_equal(b.idle, DP_IDLE_ADAPTIVE);
	dp_config_free(&a);
	dp_config_free(&b);
}

static void test_baremetal_json(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN];
	bool no_huge = false;

	(void)state;
	assert_int_equal(load_shipped("baremetal.example.json", &cfg, err), 0);
	for (int i = 0; i < cfg.eal_argc; i++)
		no_huge = no_huge || strcmp(cfg.eal_argv[i], "--no-huge") == 0;
	assert_false(no_huge);
	assert_int_equal(cfg.ports[0].kind, DP_PORT_PCI);
	assert_string_equal(cfg.ports[0].dev, "0000:3b:00.0");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.idle, DP_IDLE_BUSY);
	assert_int_equal(cfg.ports[0].mtu, 9000);
	assert_int_not_equal(cfg.ports[0].gateway, 0);
	assert_int_equal(cfg.ports[0].nroutes, 1);
	assert_int_equal(cfg.ports[0].routes[0].prefix, 0x0a1e0000u);
	assert_int_equal(cfg.ports[0].routes[0].len, 16);
	assert_int_equal(cfg.nallowed_gids, 1);
	dp_config_free(&cfg);
}

/* The complete example of docs/config.md (its first ```json block) loads. */
static void test_docs_example(void **state)
{
	const char *dir = getenv("SRD_SOURCE_DIR");
	struct dp_config cfg;
	char err[ERR_LEN], path[512], tmp[64];
	char *doc, *start, *end;
	FILE *f;
	long len;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/config.md", dir && *dir ? dir : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	doc = calloc(1, (size_t)len + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	start = strstr(doc, "## A complete example");
	assert_non_null(start);
	start = strstr(start, "```json\n");
	assert_non_null(start);
	start += strlen("```json\n");
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	if (load_json(start, &cfg, err, tmp) != 0)
		print_error("%s\n", err);
	free(doc);
	assert_string_equal(err, "");
	assert_int_equal(cfg.nports, 3);
	assert_int_equal(cfg.ports[0].impair.path[2].rate_bps, 10000000000ull);
	assert_int_equal(cfg.ports[0].impair.path[3].blackhole, 1);
	dp_config_free(&cfg);
}

/* ---- what a file can set, and the defaults ---- */

static void test_minimal_defaults(void **state)
{
	struct dp_config cfg, def;
	char err[ERR_LEN], path[64];

	(void)state;
	assert_int_equal(load_json("{ \"ports\": [" TAP_PORT "] }", &cfg, err, path), 0);
	dp_config_default(&def);
	assert_int_equal(cfg.eal_argc, 0);
	assert_int_equal(cfg.workers, def.workers);
	assert_int_equal(cfg.udp_port, 9371);
	assert_int_equal(cfg.idle, DP_IDLE_BUSY);
	assert_string_equal(cfg.socket_path, def.socket_path);
	assert_int_equal(cfg.app_region_bytes, 64u << 20);
	assert_int_equal(cfg.ports[0].mtu, 1500);
	assert_int_equal(cfg.ports[0].rx_desc, 1024);
	assert_int_equal(cfg.ports[0].has_mac, 0);
	assert_int_equal(cfg.ports[0].udp_checksum, -1);
	assert_int_equal(cfg.ports[0].impair.enabled, 0);
	assert_int_equal(cfg.engine.paths, def.engine.paths);
	assert_int_equal(cfg.engine.seg_size, 1500 - 84);
	assert_string_equal(cfg.file, path);
	dp_config_free(&cfg);
}

static void test_full_port(void **state)
{
	static const char json[] =
		"{ \"workers\": 2, \"udp_port\": 20000, \"log_level\": \"debug\",\n"
		"  \"eal\": [\"-l\", \"0-1\"],\n"
		"  \"control\": { \"socket\": \"/tmp/x.sock\", \"mode\": \"0600\",\n"
		"               \"allowed_gids\": [5, 6] },\n"
		"  \"protocol\": { \"mode\": \"single\", \"cc\": \"dctcp\", \"paths\": 4,\n"
		"                \"init_rtt_us\": 2.5, \"cc_min_cwnd\": 0.5, \"cc_init_cwnd\": 8,\n"
		"                \"ack_delay_us\": 0, \"conn_idle_ms\": 1000, \"seed\": 42,\n"
		"                \"setup_cookie_pct\": 0, \"rx_credit_kb\": 256 },\n"
		"  \"ports\": [ { \"name\": \"p\", \"type\": \"pci\", \"device\": \"3b:00.1\",\n"
		"    \"address\": \"192.168.7.10/23\", \"gateway\": \"192.168.6.1\",\n"
		"    \"mac\": \"02:AA:bb:cc:dd:0e\", \"mtu\": 4000, \"rx_desc\": 512,\n"
		"    \"udp_checksum\": false,\n"
		"    \"routes\": [ { \"to\": \"10.0.0.0/8\", \"via\": \"192.168.7.254\" },\n"
		"                { \"to\": \"172.16.0.0/12\" } ],\n"
		"    \"neighbors\": [ { \"ip\": \"192.168.6.1\",\n"
		"                   \"mac\": \"02:00:00:00:00:01\" } ],\n"
		"    \"impair\": { \"paths\": 4, \"loss\": 0.01, \"delay_us\": 1.5,\n"
		"                \"rate_gbps\": 10, \"ecn_kb\": 64, \"seed\": 7,\n"
		"                \"blackhole\": [1],\n"
		"                \"per_path\": [ { \"path\": 2, \"loss\": 0.5,\n"
		"                                \"blackhole\": true,\n"
		"                                \"comment\": \"a bad link\" } ] } },\n"
		"    { \"type\": \"loopback_pair\",\n"
		"      \"addresses\": [\"10.5.0.1/30\", \"10.5.0.2/30\"] }\n"
		"  ] }\n";
	struct dp_config cfg;
	char err[ERR_LEN], path[64];
	const struct dp_port_cfg *p = &cfg.ports[0];

	(void)state;
	assert_int_equal(load_json(json, &cfg, err, path), 0);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.protocol_seed, 42);
	assert_int_equal(cfg.udp_port, 20000);
	assert_int_equal(cfg.log_level, 8);
	assert_int_equal(cfg.eal_argc, 2);
	assert_string_equal(cfg.socket_path, "/tmp/x.sock");
	assert_int_equal(cfg.socket_mode, 0600);
	assert_int_equal(cfg.nallowed_gids, 2);
	assert_int_equal(cfg.allowed_gids[1], 6);
	assert_int_equal(cfg.engine.mode, SRD_MODE_SINGLE);
	assert_int_equal(cfg.engine.setup_cookie_pct, 0);
	assert_int_equal(cfg.engine.rx_credit_bytes, 256 * 1024);
	assert_int_equal(cfg.engine.cc.algo, SRD_CC_DCTCP);
	assert_int_equal(cfg.engine.init_rtt_ns, 2500);
	assert_int_equal(cfg.engine.cc.min_cwnd, 128);
	assert_int_equal(cfg.engine.cc.init_cwnd, 8 * 256);
	assert_int_equal(cfg.engine.ack_delay_ns, 0);
	assert_int_equal(cfg.engine.conn_idle_ns, 1000000000ull);
	assert_int_equal(cfg.engine.seg_size, 1500 - 84); /* the pair's MTU is the smallest */
	assert_int_equal(p->kind, DP_PORT_PCI);
	assert_int_equal(p->ipv4, 0xc0a8070au);
	assert_int_equal(p->prefix_len, 23);
	assert_int_equal(p->gateway, 0xc0a80601u);
	assert_int_equal(p->has_mac, 1);
	assert_int_equal(p->mac[1], 0xaa);
	assert_int_equal(p->mac[5], 0x0e);
	assert_int_equal(p->rx_desc, 512);
	assert_int_equal(p->tx_desc, 1024);
	assert_int_equal(p->udp_checksum, 0);
	assert_int_equal(cfg.ports[1].udp_checksum, -1); /* absent: by the port's kind */
	assert_int_equal(p->routes[0].prefix, 0x0a000000u);
	assert_int_equal(p->routes[0].len, 8);
	assert_int_equal(p->routes[0].next_hop, 0xc0a807feu);
	assert_int_equal(p->routes[1].next_hop, 0);
	assert_int_equal(p->nneigh, 1);
	assert_int_equal(p->neigh[0].mac[5], 1);
	assert_int_equal(p->impair.enabled, 1);
	assert_int_equal(p->impair.npaths, 4);
	assert_int_equal(p->impair.seed, 7);
	assert_true(p->impair.path[0].loss == 0.01);
	assert_int_equal(p->impair.path[0].delay_ns, 1500);
	assert_int_equal(p->impair.path[0].rate_bps, 10000000000ull);
	assert_int_equal(p->impair.path[0].ecn_bytes, 65536);
	assert_int_equal(p->impair.path[0].blackhole, 0);
	assert_int_equal(p->impair.path[1].blackhole, 1);
	assert_true(p->impair.path[2].loss == 0.5);
	assert_int_equal(p->impair.path[2].blackhole, 1);
	assert_int_equal(p->impair.path[2].delay_ns, 1500);
	assert_int_equal(p->impair.path[3].blackhole, 0);
	assert_int_equal(cfg.nports, 3);
	assert_string_equal(cfg.ports[1].name, "port10");
	assert_string_equal(cfg.ports[2].name, "port11");
	assert_int_equal(cfg.ports[2].ipv4, 0x0a050002u);
	dp_config_free(&cfg);
}

static void test_missing_file(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(dp_config_load("/nonexistent/srd.json", &cfg, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/srd.json: "));
	dp_config_free(&cfg);
}

/* ---- refusals: each names the file, the key and the reason ---- */

static void test_unknown_key_top(void **state)
{
	(void)state;
	expect_refused("{ \"wrokers\": 2, \"ports\": [" TAP_PORT "] }",
		       ": wrokers: unknown key", "did you mean \"workers\"", NULL);
}

static void test_unknown_key_port(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [" TAP_PORT ", { \"type\": \"vdev\", \"device\": "
		       "\"net_tap1\", \"address\": \"10.2.0.2/24\", \"mtuu\": 1500 }] }",
		       ": ports[1].mtuu: unknown key", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { \"loss\": 0.1, "
		       "\"per_path\": [ { \"path\": 1, \"los\": 0.2 } ] } }] }",
		       ": ports[0].impair.per_path[0].los: unknown key", NULL);
}

/* The impairment stage may not hold a packet as long as a connection is remembered. */
static void test_impair_hold(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN], path[64];

	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { \"delay_us\": 500000 "
		       "} }] }", ": ports[0].impair: path 0 can hold a packet 500.0 ms",
		       "not less than protocol.conn_idle_ms (500)", NULL);
	/* 4096 frames of 9014 bytes at 1 Gbit/s: 295 ms, then 250 ms of delay */
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"mtu\": 9000, "
		       "\"addresses\": [\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { "
		       "\"per_path\": [ { \"path\": 1, \"rate_gbps\": 1, \"delay_us\": 250000 } ] "
		       "} }] }", ": ports[0].impair: path 1 can hold a packet 545.4 ms", NULL);
	/* the same with connections remembered longer */
	assert_int_equal(load_json("{ \"protocol\": { \"conn_idle_ms\": 600 }, \"ports\": [{ "
				   "\"type\": \"loopback_pair\", \"mtu\": 9000, \"addresses\": "
				   "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { "
				   "\"per_path\": [ { \"path\": 1, \"rate_gbps\": 1, "
				   "\"delay_us\": 250000 } ] } }] }", &cfg, err, path), 0);
	dp_config_free(&cfg);
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"mtu\": \"9000\" }] }",
		       ": ports[0].mtu: expected an integer, got a string", NULL);
	expect_refused("{ \"workers\": 1.5, \"ports\": [" TAP_PORT "] }",
		       ": workers: expected an integer, got a real number", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"udp_checksum\": 0 }] }",
		       ": ports[0].udp_checksum: expected true or false, got an integer", NULL);
	expect_refused("{ \"eal\": [\"-l\", 0], \"ports\": [" TAP_PORT "] }",
		       ": eal[1]: expected a string, got an integer", NULL);
	expect_refused("{ \"control\": { \"mode\": 432 }, \"ports\": [" TAP_PORT "] }",
		       ": control.mode: expected an octal string", NULL);
	expect_refused("{ \"ports\": " TAP_PORT " }", ": ports: expected an array, got an object",
		       NULL);
}

static void test_out_of_range(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"mtu\": 9600 }] }",
		       ": ports[0].mtu: 9600 is out of range [576, 9000]", NULL);
	expect_refused("{ \"udp_port\": 65530, \"ports\": [" TAP_PORT "] }",
		       ": udp_port: 65530 + 15 is beyond 65535", NULL);
	expect_refused("{ \"protocol\": { \"seed\": -1 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol.seed: -1 is out of range", NULL);
	expect_refused("{ \"protocol\": { \"setup_cookie_pct\": 101 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol.setup_cookie_pct: 101 is out of range [0, 100]", NULL);
	expect_refused("{ \"workers\": 0, \"ports\": [" TAP_PORT "] }",
		       ": workers: 0 is out of range [1, 16]", NULL);
	expect_refused("{ \"protocol\": { \"tx_window\": 500 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol.tx_window: 500 is not a power of two", NULL);
	expect_refused("{ \"protocol\": { \"min_rto_us\": 500, \"max_rto_us\": 200 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": protocol.max_rto_us: 200 is below min_rto_us (500)", NULL);
	expect_refused("{ \"protocol\": { \"min_tlp_us\": 2000000 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol.min_tlp_us: 2e+06 is out of range", NULL);
	expect_refused("{ \"mbufs\": 1024, \"workers\": 2, \"ports\": [" TAP_PORT "] }",
		       ": mbufs: 1024 is fewer than port \"t0\"", NULL);
	expect_refused("{ \"apps\": { \"region_mb\": 32 }, \"ports\": [" TAP_PORT "] }",
		       ": apps.region_mb: 32 MiB leaves send and receive areas of",
		       "less than protocol.max_msg_mb (16 MiB)", NULL);
	expect_refused("{ \"protocol\": { \"max_msg_mb\": 17 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol.max_msg_mb: 17 is out of range [1, 16]", NULL);
	expect_refused("{ \"control\": { \"mode\": \"01777\" }, \"ports\": [" TAP_PORT "] }",
		       ": control.mode: \"01777\" is out of range", NULL);
	/* 104 bytes: the socket's temporary name (PATH.new) would not fit sun_path */
	expect_refused("{ \"control\": { \"socket\": \"/tmp/"
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "\" }, \"ports\": [" TAP_PORT "] }",
		       ": control.socket: ", "is longer than 103 bytes", NULL);
}

static void test_bad_address(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.300/24\" }] }",
		       ": ports[0].address: \"10.1.0.300/24\" is not an IPv4 address", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2\" }] }",
		       ": ports[0].address: \"10.1.0.2\" is not an address with a prefix length",
		       NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/33\" }] }",
		       ": ports[0].address: \"10.1.0.2/33\": the prefix length 33 is out of range",
		       NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.255/24\" }] }",
		       ": ports[0].address: \"10.1.0.255/24\" is the broadcast address", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"gateway\": \"10.9.0.1\" }] }",
		       ": ports[0].gateway: 10.9.0.1 is not on the port's subnet 10.1.0.0/24",
		       NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"routes\": [ { \"to\": \"10.8.1.0/16\" } ] "
		       "}] }",
		       ": ports[0].routes[0].to: \"10.8.1.0/16\" has bits set beyond", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.3.0.2/24\"] }] }",
		       ": ports[0].addresses: the two ends must be on one subnet", NULL);
	expect_refused("{ \"ports\": [" TAP_PORT ", { \"type\": \"vdev\", \"device\": "
		       "\"net_tap1\", \"address\": \"10.1.0.2/24\" }] }",
		       ": ports[1].address: 10.1.0.2 is already the address of port \"t0\"", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"pci\", \"device\": \"3b:00\", "
		       "\"address\": \"10.1.0.2/24\" }] }",
		       ": ports[0].device: \"3b:00\" is not a PCI address", NULL);
}

static void test_bad_mac(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"mac\": \"02:00:00:00:00\" }] }",
		       ": ports[0].mac: \"02:00:00:00:00\" is not a MAC address", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"mac\": \"01:00:5e:00:00:01\" }] }",
		       ": ports[0].mac: \"01:00:5e:00:00:01\" is a multicast MAC address", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\", "
		       "\"address\": \"10.1.0.2/24\", \"neighbors\": [ { \"ip\": \"10.1.0.1\", "
		       "\"mac\": \"02:00:00:00:00:0g\" } ] }] }",
		       ": ports[0].neighbors[0].mac: \"02:00:00:00:00:0g\" is not a MAC address",
		       NULL);
}

static void test_missing_ports(void **state)
{
	(void)state;
	expect_refused("{ \"workers\": 1 }", "missing key \"ports\"", NULL);
}

static void test_empty_ports(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [] }", ": ports: empty", NULL);
}

static void test_port_missing_address(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"device\": \"net_tap0\" }] }",
		       ": ports[0]: missing key \"address\"", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"address\": "
		       "\"10.1.0.1/24\" }] }",
		       ": ports[0].address: not allowed for this type", "\"addresses\"", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.1.0.1/24\"] }] }",
		       ": ports[0].addresses: 1 elements, a loopback_pair takes exactly 2", NULL);
	expect_refused("{ \"ports\": [{ \"device\": \"net_tap0\", \"address\": "
		       "\"10.1.0.1/24\" }] }",
		       ": ports[0]: missing key \"type\"", NULL);
}

static void test_vdev_missing_device(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"vdev\", \"address\": \"10.1.0.2/24\" }] }",
		       ": ports[0]: missing key \"device\"", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"pci\", \"address\": \"10.1.0.2/24\" }] }",
		       ": ports[0]: missing key \"device\"", NULL);
}

static void test_duplicate_port_name(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [" TAP_PORT ", { \"name\": \"t0\", \"type\": \"vdev\", "
		       "\"device\": \"net_tap1\", \"address\": \"10.1.0.3/24\" }] }",
		       ": ports[1].name: \"t0\" is already the name of another port", NULL);
	/* A pair named "t" makes "t0", which the first port already has. */
	expect_refused("{ \"ports\": [" TAP_PORT ", { \"name\": \"t\", \"type\": "
		       "\"loopback_pair\", \"addresses\": [\"10.3.0.1/24\", \"10.3.0.2/24\"] }] }",
		       ": ports[1].name: \"t0\" is already the name of another port", NULL);
	expect_refused("{ \"ports\": [" TAP_PORT ", { \"type\": \"vdev\", \"device\": "
		       "\"net_tap0,iface=y\", \"address\": \"10.1.0.3/24\" }] }",
		       ": ports[1].device: \"net_tap0\" is already the device of port \"t0\"",
		       NULL);
}

static void test_json_syntax(void **state)
{
	(void)state;
	expect_refused("{\n  \"workers\": 1,\n  \"ports\": [\n"
		       "    { \"type\": \"vdev\",, }\n  ]\n}\n",
		       ": line 4, column", NULL);
	expect_refused("{ \"workers\": 1, \"workers\": 2, \"ports\": [" TAP_PORT "] }",
		       ": line 1", "duplicate object key", NULL);
	expect_refused("[1, 2]", ": the top level must be an object, got an array", NULL);
}

static void test_impair_path_range(void **state)
{
	(void)state;
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { \"paths\": 8, "
		       "\"per_path\": [ { \"path\": 8, \"loss\": 0.2 } ] } }] }",
		       ": ports[0].impair.per_path[0].path: 8 is out of range [0, 7]", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], "
		       "\"impair\": { \"blackhole\": [2, 9] } }] }",
		       ": ports[0].impair.blackhole[1]: 9 is out of range [0, 7]", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { \"loss\": 1.5 } }] }",
		       ": ports[0].impair.loss: 1.5 is out of range [0, 1]", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"loopback_pair\", \"addresses\": "
		       "[\"10.2.0.1/24\", \"10.2.0.2/24\"], \"impair\": { \"paths\": 65 } }] }",
		       ": ports[0].impair.paths: 65 is out of range [1, 64]", NULL);
}

static void test_unknown_enum(void **state)
{
	(void)state;
	expect_refused("{ \"idle\": { \"policy\": \"lazy\" }, \"ports\": [" TAP_PORT "] }",
		       ": idle.policy: \"lazy\" is not one of busy, pause, sleep, adaptive", NULL);
	expect_refused("{ \"ports\": [{ \"type\": \"nic\", \"device\": \"x\", "
		       "\"address\": \"10.1.0.2/24\" }] }",
		       ": ports[0].type: \"nic\" is not one of pci, vdev, loopback_pair", NULL);
	expect_refused("{ \"log_level\": \"verbose\", \"ports\": [" TAP_PORT "] }",
		       ": log_level: \"verbose\" is not one of emerg", NULL);
}

static void test_idle_adaptive(void **state)
{
	struct dp_config cfg;
	char err[ERR_LEN], path[64];

	(void)state;
	/* every key */
	assert_int_equal(load_json("{ \"idle\": { \"policy\": \"adaptive\", \"spin_us\": 50, "
				   "\"max_sleep_us\": 200, \"deep_sleep_us\": 5000 }, "
				   "\"ports\": [" TAP_PORT "] }", &cfg, err, path), 0);
	assert_int_equal(cfg.idle, DP_IDLE_ADAPTIVE);
	assert_int_equal(cfg.idle_spin_us, 50);
	assert_int_equal(cfg.idle_sleep_max_us, 200);
	assert_int_equal(cfg.idle_deep_sleep_us, 5000);
	/* a spinning peer holds nothing while busy: no raise of the target delay or RTO */
	assert_int_equal(cfg.engine.min_rto_ns, 100000);
	assert_int_equal(cfg.engine.cc.target_delay_ns, 10000);
	dp_config_free(&cfg);
	/* defaults; the deep sleep is never shorter than max_sleep_us */
	assert_int_equal(load_json("{ \"idle\": { \"policy\": \"adaptive\" }, "
				   "\"ports\": [" TAP_PORT "] }", &cfg, err, path), 0);
	assert_int_equal(cfg.idle_spin_us, 100);
	assert_int_equal(cfg.idle_sleep_max_us, 100);
	assert_int_equal(cfg.idle_deep_sleep_us, 1000);
	dp_config_free(&cfg);
	assert_int_equal(load_json("{ \"idle\": { \"policy\": \"adaptive\", "
				   "\"max_sleep_us\": 4000 }, \"ports\": [" TAP_PORT "] }",
				   &cfg, err, path), 0);
	assert_int_equal(cfg.idle_deep_sleep_us, 4000);
	dp_config_free(&cfg);
	/* the sleep policy keeps its raise: 2 x 100 + 100 us, 4 x 100 + 200 us */
	assert_int_equal(load_json("{ \"idle\": { \"policy\": \"sleep\" }, "
				   "\"ports\": [" TAP_PORT "] }", &cfg, err, path), 0);
	assert_int_equal(cfg.engine.cc.target_delay_ns, 300000);
	assert_int_equal(cfg.engine.min_tlp_ns, 300000);
	assert_int_equal(cfg.engine.min_rto_ns, 600000);
	dp_config_free(&cfg);
	/* a larger floor of the file's stays */
	assert_int_equal(load_json("{ \"idle\": { \"policy\": \"sleep\" }, \"protocol\": "
				   "{ \"min_tlp_us\": 400 }, \"ports\": [" TAP_PORT "] }",
				   &cfg, err, path), 0);
	assert_int_equal(cfg.engine.min_tlp_ns, 400000);
	dp_config_free(&cfg);
}

/* min_tlp_ns of a file whose "protocol" object is protocol_json (it must load). */
static uint64_t min_tlp_of(const char *protocol_json)
{
	struct dp_config cfg;
	char json[256], err[ERR_LEN], path[64];
	uint64_t ns;

	snprintf(json, sizeof(json), "{ \"protocol\": %s, \"ports\": [" TAP_PORT "] }",
		 protocol_json);
	assert_int_equal(load_json(json, &cfg, err, path), 0);
	ns = cfg.engine.min_tlp_ns;
	dp_config_free(&cfg);
	return ns;
}

/* The tail loss probe's floor: srdd's 20 us, held under a quarter of the RTO floor unless
 * the file sets it; set, or off; never so close to the RTO floor that the timeout comes
 * first. */
static void test_tlp_floor(void **state)
{
	(void)state;
	assert_int_equal(min_tlp_of("{ \"min_tlp_us\": 2.5 }"), 2500);
	assert_int_equal(min_tlp_of("{ \"min_tlp_us\": 0 }"), 0);
	assert_int_equal(min_tlp_of("{ \"min_rto_us\": 40 }"), 10000);
	assert_int_equal(min_tlp_of("{ \"min_rto_us\": 500 }"), 20000);
	expect_refused("{ \"protocol\": { \"min_tlp_us\": 98 }, \"ports\": [" TAP_PORT "] }",
		       ": protocol: min_tlp_ns: 98000 plus ack_delay_ns (2000) is not below "
		       "min_rto_ns (100000)", NULL);
}

static void test_idle_refused(void **state)
{
	(void)state;
	expect_refused("{ \"idle\": { \"policy\": \"sleep\", \"spin_us\": 50 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle.spin_us: only the adaptive policy has it (policy is \"sleep\")",
		       NULL);
	expect_refused("{ \"idle\": { \"deep_sleep_us\": 5000 }, \"ports\": [" TAP_PORT "] }",
		       ": idle.deep_sleep_us: only the adaptive policy has it (policy is \"busy\")",
		       NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"max_sleep_us\": 500, "
		       "\"deep_sleep_us\": 200 }, \"ports\": [" TAP_PORT "] }",
		       ": idle.deep_sleep_us: 200 is below max_sleep_us (500)", NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"spin_us\": 2000000 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle.spin_us: 2000000 is out of range [0, 1000000]", NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"spin_us\": -1 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle.spin_us: -1 is out of range [0, 1000000]", NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"spin_us\": 1.5 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle.spin_us: expected an integer", NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"deep_sleep_us\": 0 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle.deep_sleep_us: 0 is out of range [1, 1000000]", NULL);
	expect_refused("{ \"idle\": { \"policy\": \"adaptive\", \"spin\": 10 }, "
		       "\"ports\": [" TAP_PORT "] }",
		       ": idle", "spin", NULL);
}

static void test_too_many(void **state)
{
	char json[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(json, sizeof(json), "{ \"ports\": [");
	for (unsigned i = 0; i < 5; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
				      "%s{ \"name\": \"lo%u\", \"type\": \"loopback_pair\", "
				      "\"addresses\": [\"10.%u.0.1/24\", \"10.%u.0.2/24\"] }",
				      i ? ", " : "", i, i + 1, i + 1);
	snprintf(json + n, sizeof(json) - n, "] }");
	expect_refused(json, ": ports[4]: one port too many: at most 8", NULL);

	n = (size_t)snprintf(json, sizeof(json), "{ \"eal\": [");
	for (unsigned i = 0; i < DP_MAX_EAL_ARGS + 1; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"-v\"", i ? ", " : "");
	snprintf(json + n, sizeof(json) - n, "], \"ports\": [" TAP_PORT "] }");
	expect_refused(json, ": eal: 65 elements, at most 64", NULL);
}

/* An error after the EAL arguments were copied must free them (ASan checks the leak). */
static void test_eal_freed_on_error(void **state)
{
	(void)state;
	expect_refused("{ \"eal\": [\"--no-pci\", \"-l\", \"0\"], \"ports\": [{ \"type\": "
		       "\"pci\", \"device\": \"0000:3b:00.0\", \"address\": \"10.1.0.2/24\" }] }",
		       ": eal: \"--no-pci\" leaves port \"port0\"", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_json),
		cmocka_unit_test(test_tap_json),
		cmocka_unit_test(test_memif_json),
		cmocka_unit_test(test_veth_json),
		cmocka_unit_test(test_baremetal_json),
		cmocka_unit_test(test_docs_example),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_port),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_key_top),
		cmocka_unit_test(test_unknown_key_port),
		cmocka_unit_test(test_impair_hold),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_bad_mac),
		cmocka_unit_test(test_missing_ports),
		cmocka_unit_test(test_empty_ports),
		cmocka_unit_test(test_port_missing_address),
		cmocka_unit_test(test_vdev_missing_device),
		cmocka_unit_test(test_duplicate_port_name),
		cmocka_unit_test(test_json_syntax),
		cmocka_unit_test(test_impair_path_range),
		cmocka_unit_test(test_unknown_enum),
		cmocka_unit_test(test_idle_adaptive),
		cmocka_unit_test(test_idle_refused),
		cmocka_unit_test(test_tlp_floor),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_eal_freed_on_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
