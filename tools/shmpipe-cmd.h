/* SPDX-License-Identifier: MIT */
/*
 * The shmpipe command: what its sources share.  shmpipe.c parses the
 * command line and runs create and rm, shmpipe-io.c runs write and read,
 * shmpipe-ls.c runs ls.
 */
#ifndef SHMPIPE_CMD_H
#define SHMPIPE_CMD_H

#include <stddef.h>

/* Exit statuses; shmpipe(1) documents them. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,		/* the command line is wrong */
	EXIT_ERROR = 2,		/* anything else failed */
	EXIT_CLOSED = 3,	/* the consumer stopped taking data */
	EXIT_INCOMPLETE = 4,	/* the stream was cut short by its writer */
};

/* How long an idle command waits before it looks at the other side. */
#define CMD_IDLE_MS	50

struct write_opts {
	int lines;		/* -l: one message per line */
	size_t block;		/* -b: bytes per message; 0 = the default */
	int verbose;		/* -v: a summary on stderr at the end */
};

struct read_opts {
	int lines;		/* -l: every message ends a line */
	int verbose;
};

int cmd_write(const char *name, const struct write_opts *o);
int cmd_read(const char *name, const struct read_opts *o);
int cmd_ls(void);

/* The reason a library call failed on a named pipe, in words. */
const char *cmd_strerror(int err);

/* Wall-clock seconds since an arbitrary start, for summaries. */
double cmd_now(void);

/* "12.3M": a size in binary units, into buf. */
const char *cmd_human(char *buf, size_t size, unsigned long long n);

#endif /* SHMPIPE_CMD_H */
