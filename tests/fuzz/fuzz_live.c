/* SPDX-License-Identifier: MIT */
/*
 * Fuzz a live pipe: a writer and a reader at work while a hostile view of
 * the same segment scribbles on its header, slots and ring.
 *
 * The input is a program of operations: write, read, poke eight bytes
 * anywhere in the segment, shrink or regrow the segment (ftruncate),
 * close and reopen an endpoint, take a snapshot.  Whatever the segment holds, every call must return 0, end
 * of stream or a negative errno (a hostile peer may abort the pipe with
 * any reason, so any errno is possible), a read must never report more
 * bytes than the buffer holds, every call must end (libFuzzer's timeout
 * catches a hang), and nothing may touch memory outside the mapping
 * (ASan, and the mapping's own bounds, catch that).
 *
 * Built two ways: with libFuzzer (make fuzz), and with the replay driver
 * below, which runs every file of tests/fuzz/corpus under make check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmpipe.h"
#include "layout.h"

#define CAP		4096
#define SEG_SIZE	(SHMPIPE_HDR_SIZE + CAP)
#define BUF_MAX		5000

struct cursor {
	const uint8_t *p;
	size_t left;
};

static unsigned int take(struct cursor *c, int bytes)
{
	unsigned int v = 0;

	while (bytes-- > 0 && c->left) {
		v = v << 8 | *c->p++;
		c->left--;
	}
	return v;
}

static int documented(int r)
{
	if (r < 0 && r >= -4095)
		return 1;	/* an abort reason: any errno value */
	switch (r) {
	case 0: case SHMPIPE_EOF: case -EAGAIN: case -ETIMEDOUT:
	case -EPIPE: case -ECONNRESET: case -EMSGSIZE: case -EPROTO:
	case -EINVAL: case -EBUSY: case -EUSERS: case -ENOTRECOVERABLE:
	case -EIO: case -ECANCELED:
		return 1;
	}
	return 0;
}

static void check(int r, const char *what)
{
	if (!documented(r)) {
		fprintf(stderr, "%s returned %d, not a documented result\n",
			what, r);
		abort();
	}
}

/* The hostile peer's descriptor and view, and the file's length now. */
static int evil_fd = -1;
static size_t evil_len;

static uint8_t *hostile_view(const char *name)
{
	char path[128];
	void *p;

	snprintf(path, sizeof(path), "/dev/shm/shmpipe.%s", name);
	evil_fd = open(path, O_RDWR | O_CLOEXEC);
	if (evil_fd < 0)
		abort();
	p = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, evil_fd,
		 0);
	if (p == MAP_FAILED)
		abort();
	evil_len = SEG_SIZE;
	return p;
}

static void step(struct cursor *c, const char *name, uint8_t *evil,
		 struct shmpipe_writer **w, struct shmpipe_reader **r)
{
	static uint8_t buf[BUF_MAX];
	unsigned int op = take(c, 1), n, off;
	struct shmpipe_stat st;
	uint64_t v;
	size_t len;
	int rc;

	switch (op % 8) {
	case 0: case 1:
		n = take(c, 2) % BUF_MAX;
		memset(buf, (int)op, n);
		rc = shmpipe_write(*w, buf, n, 0);
		check(rc, "write");
		break;
	case 2: case 3:
		n = take(c, 2) % BUF_MAX;
		rc = shmpipe_read(*r, buf, n, &len, op % 8 == 3);
		check(rc, "read");
		if (rc == 0 && len > n)
			abort();
		break;
	case 4: case 5:
		off = take(c, 2) % (SEG_SIZE - 8) & ~7u;
		v = (uint64_t)take(c, 4) << 32 | take(c, 4);
		if ((op & 0xf0) == 0xf0) {
			/* Shrink the file, or give it back its length. */
			evil_len = (op & 8) ? SEG_SIZE : v % SEG_SIZE;
			if (ftruncate(evil_fd, (off_t)evil_len))
				abort();
		} else if (off + 8 <= evil_len) {
			__atomic_store_n((uint64_t *)(evil + off), v,
					 __ATOMIC_RELAXED);
		}
		break;
	case 6:
		check(shmpipe_writer_close(*w, (int)(take(c, 1) % 2) * EIO),
		      "writer close");
		if (shmpipe_writer_open(name, w))
			*w = NULL;
		break;
	case 7:
		rc = shmpipe_stat(name, &st);
		if (rc && rc != -EPROTO && rc != -EBUSY)
			abort();
		check(shmpipe_reader_close(*r, 0), "reader close");
		if (shmpipe_reader_open(name, r))
			*r = NULL;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmpipe_attr a = { .capacity = CAP };
	struct cursor c = { data, size };
	struct shmpipe_writer *w = NULL;
	struct shmpipe_reader *r = NULL;
	char name[64];
	uint8_t *evil;
	int steps = 0;

	snprintf(name, sizeof(name), "fuzz-live-%d", (int)getpid());
	shmpipe_unlink(name);
	if (shmpipe_create(name, &a))
		abort();
	evil = hostile_view(name);
	if (shmpipe_writer_open(name, &w) || shmpipe_reader_open(name, &r))
		abort();
	while (c.left && steps++ < 200)
		step(&c, name, evil, &w, &r);
	shmpipe_writer_close(w, 0);
	shmpipe_reader_close(r, 0);
	munmap(evil, SEG_SIZE);
	close(evil_fd);
	shmpipe_unlink(name);
	return 0;
}

#ifndef SHMPIPE_LIBFUZZER
/* Replay: run each file named on the command line once. */
int main(int argc, char **argv)
{
	static uint8_t in[1 << 16];
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(in, 1, sizeof(in), f);
		fclose(f);
		LLVMFuzzerTestOneInput(in, n);
	}
	printf("fuzz_live: %d inputs replayed\n", argc - 1);
	return 0;
}
#endif
