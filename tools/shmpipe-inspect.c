/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-inspect: look inside pipes without attaching to them.
 *
 *   shmpipe-inspect [--json] [-w SECONDS [-c COUNT]]      every pipe
 *   shmpipe-inspect [--json|-q] [-w SECONDS [-c COUNT]] NAME   one pipe
 *   shmpipe-inspect [--json|-q] -f FILE            a copy of a segment
 *
 * Exit statuses are the enum ins_exit in inspect.h and the EXIT STATUS
 * section of shmpipe-inspect(1).
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inspect.h"

struct opts {
	int json;
	int quiet;
	double watch;		/* seconds between refreshes; 0: once */
	long count;		/* refreshes before exit; 0: no limit */
	const char *file;	/* -f: a file instead of a pipe name */
	const char *name;
};

/* The previous refresh of one pipe, for rates in watch mode. */
struct before {
	int valid;
	double at;
	uint64_t created_ns;
	uint32_t creator;
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
};

static volatile sig_atomic_t stopping;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmpipe-inspect [-j] [-w SECS [-c COUNT]]\n"
		"       shmpipe-inspect [-j | -q] [-w SECS [-c COUNT]] NAME\n"
		"       shmpipe-inspect [-j | -q] -f FILE\n"
		"  -j, --json          JSON, one document per line\n"
		"  -q, --quiet         print nothing; the exit status says\n"
		"  -w, --watch SECS    show again every SECS seconds\n"
		"  -c, --count COUNT   stop after COUNT refreshes\n"
		"  -f, --file FILE     inspect a copy of a segment\n"
		"  -V, --version       print the version\n"
		"  -h, --help          print this help\n");
}

static void usage_error(const char *msg, const char *arg)
{
	if (arg)
		warnx("%s: %s", msg, arg);
	else
		warnx("%s", msg);
	usage(stderr);
	exit(INS_EX_USAGE);
}

/* The library's rule: 1 to SHMPIPE_NAME_MAX of [A-Za-z0-9._-]. */
static int valid_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n && !s[n] && n <= SHMPIPE_NAME_MAX;
}

static double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.1 ||
	    v > 86400)
		usage_error("SECONDS must be from 0.1 to 86400", s);
	return v;
}

static long parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1)
		usage_error("COUNT must be a positive integer", s);
	return v;
}

static void check_opts(struct opts *o, int argc, char **argv)
{
	if (optind < argc)
		o->name = argv[optind++];
	if (optind < argc)
		usage_error("too many arguments", argv[optind]);
	if (o->name && o->file)
		usage_error("give a NAME or -f FILE, not both", NULL);
	if (o->name && !valid_name(o->name))
		usage_error("not a valid pipe name", o->name);
	if (o->quiet && !o->name && !o->file)
		usage_error("-q needs a NAME or -f FILE", NULL);
	if (o->quiet && (o->json || o->watch))
		usage_error("-q goes with neither --json nor -w", NULL);
	if (o->count && !o->watch)
		usage_error("-c goes with -w", NULL);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jqw:c:f:Vh", longs, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'w':
			o->watch = parse_seconds(optarg);
			break;
		case 'c':
			o->count = parse_count(optarg);
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'V':
			printf("shmpipe-inspect %s\n", shmpipe_version());
			exit(INS_EX_OK);
		case 'h':
			usage(stdout);
			exit(INS_EX_OK);
		default:
			usage(stderr);
			exit(INS_EX_USAGE);
		}
	}
	check_opts(o, argc, argv);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Traffic since the previous refresh of the same pipe (not a new one of
 * the same name), and remember this one for the next. */
static const struct ins_rates *rates(const struct ins_pipe *p,
				     struct before *b, struct ins_rates *rt)
{
	const struct shmpipe_shared *h = &p->sh;
	double now = mono_now();
	int same = b->valid && b->created_ns == h->sh_created_ns &&
		   b->creator == h->sh_creator_pid &&
		   h->sh_msgs_in >= b->msgs_in && h->sh_msgs_out >= b->msgs_out;

	if (same) {
		rt->seconds = now - b->at;
		rt->msgs_in = h->sh_msgs_in - b->msgs_in;
		rt->msgs_out = h->sh_msgs_out - b->msgs_out;
		rt->bytes_in = h->sh_bytes_in - b->bytes_in;
		rt->bytes_out = h->sh_bytes_out - b->bytes_out;
	}
	*b = (struct before){ 1, now, h->sh_created_ns, h->sh_creator_pid,
			      h->sh_msgs_in, h->sh_msgs_out, h->sh_bytes_in,
			      h->sh_bytes_out };
	return same ? rt : NULL;
}

/* One pipe, in the form asked for; returns its exit status. */
static int show_one(const struct opts *o, struct before *b)
{
	static struct ins_pipe p;
	char path[sizeof(INS_SHM_DIR) + sizeof(INS_SHM_PREFIX) +
		  SHMPIPE_NAME_MAX + 1];
	const char *shown = o->file ? o->file : o->name;
	struct ins_rates rt = { 0 };
	const struct ins_rates *r;
	struct ins_result res;

	snprintf(path, sizeof(path), "%s/%s%s", INS_SHM_DIR, INS_SHM_PREFIX,
		 o->name ? o->name : "");
	ins_probe_path(o->file ? o->file : path, !!o->file, &p, &res);
	if (!res.valid) {
		if (o->json)
			ins_json_error(stdout, shown, res.state, res.status,
				       res.why);
		else if (res.status == INS_EX_NOENT)
			warnx("%s: %s", shown, res.why);
		else
			warnx("%s: %s: %s", shown, res.state, res.why);
		if (o->json)
			putchar('\n');
		return res.status;
	}
	r = rates(&p, b, &rt);
	if (o->json) {
		ins_json_pipe(stdout, shown, &p, r);
		putchar('\n');
	} else if (!o->quiet) {
		ins_print_pipe(stdout, shown, &p, r, ins_now_ns());
	}
	return res.status;
}

static int is_segment(const struct dirent *d)
{
	return !strncmp(d->d_name, INS_SHM_PREFIX, strlen(INS_SHM_PREFIX)) &&
	       d->d_name[strlen(INS_SHM_PREFIX)];
}

static void list_entry(const struct opts *o, const char *entry, int first)
{
	static struct ins_pipe p;
	char path[sizeof(INS_SHM_DIR) + 256];
	const char *name = entry + strlen(INS_SHM_PREFIX);
	struct ins_result res;

	snprintf(path, sizeof(path), "%s/%s", INS_SHM_DIR, entry);
	ins_probe_path(path, 0, &p, &res);
	if (o->json && !first)
		putchar(',');
	if (o->json && res.valid)
		ins_json_pipe(stdout, name, &p, NULL);
	else if (o->json)
		ins_json_error(stdout, name, res.state, res.status, res.why);
	else if (res.valid)
		ins_print_row(stdout, name, &p, ins_now_ns());
	else
		ins_print_row_error(stdout, name, res.state, res.why);
}

/* Every pipe of the machine, one line (or one document) each. */
static int show_all(const struct opts *o)
{
	struct dirent **ents;
	int n, i;

	n = scandir(INS_SHM_DIR, &ents, is_segment, alphasort);
	if (n < 0) {
		warn("%s", INS_SHM_DIR);
		return INS_EX_ERROR;
	}
	if (o->json)
		printf("{\"schema\":1,\"pipes\":[");
	else
		ins_print_header(stdout);
	for (i = 0; i < n; i++) {
		list_entry(o, ents[i]->d_name, i == 0);
		free(ents[i]);
	}
	free(ents);
	if (o->json)
		printf("]}\n");
	return INS_EX_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sleep until the next refresh; a signal ends the sleep early. */
static void wait_refresh(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (!stopping && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int refresh(const struct opts *o, struct before *b)
{
	int status;

	if (o->watch && !o->json && isatty(STDOUT_FILENO))
		printf("\033[H\033[2J");	/* home, clear: like watch(1) */
	if (o->watch && !o->json)
		printf("every %gs\n\n", o->watch);
	status = o->name || o->file ? show_one(o, b) : show_all(o);
	fflush(stdout);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct before b = { 0 };
	struct sigaction sa;
	long n;
	int status;

	parse_args(&o, argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	status = refresh(&o, &b);
	for (n = 1; o.watch && !stopping && (!o.count || n < o.count); n++) {
		wait_refresh(o.watch);
		if (!stopping)
			status = refresh(&o, &b);
	}
	return status;
}
