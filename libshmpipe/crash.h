/* SPDX-License-Identifier: MIT */
/*
 * Crash points: named places where a test build of the library can be
 * told to kill its own process with SIGKILL, so that the crash tests can
 * kill a party exactly there.  In a normal build they compile to nothing;
 * the installed library has none.
 */
#ifndef SHMPIPE_CRASH_H
#define SHMPIPE_CRASH_H

#ifdef SHMPIPE_CRASH_POINTS
void shmpipe__crash_point(const char *name);
/* Die at the hits-th passage (1 = first) through point name. */
void shmpipe__crash_arm(const char *name, unsigned int hits);
#define SHMPIPE_CRASH(name)	shmpipe__crash_point(name)
#else
#define SHMPIPE_CRASH(name)	((void)0)
#endif

#endif /* SHMPIPE_CRASH_H */
