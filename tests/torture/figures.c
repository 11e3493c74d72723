/* SPDX-License-Identifier: MIT */
/*
 * Reliability figures for docs/reliability.md: how long survivors take
 * to learn of a death, and what an idle blocked endpoint costs.  It
 * measures and prints; it asserts nothing about time.
 *
 *   build/tests/torture/figures [ROUNDS]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmpipe.h"

struct shared {
	volatile int ready;
	double noticed_ms;
	int result;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void wait_ready(struct shared *s)
{
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		usleep(100);
	usleep(20000);	/* let it fall asleep */
}

/* A process that attaches and sleeps forever (the one to be killed). */
static pid_t idle_party(const char *name, int writer, struct shared *s)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct shmpipe_writer *w;
		struct shmpipe_reader *r;

		if (writer ? shmpipe_writer_open(name, &w) :
			     shmpipe_reader_open(name, &r))
			_exit(1);
		__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
		for (;;)
			pause();
	}
	return pid;
}

/* A process blocked in a write (full ring) or a read (empty ring). */
static pid_t blocked_party(const char *name, int writer, struct shared *s)
{
	pid_t pid = fork();
	char buf[512] = { 0 };
	size_t len;

	if (pid == 0) {
		struct shmpipe_writer *w;
		struct shmpipe_reader *r;

		if (writer) {
			if (shmpipe_writer_open(name, &w))
				_exit(1);
			while (shmpipe_write(w, buf, sizeof(buf), 0) == 0)
				;
			__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
			s->result = shmpipe_write(w, buf, sizeof(buf), -1);
		} else {
			if (shmpipe_reader_open(name, &r))
				_exit(1);
			__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
			s->result = shmpipe_read(r, buf, sizeof(buf), &len, -1);
		}
		s->noticed_ms = now_ms();
		_exit(0);
	}
	return pid;
}

/* Kill the peer of a blocked survivor; milliseconds until it knew. */
static double one_death(const char *name, int survivor_writes)
{
	struct shared *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shared *b = a + 1;
	struct shmpipe_attr attr = { .capacity = 4096 };
	pid_t victim, survivor;
	double t0;

	shmpipe_unlink(name);
	shmpipe_create(name, &attr);
	victim = idle_party(name, !survivor_writes, a);
	wait_ready(a);
	survivor = blocked_party(name, survivor_writes, b);
	wait_ready(b);
	t0 = now_ms();
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	waitpid(survivor, NULL, 0);
	if (b->result != -ECONNRESET)
		fprintf(stderr, "unexpected result %d\n", b->result);
	t0 = b->noticed_ms - t0;
	munmap(a, 4096);
	shmpipe_unlink(name);
	return t0;
}

static void deaths(const char *name, int rounds, int survivor_writes)
{
	double *t = calloc((size_t)rounds, sizeof(*t));
	int i;

	for (i = 0; i < rounds; i++)
		t[i] = one_death(name, survivor_writes);
	qsort(t, (size_t)rounds, sizeof(*t), cmp);
	printf("%-44s median %.3f ms, max %.3f ms (%d kills)\n",
	       survivor_writes ? "reader killed, blocked writer told:" :
				 "writer killed, blocked reader told:",
	       t[rounds / 2], t[rounds - 1], rounds);
	free(t);
}

/* CPU time of a process blocked in a read for a few seconds. */
static void idle_cpu(const char *name, int seconds)
{
	struct shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shmpipe_writer *w;
	struct rusage ru;
	pid_t pid;
	double cpu;
	int st;

	shmpipe_unlink(name);
	shmpipe_create(name, NULL);
	shmpipe_writer_open(name, &w);
	pid = blocked_party(name, 0, s);
	wait_ready(s);
	sleep((unsigned int)seconds);
	shmpipe_writer_close(w, 0);
	wait4(pid, &st, 0, &ru);
	cpu = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	      ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	printf("%-44s %.2f ms of CPU in %d s (%.3f%% of a core)\n",
	       "idle reader blocked in shmpipe_read:", cpu, seconds,
	       cpu / (seconds * 10.0));
	munmap(s, 4096);
	shmpipe_unlink(name);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	char name[64];

	snprintf(name, sizeof(name), "figures-%d", (int)getpid());
	deaths(name, rounds, 1);
	deaths(name, rounds, 0);
	idle_cpu(name, 5);
	return 0;
}
