/* SPDX-License-Identifier: MIT */
/*
 * The shared segment of a pipe.  This is a file format: fixed-width fields,
 * offsets instead of pointers, a magic and a layout version, and every
 * field's writer named.  docs/design.md explains the whole; this file is
 * the reference for byte positions.
 *
 * Fields of the mapping carry the prefix sh_ (header) or sl_ (slot), so
 * every access to shared memory stands out in the code.
 *
 * Guards: "ctl" is the control lock (a robust futex), "wlock" and "rlock"
 * the writer- and reader-side locks (words owned by endpoints).  "once"
 * means written by the creator before the segment gets its name, never
 * again.
 */
#ifndef SHMPIPE_LAYOUT_H
#define SHMPIPE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define SHMPIPE_MAGIC		0x3165706970686d73ULL	/* "shmpipe1" */
#define SHMPIPE_LAYOUT_VERSION	3
#define SHMPIPE_SLOTS		64	/* per side: one bit each in a mask */
#define SHMPIPE_CACHELINE	64
#define SHMPIPE_RECORD_HDR	8	/* u32 length, u32 zero */
#define SHMPIPE_HDR_SIZE	16384	/* header + slots; the ring follows */

/*
 * A lock word: a robust futex (see robust.c).  Zero is free; otherwise
 * the low 30 bits are the thread id of the owning process's keeper,
 * FUTEX_OWNER_DIED says the kernel found the owner dead, FUTEX_WAITERS
 * that someone sleeps on the word.  The kernel's robust-list links are
 * kept in each process's private memory, never here, so nothing a peer
 * writes in the segment can steer another process's writes.  The word
 * sits at the start of a 40-byte field.
 */
struct shmpipe_lock {
	uint32_t word;
	uint8_t pad[36];
};

/*
 * A side lock (sh_wlock, sh_rlock) serializes the endpoints of one side.
 * It belongs to an endpoint, not to a thread: the word names the owner's
 * slot and the low bits of its sl_token.  An owner whose slot is no longer
 * attached under that token, or whose process died (its live word has no
 * owner), has abandoned the lock, and the next locker takes it over.
 * Threads waiting for it set their endpoint's bit in sh_wwait or sh_rwait,
 * which the unlocker reads after it has cleared the word (sync.c).
 */
#define SHMPIPE_SIDE_SLOT_MASK	0x7fu		/* slot index + 1 */
#define SHMPIPE_SIDE_TOKEN_SHIFT 7
#define SHMPIPE_SIDE_TOKEN_MASK	0xffffffu	/* low 24 bits of sl_token */

/*
 * One attached endpoint.  A slot is in use when its bit is set in
 * sh_rmask or sh_wmask.  sl_live is a lock word held by the attached
 * process for as long as the endpoint is open: when that process dies,
 * the kernel marks the word FUTEX_OWNER_DIED and wakes one waiter.  All other fields are written under ctl at attach.
 */
struct shmpipe_slot {
	struct shmpipe_lock sl_live;
	uint32_t sl_pid;		/* ctl: attaching process */
	uint32_t sl_token;		/* ctl: bumped at every attach */
	uint64_t sl_start;		/* ctl: process start, clock ticks */
	uint64_t sl_since_ns;		/* ctl: CLOCK_REALTIME of attach */
};

/* sh_flags: sticky facts about the pipe's history, written under ctl. */
#define SHMPIPE_F_READER_SEEN	0x01u	/* a reader has attached */
#define SHMPIPE_F_WRITER_SEEN	0x02u	/* a writer has attached */
#define SHMPIPE_F_READER_DIED	0x04u	/* a reader died attached */
#define SHMPIPE_F_WRITER_DIED	0x08u	/* a writer died attached */
#define SHMPIPE_F_ABORTED	0x10u	/* closed with a reason */

/* sh_close_role */
#define SHMPIPE_ROLE_READER	1
#define SHMPIPE_ROLE_WRITER	2

struct shmpipe_shared {
	/* line 0: identity, once.  sh_magic is stored last, with release. */
	uint64_t sh_magic;
	uint32_t sh_version;		/* SHMPIPE_LAYOUT_VERSION */
	uint32_t sh_abi;		/* shmpipe_abi_word() of the creator */
	uint64_t sh_capacity;		/* ring bytes, a power of two */
	uint64_t sh_seg_size;		/* SHMPIPE_HDR_SIZE + capacity */
	uint32_t sh_hdr_size;		/* SHMPIPE_HDR_SIZE */
	uint32_t sh_slots;		/* SHMPIPE_SLOTS */
	uint64_t sh_created_ns;		/* CLOCK_REALTIME */
	uint32_t sh_creator_pid;
	uint32_t sh_creator_uid;
	uint8_t sh_pad0[8];

	/* line 1: the pipe's state, written under ctl, read by everyone. */
	int32_t sh_wr_error;		/* nonzero: what every write returns */
	int32_t sh_rd_error;		/* nonzero: what a read of empty returns */
	uint64_t sh_rmask;		/* attached reader slots */
	uint64_t sh_wmask;		/* attached writer slots */
	uint32_t sh_flags;		/* SHMPIPE_F_* */
	int32_t sh_close_err;		/* first abort reason, or 0 */
	uint32_t sh_close_pid;		/* who aborted */
	uint32_t sh_close_role;		/* SHMPIPE_ROLE_* of who aborted */
	uint64_t sh_close_ns;		/* CLOCK_REALTIME of the abort */
	uint64_t sh_state_seq;		/* bumped at every state change */
	uint32_t sh_strict;		/* ctl: nonzero for good once an
					 * endpoint without asymmetric
					 * fences attached (ring.c) */
	uint32_t sh_pad1;

	/* line 2: control lock and its counters. */
	struct shmpipe_lock sh_ctl;
	uint64_t sh_recoveries;		/* ctl: dead lock owners repaired */
	uint64_t sh_reaped;		/* ctl: dead endpoints removed */
	uint8_t sh_pad2[8];

	/* line 3: writer side, touched by writers only. */
	uint32_t sh_wlock;		/* side lock of the writers */
	uint32_t sh_pad3a;
	uint64_t sh_msgs_in;		/* wlock: messages committed */
	uint64_t sh_bytes_in;		/* wlock: payload bytes committed */
	uint64_t sh_wtimeouts;		/* wlock: writes that timed out */
	uint64_t sh_wwait;		/* slots with a thread waiting for
					 * wlock (bit i: writer slot i) */
	uint8_t sh_pad3[24];

	/* line 4: write index, written by the wlock holder, read by readers. */
	uint64_t sh_head;
	uint8_t sh_pad4[56];

	/* line 5: reader side, touched by readers only. */
	uint32_t sh_rlock;		/* side lock of the readers */
	uint32_t sh_pad5a;
	uint64_t sh_msgs_out;		/* rlock: messages consumed */
	uint64_t sh_bytes_out;		/* rlock: payload bytes consumed */
	uint64_t sh_rtimeouts;		/* rlock: reads that timed out */
	uint64_t sh_rwait;		/* slots with a thread waiting for
					 * rlock (bit i: reader slot i) */
	uint8_t sh_pad5[24];

	/* line 6: read index, written by the rlock holder, read by writers. */
	uint64_t sh_tail;
	uint8_t sh_pad6[56];

	/*
	 * line 7: readers waiting for data.  A reader sets sh_rsleep before
	 * it sleeps on sh_data_seq; a writer that finds it set clears it,
	 * bumps sh_data_seq and wakes every sleeper.
	 */
	uint32_t sh_data_seq;
	uint32_t sh_rsleep;
	uint64_t sh_rwakeups;		/* wakeup calls made for readers */
	uint8_t sh_pad7[48];

	/* line 8: writers waiting for space, the mirror of line 7. */
	uint32_t sh_space_seq;
	uint32_t sh_wsleep;
	uint64_t sh_wwakeups;
	uint8_t sh_pad8[48];

	uint8_t sh_pad9[SHMPIPE_CACHELINE * 7];

	/* from 1024: the slots, readers first. */
	struct shmpipe_slot sh_readers[SHMPIPE_SLOTS];
	struct shmpipe_slot sh_writers[SHMPIPE_SLOTS];
};

_Static_assert(sizeof(struct shmpipe_lock) == 40, "lock size");
_Static_assert(sizeof(struct shmpipe_slot) == 64, "slot size");
_Static_assert(offsetof(struct shmpipe_shared, sh_wr_error) == 64, "line 1");
_Static_assert(offsetof(struct shmpipe_shared, sh_ctl) == 128, "line 2");
_Static_assert(offsetof(struct shmpipe_shared, sh_wlock) == 192, "line 3");
_Static_assert(offsetof(struct shmpipe_shared, sh_head) == 256, "line 4");
_Static_assert(offsetof(struct shmpipe_shared, sh_rlock) == 320, "line 5");
_Static_assert(offsetof(struct shmpipe_shared, sh_tail) == 384, "line 6");
_Static_assert(offsetof(struct shmpipe_shared, sh_data_seq) == 448, "line 7");
_Static_assert(offsetof(struct shmpipe_shared, sh_space_seq) == 512, "line 8");
_Static_assert(offsetof(struct shmpipe_shared, sh_readers) == 1024, "slots");
_Static_assert(sizeof(struct shmpipe_shared) == 1024 + 2 * 64 * 64, "size");
_Static_assert(sizeof(struct shmpipe_shared) <= SHMPIPE_HDR_SIZE, "header");

/*
 * What must match between the creator and an opener beyond the layout
 * version: pointer width, byte order, and the size of a lock field.
 */
static inline uint32_t shmpipe_abi_word(void)
{
	uint32_t little = 1;

	return (uint32_t)sizeof(void *) |
	       (uint32_t)sizeof(struct shmpipe_lock) << 8 |
	       (uint32_t)(*(uint8_t *)&little) << 16;
}

#endif /* SHMPIPE_LAYOUT_H */
