/* SPDX-License-Identifier: MIT */
/*
 * The ring: writing and reading messages.
 *
 * Ordering contract.  The ring is a byte array of sh_capacity bytes (a
 * power of two) with two free-running 64-bit indexes: sh_head, stored
 * only by the holder of wlock, and sh_tail, stored only by the holder of
 * rlock.  A record is an 8-byte header (the length as a u32, then a zero
 * u32) at an 8-aligned offset, then the body, padded to 8; a body may
 * wrap past the end of the array, a header never does.  A writer copies
 * header and body in, then publishes with a release store of sh_head; a
 * reader's acquire load of sh_head therefore sees the whole record.  The
 * reader copies the body out, then frees the space with a release store
 * of sh_tail; the writer's acquire load of sh_tail orders its next copy
 * after the reader's.  Neither index is trusted: a value that does not
 * fit the capacity makes the call fail with -EPROTO.  So does a segment
 * that shrank under the mapping (segment.c, e_broken).
 *
 * Sleeping (see sync.c) is a store-then-load on each side: a reader
 * stores sh_rsleep = 1, then loads sh_head; a writer stores sh_head, then
 * loads sh_rsleep.  At least one side must see the other's store, or a
 * reader would sleep on a message it was not told about.  That takes a
 * full fence between the store and the load on both sides.  The sleeper
 * always pays for its own (a sequentially consistent store).  The writer
 * pays in a strict pipe only (a sequentially consistent store of
 * sh_head); in a pipe that is not strict it stores sh_head with a plain
 * release store, and the sleeper, after its own store and before its
 * last look, makes every running thread of the pipe's processes pass a
 * fence with membarrier(), which orders the writer's store and load as
 * a fence of its own would have.  Writers waiting for space mirror this
 * with sh_tail and sh_wsleep.  So the hot path has one locked
 * instruction per call, the side lock's; a sleep costs one system call
 * more.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "crash.h"
#include "internal.h"

/* Spin this many rounds before sleeping: a peer that answers within a
 * few microseconds is met without a system call.  Then yield the CPU a
 * few times: when both ends share one CPU, the peer can only answer once
 * this side lets it run, and a yield costs far less than a sleep. */
#define SPIN_ROUNDS	64
#define YIELD_ROUNDS	16

static inline void spin_or_yield(int round)
{
	if (round < SPIN_ROUNDS)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static inline uint64_t record_size(uint64_t len)
{
	return SHMPIPE_RECORD_HDR + ((len + 7) & ~7ULL);
}

static void copy_in(struct shmpipe__end *e, uint64_t off, const void *src,
		    size_t len)
{
	size_t first = e->e_cap - off;

	if (!len)
		return;		/* src may be NULL */
	if (len <= first) {
		memcpy(e->e_ring + off, src, len);
		return;
	}
	memcpy(e->e_ring + off, src, first);
	memcpy(e->e_ring, (const uint8_t *)src + first, len - first);
}

static void copy_out(struct shmpipe__end *e, uint64_t off, void *dst,
		     size_t len)
{
	size_t first = e->e_cap - off;

	if (!len)
		return;		/* dst may be NULL */
	if (len <= first) {
		memcpy(dst, e->e_ring + off, len);
		return;
	}
	memcpy(dst, e->e_ring + off, first);
	memcpy((uint8_t *)dst + first, e->e_ring, len - first);
}

/* Publish a moved index: the first half of a store-then-load pair. */
static inline void publish(struct shmpipe__end *e, uint64_t *index,
			   uint64_t v)
{
	if (shmpipe__strict(e))
		sh_store_sc(index, v);
	else
		sh_store_release(index, v);
}

/* Announce a sleep, then fence the others before the last look. */
static inline void announce_sleep(struct shmpipe__end *e, uint32_t *flag)
{
	sh_store_sc(flag, 1);
	shmpipe__fence_others(e);
}

static inline int broken(const struct shmpipe__end *e)
{
	return __atomic_load_n(&e->e_broken, __ATOMIC_ACQUIRE);
}

/* Wake the other side's sleepers if any asked to be woken. */
static inline void notify(uint32_t *sleeping, uint32_t *seq, uint64_t *count)
{
	if (sh_load_sc(sleeping) && __atomic_exchange_n(sleeping, 0,
						      __ATOMIC_SEQ_CST)) {
		shmpipe__wake(seq);
		sh_add(count, 1);
	}
}

/*
 * The state words come from the segment: anything but 0, the end of
 * stream (reads only) or a negative errno is garbage, and says so.
 */
static int state_word(int32_t *word, int eof_ok)
{
	int v = sh_load_acquire(word);

	if (v == 0 || (v < 0 && v >= -4095) || (eof_ok && v == SHMPIPE_EOF))
		return v;
	return -EPROTO;
}

/*
 * What stops a writer: the pipe's write error, a reader found dead (then
 * reaped, and the state read again), or its own handle closing.
 */
static int writer_check(struct shmpipe__end *e,
			struct shmpipe__deadline *dl)
{
	int err = state_word(&e->e_sh->sh_wr_error, 0);

	if (broken(e))
		return -EPROTO;
	if (!err && !shmpipe__peers_alive(e)) {
		err = shmpipe__reap(e, dl);
		if (!err)
			err = state_word(&e->e_sh->sh_wr_error, 0);
	}
	if (!err && shmpipe__closing(e))
		err = -EPIPE;
	return err;
}

/* Is there room for need bytes?  Refreshes the cached tail. */
static int has_room(struct shmpipe__end *e, uint64_t head, uint64_t need,
		    int *bad)
{
	uint64_t tail;

	if (head - e->e_peer <= e->e_cap - need)
		return 1;
	tail = sh_load_sc(&e->e_sh->sh_tail);
	if (head - tail > e->e_cap || (tail & 7)) {
		*bad = 1;
		return 0;
	}
	e->e_peer = tail;
	return head - tail <= e->e_cap - need;
}

/*
 * Wait for room.  Spins briefly, then sleeps on sh_space_seq after
 * announcing itself in sh_wsleep, looking again in between.
 */
static int wait_room(struct shmpipe__end *e, uint64_t need,
		     struct shmpipe__deadline *dl)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint64_t head = sh_load(&sh->sh_head);
	int bad = 0, i, r;
	uint32_t seq;

	for (i = 0; i < SPIN_ROUNDS + YIELD_ROUNDS; i++) {
		if (has_room(e, head, need, &bad) || bad)
			return bad ? -EPROTO : 0;
		spin_or_yield(i);
	}
	for (;;) {
		seq = sh_load_acquire(&sh->sh_space_seq);
		announce_sleep(e, &sh->sh_wsleep);
		if (has_room(e, head, need, &bad) || bad)
			return bad ? -EPROTO : 0;
		r = writer_check(e, dl);
		if (r)
			return r;
		r = shmpipe__sleep(e, &sh->sh_space_seq, seq, dl, 1, NULL);
		if (r)
			return r;
	}
}

static int write_locked(struct shmpipe__end *e, const void *msg, size_t len,
			struct shmpipe__deadline *dl)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint64_t need = record_size(len), head, off;
	int bad = 0, r;

	for (;;) {
		r = writer_check(e, dl);
		if (r)
			return r;
		head = sh_load(&sh->sh_head);
		if (head & 7)
			return -EPROTO;
		if (has_room(e, head, need, &bad))
			break;
		if (bad)
			return -EPROTO;
		if (dl->ms == 0)
			return -EAGAIN;
		r = wait_room(e, need, dl);
		if (r == -ETIMEDOUT)
			sh_add(&sh->sh_wtimeouts, 1);
		if (r)
			return r;
	}

	off = head & e->e_mask;
	*(uint64_t *)(e->e_ring + off) = (uint64_t)len;
	SHMPIPE_CRASH("write.copy");
	copy_in(e, (off + SHMPIPE_RECORD_HDR) & e->e_mask, msg, len);
	SHMPIPE_CRASH("write.publish");
	/* Publish: pairs with the load of sh_head in has_data(). */
	publish(e, &sh->sh_head, head + need);
	SHMPIPE_CRASH("write.published");
	sh_store(&sh->sh_msgs_in, sh_load(&sh->sh_msgs_in) + 1);
	sh_store(&sh->sh_bytes_in, sh_load(&sh->sh_bytes_in) + len);
	notify(&sh->sh_rsleep, &sh->sh_data_seq, &sh->sh_rwakeups);
	return 0;
}

int shmpipe_write(struct shmpipe_writer *w, const void *msg, size_t len,
		  int timeout_ms)
{
	struct shmpipe__deadline dl = { .ms = timeout_ms };
	struct shmpipe__end *e;
	int r;

	if (timeout_ms < -1 || (!msg && len))
		return -EINVAL;
	e = shmpipe__enter(w, SHMPIPE_ROLE_WRITER, &r);
	if (!e)
		return r;
	if (len > e->e_cap - SHMPIPE_RECORD_HDR) {
		r = -EMSGSIZE;
		goto out;
	}
	r = shmpipe__lock(e, LK_WRITE, &dl, writer_check);
	if (r)
		goto out;
	SHMPIPE_CRASH("write.locked");
	r = write_locked(e, msg, len, &dl);
	shmpipe__unlock(e, LK_WRITE);
out:
	if (broken(e))
		r = -EPROTO;
	shmpipe__leave(e);
	return r;
}

/*
 * What ends a reader's wait on an empty ring: the pipe's read error (the
 * caller still drains what is left), a writer found dead, or its own
 * handle closing.
 */
static int reader_check(struct shmpipe__end *e,
			struct shmpipe__deadline *dl)
{
	int err = state_word(&e->e_sh->sh_rd_error, 1);

	if (broken(e))
		return -EPROTO;
	if (!err && !shmpipe__peers_alive(e)) {
		err = shmpipe__reap(e, dl);
		if (!err)
			err = state_word(&e->e_sh->sh_rd_error, 1);
	}
	if (!err && shmpipe__closing(e))
		err = -EPIPE;
	return err;
}

/* What ends a reader's wait for the read lock: its handle closing. */
static int closing_check(struct shmpipe__end *e,
			 struct shmpipe__deadline *dl)
{
	(void)dl;
	if (broken(e))
		return -EPROTO;
	return shmpipe__closing(e) ? -EPIPE : 0;
}

/* Is a record there?  Refreshes the cached head; -EPROTO if it is wild. */
static int has_data(struct shmpipe__end *e, uint64_t tail)
{
	uint64_t head = e->e_peer;

	/* The cached head may lag behind a tail moved by other readers. */
	if (head - tail - 1 < e->e_cap)
		return 1;
	head = sh_load_sc(&e->e_sh->sh_head);
	if (head - tail > e->e_cap || (head & 7))
		return -EPROTO;
	e->e_peer = head;
	return head != tail;
}

static int wait_data(struct shmpipe__end *e, uint64_t tail,
		     struct shmpipe__deadline *dl)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint32_t seq;
	int i, r;

	for (i = 0; i < SPIN_ROUNDS + YIELD_ROUNDS; i++) {
		r = has_data(e, tail);
		if (r)
			return r < 0 ? r : 0;
		spin_or_yield(i);
	}
	for (;;) {
		seq = sh_load_acquire(&sh->sh_data_seq);
		announce_sleep(e, &sh->sh_rsleep);
		r = has_data(e, tail);
		if (r)
			return r < 0 ? r : 0;
		r = reader_check(e, dl);
		if (r)
			return 0;	/* the caller sorts it out */
		r = shmpipe__sleep(e, &sh->sh_data_seq, seq, dl, 1, NULL);
		if (r)
			return r;
	}
}

/* Take the record at tail, which has_data() found: 0 or -errno. */
static int take(struct shmpipe__end *e, uint64_t tail, void *buf, size_t size,
		size_t *lenp)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint64_t off = tail & e->e_mask, len, need;

	len = __atomic_load_n((uint32_t *)(e->e_ring + off), __ATOMIC_RELAXED);
	need = record_size(len);
	if (need > e->e_peer - tail)
		return -EPROTO;
	*lenp = (size_t)len;
	if (len > size)
		return -EMSGSIZE;
	SHMPIPE_CRASH("read.copy");
	copy_out(e, (off + SHMPIPE_RECORD_HDR) & e->e_mask, buf, (size_t)len);
	SHMPIPE_CRASH("read.consume");
	/* Free the space: pairs with the load of sh_tail in has_room(). */
	publish(e, &sh->sh_tail, tail + need);
	SHMPIPE_CRASH("read.consumed");
	sh_store(&sh->sh_msgs_out, sh_load(&sh->sh_msgs_out) + 1);
	sh_store(&sh->sh_bytes_out, sh_load(&sh->sh_bytes_out) + len);
	notify(&sh->sh_wsleep, &sh->sh_space_seq, &sh->sh_wwakeups);
	return 0;
}

static int read_locked(struct shmpipe__end *e, void *buf, size_t size,
		       size_t *lenp, struct shmpipe__deadline *dl)
{
	struct shmpipe_shared *sh = e->e_sh;
	uint64_t tail;
	int r;

	for (;;) {
		tail = sh_load(&sh->sh_tail);
		if (tail & 7)
			return -EPROTO;
		r = has_data(e, tail);
		if (r > 0)
			return take(e, tail, buf, size, lenp);
		if (r < 0)
			return r;

		/* Empty.  A finished write side is final only once the
		 * ring is seen empty after the error was seen. */
		r = reader_check(e, dl);
		if (r) {
			if (has_data(e, tail))
				continue;
			return r;
		}
		if (dl->ms == 0)
			return -EAGAIN;
		r = wait_data(e, tail, dl);
		if (r == -ETIMEDOUT)
			sh_add(&sh->sh_rtimeouts, 1);
		if (r)
			return r;
	}
}

int shmpipe_read(struct shmpipe_reader *rd, void *buf, size_t size,
		 size_t *len, int timeout_ms)
{
	struct shmpipe__deadline dl = { .ms = timeout_ms };
	struct shmpipe__end *e;
	int r;

	if (timeout_ms < -1 || !len || (!buf && size))
		return -EINVAL;
	e = shmpipe__enter(rd, SHMPIPE_ROLE_READER, &r);
	if (!e)
		return r;
	r = shmpipe__lock(e, LK_READ, &dl, closing_check);
	if (!r) {
		SHMPIPE_CRASH("read.locked");
		r = read_locked(e, buf, size, len, &dl);
		shmpipe__unlock(e, LK_READ);
	}
	if (broken(e))
		r = -EPROTO;
	shmpipe__leave(e);
	return r;
}

int shmpipe_writer_check(struct shmpipe_writer *w)
{
	struct shmpipe__end *e;
	int r;

	e = shmpipe__enter(w, SHMPIPE_ROLE_WRITER, &r);
	if (!e)
		return r;
	r = writer_check(e, NULL);
	shmpipe__leave(e);
	return r;
}

size_t shmpipe_writer_max_message(const struct shmpipe_writer *w)
{
	struct shmpipe__end *e;
	size_t max;
	int r;

	e = shmpipe__enter(w, SHMPIPE_ROLE_WRITER, &r);
	if (!e)
		return 0;
	max = e->e_cap - SHMPIPE_RECORD_HDR;
	shmpipe__leave(e);
	return max;
}

size_t shmpipe_reader_max_message(const struct shmpipe_reader *rd)
{
	struct shmpipe__end *e;
	size_t max;
	int r;

	e = shmpipe__enter(rd, SHMPIPE_ROLE_READER, &r);
	if (!e)
		return 0;
	max = e->e_cap - SHMPIPE_RECORD_HDR;
	shmpipe__leave(e);
	return max;
}
