/* SPDX-License-Identifier: MIT */
/*
 * Results of a whole benchmark and how they are reported: the table for
 * people, JSON for programs, and the targets checked against the
 * same rounds.
 */
#ifndef SHMPIPE_BENCH_REPORT_H
#define SHMPIPE_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

struct bench_machine {
	char cpu[128];
	char mhz[32];
	char hypervisor[32];
	int ncpu;
	char kernel[200];
	char libc[32];
	char cc[96];
	char date[32];
	char load[64];		/* /proc/loadavg at the start */
};

struct bench_cpustat {
	unsigned long long steal, total;
};

/* machine.c */
void bench_machine_read(struct bench_machine *m);
void bench_cpustat_read(struct bench_cpustat *s);
double bench_steal_pct(const struct bench_cpustat *a,
		       const struct bench_cpustat *b);
double bench_c2c_ns(int cpu_a, int cpu_b);

/* Everything one invocation measured. */
struct bench_results {
	const struct bench_workload *w;
	int nw;
	const struct bench_transport *const *t;	/* t[0] is shmpipe */
	int nt;
	int rounds;
	struct bench_sample *s;		/* [w][t][round] */
	char (*why)[160];		/* [w][t]: why skipped or failed */
	double *steal;			/* per round, percent */
	double *c2c;			/* per round, ns; < 0 unknown */
	double steal_all;
	double elapsed_s;
	uint64_t verified;		/* messages checked by consumers */
	int failures;
	const struct bench_opts *o;
	struct bench_machine m;
	char command[512];
};

static inline struct bench_sample *bench_at(const struct bench_results *r,
					    int w, int t, int round)
{
	return &r->s[((size_t)w * (size_t)r->nt + (size_t)t) *
		     (size_t)r->rounds + (size_t)round];
}

/* Median and quartiles of values that may hold +inf. */
struct bench_stat {
	int n;
	double med, p25, p75;
};

double bench_median(const double *v, int n);
void bench_stat_of(const double *v, int n, struct bench_stat *st);

/* report.c */
void bench_report_text(FILE *f, const struct bench_results *r);
void bench_report_json(FILE *f, const struct bench_results *r);

#endif /* SHMPIPE_BENCH_REPORT_H */
