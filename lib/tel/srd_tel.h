/*
 * srd_tel.h — ask a running srdd (or any DPDK process) a telemetry command through its
 * socket, /var/run/dpdk/PREFIX/dpdk_telemetry.v2, the way dpdk-telemetry.py does: connect
 * (SOCK_SEQPACKET), read the greeting, write the command, read one JSON reply.  No DPDK;
 * jansson parses the reply.  Used by srdctl and the tests.
 */
#ifndef SRD_TEL_H
#define SRD_TEL_H

#include <stddef.h>

#include <jansson.h>

#define SRD_TEL_RUNDIR "/var/run/dpdk"

/*
 * Send cmd (e.g. "/srd/stats" or "/srd/paths,lo0,10.77.0.2") to the process with EAL file
 * prefix `prefix` and return, in *out, the reply's value for that command (the caller
 * decrefs).  Returns 0, or a negative errno with a sentence in err: -ENOENT (no such
 * process or no telemetry), -ECONNREFUSED, -EPROTO (a reply that is not JSON, or lacks the
 * command), or another from the system.
 */
int srd_tel_query(const char *prefix, const char *cmd, json_t **out, char *err, size_t errlen);

/*
 * The file prefixes of the processes with a telemetry socket under SRD_TEL_RUNDIR, into
 * names[0..max) (each of len bytes).  Returns how many there are (possibly more than max),
 * or a negative errno.
 */
int srd_tel_list(char (*names)[64], int max);

/* The --file-prefix of the EAL arguments in an srdd config file ("rte", the EAL's default,
 * if none), into prefix (len bytes).  Returns 0, or a negative errno with a sentence in
 * err. */
int srd_tel_prefix_from_config(const char *path, char *prefix, size_t len, char *err,
			       size_t errlen);

#endif /* SRD_TEL_H */
