/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-bench: options, the rounds, the report.
 *
 * The machine this runs on is shared and noisy: one peer's figure can
 * double from one run to the next.  So no transport is measured in one
 * block.  Each round runs every workload on every transport, the
 * transports in a new order every round, shmpipe among them, and records
 * the steal time and the core-to-core latency it ran under; figures are
 * medians over rounds and gains are ratios within a round.
 *
 * Exit status: 0 when every run completed and every message checked out,
 * 1 for a usage or setup error, 2 when a run failed (a message lost or
 * damaged, a process died, a run hung).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define WORKLOADS_MAX	32
#define WHY_LEN		160
#define MS		1000000LL

static const struct bench_transport *const all_transports[] = {
	&bt_shmpipe, &bt_ring, &bt_pipe, &bt_seqpacket, &bt_mq, &bt_boost,
	&bt_zmq,
};

#define NTRANSPORTS \
	((int)(sizeof(all_transports) / sizeof(all_transports[0])))

static const char *const kind_names[] = { "tput", "rtt", "multi", "close",
	"kill", "idle" };

#define NKINDS ((int)(sizeof(kind_names) / sizeof(kind_names[0])))

static const size_t default_sizes[] = { 8, 64, 1024, 16384, 65536 };

/* What the command line asked for; -1: not given. */
struct args {
	int quick;
	long rounds, run_ms, rtt_ms, cap_ms, idle_ms;
	int cpu[2];
	unsigned int kinds;		/* bit per enum bench_kind */
	unsigned int peers;		/* bit per all_transports[] */
	size_t sizes[8];
	int nsizes;
	const char *json;		/* "-": JSON instead of the table */
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: shmpipe-bench [--quick] [--rounds N] [--ms N] [--rtt-ms N]\n"
"                     [--notice-cap-ms N] [--idle-ms N] [--cpus A,B]\n"
"                     [--peers LIST] [--workloads LIST] [--sizes LIST]\n"
"                     [--json[=FILE]]\n"
"  peers:     shmpipe ring pipe seqpacket mq boost zmq (shmpipe always)\n"
"  workloads: tput rtt multi close kill idle\n"
"  sizes:     throughput message sizes in bytes, multiples of 8,\n"
"             from 8 to 65536 (default 8,64,1024,16384,65536)\n");
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		errx(1, "%s: expected a number from %ld to %ld, not '%s'",
		     what, lo, hi, s);
	return v;
}

/* Index of name in names[0..n), or exit with a usage error. */
static int pick(const char *name, const char *const *names, int n,
		const char *what)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return i;
	errx(1, "%s: unknown name '%s'", what, name);
}

/* A comma-separated list of names, as a bit mask of their indexes. */
static unsigned int parse_names(const char *list, const char *const *names,
				int n, const char *what)
{
	char *copy = strdup(list), *save = NULL, *tok;
	unsigned int mask = 0;

	if (!copy)
		err(1, "strdup");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		mask |= 1u << pick(tok, names, n, what);
	free(copy);
	return mask;
}

static void parse_sizes(struct args *a, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;

	if (!copy)
		err(1, "strdup");
	a->nsizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long v = parse_num(tok, 8, BENCH_MSG_MAX, "--sizes");

		if (v % 8 || a->nsizes == 8)
			errx(1, "--sizes: at most 8 multiples of 8");
		a->sizes[a->nsizes++] = (size_t)v;
	}
	free(copy);
}

static void parse_cpus(struct args *a, const char *s)
{
	if (sscanf(s, "%d,%d", &a->cpu[0], &a->cpu[1]) != 2 ||
	    a->cpu[0] < 0 || a->cpu[1] < 0 || a->cpu[0] == a->cpu[1])
		errx(1, "--cpus: expected two different CPUs, as 0,1");
}

static void peer_names(const char **names)
{
	int i;

	for (i = 0; i < NTRANSPORTS; i++)
		names[i] = all_transports[i]->name;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "rtt-ms", required_argument, NULL, 'R' },
		{ "notice-cap-ms", required_argument, NULL, 'N' },
		{ "idle-ms", required_argument, NULL, 'I' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "peers", required_argument, NULL, 'p' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "sizes", required_argument, NULL, 's' },
		{ "json", optional_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *names[NTRANSPORTS];
	int c;

	peer_names(names);
	while ((c = getopt_long(argc, argv, "qr:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			a->quick = 1;
			break;
		case 'r':
			a->rounds = parse_num(optarg, 1, 99, "--rounds");
			break;
		case 'm':
			a->run_ms = parse_num(optarg, 1, 60000, "--ms");
			break;
		case 'R':
			a->rtt_ms = parse_num(optarg, 1, 60000, "--rtt-ms");
			break;
		case 'N':
			a->cap_ms = parse_num(optarg, 1, 60000,
					      "--notice-cap-ms");
			break;
		case 'I':
			a->idle_ms = parse_num(optarg, 10, 600000,
					       "--idle-ms");
			break;
		case 'c':
			parse_cpus(a, optarg);
			break;
		case 'p':
			a->peers = parse_names(optarg, names, NTRANSPORTS,
					       "--peers") | 1u;
			break;
		case 'w':
			a->kinds = parse_names(optarg, kind_names, NKINDS,
					       "--workloads");
			break;
		case 's':
			parse_sizes(a, optarg);
			break;
		case 'j':
			a->json = optarg ? optarg : "-";
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind < argc)
		errx(1, "unexpected argument '%s'", argv[optind]);
}

/* The first two CPUs we may run on, or -1 where there are none. */
static void default_cpus(int cpu[2])
{
	cpu_set_t set;
	int i, n = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
}

static int64_t pick_ms(long given, long normal, long quick, int is_quick)
{
	return (given >= 0 ? given : is_quick ? quick : normal) * MS;
}

static void make_opts(const struct args *a, struct bench_opts *o)
{
	o->quick = a->quick;
	o->rounds = (int)(a->rounds > 0 ? a->rounds : a->quick ? 1 : 9);
	o->run_ns = pick_ms(a->run_ms, 100, 5, a->quick);
	o->rtt_ns = pick_ms(a->rtt_ms, 60, 5, a->quick);
	o->notice_cap_ns = pick_ms(a->cap_ms, 200, 100, a->quick);
	o->idle_ns = pick_ms(a->idle_ms, 3000, 100, a->quick);
	if (a->cpu[0] >= 0) {
		o->cpu[0] = a->cpu[0];
		o->cpu[1] = a->cpu[1];
	} else {
		default_cpus(o->cpu);
	}
}

static void size_name(char *b, size_t n, size_t size)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(b, n, "%zu KiB", size / 1024);
	else
		snprintf(b, n, "%zu B", size);
}

static void add(struct bench_workload *w, int *n, enum bench_kind kind,
		size_t size, int pinned, int writers, int readers)
{
	struct bench_workload *x = &w[(*n)++];

	*x = (struct bench_workload){ .kind = kind, .size = size,
		.pinned = pinned, .writers = writers, .readers = readers };
}

/* Names and titles, once the list is complete. */
static void name_workload(struct bench_workload *x, const int cpu[2])
{
	char sz[32], pin[48];

	size_name(sz, sizeof(sz), x->size);
	snprintf(pin, sizeof(pin), x->pinned ? "pinned to CPUs %d and %d" :
		 "unpinned", cpu[0], cpu[1]);
	switch (x->kind) {
	case BW_TPUT:
		snprintf(x->id, sizeof(x->id), "tput-%zu-%s", x->size,
			 x->pinned ? "pinned" : "unpinned");
		snprintf(x->title, sizeof(x->title),
			 "Throughput, %s messages, %s", sz, pin);
		break;
	case BW_RTT:
		snprintf(x->id, sizeof(x->id), "rtt-%zu-%s", x->size,
			 x->pinned ? "pinned" : "unpinned");
		snprintf(x->title, sizeof(x->title),
			 "Round trip of a %s message, %s", sz, pin);
		break;
	case BW_MULTI:
		snprintf(x->id, sizeof(x->id), "multi-%dx%d-%zu", x->writers,
			 x->readers, x->size);
		snprintf(x->title, sizeof(x->title), "%d writer%s, %d "
			 "reader%s, %s messages, unpinned: all together",
			 x->writers, x->writers > 1 ? "s" : "", x->readers,
			 x->readers > 1 ? "s" : "", sz);
		break;
	case BW_CLOSE:
	case BW_KILL:
		snprintf(x->id, sizeof(x->id), "%s",
			 x->kind == BW_CLOSE ? "close" : "kill");
		snprintf(x->title, sizeof(x->title), "Producer blocked on a "
			 "full queue of %s messages: time to notice %s", sz,
			 x->kind == BW_CLOSE ? "the consumer's close"
					     : "a SIGKILLed consumer");
		break;
	case BW_IDLE:
		snprintf(x->id, sizeof(x->id), "idle");
		snprintf(x->title, sizeof(x->title), "CPU used by a consumer "
			 "blocked on an empty queue");
		break;
	}
}

static int make_workloads(const struct args *a, const int cpu[2],
			  struct bench_workload *w)
{
	const size_t *sizes = a->nsizes ? a->sizes : default_sizes;
	int nsizes = a->nsizes ? a->nsizes : 5, n = 0, i, p;

	for (p = 1; p >= 0 && (a->kinds & 1u << BW_TPUT); p--)
		for (i = 0; i < nsizes; i++)
			add(w, &n, BW_TPUT, sizes[i], p, 1, 1);
	for (p = 1; p >= 0 && (a->kinds & 1u << BW_RTT); p--)
		add(w, &n, BW_RTT, 64, p, 1, 1);
	if (a->kinds & 1u << BW_MULTI) {
		add(w, &n, BW_MULTI, 64, 0, 1, 4);
		add(w, &n, BW_MULTI, 64, 0, 4, 1);
	}
	if (a->kinds & 1u << BW_CLOSE)
		add(w, &n, BW_CLOSE, BENCH_NOTICE_SIZE, 0, 1, 1);
	if (a->kinds & 1u << BW_KILL)
		add(w, &n, BW_KILL, BENCH_NOTICE_SIZE, 0, 1, 1);
	if (a->kinds & 1u << BW_IDLE)
		add(w, &n, BW_IDLE, 64, 0, 1, 1);
	for (i = 0; i < n; i++)
		name_workload(&w[i], cpu);
	return n;
}

/* A fixed generator, so that a round's order can be reproduced. */
static void shuffle(int *v, int n, uint64_t *rng)
{
	int i, j, t;

	for (i = n - 1; i > 0; i--) {
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (int)((*rng >> 33) % (uint64_t)(i + 1));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

/* Keep a reason: a failure over a skip, the first of each. */
static void note_why(struct bench_results *res, int w, int t, int status,
		     const char *why)
{
	char *slot = res->why[(size_t)w * (size_t)res->nt + (size_t)t];

	if (!why[0] || (slot[0] && status != BS_FAIL))
		return;
	if (slot[0] && !strncmp(slot, "FAILED", 6))
		return;
	snprintf(slot, WHY_LEN, "%s%s", status == BS_FAIL ? "FAILED: " : "",
		 why);
}

static void account(struct bench_results *res, int w, int t,
		    struct bench_sample *s, const char *why, int round)
{
	note_why(res, w, t, s->status, why);
	if (s->status == BS_OK)
		res->verified += s->msgs;
	if (s->status == BS_FAIL) {
		res->failures++;
		warnx("round %d: %s on %s failed: %s", round + 1,
		      res->w[w].id, res->t[t]->name, why);
	}
}

static void run_round(struct bench_results *res, int round, uint64_t *rng)
{
	const struct bench_opts *o = res->o;
	struct bench_cpustat c0, c1;
	char why[WHY_LEN];
	int order[NTRANSPORTS], w, i;

	bench_cpustat_read(&c0);
	res->c2c[round] = bench_c2c_ns(o->cpu[0], o->cpu[1]);
	for (w = 0; w < res->nw; w++) {
		if (res->w[w].kind == BW_IDLE)
			continue;
		for (i = 0; i < res->nt; i++)
			order[i] = i;
		shuffle(order, res->nt, rng);
		for (i = 0; i < res->nt; i++) {
			struct bench_sample *s = bench_at(res, w, order[i],
							  round);

			bench_run(&res->w[w], res->t[order[i]], o, s, why,
				  sizeof(why));
			account(res, w, order[i], s, why, round);
		}
	}
	bench_cpustat_read(&c1);
	res->steal[round] = bench_steal_pct(&c0, &c1);
	fprintf(stderr, "shmpipe-bench: round %d of %d done, steal %.2f%%, "
		"core-to-core %.0f ns\n", round + 1, o->rounds,
		res->steal[round], res->c2c[round]);
}

/* The idle workload runs once, every transport at the same time. */
static void run_idle(struct bench_results *res, int w)
{
	struct bench_sample s[NTRANSPORTS];
	char why[NTRANSPORTS][WHY_LEN];
	int t;

	fprintf(stderr, "shmpipe-bench: idle consumers, %.1f s\n",
		(double)res->o->idle_ns / 1e9);
	bench_run_idle(&res->w[w], res->t, res->nt, res->o, s, why);
	for (t = 0; t < res->nt; t++) {
		*bench_at(res, w, t, 0) = s[t];
		account(res, w, t, &s[t], why[t], 0);
	}
}

static int results_alloc(struct bench_results *res)
{
	size_t cells = (size_t)res->nw * (size_t)res->nt;

	res->s = calloc(cells * (size_t)res->rounds, sizeof(*res->s));
	res->why = calloc(cells, sizeof(*res->why));
	res->steal = calloc((size_t)res->rounds, sizeof(double));
	res->c2c = calloc((size_t)res->rounds, sizeof(double));
	return res->s && res->why && res->steal && res->c2c ? 0 : -1;
}

static void results_free(struct bench_results *res)
{
	free(res->s);
	free(res->why);
	free(res->steal);
	free(res->c2c);
}

static void command_line(char *b, size_t n, int argc, char **argv)
{
	size_t used = 0;
	int i;

	b[0] = '\0';
	for (i = 0; i < argc && used < n; i++)
		used += (size_t)snprintf(b + used, n - used, "%s%s",
					 i ? " " : "", argv[i]);
}

static void measure(struct bench_results *res)
{
	struct bench_cpustat c0, c1;
	int64_t t0 = bench_now_ns();
	uint64_t rng = 0x5eed;
	int round, w;

	bench_cpustat_read(&c0);
	for (round = 0; round < res->rounds; round++)
		run_round(res, round, &rng);
	for (w = 0; w < res->nw; w++)
		if (res->w[w].kind == BW_IDLE)
			run_idle(res, w);
	bench_cpustat_read(&c1);
	res->steal_all = bench_steal_pct(&c0, &c1);
	res->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
}

static void report(const struct bench_results *res, const char *json)
{
	FILE *f;

	if (!json || strcmp(json, "-"))
		bench_report_text(stdout, res);
	if (!json)
		return;
	if (!strcmp(json, "-")) {
		bench_report_json(stdout, res);
		return;
	}
	f = fopen(json, "w");
	if (!f)
		err(1, "%s", json);
	bench_report_json(f, res);
	if (fclose(f))
		err(1, "%s", json);
}

int main(int argc, char **argv)
{
	struct args a = { .rounds = -1, .run_ms = -1, .rtt_ms = -1,
		.cap_ms = -1, .idle_ms = -1, .cpu = { -1, -1 },
		.kinds = ~0u, .peers = ~0u };
	struct bench_workload w[WORKLOADS_MAX];
	const struct bench_transport *t[NTRANSPORTS];
	struct bench_results res = { .w = w, .t = t };
	struct bench_opts o;
	int i;

	parse_args(argc, argv, &a);
	make_opts(&a, &o);
	for (i = 0; i < NTRANSPORTS; i++)
		if (a.peers & 1u << i)
			t[res.nt++] = all_transports[i];
	res.nw = make_workloads(&a, o.cpu, w);
	res.rounds = o.rounds;
	res.o = &o;
	command_line(res.command, sizeof(res.command), argc, argv);
	bench_machine_read(&res.m);
	if (results_alloc(&res) || bench_run_init())
		errx(1, "out of memory");
	measure(&res);
	report(&res, a.json);
	bench_run_fini();
	results_free(&res);
	return res.failures ? 2 : 0;
}
