/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-demo-consumer: prints every message of a pipe.  Exit codes:
 * 0 the producer closed the pipe (end of stream) or SIGTERM/SIGINT;
 * 1 the producer died (ECONNRESET) or the pipe failed, so that a service
 * manager restarts us against a fresh pipe; 2 usage.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shmpipe.h"
#include "demo.h"

static int open_reader(const char *name, void **h)
{
	struct shmpipe_reader *p = NULL;
	int r = shmpipe_reader_open(name, &p);

	*h = p;
	return r;
}

int main(int argc, char **argv)
{
	struct shmpipe_reader *rd;
	char buf[4096];
	size_t len;
	void *h;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: shmpipe-demo-consumer name\n");
		return 2;
	}
	demo_catch_signals();
	r = demo_open(open_reader, argv[1], &h);
	rd = h;
	if (r)
		errx(1, "cannot open %s: %s", argv[1], strerror(-r));
	printf("consumer %d: reading from %s\n", (int)getpid(), argv[1]);
	fflush(stdout);

	while (!demo_stop) {
		/* A bounded wait, so that SIGTERM is seen within 500 ms. */
		r = shmpipe_read(rd, buf, sizeof(buf), &len, 500);
		if (r == -ETIMEDOUT)
			continue;
		if (r == SHMPIPE_EOF) {
			printf("consumer %d: end of stream\n", (int)getpid());
			break;
		}
		if (r) {
			shmpipe_reader_close(rd, 0);
			errx(1, "read: %s: the producer is gone", strerror(-r));
		}
		printf("consumer %d: %.*s\n", (int)getpid(), (int)len, buf);
		fflush(stdout);
	}
	shmpipe_reader_close(rd, 0);
	return 0;
}
