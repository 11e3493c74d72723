/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the shmpiped tests: a temporary directory with the
 * configuration, the daemon run as a child with NOTIFY_SOCKET pointing at
 * a datagram socket the test reads, and children that play producer and
 * consumer.
 *
 * Every pipe name a case uses holds this process's pid and is registered,
 * so teardown removes it whatever happened; a per-case alarm turns a hang
 * into a failure that cleans up too.  Children never call cmocka: they
 * report through their exit status (0, or the errno of what failed).
 */
#ifndef SHMPIPED_TEST_HELPERS_H
#define SHMPIPED_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "shmpipe.h"

#define CASE_TIMEOUT_S	60
#define BOUND_MS	10000	/* generous: only a hang passes it */

struct dt {
	char dir[64];		/* the case's temporary directory */
	char conf[96];		/* dir/shmpiped.conf */
	char log[96];		/* dir/daemon.log: the daemon's stderr */
	int nfd;		/* the notify socket */
	pid_t daemon;
	int status;		/* the daemon's wait status once it ended */
	char *notes;		/* every datagram received, in order */
	size_t nlen, ncur;	/* length; where notify_wait looks from */
	int passed;		/* set at the end of a case: no log dump */
};

/* A pipe name unique to this run and case, removed at teardown. */
const char *dt_name(const char *tag);

/* Write a file under the case's directory (conf.d/ is made as needed). */
void dt_write(struct dt *t, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Start the daemon with -d -c dir/shmpiped.conf and extra arguments
 * (NULL-terminated); env is an extra "NAME=value" or NULL. */
void dt_start(struct dt *t, const char *env, ...);

/* Wait for the daemon to end; returns its wait status, -1 on timeout. */
int dt_wait_exit(struct dt *t, int timeout_ms);

/* Wait for a notification that holds text, after the last one found. */
int dt_notify_wait(struct dt *t, const char *text, int timeout_ms);

/* Wait until the daemon's log holds text. */
int dt_log_wait(struct dt *t, const char *text, int timeout_ms);
int dt_log_has(struct dt *t, const char *text);

/* Fork a child running fn(arg); it is killed at teardown if still there. */
pid_t dt_fork(int (*fn)(void *), void *arg);

/* Exit code of a child, or -1 if it was killed or outlived timeout_ms. */
int dt_child_exit(pid_t pid, int timeout_ms);

/* Register a child pid for teardown (dt_fork does it). */
void dt_track(pid_t pid);

double dt_now_ms(void);
void dt_sleep_ms(int ms);

/* Stat that fails the case on error. */
void dt_stat(const char *name, struct shmpipe_stat *st);

/* A path in /dev/shm for a name: the tests fake half-made segments. */
void dt_shm_path(char *buf, size_t len, const char *name);

int dt_setup(void **state);
int dt_teardown(void **state);
int dt_run(const struct CMUnitTest *tests, size_t n);

#define DT_TEST(fn) cmocka_unit_test_setup_teardown(fn, dt_setup, dt_teardown)

/* Poll cond every 10 ms for at most ms milliseconds; true if it held. */
#define DT_WAIT_UNTIL(cond, ms) ({					\
	double dt_t0_ = dt_now_ms();					\
	int dt_ok_ = 0;							\
	while (dt_now_ms() - dt_t0_ < (ms)) {				\
		if (cond) {						\
			dt_ok_ = 1;					\
			break;						\
		}							\
		dt_sleep_ms(10);					\
	}								\
	dt_ok_;								\
})

#endif /* SHMPIPED_TEST_HELPERS_H */
