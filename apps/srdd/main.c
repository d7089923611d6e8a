/*
 * srdd — the SRD daemon: owns ports through DPDK, runs the protocol core on a poll-mode
 * worker, and serves local applications over shared memory (libsrd).
 *
 *   srdd -c config/loopback.json [-- EAL arguments]
 *   srdd --check-config config/loopback.json
 *
 * EAL arguments come from the config's "eal" list, then from the command line after "--"
 * (so the command line wins where EAL takes the last value).  SIGINT/SIGTERM stop it
 * cleanly: engines, apps, ports and the EAL are released.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "dp_config.h"
#include "dp_log.h"
#include "dp_port.h"
#include "dp_shm.h"
#include "dp_telemetry.h"
#include "dp_worker.h"

/* The daemon's top level: the only mutable state outside the modules. */
int dp_logtype = RTE_LOGTYPE_USER1;
static volatile bool force_quit;

static void on_signal(int sig)
{
	(void)sig;
	force_quit = true;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: srdd -c FILE [-- EAL arguments]\n"
		     "       srdd --check-config FILE\n"
		     "  -c, --config FILE        the JSON configuration (docs/config.md)\n"
		     "  --check-config FILE      validate FILE and exit (0: valid)\n"
		     "  -h, --help               this text\n");
}

/* What the command line asks for. */
struct args {
	const char *config;   /* -c FILE */
	int check_only;       /* --check-config */
	int eal_argc;         /* arguments after "--" */
	char **eal_argv;
};

/* Returns 0, 1 (help printed), or -EINVAL. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->config = optarg;
			break;
		case 'k':
			a->config = optarg;
			a->check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	/* getopt stops at "--": the rest is for the EAL */
	a->eal_argc = argc - optind;
	a->eal_argv = argv + optind;
	if (!a->config) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* argv for rte_eal_init(): program name, the config's arguments, the command line's. */
static char **eal_argv_build(const char *prog, const struct dp_config *cfg,
			     const struct args *a, int *argc)
{
	int n = 1 + cfg->eal_argc + a->eal_argc;
	char **v = calloc((size_t)n + 1, sizeof(*v));

	if (!v)
		return NULL;
	v[0] = (char *)prog;
	for (int i = 0; i < cfg->eal_argc; i++)
		v[1 + i] = cfg->eal_argv[i];
	for (int i = 0; i < a->eal_argc; i++)
		v[1 + cfg->eal_argc + i] = a->eal_argv[i];
	*argc = n;
	return v;
}

int main(int argc, char **argv)
{
	static struct dp_config cfg;
	static struct dp_ports ports;
	static struct dp_worker worker;
	struct dp_shm *shm = NULL;
	struct dp_telemetry *tel = NULL;
	uint32_t addrs[DP_MAX_PORTS];
	char err[512] = "";
	char **eal_argv;
	struct args a;
	int rc, eal_argc;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc > 0 ? 0 : 2;
	rc = dp_config_load(a.config, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "srdd: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	if (cfg.workers != 1) {
		/* one worker serves every port and app for now; several workers need the
		 * per-worker channel servers and packet steering of docs/architecture.md */
		fprintf(stderr, "srdd: %s: workers: %u workers are not supported yet (use 1)\n",
			a.config, cfg.workers);
		dp_config_free(&cfg);
		return 1;
	}
	if (a.check_only) {
		printf("%s: valid (%u port%s)\n", a.config, cfg.nports, cfg.nports == 1 ? "" : "s");
		dp_config_free(&cfg);
		return 0;
	}

	eal_argv = eal_argv_build(argv[0], &cfg, &a, &eal_argc);
	if (!eal_argv) {
		fprintf(stderr, "srdd: out of memory\n");
		goto out_cfg;
	}
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		fprintf(stderr, "srdd: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		rc = 1;
		goto out_argv;
	}
	dp_logtype = rte_log_register_type_and_pick_level("srd", (uint32_t)cfg.log_level);
	if (dp_logtype < 0)
		dp_logtype = RTE_LOGTYPE_USER1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	rc = dp_ports_init(&cfg, 1, &ports, err, sizeof(err));
	if (rc) {
		DP_LOG(ERR, "%s", err);
		goto out_eal;
	}
	for (uint32_t i = 0; i < ports.n; i++)
		addrs[i] = ports.port[i].cfg->ipv4;
	rc = dp_shm_create(&cfg, addrs, ports.n, &shm, err, sizeof(err));
	if (rc) {
		DP_LOG(ERR, "%s", err);
		goto out_ports;
	}
	/* a new epoch at every start: seconds of the clock, so that it grows across restarts */
	rc = dp_worker_init(&worker, &cfg, &ports, 0, shm, (uint16_t)time(NULL),
			    (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), err, sizeof(err));
	if (rc) {
		DP_LOG(ERR, "%s", err);
		goto out_shm;
	}
	rc = dp_telemetry_start(&worker, &ports, shm, &tel);
	if (rc)
		DP_LOG(WARNING, "telemetry not available: %s", strerror(-rc));
	worker.tel = tel;
	DP_LOG(NOTICE, "serving %u port%s, control socket %s", ports.n, ports.n == 1 ? "" : "s",
	       cfg.socket_path);

	dp_worker_run(&worker, &force_quit);

	DP_LOG(NOTICE, "stopping");
	rc = 0;
	worker.tel = NULL;
	dp_telemetry_stop(tel);
	dp_worker_fini(&worker);
out_shm:
	dp_shm_destroy(shm);
out_ports:
	dp_ports_close(&ports);
out_eal:
	rte_eal_cleanup();
out_argv:
	free(eal_argv);
out_cfg:
	dp_config_free(&cfg);
	return rc ? 1 : 0;
}
