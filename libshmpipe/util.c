/* SPDX-License-Identifier: MIT */
/*
 * Small helpers: clocks, process identity, sizes, version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

uint64_t shmpipe__realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/PID/stat): with the pid, an identity that survives pid reuse.
 * Returns 0 when it cannot be read.
 */
uint64_t shmpipe__proc_start(int pid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';

	/* The command name may hold spaces and parentheses: skip past it. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

size_t shmpipe_max_message(size_t capacity)
{
	size_t cap = SHMPIPE_CAPACITY_MIN;

	if (capacity == 0)
		capacity = SHMPIPE_CAPACITY_DEFAULT;
	if (capacity > SHMPIPE_CAPACITY_MAX)
		return 0;
	if (capacity < SHMPIPE_CAPACITY_MIN)
		return 0;
	while (cap < capacity)
		cap <<= 1;
	return cap - SHMPIPE_RECORD_HDR;
}

const char *shmpipe_version(void)
{
#define STR_(x) #x
#define STR(x) STR_(x)
	return STR(SHMPIPE_VERSION_MAJOR) "." STR(SHMPIPE_VERSION_MINOR) "."
	       STR(SHMPIPE_VERSION_PATCH);
}
