/*
 * proc.h — helpers for integration tests: start programs with their output in files, wait
 * with a deadline, kill, read a file; query srdd's telemetry socket.  Header-only.
 *
 * Every started process is remembered so that proc_cleanup() (a cmocka teardown) kills
 * whatever a failed test left running.
 */
#ifndef SRD_TEST_PROC_H
#define SRD_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define PROC_MAX 16

/* Processes started and not yet reaped. */
static pid_t proc_live[PROC_MAX];

static inline int64_t proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void proc_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Start argv[0] with stdout and stderr to out_path (appended).  Returns the pid or -1. */
static inline pid_t proc_start(char *const argv[], const char *out_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; pid > 0 && i < PROC_MAX; i++) {
		if (!proc_live[i]) {
			proc_live[i] = pid;
			break;
		}
	}
	return pid;
}

static inline void proc_forget(pid_t pid)
{
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_live[i] == pid)
			proc_live[i] = 0;
}

/* Wait for pid up to timeout_ms.  Returns its exit status (0..255), 128+signal if killed
 * by one, or -ETIMEDOUT (still running). */
static inline int proc_wait(pid_t pid, int timeout_ms)
{
	int64_t end = proc_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			proc_forget(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (r < 0)
			return -errno;
		if (proc_now_ms() >= end)
			return -ETIMEDOUT;
		proc_sleep_ms(5);
	}
}

/* Send sig to pid and wait for it (up to timeout_ms; then SIGKILL). */
static inline int proc_stop(pid_t pid, int sig, int timeout_ms)
{
	int rc;

	kill(pid, sig);
	rc = proc_wait(pid, timeout_ms);
	if (rc == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		rc = proc_wait(pid, 2000);
	}
	return rc;
}

/* Run argv to the end (up to timeout_ms; then it is killed) with its output in out_path
 * (replaced).  Returns proc_wait()'s result. */
static inline int proc_run(char *const argv[], const char *out_path, int timeout_ms)
{
	pid_t pid;

	unlink(out_path);
	pid = proc_start(argv, out_path);
	return pid > 0 ? proc_stop(pid, 0, timeout_ms) : -ECHILD;
}

/* Kill every process still remembered (teardown after a failed test). */
static inline void proc_cleanup(void)
{
	for (int i = 0; i < PROC_MAX; i++) {
		if (proc_live[i]) {
			kill(proc_live[i], SIGKILL);
			waitpid(proc_live[i], NULL, 0);
			proc_live[i] = 0;
		}
	}
}

/* A cmocka teardown: kill what a failed test left running. */
static inline int proc_teardown(void **state)
{
	(void)state;
	proc_cleanup();
	return 0;
}

/* Read a whole (small) file into a NUL-terminated malloc'ed string, or NULL. */
static inline char *proc_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Wait until path exists and is non-empty (up to timeout_ms).  Returns 0 or -ETIMEDOUT. */
static inline int proc_wait_file(const char *path, int timeout_ms)
{
	int64_t end = proc_now_ms() + timeout_ms;
	struct stat st;

	while (stat(path, &st) != 0 || st.st_size == 0) {
		if (proc_now_ms() >= end)
			return -ETIMEDOUT;
		proc_sleep_ms(10);
	}
	return 0;
}

/* Wait (up to timeout_ms) for file path to have content, then copy its first line into
 * buf (len bytes).  Returns 0 or -ETIMEDOUT. */
static inline int proc_wait_line(const char *path, int timeout_ms, char *buf, size_t len)
{
	char *text;

	if (proc_wait_file(path, timeout_ms))
		return -ETIMEDOUT;
	text = proc_read_file(path);
	if (!text)
		return -ETIMEDOUT;
	snprintf(buf, len, "%s", text);
	buf[strcspn(buf, "\n")] = '\0';
	free(text);
	return 0;
}

/* The last line of file path that starts with '{', parsed as JSON (caller decrefs). */
static inline json_t *proc_last_json(const char *path)
{
	char *text = proc_read_file(path), *line, *last = NULL, *save = NULL;
	json_t *j = NULL;

	if (!text)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '{')
			last = line;
	if (last)
		j = json_loads(last, 0, NULL);
	free(text);
	return j;
}

/*
 * Ask a running srdd (EAL --file-prefix prefix) a telemetry command, e.g. "/srd/stats".
 * Returns the reply's value for that command (caller decrefs), or NULL.
 */
static inline json_t *proc_telemetry_once(const char *prefix, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	json_t *reply, *val = NULL;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	if (fd < 0)
		return NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	if (read(fd, buf, sizeof(buf)) <= 0) /* the greeting */
		goto out;
	if (write(fd, cmd, strlen(cmd)) < 0)
		goto out;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	reply = json_loads(buf, 0, NULL);
	if (reply) {
		char key[128];

		/* the reply is keyed by the command without its parameters */
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(cmd, ","), cmd);
		val = json_object_get(reply, key);
		json_incref(val);
		json_decref(reply);
	}
out:
	close(fd);
	return val;
}

/* The reply to a telemetry command, asked again (for up to 5 s) while srdd answers that a
 * worker did not answer within its 1 s: on a loaded machine a worker can lose its CPU
 * that long, and the question is what the counters say, not how fast. */
static inline json_t *proc_telemetry(const char *prefix, const char *cmd)
{
	json_t *val = proc_telemetry_once(prefix, cmd);

	for (int tries = 0; tries < 50 && json_is_object(val) &&
			    json_object_get(val, "error") &&
			    strstr(json_string_value(json_object_get(val, "error")) ?: "", "did not answer");
	     tries++) {
		json_decref(val);
		usleep(100000);
		val = proc_telemetry_once(prefix, cmd);
	}
	return val;
}

/* Integer at dict path "a.b" of a telemetry reply (-1 if missing). */
static inline long long proc_json_int(json_t *j, const char *key, const char *sub)
{
	json_t *v = json_object_get(j, key);

	if (sub)
		v = json_object_get(v, sub);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

#endif /* SRD_TEST_PROC_H */
