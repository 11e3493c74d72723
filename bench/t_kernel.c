/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own message passing, each at the system's defaults:
 *
 * pipe(2), a byte stream, framed as a user would frame it: a 4-byte
 * length and the body in one writev(2), and on the reading side a 64 KiB
 * buffer from which frames are cut, so that small messages cost the
 * reader a fraction of a read(2) each.  Several writers may share it
 * (frames up to PIPE_BUF bytes are written whole); several readers may
 * not, since a frame is read in more than one call.
 *
 * AF_UNIX SOCK_SEQPACKET, a socket pair whose every recv(2) is one whole
 * message; shared by several processes on either side.
 *
 * POSIX message queues, fs.mqueue.msg_default messages deep.  A message
 * larger than fs.mqueue.msgsize_max needs that limit raised; as root we
 * raise it for the one mq_open(2) that needs it (the kernel checks it only
 * there) and put it back at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PIPE_RBUF	65536

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void fds_parent_close(struct bench_chan *c)
{
	close_fd(&c->fd[0]);
	close_fd(&c->fd[1]);
}

static void fds_teardown(struct bench_chan *c)
{
	fds_parent_close(c);
}

static void fds_scrub(const struct bench_chan *c)
{
	(void)c;	/* descriptors die with their processes */
}

/* Keep this role's end: fd[0] is the producer's, fd[1] the consumer's. */
static void fds_keep(struct bench_chan *c, int role)
{
	c->role = role;
	close_fd(&c->fd[role == BENCH_PRODUCER ? 1 : 0]);
}

static int fds_end(const struct bench_chan *c)
{
	return c->fd[c->role == BENCH_PRODUCER ? 0 : 1];
}

static void fds_close(struct bench_chan *c)
{
	free(c->priv);
	c->priv = NULL;
	close_fd(&c->fd[0]);
	close_fd(&c->fd[1]);
}

static const char *kernel_version(void)
{
	return "-";
}

/* pipe(2) */

struct pipe_rd {
	uint8_t buf[PIPE_RBUF];
	size_t off, len;
};

static const char *pipe_skip(const struct bench_chan_cfg *cfg)
{
	if (cfg->readers > 1)
		return "n/a: a framed stream has one reader";
	if (cfg->writers > 1 && cfg->msg_size + 4 > PIPE_BUF)
		return "n/a: frames above PIPE_BUF interleave";
	return NULL;
}

/* pipe(2) gives the read end first: swap to our order. */
static int pipe_setup(struct bench_chan *c)
{
	int p[2];

	if (pipe(p))
		return -errno;
	c->fd[0] = p[1];
	c->fd[1] = p[0];
	return 0;
}

static int pipe_open(struct bench_chan *c, int role)
{
	fds_keep(c, role);
	if (role == BENCH_CONSUMER) {
		c->priv = calloc(1, sizeof(struct pipe_rd));
		if (!c->priv)
			return -ENOMEM;
	}
	return 0;
}

static int pipe_send(struct bench_chan *c, const void *msg, size_t len,
		     int nowait)
{
	uint32_t hdr = (uint32_t)len;
	struct iovec iov[2] = { { &hdr, 4 }, { (void *)msg, len } };
	struct iovec *v = iov;
	int n = 2;
	ssize_t w;

	(void)nowait;	/* the end of stream is a close: never needed */
	while (n) {
		w = writev(fds_end(c), v, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		for (; n && (size_t)w >= v->iov_len; v++, n--)
			w -= (ssize_t)v->iov_len;
		if (n) {
			v->iov_base = (uint8_t *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Read more into the buffer: 0, BENCH_EOF or -errno. */
static int pipe_fill(struct pipe_rd *rd, int fd)
{
	ssize_t n;

	if (rd->off == rd->len) {
		rd->off = 0;
		rd->len = 0;
	} else if (PIPE_RBUF - rd->len < 4096) {
		memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
		rd->len -= rd->off;
		rd->off = 0;
	}
	do
		n = read(fd, rd->buf + rd->len, PIPE_RBUF - rd->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return rd->off == rd->len ? BENCH_EOF : -EPROTO;
	rd->len += (size_t)n;
	return 0;
}

/* The rest of a body the buffer did not hold, straight into buf. */
static int pipe_read_rest(int fd, uint8_t *buf, size_t have, size_t len)
{
	ssize_t n;

	while (have < len) {
		n = read(fd, buf + have, len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPROTO;
		have += (size_t)n;
	}
	return 0;
}

static int pipe_recv(struct bench_chan *c, void *buf, size_t size,
		     size_t *len)
{
	struct pipe_rd *rd = c->priv;
	uint32_t hdr;
	size_t have;
	int r;

	while (rd->len - rd->off < 4)
		if ((r = pipe_fill(rd, fds_end(c))) != 0)
			return r;
	memcpy(&hdr, rd->buf + rd->off, 4);
	rd->off += 4;
	if (hdr > size)
		return -EMSGSIZE;
	have = rd->len - rd->off < hdr ? rd->len - rd->off : hdr;
	memcpy(buf, rd->buf + rd->off, have);
	rd->off += have;
	*len = hdr;
	return pipe_read_rest(fds_end(c), buf, have, hdr);
}

const struct bench_transport bt_pipe = {
	.name = "pipe",
	.title = "pipe(2)",
	.flags = BT_EOF | BT_MULTI_WRITE,
	.skip = pipe_skip,
	.setup = pipe_setup,
	.open = pipe_open,
	.send = pipe_send,
	.recv = pipe_recv,
	.close = fds_close,
	.parent_close = fds_parent_close,
	.teardown = fds_teardown,
	.scrub = fds_scrub,
	.version = kernel_version,
};

/* AF_UNIX SOCK_SEQPACKET */

static const char *seq_skip(const struct bench_chan_cfg *cfg)
{
	(void)cfg;
	return NULL;
}

static int seq_setup(struct bench_chan *c)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->fd) ? -errno : 0;
}

static int seq_open(struct bench_chan *c, int role)
{
	fds_keep(c, role);
	return 0;
}

static int seq_send(struct bench_chan *c, const void *msg, size_t len,
		    int nowait)
{
	int flags = MSG_NOSIGNAL | (nowait ? MSG_DONTWAIT : 0);
	ssize_t n;

	do
		n = send(fds_end(c), msg, len, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* Our messages are never empty, so 0 bytes is the end of stream. */
static int seq_recv(struct bench_chan *c, void *buf, size_t size,
		    size_t *len)
{
	ssize_t n;

	do
		n = recv(fds_end(c), buf, size, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return BENCH_EOF;
	if ((size_t)n > size)
		return -EMSGSIZE;
	*len = (size_t)n;
	return 0;
}

const struct bench_transport bt_seqpacket = {
	.name = "seqpacket",
	.title = "AF_UNIX seqpkt",
	.flags = BT_EOF | BT_MULTI_READ | BT_MULTI_WRITE,
	.skip = seq_skip,
	.setup = seq_setup,
	.open = seq_open,
	.send = seq_send,
	.recv = seq_recv,
	.close = fds_close,
	.parent_close = fds_parent_close,
	.teardown = fds_teardown,
	.scrub = fds_scrub,
	.version = kernel_version,
};

/* POSIX message queues */

#define MQ_SYSCTL	"/proc/sys/fs/mqueue/"

/* Restored by a signal handler if one comes while it is raised. */
static volatile size_t mq_saved_msgsize;

static int mq_can_raise(void)
{
	return bench_is_root() && access(MQ_SYSCTL "msgsize_max", W_OK) == 0;
}

static const char *mq_skip(const struct bench_chan_cfg *cfg)
{
	static char why[96];
	size_t max = bench_read_sysctl(MQ_SYSCTL "msgsize_max");

	if (cfg->msg_size <= max || mq_can_raise())
		return NULL;
	snprintf(why, sizeof(why),
		 "skipped: above fs.mqueue.msgsize_max (%zu), not root", max);
	return why;
}

/* mq_open(O_CREAT) with msgsize_max raised to fit, if it must be. */
static mqd_t mq_create(const char *name, struct mq_attr *attr)
{
	size_t max = bench_read_sysctl(MQ_SYSCTL "msgsize_max");
	mqd_t q;
	int e;

	if ((size_t)attr->mq_msgsize <= max)
		return mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, attr);
	mq_saved_msgsize = max;
	if (bench_write_sysctl(MQ_SYSCTL "msgsize_max",
			       (size_t)attr->mq_msgsize)) {
		mq_saved_msgsize = 0;
		errno = EMSGSIZE;
		return (mqd_t)-1;
	}
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, attr);
	e = errno;
	bench_write_sysctl(MQ_SYSCTL "msgsize_max", max);
	mq_saved_msgsize = 0;
	errno = e;
	return q;
}

static int mq_setup(struct bench_chan *c)
{
	struct mq_attr attr = { 0 };
	size_t depth = bench_read_sysctl(MQ_SYSCTL "msg_default");
	mqd_t q;

	snprintf(c->name, sizeof(c->name), "/shmpipe-bench-%d-%d",
		 (int)getpid(), c->id);
	attr.mq_maxmsg = depth ? (long)depth : 10;
	attr.mq_msgsize = (long)(c->cfg.msg_size < 8 ? 8 : c->cfg.msg_size);
	q = mq_create(c->name, &attr);
	if (q == (mqd_t)-1)
		return -errno;
	mq_close(q);
	return 0;
}

static int mq_bench_open(struct bench_chan *c, int role)
{
	mqd_t q = mq_open(c->name, role == BENCH_PRODUCER ? O_WRONLY
							   : O_RDONLY);

	if (q == (mqd_t)-1)
		return -errno;
	c->role = role;
	c->fd[0] = (int)q;
	return 0;
}

static int mq_send_msg(struct bench_chan *c, const void *msg, size_t len,
		       int nowait)
{
	static const struct timespec past = { 0, 0 };
	int r;

	do
		r = nowait ? mq_timedsend((mqd_t)c->fd[0], msg, len, 0, &past)
			   : mq_send((mqd_t)c->fd[0], msg, len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == ETIMEDOUT ? -EAGAIN : -errno;
	return 0;
}

static int mq_recv_msg(struct bench_chan *c, void *buf, size_t size,
		       size_t *len)
{
	ssize_t n;

	do
		n = mq_receive((mqd_t)c->fd[0], buf, size, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*len = (size_t)n;
	return 0;
}

static void mq_bench_close(struct bench_chan *c)
{
	if (c->fd[0] >= 0)
		mq_close((mqd_t)c->fd[0]);
	c->fd[0] = -1;
}

static void mq_parent_close(struct bench_chan *c)
{
	(void)c;	/* the parent closed its descriptor in setup */
}

static void mq_scrub(const struct bench_chan *c)
{
	if (c->name[0])
		mq_unlink(c->name);
	if (mq_saved_msgsize)
		bench_write_sysctl(MQ_SYSCTL "msgsize_max", mq_saved_msgsize);
}

static void mq_teardown(struct bench_chan *c)
{
	mq_scrub(c);
	c->name[0] = '\0';
}

const struct bench_transport bt_mq = {
	.name = "mq",
	.title = "POSIX mq",
	.flags = BT_MULTI_READ | BT_MULTI_WRITE,
	.skip = mq_skip,
	.setup = mq_setup,
	.open = mq_bench_open,
	.send = mq_send_msg,
	.recv = mq_recv_msg,
	.close = mq_bench_close,
	.parent_close = mq_parent_close,
	.teardown = mq_teardown,
	.scrub = mq_scrub,
	.version = kernel_version,
};
