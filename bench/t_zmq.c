/* SPDX-License-Identifier: MIT */
/*
 * ZeroMQ over ipc://, PUSH to PULL, at its defaults (high-water marks of
 * 1000 messages, one I/O thread per process).  The socket files live in
 * the benchmark's private directory.  The side with one process binds,
 * the side with several connects; a connecting side waits for the socket
 * file first, so that its first attempt finds the listener instead of
 * retrying after ZeroMQ's reconnect interval.
 *
 * Built only when the ZeroMQ headers were there at build time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_HAVE_ZMQ
#include <zmq.h>

struct zq {
	void *ctx;
	void *sock;
};

static const char *zq_skip(const struct bench_chan_cfg *cfg)
{
	(void)cfg;
	return NULL;
}

static int zq_setup(struct bench_chan *c)
{
	const char *dir = bench_tmpdir();

	if (!dir)
		return -errno;
	snprintf(c->name, sizeof(c->name), "%s/zmq-%d", dir, c->id);
	return 0;
}

/* Does this role bind?  The producer, unless there are several. */
static int zq_binds(const struct bench_chan *c, int role)
{
	return role == BENCH_PRODUCER ? c->cfg.writers == 1
				      : c->cfg.writers > 1;
}

static int zq_attach(struct bench_chan *c, struct zq *z, int role)
{
	char ep[sizeof(c->name) + 8];
	int i;

	snprintf(ep, sizeof(ep), "ipc://%s", c->name);
	if (zq_binds(c, role))
		return zmq_bind(z->sock, ep) ? -errno : 0;
	for (i = 0; i < 5000 && access(c->name, F_OK); i++)
		bench_sleep_ns(100000);
	return zmq_connect(z->sock, ep) ? -errno : 0;
}

static int zq_open(struct bench_chan *c, int role)
{
	struct zq *z = calloc(1, sizeof(*z));

	if (!z)
		return -ENOMEM;
	c->role = role;
	c->priv = z;
	z->ctx = zmq_ctx_new();
	if (!z->ctx)
		return -errno;
	z->sock = zmq_socket(z->ctx, role == BENCH_PRODUCER ? ZMQ_PUSH
							      : ZMQ_PULL);
	if (!z->sock)
		return -errno;
	return zq_attach(c, z, role);
}

static int zq_send(struct bench_chan *c, const void *msg, size_t len,
		   int nowait)
{
	struct zq *z = c->priv;
	int n;

	do
		n = zmq_send(z->sock, msg, len, nowait ? ZMQ_DONTWAIT : 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static int zq_recv(struct bench_chan *c, void *buf, size_t size,
		   size_t *len)
{
	struct zq *z = c->priv;
	int n;

	do
		n = zmq_recv(z->sock, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n > size)
		return -EMSGSIZE;
	*len = (size_t)n;
	return 0;
}

/*
 * Nothing pending needs delivering at close: the end of a stream is
 * confirmed by its consumers before the producer closes, so a linger of
 * 0 drops only spare terminators.
 */
static void zq_close(struct bench_chan *c)
{
	struct zq *z = c->priv;
	int linger = 0;

	if (!z)
		return;
	if (z->sock) {
		zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(z->sock);
	}
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	free(z);
	c->priv = NULL;
}

static const char *zq_version(void)
{
	static char v[32];
	int major, minor, patch;

	zmq_version(&major, &minor, &patch);
	snprintf(v, sizeof(v), "%d.%d.%d", major, minor, patch);
	return v;
}

#else /* !BENCH_HAVE_ZMQ */

static const char *zq_skip(const struct bench_chan_cfg *cfg)
{
	(void)cfg;
	return "skipped: no libzmq3-dev at build time";
}

static int zq_setup(struct bench_chan *c)
{
	(void)c;
	return -ENOSYS;
}

static int zq_open(struct bench_chan *c, int role)
{
	(void)c;
	(void)role;
	return -ENOSYS;
}

static int zq_send(struct bench_chan *c, const void *msg, size_t len,
		   int nowait)
{
	(void)c;
	(void)msg;
	(void)len;
	(void)nowait;
	return -ENOSYS;
}

static int zq_recv(struct bench_chan *c, void *buf, size_t size,
		   size_t *len)
{
	(void)c;
	(void)buf;
	(void)size;
	(void)len;
	return -ENOSYS;
}

static void zq_close(struct bench_chan *c)
{
	(void)c;
}

static const char *zq_version(void)
{
	return NULL;
}

#endif /* BENCH_HAVE_ZMQ */

static void zq_parent_close(struct bench_chan *c)
{
	(void)c;
}

static void zq_scrub(const struct bench_chan *c)
{
	if (c->name[0])
		unlink(c->name);
}

static void zq_teardown(struct bench_chan *c)
{
	zq_scrub(c);
	c->name[0] = '\0';
}

const struct bench_transport bt_zmq = {
	.name = "zmq",
	.title = "ZeroMQ ipc",
	.flags = BT_MULTI_READ | BT_MULTI_WRITE,
	.skip = zq_skip,
	.setup = zq_setup,
	.open = zq_open,
	.send = zq_send,
	.recv = zq_recv,
	.close = zq_close,
	.parent_close = zq_parent_close,
	.teardown = zq_teardown,
	.scrub = zq_scrub,
	.version = zq_version,
};
