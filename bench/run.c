/* SPDX-License-Identifier: MIT */
/*
 * The parent's side of a run: make the channels, fork the producers and
 * consumers, wait for them without spinning (pidfds in poll(2), so the
 * parent takes no CPU from the two it measures), check what they
 * report, and remove every channel again, also when interrupted.
 *
 * Process k of a run is a producer for k < writers, else a consumer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define RUN_GRACE_NS	(30 * 1000000000LL)	/* beyond this, it hangs */
#define LIVE_MAX	16
#define RTT_WARMUP	100	/* first round trips, not counted */

uint32_t *bench_samples;

/* Runs in flight, for the signal handler. */
static struct bench_run *live[LIVE_MAX];
static volatile pid_t helpers[2];
static int next_chan_id;

static void on_signal(int sig)
{
	int i, k, c;

	for (i = 0; i < LIVE_MAX; i++) {
		struct bench_run *r = live[i];

		if (!r)
			continue;
		for (k = 0; k < r->nproc; k++) {
			if (r->pid[k] <= 0)
				continue;
			kill(r->pid[k], SIGKILL);
			waitpid(r->pid[k], NULL, 0);
		}
		for (c = 0; c < r->nch; c++)
			r->t->scrub(&r->ch[c]);
	}
	for (i = 0; i < 2; i++) {
		if (helpers[i] <= 0)
			continue;
		kill(helpers[i], SIGKILL);
		waitpid(helpers[i], NULL, 0);
	}
	bench_tmpdir_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Processes outside any run (the core-to-core pair), for the handler. */
void bench_track(pid_t pid, int on)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (on && helpers[i] <= 0) {
			helpers[i] = pid;
			return;
		}
		if (!on && helpers[i] == pid) {
			helpers[i] = 0;
			return;
		}
	}
}

int bench_run_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* writers want EPIPE, not death */
	bench_samples = bench_map_shared(BENCH_SAMPLES_MAX * sizeof(uint32_t));
	return bench_samples ? 0 : -ENOMEM;
}

void bench_run_fini(void)
{
	munmap(bench_samples, BENCH_SAMPLES_MAX * sizeof(uint32_t));
	bench_tmpdir_remove();
}

int bench_chan_cfg_of(const struct bench_workload *w,
		      struct bench_chan_cfg *cfg)
{
	cfg->msg_size = w->size;
	cfg->writers = w->writers;
	cfg->readers = w->readers;
	return w->writers + w->readers;
}

static void live_set(struct bench_run *r, int on)
{
	int i;

	for (i = 0; i < LIVE_MAX; i++) {
		if (on && !live[i]) {
			live[i] = r;
			return;
		}
		if (!on && live[i] == r) {
			live[i] = NULL;
			return;
		}
	}
}

/* The child: default signals, its own role, then never return. */
static void child_start(struct bench_run *r, int k)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	_exit(bench_child(r, k));
}

static int run_fork(struct bench_run *r, int k)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_start(r, k);
	r->pid[k] = pid;
	r->pidfd[k] = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;	/* without a pidfd, run_wait() polls */
}

/* Channels made and processes forked; on failure, why says so. */
static int run_start(struct bench_run *r, char *why, size_t len)
{
	struct bench_chan_cfg cfg;
	int i, k, e;

	r->nproc = bench_chan_cfg_of(r->w, &cfg);
	r->nch = r->w->kind == BW_RTT ? 2 : 1;
	for (i = 0; i < r->nch; i++) {
		r->ch[i] = (struct bench_chan){ .t = r->t, .cfg = cfg,
			.id = next_chan_id++, .fd = { -1, -1 } };
	}
	r->a = bench_map_shared(sizeof(*r->a));
	if (!r->a) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -1;
	}
	r->a->nprocs = (uint32_t)r->nproc;
	live_set(r, 1);
	for (i = 0; i < r->nch; i++) {
		e = r->t->setup(&r->ch[i]);
		if (e) {
			snprintf(why, len, "setup: %s", strerror(-e));
			r->nch = i;
			return -1;
		}
	}
	for (k = 0; k < r->nproc; k++) {
		e = run_fork(r, k);
		if (e) {
			snprintf(why, len, "fork: %s", strerror(-e));
			return -1;
		}
	}
	for (i = 0; i < r->nch; i++)
		r->t->parent_close(&r->ch[i]);
	return 0;
}

static int reap(struct bench_run *r, int k)
{
	int st = 0;

	while (waitpid(r->pid[k], &st, 0) < 0 && errno == EINTR)
		;
	if (r->pidfd[k] >= 0)
		close(r->pidfd[k]);
	r->pid[k] = 0;
	r->pidfd[k] = -1;
	return st;
}

static void run_kill(struct bench_run *r, int k)
{
	if (r->pid[k] <= 0)
		return;
	kill(r->pid[k], SIGKILL);
	reap(r, k);
}

static int ms_until(int64_t t)
{
	int64_t left = t - bench_now_ns();

	if (left <= 0)
		return 0;
	return left / 1000000 > 60000 ? 60000 : (int)(left / 1000000) + 1;
}

/*
 * Where pidfd_open(2) is missing (old kernels, valgrind), look every
 * millisecond instead: the poll(2) of pidfds finds them readable.
 */
static void poll_children(struct bench_run *r, struct pollfd *p, int n,
			  const int *idx, int64_t deadline)
{
	siginfo_t si;
	int i, any = 0;

	for (i = 0; i < n; i++)
		any |= p[i].fd < 0;
	if (!any) {
		poll(p, (nfds_t)n, ms_until(deadline));
		return;
	}
	bench_sleep_ns(1000000);
	for (i = 0; i < n; i++) {
		p[i].revents = 0;
		si.si_pid = 0;
		if (!waitid(P_PID, (id_t)r->pid[idx[i]], &si,
			    WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
			p[i].revents = POLLIN;
	}
}

/*
 * Wait until the processes in mask have exited.  1 if any process of the
 * run failed (exit status not 0, or a signal), -ETIMEDOUT at deadline.
 */
static int run_wait(struct bench_run *r, unsigned int mask, int64_t deadline)
{
	struct pollfd p[BENCH_PROCS_MAX];
	int idx[BENCH_PROCS_MAX], n, i, k, st;

	for (;;) {
		unsigned int waiting = 0;

		for (n = 0, k = 0; k < r->nproc; k++) {
			if (r->pid[k] <= 0)
				continue;
			waiting |= mask & (1u << k);
			p[n] = (struct pollfd){ .fd = r->pidfd[k],
						.events = POLLIN };
			idx[n++] = k;
		}
		if (!waiting)
			return 0;
		if (bench_now_ns() >= deadline)
			return -ETIMEDOUT;
		poll_children(r, p, n, idx, deadline);
		for (i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			st = reap(r, idx[i]);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				return 1;
		}
	}
}

static void run_end(struct bench_run *r)
{
	int k, i;

	for (k = 0; k < r->nproc; k++)
		run_kill(r, k);
	for (i = 0; i < r->nch; i++)
		r->t->teardown(&r->ch[i]);
	live_set(r, 0);
	if (r->a)
		munmap(r->a, sizeof(*r->a));
	r->a = NULL;
}

/* Why a run failed, in the children's words if they left any. */
static void fail_reason(struct bench_run *r, int e, char *why, size_t len)
{
	if (r->a->failed)
		snprintf(why, len, "%s", r->a->error);
	else if (e == -ETIMEDOUT)
		snprintf(why, len, "no end after %lld s: hung",
			 (long long)(RUN_GRACE_NS / 1000000000));
	else
		snprintf(why, len, "a process died");
}

static uint64_t sum_to(uint64_t n)
{
	return (uint64_t)((unsigned __int128)n * (n - 1) / 2);
}

static uint64_t sumsq_to(uint64_t n)
{
	unsigned __int128 m = n;

	return n ? (uint64_t)((m - 1) * m * (2 * m - 1) / 6) : 0;
}

/* Did the consumers take exactly what each producer sent? */
static int check_counts(struct bench_run *r, char *why, size_t len)
{
	struct bench_area *a = r->a;
	int w;

	for (w = 0; w < r->w->writers; w++) {
		uint64_t n = a->sent[w];

		if (a->got[w] != n || a->sum[w] != sum_to(n) ||
		    a->sumsq[w] != sumsq_to(n)) {
			snprintf(why, len, "writer %d sent %llu messages, "
				 "consumers took %llu, or not those", w,
				 (unsigned long long)n,
				 (unsigned long long)a->got[w]);
			return -1;
		}
	}
	return 0;
}

static void collect_tput(struct bench_run *r, struct bench_sample *s,
			 char *why, size_t len)
{
	struct bench_area *a = r->a;
	int64_t end = 0, start = INT64_MAX;
	uint64_t msgs = 0;
	int e, k, w;

	e = run_wait(r, ~0u, bench_now_ns() + r->o->run_ns + RUN_GRACE_NS);
	if (e || a->failed) {
		fail_reason(r, e, why, len);
		return;
	}
	if (check_counts(r, why, len))
		return;
	for (k = r->w->writers; k < r->nproc; k++)
		if (a->t_end[k] > end)
			end = a->t_end[k];
	for (w = 0; w < r->w->writers; w++) {
		msgs += a->got[w];
		if (a->t_first[w] < start)
			start = a->t_first[w];
	}
	s->status = BS_OK;
	s->msgs = msgs;
	s->v = (double)msgs * 1e9 / (double)(end - start);
}

static void swap_u32(uint32_t *v, size_t i, size_t j)
{
	uint32_t t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/*
 * The k-th smallest of v[0..n), reordering v.  Round-trip samples hold
 * long runs of equal values, so the partition is three-way: the equal
 * ones settle in the middle at once instead of costing n^2.
 */
static uint32_t select_kth(uint32_t *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		uint32_t p = v[lo + (hi - lo) / 2];
		size_t lt = lo, i = lo, gt = hi;

		while (i < gt) {
			if (v[i] < p)
				swap_u32(v, lt++, i++);
			else if (v[i] > p)
				swap_u32(v, i, --gt);
			else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return p;
	}
	return v[k];
}

static void collect_rtt(struct bench_run *r, struct bench_sample *s,
			char *why, size_t len)
{
	struct bench_area *a = r->a;
	size_t n, skip;
	uint32_t *v;
	int e;

	e = run_wait(r, ~0u, bench_now_ns() + r->o->rtt_ns + RUN_GRACE_NS);
	if (e || a->failed) {
		fail_reason(r, e, why, len);
		return;
	}
	n = (size_t)a->nsamples;
	skip = n / 10 < RTT_WARMUP ? n / 10 : RTT_WARMUP;
	v = bench_samples + skip;
	n -= skip;
	if (!n) {
		snprintf(why, len, "no round trip completed");
		return;
	}
	s->status = BS_OK;
	s->msgs = 2 * a->sent[0];
	s->v = select_kth(v, n, n / 2);
	s->v2 = select_kth(v, n, n * 99 / 100);
}

/* Wait for the consumer to reach the phase after its setup. */
static int notice_ready(struct bench_run *r)
{
	struct bench_area *a = r->a;
	int64_t limit = bench_now_ns() + RUN_GRACE_NS;
	uint32_t ph;

	while (!(ph = __atomic_load_n(&a->phase, __ATOMIC_ACQUIRE))) {
		if (bench_now_ns() >= limit)
			return -ETIMEDOUT;
		bench_futex_wait(&a->phase, 0, limit - bench_now_ns());
	}
	return ph == 1 ? 0 : -1;
}

static void collect_notice(struct bench_run *r, struct bench_sample *s,
			   char *why, size_t len)
{
	struct bench_area *a = r->a;
	int e = notice_ready(r);

	if (e) {
		fail_reason(r, e, why, len);
		return;
	}
	if (r->w->kind == BW_KILL) {
		a->t_close = bench_now_ns();
		run_kill(r, 1);
	}
	e = run_wait(r, 1u, a->t_close + r->o->notice_cap_ns);
	if (e == -ETIMEDOUT) {
		s->status = BS_NEVER;
		s->v = INFINITY;
		return;
	}
	if (e || a->failed || !a->t_notice) {
		fail_reason(r, e, why, len);
		return;
	}
	if (a->t_notice < a->t_close) {
		snprintf(why, len, "send failed before the close: %s",
			 strerror(-a->notice_err));
		return;
	}
	s->status = BS_OK;
	s->v = (double)(a->t_notice - a->t_close);
	s->err = a->notice_err;
}

/* Why this workload cannot run on this transport, or NULL. */
static const char *run_skip(const struct bench_workload *w,
			    const struct bench_transport *t,
			    const struct bench_opts *o)
{
	struct bench_chan_cfg cfg;

	bench_chan_cfg_of(w, &cfg);
	if (w->pinned && o->cpu[1] < 0)
		return "skipped: needs two CPUs";
	if ((w->kind == BW_CLOSE || w->kind == BW_KILL) &&
	    (t->flags & BT_NO_NOTICE))
		return "n/a: has no notion of a peer leaving";
	return t->skip(&cfg);
}

void bench_run(const struct bench_workload *w,
	       const struct bench_transport *t, const struct bench_opts *o,
	       struct bench_sample *s, char *why, size_t whylen)
{
	struct bench_run r = { .w = w, .t = t, .o = o };
	const char *skip = run_skip(w, t, o);

	memset(s, 0, sizeof(*s));
	s->status = BS_FAIL;
	why[0] = '\0';
	if (skip) {
		s->status = BS_SKIP;
		snprintf(why, whylen, "%s", skip);
		return;
	}
	if (run_start(&r, why, whylen) == 0) {
		if (w->kind == BW_RTT)
			collect_rtt(&r, s, why, whylen);
		else if (w->kind == BW_CLOSE || w->kind == BW_KILL)
			collect_notice(&r, s, why, whylen);
		else
			collect_tput(&r, s, why, whylen);
	}
	run_end(&r);
}

static void collect_idle(struct bench_run *r, struct bench_sample *s,
			 char *why, size_t len, int64_t deadline)
{
	struct bench_area *a = r->a;
	int e = run_wait(r, ~0u, deadline);

	if (e || a->failed || a->idle_ns <= 0) {
		fail_reason(r, e, why, len);
		return;
	}
	s->status = BS_OK;
	s->v = (double)a->cpu_ns / (double)a->idle_ns;
}

/*
 * Every transport's idle consumer at once: they sleep side by side, so a
 * few seconds each cost a few seconds in all.  Each run's channels are
 * made and its processes forked before the next run's channels exist,
 * so no child holds another run's descriptors open.
 */
void bench_run_idle(const struct bench_workload *w,
		    const struct bench_transport *const *ts, int n,
		    const struct bench_opts *o, struct bench_sample *s,
		    char (*why)[160])
{
	struct bench_run *r = calloc((size_t)n, sizeof(*r));
	int64_t deadline = bench_now_ns() + o->idle_ns + RUN_GRACE_NS;
	const char *skip;
	int i;

	for (i = 0; r && i < n; i++) {
		r[i] = (struct bench_run){ .w = w, .t = ts[i], .o = o };
		memset(&s[i], 0, sizeof(s[i]));
		s[i].status = BS_FAIL;
		why[i][0] = '\0';
		skip = run_skip(w, ts[i], o);
		if (skip) {
			s[i].status = BS_SKIP;
			snprintf(why[i], sizeof(why[i]), "%s", skip);
		} else if (run_start(&r[i], why[i], sizeof(why[i]))) {
			run_end(&r[i]);
		}
	}
	for (i = 0; r && i < n; i++) {
		if (r[i].a)
			collect_idle(&r[i], &s[i], why[i], sizeof(why[i]),
				     deadline);
		run_end(&r[i]);
	}
	free(r);
}
