/* SPDX-License-Identifier: MIT */
/*
 * shmpipe ls: one line per pipe of this machine.
 *
 * The names come from /dev/shm, the facts from shmpipe_stat(), which
 * reads a copy of the header without attaching: listing a pipe changes
 * nothing in it.  Anything under the pipes' prefix that is not a valid
 * pipe is listed as what it is, so that a stray file does not hide the
 * others or make the listing fail.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmpipe.h"
#include "shmpipe-cmd.h"

#define SHM_DIR		"/dev/shm"
#define PIPE_PREFIX	"shmpipe."

static int is_pipe_file(const struct dirent *d)
{
	return !strncmp(d->d_name, PIPE_PREFIX, strlen(PIPE_PREFIX)) &&
	       d->d_name[strlen(PIPE_PREFIX)] != '\0';
}

static const char *state_name(int state)
{
	switch (state) {
	case SHMPIPE_STATE_OPEN:
		return "open";
	case SHMPIPE_STATE_WRITERS_GONE:
		return "writers-gone";
	case SHMPIPE_STATE_READERS_GONE:
		return "readers-gone";
	case SHMPIPE_STATE_ABORTED:
		return "aborted";
	default:
		return "unknown";
	}
}

/* What a file is when it is not a pipe we can describe. */
static const char *failure_name(int err)
{
	switch (err) {
	case -EINVAL:
		return "bad-name";
	case -EPROTO:
		return "not-a-pipe";
	case -EACCES:
		return "no-access";
	case -EBUSY:
		return "busy";
	default:
		return "error";
	}
}

/* "3", or "3+1d" when one more endpoint is attached but its process died. */
static const char *endpoints(char *buf, size_t size, unsigned int alive,
			     unsigned int dead)
{
	if (dead)
		snprintf(buf, size, "%u+%ud", alive, dead);
	else
		snprintf(buf, size, "%u", alive);
	return buf;
}

static void show(const char *name, int width)
{
	struct shmpipe_stat st;
	char cap[16], queued[16], rd[24], wr[24];
	int r = shmpipe_stat(name, &st);

	if (r == -ENOENT)	/* removed since the directory was read */
		return;
	if (r) {
		printf("%-*s %-12s %8s %8s %4s %8s %7s %7s\n", width, name,
		       failure_name(r), "-", "-", "-", "-", "-", "-");
		return;
	}
	printf("%-*s %-12s %8s %8s %3u%% %8llu %7s %7s\n", width, name,
	       state_name(st.state), cmd_human(cap, sizeof(cap), st.capacity),
	       cmd_human(queued, sizeof(queued), st.bytes_queued),
	       (unsigned int)(st.bytes_queued * 100 / st.capacity),
	       st.msgs_queued,
	       endpoints(rd, sizeof(rd), st.readers, st.readers_dead),
	       endpoints(wr, sizeof(wr), st.writers, st.writers_dead));
}

int cmd_ls(void)
{
	size_t skip = strlen(PIPE_PREFIX);
	struct dirent **list;
	int n, i, width = 4;

	n = scandir(SHM_DIR, &list, is_pipe_file, alphasort);
	if (n < 0)
		err(EXIT_ERROR, "%s", SHM_DIR);
	for (i = 0; i < n; i++)
		if ((int)strlen(list[i]->d_name + skip) > width)
			width = (int)strlen(list[i]->d_name + skip);

	printf("%-*s %-12s %8s %8s %4s %8s %7s %7s\n", width, "NAME", "STATE",
	       "CAPACITY", "QUEUED", "FILL", "MSGS", "READERS", "WRITERS");
	for (i = 0; i < n; i++) {
		show(list[i]->d_name + skip, width);
		free(list[i]);
	}
	free(list);
	return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
}
