/* SPDX-License-Identifier: MIT */
/*
 * Boost.Interprocess message_queue: a mutex and two condition variables
 * in a shared segment, messages copied in and out.  It must be told its
 * depth: we give it about 1 MiB, like shmpipe's default ring, but never
 * fewer than 10 messages (the depth of a POSIX queue here).
 *
 * Built only when the Boost headers and a C++ compiler were there at
 * build time (bipc.cpp).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bipc.h"

#ifdef BENCH_HAVE_BOOST

static const char *bq_skip(const struct bench_chan_cfg *cfg)
{
	(void)cfg;
	return NULL;
}

static size_t bq_depth(size_t size)
{
	size_t d = BENCH_QUEUE_BYTES / (size ? size : 1);

	return d < 10 ? 10 : d > 65536 ? 65536 : d;
}

static int bq_setup(struct bench_chan *c)
{
	snprintf(c->name, sizeof(c->name), "shmpipe-bench-bq-%d-%d",
		 (int)getpid(), c->id);
	return bipc_create(c->name, bq_depth(c->cfg.msg_size),
			   c->cfg.msg_size < 8 ? 8 : c->cfg.msg_size);
}

static int bq_open(struct bench_chan *c, int role)
{
	c->role = role;
	c->priv = bipc_open(c->name);
	return c->priv ? 0 : -ENOENT;
}

static int bq_send(struct bench_chan *c, const void *msg, size_t len,
		   int nowait)
{
	return bipc_send(c->priv, msg, len, nowait);
}

static int bq_recv(struct bench_chan *c, void *buf, size_t size,
		   size_t *len)
{
	return bipc_recv(c->priv, buf, size, len);
}

static void bq_close(struct bench_chan *c)
{
	if (c->priv)
		bipc_close(c->priv);
	c->priv = NULL;
}

static void bq_teardown(struct bench_chan *c)
{
	if (c->name[0])
		bipc_remove(c->name);
	c->name[0] = '\0';
}

static const char *bq_version(void)
{
	return bipc_version();
}

#else /* !BENCH_HAVE_BOOST */

static const char *bq_skip(const struct bench_chan_cfg *cfg)
{
	(void)cfg;
	return "skipped: no libboost-dev or g++ at build time";
}

static int bq_setup(struct bench_chan *c)
{
	(void)c;
	return -ENOSYS;
}

static int bq_open(struct bench_chan *c, int role)
{
	(void)c;
	(void)role;
	return -ENOSYS;
}

static int bq_send(struct bench_chan *c, const void *msg, size_t len,
		   int nowait)
{
	(void)c;
	(void)msg;
	(void)len;
	(void)nowait;
	return -ENOSYS;
}

static int bq_recv(struct bench_chan *c, void *buf, size_t size,
		   size_t *len)
{
	(void)c;
	(void)buf;
	(void)size;
	(void)len;
	return -ENOSYS;
}

static void bq_close(struct bench_chan *c)
{
	(void)c;
}

static void bq_teardown(struct bench_chan *c)
{
	(void)c;
}

static const char *bq_version(void)
{
	return NULL;
}

#endif /* BENCH_HAVE_BOOST */

static void bq_parent_close(struct bench_chan *c)
{
	(void)c;
}

/* Boost keeps a queue as a POSIX shared memory object of that name. */
static void bq_scrub(const struct bench_chan *c)
{
	char path[200];
	int n;

	if (!c->name[0])
		return;
	n = snprintf(path, sizeof(path), "/dev/shm/%s", c->name);
	if (n > 0 && (size_t)n < sizeof(path))
		unlink(path);
}

const struct bench_transport bt_boost = {
	.name = "boost",
	.title = "Boost.IPC mq",
	.flags = BT_MULTI_READ | BT_MULTI_WRITE,
	.skip = bq_skip,
	.setup = bq_setup,
	.open = bq_open,
	.send = bq_send,
	.recv = bq_recv,
	.close = bq_close,
	.parent_close = bq_parent_close,
	.teardown = bq_teardown,
	.scrub = bq_scrub,
	.version = bq_version,
};
