/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_NAMES	256
#define MAX_CHILDREN	256

static char names[MAX_NAMES][64];
static int nnames;
static pid_t children[MAX_CHILDREN];
static int nchildren;
static unsigned int counter;
static pid_t owner;

const char *th_name(const char *tag)
{
	assert_true(nnames < MAX_NAMES);
	snprintf(names[nnames], sizeof(names[0]), "test-%d-%s-%u",
		 (int)getpid(), tag, counter++);
	shmpipe_unlink(names[nnames]);
	return names[nnames++];
}

const char *th_pipe(const char *tag, size_t capacity)
{
	struct shmpipe_attr a = { .capacity = capacity };
	const char *n = th_name(tag);

	assert_int_equal(shmpipe_create(n, &a), 0);
	return n;
}

pid_t th_fork(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int i;

	for (i = 0; i < nchildren && children[i]; i++)
		;
	assert_true(i < MAX_CHILDREN);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(TH_CASE_TIMEOUT_S);
		_exit(fn(arg));
	}
	children[i] = pid;
	if (i == nchildren)
		nchildren++;
	return pid;
}

static void forget(pid_t pid)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}

int th_wait(pid_t pid, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			forget(pid);
			return status;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (th_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			forget(pid);
			return -1;
		}
		th_sleep_ms(1);
	}
}

int th_exit_code(pid_t pid, int timeout_ms)
{
	int st = th_wait(pid, timeout_ms);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

void th_kill(pid_t pid, int sig)
{
	kill(pid, sig);
}

void *th_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

double th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void th_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int th_wait_flag(volatile int *flag, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && th_now_ms() < end)
		th_sleep_ms(1);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* Kill the case's children and remove its pipes.  Async-signal-safe. */
static void cleanup(void)
{
	int i, status;

	if (getpid() != owner)
		return;
	for (i = 0; i < nchildren; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], &status, 0);
		}
		children[i] = 0;
	}
	nchildren = 0;
	for (i = 0; i < nnames; i++)
		shmpipe_unlink(names[i]);
	nnames = 0;
}

static void on_alarm(int sig)
{
	static const char msg[] = "\ntest case timed out: treated as a hang\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	cleanup();
	_exit(3);
}

/* Stopped from outside (timeout(1), ^C): clean up, then die of it. */
static void on_stop(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

int th_setup(void **state)
{
	(void)state;
	owner = getpid();
	signal(SIGALRM, on_alarm);
	alarm(TH_CASE_TIMEOUT_S);
	return 0;
}

int th_teardown(void **state)
{
	(void)state;
	alarm(0);
	cleanup();
	return 0;
}

int th_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	owner = getpid();
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

int th_hold_robust(uint32_t *word)
{
	static struct robust_list node;
	static struct robust_list_head head;
	uint32_t free_word = 0;

	if (!__atomic_compare_exchange_n(word, &free_word, (uint32_t)gettid(),
					 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return -1;
	node.next = &head.list;
	head.list.next = &node;
	head.futex_offset = (long)((uint8_t *)word - (uint8_t *)&node);
	head.list_op_pending = NULL;
	return syscall(SYS_set_robust_list, &head, sizeof(head)) ? -1 : 0;
}
