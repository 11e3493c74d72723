/* SPDX-License-Identifier: MIT */
/*
 * Reporting: statistics over rounds, the table, the JSON, the targets.
 *
 * A figure is the median over the rounds of one transport's runs, with
 * the interquartile range as its spread.  A gain compares shmpipe with a
 * peer round by round (both ran within seconds of each other, under the
 * same noise) and is the median of those per-round ratios: how many
 * times more messages per second shmpipe moved, or how many times less
 * time it took.  A peer that never noticed a close has an infinite time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

enum { T_GAIN, T_VALUE_BELOW, T_SELF };

/* The targets, checked against the same rounds. */
struct target {
	const char *text;
	int how;		/* T_* */
	enum bench_kind kind;
	size_t size;
	int pinned;
	int writers;
	const char *peer;	/* T_GAIN: the peer's name */
	double goal;		/* at least (T_GAIN, T_SELF), below (VALUE) */
};

static const struct target targets[] = {
	{ "64 B throughput >= 15x pipe(2)", T_GAIN, BW_TPUT, 64, 1, 1,
	  "pipe", 15 },
	{ "64 B throughput >= 3x Boost.Interprocess", T_GAIN, BW_TPUT, 64,
	  1, 1, "boost", 3 },
	{ "64 B throughput >= 0.7x reference ring", T_GAIN, BW_TPUT, 64, 1,
	  1, "ring", 0.7 },
	{ "16 KiB throughput >= 3x pipe(2)", T_GAIN, BW_TPUT, 16384, 1, 1,
	  "pipe", 3 },
	{ "16 KiB throughput >= 0.8x reference ring", T_GAIN, BW_TPUT,
	  16384, 1, 1, "ring", 0.8 },
	{ "64 B round trip median < 1 us", T_VALUE_BELOW, BW_RTT, 64, 1, 1,
	  NULL, 1000 },
	{ "64 B round trip >= 20x better than pipe(2)", T_GAIN, BW_RTT, 64,
	  1, 1, "pipe", 20 },
	{ "killed consumer noticed within 2x pipe(2)", T_GAIN, BW_KILL,
	  BENCH_NOTICE_SIZE, 0, 1, "pipe", 0.5 },
	{ "early close noticed within 100 us", T_VALUE_BELOW, BW_CLOSE,
	  BENCH_NOTICE_SIZE, 0, 1, NULL, 100000 },
	{ "1 writer x 4 readers >= 0.5x single pair", T_SELF, BW_MULTI, 64,
	  0, 1, NULL, 0.5 },
	{ "4 writers x 1 reader >= 0.5x single pair", T_SELF, BW_MULTI, 64,
	  0, 4, NULL, 0.5 },
};

#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Linear interpolation between order statistics; inf stays inf. */
static double quantile(const double *sorted, int n, double q)
{
	double pos = q * (n - 1), frac = pos - floor(pos);
	int i = (int)floor(pos);

	if (frac == 0 || i + 1 >= n)
		return sorted[i];
	if (isinf(sorted[i + 1]))
		return sorted[i + 1];
	return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

void bench_stat_of(const double *v, int n, struct bench_stat *st)
{
	double *s;

	memset(st, 0, sizeof(*st));
	st->n = n;
	if (n <= 0 || !(s = malloc(sizeof(double) * (size_t)n)))
		return;
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	st->med = quantile(s, n, 0.5);
	st->p25 = quantile(s, n, 0.25);
	st->p75 = quantile(s, n, 0.75);
	free(s);
}

double bench_median(const double *v, int n)
{
	struct bench_stat st;

	bench_stat_of(v, n, &st);
	return st.med;
}

static int higher_better(enum bench_kind k)
{
	return k == BW_TPUT || k == BW_MULTI;
}

static int has_value(const struct bench_sample *s)
{
	return s->status == BS_OK || s->status == BS_NEVER;
}

/* One transport's figures (second: p99) over the rounds that have one. */
static int values_of(const struct bench_results *r, int w, int t,
		     int second, double *out)
{
	int i, n = 0;

	for (i = 0; i < r->rounds; i++) {
		const struct bench_sample *s = bench_at(r, w, t, i);

		if (has_value(s))
			out[n++] = second ? s->v2 : s->v;
	}
	return n;
}

/* How many times better a did than b: NAN when it cannot be said. */
static double gain(enum bench_kind k, double a, double b)
{
	if (isinf(a) && isinf(b))
		return NAN;
	if (higher_better(k))
		return b > 0 ? a / b : NAN;
	return a > 0 ? b / a : INFINITY;
}

/* shmpipe's gain over transport t in workload w, round by round. */
static int gains_of(const struct bench_results *r, int w, int t,
		    double *out)
{
	int i, n = 0;

	for (i = 0; i < r->rounds; i++) {
		const struct bench_sample *a = bench_at(r, w, 0, i);
		const struct bench_sample *b = bench_at(r, w, t, i);
		double g;

		if (!has_value(a) || !has_value(b))
			continue;
		g = gain(r->w[w].kind, a->v, b->v);
		if (!isnan(g))
			out[n++] = g;
	}
	return n;
}

static int find_w(const struct bench_results *r, enum bench_kind k,
		  size_t size, int pinned, int writers)
{
	int i;

	for (i = 0; i < r->nw; i++)
		if (r->w[i].kind == k && r->w[i].size == size &&
		    r->w[i].pinned == pinned && r->w[i].writers == writers)
			return i;
	return -1;
}

static int find_t(const struct bench_results *r, const char *name)
{
	int i;

	for (i = 0; i < r->nt; i++)
		if (!strcmp(r->t[i]->name, name))
			return i;
	return -1;
}

/* A multi-process workload's shmpipe figure over its single pair's. */
static int self_gains(const struct bench_results *r, int w, double *out)
{
	int single = find_w(r, BW_TPUT, r->w[w].size, 0, 1), i, n = 0;

	for (i = 0; single >= 0 && i < r->rounds; i++) {
		const struct bench_sample *a = bench_at(r, w, 0, i);
		const struct bench_sample *b = bench_at(r, single, 0, i);

		if (a->status == BS_OK && b->status == BS_OK && b->v > 0)
			out[n++] = a->v / b->v;
	}
	return n;
}

/* 1 held, 0 missed, -1 not measured; st gets the figure. */
static int target_eval(const struct bench_results *r, const struct target *g,
		       struct bench_stat *st)
{
	int w = find_w(r, g->kind, g->size, g->pinned, g->writers), t, n;
	double v[r->rounds + 1];

	memset(st, 0, sizeof(*st));
	if (w < 0)
		return -1;
	if (g->how == T_SELF) {
		n = self_gains(r, w, v);
	} else if (g->how == T_VALUE_BELOW) {
		n = values_of(r, w, 0, 0, v);
	} else {
		t = find_t(r, g->peer);
		n = t < 0 ? 0 : gains_of(r, w, t, v);
	}
	if (!n)
		return -1;
	bench_stat_of(v, n, st);
	return g->how == T_VALUE_BELOW ? st->med < g->goal
				       : st->med >= g->goal;
}

/* Formatting */

static void fmt_rate(char *b, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(b, n, "%.2f M", v / 1e6);
	else if (v >= 1e3)
		snprintf(b, n, "%.1f k", v / 1e3);
	else
		snprintf(b, n, "%.0f", v);
}

static void fmt_ns(char *b, size_t n, double v)
{
	if (isinf(v))
		snprintf(b, n, "never");
	else if (v >= 1e6)
		snprintf(b, n, "%.2f ms", v / 1e6);
	else if (v >= 1e4)
		snprintf(b, n, "%.1f us", v / 1e3);
	else if (v >= 1e3)
		snprintf(b, n, "%.2f us", v / 1e3);
	else
		snprintf(b, n, "%.0f ns", v);
}

static void fmt_gain(char *b, size_t n, double v)
{
	if (isinf(v))
		snprintf(b, n, "inf");
	else if (v >= 100)
		snprintf(b, n, "%.0fx", v);
	else if (v >= 10)
		snprintf(b, n, "%.1fx", v);
	else
		snprintf(b, n, "%.2fx", v);
}

static void fmt_value(char *b, size_t n, enum bench_kind k, double v)
{
	if (higher_better(k))
		fmt_rate(b, n, v);
	else if (k == BW_IDLE)
		snprintf(b, n, "%.4f%%", v * 100);
	else
		fmt_ns(b, n, v);
}

/* Half the IQR against the median; rounds split between a fast and a
 * slow mode can make it huge, and then its digits say nothing more. */
static void fmt_spread(char *b, size_t n, const struct bench_stat *st)
{
	double pct;

	if (st->n < 2 || isinf(st->p75) || st->med <= 0) {
		snprintf(b, n, "-");
		return;
	}
	pct = 50.0 * (st->p75 - st->p25) / st->med;
	snprintf(b, n, pct > 999 ? ">999%%" : "+-%.0f%%", pct);
}

static const char *err_name(int err)
{
	const char *s = err ? strerrorname_np(-err) : NULL;

	return s ? s : "-";
}

/* The third column: GB/s, p99, the error seen, CPU per second. */
static void fmt_extra(char *b, size_t n, const struct bench_results *r,
		      int w, int t, const struct bench_stat *st)
{
	const struct bench_workload *wl = &r->w[w];
	double v2[r->rounds + 1];
	struct bench_stat s2;
	int i;

	b[0] = '\0';
	if (higher_better(wl->kind)) {
		snprintf(b, n, "%.3f", st->med * (double)wl->size / 1e9);
	} else if (wl->kind == BW_RTT) {
		bench_stat_of(v2, values_of(r, w, t, 1, v2), &s2);
		fmt_ns(b, n, s2.med);
	} else if (wl->kind == BW_IDLE) {
		snprintf(b, n, "%.0f us/s", st->med * 1e6);
	} else {
		for (i = 0; i < r->rounds; i++) {
			const struct bench_sample *s = bench_at(r, w, t, i);

			if (s->status == BS_OK) {
				snprintf(b, n, "%s", err_name(s->err));
				return;
			}
		}
		snprintf(b, n, "blocked");
	}
}

static const char *extra_head(enum bench_kind k)
{
	switch (k) {
	case BW_TPUT:
	case BW_MULTI:
		return "GB/s";
	case BW_RTT:
		return "p99";
	case BW_IDLE:
		return "CPU/s";
	default:
		return "error";
	}
}

static void text_row(FILE *f, const struct bench_results *r, int w, int t)
{
	const char *why = r->why[(size_t)w * (size_t)r->nt + (size_t)t];
	double v[r->rounds + 1];
	char val[32], spr[16], ext[32], g[48] = "", lo[16], hi[16];
	struct bench_stat st, gs;
	int n = values_of(r, w, t, 0, v);

	if (!n) {
		fprintf(f, "  %-16s %s\n", r->t[t]->title,
			why[0] ? why : "not run");
		return;
	}
	bench_stat_of(v, n, &st);
	fmt_value(val, sizeof(val), r->w[w].kind, st.med);
	fmt_spread(spr, sizeof(spr), &st);
	fmt_extra(ext, sizeof(ext), r, w, t, &st);
	if (t > 0 && r->w[w].kind != BW_IDLE &&
	    (n = gains_of(r, w, t, v)) > 0) {
		bench_stat_of(v, n, &gs);
		fmt_gain(lo, sizeof(lo), gs.p25);
		fmt_gain(hi, sizeof(hi), gs.p75);
		fmt_gain(g, sizeof(g), gs.med);
		snprintf(g + strlen(g), sizeof(g) - strlen(g), " (%s-%s)",
			 lo, hi);
	}
	fprintf(f, "  %-16s %11s %6s %10s%s%s\n", r->t[t]->title, val, spr,
		ext, g[0] ? "   " : "", g);
	if (why[0])
		fprintf(f, "  %-16s (%s)\n", "", why);
}

static void text_self(FILE *f, const struct bench_results *r, int w)
{
	double v[r->rounds + 1];
	struct bench_stat st;
	char g[16], lo[16], hi[16];
	int n = self_gains(r, w, v);

	if (!n)
		return;
	bench_stat_of(v, n, &st);
	fmt_gain(g, sizeof(g), st.med);
	fmt_gain(lo, sizeof(lo), st.p25);
	fmt_gain(hi, sizeof(hi), st.p75);
	fprintf(f, "  shmpipe against its own single pair (64 B, unpinned, "
		"same round): %s (%s-%s)\n", g, lo, hi);
}

static void text_block(FILE *f, const struct bench_results *r, int w)
{
	const struct bench_workload *wl = &r->w[w];
	int t;

	fprintf(f, "\n%s\n", wl->title);
	fprintf(f, "  %-16s %11s %6s %10s%s\n", "transport",
		higher_better(wl->kind) ? "msgs/s" :
		wl->kind == BW_IDLE ? "CPU" : "median", "spread",
		extra_head(wl->kind), wl->kind == BW_IDLE ? "" :
		"   shmpipe's gain (IQR)");
	for (t = 0; t < r->nt; t++)
		text_row(f, r, w, t);
	if (wl->kind == BW_MULTI)
		text_self(f, r, w);
}

/* The transports of this run, with their versions where they have one. */
static void text_peers(FILE *f, const struct bench_results *r)
{
	int t;

	fprintf(f, "peers:  ");
	for (t = 0; t < r->nt; t++) {
		const char *v = r->t[t]->version();

		fprintf(f, " %s%s%s%s", r->t[t]->name, v && strcmp(v, "-") ?
			" " : "", v && strcmp(v, "-") ? v : "",
			t + 1 < r->nt ? "," : "\n");
	}
}

static void text_header(FILE *f, const struct bench_results *r)
{
	const struct bench_machine *m = &r->m;
	double c2c[r->rounds + 1], st_lo = 1e9, st_hi = 0;
	struct bench_stat cs;
	int i, n = 0;

	for (i = 0; i < r->rounds; i++) {
		if (r->c2c[i] > 0)
			c2c[n++] = r->c2c[i];
		st_lo = fmin(st_lo, r->steal[i]);
		st_hi = fmax(st_hi, r->steal[i]);
	}
	bench_stat_of(c2c, n, &cs);
	fprintf(f, "shmpipe-bench: shmpipe %s against its peers, %s\n",
		bt_shmpipe.version(), m->date);
	fprintf(f, "machine: %s, %d CPUs, %s MHz, hypervisor %s\n", m->cpu,
		m->ncpu, m->mhz, m->hypervisor);
	fprintf(f, "system:  %s, %s, %s\n", m->kernel, m->libc, m->cc);
	text_peers(f, r);
	fprintf(f, "command: %s\n", r->command);
	fprintf(f, "rounds:  %d, each peer's runs beside shmpipe's in a new "
		"order each round; %.0f s in all\n", r->rounds, r->elapsed_s);
	fprintf(f, "noise:   load average %s at the start; steal %.2f%% of "
		"CPU time\n         (rounds %.2f-%.2f%%); core-to-core "
		"cache-line round trip %.0f ns\n         (median of rounds; "
		"IQR %.0f-%.0f ns)\n", m->load, r->steal_all, st_lo, st_hi,
		cs.med, cs.p25, cs.p75);
	fprintf(f, "\nFigures are medians over the rounds, with half the "
		"interquartile range as spread.\nA gain is how many times "
		"better shmpipe did than that peer in the same round\n(more "
		"messages per second, or less time): the median over "
		"rounds, then the IQR.\n");
}

static void text_targets(FILE *f, const struct bench_results *r)
{
	struct bench_stat st;
	char v[24], lo[16], hi[16];
	size_t i;
	int held;

	fprintf(f, "\nTargets\n");
	for (i = 0; i < NTARGETS; i++) {
		const struct target *g = &targets[i];

		held = target_eval(r, g, &st);
		if (g->how == T_VALUE_BELOW) {
			fmt_ns(v, sizeof(v), st.med);
			fmt_ns(lo, sizeof(lo), st.p25);
			fmt_ns(hi, sizeof(hi), st.p75);
		} else {
			/* Four digits: 0.6996 must not read as 0.70. */
			snprintf(v, sizeof(v), "%.4gx", st.med);
			fmt_gain(lo, sizeof(lo), st.p25);
			fmt_gain(hi, sizeof(hi), st.p75);
		}
		fprintf(f, "  %-8s %-44s", held < 0 ? "not run" :
			held ? "held" : "MISSED", g->text);
		if (held >= 0)
			fprintf(f, " %s (%s-%s)", v, lo, hi);
		fprintf(f, "\n");
	}
}

void bench_report_text(FILE *f, const struct bench_results *r)
{
	int w;

	text_header(f, r);
	for (w = 0; w < r->nw; w++)
		text_block(f, r, w);
	text_targets(f, r);
	fprintf(f, "\nverified %llu messages; %d failed runs\n",
		(unsigned long long)r->verified, r->failures);
}

/* JSON */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

static void json_stat(FILE *f, const char *key, const double *v, int n)
{
	struct bench_stat st;
	int i;

	bench_stat_of(v, n, &st);
	fprintf(f, "\"%s\": {\"median\": ", key);
	json_num(f, n ? st.med : NAN);
	fprintf(f, ", \"p25\": ");
	json_num(f, n ? st.p25 : NAN);
	fprintf(f, ", \"p75\": ");
	json_num(f, n ? st.p75 : NAN);
	fprintf(f, ", \"rounds\": [");
	for (i = 0; i < n; i++) {
		fprintf(f, i ? ", " : "");
		json_num(f, v[i]);
	}
	fprintf(f, "]}");
}

static const char *kind_name(enum bench_kind k)
{
	static const char *const names[] = { "throughput", "round_trip",
		"multi", "close_notice", "kill_notice", "idle_cpu" };

	return names[k];
}

static const char *unit_of(enum bench_kind k)
{
	return higher_better(k) ? "msgs/s" : k == BW_IDLE ? "cpu_fraction"
							  : "ns";
}

static const char *status_of(const struct bench_results *r, int w, int t)
{
	static const char *const names[] = { "not_run", "ok", "never",
		"skipped", "failed" };
	int i, best = BS_NONE;

	for (i = 0; i < r->rounds; i++) {
		int s = bench_at(r, w, t, i)->status;

		if (s == BS_FAIL)
			return names[BS_FAIL];
		if (s != BS_NONE && (best == BS_NONE || s < best))
			best = s;
	}
	return names[best];
}

static void json_result(FILE *f, const struct bench_results *r, int w, int t)
{
	const struct bench_workload *wl = &r->w[w];
	double v[r->rounds + 1];
	int n;

	fprintf(f, "    {\"workload\": ");
	json_str(f, wl->id);
	fprintf(f, ", \"kind\": \"%s\", \"size\": %zu, \"pinned\": %s, "
		"\"writers\": %d, \"readers\": %d, \"transport\": ",
		kind_name(wl->kind), wl->size, wl->pinned ? "true" : "false",
		wl->writers, wl->readers);
	json_str(f, r->t[t]->name);
	fprintf(f, ", \"status\": \"%s\", \"unit\": \"%s\", ",
		status_of(r, w, t), unit_of(wl->kind));
	n = values_of(r, w, t, 0, v);
	json_stat(f, "value", v, n);
	if (wl->kind == BW_RTT) {
		fprintf(f, ", ");
		json_stat(f, "p99", v, values_of(r, w, t, 1, v));
	}
	if (t > 0 && wl->kind != BW_IDLE) {
		fprintf(f, ", ");
		json_stat(f, "gain", v, gains_of(r, w, t, v));
	}
	fprintf(f, ", \"note\": ");
	json_str(f, r->why[(size_t)w * (size_t)r->nt + (size_t)t]);
	fprintf(f, "}");
}

static void json_machine(FILE *f, const struct bench_results *r)
{
	const struct bench_machine *m = &r->m;
	int i;

	fprintf(f, "  \"machine\": {\"cpu\": ");
	json_str(f, m->cpu);
	fprintf(f, ", \"mhz\": ");
	json_str(f, m->mhz);
	fprintf(f, ", \"cpus\": %d, \"hypervisor\": ", m->ncpu);
	json_str(f, m->hypervisor);
	fprintf(f, ", \"kernel\": ");
	json_str(f, m->kernel);
	fprintf(f, ", \"libc\": ");
	json_str(f, m->libc);
	fprintf(f, ", \"compiler\": ");
	json_str(f, m->cc);
	fprintf(f, ", \"loadavg_at_start\": ");
	json_str(f, m->load);
	fprintf(f, "},\n  \"noise\": {\"steal_pct\": ");
	json_num(f, r->steal_all);
	fprintf(f, ", \"rounds\": [");
	for (i = 0; i < r->rounds; i++) {
		fprintf(f, "%s{\"steal_pct\": ", i ? ", " : "");
		json_num(f, r->steal[i]);
		fprintf(f, ", \"c2c_ns\": ");
		json_num(f, r->c2c[i] > 0 ? r->c2c[i] : NAN);
		fprintf(f, "}");
	}
	fprintf(f, "]},\n");
}

static void json_config(FILE *f, const struct bench_results *r)
{
	const struct bench_opts *o = r->o;
	int t;

	fprintf(f, "  \"config\": {\"rounds\": %d, \"run_ms\": %lld, "
		"\"rtt_ms\": %lld, \"notice_cap_ms\": %lld, \"idle_ms\": %lld, "
		"\"cpus\": [%d, %d], \"quick\": %s},\n", o->rounds,
		(long long)(o->run_ns / 1000000),
		(long long)(o->rtt_ns / 1000000),
		(long long)(o->notice_cap_ns / 1000000),
		(long long)(o->idle_ns / 1000000), o->cpu[0], o->cpu[1],
		o->quick ? "true" : "false");
	fprintf(f, "  \"transports\": [");
	for (t = 0; t < r->nt; t++) {
		const char *v = r->t[t]->version();

		fprintf(f, "%s{\"name\": ", t ? ", " : "");
		json_str(f, r->t[t]->name);
		fprintf(f, ", \"version\": ");
		json_str(f, v ? v : "");
		fprintf(f, "}");
	}
	fprintf(f, "],\n");
}

static void json_targets(FILE *f, const struct bench_results *r)
{
	struct bench_stat st;
	size_t i;
	int held;

	fprintf(f, "  \"targets\": [\n");
	for (i = 0; i < NTARGETS; i++) {
		held = target_eval(r, &targets[i], &st);
		fprintf(f, "    {\"target\": ");
		json_str(f, targets[i].text);
		fprintf(f, ", \"goal\": ");
		json_num(f, targets[i].goal);
		fprintf(f, ", \"median\": ");
		json_num(f, held < 0 ? NAN : st.med);
		fprintf(f, ", \"p25\": ");
		json_num(f, held < 0 ? NAN : st.p25);
		fprintf(f, ", \"p75\": ");
		json_num(f, held < 0 ? NAN : st.p75);
		fprintf(f, ", \"held\": %s}%s\n", held < 0 ? "null" :
			held ? "true" : "false", i + 1 < NTARGETS ? "," : "");
	}
	fprintf(f, "  ],\n");
}

void bench_report_json(FILE *f, const struct bench_results *r)
{
	int w, t, first = 1;

	fprintf(f, "{\n  \"tool\": \"shmpipe-bench\", \"shmpipe_version\": ");
	json_str(f, bt_shmpipe.version());
	fprintf(f, ", \"date\": ");
	json_str(f, r->m.date);
	fprintf(f, ",\n  \"command\": ");
	json_str(f, r->command);
	fprintf(f, ",\n");
	json_machine(f, r);
	json_config(f, r);
	fprintf(f, "  \"results\": [\n");
	for (w = 0; w < r->nw; w++) {
		for (t = 0; t < r->nt; t++) {
			fprintf(f, first ? "" : ",\n");
			json_result(f, r, w, t);
			first = 0;
		}
	}
	fprintf(f, "\n  ],\n");
	json_targets(f, r);
	fprintf(f, "  \"verified_messages\": %llu, \"failed_runs\": %d, "
		"\"elapsed_s\": %.1f\n}\n", (unsigned long long)r->verified,
		r->failures, r->elapsed_s);
}
