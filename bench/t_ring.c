/* SPDX-License-Identifier: MIT */
/*
 * The reference: the least a shared-memory ring must do to pass messages
 * between one producer and one consumer, as a measure of what the
 * hardware allows.  No locks, no liveness, no checks of the indexes, no
 * close; the same record format as shmpipe (an 8-byte length, the body
 * padded to 8) and the same 1 MiB, so the two differ only in what shmpipe
 * adds for safety.
 *
 * Ordering.  head is stored only by the producer, tail only by the
 * consumer, each on its own cache line.  The producer copies a record in,
 * then publishes it with a release store of head; the consumer's acquire
 * load of head sees the whole record.  The consumer copies the body out,
 * then frees the space with a release store of tail, which the
 * producer's acquire load of tail orders before its next copy.  Each side
 * keeps a private copy of the other's index and reloads it only when the
 * copy says the ring is full (producer) or empty (consumer).
 *
 * Sleeping.  A side that finds nothing to do spins a little, then raises
 * its flag (rsleep or wsleep), fences, looks once more, and sleeps on its
 * sequence word.  The other side, after each publish, fences and looks at
 * the flag; with both fences sequentially consistent one of the two sees
 * the other's store, so no wakeup is lost.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define RING_SPIN	256	/* pauses before sleeping, as shmpipe */
#define RING_CAP	BENCH_QUEUE_BYTES
#define RING_TERM	(~0ULL)	/* length word of the end of stream */

struct ring_shared {
	_Alignas(64) uint64_t head;
	_Alignas(64) uint64_t tail;
	_Alignas(64) uint32_t data_seq;	/* the consumer sleeps on it */
	uint32_t rsleep;
	_Alignas(64) uint32_t space_seq;	/* the producer sleeps on it */
	uint32_t wsleep;
	_Alignas(64) uint8_t data[];
};

struct ring_end {
	struct ring_shared *s;
	uint64_t peer;		/* last tail (producer) or head (consumer) */
};

static inline uint64_t rec_size(uint64_t len)
{
	return 8 + ((len + 7) & ~7ULL);
}

static const char *ring_skip(const struct bench_chan_cfg *cfg)
{
	if (cfg->readers > 1 || cfg->writers > 1)
		return "n/a: one producer, one consumer";
	if (cfg->msg_size > RING_CAP - 8)
		return "message larger than the ring";
	return NULL;
}

static int ring_setup(struct bench_chan *c)
{
	c->mem_size = sizeof(struct ring_shared) + RING_CAP;
	c->mem = bench_map_shared(c->mem_size);
	return c->mem ? 0 : -ENOMEM;
}

static int ring_open(struct bench_chan *c, int role)
{
	struct ring_end *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->s = c->mem;
	c->role = role;
	c->priv = e;
	return 0;
}

/* Wake the other side if it asked to be woken. */
static inline void ring_notify(uint32_t *flag, uint32_t *seq)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(flag, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

static inline int ring_room(struct ring_end *e, uint64_t head, uint64_t need)
{
	if (head + need - e->peer <= RING_CAP)
		return 1;
	e->peer = __atomic_load_n(&e->s->tail, __ATOMIC_ACQUIRE);
	return head + need - e->peer <= RING_CAP;
}

static inline int ring_data(struct ring_end *e, uint64_t tail)
{
	if (e->peer != tail)
		return 1;
	e->peer = __atomic_load_n(&e->s->head, __ATOMIC_ACQUIRE);
	return e->peer != tail;
}

/* Spin, then sleep on seq until there is room (producer) or data. */
static void ring_wait(struct ring_end *e, uint64_t idx, uint64_t need,
		      uint32_t *flag, uint32_t *seq)
{
	int producer = flag == &e->s->wsleep, i;
	uint32_t v;

	for (i = 0; i < RING_SPIN; i++) {
		if (producer ? ring_room(e, idx, need) : ring_data(e, idx))
			return;
		__builtin_ia32_pause();
	}
	for (;;) {
		v = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (producer ? ring_room(e, idx, need) : ring_data(e, idx))
			return;
		syscall(SYS_futex, seq, FUTEX_WAIT, v, NULL, NULL, 0);
	}
}

static void ring_copy_in(struct ring_shared *s, uint64_t off, const void *src,
			 size_t len)
{
	size_t first = RING_CAP - off;

	if (len <= first) {
		memcpy(s->data + off, src, len);
		return;
	}
	memcpy(s->data + off, src, first);
	memcpy(s->data, (const uint8_t *)src + first, len - first);
}

static void ring_copy_out(struct ring_shared *s, uint64_t off, void *dst,
			  size_t len)
{
	size_t first = RING_CAP - off;

	if (len <= first) {
		memcpy(dst, s->data + off, len);
		return;
	}
	memcpy(dst, s->data + off, first);
	memcpy((uint8_t *)dst + first, s->data, len - first);
}

static int ring_put(struct bench_chan *c, const void *msg, uint64_t len,
		    int nowait)
{
	struct ring_end *e = c->priv;
	struct ring_shared *s = e->s;
	uint64_t head = s->head, need = rec_size(len == RING_TERM ? 0 : len);

	if (!ring_room(e, head, need)) {
		if (nowait)
			return -EAGAIN;
		ring_wait(e, head, need, &s->wsleep, &s->space_seq);
	}
	memcpy(s->data + (head & (RING_CAP - 1)), &len, 8);
	if (len != RING_TERM)
		ring_copy_in(s, (head + 8) & (RING_CAP - 1), msg, len);
	/* Publish: pairs with the acquire of head in ring_data(). */
	__atomic_store_n(&s->head, head + need, __ATOMIC_RELEASE);
	ring_notify(&s->rsleep, &s->data_seq);
	return 0;
}

static int ring_send(struct bench_chan *c, const void *msg, size_t len,
		     int nowait)
{
	return ring_put(c, msg, len, nowait);
}

static int ring_recv(struct bench_chan *c, void *buf, size_t size,
		     size_t *lenp)
{
	struct ring_end *e = c->priv;
	struct ring_shared *s = e->s;
	uint64_t tail = s->tail, len;

	if (!ring_data(e, tail))
		ring_wait(e, tail, 0, &s->rsleep, &s->data_seq);
	memcpy(&len, s->data + (tail & (RING_CAP - 1)), 8);
	if (len == RING_TERM)
		return BENCH_EOF;	/* left in place: the end stays */
	if (len > size)
		return -EMSGSIZE;
	ring_copy_out(s, (tail + 8) & (RING_CAP - 1), buf, len);
	/* Free the space: pairs with the acquire of tail in ring_room(). */
	__atomic_store_n(&s->tail, tail + rec_size(len), __ATOMIC_RELEASE);
	ring_notify(&s->wsleep, &s->space_seq);
	*lenp = len;
	return 0;
}

/* The producer's close is a record that says so. */
static void ring_close(struct bench_chan *c)
{
	if (!c->priv)
		return;
	if (c->role == BENCH_PRODUCER)
		ring_put(c, NULL, RING_TERM, 0);
	free(c->priv);
	c->priv = NULL;
}

static void ring_parent_close(struct bench_chan *c)
{
	(void)c;
}

static void ring_teardown(struct bench_chan *c)
{
	if (c->mem)
		munmap(c->mem, c->mem_size);
	c->mem = NULL;
}

static void ring_scrub(const struct bench_chan *c)
{
	(void)c;	/* anonymous memory: nothing has a name */
}

static const char *ring_version(void)
{
	return "-";
}

const struct bench_transport bt_ring = {
	.name = "ring",
	.title = "ref. ring",
	.flags = BT_EOF | BT_NO_NOTICE,
	.skip = ring_skip,
	.setup = ring_setup,
	.open = ring_open,
	.send = ring_send,
	.recv = ring_recv,
	.close = ring_close,
	.parent_close = ring_parent_close,
	.teardown = ring_teardown,
	.scrub = ring_scrub,
	.version = ring_version,
};
