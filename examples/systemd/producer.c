/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-demo-producer: writes one numbered job to a pipe every interval
 * until stopped.  Exit codes: 0 stopped by SIGTERM/SIGINT or done with
 * -n; 1 the consumer went away (closed: EPIPE, or died: ECONNRESET), so
 * that a service manager restarts us against a fresh pipe; 2 usage.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shmpipe.h"
#include "demo.h"

static int open_writer(const char *name, void **h)
{
	struct shmpipe_writer *p = NULL;
	int r = shmpipe_writer_open(name, &p);

	*h = p;
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: shmpipe-demo-producer [-i ms] [-n count] "
		"name\n");
	exit(2);
}

static void parse_args(int argc, char **argv, int *interval,
		       unsigned long *count)
{
	int c;

	while ((c = getopt(argc, argv, "i:n:")) != -1) {
		switch (c) {
		case 'i': *interval = atoi(optarg); break;
		case 'n': *count = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind + 1 != argc || *interval < 0)
		usage();
}

int main(int argc, char **argv)
{
	struct shmpipe_writer *w;
	unsigned long n, count = 0;
	int interval = 1000, r;
	char msg[128];
	void *h;

	parse_args(argc, argv, &interval, &count);
	demo_catch_signals();
	r = demo_open(open_writer, argv[optind], &h);
	w = h;
	if (r)
		errx(1, "cannot open %s: %s", argv[optind], strerror(-r));
	printf("producer %d: writing to %s\n", (int)getpid(), argv[optind]);
	fflush(stdout);

	for (n = 1; !demo_stop && (!count || n <= count); n++) {
		int len = snprintf(msg, sizeof(msg), "job %lu from pid %d", n,
				   (int)getpid());

		r = shmpipe_write(w, msg, (size_t)len, 1000);
		if (r == -ETIMEDOUT) {	/* ring full: the consumer is slow */
			n--;
			continue;
		}
		if (r) {
			/* Leave properly even now: an endpoint that exits
			 * attached counts as dead, not as closed. */
			shmpipe_writer_close(w, 0);
			errx(1, "write: %s: the consumer is gone", strerror(-r));
		}
		demo_sleep_ms(interval);
	}
	shmpipe_writer_close(w, 0);
	printf("producer %d: done after %lu jobs\n", (int)getpid(), n - 1);
	return 0;
}
