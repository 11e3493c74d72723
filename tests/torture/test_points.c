/* SPDX-License-Identifier: MIT */
/*
 * Every crash point, for every role, alone and among others.
 *
 * Linked with the crash-point build of the library.  A victim process is
 * forked with one point armed; it dies there by SIGKILL.  The survivors
 * check what the contract promises: their exact return codes, every
 * message whose write returned 0 delivered exactly once (a reader killed
 * after taking a message is the one who got it), nothing partial or
 * corrupt, and the pipe usable afterwards while it is open and refusing
 * newcomers once it is finished.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "crash.h"

#define MSGS		400	/* per writer */
#define MSG_SIZE	200	/* 25 records fill a 4 KiB ring */

enum role { WRITER, READER };

struct msg {
	uint32_t writer, seq, check;
	uint8_t body[MSG_SIZE - 12];
};

/* Shared between the parent and its children. */
struct run {
	const char *name;
	const char *point;
	unsigned int hits;
	int committed[2];		/* writes returned 0, per writer id */
	int recorded[2][MSGS];		/* times each message was read */
	int corrupt;
	int victim_started;
	volatile int survivor_go;	/* the survivor writer may close */
	int survivor_result;
};

static uint32_t check_of(const struct msg *m)
{
	uint32_t c = m->writer * 2654435761u ^ m->seq * 2246822519u;
	size_t i;

	for (i = 0; i < sizeof(m->body); i++)
		c = c * 31 + m->body[i];
	return c;
}

static void make_msg(struct msg *m, uint32_t writer, uint32_t seq)
{
	size_t i;

	m->writer = writer;
	m->seq = seq;
	for (i = 0; i < sizeof(m->body); i++)
		m->body[i] = (uint8_t)(seq * 7 + i + writer);
	m->check = check_of(m);
}

static void record(struct run *run, const struct msg *m, size_t len)
{
	if (len != sizeof(*m) || m->writer > 1 || m->seq >= MSGS ||
	    m->check != check_of(m)) {
		__atomic_add_fetch(&run->corrupt, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&run->recorded[m->writer][m->seq], 1,
			   __ATOMIC_RELAXED);
}

/* Write MSGS messages as writer id; then close (or wait, then close). */
static int write_all(struct run *run, int id, int wait_for_go)
{
	struct shmpipe_writer *w;
	struct msg m;
	int r, i;

	r = shmpipe_writer_open(run->name, &w);
	if (r)
		return 100 - r;
	for (i = 0; i < MSGS; i++) {
		make_msg(&m, (uint32_t)id, (uint32_t)i);
		r = shmpipe_write(w, &m, sizeof(m), -1);
		if (r)
			return 100 - r;
		__atomic_store_n(&run->committed[id], i + 1, __ATOMIC_RELEASE);
	}
	while (wait_for_go && !__atomic_load_n(&run->survivor_go,
					       __ATOMIC_ACQUIRE))
		usleep(1000);
	return shmpipe_writer_close(w, 0) ? 99 : 0;
}

/* Read until the stream ends, recording every message. */
static int read_all(struct run *run, int *end)
{
	struct shmpipe_reader *rd;
	struct msg m;
	size_t len;
	int r;

	r = shmpipe_reader_open(run->name, &rd);
	if (r)
		return 100 - r;
	while ((r = shmpipe_read(rd, &m, sizeof(m), &len, -1)) == 0) {
		record(run, &m, len);
		usleep(50);	/* slow: writers fill the ring and sleep */
	}
	*end = r;
	shmpipe_reader_close(rd, 0);
	return 0;
}

static struct run *run;

static int victim_writer(void *arg)
{
	(void)arg;
	shmpipe__crash_arm(run->point, run->hits);
	__atomic_store_n(&run->victim_started, 1, __ATOMIC_RELEASE);
	return 200 + write_all(run, 0, 0);	/* not reached if it dies */
}

static int victim_reader(void *arg)
{
	int end;

	(void)arg;
	shmpipe__crash_arm(run->point, run->hits);
	__atomic_store_n(&run->victim_started, 1, __ATOMIC_RELEASE);
	return 200 + read_all(run, &end);
}

static int survivor_writer(void *arg)
{
	(void)arg;
	run->survivor_result = write_all(run, 1, 1);
	return run->survivor_result;
}

static int survivor_reader(void *arg)
{
	int end = 0, r;

	(void)arg;
	r = read_all(run, &end);
	return r ? r : (end == SHMPIPE_EOF ? 0 : end == -ECONNRESET ? 1 : 2);
}

/* Has the child ended?  It is left unreaped, for th_wait. */
static int ended(pid_t pid)
{
	siginfo_t si = { 0 };

	waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	return si.si_pid == pid;
}

/* Wait until the pipe has this many live readers and writers. */
static void wait_attached(unsigned int readers, unsigned int writers)
{
	struct shmpipe_stat st;

	do {
		assert_int_equal(shmpipe_stat(run->name, &st), 0);
		if (st.readers >= readers && st.writers >= writers)
			return;
		th_sleep_ms(1);
	} while (1);
}

static int died_by_sigkill(pid_t pid)
{
	int st = th_wait(pid, 30000);

	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* Did the victim get as far as attaching before it died? */
static int attached(const char *point)
{
	return strcmp(point, "attach.claimed") != 0;
}

/* Had the victim left the pipe, as far as the others can tell? */
static int had_left(const char *point)
{
	return !strcmp(point, "detach.left") ||
	       !strcmp(point, "detach.released");
}

/* Count messages recorded 0 times, and more than once. */
static void tally(int writer, int committed, int *missing, int *dups,
		  int *extra)
{
	int s;

	for (s = 0; s < MSGS; s++) {
		int n = run->recorded[writer][s];

		if (s < committed)
			*missing += n == 0;
		else
			*extra += n > 0 && s > committed;
		*dups += n > 1;
	}
}

/*
 * A writer dies at the point.  Readers (the parent, plus one child in
 * the crowd case) drain every committed message; the end is -ECONNRESET
 * if the victim had attached.
 */
static void writer_dies(const char *point, unsigned int hits, int crowd)
{
	struct shmpipe_reader *rd;
	struct shmpipe_writer *fresh;
	pid_t victim, other = 0, sreader = 0;
	int missing = 0, dups = 0, extra = 0, end, r;
	struct msg m;
	size_t len;

	run = th_shared(sizeof(*run));
	run->name = th_pipe("pt", 4096);
	run->point = point;
	run->hits = hits;
	assert_int_equal(shmpipe_reader_open(run->name, &rd), 0);
	if (crowd) {
		other = th_fork(survivor_writer, NULL);
		sreader = th_fork(survivor_reader, NULL);
		wait_attached(2, 1);	/* the victim is not the only one */
	}
	victim = th_fork(victim_writer, NULL);

	/* Read slowly until the victim is dead, so that it sleeps too:
	 * the ring holds 20 messages, and they come faster than this. */
	while (!ended(victim)) {
		if (shmpipe_read(rd, &m, sizeof(m), &len, 1) == 0)
			record(run, &m, len);
		usleep(500);
	}
	assert_true(died_by_sigkill(victim));
	if (crowd) {
		/* The pipe is still open: a newcomer may join and write. */
		assert_int_equal(shmpipe_writer_open(run->name, &fresh), 0);
		assert_int_equal(shmpipe_writer_close(fresh, 0), 0);
		__atomic_store_n(&run->survivor_go, 1, __ATOMIC_RELEASE);
		assert_int_equal(th_exit_code(other, 30000), 0);
	}
	if (!attached(point) && !crowd) {
		/* It never joined: the pipe is open, empty, unfinished. */
		assert_int_equal(shmpipe_read(rd, &m, sizeof(m), &len, 0),
				 -EAGAIN);
		assert_int_equal(shmpipe_writer_open(run->name, &fresh), 0);
		assert_int_equal(shmpipe_writer_close(fresh, 0), 0);
	}
	while ((r = shmpipe_read(rd, &m, sizeof(m), &len, 5000)) == 0)
		record(run, &m, len);
	end = r;
	assert_int_equal(shmpipe_reader_close(rd, 0), 0);
	if (crowd)
		assert_int_not_equal(th_exit_code(sreader, 30000), -1);

	tally(0, run->committed[0], &missing, &dups, &extra);
	tally(1, run->committed[1], &missing, &dups, &extra);
	assert_int_equal(run->corrupt, 0);
	assert_int_equal(dups, 0);
	assert_int_equal(missing, 0);
	assert_int_equal(extra, 0);
	if (attached(point) && !had_left(point))
		assert_int_equal(end, -ECONNRESET);
	else
		assert_int_equal(end, SHMPIPE_EOF);
	/* Finished: no newcomer is let in. */
	assert_int_equal(shmpipe_writer_open(run->name, &fresh), -EPIPE);
}

/*
 * A reader dies at the point.  The parent writes; in the crowd case a
 * second reader takes over.  Alone, the writer's writes fail with
 * -ECONNRESET once the victim is gone (if it had attached).
 */
static void reader_dies(const char *point, unsigned int hits, int crowd)
{
	struct shmpipe_reader *fresh;
	struct shmpipe_writer *w;
	pid_t victim, sreader = 0;
	int missing = 0, dups = 0, extra = 0, i, r = 0, lost_ok;
	struct msg m;

	run = th_shared(sizeof(*run));
	run->name = th_pipe("pt", 4096);
	run->point = point;
	run->hits = hits;
	assert_int_equal(shmpipe_writer_open(run->name, &w), 0);
	if (crowd) {
		sreader = th_fork(survivor_reader, NULL);
		wait_attached(1, 1);	/* the victim is not the only one */
	}
	victim = th_fork(victim_reader, NULL);

	for (i = 0; i < MSGS; i++) {
		make_msg(&m, 0, (uint32_t)i);
		do {
			r = shmpipe_write(w, &m, sizeof(m), 20);
		} while (r == -ETIMEDOUT && (crowd || !ended(victim)));
		if (r)
			break;
		run->committed[0] = i + 1;
	}
	assert_true(died_by_sigkill(victim));
	if (!crowd) {
		/* Its death is complete: keep writing until refused. */
		while (r == 0 || r == -ETIMEDOUT)
			r = shmpipe_write(w, &m, sizeof(m), 0);
	}
	if (!crowd && attached(point)) {
		assert_int_equal(r, -ECONNRESET);
		assert_int_equal(shmpipe_write(w, &m, sizeof(m), 0), -ECONNRESET);
		assert_int_equal(shmpipe_reader_open(run->name, &fresh), -EPIPE);
		assert_int_equal(shmpipe_writer_close(w, 0), 0);
		/* What it had not taken is still there, undelivered. */
		return;
	}
	if (!crowd) {
		/* Never joined: writes go on until the ring is full. */
		assert_int_equal(r, -EAGAIN);
		assert_int_equal(shmpipe_reader_open(run->name, &fresh), 0);
		assert_int_equal(shmpipe_reader_close(fresh, 0), 0);
		assert_int_equal(shmpipe_writer_close(w, 0), 0);
		return;
	}
	assert_int_equal(r, 0);
	/* Still open: a newcomer may join and leave. */
	assert_int_equal(shmpipe_reader_open(run->name, &fresh), 0);
	assert_int_equal(shmpipe_reader_close(fresh, 0), 0);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(th_exit_code(sreader, 30000), 0);

	tally(0, run->committed[0], &missing, &dups, &extra);
	/* A reader killed after taking a message got it: it is the one
	 * message the survivors cannot account for. */
	lost_ok = strcmp(point, "read.consumed") == 0;
	assert_int_equal(run->corrupt, 0);
	assert_int_equal(dups, 0);
	assert_int_equal(extra, 0);
	assert_int_equal(missing, lost_ok ? 1 : 0);
}

struct point_case {
	const char *point;
	enum role role;
	unsigned int hits;
};

static const struct point_case cases[] = {
	{ "attach.claimed", WRITER, 1 },
	{ "attach.published", WRITER, 1 },
	{ "write.locked", WRITER, 5 },
	{ "write.copy", WRITER, 5 },
	{ "write.publish", WRITER, 5 },
	{ "write.published", WRITER, 5 },
	{ "sleep.before", WRITER, 3 },
	{ "sleep.woken", WRITER, 3 },
	{ "detach.locked", WRITER, 1 },
	{ "detach.left", WRITER, 1 },
	{ "detach.released", WRITER, 1 },
	{ "attach.claimed", READER, 1 },
	{ "attach.published", READER, 1 },
	{ "read.locked", READER, 5 },
	{ "read.copy", READER, 5 },
	{ "read.consume", READER, 5 },
	{ "read.consumed", READER, 5 },
	{ "sleep.before", READER, 1 },
	{ "sleep.woken", READER, 1 },
};

static void run_case(void **state)
{
	const struct point_case *c = *state;

	if (c->role == WRITER) {
		writer_dies(c->point, c->hits, 0);
		th_teardown(NULL);
		th_setup(NULL);
		writer_dies(c->point, c->hits, 1);
	} else {
		reader_dies(c->point, c->hits, 0);
		th_teardown(NULL);
		th_setup(NULL);
		reader_dies(c->point, c->hits, 1);
	}
}

static int create_and_die(void *arg)
{
	shmpipe__crash_arm(arg, 1);
	shmpipe_create(run->name, NULL);
	return 1;	/* not reached */
}

/* A creator killed anywhere leaves nothing; the name stays free. */
static void create__killed(void **state)
{
	static const char *points[] = { "create.open", "create.header",
					"create.built" };
	struct shmpipe_stat st;
	size_t i;

	(void)state;
	run = th_shared(sizeof(*run));
	for (i = 0; i < 3; i++) {
		run->name = th_name("mk");
		assert_true(died_by_sigkill(th_fork(create_and_die,
						    (void *)points[i])));
		assert_int_equal(shmpipe_stat(run->name, &st), -ENOENT);
		assert_int_equal(shmpipe_create(run->name, NULL), 0);
	}
}

static int hold_wlock_and_die(void *arg)
{
	struct shmpipe_writer *w;
	struct msg m;

	(void)arg;
	if (shmpipe_writer_open(run->name, &w))
		return 10;
	shmpipe__crash_arm(run->point, 1);
	make_msg(&m, 0, 0);
	shmpipe_write(w, &m, sizeof(m), -1);
	return 11;
}

/* The repairer of a dead lock dies while repairing: the next repairs. */
static void lock__recoverer_killed(void **state)
{
	struct shmpipe_reader *rd;
	struct shmpipe_writer *w;
	struct msg m;
	size_t len;

	(void)state;
	run = th_shared(sizeof(*run));
	run->name = th_pipe("rec", 4096);
	assert_int_equal(shmpipe_reader_open(run->name, &rd), 0);
	assert_int_equal(shmpipe_writer_open(run->name, &w), 0);
	run->point = "write.locked";
	assert_true(died_by_sigkill(th_fork(hold_wlock_and_die, NULL)));
	run->point = "lock.recover";
	assert_true(died_by_sigkill(th_fork(hold_wlock_and_die, NULL)));
	make_msg(&m, 0, 1);
	assert_int_equal(shmpipe_write(w, &m, sizeof(m), -1), 0);
	assert_int_equal(shmpipe_read(rd, &m, sizeof(m), &len, -1), 0);
	assert_int_equal(m.seq, 1);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
	assert_int_equal(shmpipe_read(rd, &m, sizeof(m), &len, -1),
			 -ECONNRESET);
	assert_int_equal(shmpipe_reader_close(rd, 0), 0);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 2];
	static char names[sizeof(cases) / sizeof(cases[0])][64];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++, n++) {
		snprintf(names[i], sizeof(names[i]), "%s__%s_killed",
			 cases[i].point,
			 cases[i].role == WRITER ? "writer" : "reader");
		tests[n] = (struct CMUnitTest){ names[i], run_case,
						th_setup, th_teardown,
						(void *)&cases[i] };
	}
	tests[n++] = (struct CMUnitTest)TH_TEST(create__killed);
	tests[n++] = (struct CMUnitTest)TH_TEST(lock__recoverer_killed);
	return th_run("crash points", tests, n);
}
