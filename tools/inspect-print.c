/* SPDX-License-Identifier: MIT */
/*
 * The human forms: one line per pipe for the list, labelled lines for one
 * pipe.  Every value printed comes from a parsed copy, but names come
 * from directory entries that anybody can create, so they are printed
 * with anything unprintable escaped.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "inspect.h"

#define NS	1000000000ULL

/* "2024-05-01 03:00:00" in local time; "-" for a time never set. */
const char *ins_fmt_time(char *buf, size_t size, uint64_t ns)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;

	if (!ns)
		return "-";
	if (ns / NS > (uint64_t)253402300799ULL || !localtime_r(&t, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "@%llu", (unsigned long long)ns);
	return buf;
}

/* "3s ago", "5m ago"; "" if unknown. */
const char *ins_fmt_age(char *buf, size_t size, uint64_t ns, uint64_t now)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	uint64_t s;
	size_t i;

	if (!ns || !now)
		return "";
	if (ns > now + NS)
		return "in the future";
	s = ns < now ? (now - ns) / NS : 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++)
		if (s >= units[i].secs)
			break;
	snprintf(buf, size, "%llu%c ago",
		 (unsigned long long)(s / units[i].secs), units[i].unit);
	return buf;
}

/* "512", "4.0K", "1.0M": bytes in binary units, for narrow columns. */
const char *ins_fmt_size(char *buf, size_t size, uint64_t n)
{
	static const char units[] = "KMGTPE";
	double v = (double)n;
	int i = -1;

	if (n < 1024) {
		snprintf(buf, size, "%llu", (unsigned long long)n);
		return buf;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%.1f%c", v, units[i]);
	return buf;
}

/* A call's return value in words: "EPIPE", "EOF", or "error 4000". */
const char *ins_err_name(char *buf, size_t size, int code)
{
	const char *s = code < 0 ? strerrorname_np(-code) : NULL;

	if (code == SHMPIPE_EOF)
		return "EOF";
	if (s)
		return s;
	snprintf(buf, size, "error %d", code);
	return buf;
}

/* Print s, escaping what a terminal would act on; pad to width. */
void ins_print_name(FILE *f, const char *s, int width)
{
	int n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			n += fprintf(f, "\\x%02x", c);
		else
			n += fputc(c, f) != EOF;
	}
	for (; n < width; n++)
		fputc(' ', f);
}

/* "2024-05-01 03:00:00 (3s ago)", the age left out when unknown. */
static const char *stamp(char *buf, size_t size, uint64_t ns, uint64_t now)
{
	char t[64], a[32];
	const char *when = ins_fmt_time(t, sizeof(t), ns);
	const char *age = ins_fmt_age(a, sizeof(a), ns, now);

	if (*age)
		snprintf(buf, size, "%s (%s)", when, age);
	else
		snprintf(buf, size, "%s", when);
	return buf;
}

static void label(FILE *f, const char *l)
{
	fprintf(f, "%-16s", l);
}

/* Why the state is what it is, in a few words. */
static const char *explain(const struct ins_pipe *p, int state)
{
	const struct shmpipe_shared *h = &p->sh;
	struct ins_counts c;

	ins_count(p, &c);
	switch (state) {
	case INS_ST_STALE:
		return "no live endpoint and nothing left for a newcomer";
	case INS_ST_PEER_DEAD:
		if (c.readers_dead || h->sh_wr_error == -ECONNRESET)
			return "a reader died";
		return "a writer died";
	case INS_ST_ABORTED:
		return "closed with a reason";
	case INS_ST_CLOSED:
		if (h->sh_wr_error)
			return "every reader left: writes fail";
		return "every writer left: reads end after the queued data";
	case INS_ST_NEW:
		return "nothing has attached yet";
	case INS_ST_WAITING:
		return c.readers ? "no writer has attached yet" :
				   "no reader has attached yet";
	default:
		return ins_full(p) ? "full: writers wait for space" :
				     "a live reader and a live writer";
	}
}

static void print_traffic(FILE *f, const struct ins_pipe *p,
			  const struct ins_rates *rt)
{
	const struct shmpipe_shared *h = &p->sh;

	label(f, "capacity:");
	fprintf(f, "%llu bytes, largest message %llu bytes\n",
		(unsigned long long)h->sh_capacity,
		(unsigned long long)p->max_message);
	label(f, "queued:");
	fprintf(f, "%llu bytes in %llu messages (%.1f%% full), %llu bytes "
		"free%s\n", (unsigned long long)p->queued_bytes,
		(unsigned long long)p->queued_msgs,
		100.0 * (double)p->queued_bytes / (double)h->sh_capacity,
		(unsigned long long)p->free_bytes,
		p->moving ? " (moving: approximate)" : "");
	label(f, "written:");
	fprintf(f, "%llu messages, %llu bytes\n",
		(unsigned long long)h->sh_msgs_in,
		(unsigned long long)h->sh_bytes_in);
	label(f, "read:");
	fprintf(f, "%llu messages, %llu bytes\n",
		(unsigned long long)h->sh_msgs_out,
		(unsigned long long)h->sh_bytes_out);
	if (!rt || rt->seconds <= 0)
		return;
	label(f, "rate:");
	fprintf(f, "%.0f messages/s in, %.0f out; %.0f bytes/s in, %.0f "
		"out\n", (double)rt->msgs_in / rt->seconds,
		(double)rt->msgs_out / rt->seconds,
		(double)rt->bytes_in / rt->seconds,
		(double)rt->bytes_out / rt->seconds);
}

static void print_when(FILE *f, const char *l, uint64_t ns, uint64_t now)
{
	char t[128];

	label(f, l);
	if (ns == INS_UNKNOWN_NS)
		fprintf(f, "unknown: layout %u does not record it\n",
			SHMPIPE_LAYOUT_VERSION);
	else
		fprintf(f, "%s\n", stamp(t, sizeof(t), ns, now));
}

static void print_origin(FILE *f, const struct ins_pipe *p, uint64_t now)
{
	static const char *const alive[] = { "gone", "running", "unknown" };
	const struct shmpipe_shared *h = &p->sh;
	struct ins_counts c;
	char t[128];

	ins_count(p, &c);
	label(f, "readers:");
	fprintf(f, "%u alive, %u dead\n", c.readers, c.readers_dead);
	label(f, "writers:");
	fprintf(f, "%u alive, %u dead\n", c.writers, c.writers_dead);
	label(f, "created:");
	fprintf(f, "%s by pid %u (%s), uid %u\n",
		stamp(t, sizeof(t), h->sh_created_ns, now), h->sh_creator_pid,
		alive[p->creator_alive < 0 ? 2 : p->creator_alive],
		h->sh_creator_uid);
	label(f, "owner:");
	fprintf(f, "uid %u, gid %u, mode %04o\n", (unsigned int)p->uid,
		(unsigned int)p->gid, (unsigned int)p->mode);
	print_when(f, "last change:", p->last_change_ns, now);
	print_when(f, "last write:", p->last_write_ns, now);
	print_when(f, "last read:", p->last_read_ns, now);
	label(f, "snapshot:");
	fprintf(f, "%s, %d copies%s\n", p->moving ? "moving" : "consistent",
		p->tries, p->settling ? ", control lock held: state may be "
		"changing" : "");
}

static const char *role_name(int role)
{
	return role == SHMPIPE_ROLE_READER ? "reader" :
	       role == SHMPIPE_ROLE_WRITER ? "writer" : "?";
}

static const char *life_name(int life)
{
	return life == INS_ALIVE ? "alive" : life == INS_DEAD ? "dead" :
	       "unknown";
}

static void print_endpoints(FILE *f, const struct ins_pipe *p, uint64_t now)
{
	char t[128];
	int i;

	fprintf(f, "endpoints:\n");
	if (!p->nends) {
		fprintf(f, "  none attached\n");
		return;
	}
	fprintf(f, "  %-6s %4s %8s  %-7s  %s\n", "ROLE", "SLOT", "PID",
		"STATUS", "SINCE");
	for (i = 0; i < p->nends; i++) {
		const struct ins_end *e = &p->ends[i];

		fprintf(f, "  %-6s %4d %8u  %-7s  %s", role_name(e->role),
			e->slot, e->pid, life_name(e->life),
			stamp(t, sizeof(t), e->since_ns, now));
		if (e->death)
			fprintf(f, ": %s", ins_death_text(e->death));
		fputc('\n', f);
	}
}

static void print_waiting(FILE *f, const struct ins_pipe *p)
{
	fprintf(f, "waiting:\n");
	fprintf(f, "  %-22s%s\n", "readers for data:",
		p->sh.sh_rsleep ? "yes" : "no");
	fprintf(f, "  %-22s%s\n", "writers for space:",
		p->sh.sh_wsleep ? "yes" : "no");
}

/* Side locks: the endpoints with a thread waiting, by slot and pid. */
static void print_lock_waiters(FILE *f, const struct ins_pipe *p,
			       const struct ins_lock *lk)
{
	const struct shmpipe_slot *slots = lk->role == SHMPIPE_ROLE_READER ?
		p->sh.sh_readers : p->sh.sh_writers;
	uint64_t attached = lk->role == SHMPIPE_ROLE_READER ?
		p->sh.sh_rmask : p->sh.sh_wmask;
	const char *sep = ": ";
	uint64_t m;

	for (m = lk->wait_mask; m; m &= m - 1) {
		int i = __builtin_ctzll(m);

		fprintf(f, "%sslot %d", sep, i);
		if (attached & (1ULL << i))
			fprintf(f, " (pid %u)", slots[i].sl_pid);
		else
			fprintf(f, " (not attached)");
		sep = ", ";
	}
}

static void print_lock(FILE *f, const struct ins_pipe *p,
		       const struct ins_lock *lk)
{
	char who[64];

	if (lk->pid > 0 && lk->tid)
		snprintf(who, sizeof(who), "pid %d (thread %u)", lk->pid,
			 lk->tid);
	else if (lk->pid > 0)
		snprintf(who, sizeof(who), "pid %d", lk->pid);
	else if (lk->tid)
		snprintf(who, sizeof(who), "thread %u", lk->tid);
	else
		snprintf(who, sizeof(who), "no such endpoint");
	fprintf(f, "  %-10s", lk->name);
	switch (lk->state) {
	case INS_LK_HELD:
		fprintf(f, "held by %s", who);
		break;
	case INS_LK_OWNER_DIED:
		if (!lk->role)
			fprintf(f, "owner died: the next locker repairs it");
		else
			fprintf(f, "owner gone (%s): the next locker takes "
				"it over", who);
		break;
	default:
		fprintf(f, "free");
	}
	if (lk->waiters)
		fprintf(f, ", threads waiting");
	if (lk->role)
		print_lock_waiters(f, p, lk);
	fputc('\n', f);
}

static void print_close(FILE *f, const struct ins_pipe *p, uint64_t now)
{
	const struct shmpipe_shared *h = &p->sh;
	char e[32], t[128];

	fprintf(f, "closing:\n");
	fprintf(f, "  %-10s", "writes:");
	if (h->sh_wr_error)
		fprintf(f, "fail with %s\n", ins_err_name(e, sizeof(e),
							  h->sh_wr_error));
	else
		fprintf(f, "go on\n");
	fprintf(f, "  %-10s", "reads:");
	if (h->sh_rd_error)
		fprintf(f, "end with %s once the queue is empty\n",
			ins_err_name(e, sizeof(e), h->sh_rd_error));
	else
		fprintf(f, "go on\n");
	fprintf(f, "  %-10s", "reason:");
	if (!(h->sh_flags & SHMPIPE_F_ABORTED)) {
		fprintf(f, "none\n");
		return;
	}
	fprintf(f, "%s (%s) set by %s pid %u at %s\n",
		ins_err_name(e, sizeof(e), -h->sh_close_err),
		strerror(h->sh_close_err), role_name((int)h->sh_close_role),
		h->sh_close_pid, stamp(t, sizeof(t), h->sh_close_ns, now));
}

static void print_history(FILE *f, const struct ins_pipe *p)
{
	static const struct {
		uint32_t flag;
		const char *text;
	} facts[] = {
		{ SHMPIPE_F_READER_SEEN, "a reader attached" },
		{ SHMPIPE_F_WRITER_SEEN, "a writer attached" },
		{ SHMPIPE_F_READER_DIED, "a reader died attached" },
		{ SHMPIPE_F_WRITER_DIED, "a writer died attached" },
		{ SHMPIPE_F_ABORTED, "closed with a reason" },
	};
	const char *sep = "";
	size_t i;

	label(f, "history:");
	for (i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		if (p->sh.sh_flags & facts[i].flag) {
			fprintf(f, "%s%s", sep, facts[i].text);
			sep = "; ";
		}
	}
	fprintf(f, "%s\n", *sep ? "" : "nothing attached yet");
}

static void print_counters(FILE *f, const struct shmpipe_shared *h)
{
	fprintf(f, "counters:\n");
	fprintf(f, "  %-18s%llu\n", "recoveries:",
		(unsigned long long)h->sh_recoveries);
	fprintf(f, "  %-18s%llu\n", "reaped:",
		(unsigned long long)h->sh_reaped);
	fprintf(f, "  %-18s%llu\n", "write timeouts:",
		(unsigned long long)h->sh_wtimeouts);
	fprintf(f, "  %-18s%llu\n", "read timeouts:",
		(unsigned long long)h->sh_rtimeouts);
	fprintf(f, "  %-18s%llu\n", "reader wakeups:",
		(unsigned long long)h->sh_rwakeups);
	fprintf(f, "  %-18s%llu\n", "writer wakeups:",
		(unsigned long long)h->sh_wwakeups);
}

void ins_print_pipe(FILE *f, const char *name, const struct ins_pipe *p,
		    const struct ins_rates *rt, uint64_t now_ns)
{
	int state = ins_state(p), i;

	label(f, "pipe:");
	ins_print_name(f, name, 0);
	fputc('\n', f);
	label(f, "state:");
	fprintf(f, "%s: %s\n", ins_state_name(state), explain(p, state));
	label(f, "format:");
	fprintf(f, "layout %u, ABI %#x, %llu bytes\n", p->sh.sh_version,
		p->sh.sh_abi, (unsigned long long)p->sh.sh_seg_size);
	label(f, "fences:");
	fprintf(f, "%s\n", p->sh.sh_strict ? "strict (an endpoint without "
		"membarrier attached)" : "asymmetric (membarrier)");
	print_traffic(f, p, rt);
	print_origin(f, p, now_ns);
	print_history(f, p);
	print_endpoints(f, p, now_ns);
	print_waiting(f, p);
	fprintf(f, "locks:\n");
	for (i = 0; i < 3; i++)
		print_lock(f, p, &p->locks[i]);
	print_close(f, p, now_ns);
	print_counters(f, &p->sh);
}

/* The list: one line per pipe under ins_print_header()'s titles. */
void ins_print_header(FILE *f)
{
	fprintf(f, "%-24s %-11s %15s %5s %8s %7s %7s  %s\n", "NAME", "STATE",
		"QUEUED", "FULL", "MSGS", "READERS", "WRITERS", "CHANGED");
}

static const char *side(char *buf, size_t size, unsigned int alive,
			unsigned int dead)
{
	if (dead)
		snprintf(buf, size, "%u+%ud", alive, dead);
	else
		snprintf(buf, size, "%u", alive);
	return buf;
}

void ins_print_row(FILE *f, const char *name, const struct ins_pipe *p,
		   uint64_t now_ns)
{
	char q[16], c[16], queued[40], r[24], w[24], a[32];
	int state = ins_state(p);
	struct ins_counts n;

	ins_count(p, &n);
	snprintf(queued, sizeof(queued), "%s/%s",
		 ins_fmt_size(q, sizeof(q), p->queued_bytes),
		 ins_fmt_size(c, sizeof(c), p->sh.sh_capacity));
	ins_print_name(f, name, 24);
	fprintf(f, " %-11s %15s %4.0f%% %8llu %7s %7s  %s\n",
		state == INS_ST_OPEN && ins_full(p) ? "full" :
		ins_state_name(state), queued,
		100.0 * (double)p->queued_bytes / (double)p->sh.sh_capacity,
		(unsigned long long)p->queued_msgs,
		side(r, sizeof(r), n.readers, n.readers_dead),
		side(w, sizeof(w), n.writers, n.writers_dead),
		ins_fmt_age(a, sizeof(a), p->last_change_ns, now_ns));
}

void ins_print_row_error(FILE *f, const char *name, const char *state,
			 const char *why)
{
	ins_print_name(f, name, 24);
	fprintf(f, " %-11s %s\n", state, why);
}
