/* SPDX-License-Identifier: MIT */
/*
 * shmpiped: owns the named pipes declared in its configuration, makes them
 * with the configured owner, group and mode, and replaces each one when it
 * has finished, so that the services on both ends can restart after a
 * crash without anyone cleaning /dev/shm by hand.  See shmpiped(8).
 *
 * One thread, one loop: signals arrive through a signalfd, and the pipes
 * are looked at every TICK_MS.  A look is one shmpipe_stat() per pipe (two
 * preads of its header), cheap enough that polling beats the complexity
 * of watching every way a pipe can finish.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "conf.h"
#include "log.h"
#include "pipes.h"

#ifndef SHMPIPED_CONF
#define SHMPIPED_CONF	"/etc/shmpipe/shmpiped.conf"
#endif

#define TICK_MS		200	/* a finished pipe is replaced within this */
#define REAP_TICKS	5	/* --reap looks at /dev/shm every 5 ticks */

/* Exit codes, documented in shmpiped(8). */
#define EXIT_SETUP	1	/* a declared pipe could not be made */
#define EXIT_USAGE	2
#define EXIT_CONFIG	6	/* LSB "not configured": a bad configuration */

struct daemon {
	const char *conf_path;
	int test_only;
	struct pipes pipes;
	int sigfd;
	uint64_t wd_usec;	/* watchdog interval, 0 if off */
	uint64_t wd_last;
	int reload_failed;
	char status[512];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shmpiped [-dt] [-c config] [-r pattern]...\n"
		"  -c, --config FILE   configuration (default %s)\n"
		"  -d, --debug         log debug messages too\n"
		"  -r, --reap PATTERN  remove stale undeclared pipes whose name\n"
		"                      matches PATTERN (a shell glob)\n"
		"  -t, --test          check the configuration and exit\n"
		"  -V, --version       print the version and exit\n",
		SHMPIPED_CONF);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "reap", required_argument, NULL, 'r' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	d->conf_path = SHMPIPED_CONF;
	d->pipes.reap = calloc((size_t)argc, sizeof(char *));
	if (!d->pipes.reap)
		return -1;
	while ((c = getopt_long(argc, argv, "c:dr:tVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d->conf_path = optarg; break;
		case 'd': log_init(1); break;
		case 'r': d->pipes.reap[d->pipes.nreap++] = optarg; break;
		case 't': d->test_only = 1; break;
		case 'V': printf("shmpiped %s\n", shmpipe_version()); exit(0);
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* Say the summary to systemd when it has changed. */
static void update_status(struct daemon *d, const char *extra)
{
	char s[sizeof(d->status)];

	pipes_summary(&d->pipes, s, sizeof(s));
	if (d->reload_failed)
		strncat(s, "; last reload failed", sizeof(s) - strlen(s) - 1);
	if (!extra && strcmp(s, d->status) == 0)
		return;
	memcpy(d->status, s, sizeof(s));
	log_debug("status: %s", s);
	sd_notifyf(0, "%sSTATUS=%s", extra ? extra : "", s);
}

static void reload(struct daemon *d)
{
	char err[CONF_ERR_MAX];
	struct conf c;

	sd_notify(0, "RELOADING=1");
	log_info("reloading %s", d->conf_path);
	if (conf_load(d->conf_path, &c, err, sizeof(err))) {
		log_errx("reload failed: %s; the old configuration stays",
			 err);
		d->reload_failed = 1;
	} else {
		pipes_reload(&d->pipes, &c);
		log_info("reloaded: %zu pipe%s declared", c.npipes,
			 c.npipes == 1 ? "" : "s");
		conf_free(&c);
		d->reload_failed = 0;
	}
	update_status(d, "READY=1\n");
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sigfd < 0 ? -1 : 0;
}

/* Returns the signal that asks to stop, or 0. */
static int handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else
			return (int)si.ssi_signo;
	}
	return 0;
}

static void watchdog(struct daemon *d)
{
	uint64_t now = now_usec();

	if (!d->wd_usec || now - d->wd_last < d->wd_usec / 2)
		return;
	d->wd_last = now;
	sd_notify(0, "WATCHDOG=1");
}

/* The loop; returns the signal that stopped it. */
static int run(struct daemon *d)
{
	struct pollfd pfd = { .fd = d->sigfd, .events = POLLIN };
	uint64_t next_tick = now_usec() + TICK_MS * 1000u, now;
	unsigned int ticks = 0;
	int timeout, sig;

	for (;;) {
		now = now_usec();
		timeout = next_tick > now ? (int)((next_tick - now) / 1000u) : 0;
		if (poll(&pfd, 1, timeout) > 0 && (sig = handle_signals(d)))
			return sig;
		now = now_usec();
		if (now < next_tick)
			continue;
		next_tick = now + TICK_MS * 1000u;
		pipes_tick(&d->pipes);
		if (++ticks % REAP_TICKS == 0)
			pipes_reap(&d->pipes);
		update_status(d, NULL);
		watchdog(d);
	}
}

/* Make every pipe, then tell systemd we are ready.  0 or an exit code. */
static int start(struct daemon *d)
{
	char err[CONF_ERR_MAX];
	struct conf c;
	int failed;

	if (conf_load(d->conf_path, &c, err, sizeof(err))) {
		log_errx("%s", err);
		return EXIT_CONFIG;
	}
	if (d->test_only) {
		printf("%s: configuration OK, %zu pipe%s\n", d->conf_path,
		       c.npipes, c.npipes == 1 ? "" : "s");
		conf_free(&c);
		return -1;
	}
	log_notice("starting: %zu pipe%s declared in %s", c.npipes,
		   c.npipes == 1 ? "" : "s", d->conf_path);
	failed = pipes_start(&d->pipes, &c);
	conf_free(&c);
	if (failed) {
		log_errx("%d declared pipe%s could not be made: exiting",
			 failed, failed == 1 ? "" : "s");
		sd_notifyf(0, "STATUS=%d pipe%s could not be made", failed,
			   failed == 1 ? "" : "s");
		return EXIT_SETUP;
	}
	pipes_reap(&d->pipes);
	if (sd_watchdog_enabled(0, &d->wd_usec) <= 0)
		d->wd_usec = 0;
	update_status(d, "READY=1\n");
	log_info("ready: %s", d->status);
	watchdog(d);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sigfd = -1 };
	int rc, sig;

	if (parse_args(&d, argc, argv)) {
		usage(stderr);
		free(d.pipes.reap);
		return EXIT_USAGE;
	}
	if (setup_signals(&d)) {
		log_errx("cannot set up signals: %s", strerror(errno));
		rc = EXIT_FAILURE;
		goto out;
	}
	rc = start(&d);
	if (rc) {
		rc = rc < 0 ? 0 : rc;	/* -1: --test passed */
		goto out;
	}
	sig = run(&d);
	sd_notify(0, "STOPPING=1");
	log_notice("stopping on %s; the pipes stay for their users",
		   strsignal(sig));
out:
	if (d.sigfd >= 0)
		close(d.sigfd);
	pipes_free(&d.pipes);
	free(d.pipes.reap);
	return rc;
}
