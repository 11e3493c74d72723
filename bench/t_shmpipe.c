/* SPDX-License-Identifier: MIT */
/*
 * shmpipe itself, used as any user would: the public API, the default
 * capacity (1 MiB), blocking calls, and close for end of stream.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shmpipe.h"
#include "bench.h"

static const char *sp_skip(const struct bench_chan_cfg *cfg)
{
	if (cfg->msg_size > shmpipe_max_message(BENCH_QUEUE_BYTES))
		return "message larger than the ring";
	return NULL;
}

static int sp_setup(struct bench_chan *c)
{
	struct shmpipe_attr attr = { .capacity = BENCH_QUEUE_BYTES };

	snprintf(c->name, sizeof(c->name), "bench-%d-%d", (int)getpid(),
		 c->id);
	return shmpipe_create(c->name, &attr);
}

static int sp_open(struct bench_chan *c, int role)
{
	c->role = role;
	if (role == BENCH_PRODUCER)
		return shmpipe_writer_open(c->name,
					   (struct shmpipe_writer **)&c->priv);
	return shmpipe_reader_open(c->name, (struct shmpipe_reader **)&c->priv);
}

static int sp_send(struct bench_chan *c, const void *msg, size_t len,
		   int nowait)
{
	return shmpipe_write(c->priv, msg, len, nowait ? 0 : -1);
}

static int sp_recv(struct bench_chan *c, void *buf, size_t size, size_t *len)
{
	return shmpipe_read(c->priv, buf, size, len, -1);
}

static void sp_close(struct bench_chan *c)
{
	if (!c->priv)
		return;
	if (c->role == BENCH_PRODUCER)
		shmpipe_writer_close(c->priv, 0);
	else
		shmpipe_reader_close(c->priv, 0);
	c->priv = NULL;
}

static void sp_parent_close(struct bench_chan *c)
{
	(void)c;
}

static void sp_teardown(struct bench_chan *c)
{
	shmpipe_unlink(c->name);
}

/* From a signal handler: shmpipe_unlink() only builds a path and
 * unlinks it. */
static void sp_scrub(const struct bench_chan *c)
{
	shmpipe_unlink(c->name);
}

static const char *sp_version(void)
{
	return shmpipe_version();
}

_Static_assert(SHMPIPE_EOF == BENCH_EOF, "end of stream");

const struct bench_transport bt_shmpipe = {
	.name = "shmpipe",
	.title = "shmpipe",
	.flags = BT_EOF | BT_MULTI_READ | BT_MULTI_WRITE,
	.skip = sp_skip,
	.setup = sp_setup,
	.open = sp_open,
	.send = sp_send,
	.recv = sp_recv,
	.close = sp_close,
	.parent_close = sp_parent_close,
	.teardown = sp_teardown,
	.scrub = sp_scrub,
	.version = sp_version,
};
