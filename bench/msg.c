/* SPDX-License-Identifier: MIT */
/*
 * Stamping and checking messages.
 *
 * A message of size bytes (a multiple of 8, at least 8) carries its tag
 * (writer and sequence number) in its first word, and a word derived from
 * the tag at every 256th byte and in its last word.  Checking touches a
 * few words per 256 bytes, which costs every transport the same small
 * amount, yet a message that is stale, torn, truncated or someone else's
 * fails the check.  The bytes in between are whatever the producer's
 * buffer held: copying them is the transport's work, not ours.
 */
#include <string.h>

#include "bench.h"

#define STAMP_STRIDE	256

static inline uint64_t stamp_word(uint64_t tag, uint64_t k)
{
	return (tag + 1) * 0x9e3779b97f4a7c15ULL ^ k * 0xc2b2ae3d27d4eb4fULL;
}

static inline void put64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline uint64_t get64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void bench_stamp(void *buf, size_t size, uint64_t tag)
{
	uint8_t *b = buf;
	size_t off;

	put64(b, tag);
	for (off = STAMP_STRIDE; off + 8 < size; off += STAMP_STRIDE)
		put64(b + off, stamp_word(tag, off));
	if (size >= 16)
		put64(b + size - 8, stamp_word(tag, 0));
}

uint64_t bench_tag_of(const void *buf)
{
	return get64(buf);
}

/* 0 if buf holds the message of this tag and size, else -1. */
int bench_check(const void *buf, size_t len, size_t size, uint64_t tag)
{
	const uint8_t *b = buf;
	size_t off;

	if (len != size || get64(b) != tag)
		return -1;
	for (off = STAMP_STRIDE; off + 8 < size; off += STAMP_STRIDE)
		if (get64(b + off) != stamp_word(tag, off))
			return -1;
	if (size >= 16 && get64(b + size - 8) != stamp_word(tag, 0))
		return -1;
	return 0;
}
