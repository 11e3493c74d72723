/* SPDX-License-Identifier: MIT */
/*
 * Looking at a pipe from outside.  The header is copied with pread, never
 * mapped, so a segment that is truncated under us cannot raise SIGBUS,
 * and nothing in it is trusted: the copy is checked like any other input.
 * A snapshot is two copies that agree on every word that moves; after a
 * bounded number of tries the answer is -EBUSY, never a wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SNAPSHOT_TRIES	100

static int copy_header(int fd, struct shmpipe_shared *h)
{
	ssize_t n = pread(fd, h, sizeof(*h), 0);

	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*h) ? 0 : -EPROTO;
}

/* The fields that move while the pipe runs, compared between copies. */
static int same_state(const struct shmpipe_shared *a,
		      const struct shmpipe_shared *b)
{
	return a->sh_head == b->sh_head && a->sh_tail == b->sh_tail &&
	       a->sh_msgs_in == b->sh_msgs_in &&
	       a->sh_msgs_out == b->sh_msgs_out &&
	       a->sh_rmask == b->sh_rmask && a->sh_wmask == b->sh_wmask &&
	       a->sh_state_seq == b->sh_state_seq &&
	       a->sh_wr_error == b->sh_wr_error &&
	       a->sh_rd_error == b->sh_rd_error;
}

static int valid_identity(const struct shmpipe_shared *h, off_t size)
{
	uint64_t cap = h->sh_capacity;

	return h->sh_magic == SHMPIPE_MAGIC &&
	       h->sh_version == SHMPIPE_LAYOUT_VERSION &&
	       h->sh_abi == shmpipe_abi_word() &&
	       h->sh_hdr_size == SHMPIPE_HDR_SIZE &&
	       h->sh_slots == SHMPIPE_SLOTS &&
	       cap >= SHMPIPE_CAPACITY_MIN && cap <= SHMPIPE_CAPACITY_MAX &&
	       !(cap & (cap - 1)) && h->sh_seg_size == SHMPIPE_HDR_SIZE + cap &&
	       (uint64_t)size == h->sh_seg_size;
}

static void count_side(const struct shmpipe_slot *slots, uint64_t mask,
		       unsigned int *alive, unsigned int *dead)
{
	for (*alive = *dead = 0; mask; mask &= mask - 1) {
		if (slots[__builtin_ctzll(mask)].sl_live.word & FUTEX_TID_BITS)
			(*alive)++;
		else
			(*dead)++;
	}
}

static void fill(struct shmpipe_stat *st, const struct shmpipe_shared *h,
		 const struct stat *fs)
{
	uint64_t used = h->sh_head - h->sh_tail;

	memset(st, 0, sizeof(*st));
	st->layout_version = h->sh_version;
	st->capacity = h->sh_capacity;
	st->max_message = h->sh_capacity - SHMPIPE_RECORD_HDR;
	st->bytes_queued = used <= h->sh_capacity ? used : h->sh_capacity;
	st->msgs_written = h->sh_msgs_in;
	st->bytes_written = h->sh_bytes_in;
	st->msgs_read = h->sh_msgs_out;
	st->bytes_read = h->sh_bytes_out;
	st->msgs_queued = h->sh_msgs_in >= h->sh_msgs_out ?
			  h->sh_msgs_in - h->sh_msgs_out : 0;
	count_side(h->sh_readers, h->sh_rmask, &st->readers, &st->readers_dead);
	count_side(h->sh_writers, h->sh_wmask, &st->writers, &st->writers_dead);
	st->write_error = h->sh_wr_error;
	st->read_error = h->sh_rd_error;
	st->reader_died = !!(h->sh_flags & SHMPIPE_F_READER_DIED);
	st->writer_died = !!(h->sh_flags & SHMPIPE_F_WRITER_DIED);
	st->close_err = h->sh_close_err;
	st->close_pid = (pid_t)h->sh_close_pid;
	st->close_ns = (long long)h->sh_close_ns;
	st->created_ns = (long long)h->sh_created_ns;
	st->creator_pid = (pid_t)h->sh_creator_pid;
	st->uid = fs->st_uid;
	st->gid = fs->st_gid;
	st->mode = fs->st_mode & 07777;

	if (h->sh_flags & SHMPIPE_F_ABORTED)
		st->state = SHMPIPE_STATE_ABORTED;
	else if (h->sh_wr_error)
		st->state = SHMPIPE_STATE_READERS_GONE;
	else if (h->sh_rd_error)
		st->state = SHMPIPE_STATE_WRITERS_GONE;
	else
		st->state = SHMPIPE_STATE_OPEN;
}

int shmpipe_stat(const char *name, struct shmpipe_stat *st)
{
	struct shmpipe_shared *a, *b;	/* 9 KiB each: not on the stack */
	char path[SHMPIPE_NAME_MAX + 16];
	struct stat fs;
	int fd, r, i;

	r = shmpipe__check_name(name);
	if (r || !st)
		return -EINVAL;
	snprintf(path, sizeof(path), "/shmpipe.%s", name);
	fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	a = malloc(2 * sizeof(*a));
	if (!a) {
		close(fd);
		return -ENOMEM;
	}
	b = a + 1;
	r = fstat(fd, &fs) < 0 ? -errno : 0;
	if (!r && (!S_ISREG(fs.st_mode) || fs.st_size < SHMPIPE_HDR_SIZE))
		r = -EPROTO;
	for (i = 0; !r && i < SNAPSHOT_TRIES; i++) {
		r = copy_header(fd, a);
		if (!r)
			r = copy_header(fd, b);
		if (!r && !valid_identity(a, fs.st_size))
			r = -EPROTO;
		if (r || same_state(a, b))
			break;
		r = i + 1 < SNAPSHOT_TRIES ? 0 : -EBUSY;
	}
	if (!r)
		fill(st, a, &fs);
	free(a);
	close(fd);
	return r;
}
