/* SPDX-License-Identifier: MIT */
/*
 * Test harness shared by the cmocka programs under tests/.
 *
 * Every case runs with th_setup/th_teardown: a per-case alarm turns a hang
 * into a failure (the alarm handler kills the case's children, removes its
 * pipes and exits non-zero), and teardown removes every pipe the case named
 * and kills every child it forked, also when an assertion failed.
 *
 * Children run plain C, never cmocka assertions: they report through their
 * exit status or through memory shared with the parent (th_shared()).
 */
#ifndef SHMPIPE_TEST_HARNESS_H
#define SHMPIPE_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "shmpipe.h"

#define TH_CASE_TIMEOUT_S	60

/* A fresh pipe name unique to this process and case, removed at teardown. */
const char *th_name(const char *tag);

/* Create a pipe under a fresh name with this capacity (0: default). */
const char *th_pipe(const char *tag, size_t capacity);

/* Fork a child that runs fn(arg) and exits with its return value. */
pid_t th_fork(int (*fn)(void *), void *arg);

/* Wait for a child at most timeout_ms; returns its wait status, or -1
 * after killing it when it did not end in time. */
int th_wait(pid_t pid, int timeout_ms);

/* Wait for a child and return its exit code (-1: killed or timed out). */
int th_exit_code(pid_t pid, int timeout_ms);

/* Kill a child of this case with a signal (it stays registered). */
void th_kill(pid_t pid, int sig);

/* Zeroed memory shared with children forked afterwards. */
void *th_shared(size_t size);

/* Monotonic milliseconds, for measuring (never for asserting tight). */
double th_now_ms(void);

/* Sleep this many milliseconds. */
void th_sleep_ms(int ms);

/* Wait until *flag becomes nonzero, at most timeout_ms; returns *flag. */
int th_wait_flag(volatile int *flag, int timeout_ms);

/*
 * In a child that does nothing else: take the lock word as the library
 * does (a robust futex naming this thread, on a private robust list), so
 * that the kernel marks it FUTEX_OWNER_DIED when the child is killed.
 * Replaces the child's C-library robust list.  Returns 0, or -1 if the
 * word was not free.
 */
int th_hold_robust(uint32_t *word);

int th_setup(void **state);
int th_teardown(void **state);

#define TH_TEST(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

/* Run a group with cleanup at exit whatever happens. */
int th_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define TH_RUN(name, tests) th_run(name, tests, sizeof(tests) / sizeof(tests[0]))

#endif /* SHMPIPE_TEST_HARNESS_H */
