/* SPDX-License-Identifier: MIT */
/*
 * Attaching, leaving and dying: the pipe's state machine.
 *
 * Everything here runs under the control lock.  The state is two words
 * that the hot paths read without a lock: sh_wr_error, what every write
 * returns once the read side is finished, and sh_rd_error, what a read of
 * an empty ring returns once the write side is finished.  Each is set at
 * most once (the first reason sticks) and never cleared: a pipe is
 * single-use, like Go's io.Pipe.
 *
 * The masks of attached slots are the only other state, and the counts
 * are derived from them, so that after the death of a process that held
 * the control lock the state can be rebuilt from the slots alone.
 */
#include <errno.h>
#include <unistd.h>

#include "crash.h"
#include "internal.h"

static uint64_t *mask_of(struct shmpipe_shared *sh, int role)
{
	return role == SHMPIPE_ROLE_READER ? &sh->sh_rmask : &sh->sh_wmask;
}

static struct shmpipe_slot *slots_of(struct shmpipe_shared *sh, int role)
{
	return role == SHMPIPE_ROLE_READER ? sh->sh_readers : sh->sh_writers;
}

/* The mask of slots with a thread waiting for the side's lock. */
static uint64_t *waiting_of(struct shmpipe_shared *sh, int role)
{
	return shmpipe__side_wait(sh, shmpipe__side_of(role));
}

/*
 * Remove the endpoints of one side whose process has died.  A slot's
 * live word tells: an owner thread id means the keeper of a live process
 * holds it (stopped is alive too); no owner means the process died (the
 * kernel set FUTEX_OWNER_DIED) or left without detaching.  The word of a
 * dead one is cleared with a compare-and-swap; it is not taken, which
 * would put it on this process's robust list for nothing.  Returns how
 * many were removed.
 */
static int reap_side(struct shmpipe_shared *sh, int role)
{
	uint64_t *maskp = mask_of(sh, role), m = sh_load(maskp);
	struct shmpipe_slot *slots = slots_of(sh, role);
	int dead = 0;

	for (; m; m &= m - 1) {
		int i = __builtin_ctzll(m);
		uint32_t *word = &slots[i].sl_live.word;
		uint32_t v = sh_load(word);

		if (v & FUTEX_TID_BITS)
			continue;
		__atomic_compare_exchange_n(word, &v, 0, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		__atomic_fetch_and(maskp, ~(1ULL << i), __ATOMIC_RELEASE);
		__atomic_fetch_and(waiting_of(sh, role), ~(1ULL << i),
				   __ATOMIC_RELAXED);
		dead++;
	}
	return dead;
}

/*
 * Derive the state words from the masks and flags.  reader_died: the
 * last reader to leave was removed dead, so writers are told the
 * connection was reset rather than closed.
 */
static void update_state(struct shmpipe_shared *sh, int reader_died)
{
	uint32_t flags = sh_load(&sh->sh_flags);

	if (!sh_load(&sh->sh_rmask) && (flags & SHMPIPE_F_READER_SEEN) &&
	    !sh_load(&sh->sh_wr_error))
		sh_store_release(&sh->sh_wr_error,
				 reader_died ? -ECONNRESET : -EPIPE);
	if (!sh_load(&sh->sh_wmask) && (flags & SHMPIPE_F_WRITER_SEEN) &&
	    !sh_load(&sh->sh_rd_error))
		sh_store_release(&sh->sh_rd_error,
				 (flags & SHMPIPE_F_WRITER_DIED) ? -ECONNRESET
								 : SHMPIPE_EOF);
	sh_add(&sh->sh_state_seq, 1);
}

/* Reap both sides and settle the state; the caller holds ctl. */
static int reap_locked(struct shmpipe_shared *sh)
{
	int readers = reap_side(sh, SHMPIPE_ROLE_READER);
	int writers = reap_side(sh, SHMPIPE_ROLE_WRITER);

	if (!readers && !writers)
		return 0;
	if (readers)
		__atomic_fetch_or(&sh->sh_flags, SHMPIPE_F_READER_DIED,
				  __ATOMIC_RELAXED);
	if (writers)
		__atomic_fetch_or(&sh->sh_flags, SHMPIPE_F_WRITER_DIED,
				  __ATOMIC_RELAXED);
	sh_add(&sh->sh_reaped, (uint64_t)(readers + writers));
	update_state(sh, readers > 0);
	return 1;
}

/* The previous holder of ctl died: its half-done change is redone. */
void shmpipe__recover_ctl(struct shmpipe_shared *sh)
{
	reap_locked(sh);
	update_state(sh, 0);
}

/*
 * A caller saw a peer with no live owner.  Take ctl, remove the dead, and
 * wake every sleeper so that all of them see the new state: the kernel
 * woke only one.  The caller looks at the state again in any case, so a
 * control lock that stays busy for a whole slice, or past dl (the
 * deadline of the write or read that asked; NULL: none), is left for
 * next time.
 */
int shmpipe__reap(struct shmpipe__end *e, struct shmpipe__deadline *dl)
{
	struct shmpipe__deadline slice = { .ms = SHMPIPE_SLICE_MS };
	int r, changed;

	if (dl && dl->ms >= 0) {
		long left = shmpipe__deadline_left_ms(dl);

		if (left < slice.ms)
			slice.ms = (int)left;
	}
	r = shmpipe__lock(e, LK_CTL, &slice, NULL);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return 0;
	if (r)
		return r;
	changed = reap_locked(e->e_sh);
	shmpipe__unlock(e, LK_CTL);
	if (changed)
		shmpipe__wake_all(e->e_sh);
	return 0;
}

/* May an endpoint of this role join the pipe now?  The caller holds ctl. */
static int may_attach(struct shmpipe_shared *sh, int role)
{
	uint32_t flags = sh_load(&sh->sh_flags);

	if (role == SHMPIPE_ROLE_WRITER)
		return sh_load(&sh->sh_wr_error) ||
		       ((flags & SHMPIPE_F_WRITER_SEEN) &&
			!sh_load(&sh->sh_wmask)) ? -EPIPE : 0;
	return (flags & SHMPIPE_F_READER_SEEN) && !sh_load(&sh->sh_rmask) ?
	       -EPIPE : 0;
}

/* Claim a free slot: its live word taken by this process. */
static int claim_slot(struct shmpipe__end *e)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint64_t used = sh_load(mask_of(sh, e->e_role));
	struct shmpipe_slot *slots = slots_of(sh, e->e_role);
	int i, r = -EUSERS;

	for (i = 0; i < SHMPIPE_SLOTS; i++) {
		if (used & (1ULL << i))
			continue;
		r = shmpipe__robust_trylock(&slots[i].sl_live.word);
		if (r == -EBUSY)
			continue;	/* held by a stranger: skip it */
		if (r && r != -EOWNERDEAD)	/* a dead one's: ours now */
			return r;
		e->e_slot = i;
		return 0;
	}
	return r == -EBUSY ? -EUSERS : r;
}

int shmpipe__attach(struct shmpipe__end *e)
{
	struct shmpipe__deadline bound = { .ms = SHMPIPE_CTL_WAIT_MS };
	struct shmpipe_shared *sh = e->e_sh;
	struct shmpipe_slot *sl;
	int r;

	r = shmpipe__lock(e, LK_CTL, &bound, NULL);
	if (r)
		return r == -ETIMEDOUT ? -EBUSY : r;
	reap_locked(sh);
	r = may_attach(sh, e->e_role);
	if (!r)
		r = claim_slot(e);
	if (r) {
		shmpipe__unlock(e, LK_CTL);
		return r;
	}

	SHMPIPE_CRASH("attach.claimed");
	sl = &slots_of(sh, e->e_role)[e->e_slot];
	sh_store(&sl->sl_pid, (uint32_t)getpid());
	sh_store(&sl->sl_token, sh_load(&sl->sl_token) + 1);
	sh_store(&sl->sl_start, shmpipe__proc_start(getpid()));
	sh_store(&sl->sl_since_ns, shmpipe__realtime_ns());
	e->e_token = sh_load(&sl->sl_token);
	e->e_lock_waiters = 0;
	__atomic_fetch_and(waiting_of(sh, e->e_role), ~(1ULL << e->e_slot),
			   __ATOMIC_RELAXED);
	if (!__atomic_load_n(&shmpipe__fenced, __ATOMIC_RELAXED))
		sh_store_sc(&sh->sh_strict, 1);
	__atomic_fetch_or(&sh->sh_flags, e->e_role == SHMPIPE_ROLE_READER ?
			  SHMPIPE_F_READER_SEEN : SHMPIPE_F_WRITER_SEEN,
			  __ATOMIC_RELAXED);
	__atomic_fetch_or(mask_of(sh, e->e_role), 1ULL << e->e_slot,
			  __ATOMIC_RELEASE);
	sh_add(&sh->sh_state_seq, 1);
	SHMPIPE_CRASH("attach.published");
	shmpipe__unlock(e, LK_CTL);

	/* Sleepers of the other side start watching the new peer. */
	shmpipe__wake_all(sh);
	return 0;
}

/* Record the first abort reason and finish both directions with it. */
static void abort_pipe(struct shmpipe_shared *sh, int role, int err)
{
	if (sh_load(&sh->sh_flags) & SHMPIPE_F_ABORTED)
		return;
	sh_store(&sh->sh_close_err, err);
	sh_store(&sh->sh_close_pid, (uint32_t)getpid());
	sh_store(&sh->sh_close_role, (uint32_t)role);
	sh_store(&sh->sh_close_ns, shmpipe__realtime_ns());
	__atomic_fetch_or(&sh->sh_flags, SHMPIPE_F_ABORTED, __ATOMIC_RELAXED);
	if (!sh_load(&sh->sh_wr_error))
		sh_store_release(&sh->sh_wr_error, -err);
	if (!sh_load(&sh->sh_rd_error))
		sh_store_release(&sh->sh_rd_error, -err);
}

/*
 * Leave the pipe, aborting it first if err > 0.  The state changes and
 * the other side is woken first, so that it learns of the close as soon
 * as can be; then it lets go of its live word, still under ctl,
 * so that no attacher can take the slot half-released.  If ctl cannot be
 * had within SHMPIPE_CTL_WAIT_MS (its holder is stopped, or the segment
 * is garbage), the endpoint still leaves: it releases its live word and
 * the others reap it as if it had died.  A close never hangs.
 */
void shmpipe__detach(struct shmpipe__end *e, int err)
{
	struct shmpipe__deadline bound = { .ms = SHMPIPE_CTL_WAIT_MS };
	struct shmpipe_shared *sh = e->e_sh;
	struct shmpipe_slot *sl = &slots_of(sh, e->e_role)[e->e_slot];
	uint64_t *maskp = mask_of(sh, e->e_role);

	if (shmpipe__lock(e, LK_CTL, &bound, NULL)) {
		/* The control lock is unusable: let the live word go, so
		 * that the others at least see this endpoint as gone. */
		shmpipe__robust_unlock(&sl->sl_live.word);
		shmpipe__wake_all(sh);
		return;
	}
	SHMPIPE_CRASH("detach.locked");
	if ((sh_load(maskp) & (1ULL << e->e_slot)) &&
	    sh_load(&sl->sl_token) == e->e_token)
		__atomic_fetch_and(maskp, ~(1ULL << e->e_slot),
				   __ATOMIC_RELEASE);
	if (err > 0)
		abort_pipe(sh, e->e_role, err);
	update_state(sh, 0);
	shmpipe__wake_all(sh);
	SHMPIPE_CRASH("detach.left");
	shmpipe__robust_unlock(&sl->sl_live.word);
	SHMPIPE_CRASH("detach.released");
	shmpipe__unlock(e, LK_CTL);
}
