/* SPDX-License-Identifier: MIT */
/*
 * Crash points for test builds (see crash.h).  A test arms one point in
 * the process that is to die, usually a freshly forked child.
 */
#ifdef SHMPIPE_CRASH_POINTS
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

static char armed[64];
static unsigned int remaining;

void shmpipe__crash_arm(const char *name, unsigned int hits)
{
	strncpy(armed, name, sizeof(armed) - 1);
	__atomic_store_n(&remaining, hits, __ATOMIC_SEQ_CST);
}

void shmpipe__crash_point(const char *name)
{
	if (!__atomic_load_n(&remaining, __ATOMIC_RELAXED) ||
	    strcmp(name, armed))
		return;
	if (__atomic_sub_fetch(&remaining, 1, __ATOMIC_SEQ_CST) == 0)
		kill(getpid(), SIGKILL);
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int shmpipe__no_crash_points;
#endif
