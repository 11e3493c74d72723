/* SPDX-License-Identifier: MIT */
/*
 * The machine a result belongs to: what it is, how much of its CPU time
 * the hypervisor took (steal), and how long a cache line takes to go from
 * one core to the other and back.  On a shared virtual machine the last
 * two move from minute to minute, so they are measured every round.
 */
#include <cpuid.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"

#define C2C_BATCH	2000	/* round trips per timed batch */
#define C2C_BATCHES	9
#define C2C_GIVE_UP_NS	(200 * 1000000LL)
#define C2C_BUDGET_NS	(50 * 1000000LL)
#define C2C_STOP	UINT64_MAX

/* The value of "key : value" in /proc/cpuinfo, first occurrence. */
static void cpuinfo(const char *key, char *out, size_t len)
{
	char line[512], *v;
	size_t k = strlen(key);
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, k) || !(v = strchr(line, ':')))
			continue;
		v += 1 + (v[1] == ' ');
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

/* The hypervisor's name from CPUID, or "none". */
static void hypervisor(char *out, size_t len)
{
	unsigned int a, b, c, d;
	char sig[13];

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31))) {
		snprintf(out, len, "none");
		return;
	}
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	if (!strncmp(sig, "KVMKVMKVM", 9))
		snprintf(out, len, "KVM");
	else
		snprintf(out, len, "%s", sig[0] ? sig : "unknown");
}

/* The three load averages: other work competing for the CPUs. */
static void loadavg(char *out, size_t len)
{
	double a[3];
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(out, len, "unknown");
	if (f && fscanf(f, "%lf %lf %lf", &a[0], &a[1], &a[2]) == 3)
		snprintf(out, len, "%.2f %.2f %.2f", a[0], a[1], a[2]);
	if (f)
		fclose(f);
}

void bench_machine_read(struct bench_machine *m)
{
	struct utsname u;
	time_t now = time(NULL);

	memset(m, 0, sizeof(*m));
	cpuinfo("model name", m->cpu, sizeof(m->cpu));
	cpuinfo("cpu MHz", m->mhz, sizeof(m->mhz));
	hypervisor(m->hypervisor, sizeof(m->hypervisor));
	m->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	snprintf(m->libc, sizeof(m->libc), "glibc %s",
		 gnu_get_libc_version());
	snprintf(m->cc, sizeof(m->cc), "gcc %s", __VERSION__);
	strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime(&now));
	loadavg(m->load, sizeof(m->load));
}

/* The first line of /proc/stat: steal and the total, in ticks. */
void bench_cpustat_read(struct bench_cpustat *s)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int i;

	s->steal = 0;
	s->total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			s->total += v[i];
		s->steal = v[7];
	}
	fclose(f);
}

double bench_steal_pct(const struct bench_cpustat *a,
		       const struct bench_cpustat *b)
{
	if (b->total <= a->total)
		return 0;
	return 100.0 * (double)(b->steal - a->steal) /
	       (double)(b->total - a->total);
}

struct c2c_line {
	_Alignas(64) uint64_t ping;
	uint64_t pong;			/* on the same line: it bounces */
	_Alignas(64) int64_t batch_ns[C2C_BATCHES];
	int nbatches;
};

/* Spin until *w != old, without pause: the delay is what is measured. */
static uint64_t c2c_await(uint64_t *w, uint64_t old, int64_t limit)
{
	unsigned int n = 0;
	uint64_t v;

	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) == old)
		if (!(++n & 0xffff) && bench_now_ns() > limit)
			return old;
	return v;
}

/* Send back whatever comes, until the lead says stop. */
static void c2c_echo(struct c2c_line *l)
{
	uint64_t last = 0, v;

	for (;;) {
		v = c2c_await(&l->ping, last, bench_now_ns() + C2C_GIVE_UP_NS);
		if (v == last)
			_exit(1);	/* the lead is gone */
		if (v == C2C_STOP)
			_exit(0);
		__atomic_store_n(&l->pong, v, __ATOMIC_RELEASE);
		last = v;
	}
}

/*
 * Time batches of round trips, within a budget: a CPU that a neighbour
 * holds makes a batch take a time slice, and that must not make the
 * round take seconds.
 */
static void c2c_lead(struct c2c_line *l)
{
	int64_t start = bench_now_ns();
	uint64_t i = 0;
	int b, j;

	for (b = 0; b < C2C_BATCHES; b++) {
		int64_t t0 = bench_now_ns();

		if (t0 - start > C2C_BUDGET_NS)
			break;
		for (j = 0; j < C2C_BATCH; j++) {
			__atomic_store_n(&l->ping, ++i, __ATOMIC_RELEASE);
			if (c2c_await(&l->pong, i - 1, t0 + C2C_GIVE_UP_NS) !=
			    i)
				break;
		}
		if (j < C2C_BATCH)
			break;
		l->batch_ns[b] = bench_now_ns() - t0;
		l->nbatches = b + 1;
	}
	__atomic_store_n(&l->ping, C2C_STOP, __ATOMIC_RELEASE);
	_exit(0);
}

static pid_t c2c_fork(struct c2c_line *l, int cpu, int lead)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid) {
		if (pid > 0)
			bench_track(pid, 1);
		return pid;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (bench_pin(cpu))
		_exit(1);
	if (lead)
		c2c_lead(l);
	c2c_echo(l);
	return 0;
}

/*
 * Nanoseconds for a cache line to go from cpu_a to cpu_b and back: the
 * median of the batches of round trips timed within the budget, or -1
 * when not one batch completed.
 */
double bench_c2c_ns(int cpu_a, int cpu_b)
{
	struct c2c_line *l = bench_map_shared(sizeof(*l));
	double per[C2C_BATCHES], r = -1;
	int b, st, ok = 1;
	pid_t p[2];

	if (!l || cpu_b < 0)
		return -1;
	p[0] = c2c_fork(l, cpu_b, 0);
	p[1] = c2c_fork(l, cpu_a, 1);
	for (b = 0; b < 2; b++) {
		if (p[b] < 0) {
			ok = 0;
			continue;
		}
		while (waitpid(p[b], &st, 0) < 0 && errno == EINTR)
			;
		bench_track(p[b], 0);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	if (ok && l->nbatches) {
		for (b = 0; b < l->nbatches; b++)
			per[b] = (double)l->batch_ns[b] / C2C_BATCH;
		r = bench_median(per, l->nbatches);
	}
	munmap(l, sizeof(*l));
	return r;
}
