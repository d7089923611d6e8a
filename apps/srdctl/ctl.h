/*
 * ctl.h — what srdctl's commands share: the command line's settings and the helpers that
 * ask the daemon (main.c), the capture command (capture.c) and the metrics command
 * (metrics.c).
 */
#ifndef SRDCTL_CTL_H
#define SRDCTL_CTL_H

#include <signal.h>
#include <stdbool.h>

#include <jansson.h>

/* What the command line asks for. */
struct ctl {
	char prefix[64];   /* the daemon's EAL file prefix */
	bool json;         /* raw JSON replies */
	bool all;          /* stats: zeros too */
	double interval;   /* watch: seconds between refreshes */
	long count;        /* watch: refreshes (0: until interrupted) */
};

/* Set by SIGINT and SIGTERM: the running command winds down. */
extern volatile sig_atomic_t ctl_stop;

/* Ask the daemon cmd ("/srd/stats", "/srd/paths,lo0,10.0.0.2", ...); prints the reason
 * and returns NULL on failure (no daemon, or an {"error": ...} reply). */
json_t *ctl_ask(const struct ctl *c, const char *cmd);

/* o[key] as an integer (0 if absent) and as a string ("-" if absent). */
long long ctl_num(json_t *o, const char *key);
const char *ctl_str(json_t *o, const char *key);

/* Print v as one line of compact JSON. */
void ctl_print_json(json_t *v);

/* srdctl capture [options] FILE: argv[0] is "capture".  Returns the exit status. */
int ctl_capture(const struct ctl *c, int argc, char **argv);

/* srdctl metrics: the Prometheus text exposition.  Returns the exit status. */
int ctl_metrics(const struct ctl *c);

#endif /* SRDCTL_CTL_H */
