/* SPDX-License-Identifier: MIT */
/*
 * A segment is input from other processes: garbage written into a live
 * pipe turns into -EPROTO for that pipe, never a crash, a hang or an
 * access outside the mapping.  Also: creation seen from outside, and
 * modes under a umask that other threads keep changing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

struct live {
	const char *name;
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	struct shmpipe_shared *evil;	/* a hostile view of the segment */
	uint8_t *ring;
};

static void live_open(struct live *l)
{
	char path[128];
	int fd;

	l->name = th_pipe("hard", 4096);
	assert_int_equal(shmpipe_writer_open(l->name, &l->w), 0);
	assert_int_equal(shmpipe_reader_open(l->name, &l->r), 0);
	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", l->name);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	l->evil = mmap(NULL, SHMPIPE_HDR_SIZE + 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	close(fd);
	assert_true(l->evil != MAP_FAILED);
	l->ring = (uint8_t *)l->evil + SHMPIPE_HDR_SIZE;
}

static void live_close(struct live *l)
{
	shmpipe_writer_close(l->w, 0);
	shmpipe_reader_close(l->r, 0);
	munmap(l->evil, SHMPIPE_HDR_SIZE + 4096);
}

/* A head far ahead of the tail, or misaligned: both sides refuse. */
static void segment__wild_head(void **state)
{
	static const uint64_t heads[] = { 1ULL << 40, 4097, 3, 8192 };
	char buf[64];
	size_t len, i;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct live l;

		live_open(&l);
		l.evil->sh_head = heads[i];
		assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0),
				 -EPROTO);
		assert_int_equal(shmpipe_write(l.w, "x", 1, 0), -EPROTO);
		live_close(&l);
	}
}

static void segment__wild_tail(void **state)
{
	struct live l;
	char buf[64];
	size_t len;

	(void)state;
	live_open(&l);
	assert_int_equal(shmpipe_write(l.w, "abc", 3, 0), 0);
	l.evil->sh_tail = 5;
	assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0), -EPROTO);
	l.evil->sh_tail = (uint64_t)-4096;
	/* The writer sees a tail "ahead" of the head: no room is computed
	 * from it, the call fails. */
	for (int i = 0; i < 40; i++) {
		int r = shmpipe_write(l.w, buf, 60, 0);

		if (r) {
			assert_int_equal(r, -EPROTO);
			break;
		}
	}
	live_close(&l);
}

/* A record length longer than what was published. */
static void segment__wild_length(void **state)
{
	static const uint32_t lens[] = { 100, 4089, 0xffffffffu, 0x80000000u };
	char buf[64];
	size_t len, i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct live l;

		live_open(&l);
		assert_int_equal(shmpipe_write(l.w, "abcdefgh", 8, 0), 0);
		memcpy(l.ring, &lens[i], sizeof(lens[i]));
		assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0),
				 -EPROTO);
		live_close(&l);
	}
}

/* State words that are no errno value. */
static void segment__wild_state(void **state)
{
	struct live l;
	char buf[64];
	size_t len;

	(void)state;
	live_open(&l);
	l.evil->sh_wr_error = 77777;
	assert_int_equal(shmpipe_write(l.w, "x", 1, 0), -EPROTO);
	l.evil->sh_rd_error = -100000;
	assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0), -EPROTO);
	live_close(&l);
}

/*
 * A slot mask naming endpoints that never attached, with garbage live
 * words: they are reaped as dead, and nothing hangs.
 */
static void segment__wild_masks(void **state)
{
	struct live l;
	char buf[64];
	size_t len;
	int i;

	(void)state;
	live_open(&l);
	for (i = 1; i < SHMPIPE_SLOTS; i++)
		memset(&l.evil->sh_readers[i].sl_live, 0x41, 40);
	l.evil->sh_rmask = ~0ULL;
	l.evil->sh_wmask = ~0ULL;
	/* The real reader is still there: writes go on. */
	assert_int_equal(shmpipe_write(l.w, "x", 1, 100), 0);
	assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 100), 0);
	live_close(&l);
}

/*
 * Forged lock owners.  A side lock naming an endpoint that is not
 * attached is abandoned and taken over; one naming a live endpoint is
 * held, and waits end at their deadline.  The control mutex "held" by a
 * thread id that exists nowhere cannot be told from a live holder.
 */
static void segment__ghost_lock_owner(void **state)
{
	struct shmpipe_writer *w2;
	struct shmpipe_stat st;
	struct live l;
	char buf[8];
	size_t len;
	double t0;
	int slot;

	(void)state;
	live_open(&l);
	l.evil->sh_wlock = 0x7f;		/* slot 127: nobody */
	assert_int_equal(shmpipe_write(l.w, "x", 1, 0), 0);
	assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(shmpipe_stat(l.name, &st), 0);
	slot = __builtin_ctzll(l.evil->sh_wmask);
	l.evil->sh_wlock = (uint32_t)(slot + 1) |
		(l.evil->sh_writers[slot].sl_token & SHMPIPE_SIDE_TOKEN_MASK)
		<< SHMPIPE_SIDE_TOKEN_SHIFT;	/* the live writer "holds" it */
	assert_int_equal(shmpipe_write(l.w, "x", 1, 0), -EAGAIN);
	assert_int_equal(shmpipe_write(l.w, "x", 1, 100), -ETIMEDOUT);
	l.evil->sh_wlock = 0;
	l.evil->sh_ctl.word = 0x3ffffff0;
	t0 = th_now_ms();
	assert_int_equal(shmpipe_writer_open(l.name, &w2), -EBUSY);
	print_message("open gave up on a ghost-held lock after %.0f ms\n",
		      th_now_ms() - t0);
	live_close(&l);	/* returns: close never hangs */
}

/* A writer in another process, blocked on a full ring; exits with what
 * its blocked write returned, negated. */
static int blocked_writer(void *arg)
{
	struct shmpipe_writer *w;
	char msg[100] = { 0 };
	int r;

	if (shmpipe_writer_open(arg, &w))
		return 1;
	while ((r = shmpipe_write(w, msg, sizeof(msg), 0)) == 0)
		;
	if (r != -EAGAIN)
		return 2;
	r = shmpipe_write(w, msg, sizeof(msg), 20000);
	shmpipe_writer_close(w, 0);
	return -r;
}

static void shrink(const char *name, off_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", name);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/*
 * Another process shrinks the segment under its users: their next touch
 * of a lost page would be a SIGBUS.  Every call on it fails with -EPROTO
 * instead, a writer asleep on a full ring notices within a slice, and
 * the endpoints still close.  Once with the ring gone and the header
 * left, once with nothing left.
 */
static void segment__shrunk(void **state)
{
	static const off_t sizes[] = { SHMPIPE_HDR_SIZE, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *n = th_pipe("shrunk", 4096);
		struct shmpipe_reader *r;
		struct shmpipe_stat st;
		char buf[128];
		size_t len;
		pid_t pid;

		assert_int_equal(shmpipe_reader_open(n, &r), 0);
		pid = th_fork(blocked_writer, (void *)n);
		do {
			th_sleep_ms(5);
			assert_int_equal(shmpipe_stat(n, &st), 0);
		} while (st.bytes_queued + 112 <= 4096 || !st.writers);
		th_sleep_ms(20);	/* the writer is asleep by now */
		shrink(n, sizes[i]);
		assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0),
				 -EPROTO);
		assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 100),
				 -EPROTO);
		assert_int_equal(th_exit_code(pid, 10000), EPROTO);
		assert_int_equal(shmpipe_reader_close(r, 0), 0);
		/* Opening the shrunk file is refused, not mapped. */
		assert_int_equal(shmpipe_reader_open(n, &r), -EPROTO);
	}
}

/*
 * The lock fields' 36 spare bytes, where glibc's mutexes kept the links
 * of their robust lists, filled with addresses while the locks are
 * held: nothing follows them, the pipe works and closes.
 */
static void segment__lock_links_ignored(void **state)
{
	struct shmpipe_writer *w2;
	struct live l;
	char buf[8];
	size_t len;
	int i;

	(void)state;
	live_open(&l);
	memset(l.evil->sh_ctl.pad, 0x41, sizeof(l.evil->sh_ctl.pad));
	for (i = 0; i < SHMPIPE_SLOTS; i++) {
		memset(l.evil->sh_readers[i].sl_live.pad, 0x42,
		       sizeof(l.evil->sh_readers[i].sl_live.pad));
		memset(l.evil->sh_writers[i].sl_live.pad, 0x43,
		       sizeof(l.evil->sh_writers[i].sl_live.pad));
	}
	assert_int_equal(shmpipe_writer_open(l.name, &w2), 0);
	assert_int_equal(shmpipe_write(w2, "x", 1, 0), 0);
	assert_int_equal(shmpipe_read(l.r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(shmpipe_writer_close(w2, 0), 0);
	live_close(&l);
}

/* Readers in another process, counting what a writer sends. */
static int counting_reader(void *arg)
{
	struct shmpipe_reader *r;
	uint64_t want = 0, got;
	size_t len;
	int rc;

	if (shmpipe_reader_open(arg, &r))
		return 1;
	while ((rc = shmpipe_read(r, &got, sizeof(got), &len, 10000)) == 0) {
		if (len != sizeof(got) || got != want++)
			return 2;
	}
	shmpipe_reader_close(r, 0);
	return rc == SHMPIPE_EOF && want == 200000 ? 0 : 3;
}

/*
 * A pipe forced into strict mode, as if an endpoint without membarrier()
 * had attached: a small ring makes both sides sleep and wake all the
 * time, and nothing is lost or reordered.
 */
static void segment__strict_mode(void **state)
{
	const char *n = th_pipe("strict", 4096);
	struct shmpipe_shared *sh;
	struct shmpipe_writer *w;
	char path[128];
	uint64_t i;
	pid_t pid;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", n);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	sh = mmap(NULL, SHMPIPE_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		  fd, 0);
	close(fd);
	assert_true(sh != MAP_FAILED);
	sh->sh_strict = 1;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	pid = th_fork(counting_reader, (void *)n);
	for (i = 0; i < 200000; i++)
		assert_int_equal(shmpipe_write(w, &i, sizeof(i), 10000), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(th_exit_code(pid, 30000), 0);
	assert_int_equal(sh->sh_strict, 1);
	munmap(sh, SHMPIPE_HDR_SIZE);
}

static volatile int stop_churn;

static void *open_churn(void *arg)
{
	struct shmpipe_reader *r;

	while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED))
		if (shmpipe_reader_open(arg, &r) == 0)
			shmpipe_reader_close(r, 0);
	return NULL;
}

static int child_opens(void *arg)
{
	struct shmpipe_writer *w;

	if (shmpipe_writer_open(arg, &w))
		return 1;
	return shmpipe_writer_close(w, 0) ? 2 : 0;
}

/*
 * fork() while other threads are inside open and close: the child's
 * own first open must not find a private lock of the library held by a
 * thread that the child does not have.
 */
static void fork__while_threads_open(void **state)
{
	const char *n = th_pipe("forkopen", 4096);
	struct shmpipe_reader *r;
	struct shmpipe_writer *w;
	pthread_t t[3];
	int i, code = 0;

	(void)state;
	/* Kept open, so that the churning readers never finish the pipe. */
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	stop_churn = 0;
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, open_churn, (void *)n);
	for (i = 0; i < 150 && !code; i++)
		code = th_exit_code(th_fork(child_opens, (void *)n), 20000);
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(code, 0);	/* -1: a child hung */
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

static struct sigaction before_ours;

static void chaining_handler(int sig, siginfo_t *si, void *ctx)
{
	if (before_ours.sa_flags & SA_SIGINFO)
		before_ours.sa_sigaction(sig, si, ctx);
	else if (before_ours.sa_handler != SIG_DFL &&
		 before_ours.sa_handler != SIG_IGN)
		before_ours.sa_handler(sig);
	else
		signal(sig, SIG_DFL);
}

/*
 * A program installs its own SIGBUS handler after an open, chaining to
 * the library's, as shmpipe(7) asks; the next open puts the library's
 * back on top, chaining to the program's.  A SIGBUS of the program's
 * own (a truncated file it maps) must still end in the default action,
 * not in an endless chain.
 */
static int foreign_sigbus(void *arg)
{
	struct shmpipe_reader *r1, *r2;
	struct sigaction sa;
	char path[] = "/dev/shm/shmpipe-test-bus-XXXXXX";
	volatile char *p;
	int fd;

	if (shmpipe_reader_open(arg, &r1))
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = chaining_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, &before_ours);
	if (shmpipe_reader_open(arg, &r2))
		return 2;
	fd = mkstemp(path);
	if (fd < 0)
		return 3;
	unlink(path);
	if (ftruncate(fd, 4096))
		return 4;
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 5;
	return p[4096];		/* past the end of the file: SIGBUS */
}

static void sigbus__foreign_fault_keeps_default(void **state)
{
	const char *n = th_pipe("bus", 4096);
	int st;

	(void)state;
	st = th_wait(th_fork(foreign_sigbus, (void *)n), 20000);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGBUS);
}

static int ignored_sigbus(void *arg)
{
	struct shmpipe_reader *r;

	signal(SIGBUS, SIG_IGN);
	if (shmpipe_reader_open(arg, &r))
		return 1;
	kill(getpid(), SIGBUS);
	return shmpipe_reader_close(r, 0) ? 2 : 0;
}

/* A program that ignores SIGBUS still does after opening a pipe. */
static void sigbus__ignored_stays_ignored(void **state)
{
	const char *n = th_pipe("busign", 4096);

	(void)state;
	assert_int_equal(th_exit_code(th_fork(ignored_sigbus, (void *)n),
				      20000), 0);
}

static int opener(void *arg)
{
	double end = th_now_ms() + 10000;
	struct shmpipe_reader *r;
	int rc, seen = 0;

	while (!seen && th_now_ms() < end) {
		rc = shmpipe_reader_open(arg, &r);
		if (rc == 0) {
			seen = 1;
			shmpipe_reader_close(r, 0);
		} else if (rc != -ENOENT) {
			return 1;	/* saw something half made */
		}
	}
	return seen ? 0 : 2;
}

/* An opener racing the creator sees no pipe, or a whole one. */
static void create__atomic_for_openers(void **state)
{
	int round;

	(void)state;
	for (round = 0; round < 20; round++) {
		const char *n = th_name("atom");
		pid_t pid = th_fork(opener, (void *)n);
		struct shmpipe_attr a = { .capacity = 1 << 20 };

		th_sleep_ms(1);
		assert_int_equal(shmpipe_create(n, &a), 0);
		assert_int_equal(th_exit_code(pid, 20000), 0);
	}
}

static volatile int stop_umask;

static void *umask_churn(void *arg)
{
	unsigned int i = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_umask, __ATOMIC_RELAXED))
		umask(i++ & 0777);
	return NULL;
}

/* Modes are exact while another thread keeps changing the umask. */
static void create__mode_with_umask_churn(void **state)
{
	pthread_t t;
	int i;

	(void)state;
	stop_umask = 0;
	pthread_create(&t, NULL, umask_churn, NULL);
	for (i = 0; i < 200; i++) {
		struct shmpipe_attr a = { .capacity = 4096,
					  .mode = (mode_t)(0400 | (i & 0377)) };
		const char *n = th_name("umask");
		char path[128];
		struct stat st;

		assert_int_equal(shmpipe_create(n, &a), 0);
		snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", n);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, a.mode);
		assert_int_equal(shmpipe_unlink(n), 0);
	}
	__atomic_store_n(&stop_umask, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	umask(022);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(segment__wild_head),
		TH_TEST(segment__wild_tail),
		TH_TEST(segment__wild_length),
		TH_TEST(segment__wild_state),
		TH_TEST(segment__wild_masks),
		TH_TEST(segment__ghost_lock_owner),
		TH_TEST(segment__shrunk),
		TH_TEST(segment__lock_links_ignored),
		TH_TEST(segment__strict_mode),
		TH_TEST(fork__while_threads_open),
		TH_TEST(sigbus__foreign_fault_keeps_default),
		TH_TEST(sigbus__ignored_stays_ignored),
		TH_TEST(create__atomic_for_openers),
		TH_TEST(create__mode_with_umask_churn),
	};

	return TH_RUN("hardening", tests);
}
