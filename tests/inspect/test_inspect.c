/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-inspect against pipes in every state it names: real processes
 * attach, write, close, abort, die holding locks and get killed, and the
 * test damages segments it created itself.  Each case runs the built
 * binary and asserts its exit status, lines of its human output, and its
 * JSON through jq.
 *
 *   INSPECT_BIN      the binary (default build/shmpipe-inspect)
 *   INSPECT_CORPUS   if set, a directory: each case saves the header it
 *                    built there, as a seed for the fuzzer
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

#define OUT_MAX		(256 * 1024)
#define AT(f)		offsetof(struct shmpipe_shared, f)

struct run {
	int status;
	char out[OUT_MAX];
	char err[8192];
};

/* What a child does with its endpoint before it waits to be killed. */
enum act { ACT_READ_IDLE, ACT_WRITE, ACT_FILL, ACT_CLOSE, ACT_ABORT,
	   ACT_LOCK, ACT_HOT_WRITE, ACT_HOT_READ, ACT_HOLD, ACT_WAIT_LOCK,
	   ACT_OPEN_LATE };

struct child {
	char name[64];
	int act;
	int role;
	int count;		/* messages to write */
	size_t lock_off;	/* ACT_LOCK: offset of the lock word */
	volatile int ready;
	volatile int done;	/* ACT_OPEN_LATE: the open returned */
	int result;
};

static struct run *run_buf(void)
{
	static struct run *r;

	if (!r)
		r = malloc(sizeof(*r));
	assert_non_null(r);
	return r;
}

static const char *bin(void)
{
	const char *b = getenv("INSPECT_BIN");

	return b ? b : "build/shmpipe-inspect";
}

/* Read both pipes to the end, whatever order the child fills them in. */
static void drain(int out, int err, struct run *r)
{
	struct pollfd fds[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
	size_t n[2] = { 0, 0 }, cap[2] = { sizeof(r->out) - 1,
					   sizeof(r->err) - 1 };
	char *buf[2] = { r->out, r->err };
	int open_fds = 2, i;

	while (open_fds) {
		assert_true(poll(fds, 2, -1) > 0 || errno == EINTR);
		for (i = 0; i < 2; i++) {
			ssize_t got;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			got = read(fds[i].fd, buf[i] + n[i], cap[i] - n[i]);
			if (got > 0) {
				n[i] += (size_t)got;
				assert_true(n[i] < cap[i]);
				continue;
			}
			fds[i].fd = -1;
			open_fds--;
		}
	}
	r->out[n[0]] = r->err[n[1]] = '\0';
}

/* The user the tool runs as; 0 leaves it as the test's. */
static uid_t run_uid;

/* Run the tool with these arguments (NULL-terminated). */
static int run_argv(struct run *r, const char *const *args)
{
	const char *argv[16] = { bin() };
	int o[2], e[2], i, st;
	pid_t pid;

	for (i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	assert_true(pipe(o) == 0 && pipe(e) == 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (run_uid && setuid(run_uid))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	drain(o[0], e[0], r);
	close(o[0]);
	close(e[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	return r->status;
}

#define run(r, ...) run_argv(r, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * jq -e EXPR on json: true when the expression's last value is truthy.
 * slurp: the documents of a stream as one array.
 */
static int jq_run(const char *json, const char *expr, int slurp)
{
	int in[2], st;
	pid_t pid;

	assert_true(pipe(in) == 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		close(in[1]);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execlp("jq", "jq", slurp ? "-se" : "-e", expr, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	assert_int_equal(write(in[1], json, strlen(json)),
			 (ssize_t)strlen(json));
	close(in[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	fprintf(stderr, "jq -e '%s' failed on:\n%s\n", expr, json);
	return 0;
}

#define assert_jq(json, expr) assert_true(jq_run(json, expr, 0))
#define assert_jq_stream(json, expr) assert_true(jq_run(json, expr, 1))

/* The value of a "label:   value" line of the human output. */
static const char *field(const char *out, const char *label)
{
	const char *p = out;
	size_t n = strlen(label);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, label, n)) {
			p += n;
			while (*p == ' ')
				p++;
			return p;
		}
	return "";
}

static void assert_field(const char *out, const char *label,
			 const char *prefix)
{
	const char *v = field(out, label);

	if (strncmp(v, prefix, strlen(prefix)))
		fail_msg("%s expected '%s...', output:\n%s", label, prefix,
			 out);
}

static void assert_has(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("expected '%s' in:\n%s", needle, s);
}

static void seg_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/dev/shm/shmpipe.%s", name);
}

/* The segment's header, mapped for the test to lock or damage. */
static struct shmpipe_shared *map_header(const char *name)
{
	char path[256];
	void *m;
	int fd;

	seg_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	m = mmap(NULL, SHMPIPE_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static void poke(const char *name, size_t off, const void *v, size_t len)
{
	char path[256];
	int fd;

	seg_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, v, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void shrink(const char *name, off_t size)
{
	char path[256];

	seg_path(path, sizeof(path), name);
	assert_int_equal(truncate(path, size), 0);
}

/*
 * Wait until the 4- or 8-byte field at off has one of bits set, as a
 * peer process sets it; 0 if it did not within 10 seconds.
 */
static int wait_bits(const char *name, size_t off, size_t len, uint64_t bits)
{
	struct shmpipe_shared *sh = map_header(name);
	double t0 = th_now_ms();
	uint64_t v;

	assert_non_null(sh);
	for (;;) {
		const uint8_t *at = (const uint8_t *)sh + off;

		v = len == 4 ? __atomic_load_n((const uint32_t *)at,
					       __ATOMIC_ACQUIRE) :
			       __atomic_load_n((const uint64_t *)at,
					       __ATOMIC_ACQUIRE);
		if ((v & bits) || th_now_ms() - t0 > 10000)
			break;
		th_sleep_ms(1);
	}
	munmap(sh, SHMPIPE_HDR_SIZE);
	return (v & bits) != 0;
}

/* The slot of the attached writer of process pid; -1 if none. */
static int writer_slot(const char *name, pid_t pid)
{
	struct shmpipe_shared *sh = map_header(name);
	uint64_t m;
	int slot = -1;

	assert_non_null(sh);
	for (m = sh->sh_wmask; m && slot < 0; m &= m - 1)
		if (sh->sh_writers[__builtin_ctzll(m)].sl_pid == (uint32_t)pid)
			slot = __builtin_ctzll(m);
	munmap(sh, SHMPIPE_HDR_SIZE);
	return slot;
}

static uint32_t strict_word(const char *name)
{
	struct shmpipe_shared *sh = map_header(name);
	uint32_t v;

	assert_non_null(sh);
	v = __atomic_load_n(&sh->sh_strict, __ATOMIC_ACQUIRE);
	munmap(sh, SHMPIPE_HDR_SIZE);
	return v;
}

/*
 * With INSPECT_CORPUS set, keep this pipe's header as a fuzzer seed: the
 * file size, an option byte, then the header, as fuzz-parse.c reads it.
 */
static void save_seed(const char *name, const char *tag)
{
	static uint8_t buf[SHMPIPE_HDR_SIZE];
	const char *dir = getenv("INSPECT_CORPUS");
	char path[512];
	struct stat st;
	uint64_t size;
	ssize_t n;
	FILE *f;
	int fd;

	if (!dir)
		return;
	seg_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n >= 0);
	size = (uint64_t)st.st_size;
	snprintf(path, sizeof(path), "%s/%s", dir, tag);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(&size, sizeof(size), 1, f);
	fputc(0, f);
	fwrite(buf, 1, (size_t)n, f);
	fclose(f);
}

static int open_end(struct child *c, struct shmpipe_reader **r,
		    struct shmpipe_writer **w)
{
	if (c->role == SHMPIPE_ROLE_READER)
		return shmpipe_reader_open(c->name, r);
	return shmpipe_writer_open(c->name, w);
}

static int close_end(struct child *c, struct shmpipe_reader *r,
		     struct shmpipe_writer *w, int err)
{
	if (c->role == SHMPIPE_ROLE_READER)
		return shmpipe_reader_close(r, err);
	return shmpipe_writer_close(w, err);
}

static int lock_in_child(struct child *c)
{
	struct shmpipe_shared *sh = map_header(c->name);

	if (!sh)
		return 20;
	if (th_hold_robust((uint32_t *)((uint8_t *)sh + c->lock_off)))
		return 21;
	return 0;
}

/* Traffic that never stops, until the child is killed. */
static int hot(struct child *c, struct shmpipe_reader *r,
	       struct shmpipe_writer *w)
{
	char buf[256] = { 0 };
	size_t len;

	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	for (;;) {
		if (w && shmpipe_write(w, buf, 64, -1))
			return 30;
		if (r && shmpipe_read(r, buf, sizeof(buf), &len, -1) < 0)
			return 31;
	}
}

/*
 * Hold the side lock the way the library does: a writer blocked on a
 * full ring, a reader blocked on an empty one, each holding its side's
 * lock while it sleeps.
 */
static int hold(struct child *c, struct shmpipe_reader *r,
		struct shmpipe_writer *w)
{
	char buf[256] = { 0 };
	size_t len;

	if (w) {
		while (shmpipe_write(w, buf, 100, 0) == 0)
			;
		__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
		return shmpipe_write(w, buf, 100, -1) ? 40 : 0;
	}
	while (shmpipe_read(r, buf, sizeof(buf), &len, 0) == 0)
		;
	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	return shmpipe_read(r, buf, sizeof(buf), &len, -1) < 0 ? 41 : 0;
}

/* A call that waits for its side's lock, held by a peer that sleeps. */
static int wait_lock(struct child *c, struct shmpipe_reader *r,
		     struct shmpipe_writer *w)
{
	char buf[256] = { 0 };
	size_t len;

	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	if (w)
		return shmpipe_write(w, buf, 100, -1) ? 42 : 0;
	return shmpipe_read(r, buf, sizeof(buf), &len, -1) < 0 ? 43 : 0;
}

static int act(struct child *c, struct shmpipe_reader *r,
	       struct shmpipe_writer *w)
{
	char msg[100] = { 0 };
	int i;

	switch (c->act) {
	case ACT_WRITE:
		for (i = 0; i < c->count; i++)
			if (shmpipe_write(w, msg, sizeof(msg), 0))
				return 12;
		return 0;
	case ACT_FILL:
		while (shmpipe_write(w, msg, sizeof(msg), 0) == 0)
			;
		return 0;
	case ACT_CLOSE:
		return close_end(c, r, w, 0) ? 13 : 0;
	case ACT_ABORT:
		return close_end(c, r, w, EIO) ? 14 : 0;
	case ACT_HOT_WRITE:
	case ACT_HOT_READ:
		return hot(c, r, w);
	case ACT_HOLD:
		return hold(c, r, w);
	case ACT_WAIT_LOCK:
		return wait_lock(c, r, w);
	default:
		return 0;
	}
}

static int child_main(void *arg)
{
	struct child *c = arg;
	struct shmpipe_reader *r = NULL;
	struct shmpipe_writer *w = NULL;

	if (c->act == ACT_OPEN_LATE)	/* the parent watches the open wait */
		__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	if (c->act == ACT_LOCK)
		c->result = lock_in_child(c);
	else if (open_end(c, &r, &w))
		c->result = 10;
	else
		c->result = act(c, r, w);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return 0;
}

/* A child that has done its part and waits, attached, to be killed. */
static pid_t spawn(const char *name, int role, int what, int count)
{
	struct child *c = th_shared(sizeof(*c));
	pid_t pid;

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->role = role;
	c->act = what;
	c->count = count;
	pid = th_fork(child_main, c);
	assert_true(th_wait_flag(&c->ready, 20000));
	assert_int_equal(c->result, 0);
	return pid;
}

static pid_t spawn_locker(const char *name, size_t off)
{
	struct child *c = th_shared(sizeof(*c));
	pid_t pid;

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->act = ACT_LOCK;
	c->lock_off = off;
	pid = th_fork(child_main, c);
	assert_true(th_wait_flag(&c->ready, 20000));
	assert_int_equal(c->result, 0);
	return pid;
}

/*
 * A child that opens an endpoint while the test looks: it says it is
 * about to open, and sets done once the open returned (result 0: it is
 * attached).
 */
static pid_t spawn_late(const char *name, int role, struct child **out)
{
	struct child *c = th_shared(sizeof(*c));
	pid_t pid;

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->role = role;
	c->act = ACT_OPEN_LATE;
	pid = th_fork(child_main, c);
	assert_true(th_wait_flag(&c->ready, 20000));
	*out = c;
	return pid;
}

static void kill_now(pid_t pid)
{
	th_kill(pid, SIGKILL);
	assert_int_not_equal(th_wait(pid, 20000), -1);
}

#define R	SHMPIPE_ROLE_READER
#define W	SHMPIPE_ROLE_WRITER

static void expect_status(const struct run *r, int want)
{
	if (r->status != want)
		fail_msg("exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
			 r->status, want, r->out, r->err);
}

/* Human, quiet and JSON runs agree on the state and the exit status. */
static struct run *inspect(const char *name, int status, const char *state)
{
	struct run *r = run_buf();
	char expr[128];

	run(r, "-q", name);
	expect_status(r, status);
	assert_string_equal(r->out, "");
	run(r, "--json", name);
	expect_status(r, status);
	snprintf(expr, sizeof(expr), ".valid and .state == \"%s\" and "
		 ".status == %d", state, status);
	assert_jq(r->out, expr);
	run(r, name);
	expect_status(r, status);
	assert_field(r->out, "state:", state);
	return r;
}

/* The JSON of a pipe, its exit status checked. */
static const char *json(const char *name, int status)
{
	struct run *r = run_buf();

	run(r, "--json", name);
	expect_status(r, status);
	return r->out;
}

/* A segment the tool must refuse: exit status, state and diagnosis. */
static void refused(const char *name, int status, const char *state,
		    const char *why)
{
	struct run *r = run_buf();
	char expr[256];

	run(r, name);
	expect_status(r, status);
	assert_string_equal(r->out, "");
	assert_has(r->err, why);
	assert_true(strchr(r->err, '\n') == r->err + strlen(r->err) - 1);
	run(r, "-q", name);
	expect_status(r, status);
	run(r, "--json", name);
	expect_status(r, status);
	snprintf(expr, sizeof(expr), "(.valid | not) and .state == \"%s\" and "
		 ".status == %d and (.diagnosis | contains(\"%s\"))", state,
		 status, why);
	assert_jq(r->out, expr);
}

static void inspect__open(void **state)
{
	const char *n = th_pipe("open", 1 << 16);
	struct run *r;
	char expr[128];
	pid_t rp, wp;

	(void)state;
	rp = spawn(n, R, ACT_READ_IDLE, 0);
	wp = spawn(n, W, ACT_WRITE, 3);
	save_seed(n, "open");
	r = inspect(n, 0, "open");
	assert_field(r->out, "queued:", "336 bytes in 3 messages");
	assert_field(r->out, "readers:", "1 alive, 0 dead");
	assert_field(r->out, "writers:", "1 alive, 0 dead");
	assert_field(r->out, "written:", "3 messages, 300 bytes");
	assert_field(r->out, "snapshot:", "consistent");
	assert_has(r->out, "control   free\n");
	assert_has(r->out, "write     free\n");
	assert_jq(json(n, 0), ".locks.control == {\"state\": \"free\", "
		  "\"tid\": null, \"pid\": null, \"waiters\": false, "
		  "\"waiter_slots\": null} and .locks.write.waiter_slots == [] "
		  "and .locks.read.waiter_slots == [] and "
		  "(.strict | type) == \"boolean\" and .layout_version == 3");
	snprintf(expr, sizeof(expr), "[.endpoints[] | [.role, .pid, .life]] "
		 "== [[\"reader\", %d, \"alive\"], "
		 "[\"writer\", %d, \"alive\"]]", (int)rp, (int)wp);
	assert_jq(json(n, 0), expr);
	assert_jq(json(n, 0), ".queued == {\"bytes\": 336, \"messages\": 3, "
		  "\"free_bytes\": 65200} and .full == false and "
		  ".capacity == 65536 and .max_message == 65528 and "
		  ".close.reason == null and .created.pid_running == true");
}

static void inspect__full(void **state)
{
	const char *n = th_pipe("full", 4096);
	struct run *r;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_FILL, 0);
	save_seed(n, "full");
	r = inspect(n, 0, "open");
	assert_field(r->out, "state:", "open: full");
	assert_jq(json(n, 0), ".full and .queued.messages == 36 and "
		  ".queued.free_bytes < 112");
	run(r, "--json");
	expect_status(r, 0);
	assert_jq(r->out, "[.pipes[] | select(.name | test(\"-full-\"))] | "
		  "length == 1 and .[0].full");
}

static void inspect__closed_by_reader(void **state)
{
	const char *n = th_pipe("rclosed", 4096);
	struct run *r;

	(void)state;
	spawn(n, W, ACT_WRITE, 2);
	spawn(n, R, ACT_CLOSE, 0);
	save_seed(n, "closed-by-reader");
	r = inspect(n, 10, "closed");
	assert_field(r->out, "state:", "closed: every reader left");
	assert_has(r->out, "writes:   fail with EPIPE");
	assert_has(r->out, "reason:   none");
	assert_jq(json(n, 10), ".close.write_error.name == \"EPIPE\" and "
		  ".close.read_error == null and .close.reason == null and "
		  ".readers.alive == 0 and .writers.alive == 1 and "
		  ".history.reader_seen");
}

static void inspect__closed_with_reason(void **state)
{
	const char *n = th_pipe("reason", 4096);
	char expr[256], line[128];
	struct run *r;
	pid_t wp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	wp = spawn(n, W, ACT_ABORT, 0);
	save_seed(n, "closed-with-reason");
	r = inspect(n, 10, "aborted");
	snprintf(line, sizeof(line), "reason:   EIO (Input/output error) set "
		 "by writer pid %d at ", (int)wp);
	assert_has(r->out, line);
	snprintf(expr, sizeof(expr), ".close.reason.error.name == \"EIO\" and "
		 ".close.reason.pid == %d and .close.reason.role == \"writer\" "
		 "and .close.reason.at.ns > 0 and .history.aborted and "
		 ".close.read_error.code == -5", (int)wp);
	assert_jq(json(n, 10), expr);
}

static void inspect__reader_dead(void **state)
{
	const char *n = th_pipe("rdead", 4096);
	char expr[256];
	struct run *r;
	pid_t rp;

	(void)state;
	spawn(n, W, ACT_WRITE, 1);
	rp = spawn(n, R, ACT_READ_IDLE, 0);
	kill_now(rp);
	save_seed(n, "reader-dead");
	r = inspect(n, 11, "peer-dead");
	assert_field(r->out, "state:", "peer-dead: a reader died");
	assert_field(r->out, "readers:", "0 alive, 1 dead");
	assert_has(r->out, ": process died");
	snprintf(expr, sizeof(expr), ".endpoints[] | select(.role == "
		 "\"reader\") | .pid == %d and .life == \"dead\" and "
		 ".death == \"process died\"", (int)rp);
	assert_jq(json(n, 11), expr);
}

static void inspect__writer_dead(void **state)
{
	const char *n = th_pipe("wdead", 4096);
	struct run *r;
	pid_t wp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	wp = spawn(n, W, ACT_WRITE, 2);
	kill_now(wp);
	save_seed(n, "writer-dead");
	r = inspect(n, 11, "peer-dead");
	assert_field(r->out, "state:", "peer-dead: a writer died");
	assert_field(r->out, "writers:", "0 alive, 1 dead");
	assert_jq(json(n, 11), ".writers == {\"alive\": 0, \"dead\": 1} and "
		  ".readers == {\"alive\": 1, \"dead\": 0} and "
		  ".queued.messages == 2");
}

/* A writer blocked with the write lock is killed: the lock is left. */
static void inspect__lock_owner_dead(void **state)
{
	const char *n = th_pipe("lockdead", 4096);
	char expr[256];
	struct run *r;
	pid_t lp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	lp = spawn(n, W, ACT_HOLD, 0);
	th_sleep_ms(50);	/* asleep, holding the lock */
	kill_now(lp);
	save_seed(n, "lock-owner-dead");
	r = inspect(n, 11, "peer-dead");
	snprintf(expr, sizeof(expr), "write     owner gone (pid %d): the "
		 "next locker takes it over", (int)lp);
	assert_has(r->out, expr);
	snprintf(expr, sizeof(expr), ".locks.write.state == \"owner-died\" "
		 "and .locks.write.pid == %d and .locks.read.state == \"free\"",
		 (int)lp);
	assert_jq(json(n, 11), expr);
}

static void inspect__lock_held(void **state)
{
	const char *n = th_pipe("lockheld", 4096);
	char expr[256];
	struct run *r;
	pid_t lp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	lp = spawn(n, R, ACT_HOLD, 0);
	th_sleep_ms(50);	/* asleep, holding the lock */
	r = inspect(n, 0, "open");
	snprintf(expr, sizeof(expr), "read      held by pid %d", (int)lp);
	assert_has(r->out, expr);
	snprintf(expr, sizeof(expr), ".locks.read.state == \"held\" and "
		 ".locks.read.pid == %d", (int)lp);
	assert_jq(json(n, 0), expr);
}

/*
 * A writer waits for the write lock, which a writer blocked on a full
 * ring holds: the lock shows the waiting endpoint by its slot (sh_wwait),
 * not in its word.
 */
static void inspect__side_lock_waiters(void **state)
{
	const char *n = th_pipe("sidewait", 4096);
	char expr[320];
	struct run *r;
	pid_t hp, wp;
	int slot;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	hp = spawn(n, W, ACT_HOLD, 0);
	wp = spawn(n, W, ACT_WAIT_LOCK, 0);
	assert_true(wait_bits(n, AT(sh_wwait), 8, ~0ULL));
	slot = writer_slot(n, wp);
	assert_true(slot >= 0);
	save_seed(n, "side-lock-waiters");
	r = inspect(n, 0, "open");
	snprintf(expr, sizeof(expr), "write     held by pid %d, threads "
		 "waiting: slot %d (pid %d)\n", (int)hp, slot, (int)wp);
	assert_has(r->out, expr);
	assert_has(r->out, "read      free\n");
	snprintf(expr, sizeof(expr), ".locks.write.state == \"held\" and "
		 ".locks.write.pid == %d and .locks.write.waiters and "
		 ".locks.write.waiter_slots == [%d] and "
		 "(.locks.read.waiters | not) and .locks.read.waiter_slots == [] "
		 "and .locks.control.waiter_slots == null", (int)hp, slot);
	assert_jq(json(n, 0), expr);
}

/*
 * A process dies holding the control lock while another waits for it to
 * attach.  While it waits, the lock shows a waiter (FUTEX_WAITERS in its
 * word); the kernel marks the death and wakes the waiter, which repairs
 * the pipe and attaches.
 */
static void inspect__control_lock_waiters(void **state)
{
	const char *n = th_pipe("ctlwait", 4096);
	struct child *c;
	char expr[256];
	struct run *r;
	pid_t lp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	lp = spawn_locker(n, AT(sh_ctl));
	spawn_late(n, W, &c);
	/* The library's open waits 5 seconds for the lock: look quickly. */
	assert_true(wait_bits(n, AT(sh_ctl.word), 4, FUTEX_WAITERS));
	save_seed(n, "control-lock-waiters");
	r = inspect(n, 13, "waiting");
	snprintf(expr, sizeof(expr), "control   held by pid %d (thread %d), "
		 "threads waiting\n", (int)lp, (int)lp);
	assert_has(r->out, expr);
	snprintf(expr, sizeof(expr), ".locks.control == {\"state\": \"held\", "
		 "\"tid\": %d, \"pid\": %d, \"waiters\": true, "
		 "\"waiter_slots\": null} and .snapshot.settling", (int)lp,
		 (int)lp);
	assert_jq(json(n, 13), expr);
	kill_now(lp);
	assert_true(th_wait_flag(&c->done, 20000));
	assert_int_equal(c->result, 0);
	r = inspect(n, 0, "open");
	assert_has(r->out, "control   free\n");
	assert_jq(json(n, 0), ".locks.control.state == \"free\" and "
		  "(.locks.control.waiters | not) and .counters.recoveries == 1 "
		  "and .writers.alive == 1 and .readers.alive == 1");
}

/*
 * The control lock held by a live process: every copy is taken while a
 * change may be under way, so the answer is marked, but it comes, and
 * the tool never waits on the lock.
 */
static void inspect__control_lock_held(void **state)
{
	const char *n = th_pipe("ctlheld", 4096);
	char expr[256];
	struct run *r;
	double t0;
	pid_t lp;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	lp = spawn_locker(n, offsetof(struct shmpipe_shared, sh_ctl));
	t0 = th_now_ms();
	inspect(n, 0, "open");
	print_message("three runs with the control lock held took %.1f ms\n",
		      th_now_ms() - t0);
	snprintf(expr, sizeof(expr), ".snapshot.settling and "
		 ".locks.control.state == \"held\" and .locks.control.tid == %d "
		 "and .locks.control.pid == %d and "
		 "(.locks.control.waiters | not)", (int)lp, (int)lp);
	assert_jq(json(n, 0), expr);
	kill_now(lp);
	save_seed(n, "control-lock-owner-died");
	r = inspect(n, 0, "open");
	assert_has(r->out, "control   owner died: the next locker repairs "
		   "it\n");
	assert_jq(json(n, 0), ".snapshot.settling == false and "
		  ".locks.control == {\"state\": \"owner-died\", \"tid\": "
		  "null, \"pid\": null, \"waiters\": false, "
		  "\"waiter_slots\": null}");
}

/*
 * Strict fences are a fact of the pipe's history (an endpoint whose
 * process cannot use membarrier attached once); the tool says which.
 */
static void inspect__strict(void **state)
{
	const char *n = th_pipe("strict", 4096);
	uint32_t one = 1;
	char expr[64];
	struct run *r;
	int strict;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	strict = strict_word(n) != 0;	/* the machine decides */
	r = inspect(n, 0, "open");
	assert_field(r->out, "fences:", strict ? "strict (an endpoint "
		     "without membarrier attached)" :
		     "asymmetric (membarrier)");
	snprintf(expr, sizeof(expr), ".strict == %s", strict ? "true" :
		 "false");
	assert_jq(json(n, 0), expr);
	poke(n, AT(sh_strict), &one, sizeof(one));
	save_seed(n, "strict");
	r = inspect(n, 0, "open");
	assert_field(r->out, "fences:", "strict (an endpoint without "
		     "membarrier attached)");
	assert_jq(json(n, 0), ".strict == true");
}

/*
 * The 36 bytes after each lock word are unused, and the library ignores
 * them: whatever they hold, the pipe is not damaged.
 */
static void inspect__lock_padding_ignored(void **state)
{
	const char *n = th_pipe("lockpad", 4096);
	uint32_t junk = 0xdeadbeef;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	poke(n, AT(sh_ctl) + 16, &junk, sizeof(junk));
	poke(n, AT(sh_readers) + offsetof(struct shmpipe_slot, sl_live) + 36,
	     &junk, sizeof(junk));
	poke(n, AT(sh_writers[63]) + 4, &junk, sizeof(junk));
	save_seed(n, "lock-padding");
	inspect(n, 0, "open");
	assert_jq(json(n, 0), ".locks.control.state == \"free\" and "
		  ".readers.alive == 1");
}

static void inspect__stale_after_deaths(void **state)
{
	const char *n = th_pipe("stalek", 4096);

	pid_t rp, wp;

	(void)state;
	rp = spawn(n, R, ACT_READ_IDLE, 0);
	wp = spawn(n, W, ACT_WRITE, 3);
	kill_now(rp);
	kill_now(wp);
	save_seed(n, "stale-killed");
	inspect(n, 12, "stale");
	assert_jq(json(n, 12), ".readers.dead == 1 and .writers.dead == 1");
}

static void inspect__stale_after_close(void **state)
{
	const char *n = th_pipe("stalec", 4096);
	struct shmpipe_reader *r;
	struct shmpipe_writer *w;

	(void)state;
	assert_int_equal(shmpipe_reader_open(n, &r), 0);
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_reader_close(r, 0), 0);
	save_seed(n, "stale-closed");
	inspect(n, 12, "stale");
	assert_jq(json(n, 12), ".endpoints == [] and .close.read_error.name "
		  "== \"EOF\" and .close.write_error.name == \"EPIPE\"");
}

/* A writer that finished before any reader came leaves data to drain:
 * closed, not stale. */
static void inspect__closed_waiting_for_reader(void **state)
{
	const char *n = th_pipe("drain", 4096);
	struct shmpipe_writer *w;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_write(w, "x", 1, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	inspect(n, 10, "closed");
}

static void inspect__new_and_waiting(void **state)
{
	const char *n = th_pipe("new", 4096);
	struct run *r;

	(void)state;
	save_seed(n, "new");
	r = inspect(n, 13, "new");
	assert_has(r->out, "  none attached");
	spawn(n, W, ACT_WRITE, 1);
	r = inspect(n, 13, "waiting");
	assert_field(r->out, "state:", "waiting: no reader has attached yet");
}

static void inspect__absent(void **state)
{
	const char *n = th_name("absent");
	struct run *r = run_buf();

	(void)state;
	run(r, n);
	expect_status(r, 3);
	assert_has(r->err, "no such pipe");
	run(r, "-q", n);
	expect_status(r, 3);
	run(r, "--json", n);
	expect_status(r, 3);
	assert_jq(r->out, ".state == \"absent\" and .status == 3");
}

static void inspect__truncated(void **state)
{
	const char *n = th_pipe("trunc", 4096);

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	shrink(n, SHMPIPE_HDR_SIZE + 100);
	save_seed(n, "truncated-ring");
	refused(n, 5, "damaged", "truncated: 16484 bytes, the header says "
		"20480");
	shrink(n, 100);
	save_seed(n, "truncated-header");
	refused(n, 5, "damaged", "truncated: 100 bytes");
	shrink(n, 0);
	refused(n, 4, "foreign", "not a shmpipe segment: 0 bytes");
}

struct damage {
	const char *tag;
	size_t off;
	uint64_t value;
	size_t len;
	int status;
	const char *state;
	const char *why;
};

static const struct damage damages[] = {
	{ "magic", AT(sh_magic), 0x6f6f6f6f6f6f6f6fULL, 8, 4, "foreign",
	  "not a shmpipe segment: magic 0x6f6f6f6f6f6f6f6f" },
	{ "version", AT(sh_version), 2, 4, 6, "unsupported",
	  "layout version 2, this tool reads version 3" },
	{ "abi", AT(sh_abi), 0x10404, 4, 6, "unsupported", "another ABI" },
	{ "capacity", AT(sh_capacity), 12345, 8, 5, "damaged",
	  "capacity 12345 is not a power of two" },
	{ "seg-size", AT(sh_seg_size), 1 << 20, 8, 5, "damaged",
	  "segment size 1048576 does not match" },
	{ "head", AT(sh_head), 3 * 4096 + 8, 8, 5, "damaged",
	  "more than the capacity apart" },
	{ "tail", AT(sh_tail), 12, 8, 5, "damaged", "not aligned" },
	{ "counts", AT(sh_msgs_in), 1000000, 8, 5, "damaged",
	  "counters exceed the ring" },
	{ "flags", AT(sh_flags), 0x100, 4, 5, "damaged", "flags 0x100" },
	{ "state", AT(sh_wr_error), (uint32_t)-EIO, 4, 5, "damaged",
	  "state words -5/0" },
	{ "close", AT(sh_close_pid), 77, 4, 5, "damaged",
	  "close record inconsistent" },
	{ "reserved", AT(sh_pad9) + 17, 0xff, 1, 5, "damaged",
	  "reserved byte at offset 593" },
	{ "tail-of-header", SHMPIPE_HDR_SIZE - 1, 1, 1, 5, "damaged",
	  "reserved byte at offset 16383" },
	{ "lock", AT(sh_ctl), 0x00ffffff, 4, 5, "damaged",
	  "lock at offset 128: owner 0xffffff is not a thread id" },
	{ "live", AT(sh_writers) + offsetof(struct shmpipe_slot, sl_live),
	  0x7fffffff, 4, 5, "damaged",
	  "lock at offset 5120: owner 0x7fffffff is not a thread id" },
	{ "slot", AT(sh_writers) + offsetof(struct shmpipe_slot, sl_pid), 0,
	  4, 5, "damaged", "writer slot 0: pid 0" },
	{ "sleep", AT(sh_rsleep), 7, 4, 5, "damaged", "sleep flags 7/0" },
};

/* Each field damaged in a live pipe of its own: one clear diagnosis. */
static void inspect__corrupted_header(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
		const struct damage *d = &damages[i];
		const char *n = th_pipe(d->tag, 4096);
		char tag[64];

		spawn(n, R, ACT_READ_IDLE, 0);
		spawn(n, W, ACT_WRITE, 2);
		poke(n, d->off, &d->value, d->len);
		snprintf(tag, sizeof(tag), "damaged-%s", d->tag);
		save_seed(n, tag);
		refused(n, d->status, d->state, d->why);
	}
}

/* The list shows our pipes among whatever else the machine has. */
static void inspect__list(void **state)
{
	const char *good = th_pipe("lgood", 4096);
	const char *bad = th_pipe("lbad", 4096);
	struct run *r = run_buf();
	uint64_t junk = 1;
	char expr[256];
	const char *row;

	(void)state;
	spawn(good, R, ACT_READ_IDLE, 0);
	spawn(good, W, ACT_WRITE, 4);
	poke(bad, 0, &junk, sizeof(junk));
	run(r, "");
	expect_status(r, 2);
	run_argv(r, (const char *const[]){ NULL });
	expect_status(r, 0);
	assert_true(!strncmp(r->out, "NAME ", 5));
	row = strstr(r->out, good);
	assert_non_null(row);
	assert_true(!strncmp(row + 24, " open ", 6));
	assert_non_null(strstr(row, " 448/4.0K "));
	row = strstr(r->out, bad);
	assert_non_null(row);
	assert_non_null(strstr(row, " foreign "));
	run(r, "--json");
	expect_status(r, 0);
	snprintf(expr, sizeof(expr), "[.pipes[] | select(.name == \"%s\" or "
		 ".name == \"%s\") | .state] == [\"foreign\", \"open\"] and "
		 ".schema == 1", bad, good);
	assert_jq(r->out, expr);
}

/* -w refreshes; the second refresh knows the rates. */
static void inspect__watch(void **state)
{
	const char *n = th_pipe("watch", 4096);
	struct run *r = run_buf();
	const char *p;
	int count = 0;

	(void)state;
	spawn(n, R, ACT_READ_IDLE, 0);
	spawn(n, W, ACT_WRITE, 1);
	run(r, "-w", "0.1", "-c", "3", n);
	expect_status(r, 0);
	for (p = r->out; (p = strstr(p, "\npipe:")); p++)
		count++;
	assert_int_equal(count, 3);
	assert_has(r->out, "rate:           0 messages/s in");
	run(r, "--json", "-w", "0.1", "-c", "2", n);
	expect_status(r, 0);
	assert_jq_stream(r->out, "length == 2 and .[0].rates == null and "
			 ".[1].rates.messages_in == 0 and "
			 ".[1].rates.seconds > 0");
	assert_int_equal(strchr(strchr(r->out, '\n') + 1, '\n') -
			 r->out + 1, (long)strlen(r->out));
}

/* A copy of a segment, saved for later, reads the same with -f. */
static void inspect__file_copy(void **state)
{
	const char *n = th_pipe("copy", 4096);
	char src[256], dst[] = "/tmp/shmpipe-inspect-copy-XXXXXX";
	struct run *r = run_buf();
	static char buf[SHMPIPE_HDR_SIZE + 4096];
	int in, out;

	(void)state;
	spawn(n, W, ACT_WRITE, 5);
	seg_path(src, sizeof(src), n);
	in = open(src, O_RDONLY);
	out = mkstemp(dst);
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(read(in, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(write(out, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(in);
	close(out);
	run(r, "--json", "-f", dst);
	unlink(dst);
	expect_status(r, 13);
	assert_jq(r->out, ".state == \"waiting\" and .queued.messages == 5");
	run(r, "-q", "-f", "/etc/passwd");
	expect_status(r, 4);
	run(r, "-f", "/nonexistent/shmpipe-inspect");
	expect_status(r, 3);
}

/* A FIFO or a link under a pipe's name: refused at once, never waited on. */
static void inspect__fifo_and_symlink(void **state)
{
	const char *fifo = th_name("fifo"), *link = th_name("link");
	struct run *r = run_buf();
	char path[256];

	(void)state;
	seg_path(path, sizeof(path), fifo);
	assert_int_equal(mkfifo(path, 0600), 0);
	run(r, fifo);
	expect_status(r, 4);
	assert_has(r->err, "not a regular file");
	seg_path(path, sizeof(path), link);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	run(r, link);
	expect_status(r, 4);
	assert_has(r->err, "symbolic link");
}

static void inspect__usage(void **state)
{
	struct run *r = run_buf();

	(void)state;
	expect_status((run(r, "-q"), r), 2);
	expect_status((run(r, "-q", "--json", "x"), r), 2);
	expect_status((run(r, "-w", "0", "x"), r), 2);
	expect_status((run(r, "-c", "2", "x"), r), 2);
	expect_status((run(r, "bad/name"), r), 2);
	expect_status((run(r, "a", "b"), r), 2);
	expect_status((run(r, "--bogus"), r), 2);
	expect_status((run(r, "--help"), r), 0);
	assert_has(r->out, "usage: shmpipe-inspect");
	expect_status((run(r, "-V"), r), 0);
	assert_has(r->out, "shmpipe-inspect ");
}

/* A pipe the user may not read: the tool says so and exits 1. */
static void inspect__unreadable(void **state)
{
	const char *n = th_pipe("unread", 4096);
	struct run *r = run_buf();

	(void)state;
	if (getuid() != 0)
		skip();		/* only root can become another user */
	run_uid = 65534;
	run(r, n);
	run_uid = 0;
	expect_status(r, 1);
	assert_has(r->err, "unreadable: Permission denied");
}

/*
 * A pipe that never rests: every answer must still be a valid snapshot
 * of an open pipe.  How many were "moving" or "busy" is printed.
 */
static void inspect__hot_pipe(void **state)
{
	const char *n = th_pipe("hot", 1 << 16);
	struct run *r = run_buf();
	int i, moving = 0, busy = 0;

	(void)state;
	spawn(n, R, ACT_HOT_READ, 0);
	spawn(n, W, ACT_HOT_WRITE, 0);
	for (i = 0; i < 40; i++) {
		run(r, "--json", n);
		if (r->status == 7) {
			busy++;
			continue;
		}
		expect_status(r, 0);
		moving += strstr(r->out, "\"moving\":true") != NULL;
	}
	print_message("hot pipe: 40 runs, %d moving, %d busy\n", moving, busy);
	assert_true(busy < 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(inspect__open),
		TH_TEST(inspect__full),
		TH_TEST(inspect__closed_by_reader),
		TH_TEST(inspect__closed_with_reason),
		TH_TEST(inspect__reader_dead),
		TH_TEST(inspect__writer_dead),
		TH_TEST(inspect__lock_owner_dead),
		TH_TEST(inspect__lock_held),
		TH_TEST(inspect__side_lock_waiters),
		TH_TEST(inspect__control_lock_held),
		TH_TEST(inspect__control_lock_waiters),
		TH_TEST(inspect__strict),
		TH_TEST(inspect__lock_padding_ignored),
		TH_TEST(inspect__stale_after_deaths),
		TH_TEST(inspect__stale_after_close),
		TH_TEST(inspect__closed_waiting_for_reader),
		TH_TEST(inspect__new_and_waiting),
		TH_TEST(inspect__absent),
		TH_TEST(inspect__truncated),
		TH_TEST(inspect__corrupted_header),
		TH_TEST(inspect__list),
		TH_TEST(inspect__watch),
		TH_TEST(inspect__file_copy),
		TH_TEST(inspect__fifo_and_symlink),
		TH_TEST(inspect__usage),
		TH_TEST(inspect__unreadable),
		TH_TEST(inspect__hot_pipe),
	};

	return TH_RUN("shmpipe-inspect", tests);
}
