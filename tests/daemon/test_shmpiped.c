/* SPDX-License-Identifier: MIT */
/*
 * shmpiped, run for real: each case writes a configuration into a
 * temporary directory, starts the daemon as a child with NOTIFY_SOCKET
 * pointing at a socket the case reads, and looks at the pipes through
 * shmpipe_stat() and at the daemon through its log and notifications.
 *
 * Durations are printed, never asserted: a bound (BOUND_MS) only tells a
 * hang from slowness on a busy machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* ---- endpoints, played by forked children ---- */

struct peer {
	const char *name;
	int count;		/* messages to write, or to read before EOF */
	int hold_after;		/* consumer: after this many, tell and wait */
	int tell_fd;		/* a byte here when the child reaches its point */
	int wait_fd;		/* holder: leaves when this reaches EOF */
	int release_fd;		/* holder: the parent's end of wait_fd */
	int reader;		/* holder, stale maker: which side */
};

/* A pipe being replaced is briefly missing or finished: try again. */
static int open_writer(const char *name, struct shmpipe_writer **w)
{
	int i, r = -ENOENT;

	for (i = 0; i < 500 && (r == -ENOENT || r == -EPIPE); i++) {
		r = shmpipe_writer_open(name, w);
		if (r)
			dt_sleep_ms(10);
	}
	return r;
}

static int open_reader(const char *name, struct shmpipe_reader **rd)
{
	int i, r = -ENOENT;

	for (i = 0; i < 500 && (r == -ENOENT || r == -EPIPE); i++) {
		r = shmpipe_reader_open(name, rd);
		if (r)
			dt_sleep_ms(10);
	}
	return r;
}

static void tell(int fd)
{
	if (fd >= 0 && write(fd, "x", 1) != 1)
		_exit(90);
}

/* Writes "msg N" for N = 1..count (count 0: until an error).  Exits with
 * 0, or with the errno that stopped it. */
static int producer(void *arg)
{
	const struct peer *p = arg;
	struct shmpipe_writer *w;
	char msg[64];
	int n, r, len;

	r = open_writer(p->name, &w);
	if (r)
		return -r;
	for (n = 1; !p->count || n <= p->count; n++) {
		len = snprintf(msg, sizeof(msg), "msg %d", n);
		do
			r = shmpipe_write(w, msg, (size_t)len, 1000);
		while (r == -ETIMEDOUT);
		if (r) {
			shmpipe_writer_close(w, 0);
			return -r;
		}
	}
	shmpipe_writer_close(w, 0);
	return 0;
}

/* Reads "msg 1".. in order until EOF; 0 if exactly count arrived. */
static int consumer(void *arg)
{
	const struct peer *p = arg;
	struct shmpipe_reader *rd;
	char buf[256], want[64];
	size_t len;
	int n = 0, r;

	r = open_reader(p->name, &rd);
	if (r)
		return -r;
	for (;;) {
		r = shmpipe_read(rd, buf, sizeof(buf) - 1, &len, 1000);
		if (r == -ETIMEDOUT)
			continue;
		if (r == SHMPIPE_EOF)
			break;
		if (r) {
			shmpipe_reader_close(rd, 0);
			return -r;
		}
		buf[len] = '\0';
		snprintf(want, sizeof(want), "msg %d", ++n);
		if (strcmp(buf, want) != 0)
			return 99;
		if (n == p->hold_after) {
			tell(p->tell_fd);
			pause();	/* until the parent kills us */
		}
	}
	shmpipe_reader_close(rd, 0);
	return n == p->count ? 0 : 98;
}

/* Attaches one endpoint and holds it until wait_fd reaches EOF. */
static int holder(void *arg)
{
	const struct peer *p = arg;
	struct shmpipe_writer *w = NULL;
	struct shmpipe_reader *rd = NULL;
	char c;
	int r;

	close(p->release_fd);	/* or wait_fd would never reach EOF */
	r = p->reader ? shmpipe_reader_open(p->name, &rd)
		      : shmpipe_writer_open(p->name, &w);
	if (r)
		return -r;
	tell(p->tell_fd);
	while (read(p->wait_fd, &c, 1) > 0)
		;
	r = p->reader ? shmpipe_reader_close(rd, 0)
		      : shmpipe_writer_close(w, 0);
	return -r;
}

/* Attaches a reader and a writer, then dies without closing either. */
static int die_attached(void *arg)
{
	const struct peer *p = arg;
	struct shmpipe_writer *w;
	struct shmpipe_reader *rd;

	if (shmpipe_reader_open(p->name, &rd) ||
	    shmpipe_writer_open(p->name, &w))
		return 1;
	raise(SIGKILL);
	return 2;
}

/* Opens one side and closes it cleanly: the pipe has finished. */
static int open_close(void *arg)
{
	const struct peer *p = arg;
	struct shmpipe_writer *w;
	struct shmpipe_reader *rd;
	int r;

	if (p->reader) {
		r = shmpipe_reader_open(p->name, &rd);
		return r ? -r : -shmpipe_reader_close(rd, 0);
	}
	r = shmpipe_writer_open(p->name, &w);
	return r ? -r : -shmpipe_writer_close(w, 0);
}

/* Wait for one byte from a child, at most BOUND_MS. */
static void await_tell(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	assert_int_equal(poll(&pfd, 1, BOUND_MS), 1);
	assert_int_equal(read(fd, &c, 1), 1);
}

/* Fork a holder of one side of name; *release ends it (close it). */
static pid_t hold(const char *name, int reader, int *release)
{
	struct peer p = { .name = name, .reader = reader };
	int told[2], wait[2];
	pid_t pid;

	assert_int_equal(pipe(told), 0);
	assert_int_equal(pipe(wait), 0);
	p.tell_fd = told[1];
	p.wait_fd = wait[0];
	p.release_fd = wait[1];
	pid = dt_fork(holder, &p);
	close(told[1]);
	close(wait[0]);
	await_tell(told[0]);
	close(told[0]);
	*release = wait[1];
	return pid;
}

static void run_to_end(int (*fn)(void *), struct peer *p)
{
	assert_int_equal(dt_child_exit(dt_fork(fn, p), BOUND_MS), 0);
}

static void make_stale(const char *name)
{
	struct peer p = { .name = name };
	struct shmpipe_stat st;
	pid_t pid = dt_fork(die_attached, &p);

	assert_int_equal(dt_child_exit(pid, BOUND_MS), -1);
	dt_stat(name, &st);
	assert_int_equal(st.readers_dead, 1);
	assert_int_equal(st.writers_dead, 1);
}

static void start_ready(struct dt *t)
{
	dt_start(t, NULL, NULL);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);
}

static int is_fresh(const char *name, long long old_created)
{
	struct shmpipe_stat st;

	return shmpipe_stat(name, &st) == 0 && st.created_ns != old_created &&
	       st.state == SHMPIPE_STATE_OPEN && !st.readers && !st.writers &&
	       !st.readers_dead && !st.writers_dead;
}

/* ---- start ---- */

static void start__ready_after_pipes_exist(void **state)
{
	struct dt *t = *state;
	const char *a = dt_name("a"), *b = dt_name("b"), *c = dt_name("c");
	struct shmpipe_stat st;
	double t0;

	dt_write(t, "shmpiped.conf",
		 "# two pipes here, one in conf.d\n"
		 "[pipe %s]\ncapacity = 64K\n\n"
		 "[pipe %s]\ncapacity = 4096\nmode = 0644\n", a, b);
	dt_write(t, "conf.d/more.conf", "[pipe %s]\ncapacity = 1 MiB\n", c);
	t0 = dt_now_ms();
	start_ready(t);
	print_message("ready %.1f ms after start\n", dt_now_ms() - t0);

	/* The moment READY=1 arrives, every pipe is there and usable. */
	dt_stat(a, &st);
	assert_int_equal(st.capacity, 64 * 1024);
	assert_int_equal(st.state, SHMPIPE_STATE_OPEN);
	dt_stat(b, &st);
	assert_int_equal(st.capacity, 4096);
	assert_int_equal(st.mode, 0644);
	dt_stat(c, &st);
	assert_int_equal(st.capacity, 1024 * 1024);
	assert_non_null(strstr(t->notes, "STATUS=3 pipes: 3 idle"));
	t->passed = 1;
}

static void start__owner_group_mode_exact(void **state)
{
	struct dt *t = *state;
	const char *a = dt_name("own"), *b = dt_name("num"), *c = dt_name("def");
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	struct shmpipe_stat st;

	if (geteuid() != 0 || !pw || !gr)
		skip();	/* giving a pipe away takes root and those ids */
	dt_write(t, "shmpiped.conf",
		 "[pipe %s]\ncapacity = 8K\nuser = nobody\ngroup = nogroup\n"
		 "mode = 0640\n\n"
		 "[pipe %s]\ncapacity = 8K\nuser = %u\ngroup = 0\nmode = 666\n\n"
		 "[pipe %s]\ncapacity = 8K\n", a, b, (unsigned int)pw->pw_uid,
		 c);
	start_ready(t);

	dt_stat(a, &st);
	assert_int_equal(st.uid, pw->pw_uid);
	assert_int_equal(st.gid, gr->gr_gid);
	assert_int_equal(st.mode, 0640);
	/* The daemon runs with umask 077: 0666 proves the mode is set on
	 * the descriptor, not left to the umask. */
	dt_stat(b, &st);
	assert_int_equal(st.uid, pw->pw_uid);
	assert_int_equal(st.gid, 0);
	assert_int_equal(st.mode, 0666);
	dt_stat(c, &st);
	assert_int_equal(st.uid, 0);
	assert_int_equal(st.gid, 0);
	assert_int_equal(st.mode, 0600);
	t->passed = 1;
}

static void start__replaces_stale(void **state)
{
	struct dt *t = *state;
	const char *s = dt_name("stale");
	struct shmpipe_stat st;

	assert_int_equal(shmpipe_create(s, NULL), 0);
	make_stale(s);
	dt_stat(s, &st);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 16K\n", s);
	start_ready(t);

	assert_true(is_fresh(s, st.created_ns));
	dt_stat(s, &st);
	assert_int_equal(st.capacity, 16 * 1024);
	assert_true(dt_log_has(t, "stale, replaced"));
	t->passed = 1;
}

static void write_garbage(const char *name, size_t size)
{
	char path[256], block[4096];
	size_t done;
	int fd;

	dt_shm_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(block, 0, sizeof(block));
	memcpy(block, "half", 4);
	for (done = 0; done < size; done += sizeof(block))
		assert_true(write(fd, block, sizeof(block)) > 0);
	close(fd);
}

static void start__replaces_half_created(void **state)
{
	struct dt *t = *state;
	const char *h1 = dt_name("short"), *h2 = dt_name("nomagic");
	struct shmpipe_stat st;

	/* What a creator that died mid-way would leave: a file too short
	 * for a header, and one of the right size with no header in it. */
	write_garbage(h1, 4096);
	write_garbage(h2, 16384 + 4096);
	assert_int_equal(shmpipe_stat(h1, &st), -EPROTO);
	assert_int_equal(shmpipe_stat(h2, &st), -EPROTO);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n"
		 "[pipe %s]\ncapacity = 4K\n", h1, h2);
	start_ready(t);

	dt_stat(h1, &st);
	assert_int_equal(st.state, SHMPIPE_STATE_OPEN);
	dt_stat(h2, &st);
	assert_int_equal(st.state, SHMPIPE_STATE_OPEN);
	assert_true(dt_log_has(t, "not a valid pipe"));
	t->passed = 1;
}

static void start__adopts_pipe_in_use(void **state)
{
	struct dt *t = *state;
	const char *u = dt_name("inuse");
	struct shmpipe_attr a = { .capacity = 8192, .mode = 0600 };
	struct shmpipe_stat before, after;
	int release;

	assert_int_equal(shmpipe_create(u, &a), 0);
	hold(u, 1, &release);
	dt_stat(u, &before);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 8K\n", u);
	start_ready(t);

	dt_stat(u, &after);
	assert_true(after.created_ns == before.created_ns);
	assert_int_equal(after.readers, 1);
	assert_true(dt_log_has(t, "adopted (in use)"));
	close(release);
	t->passed = 1;
}

static void start__fails_without_ready(void **state)
{
	struct dt *t = *state;
	const char *x = dt_name("dir");
	char path[256];

	/* A directory in the way: no pipe can take the name. */
	dt_shm_path(path, sizeof(path), x);
	assert_int_equal(mkdir(path, 0700), 0);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", x);
	dt_start(t, NULL, NULL);

	t->status = dt_wait_exit(t, BOUND_MS);
	assert_true(WIFEXITED(t->status));
	assert_int_equal(WEXITSTATUS(t->status), 1);
	assert_int_not_equal(dt_notify_wait(t, "READY=1", 0), 0);
	assert_true(dt_log_has(t, "could not be made"));
	t->passed = 1;
}

/* ---- configuration errors ---- */

static const struct bad_conf {
	const char *text;	/* %s: a pipe name */
	int line;
	const char *says;
} bad_confs[] = {
	{ "[pipe %s]\ncapacity = 64K\nbogus = 1\n", 3, "unknown key" },
	{ "\n[pipe %s]\nmode = 0600\n", 2, "capacity is required" },
	{ "[pipe %s]\ncapacity = 64K\nmode = 999\n", 3, "not an octal" },
	{ "[pipe %s]\ncapacity = 64K\nmode = 01777\n", 3, "beyond 0777" },
	{ "#\n[pipe %s]\ncapacity = 3\n", 3, "out of range" },
	{ "[pipe %s]\ncapacity = lots\n", 2, "not a size" },
	{ "[pipe %s]\ncapacity = 4K\nuser = no-such-user-here\n", 3,
	  "unknown user" },
	{ "[pipe %s]\ncapacity = 4K\non-finish = explode\n", 3, "on-finish" },
	{ "[pipe %s]\ncapacity = 4K\ncapacity = 8K\n", 3, "given twice" },
	{ "capacity = 4K\n[pipe %s]\n", 1, "outside" },
	{ "[pipe %s/x]\ncapacity = 4K\n", 1, "pipe name" },
	{ "[tube %s]\ncapacity = 4K\n", 1, "unknown section" },
	{ "[pipe %s]\ncapacity 4K\n", 2, "expected 'key = value'" },
};

static void config__bad_refused_at_start(void **state)
{
	struct dt *t = *state;
	const char *n = dt_name("bad");
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(bad_confs) / sizeof(bad_confs[0]); i++) {
		dt_write(t, "shmpiped.conf", bad_confs[i].text, n);
		dt_start(t, NULL, NULL);
		t->status = dt_wait_exit(t, BOUND_MS);
		snprintf(want, sizeof(want), "%s:%d: ", t->conf,
			 bad_confs[i].line);
		if (!WIFEXITED(t->status) || WEXITSTATUS(t->status) != 6 ||
		    !dt_log_has(t, want) || !dt_log_has(t, bad_confs[i].says))
			fail_msg("config %zu: status %#x, wanted '%s' and '%s'",
				 i, t->status, want, bad_confs[i].says);
	}
	assert_int_not_equal(dt_notify_wait(t, "READY=1", 0), 0);
	t->passed = 1;
}

static void config__duplicate_in_conf_d(void **state)
{
	struct dt *t = *state;
	const char *n = dt_name("dup");
	char want[256];

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", n);
	dt_write(t, "conf.d/b.conf", "\n[pipe %s]\ncapacity = 8K\n", n);
	dt_start(t, NULL, NULL);
	t->status = dt_wait_exit(t, BOUND_MS);
	assert_true(WIFEXITED(t->status));
	assert_int_equal(WEXITSTATUS(t->status), 6);
	snprintf(want, sizeof(want), "%s/conf.d/b.conf:2: pipe %s is already "
		 "declared at %s:1", t->dir, n, t->conf);
	assert_true(dt_log_has(t, want));
	t->passed = 1;
}

/* ---- the pair: exchange, kill, recreate, exchange again ---- */

static void pair__consumer_killed_then_recreated(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("jobs");
	struct peer prod = { .name = p }, cons = { .name = p, .hold_after = 5 };
	struct shmpipe_stat st;
	pid_t pp, cp;
	int told[2], code;
	double t0;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	dt_stat(p, &st);

	assert_int_equal(pipe(told), 0);
	cons.tell_fd = told[1];
	cp = dt_fork(consumer, &cons);
	pp = dt_fork(producer, &prod);	/* writes until it fails */
	await_tell(told[0]);		/* five messages went through */

	t0 = dt_now_ms();
	kill(cp, SIGKILL);
	assert_int_equal(dt_child_exit(cp, BOUND_MS), -1);
	code = dt_child_exit(pp, BOUND_MS);
	print_message("producer ended %.1f ms after the kill: %s\n",
		      dt_now_ms() - t0, code > 0 ? strerror(code) : "?");
	assert_true(code == ECONNRESET || code == EPIPE);

	assert_true(DT_WAIT_UNTIL(is_fresh(p, st.created_ns), BOUND_MS));
	print_message("pipe recreated %.1f ms after the kill\n",
		      dt_now_ms() - t0);
	assert_true(dt_log_has(t, "finished, recreated"));

	/* A restarted pair works on the fresh pipe. */
	prod.count = cons.count = 50;
	cons.hold_after = 0;
	cp = dt_fork(consumer, &cons);
	pp = dt_fork(producer, &prod);
	assert_int_equal(dt_child_exit(pp, BOUND_MS), 0);
	assert_int_equal(dt_child_exit(cp, BOUND_MS), 0);
	close(told[0]);
	close(told[1]);
	t->passed = 1;
}

static void pair__producer_killed_then_recreated(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("jobs");
	struct peer prod = { .name = p }, cons = { .name = p };
	struct shmpipe_stat st;
	pid_t pp, cp;
	int code;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	dt_stat(p, &st);
	cp = dt_fork(consumer, &cons);
	pp = dt_fork(producer, &prod);
	assert_true(DT_WAIT_UNTIL(shmpipe_stat(p, &st) == 0 &&
				  st.msgs_read > 10, BOUND_MS));
	kill(pp, SIGKILL);
	assert_int_equal(dt_child_exit(pp, BOUND_MS), -1);
	code = dt_child_exit(cp, BOUND_MS);
	assert_int_equal(code, ECONNRESET);	/* drained, then reset */
	assert_true(DT_WAIT_UNTIL(is_fresh(p, st.created_ns), BOUND_MS));
	assert_true(dt_log_has(t, "a writer died"));
	t->passed = 1;
}

/* ---- policy while running ---- */

static void tick__keep_leaves_finished_pipe(void **state)
{
	struct dt *t = *state;
	const char *k = dt_name("keep");
	struct peer w = { .name = k };
	struct shmpipe_stat before, after;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n"
		 "on-finish = keep\n", k);
	start_ready(t);
	run_to_end(open_close, &w);
	dt_stat(k, &before);
	assert_int_not_equal(before.state, SHMPIPE_STATE_OPEN);
	assert_int_equal(dt_log_wait(t, "kept for post-mortem", BOUND_MS), 0);
	dt_stat(k, &after);
	assert_true(after.created_ns == before.created_ns);

	/* Removing it by hand asks for a fresh one. */
	assert_int_equal(shmpipe_unlink(k), 0);
	assert_true(DT_WAIT_UNTIL(is_fresh(k, before.created_ns), BOUND_MS));
	t->passed = 1;
}

static void tick__pending_stream_waits_for_reader(void **state)
{
	struct dt *t = *state;
	const char *q = dt_name("pending");
	struct peer prod = { .name = q, .count = 3 };
	struct peer cons = { .name = q, .count = 3 };
	struct shmpipe_stat st, after;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", q);
	start_ready(t);
	run_to_end(producer, &prod);	/* writes 3, leaves; nobody read */
	assert_int_equal(dt_log_wait(t, "wait for a reader", BOUND_MS), 0);
	dt_stat(q, &st);
	assert_int_equal(st.state, SHMPIPE_STATE_WRITERS_GONE);
	assert_int_equal(st.msgs_queued, 3);

	/* The stream is not lost: a late reader gets all of it. */
	run_to_end(consumer, &cons);
	assert_true(DT_WAIT_UNTIL(is_fresh(q, st.created_ns), BOUND_MS));
	dt_stat(q, &after);
	assert_int_equal(after.msgs_written, 0);
	t->passed = 1;
}

static void tick__removed_pipe_made_again(void **state)
{
	struct dt *t = *state;
	const char *g = dt_name("gone");
	struct shmpipe_stat st;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", g);
	start_ready(t);
	dt_stat(g, &st);
	assert_int_equal(shmpipe_unlink(g), 0);
	assert_true(DT_WAIT_UNTIL(is_fresh(g, st.created_ns), BOUND_MS));
	assert_true(dt_log_has(t, "was gone, created again"));
	t->passed = 1;
}

static void tick__undeclared_untouched_unless_reaped(void **state)
{
	struct dt *t = *state;
	const char *d = dt_name("declared"), *r1 = dt_name("reap-stale");
	const char *r2 = dt_name("reap-idle"), *o = dt_name("other-stale");
	char pattern[256];
	struct shmpipe_stat st;

	snprintf(pattern, sizeof(pattern), "%.*s.reap-*",
		 (int)(strrchr(r1, '.') - r1), r1);
	assert_int_equal(shmpipe_create(r1, NULL), 0);
	assert_int_equal(shmpipe_create(r2, NULL), 0);
	assert_int_equal(shmpipe_create(o, NULL), 0);
	make_stale(r1);
	make_stale(o);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", d);

	/* Without --reap, nothing undeclared is touched, stale or not. */
	start_ready(t);
	dt_sleep_ms(1500);	/* several looks at the pipes */
	assert_int_equal(shmpipe_stat(r1, &st), 0);
	assert_int_equal(shmpipe_stat(o, &st), 0);
	kill(t->daemon, SIGTERM);
	t->status = dt_wait_exit(t, BOUND_MS);
	assert_true(WIFEXITED(t->status) && WEXITSTATUS(t->status) == 0);

	/* With it: only the stale pipe that matches goes. */
	dt_start(t, NULL, "--reap", pattern, NULL);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);
	assert_int_equal(shmpipe_stat(r1, &st), -ENOENT);
	assert_int_equal(shmpipe_stat(r2, &st), 0);
	assert_int_equal(shmpipe_stat(o, &st), 0);
	assert_true(dt_log_has(t, "reap: removed stale pipe"));
	t->passed = 1;
}

/* ---- reload ---- */

static void reload__adds_and_removes(void **state)
{
	struct dt *t = *state;
	const char *keep = dt_name("stays"), *idle = dt_name("idle");
	const char *busy = dt_name("busy"), *add = dt_name("added");
	struct shmpipe_stat st;
	int release;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n"
		 "[pipe %s]\ncapacity = 4K\n[pipe %s]\ncapacity = 4K\n",
		 keep, idle, busy);
	start_ready(t);
	hold(busy, 0, &release);

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n"
		 "[pipe %s]\ncapacity = 8K\nmode = 0640\n", keep, add);
	kill(t->daemon, SIGHUP);
	assert_int_equal(dt_notify_wait(t, "RELOADING=1", BOUND_MS), 0);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);

	dt_stat(add, &st);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(shmpipe_stat(idle, &st), -ENOENT);
	/* In use: it stays, and the log says so. */
	dt_stat(busy, &st);
	assert_int_equal(st.writers, 1);
	assert_true(dt_log_has(t, "no longer declared, but in use"));
	dt_stat(keep, &st);

	/* Once its user leaves, it goes. */
	close(release);
	assert_true(DT_WAIT_UNTIL(shmpipe_stat(busy, &st) == -ENOENT,
				  BOUND_MS));
	assert_true(dt_log_has(t, "its users have left: removed"));
	t->passed = 1;
}

static void reload__changed_settings_apply_when_unused(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("chg");
	struct shmpipe_stat st;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 16K\n"
		 "mode = 0604\n", p);
	kill(t->daemon, SIGHUP);
	assert_int_equal(dt_notify_wait(t, "RELOADING=1", BOUND_MS), 0);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);
	dt_stat(p, &st);
	assert_int_equal(st.capacity, 16 * 1024);
	assert_int_equal(st.mode, 0604);
	t->passed = 1;
}

static void reload__bad_config_keeps_old(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("old");
	struct peer w = { .name = p };
	struct shmpipe_stat st;
	char want[256];

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n"
		 "user = no-such-user-here\n", p);
	kill(t->daemon, SIGHUP);
	assert_int_equal(dt_notify_wait(t, "RELOADING=1", BOUND_MS), 0);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);
	snprintf(want, sizeof(want), "%s:3: unknown user", t->conf);
	assert_true(dt_log_has(t, want));
	assert_true(dt_log_has(t, "the old configuration stays"));
	assert_non_null(strstr(t->notes, "last reload failed"));

	/* Still running, still keeping its pipe under the old settings. */
	dt_stat(p, &st);
	run_to_end(open_close, &w);
	assert_true(DT_WAIT_UNTIL(is_fresh(p, st.created_ns), BOUND_MS));
	dt_stat(p, &st);
	assert_int_equal(st.uid, geteuid());
	t->passed = 1;
}

/* ---- systemd protocol ---- */

static void signal__sigterm_exits_zero(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("term");
	struct shmpipe_stat st;
	double t0;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	t0 = dt_now_ms();
	kill(t->daemon, SIGTERM);
	t->status = dt_wait_exit(t, BOUND_MS);
	print_message("exited %.1f ms after SIGTERM\n", dt_now_ms() - t0);
	assert_true(WIFEXITED(t->status));
	assert_int_equal(WEXITSTATUS(t->status), 0);
	assert_int_equal(dt_notify_wait(t, "STOPPING=1", 0), 0);
	dt_stat(p, &st);	/* the pipes stay for their users */
	t->passed = 1;
}

static void notify__watchdog_pings(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("wd");

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	dt_start(t, "WATCHDOG_USEC=400000", NULL);
	assert_int_equal(dt_notify_wait(t, "READY=1", BOUND_MS), 0);
	assert_int_equal(dt_notify_wait(t, "WATCHDOG=1", BOUND_MS), 0);
	assert_int_equal(dt_notify_wait(t, "WATCHDOG=1", BOUND_MS), 0);
	t->passed = 1;
}

static void notify__no_watchdog_unless_asked(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("nowd");

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 4K\n", p);
	start_ready(t);
	dt_sleep_ms(1000);
	assert_int_not_equal(dt_notify_wait(t, "WATCHDOG=1", 0), 0);
	t->passed = 1;
}

/* ---- the example pair of examples/systemd ---- */

static pid_t run_demo(struct dt *t, const char *prog, const char *name,
		      const char *out)
{
	const char *dir = getenv("DEMO_DIR");
	char bin[256], path[256];
	pid_t pid;
	int fd;

	snprintf(bin, sizeof(bin), "%s/shmpipe-demo-%s",
		 dir ? dir : "build/examples/systemd", prog);
	snprintf(path, sizeof(path), "%s/%s", t->dir, out);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		if (strcmp(prog, "producer") == 0)
			execl(bin, bin, "-i", "20", name, (char *)NULL);
		else
			execl(bin, bin, name, (char *)NULL);
		_exit(127);
	}
	dt_track(pid);
	return pid;
}

static int file_has(struct dt *t, const char *rel, const char *text)
{
	char path[256], buf[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

static void example__pair_restart_cycle(void **state)
{
	struct dt *t = *state;
	const char *p = dt_name("demo");
	struct shmpipe_stat st;
	pid_t pp, cp;

	dt_write(t, "shmpiped.conf", "[pipe %s]\ncapacity = 64K\n", p);
	start_ready(t);
	dt_stat(p, &st);
	cp = run_demo(t, "consumer", p, "c1.out");
	pp = run_demo(t, "producer", p, "p1.out");
	assert_true(DT_WAIT_UNTIL(file_has(t, "c1.out", "job 3 "), BOUND_MS));

	kill(cp, SIGKILL);
	assert_int_equal(dt_child_exit(cp, BOUND_MS), -1);
	assert_int_equal(dt_child_exit(pp, BOUND_MS), 1);
	assert_true(file_has(t, "p1.out", "the consumer is gone"));
	assert_true(DT_WAIT_UNTIL(is_fresh(p, st.created_ns), BOUND_MS));

	/* What systemd's Restart=on-failure does: start both again. */
	cp = run_demo(t, "consumer", p, "c2.out");
	pp = run_demo(t, "producer", p, "p2.out");
	assert_true(DT_WAIT_UNTIL(file_has(t, "c2.out", "job 3 "), BOUND_MS));
	kill(pp, SIGTERM);
	assert_int_equal(dt_child_exit(pp, BOUND_MS), 0);
	assert_int_equal(dt_child_exit(cp, BOUND_MS), 0);
	assert_true(file_has(t, "c2.out", "end of stream"));
	t->passed = 1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		DT_TEST(start__ready_after_pipes_exist),
		DT_TEST(start__owner_group_mode_exact),
		DT_TEST(start__replaces_stale),
		DT_TEST(start__replaces_half_created),
		DT_TEST(start__adopts_pipe_in_use),
		DT_TEST(start__fails_without_ready),
		DT_TEST(config__bad_refused_at_start),
		DT_TEST(config__duplicate_in_conf_d),
		DT_TEST(pair__consumer_killed_then_recreated),
		DT_TEST(pair__producer_killed_then_recreated),
		DT_TEST(tick__keep_leaves_finished_pipe),
		DT_TEST(tick__pending_stream_waits_for_reader),
		DT_TEST(tick__removed_pipe_made_again),
		DT_TEST(tick__undeclared_untouched_unless_reaped),
		DT_TEST(reload__adds_and_removes),
		DT_TEST(reload__changed_settings_apply_when_unused),
		DT_TEST(reload__bad_config_keeps_old),
		DT_TEST(signal__sigterm_exits_zero),
		DT_TEST(notify__watchdog_pings),
		DT_TEST(notify__no_watchdog_unless_asked),
		DT_TEST(example__pair_restart_cycle),
	};

	return dt_run(tests, sizeof(tests) / sizeof(tests[0]));
}
