/* SPDX-License-Identifier: MIT */
/*
 * Strict mode for real: a peer process whose membarrier(2) fails.
 *
 * A child installs a seccomp filter that makes membarrier(2) fail with
 * ENOSYS, then exec()s this program again ("--strict-peer"), so that the
 * library initialises under the filter, as in a sandboxed service.  That
 * process attaches to a pipe, which must turn strict for good
 * (sh_strict), and reads (or writes) many small messages through a 4 KiB
 * ring while a normal process (with asymmetric fences) does the other
 * side.  Both sides are paused now and then, so that each sleeps and is
 * woken many times.  Every message must arrive exactly once, in order,
 * and nothing may hang.  A third case has two endpoints on each side, so
 * that side-lock waiters sleep and wake in the strict pipe as well.
 * Skipped where seccomp filters or membarrier(2) are not available.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

#define MESSAGES	200000
#define PAUSE_EVERY	4096	/* the paused side lets the other sleep */
#define CALL_MS		10000
#define SIDES		2	/* endpoints per side in the "many" case */
#define PER_SIDE	(MESSAGES / SIDES)

#if defined(__x86_64__)
#define FILTER_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH	AUDIT_ARCH_AARCH64
#endif

/* Message i: 8 to 64 bytes, its number first, then bytes derived from it. */
static size_t msg_make(uint64_t i, uint8_t *buf)
{
	size_t len = 8 + (size_t)(i * 2654435761u % 57), k;

	memcpy(buf, &i, sizeof(i));
	for (k = 8; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
	return len;
}

static int msg_check(uint64_t want, const uint8_t *buf, size_t len)
{
	uint8_t ref[64];

	return len == msg_make(want, ref) && !memcmp(ref, buf, len);
}

static void pause_now(void)
{
	struct timespec ts = { 0, 2000000 };

	nanosleep(&ts, NULL);
}

static int membarrier_refused(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) < 0 &&
	       errno == ENOSYS;
}

/*
 * The "many" case: SIDES writer endpoints (threads) against SIDES reader
 * endpoints (threads), so that the side locks are contended on both sides.
 * Message (w, i) carries w in its first byte and i after it.
 */
static size_t many_make(uint32_t w, uint64_t i, uint8_t *buf)
{
	size_t len = msg_make(i, buf);

	buf[7] = (uint8_t)w;	/* i < 2^56 */
	return len;
}

struct many_reader {
	struct shmpipe_reader *r;
	uint8_t (*seen)[PER_SIDE];
	int failed;
};

static void *many_read(void *arg)
{
	struct many_reader *m = arg;
	int64_t last[SIDES];
	uint8_t buf[64];
	uint64_t i;
	size_t len, n = 0;
	uint32_t w;
	int rc;

	for (w = 0; w < SIDES; w++)
		last[w] = -1;
	while ((rc = shmpipe_read(m->r, buf, sizeof(buf), &len,
				  CALL_MS)) == 0) {
		if (++n % PAUSE_EVERY == PAUSE_EVERY / 2)
			pause_now();
		w = buf[7];
		buf[7] = 0;
		memcpy(&i, buf, sizeof(i));
		/* Reads serialize and messages of one writer are in order:
		 * each reader sees each writer's numbers increase. */
		if (w >= SIDES || i >= PER_SIDE || (int64_t)i <= last[w] ||
		    !msg_check(i, buf, len)) {
			m->failed = 1;
			return NULL;
		}
		last[w] = (int64_t)i;
		__atomic_fetch_add(&m->seen[w][i], 1, __ATOMIC_RELAXED);
	}
	if (rc != SHMPIPE_EOF)
		m->failed = 1;
	return NULL;
}

/* SIDES reader endpoints, one thread each; 0 if every message came once. */
static int read_many(const char *name)
{
	static uint8_t seen[SIDES][PER_SIDE];
	struct many_reader m[SIDES];
	pthread_t t[SIDES];
	int k, w, i;

	for (k = 0; k < SIDES; k++) {
		m[k] = (struct many_reader){ NULL, seen, 0 };
		if (shmpipe_reader_open(name, &m[k].r))
			return 1;
	}
	for (k = 0; k < SIDES; k++)
		if (pthread_create(&t[k], NULL, many_read, &m[k]))
			return 2;
	for (k = 0; k < SIDES; k++) {
		pthread_join(t[k], NULL);
		shmpipe_reader_close(m[k].r, 0);
		if (m[k].failed)
			return 3;
	}
	for (w = 0; w < SIDES; w++)
		for (i = 0; i < PER_SIDE; i++)
			if (seen[w][i] != 1)
				return 4;
	return 0;
}

struct many_writer {
	struct shmpipe_writer *w;
	uint32_t id;
	int failed;
};

static void *many_write(void *arg)
{
	struct many_writer *m = arg;
	uint8_t buf[64];
	uint64_t i;

	for (i = 0; i < PER_SIDE; i++) {
		if (i % PAUSE_EVERY == 0)
			pause_now();
		if (shmpipe_write(m->w, buf, many_make(m->id, i, buf),
				  CALL_MS)) {
			m->failed = 1;
			break;
		}
	}
	return NULL;
}

/*
 * The exec()ed peer: "--strict-peer read|write|readmany NAME".  Plain C,
 * no cmocka; reports through its exit status.
 */
static int strict_peer(const char *role, const char *name)
{
	uint8_t buf[64];
	uint64_t i;
	size_t len;
	int rc;

	if (!membarrier_refused())
		return 20;	/* the filter did not survive exec */
	if (!strcmp(role, "read")) {
		struct shmpipe_reader *r;

		if (shmpipe_reader_open(name, &r))
			return 21;
		for (i = 0; i < MESSAGES; i++) {
			if (i % PAUSE_EVERY == PAUSE_EVERY / 2)
				pause_now();
			rc = shmpipe_read(r, buf, sizeof(buf), &len, CALL_MS);
			if (rc)
				return 22;
			if (!msg_check(i, buf, len))
				return 23;
		}
		rc = shmpipe_read(r, buf, sizeof(buf), &len, CALL_MS);
		shmpipe_reader_close(r, 0);
		return rc == SHMPIPE_EOF ? 0 : 24;
	}
	if (!strcmp(role, "readmany")) {
		rc = read_many(name);
		return rc ? 60 + rc : 0;
	}
	if (!strcmp(role, "write")) {
		struct shmpipe_writer *w;

		if (shmpipe_writer_open(name, &w))
			return 31;
		for (i = 0; i < MESSAGES; i++) {
			if (i % PAUSE_EVERY == PAUSE_EVERY / 2)
				pause_now();
			len = msg_make(i, buf);
			if (shmpipe_write(w, buf, len, CALL_MS))
				return 32;
		}
		return shmpipe_writer_close(w, 0) ? 33 : 0;
	}
	return 40;
}

#ifdef FILTER_ARCH
static int install_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(code) / sizeof(code[0])),
		.filter = code,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#endif

struct peer_args {
	const char *role;
	const char *name;
};

/* In the forked child: filter, then a fresh image of this program. */
static int exec_strict_peer(void *arg)
{
	struct peer_args *a = arg;
	char *argv[] = { "test_strict_peer", "--strict-peer", (char *)a->role,
			 (char *)a->name, NULL };

#ifdef FILTER_ARCH
	if (install_filter())
		return 50;
#endif
	if (!membarrier_refused())
		return 51;
	execv("/proc/self/exe", argv);
	return 52;
}

static struct shmpipe_shared *map_header(const char *name)
{
	struct shmpipe_shared *sh;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	sh = mmap(NULL, SHMPIPE_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(sh != MAP_FAILED);
	return sh;
}

#ifdef FILTER_ARCH
/* Can a process here install the filter (CONFIG_SECCOMP_FILTER)? */
static int filter_probe(void *arg)
{
	(void)arg;
	return install_filter() || !membarrier_refused();
}
#endif

static void skip_unless_possible(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	/* This process must have the fences, or the pipe is strict from
	 * the start and there is nothing to turn. */
	if (q < 0 || !(q & MEMBARRIER_CMD_GLOBAL_EXPEDITED))
		skip();
#ifdef FILTER_ARCH
	if (th_exit_code(th_fork(filter_probe, NULL), 10000) != 0)
		skip();
#else
	skip();
#endif
}

/* The strict process reads; this one (with fences) writes. */
static void strict_peer__reads(void **state)
{
	const char *n = th_pipe("strictpeer", 4096);
	struct peer_args a = { "read", n };
	struct shmpipe_shared *sh = map_header(n);
	struct shmpipe_writer *w;
	struct shmpipe_stat st;
	uint8_t buf[64];
	uint64_t i;
	pid_t pid;

	(void)state;
	skip_unless_possible();
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 0);
	pid = th_fork(exec_strict_peer, &a);
	for (i = 0; i < MESSAGES; i++) {
		if (i % PAUSE_EVERY == 0)
			pause_now();
		assert_int_equal(shmpipe_write(w, buf, msg_make(i, buf),
					       CALL_MS), 0);
	}
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(th_exit_code(pid, 30000), 0);
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 1);
	/* Both sides slept and were woken. */
	assert_true(__atomic_load_n(&sh->sh_rwakeups, __ATOMIC_RELAXED) > 0);
	assert_true(__atomic_load_n(&sh->sh_wwakeups, __ATOMIC_RELAXED) > 0);
	assert_int_equal(shmpipe_stat(n, &st), 0);
	assert_int_equal(st.msgs_read, MESSAGES);
	munmap(sh, SHMPIPE_HDR_SIZE);
}

/* The strict process writes; this one (with fences) reads. */
static void strict_peer__writes(void **state)
{
	const char *n = th_pipe("strictpeer", 4096);
	struct peer_args a = { "write", n };
	struct shmpipe_shared *sh = map_header(n);
	struct shmpipe_reader *r;
	uint8_t buf[64];
	uint64_t i;
	size_t len;
	pid_t pid;

	(void)state;
	skip_unless_possible();
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 0);
	pid = th_fork(exec_strict_peer, &a);
	for (i = 0; i < MESSAGES; i++) {
		if (i % PAUSE_EVERY == 0)
			pause_now();
		assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len,
					      CALL_MS), 0);
		assert_true(msg_check(i, buf, len));
	}
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, CALL_MS),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(th_exit_code(pid, 30000), 0);
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 1);
	assert_true(__atomic_load_n(&sh->sh_rwakeups, __ATOMIC_RELAXED) > 0);
	assert_true(__atomic_load_n(&sh->sh_wwakeups, __ATOMIC_RELAXED) > 0);
	munmap(sh, SHMPIPE_HDR_SIZE);
}

/*
 * Two writer endpoints here, two reader endpoints (one thread each) in the
 * strict process: the side locks are contended on both sides, and their
 * waiters sleep and wake too.
 */
static void strict_peer__many_endpoints(void **state)
{
	const char *n = th_pipe("strictpeer", 4096);
	struct peer_args a = { "readmany", n };
	struct shmpipe_shared *sh = map_header(n);
	struct many_writer m[SIDES];
	pthread_t t[SIDES];
	pid_t pid;
	int k;

	(void)state;
	skip_unless_possible();
	for (k = 0; k < SIDES; k++) {
		m[k] = (struct many_writer){ NULL, (uint32_t)k, 0 };
		assert_int_equal(shmpipe_writer_open(n, &m[k].w), 0);
	}
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 0);
	pid = th_fork(exec_strict_peer, &a);
	for (k = 0; k < SIDES; k++)
		assert_int_equal(pthread_create(&t[k], NULL, many_write, &m[k]),
				 0);
	for (k = 0; k < SIDES; k++) {
		pthread_join(t[k], NULL);
		assert_int_equal(m[k].failed, 0);
		assert_int_equal(shmpipe_writer_close(m[k].w, 0), 0);
	}
	assert_int_equal(th_exit_code(pid, 30000), 0);
	assert_int_equal(__atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE), 1);
	assert_true(__atomic_load_n(&sh->sh_rwakeups, __ATOMIC_RELAXED) > 0);
	assert_true(__atomic_load_n(&sh->sh_wwakeups, __ATOMIC_RELAXED) > 0);
	munmap(sh, SHMPIPE_HDR_SIZE);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(strict_peer__reads),
		TH_TEST(strict_peer__writes),
		TH_TEST(strict_peer__many_endpoints),
	};

	if (argc == 4 && !strcmp(argv[1], "--strict-peer"))
		return strict_peer(argv[2], argv[3]);
	return TH_RUN("strict_peer", tests);
}
