/* SPDX-License-Identifier: MIT */
/*
 * shmpiped's configuration: the pipes it owns, read from one main file
 * and the conf.d/NAME.conf files beside it.  shmpiped.conf(5) is the
 * reference for the format.
 */
#ifndef SHMPIPED_CONF_H
#define SHMPIPED_CONF_H

#include <stddef.h>
#include <sys/types.h>

#include "shmpipe.h"

enum on_finish {
	ON_FINISH_RECREATE,	/* a fresh, empty pipe of the same name */
	ON_FINISH_KEEP,		/* leave it for post-mortem */
};

struct pipe_conf {
	char name[SHMPIPE_NAME_MAX + 1];
	size_t capacity;	/* as written; the library rounds it up */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	enum on_finish on_finish;
	const char *file;	/* where it is declared: owned by the conf */
	int line;
};

struct conf {
	struct pipe_conf *pipes;
	size_t npipes;
	char **files;		/* every file read, for pipe_conf.file */
	size_t nfiles;
};

/* Size of the message buffer conf_load() fills on failure. */
#define CONF_ERR_MAX	(2 * 4096)

/*
 * Read the main file and every conf.d/NAME.conf beside it into c.  On failure,
 * returns -1 with "FILE:LINE: what" in err and leaves c empty.
 */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);
void conf_free(struct conf *c);

const struct pipe_conf *conf_find(const struct conf *c, const char *name);

/* "4M", "1 GiB", "65536": bytes, or 0 if the text is not a size. */
size_t conf_parse_size(const char *s);

#endif /* SHMPIPED_CONF_H */
