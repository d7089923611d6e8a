/*
 * capture.c — srdctl capture: a pcapng capture from a running srdd.
 *
 *   srdctl capture [-p PORT]... [-c COUNT] [-s SNAPLEN] [-f peer=IP|conn=ID]
 *                  [-d SECONDS] [-q] FILE|-
 *   srdctl capture --status | --stop
 *
 * srdctl makes a private directory with a listening UNIX socket in it and asks the daemon
 * (/srd/capture,start,sock=PATH,...) to connect there; the daemon writes the pcapng
 * stream into the connection and srdctl copies it into FILE, which it creates itself (so
 * the file is the caller's, and "-" sends the stream to standard output: pipe it into
 * `wireshark -k -i -`).  Ctrl-C, SIGTERM or the end of -d SECONDS shut srdctl's side of
 * the connection; the daemon then writes what it still holds, the statistics blocks, and
 * closes the stream.  The end of the stream is how srdctl knows the capture is complete;
 * it then asks /srd/capture for the session's figures and prints them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define CAP_ACCEPT_MS 5000   /* the daemon connects while it answers the request */
#define CAP_POLL_MS 200      /* how often a waiting srdctl looks at signals and the clock */

/* What `srdctl capture` was asked. */
struct cap_args {
	char ports[256];          /* ",port=NAME" for each -p */
	unsigned long long count; /* -c: frames (0: until stopped) */
	unsigned long snaplen;    /* -s: bytes per frame (0: whole frames) */
	const char *filter;       /* -f: "peer=IP" or "conn=ID" (NULL: all) */
	double seconds;           /* -d: stop after this long (0: no limit) */
	int quiet;                /* -q: no messages on success */
	int status;               /* --status: report the current or last capture */
	int stop;                 /* --stop: end the running capture (whoever started it) */
	const char *file;         /* FILE, or "-" */
};

static void capture_usage(FILE *out)
{
	fprintf(out,
		"usage: srdctl [-p PREFIX | -c CONFIG] capture [options] FILE|-\n"
		"       srdctl [-p PREFIX | -c CONFIG] [--json] capture --status | --stop\n"
		"  Capture what srdd's ports send and receive into FILE (pcapng; \"-\": standard\n"
		"  output), including frames its impairment stage drops (marked by a comment).\n"
		"  Ctrl-C ends it; the file is complete when srdctl returns.\n"
		"options:\n"
		"  -p, --port PORT      capture this port (a name such as lo0, or an index);\n"
		"                       repeatable (default: every port)\n"
		"  -c, --count N        stop after N frames\n"
		"  -s, --snaplen N      keep the first N bytes of each frame (default: all)\n"
		"  -f, --filter F       only frames of peer=IP (IPv4 and ARP) or of conn=ID (SRD\n"
		"                       packets whose source or destination connection id is ID)\n"
		"  -d, --duration SEC   stop after SEC seconds\n"
		"  -q, --quiet          no messages unless something fails\n"
		"      --status         the current or last capture: state, frames, misses\n"
		"      --stop           end the running capture (its srdctl then completes FILE)\n"
		"Decode it with the dissector: wireshark -X lua_script:srd.lua FILE (or install it:\n"
		"see srdctl(1)).\n");
}

static int parse_args(int argc, char **argv, struct cap_args *a)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' }, { "count", required_argument, NULL, 'c' },
		{ "snaplen", required_argument, NULL, 's' }, { "filter", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' }, { "quiet", no_argument, NULL, 'q' },
		{ "status", no_argument, NULL, 'S' }, { "stop", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	size_t off = 0;
	char *end;
	int opt;

	optind = 0; /* a fresh scan: main's getopt stopped at the command */
	while ((opt = getopt_long(argc, argv, "p:c:s:f:d:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (strchr(optarg, ',') || off + strlen(optarg) + 7 >= sizeof(a->ports)) {
				fprintf(stderr, "srdctl: bad port %s\n", optarg);
				return 2;
			}
			off += (size_t)snprintf(a->ports + off, sizeof(a->ports) - off, ",port=%s",
						optarg);
			break;
		case 'c':
		case 's':
			errno = 0;
			if (optarg[0] == '-' ||
			    (opt == 'c' ? (a->count = strtoull(optarg, &end, 10)) == 0 :
					  (a->snaplen = strtoul(optarg, &end, 10)) == 0 ||
						  a->snaplen > 65535) ||
			    *end || errno) {
				fprintf(stderr, "srdctl: bad %s %s\n", opt == 'c' ? "count" : "snaplen",
					optarg);
				return 2;
			}
			break;
		case 'f':
			if ((strncmp(optarg, "peer=", 5) && strncmp(optarg, "conn=", 5)) ||
			    strchr(optarg, ',')) {
				fprintf(stderr, "srdctl: bad filter %s (peer=IP or conn=ID)\n", optarg);
				return 2;
			}
			a->filter = optarg;
			break;
		case 'd':
			a->seconds = strtod(optarg, &end);
			if (*end || !(a->seconds > 0)) {
				fprintf(stderr, "srdctl: bad duration %s\n", optarg);
				return 2;
			}
			break;
		case 'q':
			a->quiet = 1;
			break;
		case 'S':
			a->status = 1;
			break;
		case 'T':
			a->stop = 1;
			break;
		case 'h':
			capture_usage(stdout);
			return 1;
		default:
			capture_usage(stderr);
			return 2;
		}
	}
	if (a->status || a->stop) {
		if (optind != argc || (a->status && a->stop)) {
			capture_usage(stderr);
			return 2;
		}
		return 0;
	}
	if (optind != argc - 1) {
		capture_usage(stderr);
		return 2;
	}
	a->file = argv[optind];
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The output: FILE created (mode 0644 less the umask), or standard output. */
static int open_output(const char *file)
{
	int fd;

	if (strcmp(file, "-") == 0) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "srdctl: not writing pcapng to a terminal (pipe it or name a "
					"file)\n");
			return -1;
		}
		return STDOUT_FILENO;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "srdctl: %s: %s\n", file, strerror(errno));
	return fd;
}

/* A listening socket at dir/stream (dir: a fresh private directory).  Returns its fd. */
static int listen_socket(char *dir, size_t dirlen, char *path, size_t pathlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(dir, dirlen, "%s/srdctl-capture-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "srdctl: mkdtemp %s: %s\n", dir, strerror(errno));
		dir[0] = '\0';
		return -1;
	}
	snprintf(path, pathlen, "%s/stream", dir);
	if (strlen(path) >= sizeof(sa.sun_path) || strchr(path, ',')) {
		/* the path travels as sock=PATH in a comma-separated request */
		fprintf(stderr, "srdctl: socket path %s too long or with a comma (set TMPDIR)\n",
			path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0) {
		fprintf(stderr, "srdctl: socket %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The daemon's connection on the listening socket lfd. */
static int accept_stream(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, CAP_ACCEPT_MS) != 1) {
		fprintf(stderr, "srdctl: the daemon did not connect within %d ms\n", CAP_ACCEPT_MS);
		return -1;
	}
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copy the stream into out until it ends; shut our side down on a signal or the deadline
 * (the daemon then completes the stream).  Returns 0, or -1 if out failed. */
static int copy_stream(int conn, int out, double deadline, const char *file)
{
	static char buf[1 << 16];
	int shut = 0, rc = 0;

	for (;;) {
		struct pollfd p = { .fd = conn, .events = POLLIN };
		ssize_t n;

		if (!shut && (ctl_stop || (deadline > 0 && now_s() >= deadline))) {
			shutdown(conn, SHUT_WR);
			shut = 1;
		}
		if (poll(&p, 1, CAP_POLL_MS) <= 0)
			continue;
		n = read(conn, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rc; /* the end of the stream: the capture is complete */
		if (rc == 0 && write_all(out, buf, (size_t)n) != 0) {
			fprintf(stderr, "srdctl: %s: %s\n", file, strerror(errno));
			rc = -1;
			shutdown(conn, SHUT_WR); /* no use going on; let the daemon end */
			shut = 1;
		}
	}
}

/* After the end of the stream: the session's figures.  Returns the exit status. */
static int report(const struct ctl *c, long long id, const struct cap_args *a)
{
	json_t *st = ctl_ask(c, "/srd/capture");
	const char *end;
	int rc = 0;

	if (!st) {
		/* a daemon that stops completes the stream first; one that died may not have */
		fprintf(stderr, "srdctl: the capture ended with the daemon; %s holds what it wrote "
				"(complete if the daemon stopped cleanly)\n",
			strcmp(a->file, "-") ? a->file : "standard output");
		return 1;
	}
	if (ctl_num(st, "id") != id) {
		fprintf(stderr, "srdctl: capture %lld ended; the daemon now reports capture %lld\n",
			id, ctl_num(st, "id"));
		json_decref(st);
		return 0;
	}
	end = ctl_str(st, "end");
	if (strncmp(end, "write error", 11) == 0)
		rc = 1;
	if (!a->quiet || rc)
		fprintf(stderr, "srdctl: %lld frames (%lld bytes) written to %s, %lld missed "
				"(capture ring full); %s\n",
			ctl_num(st, "written"), ctl_num(st, "bytes"),
			strcmp(a->file, "-") ? a->file : "standard output", ctl_num(st, "dropped"),
			end);
	json_decref(st);
	return rc;
}

/* --status and --stop: print the reply (the session's state and figures). */
static int status_or_stop(const struct ctl *c, const struct cap_args *a)
{
	json_t *st = ctl_ask(c, a->stop ? "/srd/capture,stop" : "/srd/capture");

	if (!st)
		return 1;
	if (c->json) {
		ctl_print_json(st);
	} else if (ctl_num(st, "id") == 0) {
		printf("no capture yet\n");
	} else {
		printf("capture %lld: %s, ports %s, filter %s, snap length %lld, %lld frames "
		       "(%lld bytes) written, %lld missed%s%s\n", ctl_num(st, "id"),
		       ctl_str(st, "state"), ctl_str(st, "ports"), ctl_str(st, "filter"),
		       ctl_num(st, "snaplen"), ctl_num(st, "written"), ctl_num(st, "bytes"),
		       ctl_num(st, "dropped"), json_object_get(st, "end") ? "; " : "",
		       json_object_get(st, "end") ? ctl_str(st, "end") : "");
	}
	json_decref(st);
	return 0;
}

int ctl_capture(const struct ctl *c, int argc, char **argv)
{
	struct cap_args a = { .count = 0 };
	char dir[128] = "", path[160], cmd[1024];
	int lfd = -1, conn = -1, out = -1, rc;
	double deadline = 0;
	json_t *r;
	long long id;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (a.status || a.stop)
		return status_or_stop(c, &a);
	signal(SIGPIPE, SIG_IGN); /* a reader of standard output that goes: a write error */
	/* a terminal refuses at once; the file itself is created only once the daemon has
	 * taken the request (a busy daemon must not leave FILE truncated or empty) */
	if (strcmp(a.file, "-") == 0 && open_output(a.file) < 0)
		return 1;
	rc = 1;
	lfd = listen_socket(dir, sizeof(dir), path, sizeof(path));
	if (lfd < 0)
		goto out;
	snprintf(cmd, sizeof(cmd), "/srd/capture,start,sock=%s%s", path, a.ports);
	if (a.count)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), ",count=%llu", a.count);
	if (a.snaplen)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), ",snaplen=%lu", a.snaplen);
	if (a.filter)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), ",%s", a.filter);
	r = ctl_ask(c, cmd);
	if (!r)
		goto out;
	id = ctl_num(r, "id");
	if (!a.quiet)
		fprintf(stderr, "srdctl: capture %lld on %s (snap length %lld, filter %s) into %s; "
				"%s\n", id, ctl_str(r, "ports"), ctl_num(r, "snaplen"),
			ctl_str(r, "filter"), strcmp(a.file, "-") ? a.file : "standard output",
			a.count ? "until the count, or Ctrl-C" : "Ctrl-C stops it");
	json_decref(r);
	conn = accept_stream(lfd);
	if (conn < 0)
		goto out;
	out = open_output(a.file);
	if (out < 0)
		goto out; /* closing the stream ends the daemon's session */
	/* connected: the rendezvous is no longer needed */
	close(lfd);
	lfd = -1;
	unlink(path);
	rmdir(dir);
	dir[0] = '\0';
	if (a.seconds > 0)
		deadline = now_s() + a.seconds;
	if (copy_stream(conn, out, deadline, a.file) == 0)
		rc = report(c, id, &a);
out:
	if (conn >= 0)
		close(conn);
	if (lfd >= 0)
		close(lfd);
	if (dir[0]) {
		unlink(path);
		rmdir(dir);
	}
	if (out > STDOUT_FILENO && close(out) != 0) {
		fprintf(stderr, "srdctl: %s: %s\n", a.file, strerror(errno));
		rc = 1;
	}
	return rc;
}
