/* SPDX-License-Identifier: MIT */
/*
 * The policy.  A pipe is single-use: once its readers or its writers have
 * left, or a peer has died, it cannot be joined again.  So when a pipe has
 * finished and nobody alive is attached, the daemon replaces it with a
 * fresh one of the same name (on-finish = recreate), or leaves it for a
 * post-mortem (on-finish = keep) until someone removes it.
 *
 * Replacing a finished pipe races nobody: a process that opens the old
 * pipe between our look and our unlink is refused by the library (the
 * pipe has finished), and its retry finds the new one.  Replacing a pipe
 * that nobody has used yet is different, see XXX in apply().
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipes.h"

/*
 * Where the library names its segments.  The public API cannot list
 * pipes, so --reap reads the directory; it removes only names that
 * shmpipe_stat() accepts as pipes and finds stale.
 */
#define SHM_DIR		"/dev/shm"
#define SHM_PREFIX	"shmpipe."

enum when {
	AT_NEW,		/* just declared (start or reload): make it usable */
	AT_RELOAD,	/* its settings changed on reload */
	AT_TICK,	/* a periodic look */
};

static const char *plural(unsigned int n)
{
	return n == 1 ? "" : "s";
}

/* Append ", "-separated text to buf. */
static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n + 2 < len) {
		memcpy(buf + n, ", ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static enum pipe_health classify(const struct shmpipe_stat *st)
{
	if (st->readers || st->writers)
		return PIPE_IN_USE;
	if (st->readers_dead || st->writers_dead)
		return PIPE_FINISHED;	/* stale: every endpoint is dead */
	if (st->state == SHMPIPE_STATE_OPEN)
		return PIPE_IDLE;
	/* Writers that left before any reader came leave a whole stream
	 * for the first reader: that pipe has not finished yet. */
	if (st->state == SHMPIPE_STATE_WRITERS_GONE && st->msgs_queued)
		return PIPE_PENDING;
	return PIPE_FINISHED;
}

/* Why a finished pipe has finished, for the log. */
static void describe(const struct shmpipe_stat *st, char *buf, size_t len)
{
	buf[0] = '\0';
	if (st->state == SHMPIPE_STATE_ABORTED)
		append(buf, len, "aborted by pid %d (%s)", (int)st->close_pid,
		       strerror(st->close_err));
	if (st->reader_died)
		append(buf, len, "a reader died");
	else if (st->write_error == -EPIPE)
		append(buf, len, "its readers closed");
	if (st->writer_died)
		append(buf, len, "a writer died");
	else if (st->read_error == SHMPIPE_EOF)
		append(buf, len, "its writers closed");
	if (st->readers_dead)
		append(buf, len, "%u dead reader%s still attached",
		       st->readers_dead, plural(st->readers_dead));
	if (st->writers_dead)
		append(buf, len, "%u dead writer%s still attached",
		       st->writers_dead, plural(st->writers_dead));
}

/* Does the pipe differ from its configuration?  Says how in buf. */
static int differs(const struct pipe_conf *c, const struct shmpipe_stat *st,
		   char *buf, size_t len)
{
	buf[0] = '\0';
	if (st->max_message != shmpipe_max_message(c->capacity))
		append(buf, len, "capacity %zu, configured %zu", st->capacity,
		       c->capacity);
	if (st->uid != c->uid)
		append(buf, len, "owner %u, configured %u",
		       (unsigned int)st->uid, (unsigned int)c->uid);
	if (st->gid != c->gid)
		append(buf, len, "group %u, configured %u",
		       (unsigned int)st->gid, (unsigned int)c->gid);
	if (st->mode != c->mode)
		append(buf, len, "mode %04o, configured %04o",
		       (unsigned int)st->mode, (unsigned int)c->mode);
	return buf[0] != '\0';
}

static int same_settings(const struct pipe_conf *a, const struct pipe_conf *b)
{
	return a->capacity == b->capacity && a->mode == b->mode &&
	       a->uid == b->uid && a->gid == b->gid &&
	       a->on_finish == b->on_finish;
}

/* Log an error once for as long as it lasts. */
static void report_fail(struct pipe_state *p, int r, const char *what)
{
	p->health = PIPE_FAILING;
	if (r == p->last_err) {
		log_debug("pipe %s: still cannot %s: %s", p->conf.name, what,
			  strerror(-r));
		return;
	}
	p->last_err = r;
	log_errx("pipe %s: cannot %s: %s", p->conf.name, what, strerror(-r));
}

/*
 * Put a fresh pipe under the name.  The owner, group and mode are set by
 * the library on the descriptor before the pipe gets its name, so there
 * is no moment when it exists with other permissions.
 */
static int make(const struct pipe_conf *c)
{
	struct shmpipe_attr a = {
		.capacity = c->capacity,
		.mode = c->mode,
		.flags = SHMPIPE_ATTR_UID | SHMPIPE_ATTR_GID,
		.uid = c->uid,
		.gid = c->gid,
	};
	int r = shmpipe_unlink(c->name);

	if (r && r != -ENOENT)
		return r;
	return shmpipe_create(c->name, &a);
}

static void remake(struct pipe_state *p, const char *why, const char *done)
{
	int r = make(&p->conf);

	if (r) {
		report_fail(p, r, "create it");
		return;
	}
	p->last_err = 0;
	p->health = PIPE_IDLE;
	p->mismatch_logged = 0;
	p->readers = p->writers = p->dead = 0;
	log_info("pipe %s: %s%s%s (capacity %zu, owner %u:%u, mode %04o)",
		 p->conf.name, why, *why ? ": " : "", done, p->conf.capacity,
		 (unsigned int)p->conf.uid, (unsigned int)p->conf.gid,
		 (unsigned int)p->conf.mode);
}

static void note_endpoints(struct pipe_state *p, const struct shmpipe_stat *st)
{
	unsigned int dead = st->readers_dead + st->writers_dead;

	if (st->readers == p->readers && st->writers == p->writers &&
	    dead == p->dead)
		return;
	p->readers = st->readers;
	p->writers = st->writers;
	p->dead = dead;
	if (dead)
		log_info("pipe %s: %u reader%s, %u writer%s attached, and %u "
			 "dead", p->conf.name, st->readers, plural(st->readers),
			 st->writers, plural(st->writers), dead);
	else
		log_info("pipe %s: %u reader%s, %u writer%s attached",
			 p->conf.name, st->readers, plural(st->readers),
			 st->writers, plural(st->writers));
}

static const char *health_name(enum pipe_health h)
{
	switch (h) {
	case PIPE_IDLE:		return "idle";
	case PIPE_IN_USE:	return "in use";
	case PIPE_PENDING:	return "waiting for a reader";
	case PIPE_FINISHED:	return "finished";
	case PIPE_KEPT:		return "kept";
	case PIPE_FAILING:	return "failing";
	default:		return "unknown";
	}
}

static void apply_finished(struct pipe_state *p, const struct shmpipe_stat *st,
			   enum when when)
{
	char why[256];

	describe(st, why, sizeof(why));
	if (when == AT_NEW) {
		/* Readiness promises usable pipes: a stale one is replaced
		 * at start whatever its on-finish says. */
		remake(p, why, "stale, replaced");
		return;
	}
	if (p->conf.on_finish == ON_FINISH_KEEP) {
		if (p->health != PIPE_KEPT)
			log_notice("pipe %s: finished (%s): kept for "
				   "post-mortem; remove it to get a fresh one",
				   p->conf.name, why);
		p->health = PIPE_KEPT;
		return;
	}
	remake(p, why, "finished, recreated");
}

static void apply(struct pipe_state *p, const struct shmpipe_stat *st,
		  enum when when)
{
	enum pipe_health h = classify(st);
	char diff[256];

	if (h == PIPE_FINISHED) {
		apply_finished(p, st, when);
		return;
	}
	if (h == PIPE_PENDING && p->health != PIPE_PENDING)
		log_info("pipe %s: its writers closed; %llu message%s wait for "
			 "a reader", p->conf.name, st->msgs_queued,
			 plural((unsigned int)st->msgs_queued));
	if (when == AT_NEW)
		log_info("pipe %s: adopted (%s)", p->conf.name,
			 health_name(h));
	p->health = h;
	if (!differs(&p->conf, st, diff, sizeof(diff))) {
		p->mismatch_logged = 0;
		return;
	}
	/*
	 * XXX: a process that opens this never-used pipe between our look
	 * and the unlink keeps the old one while its peer gets the new one.
	 * The library has no "unlink if nobody is attached"; so this is
	 * done only when the configuration is read, never on a tick.
	 */
	if (h == PIPE_IDLE && when != AT_TICK) {
		remake(p, diff, "unused, replaced with the configured settings");
		return;
	}
	if (!p->mismatch_logged)
		log_warnx("pipe %s: %s; the configured settings apply when it "
			  "is next recreated", p->conf.name, diff);
	p->mismatch_logged = 1;
}

/* A pipe that is no longer declared goes once nobody alive uses it. */
static void retire(struct pipe_state *p, int r, const struct shmpipe_stat *st)
{
	if (r == -ENOENT) {
		log_info("pipe %s: no longer declared, and gone", p->conf.name);
		p->gone = 1;
		return;
	}
	/* -EBUSY: too busy for a snapshot, so in use (st is all zero). */
	if (r == -EBUSY || (!r && (st->readers || st->writers))) {
		if (!p->retire_logged)
			log_notice("pipe %s: no longer declared, but in use "
				   "(%u reader%s, %u writer%s): it stays until "
				   "they leave", p->conf.name, st->readers,
				   plural(st->readers), st->writers,
				   plural(st->writers));
		p->retire_logged = 1;
		return;
	}
	if (r && r != -EPROTO) {
		report_fail(p, r, "look at it");
		return;
	}
	r = shmpipe_unlink(p->conf.name);
	if (r && r != -ENOENT) {
		report_fail(p, r, "remove it");
		return;
	}
	log_info("pipe %s: no longer declared%s: removed%s", p->conf.name,
		 p->retire_logged ? " and its users have left" : "",
		 st->msgs_queued ? " with messages still queued" : "");
	p->gone = 1;
}

static void check(struct pipe_state *p, enum when when)
{
	struct shmpipe_stat st;
	int r;

	memset(&st, 0, sizeof(st));
	r = shmpipe_stat(p->conf.name, &st);
	if (!p->declared) {
		retire(p, r, &st);
		return;
	}
	if (r == -ENOENT) {
		remake(p, "", when == AT_TICK ? "was gone, created again"
					       : "created");
		return;
	}
	if (r == -EPROTO) {
		remake(p, "not a valid pipe (half-created or damaged)",
		       "replaced");
		return;
	}
	if (r == -EBUSY) {
		/* No steady snapshot: it is busy, so somebody uses it. */
		p->health = PIPE_IN_USE;
		return;
	}
	if (r) {
		report_fail(p, r, "look at it");
		return;
	}
	p->last_err = 0;
	note_endpoints(p, &st);
	apply(p, &st, when);
}

static struct pipe_state *find(struct pipes *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].conf.name, name) == 0)
			return &t->v[i];
	return NULL;
}

/* Returns the new entry's index, or -1 without memory. */
static long add(struct pipes *t, const struct pipe_conf *c)
{
	struct pipe_state *v = realloc(t->v, (t->n + 1) * sizeof(*v));

	if (!v) {
		log_errx("pipe %s: out of memory", c->name);
		return -1;
	}
	t->v = v;
	memset(&v[t->n], 0, sizeof(v[t->n]));
	v[t->n].conf = *c;
	v[t->n].conf.file = NULL;
	v[t->n].declared = 1;
	return (long)t->n++;
}

/* Drop the entries that are gone. */
static void compact(struct pipes *t)
{
	size_t i, j;

	for (i = j = 0; i < t->n; i++)
		if (!t->v[i].gone)
			t->v[j++] = t->v[i];
	t->n = j;
}

int pipes_start(struct pipes *t, const struct conf *c)
{
	int failed = 0;
	size_t i;
	long k;

	for (i = 0; i < c->npipes; i++) {
		k = add(t, &c->pipes[i]);
		if (k < 0) {
			failed++;
			continue;
		}
		check(&t->v[k], AT_NEW);
		failed += t->v[k].health == PIPE_FAILING;
	}
	return failed;
}

static void reload_one(struct pipes *t, const struct pipe_conf *c)
{
	struct pipe_state *p = find(t, c->name);
	struct pipe_conf old;
	long k;

	if (!p) {
		k = add(t, c);
		if (k >= 0)
			check(&t->v[k], AT_NEW);
		return;
	}
	old = p->conf;
	p->conf = *c;
	p->conf.file = NULL;
	if (!p->declared)
		log_info("pipe %s: declared again", c->name);
	p->declared = 1;
	p->retire_logged = 0;
	if (same_settings(&old, c))
		return;
	log_info("pipe %s: settings changed", c->name);
	p->mismatch_logged = 0;
	check(p, AT_RELOAD);
}

void pipes_reload(struct pipes *t, const struct conf *c)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct pipe_state *p = &t->v[i];

		if (p->declared && !conf_find(c, p->conf.name)) {
			p->declared = 0;
			p->retire_logged = 0;
			check(p, AT_RELOAD);
		}
	}
	for (i = 0; i < c->npipes; i++)
		reload_one(t, &c->pipes[i]);
	compact(t);
}

void pipes_tick(struct pipes *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		check(&t->v[i], AT_TICK);
	compact(t);
}

static int reap_match(const struct pipes *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nreap; i++)
		if (fnmatch(t->reap[i], name, 0) == 0)
			return 1;
	return 0;
}

/* Remove one undeclared pipe if it is a pipe, finished, and unused. */
static void reap_one(const char *name)
{
	struct shmpipe_stat st;
	char why[256];
	int r = shmpipe_stat(name, &st);

	if (r) {
		if (r != -ENOENT)
			log_debug("reap: %s left alone: %s", name, strerror(-r));
		return;
	}
	if (classify(&st) != PIPE_FINISHED)
		return;
	describe(&st, why, sizeof(why));
	r = shmpipe_unlink(name);
	if (r && r != -ENOENT)
		log_warnx("reap: cannot remove %s: %s", name, strerror(-r));
	else if (!r)
		log_info("reap: removed stale pipe %s (%s)", name, why);
}

void pipes_reap(struct pipes *t)
{
	const size_t plen = strlen(SHM_PREFIX);
	struct dirent *de;
	DIR *d;

	if (!t->nreap)
		return;
	d = opendir(SHM_DIR);
	if (!d) {
		log_warnx("reap: cannot read " SHM_DIR ": %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name + plen;

		if (strncmp(de->d_name, SHM_PREFIX, plen) != 0 || !*name)
			continue;
		if (find(t, name) || !reap_match(t, name))
			continue;
		reap_one(name);
	}
	closedir(d);
}

void pipes_summary(const struct pipes *t, char *buf, size_t len)
{
	unsigned int n[PIPE_FAILING + 1] = { 0 }, retiring = 0, declared = 0;
	char part[256] = "";
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (!t->v[i].declared) {
			retiring++;
			continue;
		}
		declared++;
		n[t->v[i].health]++;
	}
	for (i = PIPE_IDLE; i <= PIPE_FAILING; i++)
		if (n[i])
			append(part, sizeof(part), "%u %s", n[i],
			       health_name((enum pipe_health)i));
	if (retiring)
		append(part, sizeof(part), "%u retiring", retiring);
	snprintf(buf, len, "%u pipe%s%s%s", declared, plural(declared),
		 *part ? ": " : "", part);
}

void pipes_free(struct pipes *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
