/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log: one line per event on stderr, each opened with the
 * "<N>" priority prefix that journald reads, so the same output is right
 * on a terminal, under systemd and in a test that captures it.
 */
#ifndef SHMPIPED_LOG_H
#define SHMPIPED_LOG_H

#include <stdarg.h>

void log_init(int debug);
int log_debugging(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SHMPIPED_LOG_H */
