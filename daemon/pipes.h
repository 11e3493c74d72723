/* SPDX-License-Identifier: MIT */
/*
 * The pipes shmpiped owns: each declared pipe's last seen health, and the
 * policy that keeps it usable.  Everything goes through the public API
 * (shmpipe_stat, shmpipe_create, shmpipe_unlink): the daemon never maps a
 * pipe, so a damaged segment cannot crash it.
 */
#ifndef SHMPIPED_PIPES_H
#define SHMPIPED_PIPES_H

#include <stddef.h>

#include "conf.h"

enum pipe_health {
	PIPE_UNKNOWN,
	PIPE_IDLE,	/* open, nobody attached yet */
	PIPE_IN_USE,	/* at least one live endpoint */
	PIPE_PENDING,	/* writers left; messages wait for a first reader */
	PIPE_FINISHED,	/* finished or stale, nobody alive: policy applies */
	PIPE_KEPT,	/* finished, left alone by on-finish = keep */
	PIPE_FAILING,	/* could not be looked at or made */
};

struct pipe_state {
	struct pipe_conf conf;	/* conf.file is not used here */
	int declared;		/* 0: removed from the config, still in use */
	int gone;		/* to drop from the table */
	enum pipe_health health;
	int last_err;		/* the last error logged, to log it once */
	int mismatch_logged;	/* settings differ: said once */
	int retire_logged;	/* retiring but in use: said once */
	unsigned int readers, writers, dead;	/* last seen, to log changes */
};

struct pipes {
	struct pipe_state *v;
	size_t n;
	char **reap;		/* --reap patterns, not owned */
	size_t nreap;
};

/* Make or adopt every pipe of c; returns how many could not be made. */
int pipes_start(struct pipes *t, const struct conf *c);

/* Apply a new configuration: add, change and retire pipes. */
void pipes_reload(struct pipes *t, const struct conf *c);

/* Look at every pipe once and apply the policy. */
void pipes_tick(struct pipes *t);

/* Remove undeclared stale pipes whose names match a --reap pattern. */
void pipes_reap(struct pipes *t);

/* A one-line summary for STATUS=. */
void pipes_summary(const struct pipes *t, char *buf, size_t len);

void pipes_free(struct pipes *t);

#endif /* SHMPIPED_PIPES_H */
