/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the library's sources and hidden from its users:
 * nothing here is exported (see libshmpipe.map).
 */
#ifndef SHMPIPE_INTERNAL_H
#define SHMPIPE_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "shmpipe.h"
#include "layout.h"

/* Access to fields of the mapping: every load and store is atomic. */
#define sh_load(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define sh_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define sh_store(p, v)		__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define sh_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define sh_add(p, v)		__atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
/* Sequentially consistent: the store-then-load handshakes of sleeping. */
#define sh_load_sc(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define sh_store_sc(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

#define FUTEX_TID_BITS		0x3fffffffu
#define FUTEX_OWNER_DIED_BIT	0x40000000u
#define FUTEX_WAITERS_BIT	0x80000000u

/*
 * Every mapping of a segment is preceded by a private shadow of this
 * size, where the robust-list nodes of its lock words live (robust.c).
 */
#define SHMPIPE_SHADOW		SHMPIPE_HDR_SIZE

/* How long any sleep lasts at most before the sleeper looks again. */
#define SHMPIPE_SLICE_MS	50

/* How long open and close wait for the control lock at most (the fuzzer
 * builds with less, to try more inputs per second). */
#ifndef SHMPIPE_CTL_WAIT_MS
#define SHMPIPE_CTL_WAIT_MS	5000
#endif

/* Handle states (low two bits of shmpipe__end.e_word). */
#define END_FREE	0u
#define END_LIVE	1u
#define END_CLOSING	2u

/*
 * An open endpoint.  Private to the process: e_ fields never live in the
 * mapping.  Handles given to users encode the slot in the process table
 * and a generation, so a stale or forged handle is refused, not used.
 */
struct shmpipe__end {
	uint64_t e_word;		/* generation << 2 | END_* */
	int e_role;			/* SHMPIPE_ROLE_* */
	unsigned int e_fork_gen;	/* shmpipe__fork_gen at open */
	int e_slot;			/* index in sh_readers/sh_writers */
	uint32_t e_token;		/* sl_token at attach */
	struct shmpipe_shared *e_sh;
	uint8_t *e_ring;
	uint64_t e_cap;
	uint64_t e_mask;
	size_t e_map_size;		/* of the segment, without the shadow */
	int e_broken;			/* the segment shrank: calls fail */
	uint64_t e_peer;		/* last tail seen (writer), head (reader) */
	int e_lock_waiters;		/* threads waiting for the side lock */
	struct shmpipe_slot *e_peers;	/* the other side's slots */
	uint64_t *e_peer_mask;		/* the other side's mask */
};

/* A timeout turned into an absolute CLOCK_MONOTONIC time on first need. */
struct shmpipe__deadline {
	int ms;
	int set;
	struct timespec at;
};

/*
 * The one place where the C library's ways of failing become ours: pthread
 * calls return a positive error number; system calls return -1 and set
 * errno, which callers turn into -errno where they fail.  Every shmpipe
 * call returns 0 or a negative errno.
 */
static inline int shmpipe__from_pthread(int rc)
{
	return -rc;
}

/* segment.c */
int shmpipe__check_name(const char *name);
int shmpipe__map(const char *name, struct shmpipe__end *e);
void shmpipe__unmap(struct shmpipe__end *e);
void shmpipe__fault_guard(void);
void shmpipe__fault_after_fork(void);
uint64_t shmpipe__realtime_ns(void);
uint64_t shmpipe__proc_start(int pid);

/* sync.c */
enum shmpipe__lock_id { LK_CTL, LK_WRITE, LK_READ };
/* What ends a wait early; dl is the deadline of the call that waits. */
typedef int (*shmpipe__check_fn)(struct shmpipe__end *e,
				 struct shmpipe__deadline *dl);
int shmpipe__ctl_lock_slow(struct shmpipe__end *e,
			   struct shmpipe__deadline *dl, int rc);
int shmpipe__side_lock_slow(struct shmpipe__end *e, enum shmpipe__lock_id id,
			    struct shmpipe__deadline *dl,
			    shmpipe__check_fn check);
int shmpipe__sleep(struct shmpipe__end *e, uint32_t *seq, uint32_t seen,
		   struct shmpipe__deadline *dl, int watch,
		   struct shmpipe_slot *owner);
void shmpipe__wake(uint32_t *seq);
void shmpipe__wake_one(uint32_t *word);
void shmpipe__wake_all(struct shmpipe_shared *sh);
int shmpipe__deadline_passed(struct shmpipe__deadline *dl);
long shmpipe__deadline_left_ms(struct shmpipe__deadline *dl);
void shmpipe__fence_others(struct shmpipe__end *e);
void shmpipe__sync_after_fork(void);

/* endpoint.c */
int shmpipe__attach(struct shmpipe__end *e);
void shmpipe__detach(struct shmpipe__end *e, int err);
int shmpipe__reap(struct shmpipe__end *e, struct shmpipe__deadline *dl);
void shmpipe__recover_ctl(struct shmpipe_shared *sh);

/*
 * A thread's hazard: the handle it is inside of, published so that a
 * close on another thread waits for it (handle.c explains the protocol).
 */
struct shmpipe__hazard {
	struct shmpipe__end *h_end;
	struct shmpipe__hazard *h_next;
	int h_used;
};

/* handle.c */
extern __thread struct shmpipe__hazard *shmpipe__my_hazard
	__attribute__((tls_model("initial-exec")));
extern int shmpipe__cheap_hazards;
struct shmpipe__hazard *shmpipe__hazard_register(void);
#define SHMPIPE_HANDLES_MAX	1024	/* the kernel walks 2048 robust entries */
#define HANDLE_IDX_BITS		12
#define HANDLE_ROLE_SHIFT	HANDLE_IDX_BITS
#define HANDLE_GEN_SHIFT	16
extern unsigned int shmpipe__fork_gen;
extern struct shmpipe__end shmpipe__table[SHMPIPE_HANDLES_MAX];
int shmpipe__handle_new(int role, struct shmpipe__end **e, void **handle);
void shmpipe__handle_free(struct shmpipe__end *e);
int shmpipe__end_close(const void *handle, int role, int err);
int shmpipe__end_open(const char *name, int role, void **handle);

/* robust.c */
int shmpipe__robust_trylock(uint32_t *word);
void shmpipe__robust_unlock(uint32_t *word);
void shmpipe__robust_forget(void *shadow, size_t size);
void shmpipe__robust_after_fork(void);

/*
 * A handle is a number: table index + 1, role, generation.  Returns the
 * table entry and the e_word it must hold to be this live handle.
 */
static inline struct shmpipe__end *shmpipe__lookup(const void *handle,
						   int role, uint64_t *word)
{
	uintptr_t v = (uintptr_t)handle;
	unsigned int idx = (unsigned int)(v & ((1u << HANDLE_IDX_BITS) - 1));

	if (!idx || idx > SHMPIPE_HANDLES_MAX ||
	    ((v >> HANDLE_ROLE_SHIFT) & 0xf) != (uintptr_t)role)
		return NULL;
	*word = (uint64_t)(v >> HANDLE_GEN_SHIFT) << 2 | END_LIVE;
	return &shmpipe__table[idx - 1];
}

static inline void shmpipe__leave(struct shmpipe__end *e)
{
	(void)e;
	__atomic_store_n(&shmpipe__my_hazard->h_end, NULL, __ATOMIC_RELEASE);
}

/*
 * Enter a call on a handle; shmpipe__leave() when done.  The thread
 * publishes the handle as its hazard, then checks that the handle is
 * still open; a close marks the handle closing, then waits until no
 * thread has it as hazard.  Either the close sees this call, or this
 * call sees the close: the close makes every thread of the process pass
 * a full barrier (membarrier) between its mark and its look, so the
 * hazard needs no locked instruction here.  Without membarrier, it takes
 * one (shmpipe__cheap_hazards is 0).
 */
static inline struct shmpipe__end *shmpipe__enter(const void *handle,
						  int role, int *err)
{
	struct shmpipe__hazard *hz = shmpipe__my_hazard;
	uint64_t want;
	struct shmpipe__end *e = shmpipe__lookup(handle, role, &want);

	*err = -EINVAL;
	if (!e)
		return NULL;
	if (!hz && !(hz = shmpipe__hazard_register())) {
		*err = -ENOMEM;
		return NULL;
	}
	if (__atomic_load_n(&shmpipe__cheap_hazards, __ATOMIC_RELAXED)) {
		__atomic_store_n(&hz->h_end, e, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	} else {
		(void)__atomic_exchange_n(&hz->h_end, e, __ATOMIC_SEQ_CST);
	}
	if (__atomic_load_n(&e->e_word, __ATOMIC_SEQ_CST) != want) {
		shmpipe__leave(e);
		return NULL;
	}
	if (e->e_fork_gen != __atomic_load_n(&shmpipe__fork_gen,
					     __ATOMIC_RELAXED)) {
		shmpipe__leave(e);
		*err = -ECHILD;
		return NULL;
	}
	return e;
}

/* The word that names this endpoint as the owner of its side's lock. */
static inline uint32_t shmpipe__side_owner(const struct shmpipe__end *e)
{
	return (uint32_t)(e->e_slot + 1) |
	       (e->e_token & SHMPIPE_SIDE_TOKEN_MASK) << SHMPIPE_SIDE_TOKEN_SHIFT;
}

static inline uint32_t *shmpipe__side_word(struct shmpipe_shared *sh,
					   enum shmpipe__lock_id id)
{
	return id == LK_WRITE ? &sh->sh_wlock : &sh->sh_rlock;
}

/* The side lock of a role's endpoints. */
static inline enum shmpipe__lock_id shmpipe__side_of(int role)
{
	return role == SHMPIPE_ROLE_WRITER ? LK_WRITE : LK_READ;
}

/* The mask of slots with a thread waiting for a side lock. */
static inline uint64_t *shmpipe__side_wait(struct shmpipe_shared *sh,
					   enum shmpipe__lock_id id)
{
	return id == LK_WRITE ? &sh->sh_wwait : &sh->sh_rwait;
}

/*
 * Is the pipe in strict mode?  Then every store that a sleeper must see
 * is followed by a full fence, as usual.  Otherwise such a store is a
 * plain release store, and the sleeper forces a fence on the storer with
 * membarrier() before it looks one last time (ring.c explains the pairs).
 * A pipe is strict for good once an endpoint attached whose process
 * cannot take part in membarrier(); a process that cannot is strict on
 * its own.
 */
extern int shmpipe__fenced;
static inline int shmpipe__strict(const struct shmpipe__end *e)
{
	return !__atomic_load_n(&shmpipe__fenced, __ATOMIC_RELAXED) ||
	       sh_load(&e->e_sh->sh_strict);
}

/*
 * Take a lock of the mapping.  The control lock is a robust futex
 * (robust.c); the side locks are words owned by endpoints, taken with one
 * compare-and-swap when free.  Waiting, and taking over a lock whose
 * owner died, happen out of line.
 */
static inline int shmpipe__lock(struct shmpipe__end *e,
				enum shmpipe__lock_id id,
				struct shmpipe__deadline *dl,
				shmpipe__check_fn check)
{
	uint32_t *word, free_word = 0;
	int rc;

	if (id == LK_CTL) {
		rc = shmpipe__robust_trylock(&e->e_sh->sh_ctl.word);
		return rc ? shmpipe__ctl_lock_slow(e, dl, rc) : 0;
	}
	word = shmpipe__side_word(e->e_sh, id);
	if (__atomic_compare_exchange_n(word, &free_word,
					shmpipe__side_owner(e), 0,
					__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	return shmpipe__side_lock_slow(e, id, dl, check);
}

static inline void shmpipe__unlock(struct shmpipe__end *e,
				   enum shmpipe__lock_id id)
{
	uint32_t *word;

	if (id == LK_CTL) {
		shmpipe__robust_unlock(&e->e_sh->sh_ctl.word);
		return;
	}
	/* Clear the word, then look for waiters: the store-then-load pair
	 * of sync.c's shmpipe__side_lock_slow(). */
	word = shmpipe__side_word(e->e_sh, id);
	if (shmpipe__strict(e))
		(void)__atomic_exchange_n(word, 0, __ATOMIC_SEQ_CST);
	else
		sh_store_release(word, 0);
	if (sh_load_sc(shmpipe__side_wait(e->e_sh, id)))
		shmpipe__wake_one(word);
}

static inline int shmpipe__closing(const struct shmpipe__end *e)
{
	return (__atomic_load_n(&e->e_word, __ATOMIC_RELAXED) & 3) != END_LIVE;
}

/* Is the endpoint in this slot still attached by a live process? */
static inline int shmpipe__slot_alive(struct shmpipe_slot *sl)
{
	return (sh_load(&sl->sl_live.word) & FUTEX_TID_BITS) != 0;
}

/*
 * Is every attached endpoint of the other side alive?  A dead one has a
 * live word with no owner: the kernel cleared it when the process died.
 */
static inline int shmpipe__peers_alive(struct shmpipe__end *e)
{
	uint64_t m = sh_load(e->e_peer_mask);

	while (m) {
		if (!shmpipe__slot_alive(&e->e_peers[__builtin_ctzll(m)]))
			return 0;
		m &= m - 1;
	}
	return 1;
}

#endif /* SHMPIPE_INTERNAL_H */
