/*
 * fabric_cli.h — srd-sim's fabric mode (a workload over a Clos topology), chosen by --topo.
 */
#ifndef SRD_SIM_FABRIC_CLI_H
#define SRD_SIM_FABRIC_CLI_H

/* 1 if the command line asks for the fabric mode (it has --topo). */
int fabric_wanted(int argc, char **argv);

/* Run the fabric mode: parse argv, run, print.  Returns the process exit status (0, 1 for
 * a failed run, 2 for bad arguments). */
int fabric_main(int argc, char **argv);

#endif /* SRD_SIM_FABRIC_CLI_H */
