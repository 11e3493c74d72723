/* SPDX-License-Identifier: MIT */
/*
 * shmpipe write and shmpipe read: standard input into messages, messages
 * into standard output.
 *
 * Framing.  A message never carries anything but input bytes.  In line
 * mode a message is one line with its newline; a last line without one
 * is sent as it is.  So the bodies of a stream, put back to back, are the
 * input byte for byte, whatever the lines hold (CR, NUL, bytes that are
 * not UTF-8), and a plain `read` reproduces the input.  `read -l` is for
 * messages that are records without newlines: it owes a newline after
 * every message that does not end with one, and pays it just before the
 * next message.  A stream's last message is therefore written as it was
 * sent, and `write -l | read -l` is exact too.
 *
 * Stopping.  A writer stops when shmpipe_write() refuses: -EPIPE when
 * every reader closed its end, -ECONNRESET when the last one died.  A
 * reader ignores SIGPIPE, so a closed standard output comes back as EPIPE
 * from write(2); it then closes its end at once, and that close is what
 * the writer sees.  Each side also looks at the other while it idles
 * (CMD_IDLE_MS): a writer waiting for input asks shmpipe_writer_check()
 * whether its writes would still succeed, a reader waiting for messages asks poll(2) whether
 * its output pipe still has a reader.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmpipe.h"
#include "shmpipe-cmd.h"

#define BLOCK_DEFAULT	(64 * 1024)	/* write without -l or -b */
#define OUT_FLUSH	(64 * 1024)	/* reader output batched up to this */

struct writer {
	const char *name;
	struct shmpipe_writer *w;
	size_t max;			/* largest message of the pipe */
	unsigned long long msgs, bytes;
	double start;
	int pipe_err;			/* why the pipe refused, or 0 */
	int in_err;			/* why the input failed, or 0 */
};

struct reader {
	const char *name;
	struct shmpipe_reader *r;
	int lines;
	int owe_newline;		/* -l: the last message had none */
	char *buf;			/* output not yet written */
	size_t size, used;
	unsigned long long msgs, bytes;
	double start;
	int out_err;			/* why the output failed, or 0 */
};

static void summary(const char *name, const char *verb,
		    unsigned long long msgs, unsigned long long bytes,
		    double start)
{
	double secs = cmd_now() - start;

	warnx("%s: %s %llu messages (%llu bytes) in %.3f s, %.1f MiB/s",
	      name, verb, msgs, bytes, secs,
	      secs > 0 ? (double)bytes / secs / (1 << 20) : 0.0);
}

/*
 * A refusal that is not the plain close of the other side, in words.
 * Returns 1 if someone aborted the pipe, 0 for any other failure.
 */
static int say_failure(const char *name, const char *prefix, int err)
{
	struct shmpipe_stat st;

	if (!shmpipe_stat(name, &st) && st.state == SHMPIPE_STATE_ABORTED) {
		warnx("%s: %saborted by process %d: %s", name, prefix,
		      (int)st.close_pid, strerror(st.close_err));
		return 1;
	}
	warnx("%s: %s%s", name, prefix, cmd_strerror(err));
	return 0;
}

/*
 * Are the readers gone while the writer has nothing to send?  The
 * library answers for our own handle, and notices a reader that died as
 * a write would.
 */
static int readers_gone(struct shmpipe_writer *w)
{
	return shmpipe_writer_check(w);
}

/* Read some standard input: n > 0, 0 at its end, -1 when we must stop. */
static ssize_t get_input(struct writer *wr, char *buf, size_t len)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&p, 1, CMD_IDLE_MS);
		if (r == 0 && (wr->pipe_err = readers_gone(wr->w)) != 0)
			return -1;
		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		n = read(STDIN_FILENO, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN) {
			wr->in_err = errno;
			warn("%s: standard input", wr->name);
			return -1;
		}
	}
}

static int send_msg(struct writer *wr, const char *msg, size_t len)
{
	int r = shmpipe_write(wr->w, msg, len, -1);

	if (r) {
		wr->pipe_err = r;
		return -1;
	}
	wr->msgs++;
	wr->bytes += len;
	return 0;
}

static void line_too_long(struct writer *wr, unsigned long long line)
{
	wr->in_err = EMSGSIZE;
	warnx("%s: line %llu is longer than %zu bytes, the largest message "
	      "of this pipe", wr->name, line, wr->max);
}

/*
 * buf holds *have bytes of an unfinished line, then n new bytes.  Send
 * every line they complete and keep the rest at the front.  Returns -1
 * if a line is too long or the pipe refused a message.
 */
static int send_lines(struct writer *wr, char *buf, size_t *have, size_t n,
		      unsigned long long *line)
{
	size_t start = 0, scan = *have, end = *have + n, len;
	char *nl;

	while ((nl = memchr(buf + scan, '\n', end - scan)) != NULL) {
		len = (size_t)(nl + 1 - (buf + start));
		if (len > wr->max) {
			line_too_long(wr, *line);
			return -1;
		}
		if (send_msg(wr, buf + start, len))
			return -1;
		start = scan = start + len;
		(*line)++;
	}
	memmove(buf, buf + start, end - start);
	*have = end - start;
	return 0;
}

/*
 * -l: one message per line, its newline included.  The buffer has room
 * for one byte more than the largest message, so that a full buffer
 * without a newline is a line too long, while a last line of exactly
 * the largest size still fits.
 */
static void write_lines(struct writer *wr)
{
	unsigned long long line = 1;
	char *buf = malloc(wr->max + 1);
	size_t have = 0;
	ssize_t n;

	if (!buf) {
		wr->in_err = ENOMEM;
		warn("%s", wr->name);
		return;
	}
	for (;;) {
		if (have > wr->max) {
			line_too_long(wr, line);
			break;
		}
		n = get_input(wr, buf + have, wr->max + 1 - have);
		if (n == 0 && have)	/* a last line without newline */
			send_msg(wr, buf, have);
		if (n <= 0 || send_lines(wr, buf, &have, (size_t)n, &line))
			break;
	}
	free(buf);
}

/* Without -l: messages of exactly bs bytes, the last one shorter. */
static void write_blocks(struct writer *wr, size_t bs)
{
	char *buf = malloc(bs);
	size_t got;
	ssize_t n = 1;

	if (!buf) {
		wr->in_err = ENOMEM;
		warn("%s", wr->name);
		return;
	}
	while (n > 0) {
		for (got = 0; got < bs; got += (size_t)n) {
			n = get_input(wr, buf + got, bs - got);
			if (n <= 0)
				break;
		}
		if (n < 0 || (got && send_msg(wr, buf, got)))
			break;
	}
	free(buf);
}

/*
 * Leave the pipe and say how it went.  A failed input aborts the pipe
 * with its reason, so that readers learn that the stream is incomplete
 * instead of taking a short stream for the whole.
 */
static int writer_finish(struct writer *wr, int verbose)
{
	int status = EXIT_OK;

	shmpipe_writer_close(wr->w, wr->in_err);
	if (wr->in_err) {
		status = EXIT_ERROR;
	} else if (wr->pipe_err == -EPIPE || wr->pipe_err == -ECONNRESET) {
		warnx("%s: %s; stopped after %llu messages (%llu bytes)",
		      wr->name, wr->pipe_err == -EPIPE ?
		      "every reader has closed the pipe" :
		      "the last reader died", wr->msgs, wr->bytes);
		status = EXIT_CLOSED;
	} else if (wr->pipe_err) {
		say_failure(wr->name, "", wr->pipe_err);
		status = EXIT_ERROR;
	}
	if (verbose)
		summary(wr->name, "wrote", wr->msgs, wr->bytes, wr->start);
	return status;
}

/*
 * Is the block size usable with this pipe?  Asked before attaching: a
 * writer that attached and left without writing would end the stream.
 */
static int block_fits(const char *name, size_t block)
{
	struct shmpipe_stat st;

	if (!block || shmpipe_stat(name, &st) || block <= st.max_message)
		return 1;
	warnx("%s: block size %zu is larger than %zu bytes, the largest "
	      "message of this pipe", name, block, st.max_message);
	return 0;
}

int cmd_write(const char *name, const struct write_opts *o)
{
	struct writer wr = { .name = name };
	struct shmpipe_stat st;
	size_t block = o->block;
	int r;

	if (!block_fits(name, block))
		return EXIT_USAGE;
	r = shmpipe_writer_open(name, &wr.w);
	if (r == -EPIPE && !shmpipe_stat(name, &st) && st.write_error) {
		warnx("%s: every reader has closed the pipe", name);
		return EXIT_CLOSED;
	}
	if (r == -EPIPE)
		errx(EXIT_ERROR, "%s: its writers have finished; a pipe "
		     "carries one stream", name);
	if (r)
		errx(EXIT_ERROR, "%s: %s", name, cmd_strerror(r));

	wr.max = shmpipe_writer_max_message(wr.w);
	wr.start = cmd_now();
	if (!block)
		block = wr.max < BLOCK_DEFAULT ? wr.max : BLOCK_DEFAULT;
	if (o->lines) {
		write_lines(&wr);
	} else if (block > wr.max) {	/* block_fits() could not look */
		wr.in_err = EMSGSIZE;
		warnx("%s: block size %zu is larger than %zu bytes, the "
		      "largest message of this pipe", name, block, wr.max);
	} else {
		write_blocks(&wr, block);
	}
	return writer_finish(&wr, o->verbose);
}

/* Has the reader of our output pipe gone?  (A pipe says POLLERR then.) */
static int output_closed(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static int flush_out(struct reader *rd)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
	size_t done = 0;
	ssize_t n;

	while (done < rd->used) {
		n = write(STDOUT_FILENO, rd->buf + done, rd->used - done);
		if (n >= 0) {
			done += (size_t)n;
		} else if (errno == EAGAIN) {
			poll(&p, 1, -1);
		} else if (errno != EINTR) {
			rd->out_err = errno;
			return -1;
		}
	}
	rd->used = 0;
	return 0;
}

/*
 * Take one message into the output buffer, after the newline owed to
 * the message before it.  Returns what shmpipe_read() returned.  The
 * buffer is flushed whenever it holds OUT_FLUSH bytes or more, so there
 * is always room for the largest message: -EMSGSIZE here can only be
 * the reason a writer gave when it aborted the pipe.
 */
static int receive(struct reader *rd, int timeout_ms)
{
	size_t off = rd->used + (rd->owe_newline ? 1 : 0), len;
	int r;

	r = shmpipe_read(rd->r, rd->buf + off, rd->size - off, &len,
			 timeout_ms);
	if (r)
		return r;
	if (rd->owe_newline)
		rd->buf[rd->used] = '\n';
	rd->used = off + len;
	rd->owe_newline = rd->lines && (len == 0 || rd->buf[rd->used - 1] !=
					'\n');
	rd->msgs++;
	rd->bytes += len;
	return 0;
}

/*
 * An empty read after a wait.  Normally the pipe is just quiet; but a
 * pipe aborted with the reason EAGAIN or ETIMEDOUT answers the same, at
 * once and for ever, so a quiet pipe is asked whether it was aborted.
 */
static int aborted(const char *name)
{
	struct shmpipe_stat st;

	return !shmpipe_stat(name, &st) && st.state == SHMPIPE_STATE_ABORTED;
}

/*
 * Copy messages out until the stream ends or the output fails.  Output
 * is batched while messages keep coming and flushed as soon as the pipe
 * is empty, so a slow stream is not held back.  Returns SHMPIPE_EOF, a
 * negative errno from the pipe, or 0 when the output failed.
 */
static int read_loop(struct reader *rd)
{
	int r, timeout = 0;

	for (;;) {
		r = receive(rd, timeout);
		if (r == 0) {
			timeout = 0;
			if (rd->used < OUT_FLUSH)
				continue;
		} else if (r == -EAGAIN || r == -ETIMEDOUT) {
			if (timeout && output_closed()) {
				rd->out_err = EPIPE;
				return 0;
			}
			if (timeout && aborted(rd->name))
				return r;
			timeout = CMD_IDLE_MS;
		} else {
			return r;
		}
		if (flush_out(rd))
			return 0;
	}
}

/*
 * Leave the pipe first, so that a writer waiting on us learns at once,
 * then say how it went.  A closed output is the normal end of `| head`:
 * nothing to say, but a status of its own.
 */
static int reader_finish(struct reader *rd, int r, int verbose)
{
	int status = EXIT_OK;

	if (!rd->out_err)
		flush_out(rd);	/* what came before the end is good */
	shmpipe_reader_close(rd->r, 0);
	if (rd->out_err == EPIPE) {
		status = EXIT_CLOSED;
	} else if (rd->out_err) {
		warnx("%s: standard output: %s", rd->name,
		      strerror(rd->out_err));
		status = EXIT_ERROR;
	} else if (r == -ECONNRESET) {
		warnx("%s: stream incomplete: the writer died", rd->name);
		status = EXIT_INCOMPLETE;
	} else if (r != SHMPIPE_EOF) {
		status = say_failure(rd->name, "stream incomplete: ", r) ?
			 EXIT_INCOMPLETE : EXIT_ERROR;
	}
	if (verbose)
		summary(rd->name, "read", rd->msgs, rd->bytes, rd->start);
	return status;
}

int cmd_read(const char *name, const struct read_opts *o)
{
	struct reader rd = { .name = name, .lines = o->lines };
	int r;

	r = shmpipe_reader_open(name, &rd.r);
	if (r == -EPIPE)
		errx(EXIT_ERROR, "%s: its readers have finished; a pipe "
		     "carries one stream", name);
	if (r)
		errx(EXIT_ERROR, "%s: %s", name, cmd_strerror(r));

	/* Room for a whole message after a full batch and a newline. */
	rd.size = shmpipe_reader_max_message(rd.r) + OUT_FLUSH + 1;
	rd.buf = malloc(rd.size);
	if (!rd.buf) {
		shmpipe_reader_close(rd.r, 0);
		err(EXIT_ERROR, "%s", name);
	}
	rd.start = cmd_now();
	r = read_loop(&rd);
	r = reader_finish(&rd, r, o->verbose);
	free(rd.buf);
	return r;
}
