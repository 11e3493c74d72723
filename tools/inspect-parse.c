/* SPDX-License-Identifier: MIT */
/*
 * Reading one copy of a header.  The copy is input like any other: every
 * field is checked before it is believed, and the first thing wrong ends
 * the parse with a verdict and a one-line reason.  Nothing here makes a
 * system call or depends on the clock, so a fuzzer can drive it with
 * arbitrary bytes and a file size of its choosing.
 *
 * Two facts about the copy shape the checks.  pread copies the header in
 * address order, and every writer of the library stores a field before
 * the field that announces it at a lower address (a slot before the mask
 * bit, a mask before the state word, a counter after its index), so each
 * invariant below holds in a copy taken at any instant, not only at rest.
 * The exceptions are the ring's two indexes, which move independently:
 * their distance is checked only when two copies agreed on them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "inspect.h"

#define TID_BITS		0x3fffffffu
#define OWNER_DIED_BIT		0x40000000u
#define WAITERS_BIT		0x80000000u
#define PID_LIMIT		4194304u	/* the kernel's PID_MAX_LIMIT */

#define KNOWN_FLAGS	(SHMPIPE_F_READER_SEEN | SHMPIPE_F_WRITER_SEEN | \
			 SHMPIPE_F_READER_DIED | SHMPIPE_F_WRITER_DIED | \
			 SHMPIPE_F_ABORTED)

#define FIELD_SIZE(f)	sizeof(((struct shmpipe_shared *)0)->f)
#define PAD(f)		{ offsetof(struct shmpipe_shared, f), FIELD_SIZE(f) }

/*
 * Bytes no library version of this layout writes: the creator's file
 * starts as zeros, so anything else there is damage.  A field added to
 * the layout later leaves this table and gets its own check.
 */
static const struct {
	size_t off, len;
} reserved[] = {
	PAD(sh_pad0), PAD(sh_pad1), PAD(sh_pad2), PAD(sh_pad3a), PAD(sh_pad3),
	PAD(sh_pad4), PAD(sh_pad5a), PAD(sh_pad5), PAD(sh_pad6),
	PAD(sh_pad7), PAD(sh_pad8), PAD(sh_pad9),
	{ sizeof(struct shmpipe_shared),
	  SHMPIPE_HDR_SIZE - sizeof(struct shmpipe_shared) },
};

static int fail(char *why, size_t n, int verdict, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t n, int verdict, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (n)
		vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return verdict;
}

static int pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Magic, format and sizes: is this one of ours, and one we can read? */
static int check_identity(const struct shmpipe_shared *h, size_t len,
			  uint64_t file_size, char *why, size_t n)
{
	uint64_t cap = h->sh_capacity;

	if (len < sizeof(h->sh_magic))
		return fail(why, n, INS_FOREIGN, "not a shmpipe segment: "
			    "%zu bytes", len);
	if (h->sh_magic == __builtin_bswap64(SHMPIPE_MAGIC))
		return fail(why, n, INS_UNSUPPORTED,
			    "created on a machine of the other byte order");
	if (h->sh_magic != SHMPIPE_MAGIC)
		return fail(why, n, INS_FOREIGN, "not a shmpipe segment: "
			    "magic %#llx", (unsigned long long)h->sh_magic);
	if (len < SHMPIPE_CACHELINE)
		return fail(why, n, INS_DAMAGED, "truncated: %llu bytes",
			    (unsigned long long)file_size);
	if (h->sh_version != SHMPIPE_LAYOUT_VERSION)
		return fail(why, n, INS_UNSUPPORTED, "layout version %u, this "
			    "tool reads version %u", h->sh_version,
			    SHMPIPE_LAYOUT_VERSION);
	if (h->sh_abi != shmpipe_abi_word())
		return fail(why, n, INS_UNSUPPORTED, "made by a process of "
			    "another ABI: word %#x, ours %#x", h->sh_abi,
			    shmpipe_abi_word());
	if (h->sh_hdr_size != SHMPIPE_HDR_SIZE || h->sh_slots != SHMPIPE_SLOTS)
		return fail(why, n, INS_DAMAGED, "header size %u or slots %u "
			    "wrong", h->sh_hdr_size, h->sh_slots);
	if (cap < SHMPIPE_CAPACITY_MIN || cap > SHMPIPE_CAPACITY_MAX ||
	    !pow2(cap))
		return fail(why, n, INS_DAMAGED, "capacity %llu is not a power "
			    "of two in range", (unsigned long long)cap);
	if (h->sh_seg_size != SHMPIPE_HDR_SIZE + cap)
		return fail(why, n, INS_DAMAGED, "segment size %llu does not "
			    "match capacity %llu",
			    (unsigned long long)h->sh_seg_size,
			    (unsigned long long)cap);
	return 0;
}

static int check_size(const struct shmpipe_shared *h, size_t len,
		      uint64_t file_size, char *why, size_t n)
{
	if (file_size < h->sh_seg_size)
		return fail(why, n, INS_DAMAGED, "truncated: %llu bytes, the "
			    "header says %llu", (unsigned long long)file_size,
			    (unsigned long long)h->sh_seg_size);
	if (len < SHMPIPE_HDR_SIZE)
		return fail(why, n, INS_DAMAGED, "truncated while read: %zu "
			    "bytes", len);
	if (file_size > h->sh_seg_size)
		return fail(why, n, INS_DAMAGED, "%llu bytes, the header says "
			    "%llu", (unsigned long long)file_size,
			    (unsigned long long)h->sh_seg_size);
	return 0;
}

static int check_reserved(const uint8_t *buf, char *why, size_t n)
{
	size_t i, j;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		size_t end = reserved[i].off + reserved[i].len;

		for (j = reserved[i].off; j < end; j++)
			if (buf[j])
				return fail(why, n, INS_DAMAGED, "reserved "
					    "byte at offset %zu is %#x", j,
					    buf[j]);
	}
	return 0;
}

/*
 * A lock word of the mapping (layout.h): zero when free, else the owner's
 * thread id in the low 30 bits and the kernel's two flags above it.  A
 * thread id beyond the kernel's limit is no owner anyone could be; the
 * library would wait on it for ever.  The 36 bytes after the word are
 * unused and ignored, as the library ignores them.
 */
static int check_lock(uint32_t word, size_t off, char *why, size_t n)
{
	if ((word & TID_BITS) > PID_LIMIT)
		return fail(why, n, INS_DAMAGED, "lock at offset %zu: owner "
			    "%#x is not a thread id", off, word);
	return 0;
}

static int check_locks(const struct shmpipe_shared *h, char *why, size_t n)
{
	int i, r;

	r = check_lock(h->sh_ctl.word, offsetof(struct shmpipe_shared, sh_ctl),
		       why, n);
	for (i = 0; !r && i < 2 * SHMPIPE_SLOTS; i++) {
		const struct shmpipe_slot *sl = i < SHMPIPE_SLOTS ?
			&h->sh_readers[i] : &h->sh_writers[i - SHMPIPE_SLOTS];

		r = check_lock(sl->sl_live.word,
			       (size_t)((const uint8_t *)sl -
					(const uint8_t *)h), why, n);
	}
	return r;
}

/* What writes return: set once the readers are gone, or by an abort. */
static int valid_wr_error(const struct shmpipe_shared *h)
{
	int32_t e = h->sh_wr_error;
	uint32_t f = h->sh_flags;

	if (!e)
		return 1;
	if ((f & SHMPIPE_F_ABORTED) && e == -h->sh_close_err)
		return 1;
	if (h->sh_rmask)	/* once gone, readers may not come back */
		return 0;
	if (e == -EPIPE)
		return !!(f & SHMPIPE_F_READER_SEEN);
	return e == -ECONNRESET && (f & SHMPIPE_F_READER_DIED);
}

/* What a read of an empty ring returns, the mirror of valid_wr_error. */
static int valid_rd_error(const struct shmpipe_shared *h)
{
	int32_t e = h->sh_rd_error;
	uint32_t f = h->sh_flags;

	if (!e)
		return 1;
	if ((f & SHMPIPE_F_ABORTED) && e == -h->sh_close_err)
		return 1;
	if (h->sh_wmask)
		return 0;
	if (e == SHMPIPE_EOF)
		return !!(f & SHMPIPE_F_WRITER_SEEN);
	return e == -ECONNRESET && (f & SHMPIPE_F_WRITER_DIED);
}

/* The record of an abort is all there, or all zero. */
static int valid_close(const struct shmpipe_shared *h)
{
	if (!(h->sh_flags & SHMPIPE_F_ABORTED))
		return !h->sh_close_err && !h->sh_close_pid &&
		       !h->sh_close_role && !h->sh_close_ns;
	return h->sh_close_err > 0 && h->sh_close_err <= 4095 &&
	       h->sh_close_pid && h->sh_close_pid <= PID_LIMIT &&
	       (h->sh_close_role == SHMPIPE_ROLE_READER ||
		h->sh_close_role == SHMPIPE_ROLE_WRITER);
}

/* Flags are sticky facts: each one implies the ones it came after. */
static int valid_flags(const struct shmpipe_shared *h)
{
	uint32_t f = h->sh_flags;

	if (f & ~KNOWN_FLAGS)
		return 0;
	if ((f & SHMPIPE_F_READER_DIED) && !(f & SHMPIPE_F_READER_SEEN))
		return 0;
	if ((f & SHMPIPE_F_WRITER_DIED) && !(f & SHMPIPE_F_WRITER_SEEN))
		return 0;
	if (h->sh_rmask && !(f & SHMPIPE_F_READER_SEEN))
		return 0;
	return !h->sh_wmask || (f & SHMPIPE_F_WRITER_SEEN);
}

static int check_state(const struct shmpipe_shared *h, char *why, size_t n)
{
	if (!h->sh_creator_pid || h->sh_creator_pid > PID_LIMIT)
		return fail(why, n, INS_DAMAGED, "creator pid %u",
			    h->sh_creator_pid);
	if (!valid_flags(h))
		return fail(why, n, INS_DAMAGED, "flags %#x do not fit the "
			    "attached endpoints", h->sh_flags);
	if (!valid_close(h))
		return fail(why, n, INS_DAMAGED, "close record inconsistent: "
			    "error %d, pid %u, role %u", h->sh_close_err,
			    h->sh_close_pid, h->sh_close_role);
	if (!valid_wr_error(h) || !valid_rd_error(h))
		return fail(why, n, INS_DAMAGED, "state words %d/%d do not fit "
			    "flags %#x", h->sh_wr_error, h->sh_rd_error,
			    h->sh_flags);
	if (h->sh_rsleep > 1 || h->sh_wsleep > 1)
		return fail(why, n, INS_DAMAGED, "sleep flags %u/%u",
			    h->sh_rsleep, h->sh_wsleep);
	return 0;
}

/*
 * The attached endpoints of one side.  The kernel's word decides death
 * first: a live lock with no owner was orphaned by its process's exit.
 * The probe later asks /proc about the rest.
 */
static int read_side(struct ins_pipe *p, int role, char *why, size_t n)
{
	const struct shmpipe_slot *slots = role == SHMPIPE_ROLE_READER ?
		p->sh.sh_readers : p->sh.sh_writers;
	uint64_t m = role == SHMPIPE_ROLE_READER ? p->sh.sh_rmask :
		     p->sh.sh_wmask;

	for (; m; m &= m - 1) {
		int i = __builtin_ctzll(m);
		const struct shmpipe_slot *sl = &slots[i];
		struct ins_end *e = &p->ends[p->nends++];

		if (!sl->sl_pid || sl->sl_pid > PID_LIMIT || !sl->sl_token)
			return fail(why, n, INS_DAMAGED, "%s slot %d: pid %u, "
				    "token %u", role == SHMPIPE_ROLE_READER ?
				    "reader" : "writer", i, sl->sl_pid,
				    sl->sl_token);
		e->role = role;
		e->slot = i;
		e->pid = sl->sl_pid;
		e->token = sl->sl_token;
		e->start = sl->sl_start;
		e->since_ns = sl->sl_since_ns;
		e->word = sl->sl_live.word;
		e->life = (e->word & TID_BITS) ? INS_ALIVE : INS_DEAD;
		if (e->life == INS_DEAD)
			e->death = (e->word & OWNER_DIED_BIT) ?
				   INS_DEATH_KERNEL : INS_DEATH_RELEASED;
		if (e->since_ns > p->last_change_ns)
			p->last_change_ns = e->since_ns;
	}
	return 0;
}

/* a + b * c <= limit, without overflow. */
static int fits(uint64_t a, uint64_t b, uint64_t c, uint64_t limit)
{
	uint64_t bc, sum;

	if (__builtin_mul_overflow(b, c, &bc) ||
	    __builtin_add_overflow(a, bc, &sum))
		return 0;
	return sum <= limit;
}

/* Messages queued, by the counters, fit the bytes queued by the indexes. */
static int balanced(const struct shmpipe_shared *h, uint64_t slack)
{
	uint64_t in = h->sh_msgs_in, out = h->sh_msgs_out;

	if (out > in)
		return out - in <= slack;
	return fits(0, in - out, SHMPIPE_RECORD_HDR,
		    h->sh_head - h->sh_tail + slack * SHMPIPE_RECORD_HDR);
}

/*
 * Indexes and counters.  A record is 8 bytes of header and the body, so
 * the bytes and messages counted on a side never exceed that side's
 * index, give or take the one message whose counters the holder of the
 * side lock has not stored yet.  The distance between head and tail,
 * and the balance of messages, are checked only on a settled copy.
 */
static int check_traffic(struct ins_pipe *p, int moving, char *why, size_t n)
{
	const struct shmpipe_shared *h = &p->sh;
	uint64_t cap = h->sh_capacity, slack;

	if ((h->sh_head | h->sh_tail) & 7)
		return fail(why, n, INS_DAMAGED, "ring index not aligned: "
			    "head %#llx, tail %#llx",
			    (unsigned long long)h->sh_head,
			    (unsigned long long)h->sh_tail);
	if (!fits(h->sh_bytes_in, h->sh_msgs_in, SHMPIPE_RECORD_HDR,
		  h->sh_head + SHMPIPE_RECORD_HDR + cap) ||
	    !fits(h->sh_bytes_out, h->sh_msgs_out, SHMPIPE_RECORD_HDR,
		  h->sh_tail + SHMPIPE_RECORD_HDR + cap))
		return fail(why, n, INS_DAMAGED, "counters exceed the ring "
			    "indexes");
	if (moving)
		return 0;
	if (h->sh_head - h->sh_tail > cap)
		return fail(why, n, INS_DAMAGED, "head %llu and tail %llu are "
			    "more than the capacity apart",
			    (unsigned long long)h->sh_head,
			    (unsigned long long)h->sh_tail);

	/* Each endpoint that died between storing an index and its counter
	 * leaves the counts one message apart for good. */
	slack = 2 + (uint64_t)p->nends + (h->sh_recoveries & 0xffffffff) +
		(h->sh_reaped & 0xffffffff);
	if (!balanced(h, slack))
		return fail(why, n, INS_DAMAGED, "%llu messages written and "
			    "%llu read do not fit the ring",
			    (unsigned long long)h->sh_msgs_in,
			    (unsigned long long)h->sh_msgs_out);
	return 0;
}

/*
 * What the control lock's word says: the owner's thread id (the keeper
 * thread of the owning process) while held; once the kernel found the
 * owner dead, FUTEX_OWNER_DIED and no thread id, until the next locker
 * repairs the pipe and takes it.  FUTEX_WAITERS: someone sleeps on it.
 */
static void decode_lock(struct ins_lock *lk, const char *name, uint32_t word)
{
	memset(lk, 0, sizeof(*lk));
	lk->name = name;
	lk->word = word;
	lk->tid = word & TID_BITS;
	lk->waiters = !!(word & WAITERS_BIT);
	if (lk->tid)
		lk->state = INS_LK_HELD;
	else if (word & OWNER_DIED_BIT)
		lk->state = INS_LK_OWNER_DIED;
	else
		lk->state = INS_LK_FREE;
}

/*
 * A side lock is a word naming its owner endpoint (layout.h): held while
 * that slot is attached under the word's token and its process lives,
 * abandoned otherwise (the next locker takes it over).  Its waiters are
 * not in the word but in a mask of the side's slots (sh_wwait, sh_rwait),
 * each bit an endpoint with a thread waiting for the lock.  A bit may
 * outlive its endpoint for a moment (a reaper clears the slot's mask bit
 * first), so the slots named need not be attached.
 */
static void decode_side_lock(struct ins_lock *lk, const char *name,
			     uint32_t word, const struct shmpipe_slot *slots,
			     uint64_t mask, uint64_t waiting, int role)
{
	uint32_t idx = (word & SHMPIPE_SIDE_SLOT_MASK) - 1;
	const struct shmpipe_slot *sl = idx < SHMPIPE_SLOTS ? &slots[idx] :
				       NULL;

	memset(lk, 0, sizeof(*lk));
	lk->name = name;
	lk->word = word;
	lk->role = role;
	lk->wait_mask = waiting;
	lk->waiters = waiting != 0;
	if (!word) {
		lk->state = INS_LK_FREE;
		return;
	}
	if (sl && (mask & (1ULL << idx)) &&
	    !((sl->sl_token ^ (word >> SHMPIPE_SIDE_TOKEN_SHIFT)) &
	      SHMPIPE_SIDE_TOKEN_MASK) && (sl->sl_live.word & TID_BITS)) {
		lk->state = INS_LK_HELD;
		lk->pid = (int32_t)sl->sl_pid;
		return;
	}
	lk->state = INS_LK_OWNER_DIED;
	lk->pid = sl ? (int32_t)sl->sl_pid : 0;
}

/* Figures for display, from a copy that passed every check. */
static void derive(struct ins_pipe *p, int moving)
{
	const struct shmpipe_shared *h = &p->sh;
	int64_t used = (int64_t)(h->sh_head - h->sh_tail);
	uint64_t msgs = h->sh_msgs_in - h->sh_msgs_out;

	p->moving = moving;
	if (used < 0)
		used = 0;	/* a moving copy saw the tail pass */
	p->queued_bytes = (uint64_t)used < h->sh_capacity ? (uint64_t)used :
			  h->sh_capacity;
	if (h->sh_msgs_out > h->sh_msgs_in)
		msgs = 0;
	if (msgs > p->queued_bytes / SHMPIPE_RECORD_HDR)
		msgs = p->queued_bytes / SHMPIPE_RECORD_HDR;
	p->queued_msgs = msgs;
	p->free_bytes = h->sh_capacity - p->queued_bytes;
	p->max_message = h->sh_capacity - SHMPIPE_RECORD_HDR;
	if (h->sh_created_ns > p->last_change_ns)
		p->last_change_ns = h->sh_created_ns;
	if (h->sh_close_ns > p->last_change_ns)
		p->last_change_ns = h->sh_close_ns;
	p->last_write_ns = INS_UNKNOWN_NS;
	p->last_read_ns = INS_UNKNOWN_NS;
	decode_lock(&p->locks[0], "control", h->sh_ctl.word);
	decode_side_lock(&p->locks[1], "write", h->sh_wlock, h->sh_writers,
			 h->sh_wmask, h->sh_wwait, SHMPIPE_ROLE_WRITER);
	decode_side_lock(&p->locks[2], "read", h->sh_rlock, h->sh_readers,
			 h->sh_rmask, h->sh_rwait, SHMPIPE_ROLE_READER);
}

/*
 * Parse len bytes copied from the start of a file of file_size bytes.
 * moving: the ring's indexes moved between two copies, so their distance
 * is not checked.  Returns an enum ins_verdict; anything but INS_VALID
 * leaves the reason in why.
 */
int ins_parse(const void *buf, size_t len, uint64_t file_size, int moving,
	      struct ins_pipe *p, char *why, size_t why_size)
{
	int r;

	memset(p, 0, sizeof(*p));
	memcpy(&p->sh, buf, len < sizeof(p->sh) ? len : sizeof(p->sh));
	p->file_size = file_size;
	if (why_size)
		why[0] = '\0';

	r = check_identity(&p->sh, len, file_size, why, why_size);
	if (!r)
		r = check_size(&p->sh, len, file_size, why, why_size);
	if (!r)
		r = check_reserved(buf, why, why_size);
	if (!r)
		r = check_locks(&p->sh, why, why_size);
	if (!r)
		r = check_state(&p->sh, why, why_size);
	if (!r)
		r = read_side(p, SHMPIPE_ROLE_READER, why, why_size);
	if (!r)
		r = read_side(p, SHMPIPE_ROLE_WRITER, why, why_size);
	if (!r)
		r = check_traffic(p, moving, why, why_size);
	if (!r)
		derive(p, moving);
	return r;
}

/* Two copies agree on everything that says what the pipe is and who is
 * in it: identity, state, recovery counters, attached slots. */
int ins_same_state(const struct shmpipe_shared *a,
		   const struct shmpipe_shared *b)
{
	size_t state_end = offsetof(struct shmpipe_shared, sh_ctl);
	uint64_t m;
	int i;

	if (memcmp(a, b, state_end) || a->sh_recoveries != b->sh_recoveries ||
	    a->sh_reaped != b->sh_reaped)
		return 0;
	for (i = 0; i < 2; i++) {
		const struct shmpipe_slot *sa = i ? a->sh_writers :
						    a->sh_readers;
		const struct shmpipe_slot *sb = i ? b->sh_writers :
						    b->sh_readers;

		for (m = i ? a->sh_wmask : a->sh_rmask; m; m &= m - 1) {
			int s = __builtin_ctzll(m);

			if (memcmp(&sa[s].sl_pid, &sb[s].sl_pid,
				   sizeof(sa[s]) - sizeof(sa[s].sl_live)) ||
			    !(sa[s].sl_live.word & TID_BITS) !=
			    !(sb[s].sl_live.word & TID_BITS))
				return 0;
		}
	}
	return 1;
}

/* Two copies agree on the ring's indexes and every traffic counter. */
int ins_same_traffic(const struct shmpipe_shared *a,
		     const struct shmpipe_shared *b)
{
	return a->sh_head == b->sh_head && a->sh_tail == b->sh_tail &&
	       a->sh_msgs_in == b->sh_msgs_in &&
	       a->sh_bytes_in == b->sh_bytes_in &&
	       a->sh_msgs_out == b->sh_msgs_out &&
	       a->sh_bytes_out == b->sh_bytes_out;
}
