/* SPDX-License-Identifier: MIT */
/*
 * Handles, the keeper thread, and fork.
 *
 * Handles.  A struct shmpipe_writer * given to a user is not a pointer
 * but a number: a slot of this process's handle table, the role, and the
 * slot's generation.  A handle used after close, a forged one, or one of
 * the wrong role is refused with -EINVAL instead of touching freed memory,
 * and a close waits until the calls still inside the handle (on other
 * threads) have left.
 *
 * The keeper.  An endpoint is alive while its slot's live mutex is held.
 * A robust mutex belongs to the thread that locked it: if that were the
 * user's thread, the endpoint would die with the thread, although the
 * process lives on.  So one thread per process, the keeper, takes and
 * releases every live mutex on the others' behalf, and lives as long as
 * the process.  It blocks all signals and sleeps in between.
 *
 * Fork.  A child inherits the mapping and the table, not the keeper: the
 * endpoints stay the parent's.  In the child every call on an inherited
 * handle fails with -ECHILD, and closing it only unmaps it.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

unsigned int shmpipe__fork_gen;
__thread struct shmpipe__hazard *shmpipe__my_hazard;
int shmpipe__cheap_hazards;
static struct shmpipe__hazard *hazards;	/* every thread's, ever */
static pthread_key_t hazard_key;
struct shmpipe__end shmpipe__table[SHMPIPE_HANDLES_MAX];
#define table shmpipe__table
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

enum keeper_op { KEEP_NONE, KEEP_LOCK, KEEP_UNLOCK };

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;
	enum keeper_op op;
	union shmpipe_mutex *target;
	int result;
} keeper = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
	     KEEP_NONE, NULL, 0 };

static pthread_once_t once = PTHREAD_ONCE_INIT;

int shmpipe__mutex_kind;

/* The __kind glibc gives a robust, process-shared mutex. */
static int robust_kind(void)
{
	return shmpipe__mutex_kind;
}

static void learn_mutex_kind(void)
{
	pthread_mutexattr_t ma;
	pthread_mutex_t m;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &ma);
	pthread_mutexattr_destroy(&ma);
	shmpipe__mutex_kind = m.__data.__kind;
}

/*
 * Release a live mutex.  Another process may have written over it while
 * we held it: then glibc would refuse (another owner in the word) or take
 * the path of another kind of mutex, and either way leave it on this
 * thread's robust list, pointing into memory about to be unmapped.  So
 * the fields glibc decides by are set back to what holding it means: a
 * robust kind, and our thread id as owner.
 */
static int keeper_unlock(union shmpipe_mutex *m)
{
	pid_t me = gettid();

	if (m->m.__data.__kind != robust_kind())
		m->m.__data.__kind = robust_kind();
	if ((__atomic_load_n(&m->word, __ATOMIC_RELAXED) & FUTEX_TID_BITS) !=
	    (uint32_t)me)
		__atomic_store_n(&m->word, (uint32_t)me, __ATOMIC_RELAXED);
	return shmpipe__from_pthread(pthread_mutex_unlock(&m->m));
}

static int keeper_do(enum keeper_op op, union shmpipe_mutex *m)
{
	int rc;

	if (op == KEEP_UNLOCK)
		return keeper_unlock(m);
	/* A free slot's mutex of another kind would not be robust. */
	if (m->m.__data.__kind != robust_kind())
		m->m.__data.__kind = robust_kind();
	rc = pthread_mutex_trylock(&m->m);
	if (rc == EOWNERDEAD)	/* a dead endpoint's slot: ours now */
		rc = pthread_mutex_consistent(&m->m);
	return shmpipe__from_pthread(rc);
}

static void *keeper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&keeper.mu);
	for (;;) {
		while (keeper.op == KEEP_NONE)
			pthread_cond_wait(&keeper.cv, &keeper.mu);
		keeper.result = keeper_do(keeper.op, keeper.target);
		keeper.op = KEEP_NONE;
		pthread_cond_broadcast(&keeper.cv);
	}
	return NULL;
}

static int keeper_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	rc = pthread_attr_init(&attr);
	if (rc)
		return shmpipe__from_pthread(rc);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Small, but room for a sanitizer's report if one fires here. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &attr, keeper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc)
		return shmpipe__from_pthread(rc);
	keeper.running = 1;
	return 0;
}

/* Hand one operation to the keeper and wait for its result. */
static int keeper_call(enum keeper_op op, union shmpipe_mutex *m)
{
	int r = 0;

	pthread_mutex_lock(&keeper.mu);
	if (!keeper.running)
		r = keeper_start();
	while (!r && keeper.op != KEEP_NONE)
		pthread_cond_wait(&keeper.cv, &keeper.mu);
	if (!r) {
		keeper.op = op;
		keeper.target = m;
		pthread_cond_broadcast(&keeper.cv);
		while (keeper.op != KEEP_NONE)
			pthread_cond_wait(&keeper.cv, &keeper.mu);
		r = keeper.result;
	}
	pthread_mutex_unlock(&keeper.mu);
	return r;
}

int shmpipe__keeper_lock(union shmpipe_mutex *m)
{
	return keeper_call(KEEP_LOCK, m);
}

void shmpipe__keeper_unlock(union shmpipe_mutex *m)
{
	keeper_call(KEEP_UNLOCK, m);
}

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
	pthread_mutex_init(&keeper.mu, NULL);
	pthread_cond_init(&keeper.cv, NULL);
	keeper.running = 0;
	keeper.op = KEEP_NONE;
	pthread_mutex_init(&table_mu, NULL);
	__atomic_add_fetch(&shmpipe__fork_gen, 1, __ATOMIC_RELAXED);
	hazards_after_fork();
}

/* A thread ends: its hazard record is free for the next thread. */
static void hazard_release(void *arg)
{
	struct shmpipe__hazard *hz = arg;

	__atomic_store_n(&hz->h_end, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&hz->h_used, 0, __ATOMIC_RELEASE);
}

static void init_once(void)
{
	learn_mutex_kind();
	pthread_atfork(NULL, NULL, after_fork_child);
	pthread_key_create(&hazard_key, hazard_release);
	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		__atomic_store_n(&shmpipe__cheap_hazards, 1, __ATOMIC_RELAXED);
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

/* Wait until no thread is inside a call on e. */
static void hazard_drain(struct shmpipe__end *e)
{
	if (__atomic_load_n(&shmpipe__cheap_hazards, __ATOMIC_RELAXED))
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
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
