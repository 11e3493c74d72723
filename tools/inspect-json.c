/* SPDX-License-Identifier: MIT */
/*
 * The JSON form: one document per pipe, on one line, with its keys always
 * present and always in the same order, so that scripts can rely on it.
 * docs/inspect-json.md is the schema; a change to a key's meaning bumps
 * "schema".  Times are given twice: integer nanoseconds for arithmetic,
 * and an RFC 3339 string in UTC for people and for tools whose numbers
 * are doubles.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "inspect.h"

#define SCHEMA		1
#define MAX_DEPTH	8

/* A writer that knows whether a comma is due at each level. */
struct jw {
	FILE *f;
	int depth;
	int count[MAX_DEPTH];
};

void ins_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)	/* names need not be UTF-8 */
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void key(struct jw *j, const char *k)
{
	if (j->count[j->depth]++)
		fputc(',', j->f);
	if (k) {
		ins_json_string(j->f, k);
		fputc(':', j->f);
	}
}

static void open_(struct jw *j, const char *k, char c)
{
	key(j, k);
	fputc(c, j->f);
	j->count[++j->depth] = 0;
}

static void close_(struct jw *j, char c)
{
	fputc(c, j->f);
	j->depth--;
}

static void u64(struct jw *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

static void i64(struct jw *j, const char *k, int64_t v)
{
	key(j, k);
	fprintf(j->f, "%lld", (long long)v);
}

static void str(struct jw *j, const char *k, const char *v)
{
	key(j, k);
	if (v)
		ins_json_string(j->f, v);
	else
		fputs("null", j->f);
}

static void boolean(struct jw *j, const char *k, int v)
{
	key(j, k);
	fputs(v ? "true" : "false", j->f);
}

static void null(struct jw *j, const char *k)
{
	key(j, k);
	fputs("null", j->f);
}

/* {"ns": N, "time": "...Z"}, or null for a time never set. */
static void when(struct jw *j, const char *k, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	char buf[64], full[80];
	struct tm tm;

	if (ns == INS_UNKNOWN_NS) {
		null(j, k);
		return;
	}
	open_(j, k, '{');
	u64(j, "ns", ns);
	if (ns / 1000000000ULL <= 253402300799ULL && gmtime_r(&t, &tm) &&
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(full, sizeof(full), "%s.%09lluZ", buf,
			 (unsigned long long)(ns % 1000000000ULL));
		str(j, "time", full);
	} else {
		null(j, "time");
	}
	close_(j, '}');
}

/* A call's return value: {"code": -32, "name": "EPIPE", "text": ...}. */
static void error(struct jw *j, const char *k, int code)
{
	char buf[32];

	if (!code) {
		null(j, k);
		return;
	}
	open_(j, k, '{');
	i64(j, "code", code);
	str(j, "name", ins_err_name(buf, sizeof(buf), code));
	str(j, "text", code == SHMPIPE_EOF ? "end of stream" :
		       strerror(code < 0 ? -code : code));
	close_(j, '}');
}

static const char *role_name(int role)
{
	return role == SHMPIPE_ROLE_READER ? "reader" : "writer";
}

static void traffic(struct jw *j, const struct ins_pipe *p,
		    const struct ins_rates *rt)
{
	const struct shmpipe_shared *h = &p->sh;

	open_(j, "queued", '{');
	u64(j, "bytes", p->queued_bytes);
	u64(j, "messages", p->queued_msgs);
	u64(j, "free_bytes", p->free_bytes);
	close_(j, '}');
	open_(j, "written", '{');
	u64(j, "messages", h->sh_msgs_in);
	u64(j, "bytes", h->sh_bytes_in);
	close_(j, '}');
	open_(j, "read", '{');
	u64(j, "messages", h->sh_msgs_out);
	u64(j, "bytes", h->sh_bytes_out);
	close_(j, '}');
	if (!rt || rt->seconds <= 0) {
		null(j, "rates");
		return;
	}
	open_(j, "rates", '{');
	key(j, "seconds");
	fprintf(j->f, "%.3f", rt->seconds);
	u64(j, "messages_in", rt->msgs_in);
	u64(j, "messages_out", rt->msgs_out);
	u64(j, "bytes_in", rt->bytes_in);
	u64(j, "bytes_out", rt->bytes_out);
	close_(j, '}');
}

static void endpoint(struct jw *j, const struct ins_end *e)
{
	static const char *const lives[] = { "alive", "dead", "unknown" };

	open_(j, NULL, '{');
	str(j, "role", role_name(e->role));
	i64(j, "slot", e->slot);
	u64(j, "pid", e->pid);
	str(j, "life", lives[e->life]);
	str(j, "death", e->death ? ins_death_text(e->death) : NULL);
	when(j, "since", e->since_ns);
	u64(j, "start_ticks", e->start);
	u64(j, "token", e->token);
	close_(j, '}');
}

static void people(struct jw *j, const struct ins_pipe *p)
{
	struct ins_counts c;
	int i;

	ins_count(p, &c);
	open_(j, "readers", '{');
	u64(j, "alive", c.readers);
	u64(j, "dead", c.readers_dead);
	close_(j, '}');
	open_(j, "writers", '{');
	u64(j, "alive", c.writers);
	u64(j, "dead", c.writers_dead);
	close_(j, '}');
	open_(j, "endpoints", '[');
	for (i = 0; i < p->nends; i++)
		endpoint(j, &p->ends[i]);
	close_(j, ']');
	open_(j, "waiting", '{');
	boolean(j, "readers_for_data", p->sh.sh_rsleep);
	boolean(j, "writers_for_space", p->sh.sh_wsleep);
	close_(j, '}');
}

static void lock(struct jw *j, const struct ins_lock *lk)
{
	open_(j, lk->name, '{');
	str(j, "state", ins_lock_text(lk->state));
	if (lk->tid)
		u64(j, "tid", lk->tid);
	else
		null(j, "tid");
	if (lk->pid > 0)
		i64(j, "pid", lk->pid);
	else
		null(j, "pid");
	boolean(j, "waiters", lk->waiters);
	if (!lk->role) {
		null(j, "waiter_slots");
	} else {
		uint64_t m;

		open_(j, "waiter_slots", '[');
		for (m = lk->wait_mask; m; m &= m - 1)
			i64(j, NULL, __builtin_ctzll(m));
		close_(j, ']');
	}
	close_(j, '}');
}

static void closing(struct jw *j, const struct shmpipe_shared *h)
{
	open_(j, "close", '{');
	error(j, "write_error", h->sh_wr_error);
	error(j, "read_error", h->sh_rd_error);
	if (!(h->sh_flags & SHMPIPE_F_ABORTED)) {
		null(j, "reason");
	} else {
		open_(j, "reason", '{');
		error(j, "error", -h->sh_close_err);
		u64(j, "pid", h->sh_close_pid);
		str(j, "role", role_name((int)h->sh_close_role));
		when(j, "at", h->sh_close_ns);
		close_(j, '}');
	}
	close_(j, '}');
}

static void history(struct jw *j, uint32_t f)
{
	open_(j, "history", '{');
	boolean(j, "reader_seen", f & SHMPIPE_F_READER_SEEN);
	boolean(j, "writer_seen", f & SHMPIPE_F_WRITER_SEEN);
	boolean(j, "reader_died", f & SHMPIPE_F_READER_DIED);
	boolean(j, "writer_died", f & SHMPIPE_F_WRITER_DIED);
	boolean(j, "aborted", f & SHMPIPE_F_ABORTED);
	close_(j, '}');
}

static void counters(struct jw *j, const struct shmpipe_shared *h)
{
	open_(j, "counters", '{');
	u64(j, "recoveries", h->sh_recoveries);
	u64(j, "reaped", h->sh_reaped);
	u64(j, "write_timeouts", h->sh_wtimeouts);
	u64(j, "read_timeouts", h->sh_rtimeouts);
	u64(j, "reader_wakeups", h->sh_rwakeups);
	u64(j, "writer_wakeups", h->sh_wwakeups);
	close_(j, '}');
}

static void origin(struct jw *j, const struct ins_pipe *p)
{
	char mode[8];

	open_(j, "created", '{');
	when(j, "at", p->sh.sh_created_ns);
	u64(j, "pid", p->sh.sh_creator_pid);
	if (p->creator_alive < 0)
		null(j, "pid_running");
	else
		boolean(j, "pid_running", p->creator_alive);
	u64(j, "uid", p->sh.sh_creator_uid);
	close_(j, '}');
	open_(j, "owner", '{');
	u64(j, "uid", p->uid);
	u64(j, "gid", p->gid);
	snprintf(mode, sizeof(mode), "%04o", (unsigned int)p->mode & 07777);
	str(j, "mode", mode);
	close_(j, '}');
	when(j, "last_change", p->last_change_ns);
	when(j, "last_write", p->last_write_ns);
	when(j, "last_read", p->last_read_ns);
}

static void head(struct jw *j, const char *name, int valid, const char *state,
		 int status)
{
	open_(j, NULL, '{');
	u64(j, "schema", SCHEMA);
	str(j, "name", name);
	boolean(j, "valid", valid);
	str(j, "state", state);
	i64(j, "status", status);
}

static void body(struct jw *j, const struct ins_pipe *p,
		 const struct ins_rates *rt)
{
	int i;

	boolean(j, "full", ins_full(p));
	null(j, "diagnosis");
	open_(j, "snapshot", '{');
	i64(j, "copies", p->tries);
	boolean(j, "moving", p->moving);
	boolean(j, "settling", p->settling);
	close_(j, '}');
	u64(j, "layout_version", p->sh.sh_version);
	u64(j, "abi", p->sh.sh_abi);
	u64(j, "capacity", p->sh.sh_capacity);
	u64(j, "max_message", p->max_message);
	u64(j, "segment_bytes", p->sh.sh_seg_size);
	traffic(j, p, rt);
	people(j, p);
	open_(j, "locks", '{');
	for (i = 0; i < 3; i++)
		lock(j, &p->locks[i]);
	close_(j, '}');
	closing(j, &p->sh);
	history(j, p->sh.sh_flags);
	counters(j, &p->sh);
	origin(j, p);
	boolean(j, "strict", p->sh.sh_strict != 0);
}

/* A valid pipe: every key of the schema. */
void ins_json_pipe(FILE *f, const char *name, const struct ins_pipe *p,
		   const struct ins_rates *rt)
{
	struct jw j = { .f = f };
	int state = ins_state(p);

	head(&j, name, 1, ins_state_name(state), ins_state_exit(state));
	body(&j, p, rt);
	close_(&j, '}');
}

/* A pipe that could not be read or trusted: why, and nothing else. */
void ins_json_error(FILE *f, const char *name, const char *state, int status,
		    const char *why)
{
	struct jw j = { .f = f };

	head(&j, name, 0, state, status);
	str(&j, "diagnosis", why);
	close_(&j, '}');
}
