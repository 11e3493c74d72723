/* SPDX-License-Identifier: MIT */
/*
 * Killed and stopped peers: real processes, real signals.  The survivors'
 * exact return codes are asserted; how fast they noticed is measured and
 * printed, never asserted (this machine is shared and noisy): the only
 * time limit is the harness's hang detector.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

struct child {
	const char *name;
	volatile int ready;
	int result;
	double noticed_ms;
	int count;
};

static struct child *new_child(const char *name)
{
	struct child *c = th_shared(sizeof(*c));

	c->name = name;
	return c;
}

static void set_ready(struct child *c)
{
	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
}

static int idle_reader(void *arg)
{
	struct child *c = arg;
	struct shmpipe_reader *r;

	if (shmpipe_reader_open(c->name, &r))
		return 10;
	set_ready(c);
	for (;;)
		pause();
}

static int blocked_reader(void *arg)
{
	struct child *c = arg;
	struct shmpipe_reader *r;
	char buf[64];
	size_t len;

	if (shmpipe_reader_open(c->name, &r))
		return 10;
	set_ready(c);
	c->result = shmpipe_read(r, buf, sizeof(buf), &len, -1);
	return 0;
}

/* Kill a ready child and reap it: its death is complete on return. */
static double kill_child(pid_t pid, struct child *c)
{
	double t0;

	assert_true(th_wait_flag(&c->ready, 10000));
	th_sleep_ms(20);
	t0 = th_now_ms();
	th_kill(pid, SIGKILL);
	assert_int_not_equal(th_wait(pid, 10000), -1);
	return t0;
}

/* Write until the pipe reports something other than success. */
static int write_until_error(struct shmpipe_writer *w, int timeout_ms)
{
	int r;

	while ((r = shmpipe_write(w, "m", 1, timeout_ms)) == 0)
		;
	return r;
}

static void reader_killed__idle(void **state)
{
	struct child *c = new_child(th_pipe("ridle", 1 << 16));
	struct shmpipe_writer *w;
	pid_t pid;

	(void)state;
	assert_int_equal(shmpipe_writer_open(c->name, &w), 0);
	pid = th_fork(idle_reader, c);
	kill_child(pid, c);
	assert_int_equal(shmpipe_writer_check(w), -ECONNRESET);
	assert_int_equal(shmpipe_write(w, "x", 1, 0), -ECONNRESET);
	assert_int_equal(shmpipe_write(w, "x", 1, -1), -ECONNRESET);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

static void reader_killed__blocked_in_read(void **state)
{
	struct child *c = new_child(th_pipe("rblk", 4096));
	struct shmpipe_writer *w;
	pid_t pid;

	(void)state;
	assert_int_equal(shmpipe_writer_open(c->name, &w), 0);
	pid = th_fork(blocked_reader, c);
	kill_child(pid, c);
	assert_int_equal(shmpipe_write(w, "x", 1, 0), -ECONNRESET);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

struct full_writer {
	const char *name;
	volatile int ready;
	int result;
	double noticed_ms;
};

static int full_writer(void *arg)
{
	struct child *c = arg;
	struct shmpipe_writer *w;

	if (shmpipe_writer_open(c->name, &w))
		return 10;
	if (write_until_error(w, 0) != -EAGAIN)
		return 11;
	set_ready(c);
	c->result = shmpipe_write(w, "x", 1, -1);
	c->noticed_ms = th_now_ms();
	return 0;
}

/* A writer asleep on a full pipe wakes when the only reader is killed. */
static void reader_killed__wakes_blocked_writer(void **state)
{
	struct child *rc = new_child(th_pipe("rkw", 4096));
	struct child *wc = new_child(rc->name);
	pid_t rpid, wpid;
	double t0;

	(void)state;
	rpid = th_fork(idle_reader, rc);
	assert_true(th_wait_flag(&rc->ready, 10000));
	wpid = th_fork(full_writer, wc);
	assert_true(th_wait_flag(&wc->ready, 10000));
	th_sleep_ms(50);
	t0 = kill_child(rpid, rc);
	assert_int_equal(th_exit_code(wpid, 10000), 0);
	assert_int_equal(wc->result, -ECONNRESET);
	print_message("blocked writer saw the reader's death after %.3f ms\n",
		      wc->noticed_ms - t0);
}

/*
 * A reader killed while blocked in a read; a second reader on the same
 * pipe and the writer keep working, and nothing is lost.
 */
static void reader_killed__others_keep_working(void **state)
{
	struct child *c = new_child(th_pipe("rkeep", 4096));
	struct shmpipe_writer *w;
	struct shmpipe_reader *r2;
	int i, v;
	size_t len;
	pid_t pid;

	(void)state;
	assert_int_equal(shmpipe_writer_open(c->name, &w), 0);
	pid = th_fork(blocked_reader, c);
	assert_true(th_wait_flag(&c->ready, 10000));
	assert_int_equal(shmpipe_reader_open(c->name, &r2), 0);
	kill_child(pid, c);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(shmpipe_write(w, &i, sizeof(i), -1), 0);
		assert_int_equal(shmpipe_read(r2, &v, sizeof(v), &len, -1), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_read(r2, &v, sizeof(v), &len, -1),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r2, 0), 0);
}

static int writer_of_ten(void *arg)
{
	struct child *c = arg;
	struct shmpipe_writer *w;
	int i;

	if (shmpipe_writer_open(c->name, &w))
		return 10;
	for (i = 0; i < 10; i++)
		if (shmpipe_write(w, &i, sizeof(i), -1))
			return 11;
	set_ready(c);
	for (;;)
		pause();
}

/* A writer dies: readers drain every committed message, then reset. */
static void writer_killed__drain_then_reset(void **state)
{
	struct child *c = new_child(th_pipe("wk", 4096));
	struct shmpipe_reader *r;
	size_t len;
	int i, v;

	(void)state;
	assert_int_equal(shmpipe_reader_open(c->name, &r), 0);
	kill_child(th_fork(writer_of_ten, c), c);
	for (i = 0; i < 10; i++) {
		assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 0), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 0), -ECONNRESET);
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, -1), -ECONNRESET);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

static int idle_writer(void *arg)
{
	struct child *c = arg;
	struct shmpipe_writer *w;

	if (shmpipe_writer_open(c->name, &w))
		return 10;
	set_ready(c);
	for (;;)
		pause();
}

static int reader_until_error(void *arg)
{
	struct child *c = arg;
	struct shmpipe_reader *r;
	char buf[64];
	size_t len;

	if (shmpipe_reader_open(c->name, &r))
		return 10;
	set_ready(c);
	while ((c->result = shmpipe_read(r, buf, sizeof(buf), &len, -1)) == 0)
		c->count++;
	c->noticed_ms = th_now_ms();
	return 0;
}

/* A reader asleep on an empty pipe wakes when the last writer dies. */
static void writer_killed__wakes_blocked_reader(void **state)
{
	struct child *wc = new_child(th_pipe("wkr", 4096));
	struct child *rc = new_child(wc->name);
	pid_t wpid, rpid;
	double t0;

	(void)state;
	wpid = th_fork(idle_writer, wc);
	assert_true(th_wait_flag(&wc->ready, 10000));
	rpid = th_fork(reader_until_error, rc);
	assert_true(th_wait_flag(&rc->ready, 10000));
	th_sleep_ms(50);
	t0 = kill_child(wpid, wc);
	assert_int_equal(th_exit_code(rpid, 10000), 0);
	assert_int_equal(rc->result, -ECONNRESET);
	print_message("blocked reader saw the writer's death after %.3f ms\n",
		      rc->noticed_ms - t0);
}

/* One of two writers dies; the other goes on; the end is a reset. */
static void writer_killed__one_of_two(void **state)
{
	struct child *c = new_child(th_pipe("wk2", 4096));
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	size_t len;
	int v;

	(void)state;
	assert_int_equal(shmpipe_writer_open(c->name, &w), 0);
	assert_int_equal(shmpipe_reader_open(c->name, &r), 0);
	kill_child(th_fork(idle_writer, c), c);
	assert_int_equal(shmpipe_write(w, "abcd", 4, 0), 0);
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 0), -ECONNRESET);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

/* Map a pipe's header directly, to hold one of its locks. */
static struct shmpipe_shared *map_header(const char *name)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, SHMPIPE_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct holder {
	const char *name;
	volatile int ready;
	int which;	/* 0 ctl, 1 wlock, 2 rlock */
};

/*
 * Hold a lock and wait to be killed: the control lock, taken directly;
 * a side lock, held the way the library holds it, by a writer blocked on
 * a full ring or a reader blocked on an empty one.
 */
static int die_holding_lock(void *arg)
{
	struct holder *h = arg;
	struct shmpipe_shared *sh = map_header(h->name);
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	char buf[64];
	size_t len;

	if (!sh)
		return 10;
	if (h->which == 0) {
		if (th_hold_robust(&sh->sh_ctl.word))
			return 11;
		__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
		for (;;)
			pause();
	}
	if (h->which == 1) {
		if (shmpipe_writer_open(h->name, &w) ||
		    write_until_error(w, 0) != -EAGAIN)
			return 12;
		__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
		return shmpipe_write(w, "x", 1, -1) + 100;
	}
	if (shmpipe_reader_open(h->name, &r))
		return 13;
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	return shmpipe_read(r, buf, sizeof(buf), &len, -1) + 100;
}

/* Each of the three locks, its owner killed: the pipe stays usable. */
static void lock_owner_killed__recovered(void **state)
{
	int which;

	(void)state;
	for (which = 0; which < 3; which++) {
		struct holder *h = th_shared(sizeof(*h));
		struct shmpipe_writer *w;
		struct shmpipe_reader *r;
		struct shmpipe_stat st;
		size_t len;
		pid_t pid;
		int v = 42;

		h->name = th_pipe("lock", 4096);
		h->which = which;
		/* The survivors attach first: the pipe stays open. */
		assert_int_equal(shmpipe_writer_open(h->name, &w), 0);
		assert_int_equal(shmpipe_reader_open(h->name, &r), 0);
		pid = th_fork(die_holding_lock, h);
		assert_true(th_wait_flag(&h->ready, 10000));
		th_sleep_ms(20);
		th_kill(pid, SIGKILL);
		assert_int_not_equal(th_wait(pid, 10000), -1);

		/* Drain what the dead writer left, then go on. */
		while (shmpipe_read(r, &v, sizeof(v), &len, 0) == 0)
			;
		v = 42;
		assert_int_equal(shmpipe_write(w, &v, sizeof(v), -1), 0);
		v = 0;
		assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, -1), 0);
		assert_int_equal(v, 42);
		assert_int_equal(shmpipe_stat(h->name, &st), 0);
		assert_int_equal(st.state, SHMPIPE_STATE_OPEN);
		assert_int_equal(shmpipe_writer_close(w, 0), 0);
		assert_int_equal(shmpipe_reader_close(r, 0), 0);
	}
}

/* A stopped process is not dead: writes time out, they do not fail. */
static void reader_stopped__not_dead(void **state)
{
	struct child *c = new_child(th_pipe("stop", 4096));
	struct shmpipe_writer *w;
	pid_t pid;

	(void)state;
	assert_int_equal(shmpipe_writer_open(c->name, &w), 0);
	pid = th_fork(blocked_reader, c);
	assert_true(th_wait_flag(&c->ready, 10000));
	th_sleep_ms(20);
	th_kill(pid, SIGSTOP);
	assert_int_equal(write_until_error(w, 0), -EAGAIN);
	assert_int_equal(shmpipe_write(w, "x", 1, 300), -ETIMEDOUT);
	th_kill(pid, SIGCONT);
	th_kill(pid, SIGKILL);
	assert_int_not_equal(th_wait(pid, 10000), -1);
	assert_int_equal(shmpipe_write(w, "x", 1, -1), -ECONNRESET);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

static int use_inherited(void *arg)
{
	struct shmpipe_writer *w = arg;

	if (shmpipe_write(w, "child", 5, 0) != -ECHILD)
		return 1;
	if (shmpipe_writer_max_message(w) != 0)
		return 2;
	return shmpipe_writer_close(w, EIO) == 0 ? 0 : 3;
}

/* A forked child cannot use, nor close, the parent's endpoint. */
static void fork__child_cannot_use_handle(void **state)
{
	const char *n = th_pipe("fork", 4096);
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	char buf[16];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(th_exit_code(th_fork(use_inherited, w), 10000), 0);
	assert_int_equal(shmpipe_write(w, "parent", 6, 0), 0);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(len, 6);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0), -EAGAIN);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

static void *open_in_thread(void *arg)
{
	struct shmpipe_reader **r = arg;

	if (shmpipe_reader_open((const char *)*r, r))
		*r = NULL;
	return NULL;
}

/* The thread that opened an endpoint exits; the endpoint lives on. */
static void thread_exit__endpoint_lives(void **state)
{
	const char *n = th_pipe("thr", 4096);
	struct shmpipe_writer *w;
	struct shmpipe_reader *r = (struct shmpipe_reader *)n;
	pthread_t t;
	size_t len;
	int v = 7;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(pthread_create(&t, NULL, open_in_thread, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_non_null(r);
	th_sleep_ms(20);
	assert_int_equal(shmpipe_write(w, &v, sizeof(v), 0), 0);
	v = 0;
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 0), 0);
	assert_int_equal(v, 7);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

/*
 * Exactly once under fire.  Two writers stream numbered messages with a
 * checksum; three readers record what they get in shared memory; the
 * parent kills readers at random moments and starts new ones.  In the end
 * no message is duplicated or corrupt, order per writer holds for each
 * reader, and at most one message per killed reader is unaccounted for
 * (taken from the ring by a reader that died before recording it).
 */
#define EO_WRITERS	2
#define EO_PER_WRITER	1000000
#define EO_READERS	3
#define EO_KILLS	6

struct eo {
	const char *name;
	int committed[EO_WRITERS];
	int seen[EO_WRITERS][EO_PER_WRITER];
	int corrupt;
	int disorder;
	volatile int readers_ready;
	volatile int stop;
};

struct eo_msg {
	uint32_t writer, seq, check;
	uint8_t pad[20];
};

static uint32_t eo_check(const struct eo_msg *m)
{
	return m->writer * 2654435761u ^ m->seq * 40503u ^ 0x5a5a5a5au;
}

static struct eo *eo_state;

static int eo_writer(void *arg)
{
	struct shmpipe_writer *w;
	struct eo_msg m;
	int id = (int)(intptr_t)arg;
	uint32_t s;

	s = (uint32_t)-shmpipe_writer_open(eo_state->name, &w);
	if (s)
		return (int)s;
	for (s = 0; s < EO_PER_WRITER &&
		    !__atomic_load_n(&eo_state->stop, __ATOMIC_RELAXED); s++) {
		memset(&m, 0, sizeof(m));
		m.writer = (uint32_t)id;
		m.seq = s;
		m.check = eo_check(&m);
		if (shmpipe_write(w, &m, sizeof(m), -1))
			return 11;
		__atomic_store_n(&eo_state->committed[id], (int)s + 1,
				 __ATOMIC_RELEASE);
	}
	return shmpipe_writer_close(w, 0) ? 12 : 0;
}

static int eo_reader(void *arg)
{
	struct shmpipe_reader *r;
	uint32_t last[EO_WRITERS] = { 0 };
	int started[EO_WRITERS] = { 0 };
	struct eo_msg m;
	size_t len;
	int rc;

	(void)arg;
	rc = shmpipe_reader_open(eo_state->name, &r);
	if (rc)
		return 100 - rc;
	__atomic_add_fetch(&eo_state->readers_ready, 1, __ATOMIC_RELEASE);
	while ((rc = shmpipe_read(r, &m, sizeof(m), &len, -1)) == 0) {
		if (len != sizeof(m) || m.writer >= EO_WRITERS ||
		    m.seq >= EO_PER_WRITER || m.check != eo_check(&m)) {
			__atomic_add_fetch(&eo_state->corrupt, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (started[m.writer] && m.seq <= last[m.writer])
			__atomic_add_fetch(&eo_state->disorder, 1,
					   __ATOMIC_RELAXED);
		started[m.writer] = 1;
		last[m.writer] = m.seq;
		__atomic_add_fetch(&eo_state->seen[m.writer][m.seq], 1,
				   __ATOMIC_RELAXED);
	}
	return rc == SHMPIPE_EOF ? 0 : 200 - rc;
}

static void exactly_once__readers_killed(void **state)
{
	pid_t writers[EO_WRITERS], readers[EO_READERS];
	int i, k, missing = 0, dups = 0, extra = 0, total = 0, s;
	struct shmpipe_reader *anchor;

	(void)state;
	eo_state = th_shared(sizeof(*eo_state));
	eo_state->name = th_pipe("eo", 4096);
	/* Hold a reader open so that killing all others cannot close it. */
	assert_int_equal(shmpipe_reader_open(eo_state->name, &anchor), 0);
	for (i = 0; i < EO_READERS; i++)
		readers[i] = th_fork(eo_reader, NULL);
	for (i = 0; i < EO_WRITERS; i++)
		writers[i] = th_fork(eo_writer, (void *)(intptr_t)i);

	srand((unsigned int)getpid());
	for (k = 0; k < EO_KILLS; k++) {
		i = rand() % EO_READERS;
		th_sleep_ms(5 + rand() % 30);
		th_kill(readers[i], SIGKILL);
		th_wait(readers[i], 10000);
		readers[i] = th_fork(eo_reader, NULL);
	}
	__atomic_store_n(&eo_state->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < EO_WRITERS; i++)
		assert_int_equal(th_exit_code(writers[i], 50000), 0);
	/* Every reader started has attached before the anchor leaves. */
	while (__atomic_load_n(&eo_state->readers_ready, __ATOMIC_ACQUIRE) <
	       EO_READERS + EO_KILLS)
		th_sleep_ms(1);
	assert_int_equal(shmpipe_reader_close(anchor, 0), 0);
	for (i = 0; i < EO_READERS; i++)
		assert_int_equal(th_exit_code(readers[i], 50000), 0);

	for (i = 0; i < EO_WRITERS; i++) {
		total += eo_state->committed[i];
		for (s = 0; s < EO_PER_WRITER; s++) {
			if (s < eo_state->committed[i])
				missing += eo_state->seen[i][s] == 0;
			else
				extra += eo_state->seen[i][s] != 0;
			dups += eo_state->seen[i][s] > 1;
		}
	}
	print_message("%d messages, %d kills: %d unaccounted, %d duplicated\n",
		      total, EO_KILLS, missing, dups);
	assert_int_equal(extra, 0);
	assert_int_equal(eo_state->corrupt, 0);
	assert_int_equal(eo_state->disorder, 0);
	assert_int_equal(dups, 0);
	assert_true(missing <= EO_KILLS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(reader_killed__idle),
		TH_TEST(reader_killed__blocked_in_read),
		TH_TEST(reader_killed__wakes_blocked_writer),
		TH_TEST(reader_killed__others_keep_working),
		TH_TEST(writer_killed__drain_then_reset),
		TH_TEST(writer_killed__wakes_blocked_reader),
		TH_TEST(writer_killed__one_of_two),
		TH_TEST(lock_owner_killed__recovered),
		TH_TEST(reader_stopped__not_dead),
		TH_TEST(fork__child_cannot_use_handle),
		TH_TEST(thread_exit__endpoint_lives),
		TH_TEST(exactly_once__readers_killed),
	};

	return TH_RUN("crash", tests);
}
