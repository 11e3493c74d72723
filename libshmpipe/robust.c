/* SPDX-License-Identifier: MIT */
/*
 * Robust locks of our own: the live words of the slots and the control
 * lock.
 *
 * The kernel's robust futexes are a list that a thread registers with
 * set_robust_list(): when the thread dies, the kernel walks the list and
 * marks every lock word the thread still owns with FUTEX_OWNER_DIED,
 * waking a waiter.  glibc's robust mutexes keep the list's links inside
 * the mutex, that is, inside the shared segment, and write through them
 * at every lock and unlock: a peer that rewrites them steers this
 * process's writes anywhere.  So the library does not use glibc's
 * robust mutexes, but the kernel protocol directly, and keeps the links
 * in private memory:
 *
 *  - every mapping of a segment is preceded by a private shadow of the
 *    header's size; the list node of a lock word at address W is at
 *    W - SHMPIPE_SHADOW, in the shadow, so one futex_offset serves all;
 *  - one thread per process, the keeper, registers the list and then
 *    sleeps for the life of the process; every lock word this process
 *    holds names the keeper's thread id, so the locks belong to the
 *    process, not to the thread that took them, and die with it;
 *  - any thread takes and releases locks, under list_mu, announcing each
 *    change in list_op_pending first, so that a death in the middle of
 *    one still marks the word.
 *
 * A node also records, privately, that this process holds the lock: a
 * word that a peer cleared or forged is never taken twice, so a node is
 * never on the list twice.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The node of a lock word, in the shadow: the kernel reads l only. */
struct shadow_node {
	struct robust_list l;
	struct robust_list *prev;	/* for removal without a walk */
	int held;
};

_Static_assert(sizeof(struct shadow_node) <= SHMPIPE_CACHELINE,
	       "nodes of lock words 64 bytes apart must not overlap");

static struct robust_list_head head = {
	.list = { &head.list },
	.futex_offset = SHMPIPE_SHADOW,
	.list_op_pending = NULL,
};
static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;		/* 0: not started, 1: starting, 2: running */
	int err;
	uint32_t tid;
} keeper = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

static struct shadow_node *node_of(uint32_t *word)
{
	return (struct shadow_node *)((uint8_t *)word - SHMPIPE_SHADOW);
}

static void list_add(struct shadow_node *n)
{
	struct robust_list *first = head.list.next;

	n->l.next = first;
	n->prev = &head.list;
	if (first != &head.list)
		((struct shadow_node *)first)->prev = &n->l;
	__atomic_store_n(&head.list.next, &n->l, __ATOMIC_RELEASE);
	n->held = 1;
}

static void list_del(struct shadow_node *n)
{
	struct robust_list *next = n->l.next;

	if (next != &head.list)
		((struct shadow_node *)next)->prev = n->prev;
	__atomic_store_n(&n->prev->next, next, __ATOMIC_RELEASE);
	n->held = 0;
}

static void *keeper_main(void *arg)
{
	long rc = syscall(SYS_set_robust_list, &head, sizeof(head));
	int err = rc ? -errno : 0;

	(void)arg;
	pthread_mutex_lock(&keeper.mu);
	keeper.err = err;
	keeper.tid = err ? 0 : (uint32_t)gettid();
	keeper.state = err ? 0 : 2;
	pthread_cond_broadcast(&keeper.cv);
	pthread_mutex_unlock(&keeper.mu);
	if (err)
		return NULL;
	for (;;)
		pause();	/* every signal is blocked: forever */
}

/* Start the keeper once; returns its thread id, or 0 and sets *err. */
static uint32_t keeper_tid(int *err)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	uint32_t tid;
	int rc;

	tid = __atomic_load_n(&keeper.tid, __ATOMIC_ACQUIRE);
	if (tid)
		return tid;
	pthread_mutex_lock(&keeper.mu);
	while (keeper.state == 1)
		pthread_cond_wait(&keeper.cv, &keeper.mu);
	if (keeper.state == 0) {
		keeper.state = 1;
		rc = pthread_attr_init(&attr);
		if (!rc) {
			pthread_attr_setdetachstate(&attr,
						    PTHREAD_CREATE_DETACHED);
			/* Small, but room for a sanitizer's report. */
			pthread_attr_setstacksize(&attr, 256 * 1024);
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			rc = pthread_create(&t, &attr, keeper_main, NULL);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_attr_destroy(&attr);
		}
		if (rc) {
			keeper.state = 0;
			keeper.err = shmpipe__from_pthread(rc);
		}
		while (keeper.state == 1)
			pthread_cond_wait(&keeper.cv, &keeper.mu);
	}
	tid = keeper.tid;
	*err = keeper.err;
	pthread_mutex_unlock(&keeper.mu);
	return tid;
}

/*
 * Take a lock word for this process without waiting: 0, -EOWNERDEAD
 * (taken; the owner before had died), -EBUSY (someone holds it, this
 * process included), or the error that kept the keeper from starting.
 * A word with no owner is free, whatever else is in it.
 */
int shmpipe__robust_trylock(uint32_t *word)
{
	struct shadow_node *n = node_of(word);
	uint32_t v, tid;
	int err = 0, r = -EBUSY, tries;

	tid = keeper_tid(&err);
	if (!tid)
		return err ? err : -ENOSYS;
	pthread_mutex_lock(&list_mu);
	if (n->held)
		goto out;
	__atomic_store_n(&head.list_op_pending, &n->l, __ATOMIC_RELEASE);
	for (tries = 0; tries < 64; tries++) {
		v = sh_load(word);
		if (v & FUTEX_TID_BITS)
			break;
		if (__atomic_compare_exchange_n(word, &v,
						tid | (v & FUTEX_WAITERS_BIT),
						0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			list_add(n);
			r = (v & FUTEX_OWNER_DIED_BIT) ? -EOWNERDEAD : 0;
			break;
		}
	}
	__atomic_store_n(&head.list_op_pending, NULL, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&list_mu);
	return r;
}

/*
 * Release a lock word this process holds and wake whoever sleeps on it.
 * A word that no longer names this process (a peer wrote over it) is
 * left as it is: its node leaves the list all the same.
 */
void shmpipe__robust_unlock(uint32_t *word)
{
	struct shadow_node *n = node_of(word);
	uint32_t v, tid = __atomic_load_n(&keeper.tid, __ATOMIC_RELAXED);
	int wake = 0;

	pthread_mutex_lock(&list_mu);
	if (!n->held) {
		pthread_mutex_unlock(&list_mu);
		return;
	}
	__atomic_store_n(&head.list_op_pending, &n->l, __ATOMIC_RELEASE);
	list_del(n);
	v = sh_load(word);
	while ((v & FUTEX_TID_BITS) == tid &&
	       !__atomic_compare_exchange_n(word, &v, 0, 0, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
	wake = (v & FUTEX_TID_BITS) == tid && (v & FUTEX_WAITERS_BIT);
	__atomic_store_n(&head.list_op_pending, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&list_mu);
	if (wake)
		syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A shadow goes away with its mapping: none of its nodes may stay. */
void shmpipe__robust_forget(void *shadow, size_t size)
{
	struct robust_list *p, *next;

	pthread_mutex_lock(&list_mu);
	for (p = head.list.next; p != &head.list; p = next) {
		next = p->next;
		if ((uint8_t *)p >= (uint8_t *)shadow &&
		    (uint8_t *)p < (uint8_t *)shadow + size)
			list_del((struct shadow_node *)p);
	}
	pthread_mutex_unlock(&list_mu);
}

/*
 * In a forked child: the keeper was not copied, and the locks on the
 * list are the parent's.  The child starts empty.
 */
void shmpipe__robust_after_fork(void)
{
	pthread_mutex_init(&list_mu, NULL);
	pthread_mutex_init(&keeper.mu, NULL);
	pthread_cond_init(&keeper.cv, NULL);
	keeper.state = 0;
	keeper.err = 0;
	keeper.tid = 0;
	head.list.next = &head.list;
	head.list_op_pending = NULL;
}
