/* SPDX-License-Identifier: MIT */
/*
 * Log lines for journald.  A whole line goes out in one write(2), so that
 * lines from the daemon never interleave with each other mid-way, and a
 * failing stderr is ignored: losing a log line must not stop the daemon.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "log.h"

#define LOG_LINE_MAX	1024

static int debugging;

void log_init(int debug)
{
	debugging = debug;
}

int log_debugging(void)
{
	return debugging;
}

static void vlog(const char *prio, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = strlen(prio);
	int len;

	memcpy(line, prio, n);
	len = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (len < 0)
		return;
	n += (size_t)len < sizeof(line) - n - 1 ? (size_t)len
						: sizeof(line) - n - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

#define LOG_FN(fn, prio, gate)				\
void fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	if (!(gate))					\
		return;					\
	va_start(ap, fmt);				\
	vlog(prio, fmt, ap);				\
	va_end(ap);					\
}

LOG_FN(log_debug, SD_DEBUG, debugging)
LOG_FN(log_info, SD_INFO, 1)
LOG_FN(log_notice, SD_NOTICE, 1)
LOG_FN(log_warnx, SD_WARNING, 1)
LOG_FN(log_errx, SD_ERR, 1)
