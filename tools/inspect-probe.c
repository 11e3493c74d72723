/* SPDX-License-Identifier: MIT */
/*
 * Looking without touching.  A segment is opened read-only, never mapped
 * (a file truncated under a mapping raises SIGBUS; pread just returns
 * less), never locked and never waited on.  A snapshot is two copies in a
 * row that agree on the pipe's state; if they also agree on the ring's
 * traffic and the control lock was free in both, the snapshot is
 * consistent, else the best pair seen is used and marked.  After
 * SNAPSHOT_TRIES copies without a pair the answer is "busy".
 *
 * Whether a process is alive comes from two witnesses.  The kernel frees
 * an endpoint's live lock when its process dies, which no pid reuse can
 * fake; /proc then confirms the pid is still the process that attached,
 * by its start time.  Where they disagree the endpoint is "unknown".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inspect.h"

#define SNAPSHOT_TRIES	64
#define TID_MASK	0x3fffffffu

/* A header copy, aligned for the struct it holds. */
union copy {
	struct shmpipe_shared sh;
	uint8_t bytes[SHMPIPE_HDR_SIZE];
};

struct snap {
	union copy *buf;
	size_t len;
	uint64_t size;
};

uint64_t ins_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Copy the header; a short file gives a short copy, never a fault. */
static int take_copy(int fd, struct snap *s)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	s->size = (uint64_t)st.st_size;
	s->len = 0;
	while (s->len < sizeof(s->buf->bytes)) {
		n = pread(fd, s->buf->bytes + s->len,
			  sizeof(s->buf->bytes) - s->len, (off_t)s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		s->len += (size_t)n;
	}
	return 0;
}

static int ours(const struct snap *s)
{
	return s->len >= sizeof(s->buf->sh.sh_magic) &&
	       s->buf->sh.sh_magic == SHMPIPE_MAGIC;
}

/* Two copies tell the same story: of a foreign file, by its first bytes
 * alone, which are all its verdict rests on; of ours, by its state. */
static int same_state(const struct snap *a, const struct snap *b)
{
	size_t n = a->len < 8 ? a->len : 8;

	if (a->size != b->size)
		return 0;
	if (!ours(a) || !ours(b))
		return n == (b->len < 8 ? b->len : 8) &&
		       !memcmp(a->buf->bytes, b->buf->bytes, n);
	if (a->len != b->len)
		return 0;
	if (a->len < sizeof(a->buf->sh))
		return !memcmp(a->buf->bytes, b->buf->bytes, a->len);
	return ins_same_state(&a->buf->sh, &b->buf->sh);
}

static int ctl_free(const struct snap *s)
{
	return s->len < sizeof(s->buf->sh) ||
	       !(s->buf->sh.sh_ctl.word & TID_MASK);
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, 50000 };

	nanosleep(&ts, NULL);
}

/*
 * Parse the later of two copies that agree on the pipe's state.  *final
 * says whether to stop looking: a valid copy is final when the traffic
 * held still and the control lock was free in both; an invalid one when
 * the lock was free, since a failure while it is held may be a change in
 * progress.
 */
static int judge(const struct snap *a, const struct snap *b,
		 struct ins_pipe *p, char *why, size_t n, int *final)
{
	int settled = ctl_free(a) && ctl_free(b);
	int moving = b->len >= sizeof(b->buf->sh) &&
		     !ins_same_traffic(&a->buf->sh, &b->buf->sh);
	int v = ins_parse(b->buf, b->len, b->size, moving, p, why, n);

	p->settling = !settled;
	*final = v == INS_VALID ? !moving && settled : settled;
	return v;
}

/*
 * Copy until a pair of copies in a row is final, or the tries run out.
 * Returns INS_VALID with p filled (the best pair seen if none was
 * final), another verdict with the reason in why, -EBUSY, or -errno.
 */
static int snapshot(int fd, struct ins_pipe *p, char *why, size_t n)
{
	static union copy bufs[2];
	static struct ins_pipe best;
	struct snap s[2] = { { &bufs[0], 0, 0 }, { &bufs[1], 0, 0 } };
	int have_best = 0, verdict = -EBUSY, i, r, v, final;

	r = take_copy(fd, &s[0]);
	for (i = 1; !r && i < SNAPSHOT_TRIES; i++) {
		struct snap *prev = &s[(i - 1) & 1], *cur = &s[i & 1];

		r = take_copy(fd, cur);
		if (r)
			break;
		if (!same_state(prev, cur)) {
			pause_briefly();
			continue;
		}
		v = judge(prev, cur, p, why, n, &final);
		p->tries = i + 1;
		if (final)
			return v;
		if (v == INS_VALID) {
			best = *p;
			have_best = 1;
		} else {
			verdict = v;
		}
		if (p->settling)
			pause_briefly();	/* let the holder finish */
	}
	if (r || !have_best)
		return r ? r : verdict;
	*p = best;
	p->tries = i;
	return INS_VALID;
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks. */
static int proc_start(uint32_t pid, uint64_t *start)
{
	char path[64], buf[1024];
	const char *s;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	s = strrchr(buf, ')');	/* the command name may hold anything */
	for (field = 2; s && field < 22; field++)
		s = strchr(s + 1, ' ');
	if (!s)
		return -EIO;
	*start = strtoull(s + 1, NULL, 10);
	return 0;
}

/* The process a thread belongs to, or -1 if there is no such thread. */
static int32_t thread_group(uint32_t tid)
{
	char path[64], buf[2048];
	const char *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strstr(buf, "\nTgid:");
	return s ? (int32_t)strtol(s + 6, NULL, 10) : -1;
}

/* Is the process the endpoint attached from still that process? */
static void check_end(struct ins_end *e)
{
	uint64_t start;
	int r;

	if (e->life != INS_ALIVE)
		return;
	r = proc_start(e->pid, &start);
	if (!r && (!e->start || start == e->start))
		return;
	/* The kernel still holds its lock for it: trust no guess. */
	e->life = INS_UNKNOWN;
	e->death = r ? INS_DEATH_PID_GONE : INS_DEATH_PID_REUSED;
}

/* The boot time in CLOCK_REALTIME seconds, from /proc/stat; 0 unknown. */
static uint64_t boot_time(void)
{
	static uint64_t btime;
	char line[256];
	FILE *f;

	if (btime)
		return btime;
	f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6))
			btime = strtoull(line + 6, NULL, 10);
	fclose(f);
	return btime;
}

/*
 * Is the creator still running?  The header keeps its pid but not its
 * start time, so a process with that pid counts only if it started
 * before the pipe was created.  -1 when /proc cannot tell.
 */
static int creator_alive(const struct ins_pipe *p)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t start, boot = boot_time(), started_s;
	int r = proc_start(p->sh.sh_creator_pid, &start);

	if (r == -ENOENT)
		return 0;
	if (r || hz <= 0 || !boot)
		return -1;
	started_s = boot + start / (uint64_t)hz;
	return started_s <= p->sh.sh_created_ns / 1000000000ULL + 1;
}

void ins_probe_procs(struct ins_pipe *p)
{
	int i;

	for (i = 0; i < p->nends; i++)
		check_end(&p->ends[i]);
	for (i = 0; i < 3; i++) {
		struct ins_lock *lk = &p->locks[i];

		/* The side locks name their owner's process already; the
		 * control lock names the holder's keeper thread. */
		if (lk->tid && lk->state == INS_LK_HELD)
			lk->pid = thread_group(lk->tid);
	}
	p->creator_alive = creator_alive(p);
}

static int answer(struct ins_result *res, int status, const char *state,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int answer(struct ins_result *res, int status, const char *state,
		  const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	res->state = state;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return status;
}

/* Inspect an open file: a pipe's segment or a copy of one. */
int ins_probe_fd(int fd, struct ins_pipe *p, struct ins_result *res)
{
	struct stat st;
	int v, s;

	memset(res, 0, sizeof(*res));
	if (fstat(fd, &st) < 0)
		return answer(res, INS_EX_ERROR, "unreadable", "%s",
			      strerror(errno));
	if (!S_ISREG(st.st_mode))
		return answer(res, INS_EX_FOREIGN, "foreign", "not a shmpipe "
			      "segment: not a regular file");
	v = snapshot(fd, p, res->why, sizeof(res->why));
	if (v == -EBUSY)
		return answer(res, INS_EX_BUSY, "busy", "no consistent "
			      "snapshot in %d copies: its state keeps changing",
			      SNAPSHOT_TRIES);
	if (v < 0)
		return answer(res, INS_EX_ERROR, "unreadable", "%s",
			      strerror(-v));
	if (v != INS_VALID) {
		res->status = ins_verdict_exit(v);
		res->state = ins_verdict_name(v);
		return res->status;
	}
	res->valid = 1;
	res->why[0] = '\0';
	p->uid = st.st_uid;
	p->gid = st.st_gid;
	p->mode = st.st_mode & 07777;
	ins_probe_procs(p);
	s = ins_state(p);
	res->status = ins_state_exit(s);
	res->state = ins_state_name(s);
	return res->status;
}

/*
 * Inspect the file at path.  Opened without blocking, so that a FIFO
 * planted under a pipe's name cannot hang us, and for names found in
 * the shared memory directory without following a link.
 */
int ins_probe_path(const char *path, int follow, struct ins_pipe *p,
		   struct ins_result *res)
{
	int fd, r;

	memset(res, 0, sizeof(*res));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
		  (follow ? 0 : O_NOFOLLOW));
	if (fd < 0 && errno == ENOENT)
		return answer(res, INS_EX_NOENT, "absent", "no such pipe");
	if (fd < 0 && errno == ELOOP)
		return answer(res, INS_EX_FOREIGN, "foreign", "not a shmpipe "
			      "segment: a symbolic link");
	if (fd < 0)
		return answer(res, INS_EX_ERROR, "unreadable", "%s",
			      strerror(errno));
	r = ins_probe_fd(fd, p, res);
	close(fd);
	return r;
}
