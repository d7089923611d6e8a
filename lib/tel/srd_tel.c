/*
 * srd_tel.c — a client of DPDK's telemetry socket (see srd_tel.h).
 */
#include "srd_tel.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TEL_SOCKET "dpdk_telemetry.v2"
#define TEL_MAX_REPLY 65536 /* DPDK 22.11 replies are at most 16 KB */

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *a,
		const char *b)
{
	if (errlen)
		snprintf(err, errlen, fmt, a, b);
	return rc;
}

int srd_tel_query(const char *prefix, const char *cmd, json_t **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char key[128], *buf;
	json_t *reply, *val;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	buf = malloc(TEL_MAX_REPLY);
	if (!buf)
		return fail(err, errlen, -ENOMEM, "out of memory%s%s", "", "");
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s", SRD_TEL_RUNDIR, prefix,
			     TEL_SOCKET) >= sizeof(sa.sun_path))
	{
		free(buf);
		return fail(err, errlen, -ENAMETOOLONG, "file prefix %s%s: too long", prefix, "");
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(buf);
		return fail(err, errlen, -errno, "socket: %s%s", strerror(errno), "");
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		fail(err, errlen, rc, "no srdd with file prefix \"%s\" (%s)", prefix,
		     rc == -ENOENT ? "no telemetry socket" : strerror(-rc));
		goto out;
	}
	rc = -EPROTO;
	if (read(fd, buf, TEL_MAX_REPLY) <= 0) { /* the greeting */
		fail(err, errlen, rc, "%s: no greeting from the telemetry socket%s", prefix, "");
		goto out;
	}
	if (write(fd, cmd, strlen(cmd)) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "write: %s%s", strerror(errno), "");
		goto out;
	}
	n = read(fd, buf, TEL_MAX_REPLY - 1);
	if (n <= 0) {
		fail(err, errlen, rc, "%s: no reply to %s", prefix, cmd);
		goto out;
	}
	buf[n] = '\0';
	reply = json_loads(buf, 0, NULL);
	/* the reply is keyed by the command without its parameter */
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(cmd, ","), cmd);
	val = reply ? json_object_get(reply, key) : NULL;
	if (!val || json_is_null(val)) {
		fail(err, errlen, rc, "%s: %s is not a command of this process (is it srdd?)", prefix,
		     key);
		json_decref(reply);
		goto out;
	}
	json_incref(val);
	json_decref(reply);
	*out = val;
	rc = 0;
out:
	close(fd);
	free(buf);
	return rc;
}

int srd_tel_list(char (*names)[64], int max)
{
	DIR *d = opendir(SRD_TEL_RUNDIR);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char path[512];
		struct stat st;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(names[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", SRD_TEL_RUNDIR, e->d_name, TEL_SOCKET);
		if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (n < max)
			memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
		n++;
	}
	closedir(d);
	return n;
}

int srd_tel_prefix_from_config(const char *path, char *prefix, size_t len, char *err,
			       size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *eal;
	const char *found = "rte";
	size_t i;

	if (!root) {
		if (errlen)
			snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -EINVAL;
	}
	eal = json_object_get(root, "eal");
	for (i = 0; json_is_array(eal) && i < json_array_size(eal); i++) {
		const char *a = json_string_value(json_array_get(eal, i));

		if (!a)
			continue;
		if (!strcmp(a, "--file-prefix") && json_string_value(json_array_get(eal, i + 1)))
			found = json_string_value(json_array_get(eal, i + 1));
		else if (!strncmp(a, "--file-prefix=", 14))
			found = a + 14;
	}
	snprintf(prefix, len, "%s", found);
	json_decref(root);
	return 0;
}
