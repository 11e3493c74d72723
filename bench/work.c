/* SPDX-License-Identifier: MIT */
/*
 * The children's side of a run: what producers and consumers do in each
 * workload.  Every process opens its end, then waits at a barrier for all
 * the others, so that setup (a ZeroMQ connection, a segment mapped) is
 * never timed; the last to arrive notes the start time.
 *
 * A producer's data run is bounded in time, not in count: a slow peer
 * and a fast one each get the same wall-clock slice.  It ends its stream
 * by closing (transports with an end of stream) or by a terminator per
 * consumer, and, for the latter, waits until every consumer has counted
 * itself done, because a terminator is an ordinary message that a
 * transport like ZeroMQ may route to a consumer that already stopped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define END_WAIT_NS	(10 * 1000000000LL)
#define MS		1000000LL

/* Process k's stake in the writers' tally. */
struct tally {
	uint64_t next[BENCH_PROCS_MAX];	/* by writer: next seq due */
	uint64_t got[BENCH_PROCS_MAX];
	uint64_t sum[BENCH_PROCS_MAX];
	uint64_t sumsq[BENCH_PROCS_MAX];
	unsigned int ended;		/* writers whose terminator came */
};

void bench_barrier(struct bench_area *a)
{
	uint32_t n = __atomic_add_fetch(&a->ready, 1, __ATOMIC_SEQ_CST);

	if (n == a->nprocs) {
		a->t_start = bench_now_ns();
		__atomic_store_n(&a->go, 1, __ATOMIC_RELEASE);
		bench_futex_wake(&a->go);
		return;
	}
	while (!__atomic_load_n(&a->go, __ATOMIC_ACQUIRE))
		bench_futex_wait(&a->go, 0, -1);
}

/* A message buffer, touched before anything is timed. */
static uint8_t *msg_buf(void)
{
	uint8_t *b = aligned_alloc(64, BENCH_MSG_MAX);

	if (b)
		memset(b, 0x5a, BENCH_MSG_MAX);
	return b;
}

static int open_end(struct bench_run *r, struct bench_chan *c, int role)
{
	int e = c->t->open(c, role);

	if (e)
		bench_fail(r->a, "%s: open: %s", c->t->name, strerror(-e));
	return e;
}

/* Read the clock about every 16 KiB sent: cheap, yet close to time. */
static uint64_t clock_mask(size_t size)
{
	uint64_t n = 1;

	while (n * size < 16384)
		n <<= 1;
	return n - 1;
}

static void consumer_done(struct bench_area *a)
{
	__atomic_add_fetch(&a->done, 1, __ATOMIC_RELEASE);
	bench_futex_wake(&a->done);
}

/* Send terminators until every consumer has ended (see the top). */
static int send_terms(struct bench_run *r, struct bench_chan *c, int writer)
{
	struct bench_area *a = r->a;
	uint32_t want = (uint32_t)r->w->readers, done;
	int need = r->w->writers > 1 ? 1 : r->w->readers, sent = 0, e;
	int64_t limit = bench_now_ns() + END_WAIT_NS, resend = 0;
	uint8_t term[8];

	bench_stamp(term, 8, BENCH_TAG_END |
		    (uint64_t)writer << BENCH_TAG_SHIFT);
	while ((done = __atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) < want) {
		if (bench_now_ns() > limit) {
			bench_fail(a, "end of stream never confirmed");
			return -ETIMEDOUT;
		}
		if (sent < need || bench_now_ns() > resend) {
			e = c->t->send(c, term, sizeof(term), 1);
			if (e && e != -EAGAIN) {
				bench_fail(a, "send end: %s", strerror(-e));
				return e;
			}
			sent += !e;
			resend = bench_now_ns() + 50 * MS;
			if (!e && sent < need)
				continue;
		}
		bench_futex_wait(&a->done, done, MS);
	}
	return 0;
}

/* The end of a producer's stream, then its close. */
static int producer_end(struct bench_run *r, struct bench_chan *c, int writer)
{
	int e = 0;

	if (!(c->t->flags & BT_EOF))
		e = send_terms(r, c, writer);
	c->t->close(c);
	return e;
}

static int tput_producer(struct bench_run *r, int k)
{
	struct bench_chan *c = &r->ch[0];
	size_t size = r->w->size;
	uint64_t wtag = (uint64_t)k << BENCH_TAG_SHIFT, seq;
	uint64_t mask = clock_mask(size);
	uint8_t *buf = msg_buf();
	int64_t deadline;
	int e;

	e = buf ? open_end(r, c, BENCH_PRODUCER) : -ENOMEM;
	bench_barrier(r->a);
	if (e)
		return 1;
	r->a->t_first[k] = bench_now_ns();
	deadline = r->a->t_first[k] + r->o->run_ns;
	for (seq = 0;; seq++) {
		if (!(seq & mask) && bench_now_ns() >= deadline)
			break;
		bench_stamp(buf, size, wtag | seq);
		e = c->t->send(c, buf, size, 0);
		if (e) {
			bench_fail(r->a, "send: %s", strerror(-e));
			return 1;
		}
	}
	r->a->sent[k] = seq;
	return producer_end(r, c, k) ? 1 : 0;
}

/* Check one message: 0 data, 1 a terminator, -1 wrong (recorded). */
static int take(struct bench_run *r, struct tally *t, const uint8_t *buf,
		size_t len)
{
	uint64_t tag, seq;
	int w;

	if (len < 8) {
		bench_fail(r->a, "a message of %zu bytes", len);
		return -1;
	}
	tag = bench_tag_of(buf);
	w = (int)((tag & ~BENCH_TAG_END) >> BENCH_TAG_SHIFT);
	seq = tag & BENCH_SEQ_MASK;
	if (w >= r->w->writers) {
		bench_fail(r->a, "a message from writer %d of %d", w,
			   r->w->writers);
		return -1;
	}
	if (tag & BENCH_TAG_END) {
		t->ended |= 1u << w;
		return 1;
	}
	if (r->w->readers == 1 ? seq != t->next[w] : seq < t->next[w]) {
		bench_fail(r->a, "writer %d: message %llu came where %llu "
			   "was due", w, (unsigned long long)seq,
			   (unsigned long long)t->next[w]);
		return -1;
	}
	if (bench_check(buf, len, r->w->size, tag)) {
		bench_fail(r->a, "writer %d: message %llu damaged or cut "
			   "(%zu bytes)", w, (unsigned long long)seq, len);
		return -1;
	}
	t->next[w] = seq + 1;
	t->got[w]++;
	t->sum[w] += seq;
	t->sumsq[w] += seq * seq;
	return 0;
}

static void tally_publish(struct bench_area *a, const struct tally *t,
			  int writers)
{
	int w;

	for (w = 0; w < writers; w++) {
		__atomic_add_fetch(&a->got[w], t->got[w], __ATOMIC_RELAXED);
		__atomic_add_fetch(&a->sum[w], t->sum[w], __ATOMIC_RELAXED);
		__atomic_add_fetch(&a->sumsq[w], t->sumsq[w],
				   __ATOMIC_RELAXED);
	}
}

static int tput_consumer(struct bench_run *r, int k)
{
	struct bench_chan *c = &r->ch[0];
	unsigned int all = (1u << r->w->writers) - 1;
	struct tally t;
	uint8_t *buf = msg_buf();
	size_t len;
	int e;

	memset(&t, 0, sizeof(t));
	e = buf ? open_end(r, c, BENCH_CONSUMER) : -ENOMEM;
	bench_barrier(r->a);
	if (e)
		return 1;
	for (;;) {
		e = c->t->recv(c, buf, BENCH_MSG_MAX, &len);
		if (e == BENCH_EOF)
			break;
		if (e) {
			bench_fail(r->a, "recv: %s", strerror(-e));
			return 1;
		}
		e = take(r, &t, buf, len);
		if (e < 0)
			return 1;
		if (e > 0 && t.ended == all)
			break;
	}
	r->a->t_end[k] = bench_now_ns();
	tally_publish(r->a, &t, r->w->writers);
	consumer_done(r->a);
	c->t->close(c);
	return 0;
}

static int rtt_open(struct bench_run *r, int client)
{
	int e = open_end(r, &r->ch[0], client ? BENCH_PRODUCER
					       : BENCH_CONSUMER);

	if (!e)
		e = open_end(r, &r->ch[1], client ? BENCH_CONSUMER
						   : BENCH_PRODUCER);
	bench_barrier(r->a);
	return e;
}

/* One round trip of message seq: 0, or -1 (recorded). */
static int rtt_once(struct bench_run *r, uint8_t *out, uint8_t *in,
		    uint64_t seq)
{
	size_t size = r->w->size, len;
	int e;

	bench_stamp(out, size, seq);
	e = r->t->send(&r->ch[0], out, size, 0);
	if (!e)
		e = r->t->recv(&r->ch[1], in, BENCH_MSG_MAX, &len);
	if (e) {
		bench_fail(r->a, "round trip: %s", e == BENCH_EOF ?
			   "end of stream" : strerror(-e));
		return -1;
	}
	if (bench_check(in, len, size, seq)) {
		bench_fail(r->a, "echo of message %llu is wrong",
			   (unsigned long long)seq);
		return -1;
	}
	return 0;
}

static int rtt_client(struct bench_run *r)
{
	uint8_t *out = msg_buf(), *in = msg_buf();
	uint64_t seq, n = 0;
	int64_t deadline, prev, now;

	if (!out || !in || rtt_open(r, 1))
		return 1;
	prev = bench_now_ns();
	deadline = prev + r->o->rtt_ns;
	for (seq = 0;; seq++) {
		if (rtt_once(r, out, in, seq))
			return 1;
		now = bench_now_ns();
		if (n < BENCH_SAMPLES_MAX)
			bench_samples[n++] = now - prev > UINT32_MAX ?
					     UINT32_MAX : (uint32_t)(now - prev);
		prev = now;
		if (now >= deadline)
			break;
	}
	r->a->nsamples = n;
	r->a->sent[0] = seq + 1;
	if (producer_end(r, &r->ch[0], 0))
		return 1;
	r->t->close(&r->ch[1]);
	return 0;
}

/* Echo every message back after checking it. */
static int rtt_server(struct bench_run *r)
{
	uint8_t *buf = msg_buf();
	uint64_t seq;
	size_t len;
	int e;

	if (!buf || rtt_open(r, 0))
		return 1;
	for (seq = 0;; seq++) {
		e = r->t->recv(&r->ch[0], buf, BENCH_MSG_MAX, &len);
		if (e == BENCH_EOF ||
		    (!e && len == 8 && (bench_tag_of(buf) & BENCH_TAG_END)))
			break;
		if (!e && bench_check(buf, len, r->w->size, seq))
			e = -EBADMSG;
		if (!e)
			e = r->t->send(&r->ch[1], buf, len, 0);
		if (e) {
			bench_fail(r->a, "echo %llu: %s",
				   (unsigned long long)seq, strerror(-e));
			return 1;
		}
	}
	consumer_done(r->a);
	r->t->close(&r->ch[0]);
	r->t->close(&r->ch[1]);
	return 0;
}

/* Fill the queue and block on it until a send fails. */
static int notice_producer(struct bench_run *r)
{
	struct bench_chan *c = &r->ch[0];
	uint8_t *buf = msg_buf();
	uint64_t i;
	int e;

	e = buf ? open_end(r, c, BENCH_PRODUCER) : -ENOMEM;
	r->a->producer_pid = getpid();
	bench_barrier(r->a);
	if (e)
		return 1;
	for (i = 0;; i++) {
		__atomic_store_n(&r->a->progress, i + 1, __ATOMIC_RELAXED);
		bench_stamp(buf, BENCH_NOTICE_SIZE, i);
		e = c->t->send(c, buf, BENCH_NOTICE_SIZE, 0);
		if (e)
			break;
	}
	r->a->t_notice = bench_now_ns();
	r->a->notice_err = e;
	c->t->close(c);
	return 0;
}

/*
 * Has the producer blocked?  Its count of sends stood still for 5 ms and
 * it sleeps: a producer caught between two sends would notice at the
 * next one, which is not what is measured.
 */
static int wait_blocked(struct bench_area *a)
{
	int64_t limit = bench_now_ns() + END_WAIT_NS;
	uint64_t last = 0, p;
	int still = 0;

	while (bench_now_ns() < limit) {
		bench_sleep_ns(MS);
		p = __atomic_load_n(&a->progress, __ATOMIC_RELAXED);
		still = p && p == last ? still + 1 : 0;
		last = p;
		if (still >= 5 && bench_proc_state(a->producer_pid) == 'S')
			return 0;
	}
	return -1;
}

/* Close (BW_CLOSE) or wait to be killed (BW_KILL) once it blocks. */
static int notice_consumer(struct bench_run *r)
{
	struct bench_chan *c = &r->ch[0];
	struct bench_area *a = r->a;

	if (open_end(r, c, BENCH_CONSUMER)) {
		bench_barrier(a);
		return 1;
	}
	bench_barrier(a);
	if (wait_blocked(a)) {
		bench_fail(a, "the producer never blocked on a full queue");
		return 1;
	}
	if (r->w->kind == BW_CLOSE) {
		a->t_close = bench_now_ns();
		c->t->close(c);
	}
	__atomic_store_n(&a->phase, 1, __ATOMIC_RELEASE);
	bench_futex_wake(&a->phase);
	for (;;)
		pause();	/* the parent ends us */
}

static int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	       1000000000 + ((int64_t)ru.ru_utime.tv_usec +
			     ru.ru_stime.tv_usec) * 1000;
}

static int idle_producer(struct bench_run *r)
{
	struct bench_chan *c = &r->ch[0];
	int e = open_end(r, c, BENCH_PRODUCER);

	bench_barrier(r->a);
	if (e)
		return 1;
	bench_sleep_ns(r->o->idle_ns);
	return producer_end(r, c, 0) ? 1 : 0;
}

/* Block in one recv on an empty queue; all its threads' CPU counts. */
static int idle_consumer(struct bench_run *r)
{
	struct bench_chan *c = &r->ch[0];
	uint8_t *buf = msg_buf();
	int64_t t0, c0;
	size_t len;
	int e;

	e = buf ? open_end(r, c, BENCH_CONSUMER) : -ENOMEM;
	bench_barrier(r->a);
	if (e)
		return 1;
	c0 = cpu_ns();
	t0 = bench_now_ns();
	e = c->t->recv(c, buf, BENCH_MSG_MAX, &len);
	r->a->cpu_ns = cpu_ns() - c0;
	r->a->idle_ns = bench_now_ns() - t0;
	if (e == 0 && (len != 8 || !(bench_tag_of(buf) & BENCH_TAG_END)))
		e = -EBADMSG;
	if (e < 0) {
		bench_fail(r->a, "idle recv: %s", strerror(-e));
		return 1;
	}
	consumer_done(r->a);
	c->t->close(c);
	return 0;
}

int bench_child(struct bench_run *r, int k)
{
	int producer = k < r->w->writers;

	if (r->w->pinned && bench_pin(r->o->cpu[producer ? 0 : 1])) {
		bench_fail(r->a, "cannot pin to CPU %d",
			   r->o->cpu[producer ? 0 : 1]);
		bench_barrier(r->a);
		return 1;
	}
	switch (r->w->kind) {
	case BW_TPUT:
	case BW_MULTI:
		return producer ? tput_producer(r, k) : tput_consumer(r, k);
	case BW_RTT:
		return producer ? rtt_client(r) : rtt_server(r);
	case BW_CLOSE:
	case BW_KILL:
		return producer ? notice_producer(r) : notice_consumer(r);
	case BW_IDLE:
		return producer ? idle_producer(r) : idle_consumer(r);
	}
	return 1;
}
