/* SPDX-License-Identifier: MIT */
/*
 * shmpipe: use a shared-memory pipe from the shell.
 *
 * This file reads the command line and runs the small commands (create,
 * rm); ls lives in shmpipe-ls.c, write and read in shmpipe-io.c.  Every
 * error is one line, "shmpipe: NAME: reason", and every exit status is
 * one of those listed in shmpipe-cmd.h and documented in shmpipe(1).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shmpipe.h"
#include "shmpipe-cmd.h"

static const char usage_text[] =
	"usage: shmpipe create NAME [-c CAPACITY] [-m MODE]\n"
	"       shmpipe write NAME [-l | -b SIZE] [-v]\n"
	"       shmpipe read NAME [-l] [-v]\n"
	"       shmpipe rm NAME\n"
	"       shmpipe ls\n"
	"       shmpipe -h | --version\n"
	"\n"
	"  create  make a pipe (capacity default 1M, mode default 0600)\n"
	"  write   send standard input: -l one message per line,\n"
	"          -b SIZE fixed blocks of SIZE bytes (default 64K)\n"
	"  read    copy messages to standard output, bodies back to back;\n"
	"          -l ends every message with a newline if it has none\n"
	"  rm      remove a pipe's name\n"
	"  ls      list the pipes of this machine\n"
	"  -v      print a summary when done\n"
	"\n"
	"Sizes take a suffix K, M or G (powers of 1024).  Exit status: 0 ok,\n"
	"1 usage, 2 error, 3 the consumer went away, 4 the stream was cut\n"
	"short by its writer.  See shmpipe(1).\n";

static const struct option help_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("shmpipe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see shmpipe -h)\n", stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

static void __attribute__((noreturn)) help(void)
{
	fputs(usage_text, stdout);
	exit(fflush(stdout) ? EXIT_ERROR : EXIT_OK);
}

/* getopt found something it did not like; opterr is off, so say it. */
static void __attribute__((noreturn)) bad_option(char *const argv[],
						  const char *optstring)
{
	if (optopt && strchr(optstring, optopt))
		usage_error("option -%c needs a value", optopt);
	if (optopt)
		usage_error("unknown option -%c", optopt);
	usage_error("unknown option %s", argv[optind - 1]);
}

const char *cmd_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such pipe";
	case -EEXIST:
		return "a pipe of that name exists already";
	case -EPROTO:
		return "not a shmpipe pipe, or one of an incompatible version";
	case -EUSERS:
		return "too many endpoints attached to this pipe";
	case -ENOSPC:
		return "no space left in /dev/shm";
	default:
		return strerror(-err);
	}
}

double cmd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *cmd_human(char *buf, size_t size, unsigned long long n)
{
	static const char units[] = "KMGT";
	double v = (double)n;
	int u = -1;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu", n);
	else
		snprintf(buf, size, "%.1f%c", v, units[u]);
	return buf;
}

/* A size with an optional binary suffix: 4096, 64K, 1M, 1G (or KiB...). */
static int parse_size(const char *s, unsigned long long *out)
{
	static const char suffixes[] = "KMG";
	unsigned long long v;
	const char *p;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end && (p = strchr(suffixes, *end & ~0x20))) {
		shift = 10 * (int)(p - suffixes + 1);
		end++;
		if (!strcasecmp(end, "iB"))
			end += 2;
	}
	if (*end || (v << shift >> shift) != v)
		return -1;
	*out = v << shift;
	return 0;
}

static size_t size_arg(const char *what, const char *s,
		       unsigned long long min, unsigned long long max)
{
	unsigned long long v;

	if (parse_size(s, &v) || v < min || v > max)
		usage_error("bad %s '%s': from %llu to %llu bytes, "
			    "suffix K, M or G allowed", what, s, min, max);
	return (size_t)v;
}

static mode_t mode_arg(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *s < '0' || *s > '7' || *end || v == 0 || v > 0777)
		usage_error("bad mode '%s': octal, from 1 to 0777", s);
	return (mode_t)v;
}

/* The one NAME operand, checked here so that a bad one says why. */
static const char *name_arg(int argc, char *const argv[])
{
	const char *name;
	size_t n;

	if (optind >= argc)
		usage_error("%s: NAME is missing", argv[0]);
	if (optind + 1 < argc)
		usage_error("%s: unexpected argument '%s'", argv[0],
			    argv[optind + 1]);
	name = argv[optind];
	n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-");
	if (!n || n > SHMPIPE_NAME_MAX || name[n]) {
		fprintf(stderr, "shmpipe: %s: bad name: use 1 to %d of "
			"A-Z a-z 0-9 . _ -\n", name, SHMPIPE_NAME_MAX);
		exit(EXIT_USAGE);
	}
	return name;
}

static int run_create(int argc, char *argv[])
{
	static const char optstring[] = ":c:m:h";
	struct shmpipe_attr attr = { 0 };
	const char *name;
	int c, r;

	while ((c = getopt_long(argc, argv, optstring, help_opts, NULL)) != -1) {
		if (c == 'c')
			attr.capacity = size_arg("capacity", optarg,
						 SHMPIPE_CAPACITY_MIN,
						 SHMPIPE_CAPACITY_MAX);
		else if (c == 'm')
			attr.mode = mode_arg(optarg);
		else if (c == 'h')
			help();
		else
			bad_option(argv, optstring);
	}
	name = name_arg(argc, argv);
	r = shmpipe_create(name, &attr);
	if (r)
		errx(EXIT_ERROR, "%s: %s", name, cmd_strerror(r));
	return EXIT_OK;
}

static int run_write(int argc, char *argv[])
{
	static const char optstring[] = ":lb:vh";
	struct write_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, optstring, help_opts, NULL)) != -1) {
		if (c == 'l')
			o.lines = 1;
		else if (c == 'b')
			o.block = size_arg("block size", optarg, 1,
					   SHMPIPE_CAPACITY_MAX);
		else if (c == 'v')
			o.verbose = 1;
		else if (c == 'h')
			help();
		else
			bad_option(argv, optstring);
	}
	if (o.lines && o.block)
		usage_error("write: -l and -b exclude each other");
	return cmd_write(name_arg(argc, argv), &o);
}

static int run_read(int argc, char *argv[])
{
	static const char optstring[] = ":lvh";
	struct read_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, optstring, help_opts, NULL)) != -1) {
		if (c == 'l')
			o.lines = 1;
		else if (c == 'v')
			o.verbose = 1;
		else if (c == 'h')
			help();
		else
			bad_option(argv, optstring);
	}
	return cmd_read(name_arg(argc, argv), &o);
}

static int run_rm(int argc, char *argv[])
{
	static const char optstring[] = ":h";
	const char *name;
	int c, r;

	while ((c = getopt_long(argc, argv, optstring, help_opts, NULL)) != -1) {
		if (c == 'h')
			help();
		bad_option(argv, optstring);
	}
	name = name_arg(argc, argv);
	r = shmpipe_unlink(name);
	if (r)
		errx(EXIT_ERROR, "%s: %s", name, cmd_strerror(r));
	return EXIT_OK;
}

static int run_ls(int argc, char *argv[])
{
	static const char optstring[] = ":h";
	int c;

	while ((c = getopt_long(argc, argv, optstring, help_opts, NULL)) != -1) {
		if (c == 'h')
			help();
		bad_option(argv, optstring);
	}
	if (optind < argc)
		usage_error("ls: unexpected argument '%s'", argv[optind]);
	return cmd_ls();
}

static const struct {
	const char *name;
	int (*run)(int argc, char *argv[]);
} commands[] = {
	{ "create", run_create },
	{ "write", run_write },
	{ "read", run_read },
	{ "rm", run_rm },
	{ "ls", run_ls },
};

int main(int argc, char *argv[])
{
	size_t i;

	/* A closed output must come back as EPIPE from write(2), so that
	 * the command can leave its pipe cleanly instead of dying. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;

	if (argc < 2)
		usage_error("a command is needed");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		help();
	if (!strcmp(argv[1], "--version")) {
		printf("shmpipe %s\n", shmpipe_version());
		return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	usage_error("unknown command '%s'", argv[1]);
}
