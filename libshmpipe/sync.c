/* SPDX-License-Identifier: MIT */
/*
 * Locks, sleeps and wakeups that survive a peer killed at any instant.
 *
 * There is no condition variable in the mapping: glibc's process-shared
 * condvars keep per-waiter state that a killed waiter corrupts, after
 * which the next broadcast can sleep forever.  A sleeper here keeps no
 * state in shared memory but the flag that asks to be woken (sh_rsleep or
 * sh_wsleep), which anyone may clear; a waker that clears it bumps a
 * sequence word and wakes every sleeper of it.  A flag left set by a dead
 * sleeper costs one spare wake, then it is gone.
 *
 * A sleeper also watches the live words of the other side's endpoints
 * (futex_waitv): each is a robust mutex held by a peer process, and when
 * that process dies the kernel marks the word FUTEX_OWNER_DIED and wakes
 * one sleeper, which reaps the dead endpoint and wakes the rest.  Every
 * sleep ends after SHMPIPE_SLICE_MS at most, so even a wakeup that was
 * never sent costs a sleeper one slice, never a hang.
 *
 * The three mutexes of the mapping are robust; every lock goes through
 * shmpipe__lock(), the one place that repairs what a dead owner left, and
 * a lock waiter sleeps the same way, on the mutex's word.
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crash.h"
#include "internal.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

#define WAITV_U32	0x02	/* FUTEX2_SIZE_U32, shared */

static int have_waitv = 1;

void shmpipe__wake(uint32_t *seq)
{
	sh_add(seq, 1);
	syscall(SYS_futex, seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void shmpipe__wake_one(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Everyone looks again: sleepers for data, for room, and for the locks. */
void shmpipe__wake_all(struct shmpipe_shared *sh)
{
	shmpipe__wake(&sh->sh_data_seq);
	shmpipe__wake(&sh->sh_space_seq);
	syscall(SYS_futex, &sh->sh_wlock, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	syscall(SYS_futex, &sh->sh_rlock, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void ts_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * The end of the next sleep: one slice from now, or the deadline if it
 * comes first.  The deadline itself is fixed the first time it is needed,
 * so a call that sleeps many times still ends on time.
 */
static struct timespec next_wakeup(struct shmpipe__deadline *dl)
{
	struct timespec now, t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (dl->ms > 0 && !dl->set) {
		dl->at = now;
		ts_add_ms(&dl->at, dl->ms);
		dl->set = 1;
	}
	t = now;
	ts_add_ms(&t, SHMPIPE_SLICE_MS);
	if (dl->ms > 0 && ts_before(&dl->at, &t))
		t = dl->at;
	return t;
}

int shmpipe__deadline_passed(struct shmpipe__deadline *dl)
{
	struct timespec now;

	if (dl->ms < 0)
		return 0;
	if (dl->ms == 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!dl->set) {
		dl->at = now;
		ts_add_ms(&dl->at, dl->ms);
		dl->set = 1;
	}
	return !ts_before(&now, &dl->at);
}

/*
 * Arm the FUTEX_WAITERS bit of a slot's live word, so that the kernel
 * wakes a sleeper when its process dies, and add it to the wait.
 * Returns 0, or -1 if the endpoint is already gone (do not sleep).
 */
static int watch_slot(struct shmpipe_slot *sl, struct waitv *wv)
{
	uint32_t *w = &sl->sl_live.word;
	uint32_t v = sh_load(w);

	if (!(v & FUTEX_TID_BITS))
		return -1;
	if (!(v & FUTEX_WAITERS_BIT) &&
	    !__atomic_compare_exchange_n(w, &v, v | FUTEX_WAITERS_BIT, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return -1;	/* it changed: look again first */
	wv->val = v | FUTEX_WAITERS_BIT;
	wv->uaddr = (uintptr_t)w;
	wv->flags = WAITV_U32;
	wv->reserved = 0;
	return 0;
}

/* Watch every attached peer; returns how many, or -1 if one is gone. */
static int watch_peers(struct shmpipe__end *e, struct waitv *wv)
{
	uint64_t m = sh_load(e->e_peer_mask);
	int n = 0;

	for (; m; m &= m - 1)
		if (watch_slot(&e->e_peers[__builtin_ctzll(m)], &wv[n++]))
			return -1;
	return n;
}

/*
 * Sleep while *seq still holds seen, at most one slice and never past the
 * deadline; with watch, also until an attached peer dies; with owner,
 * until that endpoint (a lock's owner) dies.  Returns -ETIMEDOUT once the deadline has passed, else 0: the
 * caller looks at the pipe again in every other case.  Signals do not end
 * the call early.
 */
int shmpipe__sleep(struct shmpipe__end *e, uint32_t *seq, uint32_t seen,
		   struct shmpipe__deadline *dl, int watch,
		   struct shmpipe_slot *owner)
{
	struct waitv wv[2 + SHMPIPE_SLOTS];
	struct timespec until = next_wakeup(dl);
	int n;

	if (shmpipe__deadline_passed(dl))
		return -ETIMEDOUT;

	wv[0].val = seen;
	wv[0].uaddr = (uintptr_t)seq;
	wv[0].flags = WAITV_U32;
	wv[0].reserved = 0;
	n = watch ? watch_peers(e, wv + 1) : 0;
	if (n >= 0 && owner)
		n = watch_slot(owner, &wv[1 + n]) ? -1 : n + 1;
	if (n < 0)
		return 0;

	SHMPIPE_CRASH("sleep.before");
	if (sh_load(&have_waitv)) {
		if (syscall(SYS_futex_waitv, wv, 1 + n, 0, &until,
			    CLOCK_MONOTONIC) < 0 && errno == ENOSYS)
			sh_store(&have_waitv, 0);
	} else {
		/* Older kernels: sleep on the sequence alone, for one
		 * slice, and see peer deaths when the slice ends. */
		syscall(SYS_futex, seq, FUTEX_WAIT_BITSET, seen, &until, NULL,
			FUTEX_BITSET_MATCH_ANY);
	}
	SHMPIPE_CRASH("sleep.woken");
	return shmpipe__deadline_passed(dl) ? -ETIMEDOUT : 0;
}

/*
 * The owner died holding the lock.  The side locks guard nothing that a
 * death can leave half-done: a writer publishes a message by one store
 * of sh_head after the whole copy, a reader consumes it by one store of
 * sh_tail, so a message is either all there or not there.  The control
 * lock's state is rebuilt from the slots.
 */
static void recover(struct shmpipe_shared *sh, enum shmpipe__lock_id id)
{
	SHMPIPE_CRASH("lock.recover");
	if (id == LK_CTL)
		shmpipe__recover_ctl(sh);
	sh_add(&sh->sh_recoveries, 1);
}

/*
 * Ask the holder of a mutex to wake a sleeper when it unlocks, the way
 * glibc's own lock does: set FUTEX_WAITERS in the word.  Returns the word
 * to sleep on, or 0 if the mutex is free or its owner died (try again).
 */
static uint32_t mark_waiting(uint32_t *word)
{
	uint32_t v = sh_load(word);

	if (!(v & FUTEX_TID_BITS))
		return 0;
	if (!(v & FUTEX_WAITERS_BIT) &&
	    !__atomic_compare_exchange_n(word, &v, v | FUTEX_WAITERS_BIT, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return 0;
	return v | FUTEX_WAITERS_BIT;
}

/*
 * A word that glibc takes for locked but that names no owner, alive or
 * dead, is garbage written by another process: nobody will ever release
 * it, so it is cleared.  (A dead owner's word has FUTEX_OWNER_DIED, which
 * the try-lock turns into EOWNERDEAD.)
 */
static void clear_ownerless(uint32_t *word)
{
	uint32_t v = sh_load(word);

	if (v && !(v & (FUTEX_TID_BITS | FUTEX_OWNER_DIED_BIT)))
		__atomic_compare_exchange_n(word, &v, 0, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
}

/*
 * The rest of shmpipe__lock() for the control mutex, after its try-lock
 * returned rc: the mutex is busy, or its owner died.  While it is busy,
 * sleep on its word, give up at the deadline, and repair the mutex if its
 * owner died.  The wait is a try-lock and a futex sleep rather than
 * pthread_mutex_clocklock, so that a word forged to name no owner can be
 * cleared instead of waited on.  A waiter that got the mutex after
 * sleeping sets FUTEX_WAITERS again, so that its unlock wakes the next
 * sleeper, as glibc's own lock does.
 */
int shmpipe__ctl_lock_slow(struct shmpipe__end *e,
			   struct shmpipe__deadline *dl, int rc)
{
	union shmpipe_mutex *m = &e->e_sh->sh_ctl;
	int spins = 0, slept = 0;
	uint32_t seen;

	while (rc == EBUSY && spins++ < 200) {
		__builtin_ia32_pause();
		rc = shmpipe__ctl_trylock(e->e_sh);
	}
	while (rc == EBUSY) {
		if (dl->ms == 0)
			return -EAGAIN;
		if (shmpipe__deadline_passed(dl))
			return -ETIMEDOUT;
		seen = mark_waiting(&m->word);
		if (seen && shmpipe__sleep(e, &m->word, seen, dl, 0, NULL))
			return -ETIMEDOUT;
		if (!seen)
			clear_ownerless(&m->word);
		slept = 1;
		rc = shmpipe__ctl_trylock(e->e_sh);
	}
	if (rc == EOWNERDEAD) {
		recover(e->e_sh, LK_CTL);
		rc = pthread_mutex_consistent(&m->m);
	}
	if (!rc && slept)
		mark_waiting(&m->word);
	return shmpipe__from_pthread(rc);
}

/*
 * Who owns a side lock, by its word: the owner's slot if it is still
 * attached under the token the word names and its process is alive;
 * else NULL, and the lock is abandoned.
 */
static struct shmpipe_slot *side_owner(struct shmpipe__end *e, uint32_t v)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint32_t idx = (v & SHMPIPE_SIDE_SLOT_MASK) - 1;
	int writers = e->e_role == SHMPIPE_ROLE_WRITER;
	uint64_t mask = sh_load(writers ? &sh->sh_wmask : &sh->sh_rmask);
	struct shmpipe_slot *sl;

	if (idx >= SHMPIPE_SLOTS || !(mask & (1ULL << idx)))
		return NULL;
	sl = &(writers ? sh->sh_writers : sh->sh_readers)[idx];
	if (((sh_load(&sl->sl_token) ^ (v >> SHMPIPE_SIDE_TOKEN_SHIFT)) &
	     SHMPIPE_SIDE_TOKEN_MASK) || !shmpipe__slot_alive(sl))
		return NULL;
	return sl;
}

/*
 * The rest of shmpipe__lock() for a side lock that was not free.  Spin a
 * little, then sleep on the word (with SHMPIPE_SIDE_WAITERS set, so that
 * the unlock wakes us) and on the owner's live word, so that the owner's
 * death ends the sleep.  A lock whose owner is gone is taken over: its
 * owner finished nothing it had not published (see recover()).
 */
int shmpipe__side_lock_slow(struct shmpipe__end *e, uint32_t *word,
			    struct shmpipe__deadline *dl,
			    shmpipe__check_fn check)
{
	uint32_t me = shmpipe__side_owner(e), v, want;
	struct shmpipe_slot *owner;
	int spins = 0, slept = 0, r;

	for (;;) {
		v = sh_load(word);
		want = me | (slept ? SHMPIPE_SIDE_WAITERS : 0);
		if (!v) {
			if (__atomic_compare_exchange_n(word, &v, want, 0,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return 0;
			continue;
		}
		if (spins++ < 200) {
			__builtin_ia32_pause();
			continue;
		}
		owner = side_owner(e, v);
		if (!owner) {
			want |= v & SHMPIPE_SIDE_WAITERS;
			if (__atomic_compare_exchange_n(word, &v, want, 0,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				recover(e->e_sh, LK_WRITE);
				return 0;
			}
			continue;
		}
		if (dl->ms == 0)
			return -EAGAIN;
		if (check && (r = check(e)) != 0)
			return r;
		if (!(v & SHMPIPE_SIDE_WAITERS) &&
		    !__atomic_compare_exchange_n(word, &v,
						 v | SHMPIPE_SIDE_WAITERS, 0,
						 __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
			continue;
		r = shmpipe__sleep(e, word, v | SHMPIPE_SIDE_WAITERS, dl,
				   e->e_role == SHMPIPE_ROLE_WRITER, owner);
		if (r)
			return r;
		slept = 1;
	}
}
