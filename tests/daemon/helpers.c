/* SPDX-License-Identifier: MIT */
/*
 * The shmpiped tests' plumbing; see helpers.h.  Cleanup order matters:
 * the daemon is killed before its pipes are removed, or it would make
 * them again.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define NAMES_MAX	128
#define KIDS_MAX	64
#define NOTES_MAX	(256 * 1024)

static struct dt *cur;
static unsigned int case_no;
static char names[NAMES_MAX][SHMPIPE_NAME_MAX + 1];
static char paths[NAMES_MAX][SHMPIPE_NAME_MAX + 32];
static int nnames;
static pid_t kids[KIDS_MAX];

double dt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void dt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void dt_shm_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/dev/shm/shmpipe.%s", name);
}

const char *dt_name(const char *tag)
{
	assert_true(nnames < NAMES_MAX);
	snprintf(names[nnames], sizeof(names[0]), "sdtest%d.%u.%s",
		 (int)getpid(), case_no, tag);
	dt_shm_path(paths[nnames], sizeof(paths[0]), names[nnames]);
	return names[nnames++];
}

void dt_track(pid_t pid)
{
	int i;

	for (i = 0; i < KIDS_MAX; i++) {
		if (!kids[i]) {
			kids[i] = pid;
			return;
		}
	}
	fail_msg("too many children");
}

static void untrack(pid_t pid)
{
	int i;

	for (i = 0; i < KIDS_MAX; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

/* Only async-signal-safe calls: this also runs from the alarm handler. */
static void kill_all(void)
{
	int i;

	if (cur && cur->daemon > 0) {
		kill(cur->daemon, SIGKILL);
		waitpid(cur->daemon, NULL, 0);
		cur->daemon = 0;
	}
	for (i = 0; i < KIDS_MAX; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		kids[i] = 0;
	}
}

static void remove_names(void)
{
	int i;

	for (i = 0; i < nnames; i++) {
		unlink(paths[i]);
		rmdir(paths[i]);	/* a case puts a directory there */
	}
	nnames = 0;
}

/* nftw() is not async-signal-safe; fork and execve are. */
static void remove_dir_now(void)
{
	char *argv[] = { (char *)"rm", (char *)"-rf", NULL, NULL };
	char *envp[] = { NULL };
	pid_t pid;

	if (!cur || !cur->dir[0])
		return;
	argv[2] = cur->dir;
	pid = fork();
	if (pid == 0) {
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = "test_shmpiped: case timed out or was "
				  "stopped: cleaning up\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		sig = 0;
	kill_all();
	remove_names();
	remove_dir_now();
	_exit(sig == SIGALRM ? 2 : 1);
}

void dt_write(struct dt *t, const char *rel, const char *fmt, ...)
{
	char path[256];
	va_list ap;
	FILE *f;

	if (strncmp(rel, "conf.d/", 7) == 0) {
		snprintf(path, sizeof(path), "%s/conf.d", t->dir);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

static void exec_daemon(struct dt *t, const char *env, char **argv)
{
	char sock[128];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(sock, sizeof(sock), "%s/notify", t->dir);
	setenv("NOTIFY_SOCKET", sock, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (env)
		putenv((char *)env);
	/* The daemon must set modes on the descriptor, whatever the umask. */
	umask(077);
	fd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

void dt_start(struct dt *t, const char *env, ...)
{
	char *argv[16];
	const char *bin = getenv("SHMPIPED"), *a;
	int n = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = (char *)(bin ? bin : "build/shmpiped");
	argv[n++] = (char *)"-d";
	argv[n++] = (char *)"-c";
	argv[n++] = t->conf;
	va_start(ap, env);
	while ((a = va_arg(ap, const char *)) && n < 15)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		exec_daemon(t, env, argv);
	t->daemon = pid;
	t->status = -1;
}

int dt_wait_exit(struct dt *t, int timeout_ms)
{
	double t0 = dt_now_ms();
	int status;

	if (t->daemon <= 0)
		return t->status;
	while (dt_now_ms() - t0 < timeout_ms) {
		if (waitpid(t->daemon, &status, WNOHANG) == t->daemon) {
			t->daemon = 0;
			t->status = status;
			return status;
		}
		dt_sleep_ms(10);
	}
	return -1;
}

static void drain_notes(struct dt *t)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(t->nfd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (t->nlen + (size_t)n + 2 > NOTES_MAX)
			fail_msg("too many notifications");
		memcpy(t->notes + t->nlen, buf, (size_t)n);
		t->nlen += (size_t)n;
		t->notes[t->nlen++] = '\n';
		t->notes[t->nlen] = '\0';
	}
}

int dt_notify_wait(struct dt *t, const char *text, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->nfd, .events = POLLIN };
	double t0 = dt_now_ms(), left;
	const char *hit;

	for (;;) {
		drain_notes(t);
		hit = strstr(t->notes + t->ncur, text);
		if (hit) {
			t->ncur = (size_t)(hit - t->notes) + strlen(text);
			return 0;
		}
		left = timeout_ms - (dt_now_ms() - t0);
		if (left <= 0)
			return -1;
		poll(&pfd, 1, (int)left + 1);
	}
}

int dt_log_has(struct dt *t, const char *text)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = fopen(t->log, "r");
	int found;

	if (!f)
		return 0;
	found = getdelim(&buf, &size, '\0', f) > 0 && strstr(buf, text);
	free(buf);
	fclose(f);
	return found;
}

int dt_log_wait(struct dt *t, const char *text, int timeout_ms)
{
	return DT_WAIT_UNTIL(dt_log_has(t, text), timeout_ms) ? 0 : -1;
}

pid_t dt_fork(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* The parent's cleanup handlers are not the child's to run. */
		signal(SIGALRM, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(CASE_TIMEOUT_S);
		_exit(fn(arg));
	}
	dt_track(pid);
	return pid;
}

int dt_child_exit(pid_t pid, int timeout_ms)
{
	double t0 = dt_now_ms();
	int status;

	while (dt_now_ms() - t0 < timeout_ms) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			untrack(pid);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		dt_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	untrack(pid);
	return -1;
}

void dt_stat(const char *name, struct shmpipe_stat *st)
{
	int r = shmpipe_stat(name, st);

	if (r)
		fail_msg("shmpipe_stat(%s): %s", name, strerror(-r));
}

int dt_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dt *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	case_no++;
	snprintf(t->dir, sizeof(t->dir), "/tmp/shmpiped-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->conf, sizeof(t->conf), "%s/shmpiped.conf", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/daemon.log", t->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", t->dir);
	t->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(t->nfd >= 0);
	assert_int_equal(bind(t->nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t->notes = calloc(1, NOTES_MAX);
	assert_non_null(t->notes);
	cur = t;
	*state = t;
	alarm(CASE_TIMEOUT_S);
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void dump_log(struct dt *t)
{
	char line[1024];
	FILE *f = fopen(t->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- daemon log (%s)\n", t->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- notifications\n%s----\n", t->notes);
	fclose(f);
}

int dt_teardown(void **state)
{
	struct dt *t = *state;

	alarm(0);
	kill_all();
	if (!t->passed)
		dump_log(t);
	remove_names();
	close(t->nfd);
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(t->notes);
	free(t);
	cur = NULL;
	return 0;
}

int dt_run(const struct CMUnitTest *tests, size_t n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return _cmocka_run_group_tests("shmpiped", tests, n, NULL, NULL);
}
