/* SPDX-License-Identifier: MIT */
/*
 * shmpipe: message pipes between processes through POSIX shared memory,
 * with Go-style close: when the reading side goes away, by close or by
 * crash, every write fails at once instead of blocking forever.
 *
 * Every call returns 0 or a negative errno value.  shmpipe_read() may also
 * return SHMPIPE_EOF.  The library prints nothing and installs no signal
 * handler.  See shmpipe(7) for the model and one page per call in section 3.
 */
#ifndef SHMPIPE_H
#define SHMPIPE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMPIPE_VERSION_MAJOR	0
#define SHMPIPE_VERSION_MINOR	1
#define SHMPIPE_VERSION_PATCH	0

/* shmpipe_read(): every writer has left cleanly and the ring is drained. */
#define SHMPIPE_EOF		1

/* Names are 1 to SHMPIPE_NAME_MAX characters of [A-Za-z0-9._-]. */
#define SHMPIPE_NAME_MAX	200

#define SHMPIPE_CAPACITY_MIN	4096UL
#define SHMPIPE_CAPACITY_MAX	(1UL << 30)
#define SHMPIPE_CAPACITY_DEFAULT (1UL << 20)
#define SHMPIPE_MODE_DEFAULT	0600

/* At most this many readers and this many writers are attached at once. */
#define SHMPIPE_ENDPOINTS_MAX	64

/*
 * Creation attributes.  A NULL pointer, or a structure filled with zeros,
 * asks for the defaults.  Reserved fields must be zero.
 */
struct shmpipe_attr {
	size_t capacity;	/* ring bytes; 0 = 1 MiB; rounded up to 2^n */
	mode_t mode;		/* permission bits; 0 = 0600; applied exactly */
	unsigned int flags;	/* SHMPIPE_ATTR_* */
	uid_t uid;		/* owner, with SHMPIPE_ATTR_UID */
	gid_t gid;		/* group, with SHMPIPE_ATTR_GID */
	unsigned int reserved[4];
};

#define SHMPIPE_ATTR_UID	0x1u	/* set the owner to attr->uid */
#define SHMPIPE_ATTR_GID	0x2u	/* set the group to attr->gid */

struct shmpipe_writer;
struct shmpipe_reader;

int shmpipe_create(const char *name, const struct shmpipe_attr *attr);
int shmpipe_unlink(const char *name);

int shmpipe_writer_open(const char *name, struct shmpipe_writer **w);
int shmpipe_reader_open(const char *name, struct shmpipe_reader **r);

/*
 * timeout_ms: -1 waits without limit, 0 never waits (-EAGAIN), a positive
 * value waits at most that many milliseconds (-ETIMEDOUT).
 */
int shmpipe_write(struct shmpipe_writer *w, const void *msg, size_t len,
		  int timeout_ms);
int shmpipe_read(struct shmpipe_reader *r, void *buf, size_t size,
		 size_t *len, int timeout_ms);

/*
 * Would a write fail now, and with what?  0, or the error every write
 * returns (readers gone or dead, pipe aborted), without writing.  For a
 * writer that is idle: a dead reader is noticed here as in a write.
 */
int shmpipe_writer_check(struct shmpipe_writer *w);

/*
 * err == 0 leaves the pipe; err > 0 (an errno value) aborts it for all.
 * EAGAIN, ETIMEDOUT, EMSGSIZE, EINVAL and ECHILD are not reasons: calls
 * return them for their own sake.
 */
int shmpipe_writer_close(struct shmpipe_writer *w, int err);
int shmpipe_reader_close(struct shmpipe_reader *r, int err);

/* Largest message of a pipe created with this capacity; 0 if invalid. */
size_t shmpipe_max_message(size_t capacity);

/* Largest message of the pipe a handle is attached to. */
size_t shmpipe_writer_max_message(const struct shmpipe_writer *w);
size_t shmpipe_reader_max_message(const struct shmpipe_reader *r);

/* shmpipe_stat() state: how far the pipe's life has gone. */
#define SHMPIPE_STATE_OPEN		0	/* writes and reads go on */
#define SHMPIPE_STATE_WRITERS_GONE	1	/* every writer left: drain */
#define SHMPIPE_STATE_READERS_GONE	2	/* every reader left: writes fail */
#define SHMPIPE_STATE_ABORTED		3	/* closed with a reason */

/*
 * A snapshot of a pipe, read without attaching, without taking its lock
 * and without trusting the segment.  Needs only read permission.
 */
struct shmpipe_stat {
	unsigned int layout_version;
	int state;			/* SHMPIPE_STATE_* */
	size_t capacity;		/* ring bytes */
	size_t max_message;
	size_t bytes_queued;		/* ring bytes in use */
	unsigned long long msgs_queued;
	unsigned long long msgs_written, bytes_written;
	unsigned long long msgs_read, bytes_read;
	unsigned int readers, writers;	/* attached, process alive */
	unsigned int readers_dead, writers_dead; /* attached, process gone */
	int write_error;		/* what writes return now, or 0 */
	int read_error;			/* what a read of empty returns, or 0 */
	int reader_died, writer_died;	/* an endpoint of that side died */
	int close_err;			/* the abort reason, or 0 */
	pid_t close_pid;		/* who aborted */
	long long close_ns;		/* when, CLOCK_REALTIME nanoseconds */
	long long created_ns;
	pid_t creator_pid;
	uid_t uid;			/* the segment file's owner, group, mode */
	gid_t gid;
	mode_t mode;
	unsigned int reserved[8];
};

/* -ENOENT, -EACCES, -EPROTO (not a valid pipe), -EBUSY (no snapshot). */
int shmpipe_stat(const char *name, struct shmpipe_stat *st);

/* "MAJOR.MINOR.PATCH" of the library that is running. */
const char *shmpipe_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMPIPE_H */
