/* SPDX-License-Identifier: MIT */
/*
 * shmpipe_writer_close and shmpipe_reader_close: leaving, end of stream,
 * aborting with a reason, single use, and waking blocked peers.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void reader_close__fails_writes(void **state)
{
	const char *n = th_pipe("rc", 4096);
	struct shmpipe_writer *w, *w2;
	struct shmpipe_reader *r;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_writer_check(w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_write(w, "a", 1, 0), 0);
	assert_int_equal(shmpipe_writer_check(w), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(shmpipe_writer_check(w), -EPIPE);
	assert_int_equal(shmpipe_write(w, "b", 1, 0), -EPIPE);
	assert_int_equal(shmpipe_write(w, "b", 1, -1), -EPIPE);
	/* Single use: no writer and no reader may join any more. */
	assert_int_equal(shmpipe_writer_open(n, &w2), -EPIPE);
	assert_int_equal(shmpipe_reader_open(n, &r), -EPIPE);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

/* Only the last reader's leaving closes the pipe. */
static void reader_close__others_remain(void **state)
{
	const char *n = th_pipe("rc2", 4096);
	struct shmpipe_reader *r1, *r2;
	struct shmpipe_writer *w;
	char buf[4];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r1), 0);
	assert_int_equal(shmpipe_reader_open(n, &r2), 0);
	assert_int_equal(shmpipe_reader_close(r1, 0), 0);
	assert_int_equal(shmpipe_write(w, "a", 1, 0), 0);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(shmpipe_reader_close(r2, 0), 0);
	assert_int_equal(shmpipe_write(w, "a", 1, 0), -EPIPE);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

static void writer_close__drain_then_eof(void **state)
{
	const char *n = th_pipe("wc", 4096);
	struct shmpipe_writer *w, *w2;
	struct shmpipe_reader *r, *r2;
	char buf[8];
	size_t len;
	int i;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(shmpipe_write(w, &i, sizeof(i), 0), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	/* No writer may join a pipe whose writers have all left. */
	assert_int_equal(shmpipe_writer_open(n, &w2), -EPIPE);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, -1), 0);
	assert_int_equal(*(int *)buf, 0);
	/* A reader may still join to drain. */
	assert_int_equal(shmpipe_reader_open(n, &r2), 0);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, -1), 0);
	assert_int_equal(*(int *)buf, 1);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, -1), 0);
	assert_int_equal(*(int *)buf, 2);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, -1),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, 0),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(shmpipe_reader_close(r2, 0), 0);
}

/* Writers abort: writes fail with the reason, reads after draining. */
static void writer_close__abort(void **state)
{
	const char *n = th_pipe("wa", 4096);
	struct shmpipe_writer *w1, *w2;
	struct shmpipe_reader *r;
	struct shmpipe_stat st;
	char buf[8];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w1), 0);
	assert_int_equal(shmpipe_writer_open(n, &w2), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_write(w1, "a", 1, 0), 0);
	assert_int_equal(shmpipe_writer_close(w1, EIO), 0);
	assert_int_equal(shmpipe_write(w2, "b", 1, 0), -EIO);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0), -EIO);
	/* The first reason sticks. */
	assert_int_equal(shmpipe_writer_close(w2, ENOSPC), 0);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, -1), -EIO);
	assert_int_equal(shmpipe_stat(n, &st), 0);
	assert_int_equal(st.state, SHMPIPE_STATE_ABORTED);
	assert_int_equal(st.close_err, EIO);
	assert_int_equal(st.close_pid, getpid());
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

static void reader_close__abort(void **state)
{
	const char *n = th_pipe("ra", 4096);
	struct shmpipe_reader *r1, *r2;
	struct shmpipe_writer *w;
	char buf[8];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r1), 0);
	assert_int_equal(shmpipe_reader_open(n, &r2), 0);
	assert_int_equal(shmpipe_write(w, "a", 1, 0), 0);
	assert_int_equal(shmpipe_reader_close(r1, ECANCELED), 0);
	assert_int_equal(shmpipe_write(w, "b", 1, 0), -ECANCELED);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, 0),
			 -ECANCELED);
	assert_int_equal(shmpipe_writer_close(w, EIO), 0);
	assert_int_equal(shmpipe_read(r2, buf, sizeof(buf), &len, 0),
			 -ECANCELED);
	assert_int_equal(shmpipe_reader_close(r2, 0), 0);
}

/* Codes that calls return for their own sake are no abort reasons. */
static void close__reasons_that_are_not(void **state)
{
	static const int bad[] = { EAGAIN, ETIMEDOUT, EMSGSIZE, EINVAL,
				   ECHILD, -1, 4096 };
	const char *n = th_pipe("why", 4096);
	struct shmpipe_writer *w;
	size_t i;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmpipe_writer_close(w, bad[i]), -EINVAL);
	assert_int_equal(shmpipe_write(w, "still open", 10, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, ECANCELED), 0);
	assert_int_equal(shmpipe_writer_check(w), -EINVAL);
}

/* A clean close before an abort: the close came first and stays. */
static void close__first_reason_sticks(void **state)
{
	const char *n = th_pipe("first", 4096);
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	char buf[8];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, EIO), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), -EPIPE);
	(void)buf;
	(void)len;
}

struct blocked {
	const char *name;
	volatile int ready;
	int result;
	double noticed_ms;
};

static int blocked_writer(void *arg)
{
	struct blocked *b = arg;
	struct shmpipe_writer *w;
	char buf[1000] = { 0 };
	int r;

	if (shmpipe_writer_open(b->name, &w))
		return 10;
	while ((r = shmpipe_write(w, buf, sizeof(buf), 0)) == 0)
		;
	if (r != -EAGAIN)
		return 11;
	__atomic_store_n(&b->ready, 1, __ATOMIC_RELEASE);
	b->result = shmpipe_write(w, buf, sizeof(buf), -1);
	b->noticed_ms = th_now_ms();
	return 0;
}

/* A writer blocked on a full pipe wakes and fails when readers leave. */
static void reader_close__wakes_blocked_writer(void **state)
{
	struct blocked *b = th_shared(sizeof(*b));
	struct shmpipe_reader *r;
	pid_t pid;
	double t0;

	(void)state;
	b->name = th_pipe("wake", 4096);
	assert_int_equal(shmpipe_reader_open(b->name, &r), 0);
	pid = th_fork(blocked_writer, b);
	assert_true(th_wait_flag(&b->ready, 10000));
	th_sleep_ms(50);	/* let it fall asleep */
	t0 = th_now_ms();
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(th_exit_code(pid, 10000), 0);
	assert_int_equal(b->result, -EPIPE);
	print_message("blocked writer noticed the close in %.3f ms\n",
		      b->noticed_ms - t0);
}

static int blocked_reader(void *arg)
{
	struct blocked *b = arg;
	struct shmpipe_reader *r;
	char buf[64];
	size_t len;

	if (shmpipe_reader_open(b->name, &r))
		return 10;
	__atomic_store_n(&b->ready, 1, __ATOMIC_RELEASE);
	b->result = shmpipe_read(r, buf, sizeof(buf), &len, -1);
	if (b->result == 0)
		b->result = shmpipe_read(r, buf, sizeof(buf), &len, -1);
	b->noticed_ms = th_now_ms();
	return 0;
}

/* A reader blocked on an empty pipe gets EOF when writers leave. */
static void writer_close__wakes_blocked_reader(void **state)
{
	struct blocked *b = th_shared(sizeof(*b));
	struct shmpipe_writer *w;
	pid_t pid;
	double t0;

	(void)state;
	b->name = th_pipe("wake", 4096);
	assert_int_equal(shmpipe_writer_open(b->name, &w), 0);
	pid = th_fork(blocked_reader, b);
	assert_true(th_wait_flag(&b->ready, 10000));
	assert_int_equal(shmpipe_write(w, "x", 1, 0), 0);
	th_sleep_ms(50);
	t0 = th_now_ms();
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(th_exit_code(pid, 10000), 0);
	assert_int_equal(b->result, SHMPIPE_EOF);
	print_message("blocked reader saw end of stream in %.3f ms\n",
		      b->noticed_ms - t0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(reader_close__fails_writes),
		TH_TEST(reader_close__others_remain),
		TH_TEST(writer_close__drain_then_eof),
		TH_TEST(writer_close__abort),
		TH_TEST(reader_close__abort),
		TH_TEST(close__first_reason_sticks),
		TH_TEST(close__reasons_that_are_not),
		TH_TEST(reader_close__wakes_blocked_writer),
		TH_TEST(writer_close__wakes_blocked_reader),
	};

	return TH_RUN("close", tests);
}
