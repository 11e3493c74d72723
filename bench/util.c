/* SPDX-License-Identifier: MIT */
/*
 * Small helpers of the benchmark: clocks, CPUs, futexes, shared memory,
 * the private directory for socket files, and sysctl files.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* Sleep while *word == val, at most timeout_ns (< 0: no limit). */
int bench_futex_wait(uint32_t *word, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, tp, NULL, 0) < 0)
		return -errno;
	return 0;
}

void bench_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * Record the run's first failure (later ones would only repeat it), and
 * end the parent's wait for a phase that will not come.
 */
void bench_fail(struct bench_area *a, const char *fmt, ...)
{
	uint32_t idle = 0;
	va_list ap;

	if (__atomic_exchange_n(&a->failed, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
	__atomic_compare_exchange_n(&a->phase, &idle, 2, 0, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	bench_futex_wake(&a->phase);
}

/* Zeroed memory that children forked afterwards share with us. */
void *bench_map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int bench_is_root(void)
{
	return geteuid() == 0;
}

/* The state letter of /proc/PID/stat ('S' sleeping), or 0. */
char bench_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold anything */
	return p && p[1] == ' ' ? p[2] : 0;
}

static char tmpdir[64];

/* A private directory for socket files, made on first use. */
const char *bench_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/shmpipe-bench.XXXXXX",
			 base && strlen(base) < 30 ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			tmpdir[0] = '\0';
			return NULL;
		}
	}
	return tmpdir;
}

/* Async-signal-safe: the sockets in it are gone by then or ignored. */
void bench_tmpdir_remove(void)
{
	if (tmpdir[0])
		rmdir(tmpdir);
}

size_t bench_read_sysctl(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

int bench_write_sysctl(const char *path, size_t value)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -errno;
	r = fprintf(f, "%zu\n", value) < 0 ? -EIO : 0;
	if (fclose(f) && !r)
		r = -errno;
	return r;
}
