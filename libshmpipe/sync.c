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
 * (futex_waitv): each is a robust futex held by a peer process, and when
 * that process dies the kernel marks the word FUTEX_OWNER_DIED and wakes
 * one sleeper, which reaps the dead endpoint and wakes the rest.  Every
 * sleep ends after SHMPIPE_SLICE_MS at most, so even a wakeup that was
 * never sent costs a sleeper one slice, never a hang.
 *
 * Every lock of the mapping survives its owner's death; every lock goes
 * through shmpipe__lock(), the one place that repairs what a dead owner
 * left, and a lock waiter sleeps the same way, on the lock's word.
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
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

/* Milliseconds left before the deadline (fixed now if it was not), >= 0. */
long shmpipe__deadline_left_ms(struct shmpipe__deadline *dl)
{
	struct timespec now;

	if (dl->ms <= 0)
		return dl->ms < 0 ? SHMPIPE_SLICE_MS : 0;
	shmpipe__deadline_passed(dl);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!ts_before(&now, &dl->at))
		return 0;
	return (dl->at.tv_sec - now.tv_sec) * 1000 +
	       (dl->at.tv_nsec - now.tv_nsec) / 1000000 + 1;
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
 * A file that shrank loses its last page first: touching it before each
 * sleep lets a sleeper notice within a slice (segment.c, e_broken).  The
 * byte may be a message being copied by another thread; its value is not
 * used, so the read is kept out of the thread sanitizer's sight.
 */
__attribute__((no_sanitize_thread, noinline))
static void probe_end(struct shmpipe__end *e)
{
	(void)*(volatile uint8_t *)(e->e_ring + e->e_cap - 1);
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
	probe_end(e);
	if (__atomic_load_n(&e->e_broken, __ATOMIC_ACQUIRE))
		return 0;	/* the caller's check says -EPROTO */

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
 * Ask the holder of a lock word to wake us when it lets go: set
 * FUTEX_WAITERS in the word.  Returns the word to sleep on, or 0 if the
 * lock has no owner now (try again).
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
 * The rest of shmpipe__lock() for the control lock, after its try-lock
 * returned rc: the lock is busy, or its owner died.  While it is busy,
 * sleep on its word, give up at the deadline, and repair the pipe if the
 * owner died.  The owner's unlock wakes every sleeper, and so does the
 * kernel's mark of its death.
 */
int shmpipe__ctl_lock_slow(struct shmpipe__end *e,
			   struct shmpipe__deadline *dl, int rc)
{
	uint32_t *word = &e->e_sh->sh_ctl.word, seen;
	int spins = 0;

	while (rc == -EBUSY && spins++ < 200) {
		__builtin_ia32_pause();
		rc = shmpipe__robust_trylock(word);
	}
	while (rc == -EBUSY) {
		if (dl->ms == 0)
			return -EAGAIN;
		if (shmpipe__deadline_passed(dl))
			return -ETIMEDOUT;
		if (__atomic_load_n(&e->e_broken, __ATOMIC_ACQUIRE))
			return -EPROTO;
		seen = mark_waiting(word);
		if (seen && shmpipe__sleep(e, word, seen, dl, 0, NULL))
			return -ETIMEDOUT;
		rc = shmpipe__robust_trylock(word);
	}
	if (rc == -EOWNERDEAD) {
		recover(e->e_sh, LK_CTL);
		rc = 0;
	}
	return rc;
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
 * Announce that a thread of this endpoint waits for a side lock, or no
 * longer does.  The bit in the mask stands for all the endpoint's
 * waiting threads, so it is set and cleared under a private mutex, with
 * their count.  A dead endpoint's bit is cleared when it is reaped.
 */
static pthread_mutex_t waiters_mu = PTHREAD_MUTEX_INITIALIZER;

/* In a forked child, where another thread may have held it. */
void shmpipe__sync_after_fork(void)
{
	pthread_mutex_init(&waiters_mu, NULL);
}

static void side_wait_mark(struct shmpipe__end *e, uint64_t *mask, int on)
{
	uint64_t bit = 1ULL << e->e_slot;

	pthread_mutex_lock(&waiters_mu);
	if (on && e->e_lock_waiters++ == 0)
		__atomic_fetch_or(mask, bit, __ATOMIC_SEQ_CST);
	else if (!on && --e->e_lock_waiters == 0)
		__atomic_fetch_and(mask, ~bit, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&waiters_mu);
}

/*
 * Make every other thread of every process in the pipe pass a full
 * fence, so that what they stored before is seen after this, and what
 * they load after it sees what this thread stored before (membarrier
 * with MEMBARRIER_CMD_GLOBAL_EXPEDITED reaches every process that
 * registered for it, as each process using shmpipe does).  The pair of
 * the plain stores of a pipe that is not strict.  If it fails, the pipe
 * becomes strict.
 */
void shmpipe__fence_others(struct shmpipe__end *e)
{
	if (!shmpipe__strict(e) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0))
		sh_store_sc(&e->e_sh->sh_strict, 1);
}

/*
 * The rest of shmpipe__lock() for a side lock that was not free.  Spin a
 * little, then sleep on the word and on the owner's live word, so that
 * the owner's death ends the sleep.  Before it sleeps, a waiter sets its
 * bit in the waiters' mask, makes sure the owner would see it (a locked
 * instruction in strict mode pairs with the unlocker's exchange; else
 * membarrier() puts a fence in the unlocker's plain store-then-load),
 * and reads the word once more.  A lock whose owner is gone is taken
 * over: its owner finished nothing it had not published (see recover()).
 */
int shmpipe__side_lock_slow(struct shmpipe__end *e, enum shmpipe__lock_id id,
			    struct shmpipe__deadline *dl,
			    shmpipe__check_fn check)
{
	uint32_t *word = shmpipe__side_word(e->e_sh, id);
	uint64_t *mask = shmpipe__side_wait(e->e_sh, id);
	uint32_t me = shmpipe__side_owner(e), v;
	struct shmpipe_slot *owner;
	int spins = 0, yields = 0, waiting = 0, r;

	shmpipe__deadline_passed(dl);	/* the deadline counts from here */
	for (;;) {
		v = sh_load(word);
		if (!v) {
			if (__atomic_compare_exchange_n(word, &v, me, 0,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				r = 0;
				break;
			}
			continue;
		}
		if (spins++ < 200) {
			__builtin_ia32_pause();
			continue;
		}
		owner = side_owner(e, v);
		if (!owner) {
			if (__atomic_compare_exchange_n(word, &v, me, 0,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				recover(e->e_sh, id);
				r = 0;
				break;
			}
			continue;
		}
		if (dl->ms == 0) {
			r = -EAGAIN;
			break;
		}
		if (yields < 16) {
			/* The owner may be waiting for this CPU. */
			yields++;
			sched_yield();
			continue;
		}
		if (!waiting) {
			side_wait_mark(e, mask, 1);
			shmpipe__fence_others(e);
			waiting = 1;
			continue;
		}
		/* Once per sleep: it may reap, which may wait a slice. */
		if (shmpipe__deadline_passed(dl)) {
			r = -ETIMEDOUT;
			break;
		}
		if (check && (r = check(e, dl)) != 0)
			break;
		r = shmpipe__sleep(e, word, v, dl,
				   e->e_role == SHMPIPE_ROLE_WRITER, owner);
		if (r)
			break;
	}
	if (waiting)
		side_wait_mark(e, mask, 0);
	return r;
}
