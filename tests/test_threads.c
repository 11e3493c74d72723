/* SPDX-License-Identifier: MIT */
/*
 * Threads: handles shared between threads, close from another thread,
 * and a storm of signals during blocked calls.  Also run under TSan
 * (make tsan).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NTHREADS	4
#define PER_THREAD	20000

struct shared_writer {
	struct shmpipe_writer *w;
	int id;
	int failures;
};

struct tmsg {
	uint32_t thread, seq;
};

static void *thread_writer(void *arg)
{
	struct shared_writer *s = arg;
	struct tmsg m = { (uint32_t)s->id, 0 };

	for (m.seq = 0; m.seq < PER_THREAD; m.seq++)
		if (shmpipe_write(s->w, &m, sizeof(m), -1))
			s->failures++;
	return NULL;
}

/* One writer handle used by four threads at once: calls serialize. */
static void handle__shared_by_threads(void **state)
{
	const char *n = th_pipe("thr", 4096);
	struct shared_writer s[NTHREADS];
	uint32_t next[NTHREADS] = { 0 };
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	pthread_t t[NTHREADS];
	struct tmsg m;
	size_t len;
	int i;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	for (i = 0; i < NTHREADS; i++) {
		s[i] = (struct shared_writer){ w, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, thread_writer,
						&s[i]), 0);
	}
	for (i = 0; i < NTHREADS * PER_THREAD; i++) {
		assert_int_equal(shmpipe_read(r, &m, sizeof(m), &len, -1), 0);
		assert_int_equal(len, sizeof(m));
		assert_true(m.thread < NTHREADS);
		assert_int_equal(m.seq, next[m.thread]);
		next[m.thread]++;
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].failures, 0);
	}
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_read(r, &m, sizeof(m), &len, -1), SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

struct blocked_call {
	struct shmpipe_reader *r;
	struct shmpipe_writer *w;
	int started;
	int result;
};

static void *block_in_read(void *arg)
{
	struct blocked_call *b = arg;
	char buf[8];
	size_t len;

	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	b->result = shmpipe_read(b->r, buf, sizeof(buf), &len, -1);
	return NULL;
}

static void *block_in_write(void *arg)
{
	struct blocked_call *b = arg;
	char buf[1000] = { 0 };

	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	while ((b->result = shmpipe_write(b->w, buf, sizeof(buf), -1)) == 0)
		;
	return NULL;
}

/* Closing a handle ends the calls blocked in it on other threads. */
static void close__wakes_own_blocked_calls(void **state)
{
	const char *n = th_pipe("cl", 4096);
	struct blocked_call b = { 0 };
	struct shmpipe_writer *w2;
	struct shmpipe_reader *r2;
	pthread_t t;

	(void)state;
	assert_int_equal(shmpipe_reader_open(n, &b.r), 0);
	assert_int_equal(shmpipe_writer_open(n, &w2), 0);
	assert_int_equal(pthread_create(&t, NULL, block_in_read, &b), 0);
	th_wait_flag(&b.started, 5000);
	th_sleep_ms(50);
	assert_int_equal(shmpipe_reader_close(b.r, 0), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_int_equal(shmpipe_writer_close(w2, 0), 0);

	n = th_pipe("cl2", 4096);
	memset(&b, 0, sizeof(b));
	assert_int_equal(shmpipe_reader_open(n, &r2), 0);
	assert_int_equal(shmpipe_writer_open(n, &b.w), 0);
	assert_int_equal(pthread_create(&t, NULL, block_in_write, &b), 0);
	th_wait_flag(&b.started, 5000);
	th_sleep_ms(50);
	assert_int_equal(shmpipe_writer_close(b.w, 0), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_int_equal(shmpipe_reader_close(r2, 0), 0);
}

static int signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(&signals_seen, 1, __ATOMIC_RELAXED);
}

/* Deliver SIGUSR1 to the process every 200 us until stopped. */
static timer_t start_storm(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
				.sigev_signo = SIGUSR1 };
	struct itimerspec its = { { 0, 200000 }, { 0, 200000 } };
	struct sigaction sa = { .sa_handler = on_signal };
	timer_t timer;

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: EINTR galore */
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
	assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
	return timer;
}

struct storm_writer {
	struct shmpipe_writer *w;
	int failures;
};

static void *storm_writer(void *arg)
{
	struct storm_writer *s = arg;
	uint32_t i;

	for (i = 0; i < 200000; i++)
		if (shmpipe_write(s->w, &i, sizeof(i), -1))
			s->failures++;
	return NULL;
}

/* Signals by the thousand: nothing lost, duplicated or reordered, and
 * timeouts keep their deadline. */
static void signals__storm(void **state)
{
	const char *n = th_pipe("storm", 4096);
	struct storm_writer s = { 0 };
	struct shmpipe_reader *r;
	timer_t timer;
	pthread_t t;
	uint32_t i, v;
	size_t len;
	double t0, dt;

	(void)state;
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_writer_open(n, &s.w), 0);
	__atomic_store_n(&signals_seen, 0, __ATOMIC_RELAXED);
	timer = start_storm();
	assert_int_equal(pthread_create(&t, NULL, storm_writer, &s), 0);
	for (i = 0; i < 200000; i++) {
		assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, -1), 0);
		assert_int_equal(v, i);
	}
	pthread_join(t, NULL);
	assert_int_equal(s.failures, 0);

	t0 = th_now_ms();
	assert_int_equal(shmpipe_read(r, &v, sizeof(v), &len, 300), -ETIMEDOUT);
	dt = th_now_ms() - t0;
	timer_delete(timer);
	signal(SIGUSR1, SIG_IGN);
	print_message("%d signals; a 300 ms read timeout took %.1f ms\n",
		      signals_seen, dt);
	assert_true(__atomic_load_n(&signals_seen, __ATOMIC_RELAXED) > 100);
	assert_true(dt >= 299);
	assert_int_equal(shmpipe_writer_close(s.w, 0), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

struct mt {
	const char *name;
	int id;
	int result;
	long count;
	uint64_t sum;
};

static void *mt_writer(void *arg)
{
	struct mt *m = arg;
	struct shmpipe_writer *w;
	uint64_t v;

	m->result = shmpipe_writer_open(m->name, &w);
	if (m->result)
		return NULL;
	for (v = 1; v <= 30000; v++) {
		uint64_t msg[3] = { (uint64_t)m->id, v, v * 31 };

		m->result = shmpipe_write(w, msg, sizeof(msg), -1);
		if (m->result)
			return NULL;
		m->sum += v;
	}
	m->result = shmpipe_writer_close(w, 0);
	return NULL;
}

static void *mt_reader(void *arg)
{
	struct mt *m = arg;
	struct shmpipe_reader *r;
	uint64_t msg[3];
	size_t len;
	int rc;

	m->result = shmpipe_reader_open(m->name, &r);
	if (m->result)
		return NULL;
	while ((rc = shmpipe_read(r, msg, sizeof(msg), &len, -1)) == 0) {
		if (len != sizeof(msg) || msg[2] != msg[1] * 31)
			m->result = -EBADMSG;
		m->sum += msg[1];
		m->count++;
	}
	if (rc != SHMPIPE_EOF)
		m->result = rc;
	shmpipe_reader_close(r, 0);
	return NULL;
}

/* Three writers and three readers, each with its own handle. */
static void handles__many_threads(void **state)
{
	const char *n = th_pipe("mt", 8192);
	struct mt w[3], r[3];
	pthread_t tw[3], tr[3];
	struct shmpipe_reader *hold;
	uint64_t wsum = 0, rsum = 0;
	long count = 0;
	int i;

	(void)state;
	/* Readers attach first, so none sees end of stream early. */
	assert_int_equal(shmpipe_reader_open(n, &hold), 0);
	for (i = 0; i < 3; i++) {
		r[i] = (struct mt){ n, i, 0, 0, 0 };
		w[i] = (struct mt){ n, i, 0, 0, 0 };
		pthread_create(&tr[i], NULL, mt_reader, &r[i]);
	}
	for (i = 0; i < 3; i++)
		pthread_create(&tw[i], NULL, mt_writer, &w[i]);
	for (i = 0; i < 3; i++) {
		pthread_join(tw[i], NULL);
		assert_int_equal(w[i].result, 0);
		wsum += w[i].sum;
	}
	assert_int_equal(shmpipe_reader_close(hold, 0), 0);
	for (i = 0; i < 3; i++) {
		pthread_join(tr[i], NULL);
		assert_int_equal(r[i].result, 0);
		rsum += r[i].sum;
		count += r[i].count;
	}
	assert_int_equal(count, 90000);
	assert_true(rsum == wsum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(handle__shared_by_threads),
		TH_TEST(close__wakes_own_blocked_calls),
		TH_TEST(signals__storm),
		TH_TEST(handles__many_threads),
	};

	return TH_RUN("threads", tests);
}
