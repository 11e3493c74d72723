/* SPDX-License-Identifier: MIT */
/*
 * What the two demo programs share: opening a pipe that shmpiped may be
 * replacing at this very moment, and stopping cleanly on SIGTERM.
 */
#ifndef SHMPIPE_DEMO_H
#define SHMPIPE_DEMO_H

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* How long an opener waits for shmpiped to put a fresh pipe in place. */
#define DEMO_OPEN_WAIT_MS	10000
#define DEMO_RETRY_MS		100

static volatile sig_atomic_t demo_stop;

static void demo_on_signal(int sig)
{
	(void)sig;
	demo_stop = 1;
}

static inline void demo_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = demo_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static inline void demo_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * A finished pipe refuses new endpoints (-EPIPE) and a pipe being
 * replaced is briefly missing (-ENOENT): both mean "shmpiped is on it,
 * try again shortly".  Anything else is an answer.
 */
static inline int demo_open(int (*open_fn)(const char *, void **),
			    const char *name, void **h)
{
	int waited = 0, r;

	for (;;) {
		r = open_fn(name, h);
		if ((r != -ENOENT && r != -EPIPE) || demo_stop ||
		    waited >= DEMO_OPEN_WAIT_MS)
			return r;
		demo_sleep_ms(DEMO_RETRY_MS);
		waited += DEMO_RETRY_MS;
	}
}

#endif /* SHMPIPE_DEMO_H */
