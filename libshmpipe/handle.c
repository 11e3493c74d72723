/* SPDX-License-Identifier: MIT */
/*
 * Handles and fork.
 *
 * Handles.  A struct shmpipe_writer * given to a user is not a pointer
 * but a number: a slot of this process's handle table, the role, and the
 * slot's generation.  A handle used after close, a forged one, or one of
 * the wrong role is refused with -EINVAL instead of touching freed memory,
 * and a close waits until the calls still inside the handle (on other
 * threads) have left.
 *
 * An endpoint is alive while its slot's live word is held by its
 * process's keeper (robust.c).
 *
 * Fork.  A child inherits the mapping and the table, not the keeper: the
 * endpoints stay the parent's.  In the child every call on an inherited
 * handle fails with -ECHILD, and closing it only unmaps it.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

unsigned int shmpipe__fork_gen;
__thread struct shmpipe__hazard *shmpipe__my_hazard;
int shmpipe__cheap_hazards;
int shmpipe__fenced;
static struct shmpipe__hazard *hazards;	/* every thread's, ever */
static pthread_key_t hazard_key;
struct shmpipe__end shmpipe__table[SHMPIPE_HANDLES_MAX];
#define table shmpipe__table
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_fences(void);

/* Only this thread came through fork: the others' hazards are void. */
static void hazards_after_fork(void)
{
	struct shmpipe__hazard *hz;

	for (hz = hazards; hz; hz = hz->h_next) {
		hz->h_end = NULL;
		if (hz != shmpipe__my_hazard)
			hz->h_used = 0;
	}
}

/* In a forked child: no keeper, fresh private locks, old handles foreign. */
static void after_fork_child(void)
{
	shmpipe__robust_after_fork();
	shmpipe__sync_after_fork();
	shmpipe__fault_after_fork();
	pthread_mutex_init(&table_mu, NULL);
	__atomic_add_fetch(&shmpipe__fork_gen, 1, __ATOMIC_RELAXED);
	hazards_after_fork();
	register_fences();
}

/* A thread ends: its hazard record is free for the next thread. */
static void hazard_release(void *arg)
{
	struct shmpipe__hazard *hz = arg;

	__atomic_store_n(&hz->h_end, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&hz->h_used, 0, __ATOMIC_RELEASE);
}

/*
 * Register for the fences the library sends and receives (membarrier);
 * again in a forked child, whose new address space may not inherit it.
 */
static void register_fences(void)
{
	int cheap = 0, fenced = 0;

	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		cheap = 1;
	/* Fences from the other processes of a pipe reach this one, and
	 * this one can send them: the pipe need not be strict for us. */
	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0,
		    0) == 0)
		fenced = 1;
	__atomic_store_n(&shmpipe__cheap_hazards, cheap, __ATOMIC_RELAXED);
	__atomic_store_n(&shmpipe__fenced, fenced, __ATOMIC_RELAXED);
}

static void init_once(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
	pthread_key_create(&hazard_key, hazard_release);
	register_fences();
}

/*
 * The calling thread's first call: take a free hazard record, or add
 * one to the list.  Records are never freed, so a close can walk the
 * list without a lock.
 */
struct shmpipe__hazard *shmpipe__hazard_register(void)
{
	struct shmpipe__hazard *hz;
	int unused = 0;

	pthread_once(&once, init_once);
	for (hz = __atomic_load_n(&hazards, __ATOMIC_ACQUIRE); hz;
	     hz = hz->h_next)
		if (__atomic_compare_exchange_n(&hz->h_used, &unused, 1, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
		else
			unused = 0;
	if (!hz) {
		hz = calloc(1, sizeof(*hz));
		if (!hz)
			return NULL;
		hz->h_used = 1;
		hz->h_next = __atomic_load_n(&hazards, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&hazards, &hz->h_next, hz,
						    0, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED))
			;
	}
	pthread_setspecific(hazard_key, hz);
	shmpipe__my_hazard = hz;
	return hz;
}

/* Is any thread inside a call on e?  Seen after close's barrier. */
static int hazard_held(struct shmpipe__end *e)
{
	struct shmpipe__hazard *hz;

	for (hz = __atomic_load_n(&hazards, __ATOMIC_ACQUIRE); hz;
	     hz = hz->h_next)
		if (__atomic_load_n(&hz->h_end, __ATOMIC_SEQ_CST) == e)
			return 1;
	return 0;
}

/*
 * Wait until no thread is inside a call on e.  If the barrier fails (a
 * seccomp filter installed after the library started, say), calls go
 * back to publishing with an exchange, and this close waits a millisecond
 * instead, by which time any store of a hazard has left its core.
 */
static void hazard_drain(struct shmpipe__end *e)
{
	if (__atomic_load_n(&shmpipe__cheap_hazards, __ATOMIC_RELAXED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		__atomic_store_n(&shmpipe__cheap_hazards, 0, __ATOMIC_SEQ_CST);
		usleep(1000);
	}
	while (hazard_held(e))
		usleep(100);
}

static void *encode(int idx, int role, uint64_t gen)
{
	return (void *)(uintptr_t)(gen << HANDLE_GEN_SHIFT |
				   (uint64_t)role << HANDLE_ROLE_SHIFT |
				   (uint64_t)(idx + 1));
}

int shmpipe__handle_new(int role, struct shmpipe__end **ep, void **handle)
{
	int i;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&table_mu);
	for (i = 0; i < SHMPIPE_HANDLES_MAX; i++)
		if ((sh_load(&table[i].e_word) & 3) == END_FREE)
			break;
	if (i == SHMPIPE_HANDLES_MAX) {
		pthread_mutex_unlock(&table_mu);
		return -EMFILE;
	}
	/* Reserved, not yet usable: enter() wants END_LIVE. */
	sh_store(&table[i].e_word, sh_load(&table[i].e_word) | END_CLOSING);
	pthread_mutex_unlock(&table_mu);

	table[i].e_role = role;
	table[i].e_fork_gen = sh_load(&shmpipe__fork_gen);
	table[i].e_sh = NULL;
	table[i].e_peer = 0;
	*ep = &table[i];
	*handle = encode(i, role, sh_load(&table[i].e_word) >> 2);
	return 0;
}

/* Make a reserved handle usable. */
static void handle_publish(struct shmpipe__end *e)
{
	uint64_t gen = sh_load(&e->e_word) >> 2;

	__atomic_store_n(&e->e_word, gen << 2 | END_LIVE, __ATOMIC_SEQ_CST);
}

/* Retire a handle: a new generation, so old copies of it are refused. */
void shmpipe__handle_free(struct shmpipe__end *e)
{
	uint64_t gen = sh_load(&e->e_word) >> 2;

	__atomic_store_n(&e->e_word, (gen + 1) << 2 | END_FREE,
			 __ATOMIC_SEQ_CST);
}

int shmpipe__end_open(const char *name, int role, void **handle)
{
	struct shmpipe__end *e;
	int r;

	r = shmpipe__check_name(name);
	if (!r && !handle)
		r = -EINVAL;
	if (!r)
		r = shmpipe__handle_new(role, &e, handle);
	if (r)
		return r;

	r = shmpipe__map(name, e);
	if (r)
		goto fail_free;
	if (role == SHMPIPE_ROLE_WRITER) {
		e->e_peers = e->e_sh->sh_readers;
		e->e_peer_mask = &e->e_sh->sh_rmask;
		e->e_peer = sh_load_acquire(&e->e_sh->sh_tail);
	} else {
		e->e_peers = e->e_sh->sh_writers;
		e->e_peer_mask = &e->e_sh->sh_wmask;
		e->e_peer = sh_load_acquire(&e->e_sh->sh_head);
	}
	r = shmpipe__attach(e);
	if (r)
		goto fail_unmap;
	handle_publish(e);
	return 0;

fail_unmap:
	shmpipe__unmap(e);
fail_free:
	shmpipe__handle_free(e);
	*handle = NULL;
	return r;
}

/*
 * A close reason is 0 or an errno value, but not one of the codes calls
 * return for their own sake: a pipe aborted with EAGAIN would make every
 * read say "try again" forever.
 */
static int valid_reason(int err)
{
	switch (err) {
	case EAGAIN: case ETIMEDOUT: case EMSGSIZE: case EINVAL: case ECHILD:
		return 0;
	}
	return err >= 0 && err <= 4095;
}

/*
 * Close: stop new calls, wake this handle's sleepers (they see the handle
 * closing and return -EPIPE), wait until they are out, then leave.
 */
int shmpipe__end_close(const void *handle, int role, int err)
{
	uint64_t live;
	struct shmpipe__end *e = shmpipe__lookup(handle, role, &live);
	uint64_t closing = (live & ~3ULL) | END_CLOSING;

	if (!e || !valid_reason(err))
		return -EINVAL;
	if (!__atomic_compare_exchange_n(&e->e_word, &live, closing, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -EINVAL;

	if (e->e_fork_gen == sh_load(&shmpipe__fork_gen)) {
		shmpipe__wake_all(e->e_sh);
		hazard_drain(e);
		shmpipe__detach(e, err);
	}
	/* In a forked child, the hazards of the parent's other threads were
	 * copied but their threads were not: there is nobody to wait for. */
	shmpipe__unmap(e);
	shmpipe__handle_free(e);
	return 0;
}

int shmpipe_writer_open(const char *name, struct shmpipe_writer **w)
{
	return shmpipe__end_open(name, SHMPIPE_ROLE_WRITER, (void **)w);
}

int shmpipe_reader_open(const char *name, struct shmpipe_reader **r)
{
	return shmpipe__end_open(name, SHMPIPE_ROLE_READER, (void **)r);
}

int shmpipe_writer_close(struct shmpipe_writer *w, int err)
{
	return shmpipe__end_close(w, SHMPIPE_ROLE_WRITER, err);
}

int shmpipe_reader_close(struct shmpipe_reader *r, int err)
{
	return shmpipe__end_close(r, SHMPIPE_ROLE_READER, err);
}
