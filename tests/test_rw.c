/* SPDX-License-Identifier: MIT */
/*
 * shmpipe_write and shmpipe_read in one process: framing, sizes,
 * wrap-around, timeouts, argument checking, endpoint limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct pair {
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
};

static void open_pair(const char *n, struct pair *p)
{
	assert_int_equal(shmpipe_writer_open(n, &p->w), 0);
	assert_int_equal(shmpipe_reader_open(n, &p->r), 0);
}

static void close_pair(struct pair *p)
{
	assert_int_equal(shmpipe_writer_close(p->w, 0), 0);
	assert_int_equal(shmpipe_reader_close(p->r, 0), 0);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void write__read_one(void **state)
{
	struct pair p;
	char buf[64];
	size_t len = 99;

	(void)state;
	open_pair(th_pipe("one", 4096), &p);
	assert_int_equal(shmpipe_write(p.w, "hello", 5, 0), 0);
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), -EAGAIN);
	close_pair(&p);
}

/* A zero-length message is a message, not end of stream. */
static void write__zero_length(void **state)
{
	struct pair p;
	size_t len = 99;
	char buf[8];

	(void)state;
	open_pair(th_pipe("zero", 4096), &p);
	assert_int_equal(shmpipe_write(p.w, NULL, 0, 0), 0);
	assert_int_equal(shmpipe_write(p.w, "", 0, 0), 0);
	assert_int_equal(shmpipe_read(p.r, NULL, 0, &len, 0), 0);
	assert_int_equal(len, 0);
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(len, 0);
	assert_int_equal(shmpipe_writer_close(p.w, 0), 0);
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(p.r, 0), 0);
}

static void write__too_big(void **state)
{
	size_t max = shmpipe_max_message(4096), len;
	uint8_t *big = calloc(1, max + 1);
	struct pair p;

	(void)state;
	open_pair(th_pipe("big", 4096), &p);
	assert_int_equal(shmpipe_write(p.w, big, max + 1, 0), -EMSGSIZE);
	assert_int_equal(shmpipe_read(p.r, big, max, &len, 0), -EAGAIN);
	fill_pattern(big, max, 3);
	assert_int_equal(shmpipe_write(p.w, big, max, 0), 0);
	memset(big, 0, max);
	assert_int_equal(shmpipe_read(p.r, big, max, &len, 0), 0);
	assert_int_equal(len, max);
	assert_int_equal(big[max - 1], (uint8_t)(3 * 131 + (max - 1) * 7 +
						  ((max - 1) >> 8)));
	close_pair(&p);
	free(big);
}

/* A buffer too small: -EMSGSIZE, the size needed, message kept. */
static void read__buffer_too_small(void **state)
{
	struct pair p;
	char buf[16];
	size_t len = 0;

	(void)state;
	open_pair(th_pipe("small", 4096), &p);
	assert_int_equal(shmpipe_write(p.w, "0123456789", 10, 0), 0);
	assert_int_equal(shmpipe_read(p.r, buf, 4, &len, 0), -EMSGSIZE);
	assert_int_equal(len, 10);
	assert_int_equal(shmpipe_read(p.r, NULL, 0, &len, 0), -EMSGSIZE);
	assert_int_equal(len, 10);
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "0123456789", 10);
	close_pair(&p);
}

/*
 * Every size from 0 to a few hundred bytes through a small ring, so that
 * records and bodies land on every offset, wrapping at the end.
 */
static void ring__wraps_at_every_offset(void **state)
{
	uint8_t out[600], in[600];
	unsigned int sent = 0, got = 0;
	struct pair p;
	size_t len;

	(void)state;
	open_pair(th_pipe("wrap", 4096), &p);
	while (sent < 20000) {
		/* Queue up a few messages of varied size, then drain. */
		do {
			fill_pattern(out, (sent * 37) % 600, sent);
			if (shmpipe_write(p.w, out, (sent * 37) % 600, 0))
				break;
			sent++;
		} while (sent % 5);
		while (got < sent) {
			assert_int_equal(shmpipe_read(p.r, in, sizeof(in),
						      &len, 0), 0);
			assert_int_equal(len, (got * 37) % 600);
			fill_pattern(out, len, got);
			assert_memory_equal(in, out, len);
			got++;
		}
	}
	assert_int_equal(shmpipe_read(p.r, in, sizeof(in), &len, 0), -EAGAIN);
	close_pair(&p);
}

/* Fill the ring, then drain it: order and contents hold. */
static void ring__fill_and_drain(void **state)
{
	uint8_t buf[100];
	unsigned int sent = 0, got = 0;
	struct pair p;
	size_t len;

	(void)state;
	open_pair(th_pipe("fill", 4096), &p);
	for (;;) {
		fill_pattern(buf, sizeof(buf), sent);
		int r = shmpipe_write(p.w, buf, 1 + sent % 100, 0);

		if (r == -EAGAIN)
			break;
		assert_int_equal(r, 0);
		sent++;
	}
	assert_true(sent >= 4096 / 112);
	for (got = 0; got < sent; got++) {
		uint8_t want[100];

		assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), 0);
		assert_int_equal(len, 1 + got % 100);
		fill_pattern(want, sizeof(want), got);
		assert_memory_equal(buf, want, len);
	}
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 0), -EAGAIN);
	close_pair(&p);
}

static void timeout__read_empty(void **state)
{
	struct pair p;
	char buf[8];
	size_t len;
	double t0, dt;

	(void)state;
	open_pair(th_pipe("tmo", 4096), &p);
	t0 = th_now_ms();
	assert_int_equal(shmpipe_read(p.r, buf, sizeof(buf), &len, 120),
			 -ETIMEDOUT);
	dt = th_now_ms() - t0;
	print_message("read timeout 120 ms took %.1f ms\n", dt);
	assert_true(dt >= 119);
	close_pair(&p);
}

static void timeout__write_full(void **state)
{
	uint8_t buf[1000] = { 0 };
	struct pair p;
	double t0, dt;

	(void)state;
	open_pair(th_pipe("tmo", 4096), &p);
	while (shmpipe_write(p.w, buf, sizeof(buf), 0) == 0)
		;
	assert_int_equal(shmpipe_write(p.w, buf, sizeof(buf), 0), -EAGAIN);
	t0 = th_now_ms();
	assert_int_equal(shmpipe_write(p.w, buf, sizeof(buf), 80), -ETIMEDOUT);
	dt = th_now_ms() - t0;
	print_message("write timeout 80 ms took %.1f ms\n", dt);
	assert_true(dt >= 79);
	close_pair(&p);
}

static void args__invalid(void **state)
{
	struct pair p;
	char buf[8];
	size_t len;

	(void)state;
	open_pair(th_pipe("args", 4096), &p);
	assert_int_equal(shmpipe_write(NULL, "x", 1, 0), -EINVAL);
	assert_int_equal(shmpipe_write(p.w, NULL, 1, 0), -EINVAL);
	assert_int_equal(shmpipe_write(p.w, "x", 1, -2), -EINVAL);
	assert_int_equal(shmpipe_write(p.w, "x", 1, -1000), -EINVAL);
	assert_int_equal(shmpipe_write(p.w, "x", (size_t)-1, 0), -EMSGSIZE);
	assert_int_equal(shmpipe_read(NULL, buf, 8, &len, 0), -EINVAL);
	assert_int_equal(shmpipe_read(p.r, buf, 8, NULL, 0), -EINVAL);
	assert_int_equal(shmpipe_read(p.r, NULL, 8, &len, 0), -EINVAL);
	assert_int_equal(shmpipe_read(p.r, buf, 8, &len, -5), -EINVAL);
	/* A handle of the other role, or a forged one. */
	assert_int_equal(shmpipe_write((struct shmpipe_writer *)p.r, "x", 1, 0),
			 -EINVAL);
	assert_int_equal(shmpipe_read((struct shmpipe_reader *)p.w, buf, 8,
				      &len, 0), -EINVAL);
	assert_int_equal(shmpipe_write((struct shmpipe_writer *)buf, "x", 1, 0),
			 -EINVAL);
	assert_int_equal(shmpipe_writer_close(p.w, -1), -EINVAL);
	assert_int_equal(shmpipe_reader_close(p.r, 5000), -EINVAL);
	assert_int_equal(shmpipe_writer_close(NULL, 0), -EINVAL);
	assert_int_equal(shmpipe_reader_close(NULL, 0), -EINVAL);
	assert_int_equal(shmpipe_writer_max_message(NULL), 0);
	close_pair(&p);
}

/* A closed handle, and the handle that reuses its place, stay apart. */
static void handle__use_after_close(void **state)
{
	const char *n = th_pipe("uac", 4096);
	struct shmpipe_writer *w, *w2;
	struct shmpipe_reader *r;
	char buf[8];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_write(w, "x", 1, 0), -EINVAL);
	assert_int_equal(shmpipe_writer_close(w, 0), -EINVAL);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	assert_int_equal(shmpipe_read(r, buf, 8, &len, 0), -EINVAL);

	n = th_pipe("uac2", 4096);
	assert_int_equal(shmpipe_writer_open(n, &w2), 0);
	assert_true(w2 != w);
	assert_int_equal(shmpipe_write(w, "x", 1, 0), -EINVAL);
	assert_int_equal(shmpipe_write(w2, "x", 1, 0), 0);
	assert_int_equal(shmpipe_writer_close(w2, 0), 0);
}

/* Up to SHMPIPE_ENDPOINTS_MAX of each side; one more is -EUSERS. */
static void endpoints__limit(void **state)
{
	struct shmpipe_writer *w[SHMPIPE_ENDPOINTS_MAX + 1];
	struct shmpipe_reader *r[SHMPIPE_ENDPOINTS_MAX + 1];
	const char *n = th_pipe("many", 4096);
	char buf[8];
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < SHMPIPE_ENDPOINTS_MAX; i++) {
		assert_int_equal(shmpipe_writer_open(n, &w[i]), 0);
		assert_int_equal(shmpipe_reader_open(n, &r[i]), 0);
	}
	assert_int_equal(shmpipe_writer_open(n, &w[i]), -EUSERS);
	assert_int_equal(shmpipe_reader_open(n, &r[i]), -EUSERS);
	for (i = 0; i < SHMPIPE_ENDPOINTS_MAX; i++)
		assert_int_equal(shmpipe_write(w[i], &i, sizeof(i), 0), 0);
	for (i = 0; i < SHMPIPE_ENDPOINTS_MAX; i++) {
		int v;

		assert_int_equal(shmpipe_read(r[(i * 7) % SHMPIPE_ENDPOINTS_MAX],
					      &v, sizeof(v), &len, 0), 0);
		assert_int_equal(v, i);
	}
	/* A slot freed by close is reused. */
	assert_int_equal(shmpipe_writer_close(w[5], 0), 0);
	assert_int_equal(shmpipe_writer_open(n, &w[5]), 0);
	for (i = 0; i < SHMPIPE_ENDPOINTS_MAX; i++) {
		assert_int_equal(shmpipe_writer_close(w[i], 0), 0);
		assert_int_equal(shmpipe_reader_close(r[i], 0), 0);
	}
	(void)buf;
}

/* Writers may write before any reader exists; the messages wait. */
static void write__before_reader(void **state)
{
	const char *n = th_pipe("early", 4096);
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	char buf[8];
	size_t len;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_write(w, "abc", 3, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0), 0);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(shmpipe_read(r, buf, sizeof(buf), &len, 0),
			 SHMPIPE_EOF);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
}

static void stat__counts(void **state)
{
	const char *n = th_pipe("stat", 8192);
	struct shmpipe_stat st;
	struct pair p;

	(void)state;
	assert_int_equal(shmpipe_stat(n, &st), 0);
	assert_int_equal(st.capacity, 8192);
	assert_int_equal(st.state, SHMPIPE_STATE_OPEN);
	assert_int_equal(st.readers + st.writers, 0);
	open_pair(n, &p);
	assert_int_equal(shmpipe_write(p.w, "12345", 5, 0), 0);
	assert_int_equal(shmpipe_write(p.w, "1", 1, 0), 0);
	assert_int_equal(shmpipe_stat(n, &st), 0);
	assert_int_equal(st.readers, 1);
	assert_int_equal(st.writers, 1);
	assert_int_equal(st.msgs_queued, 2);
	assert_int_equal(st.bytes_queued, 32);
	assert_int_equal(st.bytes_written, 6);
	assert_int_equal(st.mode, 0600);
	close_pair(&p);
	assert_int_equal(shmpipe_stat(n, &st), 0);
	assert_int_equal(st.state, SHMPIPE_STATE_READERS_GONE);
	assert_int_equal(st.write_error, -EPIPE);
	assert_int_equal(shmpipe_stat("no-such-pipe-here", &st), -ENOENT);
	assert_int_equal(shmpipe_stat(n, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(write__read_one),
		TH_TEST(write__zero_length),
		TH_TEST(write__too_big),
		TH_TEST(read__buffer_too_small),
		TH_TEST(ring__wraps_at_every_offset),
		TH_TEST(ring__fill_and_drain),
		TH_TEST(timeout__read_empty),
		TH_TEST(timeout__write_full),
		TH_TEST(args__invalid),
		TH_TEST(handle__use_after_close),
		TH_TEST(endpoints__limit),
		TH_TEST(write__before_reader),
		TH_TEST(stat__counts),
	};

	return TH_RUN("read and write", tests);
}
