/*
 * srdd — the SRD daemon: owns ports through DPDK, runs the protocol core on poll-mode
 * workers (one per lcore: worker 0 on the main lcore, the others on the next EAL lcores),
 * and serves local applications over shared memory (libsrd).
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
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_pdump.h>

#include "dp_capture.h"
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

/* What a worker lcore runs. */
static int worker_main(void *arg)
{
	dp_worker_run(arg, &force_quit);
	return 0;
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

/* Everything srdd runs, torn down in reverse. */
struct daemon {
	struct dp_ports ports;
	struct dp_shm *shm[DP_MAX_WORKERS];
	struct dp_worker workers[DP_MAX_WORKERS];
	uint32_t nshm, nworkers;
	struct dp_capture *capture;
	struct dp_telemetry *tel;
	int pdump;                 /* rte_pdump_init() succeeded */
};

/* Servers and workers for cfg->workers workers.  Returns 0 or a negative errno (reason in
 * err); what was made is in d either way. */
static int daemon_setup(struct daemon *d, const struct dp_config *cfg, char *err, size_t errlen)
{
	uint32_t addrs[DP_MAX_PORTS];
	/* a new epoch at every start, random: a peer tells this incarnation's connections from
	 * the last one's by it (the clock's seconds, as before, repeat when srdd restarts
	 * within a second, and then a peer took the new connection's packets for duplicates
	 * of the old one's: acked, never delivered) */
	uint16_t epoch;
	uint64_t seed = cfg->protocol_seed ? cfg->protocol_seed :
					     (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int rc;

	if (getrandom(&epoch, sizeof(epoch), 0) != (ssize_t)sizeof(epoch)) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "getrandom: %s", strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < d->ports.n; i++)
		addrs[i] = d->ports.port[i].cfg->ipv4;
	for (uint32_t k = 0; k < cfg->workers; k++, d->nshm++) {
		rc = dp_shm_create(cfg, addrs, d->ports.n, k, k ? d->shm[0] : NULL, &d->shm[k], err,
				   errlen);
		if (rc)
			return rc;
	}
	for (uint32_t k = 0; k < cfg->workers; k++, d->nworkers++) {
		rc = dp_worker_init(&d->workers[k], cfg, &d->ports, k, d->shm[k], epoch, seed, err,
				    errlen);
		if (rc)
			return rc;
	}
	dp_worker_join(d->workers, d->nworkers);
	rc = dp_capture_create(d->workers, d->nworkers, &d->ports, &d->capture);
	if (rc) {
		snprintf(err, errlen, "packet capture: %s", strerror(-rc));
		return rc;
	}
	/* dpdk-dumpcap (a secondary process) can attach only where the EAL shares its memory
	 * through hugepage files; srdctl capture works everywhere */
	if (rte_eal_has_hugepages() && rte_eal_process_type() == RTE_PROC_PRIMARY) {
		if (rte_pdump_init() == 0)
			d->pdump = 1;
		else
			DP_LOG(WARNING, "pdump (dpdk-dumpcap) not available: %s",
			       rte_strerror(rte_errno));
	}
	return 0;
}

static void daemon_teardown(struct daemon *d)
{
	for (uint32_t k = 0; k < d->nworkers; k++)
		d->workers[k].tel = NULL;
	dp_telemetry_stop(d->tel);
	d->tel = NULL;
	if (d->pdump)
		rte_pdump_uninit();
	d->pdump = 0;
	/* the workers have stopped: a running capture completes its stream now */
	dp_capture_destroy(d->capture);
	d->capture = NULL;
	while (d->nworkers)
		dp_worker_fini(&d->workers[--d->nworkers]);
	/* frames still queued may name apps' bytes: freed before the apps' regions go */
	dp_ports_stop(&d->ports);
	while (d->nshm) /* worker 0's server last: it owns the socket */
		dp_shm_destroy(d->shm[--d->nshm]);
}

/* Run the workers until a signal: 1..n-1 on worker lcores, 0 here. */
static void daemon_run(struct daemon *d)
{
	uint32_t k = 1;
	unsigned lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (k == d->nworkers)
			break;
		if (rte_eal_remote_launch(worker_main, &d->workers[k], lcore)) {
			DP_LOG(ERR, "worker %u: cannot launch on lcore %u", k, lcore);
			force_quit = true;
			break;
		}
		DP_LOG(INFO, "worker %u on lcore %u", k, lcore);
		k++;
	}
	dp_worker_run(&d->workers[0], &force_quit);
	rte_eal_mp_wait_lcore();
}

int main(int argc, char **argv)
{
	static struct dp_config cfg;
	static struct daemon d;
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
	if (a.check_only) {
		printf("%s: valid (%u port%s, %u worker%s)\n", a.config, cfg.nports,
		       cfg.nports == 1 ? "" : "s", cfg.workers, cfg.workers == 1 ? "" : "s");
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
		/* some EAL failures (another process holding the --file-prefix) leave rte_errno
		 * at 0: then only the EAL's own messages say why */
		if (rte_errno)
			fprintf(stderr, "srdd: EAL initialisation failed: %s\n",
				rte_strerror(rte_errno));
		else
			fprintf(stderr, "srdd: EAL initialisation failed (the EAL's messages above say "
				"why)\n");
		rc = 1;
		goto out_argv;
	}
	dp_logtype = rte_log_register_type_and_pick_level("srd", (uint32_t)cfg.log_level);
	if (dp_logtype < 0)
		dp_logtype = RTE_LOGTYPE_USER1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* a capture reader (srdctl) that goes away is a write error, not the daemon's end */
	signal(SIGPIPE, SIG_IGN);
	if (rte_lcore_count() < cfg.workers) {
		DP_LOG(ERR, "%s: workers: %u workers need %u EAL lcores, the EAL has %u (give "
		       "more with -l in \"eal\")", a.config, cfg.workers, cfg.workers,
		       rte_lcore_count());
		rc = -EINVAL;
		goto out_eal;
	}

	rc = dp_ports_init(&cfg, (uint16_t)cfg.workers, &d.ports, err, sizeof(err));
	if (rc) {
		DP_LOG(ERR, "%s", err);
		goto out_eal;
	}
	rc = daemon_setup(&d, &cfg, err, sizeof(err));
	if (rc) {
		DP_LOG(ERR, "%s", err);
		goto out_daemon;
	}
	rc = dp_telemetry_start(d.workers, d.nworkers, &d.ports, d.capture, &d.tel);
	if (rc)
		DP_LOG(WARNING, "telemetry not available: %s", strerror(-rc));
	for (uint32_t k = 0; k < d.nworkers; k++)
		d.workers[k].tel = d.tel;
	DP_LOG(NOTICE, "serving %u port%s with %u worker%s, control socket %s", d.ports.n,
	       d.ports.n == 1 ? "" : "s", d.nworkers, d.nworkers == 1 ? "" : "s",
	       cfg.socket_path);

	daemon_run(&d);

	DP_LOG(NOTICE, "stopping");
	rc = 0;
out_daemon:
	daemon_teardown(&d);
	dp_ports_close(&d.ports);
out_eal:
	rte_eal_cleanup();
out_argv:
	free(eal_argv);
out_cfg:
	dp_config_free(&cfg);
	return rc ? 1 : 0;
}
